"""A search that dies (kill -9) leaves nothing for long: its workers exit, its temporary
folder goes with the next search, its running trials are failed when it is resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("lightgbm")
pytest.importorskip("joblib")

from gbfocal.tuning import _study, _workers, tune_focal  # noqa: E402

pytestmark = pytest.mark.usefixtures("quiet_optuna")

_SEARCH = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    import optuna
    from sklearn.datasets import make_classification
    from sklearn.metrics import average_precision_score
    from gbfocal.tuning import _study, tune_focal

    log, storage = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None
    _study.HEARTBEAT_SECONDS, _study.GRACE_SECONDS = 1, 2
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def scorer(estimator, X, y, sample_weight=None):
        with open(log, "a") as file:
            file.write(f"{os.getpid()}\\n")
        time.sleep(0.5)  # slow folds: the test kills the search while they run
        return average_precision_score(y, estimator.decision_function(X))

    X, y = make_classification(n_samples=300, n_features=5, weights=[0.8], random_state=0)
    tune_focal(X, y, n_trials=200, cv=2, random_state=0, early_stopping_rounds=None,
               params={"n_estimators": 5, "num_leaves": (4, 16)}, baseline=False,
               compare=None, refit=False, show_progress_bar=False, scoring=scorer,
               n_jobs=1 if storage else 2, storage=storage, study_name="crash")
""")


def scorer(estimator, X, y, sample_weight=None):
    """The search script's scorer (the same name: a study records a callable's name)."""
    from sklearn.metrics import average_precision_score

    return average_precision_score(y, estimator.decision_function(X))


def _start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    script = tmp_path / "search.py"
    script.write_text(_SEARCH)
    log = tmp_path / "folds.log"
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # the search's temporary folder goes here
    with open(tmp_path / "stderr.txt", "wb") as stderr:
        process = subprocess.Popen([sys.executable, str(script), str(log), *args], env=env,
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    return process, log


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone but for its exit status: /proc says so on Linux
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def test_a_killed_parallel_search_leaves_no_worker_and_its_folder_goes_next_time(tmp_path):
    process, log = _start(tmp_path)
    try:
        def worker_pids() -> set[int]:
            if not log.exists():
                return set()
            return {int(line) for line in log.read_text().split()} - {process.pid}

        _wait_for(lambda: worker_pids(), 120, "a fold on a worker process")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    workers = worker_pids()
    # before: the worker stayed for loky's 300 idle seconds, holding the search's data
    _wait_for(lambda: not any(_alive(pid) for pid in workers), 15,
              f"workers {sorted(workers)} to exit")
    left = list(tmp_path.glob(f"gbfocal-tuning-{process.pid}-*"))
    assert len(left) == 1 and (left[0] / "objective.pkl").exists()  # kill -9 runs no cleanup
    # the next search's cleanup: folders of dead owners only, holding only the search's data
    mine = tmp_path / f"gbfocal-tuning-{os.getpid()}-live"
    mine.mkdir()
    (mine / "objective.pkl").write_bytes(b"")
    other = tmp_path / f"gbfocal-tuning-{process.pid}-notours"
    other.mkdir()
    (other / "objective.pkl").write_bytes(b"")
    (other / "something-else.txt").write_text("not a search's file")
    removed = _workers.remove_dead_searches(str(tmp_path))
    assert removed == [str(left[0])]
    assert not left[0].exists() and mine.exists() and other.exists()


def test_running_trials_of_a_killed_search_are_failed_on_resume(tmp_path, monkeypatch):
    storage = f"sqlite:///{tmp_path / 'crash.db'}"
    process, log = _start(tmp_path, storage)
    try:
        _wait_for(lambda: log.exists() and len(log.read_text().split()) >= 3, 120,
                  "a few folds")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    states = [t.state for t in optuna.load_study(study_name="crash", storage=storage).trials]
    assert states[-1] == optuna.trial.TrialState.RUNNING  # left so by the kill
    monkeypatch.setattr(_study, "HEARTBEAT_SECONDS", 1)
    monkeypatch.setattr(_study, "GRACE_SECONDS", 2)
    time.sleep(3)  # the dead process's heartbeat is now older than the grace period
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=300, n_features=5, weights=[0.8], random_state=0)
    resumed = tune_focal(X, y, n_trials=1, cv=2, random_state=0, early_stopping_rounds=None,
                         params={"n_estimators": 5, "num_leaves": (4, 16)}, baseline=False,
                         compare=None, refit=False, show_progress_bar=False,
                         scoring=scorer, storage=storage, study_name="crash")
    stale = resumed.study.trials[len(states) - 1]
    assert stale.state == optuna.trial.TrialState.FAIL
    assert all(t.state != optuna.trial.TrialState.RUNNING for t in resumed.study.trials)


def test_sigterm_of_a_parallel_cli_search_cleans_up_like_ctrl_c(tmp_path):
    pd = pytest.importorskip("pandas")
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 6))
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)])
    frame["label"] = (X[:, 0] + rng.normal(size=2000) > 1.5).astype(int)
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    with open(tmp_path / "stderr.txt", "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "gbfocal", "tune", str(data), "--target", "label",
             "--trials", "500", "--cv", "3", "--parallel", "2", "--no-progress", "--seed", "0",
             "--param", "n_estimators=200", "--param", "num_leaves=4:64"],
            env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        _wait_for(lambda: list(tmp_path.glob(f"gbfocal-tuning-{process.pid}-*")), 120,
                  "the parallel search's temporary folder")
        time.sleep(2)  # folds running here and on the worker
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    err = (tmp_path / "stderr.txt").read_text()
    assert status == 143, err[-2000:]
    assert "Traceback" not in err and "gbfocal: terminated" in err
    assert not list(tmp_path.glob("gbfocal-tuning-*"))  # the pickled data went with it
