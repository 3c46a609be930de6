r"""Focal loss, gradient and Hessian, written once for any NumPy-compatible array module.

This module is the math of the package (the compiled kernels in :mod:`gbfocal._kernels`
are the only other implementation, and :mod:`gbfocal._backend` chooses between them).
Every array operation goes through ``xp``, so the same code runs on the CPU with
``xp = numpy`` (the reference path) and on the GPU with ``xp = cupy``. Inputs are already
checked: ``y`` integer class indices (0/1 for binary), ``z`` finite float64 margins,
``alpha`` the resolved class weights (or None: all ones) and ``weight`` the row weights
(or None), all on the device of ``xp``.

Notation
--------
For one row with true class ``y`` the *target margin* ``u`` is the log-odds of the
true class against all the others:

* binary:      ``u = z`` if ``y = 1`` and ``u = -z`` if ``y = 0``;
* multiclass:  ``u = z_y - logsumexp(z_k, k != y)``.

Then ``p = p_t = sigmoid(u)`` (the probability of the true class), ``q = 1 - p``,
``l = log p`` and the focal loss is ``FL = -a_y q**g l``. Everything is computed from
``log p = log_sigmoid(u)`` and ``log q = log_sigmoid(-u)``, one ``exp`` and one
``log1p`` of ``-|u|``: ``1 - p`` is never formed by subtraction, which is what keeps
small ``gamma`` (``q**(g-1)`` near ``p = 1``) and huge ``|z|`` exact.

Derivatives with respect to ``u`` (and so ``z`` up to the sign ``s = 2y - 1`` for
the binary case; the Hessian does not depend on the sign)::

    dFL/du   = a q^g (g p l - q)
    d2FL/du2 = a p q^g ((2g + 1) q + g l (q - g p))

Multiclass columns ``j != y`` use ``r_j = softmax(z_k, k != y)_j`` (so that
``p_j = q r_j``) and::

    dFL/dz_j   = a q^g r_j (q - g p l)
    d2FL/dz_j2 = a q^g (g p r_j^2 (2q + l (q - (g - 1) p)) + r_j (1 - p_j) (q - g p l))

The *positive* Hessian is ``max(exact, a q^g p_j (1 - p_j), tiny)``: the exact
second derivative wherever it is at least the focal-weighted log-loss curvature,
that curvature otherwise (see the README's design notes), floored at ``tiny`` again
after the row weight on rows of positive weight.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Smallest positive normal float64: keeps the "positive" Hessian strictly positive
# where every formula underflows (|z| in the hundreds), while leaving every
# representable log-loss curvature untouched.
TINY = float(np.finfo(np.float64).tiny)
# Gradient and Hessian clip the target margin u here: beyond it p or 1 - p is exactly
# 0 in float64, so nothing changes, except that products such as gamma * log p (and
# multiclass margins z_y - z_k of scores near the float64 maximum, which overflow to
# -inf) no longer turn into 0 * inf = NaN. The loss itself is not clipped.
MARGIN_CLIP = 1e300


def log_sigmoid_pair(xp: Any, u: Any) -> tuple[Any, Any]:
    """``(log sigmoid(u), log sigmoid(-u))`` with one exp and one log1p."""
    log1p_term = xp.log1p(xp.exp(-xp.abs(u)))
    return -(xp.maximum(-u, 0.0) + log1p_term), -(xp.maximum(u, 0.0) + log1p_term)


def _logsumexp_rows(xp: Any, z: Any) -> Any:
    """Row-wise logsumexp tolerating rows of all ``-inf`` (returns ``-inf``)."""
    m = xp.max(z, axis=1)
    safe_m = xp.where(xp.isfinite(m), m, 0.0)
    with np.errstate(under="ignore", divide="ignore"):
        return safe_m + xp.log(xp.exp(z - safe_m[:, None]).sum(axis=1))


def _target_margin(xp: Any, y: Any, z: Any) -> tuple[Any, Any, Any]:
    """Rows, target margin ``u = z_y - lse(z_k, k != y)`` and ``log r`` (-inf at ``y``)."""
    rows = xp.arange(z.shape[0])
    z_other = z.copy()
    z_other[rows, y] = -xp.inf
    lse_other = _logsumexp_rows(xp, z_other)
    with np.errstate(over="ignore"):  # -inf for scores 1e308 apart (clipped by the callers)
        u = z[rows, y] - lse_other
    return rows, u, z_other - lse_other[:, None]


def row_weight(y: Any, alpha: Any, weight: Any) -> Any:
    """``alpha[y] * weight`` (None when both are None)."""
    row = None if alpha is None else alpha[y]
    if weight is not None:
        row = weight if row is None else row * weight
    return row


def _loss_u(xp: Any, u: Any, gamma: float, row: Any) -> Any:
    log_p, log_q = log_sigmoid_pair(xp, u)
    with np.errstate(under="ignore", over="ignore"):  # q**g -> 0 and a loss beyond 1e308
        loss = -xp.exp(gamma * log_q) * log_p
    return loss if row is None else loss * row


def binary_loss(xp: Any, y: Any, z: Any, alpha: Any, weight: Any, gamma: float) -> Any:
    """Per-row binary focal loss ``(n,)``, float64 (the loss is not clipped)."""
    return _loss_u(xp, xp.where(y == 1, z, -z), gamma, row_weight(y, alpha, weight))


def multiclass_loss(xp: Any, y: Any, z: Any, alpha: Any, weight: Any, gamma: float) -> Any:
    """Per-row softmax focal loss ``(n,)``, float64."""
    _, u, _ = _target_margin(xp, y, z)
    return _loss_u(xp, u, gamma, row_weight(y, alpha, weight))


def _target(xp: Any, u: Any, gamma: float) -> tuple[Any, Any, Any, Any, Any, Any]:
    """``p, q, log p, log q, q**g`` of the true class and ``dFL/du`` (unweighted)."""
    # clipped (MARGIN_CLIP): no 0 * inf near the float64 maximum
    log_p, log_q = log_sigmoid_pair(xp, xp.clip(u, -MARGIN_CLIP, MARGIN_CLIP))
    p, q, q_g = xp.exp(log_p), xp.exp(log_q), xp.exp(gamma * log_q)
    grad_u = q_g * (gamma * p * log_p - q)
    return p, q, log_p, log_q, q_g, grad_u


def _hess_u(p: Any, q: Any, log_p: Any, q_g: Any, gamma: float) -> Any:
    """Exact ``d2FL/du2`` (unweighted)."""
    return p * q_g * ((2.0 * gamma + 1.0) * q + gamma * log_p * (q - gamma * p))


def weighted(
    xp: Any, y: Any, alpha: Any, weight: Any, grad: Any, hess: Any, positive: bool
) -> tuple[Any, Any]:
    row = row_weight(y, alpha, weight)
    if row is None:
        return grad, hess
    if grad.ndim == 2:
        row = row[:, None]
    hess = hess * row
    if positive:  # the floor again after the weight: a weight < 1 can take tiny below it
        hess = xp.where(row > 0, xp.maximum(hess, TINY), hess)
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
            hess = xp.maximum(xp.maximum(hess, q_g * p * q), TINY)
    return weighted(xp, y, alpha, weight, grad, hess, positive)


def multiclass_grad_hess(
    xp: Any, y: Any, z: Any, alpha: Any, weight: Any, gamma: float, positive: bool
) -> tuple[Any, Any]:
    """Softmax focal gradient and diagonal Hessian ``(n, K)``, float64."""
    with np.errstate(under="ignore", divide="ignore"):
        rows, u, log_r = _target_margin(xp, y, z)
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
            hess = xp.maximum(xp.maximum(hess, q_g * p_j * one_minus_pj), TINY)
    return weighted(xp, y, alpha, weight, grad, hess, positive)


def _one_minus_r(xp: Any, z: Any, y: Any, rows: Any, log_r: Any) -> Any:
    """``1 - r_j`` for every column, exact also for the dominant non-target class.

    ``-expm1(log r_j)`` is accurate where ``r_j <= 1/2``; at most one column (the
    largest non-target score) can exceed that, and there ``1 - r_m`` is the softmax
    mass of the remaining classes, computed from their own logsumexp.
    """
    one_minus = -xp.expm1(log_r)
    z_rest = z.copy()
    z_rest[rows, y] = -xp.inf
    m = xp.argmax(z_rest, axis=1)
    z_rest[rows, m] = -xp.inf
    lse_rest = _logsumexp_rows(xp, z_rest)  # -inf for K = 2: then 1 - r_m = 0 exactly
    lse_other = z[rows, m] - log_r[rows, m]
    with np.errstate(under="ignore"):
        one_minus[rows, m] = xp.exp(lse_rest - lse_other)
    return one_minus
