"""Fork after fit: what a forked child may do, and what still hangs.

The boosting libraries' OpenMP (libgomp) is not fork-safe: after the parent ran a parallel
region with more than one thread, the child's first region of more than one thread waits
forever for the parent's pool threads, which the child does not have. Before the fix every
gbfocal call in such a child hung (predict, fit, pickle, unpickle, save_model, XGBoost's
feature importances; n_jobs=None or 2, both backends). gbfocal now caps the libraries at one
thread in a forked child.

Every case runs in a subprocess (its own session, killed as a group on timeout) that fits
in its own process with two threads and forks one child per case, killing a child that
outlives its timeout; nothing here can hang the test run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("lightgbm")
pytest.importorskip("xgboost")
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="fork + libgomp: measured on Linux"
)

# Fits in this process with two threads (the parent's OpenMP pool), then forks one child
# per case. argv: backend, "gbfocal" or "library" (the library alone, gbfocal not
# imported), then "case=timeout_seconds" pairs. Prints {case: "ok" | "hung" | "failed (code)"}.
DRIVER = textwrap.dedent(r'''
    import json, os, pickle, signal, sys, tempfile, threading, time, traceback
    import numpy as np

    backend, mode, *cases = sys.argv[1:]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 10))
    y = (X[:, 0] + rng.normal(size=3000) > 0).astype(int)
    Y = np.column_stack([y, 1 - y])

    if mode == "gbfocal":
        import gbfocal
        from gbfocal import _base, _parallel

        Cls = gbfocal.FocalLGBMClassifier if backend == "lightgbm" else gbfocal.FocalXGBClassifier
        est = Cls(n_estimators=5, n_jobs=2).fit(X, y)  # two threads: the parent's pool
        est.predict_proba(X)
        blob = pickle.dumps(est)
        booster = est.booster_
    else:  # the library alone, as its users call it
        if backend == "lightgbm":
            import lightgbm as lgb
            booster = lgb.train({"objective": "binary", "num_threads": 2, "verbosity": -1},
                                lgb.Dataset(X, y.astype(float)), 5)
        else:
            import xgboost as xgb
            booster = xgb.train({"objective": "binary:logistic", "nthread": 2},
                                xgb.DMatrix(X, y, nthread=2), 5)

    def library_predict(threads):
        if backend == "lightgbm":
            return booster.predict(X, num_threads=threads)
        import xgboost as xgb
        return booster.predict(xgb.DMatrix(X, nthread=threads))

    def in_new_thread(work):
        def run():
            try:
                work()
            except BaseException:
                traceback.print_exc()
                os._exit(1)
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()

    def multi():
        for Multi in (gbfocal.FocalMultiLabelClassifier, gbfocal.FocalMultiOutputClassifier):
            model = Multi(backend=backend, n_estimators=3, n_jobs=2).fit(X, Y)
            pickle.loads(pickle.dumps(model)).predict_proba(X)

    def arm():
        # the hang verdict, given by the child itself (exit code 42) so that slow set-up
        # (an import on a busy machine) is not taken for a hang
        timer = threading.Timer(float(child_timeout), os._exit, args=(42,))
        timer.daemon = True
        timer.start()

    def gbfocal_after_fork():
        import gbfocal

        arm()  # after the import
        Cls = (gbfocal.FocalLGBMClassifier if backend == "lightgbm"
               else gbfocal.FocalXGBClassifier)
        Cls(n_estimators=5, n_jobs=2).fit(X, y)

    def thread_counts():
        import lightgbm, xgboost
        # every thread count gbfocal hands out is 1; the libraries are capped at 1
        assert _parallel.in_forked_child() and _base.n_threads(8) == 1
        assert _base.n_threads(None) == 1 and _base.n_threads(-1) == 1
        assert xgboost.get_config()["nthread"] == 1
        import ctypes
        n = ctypes.c_int(0)
        lightgbm.basic._LIB.LGBM_GetMaxThreads(ctypes.byref(n))
        assert n.value == 1, n.value

    actions = {
        "predict": lambda: est.predict_proba(X),
        "fit": lambda: Cls(n_estimators=5, n_jobs=2).fit(X, y).predict(X),
        "fit_default_threads": lambda: Cls(n_estimators=5).fit(X, y).predict(X),
        "pickle": lambda: pickle.dumps(est),
        "unpickle": lambda: pickle.loads(blob).predict(X),
        "save_model": lambda: est.save_model(os.path.join(tempfile.mkdtemp(), "m.json")),
        "feature_importances": lambda: est.feature_importances_,
        "new_thread": lambda: in_new_thread(lambda: (est.predict(X), pickle.dumps(est))),
        "multi": multi,
        "library_main_thread": lambda: library_predict(2),
        "library_new_thread": lambda: in_new_thread(lambda: library_predict(2)),
        "gbfocal_after_fork": gbfocal_after_fork,
        "thread_counts": thread_counts,
    }

    results = {}
    for case, child_timeout in (pair.split("=") for pair in cases):
        pid = os.fork()
        if pid == 0:
            try:
                if case != "gbfocal_after_fork":
                    arm()
                actions[case]()
            except BaseException:
                traceback.print_exc()
                os._exit(1)
            os._exit(0)
        deadline = time.monotonic() + float(child_timeout) + 120  # a backstop only
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                results[case] = {0: "ok", 42: "hung"}.get(code, f"failed ({code})")
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                results[case] = "hung (killed)"
                break
            time.sleep(0.02)
    print(json.dumps(results))
''')


# A child expected to finish gets a generous timeout (the machine may be busy); one
# expected to hang gets a short one (the hang is a wait for threads that never come; the
# timer starts after the child's imports, and the work it times, a prediction of 3,000
# rows or a 5-round fit, takes well under a second when it does not hang).
FINISHES, HANGS = 120.0, 3.0


def _run(backend: str, mode: str, cases: dict[str, float]) -> dict[str, str]:
    """Run DRIVER in a new session; on timeout kill the whole group (forked children too).

    ``cases``: case -> the child's timeout in seconds."""
    env = {**os.environ, "OMP_NUM_THREADS": "2"}  # the libraries' default: two threads
    process = subprocess.Popen(
        [sys.executable, "-c", DRIVER, backend, mode,
         *(f"{case}={timeout}" for case, timeout in cases.items())],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=120 + sum(t + 120 for t in cases.values()))
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail("the fork driver itself timed out")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


