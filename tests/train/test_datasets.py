"""Datasets: the vendored digits, the seeded 2-D sets, MNIST from IDX files, and the user's CSV."""

from __future__ import annotations

import gzip
import hashlib
import struct

import numpy as np
import pytest

from app import datasets
from app.engine import EngineError, Limits

DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"  # sklearn 1.9.1's digits.csv.gz


def test_digits_is_the_vendored_uci_set():
    assert hashlib.sha256(datasets.DIGITS_FILE.read_bytes()).hexdigest() == DIGITS_SHA256
    ds = datasets.load("digits")
    assert ds.X.shape == (1797, 64) and ds.y.shape == (1797,)
    # the class counts the UCI description gives, and pixels 0..16 scaled to [0, 1]
    assert np.bincount(ds.y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert ds.X.min() == 0 and ds.X.max() == 1 and np.all((ds.X * 16) == np.round(ds.X * 16))
    assert ds.image_shape == (8, 8) and ds.classes == [str(d) for d in range(10)]
    # the first image is a zero (the file's first row)
    assert ds.y[0] == 0 and (ds.X[0] * 16)[:8].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]
    licence = (datasets.DATASETS_DIR / "README.md").read_text()
    assert "CC BY 4.0" in licence and "Alpaydin" in licence


def test_digits_equals_scikit_learns_copy():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")  # only where scikit-learn happens to be installed
    ref = sklearn_datasets.load_digits()
    ds = datasets.load("digits")
    assert np.array_equal(ds.X * 16, ref.data) and np.array_equal(ds.y, ref.target)


@pytest.mark.parametrize("name, classes", [("moons", 2), ("circles", 2), ("spirals", 3), ("xor", 2)])
def test_planar_sets_are_seeded(name, classes):
    a = datasets.load(name, data_seed=3)
    b = datasets.load(name, data_seed=3)
    c = datasets.load(name, data_seed=4)
    assert a.X.shape == (400, 2) and np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)
    counts = np.bincount(a.y)
    assert len(counts) == classes and counts.min() >= 400 // classes - 60
    d = datasets.load(name, samples=90, noise=0.0)
    assert d.X.shape == (90, 2)


def test_planar_geometry():
    moons = datasets.load("moons", noise=0.0)
    upper = moons.X[moons.y == 0]
    assert np.allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)  # the upper moon lies on the unit circle
    circles = datasets.load("circles", noise=0.0)
    r = np.hypot(circles.X[:, 0], circles.X[:, 1])
    assert np.allclose(r[circles.y == 0], 1.0) and np.allclose(r[circles.y == 1], 0.5)
    xor = datasets.load("xor", noise=0.0)
    assert np.array_equal(xor.y, ((xor.X[:, 0] > 0) != (xor.X[:, 1] > 0)).astype(int))


def test_planar_bad_options():
    with pytest.raises(EngineError, match="samples must be"):
        datasets.load("moons", samples=2)
    with pytest.raises(EngineError, match="max_train_samples"):
        datasets.load("moons", samples=10_000, limits=Limits(max_train_samples=1_000))
    with pytest.raises(EngineError, match="noise"):
        datasets.load("moons", noise=-1.0)
    with pytest.raises(EngineError, match="did you mean 'moons'"):
        datasets.load("moon")


# --- MNIST from IDX files the test writes --------------------------------------------------------------

def write_idx(path, array: np.ndarray, compress: bool = True, magic: bytes | None = None) -> None:
    header = magic or bytes([0, 0, 0x08, array.ndim])
    raw = header + struct.pack(">" + "I" * array.ndim, *array.shape) + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)


