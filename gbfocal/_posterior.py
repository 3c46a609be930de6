r"""Class-posterior probabilities of a focal-loss model, from its raw margins.

Focal loss is not a proper scoring rule: the sigmoid / softmax ``q`` of a model that
minimises the (alpha-weighted) focal risk is *not* the class posterior ``eta``, it is
pulled towards 1/2 (towards uniform for softmax). The minimiser has a closed form
(Charoenphakdee, Vongkulbhisal, Chairatanakul & Sugiyama, "On Focal Loss for
Class-Posterior Probability Estimation: A Theoretical Perspective", CVPR 2021).

Derivation. With class weights ``a_i`` and ``phi(q) = -(1 - q)^g log q`` the
pointwise focal risk at ``x`` is ``R(q) = sum_i eta_i a_i phi(q_i)`` over the
simplex. ``phi'(q) -> -inf`` as ``q -> 0``, so a minimiser is interior, and the
Lagrange condition ``eta_i a_i phi'(q_i) = lambda`` (the same for every ``i``) gives
``eta_i \propto 1 / (a_i |phi'(q_i)|)`` with

    |phi'(q)| = (1 - q)^(g - 1) ((1 - q) / q - g log q),

so ``eta_i = w_i / sum_j w_j`` with

    w_i = q_i (1 - q_i)^(1 - g) / (a_i ((1 - q_i) - g q_i log q_i)).

Binary is the case ``K = 2`` (``q_1 = sigmoid(z)``). ``g = 0`` gives
``w_i = q_i / a_i``: the usual prior-shift correction of a class-weighted log loss.

Everything is computed in logs from the margins: ``log q_i``, ``log(1 - q_i)`` (never
as ``1 - q``) and ``log(-log q_i)`` (from ``log(1 - q_i)`` when ``q_i > 1/2``, where
``-log q_i ~ 1 - q_i`` would underflow), so any finite margin and any ``gamma >= 0``
give finite probabilities without floating-point warnings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from . import _validation as v
from ._spec import FocalSpec

__all__ = ["focal_posterior"]

_LOG_HALF = -np.log(2.0)
# Margins (binary) and margin differences to the top class (softmax) are clipped here:
# beyond it every probability is exactly 0 or 1 in float64 whatever alpha (a log-weight
# ratio is at most ~1,500) and gamma (which only sharpens), and the clip keeps products
# such as (1 - gamma) log(1 - q) finite.
_MARGIN_CLIP = 1e5
# log w is clipped here before normalising: a class whose log-weight exceeds every other
# by more than ~745 gets probability 1 either way, and the clip keeps inf - inf out.
_LOG_WEIGHT_CLIP = 1e300


def _log_minus_log_q(log_q: np.ndarray, log_1mq: np.ndarray) -> np.ndarray:
    """``log(-log q)`` for ``q`` in (0, 1), stable at both ends.

    For ``q <= 1/2``, ``-log q >= log 2`` and its log is direct. For ``q > 1/2`` write
    ``m = 1 - q < 1/2``: ``-log q = -log1p(-m) = m r(m)`` with ``r(m) = -log1p(-m)/m``
    in [1, 2 log 2], so ``log(-log q) = log m + log r(m)``, finite even when ``m``
    underflows (``r(0) = 1``).
    """
    small_q = log_q <= _LOG_HALF
    direct = np.log(np.where(small_q, -log_q, 1.0))
    m = np.exp(np.where(small_q, _LOG_HALF, log_1mq))
    positive = m > 0
    ratio = np.where(positive, -np.log1p(-m) / np.where(positive, m, 1.0), 1.0)
    via_m = log_1mq + np.log(ratio)
    return np.where(small_q, direct, via_m)


def _log_weights(
    log_q: np.ndarray, log_1mq: np.ndarray, log_alpha: np.ndarray | None, gamma: float
) -> np.ndarray:
    """``log w_i`` of the module docstring, elementwise (``log_alpha`` broadcasts)."""
    if gamma == 0.0:
        log_w = log_q.copy()
    else:
        # log((1 - q) + g q (-log q)): both terms are >= 0, so logaddexp does not cancel.
        log_d = np.logaddexp(
            log_1mq, np.log(gamma) + log_q + _log_minus_log_q(log_q, log_1mq)
        )
        with np.errstate(over="ignore"):  # a huge gamma: +inf, clipped below
            log_w = log_q + (1.0 - gamma) * log_1mq - log_d
    if log_alpha is not None:
        log_w = log_w - log_alpha
    return np.clip(log_w, -_LOG_WEIGHT_CLIP, _LOG_WEIGHT_CLIP)


def _softmax_logs(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log q`` and ``log(1 - q)`` of ``softmax(z)`` per row, without forming ``1 - q``.

    With ``S = sum_{j != top} exp(z_j - z_top)`` (``log S`` by logsumexp, so it never
    underflows): ``log q_top = -log1p(S)``, ``log(1 - q_top) = log S - log1p(S)``; every
    other class has ``q_j <= 1/2`` and ``log(1 - q_j) = log1p(-q_j)`` is exact.
    """
    n = z.shape[0]
    rows = np.arange(n)
    top = np.argmax(z, axis=1)
    with np.errstate(over="ignore"):  # margins near the float64 maximum: -inf, clipped
        shifted = np.maximum(z - z[rows, top][:, None], -_MARGIN_CLIP)
    others = shifted.copy()
    others[rows, top] = -np.inf
    log_s = special.logsumexp(others, axis=1)
    log1p_s = np.logaddexp(0.0, log_s)  # log(1 + S)
    log_q = shifted - log1p_s[:, None]
    with np.errstate(under="ignore"):
        log_1mq = np.log1p(-np.exp(np.minimum(log_q, _LOG_HALF)))
    # Every class tied with the top one gets the top's value, so that exact ties of the
    # margins stay exact ties of the posterior (argmax agrees with decision_function).
    tied = shifted == 0.0
    log_1mq[tied] = np.broadcast_to((log_s - log1p_s)[:, None], shifted.shape)[tied]
    return log_q, log_1mq