SAFE = ["predict", "fit", "fit_default_threads", "pickle", "unpickle", "save_model",
        "feature_importances", "new_thread", "multi", "library_main_thread",
        "library_new_thread", "thread_counts"]


@pytest.mark.parametrize("backend", ["lightgbm", "xgboost"])
def test_gbfocal_in_a_child_forked_after_a_threaded_fit_does_not_hang(backend):
    """Before: every case but LightGBM's feature importances hung (measured: n_jobs=None
    and n_jobs=2, both backends)."""
    results = _run(backend, "gbfocal", dict.fromkeys(SAFE, FINISHES))
    assert results == dict.fromkeys(SAFE, "ok")


@pytest.mark.parametrize("backend", ["lightgbm", "xgboost"])
def test_the_library_alone_still_hangs_in_the_thread_that_forked(backend):
    """The documented unsafe path: without gbfocal in the process nothing caps the
    threads, and the library's own predict with two threads hangs in the child's main
    thread (the one that forked, which holds libgomp's dead pool). A thread started in the
    child has no pool yet and is safe. If the first case starts passing, libgomp became
    fork-safe: update the README's fork section."""
    cases = {"library_main_thread": HANGS, "library_new_thread": FINISHES}
    assert _run(backend, "library", cases) == {
        "library_main_thread": "hung", "library_new_thread": "ok"}


def test_gbfocal_imported_only_after_the_fork_is_not_covered():
    """The other documented limit: the cap is set up by an at-fork hook, so gbfocal must be
    imported before the fork (in the parent) for the child to be covered."""
    assert _run("lightgbm", "library", {"gbfocal_after_fork": HANGS}) == {
        "gbfocal_after_fork": "hung"}


def test_the_parent_keeps_its_thread_count():
    """The cap is for forked children only: the thread budget of n_jobs is kept here."""
    from gbfocal import _base, _parallel

    assert not _parallel.in_forked_child()
    assert _base.n_threads(2) == 2 and _base.n_threads(None) is None
    assert _base.n_threads(-1) == _parallel.available_cpus()
