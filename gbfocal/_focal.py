r"""Focal loss with its analytic gradient and Hessian, in pure NumPy.

This module is the math of the package and imports no machine-learning library.

Notation used throughout
------------------------
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
that curvature otherwise (see the README's design notes).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import _validation as v

# Smallest positive normal float64: keeps the "positive" Hessian strictly positive
# where every formula underflows (|z| in the hundreds), while leaving every
# representable log-loss curvature untouched.
_TINY = np.finfo(np.float64).tiny
# Gradient and Hessian clip the target margin u here: beyond it p or 1 - p is exactly
# 0 in float64, so nothing changes, except that products such as gamma * log p (and
# multiclass margins z_y - z_k of scores near the float64 maximum, which overflow to
# -inf) no longer turn into 0 * inf = NaN. The loss itself is not clipped.
_MARGIN_CLIP = 1e300


# --------------------------------------------------------------------------- backend
_KERNELS: Any = None  # gbfocal._kernels once imported; False if numba is unavailable


def _compiled() -> Any:
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


# --------------------------------------------------------------------------- helpers
def _log_sigmoid_pair(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(log sigmoid(u), log sigmoid(-u))`` with one exp and one log1p."""
    log1p_term = np.log1p(np.exp(-np.abs(u)))
    log_p = -(np.maximum(-u, 0.0) + log1p_term)
    log_q = -(np.maximum(u, 0.0) + log1p_term)
    return log_p, log_q


def _logsumexp_rows(z: np.ndarray) -> np.ndarray:
    """Row-wise logsumexp that tolerates rows of all ``-inf`` (returns ``-inf``)."""
    m = np.max(z, axis=1)
    safe_m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(under="ignore"):
        total = np.exp(z - safe_m[:, None]).sum(axis=1)
    with np.errstate(divide="ignore"):
        return safe_m + np.log(total)


def _target_terms(
    log_p: np.ndarray, log_q: np.ndarray, gamma: float
) -> dict[str, np.ndarray]:
    """Shared pieces of the binary and multiclass formulas (all unweighted)."""
    with np.errstate(under="ignore"):
        p = np.exp(log_p)
        q = np.exp(log_q)
        q_g = np.exp(gamma * log_q)  # q**gamma without forming q**(gamma - 1)
    return {"p": p, "q": q, "l": log_p, "q_g": q_g}


def _target_grad(t: dict[str, np.ndarray], gamma: float) -> np.ndarray:
    """dFL/du (unweighted): q^g (g p l - q). Both terms are <= 0: no cancellation."""
    return t["q_g"] * (gamma * t["p"] * t["l"] - t["q"])


def _target_hess_exact(t: dict[str, np.ndarray], gamma: float) -> np.ndarray:
    p, q, log_p, q_g = t["p"], t["q"], t["l"], t["q_g"]
    return p * q_g * ((2.0 * gamma + 1.0) * q + gamma * log_p * (q - gamma * p))


def _positive(h_exact: np.ndarray, curvature: np.ndarray) -> np.ndarray:
    return np.maximum(np.maximum(h_exact, curvature), _TINY)


