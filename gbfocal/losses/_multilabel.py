"""The multi-label focal loss: many independent yes/no labels per row, unknown labels."""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
from scipy import special

from .. import _backend
from .. import _validation as v
from .._focal import pair_mean
from .._init_score import minimise_binary
from .._posterior import positive_weights, posterior_log_odds
from .._spec import FocalSpec
from ._asym import asym_functions, asym_grad_hess, asym_loss, asym_posterior_log_odds
from ._base import FocalLoss, TrainingSet, class_totals, require_weight

__all__ = ["MultiLabelFocalLoss"]


# --------------------------------------------------------------------------- multi-label
class MultiLabelFocalLoss(FocalLoss):
    """Multi-label focal loss: an independent sigmoid focal loss for each of ``n_labels``.

    Each row has ``L`` yes/no labels (0/1, or ``ignore_label`` where a label is unknown);
    label ``l`` of row ``i`` contributes ``-a_{l,y} (1 - p_t)**gamma log(p_t)`` with
    ``p = sigmoid(z_il)``, exactly the binary focal loss, so every property of the binary
    math (stability, exactness, compiled kernels, the positive Hessian) carries over.

    Parameters
    ----------
    n_labels : int
        Number of labels ``L >= 1``.
    alpha : None, float, sequence of L floats, "balanced" or ("effective_number", beta)
        Class weights per label. None: 1. A float ``a`` in [0, 1]: ``a`` for the positives
        and ``1 - a`` for the negatives of every label. A sequence of ``L`` floats in
        [0, 1]: that per label. "balanced" / ("effective_number", beta): resolved per
        label from its labelled rows (``n_l / (2 n_{l,c})`` / Cui et al. 2019).
    gamma : float, default=2.0
        Focusing parameter ``>= 0``.
    hessian : {"positive", "exact"}, default="positive"
        As in :class:`BinaryFocalLoss`.
    ignore_label : int or None, default=-1
        Marker of an unknown label; such entries contribute nothing.

    Attributes
    ----------
    alpha_ : ndarray of shape (n_labels, 2)
        Resolved ``[negative, positive]`` weights of every label.

    Notes
    -----
    Raw scores are ``(n, L)``, one margin per label (XGBoost: ``DMatrix(X, label=y)`` with
    an ``(n, L)`` label and ``multi_strategy`` either way; LightGBM keeps one label per row,
    so train one booster per label with :class:`BinaryFocalLoss` and this loss's
    ``alpha_[l]``, which is what :class:`gbfocal.FocalMultiLabelClassifier` does). The
    metrics average over the labelled entries (``"focal_loss"``, ``"log_loss"`` of the
    corrected probabilities) or over the labels (``"average_precision"`` and ``"roc_auc"``,
    macro, on each label's labelled rows).

    Examples
    --------
    >>> import numpy as np
    >>> from gbfocal import MultiLabelFocalLoss
    >>> y = np.array([[1, 0, -1], [0, 0, 1], [1, 0, 1], [0, 1, 0]])
    >>> loss = MultiLabelFocalLoss(3, alpha="balanced").fit(y)
    >>> loss.alpha_.round(4)                     # label 1: 3 negatives, 1 positive
    array([[1.    , 1.    ],
           [0.6667, 2.    ],
           [1.5   , 0.75  ]])
    >>> loss.grad_hess(y, np.zeros((4, 3)))[0][0, 2]   # unknown: exactly zero
    np.float64(0.0)
    """

    binary = False

    def _alpha_shape(self) -> tuple[int, ...]:
        return (self.n_labels, 2)
    n_labels: int
    ignore_label: int | None
    _label_alpha: tuple[float, ...] | None
    _given_alpha: Any

    def __init__(
        self,
        n_labels: int,
        alpha: Any = None,
        gamma: float = 2.0,
        hessian: str = "positive",
        ignore_label: int | None = -1,
        *,
        gamma_neg: float | None = None,
        clip: float = 0.0,
    ) -> None:
        if isinstance(n_labels, bool) or not isinstance(n_labels, numbers.Integral):
            raise TypeError(f"n_labels must be an integer >= 1, got {n_labels!r}")
        if n_labels < 1:
            raise ValueError(f"n_labels must be >= 1, got {n_labels}")
        per_label = (
            alpha is not None and not isinstance(alpha, (str, numbers.Real))
            and not (isinstance(alpha, (tuple, list)) and alpha and isinstance(alpha[0], str))
        )
        if per_label:
            values = v.as_float_array(alpha, "alpha")
            if values.shape != (int(n_labels),):
                raise ValueError(
                    f"alpha as a sequence must hold one positive-class weight per label "
                    f"({int(n_labels)}), got shape {values.shape}"
                )
            for a in values:  # the binary rules, label by label
                FocalSpec.create(alpha=float(a), binary=True)
            self.spec = FocalSpec.create(alpha=None, gamma=gamma, hessian=hessian, binary=True,
                                         gamma_neg=gamma_neg, clip=clip)
            self._label_alpha = tuple(float(a) for a in values)
        else:
            self.spec = FocalSpec.create(alpha=alpha, gamma=gamma, hessian=hessian, binary=True,
                                         gamma_neg=gamma_neg, clip=clip)
            self._label_alpha = None
        self._given_alpha = alpha
        self.n_labels = int(n_labels)
        self.ignore_label = v.check_ignore_label(ignore_label, 2)

    @property
    def alpha(self) -> Any:
        return self._given_alpha

    def _repr_args(self) -> list[str]:
        return [f"n_labels={self.n_labels}"]

    def __repr__(self) -> str:
        extra = f", ignore_label={self.ignore_label!r}"
        if self.spec.asymmetric:
            extra += f", gamma_neg={self.spec.gamma_neg!r}, clip={self.spec.clip!r}"
        return super().__repr__()[:-1] + extra + ")"

    def _weighted(self) -> bool:
        return self.spec.alpha is not None or self._label_alpha is not None

    # ------------------------------------------------------------------ checks
    def _check_labels(self, y: Any) -> np.ndarray:
        labels = v.check_multioutput_label_array(y)
        if labels.shape[1] != self.n_labels:
            raise ValueError(
                f"y_true has {labels.shape[1]} labels (columns) but the loss was built for "
                f"n_labels={self.n_labels}"
            )
        v.check_multioutput_labels(labels, 2, self.ignore_label)
        return labels

    def _check_weight(self, sample_weight: Any, labels: np.ndarray) -> np.ndarray | None:
        return v.check_multioutput_sample_weight(sample_weight, labels.shape[0], self.n_labels)

    def _check_margins(
        self, raw_score: Any, n_samples: int, *, keep_float32: bool = False
    ) -> np.ndarray:
        z = v.as_float_array(raw_score, "raw_score", keep_float32=keep_float32)
        if z.ndim == 1 and self.n_labels == 1:
            z = z[:, None]
        if z.ndim != 2 or z.shape[1] != self.n_labels:
            raise ValueError(
                f"raw_score must be (n_samples, n_labels={self.n_labels}) margins, got shape "
                f"{z.shape}"
            )
        if n_samples >= 0 and z.shape[0] != n_samples:
            raise ValueError(f"raw_score has {z.shape[0]} rows, expected {n_samples}")
        if z.size == 0:
            raise ValueError("raw_score is empty: at least one sample is required")
        v.check_finite(z, "raw_score")
        return z

    def _columns(self) -> int:
        return self.n_labels

    def decode_label(self, label: np.ndarray) -> np.ndarray:
        """The ``(n, L)`` label of an XGBoost DMatrix as it is (LightGBM: refused)."""
        if label.ndim == 1 and self.n_labels == 1:  # XGBoost flattens an (n, 1) label
            return label[:, None]
        if label.ndim != 2:
            raise ValueError(
                f"the dataset label has shape {label.shape}; the multi-label loss needs the "
                "(n, n_labels) label of an XGBoost DMatrix. LightGBM keeps one label per row: "
                "train one booster per label (FocalMultiLabelClassifier does)"
            )
        return label

    # ------------------------------------------------------------------ class weights
    def _resolve(self, labels: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
        codes, mask = v.check_multioutput_labels(labels, 2, self.ignore_label)
        if self._label_alpha is not None:
            a = np.asarray(self._label_alpha)
            return np.column_stack([1.0 - a, a])
        rows = []
        for label in range(self.n_labels):
            labelled = mask[:, label]
            w = None if weight is None else np.asarray(weight)[labelled, label]
            try:
                alpha = self.spec.class_weights(codes[labelled, label], w)
            except ValueError as exc:
                raise ValueError(f"label {label}: {exc}") from exc
            rows.append(np.ones(2) if alpha is None else alpha)
        return np.vstack(rows)

    def _prepare(self, training: TrainingSet) -> None:
        codes, mask = v.check_multioutput_labels(training.labels, 2, self.ignore_label)
        flat = mask.ravel()
        label_index = np.tile(np.arange(self.n_labels), training.n_rows)[flat]
        training.mask = flat
        training.pair_labels = codes.ravel()[flat].astype(np.int8)
        row_weight = None if training.weight is None else np.ascontiguousarray(
            np.asarray(training.weight).ravel()[flat], dtype=np.float64)
        training.pair_weight = row_weight
        combined = row_weight
        if self._weighted():
            per_pair = training.class_weights[label_index, training.pair_labels]
            combined = per_pair if row_weight is None else per_pair * row_weight
        training.pair_combined = combined

    def _pairs(self, training: TrainingSet) -> tuple[np.ndarray, np.ndarray]:
        assert training.mask is not None and training.pair_labels is not None
        return training.mask, training.pair_labels

    def _scatter(self, training: TrainingSet, values: np.ndarray, dtype: Any,
                 out: np.ndarray | None = None) -> np.ndarray:
        mask, _ = self._pairs(training)
        if out is None:
            out = np.zeros(mask.shape[0], dtype=dtype)
        else:
            out = out.reshape(-1)
            out.fill(0.0)
        out[mask] = values
        return out

    # ------------------------------------------------------------------ math
    def _values(self, training: TrainingSet, z: np.ndarray, reduction: str = "mean") -> Any:
        mask, y = self._pairs(training)
        flat = np.ascontiguousarray(z.reshape(-1)[mask], dtype=np.float64)
        if self.spec.asymmetric:
            loss = asym_loss(self.spec, y, flat, None, training.pair_combined)
        else:
            loss = _backend.loss(y, flat, None, training.pair_combined, self.spec.gamma,
                                 binary=True)
        if reduction == "none":
            return self._scatter(training, loss, np.float64).reshape(z.shape)
        if reduction == "sum":
            return float(loss.sum())
        if reduction != "mean":
            raise ValueError(f"reduction must be one of ('mean', 'sum', 'none'), got {reduction!r}")
        return pair_mean(float(loss.sum()), self._total_weight(training))

    def _derivatives(
        self, training: TrainingSet, z: np.ndarray, *, dtype: Any = np.float64,
        out: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        mask, y = self._pairs(training)
        flat = np.ascontiguousarray(z.reshape(-1)[mask])
        if self.spec.asymmetric:
            grad, hess = asym_grad_hess(self.spec, y, flat, None, training.pair_combined)
        else:
            grad, hess = _backend.grad_hess(y, flat, None, training.pair_combined,
                                            self.spec.gamma, self.spec.positive, binary=True)
        grad_out, hess_out = (None, None) if out is None else out
        return (self._scatter(training, grad, dtype, grad_out).reshape(z.shape),
                self._scatter(training, hess, dtype, hess_out).reshape(z.shape))

    def _total_weight(self, training: TrainingSet) -> float:
        _, y = self._pairs(training)
        weight = training.pair_weight
        return float(y.shape[0] if weight is None else np.sum(weight))

    def _log_loss_values(self, training: TrainingSet, z: np.ndarray) -> np.ndarray:
        mask, y = self._pairs(training)
        corrected = self.posterior_margin(z).reshape(-1)[mask]
        return _backend.loss(y, np.ascontiguousarray(corrected), None, training.pair_weight, 0.0,
                             binary=True)

    def loss(
        self, y: Any, raw_score: Any, sample_weight: Any = None, reduction: str = "mean"
    ) -> Any:
        """Focal loss: the weighted mean over the labelled entries (``reduction="sum"`` /
        ``"none"``: their sum / the ``(n, L)`` array, zero where unknown)."""
        training = self._numpy_training_set(y, sample_weight)
        return self._values(training, self._check_margins(raw_score, training.n_rows), reduction)

    def _ranking_metric(self, name: str, y: Any, raw_score: Any, sample_weight: Any) -> float:
        checked = self._checked(y, sample_weight)
        labels, weight = checked.labels, checked.weight
        raw = self._check_margins(raw_score, labels.shape[0])
        codes, mask = v.check_multioutput_labels(labels, 2, self.ignore_label)
        values = []
        for label in range(self.n_labels):
            rows = mask[:, label]
            w = None if weight is None else np.asarray(weight)[rows, label]
            self.check_metric_defined(name, codes[rows, label].astype(np.intp), w,
                                      name=f"label {label} of the evaluation data")
            values.append(_backend.ranking_scores(name, codes[rows, label] == 1,
                                                  raw[rows, label], w))
        return float(np.mean(values))

    # ------------------------------------------------------------------ margins and probabilities
    def init_score(self, y: Any, sample_weight: Any = None) -> np.ndarray:
        """Constant raw margins ``(n_labels,)``: each label's focal optimum (0 for a label
        without weight). Raises ValueError when ``sample_weight`` is zero on every labelled
        entry."""
        labels = self._check_labels(y)
        weight = self._check_weight(sample_weight, labels)
        codes, mask = v.check_multioutput_labels(labels, 2, self.ignore_label)
        require_weight(None if weight is None else np.asarray(weight)[mask], "entry")
        self.fit(y, sample_weight)
        out = np.zeros(self.n_labels)
        for label in range(self.n_labels):
            rows = mask[:, label]
            w = None if weight is None else np.asarray(weight)[rows, label]
            totals = class_totals(codes[rows, label], w, self.alpha_[label], 2)
            if totals.sum() > 0:
                out[label] = minimise_binary(totals, self.spec.gamma,
                                             functions=asym_functions(self.spec))
        return out

    def _posterior_alpha(self) -> np.ndarray | None:
        if not self._weighted():
            return None
        self._require_alpha(self._UNFITTED_POSTERIOR)
        if not hasattr(self, "alpha_"):
            self.alpha_ = self._resolve(np.zeros((1, self.n_labels)), None)
        return positive_weights(self.alpha_)

    def posterior_margin(self, raw_score: Any) -> np.ndarray:
        """Raw margins ``(n, L)`` mapped to the log-odds of each label's posterior."""
        z = self._check_margins(raw_score, -1)
        alpha = self._posterior_alpha()
        # [negative, positive] weights as (2, L): they broadcast per label
        per_label = None if alpha is None else alpha.T
        if self.spec.asymmetric:
            return asym_posterior_log_odds(self.spec, z, per_label)
        return posterior_log_odds(z, per_label, self.spec.gamma)

    def predict_proba(
        self, raw_score: Any, *, corrected: bool = True, check_input: bool = True
    ) -> np.ndarray:
        """Positive-class probability of every label, ``(n, L)`` (scikit-learn's multi-label
        ``predict_proba`` layout): the focal posterior, or the plain sigmoid with
        ``corrected=False``."""
        z = self._check_margins(raw_score, -1)
        if check_input and z.size > 1 and ((z >= 0) & (z <= 1)).all():
            warnings.warn(
                "predict_proba received raw scores that all lie in [0, 1]: these look like "
                "probabilities, not raw margins; pass booster.predict(..., output_margin=True)",
                UserWarning, stacklevel=2,
            )
        t = self.posterior_margin(z) if corrected else z
        return special.expit(t)


