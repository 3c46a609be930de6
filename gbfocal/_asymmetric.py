r"""Asymmetric focal loss for a sigmoid output, written once for any NumPy-compatible module.

The asymmetric loss ("ASL") of Ridnik, Ben-Baruch, Zamir, Noy, Friedman, Protter and
Zelnik-Manor, *Asymmetric Loss For Multi-Label Classification*, ICCV 2021 (arXiv:2009.14119),
focuses positives and negatives with separate exponents and discards easy negatives with a
hard threshold (the "probability margin" ``clip``). Like :mod:`gbfocal._math`, every array
operation goes through ``xp`` (``numpy`` or ``cupy``) and the inputs are already checked:
``y`` 0/1 labels, ``z`` finite float64 margins, ``alpha`` ``None`` or the ``(2,)`` class
weights ``[a_neg, a_pos]``, ``weight`` ``None`` or ``(n,)`` non-negative row weights,
``gamma_pos, gamma_neg >= 0`` and ``0 <= clip < 1`` (Python floats).

Notation and definition
-----------------------
``p = sigmoid(z)``, ``q = 1 - p``, ``l = log p``, ``c = clip``, ``a = alpha[y]``, and for the
negatives the shifted probability ``m = p_m = max(p - c, 0)`` with ``w = 1 - m = q + c``::

    y = 1:  L = -a q^g+ log p
    y = 0:  L = -a m^g- log(1 - m)          (L = 0 where p <= c)

Derivatives
-----------
Positives are the binary focal loss of :mod:`gbfocal._math` with ``u = z``::

    dL/dz   = a q^g (g p l - q)
    d2L/dz2 = a p q^g ((2g + 1) q + g l (q - g p))

Negatives, ``p > c``: the chain rule through ``m`` (``dm/dz = dp/dz = p q``,
``d2m/dz2 = p q (1 - 2p) = p q (q - p)``) with ``L(m) = -a m^g log w``::

    dL/dm   = a (m^g / w - g m^(g-1) log w)
    d2L/dm2 = a (m^g / w^2 + 2 g m^(g-1) / w - g (g - 1) m^(g-2) log w)
    dL/dz   = p q dL/dm
    d2L/dz2 = (p q)^2 d2L/dm2 + p q (q - p) dL/dm

which are evaluated as (``rho = q / w``, ``s = q - p c / w``, ``r = p q / m``,
``K = -r log w``, all finite; ``p rho s`` is ``p^2 rho^2 + (q - p) p rho`` without its
cancellation as ``p -> 1``)::

    dL/dz   = a m^g (p rho + g K)
    d2L/dz2 = a m^g (p rho s + g ((q - p) K + r (2 p rho + (g - 1) K)))

With ``c = 0`` (so ``m = p``, ``w = q``, ``rho = 1``, ``r = q``) these are the binary focal
formulas with ``u = -z``; with ``g = 0`` as well, log loss (gradient ``p``, Hessian ``p q``).

The kink at ``p = c``
---------------------
Below the threshold the loss, gradient and Hessian are exactly 0. At ``p = c`` (``m = 0``)
the functions return these left-hand values (0, 0, 0), since ``max(p - c, 0)`` is 0 there.
The right-hand limits are: loss 0 (the loss is continuous for every ``g-``); gradient 0 for
``g- > 0`` but ``a c (1 - c)`` for ``g- = 0`` (the gradient jumps); Hessian ``+inf`` for
``0 < g- < 1`` (it grows like ``m^(g-1)``), ``2 a (c (1 - c))^2`` for ``g- = 1``,
``a c (1 - c) (1 - c - c^2)`` for ``g- = 0`` and 0 for ``g- > 1`` (continuous). So the
Hessian at the kink is one-sided; the left-hand value is the only one that is always finite.

Positive Hessian
----------------
``positive=True`` returns ``max(exact, curvature, tiny)`` with the loss's own focal-weighted
log-loss curvature as the curvature: ``a q^g+ p q`` for positives (as in :mod:`gbfocal._math`)
and ``a m^g- p q`` for negatives above the threshold. The exact Hessian is negative on hard
rows (and, through the shift, even for ``g- = 0``: ``q^2 + c (q - p) < 0`` for ``p`` near 1),
where a Newton step would go the wrong way. Rows below the threshold carry no information
(gradient 0, curvature 0): ``positive=False`` gives them Hessian 0, ``positive=True`` the
floor ``tiny``, so every row of positive weight has a strictly positive Hessian and Newton
steps stay defined; their contribution to a leaf's Hessian sum is negligible. As in
:mod:`gbfocal._math`, the floor is applied again after the row weight ``alpha[y] * weight``
on rows of positive weight, and rows of weight 0 contribute exactly 0.

Numerical stability
-------------------
``log p`` and ``log q`` come from one ``exp`` and one ``log1p`` of ``-|z|``; ``q`` is
``exp(log q)``, never ``1 - p``, and ``w = q + c`` is a sum, never ``1 - m``. ``log w`` is
``log1p(-m)`` where ``m <= 1/2`` (so that ``log(w) / m`` is accurate for small ``m``) and
``log(q + c)`` elsewhere, or ``log q`` itself for ``c = 0``. ``q / w`` is
``exp(log q - log w)`` (``1 / w`` alone overflows for ``c = 0`` and large ``z``), ``1 - 2p``
is ``-tanh(z / 2)``, and gradient and Hessian clip ``z`` at ``MARGIN_CLIP`` (as
:mod:`gbfocal._math` does), so any finite margin gives finite results without warnings.
``m = p - c`` itself is an inherent cancellation: near the kink its relative error is about
``eps p / m`` (that of ``p`` magnified), which is why the tests keep away from it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._math import MARGIN_CLIP, TINY, log_sigmoid_pair, row_weight, weighted

__all__ = ["asymmetric_grad_hess", "asymmetric_loss"]


def _shifted(
    xp: Any, p: Any, log_p: Any, q: Any, log_q: Any, clip: float
) -> tuple[Any, Any, Any, Any]:
    """Negatives' ``active = m > 0``, ``log m``, ``log w`` and ``r = p q / m``.

    On inactive rows the values are finite placeholders (``m = 1/2``): every caller masks
    them with ``active``, and the placeholders keep ``log`` and the division warning-free.
    """
    if clip == 0.0:
        # m = p, w = q exactly: no division, and log m = log p stays finite where p underflows
        return p > 0.0, log_p, log_q, q
    m = p - clip  # the one inherent cancellation (relative error eps p / m near the kink)
    active = m > 0.0
    m = xp.where(active, m, 0.5)
    # log1p(-m) for small m keeps log(w) / m accurate; log(q + c) never rounds w = 1 - m
    # (the minimum: m may round to 1 for a tiny clip, and both branches are evaluated)
    log_w = xp.where(m <= 0.5, xp.log1p(-xp.minimum(m, 0.5)), xp.log(q + clip))
    return active, xp.log(m), log_w, p * q / m


def asymmetric_loss(
    xp: Any,
    y: Any,
    z: Any,
    alpha: Any,
    weight: Any,
    gamma_pos: float,
    gamma_neg: float,
    clip: float,
) -> Any:
    r"""Per-row asymmetric focal loss ``(n,)``, float64 (Ridnik et al., ICCV 2021).

    .. math::

        L = -a_1 (1 - p)^{\gamma_+} \log p \quad (y = 1), \qquad
        L = -a_0 p_m^{\gamma_-} \log(1 - p_m) \quad (y = 0),

    with ``p = sigmoid(z)`` and ``p_m = max(p - clip, 0)`` (so ``L = 0`` where
    ``p <= clip``), times the row weight. Like :func:`gbfocal._math.binary_loss` the margin
    is not clipped: the loss of a positive row at ``z = -1e308`` is ``1e308``.

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy``; all arrays live on its device.
    y : array of int, shape (n,)
        Labels in {0, 1}.
    z : array of float64, shape (n,)
        Finite raw margins.
    alpha : array of float64, shape (2,), or None
        Class weights ``[a_neg, a_pos]`` (None: both 1).
    weight : array of float64, shape (n,), or None
        Non-negative row weights.
    gamma_pos, gamma_neg : float
        Focusing exponents (>= 0) of the positives and the negatives.
    clip : float
        Probability margin in [0, 1) subtracted from ``p`` on negatives.

    Returns
    -------
    array of float64, shape (n,)
        ``alpha[y] * weight * L``.
    """
    with np.errstate(under="ignore", over="ignore"):  # q**g -> 0, and a loss beyond 1e308
        log_p, log_q = log_sigmoid_pair(xp, z)
        p, q = xp.exp(log_p), xp.exp(log_q)
        loss_pos = -xp.exp(gamma_pos * log_q) * log_p
        active, log_m, log_w, _ = _shifted(xp, p, log_p, q, log_q, clip)
        loss_neg = xp.where(active, -xp.exp(gamma_neg * log_m) * log_w, 0.0)
        loss = xp.where(y == 1, loss_pos, loss_neg)
        row = row_weight(y, alpha, weight)
        return loss if row is None else loss * row


def asymmetric_grad_hess(
    xp: Any,
    y: Any,
    z: Any,
    alpha: Any,
    weight: Any,
    gamma_pos: float,
    gamma_neg: float,
    clip: float,
    positive: bool,
) -> tuple[Any, Any]:
    r"""Gradient and Hessian ``(n,)`` of :func:`asymmetric_loss` with respect to ``z``.

    With ``q = 1 - p``, ``l = log p``, ``a = alpha[y]`` and, on negatives, ``c = clip``,
    ``m = p - c``, ``w = q + c``, ``rho = q / w``, ``s = q - p c / w``, ``r = p q / m``,
    ``K = -r log w``:

    .. math::

        y = 1:\quad & \partial_z L = a q^{g} (g p l - q), \quad
        \partial_z^2 L = a p q^{g} ((2g + 1) q + g l (q - g p)) \\
        y = 0,\ p > c:\quad & \partial_z L = a m^{g} (p \rho + g K), \\
        & \partial_z^2 L = a m^{g} (p \rho s + g ((q - p) K + r (2 p \rho + (g - 1) K))) \\
        y = 0,\ p \le c:\quad & \partial_z L = \partial_z^2 L = 0

    (``g`` is ``gamma_pos`` for positives and ``gamma_neg`` for negatives; the derivation
    by the chain rule through ``m`` is in the module docstring). At the kink ``p = clip``
    the left-hand values (0) are returned; the Hessian there is one-sided (its right-hand
    limit is infinite for ``0 < gamma_neg < 1``).

    Parameters
    ----------
    xp, y, z, alpha, weight, gamma_pos, gamma_neg, clip
        As in :func:`asymmetric_loss`.
    positive : bool
        False: the exact second derivative. True: ``max(exact, curvature, tiny)`` with the
        focal-weighted log-loss curvature ``a q^gamma_pos p q`` (positives) or
        ``a m^gamma_neg p q`` (negatives, 0 below the threshold), floored at ``tiny`` again
        after the row weight on rows of positive weight; rows below the threshold get
        ``tiny``, rows of weight 0 exactly 0.

    Returns
    -------
    grad, hess : arrays of float64, shape (n,)
        Weighted by ``alpha[y] * weight``.
    """
    with np.errstate(under="ignore"):  # affects NumPy only; CuPy never warns
        z = xp.clip(z, -MARGIN_CLIP, MARGIN_CLIP)  # no 0 * inf near the float64 maximum
        log_p, log_q = log_sigmoid_pair(xp, z)
        p, q = xp.exp(log_p), xp.exp(log_q)

        g = gamma_pos
        q_g = xp.exp(g * log_q)
        grad_pos = q_g * (g * p * log_p - q)
        hess_pos = p * q_g * ((2.0 * g + 1.0) * q + g * log_p * (q - g * p))

        g = gamma_neg
        active, log_m, log_w, r = _shifted(xp, p, log_p, q, log_q, clip)
        m_g = xp.exp(g * log_m)
        rho = xp.exp(log_q - log_w)  # q / w in (0, 1]; 1 / w alone overflows for clip = 0
        k = -log_w * r  # lambda p q with lambda = -log(w) / m >= 1; r first: q may be 0
        pull = p * rho + g * k  # p q dL/dm / (a m^g)
        # p^2 rho^2 + (q - p) p rho = p rho s with s = q - p c / w (1 - rho = c / w): summed
        # as written it would be 1 - 1 + q^2 for c = 0, p -> 1, a total loss of the Hessian
        s = q if clip == 0.0 else q - p * (clip / (q + clip))
        one_minus_2p = -xp.tanh(0.5 * z)  # q - p without cancellation
        hess_neg = m_g * (
            p * rho * s + g * (one_minus_2p * k + r * (2.0 * p * rho + (g - 1.0) * k))
        )
        grad = xp.where(y == 1, grad_pos, xp.where(active, m_g * pull, 0.0))
        hess = xp.where(y == 1, hess_pos, xp.where(active, hess_neg, 0.0))
        if positive:
            curvature = xp.where(y == 1, q_g, xp.where(active, m_g, 0.0)) * (p * q)
            hess = xp.maximum(xp.maximum(hess, curvature), TINY)
    return weighted(xp, y, alpha, weight, grad, hess, positive)
