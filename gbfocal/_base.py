"""What the three estimators share: parameter checks, thread and seed handling, the base.

:class:`FocalEstimator` is the base of :class:`gbfocal.FocalLGBMClassifier`,
:class:`gbfocal.FocalXGBClassifier` and :class:`gbfocal.FocalMultiOutputClassifier`: the
focal-loss parameters (validated once, by :meth:`gbfocal._spec.FocalSpec.create`, with the
same messages and exception types as the loss objects), the native-parameter check
against the libraries' own parameter tables (names, aliases, None values, GPU requests),
and the input checks. Needs scikit-learn.
"""

from __future__ import annotations

import os
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_random_state

from ._engines.params import check_native_params
from ._parallel import available_cpus, in_forked_child, limit_library_threads
from ._spec import BOOSTER_BACKENDS, FocalSpec
from ._validation import check_sample_weight

__all__ = ["FocalEstimator", "check_weight", "eval_triples", "n_threads",
           "booster_seed"]

def check_weight(sample_weight: Any, n_samples: int, name: str) -> np.ndarray | None:
    """Validated weights; an all-zero vector is rejected (nothing would be learned)."""
    try:
        weight = check_sample_weight(sample_weight, n_samples)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name}: {exc}") from exc
    if weight is not None and not weight.any():
        raise ValueError(f"{name} must not be all zero: the total weight must be positive")
    return weight


def n_threads(n_jobs: int | None) -> int | None:
    """scikit-learn's n_jobs (-1 = all cores this process may use, -2 = all but one, ...)
    as a thread count; None = library default.

    1 in a forked child, whatever ``n_jobs`` says: the libraries' OpenMP hangs there in
    its first region of more than one thread when the parent had run one (measured with
    both libraries; one thread never touches the parent's dead thread pool). The
    libraries are capped at one thread there too (:func:`limit_library_threads`).
    """
    if in_forked_child():
        limit_library_threads()
        return 1
    if n_jobs is None or n_jobs > 0:
        return n_jobs
    return max(1, available_cpus() + 1 + n_jobs)


def eval_triples(eval_set: Any, eval_sample_weight: Any) -> list[tuple[Any, Any, Any]]:
    """``fit``'s ``eval_set`` and ``eval_sample_weight`` as ``(X, y, weight)`` triples,
    as given (the estimators check each); a single ``(X, y)`` pair is a list of one."""
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
    return [(X, y, w) for (X, y), w in zip(eval_set, weights, strict=True)]


def booster_seed(random_state: Any) -> int | None:
    """An integer seed for the booster; None keeps the library's own fixed default seed."""
    if random_state is None:
        return None
    if isinstance(random_state, Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))





