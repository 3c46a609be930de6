r"""The public focal-loss functions: validate at the boundary, then compute.

Each function validates its arguments once (the loss parameters through
:meth:`gbfocal._spec.FocalSpec.create`, the arrays through :mod:`gbfocal._validation`)
and hands checked arrays to :mod:`gbfocal._backend`, which runs the compiled kernels or
the array-generic NumPy math of :mod:`gbfocal._math` (where the formulas and the
notation are). The multi-output functions apply the multiclass math to the labelled
(row, output) pairs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _backend
from . import _validation as v
from ._spec import FocalSpec, balanced_alpha

__all__ = [
    "balanced_alpha",
    "binary_focal_grad_hess",
    "binary_focal_loss",
    "multiclass_focal_grad_hess",
    "multiclass_focal_loss",
    "multioutput_focal_grad_hess",
    "multioutput_focal_loss",
]


def _binary_arrays(
    y_true: Any, raw_score: Any, sample_weight: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    z = v.check_raw_score_binary(raw_score)
    y = v.check_binary_labels(y_true, z.shape[0])
    return y, z, v.check_sample_weight(sample_weight, z.shape[0])


def _multiclass_arrays(
    y_true: Any, raw_score: Any, sample_weight: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    n = np.shape(y_true)[0] if np.ndim(y_true) >= 1 else 0
    z = v.check_raw_score_multiclass(raw_score, n)
    y = v.check_multiclass_labels(y_true, z.shape[0], z.shape[1])
    return y, z, v.check_sample_weight(sample_weight, z.shape[0])


# --------------------------------------------------------------------------- binary
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
    spec = FocalSpec.create(alpha=alpha, gamma=gamma, binary=True)
    y, z, w = _binary_arrays(y_true, raw_score, sample_weight)
    return _backend.loss(y, z, spec.class_weights(y, w), w, spec.gamma, binary=True)


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
    spec = FocalSpec.create(alpha=alpha, gamma=gamma, hessian=hessian, binary=True)
    y, z, w = _binary_arrays(y_true, raw_score, sample_weight)
    return _backend.grad_hess(y, z, spec.class_weights(y, w), w, spec.gamma, spec.positive,
                              binary=True)


# --------------------------------------------------------------------------- multiclass
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
    y, z, w = _multiclass_arrays(y_true, raw_score, sample_weight)
    spec = FocalSpec.create(alpha=alpha, gamma=gamma, n_classes=z.shape[1], binary=False)
    return _backend.loss(y, z, spec.class_weights(y, w), w, spec.gamma, binary=False)


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
    y, z, w = _multiclass_arrays(y_true, raw_score, sample_weight)
    spec = FocalSpec.create(alpha=alpha, gamma=gamma, hessian=hessian, n_classes=z.shape[1],
                            binary=False)
    return _backend.grad_hess(y, z, spec.class_weights(y, w), w, spec.gamma, spec.positive,
                              binary=False)


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


    def spec(self, alpha: Any, gamma: Any, hessian: Any = "positive") -> FocalSpec:
        """The validated loss parameters for these pairs' classes."""
        return FocalSpec.create(alpha=alpha, gamma=gamma, hessian=hessian,
                                n_classes=self.n_classes, binary=False)

    def class_weights(self, spec: FocalSpec) -> np.ndarray | None:
        """One global weight per class; "balanced" counts the labelled pairs only."""
        return spec.class_weights(self.y, self.w)


def labelled_pairs(
    labels: np.ndarray, weight: np.ndarray | None, n_classes: int, ignore_label: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(mask, y, w)`` of the labelled pairs of checked ``(n, A)`` labels.

    ``mask`` marks the labelled entries among the ``n * A`` (row-major), ``y`` holds their
    class indices and ``w`` their weights (``weight`` is ``(n, A)`` or None).
    """
    codes, mask = v.check_multioutput_labels(labels, n_classes, ignore_label)
    flat = mask.ravel()
    w = None if weight is None else np.ascontiguousarray(np.asarray(weight).ravel()[flat])
    return flat, codes.ravel()[flat], w


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
    spec = pairs.spec(alpha, gamma)
    loss = _backend.loss(pairs.y, pairs.z, pairs.class_weights(spec), pairs.w, spec.gamma,
                         binary=False)
    if reduction == "none":
        return pairs.scatter(loss).reshape(pairs.n_samples, pairs.n_outputs)
    if reduction == "sum":
        return float(loss.sum())
    weight = np.ones_like(loss) if pairs.w is None else pairs.w
    if reduction == "mean":
        return pair_mean(loss.sum(), weight.sum())
    per_output = np.zeros((2, pairs.n_outputs))
    output = np.nonzero(pairs.mask.reshape(pairs.n_samples, pairs.n_outputs))[1]
    np.add.at(per_output[0], output, loss)  # rows of per_output, added to in place
    np.add.at(per_output[1], output, weight)
    present = per_output[1] > 0
    return pair_mean((per_output[0, present] / per_output[1, present]).sum(), present.sum())


def pair_mean(total: float, weight: float) -> float:
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
    pairs = _LabelledPairs(y_true, raw_score, sample_weight, ignore_label)
    spec = pairs.spec(alpha, gamma, hessian)
    grad, hess = _backend.grad_hess(pairs.y, pairs.z, pairs.class_weights(spec), pairs.w,
                                    spec.gamma, spec.positive, binary=False)
    return pairs.scatter(grad).reshape(pairs.shape), pairs.scatter(hess).reshape(pairs.shape)
