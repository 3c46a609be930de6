"""XGBoost training: one ``train`` for every gbfocal estimator and the tuner's fold models.

What training with a focal loss needs from ``xgb.train``: the loss as ``obj`` (reading a
DMatrix's labels and weights once per fit, :class:`ReadOnceViews`: XGBoost copies them out
on every call), gbfocal's metrics on raw margins as one ``custom_metric``
(:class:`XGBoostMetrics`; XGBoost never asks a custom metric which way is better, so early
stopping learns the first metric's direction from it, :func:`first_metric_stopping`),
the evaluation history and the rounds run. The starting margin is the caller's: a
``base_score`` in ``params`` (stored in the model) or a DMatrix's ``base_margin``.
"""

from __future__ import annotations

import copyreg
import ctypes
import functools
import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._categories import XGB_CATEGORIES_ATTR, category_columns, pandas_categories
from .._spec import METRICS
from .adapters import CallableMetric, Trained, history_length

__all__ = ["ReadOnce", "ReadOnceViews", "Trained", "XGBoostMetrics", "best_rounds", "boost",
           "dmatrix", "first_metric_stopping", "store_categories", "train"]


def dmatrix(xgb: Any, X: Any, label: Any = None, weight: Any = None, *,
            base_margin: Any = None, nthread: int | None = None,
            feature_names: Any = None) -> Any:
    """A DMatrix of ``X``; pandas ``category`` columns as XGBoost's categorical features.

    A DataFrame with category columns names its features itself (``feature_names`` is
    then not passed).
    """
    categorical = bool(category_columns(X))
    return xgb.DMatrix(
        X, label=label, weight=weight, base_margin=base_margin, nthread=nthread,
        feature_names=None if feature_names is None or categorical else list(feature_names),
        enable_categorical=categorical,
    )


def store_categories(booster: Any, X: Any) -> None:
    """Save the training categories in the booster (and so in its model file): XGBoost
    keeps them too, but gives them back only through pyarrow. Categories without a
    JSON form (XGBoost takes strings and integers) are left to XGBoost."""
    if not category_columns(X):
        return
    try:
        text = json.dumps(pandas_categories(X))
    except TypeError:
        return
    booster.set_attr(**{XGB_CATEGORIES_ATTR: text})


class ReadOnce:
    """A DMatrix as the estimator's own objective and metrics see it during one fit.

    Its labels, weights and row count are read once: XGBoost copies them out on every
    call (two copies per matrix per round, about a fifth of a small model's round), and
    nothing changes a matrix the estimator built while it trains. Everything else is the
    DMatrix's own.
    """

    def __init__(self, dmatrix: Any) -> None:
        self._dmatrix = dmatrix
        self._label = dmatrix.get_label()
        self._weight = dmatrix.get_weight()
        self._rows = dmatrix.num_row()

    def get_label(self) -> Any:
        return self._label

    def get_weight(self) -> Any:
        return self._weight

    def num_row(self) -> int:
        return int(self._rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dmatrix, name)


class ReadOnceViews:
    """One :class:`ReadOnce` per DMatrix of a fit (the same view every round, so that the
    loss's training-set cache recognises it), and the objective that reads through them."""

    def __init__(self, objective: Callable[..., Any]) -> None:
        self.objective = objective
        self._views: dict[int, ReadOnce] = {}

    def of(self, dmatrix: Any) -> ReadOnce:
        view = self._views.get(id(dmatrix))
        if view is None or view._dmatrix is not dmatrix:
            view = self._views[id(dmatrix)] = ReadOnce(dmatrix)
        return view

    def __call__(self, predt: Any, dtrain: Any) -> Any:
        return self.objective(predt, self.of(dtrain))


