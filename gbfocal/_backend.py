"""Which implementation computes the focal math: the compiled kernels or the NumPy path.

The two implementations are :mod:`gbfocal._kernels` (numba, threaded) and
:mod:`gbfocal._math` (array-generic, here with ``xp = numpy``), and for the asymmetric
focal loss :mod:`gbfocal._kernels` and :mod:`gbfocal._asymmetric`; this module is the one
place that chooses between them. Inputs are already checked (see :mod:`gbfocal._math`);
nothing here validates.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import _asymmetric, _math, _ranking

__all__ = ["asymmetric_grad_hess", "asymmetric_loss", "compiled", "grad_hess", "loss",
           "ranking_scores"]

_KERNELS: Any = None  # gbfocal._kernels once imported; False if numba is unavailable


def compiled() -> Any:
    """The compiled kernels module, or None for the pure-NumPy path.

    numba is imported on the first call (not at ``import gbfocal``). Setting the
    environment variable ``GBFOCAL_DISABLE_NUMBA=1`` forces the NumPy reference path
    (read at every call, so it can be switched at run time).
    """
    global _KERNELS
    if os.environ.get("GBFOCAL_DISABLE_NUMBA", "") not in ("", "0"):
        return None
    if _KERNELS is None:
        try:
            from . import _kernels
        except ImportError:  # numba missing or broken: the NumPy path is exact, just slower
            _KERNELS = False
        else:
            _KERNELS = _kernels
    return _KERNELS or None


def loss(
    y: np.ndarray, z: np.ndarray, alpha: np.ndarray | None, weight: np.ndarray | None,
    gamma: float, *, binary: bool,
) -> np.ndarray:
    """Per-row focal loss (float64) from checked labels, margins and weights."""
    kernels = compiled()
    if kernels is not None:
        out = np.empty(z.shape[0])
        (kernels.binary_loss if binary else kernels.multiclass_loss)(y, z, alpha, weight, gamma,
                                                                    out)
        return out
    fn = _math.binary_loss if binary else _math.multiclass_loss
    return np.ascontiguousarray(fn(np, y, z.astype(np.float64, copy=False), alpha, weight, gamma))


def grad_hess(
    y: np.ndarray,
    z: np.ndarray,
    alpha: np.ndarray | None,
    weight: np.ndarray | None,
    gamma: float,
    positive: bool,
    *,
    binary: bool,
    dtype: Any = np.float64,
    out: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian from checked inputs, shaped like ``z``.

    ``y`` are checked labels (int8 0/1 or intp class indices), ``z`` finite margins of the
    matching shape, float64 or float32 (XGBoost's: every float32 is exact in float64, so the
    result is that of ``z.astype(np.float64)``), ``alpha`` the resolved class weights (None:
    all ones), ``weight`` checked row weights or None. ``dtype=np.float32`` makes the
    kernels store float32 directly: each value is the float64 result rounded once, exactly
    what a later ``astype(np.float32)`` gives. ``out``: contiguous arrays of dtype
    ``dtype`` and the shape of ``z`` that the kernels write into (row-major; multiclass
    also column-major, as ``z`` may be); the NumPy path ignores it.
    """
    kernels = compiled()
    if kernels is None:
        fn = _math.binary_grad_hess if binary else _math.multiclass_grad_hess
        grad, hess = fn(np, y, z.astype(np.float64, copy=False), alpha, weight, gamma, positive)
        return (np.ascontiguousarray(grad, dtype=dtype), np.ascontiguousarray(hess, dtype=dtype))
    grad, hess = (np.empty(z.shape, dtype), np.empty(z.shape, dtype)) if out is None else out
    fn = kernels.binary_grad_hess if binary else kernels.multiclass_grad_hess
    fn(y, z, alpha, weight, gamma, positive, grad, hess)
    return grad, hess


