"""LightGBM and XGBoost calling conventions: objective and metric callables for a loss.

(The public path is :mod:`gbfocal.adapters`; the engines and the loss objects use them
from here.)

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

import sys
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np

from .._spec import METRICS, check_metric

if TYPE_CHECKING:  # pragma: no cover - typing only: gbfocal.losses imports this module
    from ..losses import FocalLoss, TrainingSet

__all__ = [
    "CallableMetric",
    "ForgetInitScoreCopies",
    "LightGBMCallableMetric",
    "LightGBMMetric",
    "LightGBMObjective",
    "LightGBMSklearnMetric",
    "SklearnObjective",
    "Trained",
    "XGBoostMetric",
    "XGBoostObjective",
    "XGBoostSklearnMetric",
    "dataset_label",
    "dataset_weight",
    "history_length",
]


def dataset_label(dataset: Any) -> np.ndarray:
    """The labels a LightGBM Dataset / XGBoost DMatrix stores; a clear error without any.

    (XGBoost returns an empty array for a DMatrix without labels, which would otherwise
    read as "y_true is empty".)
    """
    label = dataset.get_label()
    if label is None or np.size(label) == 0:
        raise ValueError(
            f"the {type(dataset).__name__} passed to the focal objective/metric has no labels: "
            "build it with the labels, e.g. lgb.Dataset(X, label=y) / xgb.DMatrix(X, label=y)"
        )
    return np.asarray(label)  # the same object for an ndarray: the per-round cache keys on it


def dataset_weight(dataset: Any) -> np.ndarray | None:
    """Row weights of a Dataset / DMatrix as float64 (None when unweighted)."""
    weight = dataset.get_weight()
    if weight is None or np.size(weight) == 0:
        return None
    return np.asarray(weight, dtype=np.float64)


# The per-round interface of gbfocal.losses.FocalLoss that the adapters use: any object
# that has it can be wrapped (checked by name, so that this module needs no import of
# gbfocal.losses, which imports it).
_PER_ROUND = ("training_set", "margins", "round_grad_hess", "metric", "metric_sums",
              "decode_label")


def _check_loss(loss: Any) -> FocalLoss:
    if not all(callable(getattr(loss, name, None)) for name in _PER_ROUND):
        raise TypeError(
            "loss must be a gbfocal loss object (BinaryFocalLoss, MulticlassFocalLoss, "
            f"MultiOutputFocalLoss), got {type(loss).__name__}"
        )
    return loss


# --------------------------------------------------------------------------- objectives
class _Objective:
    """One loss's per-round gradient and Hessian for one library (picklable)."""

    # how a library flattens (n, K) margins when it does (None: it never does)
    layout: str | None = None

    def __init__(self, loss: FocalLoss) -> None:
        self.loss = _check_loss(loss)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.loss!r})"

    def _grad_hess(
        self, preds: Any, label: Any, weight: Any, dataset: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        training: TrainingSet = self.loss.training_set(label, weight, dataset=dataset)
        # float32 margins (XGBoost's) go to the kernels as they are: no float64 copy.
        margins = self.loss.margins(preds, training.n_rows, layout=self.layout,
                                    keep_float32=True)
        return self.loss.round_grad_hess(margins, training)


class LightGBMObjective(_Objective):
    """LightGBM >= 4 objective: ``params["objective"] = LightGBMObjective(loss)``.

    ``(preds, train_data) -> (grad, hess)``: float32, shaped like the margins and
    multiplied by the Dataset's weights (LightGBM does not apply them itself).
    """

    def __call__(self, preds: Any, train_data: Any) -> tuple[np.ndarray, np.ndarray]:
        grad, hess = self._grad_hess(preds, dataset_label(train_data), train_data.get_weight(),
                                     train_data)
        # LightGBM stores float32 and flattens (n, K) in Fortran order: hand it exactly
        # that, so its own conversion is a no-op instead of a copy. The multiclass kernels
        # already write LightGBM's column-major margins' layout (round_grad_hess): no-ops
        # here too, except on the NumPy path.
        return np.asfortranarray(grad), np.asfortranarray(hess)


class XGBoostObjective(_Objective):
    """XGBoost objective: ``xgb.train(..., obj=XGBoostObjective(loss))``.

    ``predt`` is float32 raw margins, ``(n,)`` or ``(n, K)`` (a flattened layout of
    XGBoost < 2 is reshaped); returns C-contiguous float32 gradient and Hessian.
    """

    layout = "C"

    def __call__(self, predt: Any, dtrain: Any) -> tuple[np.ndarray, np.ndarray]:
        return self._grad_hess(predt, dataset_label(dtrain), dtrain.get_weight(), dtrain)


class SklearnObjective(_Objective):
    """Objective for ``LGBMClassifier(objective=...)`` / ``XGBClassifier(objective=...)``.

    Both call it with the encoded labels, the raw margins and the sample weights
    (LightGBM positionally, XGBoost as ``sample_weight=``).
    """

    def __call__(
        self, y_true: Any, y_pred: Any, sample_weight: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        return self._grad_hess(y_pred, y_true, sample_weight, None)


# --------------------------------------------------------------------------- metrics
class _Metric:
    """A named metric of one loss, computed from raw margins (picklable)."""

    layout: str | None = None

    def __init__(self, loss: FocalLoss, metric: str = "focal_loss") -> None:
        self.loss = _check_loss(loss)
        self.metric = check_metric(metric)

    @property
    def name(self) -> str:
        """The name reported to the library (the metric name)."""
        return self.metric

    @property
    def higher_is_better(self) -> bool:
        """True for roc_auc and average_precision, False for the losses."""
        return METRICS[self.metric]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.loss!r}, {self.metric!r})"

    def _value(self, preds: Any, y: Any, weight: np.ndarray | None) -> float:
        # float32 kept: the metrics convert what they need (a ranking needs no copy)
        raw = self.loss.margins(preds, np.shape(y)[0], layout=self.layout, keep_float32=True)
        return self.loss.metric(self.metric, y, raw, weight)

    def _dataset_value(self, preds: Any, dataset: Any) -> float:
        y = self.loss.decode_label(dataset_label(dataset))
        return self._value(preds, y, dataset_weight(dataset))


