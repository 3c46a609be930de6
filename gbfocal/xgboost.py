"""An XGBoost training loop for focal loss that keeps the margins next to the data.

``xgb.train(..., obj=loss.xgb_objective)`` asks the booster for the margins of every
training row each round (``Booster.predict(training=True)``), which XGBoost hands to
Python as a fresh host array, even with ``device="cuda"``: a device-to-host copy per
round that costs more than the focal math on a GPU. :func:`train` runs the same
boosting rounds with ``Booster.boost`` and keeps the margins itself: it adds each
new tree's output, predicted with ``inplace_predict`` on the training features
(``data``), so with CuPy features the margins, gradient and Hessian never leave the
GPU. On the CPU the standard path is cheaper (its prediction cache needs no tree
evaluation, while predicting one tree over 10^6 x 30 rows took 60 ms on 2 cores), so
with host data, or no ``data``, :func:`train` boosts exactly as ``xgb.train`` does.

Both are ``gbfocal._engines.xgboost.boost``, the boosting rounds of every gbfocal
XGBoost fit; this module checks the arguments and picks the objective (CuPy on the
GPU, :mod:`gbfocal.gpu`). The model is the one ``xgb.train(params, dtrain,
obj=loss.xgb_objective)`` builds: XGBoost's own prediction cache also adds each tree's
float32 leaf values to float32 margins, which is what the loop does (``base_score`` is
0, so a single tree's margin is its leaf value exactly). ``tests/test_xgboost.py``
checks identical trees on the CPU, with NumPy standing in for CuPy. Not yet measured on
a GPU (the documentation's GPU page).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._engines import xgboost as engine_xgboost
from ._optional import import_optional
from .losses import FocalLoss

if TYPE_CHECKING:
    from .gpu import XGBoostCudaObjective

__all__ = ["train"]


def _xgboost() -> Any:
    return import_optional("xgboost", needed_by="gbfocal.xgboost.train")


def _on_gpu(data: Any) -> bool:
    return hasattr(data, "__cuda_array_interface__") or type(data).__module__.startswith("cudf")


def _check_params(params: Any, loss: FocalLoss) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict, got {type(params).__name__}")
    params = dict(params)
    if "objective" in params:
        raise ValueError(
            f"params has objective={params['objective']!r}; the focal loss is the objective "
            "here: leave 'objective' out"
        )
    if float(params.get("base_score", 0.0)) != 0.0:
        raise ValueError(
            f"base_score={params['base_score']!r}: the loop needs base_score=0 (a single "
            "tree's margin is then its leaf value). Put the starting margin in the DMatrix "
            "instead: DMatrix(..., base_margin=...) with loss.init_score(y)"
        )
    if params.get("booster", "gbtree") == "dart":
        raise ValueError("booster='dart' drops earlier trees each round: use xgb.train(obj=...)")
    params["base_score"] = 0.0
    params.setdefault("disable_default_eval_metric", 1)
    if not loss.binary:
        num_class = params.setdefault("num_class", loss.n_classes)
        if num_class != loss.n_classes:
            raise ValueError(f"params num_class={num_class} but loss.n_classes={loss.n_classes}")
    return params


def train(
    params: dict[str, Any],
    dtrain: Any,
    num_boost_round: int = 10,
    *,
    loss: FocalLoss,
    data: Any = None,
    evals: Sequence[tuple[Any, str]] | None = None,
    custom_metric: Any = None,
    maximize: bool | None = None,
    early_stopping_rounds: int | None = None,
    evals_result: dict[str, Any] | None = None,
    verbose_eval: bool | int = True,
    callbacks: Sequence[Any] | None = None,
) -> Any:
    """Train an XGBoost booster on a focal loss, margins kept on the data's device.

    Mirrors ``xgboost.train``; ``loss`` replaces ``obj`` and ``data`` is new.

    Parameters
    ----------
    params : dict
        Booster parameters without ``objective``; ``base_score`` is set to 0 (give the
        starting margin as the DMatrix's ``base_margin``), ``num_class`` defaults to
        ``loss.n_classes``.
    dtrain : xgboost.DMatrix or QuantileDMatrix
        Training data with labels (and weights, base margin).
    num_boost_round : int, default=10
    loss : BinaryFocalLoss or MulticlassFocalLoss
        The objective; on the GPU its gradient runs in CuPy (:mod:`gbfocal.gpu`).
    data : CuPy array or cuDF DataFrame of shape (n_samples, n_features), default=None
        The features ``dtrain`` was built from, with the same missing-value marker
        (NaN): the margins are then kept and updated on the GPU, and the gradient
        computed there. Host data (NumPy, pandas) or None: the margins come from the
        booster every round, as in ``xgb.train`` (cheaper on the CPU).
    evals, custom_metric, maximize, early_stopping_rounds, evals_result, verbose_eval, \
callbacks
        As in ``xgboost.train`` (metrics receive raw margins).

    Returns
    -------
    booster : xgboost.Booster

    Examples
    --------
    >>> import numpy as np, xgboost as xgb
    >>> from gbfocal.losses import BinaryFocalLoss
    >>> from gbfocal.xgboost import train
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)); y = (X[:, 0] > 1).astype(float)
    >>> loss = BinaryFocalLoss(alpha="balanced", gamma=2.0)
    >>> dtrain = xgb.DMatrix(X, y, base_margin=np.full(200, loss.init_score(y)))
    >>> booster = train({"max_depth": 2}, dtrain, 5, loss=loss, data=X, verbose_eval=False)
    >>> booster.num_boosted_rounds()
    5
    """
    xgb = _xgboost()
    if not isinstance(loss, FocalLoss):
        raise TypeError(
            f"loss must be a BinaryFocalLoss or MulticlassFocalLoss, got {type(loss).__name__}"
        )
    if not isinstance(dtrain, xgb.DMatrix):
        raise TypeError(f"dtrain must be an xgboost.DMatrix, got {type(dtrain).__name__}")
    params = _check_params(params, loss)
    keep_margins = data is not None and _on_gpu(data)
    if keep_margins and int(data.shape[0]) != int(dtrain.num_row()):
        raise ValueError(f"data has {data.shape[0]} rows but dtrain has {dtrain.num_row()}")
    evals = list(evals) if evals else []
    for dmatrix, _ in evals:
        if not isinstance(dmatrix, xgb.DMatrix):
            raise TypeError(f"evals must hold (DMatrix, name) pairs, got {type(dmatrix).__name__}")
    # xgb.train's order: the log before early stopping (which ends a round's callbacks)
    callbacks = list(callbacks) if callbacks else []
    if verbose_eval:
        callbacks.append(xgb.callback.EvaluationMonitor(
            period=1 if verbose_eval is True else verbose_eval))
    if early_stopping_rounds:
        callbacks.append(xgb.callback.EarlyStopping(rounds=early_stopping_rounds,
                                                    maximize=maximize))
    grad_hess = _GradHess(loss, keep_margins)
    return engine_xgboost.boost(
        xgb, params, dtrain, num_boost_round, obj=grad_hess, evals=evals,
        custom_metric=custom_metric, evals_result=evals_result, callbacks=callbacks,
        kept_margins=(data, grad_hess.xp) if keep_margins else None,
    )


class _GradHess:
    """The loss's gradient and Hessian on the host (NumPy kernels) or on the GPU (CuPy)."""

    def __init__(self, loss: FocalLoss, gpu: bool) -> None:
        self.loss = loss
        self.device: XGBoostCudaObjective | None
        if gpu:
            from .gpu import XGBoostCudaObjective, array_module

            self.device = XGBoostCudaObjective(loss)
            self.xp = array_module("cupy")
        else:
            self.device, self.xp = None, np

    def __call__(self, margins: Any, dtrain: Any) -> tuple[Any, Any]:
        if self.device is None:
            return self.loss.xgb_objective(margins, dtrain)
        return self.device.device_grad_hess(margins, dtrain)