# --------------------------------------------------------------------------- alpha
def balanced_alpha(
    y_true: Any, n_classes: int | None = None, sample_weight: Any = None
) -> np.ndarray:
    """Per-class weights ``n / (K * n_c)`` from the labels (scikit-learn's "balanced").

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Class indices ``0..K-1`` (binary labels 0/1 included).
    n_classes : int, default=None
        Number of classes ``K``; inferred as ``max(y_true) + 1`` (at least 2) when None.
    sample_weight : array-like of shape (n_samples,), default=None
        When given, ``n`` and ``n_c`` are weighted counts.

    Returns
    -------
    alpha : ndarray of shape (n_classes,)
        ``alpha[c] = n / (K * n_c)``; the weighted mean of ``alpha[y]`` over the rows is 1.

    Raises
    ------
    ValueError
        If a class has no (weighted) samples, its weight would be infinite.

    Examples
    --------
    >>> import numpy as np
    >>> from gbfocal import balanced_alpha
    >>> y = np.repeat([0, 1, 2], [20_000, 10_000, 5_000])
    >>> balanced_alpha(y).round(4)
    array([0.5833, 1.1667, 2.3333])
    """
    y = v._as_float_array(y_true, "y_true")
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"y_true must be a non-empty 1-D array, got shape {y.shape}")
    if n_classes is None:
        if not np.isfinite(y).all() or (y < 0).any() or (y != np.round(y)).any():
            raise ValueError("y_true must hold class indices 0..K-1")
        n_classes = max(int(y.max()) + 1, 2)
    n_classes = v.check_n_classes(n_classes)
    labels = v.check_multiclass_labels(y, y.shape[0], n_classes)
    weights = v.check_sample_weight(sample_weight, y.shape[0])
    counts = np.bincount(labels, weights=weights, minlength=n_classes).astype(np.float64)
    if (counts <= 0).any():
        missing = np.flatnonzero(counts <= 0).tolist()
        raise ValueError(
            f"alpha='balanced' needs every class to be present in y_true; classes {missing} "
            f"have no samples (or zero total sample_weight)"
        )
    return counts.sum() / (n_classes * counts)


def _resolve_alpha(
    alpha: Any, y: np.ndarray, n_classes: int, sample_weight: np.ndarray | None, *, binary: bool
) -> np.ndarray | None:
    """Turn an alpha specification into one weight per class (None = all ones)."""
    v.check_alpha_spec(alpha, n_classes, binary=binary)
    if alpha is None:
        return None
    if isinstance(alpha, str):  # "balanced", checked above
        return balanced_alpha(y, n_classes, sample_weight)
    if np.ndim(alpha) == 0:  # binary float: Lin et al.'s alpha for the positive class
        return np.array([1.0 - float(alpha), float(alpha)])
    return v.check_alpha_vector(alpha, n_classes)


def _row_weight(
    y: np.ndarray, alpha: np.ndarray | None, sample_weight: np.ndarray | None
) -> np.ndarray | None:
    if alpha is None:
        return sample_weight
    a_t = alpha[y]
    return a_t if sample_weight is None else a_t * sample_weight


