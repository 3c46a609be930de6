r"""The verdict of :func:`~gbfocal.tune_focal`: both tuned arms scored on rows neither saw.

The best of ``N`` trials, scored on the folds that chose it, beats any model that was not
chosen the same way (the winner's curse): under a null where focal loss cannot help, the
best focal trial beat an untuned log-loss baseline on its own folds in 17 of 20 seeds. So
the comparison here is made

* between two arms tuned alike (the log-loss arm searches the same booster space with the
  same budget, sampler seed, folds, early stopping and pruner), and
* on rows that neither search used: a stratified holdout set aside before any tuning
  (``compare="holdout"``), or the outer test folds of a nested cross-validation
  (``compare="nested"``).

**The interval.** Each arm's best parameters are refit on the search rows (early-stopped
on a stratified validation split of them, as in the trials) and predict the evaluation
rows once. The difference ``focal - log_loss`` of the tuning score on those rows comes
with a paired, stratified bootstrap: :data:`N_RESAMPLES` times, the evaluation rows of
each class (of each outer fold) are drawn with replacement, both arms are scored on the
same resample (paired: their errors on a row cancel), and for nested folds the fold
scores are averaged. The 95 % interval is the 2.5 and 97.5 percentiles of the resampled
differences (the percentile bootstrap, Efron & Tibshirani 1993, ch. 13). Multi-label
targets are resampled by rows (they cannot be stratified); a resample in which a label
lacks a positive or a negative known entry is drawn again.

The interval is conditional on the two fitted models: it measures how much the
evaluation rows could have changed the answer, not how much another training run
would. The verdict is ``"focal"`` only when the interval lies above 0, ``"log_loss"``
when it lies below 0, ``"no_difference"`` otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._backend import ranking_scores

__all__ = ["CONFIDENCE", "N_RESAMPLES", "Comparison", "Part", "compare_arms",
           "comparison_splits", "verdict"]

#: Bootstrap resamples of the evaluation rows.
N_RESAMPLES = 2000
#: Coverage of the interval of the difference.
CONFIDENCE = 0.95
# a multi-label resample that lacks a label's positive or negative is drawn again, at most
_MAX_REDRAWS = 100


@dataclass(frozen=True)
class Comparison:
    """Both tuned arms scored on rows neither search saw.

    Attributes
    ----------
    metric : str
        The tuning score (``scoring``), higher is better.
    method : {"holdout", "nested"}
        Where the evaluation rows came from.
    n_rows : int
        Evaluation rows (the holdout, or all rows for nested folds).
    focal_score : float
        The focal arm's score on those rows (mean over the outer folds for nested).
    log_loss_score : float or None
        The log-loss arm's; None without a log-loss arm (``baseline=False``).
    difference : float or None
        ``focal_score - log_loss_score``.
    interval : tuple of float or None
        The :data:`CONFIDENCE` percentile interval of ``difference`` from a paired,
        stratified bootstrap of the evaluation rows.
    confidence : float
        The interval's coverage, 0.95.
    n_resamples : int
        Bootstrap resamples.
    focal_fold_scores, log_loss_fold_scores : list of float
        Each arm's score on each evaluation part (one for the holdout).
    """

    metric: str
    method: str
    n_rows: int
    focal_score: float
    log_loss_score: float | None
    difference: float | None
    interval: tuple[float, float] | None
    confidence: float = CONFIDENCE
    n_resamples: int = N_RESAMPLES
    focal_fold_scores: list[float] = field(default_factory=list)
    log_loss_fold_scores: list[float] | None = None


def verdict(interval: tuple[float, float] | None) -> str | None:
    """``"focal"`` / ``"log_loss"`` when the interval excludes 0 on that side, else
    ``"no_difference"``; None without an interval."""
    if interval is None:
        return None
    low, high = interval
    if low > 0:
        return "focal"
    if high < 0:
        return "log_loss"
    return "no_difference"


# ------------------------------------------------------------------------ the splits
def comparison_splits(y: np.ndarray, method: str, size: float | int,
                      seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(search rows, evaluation rows)`` pairs of class labels ``y`` (sorted positions).

    ``"holdout"``: one stratified split, ``size`` the share held out; ``"nested"``:
    ``size`` stratified outer folds. Every class must appear in every evaluation part.
    """
    from sklearn.model_selection import StratifiedKFold, train_test_split

    every = np.arange(y.shape[0])
    if method == "holdout":
        search, held = train_test_split(every, test_size=size, stratify=y, random_state=seed)
        pairs = [(np.sort(search), np.sort(held))]
    else:
        outer = StratifiedKFold(n_splits=int(size), shuffle=True, random_state=seed)
        pairs = list(outer.split(every, y))
    classes = np.unique(y)
    for i, (_, held) in enumerate(pairs):
        missing = np.setdiff1d(classes, y[held])
        if missing.size:
            where = "the holdout" if method == "holdout" else f"outer fold {i}"
            raise ValueError(
                f"{where} has no row of class index {missing.tolist()}: too few samples of "
                "that class for the comparison. Use a larger holdout_size (or fewer outer "
                "folds), compare=None, or more data."
            )
    return pairs


