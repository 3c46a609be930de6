"""Checks of :func:`~gbfocal.tune_focal`'s arguments: targets, scoring, classes, threads.

Every check raises ``ValueError`` / ``TypeError`` naming the argument and showing the bad
value, before any fit.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any, Literal, overload

import numpy as np

from .._registry import estimator_for
from .._spec import BOOSTER_BACKENDS, METRICS

__all__ = ["BACKENDS", "EVAL_METRICS", "check_class_counts", "check_n_jobs",
           "check_positive_int", "estimator_class", "is_dataframe", "resolve_pos_label",
           "resolve_scoring", "rows", "targets", "thread_budget"]

BACKENDS = BOOSTER_BACKENDS

# scikit-learn scorer name -> estimator ``eval_metric`` used for early stopping inside a fold.
# Early stopping follows the tuning score so that the rounds are chosen for what is compared.
_EARLY_STOPPING_METRIC = {
    "average_precision": "average_precision",
    "roc_auc": "roc_auc",
    "roc_auc_ovr": "roc_auc",
    "roc_auc_ovr_weighted": "roc_auc",
    "neg_log_loss": "log_loss",
}
EVAL_METRICS = tuple(METRICS)
_FOCAL_SCORING = ("focal_loss", "neg_focal_loss")


def targets(y: Any) -> np.ndarray:
    """``y`` as an array: 1-D class labels, or a 2-D multi-label 0/1 indicator matrix."""
    if hasattr(y, "toarray"):  # a sparse indicator matrix
        y = y.toarray()
    y_array = np.asarray(y)
    if y_array.ndim == 2:
        from ..multilabel import as_float_labels

        return as_float_labels(y_array)
    if y_array.ndim != 1:
        raise ValueError(
            f"y must be 1-D (n_samples,) class labels or a 2-D (n_samples, n_labels) 0/1 "
            f"indicator matrix (multi-label), got shape {y_array.shape}"
        )
    return y_array


def estimator_class(backend: Any, *, multilabel: bool = False) -> type:
    """The estimator a search fits (:func:`gbfocal._registry.estimator_for`)."""
    return estimator_for(backend, multilabel=multilabel)


def resolve_scoring(scoring: Any, early_stopping_metric: Any) -> tuple[Callable, str, str]:
    """Return ``(scorer, scoring name, early-stopping metric)``."""
    from sklearn.metrics import get_scorer, get_scorer_names

    if isinstance(scoring, str):
        if scoring in _FOCAL_SCORING:
            raise ValueError(
                f"scoring={scoring!r} is not allowed: the focal loss changes with gamma, so its "
                "values are not comparable across trials (a large gamma shrinks the loss of any "
                "model). Use a gamma-independent score: 'average_precision' (default), "
                "'roc_auc', 'neg_log_loss' or any scikit-learn scorer."
            )
        if scoring == "log_loss":
            raise ValueError(
                "scoring='log_loss': scores are maximised, use 'neg_log_loss' (scikit-learn's name)"
            )
        if scoring not in get_scorer_names():
            raise ValueError(
                f"unknown scoring {scoring!r}: use a scikit-learn scorer name such as "
                "'average_precision', 'roc_auc', 'neg_log_loss', 'f1', or a callable "
                "scorer(estimator, X, y) -> float (higher is better)"
            )
        scorer, name = get_scorer(scoring), scoring
        default_metric = _EARLY_STOPPING_METRIC.get(scoring, "average_precision")
    elif callable(scoring):
        # a stable name (a function's repr holds its address), so that a study can resume
        name = getattr(scoring, "__qualname__", None) or repr(scoring)
        scorer, default_metric = scoring, "average_precision"
    else:
        raise TypeError(
            f"scoring must be a scikit-learn scorer name or a callable, got {scoring!r}"
        )
    metric = default_metric if early_stopping_metric is None else early_stopping_metric
    if metric not in EVAL_METRICS:
        raise ValueError(
            f"early_stopping_metric must be one of {EVAL_METRICS} or None, got {metric!r}"
        )
    return scorer, name, metric


@overload
def check_positive_int(value: Any, name: str, *, minimum: int = 1,
                        allow_none: Literal[False] = False) -> int: ...
@overload
def check_positive_int(value: Any, name: str, *, minimum: int = 1,
                        allow_none: bool) -> int | None: ...
def check_positive_int(value: Any, name: str, *, minimum: int = 1,
                        allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_class_counts(y: np.ndarray, cv: int, validation_fraction: float | None) -> np.ndarray:
    classes, counts = np.unique(y, return_counts=True)
    labels = classes.tolist()  # plain Python values for readable messages
    if classes.size < 2:
        raise ValueError(
            f"y has a single class ({labels[0]!r}): tuning needs at least two classes"
        )
    rarest = int(np.argmin(counts))
    need = cv
    if validation_fraction is not None:
        # each training fold is split again (stratified) for early stopping: the rarest class
        # needs at least one row on both sides of that split too
        need = max(cv, math.ceil(2 * cv / (cv - 1)), math.ceil(cv / ((cv - 1) *
                   min(validation_fraction, 1 - validation_fraction))))
    if counts[rarest] < need:
        raise ValueError(
            f"class {labels[rarest]!r} has only {counts[rarest]} samples: cv={cv} stratified "
            f"folds{' plus the early-stopping validation split' if validation_fraction else ''} "
            f"need at least {need} samples of every class. Use fewer folds (cv), "
            "early_stopping_rounds=None, or more data."
        )
    return classes




def is_dataframe(X: Any) -> bool:
    return type(X).__module__.startswith("pandas") and hasattr(X, "iloc") and hasattr(X, "columns")




def rows(X: Any, index: np.ndarray) -> Any:
    """Rows of ``X`` by position, keeping a DataFrame's column dtypes (``category`` too)."""
    if is_dataframe(X):
        return X.iloc[index]
    from sklearn.utils import _safe_indexing

    return _safe_indexing(X, index)


