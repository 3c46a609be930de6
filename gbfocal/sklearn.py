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
import os
import re
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from scipy.sparse import csr_matrix, issparse
from scipy.special import expit

try:  # the install hint, not a bare ModuleNotFoundError, without scikit-learn
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils._param_validation import Interval, StrOptions
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import (
        check_consistent_length,
        check_is_fitted,
        column_or_1d,
        validate_data,
    )
except ImportError as exc:
    if (exc.name or "sklearn").partition(".")[0] != "sklearn":
        raise
    from ._optional import install_hint

    raise ImportError(install_hint("sklearn", "gbfocal.sklearn"), name="sklearn") from exc

from ._base import FocalEstimator, booster_seed, check_weight, eval_triples, n_threads
from ._categories import (
    UNSEEN_CATEGORY_OPTIONS,
    X_CHECKS,
    UnseenCategoryWarning,
    category_columns,
    pandas_categories,
    refuse_text_columns,
    with_known_categories,
    with_numeric_columns,
    xgboost_categories,
)
from ._engines import lightgbm as engine_lightgbm
from ._engines import xgboost as engine_xgboost
from ._engines.params import aliases
from ._optional import import_optional
from ._parallel import kernel_threads
from ._spec import METRICS
from .losses import BinaryFocalLoss, MulticlassFocalLoss

__all__ = ["FocalLGBMClassifier", "FocalXGBClassifier", "UnseenCategoryWarning"]

# eval_metric="auto": what early stopping watches by default (measured in the README,
# "Defaults"): the focal loss itself stops at the best probabilities, before the ranking peaks.
_AUTO_METRIC = {"binary": "average_precision", "multiclass": "log_loss"}

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


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:2])


# --------------------------------------------------------------------------- the estimators
@dataclass
class FitInput:
    """What one fit hands to the library-specific training."""

    X: Any
    y: np.ndarray
    weight: np.ndarray | None
    evals: list[tuple[Any, np.ndarray, np.ndarray | None]]
    names: list[str]
    metrics: list[Any]
    callbacks: list[Any]
    init_booster: Any = None  # the booster to continue (warm start), else None
    extra: dict[str, Any] = field(default_factory=dict)


