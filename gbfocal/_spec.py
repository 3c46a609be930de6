"""The one validated description of a focal loss, and the lists that are one fact.

A :class:`FocalSpec` is built once, at the public boundary (a loss object's constructor, a
public math function, an estimator's ``fit``), by :meth:`FocalSpec.create`, which is the
only place where ``alpha``, ``gamma`` and ``hessian`` are validated. It is immutable and
passed down; the layers below read its fields and never check them again.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _validation as v

__all__ = [
    "ARRAY_BACKENDS",
    "BOOSTER_BACKENDS",
    "HESSIAN_MODES",
    "METRICS",
    "FocalSpec",
    "balanced_alpha",
    "check_metric",
]

#: Hessian modes: "positive" (the default, safe for Newton steps) and "exact".
HESSIAN_MODES: tuple[str, ...] = v.HESSIAN_MODES
#: Metric names of the adapters and estimators -> whether higher is better.
METRICS: dict[str, bool] = {
    "focal_loss": False,
    "log_loss": False,
    "roc_auc": True,
    "average_precision": True,
}
#: Boosting libraries the estimators and the tuner train with.
BOOSTER_BACKENDS: tuple[str, ...] = ("lightgbm", "xgboost")
#: Array modules of the array-generic math (gbfocal.gpu).
ARRAY_BACKENDS: tuple[str, ...] = ("cupy", "numpy")


def check_metric(metric: Any) -> str:
    """``metric`` if it is one of :data:`METRICS`, else ValueError naming it."""
    if not isinstance(metric, str) or metric not in METRICS:
        raise ValueError(f"metric must be one of {tuple(METRICS)}, got {metric!r}")
    return metric


def balanced_alpha(
    y_true: Any, n_classes: int | None = None, sample_weight: Any = None
) -> np.ndarray:
    """Per-class weights ``n / (K * n_c)`` from the labels (scikit-learn's "balanced").

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Class indices ``0..K-1`` (binary labels 0/1 included).
    n_classes : int, default=None
        Number of classes ``K``; inferred as ``max(y_true) + 1`` (at least 2) when None.
    sample_weight : array-like of shape (n_samples,), default=None
        When given, ``n`` and ``n_c`` are weighted counts.

    Returns
    -------
    alpha : ndarray of shape (n_classes,)
        ``alpha[c] = n / (K * n_c)``; the weighted mean of ``alpha[y]`` over the rows is 1.

    Raises
    ------
    ValueError
        If a class has no (weighted) samples, its weight would be infinite.

    Examples
    --------
    >>> import numpy as np
    >>> from gbfocal import balanced_alpha
    >>> y = np.repeat([0, 1, 2], [20_000, 10_000, 5_000])
    >>> balanced_alpha(y).round(4)
    array([0.5833, 1.1667, 2.3333])
    """
    y = v.as_float_array(y_true, "y_true")
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"y_true must be a non-empty 1-D array, got shape {y.shape}")
    if n_classes is None:
        if not np.isfinite(y).all() or (y < 0).any() or (y != np.round(y)).any():
            raise ValueError("y_true must hold class indices 0..K-1")
        n_classes = max(int(y.max()) + 1, 2)
    n_classes = v.check_n_classes(n_classes)
    labels = v.check_multiclass_labels(y, y.shape[0], n_classes)
    weights = v.check_sample_weight(sample_weight, y.shape[0])
    return _balanced(labels, weights, n_classes)


def _balanced(labels: np.ndarray, weight: np.ndarray | None, n_classes: int) -> np.ndarray:
    counts = np.bincount(labels, weights=weight, minlength=n_classes).astype(np.float64)
    if (counts <= 0).any():
        missing = np.flatnonzero(counts <= 0).tolist()
        raise ValueError(
            f"alpha='balanced' needs every class to be present in y_true; classes {missing} "
            f"have no samples (or zero total sample_weight)"
        )
    return counts.sum() / (n_classes * counts)


EFFECTIVE_NUMBER = "effective_number"


def effective_number_alpha(counts: np.ndarray, beta: float) -> np.ndarray:
    """Class-balanced weights (Cui et al., CVPR 2019) from (weighted) class counts.

    ``a_c ∝ (1 - beta) / (1 - beta**n_c)``, scaled like "balanced" so that
    ``sum_c n_c a_c = n``. ``beta = 0`` gives all ones; ``beta -> 1`` tends to "balanced"
    (``n / (K n_c)``). ``1 - beta**n_c`` is ``-expm1(n_c log beta)``: exact for beta near 1.

    Examples
    --------
    >>> import numpy as np
    >>> effective_number_alpha(np.array([900.0, 100.0]), 0.0).tolist()
    [1.0, 1.0]
    >>> effective_number_alpha(np.array([900.0, 100.0]), 0.999).round(3).tolist()
    [0.656, 4.093]
    """
    if (counts <= 0).any():
        missing = np.flatnonzero(counts <= 0).tolist()
        raise ValueError(
            f"alpha=('effective_number', beta) needs every class to be present in y_true; "
            f"classes {missing} have no samples (or zero total sample_weight)"
        )
    if beta == 0.0:
        raw = np.ones_like(counts)
    else:
        raw = (1.0 - beta) / -np.expm1(counts * np.log(beta))
    return raw * counts.sum() / float(np.sum(raw * counts))


def _check_effective_number(alpha: Sequence[Any]) -> tuple[str, float]:
    if len(alpha) != 2:
        raise ValueError(
            f"alpha=('effective_number', beta) takes exactly one beta, got {v.describe(alpha)}"
        )
    beta = alpha[1]
    if isinstance(beta, (bool, np.bool_)) or not isinstance(beta, numbers.Real):
        raise TypeError(
            f"alpha=('effective_number', beta): beta must be a real number in [0, 1), got "
            f"{v.describe(beta)}"
        )
    if not 0.0 <= float(beta) < 1.0:
        raise ValueError(
            f"alpha=('effective_number', beta): beta must lie in [0, 1), got {float(beta)!r}"
        )
    return (EFFECTIVE_NUMBER, float(beta))


def _check_alpha(
    alpha: Any, n_classes: int, binary: bool
) -> None | str | tuple[float, ...] | tuple[str, float]:
    """The normalised alpha: None, "balanced", ("effective_number", beta), or one
    non-negative weight per class."""
    if alpha is None:
        return None
    if isinstance(alpha, str):
        if alpha != "balanced":
            raise ValueError(
                f"alpha must be None, 'balanced', a float in [0, 1] (binary) or one weight per "
                f"class; got unknown string {alpha!r}"
            )
        return "balanced"
    if isinstance(alpha, (bool, np.bool_)):
        raise TypeError(f"alpha must not be a bool, got {alpha!r}")
    if isinstance(alpha, numbers.Real):
        if not binary:
            raise ValueError(
                f"a float alpha ({alpha!r}) is only defined for the binary loss (weight of the "
                f"positive class); for {n_classes} classes pass one weight per class or 'balanced'"
            )
        if not (0.0 <= float(alpha) <= 1.0):
            raise ValueError(f"alpha as a float must lie in [0, 1], got {alpha!r}")
        return (1.0 - float(alpha), float(alpha))
    if isinstance(alpha, (tuple, list)) and alpha and isinstance(alpha[0], str):
        if alpha[0] != EFFECTIVE_NUMBER:
            raise ValueError(
                f"alpha as a (mode, parameter) pair must be ('effective_number', beta), got "
                f"{v.describe(alpha)}"
            )
        return _check_effective_number(alpha)
    if isinstance(alpha, (Sequence, np.ndarray)):
        return tuple(float(a) for a in v.check_alpha_vector(alpha, n_classes))
    raise TypeError(
        "alpha must be None, 'balanced', a float or a sequence of weights, got "
        f"{v.describe(alpha)}"
    )


def _check_named_gamma(value: Any, name: str) -> float:
    try:
        return v.check_gamma(value)
    except (TypeError, ValueError) as exc:
        raise type(exc)(str(exc).replace("gamma", name, 1)) from exc


def _check_clip(clip: Any) -> float:
    if isinstance(clip, (bool, np.bool_)) or not isinstance(clip, numbers.Real):
        raise TypeError(f"clip must be a real number in [0, 1), got {v.describe(clip)}")
    if not 0.0 <= float(clip) < 1.0:
        raise ValueError(f"clip must lie in [0, 1), got {float(clip)!r}")
    return float(clip)


@dataclass(frozen=True)
class FocalSpec:
    """Validated, immutable parameters of a focal loss.

    Build it with :meth:`create`. ``alpha`` is normalised: None, ``"balanced"``,
    ``("effective_number", beta)`` (class-balanced weights, Cui et al. 2019), or a tuple
    of one weight per class (a binary float ``a`` becomes ``(1 - a, a)``); ``given_alpha``
    keeps what the user passed, for ``repr``.
    """

    n_classes: int
    binary: bool
    alpha: None | str | tuple[float, ...] | tuple[str, float]
    gamma: float
    hessian: str
    given_alpha: Any = field(default=None, compare=False, repr=False)
    #: Asymmetric focal loss (Ridnik et al. 2021): the negatives' exponent (None: ``gamma``
    #: for both classes) and their probability margin ``clip``; ``gamma`` is then the
    #: positives' exponent.
    gamma_neg: float | None = None
    clip: float = 0.0

    @classmethod
    def create(
        cls, *, alpha: Any = None, gamma: Any = 2.0, hessian: Any = "positive",
        n_classes: Any = 2, binary: bool = True, gamma_neg: Any = None, clip: Any = 0.0,
    ) -> FocalSpec:
        """Validate every parameter (ValueError / TypeError naming it) and build the spec."""
        k = 2 if binary else v.check_n_classes(n_classes)
        if (gamma_neg is not None or clip != 0.0) and not binary:
            raise ValueError(
                "gamma_neg and clip (the asymmetric focal loss) are defined for sigmoid "
                "outputs: the binary and the multi-label losses"
            )
        return cls(
            n_classes=k, binary=binary, alpha=_check_alpha(alpha, k, binary),
            gamma=v.check_gamma(gamma), hessian=v.check_hessian(hessian), given_alpha=alpha,
            gamma_neg=None if gamma_neg is None else _check_named_gamma(gamma_neg, "gamma_neg"),
            clip=_check_clip(clip),
        )

    @property
    def asymmetric(self) -> bool:
        """True for the asymmetric focal loss (a separate gamma_neg or a clip > 0)."""
        return self.gamma_neg is not None or self.clip > 0.0

    @property
    def positive(self) -> bool:
        """True for the positive (Newton-safe) Hessian."""
        return self.hessian == "positive"

    @property
    def needs_labels(self) -> bool:
        """True when the class weights depend on the training labels ("balanced",
        ("effective_number", beta))."""
        return self.alpha == "balanced" or (
            isinstance(self.alpha, tuple) and self.alpha[:1] == (EFFECTIVE_NUMBER,))

    def class_weights(
        self, labels: np.ndarray | None = None, weight: np.ndarray | None = None
    ) -> np.ndarray | None:
        """Resolved per-class weights (None: all ones, the fast path of the math).

        ``labels`` (checked class indices) and ``weight`` (checked row weights) are needed
        only for ``"balanced"``.
        """
        if self.alpha is None:
            return None
        if self.needs_labels:
            if labels is None:
                raise ValueError(
                    f"alpha={self.given_alpha!r} is resolved from training labels: none given")
            if self.alpha == "balanced":
                return _balanced(labels, weight, self.n_classes)
            counts = np.bincount(labels, weights=weight, minlength=self.n_classes)
            return effective_number_alpha(counts.astype(np.float64), float(self.alpha[1]))
        return np.array(self.alpha, dtype=np.float64)
