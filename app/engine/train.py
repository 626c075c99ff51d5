"""The training lab: a network program of the lab's language trained by mini-batch gradient descent.

The model is a program. ``network_program`` writes the seeds' two-layer network (Affine -> ReLU ->
Affine -> softmax with cross-entropy, plus L2 weight decay; data/presets/14-two-layer-network.json)
for any sizes, and a learner may write their own. In it:

- ``X`` (a mini-batch, one row per sample) and ``t`` (its targets: one-hot rows for classes, values
  for regression) are the data inputs, bound to each mini-batch;
- every other input with a tensor default (``W1 = uniform(...)``, ``b1 = zeros(...)``) is a
  parameter: the optimizer moves it; scalar inputs (``lam = 0.0001``) stay fixed;
- the output is the objective the optimizer minimizes; the ``softmax_cross_entropy(s, t)`` or
  ``mse(y, t)`` gate that reads ``t`` is the data loss, and its first operand the prediction, which
  give the loss, accuracy and MSE curves.

The loop compiles the program once (the engine's ``compile_function``) and reuses its graph, its
forward and backward step lists and its shape plans (one per batch shape) for every step: ``Step`` is
the only class here that calls into the engine. Every budget is checked before the first step (``plan``): the shapes of
every batch and evaluation chunk against the per-evaluation limits, and the whole run's FLOPs
(steps x forward-and-backward + the per-epoch evaluations) against ``max_train_flops``.
Same seed, same numbers: the program's ``seed(N)`` fixes the initial weights, ``Options.seed`` the
order of the mini-batches.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import tensor
from .encode import num
from .errors import EngineError, limit_error
from .function import Function, compile_function
from .graph import Recipe
from .limits import DEFAULT_LIMITS, Limits

DATA_INPUTS = ("X", "t")
ACTIVATIONS = ("relu", "sigmoid", "tanh")
LOSSES = ("softmax_cross_entropy", "mse")
OPTIMIZERS = ("sgd", "momentum", "adam")
BACKWARD_FACTOR = 3  # forward + backward of a step costs about three forward passes
EVAL_CHUNK = 4096  # rows per forward pass when a whole split is evaluated (fewer if a budget says so)
BOUNDARY_SIZE = 40  # the decision-boundary grid of 2-D data: this many cells a side
MAX_BATCH_SHOWN = 50_000  # the done document carries the last mini-batch when it has at most this many values
SHOWN = 32  # test samples whose predicted classes the epoch events and the done document carry (the page's grid)
MAX_CONFUSION_CLASSES = 30  # epoch events carry the test split's confusion matrix up to this many classes


# --- the model as a program -------------------------------------------------------------------------

def _lit(x: float) -> str:
    return f"{x:.6g}"


def network_program(inputs: int, hidden: Sequence[int], outputs: int, *, activation: str = "relu",
                    loss: str = "softmax_cross_entropy", weight_decay: float = 0.0, seed: int = 0) -> str:
    """The program of a fully connected network: ``inputs`` -> ``hidden``... -> ``outputs``.

    Weights start uniform in +-sqrt(6 / fan_in) for ReLU layers (He) and +-sqrt(6 / (fan_in +
    fan_out)) otherwise (Glorot), biases at zero; ``seed`` fixes them. With one hidden ReLU layer,
    softmax cross-entropy and weight decay this is the two-layer preset's network."""
    if activation not in ACTIVATIONS:
        raise EngineError("invalid_value", f"activation must be one of {', '.join(ACTIVATIONS)}",
                          {"name": "activation"})
    if loss not in LOSSES:
        raise EngineError("invalid_value", f"loss must be one of {', '.join(LOSSES)}", {"name": "loss"})
    sizes = [int(inputs), *(int(h) for h in hidden), int(outputs)]
    if any(s < 1 for s in sizes):
        raise EngineError("invalid_value", "layer sizes must be whole numbers >= 1", {"name": "hidden"})
    if not (isinstance(weight_decay, (int, float)) and math.isfinite(weight_decay) and weight_decay >= 0):
        raise EngineError("invalid_value", "weight_decay must be a finite number >= 0", {"name": "weight_decay"})
    layers = len(sizes) - 1
    act = {"relu": "ReLU", "sigmoid": "sigmoid", "tanh": "tanh"}[activation]
    arch = " -> ".join(["Affine", *([act, "Affine"] * (layers - 1))])
    head = "softmax with cross-entropy" if loss == "softmax_cross_entropy" else "mean squared error"
    lines = [f"# {arch} -> {head}" + (", plus L2 weight decay" if weight_decay else ""),
             "# X (a mini-batch, one row per sample) and t (its targets) are bound to each batch while training;",
             "# the tensors declared here are the parameters the optimizer moves.",
             f"seed({int(seed)})"]
    for i in range(layers):
        fan_in, fan_out = sizes[i], sizes[i + 1]
        last = i == layers - 1
        bound = math.sqrt(6.0 / fan_in) if activation == "relu" and not last else math.sqrt(6.0 / (fan_in + fan_out))
        lines.append(f"W{i + 1} = uniform({fan_in}, {fan_out}, {_lit(-bound)}, {_lit(bound)})")
        lines.append(f"b{i + 1} = zeros({fan_out})")
    if weight_decay:
        lines.append(f"lam = {_lit(weight_decay)}")
    x = "X"
    for i in range(layers - 1):
        h = "h" if layers == 2 else f"h{i + 1}"
        lines.append(f"{h} = {activation}({x} @ W{i + 1} + b{i + 1})")
        x = h
    out = "s" if loss == "softmax_cross_entropy" else "y"
    lines.append(f"{out} = {x} @ W{layers} + b{layers}")
    if weight_decay:
        penalty = " + ".join(f"sum(W{i + 1}^2)" for i in range(layers))
        penalty = f"({penalty})" if layers > 1 else penalty
        lines.append(f"data_loss = {loss}({out}, t)")
        lines.append(f"L = data_loss + 0.5 * lam * {penalty}")
    else:
        lines.append(f"L = {loss}({out}, t)")
    return "\n".join(lines)


