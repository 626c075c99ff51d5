"""Text generated from the op registry: the gate tables in README.md and docs/, and the OpenAPI
description of a program. Adding an op to ops.py and running ``backprop-lab docs`` updates them all;
tests/engine/test_reference.py fails while any of them differs from the registry.

Each generated block sits between two markers in its file:

    <!-- generated:NAME (backprop-lab docs) -->
    ...
    <!-- /generated:NAME -->
"""

from __future__ import annotations

import re
from pathlib import Path

from .ops import INFIX, REGISTRY, Op

ROOT = Path(__file__).resolve().parents[2]


def syntax(op: Op) -> list[str]:
    """How a program writes the op, every form."""
    names = "ab" if op.kind == "elementwise" else ("x" if op.arity == 1 else "ab")
    operands = list(op.doc.operands or names[: op.arity])
    if op.name == "neg":
        return ["-a"]
    forms = []
    texts = [t for t, name in INFIX.items() if name == op.name]
    if texts:
        forms += [f"a {t} b" for t in texts]
    if op.callable:
        required = [p.name for p in op.params if p.required]
        optional = [p.name for p in op.params if not p.required]
        forms.append(f"{op.name}({', '.join(operands + required)})")
        if optional:
            forms.append(f"{op.name}({', '.join(operands + required + optional)})")
    return forms


def _code(forms: list[str]) -> str:
    return ", ".join(f"`{f}`" for f in forms)


def _ops(kind: str) -> list[Op]:
    return [op for op in REGISTRY.values() if op.kind == kind]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def gate_list() -> str:
    """README: the gates in one paragraph."""
    ew = _ops("elementwise")
    infix = " ".join(t for t in ("+", "-", "*", "/", "^", "**") if t in INFIX)
    unary = " ".join(op.name for op in ew if op.arity == 1 and op.callable)
    binary = " ".join(op.name for op in ew if op.arity == 2 and op.callable)
    tensor = ", ".join(f"`{op.name}`" if op.callable else f"`{op.infix}`" for op in _ops("tensor"))
    tensor = tensor.replace("`matmul`", "`@` / `matmul`")
    ctors = " ".join(op.name for op in _ops("constructor"))
    return (f"- Gates: `{infix}`, unary `-`, and `{unary}` (one argument), `{binary}` (two).\n"
            f"- Tensor ops: {tensor}; constructors `{ctors}`.")


def gate_table() -> str:
    """docs/language.md: every elementwise gate with its syntax, local gradients and rule."""
    rows = ["| gate | syntax | local gradients | rule |", "|---|---|---|---|"]
    for op in _ops("elementwise"):
        rows.append(f"| {op.name} | {_code(syntax(op))} | {_cell(', '.join(op.doc.grads))} | {_cell(op.doc.rule)} |")
    conventions = [op.doc.convention for op in _ops("elementwise") if op.doc.convention]
    return "\n".join(rows) + "\n\nAt kinks and domain edges: " + "; ".join(conventions) + "."


def tensor_table() -> str:
    """docs/language.md: tensor ops and constructors."""
    rows = ["| op | syntax | gradient | description |", "|---|---|---|---|"]
    for op in _ops("tensor"):
        rows.append(f"| {op.name} | {_code(syntax(op))} | {_cell(op.doc.matrix_rule or ', '.join(op.doc.grads))} | "
                    f"{_cell(op.doc.description)} |")
    rows += ["", "| constructor | syntax | makes |", "|---|---|---|"]
    for op in _ops("constructor"):
        rows.append(f"| {op.name} | {_code(syntax(op))} | {_cell(op.doc.description)} |")
    return "\n".join(rows)


def op_names() -> str:
    """docs/contract.md: the names a node's `op` may hold."""
    names = " ".join(name for name, op in REGISTRY.items() if op.kind != "constructor")
    return f"- `op` is `\"input\"`, `\"const\"` or a gate name from `GET /api/v1/ops`: `{names}`."


def expression_description() -> str:
    """The OpenAPI description of a program (app/api/schemas.py)."""
    ew = _ops("elementwise")
    unary = " ".join(op.name for op in ew if op.arity == 1 and op.callable)
    binary = " ".join(op.name for op in ew if op.arity == 2 and op.callable)
    tensor = " ".join(op.name for op in _ops("tensor") if op.callable)
    ctors = " ".join(op.name for op in _ops("constructor"))
    return ("The program: statements separated by newlines or `;`. `name = number` (or a tensor literal such as "
            "`[[1, 2], [3, 4]]`, or a constructor call) declares an input with a default; the last statement is "
            f"the output. Operators: + - * / @ and ^ or ** (power), unary -. Functions of one argument: {unary}; "
            f"of two: {binary}. Tensor ops: {tensor} (`sum(x, axis)`, `onehot(labels, classes)`). "
            f"Constructors: {ctors}; `seed(N)` fixes the random ones.")


BLOCKS = {
    "README.md": {"gates": gate_list},
    "docs/language.md": {"gates": gate_table, "tensor-ops": tensor_table},
    "docs/contract.md": {"op-names": op_names},
}


def _pattern(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- generated:{re.escape(name)} \(backprop-lab docs\) -->\n)(.*?)(\n<!-- /generated:"
                      rf"{re.escape(name)} -->)", re.DOTALL)


def render(path: str, text: str) -> str:
    """`text` (the content of `path`) with its generated blocks rewritten from the registry."""
    for name, make in BLOCKS[path].items():
        pattern = _pattern(name)
        if not pattern.search(text):
            raise ValueError(f"{path}: no generated:{name} markers")
        body = make()
        text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(3), text)
    return text


def stale(root: Path = ROOT) -> list[str]:
    """The files whose generated blocks differ from the registry."""
    out = []
    for path in BLOCKS:
        text = (root / path).read_text(encoding="utf-8")
        if render(path, text) != text:
            out.append(path)
    return out


def write(root: Path = ROOT) -> list[str]:
    """Rewrite every generated block; returns the files that changed."""
    changed = []
    for path in BLOCKS:
        file = root / path
        text = file.read_text(encoding="utf-8")
        new = render(path, text)
        if new != text:
            file.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed
