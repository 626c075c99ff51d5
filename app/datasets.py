"""The training lab's datasets, all offline (nothing is downloaded, ever).

- ``digits``: the UCI "Optical Recognition of Handwritten Digits" test set as scikit-learn ships it
  (1,797 8x8 images, pixels 0..16, ten classes), vendored in data/datasets/ with its attribution
  (CC BY 4.0, data/datasets/README.md). Pixels are scaled to [0, 1].
- ``mnist``: the standard IDX files (``train-images-idx3-ubyte[.gz]`` and the three others) in the
  directory named by the ``BACKPROP_DATA_DIR`` setting or the CLI's ``--data-dir``; listed only
  when all four are there. Its own train/test split; pixels stay uint8 in memory, scaled by 1/255
  as each batch is taken.
- ``moons``, ``circles``, ``spirals`` (three arms), ``xor``: 2-D sets generated with numpy from a
  seed (``data_seed``), for seeing decision boundaries.
- a CSV text: a header row, a target column (the last by default), numeric features; the problem is
  classification when the targets are text or a few whole numbers, regression otherwise.

Every size is bounded by the engine's ``Limits`` (max_train_samples, max_csv_bytes, max_csv_rows,
max_csv_columns, max_elements) before the data is read, and every bad input is an EngineError whose
``ctx`` names it (``name``: the request field; ``row`` and ``column`` for a CSV cell).
"""

from __future__ import annotations

import csv
import difflib
import gzip
import io
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.engine.errors import EngineError, limit_error
from app.engine.limits import DEFAULT_LIMITS, Limits
from app.engine.train import SHOWN, Data, Options, network_program

DATASETS_DIR = Path(__file__).resolve().parent.parent / "data" / "datasets"
DIGITS_FILE = DATASETS_DIR / "digits.csv.gz"
PLANAR = ("moons", "circles", "spirals", "xor")
BUILTIN = ("digits", *PLANAR)
NAMES = (*BUILTIN, "mnist")
TITLES = {
    "digits": "Handwritten digits, 8x8 (UCI, 1,797 images)",
    "moons": "Two moons (2-D)",
    "circles": "Two circles (2-D)",
    "spirals": "Three spirals (2-D)",
    "xor": "XOR quadrants (2-D)",
    "mnist": "MNIST handwritten digits, 28x28 (60,000 + 10,000 images)",
    "csv": "Your CSV",
}
DEFAULT_SAMPLES = 400  # points of a 2-D set
DEFAULT_NOISE = {"moons": 0.1, "circles": 0.08, "spirals": 0.2, "xor": 0.1}
MAX_CLASSES = 100  # distinct values of a CSV's text target
AUTO_CLASSES = 20  # whole-number CSV targets with at most this many distinct values are classes
MNIST_FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
               "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}


@dataclass
class Dataset:
    """Samples as rows of ``X``; ``y`` holds class indices or (for regression) rows of target values.
    ``test`` is a fixed test split (MNIST's own), else the split is drawn by ``split``."""

    name: str
    task: str  # "classification" | "regression"
    X: np.ndarray
    y: np.ndarray
    classes: list[str] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)
    target: str = "label"
    image_shape: tuple[int, int] | None = None
    test: tuple[np.ndarray, np.ndarray] | None = None
    x_scale: float = 1.0
    standardize: bool = False

    def info(self) -> dict[str, Any]:
        n_test = 0 if self.test is None else len(self.test[0])
        return {"name": self.name, "title": TITLES.get(self.name, self.name), "task": self.task,
                "samples": len(self.X) + n_test, "features": int(self.X.shape[1]), "classes": self.classes,
                "feature_names": self.feature_names[:100], "target": self.target,
                "image_shape": list(self.image_shape) if self.image_shape else None}


def _error(msg: str, name: str, **ctx: Any) -> EngineError:
    return EngineError("invalid_value", msg, {"name": name, **ctx})


# --- built-in sets ----------------------------------------------------------------------------------

def load(name: str, *, data_seed: int = 0, samples: int | None = None, noise: float | None = None,
         data_dir: str | os.PathLike | None = None, limits: Limits = DEFAULT_LIMITS) -> Dataset:
    if name == "digits":
        return digits()
    if name in PLANAR:
        return planar(name, samples=DEFAULT_SAMPLES if samples is None else samples,
                      noise=DEFAULT_NOISE[name] if noise is None else noise, seed=data_seed, limits=limits)
    if name == "mnist":
        return mnist(data_dir, limits)
    close = difflib.get_close_matches(str(name), NAMES, n=1)
    raise _error(f"unknown dataset {str(name)[:64]!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                 + f"; the datasets are: {', '.join(NAMES)}", "dataset")


_DIGITS: Dataset | None = None


def digits() -> Dataset:
    """The vendored 8x8 digits (data/datasets/digits.csv.gz: 64 pixel columns, then the label)."""
    global _DIGITS
    if _DIGITS is None:
        with gzip.open(DIGITS_FILE, "rt", encoding="ascii") as fh:
            a = np.loadtxt(fh, delimiter=",", dtype=np.float64)
        _DIGITS = Dataset("digits", "classification", a[:, :-1] / 16.0, a[:, -1].astype(np.int64),
                          classes=[str(d) for d in range(10)],
                          feature_names=[f"pixel_{r}_{c}" for r in range(8) for c in range(8)],
                          image_shape=(8, 8))
    return _DIGITS


def planar(name: str, *, samples: int = DEFAULT_SAMPLES, noise: float = 0.1, seed: int = 0,
           limits: Limits = DEFAULT_LIMITS) -> Dataset:
    """A 2-D set, generated from ``seed``: moons and circles as scikit-learn draws them, three
    spiral arms as in the CS231n notes, and the XOR quadrants."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 4:
        raise _error("samples must be a whole number >= 4", "samples")
    if samples > limits.max_train_samples:
        raise limit_error("max_train_samples", limits.max_train_samples, f"{samples} samples were asked for",
                          name="samples")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise <= 10:
        raise _error("noise must be a number from 0 to 10", "noise")
    rng = np.random.default_rng(seed)
    if name == "moons":
        n_out = samples // 2
        n_in = samples - n_out
        a, b = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
        X = np.concatenate([np.stack([np.cos(a), np.sin(a)], 1), np.stack([1 - np.cos(b), 0.5 - np.sin(b)], 1)])
        y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
        X = X + rng.normal(0.0, noise, X.shape)
    elif name == "circles":
        n_out = samples // 2
        n_in = samples - n_out
        a = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
        b = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
        X = np.concatenate([np.stack([np.cos(a), np.sin(a)], 1), 0.5 * np.stack([np.cos(b), np.sin(b)], 1)])
        y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
        X = X + rng.normal(0.0, noise, X.shape)
    elif name == "spirals":
        arms = 3
        per = [samples // arms + (1 if j < samples % arms else 0) for j in range(arms)]
        parts, labels = [], []
        for j, n in enumerate(per):
            r = np.linspace(0.0, 1.0, n)
            theta = np.linspace(j * 4.0, (j + 1) * 4.0, n) + rng.normal(0.0, noise, n)
            parts.append(np.stack([r * np.sin(theta), r * np.cos(theta)], 1))
            labels.append(np.full(n, j))
        X, y = np.concatenate(parts), np.concatenate(labels)
    else:  # xor
        X = rng.uniform(-1.0, 1.0, (samples, 2))
        y = ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(float)
        X = X + rng.normal(0.0, noise, X.shape)
    order = rng.permutation(len(X))
    k = int(y.max()) + 1
    return Dataset(name, "classification", X[order], y[order].astype(np.int64), classes=[str(c) for c in range(k)],
                   feature_names=["x1", "x2"])


# --- MNIST from IDX files ----------------------------------------------------------------------------

def mnist_files(data_dir: str | os.PathLike | None) -> dict[str, Path] | None:
    """The four IDX files (plain or .gz) in ``data_dir``, or None unless all four are there."""
    if not data_dir:
        return None
    d = Path(data_dir)
    found: dict[str, Path] = {}
    for key, stem in MNIST_FILES.items():
        for candidate in (d / stem, d / (stem + ".gz")):
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            return None
    return found


def _open(path: Path):
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _read_exact(fh, n: int, path: Path) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise _error(f"{path.name}: the file ends after {len(data)} of {n} bytes (truncated?)", "dataset",
                     file=path.name)
    return data


def idx_header(fh, path: Path, ndim: int) -> tuple[int, ...]:
    """An IDX header: two zero bytes, the type (0x08: unsigned bytes), the rank, then each size."""
    try:
        magic = _read_exact(fh, 4, path)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise _error(f"{path.name}: cannot be read ({e})", "dataset", file=path.name) from None
    if magic[:2] != b"\0\0" or magic[2] != 0x08 or magic[3] != ndim:
        raise _error(f"{path.name}: not an IDX file of unsigned bytes with {ndim} dimension"
                     f"{'s' if ndim > 1 else ''} (magic {magic.hex()})", "dataset", file=path.name)
    return struct.unpack(">" + "I" * ndim, _read_exact(fh, 4 * ndim, path))


def read_idx(path: Path, ndim: int, limits: Limits = DEFAULT_LIMITS, max_items: int | None = None) -> np.ndarray:
    """An IDX file as a uint8 array; sizes checked against the limits before the data is read (a
    gzip file is decompressed only as far as its header says, so a bomb costs nothing)."""
    with _open(path) as fh:
        dims = idx_header(fh, path, ndim)
        if dims[0] > limits.max_train_samples:
            raise limit_error("max_train_samples", limits.max_train_samples,
                              f"{path.name} holds {dims[0]} samples", name="dataset")
        per = math.prod(dims[1:])
        if per > limits.max_elements or per > 1_000_000:
            raise limit_error("max_elements", limits.max_elements, f"{path.name}: samples of {per} values",
                              name="dataset")
        n = dims[0] if max_items is None else min(dims[0], max_items)
        try:
            raw = _read_exact(fh, n * per, path)
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise _error(f"{path.name}: cannot be read ({e})", "dataset", file=path.name) from None
    return np.frombuffer(raw, dtype=np.uint8).reshape((n, *dims[1:]))


def mnist(data_dir: str | os.PathLike | None, limits: Limits = DEFAULT_LIMITS) -> Dataset:
    files = mnist_files(data_dir)
    if files is None:
        where = f"in {data_dir}" if data_dir else "(no data directory is set: BACKPROP_DATA_DIR or --data-dir)"
        raise _error(f"MNIST is not available {where}: it needs {', '.join(MNIST_FILES.values())} "
                     "(each may be .gz)", "dataset")
    parts = {}
    for key, path in files.items():
        parts[key] = read_idx(path, 3 if key.endswith("images") else 1, limits)
    total = len(parts["train_images"]) + len(parts["test_images"])
    if total > limits.max_train_samples:
        raise limit_error("max_train_samples", limits.max_train_samples, f"MNIST has {total} samples",
                          name="dataset")
    out = {}
    for split in ("train", "test"):
        images, labels = parts[f"{split}_images"], parts[f"{split}_labels"]
        if len(images) != len(labels):
            raise _error(f"MNIST {split}: {len(images)} images but {len(labels)} labels", "dataset")
        if labels.size and labels.max() > 9:
            raise _error(f"MNIST {split}: a label is {int(labels.max())}; labels are 0 to 9", "dataset")
        out[split] = (images.reshape(len(images), -1), labels.astype(np.int64))
    h, w = parts["train_images"].shape[1:]
    return Dataset("mnist", "classification", out["train"][0], out["train"][1], classes=[str(d) for d in range(10)],
                   feature_names=[f"pixel_{r}_{c}" for r in range(h) for c in range(w)], image_shape=(h, w),
                   test=out["test"], x_scale=1.0 / 255.0)


# --- the user's CSV ----------------------------------------------------------------------------------

def _cell_number(cell: str, row: int, col: int, header: list[str], what: str) -> float:
    text = cell.strip()
    where = f"row {row}, column {col} ({header[col - 1][:64]!r})"
    ctx = {"row": row, "column": col, "column_name": header[col - 1][:64]}
    if not text:
        raise _error(f"{where} is empty: every {what} must be a number (missing values are not supported)",
                     "csv", **ctx)
    try:
        v = float(text)
    except ValueError:
        raise _error(f"{where}: {text[:32]!r} is not a number", "csv", **ctx) from None
    if not math.isfinite(v):
        raise _error(f"{where}: {text[:32]!r} is not a finite number (NaN and Infinity are not allowed)",
                     "csv", **ctx)
    return v


def parse_csv(text: str, target: str | None = None, *, task: str = "auto", limits: Limits = DEFAULT_LIMITS,
              standardize: bool = True) -> Dataset:
    """A CSV text: a header row, then one sample per row. ``target`` names the target column (the
    last by default); every other column is a numeric feature. Rows are numbered as lines of the
    file (the header is row 1); columns from 1. Blank lines are skipped."""
    if not isinstance(text, str):
        raise _error("the CSV must be text", "csv")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_csv_bytes:
        raise limit_error("max_csv_bytes", limits.max_csv_bytes, f"the CSV has {size} bytes", name="csv")
    if task not in ("auto", "classification", "regression"):
        raise _error("task must be 'auto', 'classification' or 'regression'", "task")
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise _error("the CSV is empty: it needs a header row and at least one row of numbers", "csv")
    try:
        sample = text[:4096]
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if "," not in sample.split("\n", 1)[0] else "excel"
    except csv.Error:
        dialect = "excel"
    reader = csv.reader(io.StringIO(text), dialect)
    rows: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    try:
        for fields in reader:
            line = reader.line_num
            if not fields or all(not f.strip() for f in fields):
                continue
            if header is None:
                header = [f.strip() for f in fields]
                if len(header) > limits.max_csv_columns:
                    raise limit_error("max_csv_columns", limits.max_csv_columns,
                                      f"the CSV has {len(header)} columns", name="csv")
                continue
            if len(rows) >= limits.max_csv_rows:
                raise limit_error("max_csv_rows", limits.max_csv_rows, f"the CSV has more than "
                                  f"{limits.max_csv_rows} rows", name="csv", row=line)
            if len(fields) != len(header):
                raise _error(f"row {line} has {len(fields)} field{'s' if len(fields) != 1 else ''} but the header "
                             f"has {len(header)} columns", "csv", row=line, column=min(len(fields), len(header)) + 1)
            rows.append((line, fields))
    except csv.Error as e:
        raise _error(f"row {reader.line_num}: {e}", "csv", row=reader.line_num) from None
    assert header is not None
    if not rows:
        raise _error("the CSV has a header row but no rows of data", "csv", row=2)
    if len(header) < 2:
        raise _error("the CSV needs at least two columns: one or more features and the target", "csv")
    blank = [i + 1 for i, h in enumerate(header) if not h]
    if blank:
        raise _error(f"column {blank[0]} of the header has no name", "csv", row=1, column=blank[0])
    dup = next((h for i, h in enumerate(header) if h in header[:i]), None)
    if dup is not None:
        raise _error(f"the header names column {dup[:64]!r} twice", "csv", row=1, column=header.index(dup) + 1)
    if len(rows) * len(header) > limits.max_train_samples * 1000 or len(rows) > limits.max_train_samples:
        raise limit_error("max_train_samples", limits.max_train_samples, f"the CSV has {len(rows)} rows",
                          name="csv")
    if target is None:
        t_col = len(header) - 1
    elif target in header:
        t_col = header.index(target)
    else:
        close = difflib.get_close_matches(str(target), header, n=1)
        raise _error(f"the target column {str(target)[:64]!r} is not in the header"
                     + (f" (did you mean {close[0]!r}?)" if close else "")
                     + f"; its columns are: {', '.join(h[:64] for h in header[:50])}", "target")
    features = [i for i in range(len(header)) if i != t_col]
    X = np.empty((len(rows), len(features)))
    raw_targets: list[str] = []
    for r, (line, fields) in enumerate(rows):
        for j, c in enumerate(features):
            X[r, j] = _cell_number(fields[c], line, c + 1, header, "feature")
        raw_targets.append(fields[t_col].strip())
    numeric: list[float] | None = []
    for cell in raw_targets:
        try:
            v = float(cell)
        except ValueError:
            numeric = None
            break
        numeric.append(v)
    if task == "regression" or (task == "auto" and numeric is not None
                                and not _few_whole_numbers(numeric)):
        if numeric is None:
            r = next(i for i, c in enumerate(raw_targets) if _not_float(c))
            _cell_number(raw_targets[r], rows[r][0], t_col + 1, header, "target of a regression")
        for r, v in enumerate(numeric or []):
            if not math.isfinite(v):
                _cell_number(raw_targets[r], rows[r][0], t_col + 1, header, "target")
        y = np.asarray(numeric, dtype=float).reshape(-1, 1)
        return Dataset("csv", "regression", X, y, feature_names=[header[i] for i in features],
                       target=header[t_col], standardize=standardize)
    for r, cell in enumerate(raw_targets):
        if not cell:
            raise _error(f"row {rows[r][0]}, column {t_col + 1} ({header[t_col][:64]!r}) is empty: every sample "
                         "needs a target", "csv", row=rows[r][0], column=t_col + 1, column_name=header[t_col][:64])
        if numeric is not None and not math.isfinite(numeric[r]):
            _cell_number(cell, rows[r][0], t_col + 1, header, "target")
    if numeric is not None:
        keys = sorted(set(numeric))
        names = [f"{k:g}" for k in keys]
        index = {k: i for i, k in enumerate(keys)}
        y = np.array([index[v] for v in numeric], dtype=np.int64)
    else:
        names = sorted(set(raw_targets))
        index = {k: i for i, k in enumerate(names)}
        y = np.array([index[v] for v in raw_targets], dtype=np.int64)
    if len(names) > MAX_CLASSES:
        raise _error(f"the target column {header[t_col][:64]!r} has {len(names)} distinct values; a classification "
                     f"has at most {MAX_CLASSES} classes (use task 'regression' for numbers)", "target")
    if len(names) < 2:
        raise _error(f"the target column {header[t_col][:64]!r} has only one class ({names[0][:64]!r})", "target")
    return Dataset("csv", "classification", X, y, classes=names, feature_names=[header[i] for i in features],
                   target=header[t_col], standardize=standardize)


def _not_float(cell: str) -> bool:
    try:
        float(cell)
        return False
    except ValueError:
        return True


def _few_whole_numbers(values: list[float]) -> bool:
    return all(math.isfinite(v) and v == int(v) for v in values) and len(set(values)) <= AUTO_CLASSES


# --- splits and the catalogue -------------------------------------------------------------------------

def split(ds: Dataset, *, test_fraction: float = 0.2, data_seed: int = 0, standardize: bool | None = None) -> Data:
    """The train/test split (drawn from ``data_seed`` unless the set has its own test split), with the
    features standardized by the training split's mean and deviation when asked (or, by default, for
    a CSV)."""
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) \
            or not 0 <= test_fraction < 1:
        raise _error("test_fraction must be a number in [0, 1)", "test_fraction")
    if ds.test is not None:
        Xtr, ytr, (Xte, yte) = ds.X, ds.y, ds.test
    else:
        rng = np.random.default_rng([data_seed, 1])
        order = rng.permutation(len(ds.X))
        n_test = int(round(len(ds.X) * test_fraction))
        if n_test >= len(ds.X):
            n_test = len(ds.X) - 1
        te, tr = order[:n_test], order[n_test:]
        Xtr, ytr, Xte, yte = ds.X[tr], ds.y[tr], ds.X[te], ds.y[te]
    scale = ds.x_scale
    if ds.standardize if standardize is None else standardize:
        Xtr = Xtr * scale
        Xte = Xte * scale
        mu = Xtr.mean(axis=0)
        sd = Xtr.std(axis=0)
        sd[sd == 0] = 1.0
        Xtr, Xte, scale = (Xtr - mu) / sd, (Xte - mu) / sd, 1.0
    return Data(Xtr, ytr, Xte, yte, ds.task, classes=len(ds.classes), x_scale=scale)


def preview(ds: Dataset, count: int = 8) -> dict[str, Any]:
    """A few samples for the page: images as pixel rows (0..1), 2-D points for a scatter, table rows."""
    n = len(ds.X)
    if ds.image_shape is not None:
        X = ds.X[:count] * ds.x_scale
        return {"kind": "images", "shape": list(ds.image_shape),
                "images": np.round(X.reshape(len(X), *ds.image_shape), 4).tolist(),
                "labels": [ds.classes[int(c)] for c in ds.y[:count]]}
    if ds.X.shape[1] == 2:
        take = min(n, 200)
        return {"kind": "points", "points": np.round(ds.X[:take], 4).tolist(), "labels": ds.y[:take].tolist()}
    return {"kind": "table", "columns": ds.feature_names + [ds.target], "rows": [
        [*map(float, ds.X[i]), ds.classes[int(ds.y[i])] if ds.classes else float(ds.y[i][0])]
        for i in range(min(n, count))]}


def catalogue(data_dir: str | os.PathLike | None = None, limits: Limits = DEFAULT_LIMITS) -> list[dict[str, Any]]:
    """Every dataset available now, with its shape and a small preview; MNIST only when its files are
    in ``data_dir`` (only the headers and the first images are read)."""
    out = []
    for name in BUILTIN:
        ds = load(name, limits=limits)
        out.append({**ds.info(), "test_split": "test_fraction of the samples",
                    "options": ["samples", "noise", "data_seed"] if name in PLANAR else ["data_seed"],
                    "preview": preview(ds)})
    files = mnist_files(data_dir)
    if files is not None:
        try:
            info = _mnist_info(files, limits)
        except EngineError:
            info = None  # broken files are not offered (training on them reports why)
        if info is not None:
            out.append(info)
    return out


def _mnist_info(files: dict[str, Path], limits: Limits) -> dict[str, Any]:
    counts = {}
    for key, path in files.items():
        with _open(path) as fh:
            counts[key] = idx_header(fh, path, 3 if key.endswith("images") else 1)
    images = read_idx(files["test_images"], 3, limits, max_items=8)
    labels = read_idx(files["test_labels"], 1, limits, max_items=8)
    h, w = counts["train_images"][1:]
    return {"name": "mnist", "title": TITLES["mnist"], "task": "classification",
            "samples": counts["train_images"][0] + counts["test_images"][0], "features": h * w,
            "classes": [str(d) for d in range(10)], "feature_names": [], "target": "label", "image_shape": [h, w],
            "test_split": f"the files' own: {counts['train_images'][0]} train, {counts['test_images'][0]} test",
            "options": [],
            "preview": {"kind": "images", "shape": [h, w], "images": np.round(images / 255.0, 4).tolist(),
                        "labels": [str(int(c)) for c in labels]}}


# --- one training run, from the options the CLI and the API share -------------------------------------

def write_program(*, dataset: str | None = None, csv: str | None = None, target: str | None = None,
                  task: str = "auto", inputs: int | None = None, outputs: int | None = None, loss: str | None = None,
                  hidden: Any = 128, activation: str = "relu", weight_decay: float = 0.0, seed: int = 0,
                  data_dir: str | os.PathLike | None = None, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The network program the training form writes, sized for a dataset (or CSV), or for ``inputs``
    and ``outputs`` given directly, so the learner can read and edit it before training."""
    if dataset is not None or csv is not None:
        if dataset is not None and csv is not None:
            raise _error("give dataset or csv, not both", "dataset")
        ds = parse_csv(csv, target, task=task, limits=limits) if csv is not None else \
            load(dataset, data_dir=data_dir, limits=limits)
        inputs = ds.X.shape[1]
        outputs = len(ds.classes) if ds.task == "classification" else ds.y.shape[1]
        loss = "softmax_cross_entropy" if ds.task == "classification" else "mse"
    elif inputs is None or outputs is None:
        raise _error("give dataset, csv, or inputs and outputs (the sizes of the first and last layers)", "inputs")
    for name, v in (("inputs", inputs), ("outputs", outputs)):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= limits.max_elements:
            raise _error(f"{name} must be a whole number >= 1", name)
    loss = loss or "softmax_cross_entropy"
    program = network_program(inputs, _hidden(hidden), outputs, activation=activation, loss=loss,
                              weight_decay=weight_decay, seed=seed)
    sizes = [inputs, *_hidden(hidden), outputs]
    shapes = {}
    for i in range(len(sizes) - 1):
        shapes[f"W{i + 1}"] = [sizes[i], sizes[i + 1]]
        shapes[f"b{i + 1}"] = [sizes[i + 1]]
    return {"program": program, "inputs": inputs, "outputs": outputs, "loss": loss, "parameters": shapes}


@dataclass
class Run:
    program: str
    data: Data
    options: Options
    dataset: dict[str, Any]


def _hidden(hidden: Any) -> list[int]:
    sizes = [hidden] if isinstance(hidden, int) and not isinstance(hidden, bool) else hidden
    if not isinstance(sizes, (list, tuple)) or not sizes or len(sizes) > 8 \
            or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in sizes):
        raise _error("hidden must be a whole number >= 1, or a list of up to 8 of them (one per hidden layer)",
                     "hidden")
    return list(sizes)


def prepare(*, dataset: str | None = None, csv: str | None = None, target: str | None = None, task: str = "auto",
            program: str | None = None, hidden: Any = 128, activation: str = "relu", epochs: int = 10,
            batch_size: int = 32, lr: float = 0.1, optimizer: str = "sgd", weight_decay: float | None = None,
            seed: int = 0, data_seed: int = 0, test_fraction: float = 0.2, standardize: bool | None = None,
            samples: int | None = None, noise: float | None = None, parameters: list[str] | None = None,
            full_parameters: bool = False, data_dir: str | os.PathLike | None = None,
            limits: Limits = DEFAULT_LIMITS) -> Run:
    """The data, the program and the options of a run. Either ``dataset`` or ``csv`` (a CSV text);
    either ``hidden`` (and ``activation``, ``weight_decay``: the program is written by
    ``network_program``) or ``program`` (the learner's own, which holds its own weight decay)."""
    if (dataset is None) == (csv is None):
        raise _error("give either dataset (one of " + ", ".join(NAMES) + ") or csv (the text of a CSV file)",
                     "dataset")
    for name, v in (("seed", seed), ("data_seed", data_seed)):
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**32:
            raise _error(f"{name} must be a whole number from 0 to 2^32 - 1", name)
    if csv is not None:
        ds = parse_csv(csv, target, task=task, limits=limits, standardize=True)
    else:
        if target is not None:
            raise _error("target names a column of a CSV; the built-in datasets have theirs", "target")
        for name, v in (("samples", samples), ("noise", noise)):
            if v is not None and dataset not in PLANAR:
                raise _error(f"{name} applies to the 2-D sets ({', '.join(PLANAR)}), not to {str(dataset)[:64]}",
                             name)
        ds = load(dataset, data_seed=data_seed, samples=samples, noise=noise, data_dir=data_dir, limits=limits)
    data = split(ds, test_fraction=test_fraction, data_seed=data_seed, standardize=standardize)
    if program is None:
        outputs = len(ds.classes) if ds.task == "classification" else ds.y.shape[1]
        loss = "softmax_cross_entropy" if ds.task == "classification" else "mse"
        program = network_program(ds.X.shape[1], _hidden(hidden), outputs, activation=activation, loss=loss,
                                  weight_decay=0.0 if weight_decay is None else weight_decay, seed=seed)
    elif weight_decay is not None:
        raise _error("with your own program, weight decay is part of it (L = data_loss + 0.5 * lam * sum(W1^2)); "
                     "weight_decay applies to the program written from hidden", "weight_decay")
    elif not isinstance(program, str):
        raise _error("program must be text", "program")
    options = Options(epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, seed=seed,
                      parameters=tuple(parameters) if parameters is not None else None,
                      full_parameters=bool(full_parameters))
    info = ds.info()
    info.update({"train_samples": len(data.X_train), "test_samples": len(data.X_test),
                 "standardized": bool(ds.standardize if standardize is None else standardize)})
    return Run(program, data, options, info)


SHOWN_POINTS = 300  # training points of a 2-D set in the start event (the page draws them over the boundary)
SHOWN_TEST_POINTS = 100


def shown_samples(run: Run) -> dict[str, Any] | None:
    """What the page draws beside a run, as the network sees it (after scaling and standardizing):
    the first ``SHOWN`` test images of an image set, whose predicted classes the epoch events carry
    (``predicted``); or some training and test points of 2-D classification data, drawn over the
    decision boundary. None for other data."""
    d, info = run.data, run.dataset
    if d.task != "classification":
        return None
    shape = info.get("image_shape")
    if shape:
        X = d.X_test[:SHOWN] * d.x_scale
        return {"kind": "images", "shape": list(shape), "images": np.round(X, 3).tolist(),
                "labels": d.y_test[:SHOWN].astype(int).tolist()}
    if d.X_train.shape[1] == 2:
        return {"kind": "points",
                "points": np.round(d.X_train[:SHOWN_POINTS] * d.x_scale, 4).tolist(),
                "labels": d.y_train[:SHOWN_POINTS].astype(int).tolist(),
                "test_points": np.round(d.X_test[:SHOWN_TEST_POINTS] * d.x_scale, 4).tolist(),
                "test_labels": d.y_test[:SHOWN_TEST_POINTS].astype(int).tolist()}
    return None