# ------------------------------------------------------------------ one evaluation part
class _RowPredictions:
    """A fitted estimator whose predictions on the evaluation rows are computed once.

    A scorer gets it with ``X`` a column of positions into those rows, so that a
    bootstrap resample costs an indexing, not a prediction. Every other attribute
    (``classes_``, the estimator tags, ``loss_``, ...) is the estimator's own.
    """

    def __init__(self, estimator: Any, X_eval: Any) -> None:
        self._estimator = estimator
        self._X_eval = X_eval
        self._predicted: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_estimator"], name)

    def _rows(self, method: str, positions: Any) -> np.ndarray:
        if method not in self._predicted:
            self._predicted[method] = np.asarray(
                getattr(self._estimator, method)(self._X_eval))
        return self._predicted[method][np.asarray(positions)[:, 0]]

    def predict(self, X: Any) -> np.ndarray:
        return self._rows("predict", X)

    def predict_proba(self, X: Any) -> np.ndarray:
        return self._rows("predict_proba", X)

    def decision_function(self, X: Any) -> np.ndarray:
        return self._rows("decision_function", X)


@dataclass
class Part:
    """One evaluation part: its rows' labels and weights, and each arm's fitted model.

    ``estimators`` maps an arm name to the estimator refit on the search rows;
    ``X_eval`` are the evaluation rows' features, ``y`` their fold labels (class indices,
    or the multi-label matrix) and ``sample_weight`` their weights.
    """

    X_eval: Any
    y: np.ndarray
    sample_weight: np.ndarray | None
    estimators: dict[str, Any]


def _score(scorer: Callable, estimator: Any, X: Any, y: np.ndarray,
           weight: np.ndarray | None) -> float:
    kwargs = {} if weight is None else {"sample_weight": weight}
    value = float(scorer(estimator, X, y, **kwargs))
    if not math.isfinite(value):
        raise ValueError(f"the scorer returned {value!r} on the evaluation rows")
    return value


# ---------------------------------------------------------------------- the bootstrap
def _class_strata(part: Part, multilabel: bool) -> list[np.ndarray]:
    """Positions of the part's rows drawn together: each class, or all rows (multi-label)."""
    if multilabel:
        return [np.arange(part.y.shape[0])]
    return [np.flatnonzero(part.y == c) for c in np.unique(part.y)]


def _resampled_score(name: str, estimator: Any, part: Part
                     ) -> Callable[[np.ndarray], np.ndarray] | None:
    """``score(counts)``: ``name`` of the part's rows under each row of ``counts`` (B, n).

    A resample is a weighting of the rows by how often each was drawn, so the score of a
    resample is the weighted score of the rows: one prediction per row serves all
    resamples. Defined for binary average precision and ROC AUC, macro one-vs-rest ROC AUC
    and log loss (scikit-learn's definitions, tested against its scorers); None for any
    other score.
    """
    y = part.y.astype(np.intp)
    n_classes = int(y.max()) + 1
    weight = np.ones(y.shape[0]) if part.sample_weight is None else part.sample_weight
    if name in ("average_precision", "roc_auc") and n_classes == 2:
        margin = np.asarray(estimator.decision_function(part.X_eval), dtype=np.float64)
        positive = y == 1
        return lambda counts: ranking_scores(name, positive, margin, counts * weight)
    if name == "roc_auc_ovr" and n_classes > 2:
        proba = np.asarray(estimator.predict_proba(part.X_eval), dtype=np.float64)

        def macro_auc(counts: np.ndarray) -> np.ndarray:
            return np.mean([ranking_scores("roc_auc", y == c, proba[:, c], counts * weight)
                            for c in range(n_classes)], axis=0)

        return macro_auc
    if name == "neg_log_loss":
        proba = np.asarray(estimator.predict_proba(part.X_eval), dtype=np.float64)
        eps = np.finfo(proba.dtype).eps  # scikit-learn's log_loss clips the same way
        chosen = np.clip(proba[np.arange(y.shape[0]), y], eps, 1 - eps)
        loss = -np.log(chosen) * weight
        return lambda counts: -(counts @ loss) / (counts @ weight)
    return None


