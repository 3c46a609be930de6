"""Focal-loss objects: one base class for the binary, multiclass and multi-output losses.

A loss object holds one validated :class:`~gbfocal._spec.FocalSpec` (``alpha``, ``gamma``,
``hessian``) and hands the same loss to every place that needs it: the training objective,
the evaluation metric, the initial score and the conversion of raw margins to
probabilities. That is what makes the classic mistakes impossible (tuning alpha/gamma while
training with the built-in log loss, a metric that weights classes differently from the
objective, a sigmoid applied to probabilities).

The library calling conventions live in :mod:`gbfocal.adapters`; the loss objects'
``lgb_objective``, ``xgb_objective`` and ``sklearn_objective`` are such adapters, built
once per loss object, and ``lgb_eval(m)``, ``xgb_metric`` ... build the metric ones.
Neither LightGBM nor XGBoost is imported here.

The package's modules: ``_base`` (:class:`FocalLoss` and a training set's per-round
state, :class:`TrainingSet`), ``_asym`` (the asymmetric loss's helpers), ``_binary``
(binary and multiclass), ``_multioutput``, ``_multilabel``.
"""

from __future__ import annotations

from .._engines import adapters
from .._spec import METRICS
from ._base import FocalLoss, TrainingSet
from ._binary import BinaryFocalLoss, MulticlassFocalLoss
from ._multilabel import MultiLabelFocalLoss
from ._multioutput import MultiOutputFocalLoss

__all__ = [
    "METRICS",
    "BinaryFocalLoss",
    "FocalLoss",
    "MultiLabelFocalLoss",
    "MultiOutputFocalLoss",
    "MulticlassFocalLoss",
    "TrainingSet",
]

# their public home: documentation and pickles name gbfocal.losses
for _public in (FocalLoss, BinaryFocalLoss, MulticlassFocalLoss, MultiLabelFocalLoss,
                MultiOutputFocalLoss, TrainingSet):
    _public.__module__ = __name__
del _public

# Kept for code written against the 0.1 layout (gbfocal.dask, gbfocal.gpu used it).
_FocalLossBase = FocalLoss
# The metric callables lived here in gbfocal 0.1; they are in gbfocal.adapters now.
LightGBMMetric = adapters.LightGBMMetric
LightGBMSklearnMetric = adapters.LightGBMSklearnMetric
XGBoostMetric = adapters.XGBoostMetric
XGBoostSklearnMetric = adapters.XGBoostSklearnMetric
