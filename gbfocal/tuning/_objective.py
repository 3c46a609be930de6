"""One search's Optuna objective: cross-validated fold fits, reported fold by fold.

The folds are drawn once per search (:func:`make_splits`), so that every trial, of either
arm, is scored on the same rows with the same early-stopping splits.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ._inputs import rows as take_rows
from ._space import AlphaSpace, label_alpha, suggest

if TYPE_CHECKING:  # pragma: no cover - typing only
    import optuna

__all__ = ["Objective", "best_params", "fold_runner", "make_splits", "on_rows",
           "rounds_used"]


@dataclass
class Objective:
    """The Optuna objective: mean score of stratified CV, reported fold by fold for pruning.

    Labels are fold class indices: 0..K-1 in sorted order, except that for binary targets
    index 1 is always ``pos_label``. ``alpha_space`` is in that index order too.
    """

    estimator_class: type
    X: Any
    y: np.ndarray
    sample_weight: np.ndarray | None
    splits: list[tuple[np.ndarray, np.ndarray | None, np.ndarray]]
    alpha_space: AlphaSpace
    gamma_space: Any
    searched: dict[str, Any]
    fixed: dict[str, Any]
    scorer: Callable
    early_stopping_metric: str
    early_stopping_rounds: int | None
    random_state: int
    # scikit-learn's named scorers call only decision_function / predict_proba / predict,
    # so fold models may keep the initial score apart (gbfocal._folds)
    named_scorer: bool = False
    # booster (and gbfocal) threads of one fit, unless params fix n_jobs
    threads: int | None = None
    fold_data: Any = field(default=None, repr=False)
    # fits (params, fold) -> (score, rounds): fold_result, or a FoldRunner that sends
    # folds to worker processes (n_jobs > 1)
    run_fold: Callable[[dict[str, Any], int], tuple[float, int]] | None = field(
        default=None, repr=False)

    def params(self, trial: optuna.Trial) -> dict[str, Any]:
        params = dict(self.fixed)
        params["alpha"] = self.alpha_space.suggest(trial)
        params["gamma"] = (
            suggest(trial, "gamma", self.gamma_space)
            if isinstance(self.gamma_space, (tuple, list)) else self.gamma_space
        )
        for name, spec in self.searched.items():
            params[name] = suggest(trial, name, spec)
        return params

    @property
    def searches(self) -> bool:
        """Whether a trial samples anything; if not, every trial trains the same models."""
        return (not self.alpha_space.is_fixed or isinstance(self.gamma_space, (tuple, list))
                or bool(self.searched))

    def trial_params(self, trial: Any) -> dict[str, Any]:
        """The fold estimator parameters a finished trial was trained with."""
        params = dict(self.fixed)
        params.update({name: trial.params[name] for name in self.searched})
        params["alpha"] = (
            self.alpha_space.fixed if self.alpha_space.is_fixed else trial.user_attrs["alpha"]
        )
        params["gamma"] = (
            trial.params["gamma"] if isinstance(self.gamma_space, (tuple, list))
            else self.gamma_space
        )
        return params

    def make_estimator(self, params: dict[str, Any], *, early_stopping: bool,
                       estimator_class: type | None = None) -> Any:
        rounds = self.early_stopping_rounds if early_stopping else None
        threads = {} if self.threads is None or "n_jobs" in params else {"n_jobs": self.threads}
        # eval_metric is always passed: the estimators' default changes between versions
        return (estimator_class or self.estimator_class)(
            **params, **threads, random_state=self.random_state, early_stopping_rounds=rounds,
            eval_metric=self.early_stopping_metric,
        )

    def with_space(self, alpha_space: AlphaSpace, gamma_space: Any, searched: dict[str, Any],
                   fixed: dict[str, Any]) -> Objective:
        """The same folds, data, scorer and fold runner with another search space (an arm).

        The fold data are shared: the arms' fold fits reuse each other's Datasets/DMatrix.
        """
        return replace(self, alpha_space=alpha_space, gamma_space=gamma_space,
                       searched=searched, fixed=fixed)

    def fit_fold(self, params: dict[str, Any], fold: int, fit_idx: np.ndarray,
                 val_idx: np.ndarray | None) -> Any:
        from ._folds import FoldData, fold_estimator_class

        estimator = self.make_estimator(
            params, early_stopping=val_idx is not None,
            estimator_class=fold_estimator_class(self.estimator_class))
        if self.fold_data is None:
            self.fold_data = FoldData()
        # attributes, not parameters: clone() and get_params() never see them
        estimator.fold_data, estimator.fold = self.fold_data, fold
        estimator.init_score_apart = self.named_scorer
        return self._fit(estimator, fit_idx, val_idx)

    def fit_rows(self, params: dict[str, Any], fit_idx: np.ndarray,
                 val_idx: np.ndarray | None) -> Any:
        """The public estimator fitted on ``fit_idx``, early-stopped on ``val_idx``."""
        estimator = self.make_estimator(params, early_stopping=val_idx is not None)
        return self._fit(estimator, fit_idx, val_idx)

    def _fit(self, estimator: Any, fit_idx: np.ndarray, val_idx: np.ndarray | None) -> Any:
        w = self.sample_weight
        fit_kwargs: dict[str, Any] = {}
        if w is not None:
            fit_kwargs["sample_weight"] = w[fit_idx]
        if val_idx is not None:
            fit_kwargs["eval_set"] = [(take_rows(self.X, val_idx), self.y[val_idx])]
            if w is not None:
                fit_kwargs["eval_sample_weight"] = [w[val_idx]]
        return estimator.fit(take_rows(self.X, fit_idx), self.y[fit_idx], **fit_kwargs)

    def score(self, estimator: Any, test_idx: np.ndarray) -> float:
        w = self.sample_weight
        kwargs = {} if w is None else {"sample_weight": w[test_idx]}
        X_test = take_rows(self.X, test_idx)
        value = float(self.scorer(estimator, X_test, self.y[test_idx], **kwargs))
        if not math.isfinite(value):
            raise ValueError(f"the scorer returned {value!r} on a test fold")
        return value

    def fold_result(self, params: dict[str, Any], fold: int) -> tuple[float, int]:
        """Score on the test rows and early-stopping rounds of one fold's fit."""
        fit_idx, val_idx, test_idx = self.splits[fold]
        estimator = self.fit_fold(params, fold, fit_idx, val_idx)
        return self.score(estimator, test_idx), rounds_used(estimator)

    def without_fold_data(self) -> Objective:
        """A copy for worker processes: no per-thread fold data, no runner."""
        return replace(self, fold_data=None, run_fold=None)

    def cross_validate(self, params: dict[str, Any],
                       trial: optuna.Trial | None = None) -> tuple[list[float], list[int]]:
        """Scores and early-stopping rounds per fold; reported to (and pruned by) ``trial``."""
        import optuna

        run_fold = self.run_fold or self.fold_result
        scores: list[float] = []
        rounds: list[int] = []
        for fold in range(len(self.splits)):
            score, used = run_fold(params, fold)
            scores.append(score)
            rounds.append(used)
            if trial is None:
                continue
            trial.report(float(np.mean(scores)), step=fold)
            # after the last fold the trial is finished: pruning it would only discard it
            if fold < len(self.splits) - 1 and trial.should_prune():
                raise optuna.TrialPruned()
        return scores, rounds

    def __call__(self, trial: optuna.Trial) -> float:
        params = self.params(trial)
        scores, rounds = self.cross_validate(params, trial)
        trial.set_user_attr("alpha", _jsonable(params["alpha"]))
        trial.set_user_attr("n_estimators", int(round(float(np.mean(rounds)))))
        # saved in the study so that a resumed search can still pair them with the baseline
        trial.set_user_attr("fold_scores", scores)
        trial.set_user_attr("fold_rounds", rounds)
        return float(np.mean(scores))


