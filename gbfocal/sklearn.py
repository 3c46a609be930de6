"""scikit-learn estimators trained with focal loss: LightGBM and XGBoost.

:class:`FocalLGBMClassifier` and :class:`FocalXGBClassifier` are scikit-learn
classifiers that train a LightGBM / XGBoost booster with the focal-loss objective of
:mod:`gbfocal.losses`. They *wrap* the native training functions (``lightgbm.train`` /
``xgboost.train``) instead of subclassing ``LGBMClassifier`` / ``XGBClassifier``: the
estimator owns every step where a custom objective differs from a built-in one (the
initial score, the raw-margin predictions, the probability link, the validation
metrics), and its ``__init__`` only stores its parameters, as scikit-learn requires.

The fitted booster is self-contained: the initial score is part of the model (LightGBM:
the leaf values of the first round's trees; XGBoost: ``base_score``), so the booster's
own raw predictions, also after ``save_model`` and a reload by the library, are
:meth:`~FocalLGBMClassifier.decision_function`.

LightGBM and XGBoost are imported only when an estimator is fitted, so this module
needs scikit-learn but neither booster library.
"""

from __future__ import annotations

import json
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from scipy.sparse import csr_matrix, issparse
from scipy.special import expit

from ._optional import raise_install_hint

try:  # the install hint, not a bare ModuleNotFoundError, without scikit-learn
    from sklearn.utils._param_validation import Interval, StrOptions
except ImportError as exc:
    raise_install_hint(exc, "gbfocal.sklearn")
    raise

from ._base import booster_seed, n_threads
from ._boosting import (
    FitInput,
    FocalBoostingClassifier,
    check_booster_shape,
    library_version,
)
from ._categories import (
    UnseenCategoryWarning,
    category_columns,
    xgboost_categories,
)
from ._engines import lightgbm as engine_lightgbm
from ._engines import xgboost as engine_xgboost
from ._optional import import_optional

__all__ = ["FocalLGBMClassifier", "FocalXGBClassifier", "UnseenCategoryWarning"]

# Native parameters that only configure the libraries' *built-in* objectives and metrics:
# under the focal objective (and metric="None" / disable_default_eval_metric) they are
# silently ignored, so a user who sets them believes in a model that is not trained.
_LIGHTGBM_BUILTIN_ONLY = {
    "alpha": "the focal class weights are the estimator's alpha=; LightGBM's alpha is the "
             "Huber/quantile parameter",
    "sigmoid": "the link is the focal posterior (correct_proba)",
    "fair_c": "", "poisson_max_delta_step": "", "tweedie_variance_power": "", "reg_sqrt": "",
    "label_gain": "", "lambdarank_truncation_level": "", "lambdarank_norm": "",
    "lambdarank_position_bias_regularization": "", "objective_seed": "", "eval_at": "",
    "multi_error_top_k": "", "auc_mu_weights": "",
}
_XGBOOST_BUILTIN_ONLY = {
    "tweedie_variance_power": "", "huber_slope": "", "quantile_alpha": "",
    "aft_loss_distribution": "", "aft_loss_distribution_scale": "", "ndcg_exp_gain": "",
    "lambdarank_pair_method": "", "lambdarank_num_pair_per_sample": "",
    "lambdarank_unbiased": "", "lambdarank_bias_norm": "", "lambdarank_normalization": "",
    "lambdarank_score_normalization": "",
}


def _import_lightgbm() -> Any:
    return import_optional("lightgbm", needed_by="FocalLGBMClassifier")


def _import_xgboost() -> Any:
    return import_optional("xgboost", needed_by="FocalXGBClassifier")


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
    gamma_neg : float >= 0 or None, default=None
        Two classes only: the asymmetric focal loss (Ridnik et al., ICCV 2021), with
        ``gamma`` for the positives (``classes_[1]``) and ``gamma_neg`` for the negatives;
        None: ``gamma`` for both. A multiclass target with it raises ValueError.
    clip : float in [0, 1), default=0.0
        Two classes only: the asymmetric loss's probability margin; negatives with
        ``p <= clip`` contribute nothing.
