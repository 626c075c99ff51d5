"""Program generators shared by the benchmarks and the tests (deterministic, seeded)."""

from __future__ import annotations

import random

BINARY = ["+", "-", "*", "max", "min"]
UNARY = ["tanh", "sigmoid", "relu", "sin", "cos"]


def random_dag(gates: int, inputs: int = 16, seed: int = 0, window: int = 8) -> tuple[str, dict[str, float]]:
    """A program of `gates` gates whose operands are drawn from the `window` most recent names.

    Depth and fan-out are realistic (like a long computation that keeps reusing recent results).
    Inputs are declared with defaults at the top, so `values` may override any of them.
    """
    rng = random.Random(seed)
    names = [f"x{i}" for i in range(inputs)]
    values = {n: round(rng.uniform(-1, 1), 3) for n in names}
    lines = [f"{n} = {v}" for n, v in values.items()]
    recent = list(names)
    for i in range(gates):
        name = f"t{i}"
        a = rng.choice(recent[-window:])
        if i % 4 == 3:
            op = rng.choice(UNARY)
            expr = f"{op}({a})"
        else:
            b = rng.choice(recent[-window:])
            op = rng.choice(BINARY)
            if op in ("max", "min"):
                expr = f"{op}({a}, {b})"
            else:
                expr = f"tanh({a} * {b})" if op == "*" else f"{a} {op} {b}"
        lines.append(f"{name} = {expr}")
        recent.append(name)
        if len(recent) > 4 * window:
            recent = recent[-window:]
    lines.append(f"out = tanh({recent[-1]})")
    return "\n".join(lines), values


def chain(steps: int) -> str:
    """t0 = x; t1 = tanh(t0) + 0.5 * x ... : a chain `steps` gates deep."""
    lines = ["x = 0.3", "t0 = x"]
    for i in range(1, steps):
        lines.append(f"t{i} = t{i - 1} * 0.999 + x" if i % 2 else f"t{i} = sin(t{i - 1})")
    return "\n".join(lines)


def wide_sum(terms: int) -> tuple[str, dict[str, float]]:
    names = [f"x{i}" for i in range(terms)]
    return " + ".join(names), {n: float(i % 7) for i, n in enumerate(names)}
