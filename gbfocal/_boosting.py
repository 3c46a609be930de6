"""What the two booster estimators share: fit, the validation sets, predict, warm start.

:class:`FocalBoostingClassifier` is the base of :class:`~gbfocal.FocalLGBMClassifier` and
:class:`~gbfocal.FocalXGBClassifier` (:mod:`gbfocal.sklearn`): it checks the input, builds
the one focal loss of a fit, its initial score, the validation sets and metrics, and
predicts; the subclasses train through their library's engine
(:mod:`gbfocal._engines`). Needs scikit-learn.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._base import FocalEstimator, check_weight, eval_triples
from ._categories import (
    UNSEEN_CATEGORY_OPTIONS,
    X_CHECKS,
    category_columns,
    pandas_categories,
    refuse_text_columns,
    with_known_categories,
    with_numeric_columns,
)
from ._engines.params import aliases
from ._parallel import kernel_threads
from ._spec import METRICS
from .losses import BinaryFocalLoss, MulticlassFocalLoss

__all__ = ["AUTO_METRIC", "FitInput", "FocalBoostingClassifier", "check_booster_shape",
           "check_warm_start_estimator", "library_version"]

# eval_metric="auto": what early stopping watches by default (measured in the README,
# "Defaults"): the focal loss itself stops at the best probabilities, before the ranking peaks.
AUTO_METRIC = {"binary": "average_precision", "multiclass": "log_loss"}

def library_version(text: str) -> tuple[int, ...]:
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


class FocalBoostingClassifier(FocalEstimator):
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
    ) -> FocalBoostingClassifier:
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
                return [AUTO_METRIC["binary" if self.n_classes_ == 2 else "multiclass"]]
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
            check_warm_start_estimator(init_model, name, classes, n_features)
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


def check_warm_start_estimator(model: Any, name: str, classes: np.ndarray,
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


def check_booster_shape(name: str, trees_per_round: int, booster_features: int,
                         n_classes: int, n_features: int) -> None:
    expected = 1 if n_classes == 2 else n_classes
    if trees_per_round != expected:
        raise ValueError(
            f"{name} has {trees_per_round} trees per round, y with {n_classes} classes needs "
            f"{expected}"
        )
    if booster_features != n_features:
        raise ValueError(f"{name} was trained on {booster_features} features, X has {n_features}")


