"""The tuner's fold models: training data built once per fold, initial score kept apart.

:func:`gbfocal.tune_focal` fits ``cv`` estimators per trial on the same rows, trial after
trial. Two costs of the public estimators repeat there for nothing (measured in
``benchmarks/tuning_speed.md``):

* the library's training data: a LightGBM ``Dataset`` bins every feature when it is
  built, an XGBoost ``DMatrix`` copies the rows and caches its histogram index at the first
  training. Here each fold's data is built once and reused by later trials while the
  parameters that shape it stay the same (LightGBM: every parameter except the
  booster-only ones of :data:`_LIGHTGBM_BOOSTER_ONLY`; XGBoost: none, the DMatrix depends
  on the rows only). Only the initial score changes between trials: it is set afresh.
* LightGBM only: folding the initial score into the trees (a dump and a parse of the whole
  model). A fold model keeps it apart and adds it to its margins instead, so its
  ``decision_function`` / ``predict_proba`` are those of the folded model (tested); its
  ``booster_`` alone does not carry it. The tuner uses such models only with scikit-learn's
  named scorers, which call those methods; a user's scorer gets the public estimator.

Thread safety: the data are per thread (parallel trials run in Optuna's threads, which fit
in this process one at a time or send the fit to a worker process with its own data, and a
LightGBM Dataset holds one initial score), so no two trainings share them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from .._engines.lightgbm import start_margin
from .._engines.params import lightgbm_aliases
from ..sklearn import FitInput, FocalLGBMClassifier, FocalXGBClassifier

__all__ = ["FoldData", "fold_estimator_class"]

# LightGBM parameters that shape the trees, never the binned Dataset (main names; aliases
# are mapped through LightGBM's table). Any other parameter may (max_bin, min_data_in_bin,
# min_data_in_leaf with feature_pre_filter, ...): a change of it builds new data.
_LIGHTGBM_BOOSTER_ONLY = frozenset({
    "objective", "metric", "num_class", "num_iterations", "learning_rate", "num_leaves",
    "max_depth", "lambda_l1", "lambda_l2", "min_gain_to_split", "min_sum_hessian_in_leaf",
    "feature_fraction", "feature_fraction_bynode", "feature_fraction_seed",
    "bagging_fraction", "bagging_freq", "bagging_seed", "extra_trees", "extra_seed",
    "path_smooth", "max_delta_step", "num_threads", "verbosity", "early_stopping_round",
    "first_metric_only", "deterministic", "boosting",
})


class FoldData:
    """Each fold's training data, built once per thread and parameter set.

    ``get(fold, key, build)`` returns what ``build()`` made for the same ``fold`` and
    ``key`` in this thread, else builds it. Only the latest key per fold is kept, so a
    searched binning parameter costs a rebuild, never unbounded memory.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def get(self, fold: Hashable, key: Hashable, build: Callable[[], Any]) -> Any:
        store: dict[Hashable, tuple[Hashable, Any]] = self._local.__dict__.setdefault(
            "store", {})
        cached = store.get(fold)
        if cached is not None and cached[0] == key:
            return cached[1]
        value = build()
        store[fold] = (key, value)
        return value

    def __getstate__(self) -> dict[str, Any]:
        return {}  # library handles do not travel; a copy builds its own

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._local = threading.local()


def _lightgbm_dataset_key(params: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    aliases = lightgbm_aliases()
    shaping = {}
    for name, value in params.items():
        main = aliases.get(name, name)
        if main not in _LIGHTGBM_BOOSTER_ONLY:
            shaping[main] = repr(value)
    return tuple(sorted(shaping.items()))


class _FoldLGBMClassifier(FocalLGBMClassifier):
    """:class:`FocalLGBMClassifier` of one tuning fold (see the module docstring).

    With the initial score apart it also keeps lgb.train's training booster (whose end
    would otherwise be one more dump and parse of the model, to cut it to the best
    round): it predicts with the first ``best_iteration`` rounds.
    """

    fold_data: FoldData | None = None
    fold: Hashable = None
    init_score_apart: bool = False

    def _keep_training_booster(self) -> bool:
        return self.init_score_apart

    def _builtin_log_loss(self) -> bool:
        # the log-loss arm's trials: LightGBM's own objective trains the same trees
        # without a Python call per round (tests/test_tuning_speed.py)
        return True

    def _datasets(self, lgb: Any, data: FitInput, start: Any) -> tuple[Any, list[Any]]:
        if self.fold_data is None or data.extra:
            return super()._datasets(lgb, data, start)
        key = _lightgbm_dataset_key(self._booster_params())
        train_set, valid_sets = self.fold_data.get(
            self.fold, key, lambda: super(_FoldLGBMClassifier, self)._datasets(lgb, data, start))
        for dataset in (train_set, *valid_sets):
            rows = dataset.num_data()
            dataset.set_init_score(start_margin(start, rows))
        return train_set, valid_sets

    def _with_init_score(self, lgb: Any, booster: Any, start: Any) -> Any:
        if self.init_score_apart:
            return booster  # _raw_predict adds it
        return super()._with_init_score(lgb, booster, start)

    def _booster_rounds(self) -> int:
        best = int(self.booster_.best_iteration)  # 0 without early stopping
        return best if best > 0 else super()._booster_rounds()

    def _raw_predict(self, X: Any, start: int, end: int, *, pred_contrib: bool) -> np.ndarray:
        raw = super()._raw_predict(X, start, end, pred_contrib=pred_contrib)
        if not self.init_score_apart or self.init_score_ is None:
            return raw
        if pred_contrib or start > 0:
            raise RuntimeError("a tuning fold model with its initial score apart predicts "
                               "full margins only")
        return raw + self.init_score_


class _FoldXGBClassifier(FocalXGBClassifier):
    """:class:`FocalXGBClassifier` of one tuning fold (see the module docstring)."""

    fold_data: FoldData | None = None
    fold: Hashable = None

    def _matrices(self, xgb: Any, data: FitInput) -> tuple[Any, list[Any]]:
        if self.fold_data is None or data.extra:
            return super()._matrices(xgb, data)
        # the initial score lives in base_score (a parameter), so the matrices hold only
        # the fold's rows, labels and weights: the same in every trial
        return self.fold_data.get(self.fold, None,
                                  lambda: super(_FoldXGBClassifier, self)._matrices(xgb, data))


_FOLD_CLASSES: dict[type, type] = {
    FocalLGBMClassifier: _FoldLGBMClassifier, FocalXGBClassifier: _FoldXGBClassifier,
}


def fold_estimator_class(estimator_class: type) -> type:
    """The fold model class of a public estimator class (any other class: itself, as is)."""
    return _FOLD_CLASSES.get(estimator_class, estimator_class)
