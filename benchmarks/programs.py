"""Program generators shared by the benchmarks and the tests (deterministic, seeded)."""

from __future__ import annotations

import random

BINARY = ["+", "-", "*", "max", "min"]
UNARY = ["tanh", "sigmoid", "relu", "sin", "cos"]


def random_dag(gates: int, inputs: int = 16, seed: int = 0, window: int = 8,
               smooth: bool = False) -> tuple[str, dict[str, float]]:
    """A program of about `gates` gates whose operands are drawn from the `window` most recent names.

    Depth and fan-out are realistic (a long computation that keeps reusing recent results); values
    stay bounded (products are wrapped in sin). Inputs are declared with defaults at the top, so
    `values` may override any of them.

    Long random chains make gradients vanish (most upstream gradients underflow to exactly 0, and
    the backward pass skips them), which would flatter the backward timing. With `smooth`, the
    program has no relu/max/min and its output is the sum of every intermediate, the way a loss
    sums many terms, so every gate receives a non-zero gradient.
    """
    rng = random.Random(seed)
    binary = [op for op in BINARY if not (smooth and op in ("max", "min"))]
    unary = [op for op in UNARY if not (smooth and op == "relu")]
    names = [f"x{i}" for i in range(inputs)]
    values = {n: round(rng.uniform(-1, 1), 3) for n in names}
    lines = [f"{n} = {v}" for n, v in values.items()]
    recent = list(names)
    rng.shuffle(recent)
    made = []
    count = 0
    i = 0
    budget = gates // 2 if smooth else gates  # smooth: half the gates go into the final sum
    while count < budget:
        a = rng.choice(recent[-window:])
        if i % 4 == 3:
            expr, cost = f"{rng.choice(unary)}({a})", 1
        else:
            b = rng.choice(recent[-window:])
            op = rng.choice(binary)
            if op in ("max", "min"):
                expr, cost = f"{op}({a}, {b})", 1
            elif op == "*":
                expr, cost = f"sin({a} * {b})", 2
            else:
                expr, cost = f"{a} {op} {b}", 1
        name = f"t{i}"
        lines.append(f"{name} = {expr}")
        recent.append(name)
        made.append(name)
        if len(recent) > 4 * window:
            recent = recent[-window:]
        count += cost
        i += 1
    if smooth:
        lines.append("out = " + " + ".join(made))
    else:
        lines.append(f"out = tanh({recent[-1]})")
    return "\n".join(lines), values


def chain(steps: int) -> str:
    """x = 0.3; t0 = x; t1 = t0 * 0.999 + x; t2 = sin(t1) ...: a chain about `steps` gates deep."""
    lines = ["x = 0.3", "t0 = x"]
    for i in range(1, steps):
        lines.append(f"t{i} = t{i - 1} * 0.999 + x" if i % 2 else f"t{i} = sin(t{i - 1})")
    return "\n".join(lines)


def wide_sum(terms: int) -> tuple[str, dict[str, float]]:
    names = [f"x{i}" for i in range(terms)]
    return " + ".join(names), {n: float(i % 7) for i, n in enumerate(names)}
