"""What the three estimators share: parameter checks, thread and seed handling, the base.

:class:`FocalEstimator` is the base of :class:`gbfocal.FocalLGBMClassifier`,
:class:`gbfocal.FocalXGBClassifier` and :class:`gbfocal.FocalMultiOutputClassifier`: the
focal-loss parameters (validated once, by :meth:`gbfocal._spec.FocalSpec.create`, with the
same messages and exception types as the loss objects), the native-parameter check
against the libraries' own parameter tables (names, aliases, None values, GPU requests),
and the input checks. Needs scikit-learn.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Collection
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_random_state

from ._optional import import_optional
from ._parallel import available_cpus, in_forked_child, limit_library_threads
from ._param_tables import LIGHTGBM_PARAMETERS, LIGHTGBM_VERSION
from ._spec import BOOSTER_BACKENDS, FocalSpec
from ._validation import check_sample_weight

__all__ = ["FocalEstimator"]

# Native class-weighting options that a custom objective silently ignores: rejected,
# pointing to alpha (the focal loss's own class weights).
_CLASS_WEIGHT_PARAMS = {
    "scale_pos_weight": "alpha=[1, scale_pos_weight] (weights of [negative, positive])",
    "is_unbalance": 'alpha="balanced"',
    "unbalance": 'alpha="balanced"',
    "unbalanced_sets": 'alpha="balanced"',
    "class_weight": 'alpha (one weight per class in the order of classes_, or "balanced")',
}

# Input accepted by fit / predict: dense or sparse numbers; NaN means "missing", which
# both libraries handle natively.
_X_CHECKS: dict[str, Any] = {
    "accept_sparse": ("csr", "csc"),
    "dtype": (np.float64, np.float32),
    "ensure_all_finite": "allow-nan",
}


# --------------------------------------------------------------------------- parameter tables
_LIBRARY_NAMES = {"lightgbm": "LightGBM", "xgboost": "XGBoost"}


@functools.cache
def _lightgbm_aliases() -> dict[str, str]:
    """Every LightGBM parameter name and alias -> its main name.

    From :mod:`gbfocal._param_tables`, LightGBM's own table copied as data: LightGBM has
    no public one in Python (``lightgbm.basic._ConfigAliases`` is private), and its
    ``Booster`` / ``Dataset`` accept any key. A test checks the copy against the
    installed LightGBM.
    """
    return {
        alias: main
        for main, aliases in LIGHTGBM_PARAMETERS.items()
        for alias in (main, *aliases)
    }


# Distinct, non-default values: each name's aliases are the keys of its parameter group in
# XGBoost's saved configuration that echo the same value (XGBoost writes both spellings).
_XGB_PROBE = {"eta": 0.0123, "max_depth": 17, "min_child_weight": 0.0456, "subsample": 0.789,
              "colsample_bytree": 0.654, "alpha": 0.0321, "lambda": 0.0987, "seed": 424242,
              "nthread": 3, "gamma": 0.0234}

# Configurations whose saved JSON together names every XGBoost training parameter: the
# default tree booster, and those that bring parameter groups of their own (the exact
# method, dart, gblinear, the objectives that take parameters).
_XGB_CONFIGURATIONS: tuple[dict[str, Any], ...] = (
    {}, {"tree_method": "exact"}, {"booster": "dart"}, {"booster": "gblinear"},
    {"objective": "reg:tweedie"}, {"objective": "reg:pseudohubererror"},
    {"objective": "reg:quantileerror", "quantile_alpha": 0.5}, {"objective": "survival:aft"},
    {"objective": "rank:ndcg"},
)
# What XGBoost's own check (learner.cc, ValidateParameters) accepts besides the groups.
_XGB_EXTRA_NAMES = ("eval_metric", "num_output_group")


def _xgboost_config(params: dict[str, Any]) -> dict[str, Any]:
    """The saved configuration (public ``Booster.save_config``) of a one-row booster
    configured with ``params``; nothing is trained, no OpenMP region runs."""
    import json
    import warnings

    import xgboost as xgb

    one_row = xgb.DMatrix(np.zeros((1, 1)), label=[0.0], nthread=1)
    # config_context: a "verbosity" in the booster's params would change XGBoost's global
    # (per-thread) setting; the probe must leave no trace and print nothing
    with xgb.config_context(verbosity=0), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        booster = xgb.Booster({"nthread": 1, **params}, cache=[one_row])
        return dict(json.loads(booster.save_config()))


def _xgboost_groups(config: Any) -> list[dict[str, Any]]:
    """The parameter groups of a saved configuration: objects under a key ending in
    ``_param``, where XGBoost's own check looks for valid names."""
    groups: list[dict[str, Any]] = []
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key.endswith("_param") and isinstance(value, dict):
                    groups.append(value)
                elif isinstance(value, (dict, list)):
                    stack.append(value)
    return groups


