"""Pieces of the evaluation document shared by the scalar (evaluate.py) and tensor (tensor_doc.py) paths."""

from __future__ import annotations

from typing import Any


def node_reason(k: int, op: str, origin: str | None, finite: bool, shown: Any, warnings: list[str]) -> str | None:
    """A node's reason: where a non-finite value first appeared (also warned about, with `shown`),
    downstream of one, or a non-finite gradient."""
    if origin is None:
        return None if finite else "the gradient is not finite"
    if not origin.startswith("non-finite operand"):
        warnings.append(f"n{k} ({op}): {origin}" + ("" if shown is None else f" -> {shown}"))
    return origin


def path_warnings(input_ids: dict[str, int], path: list[bool]) -> list[str]:
    return [f"input {name} does not reach the output: its gradient is 0"
            for name, k in input_ids.items() if not path[k]]
