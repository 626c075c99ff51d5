"""Compile a program once (text -> gate graph) and bind caller values to its inputs.

A ``Compiled`` program holds its graph and the parts of every document that depend only on
structure (spans, path, IR, the backends' step lists), made on first use and shared by every
evaluation of the program. ``CompileCache`` keeps the most recently used ones within a byte budget.
"""

from __future__ import annotations

import difflib
import gc
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate
from operator import itemgetter
from typing import Any

import numpy as np

from . import scalar, tensor  # the backends import nothing from here
from .errors import EngineError, limit_error
from .graph import CONST, INPUT, Graph, Recipe, build
from .limits import DEFAULT_LIMITS, Limits
from .ops import REGISTRY
from .parser import parse


class quiet_gc:  # noqa: N801 (used as a context manager: `with quiet_gc():`)
    """The cyclic garbage collector off while a program is compiled or a document built: they make
    hundreds of thousands of small acyclic objects, and the collections those allocations trigger
    (each walking every live object) cost about a third of the cold path. Reference counting frees
    everything as usual; only cycle detection waits until the block ends."""

    __slots__ = ("was",)

    def __enter__(self) -> None:
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was:
            gc.enable()


@dataclass(frozen=True, eq=False)
class Compiled:
    """A program compiled once: its graph and what depends only on its structure."""

    graph: Graph

    @cached_property
    def tensor(self) -> bool:
        """Does the program itself need tensor mode (tensor literals, constructors or tensor ops)?"""
        g = self.graph
        return (any(not isinstance(v, float) for v in g.const.values())
                or any(v is not None and not isinstance(v, float) for v in g.defaults.values())
                or any(op in REGISTRY and REGISTRY[op].kind != "elementwise" for op in set(g.op)))

    @cached_property
    def ir(self) -> str:
        return self.graph.ir()

    @cached_property
    def path(self) -> list[bool]:
        """True for nodes the output depends on (ancestors of the output, and the output)."""
        g = self.graph
        mark = [False] * len(g.op)
        mark[g.output] = True
        operands = g.operands
        for k in range(g.output, -1, -1):
            if mark[k]:
                for a in operands[k]:
                    mark[a] = True
        return mark

    @cached_property
    def lines(self) -> tuple[list[int], list[int]]:
        """1-based line and column of every node's span start."""
        g = self.graph
        text = g.text
        if text.isascii():  # offsets are bytes: the newlines found by numpy
            nl = np.flatnonzero(np.frombuffer(text.encode("ascii"), dtype=np.uint8) == 10)
            starts = np.concatenate((np.zeros(1, np.int64), nl + 1))
        else:
            starts = np.fromiter(accumulate((len(s) + 1 for s in text.split("\n")), initial=0), dtype=np.int64)
        offsets = np.fromiter(map(itemgetter(0), g.span), dtype=np.int64, count=len(g.span))
        line = np.searchsorted(starts, offsets, side="right")
        column = offsets - starts[line - 1] + 1
        return line.tolist(), column.tolist()

    @cached_property
    def spans(self) -> list[dict[str, int]]:
        """Every node's span as the document writes it (shared by every document of the program)."""
        line, column = self.lines
        return [{"start": s, "end": e, "line": ln, "column": c}
                for (s, e), ln, c in zip(self.graph.span, line, column, strict=True)]

    @cached_property
    def node_json(self) -> tuple[list[bytes], list[bytes]]:
        """Every node's structure as the encoded document writes it (document.node_structure)."""
        from .document import node_structure

        return node_structure(self)

    @cached_property
    def scalar(self):
        """The float tape (the scalar backend's compiled form)."""
        return scalar.compile_tape(self.graph)

    @cached_property
    def scalar_plan(self):
        return scalar.plan(self)

    @cached_property
    def recipes(self) -> bool:
        """Do any inputs default to a constructor (made only when the program runs)?"""
        return any(isinstance(v, Recipe) for v in self.graph.defaults.values())

    def plan(self, bound: dict[str, Any], limits: Limits):
        """Choose the backend once for these values (scalar unless there are tensors) and plan the run:
        shapes, FLOPs and elements of every node, every per-evaluation budget checked; nothing allocated."""
        if self.tensor:
            return tensor.plan(self, bound, limits)
        for v in bound.values():
            if type(v) is not float:
                return tensor.plan(self, bound, limits)
        return self.scalar_plan

    @cached_property
    def nbytes(self) -> int:
        """An upper estimate of what the compiled program holds once every cached part is made."""
        g = self.graph
        return 2 * len(g.text) + NODE_BYTES * len(g) + g.tensor_literals_bytes() + 4096


NODE_BYTES = 1_600
"""Bytes a compiled program holds per node with its graph, tape, spans, IR and backend steps made
(measured with tracemalloc on 10k-gate programs, everything cached, both document paths: about 1 KB;
kept at 1.6 KB)."""

DEFAULT_CACHE_BYTES = 64 * 1024 * 1024


class CompileCache:
    """Least-recently-used compiled programs, bounded by entries and by bytes (``Compiled.nbytes``:
    text, nodes and tensor literals; constructor tensors are never held, see graph.Recipe).

    The bound is per process: with the defaults a worker holds at most 64 MB of compiled programs, plus, until
    the next ``get`` or ``release``, the ones the last call evicted (see ``release``)."""

    def __init__(self, max_entries: int = 64, max_bytes: int = DEFAULT_CACHE_BYTES):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._items: OrderedDict[tuple, Compiled] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._evicted: list[Compiled] = []  # evicted, not yet freed (see release)

    def configure(self, *, max_entries: int | None = None, max_bytes: int | None = None) -> None:
        with self._lock:
            if max_entries is not None:
                self.max_entries = max_entries
            if max_bytes is not None:
                self.max_bytes = max_bytes
            self._evict()

    def get(self, text: str, limits: Limits) -> Compiled:
        if self._evicted:
            self.release()
        key = (text, limits)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        with quiet_gc():  # outside the lock: may take a while
            compiled = Compiled(build(parse(text, limits), limits))
        if compiled.nbytes > self.max_bytes:
            return compiled  # too big to keep: used once, then freed
        with self._lock:
            if key not in self._items:
                self._items[key] = compiled
                self._bytes += compiled.nbytes
                self._evict()
        return compiled

    def _evict(self) -> None:
        while self._items and (len(self._items) > self.max_entries or self._bytes > self.max_bytes):
            _, old = self._items.popitem(last=False)
            self._bytes -= old.nbytes
            self._evicted.append(old)

    def release(self) -> None:
        """Free the programs evicted since the last release. Freeing a 10k-node program (its graph, tape, spans:
        ~100k objects) takes ~2 ms, so eviction only sets them aside: an engine process frees them after its
        answer is sent (app/api/pool.py), anyone else at the next ``get`` (at most one call's evictions wait)."""
        with self._lock:
            evicted, self._evicted = self._evicted, []
        del evicted  # freed here, outside the lock

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
            self._evicted.clear()

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"entries": len(self._items), "bytes": self._bytes,
                    "nodes": sum(len(c.graph) for c in self._items.values())}


CACHE = CompileCache()


def compile_program(text: str, limits: Limits = DEFAULT_LIMITS) -> Compiled:
    """Parse into the gate graph, cached by (text, limits): slider drags re-use the same graph."""
    if not isinstance(text, str):
        raise EngineError("invalid_value", "the program must be a string", {"name": "expression"})
    if len(text) > limits.max_program_chars:  # checked before any work, and before caching
        raise limit_error("max_program_chars", limits.max_program_chars, f"the program has {len(text)} characters")
    return CACHE.get(text, limits)


# --- caller values ---------------------------------------------------------------------------------------

