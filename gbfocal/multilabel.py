"""Multi-label classifier: several independent yes/no labels per row, trained with focal loss.

Typical cases are tagging (which topics does a document have, which objects does an image
show) and attribute prediction: each row has ``L`` binary labels, any number of them may be
on, and some may be unknown. :class:`FocalMultiLabelClassifier` is the scikit-learn
estimator; its loss is :class:`gbfocal.losses.MultiLabelFocalLoss`, one sigmoid focal loss
per label (the binary focal loss, label by label).

scikit-learn is imported at module level (the estimator subclasses its base classes); it
comes with every booster extra (``pip install gbfocal[lightgbm]``).

Layouts
-------
LightGBM keeps one label per row, so the LightGBM backend trains one binary booster per
label, on the rows where that label is known, with :class:`gbfocal.BinaryFocalLoss` and that
label's ``alpha_`` (resolved once, from all the labels, by the multi-label loss). XGBoost
takes an ``(n, L)`` label, so the XGBoost backend trains one booster for all labels with
:class:`~gbfocal.losses.MultiLabelFocalLoss` (``multi_strategy`` chooses one tree per label
per round or vector-leaf trees).
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from scipy import sparse
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import (
    _X_CHECKS,
    BACKEND_OPTIONS,
    RESERVED_BOOSTER_PARAMS,
    FocalEstimator,
    _check_weight,
)
from ._optional import import_optional
from .losses import BinaryFocalLoss, MultiLabelFocalLoss

__all__ = ["FocalMultiLabelClassifier", "MultiLabelFocalLoss"]

# Booster parameters (main names) the estimator sets itself -> what to use instead,
# checked under every alias of the library.
_RESERVED_PARAMS = {
    "lightgbm": {**RESERVED_BOOSTER_PARAMS["lightgbm"],
                 "num_class": "the labels (one binary booster per label)"},
    "xgboost": {**RESERVED_BOOSTER_PARAMS["xgboost"], "num_target": "the labels (the width of Y)",
                "tree_method": "nothing (hist is required for an (n, L) label)"},
}

# The marker of an unknown label inside the training labels handed to the loss and to
# XGBoost (the user's missing_label is translated to it).
_UNKNOWN = -1


def _import(module: str) -> Any:
    return import_optional(module, needed_by=f"FocalMultiLabelClassifier(backend={module!r})")


def _as_float_labels(Y: Any) -> np.ndarray:
    """``Y`` (dense, sparse, bool, DataFrame, None-holding object) as a float64 array.

    None becomes NaN, so that ``missing_label=None`` finds it; text is refused, because
    ``"1"`` and ``"yes"`` are not the 0/1 indicator scikit-learn's multi-label API uses.
    """
    if sparse.issparse(Y):
        Y = Y.toarray()
    values = np.asarray(Y)
    if values.dtype.kind in "USO":
        if values.dtype.kind == "O":
            is_none = np.frompyfunc(lambda x: x is None, 1, 1)(values).astype(bool)
            values = np.where(is_none, np.nan, values)
        try:
            return np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                "Y must be a 0/1 indicator matrix (n_samples, n_labels) of numbers or bools, "
                f"got {values.dtype} entries ({exc}); turn label sets into indicators with "
                "sklearn.preprocessing.MultiLabelBinarizer"
            ) from exc
    if values.dtype.kind not in "biuf":
        raise TypeError(f"Y must be a 0/1 indicator matrix of numbers, got dtype {values.dtype}")
    return values.astype(np.float64)


class FocalMultiLabelClassifier(FocalEstimator):
    """Multi-label classifier (several independent 0/1 labels per row) trained with focal loss.

    Every label gets its own sigmoid focal loss ``-a_{l,y} (1 - p_t)^gamma log p_t``; unknown
    labels (``missing_label``) contribute nothing.

    Parameters
    ----------
    backend : {"lightgbm", "xgboost"}, default="lightgbm"
        "lightgbm": one binary booster per label, each trained on the rows where that label
        is known, with :class:`gbfocal.BinaryFocalLoss` and that label's ``alpha_[l]``
        (LightGBM holds one label per row, so there is no joint layout). "xgboost": one
        booster for all labels (an ``(n, L)`` label) with
        :class:`~gbfocal.losses.MultiLabelFocalLoss`.
    alpha : None, float, array-like of n_labels floats, "balanced" or \
