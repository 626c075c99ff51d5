"""Compile a program once (parse -> graph -> tape) and bind caller values to its inputs."""

from __future__ import annotations

import difflib
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from .autodiff import Tape, compile_tape, on_path
from .errors import EngineError, LineIndex, limit_error
from .graph import CONST, Graph, build
from .limits import DEFAULT_LIMITS, Limits
from .ops import REGISTRY
from .parser import parse


@dataclass(frozen=True)
class Compiled:
    """A program compiled once: its graph, its tape, and the parts of the document that depend
    only on structure (computed on first use, then shared by every evaluation of the program)."""

    graph: Graph

    @cached_property
    def tape(self) -> Tape:
        return compile_tape(self.graph)

    @cached_property
    def tensor(self) -> bool:
        """Does the program itself need tensor mode (tensor literals, constructors or tensor ops)?"""
        g = self.graph
        return (any(isinstance(v, np.ndarray) for v in g.const.values())
                or any(isinstance(v, np.ndarray) for v in g.defaults.values())
                or any(op in REGISTRY and REGISTRY[op].kind != "elementwise" for op in set(g.op)))

    @cached_property
    def ir(self) -> str:
        return self.graph.ir()

    @cached_property
    def path(self) -> list[bool]:
        return on_path(self.graph)

    @cached_property
    def node_static(self) -> list[tuple]:
        """Per node: (op, label, operands, span dict, const-operand mask)."""
        g = self.graph
        idx = LineIndex(g.text)
        out = []
        for k in range(len(g)):
            s, e = g.span[k]
            line, col = idx.line_col(s)
            ops = g.operands[k]
            out.append((g.op[k], g.label[k], list(ops), {"start": s, "end": e, "line": line, "column": col},
                        tuple(g.op[a] == CONST for a in ops)))
        return out


class CompileCache:
    """Least-recently-used compiled programs, bounded by entries and by their total node count.

    A compiled program keeps its graph, tape and document parts (about 0.8 KB per node), so a count
    of entries alone would let 64 programs at the 20,000-node limit hold about 1 GB per process.
    """

    def __init__(self, max_entries: int = 64, max_nodes: int = 100_000):
        self.max_entries, self.max_nodes = max_entries, max_nodes
        self._items: OrderedDict[tuple, Compiled] = OrderedDict()
        self._nodes = 0
        self._lock = threading.Lock()

    def get(self, text: str, limits: Limits) -> Compiled:
        key = (text, limits)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        compiled = Compiled(build(parse(text, limits), limits))  # outside the lock: may take a while
        with self._lock:
            if key not in self._items:
                self._items[key] = compiled
                self._nodes += len(compiled.graph)
                while len(self._items) > 1 and (len(self._items) > self.max_entries or self._nodes > self.max_nodes):
                    _, old = self._items.popitem(last=False)
                    self._nodes -= len(old.graph)
        return compiled

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"entries": len(self._items), "nodes": self._nodes}


CACHE = CompileCache()


def compile_program(text: str, limits: Limits = DEFAULT_LIMITS) -> Compiled:
    """Parse and build, cached by (text, limits): slider drags re-use the same graph."""
    if not isinstance(text, str):
        raise EngineError("invalid_value", "the program must be a string")
    if len(text) > limits.max_program_chars:  # checked before any work, and before caching
        raise limit_error("max_program_chars", limits.max_program_chars,
                          f"the program has {len(text)} characters")
    return CACHE.get(text, limits)


def tensor_mode(c: Compiled, bound: dict[str, Any]) -> bool:
    """Tensor mode: the program has tensors of its own, or a caller passed one."""
    return c.tensor or any(isinstance(v, np.ndarray) for v in bound.values())


def check_values(values: dict | None, limits: Limits) -> dict[str, Any]:
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise EngineError("invalid_value", "values must be an object mapping input names to numbers")
    if len(values) > limits.max_inputs:
        raise limit_error("max_inputs", limits.max_inputs, f"{len(values)} values were given")
    out: dict[str, Any] = {}
    for name, v in values.items():
        label = str(name)[:64]
        if isinstance(v, (list, tuple, np.ndarray)):
            out[name] = _tensor_value(label, v, limits)
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise EngineError("invalid_value", f"the value of {label!r} must be a number or a nested list of numbers",
                              {"name": label})
        fv = float(v)
        if not math.isfinite(fv):
            raise EngineError("invalid_value", f"the value of {label!r} must be finite", {"name": label})
        out[name] = fv
    return out


def _tensor_value(label: str, v: Any, limits: Limits) -> np.ndarray:
    """A caller's nested list as a float64 array: rectangular, numeric, finite, within rank and size."""
    if not isinstance(v, np.ndarray):
        # rank first, iteratively, so a deeply nested list is refused before numpy walks it
        depth, x = 0, v
        while isinstance(x, (list, tuple)):
            depth += 1
            if depth > limits.max_rank:
                raise limit_error("max_rank", limits.max_rank, f"the value of {label!r} nests too deeply",
                                  name=label)
            x = x[0] if len(x) else None
    try:
        arr = np.array(v, dtype=float)
    except (ValueError, TypeError):
        raise EngineError("invalid_value", f"the value of {label!r} must be a rectangular nested list of numbers "
                          "(every row the same length)", {"name": label}) from None
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
    """Every input's value: the caller's, else the program's default. Lists all problems at once."""
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
