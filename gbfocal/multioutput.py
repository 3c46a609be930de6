"""Multi-output classifier: several outputs per row, each a softmax over shared classes.

The typical case is aspect-based sentiment: each review has up to ``A`` aspects
(price, service, quality, ...) and each mentioned aspect one of ``K`` sentiments;
aspects a review does not mention carry no label. :class:`FocalMultiOutputClassifier`
is the scikit-learn estimator; its loss, :class:`gbfocal.losses.MultiOutputFocalLoss`
(re-exported here), shares the loss base of the binary and multiclass losses.

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

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import _X_CHECKS, BACKEND_OPTIONS, FocalEstimator, _check_weight
from ._optional import import_optional
from .losses import MulticlassFocalLoss, MultiOutputFocalLoss

__all__ = ["FocalMultiOutputClassifier", "MultiOutputFocalLoss"]


def _import(module: str) -> Any:
    return import_optional(module, needed_by=f"FocalMultiOutputClassifier(backend={module!r})")


def _missing_mask(y: np.ndarray, marker: Any) -> np.ndarray:
    """Entries equal to ``marker``; None/NaN markers match None and NaN.

    A numeric marker also matches its text in string labels: NumPy stores ``-1`` as
    ``"-1"`` in a string array, which would otherwise become a class of its own.
    """
    if marker is None or (isinstance(marker, Real) and np.isnan(float(marker))):
        return np.frompyfunc(lambda x: x is None or x != x, 1, 1)(y).astype(bool)
    values = y.astype(object)
    missing = np.asarray(values == marker, dtype=bool)
    if isinstance(marker, Real) and not isinstance(marker, bool):
        texts = {str(marker)}
        if float(marker).is_integer():
            texts.add(str(round(marker)))  # int(marker), typed for numbers.Real
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



class FocalMultiOutputClassifier(FocalEstimator):
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

    _parameter_constraints: ClassVar[dict[str, Any]] = {
        **FocalEstimator._parameter_constraints,
        "backend": [BACKEND_OPTIONS],
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
        _import(self.backend)
        self._check_native_params(self.backend, _RESERVED[self.backend])
        X = validate_data(self, X, reset=True, **_X_CHECKS)
        codes = self._encode(y)
        if codes.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {codes.shape[0]}")
        weight = _check_weight(sample_weight, X.shape[0], "sample_weight")
        self.n_outputs_ = codes.shape[1]
        spec = self._focal_spec(self.classes_.shape[0], binary=False)
        self.loss_ = MultiOutputFocalLoss.from_spec(spec, n_outputs=self.n_outputs_)
        self.init_score_ = self.loss_.init_score(codes, weight)  # also fits alpha_
        self.alpha_ = self.loss_.alpha_
        if self.backend == "lightgbm":
            self.boosters_ = self._fit_lightgbm(X, codes, weight)
        else:
            self.boosters_ = [self._fit_xgboost(X, codes, weight)]
        return self

    def _common_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "learning_rate": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "reg_lambda": self.reg_lambda,
        }
        seed, threads = self._booster_seed(), self._threads()
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
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, **_X_CHECKS)
        if self.backend == "lightgbm":
            # the thread count goes with every call (see FocalLGBMClassifier._predict_trees)
            threads = self._threads()
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
