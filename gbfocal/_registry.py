"""The estimator classes by name: the one lookup that persistence, the CLI and tuning use.

The estimators live above most of the package (they need scikit-learn and a boosting
library), so a module below them that has to make one from a name (a saved model's
``"estimator"`` field, the CLI's ``--backend``) must not import them at module level.
This table is the one place that says which module defines which estimator; a class is
imported on first use, and a missing optional dependency surfaces as the same install
hint ``import gbfocal`` gives.
"""

from __future__ import annotations

import importlib

from ._optional import import_optional

__all__ = ["ESTIMATORS", "estimator_class", "estimator_for"]

#: estimator class name -> the module that defines it
ESTIMATORS: dict[str, str] = {
    "FocalLGBMClassifier": "gbfocal.sklearn",
    "FocalXGBClassifier": "gbfocal.sklearn",
    "FocalMultiOutputClassifier": "gbfocal.multioutput",
    "FocalMultiLabelClassifier": "gbfocal.multilabel",
}
# the single-target estimator of each booster library
_BY_BACKEND = {"lightgbm": "FocalLGBMClassifier", "xgboost": "FocalXGBClassifier"}


def estimator_class(name: str) -> type:
    """The estimator class called ``name`` (ValueError for any other name).

    Examples
    --------
    >>> estimator_class("FocalLGBMClassifier").__name__
    'FocalLGBMClassifier'
    """
    module = ESTIMATORS.get(name) if isinstance(name, str) else None
    if module is None:
        raise ValueError(f"unknown estimator {name!r}: one of {sorted(ESTIMATORS)}")
    # the estimators' modules need scikit-learn: the install hint when it is missing
    import_optional("sklearn", needed_by=f"gbfocal.{name}")
    return getattr(importlib.import_module(module), name)


def estimator_for(backend: str, *, multilabel: bool = False) -> type:
    """The estimator that trains with ``backend`` ("lightgbm" or "xgboost").

    A multi-label target has one estimator for both libraries,
    :class:`~gbfocal.FocalMultiLabelClassifier` (its ``backend`` parameter chooses).
    """
    if backend not in _BY_BACKEND:
        raise ValueError(f"backend must be one of {tuple(_BY_BACKEND)}, got {backend!r}")
    return estimator_class("FocalMultiLabelClassifier" if multilabel else _BY_BACKEND[backend])
