"""Focal-loss gradient and Hessian written once for any NumPy-compatible array module.

The formulas and the numerically stable evaluation are those of the NumPy reference
path in :mod:`gbfocal._focal` (see its module docstring for the notation); here every
array operation goes through ``xp``, so the same code runs on the GPU with
``xp = cupy`` and on the CPU with ``xp = numpy`` (which is how the tests check it
against :mod:`gbfocal._focal`). Inputs are already checked: ``y`` integer class
indices, ``z`` finite float64 margins, ``alpha`` the resolved class weights (or None)
and ``weight`` the row weights (or None), all on the device of ``xp``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._focal import _MARGIN_CLIP

# Same floor as gbfocal._focal._TINY: keeps the "positive" Hessian strictly positive.
_TINY = float(np.finfo(np.float64).tiny)


def _log_sigmoid_pair(xp: Any, u: Any) -> tuple[Any, Any]:
    """``(log sigmoid(u), log sigmoid(-u))`` with one exp and one log1p."""
    log1p_term = xp.log1p(xp.exp(-xp.abs(u)))
    return -(xp.maximum(-u, 0.0) + log1p_term), -(xp.maximum(u, 0.0) + log1p_term)


def _logsumexp_rows(xp: Any, z: Any) -> Any:
    """Row-wise logsumexp tolerating rows of all ``-inf`` (returns ``-inf``)."""
    m = xp.max(z, axis=1)
    safe_m = xp.where(xp.isfinite(m), m, 0.0)
    return safe_m + xp.log(xp.exp(z - safe_m[:, None]).sum(axis=1))


def _target(xp: Any, u: Any, gamma: float) -> tuple[Any, Any, Any, Any, Any, Any]:
    """``p, q, log p, log q, q**g`` of the true class and ``dFL/du`` (unweighted)."""
    # clipped as in gbfocal._focal (_MARGIN_CLIP): no 0 * inf near the float64 maximum
    log_p, log_q = _log_sigmoid_pair(xp, xp.clip(u, -_MARGIN_CLIP, _MARGIN_CLIP))
    p, q, q_g = xp.exp(log_p), xp.exp(log_q), xp.exp(gamma * log_q)
    grad_u = q_g * (gamma * p * log_p - q)
    return p, q, log_p, log_q, q_g, grad_u


def _hess_u(p: Any, q: Any, log_p: Any, q_g: Any, gamma: float) -> Any:
    """Exact ``d2FL/du2`` (unweighted)."""
    return p * q_g * ((2.0 * gamma + 1.0) * q + gamma * log_p * (q - gamma * p))


def _weighted(
    xp: Any, y: Any, alpha: Any, weight: Any, grad: Any, hess: Any, positive: bool
) -> tuple[Any, Any]:
    row = None if alpha is None else alpha[y]
    if weight is not None:
        row = weight if row is None else row * weight
    if row is None:
        return grad, hess
    if grad.ndim == 2:
        row = row[:, None]
    hess = hess * row
    if positive:  # the floor again after the weight, as gbfocal._focal._floor_weighted
        hess = xp.where(row > 0, xp.maximum(hess, _TINY), hess)
    return grad * row, hess


def binary_grad_hess(
    xp: Any, y: Any, z: Any, alpha: Any, weight: Any, gamma: float, positive: bool
) -> tuple[Any, Any]:
    """Binary focal gradient and Hessian ``(n,)``, float64, on the device of ``xp``."""
    with np.errstate(under="ignore"):  # affects NumPy only; CuPy never warns
        u = xp.where(y == 1, z, -z)
        p, q, log_p, _, q_g, grad_u = _target(xp, u, gamma)
        grad = xp.where(y == 1, grad_u, -grad_u)
        hess = _hess_u(p, q, log_p, q_g, gamma)
        if positive:
            hess = xp.maximum(xp.maximum(hess, q_g * p * q), _TINY)
    return _weighted(xp, y, alpha, weight, grad, hess, positive)


def multiclass_grad_hess(
    xp: Any, y: Any, z: Any, alpha: Any, weight: Any, gamma: float, positive: bool
) -> tuple[Any, Any]:
    """Softmax focal gradient and diagonal Hessian ``(n, K)``, float64."""
    with np.errstate(under="ignore", divide="ignore"):
        rows = xp.arange(z.shape[0])
        z_other = z.copy()
        z_other[rows, y] = -xp.inf
        lse_other = _logsumexp_rows(xp, z_other)
        u = z[rows, y] - lse_other
        log_r = z_other - lse_other[:, None]  # -inf in the target column
        p1, q1, log_p1, log_q1, q_g1, grad_u = _target(xp, u, gamma)
        p, q, log_pt, q_g = p1[:, None], q1[:, None], log_p1[:, None], q_g1[:, None]
        r = xp.exp(log_r)
        p_j = xp.exp(log_q1[:, None] + log_r)
        one_minus_pj = p + q * _one_minus_r(xp, z, y, rows, log_r)  # no cancellation

        pull = q - gamma * p * log_pt
        grad = q_g * r * pull
        curvature = 2.0 * q + log_pt * (q - (gamma - 1.0) * p)
        hess = q_g * (gamma * p * r * r * curvature + r * one_minus_pj * pull)
        grad[rows, y] = grad_u
        hess[rows, y] = _hess_u(p1, q1, log_p1, q_g1, gamma)
        if positive:
            p_j[rows, y] = p1
            one_minus_pj[rows, y] = q1
            hess = xp.maximum(xp.maximum(hess, q_g * p_j * one_minus_pj), _TINY)
    return _weighted(xp, y, alpha, weight, grad, hess, positive)


def _one_minus_r(xp: Any, z: Any, y: Any, rows: Any, log_r: Any) -> Any:
    """``1 - r_j``, exact also for the dominant non-target class (as in gbfocal._focal)."""
    one_minus = -xp.expm1(log_r)
    z_rest = z.copy()
    z_rest[rows, y] = -xp.inf
    m = xp.argmax(z_rest, axis=1)
    z_rest[rows, m] = -xp.inf
    lse_rest = _logsumexp_rows(xp, z_rest)  # -inf for K = 2: then 1 - r_m = 0 exactly
    lse_other = z[rows, m] - log_r[rows, m]
    one_minus[rows, m] = xp.exp(lse_rest - lse_other)
    return one_minus
