"""Optuna search over the focal-loss ``alpha`` / ``gamma`` (and booster parameters).

:func:`tune_focal` runs stratified cross-validation of a :class:`~gbfocal.FocalLGBMClassifier`
or :class:`~gbfocal.FocalXGBClassifier` for every trial and keeps the parameters with the best
*gamma-independent* score (average precision by default). Optuna is imported lazily:
``pip install gbfocal[tune]``.

Why the score must not be the focal loss: ``gamma`` changes the loss itself (with ``gamma = 5``
a confident model scores almost zero whatever it ranks), so comparing focal-loss values of
trials with different ``gamma`` rewards large ``gamma``, not better models.
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from . import _multilabel_tuning as _multilabel
from . import _validation as v
from ._optional import import_optional
from ._spec import BOOSTER_BACKENDS, EFFECTIVE_NUMBER, METRICS, FocalSpec
from ._trial_workers import shutdown_workers

if TYPE_CHECKING:  # pragma: no cover - typing only
    import optuna

__all__ = ["TuningResult", "shutdown_workers", "tune_focal"]

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
_EVAL_METRICS = tuple(METRICS)
_FOCAL_SCORING = ("focal_loss", "neg_focal_loss")

# Names of the trial parameters that the focal-loss search itself uses.
_ALPHA_CHOICE = "alpha_choice"
_ALPHA_RANGE = "range"
# Parameters that tune_focal sets itself; users pass them as arguments instead.
_RESERVED = (
    "alpha", "gamma", _ALPHA_CHOICE, "early_stopping_rounds", "eval_metric", "random_state",
    "backend",  # the multi-label estimator's: tune_focal's backend argument sets it
)
_SETTINGS_ATTR = "gbfocal_settings"


@dataclass
class TuningResult:
    """What :func:`tune_focal` found.

    Attributes
    ----------
    best_params : dict
        ``alpha`` (a float, ``"balanced"``, ``None`` or per-class weights), ``gamma``,
        ``n_estimators`` (mean of the early-stopping rounds over the best trial's folds) and
        every other searched or fixed booster parameter: ``FocalLGBMClassifier(**best_params)``
        fitted on the original labels is the model that scored ``best_score`` (up to
        ``random_state``). When ``pos_label`` is the smaller of two labels a searched or fixed
        float alpha is reported as the weights ``[alpha, 1 - alpha]`` in label order (see
        :func:`tune_focal`).
    best_score : float
        Mean cross-validated score of the best trial (higher is better).
    study : optuna.Study
        The study, for plots (``optuna.visualization``), ``trials_dataframe()`` or resuming.
    best_estimator : FocalLGBMClassifier, FocalXGBClassifier or None
        Refit on all of ``X`` with ``best_params``; ``None`` when ``refit=False``.
    scoring : str
        Name of the score (``__qualname__`` or ``repr`` of a callable scorer).
    backend : str
        ``"lightgbm"`` or ``"xgboost"``.
    pos_label : label or None
        The class that was scored as positive (binary targets); ``None`` for multiclass.
    best_fold_scores : list of float or None
        The best trial's score on each test fold (the folds of ``study``).
    baseline_score : float or None
        Mean cross-validated score of the plain log-loss model (``gamma=0``, ``alpha=None``,
        otherwise the best trial's parameters) on the same folds; ``None`` when
        ``baseline=False``.
    baseline_fold_scores : list of float or None
        The baseline's score on each test fold.
    fold_differences : list of float or None
        ``best_fold_scores - baseline_fold_scores``, fold by fold (paired: same rows, same
        early-stopping split). Positive values favour the focal loss.
    """

    best_params: dict[str, Any]
    best_score: float
    study: optuna.Study = field(repr=False)
    best_estimator: Any = field(default=None, repr=False)
    scoring: str = "average_precision"
    backend: str = "lightgbm"
    pos_label: Any = None
    best_fold_scores: list[float] | None = None
    baseline_score: float | None = None
    baseline_fold_scores: list[float] | None = None
    fold_differences: list[float] | None = None


def _import_optuna() -> Any:
    return import_optional("optuna", needed_by="gbfocal.tune_focal")


# ----------------------------------------------------------------------- search space
@dataclass(frozen=True)
class _AlphaSpace:
    """``fixed`` when not searched; otherwise categorical ``choices`` and/or a float range."""

    fixed: Any = None
    is_fixed: bool = False
    choices: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    # a searched class-balanced alpha ("effective_number", beta): beta's range
    beta_low: float | None = None
    beta_high: float | None = None
    beta_log: bool = False

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.is_fixed:
            return self.fixed
        options = self.choices + ((_ALPHA_RANGE,) if self.low is not None else ()) + (
            (EFFECTIVE_NUMBER,) if self.beta_low is not None else ())
        choice = options[0] if len(options) == 1 else trial.suggest_categorical(
            _ALPHA_CHOICE, list(options)
        )
        if choice == _ALPHA_RANGE:
            # offered only when the range is set (_alpha_space sets low and high together)
            assert self.low is not None and self.high is not None
            return trial.suggest_float("alpha", self.low, self.high, log=self.log)
        if choice == EFFECTIVE_NUMBER:
            assert self.beta_low is not None and self.beta_high is not None
            beta = trial.suggest_float("beta", self.beta_low, self.beta_high, log=self.beta_log)
            return (EFFECTIVE_NUMBER, beta)
        return choice


def _is_effective_number(spec: Any) -> bool:
    """``("effective_number", beta)`` or ``("effective_number", (low, high[, "log"]))``."""
    return isinstance(spec, (tuple, list)) and len(spec) == 2 and spec[0] == EFFECTIVE_NUMBER


def _beta_range(spec: Any) -> tuple[float, float, bool] | None:
    """The searched beta range of an effective-number spec, or None when beta is fixed."""
    if not _is_range(spec[1]):
        return None
    return _check_range("alpha=('effective_number', beta)", tuple(spec[1]), low_bound=0.0,
                        high_bound=1.0 - 1e-12)


def _is_range(spec: Any) -> bool:
    return (
        isinstance(spec, tuple)
        and len(spec) in (2, 3)
        and all(isinstance(b, numbers.Real) and not isinstance(b, bool) for b in spec[:2])
    )


def _check_range(name: str, spec: tuple, *, low_bound: float | None = None,
                 high_bound: float | None = None) -> tuple[float, float, bool]:
    """Validate ``(low, high)`` / ``(low, high, "log")``; returns ``(low, high, log)``."""
    low, high = spec[0], spec[1]
    log = False
    if len(spec) == 3:
        if spec[2] != "log":
            raise ValueError(
                f"{name}: the third element of a range must be 'log', got {spec[2]!r} in {spec!r}"
            )
        log = True
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{name}: range bounds must be finite, got {spec!r}")
    if not low < high:
        raise ValueError(f"{name}: a range needs low < high, got {spec!r}")
    if low_bound is not None and low < low_bound:
        raise ValueError(f"{name}: the lower bound must be >= {low_bound}, got {spec!r}")
    if high_bound is not None and high > high_bound:
        raise ValueError(f"{name}: the upper bound must be <= {high_bound}, got {spec!r}")
    if log and low <= 0:
        raise ValueError(f"{name}: a log range needs low > 0, got {spec!r}")
    return low, high, log


def _alpha_space(alpha: Any, *, binary: bool) -> _AlphaSpace:
    if isinstance(alpha, str) and alpha == "auto":
        alpha = [(0.05, 0.95), "balanced", None] if binary else ["balanced", None]
    n_classes = 2 if binary else 3  # only used for the "float alpha is binary-only" message
    if _is_range(alpha) or _is_effective_number(alpha) and _beta_range(alpha) is not None:
        alpha = [alpha]
    if _is_effective_number(alpha):  # a fixed beta
        FocalSpec.create(alpha=tuple(alpha), n_classes=n_classes, binary=binary)  # validates
        return _AlphaSpace(fixed=(EFFECTIVE_NUMBER, float(alpha[1])), is_fixed=True)
    if isinstance(alpha, list):
        if not alpha:
            raise ValueError("alpha: the list of choices is empty")
        ranges = [a for a in alpha if _is_range(a)]
        if len(ranges) > 1:
            raise ValueError(
                f"alpha: at most one (low, high) range among the choices, got {alpha!r}"
            )
        if ranges and not binary:
            raise ValueError(
                "alpha: a float range is only defined for binary targets (weight of the positive "
                "class); for multiclass targets search over 'balanced' and None, or fix per-class "
                "weights as a NumPy array"
            )
        betas = [_beta_range(a) for a in alpha if _is_effective_number(a)]
        if any(b is None for b in betas) or len(betas) > 1:
            raise ValueError(
                "alpha: among the choices, ('effective_number', beta) takes a beta range, "
                f"e.g. ('effective_number', (0.9, 0.9999)), at most once; got {alpha!r}"
            )
        choices = []
        for a in alpha:
            if _is_range(a) or _is_effective_number(a):
                continue
            if isinstance(a, (list, tuple, np.ndarray)):
                raise ValueError(
                    f"alpha: choice {a!r} is neither a (low, high) range nor a scalar; per-class "
                    "weight vectors cannot be searched, fix them with alpha=np.array([...])"
                )
            FocalSpec.create(alpha=a, n_classes=n_classes, binary=binary)  # validates
            choices.append(float(a) if isinstance(a, numbers.Real) else a)
        if len(set(map(repr, choices))) != len(choices):
            raise ValueError(f"alpha: duplicate choices in {alpha!r}")
        space = _AlphaSpace(choices=tuple(choices))
        if betas and betas[0] is not None:
            beta_low, beta_high, beta_log = betas[0]
            space = replace(space, beta_low=beta_low, beta_high=beta_high, beta_log=beta_log)
        if ranges:
            low, high, log = _check_range("alpha", ranges[0], low_bound=0.0, high_bound=1.0)
            space = replace(space, low=low, high=high, log=log)
        return space
    optuna_dist = _as_optuna_distribution(alpha)
    if optuna_dist is not None:
        return _alpha_space(_distribution_to_spec("alpha", optuna_dist), binary=binary)
    if isinstance(alpha, tuple):
        raise ValueError(f"alpha: a range must be (low, high) or (low, high, 'log'), got {alpha!r}")
    if isinstance(alpha, np.ndarray):
        alpha = alpha.tolist()
        if binary and len(alpha) != 2 or not binary and len(alpha) < 2:
            raise ValueError(f"alpha: fixed weights need one per class, got {alpha!r}")
        FocalSpec.create(alpha=alpha, n_classes=len(alpha), binary=binary)  # validates
        return _AlphaSpace(fixed=alpha, is_fixed=True)
    FocalSpec.create(alpha=alpha, n_classes=n_classes, binary=binary)  # validates
    return _AlphaSpace(fixed=alpha, is_fixed=True)


def _as_optuna_distribution(spec: Any) -> Any:
    """Return ``spec`` if it is an Optuna distribution (without importing Optuna for others)."""
    module = type(spec).__module__
    if module.startswith("optuna.distributions"):
        return spec
    return None


def _distribution_to_spec(name: str, dist: Any) -> Any:
    """Turn an Optuna distribution into the tuple / list spec used everywhere else."""
    optuna = _import_optuna()
    d = optuna.distributions
    if isinstance(dist, (d.FloatDistribution, d.IntDistribution)):
        if dist.step not in (None, 1) and not (
            isinstance(dist, d.IntDistribution) and dist.step == 1
        ):
            raise ValueError(f"{name}: stepped distributions are not supported, got {dist!r}")
        return (dist.low, dist.high, "log") if dist.log else (dist.low, dist.high)
    if isinstance(dist, d.CategoricalDistribution):
        return list(dist.choices)
    raise TypeError(f"{name}: unsupported Optuna distribution {dist!r}")


def _suggest(trial: optuna.Trial, name: str, spec: Any) -> Any:
    """Sample one booster parameter from a normalised spec (range tuple or choice list)."""
    if isinstance(spec, list):
        return trial.suggest_categorical(name, spec)
    low, high, *rest = spec
    log = bool(rest)
    if isinstance(low, numbers.Integral) and isinstance(high, numbers.Integral):
        return trial.suggest_int(name, int(low), int(high), log=log)
    return trial.suggest_float(name, float(low), float(high), log=log)


def _gamma_space(gamma: Any) -> Any:
    """A float (fixed) or a normalised spec: ``(low, high[, 'log'])`` or a list of choices."""
    dist = _as_optuna_distribution(gamma)
    if dist is not None:
        gamma = _distribution_to_spec("gamma", dist)
    if _is_range(gamma):
        low, high, log = _check_range("gamma", gamma, low_bound=0.0)
        return (float(low), float(high), "log") if log else (float(low), float(high))
    if isinstance(gamma, tuple):
        raise ValueError(f"gamma: a range must be (low, high) or (low, high, 'log'), got {gamma!r}")
    if isinstance(gamma, list):
        if not gamma:
            raise ValueError("gamma: the list of choices is empty")
        return [FocalSpec.create(gamma=g).gamma for g in gamma]
    return FocalSpec.create(gamma=gamma).gamma


def _booster_space(params: Mapping[str, Any] | None, valid_names: Sequence[str],
                   backend: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``params`` into searched specs and fixed values, checking names and ranges."""
    if params is None:
        return {}, {}
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict of parameter name -> range/choices/value, "
                        f"got {type(params).__name__}")
    searched: dict[str, Any] = {}
    fixed: dict[str, Any] = {}
    for name, spec in params.items():
        if name in _RESERVED:
            raise ValueError(
                f"params[{name!r}]: set {name} through tune_focal's own argument "
                f"({'scoring / early_stopping_metric' if name == 'eval_metric' else name})"
            )
        if name not in valid_names:
            raise ValueError(
                f"params: unknown parameter {name!r} for the {backend} estimator; "
                f"valid names: {sorted(set(valid_names) - set(_RESERVED))}"
            )
        dist = _as_optuna_distribution(spec)
        if dist is not None:
            spec = _distribution_to_spec(name, dist)
        if _is_range(spec):
            _check_range(f"params[{name!r}]", spec)
            searched[name] = tuple(spec)
        elif isinstance(spec, tuple):
            raise ValueError(
                f"params[{name!r}]: a range must be (low, high) or (low, high, 'log'), got {spec!r}"
            )
        elif isinstance(spec, list):
            if not spec:
                raise ValueError(f"params[{name!r}]: the list of choices is empty")
            searched[name] = list(spec)
        else:
            fixed[name] = spec
    return searched, fixed


# ----------------------------------------------------------------------------- checks
def _targets(y: Any) -> np.ndarray:
    """``y`` as an array: 1-D class labels, or a 2-D multi-label 0/1 indicator matrix."""
    if hasattr(y, "toarray"):  # a sparse indicator matrix
        y = y.toarray()
    y_array = np.asarray(y)
    if y_array.ndim == 2:
        from .multilabel import _as_float_labels

        return _as_float_labels(y_array)
    if y_array.ndim != 1:
        raise ValueError(
            f"y must be 1-D (n_samples,) class labels or a 2-D (n_samples, n_labels) 0/1 "
            f"indicator matrix (multi-label), got shape {y_array.shape}"
        )
    return y_array


def _estimator_class(backend: Any, *, multilabel: bool = False) -> type:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    from . import sklearn as gb_sklearn

    if multilabel:
        from .multilabel import FocalMultiLabelClassifier

        return FocalMultiLabelClassifier
    if backend == "lightgbm":
        return gb_sklearn.FocalLGBMClassifier
    return gb_sklearn.FocalXGBClassifier


def _resolve_scoring(scoring: Any, early_stopping_metric: Any) -> tuple[Callable, str, str]:
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
    if metric not in _EVAL_METRICS:
        raise ValueError(
            f"early_stopping_metric must be one of {_EVAL_METRICS} or None, got {metric!r}"
        )
    return scorer, name, metric


@overload
def _check_positive_int(value: Any, name: str, *, minimum: int = 1,
                        allow_none: Literal[False] = False) -> int: ...
@overload
def _check_positive_int(value: Any, name: str, *, minimum: int = 1,
                        allow_none: bool) -> int | None: ...
def _check_positive_int(value: Any, name: str, *, minimum: int = 1,
                        allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_class_counts(y: np.ndarray, cv: int, validation_fraction: float | None) -> np.ndarray:
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


def _fingerprint(X: Any, y: Any, sample_weight: Any) -> str:
    """A hash of the data a study was run on, saved to refuse resuming on other data."""
    import joblib

    return joblib.hash((_data_key(X), y, sample_weight))


def _is_dataframe(X: Any) -> bool:
    return type(X).__module__.startswith("pandas") and hasattr(X, "iloc") and hasattr(X, "columns")


def _data_key(X: Any) -> Any:
    """What identifies ``X``: arrays as they are; a DataFrame column by column.

    A DataFrame's pickle (what joblib.hash would read) depends on how pandas happens to
    store its blocks, so equal frames built differently would not resume. Per column: the
    name, the dtype and the values, for a ``category`` column its categories, order flag and
    codes. The row index is left out: the folds use positions.
    """
    if not _is_dataframe(X):
        return X  # unchanged, so that studies saved for arrays still resume
    columns = []
    for position, name in enumerate(X.columns):
        column = X.iloc[:, position]
        dtype = column.dtype
        if str(dtype) == "category":
            values: Any = (column.cat.categories.tolist(), bool(dtype.ordered),
                           column.cat.codes.to_numpy())
        else:
            values = column.to_numpy()
        columns.append((str(name), str(dtype), values))
    return ("DataFrame", tuple(X.shape), columns)


def _rows(X: Any, index: np.ndarray) -> Any:
    """Rows of ``X`` by position, keeping a DataFrame's column dtypes (``category`` too)."""
    if _is_dataframe(X):
        return X.iloc[index]
    from sklearn.utils import _safe_indexing

    return _safe_indexing(X, index)


def _resolve_pos_label(classes: np.ndarray, pos_label: Any, *, binary: bool) -> tuple[Any, bool]:
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


def _fold_alpha(alpha: Any, swapped: bool) -> Any:
    """Per-class weights given in sorted-label order -> the order of the fold class indices."""
    if swapped and isinstance(alpha, list) and not _is_effective_number(alpha):
        return alpha[::-1]
    return alpha


def _label_alpha(alpha: Any, swapped: bool) -> Any:
    """``alpha`` as the folds used it (float = weight of index 1 = pos_label) -> as the
    estimators read it on the original labels (float = weight of ``classes_[1]``)."""
    if not swapped or _is_effective_number(alpha):  # class-balanced weights follow the classes
        return alpha
    if isinstance(alpha, list):
        return alpha[::-1]
    if isinstance(alpha, numbers.Real):
        # pos_label is classes_[0]: its weight goes first. A vector rather than 1 - alpha, so
        # that a reported float always means the weight of the larger label for the estimator
        # and never silently the opposite of the tuning's own alpha
        return [float(alpha), 1.0 - float(alpha)]
    return alpha


# ----------------------------------------------------------- the search definition
# Booster parameters that change how fast a model trains or what it reports, not the model:
# a resumed study may change them.
_RUNTIME_PARAMS = ("n_jobs", "verbose", "importance_type")


def _canonical(value: Any) -> Any:
    """A JSON-able form of a parameter value, equal for equal values after a storage trip."""
    if isinstance(value, np.ndarray):
        return [_canonical(item) for item in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _canonical(item) for k, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    # an object's repr often holds its address: the qualified name is what stays the same
    return getattr(value, "__qualname__", None) or repr(value)


def _spec_record(spec: Any) -> dict[str, Any]:
    """Record of one normalised spec: a range, a list of choices or a fixed value.

    Tagged, because in JSON a range ``(0, 5)`` and the choices ``[0, 5]`` look the same.
    """
    if _is_range(spec):
        low, high, *rest = spec
        integer = isinstance(low, numbers.Integral) and isinstance(high, numbers.Integral)
        return {"range": [_canonical(low), _canonical(high)], "log": bool(rest), "int": integer}
    if isinstance(spec, list):
        return {"choices": _canonical(spec)}
    return {"fixed": _canonical(spec)}


def _alpha_record(space: _AlphaSpace) -> dict[str, Any]:
    if space.is_fixed:
        return {"fixed": _canonical(space.fixed)}
    span = None if space.low is None else [space.low, space.high]
    record = {"choices": _canonical(list(space.choices)), "range": span, "log": space.log}
    if space.beta_low is not None:
        record["beta"] = [space.beta_low, space.beta_high, space.beta_log]
    return record


def _search_definition(*, backend: str, scoring: str, cv: int, early_stopping_rounds: int | None,
                       early_stopping_metric: str, validation_fraction: float | None,
                       pos_label: Any, data: str, alpha_space: _AlphaSpace, gamma_space: Any,
                       searched: Mapping[str, Any], fixed: Mapping[str, Any]) -> dict[str, Any]:
    """Everything that makes two trials' scores comparable, as saved in the study."""
    params = {name: _spec_record(spec) for name, spec in searched.items()}
    params.update({
        name: _spec_record(value) for name, value in fixed.items() if name not in _RUNTIME_PARAMS
    })
    definition = {
        "backend": backend, "scoring": scoring, "cv": cv,
        "early_stopping_rounds": early_stopping_rounds,
        "early_stopping_metric": early_stopping_metric,
        "validation_fraction": validation_fraction, "pos_label": _canonical(pos_label),
        "data": data, "alpha": _alpha_record(alpha_space), "gamma": _spec_record(gamma_space),
        "params": params,
    }
    # what a storage returns: tuples as lists, dict keys as strings
    return json.loads(json.dumps(definition))


_NOT_RECORDED = object()


def _show(record: Any) -> str:
    """A saved or new setting, for the resume error message."""
    if record is _NOT_RECORDED:
        return "(not recorded)"
    if isinstance(record, dict) and "fixed" in record:
        return repr(record["fixed"])
    if isinstance(record, dict) and "choices" in record:
        text = f"choices {record['choices']!r}"
        if record.get("range") is not None:
            text += f" + range {tuple(record['range'])}" + (" log" if record.get("log") else "")
        return text
    if isinstance(record, dict) and "range" in record:
        kind = "int " if record.get("int") else ""
        return f"{kind}range {tuple(record['range'])}" + (" log" if record.get("log") else "")
    return repr(record)


def _definition_changes(saved: Mapping[str, Any],
                        definition: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(name, saved, new)`` for every setting of ``definition`` that ``saved`` differs in."""
    changes = []
    for key, new in definition.items():
        if key == "params":
            continue
        old = saved.get(key, _NOT_RECORDED)
        if old != new:
            changes.append((key, old, new))
    old_params = saved.get("params")
    if not isinstance(old_params, Mapping):
        changes.append(("params", _NOT_RECORDED, definition["params"]))
        return changes
    new_params = definition["params"]
    for name in sorted(set(old_params) | set(new_params)):
        old = old_params.get(name, _NOT_RECORDED)
        new = new_params.get(name, _NOT_RECORDED)
        if old != new:
            changes.append((f"params[{name!r}]", old, new))
    return changes


def _prepare_study(optuna: Any, study: Any, storage: Any, study_name: Any, random_state: Any,
                   definition: dict[str, Any]) -> tuple[Any, int]:
    """Create or load the study; refuse to resume one whose trials are not comparable."""
    if study is None:
        if storage is not None and study_name is None:
            study_name = "gbfocal"
        sampler = optuna.samplers.TPESampler(seed=random_state)
        # Prune only clearly bad trials. In a maximised study PercentilePruner(p) stops a trial
        # whose best running score is below the (100 - p)-th percentile of the completed
        # trials at that fold, i.e. it keeps the top p percent: 75 stops the bottom quarter.
        # Folds are few and noisy, so never on the first fold (warmup) and only once 10
        # trials (TPE's random start-up) have completed.
        pruner = optuna.pruners.PercentilePruner(75.0, n_startup_trials=10, n_warmup_steps=1)
        study = optuna.create_study(
            storage=storage, study_name=study_name, direction="maximize", sampler=sampler,
            pruner=pruner, load_if_exists=storage is not None,
        )
    elif storage is not None or study_name is not None:
        raise ValueError("pass either study or storage/study_name, not both")
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise ValueError("study must be created with direction='maximize' (scores are maximised)")
    saved = study.user_attrs.get(_SETTINGS_ATTR)
    if saved is None:
        seed = random_state if random_state is not None else int(
            np.random.SeedSequence().generate_state(1)[0] % (2**31 - 1)
        )
        study.set_user_attr(_SETTINGS_ATTR, {**definition, "fold_seed": seed})
        return study, seed
    changes = _definition_changes(saved, definition)
    if random_state is not None and saved["fold_seed"] != random_state:
        changes.append(("random_state", saved["fold_seed"], random_state))
    if changes:
        details = "; ".join(
            f"{name}: saved {_show(old)}, now {_show(new)}" for name, old, new in changes
        )
        raise ValueError(
            f"the study {study.study_name!r} was run with different "
            f"{', '.join(name for name, _, _ in changes)} ({details}); its trials are not "
            "comparable with this search (their scores or best_params would describe other "
            "models). Use a new study_name, or the same data and settings to resume."
        )
    return study, int(saved["fold_seed"])


# ------------------------------------------------------------------------ the search
@dataclass
class _Objective:
    """The Optuna objective: mean score of stratified CV, reported fold by fold for pruning.

    Labels are fold class indices: 0..K-1 in sorted order, except that for binary targets
    index 1 is always ``pos_label``. ``alpha_space`` is in that index order too.
    """

    estimator_class: type
    X: Any
    y: np.ndarray
    sample_weight: np.ndarray | None
    splits: list[tuple[np.ndarray, np.ndarray | None, np.ndarray]]
    alpha_space: _AlphaSpace
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
            _suggest(trial, "gamma", self.gamma_space)
            if isinstance(self.gamma_space, (tuple, list)) else self.gamma_space
        )
        for name, spec in self.searched.items():
            params[name] = _suggest(trial, name, spec)
        return params

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

    def fit_fold(self, params: dict[str, Any], fold: int, fit_idx: np.ndarray,
                 val_idx: np.ndarray | None) -> Any:
        from ._folds import FoldData, fold_estimator_class

        w = self.sample_weight
        estimator = self.make_estimator(
            params, early_stopping=val_idx is not None,
            estimator_class=fold_estimator_class(self.estimator_class))
        if self.fold_data is None:
            self.fold_data = FoldData()
        # attributes, not parameters: clone() and get_params() never see them
        estimator.fold_data, estimator.fold = self.fold_data, fold
        estimator.init_score_apart = self.named_scorer
        fit_kwargs: dict[str, Any] = {}
        if w is not None:
            fit_kwargs["sample_weight"] = w[fit_idx]
        if val_idx is not None:
            fit_kwargs["eval_set"] = [(_rows(self.X, val_idx), self.y[val_idx])]
            if w is not None:
                fit_kwargs["eval_sample_weight"] = [w[val_idx]]
        return estimator.fit(_rows(self.X, fit_idx), self.y[fit_idx], **fit_kwargs)

    def score(self, estimator: Any, test_idx: np.ndarray) -> float:
        w = self.sample_weight
        kwargs = {} if w is None else {"sample_weight": w[test_idx]}
        X_test = _rows(self.X, test_idx)
        value = float(self.scorer(estimator, X_test, self.y[test_idx], **kwargs))
        if not math.isfinite(value):
            raise ValueError(f"the scorer returned {value!r} on a test fold")
        return value

    def fold_result(self, params: dict[str, Any], fold: int) -> tuple[float, int]:
        """Score on the test rows and early-stopping rounds of one fold's fit."""
        fit_idx, val_idx, test_idx = self.splits[fold]
        estimator = self.fit_fold(params, fold, fit_idx, val_idx)
        return self.score(estimator, test_idx), _rounds_used(estimator)

    def without_fold_data(self) -> _Objective:
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


def _check_n_jobs(n_jobs: Any) -> int:
    """Parallel trials: a positive int, or -1 for one per available core."""
    from ._parallel import available_cpus

    if isinstance(n_jobs, numbers.Integral) and not isinstance(n_jobs, bool) and n_jobs == -1:
        return available_cpus()
    return _check_positive_int(n_jobs, "n_jobs (parallel trials; or -1)")


def _thread_budget(n_parallel: int, fixed: Mapping[str, Any],
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
    from ._base import _n_threads
    from ._parallel import available_cpus

    if "n_jobs" in searched:
        raise ValueError("params['n_jobs'] (booster threads) cannot be searched: it changes the "
                         "speed, not the model; fix it or leave it to tune_focal's n_jobs")
    if "n_jobs" not in fixed:
        return 1
    cores = available_cpus()
    booster = _n_threads(fixed["n_jobs"])
    if booster is not None and booster * n_parallel > cores:
        raise ValueError(
            f"params['n_jobs']={fixed['n_jobs']!r} booster threads times n_jobs={n_parallel} "
            f"parallel trials is {booster * n_parallel} threads on {cores} available cores: "
            "oversubscribed boosters run many times slower. Lower one of them, or leave "
            "params['n_jobs'] unset (one thread per fit, the cores go to parallel trials)"
        )
    return None


@contextlib.contextmanager
def _fold_runner(objective: _Objective, n_parallel: int, fit_threads: int | None,
                 fixed: Mapping[str, Any]) -> Iterator[None]:
    """Parallel trials fit their folds on ``n_parallel - 1`` worker processes and here.

    Threads alone are slowed by the boosting rounds' Python, which holds the GIL
    (gbfocal._trial_workers). The workers' environment gets the same thread budget.
    """
    if n_parallel == 1:
        yield
        return
    from ._base import _n_threads
    from ._trial_workers import FoldRunner

    threads = fit_threads if fit_threads is not None else _n_threads(fixed.get("n_jobs"))
    with FoldRunner(objective, n_parallel - 1, threads) as runner:
        objective.run_fold = runner
        try:
            yield
        finally:
            objective.run_fold = None


def _rounds_used(estimator: Any) -> int:
    """Boosting rounds the fitted estimator predicts with (its early-stopping best)."""
    # gbfocal's ``best_iteration_`` counts rounds from 1 (all rounds without early stopping);
    # the multi-label estimator's is one count per label: their mean, as one n_estimators
    return int(round(float(np.mean(estimator.best_iteration_))))


def _jsonable(value: Any) -> Any:
    return value.tolist() if isinstance(value, np.ndarray) else value


def _make_splits(y: np.ndarray, cv: int, validation_fraction: float | None,
                 seed: int) -> list[tuple[np.ndarray, np.ndarray | None, np.ndarray]]:
    """Outer stratified folds and, inside each training fold, a stratified early-stopping split.

    Computed once, so every trial sees exactly the same rows.
    """
    from sklearn.model_selection import StratifiedKFold, train_test_split

    splits: list[tuple[np.ndarray, np.ndarray | None, np.ndarray]] = []
    outer = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    for train_idx, test_idx in outer.split(np.zeros(len(y)), y):
        if validation_fraction is None:
            splits.append((train_idx, None, test_idx))
            continue
        fit_idx, val_idx = train_test_split(
            train_idx, test_size=validation_fraction, stratify=y[train_idx], random_state=seed
        )
        splits.append((np.sort(fit_idx), np.sort(val_idx), test_idx))
    return splits


def tune_focal(
    X: Any,
    y: Any,
    *,
    backend: str = "lightgbm",
    n_trials: int | None = 50,
    cv: int = 5,
    scoring: str | Callable = "average_precision",
    pos_label: Any = None,
    alpha: Any = "auto",
    gamma: Any = (0.0, 5.0),
    params: Mapping[str, Any] | None = None,
    sample_weight: Any = None,
    early_stopping_rounds: int | None = 50,
    early_stopping_metric: str | None = None,
    validation_fraction: float = 0.2,
    timeout: float | None = None,
    random_state: int | None = None,
    study: optuna.Study | None = None,
    storage: str | Any = None,
    study_name: str | None = None,
    refit: bool = True,
    baseline: bool = True,
    n_jobs: int = 1,
    show_progress_bar: bool = True,
) -> TuningResult:
    """Tune the focal-loss ``alpha`` and ``gamma`` (and booster parameters) with Optuna.

    Every trial trains one focal-loss estimator per stratified CV fold, early-stops it on a
    stratified validation split of the training fold, and scores it on the held-out fold with
    a score that does not depend on ``gamma``. The folds are drawn once: every trial sees
    exactly the same rows. The plain log-loss model is then scored on the same folds, so that
    the gain of the focal loss can be read fold by fold.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_samples, n_features)
        Features. A pandas DataFrame is passed to the estimators as it is, never converted
        to float: its ``category`` columns reach LightGBM as categorical features and
        XGBoost with ``enable_categorical``. The folds take its rows by position
        (``.iloc``), whatever its index.
    y : array-like of shape (n_samples,) or (n_samples, n_labels)
        Class labels (binary or multiclass, any label type), or a multi-label 0/1 indicator
        matrix (dense, sparse or bool; unknown entries marked with
        ``params["missing_label"]``, default -1): then the estimator is
        :class:`~gbfocal.FocalMultiLabelClassifier` with ``backend``, the folds are
        shuffled ``KFold`` splits (every label must keep positive and negative known rows
        in every part, else ValueError), ``scoring`` is one of "average_precision",
        "roc_auc", "neg_log_loss" (macro averages over the labels of the per-label score on
        their known rows) or a callable ``scorer(estimator, X, Y)``, a float ``alpha`` is
        the positives' weight of every label, and ``best_params["n_estimators"]`` is the
        mean over folds and labels of the early-stopped rounds.
    backend : {"lightgbm", "xgboost"}, default="lightgbm"
        :class:`~gbfocal.FocalLGBMClassifier` or :class:`~gbfocal.FocalXGBClassifier`.
    n_trials : int or None, default=50
        Number of trials to run now (added to those already in a resumed study). ``None``
        runs until ``timeout``.
    cv : int, default=5
        Number of stratified folds (>= 2).
    scoring : str or callable, default="average_precision"
        A scikit-learn scorer name ("average_precision", "roc_auc", "neg_log_loss", "f1", ...)
        or a callable ``scorer(estimator, X, y[, sample_weight=])``; higher is better.
        Inside the folds labels are class indices: for binary targets 1 is ``pos_label``
        and 0 the other label, for multiclass targets 0..K-1 in sorted label order.
        ``"focal_loss"`` is rejected: its values are not comparable across ``gamma``.
    pos_label : label, optional
        Binary targets only: the class that scorers with a positive class (average
        precision, f1, ...) score, and whose weight a float ``alpha`` is. Default: the larger
        label (scikit-learn's ``classes_[1]``), e.g. ``"yes"`` of ``"no"``/``"yes"`` but
        ``"legit"`` of ``"fraud"``/``"legit"``: pass ``pos_label="fraud"`` there.
    alpha : "auto", value, (low, high), list or optuna distribution, default="auto"
        The alpha search space:

        * ``"auto"``: binary targets search ``[(0.05, 0.95), "balanced", None]``, multiclass
          targets ``["balanced", None]``;
        * ``(low, high)`` or ``(low, high, "log")``: a float range inside [0, 1] (binary);
        * a list of choices, each ``"balanced"``, ``None``, a float, or at most one
          ``(low, high)`` range: a categorical trial parameter ``alpha_choice`` picks one and,
          for the range, the float trial parameter ``alpha`` is sampled;
        * ``None``, ``"balanced"``, a float or a NumPy array of per-class weights (in sorted
          label order): fixed;
        * an ``optuna.distributions`` Float- or CategoricalDistribution.

        A float alpha is the weight of ``pos_label`` (the other class gets ``1 - alpha``),
        for any label type. The estimators weight their ``classes_[1]`` by a float alpha, so
        when ``pos_label`` is the smaller label the folds train on labels where it is class 1,
        and ``best_params`` reports the float as the vector ``[alpha, 1 - alpha]`` (weights in
        sorted label order), which the estimators read the same way on the original labels;
        the trial parameter ``alpha`` keeps the weight of ``pos_label``.
    gamma : (low, high), float, list or optuna distribution, default=(0.0, 5.0)
        The gamma search space: a range (``(low, high, "log")`` needs ``low > 0``), a fixed
        float, or a list of choices.
    params : dict, optional
        Booster parameters of the estimator. A value ``(low, high)`` or ``(low, high, "log")``
        is searched (integers when both bounds are ints), a list is a categorical choice, an
        ``optuna.distributions`` object is used as is, anything else is fixed. Example:
        ``{"learning_rate": (0.01, 0.3, "log"), "num_leaves": (8, 64), "n_estimators": 500}``.
        ``n_estimators`` (fixed or searched) is the most rounds a fold may use before early
        stopping; ``best_params["n_estimators"]`` is the rounds early stopping kept.
    sample_weight : array-like of shape (n_samples,), optional
        Used for training, early stopping and scoring.
    early_stopping_rounds : int or None, default=50
        Stop a fold when the validation score has not improved for this many rounds. ``None``
        trains every fold for ``n_estimators`` rounds (no validation split).
    early_stopping_metric : {"average_precision", "roc_auc", "log_loss", "focal_loss"}, optional
        Validation metric for early stopping. Default: the one matching ``scoring``
        (``average_precision`` for scorers without a counterpart). Not log loss by default:
        focal loss worsens log loss by design, so stopping on it cuts focal models short.
    validation_fraction : float, default=0.2
        Share of each training fold held out for early stopping.
    timeout : float, optional
        Stop starting new trials after this many seconds.
    random_state : int, optional
        Seeds the folds, the TPE sampler and the boosters: the same value gives the same
        best parameters (trials run one at a time). ``None`` draws a seed for the folds once
        (saved in the study, so a resumed study keeps its folds).
    study : optuna.Study, optional
        An existing study (``direction="maximize"``) to continue, e.g. with your own sampler
        or pruner. Default: a new study with ``TPESampler(seed=random_state)`` and
        ``PercentilePruner(75, n_startup_trials=10, n_warmup_steps=1)``, which stops only
        clearly bad trials: once 10 trials have completed, a trial whose best running mean
        score so far is in the bottom quarter of the completed trials at the same fold is
        stopped, from the second fold on and never after the last one (with ``cv=2`` no
        trial is pruned). Note that Optuna's ``PercentilePruner(p)`` in a maximised study
        *keeps* the top ``p`` percent.
    storage : str or optuna storage, optional
        E.g. ``"sqlite:///tuning.db"``; the study is created or, when it exists, resumed.
    study_name : str, optional
        Name of the study in ``storage`` (default ``"gbfocal"`` when a storage is given).
    refit : bool, default=True
        Refit ``best_estimator`` on all data with the best parameters and rounds.
    baseline : bool, default=True
        Also cross-validate the plain log-loss model (``gamma=0``, ``alpha=None``) with the
        best trial's booster parameters (the same ``n_estimators`` cap and early stopping) on
        the same folds: ``baseline_score``, ``baseline_fold_scores`` and the paired
        ``fold_differences`` of the result. Costs ``cv`` more fits.
    n_jobs : int, default=1
        Trials run at once (-1: one per core this process may use, its CPU affinity).
        Optuna runs them in threads of this process (sampling, pruning and the study stay
        here); one fold fit at a time runs here, the others on ``n_jobs - 1`` worker
        processes (joblib's loky), because the boosting rounds' Python holds the GIL and
        threads alone queue behind it. X, y, sample_weight and the scorer are pickled once
        per search (cloudpickle: a lambda scorer works); the workers stay for 5 minutes
        after a search so that the next one skips their start-up (about 2 s of imports),
        or until :func:`shutdown_workers`. Unless ``params`` fixes ``n_jobs`` (the
        booster's threads), every fit (folds, refit, and the workers' fits) runs its booster
        and gbfocal's gradient code on one thread, so the threads in use never outnumber
        the cores: OpenMP boosters that share cores spin-wait instead of working (on a
        shared 2-core machine one LightGBM fit with 2 threads took 2-3x to 40-60x the
        time of 1 thread while other work ran). A fixed ``params["n_jobs"]`` times
        ``n_jobs`` above the cores is refused. Speed-ups measured in
        ``benchmarks/tuning_speed.md``.
    show_progress_bar : bool, default=True
        Optuna's tqdm progress bar.

    Returns
    -------
    TuningResult
        ``best_params``, ``best_score``, ``study``, ``best_estimator``, ``pos_label``, the
        best trial's ``best_fold_scores`` and the baseline fields.

    Raises
    ------
    ValueError
        Unknown backend, scoring or ``pos_label``, ``scoring="focal_loss"``, bad ranges, a
        class with too few samples for the folds, or a resumed study whose saved search
        differs (the message names each changed setting, saved and new value).
    ImportError
        Optuna (``pip install gbfocal[tune]``) or the backend library is missing.

    Notes
    -----
    The refit model uses ``n_estimators`` = the mean early-stopping rounds of the best
    trial's folds, trained on all rows (without early stopping).

    A study saves its whole search definition in its user attribute ``gbfocal_settings``:
    backend, scoring, cv, early-stopping rounds, metric and validation fraction,
    ``pos_label``, a fingerprint of ``X``, ``y`` and ``sample_weight`` (of a DataFrame: its
    column names, dtypes and values, for ``category`` columns the categories and codes, not
    its index), the alpha and gamma spaces and every searched range or fixed value of
    ``params``, plus the fold seed.
    Resuming with any of them changed raises ``ValueError``: old trials would be scored on
    other folds or labels, or ``best_params`` would describe a model that was never trained.
    Only ``n_jobs``, ``verbose`` and ``importance_type`` may change.

    Reproducibility: with ``n_jobs=1``, the same ``random_state`` gives the same trials,
    scores and ``best_params`` (tested; a fixed ``params["n_jobs"]`` keeps it so only
    where the library trains the same trees on that many threads). With ``n_jobs > 1`` the
    folds and the score
    of given parameters stay the same, but which parameters the sampler proposes depends
    on the order in which parallel trials finish (Optuna's ``TPESampler`` is reproducible
    only sequentially), so the trials and the best parameters may differ between runs.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from gbfocal.tuning import tune_focal
    >>> X, y = make_classification(n_samples=200, weights=[0.8], random_state=0)
    >>> result = tune_focal(X, y, n_trials=2, cv=2, random_state=0, show_progress_bar=False,
    ...                     params={"n_estimators": 20, "n_jobs": 1})
    >>> sorted(result.best_params)
    ['alpha', 'gamma', 'n_estimators', 'n_jobs']
    >>> len(result.fold_differences)
    2
    """
    optuna = _import_optuna()
    y_array = _targets(y)
    multilabel = y_array.ndim == 2
    estimator_class = _estimator_class(backend, multilabel=multilabel)
    scorer, scoring_name, es_metric = (
        _multilabel.resolve_scoring(scoring, early_stopping_metric, _EVAL_METRICS) if multilabel
        else _resolve_scoring(scoring, early_stopping_metric))
    n_trials = _check_positive_int(n_trials, "n_trials", allow_none=True)
    if n_trials is None and timeout is None:
        raise ValueError("n_trials=None needs a timeout, otherwise the search never ends")
    if timeout is not None and (not isinstance(timeout, numbers.Real) or not timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    cv = _check_positive_int(cv, "cv", minimum=2)
    early_stopping_rounds = _check_positive_int(
        early_stopping_rounds, "early_stopping_rounds", allow_none=True
    )
    if isinstance(validation_fraction, bool) or not isinstance(validation_fraction, numbers.Real) \
            or not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must lie in (0, 1), got {validation_fraction!r}")
    if random_state is not None:
        random_state = _check_positive_int(random_state, "random_state", minimum=0)
    n_parallel = _check_n_jobs(n_jobs)

    n_samples = y_array.shape[0]
    if not hasattr(X, "shape") or len(X.shape) != 2:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] != n_samples:
        raise ValueError(f"X has {X.shape[0]} rows but y has {n_samples} labels")
    weights = v.check_sample_weight(sample_weight, n_samples)
    val_fraction = None if early_stopping_rounds is None else float(validation_fraction)
    if multilabel:
        if pos_label is not None:
            raise ValueError(f"pos_label={pos_label!r} is only defined for binary targets; y is "
                             "multi-label (n_samples, n_labels): every label's positive class is 1")
        known = _multilabel.known_mask(y_array, (params or {}).get("missing_label", -1))
        _multilabel.check_label_counts(y_array, known, cv, val_fraction)
        binary, swapped = True, False  # every label is binary: a float alpha is allowed
    else:
        classes = _check_class_counts(y_array, cv, val_fraction)
        binary = classes.size == 2
        pos_label, swapped = _resolve_pos_label(classes, pos_label, binary=binary)

    alpha_space = _alpha_space(alpha, binary=binary)
    gamma_space = _gamma_space(gamma)
    valid_names = list(estimator_class().get_params())
    searched, fixed = _booster_space(params, valid_names, backend)
    if multilabel:
        fixed["backend"] = backend  # one estimator class for both libraries
    fit_threads = _thread_budget(n_parallel, fixed, searched)

    definition = _search_definition(
        backend=backend, scoring=scoring_name, cv=cv, early_stopping_rounds=early_stopping_rounds,
        early_stopping_metric=es_metric, validation_fraction=val_fraction, pos_label=pos_label,
        data=_fingerprint(X, y_array, weights), alpha_space=alpha_space, gamma_space=gamma_space,
        searched=searched, fixed=fixed,
    )
    study, seed = _prepare_study(optuna, study, storage, study_name, random_state, definition)
    # Folds train and score on class indices so that scorers with a positive class
    # (average_precision, f1, ...) score pos_label (index 1) for any label type, and a float
    # alpha weights it; best_estimator is refit on the original labels.
    if multilabel:
        y_index = y_array
        splits = _multilabel.make_splits(y_array, known, cv, val_fraction, seed)
    else:
        y_index = np.searchsorted(classes, y_array)
        if swapped:
            y_index = 1 - y_index
        splits = _make_splits(y_array, cv, val_fraction, seed)
    if alpha_space.is_fixed:
        alpha_space = replace(alpha_space, fixed=_fold_alpha(alpha_space.fixed, swapped))
    objective = _Objective(
        estimator_class=estimator_class, X=X, y=y_index, sample_weight=weights,
        splits=splits,
        alpha_space=alpha_space, gamma_space=gamma_space, searched=searched, fixed=fixed,
        scorer=scorer,
        early_stopping_metric=es_metric, early_stopping_rounds=early_stopping_rounds,
        random_state=seed, named_scorer=isinstance(scoring, str), threads=fit_threads,
    )
    with _fold_runner(objective, n_parallel, fit_threads, fixed):
        study.optimize(objective, n_trials=n_trials, timeout=timeout, n_jobs=n_parallel,
                       show_progress_bar=show_progress_bar)

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        raise RuntimeError(
            "no trial completed (all pruned or stopped by the timeout): raise n_trials/timeout"
        )
    best = study.best_trial
    best_params = _best_params(best, objective, swapped)
    best_folds = best.user_attrs.get("fold_scores")
    best_folds = None if best_folds is None else [float(s) for s in best_folds]
    baseline_folds = differences = None
    if baseline:
        # the best trial's booster, fold caps and early stopping, with the focal loss off:
        # the paired difference isolates what gamma and alpha bring
        plain = {**objective.trial_params(best), "gamma": 0.0, "alpha": None}
        if "gamma_neg" in plain or "clip" in plain:  # the asymmetric loss: back to log loss
            plain.update(gamma_neg=None, clip=0.0)
        baseline_folds, _ = objective.cross_validate(plain)
        if best_folds is not None and len(best_folds) == len(baseline_folds):
            differences = [b - p for b, p in zip(best_folds, baseline_folds, strict=True)]
    best_estimator = None
    if refit:
        estimator = objective.make_estimator(best_params, early_stopping=False)
        fit_kwargs = {} if weights is None else {"sample_weight": weights}
        best_estimator = estimator.fit(X, y_array, **fit_kwargs)
    return TuningResult(
        best_params=best_params, best_score=float(best.value), study=study,
        best_estimator=best_estimator, scoring=scoring_name, backend=backend,
        pos_label=pos_label, best_fold_scores=best_folds,
        baseline_score=None if baseline_folds is None else float(np.mean(baseline_folds)),
        baseline_fold_scores=baseline_folds, fold_differences=differences,
    )


def _best_params(trial: Any, objective: _Objective, swapped: bool) -> dict[str, Any]:
    """Estimator parameters of a finished trial, for the original labels.

    The folds' parameters with ``n_estimators`` replaced by the early-stopped rounds (also
    when ``n_estimators`` was searched: the sampled value was only the folds' cap) and
    ``alpha`` translated from the fold class order to the label order.
    """
    params = objective.trial_params(trial)
    params["n_estimators"] = int(trial.user_attrs["n_estimators"])
    params["alpha"] = _label_alpha(params["alpha"], swapped)
    # the order of the result: the focal parameters first, as documented
    first = ("alpha", "gamma", "n_estimators")
    return {
        **{name: params[name] for name in first},
        **{k: val for k, val in params.items() if k not in first},
    }