class XGBoostMetrics:
    """All of the estimator's metrics as one XGBoost ``custom_metric`` (a list of pairs).

    XGBoost takes one custom metric and never asks it whether higher is better: the
    direction of the first metric, the one early stopping watches, is kept in ``first``.
    """

    def __init__(self, entries: list[Any], views: ReadOnceViews | None = None) -> None:
        self.entries = entries
        self.views = views
        self.first: tuple[str, bool] | None = None

    def __call__(self, predt: Any, dmatrix: Any) -> list[tuple[str, float]]:
        if self.views is not None:
            dmatrix = self.views.of(dmatrix)
        results = []
        directions = []
        for entry in self.entries:
            if isinstance(entry, CallableMetric):
                name, value, higher = entry.evaluate(predt, dmatrix)
            else:
                name, value = entry(predt, dmatrix)
                higher = entry.higher_is_better
            # XGBoost parses "data-metric:value" tokens separated by white space
            if not name or ":" in name or any(c.isspace() for c in name):
                raise ValueError(f"eval_metric name {name!r} must be non-empty, without ':' "
                                 "or white space (XGBoost parses its evaluation log by them)")
            results.append((name, value))
            directions.append(higher)
        names = [name for name, _ in results]
        if len(set(names)) != len(names):
            raise ValueError(f"eval_metric names must be distinct, got {names}")
        self.first = (names[0], directions[0])
        return results


