"""Threads for the compiled kernels: rows split into chunks that threads take in turn.

The kernels release the GIL (numba ``nogil=True``) and compute every row on its own,
so running disjoint row ranges on plain Python threads gives bit-for-bit the
single-threaded result. numba's own threading layers are avoided on purpose: the
OpenMP layer is not fork-safe (joblib, multiprocessing) and the workqueue layer
aborts when two Python threads call a parallel kernel at once (``GridSearchCV`` with
a threading backend does exactly that).

The objective runs between the boosting library's parallel phases, so the cores
are otherwise idle while it runs.

Thread and fork safety: any number of Python threads may call the kernels and
:func:`set_num_threads` at once. The pool only grows, and it is replaced and shut
down only under the lock that every submission to it holds, so no caller ever submits
to a pool that is shut down. A forked child drops the parent's pool (whose threads it
does not have) and starts its own.

The boosting libraries' OpenMP (libgomp) is not fork-safe: libgomp keeps a thread pool
per thread, and after the parent ran a parallel region of more than one thread, the
thread that forked hangs in the child's first such region, waiting for pool threads the
child does not have (LightGBM and XGBoost alike: fit, predict, pickle, unpickle;
measured). A region of one thread never touches the pool, so in a forked child
:func:`limit_library_threads` caps LightGBM (its C API ``LGBM_SetMaxThreads``) and
XGBoost (``xgboost.set_config(nthread=1)``) at one thread, and the estimators pass one
thread to every call there.
"""

from __future__ import annotations

import ctypes
import itertools
import operator
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, ClassVar

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


def available_cpus() -> int:
    """The cores this process may run on (its CPU affinity), which may be fewer than the
    machine has."""
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


def _env_num_threads() -> int | None:
    """``GBFOCAL_NUM_THREADS`` as a positive int; None when unset or blank.

    Raises
    ------
    ValueError
        If the variable is set to anything but a positive integer; the message names
        the variable and its value.
    """
    env = os.environ.get(_ENV, "").strip()
    if not env:
        return None
    try:
        count = int(env)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"{_ENV} must be a positive integer, got {env!r}")
    return count


def get_num_threads() -> int:
    """Number of threads the compiled gradient/Hessian kernels use.

    :func:`set_num_threads` if it was called, else the environment variable
    ``GBFOCAL_NUM_THREADS``, else the number of CPUs this process may run on.

    Returns
    -------
    n_threads : int
        A positive number of threads.

    Raises
    ------
    ValueError
        If ``GBFOCAL_NUM_THREADS`` decides and is not a positive integer (every
        compiled-kernel call raises it too; ``import gbfocal`` only warns).

    Examples
    --------
    >>> import gbfocal
    >>> gbfocal.get_num_threads() >= 1
    True
    """
    if _num_threads is not None:
        return _num_threads
    env = _env_num_threads()
    return available_cpus() if env is None else env


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


def _submit(work: Callable[[], None], helpers: int) -> list[Future[None]]:
    """Submit ``helpers`` calls of ``work`` to the pool, first growing it if needed.

    The submissions happen under the lock that guards replacing the pool. Taken apart
    (the pool fetched under the lock, submitted to after it), a caller needing more
    threads could shut the pool down in between, and ``submit`` raised "cannot schedule
    new futures after shutdown" (reported: 1 call in 2,000 with 8 threads). A submission
    is a queue put (plus a thread start while the pool fills), so the lock is held for
    microseconds.
    """
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < helpers:
            old = _pool
            _pool, _pool_size = ThreadPoolExecutor(helpers, "gbfocal"), helpers
            if old is not None:
                # Nobody is submitting to ``old`` (that needs the lock held here); what
                # was queued still runs: shutdown(wait=False) neither cancels queued
                # work nor waits for it, and the old threads exit once it is done.
                old.shutdown(wait=False)
        return [_pool.submit(work) for _ in range(helpers)]


def _forget_pool() -> None:
    """In a forked child the pool's threads do not exist: start a new pool there."""
    global _pool, _pool_size, _lock
    _pool, _pool_size, _lock = None, 0, threading.Lock()


# --------------------------------------------------------------------------- fork
_forked = False  # this process is a fork of another (os.fork, multiprocessing "fork")
_capped = threading.local()  # .libraries: those capped at one thread for the thread


def _cap_lightgbm(lightgbm: Any) -> None:
    # LGBM_SetMaxThreads is in LightGBM's public C API: a process-wide ceiling on
    # every OpenMP region, num_threads in params included; Python reaches the loaded
    # library only as lightgbm.basic._LIB (there is no Python wrapper).
    lib = getattr(getattr(lightgbm, "basic", None), "_LIB", None)
    if lib is not None and hasattr(lib, "LGBM_SetMaxThreads"):
        lib.LGBM_SetMaxThreads(ctypes.c_int(1))


