"""LightGBM and XGBoost calling conventions: objective and metric callables for a loss.

Each class wraps one loss object (:class:`gbfocal.losses.FocalLoss`) and speaks one
library's protocol; they are small, picklable (no closures: they travel through
``lgb.train``'s deep copy, joblib, multiprocessing and Dask) and use only the loss's
public per-round interface. The loss objects' methods ``lgb_objective``, ``xgb_metric``,
``lgb_eval(m)`` and so on return or call these.

==================  ===================================  ==========================================
library call        objective                            metric
==================  ===================================  ==========================================
``lgb.train``       ``params["objective"]``:             ``feval=``:
                    :class:`LightGBMObjective`           :class:`LightGBMMetric`
``xgb.train``       ``obj=``: :class:`XGBoostObjective`  ``custom_metric=``: :class:`XGBoostMetric`
``LGBMClassifier``  :class:`SklearnObjective`            :class:`LightGBMSklearnMetric`
``XGBClassifier``   :class:`SklearnObjective`            :class:`XGBoostSklearnMetric`
==================  ===================================  ==========================================

Neither library is imported here, nor :mod:`gbfocal.losses` (which imports this module):
an adapter wraps any object with the loss objects' per-round interface.
:class:`XGBoostMetric` looks at ``xgboost.collective`` only when XGBoost is loaded.
"""

from __future__ import annotations

from ._engines.adapters import (
    LightGBMMetric,
    LightGBMObjective,
    LightGBMSklearnMetric,
    SklearnObjective,
    XGBoostMetric,
    XGBoostObjective,
    XGBoostSklearnMetric,
    dataset_label,
    dataset_weight,
)

__all__ = [
    "LightGBMMetric",
    "LightGBMObjective",
    "LightGBMSklearnMetric",
    "SklearnObjective",
    "XGBoostMetric",
    "XGBoostObjective",
    "XGBoostSklearnMetric",
    "dataset_label",
    "dataset_weight",
]

# The classes live in gbfocal._engines.adapters, with the engines that use them; this is
# their public home, for the documentation and for pickles (which name a class's module).
for _public in (LightGBMMetric, LightGBMObjective, LightGBMSklearnMetric, SklearnObjective,
                XGBoostMetric, XGBoostObjective, XGBoostSklearnMetric, dataset_label,
                dataset_weight):
    _public.__module__ = __name__
del _public
