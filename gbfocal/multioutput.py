"""Multi-output focal loss: several outputs per row, each a softmax over shared classes.

The typical case is aspect-based sentiment: each review has up to ``A`` aspects
(price, service, quality, ...) and each mentioned aspect one of ``K`` sentiments;
aspects a review does not mention carry no label. :class:`MultiOutputFocalLoss` is the
loss object (NumPy level plus LightGBM / XGBoost adapters) and
:class:`FocalMultiOutputClassifier` the scikit-learn estimator.

Multi-output lives in its own module because it spans both a loss object and an
estimator, which keeps :mod:`gbfocal.losses` and :mod:`gbfocal.sklearn` short.

scikit-learn is imported at module level (the estimator subclasses its base classes);
it comes with every booster extra (``pip install gbfocal[lightgbm]``). ``import gbfocal``
loads this module only on first access to its names.

Layouts
-------
Raw scores are ``(n, A, K)`` or the flat output-major ``(n, A * K)`` the libraries use
(column ``a * K + k`` is class ``k`` of output ``a``). The libraries store one label
per row (LightGBM) or require the label width to equal the number of outputs
(XGBoost), so the training labels are encoded: :meth:`MultiOutputFocalLoss.lgb_label`
and :meth:`MultiOutputFocalLoss.xgb_label`.
"""

from __future__ import annotations

import numbers
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from scipy import special
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _validation as v
from ._focal import (
    _LabelledPairs,
    _multioutput_alpha,
    multioutput_focal_grad_hess,
    multioutput_focal_loss,
)
from ._optional import import_optional
from ._posterior import check_posterior_alpha, log_posterior
from .losses import (
    MulticlassFocalLoss,
    _dataset_label,
    _dataset_weight,
    _minimise_multiclass,
)

__all__ = ["FocalMultiOutputClassifier", "MultiOutputFocalLoss"]

# LightGBM stores labels as float32: integers are exact up to 2**24.
_FLOAT32_EXACT = 2**24


def _import(module: str) -> Any:
    return import_optional(module, needed_by=f"FocalMultiOutputClassifier(backend={module!r})")


