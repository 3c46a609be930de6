"""gbfocal: exact focal loss for LightGBM and XGBoost.

The math (:mod:`gbfocal._focal`) needs only NumPy; the LightGBM / XGBoost adapters,
the scikit-learn estimators and the Optuna tuner import their libraries lazily.
"""

from ._focal import (
    balanced_alpha,
    binary_focal_grad_hess,
    binary_focal_loss,
    multiclass_focal_grad_hess,
    multiclass_focal_loss,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "balanced_alpha",
    "binary_focal_grad_hess",
    "binary_focal_loss",
    "multiclass_focal_grad_hess",
    "multiclass_focal_loss",
]
