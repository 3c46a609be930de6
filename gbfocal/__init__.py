"""gbfocal: exact focal loss for LightGBM and XGBoost.

The math (``gbfocal._focal``) needs only NumPy; the loss objects import LightGBM and
XGBoost only when their adapters are called. The scikit-learn estimators, the
multi-output classifier and the Optuna tuner are loaded on first access, so that
``import gbfocal`` works with NumPy and SciPy alone.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._focal import (
    balanced_alpha,
    binary_focal_grad_hess,
    binary_focal_loss,
    multiclass_focal_grad_hess,
    multiclass_focal_loss,
)
from ._optional import install_hint
from ._parallel import get_num_threads, set_num_threads
from ._posterior import focal_posterior
from .losses import BinaryFocalLoss, MulticlassFocalLoss, MultiLabelFocalLoss, MultiOutputFocalLoss

__version__ = "0.1.0"

# public name -> submodule that defines it (imported on first attribute access)
_LAZY = {
    "FocalLGBMClassifier": "sklearn",
    "FocalXGBClassifier": "sklearn",
    "UnseenCategoryWarning": "sklearn",
    "FocalMultiOutputClassifier": "multioutput",
    "FocalMultiLabelClassifier": "multilabel",
    "load_model": "persist",
    "tune_focal": "tuning",
    "TuningResult": "tuning",
}

__all__ = [
    "__version__",
    "balanced_alpha",
    "binary_focal_grad_hess",
    "binary_focal_loss",
    "focal_posterior",
    "multiclass_focal_grad_hess",
    "multiclass_focal_loss",
    "get_num_threads",
    "set_num_threads",
    "BinaryFocalLoss",
    "MulticlassFocalLoss",
    "MultiLabelFocalLoss",
    "MultiOutputFocalLoss",
    *_LAZY,
]


# submodule -> the optional package it cannot be imported without
_LAZY_NEEDS = {"sklearn": "sklearn", "multioutput": "sklearn", "multilabel": "sklearn",
               "tuning": "sklearn", "persist": "sklearn"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        submodule = _LAZY[name]
        try:
            module = importlib.import_module(f".{submodule}", __name__)
        except ImportError as exc:
            missing = (exc.name or _LAZY_NEEDS[submodule]).partition(".")[0]
            if missing.startswith("gbfocal"):
                raise
            raise ImportError(install_hint(missing, f"gbfocal.{name}")) from exc
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
