"""The evaluation document (docs/contract.md): one builder for both backends.

The document holds every node's value and gradient (encoded by the backend: numbers, nested lists,
or summaries of big tensors), its local gradients (scalar mode) or the gradient each of its input
edges carries (tensor mode), its span in the source, and why any number is not finite.

Non-finite numbers are never silently wrong: a node whose value is not finite says why (the op's
domain reason where it first appeared, "non-finite operand (nK)" downstream); and every gradient that
was computed through a non-finite value (a local gradient at an infinite or NaN value, such as
``log(exp(x))`` at x = 1000, whose gradient comes out as 0) is flagged on its node and, for inputs,
in ``warnings``.

``layout="nodes"`` (the default) lists the nodes as objects; ``layout="columns"`` sends the same
fields as one array per field (``nodes: {"id": [...], "value": [...], ...}``), which is smaller and
faster to build and to parse for large graphs.

With ``encoded=True`` (the API's path, ``evaluate_json``) the nodes list arrives already written as
JSON bytes (an ``orjson.Fragment``), byte for byte what ``orjson.dumps`` writes for the node objects:
each column is encoded once by orjson in C (whole numbers go to ``%d`` directly) and one template per
node, repeated, is filled in one ``%`` operation; no per-node dict is made, kept or freed. On a
program's first document that costs about what the dicts and their JSON cost (~1 us per node: the
cold path's time is mostly parsing, the IR text and the local gradients); from its second document
on (slider drags) each node's structure comes cached with the compiled program and only the numbers
are written, about twice as fast as dumping node objects. ``layout="columns"`` stays the fastest.
"""

from __future__ import annotations

from typing import Any

import orjson

from .backend import Backend, Run
from .graph import CONST, INPUT, Recipe

LAYOUTS = ("nodes", "columns")


def nonfinite(be: Backend, run: Run) -> tuple[dict[int, str], dict[int, int], list[str]]:
    """Reasons for nodes whose value is not finite, the nodes whose gradient was computed through one
    (node -> the non-finite node), and the warnings for both."""
    g = be.graph
    vals, grads = run.vals, run.grads
    bad = be.bad_values(vals)
    if not bad:
        return {}, {}, []
    badset = set(bad)
    ops, operands = g.op, g.operands
    reasons: dict[int, str] = {}
    origin: dict[int, int] = {}  # bad node -> the node where the non-finite value first appeared
    warnings: list[str] = []
    for k in bad:
        src = next((a for a in operands[k] if a in badset), None)
        if src is not None:
            reasons[k] = f"non-finite operand (n{src})"
            origin[k] = origin[src]
            continue
        origin[k] = k
        why = be.reason(k, vals) if ops[k] not in (INPUT, CONST) else "the value is not finite"
        reasons[k] = why
        warnings.append(f"n{k} ({ops[k]}): {why}{be.shown(vals[k])}")
    # gradients computed through a non-finite value: a gate's local gradients use its operands' values
    # and its own, so every operand of a gate that touches one (and everything upstream) is tainted
    path = be.compiled.path
    taint: dict[int, int] = {}
    for k in range(g.output, -1, -1):
        if not path[k] or ops[k] == INPUT or ops[k] == CONST:
            continue
        src = taint.get(k)
        if src is None:
            if k in badset:
                src = origin[k]
            else:
                src = next((origin[a] for a in operands[k] if a in badset), None)
        if src is None:
            continue
        for a in operands[k]:
            if ops[a] != CONST and grads[a] is not None:
                taint.setdefault(a, src)
    for name, k in g.input_ids.items():
        src = taint.get(k)
        if src is not None and not be.bad_grad(grads[k]):
            warnings.append(f"the gradient of {name} was computed through a non-finite value (n{src}, "
                            f"{ops[src]}): it is not meaningful")
    return reasons, taint, warnings