# --------------------------------------------------------------------------- loss object
class MultiOutputFocalLoss:
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
    alpha_ : ndarray of shape (n_classes,)
        Global class weights resolved by :meth:`fit` (all ones for ``alpha=None``).

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

    def __init__(
        self,
        n_outputs: int,
        n_classes: int,
        alpha: Any = None,
        gamma: float = 2.0,
        hessian: str = "positive",
        ignore_label: int | None = -1,
    ) -> None:
        if isinstance(n_outputs, bool) or not isinstance(n_outputs, numbers.Integral):
            raise TypeError(f"n_outputs must be an integer >= 1, got {n_outputs!r}")
        if n_outputs < 1:
            raise ValueError(f"n_outputs must be >= 1, got {n_outputs}")
        self.n_outputs = int(n_outputs)
        self.n_classes = v.check_n_classes(n_classes)
        self.alpha = alpha
        self.gamma = gamma
        self.hessian = hessian
        self.ignore_label = ignore_label
        v.check_alpha_spec(alpha, self.n_classes, binary=False)
        v.check_gamma(gamma)
        v.check_hessian(hessian)
        v.check_ignore_label(ignore_label, self.n_classes)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_outputs={self.n_outputs}, n_classes={self.n_classes}, "
            f"alpha={self.alpha!r}, gamma={self.gamma!r}, hessian={self.hessian!r}, "
            f"ignore_label={self.ignore_label!r})"
        )

    # ------------------------------------------------------------------ checks
    def _check_y(self, y: Any) -> np.ndarray:
        labels = v.check_multioutput_label_array(y)
        if labels.shape[1] != self.n_outputs:
            raise ValueError(
                f"y_true has {labels.shape[1]} outputs (columns) but the loss was built for "
                f"n_outputs={self.n_outputs}"
            )
        return labels

    def _check_raw(self, raw_score: Any, n_samples: int) -> np.ndarray:
        """Margins of the right shape; returned as given (the math keeps that shape)."""
        z = v._as_float_array(raw_score, "raw_score")
        z3 = v.check_raw_score_multioutput(z, n_samples, self.n_outputs)
        if z3.shape[2] != self.n_classes:
            raise ValueError(
                f"raw_score has {z3.shape[2]} classes per output (shape {z.shape}) but the loss "
                f"was built for n_classes={self.n_classes} (n_outputs={self.n_outputs})"
            )
        return z

    def _alpha_arg(self, y: np.ndarray, sample_weight: Any) -> np.ndarray | None:
        if self.alpha is None:
            return None
        if not hasattr(self, "alpha_"):
            self.fit(y, sample_weight)
        return self.alpha_

    # ------------------------------------------------------------------ NumPy level
    def fit(self, y: Any, sample_weight: Any = None) -> MultiOutputFocalLoss:
        """Resolve the global class weights ``alpha_`` from labels ``(n, A)``.

        "balanced" counts the labelled pairs of all outputs, weighted by
        ``sample_weight`` (``(n,)`` per row or ``(n, A)`` per entry).
        """
        labels = self._check_y(y)
        dummy = np.zeros(labels.shape + (self.n_classes,))
        pairs = _LabelledPairs(labels, dummy, sample_weight, self.ignore_label)
        alpha = _multioutput_alpha(self.alpha, pairs)
        self.alpha_ = np.ones(self.n_classes) if alpha is None else alpha
        return self

    def loss(
        self, y: Any, raw_score: Any, sample_weight: Any = None, reduction: str = "mean"
    ) -> float | np.ndarray:
        """Focal loss; ``reduction`` as in :func:`gbfocal._focal.multioutput_focal_loss`.

        Default: the weighted mean over the labelled pairs. Fits ``alpha_`` first if needed.
        """
        labels = self._check_y(y)
        raw = self._check_raw(raw_score, labels.shape[0])
        return multioutput_focal_loss(
            labels, raw, alpha=self._alpha_arg(labels, sample_weight), gamma=self.gamma,
            sample_weight=sample_weight, ignore_label=self.ignore_label, reduction=reduction,
        )

    def grad_hess(
        self, y: Any, raw_score: Any, sample_weight: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and diagonal Hessian in the shape of ``raw_score``; zero where ignored."""
        labels = self._check_y(y)
        raw = self._check_raw(raw_score, labels.shape[0])
        return multioutput_focal_grad_hess(
            labels, raw, alpha=self._alpha_arg(labels, sample_weight), gamma=self.gamma,
            sample_weight=sample_weight, ignore_label=self.ignore_label, hessian=self.hessian,
        )

    def init_score(self, y: Any, sample_weight: Any = None) -> np.ndarray:
        """Constant raw margins ``(n_outputs, n_classes)`` minimising the weighted focal loss.

        The loss separates over outputs, so each output gets the constant that is
        optimal for its own labelled pairs (mean zero over classes; zeros for an
        output without labels). Fits ``alpha_``. Flatten with ``.ravel()`` for the
        libraries' output-major ``A * K`` columns.
        """
        labels = self._check_y(y)
        self.fit(labels, sample_weight)
        dummy = np.zeros(labels.shape + (self.n_classes,))
        pairs = _LabelledPairs(labels, dummy, sample_weight, self.ignore_label)
        output = np.nonzero(pairs.mask.reshape(labels.shape))[1]
        totals = np.zeros((self.n_outputs, self.n_classes))
        np.add.at(totals, (output, pairs.y), 1.0 if pairs.w is None else pairs.w)
        totals *= self.alpha_
        gamma = v.check_gamma(self.gamma)
        return np.stack([
            _minimise_multiclass(t, gamma) if t.sum() > 0 else np.zeros(self.n_classes)
            for t in totals
        ])

    def predict_proba(self, raw_score: Any, *, corrected: bool = True) -> np.ndarray:
        """Probabilities ``(n, n_outputs, n_classes)`` from raw margins.

        Accepts ``(n, A, K)`` or the flat output-major ``(n, A * K)``. ``corrected=True``
        (default) gives the class posterior of the focal risk minimiser per output
        (:func:`gbfocal.focal_posterior` with ``alpha_`` and ``gamma``);
        ``corrected=False`` the plain softmax, biased towards uniform for ``gamma > 0``.
        """
        z = v._as_float_array(raw_score, "raw_score")
        n = z.shape[0] if z.ndim >= 1 else -1
        z3 = v.check_raw_score_multioutput(self._check_raw(z, n), n, self.n_outputs)
        if ((z3 >= 0) & (z3 <= 1)).all() and np.allclose(z3.sum(axis=2), 1.0, atol=1e-6):
            raise ValueError(
                "predict_proba received raw scores whose blocks are probabilities (in [0, 1], "
                "summing to 1 per output): pass raw margins, e.g. "
                "booster.predict(X, raw_score=True) (LightGBM) or output_margin=True (XGBoost)"
            )
        if not corrected or (self.alpha is None and v.check_gamma(self.gamma) == 0.0):
            return special.softmax(z3, axis=2)
        if self.alpha is None:
            alpha = None
        elif hasattr(self, "alpha_"):
            alpha = check_posterior_alpha(self.alpha_, self.n_classes)
        elif isinstance(self.alpha, str):
            raise ValueError(
                f"alpha={self.alpha!r} is resolved from the training labels: call "
                "loss.fit(y_train) (or init_score) before asking for corrected probabilities"
            )
        else:
            alpha = check_posterior_alpha(self.alpha, self.n_classes)
        flat = z3.reshape(-1, self.n_classes)
        log_eta = log_posterior(flat, alpha, v.check_gamma(self.gamma))
        return np.exp(log_eta).reshape(z3.shape)

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

    def _decode(self, label: np.ndarray, n_rows: int) -> np.ndarray:
        """Labels ``(n, A)`` (ignored = ignore_label) from a library's stored label."""
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
        if label.ndim == 1 and label.shape[0] == n_rows:  # LightGBM row code
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

    def _margins(self, preds: Any, n_rows: int) -> np.ndarray:
        z = np.asarray(preds, dtype=np.float64)
        if z.shape != (n_rows, self.n_outputs * self.n_classes):
            raise ValueError(
                f"the library passed raw predictions of shape {z.shape}; expected "
                f"({n_rows}, {self.n_outputs * self.n_classes}) = (n, n_outputs * n_classes): "
                "set num_class (LightGBM) to n_outputs * n_classes, and the XGBoost label to "
                "loss.xgb_label(y)"
            )
        return z

    def _from_dataset(self, preds: Any, dataset: Any) -> tuple[np.ndarray, np.ndarray, Any]:
        label = _dataset_label(dataset)
        n_rows = label.shape[0]
        return self._decode(label, n_rows), self._margins(preds, n_rows), _dataset_weight(dataset)

    # ------------------------------------------------------------------ library adapters
    def lgb_objective(self, preds: Any, train_data: Any) -> tuple[np.ndarray, np.ndarray]:
        """LightGBM >= 4 objective (``num_class = A * K``); float32 ``(n, A * K)``."""
        y, raw, weight = self._from_dataset(preds, train_data)
        self.fit(y, weight)  # alpha_ always from the training set being boosted
        grad, hess = self.grad_hess(y, raw, weight)
        # LightGBM flattens (n, A*K) in Fortran order: hand it exactly that layout.
        return np.asfortranarray(grad, np.float32), np.asfortranarray(hess, np.float32)

    def xgb_objective(self, predt: Any, dtrain: Any) -> tuple[np.ndarray, np.ndarray]:
        """XGBoost objective (label ``xgb_label(y)``); float32 ``(n, A * K)``."""
        y, raw, weight = self._from_dataset(predt, dtrain)
        self.fit(y, weight)
        grad, hess = self.grad_hess(y, raw, weight)
        return np.ascontiguousarray(grad, np.float32), np.ascontiguousarray(hess, np.float32)

    def lgb_metric(self, preds: Any, eval_data: Any) -> tuple[str, float, bool]:
        """LightGBM ``feval``: ``("focal_loss", mean over labelled pairs, False)``."""
        y, raw, weight = self._from_dataset(preds, eval_data)
        return "focal_loss", float(self.loss(y, raw, weight)), False

    def xgb_metric(self, predt: Any, dmatrix: Any) -> tuple[str, float]:
        """XGBoost ``custom_metric``: ``("focal_loss", mean over labelled pairs)``."""
        y, raw, weight = self._from_dataset(predt, dmatrix)
        return "focal_loss", float(self.loss(y, raw, weight))


# --------------------------------------------------------------------------- estimator
def _missing_mask(y: np.ndarray, marker: Any) -> np.ndarray:
    """Entries equal to ``marker``; None/NaN markers match None and NaN.

    A numeric marker also matches its text in string labels: NumPy stores ``-1`` as
    ``"-1"`` in a string array, which would otherwise become a class of its own.
    """
    if marker is None or (isinstance(marker, Real) and np.isnan(marker)):
        return np.frompyfunc(lambda x: x is None or x != x, 1, 1)(y).astype(bool)
    values = y.astype(object)
    missing = np.asarray(values == marker, dtype=bool)
    if isinstance(marker, Real) and not isinstance(marker, bool):
        texts = {str(marker)}
        if float(marker).is_integer():
            texts.add(str(int(marker)))
        is_text = np.frompyfunc(lambda x: isinstance(x, str) and x in texts, 1, 1)
        missing |= is_text(values).astype(bool)
    return missing


# Booster parameters (main names) the multi-output estimator sets itself -> what to use.
_RESERVED = {
    "lightgbm": {
        "objective": "the focal loss (alpha, gamma, hessian)",
        "metric": "nothing (no metric is evaluated)",
        "num_class": "the labels",
        "num_iterations": "n_estimators",
        "early_stopping_round": "nothing (not supported here)",
        "learning_rate": "learning_rate",
        "bagging_fraction": "subsample",
        "bagging_freq": "subsample (bagging every round when < 1)",
        "feature_fraction": "colsample_bytree",
        "lambda_l2": "reg_lambda",
        "seed": "random_state",
        "num_threads": "n_jobs",
    },
    "xgboost": {
        "objective": "the focal loss (alpha, gamma, hessian)",
        "num_class": "the labels",
        "num_target": "the labels",
        "eval_metric": "nothing (no metric is evaluated)",
        "base_score": "nothing (the estimator sets the initial score itself)",
        "disable_default_eval_metric": "nothing",
        "num_boost_round": "n_estimators",
        "n_estimators": "n_estimators",
        "early_stopping_rounds": "nothing (not supported here)",
        "eta": "learning_rate",
        "subsample": "subsample",
        "colsample_bytree": "colsample_bytree",
        "lambda": "reg_lambda",
        "seed": "random_state",
        "nthread": "n_jobs",
        "tree_method": "nothing (hist is required for vector labels)",
        "multi_strategy": "multi_strategy",
    },
}



class FocalMultiOutputClassifier(ClassifierMixin, BaseEstimator):
    """Multi-output classifier (e.g. aspects x sentiments) trained with focal loss.

    Parameters
    ----------
    backend : {"lightgbm", "xgboost"}, default="lightgbm"
        "lightgbm": one booster per output, each trained on the rows where that
        output is labelled, with the multiclass focal objective and the *global*
        ``alpha_`` (faster than one booster with ``A * K`` score columns at the same
        accuracy: see the README). "xgboost": one booster for all outputs
        (``num_target = A * K``) with :class:`MultiOutputFocalLoss`.
    alpha : None, array-like of n_classes floats or "balanced", default=None
        Class weights shared by all outputs, in the order of ``classes_``;
        "balanced" counts the labelled (row, output) pairs of all outputs.
    gamma : float, default=2.0
        Focusing parameter ``>= 0``.
    hessian : {"positive", "exact"}, default="positive"
        Hessian used for the Newton steps.
    missing_label : object, default=-1
        Marker of an entry without a label (an aspect a review does not mention).
        None or NaN: None and NaN entries are missing.
    n_estimators : int, default=100
        Boosting rounds.
    learning_rate : float, default=0.1
        Shrinkage.
    subsample, colsample_bytree : float, default=1.0
        Row and feature subsampling (LightGBM: bagging every round when < 1).
    reg_lambda : float, default=0.0
        L2 regularisation of the leaf values.
    multi_strategy : {"one_output_per_tree", "multi_output_tree"}, default="one_output_per_tree"
        XGBoost only: one tree per score column, or vector-leaf trees.
    random_state : int, RandomState or None, default=None
        Seed of the boosters.
    n_jobs : int or None, default=None
        Threads (-1: all cores); None: the library's default.
    correct_proba : bool, default=True
        :meth:`predict_proba` returns the class posterior of the focal risk minimiser
        (:func:`gbfocal.focal_posterior`); False: the plain softmax of the margins, which
        focal loss biases towards uniform. :meth:`predict` is the argmax of what
        :meth:`predict_proba` returns.
    params : dict or None, default=None
        Further booster parameters (e.g. ``num_leaves``, ``min_child_samples``,
        ``max_depth``), passed unchanged.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in any output; all outputs share them.
    n_outputs_ : int
        Number of outputs ``A``.
    alpha_ : ndarray of shape (n_classes,)
        Resolved global class weights.
    init_score_ : ndarray of shape (n_outputs, n_classes)
        Initial raw margins (added to the trees' output).
    boosters_ : list
        One LightGBM booster per output, or one XGBoost booster.
    n_features_in_ : int
    feature_names_in_ : ndarray, only for DataFrame input

    Notes
    -----
    ``predict_proba`` returns one ``(n, A, K)`` array over ``classes_``: an output that
    never used some class in training gives it a near-zero probability.
    ``score`` is the mean over outputs of the accuracy on the labelled entries.

    Examples
    --------
    >>> import numpy as np
    >>> from gbfocal import FocalMultiOutputClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> y = np.where(X[:, :2] > 0.3, "pos", np.where(X[:, :2] < -0.3, "neg", "neu")).astype(object)
    >>> y[rng.random(y.shape) < 0.3] = -1          # not mentioned
    >>> clf = FocalMultiOutputClassifier(n_estimators=20, n_jobs=1).fit(X, y)
    >>> clf.predict(X[:2]).shape, clf.predict_proba(X[:2]).shape
    ((2, 2), (2, 2, 3))
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "backend": [StrOptions({"lightgbm", "xgboost"})],
        "alpha": [None, StrOptions({"balanced"}), "array-like"],
        "gamma": [Interval(Real, 0, None, closed="left")],
        "hessian": [StrOptions({"positive", "exact"})],
        "missing_label": "no_validation",
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "colsample_bytree": [Interval(Real, 0, 1, closed="right")],
        "reg_lambda": [Interval(Real, 0, None, closed="left")],
        "multi_strategy": [StrOptions({"one_output_per_tree", "multi_output_tree"})],
        "random_state": ["random_state"],
        "n_jobs": [
            None,
            Interval(Integral, None, -1, closed="right"),
            Interval(Integral, 1, None, closed="left"),
        ],
        "correct_proba": ["boolean"],
        "params": [None, dict],
    }

    def __init__(
        self,
        *,
        backend: str = "lightgbm",
        alpha: Any = None,
        gamma: float = 2.0,
        hessian: str = "positive",
        missing_label: Any = -1,
        n_estimators: int = 100,
        learning_rate: float = 0.1,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        reg_lambda: float = 0.0,
        multi_strategy: str = "one_output_per_tree",
        random_state: Any = None,
        n_jobs: int | None = None,
        correct_proba: bool = True,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.backend = backend
        self.alpha = alpha
        self.gamma = gamma
        self.hessian = hessian
        self.missing_label = missing_label
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.multi_strategy = multi_strategy
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.correct_proba = correct_proba
        self.params = params

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        tags.input_tags.allow_nan = True
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------ fit
    def _encode(self, y: Any) -> np.ndarray:
        """Labels -> class indices (n, A), -1 where missing; sets ``classes_``."""
        y = np.asarray(y, dtype=object)
        if y.ndim != 2 or y.shape[1] < 1:
            raise ValueError(
                f"y must be 2-D (n_samples, n_outputs) with a missing marker "
                f"(missing_label={self.missing_label!r}), got shape {y.shape}; for one output "
                "use FocalLGBMClassifier / FocalXGBClassifier"
            )
        missing = _missing_mask(y, self.missing_label)
        if missing.all():
            raise ValueError(
                f"every entry of y equals missing_label={self.missing_label!r}: nothing to learn"
            )
        values = y[~missing]
        labels = np.asarray(values.tolist())
        if labels.dtype.kind in "UO" and not all(isinstance(x, str) for x in values):
            raise TypeError(
                "the labels of y mix strings and other types; use one type for all outputs "
                f"(the missing marker {self.missing_label!r} excepted)"
            )
        if labels.dtype.kind == "f" and not np.isfinite(labels).all():
            raise ValueError("y contains NaN or infinity; mark missing entries with missing_label")
        self.classes_ = np.unique(labels)
        if self.classes_.shape[0] < 2:
            raise ValueError(f"y needs at least 2 classes, got {self.classes_.tolist()}")
        codes = np.full(y.shape, -1, dtype=np.intp)
        codes[~missing] = np.searchsorted(self.classes_, labels)
        empty = np.flatnonzero(missing.all(axis=0))
        if empty.size:
            raise ValueError(f"outputs {empty.tolist()} of y have no labelled rows")
        return codes

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> FocalMultiOutputClassifier:
        """Fit on ``X`` and labels ``y`` of shape (n_samples, n_outputs).

        ``sample_weight`` (n_samples,) weights every output of a row.
        """
        from .sklearn import (
            _X_CHECKS,
            _check_native_params,
            _check_weight,
            _lightgbm_aliases,
            _xgboost_aliases,
        )

        _import(self.backend)
        aliases = _lightgbm_aliases() if self.backend == "lightgbm" else _xgboost_aliases()
        _check_native_params(self.params, _RESERVED[self.backend], aliases)
        X = validate_data(self, X, reset=True, **_X_CHECKS)
        codes = self._encode(y)
        if codes.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {codes.shape[0]}")
        weight = _check_weight(sample_weight, X.shape[0], "sample_weight")
        self.n_outputs_ = codes.shape[1]
        n_classes = self.classes_.shape[0]
        alpha = self.alpha
        if alpha is not None and not isinstance(alpha, str):
            alpha = list(alpha)
        self.loss_ = MultiOutputFocalLoss(
            self.n_outputs_, n_classes, alpha=alpha, gamma=self.gamma, hessian=self.hessian,
        )
        self.init_score_ = self.loss_.init_score(codes, weight)  # also fits alpha_
        self.alpha_ = self.loss_.alpha_
        if self.backend == "lightgbm":
            self.boosters_ = self._fit_lightgbm(X, codes, weight)
        else:
            self.boosters_ = [self._fit_xgboost(X, codes, weight)]
        return self

    def _common_params(self) -> dict[str, Any]:
        from .sklearn import _n_threads, _seed

        params: dict[str, Any] = {
            "learning_rate": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "reg_lambda": self.reg_lambda,
        }
        seed, threads = _seed(self.random_state), _n_threads(self.n_jobs)
        if seed is not None:
            params["seed"] = seed
        if threads is not None:
            params["nthread"] = threads
        return params

    def _fit_lightgbm(self, X: Any, codes: np.ndarray, weight: Any) -> list[Any]:
        lgb = _import("lightgbm")
        params = {**self._common_params(), "verbose": -1, "metric": "None"}
        if self.subsample < 1:
            params["subsample_freq"] = 1
        params.update(self.params or {})
        boosters = []
        for a in range(self.n_outputs_):
            rows = np.flatnonzero(codes[:, a] >= 0)
            # The per-output loss carries the global weights, so every output is
            # trained on the same multi-output loss restricted to its labelled rows.
            loss = MulticlassFocalLoss(
                self.classes_.shape[0], alpha=self.alpha_.tolist(), gamma=self.gamma,
                hessian=self.hessian,
            )
            w = None if weight is None else weight[rows]
            data = lgb.Dataset(
                X[rows], label=codes[rows, a], weight=w,
                init_score=np.tile(self.init_score_[a], (rows.size, 1)),
            )
            boosters.append(lgb.train(
                {**params, "objective": loss.lgb_objective, "num_class": loss.n_classes},
                data, num_boost_round=self.n_estimators,
            ))
        return boosters

    def _fit_xgboost(self, X: Any, codes: np.ndarray, weight: Any) -> Any:
        xgb = _import("xgboost")
        params = {
            **self._common_params(), "tree_method": "hist", "multi_strategy": self.multi_strategy,
            "base_score": 0.0, "disable_default_eval_metric": True,
        }
        params.update(self.params or {})
        data = xgb.DMatrix(
            X, label=self.loss_.xgb_label(codes), weight=weight,
            base_margin=np.tile(self.init_score_.ravel(), (X.shape[0], 1)),
        )
        return xgb.train(
            params, data, num_boost_round=self.n_estimators, obj=self.loss_.xgb_objective
        )

    # ------------------------------------------------------------------ predict
    def decision_function(self, X: Any) -> np.ndarray:
        """Raw margins (n_samples, n_outputs, n_classes), initial score included."""
        from .sklearn import _X_CHECKS, _n_threads

        check_is_fitted(self)
        X = validate_data(self, X, reset=False, **_X_CHECKS)
        if self.backend == "lightgbm":
            # the thread count goes with every call (see FocalLGBMClassifier._predict_trees)
            threads = _n_threads(self.n_jobs)
            extra = {} if threads is None else {"num_threads": threads}
            raw = np.stack(
                [b.predict(X, raw_score=True, **extra) for b in self.boosters_], axis=1
            )
        else:
            xgb = _import("xgboost")
            raw = self.boosters_[0].predict(xgb.DMatrix(X), output_margin=True)
        raw = raw.reshape(X.shape[0], self.n_outputs_, -1)
        return raw + self.init_score_

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities (n_samples, n_outputs, n_classes) over ``classes_``.

        The focal posterior (``correct_proba=True``) or the plain softmax.
        """
        return self.loss_.predict_proba(self.decision_function(X), corrected=self.correct_proba)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable label per output (argmax of :meth:`predict_proba`), (n, n_outputs)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=2)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean over outputs of the (weighted) accuracy on the labelled entries of ``y``."""
        y = np.asarray(y, dtype=object)
        labelled = ~_missing_mask(y, self.missing_label)
        pred = self.predict(X).astype(object)
        w = np.ones(y.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
        scores = []
        for a in range(y.shape[1]):
            m = labelled[:, a]
            if m.any() and w[m].sum() > 0:
                scores.append(np.average(pred[m, a] == y[m, a], weights=w[m]))
        return float(np.mean(scores))