class _FocalBoostingClassifier(FocalEstimator):
    """Shared fit / predict logic; subclasses supply the library-specific training."""

    _backend: ClassVar[str]
    _parameter_constraints: ClassVar[dict[str, Any]] = {
        **FocalEstimator._parameter_constraints,
        "gamma_neg": "no_validation",  # validated with alpha and gamma by FocalSpec.create
        "clip": "no_validation",
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "min_child_weight": [Interval(Real, 0, None, closed="left")],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "colsample_bytree": [Interval(Real, 0, 1, closed="right")],
        "reg_alpha": [Interval(Real, 0, None, closed="left")],
        "reg_lambda": [Interval(Real, 0, None, closed="left")],
        "early_stopping_rounds": [None, Interval(Integral, 1, None, closed="left")],
        "eval_metric": [StrOptions({"auto", *METRICS}), list, tuple, callable],
        "unseen_category": [StrOptions(set(UNSEEN_CATEGORY_OPTIONS))],
        # -1 too: LightGBM's "silent", which LGBMClassifier users write
        "verbose": [Interval(Integral, -1, None, closed="left"), "boolean"],
    }

    def _verbose_period(self) -> int:
        """Rounds between printed validation metrics; 0 when silent (verbose 0, -1, False)."""
        return max(0, int(self.verbose))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.input_tags.categorical = True
        return tags

    # ------------------------------------------------------------------ fit
    def _fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any,
        *,
        eval_set: Any,
        eval_sample_weight: Any,
        eval_names: Any,
        callbacks: list[Any] | None,
        init_model: Any,
        extra: dict[str, Any],
    ) -> _FocalBoostingClassifier:
        self._validate_params()
        self._check_extra_params()
        library = self._import_library()
        X, y = self._checked_Xy(X, y, reset=True)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:
            raise ValueError(
                f"y has only one class ({encoder.classes_[0]!r}): a classifier needs at least "
                "2 classes"
            )
        y_index = encoder.transform(y)
        weight = check_weight(sample_weight, X.shape[0], "sample_weight")
        if weight is not None and np.count_nonzero(np.bincount(y_index, weights=weight)) < 2:
            raise ValueError(
                "sample_weight leaves only one class with positive weight: a classifier needs "
                "at least 2 classes"
            )
        evals = self._validation_sets(eval_set, eval_sample_weight, encoder,
                                      category_columns(X), pandas_categories(X))
        names = self._eval_names(eval_names, len(evals))
        n_classes = len(encoder.classes_)
        self._check_booster_feature_names()
        self._check_categorical_input(X, n_classes)
        spec = self._focal_spec(n_classes, binary=n_classes == 2)
        loss = (BinaryFocalLoss if n_classes == 2 else MulticlassFocalLoss).from_spec(spec)
        self.n_classes_ = n_classes  # _metric_entries needs it
        metrics = self._metric_entries()
        for i, (_, y_val, w_val) in enumerate(evals):
            for metric in metrics:
                if isinstance(metric, str):
                    loss.check_metric_defined(metric, y_val, w_val, name=f"eval_set[{i}]")
        if self.early_stopping_rounds is not None and not evals:
            raise ValueError(
                "early_stopping_rounds needs a validation set: pass eval_set=[(X_val, y_val)] "
                "to fit"
            )
        init_booster, init_model_score = self._warm_start(
            library, init_model, encoder.classes_, X.shape[1]
        )

        loss.fit(y_index, sample_weight=weight)
        init_score = loss.init_score(y_index, sample_weight=weight)
        if init_booster is not None:
            # Boosting continues from the init model's margins, which hold its own initial
            # score (None when it came as a Booster or file: gbfocal cannot know it).
            init_score = init_model_score

        self.classes_ = encoder.classes_
        self.loss_ = loss
        self.init_score_ = (
            None if init_score is None
            else float(init_score) if n_classes == 2 else np.asarray(init_score, dtype=np.float64)
        )
        data = FitInput(X, y_index, weight, evals, names, metrics, list(callbacks or []),
                         init_booster, extra)
        # n_jobs bounds gbfocal's gradient threads too, for this fit only
        with kernel_threads(self._threads()):
            try:
                booster, rounds_run, evals_result = self._train(library, data)
            finally:
                # the fitted model keeps no training labels or gradient buffers (XGBoost
                # trains with loss_ itself: 8 bytes per row and class otherwise stayed)
                loss.forget_training_sets()
        self.booster_ = booster
        self.best_iteration_ = self._booster_rounds()
        self.n_iter_ = int(rounds_run)
        self.evals_result_ = evals_result
        first = self.best_iteration_ - (self.n_iter_ - self._rounds_of(evals_result))
        self.best_score_ = {
            name: {metric: history[min(max(first, 1), len(history)) - 1]
                   for metric, history in per_metric.items()}
            for name, per_metric in evals_result.items()
        }
        return self

    @staticmethod
    def _rounds_of(evals_result: dict[str, Any]) -> int:
        """Rounds recorded in an evaluation history (0 without eval sets)."""
        for per_metric in evals_result.values():
            for history in per_metric.values():
                return len(history)
        return 0

    def _checked_X(self, X: Any, *, reset: bool) -> Any:
        """``validate_data`` of ``X``, pandas category columns kept.

        ``validate_data`` would turn a DataFrame into one float array and fail on category
        columns with string categories; with category columns it only does the feature
        name and count bookkeeping, and only the other columns are converted.
        """
        refuse_text_columns(X)
        categories = category_columns(X)
        if not categories:
            return validate_data(self, X, reset=reset, **X_CHECKS)
        validate_data(self, X, reset=reset, skip_check_array=True)
        return with_numeric_columns(X, categories)

    def _checked_Xy(self, X: Any, y: Any, *, reset: bool) -> tuple[Any, Any]:
        """:meth:`_checked_X` with the labels ``y`` (as ``validate_data(X, y)``)."""
        refuse_text_columns(X)
        if not category_columns(X):
            return validate_data(self, X, y, reset=reset, **X_CHECKS)
        if y is None:  # the message scikit-learn's checks expect
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target "
                             "y is None")
        X = self._checked_X(X, reset=reset)
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        return X, y

    def _validation_sets(
        self, eval_set: Any, eval_sample_weight: Any, encoder: LabelEncoder,
        categories: list[int], known: list[list[Any]],
    ) -> list[tuple[Any, np.ndarray, np.ndarray | None]]:
        """Validated (X, class index, weight) triples, labels mapped through classes_.

        Their category columns get the training categories ``known`` (values not among
        them: ``unseen_category``), so that the validation metrics score what
        :meth:`predict_proba` will predict for the same rows.
        """
        checked = []
        for i, (X_val, y_val, w_val) in enumerate(eval_triples(eval_set, eval_sample_weight)):
            if category_columns(X_val) != categories:
                raise ValueError(
                    f"eval_set[{i}] must have pandas category columns where X has them "
                    f"(column positions {categories}), got {category_columns(X_val)}"
                )
            X_val, y_val = self._checked_Xy(X_val, y_val, reset=False)
            X_val = with_known_categories(X_val, known, unseen=self.unseen_category,
                                           where=f"eval_set[{i}]")
            try:
                y_val_index = encoder.transform(y_val)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"eval_set[{i}] has labels that are not among the training classes "
                    f"{encoder.classes_.tolist()}: {exc}"
                ) from exc
            w_val = check_weight(w_val, X_val.shape[0], f"eval_sample_weight[{i}]")
            checked.append((X_val, y_val_index, w_val))
        return checked

    def _eval_names(self, eval_names: Any, n_sets: int) -> list[str]:
        """The names of the eval sets in ``evals_result_`` (default ``valid_0``, ...)."""
        if eval_names is None:
            return [f"valid_{i}" for i in range(n_sets)]
        if n_sets == 0:
            raise ValueError("eval_names was given without eval_set")
        if isinstance(eval_names, str) or not isinstance(eval_names, (list, tuple)):
            raise TypeError(f"eval_names must be a list of strings, got {eval_names!r}")
        names = list(eval_names)
        if len(names) != n_sets:
            raise ValueError(f"eval_names has {len(names)} names for {n_sets} eval_set pairs")
        for name in names:
            if not isinstance(name, str) or not name:
                raise TypeError(f"eval_names must be non-empty strings, got {name!r}")
            self._check_eval_name(name)
        if len(set(names)) != len(names):
            raise ValueError(f"eval_names must be distinct, got {names}")
        return names

    def _check_eval_name(self, name: str) -> None:
        """Library-specific restrictions on an eval set's name (none by default)."""

    def _metric_entries(self) -> list[Any]:
        """``eval_metric`` as a list of metric names and callables, "auto" resolved."""
        metric = self.eval_metric
        if isinstance(metric, str):
            if metric == "auto":
                return [_AUTO_METRIC["binary" if self.n_classes_ == 2 else "multiclass"]]
            return [metric]
        if callable(metric):
            return [metric]
        entries = list(metric)
        if not entries:
            raise ValueError("eval_metric must not be an empty list")
        for entry in entries:
            if isinstance(entry, str):
                if entry not in METRICS:
                    raise ValueError(
                        f"eval_metric entries must be one of {tuple(METRICS)} or callables, got "
                        f"{entry!r}"
                    )
            elif not callable(entry):
                raise TypeError(
                    f"eval_metric entries must be metric names or callables, got {entry!r}"
                )
        named = [entry for entry in entries if isinstance(entry, str)]
        if len(set(named)) != len(named):
            raise ValueError(f"eval_metric names a metric twice: {named}")
        return entries

    def _check_extra_params(self) -> None:
        self._check_native_params(self._backend)

    def _resolved_params(self) -> dict[str, Any]:
        """``params`` under the libraries' main parameter names."""
        table = aliases(self._backend)
        return {table.get(key, key): value for key, value in (self.params or {}).items()}

    def _check_builtin_only(self, names: dict[str, str]) -> None:
        for name, note in names.items():
            if name in self._resolved_params():
                raise ValueError(
                    f"params sets {name!r}, which configures the library's built-in objectives "
                    "or metrics only: the focal objective would silently ignore it"
                    + (f" ({note})" if note else "")
                )

    def _check_categorical_input(self, X: Any, n_classes: int) -> None:
        """Library-specific checks of category columns before training (none by default)."""

    # characters the library refuses in a feature name (checked before training, where the
    # library would fail later, and without saying which column)
    _forbidden_name_characters: ClassVar[str] = ""

    def _check_booster_feature_names(self) -> None:
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            return
        bad = [name for name in names if set(name) & set(self._forbidden_name_characters)]
        if bad:
            raise ValueError(
                f"column names {bad[:5]} contain characters {self._backend} does not accept in "
                f"feature names ({' '.join(self._forbidden_name_characters)}); the names go "
                "into the booster and its saved model: rename the columns"
            )

    def _booster_params(self) -> dict[str, Any]:
        """Library parameters from the constructor arguments, then `params`."""
        params = self._library_params()
        params.update(self.params or {})
        return params

    # -------------------------------------------------------------- predict
    def get_booster(self) -> Any:
        """The fitted native booster, :attr:`booster_` (XGBoost's accessor name).

        Returns
        -------
        booster : lightgbm.Booster or xgboost.Booster
            Its raw predictions are :meth:`decision_function` (the initial score is part
            of the model).
        """
        check_is_fitted(self)
        return self.booster_

    @property
    def feature_importances_(self) -> np.ndarray:
        """Importances of the rounds kept, of type ``importance_type``, one per feature.

        Computed from :attr:`booster_` (so an estimator rebuilt from a saved booster has
        them too).
        """
        check_is_fitted(self)
        return self._feature_importances()

    def _iterations(self, iteration_range: Any, num_iteration: Any) -> tuple[int, int]:
        """The boosting rounds ``[start, end)`` a prediction uses (default: all kept)."""
        total = self._booster_rounds()
        if iteration_range is not None and num_iteration is not None:
            raise ValueError(
                "pass iteration_range=(start, end) (XGBoost style) or num_iteration=n "
                "(LightGBM style), not both"
            )
        if num_iteration is not None:
            if not isinstance(num_iteration, Integral) or isinstance(num_iteration, bool) or not (
                1 <= int(num_iteration) <= total
            ):
                raise ValueError(
                    f"num_iteration must be an int in [1, {total}] (the rounds of booster_), "
                    f"got {num_iteration!r}"
                )
            return 0, int(num_iteration)
        if iteration_range is not None:
            if (not isinstance(iteration_range, (tuple, list)) or len(iteration_range) != 2
                    or not all(isinstance(v, Integral) and not isinstance(v, bool)
                               for v in iteration_range)
                    or not 0 <= iteration_range[0] < iteration_range[1] <= total):
                raise ValueError(
                    f"iteration_range must be (start, end) with 0 <= start < end <= {total} "
                    f"(the rounds of booster_), got {iteration_range!r}"
                )
            return int(iteration_range[0]), int(iteration_range[1])
        return 0, self.best_iteration_

    def decision_function(
        self, X: Any, *, iteration_range: Any = None, num_iteration: Any = None,
        pred_contrib: bool = False,
    ) -> np.ndarray:
        """Raw margins (logits) including the initial score, or their SHAP contributions.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Input data; pandas ``category`` columns where ``fit`` had them.
        iteration_range : (int, int), default=None
            Boosting rounds ``[start, end)`` to use (XGBoost style); default all rounds of
            :attr:`booster_`, which under early stopping are the first ``best_iteration_``.
            With ``start > 0`` each library behaves as its own estimator does: XGBoost
            adds the initial score (``base_score``) to every prediction, LightGBM keeps it
            in the first round's trees, which are then left out.
        num_iteration : int, default=None
            Use the first ``num_iteration`` rounds (LightGBM style). Pass at most one of
            ``iteration_range`` and ``num_iteration``.
        pred_contrib : bool, default=False
            Return SHAP values (TreeSHAP of the library) instead of the margins.

        Returns
        -------
        raw_score : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Binary: the log-odds of ``classes_[1]``; multiclass: one softmax logit per
            class. These are the raw predictions of :attr:`booster_` itself.
        contributions : ndarray of shape (n_samples, n_features + 1) or \
(n_samples, n_classes, n_features + 1)
            With ``pred_contrib=True``: one value per feature and, last, the bias (the
            expected margin, initial score included); they sum to the margin of
            the same rounds.
        """
        check_is_fitted(self)
        X = self._predict_categories(self._checked_X(X, reset=False))
        start, end = self._iterations(iteration_range, num_iteration)
        if pred_contrib:
            self._check_contrib_supported()
        raw = self._raw_predict(X, start, end, pred_contrib=bool(pred_contrib))
        if pred_contrib and len(self.classes_) > 2:
            raw = raw.reshape(X.shape[0], len(self.classes_), X.shape[1] + 1)
        return np.asarray(raw, dtype=np.float64)

    def predict_proba(
        self, X: Any, *, iteration_range: Any = None, num_iteration: Any = None
    ) -> np.ndarray:
        """Class probabilities from :meth:`decision_function`.

        With ``correct_proba=True`` (default) the class posterior of the focal risk
        minimiser (:func:`gbfocal.focal_posterior` with ``loss_.alpha_`` and ``gamma``):
        the sigmoid / softmax of a focal model's margin is biased towards 1/2 (uniform).
        With ``correct_proba=False`` the plain sigmoid / softmax of the margins.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Input data.
        iteration_range : (int, int), default=None
            Boosting rounds ``[start, end)`` to use (see :meth:`decision_function`).
        num_iteration : int, default=None
            Use the first ``num_iteration`` rounds.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``; every row sums to 1.
        """
        raw_score = self.decision_function(  # checks is-fitted first
            X, iteration_range=iteration_range, num_iteration=num_iteration
        )
        # These are the booster's margins, so the loss's guard against probabilities
        # passed as margins (all values in [0, 1]) would only be a false alarm here.
        return self.loss_.predict_proba(
            raw_score, corrected=self.correct_proba, check_input=False
        )

    def predict(
        self, X: Any, *, iteration_range: Any = None, num_iteration: Any = None
    ) -> np.ndarray:
        """Most probable class label (argmax of :meth:`predict_proba`).

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Input data.
        iteration_range : (int, int), default=None
            Boosting rounds ``[start, end)`` to use (see :meth:`decision_function`).
        num_iteration : int, default=None
            Use the first ``num_iteration`` rounds.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Labels from ``classes_`` (the original label values).
        """
        proba = self.predict_proba(X, iteration_range=iteration_range,
                                   num_iteration=num_iteration)
        return self.classes_[np.argmax(proba, axis=1)]

    def _predict_categories(self, X: Any) -> Any:
        """``X`` checked to have the category columns of ``fit``, mapped to its categories.

        One rule for both libraries (:func:`with_known_categories`): categories match by
        value, a value that was not a training category is a missing value (with an
        :class:`UnseenCategoryWarning`) or, with ``unseen_category="error"``, a ValueError.
        """
        self._check_predict_categories(X)
        if not category_columns(X):
            return X
        return with_known_categories(X, self._training_categories(),
                                      unseen=self.unseen_category)

    # ---------------------------------------------- library-specific hooks
    def _warm_start_source(
        self, init_model: Any, name: str, booster_type: type, booster_desc: str,
        file_desc: str, classes: np.ndarray, n_features: int,
    ) -> tuple[Any, Any]:
        """``(booster, init_score)`` of a warm start: a fitted estimator of this class gives
        its booster and initial score (checked here); a model file or a Booster gives the
        booster and None (the caller checks its shape)."""
        if isinstance(init_model, type(self)):
            _check_warm_start_estimator(init_model, name, classes, n_features)
            return init_model.booster_, init_model.init_score_
        if isinstance(init_model, (str, os.PathLike)):
            return booster_type(model_file=os.fspath(init_model)), None
        if isinstance(init_model, booster_type):
            return init_model, None
        raise TypeError(
            f"{name} must be a fitted {type(self).__name__}, {booster_desc} or the path of "
            f"{file_desc}, got {type(init_model).__name__}"
        )

    def _import_library(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _library_params(self) -> dict[str, Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _warm_start(
        self, library: Any, init_model: Any, classes: np.ndarray, n_features: int
    ) -> tuple[Any, Any]:  # pragma: no cover - overridden
        """(booster to continue or None, its initial score or None)."""
        raise NotImplementedError

    def _train(
        self, library: Any, data: FitInput
    ) -> tuple[Any, int, dict[str, Any]]:  # pragma: no cover - overridden
        """(booster, boosting rounds run in all, evaluation history)."""
        raise NotImplementedError

    def _booster_rounds(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def _check_predict_categories(self, X: Any) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _training_categories(self) -> list[list[Any]] | None:  # pragma: no cover - overridden
        """The categories of the category columns in ``fit`` (:func:`pandas_categories`)."""
        raise NotImplementedError

    def _check_contrib_supported(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _raw_predict(
        self, X: Any, start: int, end: int, *, pred_contrib: bool
    ) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def _feature_importances(self) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError


def _check_warm_start_estimator(model: Any, name: str, classes: np.ndarray,
                                n_features: int) -> None:
    """A fitted focal estimator to continue must have the same classes and features."""
    check_is_fitted(model)
    if not np.array_equal(model.classes_, classes):
        raise ValueError(
            f"{name} was fitted on the classes {model.classes_.tolist()}, y has "
            f"{classes.tolist()}: continuing needs the same classes"
        )
    if model.n_features_in_ != n_features:
        raise ValueError(
            f"{name} was fitted on {model.n_features_in_} features, X has {n_features}"
        )


def _check_booster_shape(name: str, trees_per_round: int, booster_features: int,
                         n_classes: int, n_features: int) -> None:
    expected = 1 if n_classes == 2 else n_classes
    if trees_per_round != expected:
        raise ValueError(
            f"{name} has {trees_per_round} trees per round, y with {n_classes} classes needs "
            f"{expected}"
        )
    if booster_features != n_features:
        raise ValueError(f"{name} was trained on {booster_features} features, X has {n_features}")


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


class FocalLGBMClassifier(_FocalBoostingClassifier):
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
        _check_booster_shape("init_model", booster.num_model_per_iteration(),
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
            builtin_metrics=True,
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


class FocalXGBClassifier(_FocalBoostingClassifier):
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
        _check_booster_shape("xgb_model", n_groups, booster.num_features(), len(classes),
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
            if _version(xgb.__version__) < (3, 1):
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