def _apply(values: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    if weight is None:
        return np.ascontiguousarray(values, dtype=np.float64)
    w = weight if values.ndim == 1 else weight[:, None]
    return np.ascontiguousarray(values * w, dtype=np.float64)


def _floor_weighted(hess: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    """The positive Hessian's ``tiny`` floor again after the row weight, where that is > 0.

    A weight below 1 can take ``tiny`` (or any positive value) under the smallest normal
    float; rows of weight 0 keep their 0.
    """
    if weight is None:
        return hess
    w = weight if hess.ndim == 1 else weight[:, None]
    return np.where(w > 0, np.maximum(hess, _TINY), hess)


# --------------------------------------------------------------------------- binary
def _binary_checked(y_true, raw_score, alpha, gamma, sample_weight):
    z = v.check_raw_score_binary(raw_score)
    y = v.check_binary_labels(y_true, z.shape[0])
    g = v.check_gamma(gamma)
    w = v.check_sample_weight(sample_weight, z.shape[0])
    return y, z, g, w, _resolve_alpha(alpha, y, 2, w, binary=True)


def _binary_inputs(y_true, raw_score, alpha, gamma, sample_weight):
    y, z, g, w, a = _binary_checked(y_true, raw_score, alpha, gamma, sample_weight)
    u = np.where(y == 1, z, -z)
    return y, u, g, _row_weight(y, a, w)


def binary_focal_loss(
    y_true: Any,
    raw_score: Any,
    *,
    alpha: Any = None,
    gamma: float = 2.0,
    sample_weight: Any = None,
) -> np.ndarray:
    r"""Per-row binary focal loss from raw margins (logits).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels 0/1 (bool, int or float 0.0/1.0); 1 is the positive class.
    raw_score : array-like of shape (n_samples,)
        Raw margins ``z`` (logits), never probabilities.
    alpha : None, float, sequence of 2 floats or "balanced", default=None
        Class weight ``a_t``. None: 1 for both classes. A float ``a`` in [0, 1]: ``a``
        for the positive class and ``1 - a`` for the negative class (Lin et al. 2017).
        A sequence ``[a_negative, a_positive]`` of non-negative weights. "balanced":
        ``n / (2 n_c)`` from ``y_true`` (weighted by ``sample_weight``).
    gamma : float, default=2.0
        Focusing parameter, ``>= 0``; 0 gives (alpha-weighted) log loss.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights; they multiply the result.

    Returns
    -------
    loss : ndarray of shape (n_samples,)
        ``-a_t (1 - p_t)**gamma log(p_t)`` times ``sample_weight``, float64.

    Notes
    -----
    With ``p = sigmoid(z)``, ``p_t = p`` for ``y = 1`` and ``1 - p`` for ``y = 0``:

    .. math:: FL(p_t) = -\alpha_t (1 - p_t)^\gamma \log p_t

    Both ``log p_t`` and ``1 - p_t`` come from the log-sigmoid of ``z``, so the result
    is finite for any finite ``z`` and accurate to a few ulps.

    Lin, Goyal, Girshick, He, Dollar, "Focal Loss for Dense Object Detection",
    ICCV 2017, https://arxiv.org/abs/1708.02002

    Examples
    --------
    >>> from gbfocal import binary_focal_loss
    >>> binary_focal_loss([1, 0], [0.0, 0.0], gamma=0.0).round(6)  # log(2) each
    array([0.693147, 0.693147])
    >>> binary_focal_loss([1, 0], [0.0, 0.0], gamma=2.0).round(6)  # times 0.5**2
    array([0.173287, 0.173287])
    """
    kernels = _compiled()
    if kernels is not None:
        y, z, g, w, a = _binary_checked(y_true, raw_score, alpha, gamma, sample_weight)
        out = np.empty(z.shape[0])
        kernels.binary_loss(y, z, a, w, g, out)
        return out
    _, u, g, w = _binary_inputs(y_true, raw_score, alpha, gamma, sample_weight)
    log_p, log_q = _log_sigmoid_pair(u)
    with np.errstate(under="ignore", over="ignore"):  # q**g -> 0 and a loss beyond 1e308
        loss = -np.exp(g * log_q) * log_p
    return _apply(loss, w)


def binary_focal_grad_hess(
    y_true: Any,
    raw_score: Any,
    *,
    alpha: Any = None,
    gamma: float = 2.0,
    sample_weight: Any = None,
    hessian: str = "positive",
) -> tuple[np.ndarray, np.ndarray]:
    r"""Gradient and Hessian of the binary focal loss with respect to the raw margin.

    Parameters
    ----------
    y_true, raw_score, alpha, gamma, sample_weight
        As in :func:`binary_focal_loss`.
    hessian : {"positive", "exact"}, default="positive"
        "exact": the true second derivative, negative for badly misclassified rows.
        "positive": ``max(exact, a_t (1 - p_t)**gamma p (1 - p), tiny)``, strictly
        positive and finite, equal to the exact Hessian wherever that is at least the
        focal-weighted log-loss curvature; use it for Newton boosting. ``tiny`` (the
        smallest normal float64) also floors the value after ``sample_weight``, on rows
        of positive weight.

    Returns
    -------
    grad : ndarray of shape (n_samples,)
    hess : ndarray of shape (n_samples,)
        float64, C-contiguous, multiplied by ``sample_weight``.

    Notes
    -----
    With ``u = z`` for ``y = 1``, ``u = -z`` for ``y = 0``, ``p = p_t = sigmoid(u)``,
    ``q = 1 - p`` and ``l = log p``:

    .. math::

        \frac{\partial FL}{\partial z} = s\,\alpha_t q^\gamma (\gamma p l - q), \qquad
        \frac{\partial^2 FL}{\partial z^2} = \alpha_t p q^\gamma
            \big((2\gamma + 1) q + \gamma l (q - \gamma p)\big)

    with ``s = 2y - 1``. With ``gamma = 0`` these are ``p - y`` and ``p (1 - p)``.

    Examples
    --------
    >>> from gbfocal import binary_focal_grad_hess
    >>> g, h = binary_focal_grad_hess([1], [0.0], gamma=0.0)
    >>> float(g[0]), float(h[0])
    (-0.5, 0.25)
    """
    hessian = v.check_hessian(hessian)
    kernels = _compiled()
    if kernels is not None:
        y, z, g, w, a = _binary_checked(y_true, raw_score, alpha, gamma, sample_weight)
        grad, hess = np.empty(z.shape[0]), np.empty(z.shape[0])
        kernels.binary_grad_hess(y, z, a, w, g, hessian == "positive", grad, hess)
        return grad, hess
    y, u, g, w = _binary_inputs(y_true, raw_score, alpha, gamma, sample_weight)
    log_p, log_q = _log_sigmoid_pair(np.clip(u, -_MARGIN_CLIP, _MARGIN_CLIP))
    t = _target_terms(log_p, log_q, g)
    grad_u = _target_grad(t, g)
    grad = np.where(y == 1, grad_u, -grad_u)
    hess = _target_hess_exact(t, g)
    if hessian == "positive":
        hess = _positive(hess, t["q_g"] * t["p"] * t["q"])
        return _apply(grad, w), _floor_weighted(_apply(hess, w), w)
    return _apply(grad, w), _apply(hess, w)


def _grad_hess_checked(
    y: np.ndarray,
    z: np.ndarray,
    alpha: np.ndarray | None,
    sample_weight: np.ndarray | None,
    gamma: float,
    positive: bool,
    *,
    binary: bool,
    dtype: Any = np.float64,
    out: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian from inputs the caller has already checked (no re-checks).

    The boosting adapters' per-round path: ``y`` are checked labels (int8 0/1 or intp
    class indices), ``z`` finite float64 margins of the matching shape, ``alpha`` the
    resolved class weights (None: all ones), ``sample_weight`` a checked float64 array
    or None, ``gamma`` checked. ``dtype=np.float32`` makes the kernels store float32
    directly: each value is the float64 result rounded once, exactly what a later
    ``astype(np.float32)`` gives, without the float64 temporaries. ``z`` may also be
    float32 (XGBoost's margins: every float32 is exact in float64, so the result is
    that of ``z.astype(np.float64)``). ``out``: C-contiguous arrays of dtype ``dtype``
    and the shape of ``z`` that the kernels write into (the NumPy path ignores it).
    """
    kernels = _compiled()
    if kernels is None:  # NumPy path: the public function (it re-checks, but is exact)
        fn = binary_focal_grad_hess if binary else multiclass_focal_grad_hess
        grad, hess = fn(y, z, alpha=alpha, gamma=gamma, sample_weight=sample_weight,
                        hessian="positive" if positive else "exact")
        return grad.astype(dtype, copy=False), hess.astype(dtype, copy=False)
    grad, hess = (np.empty(z.shape, dtype), np.empty(z.shape, dtype)) if out is None else out
    if binary:
        kernels.binary_grad_hess(y, z, alpha, sample_weight, gamma, positive, grad, hess)
    else:
        kernels.multiclass_grad_hess(y, z, alpha, sample_weight, gamma, positive, grad, hess)
    return grad, hess


# --------------------------------------------------------------------------- multiclass
def _multiclass_inputs(y_true, raw_score, alpha, gamma, sample_weight, *, resolved=False):
    n = np.shape(y_true)[0] if np.ndim(y_true) >= 1 else 0
    z = v.check_raw_score_multiclass(raw_score, n)
    n_classes = z.shape[1]
    y = v.check_multiclass_labels(y_true, z.shape[0], n_classes)
    g = v.check_gamma(gamma)
    w = v.check_sample_weight(sample_weight, z.shape[0])
    a = _resolve_alpha(alpha, y, n_classes, w, binary=False)
    if resolved:  # what the compiled kernels take: class weights and row weights apart
        return y, z, g, w, a
    return y, z, g, _row_weight(y, a, w)


def _multiclass_margin(y: np.ndarray, z: np.ndarray):
    """Target margin ``u = z_y - lse(z_k, k != y)`` and the log of ``r`` (-inf at y)."""
    rows = np.arange(z.shape[0])
    z_other = z.copy()
    z_other[rows, y] = -np.inf
    lse_other = _logsumexp_rows(z_other)
    with np.errstate(over="ignore"):  # -inf for scores 1e308 apart (clipped by the callers)
        u = z[rows, y] - lse_other
    log_r = z_other - lse_other[:, None]
    return rows, u, log_r


def multiclass_focal_loss(
    y_true: Any,
    raw_score: Any,
    *,
    alpha: Any = None,
    gamma: float = 2.0,
    sample_weight: Any = None,
) -> np.ndarray:
    r"""Per-row softmax focal loss from raw margins.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Class indices ``0..K-1``.
    raw_score : array-like of shape (n_samples, K)
        Raw margins (one column per class, samples in rows), never probabilities.
    alpha : None, sequence of K floats or "balanced", default=None
        Per-class weights ``a_c`` (None: all 1; "balanced": ``n / (K n_c)``). A single
        float is rejected: it only has a meaning for the binary loss.
    gamma : float, default=2.0
        Focusing parameter, ``>= 0``; 0 gives softmax cross-entropy.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights; they multiply the result.

    Returns
    -------
    loss : ndarray of shape (n_samples,)

    Notes
    -----
    .. math:: FL = -\alpha_y (1 - p_y)^\gamma \log p_y, \quad p = \mathrm{softmax}(z)

    ``log p_y`` and ``1 - p_y`` are the log-sigmoid of ``+-(z_y - logsumexp_{k != y} z_k)``.

    Examples
    --------
    >>> import numpy as np
    >>> from gbfocal import multiclass_focal_loss
    >>> multiclass_focal_loss([0], np.zeros((1, 3)), gamma=0.0).round(6)  # log(3)
    array([1.098612])
    """
    kernels = _compiled()
    if kernels is not None:
        y, z, g, w, a = _multiclass_inputs(
            y_true, raw_score, alpha, gamma, sample_weight, resolved=True
        )
        out = np.empty(z.shape[0])
        kernels.multiclass_loss(y, z, a, w, g, out)
        return out
    y, z, g, w = _multiclass_inputs(y_true, raw_score, alpha, gamma, sample_weight)
    _, u, _ = _multiclass_margin(y, z)
    log_p, log_q = _log_sigmoid_pair(u)
    with np.errstate(under="ignore", over="ignore"):  # q**g -> 0 and a loss beyond 1e308
        loss = -np.exp(g * log_q) * log_p
    return _apply(loss, w)


def multiclass_focal_grad_hess(
    y_true: Any,
    raw_score: Any,
    *,
    alpha: Any = None,
    gamma: float = 2.0,
    sample_weight: Any = None,
    hessian: str = "positive",
) -> tuple[np.ndarray, np.ndarray]:
    r"""Gradient and diagonal Hessian of the softmax focal loss, per class.

    Parameters
    ----------
    y_true, raw_score, alpha, gamma, sample_weight
        As in :func:`multiclass_focal_loss`.
    hessian : {"positive", "exact"}, default="positive"
        "exact": the true diagonal of the Hessian. "positive": per entry
        ``max(exact, a_y (1 - p_y)**gamma p_j (1 - p_j), tiny)``, floored at ``tiny``
        again after ``sample_weight`` on rows of positive weight.

    Returns
    -------
    grad : ndarray of shape (n_samples, K)
    hess : ndarray of shape (n_samples, K)
        float64, C-contiguous, samples in rows (the layout LightGBM >= 4 and
        XGBoost expect), multiplied by ``sample_weight``.

    Notes
    -----
    With ``p = p_y``, ``q = 1 - p_y``, ``l = log p_y`` and
    ``r_j = p_j / q = softmax(z_k, k != y)_j``:

    .. math::

        g_y = \alpha_y q^\gamma (\gamma p l - q), \qquad
        g_j = \alpha_y q^\gamma r_j (q - \gamma p l) \quad (j \ne y)

        h_y = \alpha_y p q^\gamma ((2\gamma + 1) q + \gamma l (q - \gamma p))

        h_j = \alpha_y q^\gamma \big(\gamma p r_j^2 (2q + l (q - (\gamma - 1) p))
              + r_j (1 - p_j)(q - \gamma p l)\big)

    With ``gamma = 0`` they reduce to ``p - onehot(y)`` and ``p (1 - p)``.

    Examples
    --------
    >>> import numpy as np
    >>> from gbfocal import multiclass_focal_grad_hess
    >>> g, h = multiclass_focal_grad_hess([0], np.zeros((1, 2)), gamma=0.0)
    >>> g.tolist(), h.tolist()
    ([[-0.5, 0.5]], [[0.25, 0.25]])
    """
    hessian = v.check_hessian(hessian)
    kernels = _compiled()
    if kernels is not None:
        y, z, g, w, a = _multiclass_inputs(
            y_true, raw_score, alpha, gamma, sample_weight, resolved=True
        )
        grad, hess = np.empty(z.shape), np.empty(z.shape)
        kernels.multiclass_grad_hess(y, z, a, w, g, hessian == "positive", grad, hess)
        return grad, hess
    y, z, g, w = _multiclass_inputs(y_true, raw_score, alpha, gamma, sample_weight)
    rows, u, log_r = _multiclass_margin(y, z)
    log_p, log_q = _log_sigmoid_pair(np.clip(u, -_MARGIN_CLIP, _MARGIN_CLIP))
    t = _target_terms(log_p, log_q, g)
    p, q, log_pt, q_g = t["p"][:, None], t["q"][:, None], t["l"][:, None], t["q_g"][:, None]
    with np.errstate(under="ignore"):
        r = np.exp(log_r)  # 0 in the target column
        p_j = np.exp(log_q[:, None] + log_r)
    one_minus_r = _one_minus_r(z, y, rows, log_r)
    one_minus_pj = p + q * one_minus_r  # 1 - p_j = p_y + q (1 - r_j): no cancellation

    pull = q - g * p * log_pt  # >= 0
    grad = q_g * r * pull
    curvature = 2.0 * q + log_pt * (q - (g - 1.0) * p)
    hess = q_g * (g * p * r * r * curvature + r * one_minus_pj * pull)
    grad[rows, y] = _target_grad(t, g)
    hess[rows, y] = _target_hess_exact(t, g)
    if hessian == "positive":
        p_all = p_j
        p_all[rows, y] = t["p"]
        one_minus = one_minus_pj
        one_minus[rows, y] = t["q"]
        hess = _positive(hess, q_g * p_all * one_minus)
        return _apply(grad, w), _floor_weighted(_apply(hess, w), w)
    return _apply(grad, w), _apply(hess, w)


def _one_minus_r(z: np.ndarray, y: np.ndarray, rows: np.ndarray, log_r: np.ndarray) -> np.ndarray:
    """``1 - r_j`` for every column, exact also for the dominant non-target class.

    ``-expm1(log r_j)`` is accurate where ``r_j <= 1/2``; at most one column (the
    largest non-target score) can exceed that, and there ``1 - r_m`` is the softmax
    mass of the remaining classes, computed from their own logsumexp.
    """
    with np.errstate(under="ignore"):
        one_minus = -np.expm1(log_r)  # 1 in the target column (log_r = -inf)
    z_rest = z.copy()
    z_rest[rows, y] = -np.inf
    m = np.argmax(z_rest, axis=1)
    z_rest[rows, m] = -np.inf
    lse_rest = _logsumexp_rows(z_rest)  # -inf when K = 2: then 1 - r_m = 0 exactly
    lse_other = z[rows, m] - log_r[rows, m]
    with np.errstate(under="ignore"):
        one_minus[rows, m] = np.exp(lse_rest - lse_other)
    return one_minus


# --------------------------------------------------------------------------- multi-output
# Several outputs ("aspects") per row, each a softmax over the same K classes, e.g.
# 11 review aspects x {negative, neutral, positive}. The math is the multiclass math
# applied to the labelled (row, output) pairs, flattened to rows of a (pairs, K) array,
# so every property of the multiclass functions (stability, exactness, compiled
# kernels) carries over, and entries equal to ``ignore_label`` are left out entirely.
MULTIOUTPUT_REDUCTIONS = ("mean", "output_mean", "sum", "none")


class _LabelledPairs:
    """The labelled (row, output) pairs of a multi-output problem, flattened.

    ``z`` is ``(m, K)`` margins and ``y`` ``(m,)`` class indices of the ``m`` labelled
    pairs; ``mask`` marks them among the ``n * A`` entries (row-major: row, then output).
    """

    def __init__(self, y_true: Any, raw_score: Any, sample_weight: Any, ignore_label: Any) -> None:
        labels = v.check_multioutput_label_array(y_true)
        n, n_outputs = labels.shape
        z3 = v.check_raw_score_multioutput(raw_score, n, n_outputs)
        n_classes = z3.shape[2]
        y, mask = v.check_multioutput_labels(labels, n_classes, ignore_label)
        weight = v.check_multioutput_sample_weight(sample_weight, n, n_outputs)
        self.shape = np.shape(raw_score)
        self.n_samples, self.n_outputs, self.n_classes = n, n_outputs, n_classes
        self.mask = mask.ravel()
        self.y = y.ravel()[self.mask]
        self.z = z3.reshape(n * n_outputs, n_classes)[self.mask]
        self.w = None if weight is None else weight.ravel()[self.mask]

    def scatter(self, values: np.ndarray) -> np.ndarray:
        """Per-pair values back onto all ``n * A`` entries, zero where ignored."""
        out = np.zeros((self.mask.shape[0],) + values.shape[1:], dtype=np.float64)
        out[self.mask] = values
        return out


def _multioutput_alpha(alpha: Any, pairs: _LabelledPairs) -> np.ndarray | None:
    """One global weight per class; "balanced" counts the labelled pairs only."""
    return _resolve_alpha(alpha, pairs.y, pairs.n_classes, pairs.w, binary=False)


def multioutput_focal_loss(
    y_true: Any,
    raw_score: Any,
    *,
    alpha: Any = None,
    gamma: float = 2.0,
    sample_weight: Any = None,
    ignore_label: int | None = -1,
    reduction: str = "mean",
) -> float | np.ndarray:
    r"""Softmax focal loss of several outputs per row (e.g. aspects x sentiments).

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_outputs)
        Class indices ``0..K-1`` per output, or ``ignore_label`` where an output
        carries no label (an aspect not mentioned in a review).
    raw_score : array-like of shape (n_samples, n_outputs, K) or (n_samples, n_outputs * K)
        Raw margins. The flat layout is output-major (the ``K`` columns of output 0,
        then those of output 1, ...), the layout of ``reshape(n, -1)``.
    alpha : None, sequence of K floats or "balanced", default=None
        Class weights shared by all outputs. "balanced": ``n / (K n_c)`` counted over
        the labelled pairs of all outputs (weighted by ``sample_weight``).
    gamma : float, default=2.0
        Focusing parameter, ``>= 0``.
    sample_weight : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
        Non-negative weights per row (shared by its outputs) or per entry.
    ignore_label : int or None, default=-1
        Label value marking an entry without a label; it must not be a class index.
        None: every entry must be labelled.
    reduction : {"mean", "output_mean", "sum", "none"}, default="mean"
        "mean": ``sum(w l) / sum(w)`` over the labelled pairs (the plain mean without
        weights). "output_mean": that mean computed per output, then averaged over
        the outputs that have labelled pairs. "sum": ``sum(w l)``. "none": the
        ``(n_samples, n_outputs)`` array of ``w l``, zero where ignored.

    Returns
    -------
    loss : float or ndarray of shape (n_samples, n_outputs)

    Notes
    -----
    For a labelled pair (row ``i``, output ``a``) with class ``y = y_{ia}`` and
    ``p = softmax(z_{ia})``, the loss is the multiclass focal loss
    ``-alpha_y (1 - p_y)**gamma log p_y`` (:func:`multiclass_focal_loss`); with one
    output it is exactly that function.

    Examples
    --------
    >>> import numpy as np
    >>> from gbfocal._focal import multioutput_focal_loss
    >>> y = np.array([[0, -1], [2, 1]])          # row 0 has no label for output 1
    >>> z = np.zeros((2, 2, 3))
    >>> multioutput_focal_loss(y, z, gamma=0.0, reduction="none").round(6)
    array([[1.098612, 0.      ],
           [1.098612, 1.098612]])
    >>> round(multioutput_focal_loss(y, z, gamma=0.0), 6)   # mean over the 3 labelled pairs
    1.098612
    """
    if not isinstance(reduction, str) or reduction not in MULTIOUTPUT_REDUCTIONS:
        raise ValueError(f"reduction must be one of {MULTIOUTPUT_REDUCTIONS}, got {reduction!r}")
    pairs = _LabelledPairs(y_true, raw_score, sample_weight, ignore_label)
    loss = multiclass_focal_loss(
        pairs.y, pairs.z, alpha=_multioutput_alpha(alpha, pairs), gamma=gamma,
        sample_weight=pairs.w,
    )
    if reduction == "none":
        return pairs.scatter(loss).reshape(pairs.n_samples, pairs.n_outputs)
    if reduction == "sum":
        return float(loss.sum())
    weight = np.ones_like(loss) if pairs.w is None else pairs.w
    if reduction == "mean":
        return _pair_mean(loss.sum(), weight.sum())
    per_output = np.zeros((2, pairs.n_outputs))
    output = np.nonzero(pairs.mask.reshape(pairs.n_samples, pairs.n_outputs))[1]
    np.add.at(per_output, (0, output), loss)
    np.add.at(per_output, (1, output), weight)
    present = per_output[1] > 0
    return _pair_mean((per_output[0, present] / per_output[1, present]).sum(), present.sum())


def _pair_mean(total: float, weight: float) -> float:
    if weight <= 0:
        raise ValueError("sample_weight of the labelled pairs sums to zero: the mean is undefined")
    return float(total / weight)


def multioutput_focal_grad_hess(
    y_true: Any,
    raw_score: Any,
    *,
    alpha: Any = None,
    gamma: float = 2.0,
    sample_weight: Any = None,
    ignore_label: int | None = -1,
    hessian: str = "positive",
) -> tuple[np.ndarray, np.ndarray]:
    r"""Gradient and diagonal Hessian of the multi-output softmax focal loss.

    Parameters
    ----------
    y_true, raw_score, alpha, gamma, sample_weight, ignore_label
        As in :func:`multioutput_focal_loss`.
    hessian : {"positive", "exact"}, default="positive"
        As in :func:`multiclass_focal_grad_hess`.

    Returns
    -------
    grad : ndarray of the shape of raw_score
    hess : ndarray of the shape of raw_score
        Derivatives of each pair's weighted loss (the summands of ``reduction="sum"``)
        with respect to its own ``K`` margins; exactly zero for ignored entries.
        float64, C-contiguous.

    Examples
    --------
    >>> import numpy as np
    >>> from gbfocal._focal import multioutput_focal_grad_hess
    >>> g, h = multioutput_focal_grad_hess([[0, -1]], np.zeros((1, 4)), gamma=0.0)
    >>> g.tolist(), h.tolist()
    ([[-0.5, 0.5, 0.0, 0.0]], [[0.25, 0.25, 0.0, 0.0]])
    """
    hessian = v.check_hessian(hessian)
    pairs = _LabelledPairs(y_true, raw_score, sample_weight, ignore_label)
    grad, hess = multiclass_focal_grad_hess(
        pairs.y, pairs.z, alpha=_multioutput_alpha(alpha, pairs), gamma=gamma,
        sample_weight=pairs.w, hessian=hessian,
    )
    return pairs.scatter(grad).reshape(pairs.shape), pairs.scatter(hess).reshape(pairs.shape)