def build(be: Backend, run: Run, *, numeric: dict | None = None, layout: str = "nodes",
          notes: list[str] | tuple = (), given: frozenset[str] | set[str] = frozenset(),
          encoded: bool = False) -> dict[str, Any]:
    """The evaluation document of one forward and backward pass (`given`: the inputs the caller set;
    `encoded`: the nodes layout's list as JSON bytes, an ``orjson.Fragment``, instead of dicts)."""
    c = be.compiled
    g = c.graph
    vals, grads, edges = run.vals, run.grads, run.edges
    n = len(g)
    ops, labels, operands = g.op, g.label, g.operands
    path = c.path
    reasons, taint, warnings = nonfinite(be, run)
    out_shape = be.shape(g.output)
    if out_shape:
        warnings.insert(0, f"the output has shape {list(out_shape)}: gradients are of sum(output) "
                           "(an upstream gradient of ones)")
    shown_grads = grads[:n]  # constants are not differentiated: no gradient shown
    for k in g.const:
        shown_grads[k] = None
    value_col = be.encode_all(vals)
    grad_col = be.encode_all(shown_grads)
    bad_grads = [k for k in be.bad_values(grads[:n]) if ops[k] != CONST]
    finite = [True] * n
    reason_col: list[str | None] = [None] * n
    for k in bad_grads:
        finite[k] = False
        reason_col[k] = "the gradient is not finite"
    for k, why in reasons.items():
        finite[k] = False
        reason_col[k] = why
    for k, src in taint.items():
        if reason_col[k] is None:
            reason_col[k] = f"the gradient was computed through a non-finite value (n{src})"
    local = be.local_grads(vals)
    if local is not None:  # scalar: d node / d operand per edge, null for an edge from a constant
        local_col = local
        edge_col = None
    else:  # tensor: the gradient each edge carries, summed back to the operand's shape
        local_col = [[None] * len(args) for args in operands]
        enc = be.encode
        edge_col = [[enc(x) for x in e] if e is not None else [None] * len(operands[k])
                    for k, e in enumerate(edges or [None] * n)]
        for k in range(n):
            if edges is not None and edges[k] is not None:
                edge_col[k] = [None if ops[a] == CONST else x for a, x in zip(operands[k], edge_col[k], strict=True)]
    warnings += [f"input {name} does not reach the output: its gradient is 0"
                 for name, k in g.input_ids.items() if not path[k]]
    warnings += list(notes)
    shapes = be.shape_column() if be.shaped or not encoded or layout != "nodes" else None
    if layout == "columns":
        line, column = c.lines
        nodes: Any = {
            "id": list(range(n)), "op": ops, "label": labels, "operands": [list(a) for a in operands],
            "shape": shapes, "value": value_col, "grad": grad_col,
            "local_grads": local_col, "span": {"start": [s for s, _ in g.span], "end": [e for _, e in g.span],
                                               "line": line, "column": column},
            "on_path": path, "finite": finite, "reason": reason_col,
        }
        if edge_col is not None:
            nodes["edge_grads"] = edge_col
    elif encoded:
        nodes = orjson.Fragment(nodes_json(c, shapes, value_col, grad_col, local_col, edge_col, finite, reason_col))
    else:
        spans = c.spans
        nodes = []
        append = nodes.append
        if edge_col is None:
            for k in range(n):
                append({"id": k, "op": ops[k], "label": labels[k], "operands": list(operands[k]), "shape": shapes[k],
                        "value": value_col[k], "grad": grad_col[k], "local_grads": local_col[k], "span": spans[k],
                        "on_path": path[k], "finite": finite[k], "reason": reason_col[k]})
        else:
            for k in range(n):
                append({"id": k, "op": ops[k], "label": labels[k], "operands": list(operands[k]),
                        "shape": shapes[k], "value": value_col[k], "grad": grad_col[k],
                        "local_grads": local_col[k], "edge_grads": edge_col[k], "span": spans[k],
                        "on_path": path[k], "finite": finite[k], "reason": reason_col[k]})
    doc: dict[str, Any] = {
        "mode": be.mode,
        "output": g.output_name,
        "output_id": g.output,
        "value": value_col[g.output],
        "gradients": {name: grad_col[k] for name, k in g.input_ids.items()},
        "inputs": [{"name": name, "id": k, "value": value_col[k],
                    "default": _default(be, name, k, value_col[k], given), "shape": list(be.shape(k))}
                   for name, k in g.input_ids.items()],
        "nodes": nodes,
        "numeric": numeric,
        "warnings": warnings[:100],
        "ir": c.ir,
    }
    if g.groups or g.functions:  # the program's own functions and gates, and grad() (functions.py, adjoint.py)
        doc["groups"] = [vars(gr) | {"span": list(gr.span)} for gr in g.groups]
        doc["functions"] = g.functions
    flat = [k for k in g.flat_gates() if path[k] and any(ops[a] != CONST for a in operands[k])]
    if flat:  # a comparison, step, argmax ... on the path: flagged, since the gradient stops there
        doc["warnings"] = (doc["warnings"] + [
            f"n{k} ({ops[k]}) passes no gradient: its local gradients are 0 (a comparison, step or lookup)"
            for k in flat[:5]] + ([f"and {len(flat) - 5} more gates that pass no gradient"] if len(flat) > 5
                                  else []))[:100]
    if g.notices:  # what the parser normalized (text.py): full-width forms, U+2212
        doc["warnings"] = (g.notices + doc["warnings"])[:100]
    if layout == "columns":
        doc["layout"] = "columns"
    doc.update(be.document_fields())
    return doc


def _default(be: Backend, name: str, k: int, shown: Any, given: frozenset[str] | set[str]) -> Any:
    """An input's default as JSON (null if none): the bound value's encoding when nothing overrode it."""
    d = be.graph.defaults[name]
    if d is None:
        return None
    if name not in given:
        return shown
    if isinstance(d, Recipe):  # overridden: made now (prepare counted its elements in the budget)
        return be.encode(d.make(be.graph.seed))
    return be.encode(d)


# --- the nodes layout written as JSON bytes directly (build(..., encoded=True)) -----------------------

_TRUE_FALSE = {True: b"true", False: b"false"}