@contextlib.contextmanager
def fold_runner(objective: Objective, n_parallel: int, fit_threads: int | None,
                 fixed: Mapping[str, Any]) -> Iterator[None]:
    """Parallel trials fit their folds on ``n_parallel - 1`` worker processes and here.

    Threads alone are slowed by the boosting rounds' Python, which holds the GIL
    (gbfocal.tuning._workers). The workers' environment gets the same thread budget.
    """
    if n_parallel == 1:
        yield
        return
    from .._base import n_threads
    from ._workers import FoldRunner

    threads = fit_threads if fit_threads is not None else n_threads(fixed.get("n_jobs"))
    with FoldRunner(objective, n_parallel - 1, threads) as runner:
        objective.run_fold = runner
        try:
            yield
        finally:
            objective.run_fold = None


def rounds_used(estimator: Any) -> int:
    """Boosting rounds the fitted estimator predicts with (its early-stopping best)."""
    # gbfocal's ``best_iteration_`` counts rounds from 1 (all rounds without early stopping);
    # the multi-label estimator's is one count per label: their mean, as one n_estimators
    return int(round(float(np.mean(estimator.best_iteration_))))


def _jsonable(value: Any) -> Any:
    return value.tolist() if isinstance(value, np.ndarray) else value


def make_splits(y: np.ndarray, cv: int, validation_fraction: float | None, seed: int,
                rows: np.ndarray | None = None
                ) -> list[tuple[np.ndarray, np.ndarray | None, np.ndarray]]:
    """Outer stratified folds and, inside each training fold, a stratified early-stopping split.

    Computed once, so every trial sees exactly the same rows. ``rows``: split only these
    rows (positions into ``y``; the rows a holdout leaves); the splits hold positions
    into ``y`` either way.
    """
    from sklearn.model_selection import StratifiedKFold, train_test_split

    labels = y if rows is None else y[rows]
    splits: list[tuple[np.ndarray, np.ndarray | None, np.ndarray]] = []
    outer = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    for train_idx, test_idx in outer.split(np.zeros(len(labels)), labels):
        if validation_fraction is None:
            splits.append((train_idx, None, test_idx))
            continue
        fit_idx, val_idx = train_test_split(
            train_idx, test_size=validation_fraction, stratify=labels[train_idx],
            random_state=seed
        )
        splits.append((np.sort(fit_idx), np.sort(val_idx), test_idx))
    return splits if rows is None else on_rows(splits, rows)


def on_rows(splits: list[tuple[np.ndarray, np.ndarray | None, np.ndarray]], rows: np.ndarray
            ) -> list[tuple[np.ndarray, np.ndarray | None, np.ndarray]]:
    """Splits of ``y[rows]`` as positions into ``y`` (``rows`` sorted: order is kept)."""
    return [(rows[fit], None if val is None else rows[val], rows[test])
            for fit, val, test in splits]


def best_params(trial: Any, objective: Objective, swapped: bool) -> dict[str, Any]:
    """Estimator parameters of a finished trial, for the original labels.

    The folds' parameters with ``n_estimators`` replaced by the early-stopped rounds (also
    when ``n_estimators`` was searched: the sampled value was only the folds' cap) and
    ``alpha`` translated from the fold class order to the label order.
    """
    params = objective.trial_params(trial)
    params["n_estimators"] = int(trial.user_attrs["n_estimators"])
    params["alpha"] = label_alpha(params["alpha"], swapped)
    # the order of the result: the focal parameters first, as documented
    first = ("alpha", "gamma", "n_estimators")
    return {
        **{name: params[name] for name in first},
        **{k: val for k, val in params.items() if k not in first},
    }