class FocalEstimator(ClassifierMixin, BaseEstimator):
    """Base of the focal-loss estimators (scikit-learn API; ``__init__`` only stores).

    Subclasses set ``_reserved_params`` (the booster parameters they set themselves, main
    name -> what to use instead) and implement ``fit`` / ``decision_function``.
    """

    # alpha, gamma and hessian are validated by FocalSpec.create (in _focal_spec), the one
    # place that validates them for the loss objects too: the same value gets the same
    # exception everywhere.
    _parameter_constraints: ClassVar[dict[str, Any]] = {
        "alpha": "no_validation",
        "gamma": "no_validation",
        "hessian": "no_validation",
        "random_state": ["random_state"],
        "n_jobs": [
            None,
            Interval(Integral, None, -1, closed="right"),
            Interval(Integral, 1, None, closed="left"),
        ],
        "correct_proba": ["boolean"],
        "params": [None, dict],
    }
    _reserved_params: ClassVar[dict[str, str]] = {}
    # constructor parameters every estimator stores (declared for the shared helpers)
    alpha: Any
    gamma: float
    hessian: str
    learning_rate: float
    subsample: float
    colsample_bytree: float
    reg_lambda: float
    random_state: Any
    n_jobs: int | None
    params: dict[str, Any] | None

    def __getstate__(self) -> Any:
        # pickling runs the libraries' model writers, OpenMP regions: in a forked child
        # they must be capped at one thread (in the thread that pickles; see n_threads)
        limit_library_threads()
        return super().__getstate__()

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.sparse = True
        return tags

    def _focal_spec(self, n_classes: int, *, binary: bool) -> FocalSpec:
        """The validated loss parameters (ValueError / TypeError naming the bad one)."""
        alpha = self.alpha
        if alpha is not None and not isinstance(alpha, str) and np.ndim(alpha) == 1:
            alpha = list(alpha)  # e.g. a pandas Series: one weight per class
        # the asymmetric loss's parameters, on the estimators that have them (sigmoid outputs)
        asymmetric = {name: getattr(self, name) for name in ("gamma_neg", "clip")
                      if hasattr(self, name)}
        return FocalSpec.create(alpha=alpha, gamma=self.gamma, hessian=self.hessian,
                                n_classes=n_classes, binary=binary, **asymmetric)

    def _check_native_params(self, backend: str, reserved: dict[str, str] | None = None) -> None:
        """Check ``params`` against ``backend``'s parameter table
        (:func:`gbfocal._engines.params.check_native_params`):
        names the estimator controls (``reserved``, default ``_reserved_params``) under any
        alias, native class weights, unknown names, None values, an unusable GPU."""
        reserved = self._reserved_params if reserved is None else reserved
        check_native_params(self.params, reserved, backend, owner=type(self).__name__,
                             arguments=self.get_params(deep=False))

    def _rounds_per_model(self, n_models: int) -> list[int | None]:
        """Rounds each of ``n_models`` outputs predicts with (None: all), from
        ``best_iteration_`` (the multi-output and multi-label estimators).

        Read leniently: :func:`gbfocal.load_model` restores a list, and an estimator
        pickled before early stopping existed has none.
        """
        best = getattr(self, "best_iteration_", None)
        if best is None:
            return [None] * n_models
        return [int(r) for r in np.atleast_1d(best)]

    def save_model(self, path: str | os.PathLike[str], *, overwrite: bool = False,
                   metadata: dict[str, Any] | None = None) -> Any:
        """Save this fitted estimator as one JSON file (:func:`gbfocal.persist.save_model`;
        ``metadata``: your own JSON fields saved with it, covered by its digest)."""
        from .persist import save_model

        limit_library_threads()  # the libraries' model writers run OpenMP regions

        return save_model(self, path, overwrite=overwrite, metadata=metadata)

    @classmethod
    def load_model(cls, path: str | os.PathLike[str], *, legacy: bool = False) -> Any:
        """Load an estimator saved by :meth:`save_model` (:func:`gbfocal.persist.load_model`;
        ``legacy=True`` also loads a format-1 file, which has no digest).

        Raises TypeError when the file holds another estimator class.
        """
        from .persist import load_model

        estimator = load_model(path, legacy=legacy)
        if not isinstance(estimator, cls):
            raise TypeError(f"{path} holds a {type(estimator).__name__}, not a {cls.__name__}")
        return estimator

    def _common_params(self) -> dict[str, Any]:
        """Booster parameters named alike in both libraries (the multi-output and
        multi-label estimators; the booster estimators map their own)."""
        params: dict[str, Any] = {
            "learning_rate": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "reg_lambda": self.reg_lambda,
        }
        seed, threads = self._booster_seed(), self._threads()
        if seed is not None:
            params["seed"] = seed
        if threads is not None:
            params["nthread"] = threads
        return params

    def _threads(self) -> int | None:
        return n_threads(self.n_jobs)

    def _booster_seed(self) -> int | None:
        return booster_seed(self.random_state)


BACKEND_OPTIONS = StrOptions(set(BOOSTER_BACKENDS))

# Booster parameters (main names) that the multi-output and multi-label estimators set
# themselves -> what to use instead; each estimator adjusts a few entries (its metrics,
# early stopping, label layout).
RESERVED_BOOSTER_PARAMS: dict[str, dict[str, str]] = {
    "lightgbm": {
        "objective": "the focal loss (alpha, gamma, hessian)",
        "metric": "nothing (no metric is evaluated)",
        "num_class": "the labels",
        "num_iterations": "n_estimators",
        "early_stopping_round": "nothing (not supported here)",
        "learning_rate": "learning_rate",
        "bagging_fraction": "subsample",
        "bagging_freq": "subsample (bagging every round when < 1)",
        "feature_fraction": "colsample_bytree",
        "lambda_l2": "reg_lambda",
        "seed": "random_state",
        "num_threads": "n_jobs",
    },
    "xgboost": {
        "objective": "the focal loss (alpha, gamma, hessian)",
        "num_class": "the labels",
        "num_target": "the labels",
        "eval_metric": "nothing (no metric is evaluated)",
        "base_score": "nothing (the estimator sets the initial score itself)",
        "disable_default_eval_metric": "nothing",
        "num_boost_round": "n_estimators",
        "n_estimators": "n_estimators",
        "early_stopping_rounds": "nothing (not supported here)",
        "eta": "learning_rate",
        "subsample": "subsample",
        "colsample_bytree": "colsample_bytree",
        "lambda": "reg_lambda",
        "seed": "random_state",
        "nthread": "n_jobs",
        "tree_method": "nothing (hist is required for vector labels)",
        "multi_strategy": "multi_strategy",
    },
}
