"""Decision thresholds for binary models, chosen on out-of-fold predictions.

``predict`` of a classifier is the argmax of ``predict_proba``: the positive class where its
probability exceeds 1/2. On imbalanced data that can predict the rare class almost never
(0 of 84 ``bad`` rows of a 1,857-row file), although the probabilities rank it well. The
command line (``gbfocal tune | train --threshold-metric``) chooses a threshold instead: the
probability ``T`` above which the positive class is predicted that maximises a metric of
the resulting labels on out-of-fold predictions (every row predicted by a model that did
not see it), and ``gbfocal predict`` applies it.

In Python, scikit-learn's ``TunedThresholdClassifierCV`` does the same around any
classifier (README, "Decision thresholds").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["METRICS", "choose_threshold", "describe", "is_probability", "out_of_fold_proba"]

#: metric name -> what it is; each computed from the confusion counts of every candidate
#: threshold at once (the same values as scikit-learn's f1_score, fbeta_score(beta=2),
#: balanced_accuracy_score and matthews_corrcoef of the thresholded labels)
METRICS = {
    "f1": "F1 score of the positive class",
    "f2": "F2 score of the positive class (recall weighs 4x precision)",
    "balanced_accuracy": "mean of the recalls of both classes",
    "mcc": "Matthews correlation coefficient",
}


def _metric_values(metric: str, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray,
                   tn: np.ndarray) -> np.ndarray:
    """The metric at every candidate threshold, from its confusion counts (0 where the
    metric is undefined, as scikit-learn's ``zero_division=0``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "f1":
            values = 2 * tp / (2 * tp + fp + fn)
        elif metric == "f2":
            values = 5 * tp / (5 * tp + 4 * fn + fp)
        elif metric == "balanced_accuracy":
            values = (tp / (tp + fn) + tn / (tn + fp)) / 2
        elif metric == "mcc":
            values = (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        else:
            raise ValueError(f"metric must be one of {tuple(METRICS)}, got {metric!r}")
    return np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)


def choose_threshold(y_positive: Any, score: Any, metric: str) -> tuple[float, float]:
    """The threshold ``T`` that maximises ``metric`` of ``score >= T``, and that value.

    Parameters
    ----------
    y_positive : array-like of bool, shape (n,)
        True where the row belongs to the positive class; both classes must occur.
    score : array-like of float, shape (n,)
        The positive class's probability (out of fold).
    metric : {"f1", "f2", "balanced_accuracy", "mcc"}
        What to maximise (:data:`METRICS`).

    Returns
    -------
    threshold : float
        Halfway between the lowest score predicted positive and the next lower score (the
        highest score, when every row is predicted positive), so that small changes of the
        scores do not flip the rows the choice rests on. Of several thresholds with the
        best value, the highest.
    value : float
        ``metric`` of ``score >= threshold`` on these rows.

    Examples
    --------
    >>> choose_threshold([False, False, True, False, True], [0.1, 0.2, 0.3, 0.35, 0.8], "f1")
    (0.25, 0.8)
    """
    from sklearn.metrics import roc_curve

    truth = np.asarray(y_positive, dtype=bool)
    values_in = np.asarray(score, dtype=np.float64)
    if truth.ndim != 1 or truth.shape != values_in.shape:
        raise ValueError(f"y_positive and score must be 1-D of one length, got shapes "
                         f"{truth.shape} and {values_in.shape}")
    positives = int(truth.sum())
    negatives = truth.size - positives
    if positives == 0 or negatives == 0:
        raise ValueError("choosing a threshold needs rows of both classes, got "
                         f"{positives} positive and {negatives} negative rows")
    if not np.all(np.isfinite(values_in)):
        raise ValueError("score must be finite probabilities")
    # every distinct score is a candidate (drop_intermediate=False); thresholds[0] is inf,
    # where nothing is predicted positive
    fpr, tpr, thresholds = roc_curve(truth, values_in, drop_intermediate=False)
    tp = np.rint(tpr * positives)
    fp = np.rint(fpr * negatives)
    values = _metric_values(metric, tp, fp, positives - tp, negatives - fp)
    values[0] = -np.inf
    best = int(np.argmax(values))  # the first maximum: the highest threshold among ties
    low = thresholds[best + 1] if best + 1 < thresholds.size else thresholds[best]
    threshold = float((thresholds[best] + low) / 2)
    return threshold, float(values[best])


def out_of_fold_proba(estimator: Any, X: Any, y: Any, *, cv: int, seed: int) -> np.ndarray:
    """``predict_proba`` of every row by a clone of ``estimator`` fitted without it.

    Stratified, shuffled ``cv`` folds seeded by ``seed`` (scikit-learn's
    ``cross_val_predict``): columns in sorted label order, as ``classes_``.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    _, counts = np.unique(np.asarray(y), return_counts=True)
    if int(counts.min()) < cv:
        raise ValueError(
            f"the rarest class has {int(counts.min())} rows: {cv} stratified folds need at "
            f"least {cv} rows of every class (fewer folds, or more data)"
        )
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    return np.asarray(cross_val_predict(estimator, X, y, cv=folds, method="predict_proba"))


def describe(metric: str) -> str:
    """``"f1 (F1 score of the positive class)"``."""
    return f"{metric} ({METRICS[metric]})"


def is_probability(value: Any) -> bool:
    """A real number in [0, 1] (not a bool)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and 0.0 <= value <= 1.0)
