"""The multi-output focal loss: several aspects x several classes per row, missing labels."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from scipy import special

from .. import _backend
from .. import _validation as v
from .._focal import labelled_pairs, pair_mean
from .._init_score import minimise_multiclass
from .._posterior import log_posterior
from .._spec import FocalSpec
from ._base import FocalLoss, TrainingSet, require_weight

__all__ = ["REDUCTIONS", "MultiOutputFocalLoss"]


# --------------------------------------------------------------------------- multi-output
# LightGBM stores labels as float32: integers are exact up to 2**24.
_FLOAT32_EXACT = 2**24
REDUCTIONS = ("mean", "output_mean", "sum", "none")


class MultiOutputFocalLoss(FocalLoss):
    """Softmax focal loss of ``n_outputs`` outputs per row with one global alpha.

    Parameters
    ----------
    n_outputs : int
        Number of outputs ``A`` (aspects) per row, ``>= 1``.
    n_classes : int
        Number of classes ``K >= 2`` shared by all outputs.
    alpha : None, sequence of K floats or "balanced", default=None
        Class weights shared by all outputs. "balanced": ``n / (K n_c)`` counted over
        the labelled (row, output) pairs of the training labels (resolved by
        :meth:`fit`, which the training objectives call).
    gamma : float, default=2.0
        Focusing parameter ``>= 0``.
    hessian : {"positive", "exact"}, default="positive"
        As in :class:`gbfocal.MulticlassFocalLoss`.
    ignore_label : int or None, default=-1
        Label of an entry without a label (an aspect not mentioned); such entries
        contribute nothing to the loss, the gradient or the Hessian. None: every
        entry must be labelled.

    Attributes
    ----------
    spec : FocalSpec
        The validated, immutable loss parameters.
    alpha_ : ndarray of shape (n_classes,)
        Global class weights resolved by :meth:`fit` (all ones for ``alpha=None``);
        kept by the objectives after an explicit :meth:`fit` / :meth:`init_score`, as
        for the other losses, else resolved from each new training set.

    Notes
    -----
    The loss of the model is the mean focal loss over the labelled pairs,
    ``sum(w l) / sum(w)`` (``reduction="output_mean"`` of :meth:`loss` averages the
    per-output means instead). With ``n_outputs=1`` everything equals
    :class:`gbfocal.MulticlassFocalLoss`.

    ========================  ====================================================
    LightGBM ``lgb.train``    ``Dataset(X, label=loss.lgb_label(y),
                              init_score=np.tile(loss.init_score(y).ravel(), (n, 1)))``,
                              ``params["objective"] = loss.lgb_objective``,
                              ``params["num_class"] = A * K``, ``feval=loss.lgb_metric``
    XGBoost ``xgb.train``     ``DMatrix(X, label=loss.xgb_label(y),
                              base_margin=np.tile(loss.init_score(y).ravel(), (n, 1)))``,
                              ``params["tree_method"] = "hist"`` (and optionally
                              ``"multi_strategy": "multi_output_tree"``),
                              ``obj=loss.xgb_objective``, ``custom_metric=loss.xgb_metric``
    ========================  ====================================================

    Predictions are raw margins ``(n, A * K)``: add the initial score where it was
    not stored in the model, then call :meth:`predict_proba`.

    Examples
    --------
    >>> import numpy as np
    >>> from gbfocal.multioutput import MultiOutputFocalLoss
    >>> y = np.array([[0, -1], [2, 1], [2, 2]])      # 2 aspects, -1 = not mentioned
    >>> loss = MultiOutputFocalLoss(2, 3, alpha="balanced").fit(y)
    >>> loss.alpha_.round(4)                        # 5 pairs: 1, 1 and 3 per class
    array([1.6667, 1.6667, 0.5556])
    >>> loss.grad_hess(y, np.zeros((3, 2, 3)))[0][0, 1]   # ignored: exactly zero
    array([0., 0., 0.])
    >>> loss.predict_proba(np.zeros((1, 6))).shape
    (1, 2, 3)
    """

    binary = False

    def __init__(
        self,
        n_outputs: int,
        n_classes: int,
        alpha: Any = None,
        gamma: float = 2.0,
        hessian: str = "positive",
        ignore_label: int | None = -1,
    ) -> None:
        self.spec = FocalSpec.create(alpha=alpha, gamma=gamma, hessian=hessian,
                                     n_classes=n_classes, binary=False)
        self._init_extra(n_outputs=n_outputs, ignore_label=ignore_label)

    def _init_extra(self, *, n_outputs: Any = 1, ignore_label: Any = -1) -> None:
        if isinstance(n_outputs, bool) or not isinstance(n_outputs, numbers.Integral):
            raise TypeError(f"n_outputs must be an integer >= 1, got {n_outputs!r}")
        if n_outputs < 1:
            raise ValueError(f"n_outputs must be >= 1, got {n_outputs}")
        self.n_outputs = int(n_outputs)
        self.ignore_label = v.check_ignore_label(ignore_label, self.spec.n_classes)

    def _repr_args(self) -> list[str]:
        return [f"n_outputs={self.n_outputs}", f"n_classes={self.n_classes}"]

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", ignore_label={self.ignore_label!r})"

    # ------------------------------------------------------------------ checks
    def _check_y(self, y: Any) -> np.ndarray:
        labels = v.check_multioutput_label_array(y)
        if labels.shape[1] != self.n_outputs:
            raise ValueError(
                f"y_true has {labels.shape[1]} outputs (columns) but the loss was built for "
                f"n_outputs={self.n_outputs}"
            )
        return labels

    def _check_labels(self, y: Any) -> np.ndarray:
        """``(n, A)`` labels checked against the classes and the ignore label (as given)."""
        labels = self._check_y(y)
        v.check_multioutput_labels(labels, self.n_classes, self.ignore_label)
        return labels

    def _check_weight(self, sample_weight: Any, labels: np.ndarray) -> np.ndarray | None:
        return v.check_multioutput_sample_weight(sample_weight, labels.shape[0], self.n_outputs)

    def _pairs(self, labels: np.ndarray, weight: np.ndarray | None) -> Any:
        return labelled_pairs(labels, weight, self.n_classes, self.ignore_label)

    def _resolve(self, labels: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
        mask, y, w = self._pairs(labels, weight)
        return super()._resolve(y, w)

    def _prepare(self, training: TrainingSet) -> None:
        training.mask, training.pair_labels, training.pair_weight = self._pairs(
            training.labels, training.weight)

    def _check_raw(self, raw_score: Any, n_samples: int) -> np.ndarray:
        """Margins of the right shape; returned as given (the math keeps that shape)."""
        z = v.as_float_array(raw_score, "raw_score")
        z3 = v.check_raw_score_multioutput(z, n_samples, self.n_outputs)
        if z3.shape[2] != self.n_classes:
            raise ValueError(
                f"raw_score has {z3.shape[2]} classes per output (shape {z.shape}) but the loss "
                f"was built for n_classes={self.n_classes} (n_outputs={self.n_outputs})"
            )
        return z

    def _check_margins(
        self, raw_score: Any, n_samples: int, *, keep_float32: bool = False
    ) -> np.ndarray:
        z = v.as_float_array(raw_score, "raw_score", keep_float32=keep_float32)
        expected = self.n_outputs * self.n_classes
        if z.ndim == 2 and z.shape[1] != expected:
            raise ValueError(
                f"the library passed raw predictions of shape {z.shape}; expected "
                f"({n_samples}, {expected}) = (n, n_outputs * n_classes): set num_class "
                "(LightGBM) to n_outputs * n_classes, and the XGBoost label to loss.xgb_label(y)"
            )
        if z.ndim == 2 and z.dtype == np.float32:  # the library's flat layout, read as is
            if z.shape[0] != n_samples:
                raise ValueError(f"raw_score has {z.shape[0]} rows, expected {n_samples}")
            v.check_raw_score_multiclass(z, n_samples, keep_float32=True)  # finite
            return z
        return self._check_raw(z, n_samples)

    @staticmethod
    def _labelled(training: TrainingSet) -> tuple[np.ndarray, np.ndarray]:
        """The mask of labelled entries and their labels, which :meth:`_prepare` set."""
        mask, pair_labels = training.mask, training.pair_labels
        assert mask is not None and pair_labels is not None, "training set not prepared"
        return mask, pair_labels

    def _pair_margins(self, training: TrainingSet, z: np.ndarray) -> np.ndarray:
        mask, _ = self._labelled(training)
        flat = z.reshape(training.n_rows * self.n_outputs, self.n_classes)
        return np.ascontiguousarray(flat[mask])

    def _scatter(self, training: TrainingSet, values: np.ndarray, dtype: Any,
                 out: np.ndarray | None = None) -> np.ndarray:
        """Per-pair values onto all ``n * A`` entries, zero where ignored (into ``out``,
        a buffer of ``n * A * K`` values, when given)."""
        mask, _ = self._labelled(training)
        shape = (mask.shape[0],) + values.shape[1:]
        if out is None:
            out = np.zeros(shape, dtype=dtype)
        else:
            out = out.reshape(shape)
            out.fill(0.0)
        out[mask] = values
        return out

    def _values(self, training: TrainingSet, z: np.ndarray, reduction: str = "mean") -> Any:
        _, pair_labels = self._labelled(training)
        loss = _backend.loss(pair_labels, self._pair_margins(training, z),
                             self._alpha_arg(training), training.pair_weight,
                             self.spec.gamma, binary=False)
        return self._reduce(training, loss, reduction)

    def _reduce(self, training: TrainingSet, loss: np.ndarray, reduction: str) -> Any:
        if not isinstance(reduction, str) or reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        n, a = training.n_rows, self.n_outputs
        if reduction == "none":
            return self._scatter(training, loss, np.float64).reshape(n, a)
        if reduction == "sum":
            return float(loss.sum())
        weight = np.ones_like(loss) if training.pair_weight is None else training.pair_weight
        if reduction == "mean":
            return pair_mean(loss.sum(), weight.sum())
        mask, _ = self._labelled(training)
        per_output = np.zeros((2, a))
        output = np.nonzero(mask.reshape(n, a))[1]
        np.add.at(per_output[0], output, loss)  # rows of per_output, added to in place
        np.add.at(per_output[1], output, weight)
        present = per_output[1] > 0
        return pair_mean((per_output[0, present] / per_output[1, present]).sum(), present.sum())

    def _derivatives(
        self, training: TrainingSet, z: np.ndarray, *, dtype: Any = np.float64,
        out: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        _, pair_labels = self._labelled(training)
        grad, hess = _backend.grad_hess(
            pair_labels, self._pair_margins(training, z), self._alpha_arg(training),
            training.pair_weight, self.spec.gamma, self.spec.positive, binary=False,
        )
        shape = z.shape
        grad_out, hess_out = (None, None) if out is None else out
        return (self._scatter(training, grad, dtype, grad_out).reshape(shape),
                self._scatter(training, hess, dtype, hess_out).reshape(shape))

    def _columns(self) -> int:
        return self.n_outputs * self.n_classes

    def _total_weight(self, training: TrainingSet) -> float:
        _, pair_labels = self._labelled(training)
        weight = training.pair_weight
        return float(pair_labels.shape[0] if weight is None else np.sum(weight))

    def _log_loss_values(self, training: TrainingSet, z: np.ndarray) -> np.ndarray:
        _, pair_labels = self._labelled(training)
        flat = self._pair_margins(training, z)
        corrected = log_posterior(flat, self._posterior_alpha(), self.spec.gamma)
        return _backend.loss(pair_labels, corrected, None, training.pair_weight, 0.0,
                             binary=False)

    # ------------------------------------------------------------------ NumPy level
    def loss(
        self, y: Any, raw_score: Any, sample_weight: Any = None, reduction: str = "mean"
    ) -> float | np.ndarray:
        """Focal loss; ``reduction`` as in :func:`gbfocal._focal.multioutput_focal_loss`.

        Default: the weighted mean over the labelled pairs. Fits ``alpha_`` first if needed.
        """
        training = self._numpy_training_set(y, sample_weight)
        return self._values(training, self._check_raw(raw_score, training.n_rows), reduction)

    def grad_hess(
        self, y: Any, raw_score: Any, sample_weight: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and diagonal Hessian in the shape of ``raw_score``; zero where ignored."""
        training = self._numpy_training_set(y, sample_weight)
        return self._derivatives(training, self._check_raw(raw_score, training.n_rows))

    def metric(self, name: str, y: Any, raw_score: Any, sample_weight: Any = None) -> float:
        """"focal_loss" or "log_loss" (corrected), the weighted means over labelled pairs."""
        if name not in ("focal_loss", "log_loss"):
            raise ValueError(
                f"the multi-output loss evaluates 'focal_loss' and 'log_loss', got {name!r}"
            )
        return super().metric(name, y, raw_score, sample_weight)

    def init_score(self, y: Any, sample_weight: Any = None) -> np.ndarray:
        """Constant raw margins ``(n_outputs, n_classes)`` minimising the weighted focal loss.

        The loss separates over outputs, so each output gets the constant that is
        optimal for its own labelled pairs (mean zero over classes; zeros for an
        output without labels). Fits ``alpha_``. Flatten with ``.ravel()`` for the
        libraries' output-major ``A * K`` columns. Raises ValueError when
        ``sample_weight`` is zero on every labelled entry.
        """
        labels = self._check_labels(y)
        mask, pair_y, pair_w = self._pairs(labels, self._check_weight(sample_weight, labels))
        require_weight(pair_w, "entry")
        self.fit(y, sample_weight)
        output = np.nonzero(mask.reshape(labels.shape))[1]
        totals = np.zeros((self.n_outputs, self.n_classes))
        np.add.at(totals, (output, pair_y), 1.0 if pair_w is None else pair_w)
        totals *= self.alpha_
        return np.stack([
            minimise_multiclass(t, self.spec.gamma) if t.sum() > 0 else np.zeros(self.n_classes)
            for t in totals
        ])

    def posterior_margin(self, raw_score: Any) -> np.ndarray:
        """Raw margins mapped to log posterior probabilities ``(n, A, K)``."""
        z = v.as_float_array(raw_score, "raw_score")
        n = z.shape[0] if z.ndim >= 1 else -1
        z3 = v.check_raw_score_multioutput(self._check_raw(z, n), n, self.n_outputs)
        flat = z3.reshape(-1, self.n_classes)
        return log_posterior(flat, self._posterior_alpha(), self.spec.gamma).reshape(z3.shape)

    def predict_proba(
        self, raw_score: Any, *, corrected: bool = True, check_input: bool = True
    ) -> np.ndarray:
        """Probabilities ``(n, n_outputs, n_classes)`` from raw margins.

        Accepts ``(n, A, K)`` or the flat output-major ``(n, A * K)``. ``corrected=True``
        (default) gives the class posterior of the focal risk minimiser per output
        (:func:`gbfocal.focal_posterior` with ``alpha_`` and ``gamma``);
        ``corrected=False`` the plain softmax, biased towards uniform for ``gamma > 0``.
        """
        z = v.as_float_array(raw_score, "raw_score")
        n = z.shape[0] if z.ndim >= 1 else -1
        z3 = v.check_raw_score_multioutput(self._check_raw(z, n), n, self.n_outputs)
        if check_input and ((z3 >= 0) & (z3 <= 1)).all() and np.allclose(
            z3.sum(axis=2), 1.0, atol=1e-6
        ):
            raise ValueError(
                "predict_proba received raw scores whose blocks are probabilities (in [0, 1], "
                "summing to 1 per output): pass raw margins, e.g. "
                "booster.predict(X, raw_score=True) (LightGBM) or output_margin=True (XGBoost)"
            )
        if not corrected or (self.spec.alpha is None and self.spec.gamma == 0.0):
            return special.softmax(z3, axis=2)
        return np.exp(self.posterior_margin(z3))

    # ------------------------------------------------------------------ label encodings
    def lgb_label(self, y: Any) -> np.ndarray:
        """Labels ``(n, A)`` encoded as one float per row for a LightGBM Dataset.

        LightGBM keeps a single float32 label per row, so row ``i`` stores the integer
        ``sum_a (y_ia + 1) (K + 1)**a`` (digit 0 = ignored), exact while
        ``(K + 1)**A <= 2**24`` (e.g. 12 outputs of 3 classes). Larger problems:
        train one booster per output (what :class:`FocalMultiOutputClassifier` does
        with LightGBM) or use XGBoost.
        """
        self._check_code_range()
        labels = self._check_y(y)
        codes, mask = v.check_multioutput_labels(labels, self.n_classes, self.ignore_label)
        digits = np.where(mask, codes + 1, 0).astype(np.int64)
        place = (self.n_classes + 1) ** np.arange(self.n_outputs, dtype=np.int64)
        return (digits @ place).astype(np.float64)

    def xgb_label(self, y: Any) -> np.ndarray:
        """Labels ``(n, A)`` one-hot encoded as ``(n, A * K)`` for an XGBoost DMatrix.

        XGBoost derives the number of outputs from the label width, so the label must
        have ``A * K`` columns: the one-hot block of each output, all zeros where ignored.
        """
        labels = self._check_y(y)
        codes, mask = v.check_multioutput_labels(labels, self.n_classes, self.ignore_label)
        onehot = np.zeros(labels.shape + (self.n_classes,), dtype=np.float32)
        rows, outputs = np.nonzero(mask)
        onehot[rows, outputs, codes[rows, outputs]] = 1.0
        return onehot.reshape(labels.shape[0], -1)

    def _check_code_range(self) -> None:
        if (self.n_classes + 1) ** self.n_outputs > _FLOAT32_EXACT:
            raise ValueError(
                f"{self.n_outputs} outputs of {self.n_classes} classes do not fit in LightGBM's "
                "float32 row label ((K + 1)**A must be <= 2**24): train one LightGBM booster per "
                "output (FocalMultiOutputClassifier(backend='lightgbm') does) or use XGBoost"
            )

    def decode_label(self, label: np.ndarray) -> np.ndarray:
        """Labels ``(n, A)`` (ignored = ignore_label) from a library's stored label."""
        n_rows = label.shape[0]
        marker = -1 if self.ignore_label is None else self.ignore_label
        a, k = self.n_outputs, self.n_classes
        if label.ndim == 2 and label.shape == (n_rows, a * k):  # XGBoost one-hot
            blocks = label.reshape(n_rows, a, k)
            total = blocks.sum(axis=2)
            if not (np.isin(blocks, (0.0, 1.0)).all() and np.isin(total, (0.0, 1.0)).all()):
                raise ValueError(
                    "the XGBoost label must be one-hot per output (loss.xgb_label(y)); found "
                    "blocks that are not one-hot or all zero"
                )
            return np.where(total > 0, blocks.argmax(axis=2), marker)
        if label.ndim == 2 and label.shape == (n_rows, a):  # plain labels
            return label
        if label.ndim == 1:  # LightGBM row code
            self._check_code_range()
            code = label.astype(np.float64)
            top = (k + 1) ** a
            if not ((code == np.round(code)) & (code >= 0) & (code < top)).all():
                raise ValueError(
                    "the LightGBM label must be the row code of loss.lgb_label(y) "
                    f"(integers in [0, {top})); build the Dataset with label=loss.lgb_label(y)"
                )
            place = (k + 1) ** np.arange(a, dtype=np.int64)
            digits = (code.astype(np.int64)[:, None] // place) % (k + 1)
            return np.where(digits > 0, digits - 1, marker)
        raise ValueError(
            f"the dataset label has shape {label.shape}; expected loss.lgb_label(y) ({n_rows},) "
            f"for LightGBM or loss.xgb_label(y) ({n_rows}, {a * k}) for XGBoost"
        )