("effective_number", beta), default=None
        Class weights. None: 1. A float ``a`` in [0, 1]: ``a`` for the positives and ``1 - a``
        for the negatives of every label. ``L`` floats in [0, 1]: that per label (a sequence
        is always one positive-class weight per label, also when ``L = 2``). "balanced" /
        ("effective_number", beta): resolved per label from its known entries.
    gamma : float, default=2.0
        Focusing parameter ``>= 0``.
    hessian : {"positive", "exact"}, default="positive"
        Hessian used for the Newton steps.
    gamma_neg : float >= 0 or None, default=None
        The asymmetric focal loss (Ridnik et al., ICCV 2021): ``gamma`` focuses the
        positives and ``gamma_neg`` the negatives of every label; None: ``gamma`` for both.
    clip : float in [0, 1), default=0.0
        The asymmetric loss's probability margin: negatives with ``p <= clip`` contribute
        nothing (the paper's multi-label default is 0.05 with gamma 0, gamma_neg 4).
    missing_label : int, float, None or NaN, default=-1
        Marker of an unknown label. None or NaN: NaN (and None) entries are unknown. Must not
        be 0 or 1.
    n_estimators : int, default=100
        Boosting rounds (per label for LightGBM).
    learning_rate : float, default=0.1
        Shrinkage.
    subsample, colsample_bytree : float, default=1.0
        Row and feature subsampling (LightGBM: bagging every round when < 1).
    reg_lambda : float, default=0.0
        L2 regularisation of the leaf values.
    multi_strategy : {"one_output_per_tree", "multi_output_tree"}, default="one_output_per_tree"
        XGBoost only: one tree per label per round, or one vector-leaf tree per round.
    random_state : int, RandomState or None, default=None
        Seed of the boosters.
    n_jobs : int or None, default=None
        Threads (-1: all cores); None: the library's default.
    correct_proba : bool, default=True
        :meth:`predict_proba` returns each label's focal posterior
        (:func:`gbfocal.focal_posterior` with that label's ``alpha_[l]``); False: the plain
        sigmoid of the margins, which focal loss biases towards 1/2.
    params : dict or None, default=None
        Further booster parameters (e.g. ``num_leaves``, ``min_child_samples``,
        ``max_depth``), passed unchanged to every booster.

    Attributes
    ----------
    classes_ : list of n_labels ndarrays ``[0, 1]``
        The classes of every label (scikit-learn's multi-output convention; with it,
        ``type_of_target(classes_)`` is "multilabel-indicator" for any ``L``, which the
        scorers rely on).
    n_outputs_ : int
        Number of labels ``L``.
    alpha_ : ndarray of shape (n_labels, 2)
        Resolved ``[negative, positive]`` weights of every label.
    init_score_ : ndarray of shape (n_labels,)
        Initial raw margin of every label (added to the trees' output).
    loss_ : MultiLabelFocalLoss
        The fitted loss.
    boosters_ : list
        One LightGBM booster per label, or one XGBoost booster.
    n_features_in_ : int
    feature_names_in_ : ndarray, only for DataFrame input

    Notes
    -----
    ``predict_proba`` returns one ``(n, L)`` array of positive-class probabilities, column
    ``l`` being ``P(label l = 1)``: the multi-label layout of scikit-learn's
    ``MLPClassifier``, and what the multi-label metrics take (``average_precision_score(Y,
    proba)``). It is not the list of ``L`` arrays of shape ``(n, 2)`` that
    ``sklearn.multioutput.MultiOutputClassifier`` (and ``RandomForestClassifier``) return;
    ``[np.column_stack([1 - p, p]) for p in proba.T]`` converts. scikit-learn's scorers take
    either (``"average_precision"``, ``"roc_auc"``, ``make_scorer(...,
    response_method="predict_proba")``); they need ``Y`` without unknown entries.
    ``predict`` is ``predict_proba(X) > 0.5`` on the probabilities returned (with the
    corrected ones, the decision that minimises the expected Hamming loss); for F1, tune
    per-label thresholds on held-out data. ``score`` is the subset accuracy (all known
    labels of a row right), scikit-learn's multi-label accuracy.

    Examples
    --------
    >>> import numpy as np
    >>> from gbfocal.multilabel import FocalMultiLabelClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> Y = (X[:, :3] > [0.0, 0.5, 1.0]).astype(int)   # 3 labels, 50 %, 31 %, 16 % positive
    >>> Y[rng.random(Y.shape) < 0.1] = -1               # unknown labels
    >>> clf = FocalMultiLabelClassifier(alpha="balanced", n_estimators=20, n_jobs=1).fit(X, Y)
    >>> clf.predict(X[:2]).shape, clf.predict_proba(X[:2]).shape, clf.alpha_.shape
    ((2, 3), (2, 3), (3, 2))
    """

    _parameter_constraints: ClassVar[dict[str, Any]] = {
        **FocalEstimator._parameter_constraints,
        "backend": [BACKEND_OPTIONS],
        "gamma_neg": "no_validation",  # validated by the loss (FocalSpec.create)
        "clip": "no_validation",
        "missing_label": "no_validation",
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "colsample_bytree": [Interval(Real, 0, 1, closed="right")],
        "reg_lambda": [Interval(Real, 0, None, closed="left")],
        "multi_strategy": [StrOptions({"one_output_per_tree", "multi_output_tree"})],
    }

    def __init__(
        self,
        *,
        backend: str = "lightgbm",
        alpha: Any = None,
        gamma: float = 2.0,
        hessian: str = "positive",
        gamma_neg: float | None = None,
        clip: float = 0.0,
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
        self.gamma_neg = gamma_neg
        self.clip = clip
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
        tags.classifier_tags.multi_label = True
        tags.classifier_tags.multi_class = False  # each label is yes/no
        return tags

    # ------------------------------------------------------------------ labels
    def _unknown(self, values: np.ndarray) -> np.ndarray:
        """Mask of the entries equal to ``missing_label`` (None / NaN: the NaN entries)."""
        marker = self.missing_label
        if marker is None or (isinstance(marker, Real) and not isinstance(marker, bool)
                              and np.isnan(float(marker))):
            return np.isnan(values)
        if isinstance(marker, bool) or not isinstance(marker, Real):
            raise TypeError(
                f"missing_label must be a number other than 0 and 1, None or NaN, got "
                f"{marker!r}"
            )
        if marker in (0, 1):
            raise ValueError(
                f"missing_label={marker!r} is a label value (0/1); use e.g. -1 for unknown labels"
            )
        return np.asarray(values == float(marker))

    def _check_labels(self, values: np.ndarray, sample_weight: np.ndarray | None) -> np.ndarray:
        """Validated ``(n, L)`` labels: 0.0 / 1.0, and ``_UNKNOWN`` where unknown.

        Every message names the offending columns: with dozens of labels, "a label has one
        class" would leave the user searching.
        """
        unknown = self._unknown(values)
        other = ~unknown & ~np.isin(values, (0.0, 1.0))
        if other.any():
            columns = np.flatnonzero(other.any(axis=0))
            raise ValueError(
                f"Y must hold 0/1 labels and missing_label={self.missing_label!r} for unknown "
                f"ones; columns {columns.tolist()} hold other values (e.g. "
                f"{float(values[other][0])!r}). For several classes per output use "
                "FocalMultiOutputClassifier"
            )
        # Rows of weight 0 teach nothing: a label whose positives all weigh 0 has one class.
        counted = ~unknown if sample_weight is None else ~unknown & (sample_weight > 0)[:, None]
        positives = (counted & (values == 1.0)).sum(axis=0).tolist()
        negatives = (counted & (values == 0.0)).sum(axis=0).tolist()
        problems = []
        for j, (p, n) in enumerate(zip(positives, negatives, strict=True)):
            if p + n == 0:
                problems.append(f"column {j} has no labelled rows")
            elif p == 0 or n == 0:
                problems.append(f"column {j} has {p} positive and {n} negative rows")
        if problems:
            raise ValueError(
                "every label of Y needs positive and negative rows to be learned (drop the "
                "column, or add rows of the missing class): " + "; ".join(problems)
            )
        return np.where(unknown, float(_UNKNOWN), values)

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, Y: Any, sample_weight: Any = None) -> FocalMultiLabelClassifier:
        """Fit on ``X`` and the 0/1 indicator matrix ``Y`` of shape (n_samples, n_labels).

        ``Y`` may be dense, a scipy sparse matrix or bool, with ``missing_label`` where a label
        is unknown. ``sample_weight`` (n_samples,) weights every label of a row.
        """
        _import(self.backend)
        self._check_native_params(self.backend, _RESERVED_PARAMS[self.backend])
        X = validate_data(self, X, reset=True, **_X_CHECKS)
        values = _as_float_labels(Y)
        if values.ndim != 2 or min(values.shape) < 1:
            raise ValueError(
                f"Y must be 2-D (n_samples, n_labels), a 0/1 indicator matrix, got shape "
                f"{values.shape}; for one label use FocalLGBMClassifier / FocalXGBClassifier"
            )
        if values.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {values.shape[0]}")
        weight = _check_weight(sample_weight, X.shape[0], "sample_weight")
        # The loss validates alpha, gamma and hessian (FocalSpec.create): the same exceptions
        # and messages as every other entry point.
        self.loss_ = MultiLabelFocalLoss(values.shape[1], alpha=self.alpha, gamma=self.gamma,
                                         hessian=self.hessian, ignore_label=_UNKNOWN,
                                         gamma_neg=self.gamma_neg, clip=self.clip)
        labels = self._check_labels(values, weight)
        self.n_outputs_ = labels.shape[1]
        self.classes_ = [np.array([0, 1]) for _ in range(self.n_outputs_)]
        self.init_score_ = self.loss_.init_score(labels, weight)  # also fixes alpha_
        self.alpha_ = self.loss_.alpha_
        if self.backend == "lightgbm":
            self.boosters_ = self._fit_lightgbm(X, labels, weight)
        else:
            self.boosters_ = [self._fit_xgboost(X, labels, weight)]
        return self

    def _label_loss(self, label: int) -> BinaryFocalLoss:
        """The binary focal loss of one label, with the weights of the multi-label loss."""
        alpha = None if self.alpha is None else self.alpha_[label].tolist()
        return BinaryFocalLoss(alpha=alpha, gamma=self.gamma, hessian=self.hessian,
                               gamma_neg=self.gamma_neg, clip=self.clip)

    def _fit_lightgbm(self, X: Any, labels: np.ndarray, weight: np.ndarray | None) -> list[Any]:
        lgb = _import("lightgbm")
        params = {**self._common_params(), "verbose": -1, "metric": "None"}
        if self.subsample < 1:
            params["subsample_freq"] = 1
        params.update(self.params or {})
        boosters = []
        for label in range(self.n_outputs_):
            rows = np.flatnonzero(labels[:, label] != _UNKNOWN)
            # The label's weights come from the multi-label loss (resolved once, from all
            # labels), so the boosters together minimise exactly the multi-label loss.
            loss = self._label_loss(label)
            data = lgb.Dataset(
                X[rows], label=labels[rows, label],
                weight=None if weight is None else weight[rows],
                init_score=np.full(rows.size, self.init_score_[label]),
            )
            boosters.append(lgb.train({**params, "objective": loss.lgb_objective}, data,
                                      num_boost_round=self.n_estimators))
        return boosters

    def _fit_xgboost(self, X: Any, labels: np.ndarray, weight: np.ndarray | None) -> Any:
        xgb = _import("xgboost")
        params = {
            **self._common_params(), "tree_method": "hist", "multi_strategy": self.multi_strategy,
            "base_score": 0.0, "disable_default_eval_metric": True,
        }
        params.update(self.params or {})
        # base_margin rather than a vector base_score: it works on XGBoost < 3.1 too.
        margin = np.tile(self.init_score_, (X.shape[0], 1))
        objective = self.loss_.xgb_objective
        if self.n_outputs_ == 1:
            # XGBoost hands an (n, 1) label back flat, which the multi-label loss refuses;
            # one label is the binary focal loss with that label's weights, 1-D throughout,
            # on the rows where the label is known (as the LightGBM backend trains).
            rows = np.flatnonzero(labels[:, 0] != _UNKNOWN)
            X, labels, margin = X[rows], labels[rows, 0], margin[rows, 0]
            weight = None if weight is None else weight[rows]
            objective = self._label_loss(0).xgb_objective
        data = xgb.DMatrix(X, label=labels, weight=weight, base_margin=margin)
        return xgb.train(params, data, num_boost_round=self.n_estimators, obj=objective)

    # ------------------------------------------------------------------ predict
    def decision_function(self, X: Any) -> np.ndarray:
        """Raw margins (n_samples, n_labels), initial score included."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, **_X_CHECKS)
        if self.backend == "lightgbm":
            # the thread count goes with every call (see FocalLGBMClassifier._predict_trees)
            threads = self._threads()
            extra = {} if threads is None else {"num_threads": threads}
            raw = np.column_stack([b.predict(X, raw_score=True, **extra) for b in self.boosters_])
        else:
            xgb = _import("xgboost")
            raw = self.boosters_[0].predict(xgb.DMatrix(X), output_margin=True)
        return raw.reshape(X.shape[0], self.n_outputs_) + self.init_score_

    def predict_proba(self, X: Any) -> np.ndarray:
        """Positive-class probability of every label, (n_samples, n_labels).

        Column ``l`` is ``P(label l = 1)``: the focal posterior (``correct_proba=True``) or the
        plain sigmoid. The columns need not sum to 1 (the labels are independent).
        """
        return self.loss_.predict_proba(self.decision_function(X), corrected=self.correct_proba,
                                        check_input=False)

    def predict(self, X: Any) -> np.ndarray:
        """0/1 indicator matrix (n_samples, n_labels): ``predict_proba(X) > 0.5``."""
        return (self.predict_proba(X) > 0.5).astype(np.intp)

    def score(self, X: Any, Y: Any, sample_weight: Any = None) -> float:
        """Subset accuracy: the (weighted) share of rows whose known labels are all right.

        With no unknown entries this is ``sklearn.metrics.accuracy_score(Y, predict(X))``;
        rows without any known label are left out.
        """
        values = _as_float_labels(Y)
        known = ~self._unknown(values)
        right = ((self.predict(X) == values) | ~known).all(axis=1)
        rows = known.any(axis=1)
        w = np.ones(values.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
        return float(np.average(right[rows], weights=w[rows]))
