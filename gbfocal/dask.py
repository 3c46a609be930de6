"""Distributed training with Dask: global class weights, starting margins and metrics.

With ``xgboost.dask`` and ``lightgbm.dask`` every worker calls the objective and the
metrics on *its own partitions* only. Three things must nevertheless be global:

* the label-dependent class weights, ``alpha="balanced"`` and
  ``alpha=("effective_number", beta)``: resolved from the (weighted) class counts of the
  whole training set, not from each worker's share (which differs with unequal
  partitions);
* the starting margin (:meth:`init_score`), for the same reason;
* the evaluation metrics: the weighted mean ``sum(w l) / sum(w)`` over all rows.

:func:`init_score` fits the loss object on the full (computed) labels, which are small
next to the features, and :func:`base_margin` turns the result into a per-row Dask
array with the chunks of the labels. A fitted loss object keeps its ``alpha_`` in the
training objective, so every worker boosts the global loss.

XGBoost aggregates a custom metric across workers by *averaging the per-worker values*
(``xgboost.callback._allreduce_metric``: an allreduce-sum divided by the number of
workers), which is a mean of per-worker means and wrong for unequal partitions.
:class:`XGBoostDaskMetric` all-reduces the weighted loss sum and the weight sum
itself, so every worker reports the global weighted mean (and XGBoost's averaging of
identical values leaves it unchanged).

``lightgbm.dask`` does not combine evaluation metrics at all: each worker evaluates
its own partitions of the evaluation set, and the fitted model carries the history
of one worker (for built-in metrics too; measured in ``tests/test_dask.py``).
:func:`lightgbm_metric_history` computes the global weighted metric after every
boosting round from the fitted model instead, block by block on the workers.

Dask is imported lazily: ``import gbfocal.dask`` needs only NumPy.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from ._engines.adapters import XGBoostMetric
from ._optional import import_optional
from ._spec import METRICS
from .losses import FocalLoss

__all__ = ["XGBoostDaskMetric", "base_margin", "init_score", "lightgbm_metric_history"]

# Metrics that are a sum over rows divided by the weight sum, so they can be combined
# exactly from per-worker sums. Ranking metrics are not: use XGBoost's built-in
# distributed "auc" / "aucpr" (rank-based, so correct on raw margins) for those.
_DECOMPOSABLE = tuple(name for name, higher_is_better in METRICS.items() if not higher_is_better)


def _check_decomposable(metric: str, what: str, hint: str = "") -> None:
    if metric not in _DECOMPOSABLE:
        raise ValueError(
            f"metric {metric!r} does not decompose into per-worker sums; {what} supports "
            f"{_DECOMPOSABLE}.{hint}"
        )


def _check_loss(loss: Any) -> FocalLoss:
    if not isinstance(loss, FocalLoss):
        raise TypeError(
            f"loss must be a BinaryFocalLoss or MulticlassFocalLoss, got {type(loss).__name__}"
        )
    return loss


def _to_numpy(values: Any, name: str) -> np.ndarray | None:
    """A Dask array / Series / DataFrame column (or array-like) computed to NumPy."""
    if values is None:
        return None
    compute = getattr(values, "compute", None)
    computed = compute() if callable(compute) else values
    array = np.asarray(getattr(computed, "to_numpy", lambda: computed)())
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def init_score(loss: Any, y: Any, sample_weight: Any = None) -> float | np.ndarray:
    """Fit ``loss`` on the *global* labels and return its constant starting margin.

    Parameters
    ----------
    loss : BinaryFocalLoss or MulticlassFocalLoss
        Fitted in place (``loss.alpha_``), so that the training objective on every
        worker uses the class weights of the whole training set (``"balanced"`` and
        ``("effective_number", beta)`` alike: both from the global class counts).
    y : dask array or dask Series of shape (n_samples,), or array-like
        All training labels; computed to NumPy (one small vector).
    sample_weight : same kind as ``y``, default=None
        Row weights.

    Returns
    -------
    init : float (binary) or ndarray of shape (n_classes,)
        ``loss.init_score(y, sample_weight)`` on the computed labels.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da  # doctest: +SKIP
    >>> from gbfocal.losses import BinaryFocalLoss
    >>> from gbfocal.dask import init_score
    >>> y = np.array([0, 0, 0, 1])  # a dask array works the same way
    >>> loss = BinaryFocalLoss(alpha="balanced")
    >>> round(init_score(loss, y), 6) == round(loss.init_score(y), 6)
    True
    """
    loss = _check_loss(loss)
    labels = _to_numpy(y, "y")
    weight = _to_numpy(sample_weight, "sample_weight")
    return loss.init_score(labels, weight)


def base_margin(loss: Any, y: Any, sample_weight: Any = None) -> Any:
    """Per-row starting margins as a Dask array chunked like ``y``.

    Fits ``loss`` on the global labels (see :func:`init_score`) and repeats its
    starting margin on every row: shape ``(n,)`` for the binary loss, ``(n, K)``
    for the multiclass loss. Pass it as ``DaskDMatrix(base_margin=...)`` (XGBoost) or
    ``DaskLGBMClassifier.fit(init_score=...)`` (LightGBM). Predicted margins include
    it only where the prediction data carries it (an XGBoost DMatrix with
    ``base_margin``); otherwise add ``loss.init_score`` before ``loss.predict_proba``.

    Parameters
    ----------
    loss : BinaryFocalLoss or MulticlassFocalLoss
    y : dask array of shape (n_samples,)
        Training labels; their chunks define the chunks of the result.
    sample_weight : dask array of shape (n_samples,), default=None

    Returns
    -------
    margin : dask array of shape (n_samples,) or (n_samples, n_classes), float64
    """
    da = import_optional("dask.array", needed_by="gbfocal.dask.base_margin")
    init = init_score(loss, y, sample_weight)
    chunks = da.asarray(y).chunks[0]
    if np.ndim(init) == 0:
        return da.full(sum(chunks), float(init), chunks=(chunks,), dtype=np.float64)
    row = np.asarray(init, dtype=np.float64)
    ones = da.ones((sum(chunks), 1), chunks=(chunks, 1), dtype=np.float64)
    return ones * row[None, :]


class XGBoostDaskMetric(XGBoostMetric):
    """``custom_metric`` for ``xgboost.dask.train``: the global weighted mean.

    Kept for code written against gbfocal 0.1: the plain ``loss.xgb_metric`` /
    ``loss.xgb_eval(metric)`` (:class:`gbfocal.adapters.XGBoostMetric`) now all-reduces
    ``sum(w l)`` and ``sum(w)`` with :mod:`xgboost.collective` by itself in a distributed
    run. This class only refuses, at construction, the metrics that do not decompose.

    Parameters
    ----------
    loss : BinaryFocalLoss or MulticlassFocalLoss
    metric : {"focal_loss", "log_loss"}, default="focal_loss"
        Ranking metrics do not decompose into per-worker sums; for those use
        XGBoost's built-in distributed ``eval_metric="auc"`` / ``"aucpr"``.
    """

    def __init__(self, loss: FocalLoss, metric: str = "focal_loss") -> None:
        super().__init__(loss, metric)
        _check_decomposable(
            self.metric, "XGBoostDaskMetric",
            " For ranking metrics use XGBoost's built-in eval_metric='auc' or 'aucpr' "
            "(rank-based, so correct on the raw margins of a custom objective).",
        )


def _lightgbm_booster(model: Any) -> Any:
    booster = getattr(model, "booster_", model)  # LGBMClassifier / DaskLGBMClassifier
    if not hasattr(booster, "current_iteration") or not hasattr(booster, "model_to_string"):
        raise TypeError(
            "model must be a fitted lightgbm.DaskLGBMClassifier / LGBMClassifier or a "
            f"lightgbm.Booster, got {type(model).__name__}"
        )
    return booster


def _block_history(
    model_str: str, loss: FocalLoss, metric: str, x: Any, y: Any, weight: Any, init: Any
) -> np.ndarray:
    """``[sum(w l), sum(w)]`` after each boosting round, on one block of rows.

    ``model_str`` is the model as ``Booster.model_to_string(num_iteration=-1)``; every
    call scores with a Booster of its own built from it (see
    :func:`lightgbm_metric_history` for why).
    """
    import lightgbm

    # LightGBM's predict writes start_iteration / num_iteration into the C++ model it
    # scores with, under a lock shared by all predictions (LightGBM issue #6142): two
    # threads scoring different trees of one Booster use each other's trees (measured:
    # 340 of 600 calls wrong). A Booster of its own per call has nothing to share, unlike
    # a lock per Booster it also keeps a caller's threads predicting with the model out
    # of the way, and blocks still run in parallel. Building it parses the model string:
    # what unpickling a Booster on a worker does anyway, and less than the predictions.
    booster = lightgbm.Booster(model_str=model_str)
    n_rounds = booster.current_iteration()
    out = np.zeros((n_rounds, 2))
    y = np.asarray(y)
    if y.shape[0] == 0:
        return out
    w = None if weight is None else np.asarray(weight, dtype=np.float64)
    raw: float | np.ndarray = 0.0 if init is None else np.asarray(init, dtype=np.float64)
    for i in range(n_rounds):  # one tree per call: O(rounds), not O(rounds**2)
        # raw scores are a dense array (only pred_contrib can return sparse matrices)
        tree = cast(np.ndarray, booster.predict(x, raw_score=True, start_iteration=i,
                                                 num_iteration=1))
        raw = raw + tree
        out[i] = loss.metric_sums(metric, y, raw, w)
    return out


def lightgbm_metric_history(
    loss: Any,
    model: Any,
    X: Any,
    y: Any,
    sample_weight: Any = None,
    init_score: Any = None,
    metric: str = "focal_loss",
) -> np.ndarray:
    """Global weighted metric after every boosting round of a (Dask) LightGBM model.

    ``lightgbm.dask`` reports, in ``evals_result_``, the metric of one worker's share
    of the evaluation set only. This recomputes it over all rows: every block of
    ``X`` is scored on the workers, tree by tree, into ``sum(w l)`` and ``sum(w)``
    per round, and the sums are added up, so the result is ``sum(w l) / sum(w)``
    over the whole evaluation set however the rows are partitioned. Use it to pick
    the number of rounds (``predict(..., num_iteration=best)``) in place of early
    stopping, which ``lightgbm.dask`` would run per worker on local metrics.

    Parameters
    ----------
    loss : BinaryFocalLoss or MulticlassFocalLoss
        Fitted (``alpha_``), as after :func:`base_margin`.
    model : DaskLGBMClassifier, LGBMClassifier or lightgbm.Booster
        Trained with ``loss``'s objective.
    X : dask array of shape (n_samples, n_features), or array-like
    y : dask array of shape (n_samples,), or array-like
    sample_weight : like ``y``, default=None
    init_score : dask array of shape (n_samples,) or (n_samples, K), default=None
        The starting margins the model was trained from (:func:`base_margin`);
        LightGBM's raw scores do not include them.
    metric : {"focal_loss", "log_loss"}, default="focal_loss"
        Metrics that are a weighted mean over rows (ranking metrics do not add up
        across blocks).

    Returns
    -------
    history : ndarray of shape (n_rounds,)
        The metric after rounds 1, 2, ..., ``n_rounds``.

    Notes
    -----
    Every block is scored by a Booster of its own, built from the model string, so
    the result is the same under every Dask scheduler (threads, processes,
    distributed) and while other threads predict with ``model``.
    """
    loss = _check_loss(loss)
    _check_decomposable(metric, "lightgbm_metric_history")
    # All trees (-1), whatever best_iteration says; a string, so that no task shares
    # the caller's Booster: a copy per task makes any scheduler (threads included) and
    # a caller's own threads predicting with the model safe.
    model_str = _lightgbm_booster(model).model_to_string(num_iteration=-1)
    columns = [X, y, sample_weight, init_score]
    if not any(hasattr(a, "to_delayed") for a in columns):  # NumPy: one block
        sums = _block_history(model_str, loss, metric, *columns)
    else:
        import dask
        import dask.array as da

        blocks = _row_blocks(da, columns)
        shared = dask.delayed(model_str, pure=True)  # one graph key, not a copy per task
        task = dask.delayed(_block_history, pure=True)
        parts = [task(shared, loss, metric, *row) for row in blocks]
        sums = np.sum(dask.compute(*parts), axis=0)
    if np.any(sums[:, 1] <= 0):
        raise ValueError("sample_weight sums to zero: the weighted mean loss is undefined")
    return sums[:, 0] / sums[:, 1]


def _row_blocks(da: Any, columns: list[Any]) -> list[list[Any]]:
    """Delayed row blocks of the given arrays, all chunked like ``X``'s rows."""
    x = da.asarray(columns[0])
    x = x.rechunk({1: -1}) if x.ndim == 2 else x
    rows = x.chunks[0]
    lined_up = []
    for a in columns:
        if a is None:
            lined_up.append([None] * len(rows))
            continue
        d = da.asarray(a)
        if d.shape[0] != x.shape[0]:
            raise ValueError(f"got {d.shape[0]} rows, but X has {x.shape[0]}")
        d = d.rechunk((rows,) + tuple((n,) for n in d.shape[1:]))
        lined_up.append(list(d.to_delayed().reshape(len(rows), -1)[:, 0]))
    return [list(row) for row in zip(*lined_up, strict=True)]
