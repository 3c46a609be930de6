"""Threads for the compiled kernels: rows split into chunks that threads take in turn.

The kernels release the GIL (numba ``nogil=True``) and compute every row on its own,
so running disjoint row ranges on plain Python threads gives bit-for-bit the
single-threaded result. numba's own threading layers are avoided on purpose: the
OpenMP layer is not fork-safe (joblib, multiprocessing) and the workqueue layer
aborts when two Python threads call a parallel kernel at once (``GridSearchCV`` with
a threading backend does exactly that).

The objective runs between the boosting library's parallel phases, so the cores
are otherwise idle while it runs.
"""

from __future__ import annotations

import itertools
import operator
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_ENV = "GBFOCAL_NUM_THREADS"
# Below this many values (rows x columns) per thread, starting a thread costs more
# (~20-50 us) than it saves.
_MIN_VALUES_PER_THREAD = 32_768
# Chunks per thread, taken from a shared counter (see run_rows).
_CHUNKS_PER_THREAD = 4
# Chunk boundaries on multiples of 64 rows: no two threads write one cache line.
_ALIGN = 64

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_num_threads: int | None = None  # set_num_threads(); None: environment / CPU count


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _check_num_threads(value: Any, name: str) -> int:
    try:
        count = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        count = None
    if count is None:
        raise TypeError(f"{name} must be a positive int, got {value!r}")
    if count < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return count


def get_num_threads() -> int:
    """Number of threads the compiled gradient/Hessian kernels use.

    :func:`set_num_threads` if it was called, else the environment variable
    ``GBFOCAL_NUM_THREADS``, else the number of CPUs this process may run on.

    Examples
    --------
    >>> import gbfocal
    >>> gbfocal.get_num_threads() >= 1
    True
    """
    if _num_threads is not None:
        return _num_threads
    env = os.environ.get(_ENV, "").strip()
    if env:
        try:
            return _check_num_threads(int(env), _ENV)
        except ValueError:
            raise ValueError(f"{_ENV} must be a positive integer, got {env!r}") from None
    return _available_cpus()


def set_num_threads(n_threads: int | None) -> None:
    """Set the number of threads of the compiled kernels (None: back to the default).

    One thread reproduces the results of any other count bit for bit; more threads
    only split the rows. Use 1 when an outer level (``joblib``, Dask workers, Optuna
    ``n_jobs``) already keeps every core busy.

    Parameters
    ----------
    n_threads : int or None
        A positive number of threads, or None for the default of
        :func:`get_num_threads`.

    Examples
    --------
    >>> import gbfocal
    >>> gbfocal.set_num_threads(1)
    >>> gbfocal.get_num_threads()
    1
    >>> gbfocal.set_num_threads(None)  # back to GBFOCAL_NUM_THREADS / the CPU count
    """
    global _num_threads
    _num_threads = None if n_threads is None else _check_num_threads(n_threads, "n_threads")


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < workers:
            old = _pool
            _pool, _pool_size = ThreadPoolExecutor(workers, "gbfocal"), workers
            if old is not None:
                old.shutdown(wait=False)
        return _pool


def _forget_pool() -> None:
    """In a forked child the pool's threads do not exist: start a new pool there."""
    global _pool, _pool_size, _lock
    _pool, _pool_size, _lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def row_chunks(n_rows: int, values_per_row: int, max_chunks: int) -> list[tuple[int, int]]:
    """Contiguous ``(lo, hi)`` row ranges covering ``0:n_rows``, at most ``max_chunks``."""
    by_size = (n_rows * values_per_row) // _MIN_VALUES_PER_THREAD
    n_chunks = max(1, min(max_chunks, by_size))
    if n_chunks == 1:
        return [(0, n_rows)]
    step = -(-n_rows // n_chunks)  # ceil, then up to a multiple of _ALIGN
    step = -(-step // _ALIGN) * _ALIGN
    return [(lo, min(lo + step, n_rows)) for lo in range(0, n_rows, step)]


def run_rows(kernel: Callable[..., None], n_rows: int, values_per_row: int, *args: Any) -> None:
    """Call ``kernel(lo, hi, *args)`` over row chunks, in parallel when worth it.

    Threads take chunks from a shared counter, a few chunks per thread: a thread that
    starts late (LightGBM's and XGBoost's OpenMP threads spin for a while after each
    parallel region) just takes fewer. The calling thread works too, and a helper
    that has not started by the time the chunks run out is cancelled, so a call never
    waits for a pool thread busy with another call.
    """
    n_threads = get_num_threads()
    chunks = row_chunks(n_rows, values_per_row, n_threads * _CHUNKS_PER_THREAD)
    if len(chunks) == 1 or n_threads == 1:
        kernel(0, n_rows, *args)
        return
    next_chunk = itertools.count().__next__  # atomic under the GIL

    def work() -> None:
        while (i := next_chunk()) < len(chunks):
            kernel(chunks[i][0], chunks[i][1], *args)

    helpers = min(n_threads, len(chunks)) - 1
    pool = _executor(helpers)
    futures = [pool.submit(work) for _ in range(helpers)]
    try:
        work()
    finally:
        for future in futures:
            if not future.cancel():
                future.result()
