"""Parallel tuning trials: Optuna's threads here, the fold fits on worker processes.

``tune_focal(n_jobs=k)`` runs ``k`` Optuna trials at once in threads of this process, as
``study.optimize(n_jobs=k)`` does, but a fold fit runs in this process only while no other
fold fit does; the others go to ``k - 1`` worker processes. Threads alone reached only
1.4-1.95x on two cores (benchmarks/tuning_speed.md before this module): a boosting round
runs some Python (XGBoost's ``predict`` and callbacks, gbfocal's metric bookkeeping) that
holds the GIL, so two threads' rounds queue behind each other. Sampling, pruning, the study
and its storage stay in this process, so a trial is sampled, reported and pruned exactly as
with threads.

The workers are loky's reusable executor (joblib's): they stay
for :data:`IDLE_SECONDS` after the last task, so a second search skips their start-up
(importing the libraries: ~2 s each). The search's data (the objective: X, labels,
weights, folds, scorer) is pickled once per search into a temporary file that each worker
reads once; only ``(params, fold)`` and ``(score, rounds)`` travel per fold. The fold in
this process starts at once, so the first workers' start-up overlaps with useful work.

When the search's process dies without cleaning up (``kill -9``, or SIGTERM in a program
that installs no handler for it), nothing is left for long: a worker whose parent is gone
exits within :data:`WATCH_SECONDS` (a thread in each worker watches its parent), and the
next search removes the temporary folders of searches whose process is gone (the folder
name holds the owner's pid: ``gbfocal-tuning-<pid>-*``).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._optional import import_optional

__all__ = ["IDLE_SECONDS", "WATCH_SECONDS", "FoldRunner", "remove_dead_searches",
           "shutdown_workers"]

#: Seconds an idle worker waits for the next search before it exits (joblib's value).
IDLE_SECONDS = 300
#: How often a worker checks that the process of its search is still there.
WATCH_SECONDS = 1.0
_PREFIX = "gbfocal-tuning-"
_FOLDER = re.compile(re.escape(_PREFIX) + r"(\d+)-[A-Za-z0-9_]+")
_PAYLOAD = "objective.pkl"

# the objective a worker process read last: (path, objective)
_loaded: tuple[str, Any] | None = None
# this process's executor of the latest search (loky may replace it for joblib's work)
_executor: Any = None
_executor_lock = threading.Lock()


def shutdown_workers() -> None:
    """Stop the idle worker processes of parallel tuning trials now.

    They otherwise wait :data:`IDLE_SECONDS` for the next ``tune_focal(n_jobs > 1)``,
    holding a copy of the last search's data; the next search starts new ones.
    """
    global _executor
    with _executor_lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=True)


def _objective_at(path: str) -> Any:
    """The pickled objective at ``path``, read once per worker process."""
    global _loaded
    if _loaded is None or _loaded[0] != path:
        import pickle

        _loaded = None  # the previous search's data goes first
        with open(path, "rb") as file:
            _loaded = (path, pickle.load(file))
    return _loaded[1]


_watching = False


def _watch_parent(parent: int) -> None:
    """In a worker: exit as soon as ``parent`` (the search's process) is gone.

    loky keeps an idle worker for :data:`IDLE_SECONDS`; without this, a search killed with
    ``kill -9`` left its workers (and their copy of the data) for that long. An orphan's
    parent becomes another process, so a changed ``getppid`` means the parent died.
    """
    global _watching
    if _watching:
        return
    _watching = True

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_SECONDS)
        os._exit(0)  # no cleanup to run: the parent owned the search's files

    threading.Thread(target=watch, name="gbfocal-parent-watch", daemon=True).start()


def _load(path: str, parent: int) -> None:
    """Warm-up task: start a worker, watch its parent, read the objective."""
    _watch_parent(parent)
    _objective_at(path)


def _fit_fold(path: str, parent: int, params: dict[str, Any], fold: int) -> tuple[float, int]:
    _watch_parent(parent)  # a worker may get a fold before (or without) a warm-up task
    return _objective_at(path).fold_result(params, fold)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_dead_searches(folder: str | None = None) -> list[str]:
    """Remove the temporary folders of searches whose process is gone; returns them.

    Only folders named ``gbfocal-tuning-<pid>-*`` of this user, holding nothing but the
    search's pickled data, whose ``<pid>`` is no running process.
    """
    removed = []
    root = Path(folder or tempfile.gettempdir())
    for entry in root.glob(f"{_PREFIX}*"):
        match = _FOLDER.fullmatch(entry.name)
        if match is None or not entry.is_dir() or entry.is_symlink():
            continue
        try:
            if entry.stat().st_uid != os.getuid() or {p.name for p in entry.iterdir()} - {
                    _PAYLOAD}:
                continue
        except OSError:
            continue
        if not _alive(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(str(entry))
    return removed


def _thread_env(threads: int | None) -> dict[str, str]:
    """Workers' thread variables: each fit runs on ``threads`` threads (None: unchanged)."""
    if threads is None:
        return {}
    value = str(threads)
    return {name: value for name in ("OMP_NUM_THREADS", "GBFOCAL_NUM_THREADS",
                                     "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


class FoldRunner:
    """Fit ``(params, fold)`` of an objective: one at a time here, the rest on workers.

    Parameters
    ----------
    objective : gbfocal.tuning._objective.Objective
        Has ``fold_result(params, fold) -> (score, rounds)``; pickled for the workers
        without its per-thread fold data.
    n_workers : int
        Worker processes (``n_jobs - 1``); at most that many remote fits run at once.
    threads : int or None
        Threads of each worker's fits (the thread variables of the workers' environment);
        None leaves the environment as it is.

    Use as a context manager: leaving it deletes the pickled objective and cancels the
    folds not yet started (an interrupted search does not leave work queued for the next).
    """

    def __init__(self, objective: Any, n_workers: int, threads: int | None) -> None:
        self._objective = objective
        self._n_workers = n_workers
        self._threads = threads
        self._here = threading.Lock()
        self._futures: set[Any] = set()
        self._futures_lock = threading.Lock()
        self._dir: str | None = None
        self._path = ""
        self._executor: Any = None

    def __enter__(self) -> FoldRunner:
        cloudpickle = import_optional("cloudpickle", needed_by="tune_focal(n_jobs > 1)")
        loky = import_optional("joblib.externals.loky", needed_by="tune_focal(n_jobs > 1)")
        remove_dead_searches()
        # the owner's pid in the name: a later search removes the folder if this process
        # dies without removing it (kill -9)
        self._dir = tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-")
        self._path = os.path.join(self._dir, _PAYLOAD)
        payload = self._objective.without_fold_data()
        try:
            with open(self._path, "wb") as file:
                # cloudpickle: a scorer may be a lambda or a function of __main__
                cloudpickle.dump(payload, file)
        except Exception as exc:
            self._remove_dir()
            raise TypeError(
                "tune_focal(n_jobs > 1) fits folds on worker processes and must pickle X, y, "
                f"sample_weight and the scorer, which failed: {type(exc).__name__}: {exc}. "
                "Use n_jobs=1, or picklable data and scorer"
            ) from exc
        global _executor
        with _executor_lock:
            self._executor = _executor = loky.get_reusable_executor(
                max_workers=self._n_workers, timeout=IDLE_SECONDS,
                env=_thread_env(self._threads),
            )
        for _ in range(self._n_workers):
            self._track(self._executor.submit(_load, self._path, os.getpid()))
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._futures_lock:
            pending = list(self._futures)
        for future in pending:
            future.cancel()
        self._remove_dir()

    def _remove_dir(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def _track(self, future: Any) -> Any:
        with self._futures_lock:
            self._futures.add(future)
        future.add_done_callback(self._untrack)
        return future

    def _untrack(self, future: Any) -> None:
        with self._futures_lock:
            self._futures.discard(future)

    def __call__(self, params: Mapping[str, Any], fold: int) -> tuple[float, int]:
        """``(score, rounds)`` of one fold, fitted here when no other fit runs here."""
        if self._here.acquire(blocking=False):
            try:
                return self._objective.fold_result(dict(params), fold)
            finally:
                self._here.release()
        future = self._track(self._executor.submit(_fit_fold, self._path, os.getpid(),
                                                   dict(params), fold))
        return future.result()  # fold_result's (float, int), as fitted here