# --- the adapter: the one place that calls into the engine -----------------------------------------------

class Step:
    """A program compiled once, run as a training step, through the engine's entry point for training
    loops (``compile_function``: app/engine/function.py).

    ``step(bound, wrt)`` is one forward and backward pass: (objective, gradients of the inputs in
    ``wrt`` by name, (data loss, prediction)); only the inputs in ``wrt`` and the nodes between them
    and the output are differentiated. ``predict(bound)`` is a forward pass only. The compiled graph,
    its step lists, its shape plans (one per set of input shapes) and the constructor constants are
    the engine's, made once and reused for every call. The values are trusted (float64 arrays the
    loop makes): ``Function.run``, not the checking ``Function.__call__``."""

    def __init__(self, program: str, limits: Limits = DEFAULT_LIMITS, data: Sequence[str] = DATA_INPUTS):
        self.program = program
        self.limits = limits
        self._fn = compile_function(program, [], limits)  # the graph, and forward passes (no gradients)
        self._fns: dict[frozenset[str], Function] = {}  # forward and backward, per set of inputs to differentiate
        g = self._g = self._fn.graph
        missing = [n for n in data if n not in g.input_ids]
        if missing:
            raise EngineError("invalid_value", "a training program reads the mini-batch from the inputs X (one row "
                              "per sample) and t (its targets); this program has no " + " and no ".join(missing),
                              {"name": "program", "names": missing})
        self.data = tuple(data)
        self.inputs = list(g.input_ids)
        self._loss, self._pred, self.loss = self._find_loss(g.input_ids[data[1]])

    def _find_loss(self, t_id: int) -> tuple[int, int, str]:
        g = self._g
        found = [k for k, op in enumerate(g.op) if op in LOSSES and t_id in g.operands[k]]
        if len(found) != 1:
            raise EngineError("invalid_value", "a training program has one loss gate that reads the targets t: "
                              "softmax_cross_entropy(s, t) for classes or mse(y, t) for values"
                              + (f"; this one has {len(found)}" if found else ""), {"name": "program"})
        k = found[0]
        a, b = g.operands[k]
        if g.op[k] == "softmax_cross_entropy" and a == t_id:
            raise EngineError("invalid_value", "softmax_cross_entropy takes the logits first and the targets t "
                              "second", {"name": "program"})
        return k, (b if a == t_id else a), g.op[k]

    @property
    def task(self) -> str:
        return "classification" if self.loss == "softmax_cross_entropy" else "regression"

    def initial(self) -> dict[str, Any]:
        """The program's own values of every input but the data (copies: the compiled program's
        defaults are shared through the compile cache and must not move)."""
        defaults = self._fn.defaults()
        missing = [n for n, v in defaults.items() if v is None and n not in self.data]
        if missing:
            raise EngineError("missing_value", "no value for " + ", ".join(missing) + ": a training program gives "
                              "every input but X and t a value (W1 = uniform(64, 128, -0.3, 0.3), lam = 0.0001)",
                              {"names": missing, "name": "program"})
        return {n: (np.array(v, dtype=float) if isinstance(v, np.ndarray) else float(v))
                for n, v in defaults.items() if n not in self.data}

    def unused(self, names: Sequence[str]) -> list[str]:
        """Those of ``names`` the output does not depend on (their gradient would always be missing)."""
        g = self._g
        reach = [False] * len(g)
        reach[g.output] = True
        for k in range(g.output, -1, -1):
            if reach[k]:
                for a in g.operands[k]:
                    reach[a] = True
        return [n for n in names if not reach[g.input_ids[n]]]

    def parameters(self) -> list[str]:
        """The inputs the optimizer moves by default: those with a tensor default, but not X or t."""
        g = self._g
        return [n for n in g.input_ids if n not in self.data and isinstance(g.defaults[n], (np.ndarray, Recipe))]

    def check(self, values: dict[str, Any], shapes: dict[str, tuple[int, ...]]) -> tuple[int, tuple, tuple]:
        """Every per-evaluation budget for the data inputs at these shapes (nothing is allocated): the
        engine's shape plan, the one a step on such a batch uses. Returns (FLOPs of one forward pass,
        the prediction's shape, the data loss's operand shapes)."""
        g = self._g
        bound = {**values, **{n: np.broadcast_to(0.0, s) for n, s in shapes.items()}}
        p = tensor.plan(self._fn.compiled, bound, self.limits)
        return p.flops, p.shapes[self._pred], tuple(p.shapes[a] for a in g.operands[self._loss])

    def step(self, bound: dict[str, Any], wrt: frozenset[str]) -> tuple[float, dict[str, Any], tuple[float, Any]]:
        fn = self._fns.get(wrt)
        if fn is None:
            fn = self._fns[wrt] = compile_function(self.program, sorted(wrt), self.limits)
        res = fn.run(bound)
        vals = res.vals
        return res.value, res.gradients, (vals[self._loss], vals[self._pred])

    def predict(self, bound: dict[str, Any]) -> tuple[float, Any]:
        vals = self._fn.forward(bound).vals
        return vals[self._loss], vals[self._pred]

    def encode(self, x: Any, full: bool = False) -> Any:
        """A tensor as the evaluation document writes it (summarized above limits.summary_above)."""
        return tensor.encode(x, self.limits.summary_above, full)