class LightGBMMetric(_Metric):
    """LightGBM ``feval``: ``(preds, eval_data) -> (name, value, is_higher_better)``."""

    def __call__(self, preds: Any, eval_data: Any) -> tuple[str, float, bool]:
        return self.name, self._dataset_value(preds, eval_data), self.higher_is_better


def _distributed() -> Any:
    """``xgboost.collective`` during a distributed XGBoost run (xgboost.dask), else None."""
    collective = sys.modules.get("xgboost.collective")
    if collective is None:
        return None
    try:
        return collective if collective.is_distributed() else None
    except Exception:  # noqa: BLE001 - an uninitialised communicator: not distributed
        return None


class XGBoostMetric(_Metric):
    """XGBoost ``custom_metric``: ``(predt, dmatrix) -> (name, value)``.

    In a distributed run (``xgboost.dask``, where ``xgboost.collective`` reports
    ``is_distributed()``), the weighted-mean metrics ("focal_loss", "log_loss") all-reduce
    ``sum(w l)`` and ``sum(w)`` over the workers, so every worker returns the global
    ``sum(w l) / sum(w)`` (xgboost.dask itself would average per-worker means). Ranking
    metrics do not decompose into per-worker sums: there they raise ValueError (use
    XGBoost's built-in ``eval_metric="auc"`` / ``"aucpr"``, rank-based, so correct on the
    raw margins of a custom objective).

    XGBoost does not ask a custom metric whether higher is better: pass
    ``maximize=metric.higher_is_better`` to ``xgb.train`` (or to
    ``xgb.callback.EarlyStopping``) when early stopping on roc_auc or average_precision.
    XGBoost formats metric values with ``%f``, so its history carries 6 decimals.
    """

    layout = "C"

    def __call__(self, predt: Any, dmatrix: Any) -> tuple[str, float]:
        collective = _distributed()
        if collective is None:
            return self.name, self._dataset_value(predt, dmatrix)
        if METRICS[self.metric]:
            raise ValueError(
                f"{self.metric} does not decompose into per-worker sums, so a distributed run "
                "cannot compute it exactly; use XGBoost's built-in eval_metric='auc' or 'aucpr'"
            )
        local = np.zeros(2)
        if int(dmatrix.num_row()) > 0:  # a worker may hold no rows of this evaluation set
            y = self.loss.decode_label(dataset_label(dmatrix))
            raw = self.loss.margins(predt, y.shape[0], layout=self.layout)
            local[:] = self.loss.metric_sums(self.metric, y, raw, dataset_weight(dmatrix))
        total, weight = collective.allreduce(local, collective.Op.SUM)
        if weight <= 0:
            raise ValueError("sample_weight sums to zero: the weighted mean loss is undefined")
        return self.name, float(total / weight)


