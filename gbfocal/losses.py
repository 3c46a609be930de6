"""Focal-loss objects with LightGBM and XGBoost adapters.

A loss object holds ``alpha``, ``gamma`` and ``hessian`` once, and hands the same
loss to every place that needs it: the training objective, the evaluation metric,
the initial score and the conversion of raw margins to probabilities. That is what
makes the classic mistakes impossible (tuning alpha/gamma while training with the
built-in log loss, a metric that weights classes differently from the objective, a
sigmoid applied to probabilities).

Neither LightGBM nor XGBoost is imported here: the adapters only call
``get_label()`` / ``get_weight()`` on the dataset they are handed. The ranking
metrics import scikit-learn lazily.
"""

from __future__ import annotations

import platform
import sys
import threading
import warnings
import weakref
from typing import Any

import numpy as np
from scipy import optimize, special

from . import _validation as v
from ._focal import (
    _grad_hess_checked,
    _resolve_alpha,
    binary_focal_grad_hess,
    binary_focal_loss,
    multiclass_focal_grad_hess,
    multiclass_focal_loss,
)
from ._optional import import_optional
from ._posterior import check_posterior_alpha, log_posterior, posterior_log_odds

__all__ = [
    "METRICS",
    "BinaryFocalLoss",
    "LightGBMMetric",
    "LightGBMSklearnMetric",
    "MulticlassFocalLoss",
    "XGBoostMetric",
    "XGBoostSklearnMetric",
]

#: Metric names accepted by ``lgb_eval`` / ``xgb_eval`` and whether higher is better.
METRICS: dict[str, bool] = {
    "focal_loss": False,
    "log_loss": False,
    "roc_auc": True,
    "average_precision": True,
}

# Half-width of the interval searched for the initial score: sigmoid(50) is 1 in
# float64, so a larger constant margin cannot lower the loss any further.
_INIT_BOUND = 50.0


# --------------------------------------------------------------------------- helpers
def _raw_weight(weight: Any) -> Any:
    """The weights as given, None when unweighted (LightGBM: None; XGBoost: empty array)."""
    return None if weight is None or np.size(weight) == 0 else weight


def _dataset_weight(dataset: Any) -> np.ndarray | None:
    """Row weights of a LightGBM Dataset / XGBoost DMatrix (None when unweighted)."""
    weight = _raw_weight(dataset.get_weight())
    return None if weight is None else np.asarray(weight, dtype=np.float64)


_NO_LABELS = (
    "the {kind} passed to the focal objective/metric has no labels: build it with the labels, "
    "e.g. lgb.Dataset(X, label=y) / xgb.DMatrix(X, label=y)"
)


def _dataset_label(dataset: Any) -> np.ndarray:
    """The labels as the library stores them; a missing or empty label is a clear error
    (XGBoost returns an empty array, which would otherwise read as 'y_true is empty')."""
    label = dataset.get_label()
    if label is None or np.size(label) == 0:
        raise ValueError(_NO_LABELS.format(kind=type(dataset).__name__))
    return np.asarray(label)  # the same object for an ndarray: the per-round cache keys on it


def _same_values(current: Any, cached: Any) -> bool:
    """True if ``current`` holds the values of ``cached`` (identity first: LightGBM hands
    the same array every round; XGBoost hands a fresh copy, compared by value)."""
    if current is cached:
        return True
    if current is None or cached is None:
        return False
    return np.shape(current) == np.shape(cached) and bool(np.array_equal(current, cached))


def _refcounts(arrays: tuple[np.ndarray, ...]) -> list[int]:
    return [sys.getrefcount(array) for array in arrays]


# What _refcounts reports for arrays that only their tuple refers to, measured through
# the same code (so it holds for any CPython version). Reference counts say nothing
# certain on other interpreters or without the GIL: there every round gets new arrays.
_FREE_REFCOUNT = _refcounts((np.empty(0),))[0]
_CAN_REUSE = platform.python_implementation() == "CPython" and getattr(
    sys, "_is_gil_enabled", lambda: True)()


def _unreferenced(arrays: tuple[np.ndarray, ...]) -> bool:
    return _CAN_REUSE and all(count == _FREE_REFCOUNT for count in _refcounts(arrays))