def write_mnist(d, n_train=30, n_test=10, size=28, compress=True, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, size, size)),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, size, size)),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test)}
    for name, a in arrays.items():
        write_idx(d / name, a, compress)
    return arrays


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_reads_idx_files(tmp_path, compress):
    arrays = write_mnist(tmp_path, compress=compress)
    ds = datasets.load("mnist", data_dir=tmp_path)
    assert ds.X.shape == (30, 784) and ds.X.dtype == np.uint8 and ds.x_scale == 1 / 255
    assert np.array_equal(ds.X, arrays["train-images-idx3-ubyte"].reshape(30, -1))
    assert np.array_equal(ds.y, arrays["train-labels-idx1-ubyte"])
    assert np.array_equal(ds.test[0], arrays["t10k-images-idx3-ubyte"].reshape(10, -1))
    data = datasets.split(ds)
    assert len(data.X_train) == 30 and len(data.X_test) == 10  # the files' own split


def test_mnist_is_listed_only_when_present(tmp_path):
    names = [d["name"] for d in datasets.catalogue(tmp_path)]
    assert "mnist" not in names and names == ["digits", "moons", "circles", "spirals", "xor"]
    assert "mnist" not in [d["name"] for d in datasets.catalogue(None)]
    arrays = write_mnist(tmp_path, n_train=12, n_test=9)
    (item,) = [d for d in datasets.catalogue(tmp_path) if d["name"] == "mnist"]
    assert item["samples"] == 21 and item["image_shape"] == [28, 28]
    first = np.array(item["preview"]["images"][0])
    assert np.allclose(first, np.round(arrays["t10k-images-idx3-ubyte"][0] / 255, 4))
    assert item["preview"]["labels"] == [str(v) for v in arrays["t10k-labels-idx1-ubyte"][:8]]
    with pytest.raises(EngineError, match="MNIST is not available"):
        datasets.load("mnist", data_dir=tmp_path / "nothing-here")


def test_mnist_bad_files(tmp_path):
    write_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(30), magic=b"\0\0\x0d\x01")  # floats, not bytes
    with pytest.raises(EngineError, match="not an IDX file of unsigned bytes"):
        datasets.load("mnist", data_dir=tmp_path)
    assert "mnist" not in [d["name"] for d in datasets.catalogue(tmp_path)]  # broken files are not offered
    write_mnist(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(EngineError, match="truncated"):
        datasets.load("mnist", data_dir=tmp_path)
    write_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.full(10, 12))
    with pytest.raises(EngineError, match="labels are 0 to 9"):
        datasets.load("mnist", data_dir=tmp_path)
    write_mnist(tmp_path)
    with pytest.raises(EngineError, match="max_train_samples"):
        datasets.load("mnist", data_dir=tmp_path, limits=Limits(max_train_samples=20))


def test_mnist_header_claiming_billions_reads_nothing(tmp_path):
    write_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">III", 4_000_000_000, 28, 28)))
    with pytest.raises(EngineError, match="max_train_samples"):
        datasets.load("mnist", data_dir=tmp_path)


# --- CSV ----------------------------------------------------------------------------------------------

def csv_error(text, **kw) -> EngineError:
    with pytest.raises(EngineError) as e:
        datasets.parse_csv(text, **kw)
    return e.value


def test_csv_classification_and_regression():
    ds = datasets.parse_csv("a,b,kind\n1,2,cat\n3,4,dog\n\n5,6,cat\n")
    assert ds.task == "classification" and ds.classes == ["cat", "dog"] and ds.y.tolist() == [0, 1, 0]
    assert ds.X.tolist() == [[1, 2], [3, 4], [5, 6]] and ds.feature_names == ["a", "b"] and ds.target == "kind"
    ds = datasets.parse_csv("label,x\n1,0.5\n0,1.5\n2,2.5\n", target="label")
    assert ds.task == "classification" and ds.classes == ["0", "1", "2"] and ds.y.tolist() == [1, 0, 2]
    assert ds.X.tolist() == [[0.5], [1.5], [2.5]]
    ds = datasets.parse_csv("x,y\n1,0.5\n2,1.25\n3,2\n")
    assert ds.task == "regression" and ds.y.tolist() == [[0.5], [1.25], [2.0]]
    ds = datasets.parse_csv("x,y\n1,1\n2,2\n3,3\n", task="regression")
    assert ds.task == "regression"
    ds = datasets.parse_csv("x;y\n1;1.5\n2;2.5\n")  # semicolons
    assert ds.X.tolist() == [[1], [2]]


