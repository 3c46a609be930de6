"""Threads of the compiled kernels (gbfocal._parallel).

Rows are split into chunks computed on separate threads; every row is computed on
its own, so any thread count must give the single-threaded result bit for bit.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import gbfocal
from gbfocal import _parallel

pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _restore_threads():
    yield
    gbfocal.set_num_threads(None)


@pytest.fixture
def small_chunks(monkeypatch):
    """Split even small inputs, so that chunk edges fall inside every test array."""
    monkeypatch.setattr(_parallel, "_MIN_VALUES_PER_THREAD", 100)


def _binary_case(rng, n):
    y = rng.integers(0, 2, n)
    z = rng.normal(0.0, 4.0, n)
    return y, z, rng.uniform(0.1, 3.0, n)


def _multiclass_case(rng, n, k):
    y = rng.integers(0, k, n)
    z = rng.normal(0.0, 3.0, (n, k))
    return y, z, rng.uniform(0.1, 3.0, n)


def _all_outputs(y, z, w, multiclass):
    alpha = np.linspace(0.2, 0.8, z.shape[1]) if multiclass else 0.3
    if multiclass:
        loss, grad_hess = gbfocal.multiclass_focal_loss, gbfocal.multiclass_focal_grad_hess
    else:
        loss, grad_hess = gbfocal.binary_focal_loss, gbfocal.binary_focal_grad_hess
    out = []
    for gamma in (2.0, 1.5):
        for weight in (None, w):
            out.append(loss(y, z, alpha=alpha, gamma=gamma, sample_weight=weight))
            for hessian in ("positive", "exact"):
                out.extend(grad_hess(y, z, alpha=alpha, gamma=gamma, sample_weight=weight,
                                     hessian=hessian))
    return out


@pytest.mark.parametrize("n_threads", [2, 3, 7])
@pytest.mark.parametrize("multiclass", [False, True])
def test_threads_reproduce_one_thread_bit_for_bit(small_chunks, n_threads, multiclass):
    rng = np.random.default_rng(n_threads)
    # 2011 rows: chunk edges at multiples of 64 rows, a short last chunk
    case = _multiclass_case(rng, 2011, 5) if multiclass else _binary_case(rng, 2011)
    gbfocal.set_num_threads(1)
    single = _all_outputs(*case, multiclass)
    gbfocal.set_num_threads(n_threads)
    assert len(_parallel.row_chunks(2011, 5 if multiclass else 1, n_threads)) == n_threads
    threaded = _all_outputs(*case, multiclass)
    for a, b in zip(single, threaded, strict=True):
        np.testing.assert_array_equal(a, b)


def test_threads_at_default_sizes_match_numpy(monkeypatch):
    """Large enough for the real chunking; the NumPy reference at 1e-12."""
    rng = np.random.default_rng(1)
    y, z, w = _binary_case(rng, 150_000)
    gbfocal.set_num_threads(3)
    assert len(_parallel.row_chunks(150_000, 1, 3)) == 3
    got = gbfocal.binary_focal_grad_hess(y, z, alpha=0.3, gamma=2.0, sample_weight=w)
    monkeypatch.setenv("GBFOCAL_DISABLE_NUMBA", "1")
    want = gbfocal.binary_focal_grad_hess(y, z, alpha=0.3, gamma=2.0, sample_weight=w)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("n_rows", [0, 1, 63, 64, 65, 1000, 100_003])
@pytest.mark.parametrize("n_threads", [1, 2, 5])
def test_row_chunks_cover_the_rows_once(small_chunks, n_rows, n_threads):
    chunks = _parallel.row_chunks(n_rows, 3, n_threads)
    assert 1 <= len(chunks) <= n_threads
    assert chunks[0][0] == 0 and chunks[-1][1] == n_rows
    for (_, hi), (lo, _) in zip(chunks, chunks[1:], strict=False):
        assert hi == lo and lo % _parallel._ALIGN == 0


def test_small_inputs_stay_on_the_calling_thread():
    assert _parallel.row_chunks(30_000, 1, 8) == [(0, 30_000)]
    assert len(_parallel.row_chunks(200_000, 7, 8)) == 8


def test_concurrent_callers_get_their_own_results(small_chunks):
    """Several Python threads (GridSearchCV with a threading backend) share the pool."""
    gbfocal.set_num_threads(3)
    cases = [_binary_case(np.random.default_rng(seed), 5000) for seed in range(6)]
    want = [gbfocal.binary_focal_grad_hess(y, z, sample_weight=w) for y, z, w in cases]
    got: list = [None] * len(cases)

    def work(i):
        for _ in range(5):
            y, z, w = cases[i]
            got[i] = gbfocal.binary_focal_grad_hess(y, z, sample_weight=w)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(cases))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for (g0, h0), (g1, h1) in zip(want, got, strict=True):
        np.testing.assert_array_equal(g0, g1)
        np.testing.assert_array_equal(h0, h1)


def test_resizing_while_other_threads_submit_never_fails(small_chunks):
    """A caller that grows the pool never shuts it down under another caller's submit.

    The pool is replaced when a call needs more threads than it has. Here a "resizer"
    marks the pool too small over and over (as a first call with a larger thread count
    does), while eight threads with changing thread counts call the kernels; every call
    must succeed and give the one-thread result bit for bit. Before the fix a call died
    with "cannot schedule new futures after shutdown" within the first few dozen calls.
    """
    rng = np.random.default_rng(11)
    binary, multiclass = _binary_case(rng, 3000), _multiclass_case(rng, 1000, 3)
    gbfocal.set_num_threads(1)
    want = [gbfocal.binary_focal_grad_hess(*binary[:2], sample_weight=binary[2]),
            gbfocal.multiclass_focal_grad_hess(*multiclass[:2], sample_weight=multiclass[2])]
    done = threading.Event()
    errors: list[BaseException] = []

    def call(seed):
        picks = np.random.default_rng(seed)
        try:
            for i in range(150):
                gbfocal.set_num_threads(int(picks.integers(2, 9)))  # shared: races too
                if i % 2:
                    got = gbfocal.multiclass_focal_grad_hess(*multiclass[:2],
                                                             sample_weight=multiclass[2])
                else:
                    got = gbfocal.binary_focal_grad_hess(*binary[:2], sample_weight=binary[2])
                for a, b in zip(got, want[i % 2], strict=True):
                    np.testing.assert_array_equal(a, b)
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    def resize():
        while not done.is_set():
            with _parallel._lock:
                _parallel._pool_size = 0  # the next call replaces the pool
            time.sleep(0)  # releases the GIL: callers run between resizes

    callers = [threading.Thread(target=call, args=(seed,)) for seed in range(8)]
    resizer = threading.Thread(target=resize)
    resizer.start()
    for thread in callers:
        thread.start()
    for thread in callers:
        thread.join()
    done.set()
    resizer.join()
    assert not errors, f"{len(errors)} of 8 threads failed, first: {errors[0]!r}"


def _child(queue):
    y, z, w = _binary_case(np.random.default_rng(0), 5000)
    queue.put(float(gbfocal.binary_focal_grad_hess(y, z, sample_weight=w)[0].sum()))


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")  # Python >= 3.12
@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")
def test_a_forked_child_starts_its_own_pool(small_chunks):
    gbfocal.set_num_threads(2)
    y, z, w = _binary_case(np.random.default_rng(0), 5000)
    want = float(gbfocal.binary_focal_grad_hess(y, z, sample_weight=w)[0].sum())
    assert _parallel._pool is not None  # the parent's pool has threads now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(queue,))
    child.start()
    child.join(timeout=120)
    assert child.exitcode == 0, "the forked child hung or failed"
    assert queue.get(timeout=5) == want


def test_set_num_threads_validates():
    gbfocal.set_num_threads(3)
    assert gbfocal.get_num_threads() == 3
    gbfocal.set_num_threads(np.int64(2))
    assert gbfocal.get_num_threads() == 2
    for bad in (0, -1):
        with pytest.raises(ValueError, match="n_threads"):
            gbfocal.set_num_threads(bad)
    for bad in (2.0, "2", True):
        with pytest.raises(TypeError, match="n_threads"):
            gbfocal.set_num_threads(bad)


def test_environment_variable_sets_the_default(monkeypatch):
    monkeypatch.setenv("GBFOCAL_NUM_THREADS", "3")
    assert gbfocal.get_num_threads() == 3
    gbfocal.set_num_threads(1)  # an explicit setting wins
    assert gbfocal.get_num_threads() == 1
    gbfocal.set_num_threads(None)
    for bad in ("0", "two", "1.5"):
        monkeypatch.setenv("GBFOCAL_NUM_THREADS", bad)
        with pytest.raises(ValueError, match="GBFOCAL_NUM_THREADS"):
            gbfocal.get_num_threads()
    monkeypatch.delenv("GBFOCAL_NUM_THREADS")
    assert gbfocal.get_num_threads() == _parallel.available_cpus()


_IMPORT_AND_CALL = """
import warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import gbfocal
print("warnings:", [(w.category.__name__, str(w.message)) for w in caught])
for call in (gbfocal.get_num_threads,
             lambda: gbfocal.binary_focal_grad_hess([0, 1], [0.5, -0.5])):
    try:
        call()
    except ValueError as exc:
        print("ValueError:", exc)
    else:
        print("no error")