def round_writer(kind: str) -> Any:
    """The compiled kernel that writes one round's gradient pair into given arrays.

    ``kind``: "binary", "multiclass" or "asymmetric"; None on the NumPy path. The loss
    objects look it up once per training set (not every round, where this module would
    be one more call on the path), so ``GBFOCAL_DISABLE_NUMBA`` switched during a training
    takes effect with the next training set.
    """
    kernels = compiled()
    if kernels is None:
        return None
    return {"binary": kernels.binary_grad_hess, "multiclass": kernels.multiclass_grad_hess,
            "asymmetric": kernels.asymmetric_grad_hess}[kind]


def asymmetric_loss(
    y: np.ndarray, z: np.ndarray, alpha: np.ndarray | None, weight: np.ndarray | None,
    gamma_pos: float, gamma_neg: float, clip: float,
) -> np.ndarray:
    """Per-row asymmetric focal loss (float64) from checked binary labels, margins and weights.

    ``alpha`` is ``None`` or the ``(2,)`` class weights, ``gamma_pos, gamma_neg >= 0`` and
    ``0 <= clip < 1`` (see :func:`gbfocal._asymmetric.asymmetric_loss`).
    """
    kernels = compiled()
    if kernels is not None:
        out = np.empty(z.shape[0])
        kernels.asymmetric_loss(y, z, alpha, weight, gamma_pos, gamma_neg, clip, out)
        return out
    return np.ascontiguousarray(_asymmetric.asymmetric_loss(
        np, y, z.astype(np.float64, copy=False), alpha, weight, gamma_pos, gamma_neg, clip))


def asymmetric_grad_hess(
    y: np.ndarray,
    z: np.ndarray,
    alpha: np.ndarray | None,
    weight: np.ndarray | None,
    gamma_pos: float,
    gamma_neg: float,
    clip: float,
    positive: bool,
    *,
    dtype: Any = np.float64,
    out: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian ``(n,)`` of the asymmetric focal loss from checked inputs.

    As :func:`grad_hess` (``dtype``: the values rounded once; ``out``: C-contiguous
    ``(n,)`` arrays of ``dtype``), except that ``out``, when given, is also filled and
    returned on the NumPy path.
    """
    kernels = compiled()
    if kernels is None:
        grad, hess = _asymmetric.asymmetric_grad_hess(
            np, y, z.astype(np.float64, copy=False), alpha, weight, gamma_pos, gamma_neg, clip,
            positive)
        if out is None:
            return (np.ascontiguousarray(grad, dtype=dtype),
                    np.ascontiguousarray(hess, dtype=dtype))
        out[0][...] = grad
        out[1][...] = hess
        return out
    grad, hess = (np.empty(z.shape, dtype), np.empty(z.shape, dtype)) if out is None else out
    kernels.asymmetric_grad_hess(y, z, alpha, weight, gamma_pos, gamma_neg, clip, positive,
                                 grad, hess)
    return grad, hess


def ranking_scores(metric: str, positive: np.ndarray, score: np.ndarray,
                   weights: np.ndarray | None = None) -> np.ndarray:
    """``metric`` ("average_precision" or "roc_auc") of finite ``score`` for ``positive``.

    ``weights``: None (every row counts once), ``(n,)`` row weights, or ``(B, n)`` for the
    metric under each of ``B`` weightings (e.g. bootstrap multiplicities) from one sort.
    Returns an array of shape ``weights.shape[:-1]`` (``()`` for None or ``(n,)``). Both
    classes must have positive weight (the callers check). Definitions: :mod:`gbfocal._ranking`.
    """
    if metric not in ("average_precision", "roc_auc"):
        raise ValueError(f"metric must be 'average_precision' or 'roc_auc', got {metric!r}")
    kernels = compiled()
    if kernels is None:
        return _ranking.ranking_scores(metric, positive, score, weights)
    rows = np.ones((1, score.shape[0])) if weights is None else np.asarray(weights, np.float64)
    table = np.ascontiguousarray(rows.reshape(-1, score.shape[0]))
    ap, auc = np.empty(table.shape[0]), np.empty(table.shape[0])
    # NumPy's default sort: 2-4x faster than a stable one at 1e4 rows, and ties need none
    kernels.ranking_areas(np.argsort(score), score, positive, table, ap, auc)
    result = ap if metric == "average_precision" else auc
    return result.reshape(() if weights is None else np.shape(weights)[:-1])
