"""Which implementation computes the focal math: the compiled kernels or the NumPy path.

The two implementations are :mod:`gbfocal._kernels` (numba, threaded) and
:mod:`gbfocal._math` (array-generic, here with ``xp = numpy``); this module is the one
place that chooses between them. Inputs are already checked (see :mod:`gbfocal._math`);
nothing here validates.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import _math

__all__ = ["compiled", "grad_hess", "loss"]

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
    what a later ``astype(np.float32)`` gives. ``out``: C-contiguous arrays of dtype
    ``dtype`` and the shape of ``z`` that the kernels write into (the NumPy path ignores it).
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