def items(col: list) -> list[bytes]:
    """The JSON text of every element of `col`, as orjson writes it: the whole column is encoded once and
    split at its commas, which is exact when no element holds a comma (numbers, null, booleans, names);
    otherwise (a string or list with commas) each element is encoded alone."""
    if not col:
        return []
    parts = orjson.dumps(col)[1:-1].split(b",")
    if len(parts) == len(col):  # every element adds at least one part: equal means none held a comma
        return parts
    return [orjson.dumps(x) for x in col]


def rows(col: list) -> list[bytes]:
    """The JSON text inside the brackets of every row of `col` (a list of flat lists), as orjson writes
    it: split at the "],[" between rows, exact when no row's text holds one (checked by the count)."""
    if not col:
        return []
    parts = orjson.dumps(col)[2:-2].split(b"],[")
    if len(parts) == len(col):
        return parts
    return [orjson.dumps(x)[1:-1] for x in col]


def interleave(cols: list, n: int) -> tuple:
    """The columns' elements node by node (``cols[0][0], cols[1][0], ..., cols[0][1], ...``) as one tuple, for
    ``%``: each column (`n` elements, else ValueError) fills every ``len(cols)``-th slot of one list, in C."""
    step = len(cols)
    flat: list = [None] * (step * n)
    for i, col in enumerate(cols):
        flat[i::step] = col
    return tuple(flat)


_HEAD = b'{"id":%d,"op":%b,"label":%b,"operands":[%b],"shape":'
_TAIL = b'"span":{"start":%d,"end":%d,"line":%d,"column":%d},"on_path":%b,"finite":'


def _structure(c: Any) -> tuple[list, list]:
    """The columns (iterables) of what every document of a program writes the same way for each node:
    for the head (``{"id":..,"op":..,"label":..,"operands":[..],"shape":``) and for the part after the
    numbers (``"span":{..},"on_path":..,"finite":``). Whole numbers go to ``%d`` as they are; each op
    name is encoded once."""
    g = c.graph
    line, column = c.lines
    names = {op: orjson.dumps(op) for op in set(g.op)}
    starts, ends = [s for s, _ in g.span], [e for _, e in g.span]  # (zip(*g.span) takes longer: 10k arguments)
    return ([range(len(g)), map(names.__getitem__, g.op), items(g.label), rows(g.operands)],
            [starts, ends, line, column, map(_TRUE_FALSE.__getitem__, c.path)])


def node_structure(c: Any) -> tuple[list[bytes], list[bytes]]:
    """The head and the span part of every node as one piece each (``Compiled.node_json``, cached per
    compiled program, so that a slider drag writes only the numbers). JSON text never holds a raw NUL
    (orjson escapes control characters), so NUL separates the nodes while the pieces are made."""
    n = len(c.graph)
    head_cols, tail_cols = _structure(c)
    head = ((_HEAD + b"\0") * n) % interleave(head_cols, n)
    tail = ((_TAIL + b"\0") * n) % interleave(tail_cols, n)
    return head.split(b"\0")[:-1], tail.split(b"\0")[:-1]


def nodes_json(c: Any, shapes: list | None, value_col: list, grad_col: list, local_col: list, edge_col: list | None,
               finite: list[bool], reason_col: list) -> bytes:
    """The nodes layout's list as JSON bytes, identical to ``orjson.dumps`` of the node objects that
    ``build`` makes without ``encoded``. A program's first document writes its structure inline (the
    cold path makes nothing it does not send); from its second on, the structure comes from
    ``node_structure``, cached, and only the numbers are written. Columns that are the same for every
    node (every shape [] or `shapes` None, every node finite, no reasons: the common case) are written
    into the template instead of filled in."""
    n = len(c.graph)
    memo = c.__dict__  # Compiled's cached properties live here
    if "node_json" in memo or memo.pop("node_json_next", False):
        head, tail = c.node_json
        parts, cols = [b"%b"], [head]
        tail_part, tail_cols = b"%b", [tail]
    else:
        memo["node_json_next"] = True  # the program is evaluated again: cache its structure then
        head_cols, tail_cols = _structure(c)
        parts, cols = [_HEAD], head_cols
        tail_part = _TAIL
    if shapes is not None and any(shapes):
        parts.append(b"[%b]")
        cols.append(rows(shapes))
    else:
        parts.append(b"[]")
    parts.append(b',"value":%b,"grad":%b,"local_grads":[%b],')
    cols += [items(value_col), items(grad_col), rows(local_col)]
    if edge_col is not None:
        parts.append(b'"edge_grads":[%b],')
        cols.append(rows(edge_col))
    parts.append(tail_part)
    cols += tail_cols
    if all(finite):
        parts.append(b"true")
    else:
        parts.append(b"%b")
        cols.append(list(map(_TRUE_FALSE.__getitem__, finite)))
    if reason_col.count(None) != len(reason_col):  # any reason (counted in C)
        parts.append(b',"reason":%b},')
        cols.append(items(reason_col))
    else:
        parts.append(b',"reason":null},')
    template = b"".join(parts)
    body = (template * n) % interleave(cols, n)
    return b"[" + body[:-1] + b"]"