@functools.cache
def _xgboost_aliases() -> dict[str, str]:
    """Every XGBoost training parameter name -> its main name (an alias -> the name it
    shares a value with, every other name -> itself).

    XGBoost has no parameter table in Python, but its public configuration JSON lists
    each parameter group with every spelling of every parameter; the names are collected
    the way XGBoost's own parameter check collects them, over configurations that
    together bring every group.
    """
    import xgboost as xgb

    names: dict[str, str] = {name: name for name in _XGB_EXTRA_NAMES}
    names.update((name, name) for name in xgb.get_config())  # global: verbosity, use_rmm
    for params in _XGB_CONFIGURATIONS:
        for group in _xgboost_groups(_xgboost_config(params)):
            names.update((name, name) for name in group)
    for group in _xgboost_groups(_xgboost_config(_XGB_PROBE)):
        for main in _XGB_PROBE:
            if main in group:
                names.update((key, main) for key, value in group.items()
                             if value == group[main])
    return names


def aliases(backend: str) -> dict[str, str]:
    """Every parameter spelling -> main name, from the library ``backend``'s own table."""
    import_optional(backend, needed_by=f"the {backend} parameter check")
    return _lightgbm_aliases() if backend == "lightgbm" else _xgboost_aliases()


# Not booster parameters, but arguments of XGBoost's DMatrix, which the estimators build
# (XGBoost ignores them in params): what to do instead.
_XGB_DMATRIX_ARGUMENTS = {
    "base_margin": "it is a DMatrix field (the starting margin), which the estimator sets "
                   "itself (init_score_)",
    "missing": "it is a DMatrix argument; NaN in X marks a missing value",
    "enable_categorical": "it is a DMatrix argument; pandas category columns are passed as "
                          "categorical features",
    "feature_weights": "it is a DMatrix field",
    "weight": "pass fit(..., sample_weight=...)",
}

# LightGBM parameters that name data columns of a file (its command line's; "weight" and
# "label" are their aliases): in params they would be ignored, or shadow what fit passes.
_LIGHTGBM_DATA_PARAMS = {
    "weight_column": "fit(..., sample_weight=...)",
    "label_column": "fit's y",
}


# --------------------------------------------------------------------------- GPU requests
_GPU_DEVICES = ("cuda", "gpu")


@functools.cache
def _xgboost_device(device: str) -> str:
    """The device XGBoost configures when asked for ``device``.

    Without a usable GPU XGBoost falls back to ``"cpu"`` with only a warning (which the
    estimators' ``verbosity=0`` hides), so the configuration of a one-row booster, read
    back through public API, is the reliable answer (about 2 ms, once per process).
    """
    generic = _xgboost_config({"device": device})["learner"]["generic_param"]
    return str(generic["device"])


def _check_gpu_request(key: str, value: Any, backend: str) -> None:
    """A GPU asked for where none can be used is an error, never a silent CPU run.

    XGBoost falls back to the CPU (checked here); LightGBM raises on its own ("No OpenCL
    device found", "CUDA Tree Learner was not enabled in this build"; checked on 4.7).
    """
    if backend != "xgboost" or not isinstance(value, str):
        return
    if value.split(":")[0].strip().lower() not in _GPU_DEVICES:
        return
    import xgboost as xgb

    used = _xgboost_device(value)
    if used.split(":")[0] in _GPU_DEVICES:
        return
    reason = ("no usable GPU was found" if xgb.build_info().get("USE_CUDA")
              else "this XGBoost is built without CUDA")
    raise ValueError(
        f"params[{key!r}]={value!r} asks for a GPU, but {reason}: XGBoost would silently "
        f"train on the CPU (it configures device={used!r}). Leave {key!r} out (or pass "
        "'cpu') to train on the CPU"
    )


# --------------------------------------------------------------------------- the check
def _unknown_param_message(
    key: str, backend: str, table: dict[str, str], reserved: dict[str, str], owner: str,
    arguments: Collection[str],
) -> str:
    """Why ``key`` is refused, with the nearest valid name (``difflib``) when one is close."""
    library = _LIBRARY_NAMES[backend]
    if key in arguments:
        return (f"params[{key!r}]: {library} has no parameter {key!r}; it is an argument of "
                f"{owner}: pass {owner}({key}=...)")
    if backend == "xgboost" and key in _XGB_DMATRIX_ARGUMENTS:
        return (f"params[{key!r}]: XGBoost has no booster parameter {key!r} (it would ignore "
                f"it): {_XGB_DMATRIX_ARGUMENTS[key]}")
    message = (f"params[{key!r}]: {library} has no parameter or alias {key!r} (it would "
               "ignore it without a word)")
    close = difflib.get_close_matches(key, [*table, *reserved], n=1)
    if close:
        main = table.get(close[0], close[0])
        message += f"; did you mean {close[0]!r}?"
        if main in reserved:
            message += f" (the estimator sets that one itself: use {reserved[main]})"
    if backend == "lightgbm":
        import lightgbm

        if lightgbm.__version__ != LIGHTGBM_VERSION:
            message += (f". gbfocal's table of LightGBM parameters is LightGBM "
                        f"{LIGHTGBM_VERSION}'s and this is {lightgbm.__version__}: if "
                        f"{key!r} is new, please report it")
    return message