def check_posterior_alpha(alpha: Any, n_classes: int) -> np.ndarray | None:
    """Resolved class weights: None, a binary float, or one positive weight per class.

    Validated by :meth:`gbfocal._spec.FocalSpec.create` (the loss functions' rules), plus
    the posterior's own: "balanced" is not resolved weights, and every weight must be > 0.
    """
    spec = FocalSpec.create(alpha=alpha, n_classes=n_classes, binary=n_classes == 2)
    if spec.needs_labels:
        raise ValueError(
            f"alpha={alpha!r} is resolved from training labels and cannot be used here: pass "
            "the resolved weights (loss.alpha_ or estimator.loss_.alpha_)"
        )
    return positive_weights(spec.class_weights())


def positive_weights(alpha: np.ndarray | None) -> np.ndarray | None:
    """Resolved (already validated) class weights, refused unless every one is > 0."""
    if alpha is not None and (alpha <= 0).any():
        raise ValueError(
            f"alpha must be positive for every class to recover probabilities: a class of "
            f"weight 0 does not enter the focal risk, so its posterior is undefined; got {alpha!r}"
        )
    return alpha


def focal_posterior(raw_score: Any, *, alpha: Any = None, gamma: float = 2.0) -> np.ndarray:
    r"""Class-posterior probabilities of a model trained with focal loss.

    Parameters
    ----------
    raw_score : array-like of shape (n_samples,) or (n_samples, n_classes)
        Raw margins of the model (initial score included): binary log-odds ``(n,)``, or
        softmax logits ``(n, K)``.
    alpha : None, float in [0, 1] or array-like of shape (n_classes,), default=None
        The *resolved* class weights the model was trained with (``loss.alpha_``), with
        the meaning they have in the loss functions: None is 1 for every class, a float
        ``a`` (binary) is ``[1 - a, a]``. Every weight must be positive. ``"balanced"``
        is rejected: it depends on the training labels.
    gamma : float >= 0, default=2.0
        The focusing parameter the model was trained with.

    Returns
    -------
    proba : ndarray of shape (n_samples,) or (n_samples, n_classes)
        Binary: the probability of the positive class. Multiclass: rows summing to 1.

    Notes
    -----
    With ``q = sigmoid(z)`` (binary) or ``softmax(z)``, the minimiser of the weighted
    focal risk ``sum_i eta_i a_i phi(q_i)``, ``phi(q) = -(1 - q)^gamma log q``, satisfies
    ``eta_i = w_i / sum_j w_j`` with

    .. math:: w_i = \frac{q_i (1 - q_i)^{1 - \gamma}}{a_i ((1 - q_i) - \gamma q_i \log q_i)}

    (Charoenphakdee et al., CVPR 2021). The map is computed in logs from the margins.
    ``gamma = 0`` with ``alpha=None`` returns exactly ``sigmoid(z)`` / ``softmax(z)``.
    The correction is exact at the focal risk minimiser; it sharpens probabilities
    (``q`` near 1 maps closer to 1), so a model that overfits its training rows gets
    more overconfident after it.

    Examples
    --------
    >>> import numpy as np
    >>> from gbfocal import focal_posterior
    >>> focal_posterior(np.array([-3.0, 0.0, 3.0]), gamma=0.0).round(4)  # the sigmoid
    array([0.0474, 0.5   , 0.9526])
    >>> round(float(focal_posterior(np.array([1.0]), gamma=2.0)[0]), 4)  # sigmoid(1) = 0.7311
    0.9359

    Where the focal model is indifferent (equal margins), the posterior is the inverse
    class weights, normalised (``[1, 1/2, 1/4] / 1.75``):

    >>> focal_posterior(np.zeros((1, 3)), alpha=[1.0, 2.0, 4.0]).round(4)
    array([[0.5714, 0.2857, 0.1429]])
    """
    g = FocalSpec.create(gamma=gamma).gamma
    z = v.as_float_array(raw_score, "raw_score")
    if z.ndim == 1:
        z = v.check_raw_score_binary(z)
        return special.expit(posterior_log_odds(z, check_posterior_alpha(alpha, 2), g))
    z = v.check_raw_score_multiclass(z, z.shape[0] if z.ndim == 2 else -1)
    a = check_posterior_alpha(alpha, z.shape[1])
    if g == 0.0 and a is None:
        return special.softmax(z, axis=1)  # exactly, not exp(log_softmax)
    return np.exp(log_posterior(z, a, g))