# --- optimizers ---------------------------------------------------------------------------------------

class SGD:
    """p -= lr * g"""

    def __init__(self, lr: float, **_: Any):
        self.lr = lr

    def update(self, params: dict[str, np.ndarray], grads: dict[str, Any]) -> None:
        lr = self.lr
        for n, g in grads.items():
            p = params[n]
            if isinstance(p, np.ndarray):
                p -= lr * g
            else:
                params[n] = p - lr * float(g)


class Momentum:
    """v = mu * v + g; p -= lr * v (PyTorch's form; with a fixed lr the same as CS231n's v = mu v - lr g)."""

    def __init__(self, lr: float, momentum: float = 0.9, **_: Any):
        self.lr, self.mu = lr, momentum
        self.v: dict[str, Any] = {}

    def update(self, params: dict[str, Any], grads: dict[str, Any]) -> None:
        lr, mu = self.lr, self.mu
        for n, g in grads.items():
            v = self.v.get(n)
            if v is None:
                v = self.v[n] = np.array(g, dtype=float)  # PyTorch: the first step's buffer is the gradient
            else:
                v *= mu
                v += g
            p = params[n]
            if isinstance(p, np.ndarray):
                p -= lr * v
            else:
                params[n] = p - lr * float(v)


class Adam:
    """Adam (Kingma and Ba) with bias correction, as PyTorch's torch.optim.Adam (no weight decay term:
    the program's L2 penalty is the weight decay)."""

    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, **_: Any):
        self.lr, self.b1, self.b2, self.eps = lr, beta1, beta2, eps
        self.m: dict[str, Any] = {}
        self.v: dict[str, Any] = {}
        self.t = 0

    def update(self, params: dict[str, Any], grads: dict[str, Any]) -> None:
        self.t += 1
        b1, b2 = self.b1, self.b2
        c1, c2 = 1.0 - b1 ** self.t, 1.0 - b2 ** self.t
        step = self.lr / c1
        for n, g in grads.items():
            m, v = self.m.get(n), self.v.get(n)
            if m is None:
                m = self.m[n] = np.zeros_like(np.asarray(g, dtype=float))
                v = self.v[n] = np.zeros_like(m)
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * np.square(g)
            upd = step * m / (np.sqrt(v / c2) + self.eps)
            p = params[n]
            if isinstance(p, np.ndarray):
                p -= upd
            else:
                params[n] = p - float(upd)


