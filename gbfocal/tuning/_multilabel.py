"""What :func:`gbfocal.tune_focal` does differently for a multi-label target ``Y (n, L)``.

The estimator is :class:`~gbfocal.FocalMultiLabelClassifier`; the folds are shuffled
``KFold`` splits (scikit-learn has no multi-label stratification), checked so that every
label has positive and negative known entries in every part, and the scores are the
macro averages over labels of the per-label score on the rows where that label is known
(scikit-learn's multi-label scorers cannot skip unknown entries).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["MultiLabelScorer", "check_label_counts", "check_parts", "comparison_splits",
           "known_mask", "make_splits", "resolve_scoring"]

# scoring name -> (the loss metric it averages, sign: scores are maximised)
_SCORES = {
    "average_precision": ("average_precision", 1.0),
    "roc_auc": ("roc_auc", 1.0),
    "neg_log_loss": ("log_loss", -1.0),
}


class MultiLabelScorer:
    """``scorer(estimator, X, Y, sample_weight=None)``: a macro per-label score.

    The loss's metric on :meth:`~gbfocal.FocalMultiLabelClassifier.decision_function`,
    unknown entries (the estimator's ``missing_label``) left out; log loss is that of
    the corrected probabilities, negated.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.metric, self.sign = _SCORES[name]

    def __repr__(self) -> str:
        return f"MultiLabelScorer({self.name!r})"

    def __call__(self, estimator: Any, X: Any, Y: Any, sample_weight: Any = None) -> float:
        from ..multilabel import UNKNOWN, as_float_labels

        values = as_float_labels(Y)
        labels = np.where(estimator._unknown(values), float(UNKNOWN), values)
        raw = estimator.decision_function(X)
        return self.sign * estimator.loss_.metric(self.metric, labels, raw, sample_weight)


def resolve_scoring(scoring: Any, early_stopping_metric: Any,
                    metrics: tuple[str, ...]) -> tuple[Any, str, str]:
    """Return ``(scorer, scoring name, early-stopping metric)`` for a multi-label target."""
    if isinstance(scoring, str):
        if scoring not in _SCORES:
            raise ValueError(
                f"scoring={scoring!r} is not available for a multi-label Y: use one of "
                f"{sorted(_SCORES)} (macro averages over the labels, unknown entries left "
                "out) or a callable scorer(estimator, X, Y) -> float"
            )
        scorer: Any = MultiLabelScorer(scoring)
        name, default = scoring, scorer.metric
    elif callable(scoring):
        scorer, name = scoring, getattr(scoring, "__qualname__", None) or repr(scoring)
        default = "average_precision"
    else:
        raise TypeError(f"scoring must be a name or a callable, got {scoring!r}")
    metric = default if early_stopping_metric is None else early_stopping_metric
    if metric not in metrics:
        raise ValueError(f"early_stopping_metric must be one of {metrics} or None, got {metric!r}")
    return scorer, name, metric


def known_mask(Y: np.ndarray, missing_label: Any) -> np.ndarray:
    """Entries of ``Y`` that are labels, for the estimator's ``missing_label`` marker."""
    from ..multilabel import unknown_entries

    return ~unknown_entries(Y, missing_label)


def _counts(Y: np.ndarray, known: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    positive = ((Y[rows] == 1) & known[rows]).sum(axis=0)
    negative = ((Y[rows] == 0) & known[rows]).sum(axis=0)
    return positive, negative


def check_label_counts(Y: np.ndarray, known: np.ndarray, cv: int,
                       validation_fraction: float | None) -> None:
    """Every label needs enough positive and negative rows for the folds (a clear error)."""
    need = cv if validation_fraction is None else math.ceil(
        cv / ((cv - 1) * min(validation_fraction, 1 - validation_fraction)))
    positive, negative = _counts(Y, known, np.arange(Y.shape[0]))
    short = [(j, int(p), int(n)) for j, (p, n) in enumerate(zip(positive, negative, strict=True))
             if min(p, n) < need]
    if short:
        raise ValueError(
            f"every label needs at least {need} positive and {need} negative known rows for "
            f"cv={cv} folds{' and the early-stopping split' if validation_fraction else ''}; "
            + "; ".join(f"label {j} has {p} positive and {n} negative" for j, p, n in short)
            + ". Use fewer folds (cv), early_stopping_rounds=None, or drop the label."
        )


def check_parts(Y: np.ndarray, known: np.ndarray, parts: dict[str, np.ndarray],
                where: str, advice: str) -> None:
    """Every label needs a positive and a negative known entry in every part (ValueError)."""
    for part, rows in parts.items():
        positive, negative = _counts(Y, known, rows)
        empty = np.flatnonzero((positive == 0) | (negative == 0))
        if empty.size:
            raise ValueError(
                f"{where}: labels {empty.tolist()} have no positive or no negative known "
                f"row in its {part} part (shuffled splits; multi-label targets cannot be "
                f"stratified). {advice}"
            )


_ADVICE = ("Use fewer folds (cv), early_stopping_rounds=None, another random_state, or drop "
           "the rarest labels.")


def make_splits(Y: np.ndarray, known: np.ndarray, cv: int, validation_fraction: float | None,
                seed: int, rows: np.ndarray | None = None
                ) -> list[tuple[np.ndarray, np.ndarray | None, np.ndarray]]:
    """Shuffled folds and early-stopping splits; every part holds both classes of every label.

    ``rows``: split only these rows (positions into ``Y``); the splits hold positions into
    ``Y`` either way. Raises ValueError naming the label and the part otherwise (the
    scores and the early stopping would be undefined there).
    """
    from sklearn.model_selection import KFold, train_test_split

    rows = np.arange(Y.shape[0]) if rows is None else rows
    splits: list[tuple[np.ndarray, np.ndarray | None, np.ndarray]] = []
    outer = KFold(n_splits=cv, shuffle=True, random_state=seed)
    for fold, (train_pos, test_pos) in enumerate(outer.split(rows)):
        train_idx, test_idx = rows[train_pos], rows[test_pos]
        parts: dict[str, np.ndarray] = {"test": test_idx}
        if validation_fraction is None:
            split: tuple[np.ndarray, np.ndarray | None, np.ndarray] = (train_idx, None, test_idx)
            parts["training"] = train_idx
        else:
            fit_idx, val_idx = train_test_split(train_idx, test_size=validation_fraction,
                                                random_state=seed)
            split = (np.sort(fit_idx), np.sort(val_idx), test_idx)
            parts.update(training=split[0], validation=split[1])
        check_parts(Y, known, parts, f"fold {fold}", _ADVICE)
        splits.append(split)
    return splits


def comparison_splits(Y: np.ndarray, known: np.ndarray, method: str, size: float | int,
                      seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(search rows, evaluation rows)``: one holdout, or ``size`` outer folds (shuffled).

    Every label must keep positive and negative known rows on both sides (ValueError).
    """
    from sklearn.model_selection import KFold, train_test_split

    every = np.arange(Y.shape[0])
    if method == "holdout":
        search, held = train_test_split(every, test_size=size, random_state=seed)
        pairs = [(np.sort(search), np.sort(held))]
    else:
        pairs = list(KFold(n_splits=int(size), shuffle=True, random_state=seed).split(every))
    for i, (search, held) in enumerate(pairs):
        where = "the holdout split" if method == "holdout" else f"outer fold {i}"
        check_parts(Y, known, {"search": search, "evaluation": held}, where,
                    "Use a larger holdout_size (or fewer outer folds), another random_state, "
                    "or drop the rarest labels.")
    return pairs
