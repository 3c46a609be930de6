"""The search space of :func:`~gbfocal.tune_focal`: alpha, gamma and booster parameters.

Every space is normalised once into a range tuple ``(low, high[, "log"])``, a list of
choices or a fixed value; :func:`suggest` samples one trial parameter from it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .._optional import import_optional
from .._spec import EFFECTIVE_NUMBER, FocalSpec

if TYPE_CHECKING:  # pragma: no cover - typing only
    import optuna

__all__ = ["ALPHA_CHOICE", "RESERVED", "AlphaSpace", "alpha_space", "booster_space",
           "fold_alpha", "gamma_space", "is_effective_number", "is_range", "label_alpha",
           "log_loss_space", "suggest"]

# Names of the trial parameters that the focal-loss search itself uses.
ALPHA_CHOICE = "alpha_choice"
_ALPHA_RANGE = "range"
# Parameters that tune_focal sets itself; users pass them as arguments instead.
RESERVED = (
    "alpha", "gamma", ALPHA_CHOICE, "early_stopping_rounds", "eval_metric", "random_state",
    "backend",  # the multi-label estimator's: tune_focal's backend argument sets it
)
# the asymmetric focal loss's own parameters, and their log-loss values
_ASYMMETRIC_OFF = {"gamma_neg": None, "clip": 0.0}


def _import_optuna() -> Any:
    return import_optional("optuna", needed_by="gbfocal.tune_focal")


@dataclass(frozen=True)
class AlphaSpace:
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
            ALPHA_CHOICE, list(options)
        )
        if choice == _ALPHA_RANGE:
            # offered only when the range is set (alpha_space sets low and high together)
            assert self.low is not None and self.high is not None
            return trial.suggest_float("alpha", self.low, self.high, log=self.log)
        if choice == EFFECTIVE_NUMBER:
            assert self.beta_low is not None and self.beta_high is not None
            beta = trial.suggest_float("beta", self.beta_low, self.beta_high, log=self.beta_log)
            return (EFFECTIVE_NUMBER, beta)
        return choice


def is_effective_number(spec: Any) -> bool:
    """``("effective_number", beta)`` or ``("effective_number", (low, high[, "log"]))``."""
    return isinstance(spec, (tuple, list)) and len(spec) == 2 and spec[0] == EFFECTIVE_NUMBER


def _beta_range(spec: Any) -> tuple[float, float, bool] | None:
    """The searched beta range of an effective-number spec, or None when beta is fixed."""
    if not is_range(spec[1]):
        return None
    return _check_range("alpha=('effective_number', beta)", tuple(spec[1]), low_bound=0.0,
                        high_bound=1.0 - 1e-12)


def is_range(spec: Any) -> bool:
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


def alpha_space(alpha: Any, *, binary: bool) -> AlphaSpace:
    if isinstance(alpha, str) and alpha == "auto":
        alpha = [(0.05, 0.95), "balanced", None] if binary else ["balanced", None]
    n_classes = 2 if binary else 3  # only used for the "float alpha is binary-only" message
    if is_range(alpha) or is_effective_number(alpha) and _beta_range(alpha) is not None:
        alpha = [alpha]
    if is_effective_number(alpha):  # a fixed beta
        FocalSpec.create(alpha=tuple(alpha), n_classes=n_classes, binary=binary)  # validates
        return AlphaSpace(fixed=(EFFECTIVE_NUMBER, float(alpha[1])), is_fixed=True)
    if isinstance(alpha, list):
        if not alpha:
            raise ValueError("alpha: the list of choices is empty")
        ranges = [a for a in alpha if is_range(a)]
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
        betas = [_beta_range(a) for a in alpha if is_effective_number(a)]
        if any(b is None for b in betas) or len(betas) > 1:
            raise ValueError(
                "alpha: among the choices, ('effective_number', beta) takes a beta range, "
                f"e.g. ('effective_number', (0.9, 0.9999)), at most once; got {alpha!r}"
            )
        choices = []
        for a in alpha:
            if is_range(a) or is_effective_number(a):
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
        space = AlphaSpace(choices=tuple(choices))
        if betas and betas[0] is not None:
            beta_low, beta_high, beta_log = betas[0]
            space = replace(space, beta_low=beta_low, beta_high=beta_high, beta_log=beta_log)
        if ranges:
            low, high, log = _check_range("alpha", ranges[0], low_bound=0.0, high_bound=1.0)
            space = replace(space, low=low, high=high, log=log)
        return space
    optuna_dist = _as_optuna_distribution(alpha)
    if optuna_dist is not None:
        return alpha_space(_distribution_to_spec("alpha", optuna_dist), binary=binary)
    if isinstance(alpha, tuple):
        raise ValueError(f"alpha: a range must be (low, high) or (low, high, 'log'), got {alpha!r}")
    if isinstance(alpha, np.ndarray):
        alpha = alpha.tolist()
        if binary and len(alpha) != 2 or not binary and len(alpha) < 2:
            raise ValueError(f"alpha: fixed weights need one per class, got {alpha!r}")
        FocalSpec.create(alpha=alpha, n_classes=len(alpha), binary=binary)  # validates
        return AlphaSpace(fixed=alpha, is_fixed=True)
    FocalSpec.create(alpha=alpha, n_classes=n_classes, binary=binary)  # validates
    return AlphaSpace(fixed=alpha, is_fixed=True)


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


def suggest(trial: optuna.Trial, name: str, spec: Any) -> Any:
    """Sample one booster parameter from a normalised spec (range tuple or choice list)."""
    if isinstance(spec, list):
        return trial.suggest_categorical(name, spec)
    low, high, *rest = spec
    log = bool(rest)
    if isinstance(low, numbers.Integral) and isinstance(high, numbers.Integral):
        return trial.suggest_int(name, int(low), int(high), log=log)
    return trial.suggest_float(name, float(low), float(high), log=log)


def gamma_space(gamma: Any) -> Any:
    """A float (fixed) or a normalised spec: ``(low, high[, 'log'])`` or a list of choices."""
    dist = _as_optuna_distribution(gamma)
    if dist is not None:
        gamma = _distribution_to_spec("gamma", dist)
    if is_range(gamma):
        low, high, log = _check_range("gamma", gamma, low_bound=0.0)
        return (float(low), float(high), "log") if log else (float(low), float(high))
    if isinstance(gamma, tuple):
        raise ValueError(f"gamma: a range must be (low, high) or (low, high, 'log'), got {gamma!r}")
    if isinstance(gamma, list):
        if not gamma:
            raise ValueError("gamma: the list of choices is empty")
        return [FocalSpec.create(gamma=g).gamma for g in gamma]
    return FocalSpec.create(gamma=gamma).gamma


def booster_space(params: Mapping[str, Any] | None, valid_names: Sequence[str],
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
        if name in RESERVED:
            raise ValueError(
                f"params[{name!r}]: set {name} through tune_focal's own argument "
                f"({'scoring / early_stopping_metric' if name == 'eval_metric' else name})"
            )
        if name not in valid_names:
            raise ValueError(
                f"params: unknown parameter {name!r} for the {backend} estimator; "
                f"valid names: {sorted(set(valid_names) - set(RESERVED))}"
            )
        dist = _as_optuna_distribution(spec)
        if dist is not None:
            spec = _distribution_to_spec(name, dist)
        if is_range(spec):
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



def fold_alpha(alpha: Any, swapped: bool) -> Any:
    """Per-class weights given in sorted-label order -> the order of the fold class indices."""
    if swapped and isinstance(alpha, list) and not is_effective_number(alpha):
        return alpha[::-1]
    return alpha


def label_alpha(alpha: Any, swapped: bool) -> Any:
    """``alpha`` as the folds used it (float = weight of index 1 = pos_label) -> as the
    estimators read it on the original labels (float = weight of ``classes_[1]``)."""
    if not swapped or is_effective_number(alpha):  # class-balanced weights follow the classes
        return alpha
    if isinstance(alpha, list):
        return alpha[::-1]
    if isinstance(alpha, numbers.Real):
        # pos_label is classes_[0]: its weight goes first. A vector rather than 1 - alpha, so
        # that a reported float always means the weight of the larger label for the estimator
        # and never silently the opposite of the tuning's own alpha
        return [float(alpha), 1.0 - float(alpha)]
    return alpha



def log_loss_space(searched: Mapping[str, Any],
                   fixed: Mapping[str, Any]) -> tuple[AlphaSpace, float, dict[str, Any],
                                                      dict[str, Any]]:
    """The log-loss arm's space: ``alpha=None``, ``gamma=0`` and the same booster space.

    Returns ``(alpha space, gamma, searched, fixed)``. A searched or fixed asymmetric loss
    (``gamma_neg``, ``clip``) is switched off too: with ``gamma = 0``, ``gamma_neg=None``
    and ``clip=0`` the loss is exactly the log loss.
    """
    plain_searched = {k: v for k, v in searched.items() if k not in _ASYMMETRIC_OFF}
    plain_fixed = dict(fixed)
    for name, value in _ASYMMETRIC_OFF.items():
        if name in searched or name in fixed:
            plain_fixed[name] = value
    return AlphaSpace(fixed=None, is_fixed=True), 0.0, plain_searched, plain_fixed