@functools.cache
def first_metric_stopping(xgb: Any) -> type:
    """XGBoost's EarlyStopping on the first metric, its direction learnt from it."""

    class FirstMetricEarlyStopping(xgb.callback.EarlyStopping):
        def __init__(self, *, metrics: XGBoostMetrics, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.metrics = metrics

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            # The metrics of this round ran before the callbacks: the first one's name and
            # direction (from a user's callable only then) are known.
            if getattr(self, "metric_name", None) is None and self.metrics.first is not None:
                self.metric_name, self.maximize = self.metrics.first
            return bool(super().after_iteration(model, epoch, evals_log))

    return FirstMetricEarlyStopping


def train(
    xgb: Any,
    params: dict[str, Any],
    loss: Any,
    dtrain: Any,
    evals: Sequence[tuple[Any, str]] = (),
    *,
    rounds: int,
    metrics: Sequence[str | Callable[..., Any]] = (),
    early_stopping_rounds: int | None = None,
    save_best: bool = True,
    verbose_period: int = 0,
    callbacks: Sequence[Any] = (),
    init_model: Any = None,
) -> Trained:
    """``xgb.train`` with the focal loss ``loss``: objective, metrics, early stopping, history.

    Parameters
    ----------
    xgb : module
        ``xgboost``.
    params : dict
        Booster parameters, with the starting margin's ``base_score`` (or the DMatrix
        objects carry a ``base_margin``); ``disable_default_eval_metric`` is set here.
    loss : FocalLoss
        The loss: its objective and metrics (its per-round interface).
    dtrain : xgboost.DMatrix
        The training data.
    evals : sequence of (DMatrix, name)
        Validation data.
    rounds : int
        Most boosting rounds.
    metrics : sequence of str or callable
        gbfocal metric names or ``func(y, raw, weight) -> (name, value,
        higher_is_better)``; early stopping watches the first.
    early_stopping_rounds : int or None
        Patience of early stopping on the first metric of the last validation set.
    save_best : bool, default=True
        Under early stopping, keep the rounds up to the best one only (as ``lgb.train``
        does: the booster, and a saved model, then predict what the estimator does).
    verbose_period : int
        Print the validation metrics every so many rounds (0: silent).
    callbacks : sequence
        The caller's own ``xgb.train`` callbacks.
    init_model : xgboost.Booster or None
        Continue this booster (warm start; its ``base_score`` stays).

    Returns
    -------
    Trained
        The booster, the rounds run (a warm start's included) and the history.
    """
    params = {**params, "disable_default_eval_metric": 1}
    views = ReadOnceViews(loss.xgb_objective)
    custom = XGBoostMetrics([
        loss.xgb_eval(metric) if isinstance(metric, str) else CallableMetric(metric, loss, "C")
        for metric in metrics
    ], views)
    callbacks = list(callbacks)
    if early_stopping_rounds is not None:
        first = metrics[0]
        callbacks.append(first_metric_stopping(xgb)(
            metrics=custom, rounds=early_stopping_rounds,
            metric_name=first if isinstance(first, str) else None,
            maximize=METRICS[first] if isinstance(first, str) else None,
            save_best=save_best,
        ))
    history: dict[str, Any] = {}
    booster = boost(
        xgb, params, dtrain, rounds, obj=views, evals=evals,
        custom_metric=custom if evals else None, evals_result=history,
        verbose_eval=verbose_period or False, callbacks=callbacks, xgb_model=init_model,
    )
    first_round = 0 if init_model is None else init_model.num_boosted_rounds()
    rounds_run = (first_round + history_length(history) if history
                  else booster.num_boosted_rounds())
    return Trained(booster, int(rounds_run), history)


# The margins XGBoost hands a custom objective and metric, as its C API gives them: a JSON
# prediction configuration (type 1: margins; all trees) per value of ``training``.
_MARGIN_CONFIGS = {training: json.dumps({
    "type": 1, "training": training, "iteration_begin": 0, "iteration_end": 0,
    "strict_shape": False}).encode() for training in (False, True)}


def _margin_reader(xgb: Any) -> Callable[..., Any] | None:
    """``read(booster, dmatrix, training)``: the margins ``booster.predict(dmatrix,
    output_margin=True, training=training)`` returns, straight from XGBoost's C function
    ``XGBoosterPredictFromDMatrix`` (its stable C API); None where the loaded library
    does not offer it (then the fit predicts through ``Booster.predict``)."""
    predict = getattr(getattr(xgb.core, "_LIB", None), "XGBoosterPredictFromDMatrix", None)
    if predict is None:
        return None

    def read(booster: Any, dmatrix: Any, training: bool) -> Any:
        shape = ctypes.POINTER(ctypes.c_uint64)()
        dims = ctypes.c_uint64()
        values = ctypes.POINTER(ctypes.c_float)()
        if predict(booster.handle, dmatrix.handle, _MARGIN_CONFIGS[training],
                   ctypes.byref(shape), ctypes.byref(dims), ctypes.byref(values)) != 0:
            return None  # Booster.predict raises XGBoost's own error
        size = tuple(int(shape[k]) for k in range(dims.value))
        if 0 in size:
            return np.empty(size, np.float32)
        # the buffer is the booster's, valid until its next prediction: copied at once
        return np.ctypeslib.as_array(values, shape=size).copy()

    return read


def _fit_booster(xgb: Any, dmatrices: Sequence[Any]) -> type:
    """A ``Booster`` class for one fit that skips XGBoost's per-call Python work on the
    fit's own matrices.

    Every custom-objective round, XGBoost's Python layer asks the booster for the training
    margins and, with a custom metric, for each evaluation set's margins
    (``Booster.predict``: a JSON configuration, a feature check that reads every feature
    name back from C, an array-interface class built per call: about 90 us each, measured
    with 36 features) and re-checks the feature names of the same matrices 4-5 times a round
    (``_assign_dmatrix_features``). On a few thousand rows that is a sixth of a round. For
    the matrices the booster was created with (its prediction cache), the feature check
    runs once per matrix, and the margins come straight from the C API: the same values
    (``tests/test_xgboost.py`` compares trees and logs with ``xgb.train``). Any other call,
    or a library without the C function, takes XGBoost's own path.
    """
    own = {id(d) for d in dmatrices}
    checked: set[int] = set()
    read = _margin_reader(xgb)

    class FitBooster(xgb.Booster):
        def _assign_dmatrix_features(self, data: Any) -> None:
            if id(data) in checked:
                return  # nothing changes a fit's matrices or the booster's feature names
            super()._assign_dmatrix_features(data)
            if id(data) in own:
                checked.add(id(data))

        def predict(self, data: Any, *, output_margin: bool = False, training: bool = False,
                    **kwargs: Any) -> Any:
            if output_margin and not kwargs and read is not None and id(data) in own:
                margins = read(self, data, training)
                if margins is not None:
                    return margins
            return super().predict(data, output_margin=output_margin, training=training,
                                   **kwargs)

        def __reduce_ex__(self, protocol: Any) -> Any:
            # pickled during the fit (a checkpoint callback): a plain Booster, restored as
            # pickle restores objects of protocols 0 and 1 (no gbfocal needed to load it)
            return (copyreg._reconstructor,  # type: ignore[attr-defined]  # not in typeshed
                    (xgb.Booster, object, None), self.__getstate__())

    return FitBooster


def boost(
    xgb: Any, params: dict[str, Any], dtrain: Any, rounds: int, *, obj: Callable[..., Any],
    evals: Sequence[tuple[Any, str]] = (), custom_metric: Any = None,
    evals_result: dict[str, Any] | None = None, verbose_eval: bool | int = False,
    callbacks: Sequence[Any] = (), xgb_model: Any = None, kept_margins: Any = None,
) -> Any:
    """The boosting rounds of every gbfocal XGBoost fit: ``xgb.train(..., obj=obj)``.

    The rounds are ``xgb.train``'s own loop (``Booster.update`` with ``obj``, the callbacks
    around it) on a booster of :func:`_fit_booster`'s class, which reads the margins of the
    fit's matrices without XGBoost's per-call Python work; the booster returned is a plain
    ``xgb.Booster``. Matrices other than plain ``DMatrix`` (``QuantileDMatrix`` and its
    reference checks) go to ``xgb.train`` itself.

    With ``kept_margins = (data, xp)`` the same rounds run without asking the booster for
    the training margins (``Booster.predict(training=True)`` hands them to Python as a
    fresh host array every round, even on a GPU): the loop keeps them in the array module
    ``xp``, the starting margins copied once, then each new tree's output on the training
    features ``data`` (``inplace_predict``) added, and ``obj`` receives them there (with
    CuPy features they never leave the GPU). XGBoost's own prediction cache adds each
    tree's float32 leaf values to float32 margins in the same way, so with ``base_score``
    0 (a single tree's margin is then its leaf value) both build the same model
    (tests/test_xgboost.py). Not for warm starts (``xgb_model``) or dart.
    """
    evals = list(evals)
    matrices = [dtrain] + [d for d, _ in evals]
    if kept_margins is None and any(type(d) is not xgb.DMatrix for d in matrices):
        return xgb.train(params, dtrain, num_boost_round=rounds, evals=evals, obj=obj,
                         custom_metric=custom_metric, evals_result=evals_result,
                         verbose_eval=verbose_eval, callbacks=list(callbacks) or None,
                         xgb_model=xgb_model)
    if kept_margins is not None and xgb_model is not None:
        raise ValueError("kept margins start from the DMatrix's base_margin: no xgb_model")
    callbacks = list(callbacks)
    if verbose_eval:
        callbacks.append(xgb.callback.EvaluationMonitor(
            period=1 if verbose_eval is True else int(verbose_eval)))
    container = xgb.callback.CallbackContainer(callbacks, metric=custom_metric,
                                               output_margin=True)
    booster = container.before_training(
        _fit_booster(xgb, matrices)(params, matrices, model_file=xgb_model))
    if kept_margins is None:
        for i in range(rounds):  # xgb.train's loop
            if container.before_iteration(booster, i, dtrain, evals):
                break
            booster.update(dtrain, iteration=i, fobj=obj)
            if container.after_iteration(booster, i, dtrain, evals):
                break
        return _finish(xgb, container, booster, evals_result)
    data, xp = kept_margins
    # no trees yet: the starting margins (base_margin, or 0), copied once into a buffer of ours
    margins = xp.array(booster.predict(dtrain, output_margin=True, training=True),
                       dtype=xp.float32)
    for i in range(rounds):
        if container.before_iteration(booster, i, dtrain, evals):
            break
        grad, hess = obj(margins, dtrain)
        booster.boost(dtrain, i, grad=grad, hess=hess)
        del grad, hess  # XGBoost copied them: the objective may reuse the buffers
        margins += booster.inplace_predict(data, iteration_range=(i, i + 1),
                                           predict_type="margin").reshape(margins.shape)
        if container.after_iteration(booster, i, dtrain, evals):
            break
    return _finish(xgb, container, booster, evals_result)


def _finish(xgb: Any, container: Any, booster: Any, evals_result: dict[str, Any] | None) -> Any:
    """What ``xgb.train`` does after the last round; the booster a plain ``xgb.Booster``."""
    booster = container.after_training(booster)
    if evals_result is not None:
        evals_result.update(container.history)
    if type(booster) is not xgb.Booster:
        booster.__class__ = xgb.Booster  # the fit's class holds the fit's matrices
    return booster.reset()


def best_rounds(booster: Any) -> int:
    """Rounds a booster trained by :func:`train` predicts with: its early-stopping best
    (XGBoost counts it from 0 and sets it only when early stopping ran), else all."""
    rounds = booster.num_boosted_rounds()
    try:
        return int(min(booster.best_iteration + 1, rounds))
    except AttributeError:
        return int(rounds)