def posterior_log_odds(z: np.ndarray, alpha: np.ndarray | None, gamma: float) -> np.ndarray:
    """Binary: log-odds of the posterior from checked margins ``z`` (``z`` itself when
    ``gamma = 0`` and ``alpha`` is None). ``alpha`` is checked, ``(2,)``, positive."""
    if gamma == 0.0 and alpha is None:
        return z
    z = np.clip(z, -_MARGIN_CLIP, _MARGIN_CLIP)
    log_p = -np.logaddexp(0.0, -z)  # log sigmoid(z)
    log_n = -np.logaddexp(0.0, z)  # log sigmoid(-z)
    log_a = None if alpha is None else np.log(alpha)
    log_w1 = _log_weights(log_p, log_n, None if log_a is None else log_a[1], gamma)
    log_w0 = _log_weights(log_n, log_p, None if log_a is None else log_a[0], gamma)
    return log_w1 - log_w0


def log_posterior(z: np.ndarray, alpha: np.ndarray | None, gamma: float) -> np.ndarray:
    """Multiclass: log posterior ``(n, K)`` from checked margins (``log softmax(z)`` when
    ``gamma = 0`` and ``alpha`` is None). ``alpha`` is checked, ``(K,)``, positive."""
    if gamma == 0.0 and alpha is None:
        return special.log_softmax(z, axis=1)
    log_q, log_1mq = _softmax_logs(z)
    log_w = _log_weights(log_q, log_1mq, None if alpha is None else np.log(alpha), gamma)
    return special.log_softmax(log_w, axis=1)