class LightGBMSklearnMetric(_Metric):
    """``eval_metric`` for ``lgb.LGBMClassifier.fit``: ``(y_true, y_pred, weight)``."""

    def __call__(self, y_true: Any, y_pred: Any, weight: Any = None) -> tuple[str, float, bool]:
        w = None if weight is None else np.asarray(weight, dtype=np.float64)
        return self.name, self._value(y_pred, y_true, w), self.higher_is_better


class XGBoostSklearnMetric(_Metric):
    """``eval_metric`` for ``xgb.XGBClassifier``: ``(y_true, y_score, sample_weight) -> value``.

    XGBoost reads the metric's name from ``__name__``.
    """

    def __init__(self, loss: FocalLoss, metric: str = "focal_loss") -> None:
        super().__init__(loss, metric)
        self.__name__ = self.name  # XGBoost's scikit-learn API names the metric by func.__name__

    def __call__(self, y_true: Any, y_score: Any, sample_weight: Any = None) -> float:
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        return self._value(y_score, y_true, w)


# --------------------------------------------------------------------------- users' metrics
class CallableMetric:
    """A user's ``eval_metric`` callable, called with what the estimator's metrics see.

    ``func(y_true, raw_margin, sample_weight) -> (name, value, higher_is_better)`` with
    class indices ``0..K-1``, float64 margins (initial score included; ``(n,)`` binary,
    ``(n, K)`` multiclass) and the eval set's weights (None when unweighted).
    """

    def __init__(self, func: Callable[..., Any], loss: Any, layout: str | None) -> None:
        self.func = func
        self.loss = loss
        self.layout = layout

    def evaluate(self, preds: Any, dataset: Any) -> tuple[str, float, bool]:
        # the libraries store the class indices as float labels
        y = np.asarray(dataset.get_label()).astype(np.intp)
        weight = dataset.get_weight()
        weight = None if weight is None or np.size(weight) == 0 else np.asarray(
            weight, dtype=np.float64)
        raw = self.loss.margins(preds, y.shape[0], layout=self.layout)
        result = self.func(y, raw, weight)
        if (not isinstance(result, tuple) or len(result) != 3 or not isinstance(result[0], str)
                or not isinstance(result[1], (Real, np.floating))):
            raise TypeError(
                f"eval_metric callable {getattr(self.func, '__name__', self.func)!r} must return "
                f"(name: str, value: float, higher_is_better: bool), got {result!r}"
            )
        return result[0], float(result[1]), bool(result[2])


class LightGBMCallableMetric(CallableMetric):
    """LightGBM ``feval`` form of :class:`CallableMetric`."""

    def __init__(self, func: Callable[..., Any], loss: Any) -> None:
        super().__init__(func, loss, None)

    def __call__(self, preds: Any, eval_data: Any) -> tuple[str, float, bool]:
        return self.evaluate(preds, eval_data)


# --------------------------------------------------------------------------- callbacks
class ForgetInitScoreCopies:
    """``lgb.train`` callback: before the first round, drop the Datasets' Python copies of
    the initial score (here with the other per-round callables, which a boosting round
    calls into).

    LightGBM keeps the initial score twice once a Dataset is built: in C++ (which the
    boosting reads) and as a NumPy copy read back from it (``Dataset.init_score``), 8
    bytes per row and class, which nothing reads during training. Dropped, it is read back
    again on demand (``Dataset.get_init_score``). With many classes that copy of the
    training set's was a quarter of the memory a fit needed beyond LightGBM's own.
    """

    before_iteration = True

    def __init__(self) -> None:
        self.order = -(2**31)  # before the other callbacks (lgb.train keeps a set order)

    def __call__(self, env: Any) -> None:
        if env.iteration == env.begin_iteration:
            for dataset in (env.model.train_set, *getattr(env.model, "valid_sets", ())):
                if dataset is not None:  # built by now: the Booster holds them
                    dataset.init_score = None


# --------------------------------------------------------------------------- training results
@dataclass
class Trained:
    """What :func:`train` returns: the booster, the rounds run, the evaluation history."""

    booster: Any
    rounds_run: int  # boosting rounds run, a warm start's included
    history: dict[str, Any]  # evals_result, with gbfocal's metric names


def history_length(history: dict[str, Any]) -> int:
    """Rounds recorded in an evaluation history (0 without eval sets)."""
    for per_metric in history.values():
        for values in per_metric.values():
            return len(values)
    return 0
