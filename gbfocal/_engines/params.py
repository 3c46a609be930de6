"""The libraries' parameters: names and aliases, and the check of a native ``params`` dict.

Both libraries accept any key and silently ignore the ones they do not know (LightGBM logs
"Unknown parameter", XGBoost warns "are not used" only at training time), and both drop a
``None`` value; a GPU request without a usable GPU falls back to the CPU. So every key a
user passes in an estimator's ``params`` is checked here against the library's own table
(its aliases included) before anything trains: LightGBM's table is kept as data
(:mod:`gbfocal._param_tables`, compared with the installed LightGBM by a test), XGBoost's
is read from the public ``Booster.save_config`` of one-row boosters.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Collection
from typing import Any

import numpy as np

from .._optional import import_optional
from .._param_tables import LIGHTGBM_PARAMETERS, LIGHTGBM_VERSION

__all__ = ["aliases", "check_native_params", "lightgbm_aliases", "xgboost_aliases"]

# Native class-weighting options that a custom objective silently ignores: rejected,
# pointing to alpha (the focal loss's own class weights).
_CLASS_WEIGHT_PARAMS = {
    "scale_pos_weight": "alpha=[1, scale_pos_weight] (weights of [negative, positive])",
    "is_unbalance": 'alpha="balanced"',
    "unbalance": 'alpha="balanced"',
    "unbalanced_sets": 'alpha="balanced"',
    "class_weight": 'alpha (one weight per class in the order of classes_, or "balanced")',
}

_LIBRARY_NAMES = {"lightgbm": "LightGBM", "xgboost": "XGBoost"}


@functools.cache
def lightgbm_aliases() -> dict[str, str]:
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
def xgboost_aliases() -> dict[str, str]:
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
    return lightgbm_aliases() if backend == "lightgbm" else xgboost_aliases()


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


def check_native_params(
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
