"""The asymmetric focal loss (Ridnik et al. 2021) as the binary and multi-label losses use it."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _backend
from .._spec import FocalSpec

__all__ = ["asym_functions", "asym_grad_hess", "asym_loss", "asym_posterior_log_odds",
           "gamma_neg"]


# --------------------------------------------------------------------------- asymmetric
# The asymmetric focal loss (Ridnik et al. 2021, gbfocal._asymmetric) of a sigmoid output:
# the binary and multi-label losses use these when their spec has gamma_neg or clip; _backend
# runs the compiled kernels or the NumPy reference (checked to 1e-9 against mpmath).
def gamma_neg(spec: FocalSpec) -> float:
    return spec.gamma if spec.gamma_neg is None else spec.gamma_neg


def asym_loss(spec: FocalSpec, y: np.ndarray, z: np.ndarray, alpha: np.ndarray | None,
               weight: np.ndarray | None) -> np.ndarray:
    return _backend.asymmetric_loss(y, z, alpha, weight, spec.gamma, gamma_neg(spec), spec.clip)


def asym_grad_hess(
    spec: FocalSpec, y: np.ndarray, z: np.ndarray, alpha: np.ndarray | None,
    weight: np.ndarray | None, dtype: Any = np.float64,
    out: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    return _backend.asymmetric_grad_hess(y, z, alpha, weight, spec.gamma, gamma_neg(spec),
                                         spec.clip, spec.positive, dtype=dtype, out=out)


def asym_functions(spec: FocalSpec) -> Any:
    """``(loss, grad)`` of the asymmetric loss for the starting-margin search (None: focal)."""
    if not spec.asymmetric:
        return None
    return (lambda y, z, w: asym_loss(spec, y, z, None, w),
            lambda y, z, w: asym_grad_hess(spec, y, z, None, w)[0])


# A posterior of exactly 0 or 1 (a negative below the clip threshold) as finite log-odds,
# so that the corrected log loss stays finite (it is then about 700 for such a row).
_LOG_ODDS_BOUND = 700.0


def asym_posterior_log_odds(spec: FocalSpec, z: np.ndarray,
                             alpha: np.ndarray | None) -> np.ndarray:
    """Log-odds of the posterior of the asymmetric focal risk minimiser at margins ``z``.

    Stationarity of ``eta a_1 L_1(z) + (1 - eta) a_0 L_0(z)`` in ``z`` gives
    ``eta / (1 - eta) = a_0 L_0'(z) / (-a_1 L_1'(z))``: the ratio of the two classes'
    gradients (``L_0' >= 0``, ``L_1' <= 0``), zero where ``p <= clip`` (there the negatives
    do not pull, so a risk minimiser with ``eta > 0`` never sits there). ``alpha``:
    ``[a_0, a_1]``, or ``(2, L)`` per label. For the symmetric loss this is the CVPR 2021
    formula of :func:`gbfocal.focal_posterior`.
    """
    a0 = 1.0 if alpha is None else alpha[0]
    a1 = 1.0 if alpha is None else alpha[1]
    zeros, ones = np.zeros(z.shape, np.int8), np.ones(z.shape, np.int8)
    flat = z.reshape(-1)
    g0 = asym_grad_hess(spec, zeros.reshape(-1), flat, None, None)[0].reshape(z.shape)
    g1 = asym_grad_hess(spec, ones.reshape(-1), flat, None, None)[0].reshape(z.shape)
    with np.errstate(divide="ignore"):
        log_odds = (np.log(a0 * g0) - np.log(-a1 * g1))
    return np.clip(np.nan_to_num(log_odds, nan=0.0), -_LOG_ODDS_BOUND, _LOG_ODDS_BOUND)