def resolve_pos_label(classes: np.ndarray, pos_label: Any, *, binary: bool) -> tuple[Any, bool]:
    """Return ``(positive label, swapped)``; ``swapped`` when it is the smaller label.

    The estimators weight ``classes_[1]`` (the larger label) by a float alpha and scorers
    with a positive class score class index 1, so inside the folds the positive label is
    mapped to index 1; ``swapped`` says that this reverses the sorted label order.
    """
    labels = classes.tolist()  # plain Python values: JSON-able and readable in messages
    if not binary:
        if pos_label is not None:
            raise ValueError(
                f"pos_label={pos_label!r} is only defined for binary targets; y has "
                f"{len(labels)} classes {labels}"
            )
        return None, False
    if pos_label is None:
        return labels[1], False
    for index, label in enumerate(labels):
        equal = label == pos_label
        # a NumPy array compares element-wise: it is never one label
        if isinstance(equal, (bool, np.bool_)) and equal:
            return label, index == 0
    raise ValueError(f"pos_label={pos_label!r} is not one of the labels of y: {labels}")




def check_n_jobs(n_jobs: Any) -> int:
    """Parallel trials: a positive int, or -1 for one per available core."""
    from .._parallel import available_cpus

    if isinstance(n_jobs, numbers.Integral) and not isinstance(n_jobs, bool) and n_jobs == -1:
        return available_cpus()
    return check_positive_int(n_jobs, "n_jobs (parallel trials; or -1)")


def thread_budget(n_parallel: int, fixed: Mapping[str, Any],
                   searched: Mapping[str, Any]) -> int | None:
    """Booster (and gbfocal) threads of every fit: 1, or ``params["n_jobs"]`` when fixed.

    One thread per fit, and the cores go to parallel trials: OpenMP boosters that share
    cores spin-wait instead of working. Measured on the benchmarks' shared 2-core machine:
    one LightGBM fit with 2 threads took 2-3x the time of 1 thread beside one busy process,
    40-60x at worse moments (idle: 1.2-1.8x faster with LightGBM, no faster with XGBoost),
    while two single-threaded parallel trials (one fold fit here, one on a worker process)
    fitted 1.84-2.03x the folds per second of one (README, benchmarks/tuning_speed.md).
    ``None``: ``params`` fixes ``n_jobs``, used as it is.
    """
    from .._base import n_threads
    from .._parallel import available_cpus

    if "n_jobs" in searched:
        raise ValueError("params['n_jobs'] (booster threads) cannot be searched: it changes the "
                         "speed, not the model; fix it or leave it to tune_focal's n_jobs")
    if "n_jobs" not in fixed:
        return 1
    cores = available_cpus()
    booster = n_threads(fixed["n_jobs"])
    if booster is not None and booster * n_parallel > cores:
        raise ValueError(
            f"params['n_jobs']={fixed['n_jobs']!r} booster threads times n_jobs={n_parallel} "
            f"parallel trials is {booster * n_parallel} threads on {cores} available cores: "
            "oversubscribed boosters run many times slower. Lower one of them, or leave "
            "params['n_jobs'] unset (one thread per fit, the cores go to parallel trials)"
        )
    return None