OPTIMIZER_CLASSES = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


# --- the run ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Options:
    epochs: int = 10
    batch_size: int = 32
    lr: float = 0.1
    optimizer: str = "sgd"
    seed: int = 0  # the order of the mini-batches (the program's seed(N) fixes the initial weights)
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    parameters: tuple[str, ...] | None = None  # None: every input with a tensor default but X and t
    progress_every: float = 0.1  # seconds between progress events (and one after the first step)
    evaluate: bool = True  # loss and accuracy of both splits after every epoch
    full_parameters: bool = False  # every trained parameter in full (else those above summary_above: summarized)


@dataclass
class Data:
    """The splits as arrays. ``y`` holds class indices (classification) or target rows (regression);
    ``x_scale`` multiplies each batch as it is taken (so MNIST can stay uint8 in memory)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    task: str  # "classification" | "regression"
    classes: int = 0
    x_scale: float = 1.0


def _check_number(name: str, v: Any, lo: float | None = None, positive: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or (positive and v <= 0) \
            or (lo is not None and v < lo):
        want = "a finite number" + (" > 0" if positive else "") + (f" >= {lo:g}" if lo is not None else "")
        raise EngineError("invalid_value", f"{name} must be {want}", {"name": name})
    return float(v)


def _check_count(name: str, v: Any, lo: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise EngineError("invalid_value", f"{name} must be a whole number >= {lo}", {"name": name})
    return v


@dataclass(frozen=True)
class Plan:
    steps_per_epoch: int
    steps: int
    flops_per_step: int  # forward + backward of a full batch
    flops: int  # the whole run
    parameters: tuple[str, ...]
    shapes: dict[str, tuple[int, ...]]
    eval_rows: int  # rows per forward pass when a whole split is evaluated


def _chunks(n: int, size: int) -> list[int]:
    return sorted({min(size, n), n % size} - {0})


def plan(step: Step, data: Data, options: Options, values: dict[str, Any]) -> Plan:
    """Check the options, the data against the program and every budget, before any work."""
    limits = step.limits
    epochs = _check_count("epochs", options.epochs)
    if epochs > limits.max_epochs:
        raise limit_error("max_epochs", limits.max_epochs, f"{epochs} epochs were asked for", name="epochs")
    batch = _check_count("batch_size", options.batch_size)
    _check_number("lr", options.lr, positive=True)
    if options.optimizer not in OPTIMIZERS:
        raise EngineError("invalid_value", f"optimizer must be one of {', '.join(OPTIMIZERS)}", {"name": "optimizer"})
    for name in ("momentum", "beta1", "beta2"):
        v = _check_number(name, getattr(options, name), lo=0.0)
        if v >= 1:
            raise EngineError("invalid_value", f"{name} must be in [0, 1)", {"name": name})
    _check_number("eps", options.eps, positive=True)
    if data.task != step.task:
        want = "softmax_cross_entropy(s, t)" if data.task == "classification" else "mse(y, t)"
        raise EngineError("invalid_value", f"the data is for {data.task} but the program's loss is {step.loss}: "
                          f"use {want}", {"name": "program"})
    n_train, n_test = len(data.X_train), len(data.X_test)
    if n_train < 1:
        raise EngineError("invalid_value", "the training split has no samples", {"name": "dataset"})
    params = tuple(options.parameters) if options.parameters is not None else tuple(step.parameters())
    bad = [p for p in params if p not in values]
    if bad or not params:
        raise EngineError("invalid_value", (f"not parameters of the program: {', '.join(bad)}" if bad else
                          "the program has no parameters to train (inputs with a tensor default, such as "
                          "W1 = uniform(64, 128, -0.3, 0.3), other than X and t)"), {"name": "program"})
    unused = step.unused(params)
    if unused:
        raise EngineError("invalid_value", f"the output does not depend on {', '.join(unused)}, so training would "
                          "never move it: use it in the loss, or name the parameters to train",
                          {"name": "program", "names": unused})
    features = data.X_train.shape[1]
    width = data.classes if data.task == "classification" else data.y_train.shape[1]
    batch = min(batch, n_train)

    def flops(rows: int) -> int:
        # first with targets that fit any prediction (class indices; one column), to name a wrong last layer
        probe = (rows,) if data.task == "classification" else (rows, 1)
        _, pred, _ = step.check(values, {"X": (rows, features), "t": probe})
        if pred != (rows, width):
            what = f"{data.classes} classes" if data.task == "classification" else f"{width} target columns"
            raise EngineError("shape_error", f"the program's prediction has shape {pred} for a batch of {rows}, "
                              f"but the data has {what}: its last layer needs {width} outputs", {"name": "program"})
        return step.check(values, {"X": (rows, features), "t": (rows, width)})[0]

    spe = math.ceil(n_train / batch)
    per_epoch = sum(flops(rows) * (n_train // rows if rows == batch else 1) for rows in _chunks(n_train, batch))
    per_epoch *= BACKWARD_FACTOR
    # evaluation passes: as many rows at once as one evaluation's budgets allow (the batch always fits)
    eval_rows = EVAL_CHUNK
    while eval_rows > batch:
        try:
            flops(eval_rows)
            break
        except EngineError as e:
            if e.type != "limit_exceeded":
                raise
            eval_rows //= 2
    eval_rows = max(eval_rows, batch)
    if options.evaluate:
        passes = [n_train, n_test]
        if features == 2 and data.task == "classification":
            passes.append(BOUNDARY_SIZE * BOUNDARY_SIZE)
        for n in passes:
            per_epoch += sum(flops(rows) * (n // rows if rows == min(eval_rows, n) else 1)
                             for rows in _chunks(n, eval_rows))
    total = per_epoch * epochs
    if total > limits.max_train_flops:
        raise limit_error("max_train_flops", limits.max_train_flops,
                          f"{epochs} epochs of {spe} steps (batch {batch}, {n_train} training and {n_test} test "
                          f"samples) need about {total:.3g} floating-point operations", name="epochs")
    return Plan(spe, spe * epochs, BACKWARD_FACTOR * flops(batch), total, params,
                {n: np.shape(values[n]) for n in params}, eval_rows)


Event = Callable[[str, dict[str, Any]], None]


def _norm(x: Any) -> float:
    return float(np.sqrt(np.sum(np.square(x))))


def train(program: str, data: Data, options: Options = Options(), *, limits: Limits = DEFAULT_LIMITS,
          on_event: Event | None = None, should_stop: Callable[[], str | None] | None = None) -> dict[str, Any]:
    """Train the program's parameters on ``data``; returns the run's document (the ``done`` event).

    ``on_event(kind, payload)`` receives ``start`` (the plan), ``progress`` (at most every
    ``options.progress_every`` seconds: epoch, step, running loss and accuracy of this epoch's
    batches, elapsed) and ``epoch`` (both splits' loss and accuracy, parameter and gradient norms, the
    decision boundary of 2-D data). ``should_stop()`` is asked before every step; a reason it
    returns ends the run early (the document says ``stopped``)."""
    step = Step(program, limits)
    values = step.initial()
    p = plan(step, data, options, values)
    emit = on_event or (lambda kind, payload: None)
    classify = data.task == "classification"
    params = p.parameters
    wrt = frozenset(params)
    opt = OPTIMIZER_CLASSES[options.optimizer](options.lr, momentum=options.momentum, beta1=options.beta1,
                                               beta2=options.beta2, eps=options.eps)
    T_train = _targets(data, data.y_train)
    T_test = _targets(data, data.y_test)
    n_train = len(data.X_train)
    batch = min(options.batch_size, n_train)
    rng = np.random.default_rng(options.seed)
    scale = data.x_scale
    X_train, y_train = data.X_train, data.y_train
    emit("start", {"epochs": options.epochs, "steps": p.steps, "steps_per_epoch": p.steps_per_epoch,
                   "batch_size": batch, "train_samples": n_train, "test_samples": len(data.X_test),
                   "parameters": {n: list(s) for n, s in p.shapes.items()}, "flops": p.flops,
                   "task": data.task, "loss": step.loss, "program": program})
    curves: dict[str, list] = {"train_loss": [], "test_loss": [], "train_accuracy": [], "test_accuracy": []}
    last_grads: dict[str, Any] = {}
    stopped: str | None = None
    message = None
    s = 0
    t0 = time.perf_counter()
    next_progress = t0
    ev_test: tuple = (None, None, None)
    epochs_done = 0
    bound = dict(values)
    for epoch in range(1, options.epochs + 1):
        order = rng.permutation(n_train)
        # this epoch's order, gathered once: each mini-batch is then a slice (a view), not a gather
        X_epoch, T_epoch = X_train[order], T_train[order]
        y_epoch = y_train[order] if classify else None
        run_loss = run_correct = run_n = 0.0
        for i in range(0, n_train, batch):
            if should_stop is not None:
                stopped = should_stop()
                if stopped:
                    break
            xb = X_epoch[i:i + batch]
            bound["X"] = xb * scale if scale != 1.0 or xb.dtype != np.float64 else xb
            bound["t"] = T_epoch[i:i + batch]
            objective, grads, (loss, pred) = step.step(bound, wrt)
            s += 1
            if not math.isfinite(objective):
                stopped = "diverged"
                message = (f"the loss became {num(objective)} at epoch {epoch}, step {s}: the learning rate "
                           f"may be too high")
                break
            opt.update(bound, grads)
            last_grads = grads
            rows = len(xb)
            run_loss += float(loss) * rows
            run_n += rows
            if classify:
                run_correct += int(np.count_nonzero(pred.argmax(axis=1) == y_epoch[i:i + batch]))
            now = time.perf_counter()
            if now >= next_progress:
                next_progress = now + options.progress_every
                emit("progress", {"epoch": epoch, "step": s, "steps": p.steps, "loss": num(run_loss / run_n),
                                  "accuracy": run_correct / run_n if classify else None,
                                  "elapsed": now - t0})
        if stopped:
            break
        epochs_done = epoch
        ev: dict[str, Any] = {"epoch": epoch, "step": s, "steps": p.steps}
        if options.evaluate:
            tr = _evaluate(step, bound, data.X_train, T_train, data.y_train if classify else None, scale, p.eval_rows)
            ev_test = _evaluate(step, bound, data.X_test, T_test, data.y_test if classify else None, scale,
                                p.eval_rows)
            curves["train_loss"].append(tr[0])
            curves["test_loss"].append(ev_test[0])
            curves["train_accuracy"].append(tr[1])
            curves["test_accuracy"].append(ev_test[1])
            ev.update({"train_loss": _num(tr[0]), "test_loss": _num(ev_test[0]), "train_accuracy": tr[1],
                       "test_accuracy": ev_test[1]})
            if classify and ev_test[2] is not None:
                ev["predicted"] = ev_test[2][:SHOWN].tolist()
                if data.classes <= MAX_CONFUSION_CLASSES:
                    ev["confusion"] = _confusion(data.y_test, ev_test[2], T_test.shape[1])
            if data.X_train.shape[1] == 2 and classify:
                ev["boundary"] = _boundary(step, bound, data, T_train.shape[1], p.eval_rows)
        ev["norms"] = {n: {"weight": num(_norm(bound[n])), "grad": num(_norm(last_grads[n])) if n in last_grads
                           else None} for n in params}
        ev["elapsed"] = time.perf_counter() - t0
        emit("epoch", ev)
    seconds = time.perf_counter() - t0
    if stopped and not message:
        message = f"stopped ({stopped}) after {s} of {p.steps} steps"
    doc: dict[str, Any] = {
        "task": data.task, "loss": step.loss, "epochs": epochs_done, "steps": s, "planned_steps": p.steps,
        "seconds": seconds, "stopped": stopped, "message": message,
        "train_loss": [_num(x) for x in curves["train_loss"]], "test_loss": [_num(x) for x in curves["test_loss"]],
        "train_accuracy": curves["train_accuracy"], "test_accuracy": curves["test_accuracy"],
        "test_mse": None if classify or not curves["test_loss"] else _num(curves["test_loss"][-1]),
        "parameters": {n: step.encode(bound[n], options.full_parameters) for n in params},
        "program": program,
        "batch": None,
    }
    if s and bound["X"].size <= MAX_BATCH_SHOWN:  # the last mini-batch, to open the step in the circuit
        doc["batch"] = {"X": step.encode(bound["X"], True), "t": step.encode(bound["t"], True)}
    if classify and ev_test[2] is not None:
        predicted = ev_test[2]
        doc["confusion"] = _confusion(data.y_test, predicted, T_test.shape[1])
        doc["test_predictions"] = {"label": data.y_test[:SHOWN].astype(int).tolist(),
                                   "predicted": predicted[:SHOWN].tolist()}
    return doc


def _confusion(labels: np.ndarray, predicted: np.ndarray, classes: int) -> list[list[int]]:
    """Rows: the true class; columns: the predicted one."""
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (labels.astype(np.int64), predicted), 1)
    return confusion.tolist()


def _num(x: float | None) -> float | str | None:
    return None if x is None else num(x)


def _targets(data: Data, y: np.ndarray) -> np.ndarray:
    """Classification: one-hot rows (the loss gate takes them without building them every step)."""
    if data.task == "classification":
        return np.eye(data.classes)[y.astype(np.int64)]
    return np.asarray(y, dtype=float)


def _evaluate(step: Step, bound: dict[str, Any], X: np.ndarray, T: np.ndarray, labels: np.ndarray | None,
              scale: float, rows: int) -> tuple[float | None, float | None, np.ndarray | None]:
    """(mean data loss, accuracy, predicted classes) of a whole split, ``rows`` at a time."""
    n = len(X)
    if n == 0:
        return None, None, None
    total = 0.0
    predicted = [] if labels is not None else None
    b = dict(bound)
    for i in range(0, n, rows):
        xb = X[i:i + rows]
        b["X"] = xb * scale if scale != 1.0 or xb.dtype != np.float64 else xb
        b["t"] = T[i:i + rows]
        loss, pred = step.predict(b)
        total += float(loss) * len(xb)
        if predicted is not None:
            predicted.append(pred.argmax(axis=1))
    if predicted is None:
        return total / n, None, None
    cls = np.concatenate(predicted)
    return total / n, float(np.count_nonzero(cls == labels) / n), cls


def _boundary(step: Step, bound: dict[str, Any], data: Data, classes: int, rows: int) -> dict[str, Any]:
    """The predicted class on a BOUNDARY_SIZE x BOUNDARY_SIZE grid over the data (rows from y max to y min)."""
    X = np.concatenate([data.X_train, data.X_test]) * data.x_scale
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * np.maximum(hi - lo, 1e-9)
    lo, hi = lo - pad, hi + pad
    xs = np.linspace(lo[0], hi[0], BOUNDARY_SIZE)
    ys = np.linspace(hi[1], lo[1], BOUNDARY_SIZE)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    _, _, cls = _evaluate(step, bound, grid, np.zeros((len(grid), classes)), np.zeros(len(grid)), 1.0, rows)
    return {"x": [float(lo[0]), float(hi[0])], "y": [float(lo[1]), float(hi[1])], "size": BOUNDARY_SIZE,
            "classes": cls.reshape(BOUNDARY_SIZE, BOUNDARY_SIZE).tolist()}