def _cap_xgboost(xgboost: Any) -> None:
    # XGBoost's global nthread bounds every booster's and DMatrix's threads; it is kept
    # per thread, so each thread that uses XGBoost in the child sets it.
    xgboost.set_config(nthread=1)


_LIBRARY_CAPS = {"lightgbm": _cap_lightgbm, "xgboost": _cap_xgboost}


def in_forked_child() -> bool:
    """Whether this process was forked from another (``os.fork``, multiprocessing "fork")."""
    return _forked


def limit_library_threads() -> None:
    """In a forked child, cap LightGBM and XGBoost at one OpenMP thread; else nothing.

    Runs right after the fork (the child's only thread) for the libraries already
    imported, and again from the estimators, in any thread, for a library imported
    after the fork and for XGBoost's per-thread setting. Never raises: a library that
    refuses is left as it is (the estimators still pass one thread to each call).
    """
    if not _forked:
        return
    done: frozenset[str] = getattr(_capped, "libraries", frozenset())
    for name, cap in _LIBRARY_CAPS.items():
        module = sys.modules.get(name)
        if name in done or module is None:
            continue
        try:
            cap(module)
        except Exception:  # a fork hook must not fail; see the docstring
            continue
        done |= {name}
    _capped.libraries = done


def _after_fork_in_child() -> None:
    global _forked, _capped
    _forget_pool()
    _forked = True
    _capped = threading.local()  # a grandchild caps again, whatever its parent did
    limit_library_threads()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _warn_on_bad_environment() -> None:
    """Report a bad ``GBFOCAL_NUM_THREADS`` at import, before any data is loaded.

    Only a warning: an error here would break ``import gbfocal`` (the command line, the
    estimators, the NumPy path, which never reads the variable) over a typo in a
    variable that matters only to the compiled kernels. Those raise the ValueError on
    their first call, so a bad value never silently falls back to a default.
    """
    try:
        _env_num_threads()
    except ValueError as exc:
        warnings.warn(
            f"{exc}; every compiled-kernel call (and get_num_threads()) will raise this "
            "error unless gbfocal.set_num_threads() is called",
            RuntimeWarning,
            stacklevel=2,
        )


_warn_on_bad_environment()


# --------------------------------------------------------------------------- fit-time bound
class _KernelThreadBound:
    """Process-wide bound on gbfocal's gradient threads while fits with an ``n_jobs`` run.

    :func:`gbfocal.set_num_threads` is process-wide, so concurrent fits share one value:
    the smallest ``n_jobs`` of the fits running (never more than the value before the
    first of them started), and the value before is restored when the last one ends.
    A bound never raises the thread count, so no fit uses more than its ``n_jobs``.
    """

    lock = threading.Lock()
    bounds: ClassVar[list[int]] = []
    restore: ClassVar[int | None] = None  # what set_num_threads held (None: its default)
    ceiling: ClassVar[int | None] = None  # get_num_threads() then

    @classmethod
    def _apply(cls) -> None:
        bound = min(cls.bounds)
        set_num_threads(bound if cls.ceiling is None else min(bound, cls.ceiling))

    @classmethod
    def enter(cls, bound: int) -> None:
        with cls.lock:
            if not cls.bounds:
                # The value set_num_threads stored, not get_num_threads(): restoring the
                # resolved count would pin it and hide GBFOCAL_NUM_THREADS from then on.
                cls.restore = _num_threads
                try:
                    cls.ceiling = get_num_threads()
                except ValueError:  # a bad GBFOCAL_NUM_THREADS: n_jobs decides alone
                    cls.ceiling = None
            cls.bounds.append(bound)
            cls._apply()

    @classmethod
    def leave(cls, bound: int) -> None:
        with cls.lock:
            cls.bounds.remove(bound)
            if cls.bounds:
                cls._apply()
            else:
                set_num_threads(cls.restore)


@contextmanager
def kernel_threads(n_threads: int | None) -> Iterator[None]:
    """Bound gbfocal's gradient threads by ``n_threads`` while the block runs (None: no
    bound), restoring the previous setting afterwards (see :class:`_KernelThreadBound`)."""
    if n_threads is None:
        yield
        return
    _KernelThreadBound.enter(n_threads)
    try:
        yield
    finally:
        _KernelThreadBound.leave(n_threads)


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

    futures = _submit(work, min(n_threads, len(chunks)) - 1)
    try:
        work()
    finally:
        for future in futures:
            if not future.cancel():
                future.result()
