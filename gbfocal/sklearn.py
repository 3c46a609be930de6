"""scikit-learn estimators trained with focal loss: LightGBM and XGBoost.

:class:`FocalLGBMClassifier` and :class:`FocalXGBClassifier` are scikit-learn
classifiers that train a LightGBM / XGBoost booster with the focal-loss objective of
:mod:`gbfocal.losses`. They *wrap* the native training functions (``lightgbm.train`` /
``xgboost.train``) instead of subclassing ``LGBMClassifier`` / ``XGBClassifier``: the
estimator owns every step where a custom objective differs from a built-in one (the
initial score, the raw-margin predictions, the probability link, the validation
metrics), and its ``__init__`` only stores its parameters, as scikit-learn requires.

LightGBM and XGBoost are imported only when an estimator is fitted, so this module
needs scikit-learn but neither booster library.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from scipy.sparse import csr_matrix, issparse
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import (
    _X_CHECKS,
    FocalEstimator,
    _check_weight,
    _constant_margin,
    _n_threads,
    _seed,
)
from ._optional import import_optional
from ._spec import METRICS
from .losses import BinaryFocalLoss, MulticlassFocalLoss

__all__ = ["FocalLGBMClassifier", "FocalXGBClassifier"]

# eval_metric="auto": what early stopping watches by default (measured in the README,
# "Defaults"): the focal loss itself stops far too early.
_AUTO_METRIC = {"binary": "average_precision", "multiclass": "log_loss"}

def _import_lightgbm() -> Any:
    return import_optional("lightgbm", needed_by="FocalLGBMClassifier")


def _import_xgboost() -> Any:
    return import_optional("xgboost", needed_by="FocalXGBClassifier")


class _FocalBoostingClassifier(FocalEstimator):
    """Shared fit / predict logic; subclasses supply the library-specific training."""

    _backend: ClassVar[str]
    _parameter_constraints: ClassVar[dict[str, Any]] = {
        **FocalEstimator._parameter_constraints,
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "min_child_weight": [Interval(Real, 0, None, closed="left")],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "colsample_bytree": [Interval(Real, 0, 1, closed="right")],
        "reg_alpha": [Interval(Real, 0, None, closed="left")],
        "reg_lambda": [Interval(Real, 0, None, closed="left")],
        "early_stopping_rounds": [None, Interval(Integral, 1, None, closed="left")],
        "eval_metric": [StrOptions({"auto", *METRICS})],
        "verbose": ["verbose"],
    }

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        eval_set: Any = None,
        eval_sample_weight: Any = None,
        callbacks: list[Any] | None = None,
    ) -> _FocalBoostingClassifier:
        """Fit the booster with the focal-loss objective.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; NaN marks a missing value.
        y : array-like of shape (n_samples,)
            Class labels of any type (numbers, strings, ...); two classes train the
            sigmoid loss, more train the softmax loss.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights (not all zero).
        eval_set : list of (X, y) tuples, default=None
            Validation sets, evaluated every round with ``eval_metric``; labels must be
            classes seen in ``y``. Early stopping (``early_stopping_rounds``) needs one.
        eval_sample_weight : list of array-like or None, default=None
            Weights of each validation set, in the order of ``eval_set``.
        callbacks : list, default=None
            Extra native callbacks passed to ``lightgbm.train`` / ``xgboost.train``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._validate_params()
        self._check_extra_params()
        library = self._import_library()
        X, y = validate_data(self, X, y, **_X_CHECKS)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:
            raise ValueError(
                f"y has only one class ({encoder.classes_[0]!r}): a classifier needs at least "
                "2 classes"
            )
        y_index = encoder.transform(y)
        weight = _check_weight(sample_weight, X.shape[0], "sample_weight")
        if weight is not None and np.count_nonzero(np.bincount(y_index, weights=weight)) < 2:
            raise ValueError(
                "sample_weight leaves only one class with positive weight: a classifier needs "
                "at least 2 classes"
            )
        evals = self._validation_sets(eval_set, eval_sample_weight, encoder)
        n_classes = len(encoder.classes_)
        spec = self._focal_spec(n_classes, binary=n_classes == 2)
        loss = (BinaryFocalLoss if n_classes == 2 else MulticlassFocalLoss).from_spec(spec)
        self.n_classes_ = n_classes  # _eval_metric needs it
        for i, (_, y_val, w_val) in enumerate(evals):
            loss.check_metric_defined(self._eval_metric, y_val, w_val, name=f"eval_set[{i}]")
        if self.early_stopping_rounds is not None and not evals:
            raise ValueError(
                "early_stopping_rounds needs a validation set: pass eval_set=[(X_val, y_val)] "
                "to fit"
            )

        loss.fit(y_index, sample_weight=weight)
        init_score = loss.init_score(y_index, sample_weight=weight)

        self.classes_ = encoder.classes_
        self.loss_ = loss
        self.init_score_ = (
            float(init_score) if n_classes == 2 else np.asarray(init_score, dtype=np.float64)
        )
        booster, best_iteration, evals_result = self._train(
            library, X, y_index, weight, evals, list(callbacks or [])
        )
        self.booster_ = booster
        self.best_iteration_ = int(best_iteration)
        self.evals_result_ = evals_result
        self.feature_importances_ = self._feature_importances()
        return self

    def _validation_sets(
        self, eval_set: Any, eval_sample_weight: Any, encoder: LabelEncoder
    ) -> list[tuple[Any, np.ndarray, np.ndarray | None]]:
        """Validated (X, class index, weight) triples, labels mapped through classes_."""
        if eval_set is None:
            if eval_sample_weight is not None:
                raise ValueError("eval_sample_weight was given without eval_set")
            return []
        if isinstance(eval_set, tuple):  # a single (X, y) pair
            eval_set = [eval_set]
        if not isinstance(eval_set, list) or not all(
            isinstance(pair, tuple) and len(pair) == 2 for pair in eval_set
        ):
            raise TypeError("eval_set must be a list of (X, y) tuples")
        weights = [None] * len(eval_set) if eval_sample_weight is None else eval_sample_weight
        if not isinstance(weights, (list, tuple)) or len(weights) != len(eval_set):
            raise ValueError(
                "eval_sample_weight must be a list with one entry (array or None) per eval_set pair"
            )
        checked = []
        for i, ((X_val, y_val), w_val) in enumerate(zip(eval_set, weights, strict=True)):
            X_val, y_val = validate_data(self, X_val, y_val, reset=False, **_X_CHECKS)
            try:
                y_val_index = encoder.transform(y_val)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"eval_set[{i}] has labels that are not among the training classes "
                    f"{encoder.classes_.tolist()}: {exc}"
                ) from exc
            w_val = _check_weight(w_val, X_val.shape[0], f"eval_sample_weight[{i}]")
            checked.append((X_val, y_val_index, w_val))
        return checked

    def _check_extra_params(self) -> None:
        self._check_native_params(self._backend)

    @property
    def _eval_metric(self) -> str:
        """The metric early stopping watches: ``eval_metric``, with "auto" resolved."""
        if self.eval_metric != "auto":
            return str(self.eval_metric)
        return _AUTO_METRIC["binary" if self.n_classes_ == 2 else "multiclass"]

    def _booster_params(self) -> dict[str, Any]:
        """Library parameters from the constructor arguments, then `params`."""
        params = self._library_params()
        params.update(self.params or {})
        return params

    # -------------------------------------------------------------- predict
    def decision_function(self, X: Any) -> np.ndarray:
        """Raw margins (logits) including the initial score.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        raw_score : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Binary: the log-odds of ``classes_[1]``; multiclass: one softmax logit per
            class. Uses the first ``best_iteration_`` boosting rounds.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, **_X_CHECKS)
        trees = np.asarray(self._predict_trees(X), dtype=np.float64)
        return trees + self.init_score_

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities from :meth:`decision_function`.

        With ``correct_proba=True`` (default) the class posterior of the focal risk
        minimiser (:func:`gbfocal.focal_posterior` with ``loss_.alpha_`` and ``gamma``):
        the sigmoid / softmax of a focal model's margin is biased towards 1/2 (uniform).
        With ``correct_proba=False`` the plain sigmoid / softmax of the margins.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``; every row sums to 1.
        """
        raw_score = self.decision_function(X)  # checks is-fitted first
        # These are the booster's margins, so the loss's guard against probabilities
        # passed as margins (all values in [0, 1]) would only be a false alarm here.
        return self.loss_.predict_proba(
            raw_score, corrected=self.correct_proba, check_input=False
        )

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class label (argmax of :meth:`predict_proba`).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Labels from ``classes_`` (the original label values).
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    # ---------------------------------------------- library-specific hooks
    def _import_library(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _library_params(self) -> dict[str, Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _train(
        self,
        library: Any,
        X: Any,
        y: np.ndarray,
        weight: np.ndarray | None,
        evals: list[tuple[Any, np.ndarray, np.ndarray | None]],
        callbacks: list[Any],
    ) -> tuple[Any, int, dict[str, Any]]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _predict_trees(self, X: Any) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def _feature_importances(self) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError


_COMMON_PARAMETERS_DOC = """
    alpha : None, "balanced", float in [0, 1] or array-like of shape (n_classes,), \
default=None
        Class weights of the focal loss. None weighs all classes 1; a float (binary only)
        weighs ``classes_[1]`` by ``alpha`` and ``classes_[0]`` by ``1 - alpha``; an
        array gives one weight per class in the order of ``classes_``; "balanced" uses
        ``n_samples / (n_classes * count(class))`` from the (weighted) training labels.
    gamma : float >= 0, default=2.0
        Focusing parameter; 0 is the (alpha-weighted) cross-entropy.
    hessian : {"positive", "exact"}, default="positive"
        "positive" keeps Newton steps well defined where the exact focal Hessian turns
        negative (badly misclassified rows); "exact" uses the true second derivative.
"""

_FIT_CONTROL_DOC = """
    random_state : int, RandomState instance or None, default=None
        Seed of the booster's sampling (bagging, column sampling); None keeps the
        library's fixed default seed.
    n_jobs : int or None, default=None
        Threads used by the booster; -1 means all cores, None the library's default.
    early_stopping_rounds : int or None, default=None
        Stop when ``eval_metric`` on the validation set (``eval_set`` in :meth:`fit`)
        has not improved for this many rounds; predictions then use the best round.
    eval_metric : {"auto", "focal_loss", "log_loss", "average_precision", "roc_auc"}, \
default="auto"
        Validation metric (early stopping watches it), computed from the raw margins and
        weighted by ``eval_sample_weight``. "auto": average precision for two classes,
        log loss for more. "log_loss" is the log loss of the corrected probabilities
        (the focal posterior, what :meth:`predict_proba` returns); ROC AUC and average
        precision are macro one-vs-rest for multiclass. "focal_loss" (the training
        objective itself) stops far too early: measured in the README ("Defaults").
    correct_proba : bool, default=True
        :meth:`predict_proba` returns the class posterior of the focal risk minimiser
        (:func:`gbfocal.focal_posterior`); False returns the plain sigmoid / softmax of
        the margins, which focal loss biases towards 1/2. :meth:`predict` is the argmax
        of what :meth:`predict_proba` returns; :meth:`decision_function` is the raw
        margin either way.
    verbose : int or bool, default=0
        0: silent. A positive number prints the validation metric every ``verbose``
        rounds (and the library's warnings).
    params : dict or None, default=None
        Further native booster parameters (e.g. ``max_bin``), applied last. Names the
        estimator sets itself (objective, metric, number of rounds, ...) are rejected,
        and so are the native class weights that a custom objective ignores
        (``scale_pos_weight``, ``is_unbalance``, ``class_weight``): use ``alpha``.
"""

_ATTRIBUTES_DOC = """
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
    n_classes_ : int
        Number of classes.
    loss_ : BinaryFocalLoss or MulticlassFocalLoss
        The fitted loss (``loss_.alpha_`` holds the resolved class weights).
    init_score_ : float or ndarray of shape (n_classes,)
        The constant raw score minimising the weighted training focal loss; it is the
        boosting starting point and is included in :meth:`decision_function`.
    booster_ : {booster_type}
        The trained booster. Its raw predictions exclude ``init_score_``.
    best_iteration_ : int
        Number of boosting rounds used by predictions: the best round (counted from 1)
        under early stopping, else all rounds trained.
    evals_result_ : dict
        Validation metric per round: ``{{"valid_0": {{"focal_loss": [...]}}, ...}}``.
    feature_importances_ : ndarray of shape (n_features,)
        Importances of the rounds kept, of type ``importance_type``.
    n_features_in_ : int
        Number of features seen in fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` was a DataFrame with string column names.
"""


class FocalLGBMClassifier(_FocalBoostingClassifier):
    _backend = "lightgbm"
    __doc__ = (
        """LightGBM classifier trained with focal loss.

    Binary (sigmoid) or multiclass (softmax) focal loss, chosen from ``y``, trained
    with ``lightgbm.train`` and the objective / metrics of :mod:`gbfocal.losses`. The
    initial score is the constant that minimises the training focal loss and is part of
    every prediction; probabilities are the sigmoid / softmax of the raw margins.

    Parameters
    ----------"""
        + _COMMON_PARAMETERS_DOC
        + """    n_estimators : int, default=100
        Number of boosting rounds.
    learning_rate : float, default=0.1
        Shrinkage of every tree.
    num_leaves : int, default=31
        Maximum leaves per tree.
    max_depth : int, default=-1
        Maximum tree depth; -1 (or 0) means no limit.
    min_child_samples : int, default=20
        Minimum number of rows in a leaf (LightGBM ``min_data_in_leaf``; counts rows, so
        weights are not repeated rows).
    min_child_weight : float, default=1e-3
        Minimum sum of Hessians in a leaf.
    subsample : float in (0, 1], default=1.0
        Row-sampling fraction (bagging); active only with ``subsample_freq > 0``.
    subsample_freq : int, default=0
        Re-sample rows every this many rounds; 0 disables bagging.
    colsample_bytree : float in (0, 1], default=1.0
        Fraction of features per tree.
    reg_alpha : float, default=0.0
        L1 regularisation of leaf values.
    reg_lambda : float, default=0.0
        L2 regularisation of leaf values.
    importance_type : {"split", "gain"}, default="split"
        What ``feature_importances_`` counts (LightGBM's default: splits)."""
        + _FIT_CONTROL_DOC
        + _ATTRIBUTES_DOC.format(booster_type="lightgbm.Booster")
        + """
    See Also
    --------
    FocalXGBClassifier : the same estimator on XGBoost.
    gbfocal.losses.BinaryFocalLoss : the loss, for ``lightgbm.train`` directly.

    Notes
    -----
    The estimator wraps ``lightgbm.train`` rather than subclassing
    ``lightgbm.LGBMClassifier``, whose probability link, initial score and metrics
    assume a built-in objective.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from gbfocal.sklearn import FocalLGBMClassifier
    >>> X, y = make_classification(n_samples=300, weights=[0.9], random_state=0)
    >>> clf = FocalLGBMClassifier(alpha="balanced", gamma=2.0, n_estimators=20, n_jobs=1)
    >>> clf = clf.fit(X, y)
    >>> proba = clf.predict_proba(X[:3])
    >>> proba.shape
    (3, 2)
    >>> bool(np.allclose(proba.sum(axis=1), 1.0))
    True
    >>> clf.predict(X[:3]).shape
    (3,)
    """
    )

    _parameter_constraints: ClassVar[dict[str, Any]] = {
        **_FocalBoostingClassifier._parameter_constraints,
        "num_leaves": [Interval(Integral, 2, 131072, closed="both")],
        "max_depth": [Interval(Integral, -1, None, closed="left")],
        "min_child_samples": [Interval(Integral, 0, None, closed="left")],
        "subsample_freq": [Interval(Integral, 0, None, closed="left")],
        "importance_type": [StrOptions({"split", "gain"})],
    }

    _reserved_params: ClassVar[dict[str, str]] = {
        "objective": "the focal loss (alpha, gamma, hessian)",
        "metric": "eval_metric",
        "num_class": "the labels (the number of classes comes from y)",
        "boost_from_average": "nothing (the estimator sets the initial score itself)",
        "num_iterations": "n_estimators",
        "early_stopping_round": "early_stopping_rounds",
        "learning_rate": "learning_rate",
        "num_leaves": "num_leaves",
        "max_depth": "max_depth",
        "min_data_in_leaf": "min_child_samples",
        "min_sum_hessian_in_leaf": "min_child_weight",
        "bagging_fraction": "subsample",
        "bagging_freq": "subsample_freq",
        "feature_fraction": "colsample_bytree",
        "lambda_l1": "reg_alpha",
        "lambda_l2": "reg_lambda",
        "seed": "random_state",
        "num_threads": "n_jobs",
        "verbosity": "verbose",
    }

    def __init__(
        self,
        *,
        alpha: Any = None,
        gamma: float = 2.0,
        hessian: str = "positive",
        n_estimators: int = 100,
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        max_depth: int = -1,
        min_child_samples: int = 20,
        min_child_weight: float = 1e-3,
        subsample: float = 1.0,
        subsample_freq: int = 0,
        colsample_bytree: float = 1.0,
        reg_alpha: float = 0.0,
        reg_lambda: float = 0.0,
        importance_type: str = "split",
        random_state: Any = None,
        n_jobs: int | None = None,
        early_stopping_rounds: int | None = None,
        eval_metric: str = "auto",
        correct_proba: bool = True,
        verbose: int | bool = 0,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.alpha = alpha
        self.gamma = gamma
        self.hessian = hessian
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.subsample_freq = subsample_freq
        self.colsample_bytree = colsample_bytree
        self.reg_alpha = reg_alpha
        self.reg_lambda = reg_lambda
        self.importance_type = importance_type
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.early_stopping_rounds = early_stopping_rounds
        self.eval_metric = eval_metric
        self.correct_proba = correct_proba
        self.verbose = verbose
        self.params = params

    def _import_library(self) -> Any:
        return _import_lightgbm()


    def _library_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "min_data_in_leaf": self.min_child_samples,
            "min_sum_hessian_in_leaf": self.min_child_weight,
            "bagging_fraction": self.subsample,
            "bagging_freq": self.subsample_freq,
            "feature_fraction": self.colsample_bytree,
            "lambda_l1": self.reg_alpha,
            "lambda_l2": self.reg_lambda,
            # LightGBM logs "no further splits" at every round on small data.
            "verbosity": 1 if self.verbose else -1,
            # Pre-filtering drops features that cannot split under min_data_in_leaf; left
            # with none, LightGBM aborts under a custom objective (a built-in one would
            # fit a constant). Unfiltered, it fits the constant init score instead.
            "feature_pre_filter": False,
        }
        seed = _seed(self.random_state)
        if seed is not None:
            params["seed"] = seed
        threads = _n_threads(self.n_jobs)
        if threads is not None:
            params["num_threads"] = threads
        return params

    def _train(
        self,
        library: Any,
        X: Any,
        y: np.ndarray,
        weight: np.ndarray | None,
        evals: list[tuple[Any, np.ndarray, np.ndarray | None]],
        callbacks: list[Any],
    ) -> tuple[Any, int, dict[str, Any]]:
        lgb = library
        params = self._booster_params()
        # Under a callable objective LightGBM returns raw margins and its built-in
        # probability metrics would be wrong: only our metric is evaluated.
        params["objective"] = self.loss_.lgb_objective
        params["metric"] = "None"
        if self.n_classes_ > 2:
            params["num_class"] = self.n_classes_
        # LightGBM skips boost_from_average under a custom objective: start from the
        # focal optimum ourselves, on the training and the validation sets.
        train_set = lgb.Dataset(
            X, label=y, weight=weight, init_score=_constant_margin(self.init_score_, len(y))
        )
        valid_sets = [
            lgb.Dataset(
                X_val,
                label=y_val,
                weight=w_val,
                init_score=_constant_margin(self.init_score_, len(y_val)),
                reference=train_set,
            )
            for X_val, y_val, w_val in evals
        ]
        evals_result: dict[str, Any] = {}
        own_callbacks = [lgb.record_evaluation(evals_result)]
        if self.early_stopping_rounds is not None:
            own_callbacks.append(
                lgb.early_stopping(
                    self.early_stopping_rounds, first_metric_only=True, verbose=bool(self.verbose)
                )
            )
        if self.verbose and valid_sets:
            own_callbacks.append(lgb.log_evaluation(period=int(self.verbose)))
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=self.n_estimators,
            valid_sets=valid_sets,
            valid_names=[f"valid_{i}" for i in range(len(valid_sets))],
            feval=self.loss_.lgb_eval(self._eval_metric) if valid_sets else None,
            callbacks=own_callbacks + callbacks,
        )
        best = booster.best_iteration if booster.best_iteration > 0 else booster.current_iteration()
        return booster, best, evals_result

    def _predict_trees(self, X: Any) -> np.ndarray:
        if issparse(X):  # LightGBM predicts CSR matrices natively, other sparse types via a warning
            X = csr_matrix(X)
        # The thread count goes with every call: LightGBM's predict otherwise starts all
        # OpenMP threads, and a fork after that (joblib, multiprocessing) can hang.
        threads = _n_threads(self.n_jobs)
        extra = {} if threads is None else {"num_threads": threads}
        return self.booster_.predict(
            X, raw_score=True, num_iteration=self.best_iteration_, **extra
        )

    def _feature_importances(self) -> np.ndarray:
        return self.booster_.feature_importance(
            importance_type=self.importance_type, iteration=self.best_iteration_
        )


class FocalXGBClassifier(_FocalBoostingClassifier):
    _backend = "xgboost"
    __doc__ = (
        """XGBoost classifier trained with focal loss.

    Binary (sigmoid) or multiclass (softmax) focal loss, chosen from ``y``, trained
    with ``xgboost.train`` and the objective / metrics of :mod:`gbfocal.losses`. The
    initial score is the constant that minimises the training focal loss, passed as
    ``base_margin`` (with ``base_score=0``) and part of every prediction;
    probabilities are the sigmoid / softmax of the raw margins.

    Parameters
    ----------"""
        + _COMMON_PARAMETERS_DOC
        + """    n_estimators : int, default=100
        Number of boosting rounds.
    learning_rate : float, default=0.3
        Shrinkage of every tree (XGBoost's ``eta``; its default).
    max_depth : int, default=6
        Maximum tree depth (0: no limit, with ``params={"grow_policy": "lossguide"}``).
    min_child_weight : float, default=1.0
        Minimum sum of Hessians in a leaf.
    subsample : float in (0, 1], default=1.0
        Row-sampling fraction per tree.
    colsample_bytree : float in (0, 1], default=1.0
        Fraction of features per tree.
    reg_alpha : float, default=0.0
        L1 regularisation of leaf values.
    reg_lambda : float, default=1.0
        L2 regularisation of leaf values.
    tree_method : {"hist", "approx", "exact"}, default="hist"
        XGBoost's tree construction algorithm.
    importance_type : {"gain", "weight", "cover", "total_gain", "total_cover"}, \
default="gain"
        What ``feature_importances_`` measures, normalised to sum 1 (XGBoost's default).
    """
        + _FIT_CONTROL_DOC
        + _ATTRIBUTES_DOC.format(booster_type="xgboost.Booster")
        + """
    See Also
    --------
    FocalLGBMClassifier : the same estimator on LightGBM.
    gbfocal.losses.BinaryFocalLoss : the loss, for ``xgboost.train`` directly.

    Notes
    -----
    The estimator wraps ``xgboost.train`` rather than subclassing
    ``xgboost.XGBClassifier``, whose probability link, initial score and metrics assume a
    built-in objective. A sparse ``X`` follows XGBoost's convention: entries absent from
    the sparse matrix are *missing* values, not zeros.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from gbfocal.sklearn import FocalXGBClassifier
    >>> X, y = make_classification(n_samples=300, n_classes=3, n_informative=4,
    ...                            random_state=0)
    >>> labels = np.array(["ant", "bee", "cat"])[y]
    >>> clf = FocalXGBClassifier(gamma=1.0, n_estimators=20, n_jobs=1).fit(X, labels)
    >>> clf.classes_.tolist()
    ['ant', 'bee', 'cat']
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    >>> clf.decision_function(X[:2]).shape
    (2, 3)
    """
    )

    _parameter_constraints: ClassVar[dict[str, Any]] = {
        **_FocalBoostingClassifier._parameter_constraints,
        "max_depth": [Interval(Integral, 0, None, closed="left")],
        "tree_method": [StrOptions({"hist", "approx", "exact"})],
        "importance_type": [
            StrOptions({"gain", "weight", "cover", "total_gain", "total_cover"})
        ],
    }

    _reserved_params: ClassVar[dict[str, str]] = {
        "objective": "the focal loss (alpha, gamma, hessian)",
        "num_class": "the labels (the number of classes comes from y)",
        "eval_metric": "eval_metric",
        "base_score": "nothing (the estimator sets the initial score itself)",
        "disable_default_eval_metric": "eval_metric",
        "num_boost_round": "n_estimators",
        "n_estimators": "n_estimators",
        "early_stopping_rounds": "early_stopping_rounds",
        "eta": "learning_rate",
        "max_depth": "max_depth",
        "min_child_weight": "min_child_weight",
        "subsample": "subsample",
        "colsample_bytree": "colsample_bytree",
        "alpha": "reg_alpha",
        "lambda": "reg_lambda",
        "tree_method": "tree_method",
        "seed": "random_state",
        "nthread": "n_jobs",
        "verbosity": "verbose",
    }

    def __init__(
        self,
        *,
        alpha: Any = None,
        gamma: float = 2.0,
        hessian: str = "positive",
        n_estimators: int = 100,
        learning_rate: float = 0.3,
        max_depth: int = 6,
        min_child_weight: float = 1.0,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        reg_alpha: float = 0.0,
        reg_lambda: float = 1.0,
        tree_method: str = "hist",
        importance_type: str = "gain",
        random_state: Any = None,
        n_jobs: int | None = None,
        early_stopping_rounds: int | None = None,
        eval_metric: str = "auto",
        correct_proba: bool = True,
        verbose: int | bool = 0,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.alpha = alpha
        self.gamma = gamma
        self.hessian = hessian
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_alpha = reg_alpha
        self.reg_lambda = reg_lambda
        self.tree_method = tree_method
        self.importance_type = importance_type
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.early_stopping_rounds = early_stopping_rounds
        self.eval_metric = eval_metric
        self.correct_proba = correct_proba
        self.verbose = verbose
        self.params = params

    def _import_library(self) -> Any:
        return _import_xgboost()


    def _check_extra_params(self) -> None:
        super()._check_extra_params()
        booster = (self.params or {}).get("booster", "gbtree")
        if booster not in ("gbtree", "dart"):
            raise ValueError(
                f"params={{'booster': {booster!r}}} is not supported: the focal objective "
                "trains tree boosters ('gbtree', the default, or 'dart'); gblinear fails after "
                "training in XGBoost's C++ code"
            )

    def _library_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "eta": self.learning_rate,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "alpha": self.reg_alpha,
            "lambda": self.reg_lambda,
            "tree_method": self.tree_method,
            "verbosity": 1 if self.verbose else 0,
        }
        seed = _seed(self.random_state)
        if seed is not None:
            params["seed"] = seed
        threads = _n_threads(self.n_jobs)
        if threads is not None:
            params["nthread"] = threads
        return params

    def _dmatrix(self, xgb: Any, X: Any, y: Any = None, weight: Any = None) -> Any:
        margin = None if y is None else _constant_margin(self.init_score_, X.shape[0])
        return xgb.DMatrix(
            X, label=y, weight=weight, base_margin=margin, nthread=_n_threads(self.n_jobs)
        )

    def _train(
        self,
        library: Any,
        X: Any,
        y: np.ndarray,
        weight: np.ndarray | None,
        evals: list[tuple[Any, np.ndarray, np.ndarray | None]],
        callbacks: list[Any],
    ) -> tuple[Any, int, dict[str, Any]]:
        xgb = library
        params = self._booster_params()
        # With a custom objective XGBoost would add base_score as a margin offset; the
        # starting point is instead the focal optimum, given per row as base_margin.
        params["base_score"] = 0.0
        params["disable_default_eval_metric"] = 1
        if self.n_classes_ > 2:
            params["num_class"] = self.n_classes_
        train_matrix = self._dmatrix(xgb, X, y, weight)
        watch = [
            (self._dmatrix(xgb, X_val, y_val, w_val), f"valid_{i}")
            for i, (X_val, y_val, w_val) in enumerate(evals)
        ]
        evals_result: dict[str, Any] = {}
        booster = xgb.train(
            params,
            train_matrix,
            num_boost_round=self.n_estimators,
            evals=watch,
            obj=self.loss_.xgb_objective,
            custom_metric=self.loss_.xgb_eval(self._eval_metric) if watch else None,
            maximize=METRICS[self._eval_metric],
            early_stopping_rounds=self.early_stopping_rounds,
            evals_result=evals_result,
            verbose_eval=int(self.verbose) if self.verbose else False,
            callbacks=callbacks or None,
        )
        rounds = booster.num_boosted_rounds()
        try:  # set only when early stopping ran; XGBoost counts it from 0
            best = min(booster.best_iteration + 1, rounds)
        except AttributeError:
            best = rounds
        return booster, best, evals_result

    def _predict_trees(self, X: Any) -> np.ndarray:
        # XGBoost's predict ignores best_iteration: the range is explicit. No
        # base_margin here: init_score_ is added by decision_function.
        return self.booster_.predict(
            self._dmatrix(_import_xgboost(), X),
            output_margin=True,
            iteration_range=(0, self.best_iteration_),
        )

    def _feature_importances(self) -> np.ndarray:
        kept = self.booster_[: self.best_iteration_]
        scores = kept.get_score(importance_type=self.importance_type)
        values = np.array(
            [scores.get(f"f{i}", 0.0) for i in range(self.n_features_in_)], dtype=np.float64
        )
        total = values.sum()
        return values / total if total > 0 else values