def _fast_statistics(scores: dict[str, Callable[[np.ndarray], np.ndarray]], n: int,
                     strata: list[np.ndarray], rng: np.random.Generator,
                     n_resamples: int) -> dict[str, np.ndarray]:
    """Each arm's score on every resample of one part (a multinomial count per class)."""
    out = {arm: np.empty(n_resamples) for arm in scores}
    # resamples in blocks of about 4 million counts: memory stays small for big holdouts
    block = max(1, min(n_resamples, 4_000_000 // max(n, 1)))
    for start in range(0, n_resamples, block):
        size = min(block, n_resamples - start)
        counts = np.zeros((size, n))
        for rows in strata:
            counts[:, rows] = rng.multinomial(rows.size, np.full(rows.size, 1.0 / rows.size),
                                              size=size)
        for arm, score in scores.items():
            out[arm][start:start + size] = score(counts)
    return out


def _valid_multilabel(part: Part, rows: np.ndarray, known: Callable[[np.ndarray], np.ndarray]
                      ) -> bool:
    labels = part.y[rows]
    mask = known(labels)
    return bool(np.all(((labels == 1) & mask).any(axis=0) & ((labels == 0) & mask).any(axis=0)))


def _scorer_statistics(scorer: Callable, part: Part, arms: Sequence[str],
                       strata: list[np.ndarray], rng: np.random.Generator, n_resamples: int,
                       known: Callable[[np.ndarray], np.ndarray] | None
                       ) -> dict[str, np.ndarray]:
    """Each arm's score on every resample of one part, calling the scorer per resample."""
    models = {arm: _RowPredictions(part.estimators[arm], part.X_eval) for arm in arms}
    out = {arm: np.empty(n_resamples) for arm in arms}
    for b in range(n_resamples):
        for attempt in range(_MAX_REDRAWS):
            rows = np.concatenate([s[rng.integers(0, s.size, s.size)] for s in strata])
            if known is None or _valid_multilabel(part, rows, known):
                break
            if attempt == _MAX_REDRAWS - 1:
                raise ValueError(
                    "the evaluation rows hold too few positive or negative entries of some "
                    f"label: {_MAX_REDRAWS} bootstrap resamples in a row missed one. Use a "
                    "larger holdout_size (or fewer outer folds), compare=None, or drop the "
                    "rarest labels."
                )
        weight = None if part.sample_weight is None else part.sample_weight[rows]
        for arm in arms:
            out[arm][b] = _score(scorer, models[arm], rows[:, None], part.y[rows], weight)
    return out


def compare_arms(parts: Sequence[Part], *, scorer: Callable, scoring: str, method: str,
                 multilabel: bool, seed: int, named_scorer: bool,
                 known: Callable[[np.ndarray], np.ndarray] | None = None,
                 n_resamples: int = N_RESAMPLES) -> Comparison:
    """Score every arm on every part, and the paired bootstrap interval of the difference.

    ``scoring`` is the scorer's name; with ``named_scorer`` (a scikit-learn scorer name,
    not a callable) "average_precision" and "roc_auc" (binary), "roc_auc_ovr" (multiclass)
    and "neg_log_loss" are resampled from one prediction per row, any other scorer is
    called on each resample. ``known(labels)`` marks the known entries of a
    multi-label matrix. Arms are named "focal" and (optionally) "log_loss".
    """
    arms = [arm for arm in ("focal", "log_loss") if arm in parts[0].estimators]
    scores = {arm: [_score(scorer, part.estimators[arm], part.X_eval, part.y,
                           part.sample_weight) for part in parts] for arm in arms}
    focal = float(np.mean(scores["focal"]))
    n_rows = int(sum(part.y.shape[0] for part in parts))
    if "log_loss" not in arms:
        return Comparison(metric=scoring, method=method, n_rows=n_rows, focal_score=focal,
                          log_loss_score=None, difference=None, interval=None,
                          n_resamples=0, focal_fold_scores=scores["focal"])
    rng = np.random.default_rng(seed)
    differences = np.zeros(n_resamples)
    for part in parts:
        strata = _class_strata(part, multilabel)
        fast = {} if multilabel or not named_scorer else {
            arm: _resampled_score(scoring, part.estimators[arm], part) for arm in arms}
        if fast and all(score is not None for score in fast.values()):
            resampled = _fast_statistics(fast, part.y.shape[0], strata, rng,  # type: ignore
                                         n_resamples)
        else:
            resampled = _scorer_statistics(scorer, part, arms, strata, rng, n_resamples,
                                           known if multilabel else None)
        differences += (resampled["focal"] - resampled["log_loss"]) / len(parts)
    tail = (1.0 - CONFIDENCE) / 2.0
    low, high = np.quantile(differences, [tail, 1.0 - tail])
    log_loss = float(np.mean(scores["log_loss"]))
    return Comparison(
        metric=scoring, method=method, n_rows=n_rows, focal_score=focal,
        log_loss_score=log_loss, difference=focal - log_loss,
        interval=(float(low), float(high)), n_resamples=n_resamples,
        focal_fold_scores=scores["focal"], log_loss_fold_scores=scores["log_loss"],
    )