class _TrainingSet:
    """Checked labels and row weights of the training set an objective last saw.

    Kept so the per-round objective does not re-check labels and weights every
    boosting round. Never pickled (see ``_FocalLossBase.__getstate__``); holds only a
    weak reference to the Dataset / DMatrix.
    """

    __slots__ = ("alpha", "buffers", "dataset", "label", "labels", "raw_weight", "weight")

    def __init__(self, dataset: Any, label: Any, raw_weight: Any, labels: np.ndarray,
                 weight: np.ndarray | None, alpha: np.ndarray) -> None:
        try:
            self.dataset: Any = None if dataset is None else weakref.ref(dataset)
        except TypeError:  # an object without weak-reference support: compare values only
            self.dataset = None
        self.label, self.raw_weight = label, raw_weight  # as the library handed them
        self.labels, self.weight = labels, weight  # checked
        # the class weights this training set is boosted with: kept here, not only in the
        # loss's alpha_, so that two trainings sharing one loss object never mix them
        self.alpha = alpha
        self.buffers: tuple[np.ndarray, np.ndarray] | None = None

    def take_buffers(self, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """float32 gradient and Hessian arrays to write this round's result into.

        Last round's arrays when nothing but this cache refers to them any more (the
        library has copied them into its own storage and dropped them), else new
        ones. Reusing them spares the page faults of touching 2 x 4 x n fresh bytes
        every round, which on some machines cost more than the focal math itself. An
        array the caller still holds (or any view of it) is never overwritten; the
        pair stays out of the cache until :meth:`keep_buffers`, so two threads never
        write into one pair.
        """
        buffers, self.buffers = self.buffers, None
        if buffers is None or buffers[0].shape != shape or not _unreferenced(buffers):
            buffers = (np.empty(shape, np.float32), np.empty(shape, np.float32))
        return buffers

    def keep_buffers(self, grad: np.ndarray, hess: np.ndarray) -> None:
        self.buffers = (grad, hess)

    def matches(self, dataset: Any, label: Any, raw_weight: Any) -> bool:
        if self.dataset is not None and self.dataset() is not dataset:
            return False
        return _same_values(label, self.label) and _same_values(raw_weight, self.raw_weight)


# Training sets a loss object remembers at once (several concurrent trainings may share
# one loss; the oldest is forgotten first).
_MAX_TRAINING_SETS = 8
# One lock for every loss object's training-set list: it is held only to look up or
# insert a cache entry, never while gradients are computed.
_TRAINING_SETS_LOCK = threading.Lock()


def _weighted_mean(values: np.ndarray, sample_weight: np.ndarray | None) -> float:
    """``sum(values) / sum(w)`` for values already multiplied by the weights ``w``."""
    total = values.shape[0] if sample_weight is None else float(np.sum(sample_weight))
    if total <= 0:
        raise ValueError("sample_weight sums to zero: the weighted mean loss is undefined")
    return float(np.sum(values) / total)


def _sklearn_metrics() -> Any:
    return import_optional("sklearn.metrics", needed_by="the roc_auc and average_precision metrics")


def _check_metric(metric: Any) -> str:
    if not isinstance(metric, str) or metric not in METRICS:
        raise ValueError(f"metric must be one of {tuple(METRICS)}, got {metric!r}")
    return metric


# --------------------------------------------------------------------------- base class
class _FocalLossBase:
    """Shared machinery of :class:`BinaryFocalLoss` and :class:`MulticlassFocalLoss`."""

    _binary: bool
    n_classes: int
    alpha: Any
    gamma: float
    hessian: str
    # True once the user called fit() or init_score(): the objective then keeps alpha_
    # (e.g. resolved from the global labels before distributed training) instead of
    # re-resolving it from the training set (or partition) it is handed.
    _fitted_explicitly: bool = False

    def __getstate__(self) -> dict[str, Any]:
        # The per-training-set cache holds a weak reference and large arrays: never copy
        # it (lgb.train deep-copies params; boosters pickle their objective).
        state = dict(self.__dict__)
        state.pop("_train_caches", None)
        return state

    def _validate(self) -> None:
        v.check_alpha_spec(self.alpha, self.n_classes, binary=self._binary)
        v.check_gamma(self.gamma)
        v.check_hessian(self.hessian)

    def __repr__(self) -> str:
        args = [] if self._binary else [f"n_classes={self.n_classes}"]
        args += [f"alpha={self.alpha!r}", f"gamma={self.gamma!r}", f"hessian={self.hessian!r}"]
        return f"{type(self).__name__}({', '.join(args)})"

    # ------------------------------------------------------------------ state
    def fit(self, y: Any, sample_weight: Any = None) -> _FocalLossBase:
        """Resolve the per-class weights ``alpha_`` from the training labels.

        Parameters
        ----------
        y : array-like of shape (n_samples,)
            Training labels: 0/1 (binary) or class indices ``0..n_classes-1``.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights; they enter ``alpha="balanced"`` as weighted class counts.

        Returns
        -------
        self
            With ``alpha_``, an ndarray of shape ``(n_classes,)`` (all ones for
            ``alpha=None``; ``[1 - a, a]`` for a binary float ``a``).

        Notes
        -----
        An explicit call (this method or :meth:`init_score`) fixes ``alpha_``: the
        training objectives then keep it instead of resolving it from the data they
        are handed. Fit on the global labels before distributed training (Dask),
        where each worker's objective only sees its partition.
        """
        labels = self._check_labels(y)
        self._fit_checked(labels, v.check_sample_weight(sample_weight, labels.shape[0]))
        self._fitted_explicitly = True
        return self

    def _fit_checked(self, labels: np.ndarray, weight: np.ndarray | None) -> None:
        """Resolve ``alpha_`` from checked labels and weights (the automatic fit)."""
        self.alpha_ = self._resolved_alpha(labels, weight)

    def _resolved_alpha(self, labels: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
        alpha = _resolve_alpha(self.alpha, labels, self.n_classes, weight, binary=self._binary)
        return np.ones(self.n_classes) if alpha is None else alpha

    def _check_labels(self, y: Any) -> np.ndarray:
        n = np.shape(y)[0] if np.ndim(y) == 1 else -1
        if self._binary:
            return v.check_binary_labels(y, n)
        return v.check_multiclass_labels(y, n, self.n_classes)

    def _alpha_arg(self, y: Any, sample_weight: Any) -> np.ndarray | None:
        """The class weights to hand to the math (None: all ones, the fast path)."""
        if self.alpha is None:
            return None
        if not hasattr(self, "alpha_"):
            labels = self._check_labels(y)
            self._fit_checked(labels, v.check_sample_weight(sample_weight, labels.shape[0]))
        return self.alpha_

    # ------------------------------------------------------------------ NumPy level
    def loss(self, y: Any, raw_score: Any, sample_weight: Any = None) -> np.ndarray:
        """Per-row focal loss from raw margins, weighted by ``alpha_`` and ``sample_weight``.

        Fits ``alpha_`` on ``y`` first if the object is not fitted yet.
        """
        raw = self._check_margins(raw_score, np.shape(y)[0] if np.ndim(y) == 1 else -1)
        alpha = self._alpha_arg(y, sample_weight)
        fn = binary_focal_loss if self._binary else multiclass_focal_loss
        return fn(y, raw, alpha=alpha, gamma=self.gamma, sample_weight=sample_weight)

    def grad_hess(
        self, y: Any, raw_score: Any, sample_weight: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and Hessian with respect to the raw margins (float64).

        Shapes: ``(n_samples,)`` for the binary loss, ``(n_samples, n_classes)``
        (samples in rows) for the multiclass loss. Fits ``alpha_`` on ``y`` first
        if the object is not fitted yet.
        """
        raw = self._check_margins(raw_score, np.shape(y)[0] if np.ndim(y) == 1 else -1)
        alpha = self._alpha_arg(y, sample_weight)
        fn = binary_focal_grad_hess if self._binary else multiclass_focal_grad_hess
        return fn(
            y, raw, alpha=alpha, gamma=self.gamma, sample_weight=sample_weight,
            hessian=self.hessian,
        )

    def _check_margins(
        self, raw_score: Any, n_samples: int, *, keep_float32: bool = False
    ) -> np.ndarray:
        """Raw margins as float64 of the expected shape (finiteness is checked later)."""
        z = v._as_float_array(raw_score, "raw_score", keep_float32=keep_float32)
        if self._binary:
            if z.ndim == 2 and z.shape[1] == 1:
                z = z[:, 0]
            return z  # the math rejects 2-D input with a message about probabilities
        if z.ndim == 2 and z.shape[1] != self.n_classes:
            raise ValueError(
                f"raw_score has {z.shape[1]} columns but the loss was built for "
                f"n_classes={self.n_classes}"
            )
        return z

    # ------------------------------------------------------------------ library adapters
    def _objective(
        self, preds: Any, dataset: Any, *, flat_order: str | None
    ) -> tuple[np.ndarray, np.ndarray]:
        return self._training_grad_hess(
            preds, dataset, _dataset_label(dataset), _raw_weight(dataset.get_weight()), flat_order
        )

    def _training_grad_hess(
        self, preds: Any, dataset: Any, label: Any, raw_weight: Any, flat_order: str | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """float32 gradient and Hessian, shaped like the margins ((n,) or (n, K)).

        The per-round path of every objective adapter: the labels and weights are
        checked once per training set (see :meth:`_training_set`), the margins every
        round, and the kernels write float32 straight away.
        """
        cache = self._training_set(dataset, label, raw_weight)
        labels, n = cache.labels, cache.labels.shape[0]
        # float32 margins (XGBoost's) go to the kernels as they are: no float64 copy.
        raw, _ = self._library_margins(preds, n, flat_order, keep_float32=True)
        if self._binary:
            z = v.check_raw_score_binary(self._check_margins(raw, n, keep_float32=True),
                                         keep_float32=True)
            if z.shape[0] != n:
                raise ValueError(f"raw_score has {z.shape[0]} samples but the labels have {n}")
        else:
            z = v.check_raw_score_multiclass(self._check_margins(raw, -1, keep_float32=True),
                                             n, keep_float32=True)
        alpha = None if self.alpha is None else cache.alpha
        grad, hess = _grad_hess_checked(
            labels, z, alpha, cache.weight, v.check_gamma(self.gamma),
            v.check_hessian(self.hessian) == "positive", binary=self._binary, dtype=np.float32,
            out=cache.take_buffers(z.shape),
        )
        cache.keep_buffers(grad, hess)
        return grad, hess

    def _training_set(self, dataset: Any, label: Any, raw_weight: Any) -> _TrainingSet:
        """Checked labels and weights of this training set, cached across boosting rounds.

        A different Dataset / DMatrix, or different labels or weights, is a new training
        set: checked again and, unless the user fitted the loss explicitly, ``alpha_``
        is resolved from it. Each training set keeps the class weights it was resolved
        with (``cache.alpha``), so concurrent trainings that share one loss object (threads)
        each boost with their own; ``alpha_`` is the most recently resolved one.
        """
        with _TRAINING_SETS_LOCK:
            caches: list[_TrainingSet] = self.__dict__.setdefault("_train_caches", [])
            for cache in reversed(caches):
                if cache.matches(dataset, label, raw_weight):
                    return cache
        labels = self._check_labels(label)
        weight = v.check_sample_weight(raw_weight, labels.shape[0])
        if self._fitted_explicitly and hasattr(self, "alpha_"):
            alpha = self.alpha_
        else:
            alpha = self._resolved_alpha(labels, weight)
            self.alpha_ = alpha
        cache = _TrainingSet(dataset, label, raw_weight, labels, weight, alpha)
        with _TRAINING_SETS_LOCK:
            caches = self.__dict__.setdefault("_train_caches", [])
            caches.append(cache)
            del caches[:-_MAX_TRAINING_SETS]
        return cache

    def _library_margins(
        self, preds: Any, n_samples: int, flat_order: str | None, *, keep_float32: bool = False
    ) -> tuple[np.ndarray, bool]:
        """Margins from a library, reshaping a flattened multiclass layout only if known."""
        z = np.asarray(preds)
        if not (keep_float32 and z.dtype == np.float32):
            z = z.astype(np.float64, copy=False)
        if self._binary or z.ndim != 1:
            return z, False
        k = self.n_classes
        if flat_order is not None and z.size == n_samples * k:
            return z.reshape(n_samples, k, order=flat_order), True
        raise ValueError(
            f"multiclass raw predictions arrived flattened, shape {z.shape}, for "
            f"{n_samples} samples and n_classes={k}; expected ({n_samples}, {k}). "
            "LightGBM >= 4 and XGBoost >= 2 pass 2-D arrays: upgrade the library, or check "
            "that n_classes / num_class match."
        )

    def lgb_objective(self, preds: Any, train_data: Any) -> tuple[np.ndarray, np.ndarray]:
        """LightGBM >= 4 custom objective: ``params["objective"] = loss.lgb_objective``.

        Receives raw margins (``(n,)`` binary, ``(n, K)`` multiclass) and the training
        ``lgb.Dataset``; returns float32 gradient and Hessian of the same shape,
        multiplied by the Dataset's weights (LightGBM does not apply them itself).
        """
        grad, hess = self._objective(preds, train_data, flat_order=None)
        # LightGBM stores float32 and flattens (n, K) in Fortran order: hand it
        # exactly that, so its own conversion is a no-op instead of a copy.
        return np.asfortranarray(grad), np.asfortranarray(hess)

    def xgb_objective(self, predt: Any, dtrain: Any) -> tuple[np.ndarray, np.ndarray]:
        """XGBoost custom objective: ``xgb.train(params, dtrain, obj=loss.xgb_objective)``.

        ``predt`` is float32 raw margins, ``(n,)`` or ``(n, K)``; returns float32
        gradient and Hessian of the same shape, multiplied by the DMatrix weights.
        """
        # A flattened multiclass layout (XGBoost < 2) is reshaped to (n, K), which is
        # what XGBoost >= 2.1 wants back; the kernels write C-contiguous float32.
        return self._objective(predt, dtrain, flat_order="C")

    def lgb_metric(self, preds: Any, eval_data: Any) -> tuple[str, float, bool]:
        """LightGBM ``feval``: ``("focal_loss", weighted mean focal loss, False)``."""
        return LightGBMMetric(self, "focal_loss")(preds, eval_data)

    def xgb_metric(self, predt: Any, dmatrix: Any) -> tuple[str, float]:
        """XGBoost ``custom_metric``: ``("focal_loss", weighted mean focal loss)``."""
        return XGBoostMetric(self, "focal_loss")(predt, dmatrix)

    def lgb_eval(self, metric: str = "focal_loss") -> LightGBMMetric:
        """A picklable LightGBM ``feval`` computing ``metric`` from raw margins."""
        return LightGBMMetric(self, metric)

    def xgb_eval(self, metric: str = "focal_loss") -> XGBoostMetric:
        """A picklable XGBoost ``custom_metric`` computing ``metric`` from raw margins."""
        return XGBoostMetric(self, metric)

    def sklearn_objective(
        self, y_true: Any, y_pred: Any, sample_weight: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Objective for ``LGBMClassifier(objective=...)`` and ``XGBClassifier(objective=...)``.

        Both scikit-learn APIs call it with the encoded labels, the raw margins and
        the sample weights (LightGBM positionally, XGBoost as ``sample_weight=``).
        Returns float32 arrays of the shape of ``y_pred``.
        """
        return self._training_grad_hess(y_pred, None, y_true, _raw_weight(sample_weight), None)

    def lgb_sklearn_eval(self, metric: str = "focal_loss") -> LightGBMSklearnMetric:
        """A picklable ``eval_metric`` for ``lgb.LGBMClassifier.fit``."""
        return LightGBMSklearnMetric(self, metric)

    def xgb_sklearn_eval(self, metric: str = "focal_loss") -> XGBoostSklearnMetric:
        """A picklable ``eval_metric`` for ``xgb.XGBClassifier``."""
        return XGBoostSklearnMetric(self, metric)

    # ------------------------------------------------------------------ metrics
    def _metric_value(
        self, metric: str, y: Any, raw_score: Any, sample_weight: np.ndarray | None
    ) -> float:
        """``metric`` on raw margins, weighted by ``sample_weight``."""
        if isinstance(self.alpha, str) and not hasattr(self, "alpha_"):
            # Fitting here would take the class weights from the *validation* labels,
            # silently unlike the objective's. lgb.train deep-copies params, so the
            # objective fits a copy and never this object: the user must fit it.
            raise ValueError(
                f"alpha={self.alpha!r} is resolved from the training labels, but this loss "
                "object has not seen them (lgb.train deep-copies params, so the objective "
                "fits a copy). Call loss.init_score(y_train, sample_weight) - needed for the "
                "starting margin anyway - or loss.fit(y_train, sample_weight) before training."
            )
        raw = self._check_margins(raw_score, np.shape(y)[0] if np.ndim(y) == 1 else -1)
        if metric == "focal_loss":
            return _weighted_mean(self.loss(y, raw, sample_weight), sample_weight)
        if metric == "log_loss":
            # log loss of the probabilities predict_proba reports (the focal posterior):
            # the plain link of a focal model is biased towards 1/2 by design.
            fn = binary_focal_loss if self._binary else multiclass_focal_loss
            corrected = self.posterior_margin(raw)
            values = fn(y, corrected, gamma=0.0, sample_weight=sample_weight)
            return _weighted_mean(values, sample_weight)
        labels = self._check_labels(y)
        self.check_metric_defined(metric, labels, sample_weight)
        metrics = _sklearn_metrics()
        score = metrics.roc_auc_score if metric == "roc_auc" else metrics.average_precision_score
        if self._binary:
            # Ranking metrics are invariant under the monotone sigmoid: ranking the
            # margins avoids the ties that sigmoid creates once it saturates at 1.0.
            v.check_raw_score_binary(raw)
            return float(score(labels, raw, sample_weight=sample_weight))
        proba = self.predict_proba(raw, check_input=False)
        if metric == "roc_auc":
            return float(
                score(labels, proba, multi_class="ovr", average="macro",
                      labels=np.arange(self.n_classes), sample_weight=sample_weight)
            )
        onehot = np.eye(self.n_classes, dtype=np.int8)[labels]
        return float(score(onehot, proba, average="macro", sample_weight=sample_weight))

    def check_metric_defined(
        self, metric: str, labels: np.ndarray, sample_weight: np.ndarray | None = None,
        *, name: str = "the evaluation data",
    ) -> None:
        """Raise ValueError when ``metric`` is undefined on these labels.

        ROC AUC and average precision need every class with positive weight (one-vs-rest
        for multiclass): otherwise they are NaN every round and early stopping would
        silently keep the first round.
        """
        if not METRICS[_check_metric(metric)]:
            return  # the losses are defined for any labels
        counts = np.bincount(labels, weights=sample_weight, minlength=self.n_classes)
        missing = np.flatnonzero(counts <= 0)
        if missing.size:
            raise ValueError(
                f"{metric} is undefined on {name}: classes {missing.tolist()} (class indices) "
                "have no rows (or zero weight), so the metric would be NaN every round and "
                "early stopping would keep round 1. Use a validation set with every class "
                "(a stratified split), or eval_metric='log_loss'"
            )

    # ------------------------------------------------------------------ probabilities
    def _posterior_alpha(self) -> np.ndarray | None:
        """The class weights the posterior correction needs (None: all ones)."""
        if self.alpha is None:
            return None
        if not hasattr(self, "alpha_"):
            if isinstance(self.alpha, str):
                raise ValueError(
                    f"alpha={self.alpha!r} is resolved from the training labels, but this loss "
                    "object has not seen them, and corrected probabilities need the resolved "
                    "class weights: call loss.fit(y_train, sample_weight) (or init_score) first"
                )
            return check_posterior_alpha(self.alpha, self.n_classes)
        return check_posterior_alpha(self.alpha_, self.n_classes)

    def posterior_margin(self, raw_score: Any) -> np.ndarray:
        """Raw margins mapped to margins of the class posterior (focal correction).

        Binary: the log-odds of the posterior ``(n,)``; multiclass: its log
        probabilities ``(n, K)``. Their sigmoid / softmax is
        :func:`gbfocal.focal_posterior` with this loss's ``alpha_`` and ``gamma``.
        """
        z = self._check_margins(raw_score, -1)
        gamma = v.check_gamma(self.gamma)
        if self._binary:
            return posterior_log_odds(v.check_raw_score_binary(z), self._posterior_alpha(), gamma)
        z = v.check_raw_score_multiclass(z, z.shape[0] if z.ndim == 2 else -1)
        return log_posterior(z, self._posterior_alpha(), gamma)

    # ------------------------------------------------------------------ subclass API
    def init_score(self, y: Any, sample_weight: Any = None) -> Any:  # pragma: no cover
        raise NotImplementedError

    def predict_proba(
        self, raw_score: Any, *, corrected: bool = True, check_input: bool = True
    ) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


# --------------------------------------------------------------------------- binary
class BinaryFocalLoss(_FocalLossBase):
    """Binary (sigmoid) focal loss for LightGBM and XGBoost.

    ``FL = -a_t (1 - p_t)**gamma log(p_t)`` with ``p = sigmoid(raw margin)``.

    Parameters
    ----------
    alpha : None, float, sequence of 2 floats or "balanced", default=None
        Class weights ``a_t``. None: 1 for both classes. A float ``a``
        in [0, 1]: ``a`` for the positive class, ``1 - a`` for the negative one.
        ``[a_negative, a_positive]``: explicit weights.
        "balanced": ``n / (2 n_c)`` from the training labels (resolved by
        :meth:`fit`, which the training objective calls).
    gamma : float, default=2.0
        Focusing parameter ``>= 0``; 0 gives (alpha-weighted) log loss.
    hessian : {"positive", "exact"}, default="positive"
        "positive" keeps Newton steps well defined (the exact focal Hessian is
        negative for badly misclassified rows); "exact" is the true second derivative.

    Attributes
    ----------
    alpha_ : ndarray of shape (2,)
        Per-class weights resolved by :meth:`fit` (all ones for ``alpha=None``).
        An unfitted loss fits itself from the first training set its objective is
        handed (and again from a different training set). After an explicit
        :meth:`fit` or :meth:`init_score` the objectives keep ``alpha_`` as it is,
        e.g. resolved from the global labels in distributed (Dask) training, where
        each worker only sees its partition.

    Notes
    -----
    The adapters follow each library's calling convention:

    ========================  ===============================================
    LightGBM ``lgb.train``    ``params["objective"] = loss.lgb_objective``,
                              ``feval=loss.lgb_metric`` or ``loss.lgb_eval(m)``
    XGBoost ``xgb.train``     ``obj=loss.xgb_objective``,
                              ``custom_metric=loss.xgb_metric`` or ``loss.xgb_eval(m)``
    ``LGBMClassifier``        ``objective=loss.sklearn_objective``,
                              ``fit(eval_metric=loss.lgb_sklearn_eval(m))``
    ``XGBClassifier``         ``objective=loss.sklearn_objective``,
                              ``eval_metric=loss.xgb_sklearn_eval(m)``
    ========================  ===============================================

    ``m`` is one of :data:`METRICS`. Under a custom objective both libraries
    start from a zero margin (XGBoost: from ``base_score``) and return raw margins:
    pass :meth:`init_score` as the starting margin and convert predictions with
    :meth:`predict_proba`. Sample weights stored in the Dataset / DMatrix multiply
    the gradient and Hessian; the metrics are weighted means ``sum(w l) / sum(w)``.

    Examples
    --------
    >>> import numpy as np
    >>> from gbfocal.losses import BinaryFocalLoss
    >>> y = np.array([0, 0, 0, 1])
    >>> loss = BinaryFocalLoss(alpha="balanced", gamma=2.0).fit(y)
    >>> loss.alpha_
    array([0.66666667, 2.        ])
    >>> init = BinaryFocalLoss(gamma=0.0).init_score(y)  # log-odds of the positive rate
    >>> bool(np.isclose(init, np.log(1 / 3)))
    True
    >>> loss.predict_proba([-2.0, 0.0, 3.0], corrected=False).round(4)  # sigmoid
    array([[0.8808, 0.1192],
           [0.5   , 0.5   ],
           [0.0474, 0.9526]])
    >>> loss.predict_proba([0.0]).round(4)  # focal posterior: a_0 / (a_0 + a_1) at z = 0
    array([[0.75, 0.25]])
    """

    _binary = True

    def __init__(self, alpha: Any = None, gamma: float = 2.0, hessian: str = "positive") -> None:
        self.n_classes = 2
        self.alpha = alpha
        self.gamma = gamma
        self.hessian = hessian
        self._validate()

    def init_score(self, y: Any, sample_weight: Any = None) -> float:
        """Constant raw margin minimising the weighted focal loss on ``(y, sample_weight)``."""
        labels = self._check_labels(y)
        weight = v.check_sample_weight(sample_weight, labels.shape[0])
        self.fit(labels, weight)
        totals = np.bincount(labels, weights=weight, minlength=2) * self.alpha_
        return _minimise_binary(totals, v.check_gamma(self.gamma))

    def predict_proba(
        self, raw_score: Any, *, corrected: bool = True, check_input: bool = True
    ) -> np.ndarray:
        """Class probabilities ``(n, 2)`` from raw margins.

        Parameters
        ----------
        raw_score : array-like of shape (n_samples,)
            Raw margins, e.g. ``booster.predict(X, raw_score=True)``.
        corrected : bool, default=True
            True: the class posterior of the focal risk minimiser,
            :func:`gbfocal.focal_posterior` (the sigmoid of a focal model's margin is
            biased towards 1/2). False: ``[1 - sigmoid(z), sigmoid(z)]``, the plain link.
            Both are the same for ``gamma=0, alpha=None``.
        check_input : bool, default=True
            Warn when every margin lies in [0, 1] (probabilities passed by mistake).
            Pass False when ``raw_score`` is known to be margins (a small model's
            margins can all lie there); shape and finiteness are always checked.
        """
        z = self._check_margins(raw_score, -1)
        z = v.check_raw_score_binary(z)
        if check_input and z.size > 1 and ((z >= 0) & (z <= 1)).all():
            warnings.warn(
                "predict_proba received raw scores that all lie in [0, 1]: these look like "
                "probabilities, not raw margins. Applying the sigmoid to probabilities is a "
                "classic mistake; pass booster.predict(X, raw_score=True) (LightGBM) or "
                "output_margin=True (XGBoost).",
                UserWarning,
                stacklevel=2,
            )
        t = self.posterior_margin(z) if corrected else z
        return np.column_stack([special.expit(-t), special.expit(t)])


# --------------------------------------------------------------------------- multiclass
class MulticlassFocalLoss(_FocalLossBase):
    """Multiclass (softmax) focal loss for LightGBM and XGBoost.

    ``FL = -a_y (1 - p_y)**gamma log(p_y)`` with ``p = softmax(raw margins)``.

    Parameters
    ----------
    n_classes : int
        Number of classes ``K >= 2``; labels are class indices ``0..K-1``.
    alpha : None, float, sequence of K floats or "balanced", default=None
        Class weights ``a_y``. None: all 1. A sequence: one weight per class (a
        single float is rejected: it only means something for the binary loss).
        "balanced": ``n / (K n_c)`` from the training labels (resolved by
        :meth:`fit`, which the training objective calls).
    gamma : float, default=2.0
        Focusing parameter ``>= 0``; 0 gives (alpha-weighted) log loss.
    hessian : {"positive", "exact"}, default="positive"
        "positive" keeps Newton steps well defined (the exact focal Hessian is
        negative for badly misclassified rows); "exact" is the true second derivative.

    Attributes
    ----------
    alpha_ : ndarray of shape (n_classes,)
        Per-class weights resolved by :meth:`fit` (all ones for ``alpha=None``).
        An unfitted loss fits itself from the first training set its objective is
        handed (and again from a different training set). After an explicit
        :meth:`fit` or :meth:`init_score` the objectives keep ``alpha_`` as it is,
        e.g. resolved from the global labels in distributed (Dask) training, where
        each worker only sees its partition.

    Notes
    -----
    The adapters follow each library's calling convention:

    ========================  ===============================================
    LightGBM ``lgb.train``    ``params["objective"] = loss.lgb_objective``,
                              ``feval=loss.lgb_metric`` or ``loss.lgb_eval(m)``
    XGBoost ``xgb.train``     ``obj=loss.xgb_objective``,
                              ``custom_metric=loss.xgb_metric`` or ``loss.xgb_eval(m)``
    ``LGBMClassifier``        ``objective=loss.sklearn_objective``,
                              ``fit(eval_metric=loss.lgb_sklearn_eval(m))``
    ``XGBClassifier``         ``objective=loss.sklearn_objective``,
                              ``eval_metric=loss.xgb_sklearn_eval(m)``
    ========================  ===============================================

    ``m`` is one of :data:`METRICS`. Under a custom objective both libraries
    start from a zero margin (XGBoost: from ``base_score``) and return raw margins:
    pass :meth:`init_score` as the starting margin and convert predictions with
    :meth:`predict_proba`. Sample weights stored in the Dataset / DMatrix multiply
    the gradient and Hessian; the metrics are weighted means ``sum(w l) / sum(w)``.

    Examples
    --------
    >>> import numpy as np
    >>> from gbfocal.losses import MulticlassFocalLoss
    >>> y = np.array([0, 0, 1, 2])
    >>> loss = MulticlassFocalLoss(3, alpha="balanced").fit(y)
    >>> loss.alpha_.round(4)
    array([0.6667, 1.3333, 1.3333])
    >>> init = MulticlassFocalLoss(3, gamma=0.0).init_score(y)  # centred log shares
    >>> np.allclose(init, np.log([2, 1, 1]) - np.log([2, 1, 1]).mean())
    True
    >>> loss.predict_proba([[0.0, 0.0, 0.0], [2.0, 0.0, -2.0]], corrected=False).round(4)
    array([[0.3333, 0.3333, 0.3333],
           [0.8668, 0.1173, 0.0159]])
    >>> loss.predict_proba([[0.0, 0.0, 0.0]]).round(4)  # posterior: 1 / alpha_, normalised
    array([[0.5 , 0.25, 0.25]])
    """

    _binary = False

    def __init__(
        self,
        n_classes: int,
        alpha: Any = None,
        gamma: float = 2.0,
        hessian: str = "positive",
    ) -> None:
        self.n_classes = v.check_n_classes(n_classes)
        self.alpha = alpha
        self.gamma = gamma
        self.hessian = hessian
        self._validate()

    def init_score(self, y: Any, sample_weight: Any = None) -> np.ndarray:
        """Constant raw margins ``(n_classes,)``, mean zero, minimising the weighted focal loss."""
        labels = self._check_labels(y)
        weight = v.check_sample_weight(sample_weight, labels.shape[0])
        self.fit(labels, weight)
        totals = np.bincount(labels, weights=weight, minlength=self.n_classes) * self.alpha_
        return _minimise_multiclass(totals, v.check_gamma(self.gamma))

    def predict_proba(
        self, raw_score: Any, *, corrected: bool = True, check_input: bool = True
    ) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` from raw margins.

        Parameters
        ----------
        raw_score : array-like of shape (n_samples, n_classes)
            Raw margins, e.g. ``booster.predict(X, raw_score=True)``.
        corrected : bool, default=True
            True: the class posterior of the focal risk minimiser,
            :func:`gbfocal.focal_posterior`. False: ``softmax(z)``, the plain link.
            Both are the same for ``gamma=0, alpha=None``.
        check_input : bool, default=True
            Raise when every row looks like probabilities (in [0, 1], summing to 1).
            Pass False when ``raw_score`` is known to be margins; shape and
            finiteness are always checked.
        """
        z = self._check_margins(raw_score, -1)
        z = v.check_raw_score_multiclass(z, z.shape[0] if z.ndim == 2 else -1)
        looks_like_proba = ((z >= 0) & (z <= 1)).all() and np.allclose(
            z.sum(axis=1), 1.0, rtol=0, atol=1e-6
        )
        if check_input and looks_like_proba:
            raise ValueError(
                "predict_proba received raw scores whose rows are probabilities (in [0, 1], "
                "summing to 1): applying softmax to probabilities is a classic mistake. Pass raw "
                "margins: booster.predict(X, raw_score=True) (LightGBM) or output_margin=True "
                "(XGBoost)."
            )
        if not corrected or (self.alpha is None and v.check_gamma(self.gamma) == 0.0):
            return special.softmax(z, axis=1)
        return np.exp(self.posterior_margin(z))


# --------------------------------------------------------------------------- init score
def _minimise_binary(totals: np.ndarray, gamma: float) -> float:
    """argmin_c of ``W0 FL(0, c) + W1 FL(1, c)`` for class totals ``W = totals``."""
    y = np.array([0, 1])
    scale = 1.0 / totals.sum()

    def value(c: float) -> float:
        return float(binary_focal_loss(y, [c, c], gamma=gamma, sample_weight=totals).sum()) * scale

    def slope(c: float) -> float:
        grad, _ = binary_focal_grad_hess(y, [c, c], gamma=gamma, sample_weight=totals)
        return float(grad.sum()) * scale

    # A coarse grid locates the global minimum (focal loss is not convex in general),
    # then a root of the derivative inside the grid cell gives it to machine precision.
    grid = np.linspace(-_INIT_BOUND, _INIT_BOUND, 2001)
    values = binary_focal_loss(
        np.repeat(y, grid.size), np.tile(grid, 2), gamma=gamma,
        sample_weight=np.repeat(totals, grid.size),
    ).reshape(2, -1).sum(axis=0)
    i = int(np.argmin(values))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    if slope(lo) < 0 < slope(hi):
        return float(optimize.brentq(slope, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps))
    result = optimize.minimize_scalar(value, bounds=(lo, hi), method="bounded",
                                      options={"xatol": 1e-12})
    return float(result.x)


def _minimise_multiclass(totals: np.ndarray, gamma: float) -> np.ndarray:
    """argmin_c of ``sum_k W_k FL(k, c)``, gauge fixed by ``mean(c) = 0``."""
    k = totals.shape[0]
    y = np.arange(k)
    scale = 1.0 / totals.sum()

    def value_and_grad(c: np.ndarray) -> tuple[float, np.ndarray]:
        raw = np.broadcast_to(c, (k, k))
        loss = multiclass_focal_loss(y, raw, gamma=gamma, sample_weight=totals).sum()
        grad, _ = multiclass_focal_grad_hess(y, raw, gamma=gamma, sample_weight=totals)
        return float(loss) * scale, grad.sum(axis=0) * scale

    # Start at the log class shares: the exact answer for gamma = 0 (softmax cross-entropy).
    with np.errstate(divide="ignore"):
        start = np.clip(np.log(totals / totals.sum()), -_INIT_BOUND, _INIT_BOUND)
    start -= start.mean()
    result = optimize.minimize(
        value_and_grad, start, jac=True, method="L-BFGS-B",
        bounds=[(-2 * _INIT_BOUND, 2 * _INIT_BOUND)] * k,
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 500},
    )
    c = np.asarray(result.x, dtype=np.float64)
    return c - c.mean()


# --------------------------------------------------------------------------- metric callables
class _Metric:
    """A named metric computed from raw margins by a loss object (picklable)."""

    def __init__(self, loss: _FocalLossBase, metric: str = "focal_loss") -> None:
        if not isinstance(loss, _FocalLossBase):
            raise TypeError(
                f"loss must be a BinaryFocalLoss or MulticlassFocalLoss, got {type(loss).__name__}"
            )
        self.loss = loss
        self.metric = _check_metric(metric)

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

    def _from_dataset(self, preds: Any, dataset: Any, flat_order: str | None) -> float:
        y = _dataset_label(dataset)
        raw, _ = self.loss._library_margins(preds, y.shape[0], flat_order)
        return self.loss._metric_value(self.metric, y, raw, _dataset_weight(dataset))


class LightGBMMetric(_Metric):
    """LightGBM ``feval``: ``(preds, eval_data) -> (name, value, is_higher_better)``."""

    def __call__(self, preds: Any, eval_data: Any) -> tuple[str, float, bool]:
        return self.name, self._from_dataset(preds, eval_data, None), self.higher_is_better


class XGBoostMetric(_Metric):
    """XGBoost ``custom_metric``: ``(predt, dmatrix) -> (name, value)``.

    XGBoost does not ask a custom metric whether higher is better: pass
    ``maximize=metric.higher_is_better`` to ``xgb.train`` (or to
    ``xgb.callback.EarlyStopping``) when early stopping on roc_auc or average_precision.
    """

    def __call__(self, predt: Any, dmatrix: Any) -> tuple[str, float]:
        return self.name, self._from_dataset(predt, dmatrix, "C")


class LightGBMSklearnMetric(_Metric):
    """``eval_metric`` for ``lgb.LGBMClassifier.fit``: ``(y_true, y_pred, weight)``."""

    def __call__(self, y_true: Any, y_pred: Any, weight: Any = None) -> tuple[str, float, bool]:
        raw, _ = self.loss._library_margins(y_pred, np.shape(y_true)[0], None)
        w = None if weight is None else np.asarray(weight, dtype=np.float64)
        value = self.loss._metric_value(self.metric, y_true, raw, w)
        return self.name, value, self.higher_is_better


class XGBoostSklearnMetric(_Metric):
    """``eval_metric`` for ``xgb.XGBClassifier``: ``(y_true, y_score, sample_weight) -> value``.

    XGBoost reads the metric's name from ``__name__``.
    """

    def __init__(self, loss: _FocalLossBase, metric: str = "focal_loss") -> None:
        super().__init__(loss, metric)
        self.__name__ = self.name  # XGBoost's scikit-learn API names the metric by func.__name__

    def __call__(self, y_true: Any, y_score: Any, sample_weight: Any = None) -> float:
        raw, _ = self.loss._library_margins(y_score, np.shape(y_true)[0], None)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        return self.loss._metric_value(self.metric, y_true, raw, w)