"""


@pytest.mark.parametrize("bad", ["abc", "0", "-3"])
def test_bad_environment_variable_is_reported_at_import_and_raised_on_use(bad):
    """A fresh interpreter: the warning comes at ``import gbfocal``, before any data.

    The import itself still succeeds (the variable matters only to the compiled
    kernels); ``get_num_threads()`` and every kernel call raise, naming the variable
    and the bad value, so the value never silently falls back to a default.
    """
    # the gbfocal under test, wherever pytest runs from
    root = os.path.dirname(os.path.dirname(os.path.abspath(gbfocal.__file__)))
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "GBFOCAL_NUM_THREADS": bad, "PYTHONPATH": path}
    env.pop("GBFOCAL_DISABLE_NUMBA", None)
    run = subprocess.run([sys.executable, "-c", _IMPORT_AND_CALL], env=env, text=True,
                         capture_output=True, timeout=300, check=True)
    lines = run.stdout.splitlines()
    named = f"GBFOCAL_NUM_THREADS must be a positive integer, got {bad!r}"
    assert lines[0].startswith("warnings: [('RuntimeWarning', ") and named in lines[0]
    assert lines[1:] == [f"ValueError: {named}"] * 2, run.stdout
    # -W error turns the warning into an import error, for those who want one
    strict = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c",
                             "import gbfocal"], env=env, text=True, capture_output=True,
                            timeout=300)
    assert strict.returncode != 0 and named in strict.stderr
