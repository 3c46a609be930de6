"""The binary (sigmoid) and multiclass (softmax) focal losses."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
from scipy import special

from .. import _backend
from .. import _validation as v
from .._init_score import minimise_binary, minimise_multiclass
from .._posterior import log_posterior, posterior_log_odds
from .._spec import FocalSpec
from ._asym import asym_functions, asym_grad_hess, asym_loss, asym_posterior_log_odds, gamma_neg
from ._base import ADAPTER_TABLE, FocalLoss, TrainingSet, class_totals, require_weight

__all__ = ["BinaryFocalLoss", "MulticlassFocalLoss"]


# --------------------------------------------------------------------------- binary
class BinaryFocalLoss(FocalLoss):
    __doc__ = """Binary (sigmoid) focal loss for LightGBM and XGBoost.

    ``FL = -a_t (1 - p_t)**gamma log(p_t)`` with ``p = sigmoid(raw margin)``.

    Parameters
    ----------
    alpha : None, float, sequence of 2 floats or "balanced", default=None
        Class weights ``a_t``. None: 1 for both classes. A float ``a``
        in [0, 1]: ``a`` for the positive class, ``1 - a`` for the negative one.
        ``[a_negative, a_positive]``: explicit weights.
        "balanced": ``n / (2 n_c)`` from the training labels (resolved by
        :meth:`fit`, which the training objective calls).
    gamma : float, default=2.0
        Focusing parameter ``>= 0``; 0 gives (alpha-weighted) log loss.
    hessian : {"positive", "exact"}, default="positive"
        "positive" keeps Newton steps well defined (the exact focal Hessian is
        negative for badly misclassified rows); "exact" is the true second derivative.

    Attributes
    ----------
    spec : FocalSpec
        The validated, immutable loss parameters.
    alpha_ : ndarray of shape (2,)
        Per-class weights resolved by :meth:`fit` (all ones for ``alpha=None``).
        An unfitted loss fits itself from the first training set its objective is
        handed (and again from a different training set). After an explicit
        :meth:`fit` or :meth:`init_score` the objectives keep ``alpha_`` as it is,
        e.g. resolved from the global labels in distributed (Dask) training, where
        each worker only sees its partition.

    Notes
    -----
    The adapters follow each library's calling convention:
    """ + ADAPTER_TABLE + """
    ``m`` is one of :data:`METRICS`. Under a custom objective both libraries
    start from a zero margin (XGBoost: from ``base_score``) and return raw margins:
    pass :meth:`init_score` as the starting margin and convert predictions with
    :meth:`predict_proba`. Sample weights stored in the Dataset / DMatrix multiply
    the gradient and Hessian; the metrics are weighted means ``sum(w l) / sum(w)``.

    Examples
    --------
    >>> import numpy as np
    >>> from gbfocal.losses import BinaryFocalLoss
    >>> y = np.array([0, 0, 0, 1])
    >>> loss = BinaryFocalLoss(alpha="balanced", gamma=2.0).fit(y)
    >>> loss.alpha_
    array([0.66666667, 2.        ])
    >>> init = BinaryFocalLoss(gamma=0.0).init_score(y)  # log-odds of the positive rate
    >>> bool(np.isclose(init, np.log(1 / 3)))
    True
    >>> loss.predict_proba([-2.0, 0.0, 3.0], corrected=False).round(4)  # sigmoid
    array([[0.8808, 0.1192],
           [0.5   , 0.5   ],
           [0.0474, 0.9526]])
    >>> loss.predict_proba([0.0]).round(4)  # focal posterior: a_0 / (a_0 + a_1) at z = 0
    array([[0.75, 0.25]])
    """

    binary = True

    _fast_margins = True

    @property
    def _kernel_kind(self) -> str:  # type: ignore[override]
        return "asymmetric" if self.spec.asymmetric else "binary"

    def _writer_args(self) -> tuple[Any, ...]:
        spec = self.spec
        if not spec.asymmetric:
            return super()._writer_args()
        return (spec.gamma, gamma_neg(spec), spec.clip, spec.positive)

    def __init__(
        self, alpha: Any = None, gamma: float = 2.0, hessian: str = "positive", *,
        gamma_neg: float | None = None, clip: float = 0.0,
    ) -> None:
        self.spec = FocalSpec.create(alpha=alpha, gamma=gamma, hessian=hessian, binary=True,
                                     gamma_neg=gamma_neg, clip=clip)

    def _repr_args(self) -> list[str]:
        return []

    def __repr__(self) -> str:
        text = super().__repr__()
        if not self.spec.asymmetric:
            return text
        return text[:-1] + f", gamma_neg={self.spec.gamma_neg!r}, clip={self.spec.clip!r})"

    def _check_labels(self, y: Any) -> np.ndarray:
        return v.check_binary_labels(y, np.shape(y)[0] if np.ndim(y) == 1 else -1)

    def _check_margins(
        self, raw_score: Any, n_samples: int, *, keep_float32: bool = False
    ) -> np.ndarray:
        z = v.as_float_array(raw_score, "raw_score", keep_float32=keep_float32)
        if z.ndim == 2 and z.shape[1] == 1:
            z = z[:, 0]
        z = v.check_raw_score_binary(z, keep_float32=keep_float32)
        if n_samples >= 0 and z.shape[0] != n_samples:
            raise ValueError(
                f"y_true has {n_samples} samples but raw_score has {z.shape[0]}: shapes must match"
            )
        return z

    def _values(self, training: TrainingSet, z: np.ndarray, reduction: str = "none") -> Any:
        if self.spec.asymmetric:
            return asym_loss(self.spec, training.labels, z, self._alpha_arg(training),
                              training.weight)
        return _backend.loss(training.labels, z, self._alpha_arg(training), training.weight,
                             self.spec.gamma, binary=True)

    def _derivatives(
        self, training: TrainingSet, z: np.ndarray, *, dtype: Any = np.float64,
        out: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.spec.asymmetric:
            return asym_grad_hess(self.spec, training.labels, z, self._alpha_arg(training),
                                   training.weight, dtype, out)
        return _backend.grad_hess(
            training.labels, z, self._alpha_arg(training), training.weight, self.spec.gamma,
            self.spec.positive, binary=True, dtype=dtype, out=out,
        )

    def init_score(self, y: Any, sample_weight: Any = None) -> float:
        """Constant raw margin minimising the weighted focal loss on ``(y, sample_weight)``.

        Raises ValueError when ``sample_weight`` is all zero (no row carries weight).
        """
        labels = self._check_labels(y)
        weight = self._check_weight(sample_weight, labels)
        require_weight(weight)
        self.fit(y, sample_weight)
        return minimise_binary(class_totals(labels, weight, self.alpha_, 2), self.spec.gamma,
                               functions=asym_functions(self.spec))

    def posterior_margin(self, raw_score: Any) -> np.ndarray:
        """Raw margins ``(n,)`` mapped to the log-odds of the class posterior.

        Their sigmoid is :func:`gbfocal.focal_posterior` with ``alpha_`` and ``gamma``.
        """
        z = self._check_margins(raw_score, -1)
        if self.spec.asymmetric:
            return asym_posterior_log_odds(self.spec, z, self._posterior_alpha())
        return posterior_log_odds(z, self._posterior_alpha(), self.spec.gamma)

    def predict_proba(
        self, raw_score: Any, *, corrected: bool = True, check_input: bool = True
    ) -> np.ndarray:
        """Class probabilities ``(n, 2)`` from raw margins.

        Parameters
        ----------
        raw_score : array-like of shape (n_samples,)
            Raw margins, e.g. ``booster.predict(X, raw_score=True)``.
        corrected : bool, default=True
            True: the class posterior of the focal risk minimiser,
            :func:`gbfocal.focal_posterior` (the sigmoid of a focal model's margin is
            biased towards 1/2). False: ``[1 - sigmoid(z), sigmoid(z)]``, the plain link.
            Both are the same for ``gamma=0, alpha=None``.
        check_input : bool, default=True
            Warn when every margin lies in [0, 1] (probabilities passed by mistake).
            Pass False when ``raw_score`` is known to be margins (a small model's
            margins can all lie there); shape and finiteness are always checked.
        """
        z = self._check_margins(raw_score, -1)
        if check_input and z.size > 1 and ((z >= 0) & (z <= 1)).all():
            warnings.warn(
                "predict_proba received raw scores that all lie in [0, 1]: these look like "
                "probabilities, not raw margins. Applying the sigmoid to probabilities is a "
                "classic mistake; pass booster.predict(X, raw_score=True) (LightGBM) or "
                "output_margin=True (XGBoost).",
                UserWarning,
                stacklevel=2,
            )
        t = self.posterior_margin(z) if corrected else z
        return np.column_stack([special.expit(-t), special.expit(t)])


# --------------------------------------------------------------------------- multiclass
class MulticlassFocalLoss(FocalLoss):
    __doc__ = """Multiclass (softmax) focal loss for LightGBM and XGBoost.

    ``FL = -a_y (1 - p_y)**gamma log(p_y)`` with ``p = softmax(raw margins)``.

    Parameters
    ----------
    n_classes : int
        Number of classes ``K >= 2``; labels are class indices ``0..K-1``.
    alpha : None, sequence of K floats or "balanced", default=None
        Class weights ``a_y``. None: all 1. A sequence: one weight per class (a
        single float is rejected: it only means something for the binary loss).
        "balanced": ``n / (K n_c)`` from the training labels (resolved by
        :meth:`fit`, which the training objective calls).
    gamma : float, default=2.0
        Focusing parameter ``>= 0``; 0 gives (alpha-weighted) log loss.
    hessian : {"positive", "exact"}, default="positive"
        "positive" keeps Newton steps well defined (the exact focal Hessian is
        negative for badly misclassified rows); "exact" is the true second derivative.

    Attributes
    ----------
    spec : FocalSpec
        The validated, immutable loss parameters.
    alpha_ : ndarray of shape (n_classes,)
        Per-class weights resolved by :meth:`fit` (all ones for ``alpha=None``).
        An unfitted loss fits itself from the first training set its objective is
        handed (and again from a different training set). After an explicit
        :meth:`fit` or :meth:`init_score` the objectives keep ``alpha_`` as it is,
        e.g. resolved from the global labels in distributed (Dask) training, where
        each worker only sees its partition.

    Notes
    -----
    The adapters follow each library's calling convention:
    """ + ADAPTER_TABLE + """
    ``m`` is one of :data:`METRICS`. Under a custom objective both libraries
    start from a zero margin (XGBoost: from ``base_score``) and return raw margins:
    pass :meth:`init_score` as the starting margin and convert predictions with
    :meth:`predict_proba`. Sample weights stored in the Dataset / DMatrix multiply
    the gradient and Hessian; the metrics are weighted means ``sum(w l) / sum(w)``.

    Examples
    --------
    >>> import numpy as np
    >>> from gbfocal.losses import MulticlassFocalLoss
    >>> y = np.array([0, 0, 1, 2])
    >>> loss = MulticlassFocalLoss(3, alpha="balanced").fit(y)
    >>> loss.alpha_.round(4)
    array([0.6667, 1.3333, 1.3333])
    >>> init = MulticlassFocalLoss(3, gamma=0.0).init_score(y)  # centred log shares
    >>> np.allclose(init, np.log([2, 1, 1]) - np.log([2, 1, 1]).mean())
    True
    >>> loss.predict_proba([[0.0, 0.0, 0.0], [2.0, 0.0, -2.0]], corrected=False).round(4)
    array([[0.3333, 0.3333, 0.3333],
           [0.8668, 0.1173, 0.0159]])
    >>> loss.predict_proba([[0.0, 0.0, 0.0]]).round(4)  # posterior: 1 / alpha_, normalised
    array([[0.5 , 0.25, 0.25]])
    """

    binary = False
    _kernel_kind = "multiclass"
    _fast_margins = True

    def __init__(
        self,
        n_classes: int,
        alpha: Any = None,
        gamma: float = 2.0,
        hessian: str = "positive",
    ) -> None:
        self.spec = FocalSpec.create(alpha=alpha, gamma=gamma, hessian=hessian,
                                     n_classes=n_classes, binary=False)

    def _check_labels(self, y: Any) -> np.ndarray:
        n = np.shape(y)[0] if np.ndim(y) == 1 else -1
        return v.check_multiclass_labels(y, n, self.n_classes)

    def _check_margins(
        self, raw_score: Any, n_samples: int, *, keep_float32: bool = False
    ) -> np.ndarray:
        z = v.as_float_array(raw_score, "raw_score", keep_float32=keep_float32)
        if z.ndim == 2 and z.shape[1] != self.n_classes:
            raise ValueError(
                f"raw_score has {z.shape[1]} columns but the loss was built for "
                f"n_classes={self.n_classes}"
            )
        rows = z.shape[0] if n_samples < 0 and z.ndim == 2 else n_samples
        return v.check_raw_score_multiclass(z, rows, keep_float32=keep_float32)

    def _values(self, training: TrainingSet, z: np.ndarray, reduction: str = "none") -> Any:
        return _backend.loss(training.labels, z, self._alpha_arg(training), training.weight,
                             self.spec.gamma, binary=False)

    def _buffer_order(self, margins: np.ndarray) -> Literal["C", "F"]:
        # LightGBM hands (n, K) column-major margins and flattens the gradient in column
        # order: written column-major, it is handed over without a copy (8 bytes per row
        # and class for the pair, every round).
        return "F" if margins.flags.f_contiguous and not margins.flags.c_contiguous else "C"

    def _derivatives(
        self, training: TrainingSet, z: np.ndarray, *, dtype: Any = np.float64,
        out: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        return _backend.grad_hess(
            training.labels, z, self._alpha_arg(training), training.weight, self.spec.gamma,
            self.spec.positive, binary=False, dtype=dtype, out=out,
        )

    def init_score(self, y: Any, sample_weight: Any = None) -> np.ndarray:
        """Constant raw margins ``(n_classes,)``, mean zero, minimising the weighted focal loss.

        Raises ValueError when ``sample_weight`` is all zero (no row carries weight).
        """
        labels = self._check_labels(y)
        weight = self._check_weight(sample_weight, labels)
        require_weight(weight)
        self.fit(y, sample_weight)
        totals = class_totals(labels, weight, self.alpha_, self.n_classes)
        return minimise_multiclass(totals, self.spec.gamma)

    def posterior_margin(self, raw_score: Any) -> np.ndarray:
        """Raw margins ``(n, K)`` mapped to the log probabilities of the class posterior.

        Their softmax is :func:`gbfocal.focal_posterior` with ``alpha_`` and ``gamma``.
        """
        z = self._check_margins(raw_score, -1)
        return log_posterior(z, self._posterior_alpha(), self.spec.gamma)

    def predict_proba(
        self, raw_score: Any, *, corrected: bool = True, check_input: bool = True
    ) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` from raw margins.

        Parameters
        ----------
        raw_score : array-like of shape (n_samples, n_classes)
            Raw margins, e.g. ``booster.predict(X, raw_score=True)``.
        corrected : bool, default=True
            True: the class posterior of the focal risk minimiser,
            :func:`gbfocal.focal_posterior`. False: ``softmax(z)``, the plain link.
            Both are the same for ``gamma=0, alpha=None``.
        check_input : bool, default=True
            Raise when every row looks like probabilities (in [0, 1], summing to 1).
            Pass False when ``raw_score`` is known to be margins; shape and
            finiteness are always checked.
        """
        z = self._check_margins(raw_score, -1)
        looks_like_proba = ((z >= 0) & (z <= 1)).all() and np.allclose(
            z.sum(axis=1), 1.0, rtol=0, atol=1e-6
        )
        if check_input and looks_like_proba:
            raise ValueError(
                "predict_proba received raw scores whose rows are probabilities (in [0, 1], "
                "summing to 1): applying softmax to probabilities is a classic mistake. Pass raw "
                "margins: booster.predict(X, raw_score=True) (LightGBM) or output_margin=True "
                "(XGBoost)."
            )
        if not corrected or (self.spec.alpha is None and self.spec.gamma == 0.0):
            return special.softmax(z, axis=1)
        return np.exp(self.posterior_margin(z))