"""

_FIT_CONTROL_DOC = """
    random_state : int, RandomState instance or None, default=None
        Seed of the booster's sampling (bagging, column sampling); None keeps the
        library's fixed default seed.
    n_jobs : int or None, default=None
        Threads used by the booster; -1 means all cores, None the library's default.
        During ``fit`` it also bounds gbfocal's own gradient threads
        (:func:`gbfocal.set_num_threads`, restored afterwards; process-wide, so fits
        running at once share the smallest bound). 1 in a forked child, where more
        OpenMP threads would hang (README, "Thread safety and fork safety").
    early_stopping_rounds : int or None, default=None
        Stop when the first ``eval_metric`` on the validation set (``eval_set`` in
        :meth:`fit`) has not improved for this many rounds; the booster then keeps the
        rounds up to the best one.
    eval_metric : str, callable or list of them, default="auto"
        Validation metrics, computed from the raw margins and weighted by
        ``eval_sample_weight``; early stopping watches the first. Names: "auto" (average
        precision for two classes, log loss for more), "focal_loss", "log_loss" (of the
        corrected probabilities, what :meth:`predict_proba` returns), "average_precision",
        "roc_auc" (macro one-vs-rest for multiclass). A callable is called
        ``func(y_true, raw_margin, sample_weight) -> (name, value, higher_is_better)``
        with class indices ``0..n_classes-1`` (positions in ``classes_``), float64
        margins (initial score included; ``(n,)`` binary, ``(n, n_classes)`` multiclass)
        and the eval set's weights (None when unweighted). "focal_loss" (the training
        objective itself) stops at the best probabilities, before the ranking peaks: measured
        in the README ("Defaults"). With LightGBM a first binary "average_precision" or
        "roc_auc" is LightGBM's own C++ metric on the raw margins (the same values, to its
        float32 weights, without a Python call per round); ``evals_result_`` names it as
        here, a callback's ``env.evaluation_result_list`` as LightGBM does ("auc").
    correct_proba : bool, default=True
        :meth:`predict_proba` returns the class posterior of the focal risk minimiser
        (:func:`gbfocal.focal_posterior`); False returns the plain sigmoid / softmax of
        the margins, which focal loss biases towards 1/2. :meth:`predict` is the argmax
        of what :meth:`predict_proba` returns; :meth:`decision_function` is the raw
        margin either way.
    unseen_category : {"missing", "error"}, default="missing"
        What predictions (and the validation sets of :meth:`fit`) do with a value of a
        pandas ``category`` column that was not among its categories in ``fit``:
        "missing" predicts it as a missing value (NaN; the same for LightGBM and
        XGBoost) and warns with :class:`~gbfocal.sklearn.UnseenCategoryWarning`, naming
        the column and the values; "error" raises ValueError. Known values are matched
        by value, whatever the order of the column's categories.
    verbose : int or bool, default=0
        0 or -1 (LightGBM's spelling): silent. A positive number prints the validation
        metric every ``verbose`` rounds (and the library's warnings).
    params : dict or None, default=None
        Further native booster parameters (e.g. ``max_bin``), applied last. Names the
        estimator sets itself (objective, metric, number of rounds, ...) are rejected,
        and so are the native class weights that a custom objective ignores
        (``scale_pos_weight``, ``is_unbalance``, ``class_weight``): use ``alpha``;
        parameters of the libraries' built-in objectives and metrics, which the focal
        objective would silently ignore, are rejected too.
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
    init_score_ : float, ndarray of shape (n_classes,) or None
        The constant raw score minimising the weighted training focal loss: the boosting
        starting point, part of the model ({init_where}) and so of every margin.
        Informational: predictions do not add it. After a warm start, the init model's
        (None when it was a booster or model file).
    booster_ : {booster_type}
        The trained booster, self-contained: its raw predictions (also after
        ``save_model`` and a reload by the library) are :meth:`decision_function`.
        Under early stopping it keeps the rounds up to the best one.
    best_iteration_ : int
        Number of boosting rounds used by predictions (counted from 1, those of an init
        model included): the best round under early stopping, else all rounds trained.
    best_score_ : dict
        ``{{eval_name: {{metric: value at best_iteration_}}}}`` (empty without ``eval_set``).
    n_iter_ : int
        Boosting rounds run (those of an init model included); under early stopping
        ``best_iteration_ + early_stopping_rounds`` unless the last round was the best.
    evals_result_ : dict
        Validation metrics per round: ``{{"valid_0": {{"average_precision": [...]}}, ...}}``,
        keyed by ``eval_names``.
    feature_importances_ : ndarray of shape (n_features,)
        Importances of the rounds kept, of type ``importance_type``.
    n_features_in_ : int
        Number of features seen in fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` was a DataFrame with string column names; they are the
        booster's feature names too.
"""

_FIT_DOC = """
        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Training data; NaN marks a missing value. pandas ``category`` columns are
            used as categorical features by the library (their other columns must be
            numeric); column names become the booster's feature names.
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
        eval_names : list of str, default=None
            Names of the validation sets in ``evals_result_`` and ``best_score_``
            (default ``"valid_0"``, ``"valid_1"``, ...).
        callbacks : list, default=None
            Extra native callbacks passed to ``{train}``."""


class FocalLGBMClassifier(FocalBoostingClassifier):
    _backend = "lightgbm"
    __doc__ = (
        """LightGBM classifier trained with focal loss.

    Binary (sigmoid) or multiclass (softmax) focal loss, chosen from ``y``, trained
    with ``lightgbm.train`` and the objective / metrics of :mod:`gbfocal.losses`. The
    initial score is the constant that minimises the training focal loss; after
    training it is added to the leaf values of the first round's trees (as LightGBM
    does with ``boost_from_average``), so ``booster_`` predicts the full margins.

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
        + _ATTRIBUTES_DOC.format(booster_type="lightgbm.Booster",
                                 init_where="the first round's leaf values")
        + """
    See Also
    --------
    FocalXGBClassifier : the same estimator on XGBoost.
    gbfocal.losses.BinaryFocalLoss : the loss, for ``lightgbm.train`` directly.

    Notes
    -----
    The estimator wraps ``lightgbm.train`` rather than subclassing
    ``lightgbm.LGBMClassifier``, whose probability link, initial score and metrics
    assume a built-in objective. ``params={"boosting": "rf"}`` is refused (LightGBM's
    random forest mode rejects an initial score); SHAP values are not available for
    ``linear_tree`` models (LightGBM does not implement them).

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
    >>> bool(np.allclose(clf.booster_.predict(X[:3], raw_score=True),
    ...                  clf.decision_function(X[:3])))
    True
    """
    )

    _parameter_constraints: ClassVar[dict[str, Any]] = {
        **FocalBoostingClassifier._parameter_constraints,
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
        "categorical_feature": "fit(..., categorical_feature=...) or pandas category columns",
    }
    _forbidden_name_characters = '",:[]{}'  # LightGBM: "special JSON characters"

    def __init__(
        self,
        *,
        alpha: Any = None,
        gamma: float = 2.0,
        hessian: str = "positive",
        gamma_neg: float | None = None,
        clip: float = 0.0,
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
        eval_metric: Any = "auto",
        correct_proba: bool = True,
        unseen_category: str = "missing",
        verbose: int | bool = 0,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.alpha = alpha
        self.gamma = gamma
        self.hessian = hessian
        self.gamma_neg = gamma_neg
        self.clip = clip
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
        self.unseen_category = unseen_category
        self.verbose = verbose
        self.params = params

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        eval_set: Any = None,
        eval_sample_weight: Any = None,
        eval_names: Any = None,
        callbacks: list[Any] | None = None,
        categorical_feature: Any = "auto",
        init_model: Any = None,
    ) -> FocalLGBMClassifier:
        self._fit(X, y, sample_weight, eval_set=eval_set, eval_sample_weight=eval_sample_weight,
                  eval_names=eval_names, callbacks=callbacks, init_model=init_model,
                  extra={"categorical_feature": categorical_feature})
        return self

    fit.__doc__ = (
        "Fit the booster with the focal-loss objective.\n"
        + _FIT_DOC.replace("{train}", "lightgbm.train")
        + """
        categorical_feature : "auto" or list of int or str, default="auto"
            Categorical features, as for ``LGBMClassifier.fit``: "auto" takes the
            (unordered) pandas ``category`` columns; a list gives column positions or
            names (names need a DataFrame ``X``) of integer-coded columns.
        init_model : FocalLGBMClassifier, lightgbm.Booster, str or path, default=None
            Continue boosting a fitted model (an estimator fitted on the same classes
            and features, a Booster, or a LightGBM model file): the new rounds start from
            its margins (its initial score included) and ``booster_`` holds its rounds
            followed by the new ones.

        Returns
        -------
        self : object
            The fitted estimator.
        """
    )

    def _import_library(self) -> Any:
        return _import_lightgbm()

    def _check_extra_params(self) -> None:
        super()._check_extra_params()
        boosting = self._resolved_params().get("boosting", "gbdt")
        if boosting in ("rf", "random_forest"):
            raise ValueError(
                f"params={{'boosting': {boosting!r}}} is not supported: LightGBM's random "
                "forest mode computes its gradients once, from its own starting point, and "
                "refuses the initial score of the focal loss (a C++ check fails)"
            )
        self._check_builtin_only(_LIGHTGBM_BUILTIN_ONLY)

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
            "verbosity": 1 if self._verbose_period() else -1,
            # Pre-filtering drops features that cannot split under min_data_in_leaf; left
            # with none, LightGBM aborts under a custom objective (a built-in one would
            # fit a constant). Unfiltered, it fits the constant init score instead.
            "feature_pre_filter": False,
        }
        seed = booster_seed(self.random_state)
        if seed is not None:
            params["seed"] = seed
        threads = n_threads(self.n_jobs)
        if threads is not None:
            params["num_threads"] = threads
        return params

    def _categorical_feature(self, value: Any, n_features: int) -> Any:
        """``categorical_feature`` checked, names as positions ("auto" as is)."""
        if isinstance(value, str) and value == "auto":
            return "auto"
        if isinstance(value, str) or not hasattr(value, "__iter__"):
            raise TypeError(
                f'categorical_feature must be "auto" or a list of column positions or names, '
                f"got {value!r}"
            )
        names = getattr(self, "feature_names_in_", None)
        positions = []
        for item in value:
            if isinstance(item, str):
                if names is None or item not in names:
                    raise ValueError(
                        f"categorical_feature names {item!r}, which is not a column of X "
                        "(names need a DataFrame X with string column names)"
                    )
                positions.append(int(np.flatnonzero(names == item)[0]))
            elif isinstance(item, Integral) and not isinstance(item, (bool, np.bool_)):
                if not 0 <= int(item) < n_features:
                    raise ValueError(
                        f"categorical_feature position {item} is out of range for "
                        f"{n_features} features"
                    )
                positions.append(int(item))
            else:
                raise TypeError(f"categorical_feature entries must be int or str, got {item!r}")
        return positions

    def _warm_start(
        self, library: Any, init_model: Any, classes: np.ndarray, n_features: int
    ) -> tuple[Any, Any]:
        if init_model is None:
            return None, None
        booster, init = self._warm_start_source(
            init_model, "init_model", library.Booster, "a lightgbm.Booster",
            "a LightGBM model file", classes, n_features)
        if init is not None:  # a fitted estimator, checked
            return booster, init
        check_booster_shape("init_model", booster.num_model_per_iteration(),
                             booster.num_feature(), len(classes), n_features)
        return booster, None

    def _train(self, library: Any, data: FitInput) -> tuple[Any, int, dict[str, Any]]:
        lgb = library
        # LightGBM skips boost_from_average under a custom objective: start from the
        # focal optimum ourselves, on the training and the validation sets. A warm start
        # starts from the init model's margins instead (LightGBM predicts them itself).
        start = None if data.init_booster is not None else self.init_score_
        train_set, valid_sets = self._datasets(lgb, data, start)
        trained = engine_lightgbm.train(
            lgb, self._booster_params(), self.loss_, train_set, valid_sets,
            rounds=self.n_estimators, valid_names=data.names, metrics=data.metrics,
            early_stopping_rounds=self.early_stopping_rounds,
            verbose_period=self._verbose_period(), callbacks=data.callbacks,
            init_model=data.init_booster, keep_training_booster=self._keep_training_booster(),
            builtin_metrics=True, builtin_log_loss=self._builtin_log_loss(),
        )
        booster = trained.booster
        if start is not None:
            booster = self._with_init_score(lgb, booster, start)
        return booster, trained.rounds_run, trained.history

    def _datasets(self, lgb: Any, data: FitInput, start: Any) -> tuple[Any, list[Any]]:
        """The training Dataset and the validation Datasets, starting from ``start``."""
        names = getattr(self, "feature_names_in_", None)
        return engine_lightgbm.datasets(
            lgb, data.X, data.y, data.weight, data.evals, start,
            # a DataFrame with category columns names its features itself
            feature_name="auto" if names is None or hasattr(data.X, "columns") else list(names),
            categorical_feature=self._categorical_feature(
                data.extra.get("categorical_feature", "auto"), data.X.shape[1]),
        )

    def _builtin_log_loss(self) -> bool:
        """Whether a plain log loss trains with LightGBM's own objective (the tuner's
        fold models: gbfocal._engines.lightgbm.train); the estimator's own fits keep the
        focal objective, whose model file and warm start gbfocal checks."""
        return False

    def _keep_training_booster(self) -> bool:
        """lgb.train's keep_training_booster (the tuner's fold models keep it,
        gbfocal.tuning._folds)."""
        return False

    def _with_init_score(self, lgb: Any, booster: Any, start: Any) -> Any:
        """``booster`` with the initial score folded into its first round's trees."""
        return engine_lightgbm.with_init_score(lgb, booster, start)

    def _booster_rounds(self) -> int:
        return int(self.booster_.current_iteration())

    def _training_categories(self) -> list[list[Any]] | None:
        # LightGBM saves them with the model (and maps by them itself, unseen -> missing)
        return list(self.booster_.pandas_categorical or [])

    def _check_predict_categories(self, X: Any) -> None:
        expected = len(self.booster_.pandas_categorical or [])
        got = len(category_columns(X))
        if got != expected:
            raise ValueError(
                f"X has {got} pandas category columns, the model was fitted with {expected}: "
                "pass the columns with the same dtypes as in fit"
            )

    def _check_contrib_supported(self) -> None:
        if self._resolved_params().get("linear_tree"):
            raise ValueError("pred_contrib=True is not available for linear_tree models: "
                             "LightGBM does not implement SHAP values for linear trees")

    def _raw_predict(self, X: Any, start: int, end: int, *, pred_contrib: bool) -> np.ndarray:
        if issparse(X):  # LightGBM predicts CSR matrices natively, other sparse types via a warning
            X = csr_matrix(X)
        # The thread count goes with every call: LightGBM's predict otherwise starts all
        # OpenMP threads, and a fork after that (joblib, multiprocessing) can hang.
        threads = n_threads(self.n_jobs)
        extra = {} if threads is None else {"num_threads": threads}
        out = self.booster_.predict(
            X, raw_score=True, start_iteration=start, num_iteration=end - start,
            pred_contrib=pred_contrib, **extra
        )
        if isinstance(out, list):  # SHAP values of sparse input: one matrix per class
            return np.stack([part.toarray() for part in out], axis=1)
        return out.toarray() if issparse(out) else out

    def _feature_importances(self) -> np.ndarray:
        return self.booster_.feature_importance(
            importance_type=self.importance_type, iteration=self.best_iteration_
        )


class FocalXGBClassifier(FocalBoostingClassifier):
    _backend = "xgboost"
    __doc__ = (
        """XGBoost classifier trained with focal loss.

    Binary (sigmoid) or multiclass (softmax) focal loss, chosen from ``y``, trained
    with ``xgboost.train`` and the objective / metrics of :mod:`gbfocal.losses`. The
    initial score is the constant that minimises the training focal loss, stored in the
    model as ``base_score`` (objective ``binary:logistic``: its sigmoid; ``multi:softprob``:
    the per-class margins, which needs XGBoost >= 3.1), so ``booster_`` predicts the full
    margins with ``output_margin=True``.

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
        + _ATTRIBUTES_DOC.format(booster_type="xgboost.Booster", init_where="base_score")
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
    the sparse matrix are *missing* values, not zeros. The booster's own ``predict``
    without ``output_margin`` is the *plain* sigmoid / softmax (what its objective
    name says), not the corrected :meth:`predict_proba`.

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
        **FocalBoostingClassifier._parameter_constraints,
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
    _forbidden_name_characters = "[]<"

    def __init__(
        self,
        *,
        alpha: Any = None,
        gamma: float = 2.0,
        hessian: str = "positive",
        gamma_neg: float | None = None,
        clip: float = 0.0,
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
        eval_metric: Any = "auto",
        correct_proba: bool = True,
        unseen_category: str = "missing",
        verbose: int | bool = 0,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.alpha = alpha
        self.gamma = gamma
        self.hessian = hessian
        self.gamma_neg = gamma_neg
        self.clip = clip
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
        self.unseen_category = unseen_category
        self.verbose = verbose
        self.params = params

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        eval_set: Any = None,
        eval_sample_weight: Any = None,
        eval_names: Any = None,
        callbacks: list[Any] | None = None,
        xgb_model: Any = None,
    ) -> FocalXGBClassifier:
        self._fit(X, y, sample_weight, eval_set=eval_set, eval_sample_weight=eval_sample_weight,
                  eval_names=eval_names, callbacks=callbacks, init_model=xgb_model, extra={})
        return self

    fit.__doc__ = (
        "Fit the booster with the focal-loss objective.\n"
        + _FIT_DOC.replace("{train}", "xgboost.train")
        + """
        xgb_model : FocalXGBClassifier, xgboost.Booster, str or path, default=None
            Continue boosting a fitted model (an estimator fitted on the same classes
            and features, or a Booster / XGBoost model file with the objective this
            estimator writes, ``binary:logistic`` or ``multi:softprob``): the new rounds
            start from its margins, ``base_score`` included.

        Returns
        -------
        self : object
            The fitted estimator.
        """
    )

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
        self._check_builtin_only(_XGBOOST_BUILTIN_ONLY)

    def _check_eval_name(self, name: str) -> None:
        # XGBoost's evaluation log is "name-metric:value" tokens split at white space
        if "-" in name or ":" in name or any(c.isspace() for c in name):
            raise ValueError(f"eval_names entry {name!r} must not contain '-', ':' or white "
                             "space (XGBoost parses its evaluation log by them)")

    def _check_categorical_input(self, X: Any, n_classes: int) -> None:
        if category_columns(X) and self.tree_method == "exact":
            raise ValueError("tree_method='exact' does not support categorical features (pandas "
                             "category columns): use 'hist' or 'approx'")

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
            "verbosity": 1 if self._verbose_period() else 0,
        }
        seed = booster_seed(self.random_state)
        if seed is not None:
            params["seed"] = seed
        threads = n_threads(self.n_jobs)
        if threads is not None:
            params["nthread"] = threads
        return params

    def _objective(self) -> str:
        """The objective name the model is saved with; it fixes what base_score means."""
        return "binary:logistic" if len(self.classes_) == 2 else "multi:softprob"

    def _matrices(self, xgb: Any, data: FitInput) -> tuple[Any, list[Any]]:
        """The training DMatrix and the validation DMatrix objects."""
        return (self._dmatrix(xgb, data.X, data.y, data.weight),
                [self._dmatrix(xgb, X_val, y_val, w_val) for X_val, y_val, w_val in data.evals])

    def _dmatrix(self, xgb: Any, X: Any, y: Any = None, weight: Any = None) -> Any:
        return engine_xgboost.dmatrix(xgb, X, y, weight, nthread=n_threads(self.n_jobs),
                                      feature_names=getattr(self, "feature_names_in_", None))

    def _warm_start(
        self, library: Any, init_model: Any, classes: np.ndarray, n_features: int
    ) -> tuple[Any, Any]:

        if init_model is None:
            return None, None
        booster, init = self._warm_start_source(
            init_model, "xgb_model", library.Booster, "an xgboost.Booster",
            "an XGBoost model file", classes, n_features)
        if init is not None:  # a fitted estimator, checked
            return booster, init
        learner = json.loads(booster.save_config())["learner"]
        objective = learner["objective"]["name"]
        expected = "binary:logistic" if len(classes) == 2 else "multi:softprob"
        if objective != expected:
            # base_score means a probability under binary:logistic and a margin under
            # others: continuing under another objective would silently move the start
            raise ValueError(
                f"xgb_model has the objective {objective!r}; continuing needs {expected!r}, the "
                "objective FocalXGBClassifier saves (base_score means something else elsewhere)"
            )
        n_groups = max(1, int(learner["learner_model_param"]["num_class"]))
        check_booster_shape("xgb_model", n_groups, booster.num_features(), len(classes),
                             n_features)
        return booster, None

    def _train(self, library: Any, data: FitInput) -> tuple[Any, int, dict[str, Any]]:
        xgb = library
        params = self._booster_params()
        params["objective"] = self._objective()
        if self.n_classes_ > 2:
            params["num_class"] = self.n_classes_
        if data.init_booster is None:
            params["base_score"] = self._base_score(xgb)
        # else: the init model's base_score stays (a given one would replace it)
        train_matrix, valid_matrices = self._matrices(xgb, data)
        trained = engine_xgboost.train(
            xgb, params, self.loss_, train_matrix,
            list(zip(valid_matrices, data.names, strict=True)), rounds=self.n_estimators,
            metrics=data.metrics, early_stopping_rounds=self.early_stopping_rounds,
            verbose_period=self._verbose_period(), callbacks=data.callbacks,
            init_model=data.init_booster,
        )
        engine_xgboost.store_categories(trained.booster, data.X)
        return trained.booster, trained.rounds_run, trained.history

    def _base_score(self, xgb: Any) -> Any:
        """``base_score`` storing the initial score (checked by tests/test_parity.py).

        ``binary:logistic`` reads it as a probability (the margin is its logit, the
        meaning XGBClassifier relies on); ``multi:softprob`` takes one margin per class,
        from XGBoost 3.1 on.
        """
        if self.n_classes_ > 2:
            if library_version(xgb.__version__) < (3, 1):
                raise ValueError(
                    f"FocalXGBClassifier needs xgboost >= 3.1 for more than two classes (found "
                    f"{xgb.__version__}): the per-class initial score is stored in the model "
                    "as a vector base_score. pip install 'xgboost>=3.1'"
                )
            return np.asarray(self.init_score_, dtype=np.float64).tolist()
        probability = float(expit(self.init_score_))
        if not 0.0 < np.float32(probability) < 1.0:
            raise ValueError(
                f"the initial score {self.init_score_:.6g} is too extreme for XGBoost's "
                "base_score (a float32 probability under binary:logistic): check alpha and "
                "the class counts"
            )
        return probability

    def _booster_rounds(self) -> int:
        return int(self.booster_.num_boosted_rounds())

    def _training_categories(self) -> list[list[Any]] | None:
        return xgboost_categories(self.booster_)

    def _check_predict_categories(self, X: Any) -> None:
        types = self.booster_.feature_types or []
        expected = [j for j, kind in enumerate(types) if kind == "c"]
        got = category_columns(X)
        if got != expected:
            raise ValueError(
                f"X has pandas category columns at positions {got}, the model was fitted with "
                f"them at {expected}: pass the columns with the same dtypes as in fit"
            )

    def _check_contrib_supported(self) -> None:
        if self._resolved_params().get("multi_strategy") == "multi_output_tree":
            raise ValueError("pred_contrib=True is not available with "
                             "multi_strategy='multi_output_tree': XGBoost does not implement it")

    def _raw_predict(self, X: Any, start: int, end: int, *, pred_contrib: bool) -> np.ndarray:
        # XGBoost's predict ignores best_iteration: the range is explicit. base_score
        # (the initial score) is part of every prediction.
        dmatrix = self._dmatrix(_import_xgboost(), X)
        if pred_contrib:  # XGBoost takes one kind of prediction at a time
            return self.booster_.predict(dmatrix, iteration_range=(start, end),
                                         pred_contribs=True)
        return self.booster_.predict(dmatrix, output_margin=True, iteration_range=(start, end))

    def _feature_importances(self) -> np.ndarray:
        kept = self.booster_[: self.best_iteration_]
        scores = kept.get_score(importance_type=self.importance_type)
        names = self.booster_.feature_names or [f"f{i}" for i in range(self.n_features_in_)]
        values = np.array([scores.get(name, 0.0) for name in names], dtype=np.float64)
        total = values.sum()
        return values / total if total > 0 else values
