"""Compiling and binding values (app/engine/program.py), at the edges the mutation run found untested:
the compile cache's default bound of 64 programs, the garbage collector switched back on after a compile,
the unknown-name error's truncation (20 hints, 100 names, 64 characters each), values at the edges of
their checks, and every node's line and column in non-ASCII text."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from app.engine import EngineError, Limits, compile_program, evaluate
from app.engine.program import CompileCache, bind, check_values, quiet_gc


def test_the_cache_keeps_64_programs_by_default():
    cache = CompileCache()
    first = cache.get("f = x + 0", Limits())
    for n in range(1, 64):
        cache.get(f"f = x + {n}", Limits())
    assert cache.stats()["entries"] == 64
    assert cache.get("f = x + 0", Limits()) is first  # still there (now the most recent)
    cache.get("f = x + 64", Limits())
    assert cache.stats()["entries"] == 64
    assert cache.get("f = x + 1", Limits()) is not None and cache.stats()["entries"] == 64
    cache.clear()
    assert cache.stats() == {"entries": 0, "bytes": 0, "nodes": 0}


def test_the_cache_counts_nodes_and_forgets_the_oldest_when_shrunk():
    cache = CompileCache()
    a = cache.get("f = x * y", Limits())  # 3 nodes
    cache.get("f = x * y + z", Limits())  # 5 nodes
    assert cache.stats()["nodes"] == 8 and cache.stats()["entries"] == 2
    cache.configure(max_entries=1)
    assert cache.stats()["entries"] == 1 and cache.stats()["nodes"] == 5
    assert cache.get("f = x * y", Limits()) is not a


def test_evicted_programs_are_freed_by_release_or_the_next_get():
    """Eviction sets a program aside (freeing a large one takes milliseconds): an engine process frees it
    after its answer is sent (CompileCache.release, app/api/pool.py), any other caller at the next get."""
    import weakref

    cache = CompileCache(max_entries=1)
    old = weakref.ref(cache.get("f = x * 1", Limits()))
    cache.get("f = x * 2", Limits())  # evicts the first
    assert cache.stats()["entries"] == 1 and old() is not None  # set aside, not freed yet
    cache.release()
    assert old() is None
    old = weakref.ref(cache.get("f = x * 3", Limits()))  # evicts "f = x * 2"
    cache.get("f = x * 4", Limits())  # frees "f = x * 2", sets "f = x * 3" aside
    assert old() is not None
    cache.get("f = x * 4", Limits())  # a hit frees what waits too
    assert old() is None
    cache.get("f = x * 5", Limits())
    cache.clear()
    assert cache.stats() == {"entries": 0, "bytes": 0, "nodes": 0} and not cache._evicted


@pytest.mark.parametrize("was", [True, False])
def test_compiling_leaves_the_garbage_collector_as_it_was(was):
    enabled = gc.isenabled()
    try:
        gc.enable() if was else gc.disable()
        CompileCache().get("q = x + y; f = q * z", Limits())
        assert gc.isenabled() is was
        with quiet_gc():
            assert not gc.isenabled()
        assert gc.isenabled() is was
    finally:
        gc.enable() if enabled else gc.disable()


def test_unknown_names_are_listed_with_hints_then_counted():
    g = compile_program("f = alpha * beta").graph
    names = [f"z{i:02d}" for i in range(23)]
    with pytest.raises(EngineError) as e:
        bind(g, {n: 1.0 for n in names})
    msg = e.value.msg
    assert e.value.type == "unknown_name" and e.value.ctx["names"] == names
    assert "'z19'" in msg and "'z20'" not in msg and " and 3 more;" in msg
    assert msg.endswith("its inputs are: alpha, beta")
    with pytest.raises(EngineError) as e:  # 21: one more
        bind(g, {n: 1.0 for n in names[:21]})
    assert " and 1 more;" in e.value.msg
    with pytest.raises(EngineError) as e:  # exactly 20: no "more"
        bind(g, {n: 1.0 for n in names[:20]})
    assert "more" not in e.value.msg and "'z19'" in e.value.msg
    with pytest.raises(EngineError) as e:
        bind(g, {"alpah": 1.0, "b" * 70: 2.0})
    assert "'alpah' (did you mean 'alpha'?)" in e.value.msg
    assert repr("b" * 64) in e.value.msg and "b" * 65 not in e.value.msg
    assert e.value.ctx["names"] == ["alpah", "b" * 64]
    with pytest.raises(EngineError) as e:  # the ctx lists at most 100 names
        bind(g, {f"n{i:03d}": 1.0 for i in range(102)})
    assert e.value.ctx["names"] == [f"n{i:03d}" for i in range(100)] and " and 82 more;" in e.value.msg


def test_missing_values_are_named():
    with pytest.raises(EngineError) as e:
        bind(compile_program("a = 1\nf = a * b + c").graph, {})
    assert e.value.type == "missing_value" and e.value.ctx["names"] == ["b", "c"]
    assert e.value.msg.startswith("no value for b, c: ")


def test_values_at_the_edges_of_their_checks():
    big = 2**53
    assert check_values({"x": big, "y": -big, "z": big + 2, "w": 10**400 // 10**390}, Limits()) == {
        "x": float(big), "y": -float(big), "z": float(big + 2), "w": 1e10}
    for bad in (10**400, -(10**400), float("nan"), True, "1", None):
        with pytest.raises(EngineError) as e:
            check_values({"x": bad}, Limits())
        assert e.value.type == "invalid_value" and e.value.ctx == {"name": "x"}
    for bad in ("1", [1, "2"]):  # a long name is cut to 64 characters in the error
        with pytest.raises(EngineError) as e:
            check_values({"v" * 70: bad}, Limits())
        assert e.value.ctx == {"name": "v" * 64} and repr("v" * 64) in e.value.msg
    assert check_values(None, Limits()) == {}
    with pytest.raises(EngineError):
        check_values([1.0], Limits())
    with pytest.raises(EngineError) as e:
        check_values({f"v{i}": 1.0 for i in range(4)}, Limits(max_inputs=3))
    assert e.value.ctx["limit"] == "max_inputs"
    assert check_values({f"v{i}": 1.0 for i in range(3)}, Limits(max_inputs=3)) == {f"v{i}": 1.0 for i in range(3)}


def test_tensor_values_at_the_edges_of_their_checks():
    lim = Limits(max_rank=2, max_elements=6)
    ok = check_values({"a": [[1, 2, 3], [4, 5, 6]], "b": [7], "c": np.arange(6, dtype=np.int32)}, lim)
    assert ok["a"].tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]] and ok["b"].tolist() == [7.0]
    assert ok["c"].dtype == np.float64
    with pytest.raises(EngineError) as e:
        check_values({"a": [[[1.0]]]}, lim)
    assert e.value.ctx["limit"] == "max_rank" and "nests too deeply" in e.value.msg
    with pytest.raises(EngineError) as e:
        check_values({"a": [[1, 2, 3], [4, 5, 6], [7]]}, lim)
    assert e.value.ctx["limit"] == "max_elements"
    with pytest.raises(EngineError) as e:
        check_values({"a": [[]]}, lim)
    assert "is empty" in e.value.msg
    with pytest.raises(EngineError) as e:
        check_values({"a": []}, lim)
    assert "is empty" in e.value.msg
    for bad, words in (([[1, 2], [3]], "rectangular"), ([1, True], "numbers only"), ([[1, 2], 3], "rectangular"),
                       ([1, float("inf")], "finite"), (np.array(["a"]), "must hold numbers")):
        with pytest.raises(EngineError) as e:
            check_values({"a": bad}, lim)
        assert e.value.type == "invalid_value" and words in e.value.msg, bad


def test_every_node_has_its_line_and_column_in_non_ascii_text():
    text = "价格 = 2\n\nx = 3 # ü\ny = 价格 * x"
    doc = evaluate(text)
    where = {(n["label"], n["op"]): (n["span"]["line"], n["span"]["column"]) for n in doc["nodes"]}
    assert where[("价格", "input")] == (1, 1) and where[("x", "input")] == (3, 1) and where[("y", "mul")] == (4, 5)
    ascii_doc = evaluate("a = 2\n\nb = 3\nc = a * b")
    assert [(n["span"]["line"], n["span"]["column"]) for n in ascii_doc["nodes"]] == [(1, 1), (3, 1), (4, 5)]


def test_values_may_hold_numpy_scalars():
    """A caller with numpy at hand passes np.float32 and np.int64 elements: they are numbers."""
    assert evaluate("f = sum(w)", {"w": [np.float32(1.5), np.int64(2)]})["value"] == 3.5
    assert evaluate("f = sum(w)", {"w": [[np.float64(1.0)], [np.int32(2)]]})["value"] == 3.0