def check_values(values: dict | None, limits: Limits) -> dict[str, Any]:
    """The caller's values as floats and float64 arrays: numbers only (no strings or booleans, also
    inside tensor lists), finite, within rank and size."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise EngineError("invalid_value", "values must be an object mapping input names to numbers",
                          {"name": "values"})
    if len(values) > limits.max_inputs:
        raise limit_error("max_inputs", limits.max_inputs, f"{len(values)} values were given")
    out: dict[str, Any] = {}
    isfinite = math.isfinite
    for name, v in values.items():
        t = type(v)
        if t is float and isfinite(v):  # the common case first
            out[name] = v
        elif t is int and -2**53 <= v <= 2**53:
            out[name] = float(v)
        elif isinstance(v, (list, tuple, np.ndarray)):
            out[name] = tensor_value(str(name)[:64], v, limits)
        else:
            out[name] = scalar_value(str(name)[:64], v)
    return out


def scalar_value(label: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
        raise EngineError("invalid_value", f"the value of {label!r} must be a number or a nested list of numbers",
                          {"name": label})
    try:
        fv = float(v)
    except OverflowError:  # an int beyond the float64 range
        fv = math.inf
    if not math.isfinite(fv):
        raise EngineError("invalid_value", f"the value of {label!r} must be finite", {"name": label})
    return fv


_NUMBER_TYPES = frozenset({int, float})


def tensor_value(label: str, v: Any, limits: Limits) -> np.ndarray:
    """A caller's nested list as a float64 array: rectangular, numbers only, finite, within rank and size."""
    if isinstance(v, np.ndarray):
        if v.dtype.kind not in "fiu":
            raise EngineError("invalid_value", f"the value of {label!r} must hold numbers", {"name": label})
        arr = np.asarray(v, dtype=float)
    else:
        # rank first, iteratively, so a deeply nested list is refused before numpy walks it
        depth, x = 0, v
        while isinstance(x, (list, tuple)):
            depth += 1
            if depth > limits.max_rank:
                raise limit_error("max_rank", limits.max_rank, f"the value of {label!r} nests too deeply",
                                  name=label)
            x = x[0] if len(x) else None
        rows = v if depth == 2 else (v,)
        n = 0
        for row in rows:  # numbers only: JSON true/false and strings are refused, not converted
            if not isinstance(row, (list, tuple)):
                raise EngineError("invalid_value", f"the value of {label!r} must be a rectangular nested list of "
                                  "numbers (every row the same length)", {"name": label})
            n += len(row)
            if n > limits.max_elements:
                raise limit_error("max_elements", limits.max_elements,
                                  f"the value of {label!r} has more than {limits.max_elements} elements", name=label)
            types = set(map(type, row))
            if not _NUMBER_TYPES.issuperset(types) and not all(
                    t in _NUMBER_TYPES or issubclass(t, (np.floating, np.integer)) for t in types):
                raise EngineError("invalid_value", f"the value of {label!r} must hold numbers only (no strings, "
                                  "booleans or nested lists at the wrong depth)", {"name": label})
        try:
            arr = np.array(v, dtype=float)
        except (ValueError, TypeError, OverflowError):
            raise EngineError("invalid_value", f"the value of {label!r} must be a rectangular nested list of "
                              "numbers (every row the same length)", {"name": label}) from None
    if arr.ndim > limits.max_rank:
        raise limit_error("max_rank", limits.max_rank, f"the value of {label!r} has rank {arr.ndim}", name=label)
    if arr.size > limits.max_elements:
        raise limit_error("max_elements", limits.max_elements, f"the value of {label!r} has {arr.size} elements",
                          name=label)
    if arr.size == 0:
        raise EngineError("invalid_value", f"the value of {label!r} is empty", {"name": label})
    if not np.isfinite(arr).all():
        raise EngineError("invalid_value", f"the value of {label!r} must be finite", {"name": label})
    return arr


def bind(g: Graph, values: dict[str, Any]) -> dict[str, Any]:
    """Every input's value: the caller's, else the program's default (a Recipe stays a Recipe until
    the budgets passed: see materialize). Lists all problems at once."""
    unknown = [n for n in values if n not in g.input_ids]
    if unknown:
        hints = []
        for n in unknown[:20]:
            close = difflib.get_close_matches(str(n), g.inputs, n=1)
            hints.append(f"{str(n)[:64]!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        more = f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
        raise EngineError("unknown_name", "values were given for names the program does not have: "
                          + ", ".join(hints) + more + f"; its inputs are: {', '.join(g.inputs) or 'none'}",
                          {"names": [str(n)[:64] for n in unknown[:100]]})
    bound: dict[str, Any] = {}
    missing = []
    for name, default in g.defaults.items():
        if name in values:
            bound[name] = values[name]
        elif default is not None:
            bound[name] = default
        else:
            missing.append(name)
    if missing:
        raise EngineError("missing_value", "no value for " + ", ".join(missing)
                          + ": give one in values, or assign a default in the program (x = 1)",
                          {"names": missing})
    return bound


def materialize(g: Graph, bound: dict[str, Any]) -> dict[str, Any]:
    """The bound values with constructor defaults made into arrays (call only after the budgets)."""
    if not any(type(v) is Recipe for v in bound.values()):
        return bound
    return {n: v.make(g.seed) if isinstance(v, Recipe) else v for n, v in bound.items()}


def shape_of_bound(v: Any) -> tuple[int, ...]:
    if isinstance(v, (np.ndarray, Recipe)):
        return v.shape
    return ()


__all__ = ["CACHE", "CONST", "INPUT", "Compiled", "CompileCache", "bind", "check_values", "compile_program",
           "materialize", "quiet_gc"]