def _check_native_params(
    params: dict[str, Any] | None, reserved: dict[str, str], backend: str, *,
    owner: str = "the estimator", arguments: Collection[str] = (),
) -> None:
    """Check ``params`` against the library ``backend``'s own parameter table.

    Refused, each with a ValueError naming the key: a name the estimator controls
    (``reserved``: main name -> what to use instead) under any alias; a native class
    weight that a custom objective ignores; a name the library does not know (it would
    be ignored silently; the message suggests the nearest valid name); one parameter
    under two names; a None value (both libraries drop it and use their default); a GPU
    that cannot be used (XGBoost would fall back to the CPU). ``owner`` and
    ``arguments``: the estimator's class name and constructor arguments, for keys that
    belong there.

    Raises
    ------
    TypeError
        If a key is not a string.
    ValueError
        For any of the above.
    """
    given = params or {}
    table = aliases(backend)
    library = _LIBRARY_NAMES[backend]
    for name, replacement in _CLASS_WEIGHT_PARAMS.items():
        key = name if name in given else table.get(name, "")
        if key in given:
            raise ValueError(
                f"params={{{key!r}: {given[key]!r}}} would be ignored: the library "
                f"applies it only to its built-in objectives. Weight the classes of the focal "
                f"loss with {replacement}"
            )
    if backend == "lightgbm":
        reserved = {**_LIGHTGBM_DATA_PARAMS, **reserved}
    seen: dict[str, str] = {}
    for key, value in given.items():
        if not isinstance(key, str):
            raise TypeError(f"params keys must be parameter names (str) of {library}, got {key!r}")
        main = table.get(key, key)
        if main in reserved:
            alias_note = "" if key == main else f" (an alias of {main!r})"
            raise ValueError(
                f"params must not set {key!r}{alias_note}: the estimator sets it itself; use "
                f"{reserved[main]}"
            )
        if key not in table:
            raise ValueError(
                _unknown_param_message(key, backend, table, reserved, owner, arguments))
        if main in seen:
            raise ValueError(
                f"params sets {main!r} twice, as {seen[main]!r} and {key!r}: the library would "
                "keep one of them silently; pass one name"
            )
        seen[main] = key
        if value is None:
            # both libraries drop a None and use their default: say so instead of guessing
            raise ValueError(
                f"params[{key!r}] is None, which {library} does not take as a value (it would "
                f"drop the key and use its default without a word): leave {key!r} out for the "
                "default, or pass a value"
            )
    for key, value in given.items():
        if table[key] in ("device", "device_type"):
            _check_gpu_request(key, value, backend)


def _check_weight(sample_weight: Any, n_samples: int, name: str) -> np.ndarray | None:
    """Validated weights; an all-zero vector is rejected (nothing would be learned)."""
    try:
        weight = check_sample_weight(sample_weight, n_samples)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name}: {exc}") from exc
    if weight is not None and not weight.any():
        raise ValueError(f"{name} must not be all zero: the total weight must be positive")
    return weight


def _constant_margin(init_score: float | np.ndarray, n_samples: int) -> np.ndarray:
    """The initial raw score repeated per row: (n,) binary, (n, K) multiclass."""
    init = np.asarray(init_score, dtype=np.float64)
    return np.tile(init, (n_samples, 1)) if init.ndim else np.full(n_samples, float(init))


def _n_threads(n_jobs: int | None) -> int | None:
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


def _seed(random_state: Any) -> int | None:
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
        # they must be capped at one thread (in the thread that pickles; see _n_threads)
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
        """Check ``params`` against ``backend``'s parameter table (:func:`_check_native_params`):
        names the estimator controls (``reserved``, default ``_reserved_params``) under any
        alias, native class weights, unknown names, None values, an unusable GPU."""
        reserved = self._reserved_params if reserved is None else reserved
        _check_native_params(self.params, reserved, backend, owner=type(self).__name__,
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
        return _n_threads(self.n_jobs)

    def _booster_seed(self) -> int | None:
        return _seed(self.random_state)


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