def test_csv_standardization_uses_the_training_split():
    rows = "\n".join(f"{i},{10 * i + 3},{i % 2}" for i in range(50))
    ds = datasets.parse_csv("a,b,c\n" + rows)
    data = datasets.split(ds, test_fraction=0.2)
    assert np.allclose(data.X_train.mean(axis=0), 0) and np.allclose(data.X_train.std(axis=0), 1)
    assert len(data.X_train) == 40 and len(data.X_test) == 10
    raw = datasets.split(ds, test_fraction=0.2, standardize=False)
    mu, sd = raw.X_train.mean(axis=0), raw.X_train.std(axis=0)
    assert np.allclose(data.X_test, (raw.X_test - mu) / sd)


@pytest.mark.parametrize("text, row, column, words", [
    ("a,b,c\n1,2,0\n3,4\n", 3, 3, "row 3 has 2 fields but the header has 3 columns"),
    ("a,b,c\n1,2,0\n3,4,1,9\n", 3, 4, "row 3 has 4 fields"),
    ("a,b,c\n1,2,0\n1,two,1\n", 3, 2, "row 3, column 2 ('b'): 'two' is not a number"),
    ("a,b,c\n1,2,0\nNaN,1,1\n", 3, 1, "row 3, column 1 ('a'): 'NaN' is not a finite number"),
    ("a,b,c\n1,2,0\n1,-Infinity,1\n", 3, 2, "'-Infinity' is not a finite number"),
    ("a,b,c\n1,inf,0\n", 2, 2, "'inf' is not a finite number"),
    ("a,b,c\n1,,0\n", 2, 2, "row 2, column 2 ('b') is empty"),
    ("a,b,y\n1,2,0.5\n1,2,nan\n", 3, 3, "row 3, column 3 ('y'): 'nan' is not a finite number"),
])
def test_csv_cell_errors_name_row_and_column(text, row, column, words):
    e = csv_error(text)
    assert words in e.msg
    assert e.ctx["row"] == row and e.ctx["column"] == column and e.ctx["name"] == "csv"


def test_csv_file_errors():
    for text in ("", "   \n\n", "\ufeff"):
        assert "the CSV is empty" in csv_error(text).msg
    assert "header row but no rows" in csv_error("a,b\n").msg
    e = csv_error("a,b,label\n1,2,0\n", target="lable")
    assert e.ctx["name"] == "target" and "'lable' is not in the header (did you mean 'label'?)" in e.msg
    assert "its columns are: a, b, label" in e.msg
    assert "at least two columns" in csv_error("a\n1\n2\n").msg
    assert "names column 'a' twice" in csv_error("a,a,b\n1,2,3\n").msg
    assert "only one class" in csv_error("a,b\n1,x\n2,x\n").msg
    assert "distinct values" in csv_error("a,b\n" + "".join(f"{i},k{i}\n" for i in range(150))).msg
    e = csv_error("a,b\n1,x\n2,y\n", task="regression")
    assert "row 2, column 2 ('b'): 'x' is not a number" in e.msg and e.ctx["row"] == 2


def test_csv_limits_are_checked_first():
    e = csv_error("a,b\n" + "1,2\n" * 100, limits=Limits(max_csv_bytes=50))
    assert e.ctx["limit"] == "max_csv_bytes"
    e = csv_error("a,b\n" + "1,2\n" * 100, limits=Limits(max_csv_rows=10))
    assert e.ctx["limit"] == "max_csv_rows"
    e = csv_error(",".join(f"c{i}" for i in range(30)) + "\n", limits=Limits(max_csv_columns=20))
    assert e.ctx["limit"] == "max_csv_columns"
