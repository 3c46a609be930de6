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
"""

from __future__ import annotations

import numbers
import platform
import sys
import threading
import warnings
import weakref
from typing import Any, Literal, TypeVar, cast

import numpy as np
from scipy import special

from . import _backend, _ranking
from . import _validation as v
from ._engines import adapters
from ._focal import labelled_pairs, pair_mean
from ._init_score import minimise_binary, minimise_multiclass
from ._posterior import log_posterior, positive_weights, posterior_log_odds
from ._spec import METRICS, FocalSpec, check_metric

__all__ = [
    "METRICS",
    "BinaryFocalLoss",
    "FocalLoss",
    "MultiLabelFocalLoss",
    "MultiOutputFocalLoss",
    "MulticlassFocalLoss",
    "TrainingSet",
]


# --------------------------------------------------------------------------- buffers
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


def _same_values(current: Any, cached: Any) -> bool:
    """True if ``current`` holds the values of ``cached`` (identity first: LightGBM hands
    the same array every round; XGBoost hands a fresh copy, compared by value)."""
    if current is cached:
        return True
    if current is None or cached is None:
        return False
    return np.shape(current) == np.shape(cached) and bool(np.array_equal(current, cached))


class TrainingSet:
    """Checked labels, row weights and class weights of one training set.

    Returned by :meth:`FocalLoss.training_set` and cached there, so that the per-round
    objective checks labels and weights once per training set, not every boosting round.
    Never pickled; holds only a weak reference to the Dataset / DMatrix.

    Attributes
    ----------
    labels : ndarray
        Checked labels: int8 0/1 (binary), intp class indices (multiclass), or ``(n, A)``
        intp codes (multi-output; the mask of labelled entries is ``mask``).
    weight : ndarray or None
        Checked row weights (``(n, A)`` per entry for multi-output), None when unweighted.
    class_weights : ndarray of shape (n_classes,)
        The resolved class weights this training set is boosted with (kept here and not
        only in the loss's ``alpha_``, so that two trainings sharing one loss object never
        mix them).
    n_rows : int
        Number of rows.
    """

    __slots__ = ("buffers", "class_weights", "dataset", "label", "labels", "mask", "n_rows",
                 "pair_combined", "pair_labels", "pair_weight", "raw_weight", "weight", "writer",
                 "writer_args")

    def __init__(self, dataset: Any, label: Any, raw_weight: Any, labels: np.ndarray,
                 weight: np.ndarray | None, class_weights: np.ndarray) -> None:
        try:
            self.dataset: Any = None if dataset is None else weakref.ref(dataset)
        except TypeError:  # an object without weak-reference support: compare values only
            self.dataset = None
        self.label, self.raw_weight = label, raw_weight  # as the library handed them
        self.labels, self.weight, self.class_weights = labels, weight, class_weights
        self.n_rows = int(labels.shape[0])
        self.mask: np.ndarray | None = None  # multi-output: labelled entries (n * A,)
        self.pair_labels: np.ndarray | None = None
        self.pair_weight: np.ndarray | None = None
        self.pair_combined: np.ndarray | None = None  # multi-label: class x row weight per pair
        self.buffers: tuple[np.ndarray, np.ndarray] | None = None
        # the compiled kernel of this loss's rounds, looked up once (None: the general path),
        # and the loss's constants it takes (read from the spec once, not every round)
        self.writer: Any = None
        self.writer_args: tuple[Any, ...] = ()

    def take_buffers(
        self, shape: tuple[int, ...], order: Literal["C", "F"] = "C"
    ) -> tuple[np.ndarray, np.ndarray]:
        """float32 gradient and Hessian arrays (memory layout ``order``) to write this
        round's result into.

        Last round's arrays when nothing but this cache refers to them any more (the
        library has copied them into its own storage and dropped them), else new
        ones. Reusing them spares the page faults of touching 2 x 4 x n fresh bytes
        every round, which on some machines cost more than the focal math itself. An
        array the caller still holds (or any view of it) is never overwritten; the
        pair stays out of the cache until :meth:`keep_buffers`, so two threads never
        write into one pair.
        """
        buffers, self.buffers = self.buffers, None
        if (buffers is None or buffers[0].shape != shape or not _unreferenced(buffers)
                or not buffers[0].flags[order]):
            buffers = (np.empty(shape, np.float32, order=order),
                       np.empty(shape, np.float32, order=order))
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


def _ready_margins(z: Any, shape: tuple[int, ...], keep_float32: bool) -> bool:
    """Whether ``z`` is already what the margin checks would return: a finite float64
    (or, kept, float32) array of ``shape``. Then nothing is converted or re-checked in
    depth; anything else goes through the full checks and their messages."""
    return (isinstance(z, np.ndarray) and z.shape == shape
            and (z.dtype == np.float64 or keep_float32 and z.dtype == np.float32)
            and bool(np.isfinite(z).all()))


def _weighted_mean(values: np.ndarray, sample_weight: np.ndarray | None) -> float:
    """``sum(values) / sum(w)`` for values already multiplied by the weights ``w``."""
    total = values.shape[0] if sample_weight is None else float(np.sum(sample_weight))
    if total <= 0:
        raise ValueError("sample_weight sums to zero: the weighted mean loss is undefined")
    return float(np.sum(values) / total)


_ADAPTER_TABLE = """
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
"""


_Loss = TypeVar("_Loss", bound="FocalLoss")


# --------------------------------------------------------------------------- the base
class _Adapter:
    """A loss object's adapter for one library, built on first use and kept.

    ``loss.lgb_objective`` is the same :mod:`gbfocal.adapters` object every time (the
    instance keeps it under the attribute's own name, so later lookups do not come here):
    a boosting round calls it, not a new object per call.
    """

    def __init__(self, factory: str, doc: str) -> None:
        self._factory = factory
        self.__doc__ = doc
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name
        _ADAPTERS.append(name)

    def __get__(self, loss: Any, owner: type | None = None) -> Any:
        if loss is None:
            return self
        adapter = getattr(adapters, self._factory)(loss)
        loss.__dict__[self._name] = adapter
        return adapter


# the attribute names of the adapters (a pickled or copied loss leaves them out)
_ADAPTERS: list[str] = []


class FocalLoss:
    """Base of every focal-loss object: state, NumPy level, per-round interface, adapters.

    Subclasses: :class:`BinaryFocalLoss`, :class:`MulticlassFocalLoss`,
    :class:`MultiOutputFocalLoss`. The loss parameters are one immutable, validated
    :class:`~gbfocal._spec.FocalSpec` (``loss.spec``); ``alpha``, ``gamma``, ``hessian``
    and ``n_classes`` read from it.

    Per-round interface
    -------------------
    What a training loop needs each boosting round, public so that the Dask, GPU and
    XGBoost-loop modules (and users' own loops) do not reach into private names:

    * :meth:`training_set` ``(label, weight, dataset=...)``: checked labels and weights
      with the class weights to boost with, cached per training set;
    * :meth:`margins` ``(preds, n_rows, layout=...)``: a library's raw predictions as
      checked margins of this loss's shape;
    * :meth:`round_grad_hess` ``(margins, training_set)``: float32 gradient and Hessian,
      written into reused buffers;
    * :meth:`forget_training_sets`: drop the cached training sets once training is over;
    * :meth:`metric` ``(name, y, raw, weight)`` and :meth:`metric_sums` (the numerator and
      denominator of a weighted-mean metric, for all-reducing across workers);
    * :meth:`decode_label`: a library's stored label as labels of this loss.
    """

    binary: bool = False
    spec: FocalSpec
    # True once the user called fit() or init_score(): the objective then keeps alpha_
    # (e.g. resolved from the global labels before distributed training) instead of
    # re-resolving it from the training set (or partition) it is handed.
    _fitted_explicitly: bool = False

    @classmethod
    def from_spec(cls: type[_Loss], spec: FocalSpec, **extra: Any) -> _Loss:
        """The loss for an already validated :class:`~gbfocal._spec.FocalSpec` (no checks
        again); ``extra``: the multi-output loss's ``n_outputs`` and ``ignore_label``."""
        if spec.binary != cls.binary:
            raise ValueError(f"{cls.__name__} needs a spec with binary={cls.binary}")
        loss = cls.__new__(cls)
        loss.spec = spec
        loss._init_extra(**extra)
        return loss

    def _init_extra(self) -> None:
        """Attributes a subclass keeps besides the spec (none here)."""

    def restore_alpha(self: _Loss, alpha_: Any) -> _Loss:
        """Fix the fitted class weights ``alpha_`` as :meth:`fit` leaves them (a saved
        model's loss, :mod:`gbfocal.persist`): the objectives keep them instead of
        resolving them from the data they are handed.

        ``alpha_`` must be finite and non-negative, of the shape :meth:`fit` gives
        (``(n_classes,)``; ``(n_labels, 2)`` for the multi-label loss).
        """
        values = np.asarray(alpha_, dtype=np.float64)
        if values.shape != self._alpha_shape() or not np.all(np.isfinite(values)) \
                or np.any(values < 0):
            raise ValueError(
                f"alpha_ must be {self._alpha_shape()} finite non-negative class weights, got "
                f"{alpha_!r}")
        self.alpha_ = values
        self._fitted_explicitly = True
        return self

    def _alpha_shape(self) -> tuple[int, ...]:
        """The shape of ``alpha_`` after :meth:`fit`."""
        return (self.n_classes,)

    # ------------------------------------------------------------------ parameters
    @property
    def alpha(self) -> Any:
        """The class-weight specification as given (None, float, weights or "balanced")."""
        return self.spec.given_alpha

    @property
    def gamma(self) -> float:
        """Focusing parameter (validated, >= 0)."""
        return self.spec.gamma

    @property
    def hessian(self) -> str:
        """Hessian mode: "positive" or "exact"."""
        return self.spec.hessian

    @property
    def n_classes(self) -> int:
        """Number of classes (2 for the binary loss)."""
        return self.spec.n_classes

    def __getstate__(self) -> dict[str, Any]:
        # The per-training-set caches hold weak references and large arrays: never copy
        # them (lgb.train deep-copies params; boosters pickle their objective). The
        # adapters are rebuilt on first use.
        state = dict(self.__dict__)
        state.pop("_train_caches", None)
        for name in _ADAPTERS:
            state.pop(name, None)
        return state

    def _repr_args(self) -> list[str]:
        return [] if self.binary else [f"n_classes={self.n_classes}"]

    def __repr__(self) -> str:
        args = self._repr_args()
        args += [f"alpha={self.alpha!r}", f"gamma={self.gamma!r}", f"hessian={self.hessian!r}"]
        return f"{type(self).__name__}({', '.join(args)})"

    # ------------------------------------------------------------------ subclass hooks
    def _check_labels(self, y: Any) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def _check_weight(self, sample_weight: Any, labels: np.ndarray) -> np.ndarray | None:
        return v.check_sample_weight(sample_weight, labels.shape[0])

    def _resolve(self, labels: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
        alpha = self.spec.class_weights(labels, weight)
        return np.ones(self.n_classes) if alpha is None else alpha

    def _check_margins(
        self, raw_score: Any, n_samples: int, *, keep_float32: bool = False
    ) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def _values(
        self, training: TrainingSet, z: np.ndarray, reduction: str = "none"
    ) -> np.ndarray | float:  # pragma: no cover - overridden
        raise NotImplementedError

    def _derivatives(
        self, training: TrainingSet, z: np.ndarray, *, dtype: Any = np.float64,
        out: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - overridden
        raise NotImplementedError

    def decode_label(self, label: np.ndarray) -> Any:
        """A library's stored label as labels of this loss (the multi-output loss decodes
        its LightGBM row code / XGBoost one-hot label; the others return it as is)."""
        return label

    # ------------------------------------------------------------------ state
    def fit(self, y: Any, sample_weight: Any = None) -> FocalLoss:
        """Resolve the per-class weights ``alpha_`` from the training labels.

        Parameters
        ----------
        y : array-like
            Training labels: 0/1 (binary), class indices ``0..n_classes-1``
            (multiclass), or ``(n, n_outputs)`` indices with the ignore label
            (multi-output).
        sample_weight : array-like, default=None
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
        self.alpha_ = self._resolve(labels, self._check_weight(sample_weight, labels))
        self._fitted_explicitly = True
        return self

    def _class_weights_for(self, labels: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
        """``alpha_`` (fitting it on these labels when the loss is not fitted yet)."""
        if not hasattr(self, "alpha_"):
            self.alpha_ = self._resolve(labels, weight)
        return self.alpha_

    def _numpy_training_set(self, y: Any, sample_weight: Any) -> TrainingSet:
        labels = self._check_labels(y)
        weight = self._check_weight(sample_weight, labels)
        training = TrainingSet(None, None, None, labels, weight,
                               self._class_weights_for(labels, weight))
        self._prepare(training)
        return training

    def _prepare(self, training: TrainingSet) -> None:
        """Precompute what the per-round math needs (multi-output: the labelled pairs)."""

    def _alpha_arg(self, training: TrainingSet) -> np.ndarray | None:
        """The class weights to hand to the math (None: all ones, the fast path)."""
        return None if self.spec.alpha is None else training.class_weights

    # ------------------------------------------------------------------ NumPy level
    def loss(self, y: Any, raw_score: Any, sample_weight: Any = None) -> Any:
        """Per-row focal loss from raw margins, weighted by ``alpha_`` and ``sample_weight``.

        Fits ``alpha_`` on ``y`` first if the object is not fitted yet.
        """
        training = self._numpy_training_set(y, sample_weight)
        z = self._check_margins(raw_score, training.n_rows)
        return self._values(training, z)

    def grad_hess(
        self, y: Any, raw_score: Any, sample_weight: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and Hessian with respect to the raw margins (float64).

        Shapes: those of the margins: ``(n_samples,)`` binary, ``(n_samples, n_classes)``
        multiclass (samples in rows). Fits ``alpha_`` on ``y`` first if not fitted yet.
        """
        training = self._numpy_training_set(y, sample_weight)
        z = self._check_margins(raw_score, training.n_rows)
        return self._derivatives(training, z)

    # ------------------------------------------------------------------ per-round interface
    def training_set(self, label: Any, weight: Any = None, *, dataset: Any = None) -> TrainingSet:
        """Checked labels and weights of this training set, cached across boosting rounds.

        Parameters
        ----------
        label : array-like
            The labels as the library stores them (``dataset.get_label()``).
        weight : array-like or None
            Row weights as the library stores them (an empty array means unweighted).
        dataset : object, default=None
            The Dataset / DMatrix, kept as a weak reference to recognise it next round.

        Returns
        -------
        TrainingSet
            A different Dataset / DMatrix, or different labels or weights, is a new
            training set: checked again and, unless the user fitted the loss explicitly,
            its class weights are resolved from it (and become ``alpha_``). Each training
            set keeps the class weights it was resolved with, so concurrent trainings
            that share one loss object (threads) each boost with their own.
        """
        raw_weight = None if weight is None or np.size(weight) == 0 else weight
        with _TRAINING_SETS_LOCK:
            caches: list[TrainingSet] = self.__dict__.setdefault("_train_caches", [])
            for cache in reversed(caches):
                if cache.matches(dataset, label, raw_weight):
                    return cache
        labels = self._check_labels(self.decode_label(np.asarray(label)))
        checked = self._check_weight(raw_weight, labels)
        if self._fitted_explicitly and hasattr(self, "alpha_"):
            alpha = self.alpha_
        else:
            alpha = self._resolve(labels, checked)
            self.alpha_ = alpha
        cache = TrainingSet(dataset, label, raw_weight, labels, checked, alpha)
        self._prepare(cache)
        if self._kernel_kind is not None:
            cache.writer = _backend.round_writer(self._kernel_kind)
            cache.writer_args = self._writer_args()
        with _TRAINING_SETS_LOCK:
            caches = self.__dict__.setdefault("_train_caches", [])
            caches.append(cache)
            del caches[:-_MAX_TRAINING_SETS]
        return cache

    def forget_training_sets(self) -> None:
        """Drop the cached training sets (checked labels, weights, gradient buffers).

        The next objective call checks its training set again; ``alpha_`` stays. The
        estimators call it after fitting, so that a fitted model holds none of them.
        """
        with _TRAINING_SETS_LOCK:
            self.__dict__.pop("_train_caches", None)

    def margins(
        self, preds: Any, n_rows: int, *, layout: str | None = None, keep_float32: bool = False
    ) -> np.ndarray:
        """A library's raw predictions as checked, finite margins of this loss's shape.

        ``layout="C"`` reshapes a flattened multiclass vector (XGBoost < 2) to
        ``(n_rows, K)``; with None a flattened vector is an error. float32 stays float32
        with ``keep_float32`` (the kernels read it as it is).
        """
        z = np.asarray(preds)
        if not (keep_float32 and z.dtype == np.float32):
            z = z.astype(np.float64, copy=False)
        return self._check_margins(self._unflatten(z, n_rows, layout), n_rows,
                                   keep_float32=keep_float32)

    def _unflatten(self, z: np.ndarray, n_rows: int, layout: str | None) -> np.ndarray:
        """A flattened multi-column layout back to ``(n_rows, columns)`` (binary: as is)."""
        columns = self._columns()
        if columns == 1 or z.ndim != 1:
            return z
        if layout is None or z.size != n_rows * columns:
            raise ValueError(
                f"multiclass raw predictions arrived flattened, shape {z.shape}, for "
                f"{n_rows} samples and {columns} columns; expected ({n_rows}, {columns}). "
                "LightGBM >= 4 and XGBoost >= 2 pass 2-D arrays: upgrade the library, or "
                "check that n_classes / num_class match."
            )
        # numpy checks the order itself (it also takes "c", "f", "a"); the stub's Literal is
        # narrower than what it accepts, so the caller's string is passed on as is.
        return z.reshape(n_rows, columns, order=cast(Literal["A", "C", "F"], layout))

    def _columns(self) -> int:
        """Score columns per row the libraries use (1 for the binary loss)."""
        return 1 if self.binary else self.n_classes

    def round_grad_hess(
        self, margins: np.ndarray, training: TrainingSet
    ) -> tuple[np.ndarray, np.ndarray]:
        """float32 gradient and Hessian of one boosting round, shaped like ``margins``.

        ``margins`` from :meth:`margins`, ``training`` from :meth:`training_set`. The
        result is written into the training set's reused buffers (see
        :meth:`TrainingSet.take_buffers`): hand it to the library, do not keep it (an
        array still referred to is never written again; the next round gets new ones).
        Multiclass results keep the memory layout of column-major margins (LightGBM's),
        so that the library's flattening in column order is a view, not a copy.
        """
        if margins.shape[0] != training.n_rows:
            raise ValueError(
                f"raw_score has {margins.shape[0]} samples but the labels have {training.n_rows}"
            )
        out = training.take_buffers(margins.shape, self._buffer_order(margins))
        if training.writer is not None:  # the compiled kernel, straight into the buffers
            self._write_round(training, margins, out)
            grad, hess = out
        else:
            grad, hess = self._derivatives(training, margins, dtype=np.float32, out=out)
        training.keep_buffers(grad, hess)
        return grad, hess

    # which compiled kernel writes this loss's rounds (None: always the general path)
    _kernel_kind: str | None = None

    def _writer_args(self) -> tuple[Any, ...]:
        """The constants after the weights that ``training.writer`` takes (see _kernels)."""
        return (self.spec.gamma, self.spec.positive)

    def _write_round(self, training: TrainingSet, z: np.ndarray,
                     out: tuple[np.ndarray, np.ndarray]) -> None:
        """One round's gradient pair into ``out`` with ``training.writer``."""
        training.writer(training.labels, z, self._alpha_arg(training), training.weight,
                        *training.writer_args, *out)

    def _buffer_order(self, margins: np.ndarray) -> Literal["C", "F"]:
        """Memory layout of :meth:`round_grad_hess`'s result (C here; see the multiclass
        loss, whose kernels write either)."""
        return "C"

    def metric(self, name: str, y: Any, raw_score: Any, sample_weight: Any = None) -> float:
        """Metric ``name`` (one of :data:`METRICS`) on raw margins, weighted by ``sample_weight``.

        "focal_loss" and "log_loss" are weighted means ``sum(w l) / sum(w)``; "log_loss"
        is that of the corrected probabilities (:meth:`predict_proba`). "roc_auc" and
        "average_precision" (macro one-vs-rest for multiclass) raise ValueError where a
        class is missing instead of returning NaN.
        """
        check_metric(name)
        if name in ("focal_loss", "log_loss"):
            total, weight = self.metric_sums(name, y, raw_score, sample_weight)
            if weight <= 0:
                raise ValueError("sample_weight sums to zero: the weighted mean loss is undefined")
            return total / weight
        return self._ranking_metric(name, y, raw_score, sample_weight)

    def metric_sums(
        self, name: str, y: Any, raw_score: Any, sample_weight: Any = None
    ) -> tuple[float, float]:
        """``(sum(w l), sum(w))`` of the weighted-mean metrics "focal_loss" / "log_loss".

        Their global value over several workers is the ratio of the summed pairs (what
        the XGBoost metric adapter all-reduces in a distributed run).
        """
        if name not in ("focal_loss", "log_loss"):
            raise ValueError(f"metric {name!r} is not a weighted mean: it has no sums")
        self._require_alpha()
        training = self._numpy_training_set(y, sample_weight)
        z = self._check_margins(raw_score, training.n_rows)
        if name == "focal_loss":
            values = np.asarray(self._values(training, z, reduction="none"))
        else:
            values = np.asarray(self._log_loss_values(training, z))
        return float(np.sum(values)), self._total_weight(training)

    def _total_weight(self, training: TrainingSet) -> float:
        """``sum(w)`` of the rows the weighted-mean metrics average over."""
        weight = training.weight
        return float(training.n_rows if weight is None else np.sum(weight))

    def _require_alpha(self) -> None:
        if self.spec.needs_labels and not hasattr(self, "alpha_"):
            # Fitting here would take the class weights from the *validation* labels,
            # silently unlike the objective's. lgb.train deep-copies params, so the
            # objective fits a copy and never this object: the user must fit it.
            raise ValueError(
                f"alpha={self.alpha!r} is resolved from the training labels, but this loss "
                "object has not seen them (lgb.train deep-copies params, so the objective "
                "fits a copy). Call loss.init_score(y_train, sample_weight) - needed for the "
                "starting margin anyway - or loss.fit(y_train, sample_weight) before training."
            )

    def _log_loss_values(self, training: TrainingSet, z: np.ndarray) -> np.ndarray:
        corrected = self.posterior_margin(z)
        return _backend.loss(training.labels, corrected, None, training.weight, 0.0,
                             binary=self.binary)

    def _ranking_metric(
        self, name: str, y: Any, raw_score: Any, sample_weight: Any
    ) -> float:
        self._require_alpha()
        labels = self._check_labels(y)
        weight = self._check_weight(sample_weight, labels)
        raw = self._check_margins(raw_score, labels.shape[0])
        self.check_metric_defined(name, labels, weight)
        score = _ranking.roc_auc if name == "roc_auc" else _ranking.average_precision
        if self.binary:
            # Ranking metrics are invariant under the monotone posterior: ranking the
            # margins avoids the ties that sigmoid creates once it saturates at 1.0.
            return score(labels == 1, raw, weight)
        # macro one-vs-rest, as scikit-learn's average="macro" (multi_class="ovr")
        proba = self.predict_proba(raw, check_input=False)
        return float(np.mean([score(labels == k, proba[:, k], weight)
                              for k in range(self.n_classes)]))

    def check_metric_defined(
        self, metric: str, labels: np.ndarray, sample_weight: np.ndarray | None = None,
        *, name: str = "the evaluation data",
    ) -> None:
        """Raise ValueError when ``metric`` is undefined on these (checked) labels.

        ROC AUC and average precision need every class with positive weight (one-vs-rest
        for multiclass): otherwise they are NaN every round and early stopping would
        silently keep the first round.
        """
        if not METRICS[check_metric(metric)]:
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

    # ------------------------------------------------------------------ library adapters
    lgb_objective = _Adapter(
        "LightGBMObjective",
        """LightGBM >= 4 custom objective: ``params["objective"] = loss.lgb_objective``.

        Called with raw margins (``(n,)`` binary, ``(n, K)`` multiclass) and the training
        ``lgb.Dataset``; returns float32 gradient and Hessian of the same shape,
        multiplied by the Dataset's weights (LightGBM does not apply them itself).
        (A :class:`gbfocal.adapters.LightGBMObjective`, built once per loss object.)
        """)
    xgb_objective = _Adapter(
        "XGBoostObjective",
        """XGBoost custom objective: ``xgb.train(params, dtrain, obj=loss.xgb_objective)``.

        Called with float32 raw margins, ``(n,)`` or ``(n, K)``, and the DMatrix; returns
        float32 gradient and Hessian of the same shape, multiplied by the DMatrix weights.
        (A :class:`gbfocal.adapters.XGBoostObjective`, built once per loss object.)
        """)
    sklearn_objective = _Adapter(
        "SklearnObjective",
        """Objective for ``LGBMClassifier(objective=...)`` and ``XGBClassifier(objective=...)``.

        Both scikit-learn APIs call it with the encoded labels, the raw margins and the
        sample weights (LightGBM positionally, XGBoost as ``sample_weight=``). Returns
        float32 arrays of the shape of ``y_pred``. (A
        :class:`gbfocal.adapters.SklearnObjective`, built once per loss object.)
        """)

    def lgb_metric(self, preds: Any, eval_data: Any) -> tuple[str, float, bool]:
        """LightGBM ``feval``: ``("focal_loss", weighted mean focal loss, False)``."""
        return self.lgb_eval("focal_loss")(preds, eval_data)

    def xgb_metric(self, predt: Any, dmatrix: Any) -> tuple[str, float]:
        """XGBoost ``custom_metric``: ``("focal_loss", weighted mean focal loss)``.

        Under ``xgboost.dask`` (a distributed ``xgboost.collective``) it is the global
        weighted mean over all workers' rows.
        """
        return self.xgb_eval("focal_loss")(predt, dmatrix)

    def lgb_eval(self, metric: str = "focal_loss") -> Any:
        """A picklable LightGBM ``feval`` computing ``metric`` from raw margins."""
        return adapters.LightGBMMetric(self, metric)

    def xgb_eval(self, metric: str = "focal_loss") -> Any:
        """A picklable XGBoost ``custom_metric`` computing ``metric`` from raw margins."""
        return adapters.XGBoostMetric(self, metric)

    def lgb_sklearn_eval(self, metric: str = "focal_loss") -> Any:
        """A picklable ``eval_metric`` for ``lgb.LGBMClassifier.fit``."""
        return adapters.LightGBMSklearnMetric(self, metric)

    def xgb_sklearn_eval(self, metric: str = "focal_loss") -> Any:
        """A picklable ``eval_metric`` for ``xgb.XGBClassifier``."""
        return adapters.XGBoostSklearnMetric(self, metric)

    # ------------------------------------------------------------------ probabilities
    def _posterior_alpha(self) -> np.ndarray | None:
        """The class weights the posterior correction needs (None: all ones)."""
        if self.spec.alpha is None:
            return None
        if not hasattr(self, "alpha_"):
            if self.spec.needs_labels:
                raise ValueError(
                    f"alpha={self.alpha!r} is resolved from the training labels, but this loss "
                    "object has not seen them, and corrected probabilities need the resolved "
                    "class weights: call loss.fit(y_train, sample_weight) (or init_score) first"
                )
            return positive_weights(self.spec.class_weights())
        return positive_weights(self.alpha_)

    def posterior_margin(self, raw_score: Any) -> np.ndarray:  # pragma: no cover - overridden
        """Raw margins mapped to margins of the class posterior (focal correction)."""
        raise NotImplementedError

    def init_score(self, y: Any, sample_weight: Any = None) -> Any:  # pragma: no cover
        raise NotImplementedError

    def predict_proba(
        self, raw_score: Any, *, corrected: bool = True, check_input: bool = True
    ) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


# Kept for code written against the 0.1 layout (gbfocal.dask, gbfocal.gpu used it).
_FocalLossBase = FocalLoss


def _class_totals(labels: np.ndarray, weight: np.ndarray | None, alpha: np.ndarray,
                  n_classes: int) -> np.ndarray:
    return np.bincount(labels, weights=weight, minlength=n_classes) * alpha


def _require_weight(weight: np.ndarray | None, entries: str = "row") -> None:
    """Refuse checked ``sample_weight`` that gives no ``entries`` any weight.

    ``init_score`` minimises a weighted loss: with every weight zero the loss is 0 for
    every margin (before: -49.98, the end of the search interval, after NumPy's
    divide-by-zero warnings). NaN and negative weights are refused by the weight check.
    """
    if weight is not None and not np.any(weight):
        where = "" if entries == "row" else f" on every labelled {entries}"
        raise ValueError(
            f"sample_weight is all zero{where}: no {entries} carries weight, so there is no "
            "starting margin to fit (init_score)"
        )


# --------------------------------------------------------------------------- asymmetric
# The asymmetric focal loss (Ridnik et al. 2021, gbfocal._asymmetric) of a sigmoid output:
# the binary and multi-label losses use these when their spec has gamma_neg or clip; _backend
# runs the compiled kernels or the NumPy reference (checked to 1e-9 against mpmath).
def _gamma_neg(spec: FocalSpec) -> float:
    return spec.gamma if spec.gamma_neg is None else spec.gamma_neg


def _asym_loss(spec: FocalSpec, y: np.ndarray, z: np.ndarray, alpha: np.ndarray | None,
               weight: np.ndarray | None) -> np.ndarray:
    return _backend.asymmetric_loss(y, z, alpha, weight, spec.gamma, _gamma_neg(spec), spec.clip)


def _asym_grad_hess(
    spec: FocalSpec, y: np.ndarray, z: np.ndarray, alpha: np.ndarray | None,
    weight: np.ndarray | None, dtype: Any = np.float64,
    out: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    return _backend.asymmetric_grad_hess(y, z, alpha, weight, spec.gamma, _gamma_neg(spec),
                                         spec.clip, spec.positive, dtype=dtype, out=out)


def _asym_functions(spec: FocalSpec) -> Any:
    """``(loss, grad)`` of the asymmetric loss for the starting-margin search (None: focal)."""
    if not spec.asymmetric:
        return None
    return (lambda y, z, w: _asym_loss(spec, y, z, None, w),
            lambda y, z, w: _asym_grad_hess(spec, y, z, None, w)[0])


# A posterior of exactly 0 or 1 (a negative below the clip threshold) as finite log-odds,
# so that the corrected log loss stays finite (it is then about 700 for such a row).
_LOG_ODDS_BOUND = 700.0


def _asym_posterior_log_odds(spec: FocalSpec, z: np.ndarray,
                             alpha: np.ndarray | None) -> np.ndarray:
    """Log-odds of the posterior of the asymmetric focal risk minimiser at margins ``z``.

    Stationarity of ``eta a_1 L_1(z) + (1 - eta) a_0 L_0(z)`` in ``z`` gives
    ``eta / (1 - eta) = a_0 L_0'(z) / (-a_1 L_1'(z))``: the ratio of the two classes'
    gradients (``L_0' >= 0``, ``L_1' <= 0``), zero where ``p <= clip`` (there the negatives
    do not pull, so a risk minimiser with ``eta > 0`` never sits there). ``alpha``:
    ``[a_0, a_1]``, or ``(2, L)`` per label. For the symmetric loss this is the CVPR 2021
    formula of :func:`gbfocal.focal_posterior`.
    """
    a0 = 1.0 if alpha is None else alpha[0]
    a1 = 1.0 if alpha is None else alpha[1]
    zeros, ones = np.zeros(z.shape, np.int8), np.ones(z.shape, np.int8)
    flat = z.reshape(-1)
    g0 = _asym_grad_hess(spec, zeros.reshape(-1), flat, None, None)[0].reshape(z.shape)
    g1 = _asym_grad_hess(spec, ones.reshape(-1), flat, None, None)[0].reshape(z.shape)
    with np.errstate(divide="ignore"):
        log_odds = (np.log(a0 * g0) - np.log(-a1 * g1))
    return np.clip(np.nan_to_num(log_odds, nan=0.0), -_LOG_ODDS_BOUND, _LOG_ODDS_BOUND)


# --------------------------------------------------------------------------- binary
class BinaryFocalLoss(FocalLoss):
    __doc__ = """Binary (sigmoid) focal loss for LightGBM and XGBoost.

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
    spec : FocalSpec
        The validated, immutable loss parameters.
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
    """ + _ADAPTER_TABLE + """
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

    binary = True

    @property
    def _kernel_kind(self) -> str:  # type: ignore[override]
        return "asymmetric" if self.spec.asymmetric else "binary"

    def _writer_args(self) -> tuple[Any, ...]:
        spec = self.spec
        if not spec.asymmetric:
            return super()._writer_args()
        return (spec.gamma, _gamma_neg(spec), spec.clip, spec.positive)

    def __init__(
        self, alpha: Any = None, gamma: float = 2.0, hessian: str = "positive", *,
        gamma_neg: float | None = None, clip: float = 0.0,
    ) -> None:
        self.spec = FocalSpec.create(alpha=alpha, gamma=gamma, hessian=hessian, binary=True,
                                     gamma_neg=gamma_neg, clip=clip)

    def _repr_args(self) -> list[str]:
        return []

    def __repr__(self) -> str:
        text = super().__repr__()
        if not self.spec.asymmetric:
            return text
        return text[:-1] + f", gamma_neg={self.spec.gamma_neg!r}, clip={self.spec.clip!r})"

    def _check_labels(self, y: Any) -> np.ndarray:
        return v.check_binary_labels(y, np.shape(y)[0] if np.ndim(y) == 1 else -1)

    def _check_margins(
        self, raw_score: Any, n_samples: int, *, keep_float32: bool = False
    ) -> np.ndarray:
        if _ready_margins(raw_score, (n_samples,), keep_float32):
            return raw_score  # every boosting round: nothing to convert, nothing wrong
        z = v.as_float_array(raw_score, "raw_score", keep_float32=keep_float32)
        if z.ndim == 2 and z.shape[1] == 1:
            z = z[:, 0]
        z = v.check_raw_score_binary(z, keep_float32=keep_float32)
        if n_samples >= 0 and z.shape[0] != n_samples:
            raise ValueError(
                f"y_true has {n_samples} samples but raw_score has {z.shape[0]}: shapes must match"
            )
        return z

    def _values(self, training: TrainingSet, z: np.ndarray, reduction: str = "none") -> Any:
        if self.spec.asymmetric:
            return _asym_loss(self.spec, training.labels, z, self._alpha_arg(training),
                              training.weight)
        return _backend.loss(training.labels, z, self._alpha_arg(training), training.weight,
                             self.spec.gamma, binary=True)

    def _derivatives(
        self, training: TrainingSet, z: np.ndarray, *, dtype: Any = np.float64,
        out: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.spec.asymmetric:
            return _asym_grad_hess(self.spec, training.labels, z, self._alpha_arg(training),
                                   training.weight, dtype, out)
        return _backend.grad_hess(
            training.labels, z, self._alpha_arg(training), training.weight, self.spec.gamma,
            self.spec.positive, binary=True, dtype=dtype, out=out,
        )

    def init_score(self, y: Any, sample_weight: Any = None) -> float:
        """Constant raw margin minimising the weighted focal loss on ``(y, sample_weight)``.

        Raises ValueError when ``sample_weight`` is all zero (no row carries weight).
        """
        labels = self._check_labels(y)
        weight = self._check_weight(sample_weight, labels)
        _require_weight(weight)
        self.fit(y, sample_weight)
        return minimise_binary(_class_totals(labels, weight, self.alpha_, 2), self.spec.gamma,
                               functions=_asym_functions(self.spec))

    def posterior_margin(self, raw_score: Any) -> np.ndarray:
        """Raw margins ``(n,)`` mapped to the log-odds of the class posterior.

        Their sigmoid is :func:`gbfocal.focal_posterior` with ``alpha_`` and ``gamma``.
        """
        z = self._check_margins(raw_score, -1)
        if self.spec.asymmetric:
            return _asym_posterior_log_odds(self.spec, z, self._posterior_alpha())
        return posterior_log_odds(z, self._posterior_alpha(), self.spec.gamma)

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
class MulticlassFocalLoss(FocalLoss):
    __doc__ = """Multiclass (softmax) focal loss for LightGBM and XGBoost.

    ``FL = -a_y (1 - p_y)**gamma log(p_y)`` with ``p = softmax(raw margins)``.

    Parameters
    ----------
    n_classes : int
        Number of classes ``K >= 2``; labels are class indices ``0..K-1``.
    alpha : None, sequence of K floats or "balanced", default=None
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
    spec : FocalSpec
        The validated, immutable loss parameters.
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
    """ + _ADAPTER_TABLE + """
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

    binary = False
    _kernel_kind = "multiclass"

    def __init__(
        self,
        n_classes: int,
        alpha: Any = None,
        gamma: float = 2.0,
        hessian: str = "positive",
    ) -> None:
        self.spec = FocalSpec.create(alpha=alpha, gamma=gamma, hessian=hessian,
                                     n_classes=n_classes, binary=False)

    def _check_labels(self, y: Any) -> np.ndarray:
        n = np.shape(y)[0] if np.ndim(y) == 1 else -1
        return v.check_multiclass_labels(y, n, self.n_classes)

    def _check_margins(
        self, raw_score: Any, n_samples: int, *, keep_float32: bool = False
    ) -> np.ndarray:
        if _ready_margins(raw_score, (n_samples, self.n_classes), keep_float32):
            return raw_score  # every boosting round: nothing to convert, nothing wrong
        z = v.as_float_array(raw_score, "raw_score", keep_float32=keep_float32)
        if z.ndim == 2 and z.shape[1] != self.n_classes:
            raise ValueError(
                f"raw_score has {z.shape[1]} columns but the loss was built for "
                f"n_classes={self.n_classes}"
            )
        rows = z.shape[0] if n_samples < 0 and z.ndim == 2 else n_samples
        return v.check_raw_score_multiclass(z, rows, keep_float32=keep_float32)

    def _values(self, training: TrainingSet, z: np.ndarray, reduction: str = "none") -> Any:
        return _backend.loss(training.labels, z, self._alpha_arg(training), training.weight,
                             self.spec.gamma, binary=False)

    def _buffer_order(self, margins: np.ndarray) -> Literal["C", "F"]:
        # LightGBM hands (n, K) column-major margins and flattens the gradient in column
        # order: written column-major, it is handed over without a copy (8 bytes per row
        # and class for the pair, every round).
        return "F" if margins.flags.f_contiguous and not margins.flags.c_contiguous else "C"

    def _derivatives(
        self, training: TrainingSet, z: np.ndarray, *, dtype: Any = np.float64,
        out: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        return _backend.grad_hess(
            training.labels, z, self._alpha_arg(training), training.weight, self.spec.gamma,
            self.spec.positive, binary=False, dtype=dtype, out=out,
        )

    def init_score(self, y: Any, sample_weight: Any = None) -> np.ndarray:
        """Constant raw margins ``(n_classes,)``, mean zero, minimising the weighted focal loss.

        Raises ValueError when ``sample_weight`` is all zero (no row carries weight).
        """
        labels = self._check_labels(y)
        weight = self._check_weight(sample_weight, labels)
        _require_weight(weight)
        self.fit(y, sample_weight)
        totals = _class_totals(labels, weight, self.alpha_, self.n_classes)
        return minimise_multiclass(totals, self.spec.gamma)

    def posterior_margin(self, raw_score: Any) -> np.ndarray:
        """Raw margins ``(n, K)`` mapped to the log probabilities of the class posterior.

        Their softmax is :func:`gbfocal.focal_posterior` with ``alpha_`` and ``gamma``.
        """
        z = self._check_margins(raw_score, -1)
        return log_posterior(z, self._posterior_alpha(), self.spec.gamma)

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
        if not corrected or (self.spec.alpha is None and self.spec.gamma == 0.0):
            return special.softmax(z, axis=1)
        return np.exp(self.posterior_margin(z))


# --------------------------------------------------------------------------- multi-output
# LightGBM stores labels as float32: integers are exact up to 2**24.
_FLOAT32_EXACT = 2**24
REDUCTIONS = ("mean", "output_mean", "sum", "none")


class MultiOutputFocalLoss(FocalLoss):
    """Softmax focal loss of ``n_outputs`` outputs per row with one global alpha.

    Parameters
    ----------
    n_outputs : int
        Number of outputs ``A`` (aspects) per row, ``>= 1``.
    n_classes : int
        Number of classes ``K >= 2`` shared by all outputs.
    alpha : None, sequence of K floats or "balanced", default=None
        Class weights shared by all outputs. "balanced": ``n / (K n_c)`` counted over
        the labelled (row, output) pairs of the training labels (resolved by
        :meth:`fit`, which the training objectives call).
    gamma : float, default=2.0
        Focusing parameter ``>= 0``.
    hessian : {"positive", "exact"}, default="positive"
        As in :class:`gbfocal.MulticlassFocalLoss`.
    ignore_label : int or None, default=-1
        Label of an entry without a label (an aspect not mentioned); such entries
        contribute nothing to the loss, the gradient or the Hessian. None: every
        entry must be labelled.

    Attributes
    ----------
    spec : FocalSpec
        The validated, immutable loss parameters.
    alpha_ : ndarray of shape (n_classes,)
        Global class weights resolved by :meth:`fit` (all ones for ``alpha=None``);
        kept by the objectives after an explicit :meth:`fit` / :meth:`init_score`, as
        for the other losses, else resolved from each new training set.

    Notes
    -----
    The loss of the model is the mean focal loss over the labelled pairs,
    ``sum(w l) / sum(w)`` (``reduction="output_mean"`` of :meth:`loss` averages the
    per-output means instead). With ``n_outputs=1`` everything equals
    :class:`gbfocal.MulticlassFocalLoss`.

    ========================  ====================================================
    LightGBM ``lgb.train``    ``Dataset(X, label=loss.lgb_label(y),
                              init_score=np.tile(loss.init_score(y).ravel(), (n, 1)))``,
                              ``params["objective"] = loss.lgb_objective``,
                              ``params["num_class"] = A * K``, ``feval=loss.lgb_metric``
    XGBoost ``xgb.train``     ``DMatrix(X, label=loss.xgb_label(y),
                              base_margin=np.tile(loss.init_score(y).ravel(), (n, 1)))``,
                              ``params["tree_method"] = "hist"`` (and optionally
                              ``"multi_strategy": "multi_output_tree"``),
                              ``obj=loss.xgb_objective``, ``custom_metric=loss.xgb_metric``
    ========================  ====================================================

    Predictions are raw margins ``(n, A * K)``: add the initial score where it was
    not stored in the model, then call :meth:`predict_proba`.

    Examples
    --------
    >>> import numpy as np
    >>> from gbfocal.multioutput import MultiOutputFocalLoss
    >>> y = np.array([[0, -1], [2, 1], [2, 2]])      # 2 aspects, -1 = not mentioned
    >>> loss = MultiOutputFocalLoss(2, 3, alpha="balanced").fit(y)
    >>> loss.alpha_.round(4)                        # 5 pairs: 1, 1 and 3 per class
    array([1.6667, 1.6667, 0.5556])
    >>> loss.grad_hess(y, np.zeros((3, 2, 3)))[0][0, 1]   # ignored: exactly zero
    array([0., 0., 0.])
    >>> loss.predict_proba(np.zeros((1, 6))).shape
    (1, 2, 3)
    """

    binary = False

    def __init__(
        self,
        n_outputs: int,
        n_classes: int,
        alpha: Any = None,
        gamma: float = 2.0,
        hessian: str = "positive",
        ignore_label: int | None = -1,
    ) -> None:
        self.spec = FocalSpec.create(alpha=alpha, gamma=gamma, hessian=hessian,
                                     n_classes=n_classes, binary=False)
        self._init_extra(n_outputs=n_outputs, ignore_label=ignore_label)

    def _init_extra(self, *, n_outputs: Any = 1, ignore_label: Any = -1) -> None:
        if isinstance(n_outputs, bool) or not isinstance(n_outputs, numbers.Integral):
            raise TypeError(f"n_outputs must be an integer >= 1, got {n_outputs!r}")
        if n_outputs < 1:
            raise ValueError(f"n_outputs must be >= 1, got {n_outputs}")
        self.n_outputs = int(n_outputs)
        self.ignore_label = v.check_ignore_label(ignore_label, self.spec.n_classes)

    def _repr_args(self) -> list[str]:
        return [f"n_outputs={self.n_outputs}", f"n_classes={self.n_classes}"]

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", ignore_label={self.ignore_label!r})"

    # ------------------------------------------------------------------ checks
    def _check_y(self, y: Any) -> np.ndarray:
        labels = v.check_multioutput_label_array(y)
        if labels.shape[1] != self.n_outputs:
            raise ValueError(
                f"y_true has {labels.shape[1]} outputs (columns) but the loss was built for "
                f"n_outputs={self.n_outputs}"
            )
        return labels

    def _check_labels(self, y: Any) -> np.ndarray:
        """``(n, A)`` labels checked against the classes and the ignore label (as given)."""
        labels = self._check_y(y)
        v.check_multioutput_labels(labels, self.n_classes, self.ignore_label)
        return labels

    def _check_weight(self, sample_weight: Any, labels: np.ndarray) -> np.ndarray | None:
        return v.check_multioutput_sample_weight(sample_weight, labels.shape[0], self.n_outputs)

    def _pairs(self, labels: np.ndarray, weight: np.ndarray | None) -> Any:
        return labelled_pairs(labels, weight, self.n_classes, self.ignore_label)

    def _resolve(self, labels: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
        mask, y, w = self._pairs(labels, weight)
        return super()._resolve(y, w)

    def _prepare(self, training: TrainingSet) -> None:
        training.mask, training.pair_labels, training.pair_weight = self._pairs(
            training.labels, training.weight)

    def _check_raw(self, raw_score: Any, n_samples: int) -> np.ndarray:
        """Margins of the right shape; returned as given (the math keeps that shape)."""
        z = v.as_float_array(raw_score, "raw_score")
        z3 = v.check_raw_score_multioutput(z, n_samples, self.n_outputs)
        if z3.shape[2] != self.n_classes:
            raise ValueError(
                f"raw_score has {z3.shape[2]} classes per output (shape {z.shape}) but the loss "
                f"was built for n_classes={self.n_classes} (n_outputs={self.n_outputs})"
            )
        return z

    def _check_margins(
        self, raw_score: Any, n_samples: int, *, keep_float32: bool = False
    ) -> np.ndarray:
        z = v.as_float_array(raw_score, "raw_score", keep_float32=keep_float32)
        expected = self.n_outputs * self.n_classes
        if z.ndim == 2 and z.shape[1] != expected:
            raise ValueError(
                f"the library passed raw predictions of shape {z.shape}; expected "
                f"({n_samples}, {expected}) = (n, n_outputs * n_classes): set num_class "
                "(LightGBM) to n_outputs * n_classes, and the XGBoost label to loss.xgb_label(y)"
            )
        if z.ndim == 2 and z.dtype == np.float32:  # the library's flat layout, read as is
            if z.shape[0] != n_samples:
                raise ValueError(f"raw_score has {z.shape[0]} rows, expected {n_samples}")
            v.check_raw_score_multiclass(z, n_samples, keep_float32=True)  # finite
            return z
        return self._check_raw(z, n_samples)

    @staticmethod
    def _labelled(training: TrainingSet) -> tuple[np.ndarray, np.ndarray]:
        """The mask of labelled entries and their labels, which :meth:`_prepare` set."""
        mask, pair_labels = training.mask, training.pair_labels
        assert mask is not None and pair_labels is not None, "training set not prepared"
        return mask, pair_labels

    def _pair_margins(self, training: TrainingSet, z: np.ndarray) -> np.ndarray:
        mask, _ = self._labelled(training)
        flat = z.reshape(training.n_rows * self.n_outputs, self.n_classes)
        return np.ascontiguousarray(flat[mask])

    def _scatter(self, training: TrainingSet, values: np.ndarray, dtype: Any,
                 out: np.ndarray | None = None) -> np.ndarray:
        """Per-pair values onto all ``n * A`` entries, zero where ignored (into ``out``,
        a buffer of ``n * A * K`` values, when given)."""
        mask, _ = self._labelled(training)
        shape = (mask.shape[0],) + values.shape[1:]
        if out is None:
            out = np.zeros(shape, dtype=dtype)
        else:
            out = out.reshape(shape)
            out.fill(0.0)
        out[mask] = values
        return out

    def _values(self, training: TrainingSet, z: np.ndarray, reduction: str = "mean") -> Any:
        _, pair_labels = self._labelled(training)
        loss = _backend.loss(pair_labels, self._pair_margins(training, z),
                             self._alpha_arg(training), training.pair_weight,
                             self.spec.gamma, binary=False)
        return self._reduce(training, loss, reduction)

    def _reduce(self, training: TrainingSet, loss: np.ndarray, reduction: str) -> Any:
        if not isinstance(reduction, str) or reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        n, a = training.n_rows, self.n_outputs
        if reduction == "none":
            return self._scatter(training, loss, np.float64).reshape(n, a)
        if reduction == "sum":
            return float(loss.sum())
        weight = np.ones_like(loss) if training.pair_weight is None else training.pair_weight
        if reduction == "mean":
            return pair_mean(loss.sum(), weight.sum())
        mask, _ = self._labelled(training)
        per_output = np.zeros((2, a))
        output = np.nonzero(mask.reshape(n, a))[1]
        np.add.at(per_output[0], output, loss)  # rows of per_output, added to in place
        np.add.at(per_output[1], output, weight)
        present = per_output[1] > 0
        return pair_mean((per_output[0, present] / per_output[1, present]).sum(), present.sum())

    def _derivatives(
        self, training: TrainingSet, z: np.ndarray, *, dtype: Any = np.float64,
        out: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        _, pair_labels = self._labelled(training)
        grad, hess = _backend.grad_hess(
            pair_labels, self._pair_margins(training, z), self._alpha_arg(training),
            training.pair_weight, self.spec.gamma, self.spec.positive, binary=False,
        )
        shape = z.shape
        grad_out, hess_out = (None, None) if out is None else out
        return (self._scatter(training, grad, dtype, grad_out).reshape(shape),
                self._scatter(training, hess, dtype, hess_out).reshape(shape))

    def _columns(self) -> int:
        return self.n_outputs * self.n_classes

    def _total_weight(self, training: TrainingSet) -> float:
        _, pair_labels = self._labelled(training)
        weight = training.pair_weight
        return float(pair_labels.shape[0] if weight is None else np.sum(weight))

    def _log_loss_values(self, training: TrainingSet, z: np.ndarray) -> np.ndarray:
        _, pair_labels = self._labelled(training)
        flat = self._pair_margins(training, z)
        corrected = log_posterior(flat, self._posterior_alpha(), self.spec.gamma)
        return _backend.loss(pair_labels, corrected, None, training.pair_weight, 0.0,
                             binary=False)

    # ------------------------------------------------------------------ NumPy level
    def loss(
        self, y: Any, raw_score: Any, sample_weight: Any = None, reduction: str = "mean"
    ) -> float | np.ndarray:
        """Focal loss; ``reduction`` as in :func:`gbfocal._focal.multioutput_focal_loss`.

        Default: the weighted mean over the labelled pairs. Fits ``alpha_`` first if needed.
        """
        training = self._numpy_training_set(y, sample_weight)
        return self._values(training, self._check_raw(raw_score, training.n_rows), reduction)

    def grad_hess(
        self, y: Any, raw_score: Any, sample_weight: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and diagonal Hessian in the shape of ``raw_score``; zero where ignored."""
        training = self._numpy_training_set(y, sample_weight)
        return self._derivatives(training, self._check_raw(raw_score, training.n_rows))

    def metric(self, name: str, y: Any, raw_score: Any, sample_weight: Any = None) -> float:
        """"focal_loss" or "log_loss" (corrected), the weighted means over labelled pairs."""
        if name not in ("focal_loss", "log_loss"):
            raise ValueError(
                f"the multi-output loss evaluates 'focal_loss' and 'log_loss', got {name!r}"
            )
        return super().metric(name, y, raw_score, sample_weight)

    def init_score(self, y: Any, sample_weight: Any = None) -> np.ndarray:
        """Constant raw margins ``(n_outputs, n_classes)`` minimising the weighted focal loss.

        The loss separates over outputs, so each output gets the constant that is
        optimal for its own labelled pairs (mean zero over classes; zeros for an
        output without labels). Fits ``alpha_``. Flatten with ``.ravel()`` for the
        libraries' output-major ``A * K`` columns. Raises ValueError when
        ``sample_weight`` is zero on every labelled entry.
        """
        labels = self._check_labels(y)
        mask, pair_y, pair_w = self._pairs(labels, self._check_weight(sample_weight, labels))
        _require_weight(pair_w, "entry")
        self.fit(y, sample_weight)
        output = np.nonzero(mask.reshape(labels.shape))[1]
        totals = np.zeros((self.n_outputs, self.n_classes))
        np.add.at(totals, (output, pair_y), 1.0 if pair_w is None else pair_w)
        totals *= self.alpha_
        return np.stack([
            minimise_multiclass(t, self.spec.gamma) if t.sum() > 0 else np.zeros(self.n_classes)
            for t in totals
        ])

    def posterior_margin(self, raw_score: Any) -> np.ndarray:
        """Raw margins mapped to log posterior probabilities ``(n, A, K)``."""
        z = v.as_float_array(raw_score, "raw_score")
        n = z.shape[0] if z.ndim >= 1 else -1
        z3 = v.check_raw_score_multioutput(self._check_raw(z, n), n, self.n_outputs)
        flat = z3.reshape(-1, self.n_classes)
        return log_posterior(flat, self._posterior_alpha(), self.spec.gamma).reshape(z3.shape)

    def predict_proba(
        self, raw_score: Any, *, corrected: bool = True, check_input: bool = True
    ) -> np.ndarray:
        """Probabilities ``(n, n_outputs, n_classes)`` from raw margins.

        Accepts ``(n, A, K)`` or the flat output-major ``(n, A * K)``. ``corrected=True``
        (default) gives the class posterior of the focal risk minimiser per output
        (:func:`gbfocal.focal_posterior` with ``alpha_`` and ``gamma``);
        ``corrected=False`` the plain softmax, biased towards uniform for ``gamma > 0``.
        """
        z = v.as_float_array(raw_score, "raw_score")
        n = z.shape[0] if z.ndim >= 1 else -1
        z3 = v.check_raw_score_multioutput(self._check_raw(z, n), n, self.n_outputs)
        if check_input and ((z3 >= 0) & (z3 <= 1)).all() and np.allclose(
            z3.sum(axis=2), 1.0, atol=1e-6
        ):
            raise ValueError(
                "predict_proba received raw scores whose blocks are probabilities (in [0, 1], "
                "summing to 1 per output): pass raw margins, e.g. "
                "booster.predict(X, raw_score=True) (LightGBM) or output_margin=True (XGBoost)"
            )
        if not corrected or (self.spec.alpha is None and self.spec.gamma == 0.0):
            return special.softmax(z3, axis=2)
        return np.exp(self.posterior_margin(z3))

    # ------------------------------------------------------------------ label encodings
    def lgb_label(self, y: Any) -> np.ndarray:
        """Labels ``(n, A)`` encoded as one float per row for a LightGBM Dataset.

        LightGBM keeps a single float32 label per row, so row ``i`` stores the integer
        ``sum_a (y_ia + 1) (K + 1)**a`` (digit 0 = ignored), exact while
        ``(K + 1)**A <= 2**24`` (e.g. 12 outputs of 3 classes). Larger problems:
        train one booster per output (what :class:`FocalMultiOutputClassifier` does
        with LightGBM) or use XGBoost.
        """
        self._check_code_range()
        labels = self._check_y(y)
        codes, mask = v.check_multioutput_labels(labels, self.n_classes, self.ignore_label)
        digits = np.where(mask, codes + 1, 0).astype(np.int64)
        place = (self.n_classes + 1) ** np.arange(self.n_outputs, dtype=np.int64)
        return (digits @ place).astype(np.float64)

    def xgb_label(self, y: Any) -> np.ndarray:
        """Labels ``(n, A)`` one-hot encoded as ``(n, A * K)`` for an XGBoost DMatrix.

        XGBoost derives the number of outputs from the label width, so the label must
        have ``A * K`` columns: the one-hot block of each output, all zeros where ignored.
        """
        labels = self._check_y(y)
        codes, mask = v.check_multioutput_labels(labels, self.n_classes, self.ignore_label)
        onehot = np.zeros(labels.shape + (self.n_classes,), dtype=np.float32)
        rows, outputs = np.nonzero(mask)
        onehot[rows, outputs, codes[rows, outputs]] = 1.0
        return onehot.reshape(labels.shape[0], -1)

    def _check_code_range(self) -> None:
        if (self.n_classes + 1) ** self.n_outputs > _FLOAT32_EXACT:
            raise ValueError(
                f"{self.n_outputs} outputs of {self.n_classes} classes do not fit in LightGBM's "
                "float32 row label ((K + 1)**A must be <= 2**24): train one LightGBM booster per "
                "output (FocalMultiOutputClassifier(backend='lightgbm') does) or use XGBoost"
            )

    def decode_label(self, label: np.ndarray) -> np.ndarray:
        """Labels ``(n, A)`` (ignored = ignore_label) from a library's stored label."""
        n_rows = label.shape[0]
        marker = -1 if self.ignore_label is None else self.ignore_label
        a, k = self.n_outputs, self.n_classes
        if label.ndim == 2 and label.shape == (n_rows, a * k):  # XGBoost one-hot
            blocks = label.reshape(n_rows, a, k)
            total = blocks.sum(axis=2)
            if not (np.isin(blocks, (0.0, 1.0)).all() and np.isin(total, (0.0, 1.0)).all()):
                raise ValueError(
                    "the XGBoost label must be one-hot per output (loss.xgb_label(y)); found "
                    "blocks that are not one-hot or all zero"
                )
            return np.where(total > 0, blocks.argmax(axis=2), marker)
        if label.ndim == 2 and label.shape == (n_rows, a):  # plain labels
            return label
        if label.ndim == 1:  # LightGBM row code
            self._check_code_range()
            code = label.astype(np.float64)
            top = (k + 1) ** a
            if not ((code == np.round(code)) & (code >= 0) & (code < top)).all():
                raise ValueError(
                    "the LightGBM label must be the row code of loss.lgb_label(y) "
                    f"(integers in [0, {top})); build the Dataset with label=loss.lgb_label(y)"
                )
            place = (k + 1) ** np.arange(a, dtype=np.int64)
            digits = (code.astype(np.int64)[:, None] // place) % (k + 1)
            return np.where(digits > 0, digits - 1, marker)
        raise ValueError(
            f"the dataset label has shape {label.shape}; expected loss.lgb_label(y) ({n_rows},) "
            f"for LightGBM or loss.xgb_label(y) ({n_rows}, {a * k}) for XGBoost"
        )


# --------------------------------------------------------------------------- multi-label
class MultiLabelFocalLoss(FocalLoss):
    """Multi-label focal loss: an independent sigmoid focal loss for each of ``n_labels``.

    Each row has ``L`` yes/no labels (0/1, or ``ignore_label`` where a label is unknown);
    label ``l`` of row ``i`` contributes ``-a_{l,y} (1 - p_t)**gamma log(p_t)`` with
    ``p = sigmoid(z_il)``, exactly the binary focal loss, so every property of the binary
    math (stability, exactness, compiled kernels, the positive Hessian) carries over.

    Parameters
    ----------
    n_labels : int
        Number of labels ``L >= 1``.
    alpha : None, float, sequence of L floats, "balanced" or ("effective_number", beta)
        Class weights per label. None: 1. A float ``a`` in [0, 1]: ``a`` for the positives
        and ``1 - a`` for the negatives of every label. A sequence of ``L`` floats in
        [0, 1]: that per label. "balanced" / ("effective_number", beta): resolved per
        label from its labelled rows (``n_l / (2 n_{l,c})`` / Cui et al. 2019).
    gamma : float, default=2.0
        Focusing parameter ``>= 0``.
    hessian : {"positive", "exact"}, default="positive"
        As in :class:`BinaryFocalLoss`.
    ignore_label : int or None, default=-1
        Marker of an unknown label; such entries contribute nothing.

    Attributes
    ----------
    alpha_ : ndarray of shape (n_labels, 2)
        Resolved ``[negative, positive]`` weights of every label.

    Notes
    -----
    Raw scores are ``(n, L)``, one margin per label (XGBoost: ``DMatrix(X, label=y)`` with
    an ``(n, L)`` label and ``multi_strategy`` either way; LightGBM keeps one label per row,
    so train one booster per label with :class:`BinaryFocalLoss` and this loss's
    ``alpha_[l]``, which is what :class:`gbfocal.FocalMultiLabelClassifier` does). The
    metrics average over the labelled entries (``"focal_loss"``, ``"log_loss"`` of the
    corrected probabilities) or over the labels (``"average_precision"`` and ``"roc_auc"``,
    macro, on each label's labelled rows).

    Examples
    --------
    >>> import numpy as np
    >>> from gbfocal import MultiLabelFocalLoss
    >>> y = np.array([[1, 0, -1], [0, 0, 1], [1, 0, 1], [0, 1, 0]])
    >>> loss = MultiLabelFocalLoss(3, alpha="balanced").fit(y)
    >>> loss.alpha_.round(4)                     # label 1: 3 negatives, 1 positive
    array([[1.    , 1.    ],
           [0.6667, 2.    ],
           [1.5   , 0.75  ]])
    >>> loss.grad_hess(y, np.zeros((4, 3)))[0][0, 2]   # unknown: exactly zero
    np.float64(0.0)
    """

    binary = False

    def _alpha_shape(self) -> tuple[int, ...]:
        return (self.n_labels, 2)
    n_labels: int
    ignore_label: int | None
    _label_alpha: tuple[float, ...] | None
    _given_alpha: Any

    def __init__(
        self,
        n_labels: int,
        alpha: Any = None,
        gamma: float = 2.0,
        hessian: str = "positive",
        ignore_label: int | None = -1,
        *,
        gamma_neg: float | None = None,
        clip: float = 0.0,
    ) -> None:
        if isinstance(n_labels, bool) or not isinstance(n_labels, numbers.Integral):
            raise TypeError(f"n_labels must be an integer >= 1, got {n_labels!r}")
        if n_labels < 1:
            raise ValueError(f"n_labels must be >= 1, got {n_labels}")
        per_label = (
            alpha is not None and not isinstance(alpha, (str, numbers.Real))
            and not (isinstance(alpha, (tuple, list)) and alpha and isinstance(alpha[0], str))
        )
        if per_label:
            values = v.as_float_array(alpha, "alpha")
            if values.shape != (int(n_labels),):
                raise ValueError(
                    f"alpha as a sequence must hold one positive-class weight per label "
                    f"({int(n_labels)}), got shape {values.shape}"
                )
            for a in values:  # the binary rules, label by label
                FocalSpec.create(alpha=float(a), binary=True)
            self.spec = FocalSpec.create(alpha=None, gamma=gamma, hessian=hessian, binary=True,
                                         gamma_neg=gamma_neg, clip=clip)
            self._label_alpha = tuple(float(a) for a in values)
        else:
            self.spec = FocalSpec.create(alpha=alpha, gamma=gamma, hessian=hessian, binary=True,
                                         gamma_neg=gamma_neg, clip=clip)
            self._label_alpha = None
        self._given_alpha = alpha
        self.n_labels = int(n_labels)
        self.ignore_label = v.check_ignore_label(ignore_label, 2)

    @property
    def alpha(self) -> Any:
        return self._given_alpha

    def _repr_args(self) -> list[str]:
        return [f"n_labels={self.n_labels}"]

    def __repr__(self) -> str:
        extra = f", ignore_label={self.ignore_label!r}"
        if self.spec.asymmetric:
            extra += f", gamma_neg={self.spec.gamma_neg!r}, clip={self.spec.clip!r}"
        return super().__repr__()[:-1] + extra + ")"

    def _weighted(self) -> bool:
        return self.spec.alpha is not None or self._label_alpha is not None

    # ------------------------------------------------------------------ checks
    def _check_labels(self, y: Any) -> np.ndarray:
        labels = v.check_multioutput_label_array(y)
        if labels.shape[1] != self.n_labels:
            raise ValueError(
                f"y_true has {labels.shape[1]} labels (columns) but the loss was built for "
                f"n_labels={self.n_labels}"
            )
        v.check_multioutput_labels(labels, 2, self.ignore_label)
        return labels

    def _check_weight(self, sample_weight: Any, labels: np.ndarray) -> np.ndarray | None:
        return v.check_multioutput_sample_weight(sample_weight, labels.shape[0], self.n_labels)

    def _check_margins(
        self, raw_score: Any, n_samples: int, *, keep_float32: bool = False
    ) -> np.ndarray:
        z = v.as_float_array(raw_score, "raw_score", keep_float32=keep_float32)
        if z.ndim == 1 and self.n_labels == 1:
            z = z[:, None]
        if z.ndim != 2 or z.shape[1] != self.n_labels:
            raise ValueError(
                f"raw_score must be (n_samples, n_labels={self.n_labels}) margins, got shape "
                f"{z.shape}"
            )
        if n_samples >= 0 and z.shape[0] != n_samples:
            raise ValueError(f"raw_score has {z.shape[0]} rows, expected {n_samples}")
        if z.size == 0:
            raise ValueError("raw_score is empty: at least one sample is required")
        v.check_finite(z, "raw_score")
        return z

    def _columns(self) -> int:
        return self.n_labels

    def decode_label(self, label: np.ndarray) -> np.ndarray:
        """The ``(n, L)`` label of an XGBoost DMatrix as it is (LightGBM: refused)."""
        if label.ndim == 1 and self.n_labels == 1:  # XGBoost flattens an (n, 1) label
            return label[:, None]
        if label.ndim != 2:
            raise ValueError(
                f"the dataset label has shape {label.shape}; the multi-label loss needs the "
                "(n, n_labels) label of an XGBoost DMatrix. LightGBM keeps one label per row: "
                "train one booster per label (FocalMultiLabelClassifier does)"
            )
        return label

    # ------------------------------------------------------------------ class weights
    def _resolve(self, labels: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
        codes, mask = v.check_multioutput_labels(labels, 2, self.ignore_label)
        if self._label_alpha is not None:
            a = np.asarray(self._label_alpha)
            return np.column_stack([1.0 - a, a])
        rows = []
        for label in range(self.n_labels):
            labelled = mask[:, label]
            w = None if weight is None else np.asarray(weight)[labelled, label]
            try:
                alpha = self.spec.class_weights(codes[labelled, label], w)
            except ValueError as exc:
                raise ValueError(f"label {label}: {exc}") from exc
            rows.append(np.ones(2) if alpha is None else alpha)
        return np.vstack(rows)

    def _prepare(self, training: TrainingSet) -> None:
        codes, mask = v.check_multioutput_labels(training.labels, 2, self.ignore_label)
        flat = mask.ravel()
        label_index = np.tile(np.arange(self.n_labels), training.n_rows)[flat]
        training.mask = flat
        training.pair_labels = codes.ravel()[flat].astype(np.int8)
        row_weight = None if training.weight is None else np.ascontiguousarray(
            np.asarray(training.weight).ravel()[flat], dtype=np.float64)
        training.pair_weight = row_weight
        combined = row_weight
        if self._weighted():
            per_pair = training.class_weights[label_index, training.pair_labels]
            combined = per_pair if row_weight is None else per_pair * row_weight
        training.pair_combined = combined

    def _pairs(self, training: TrainingSet) -> tuple[np.ndarray, np.ndarray]:
        assert training.mask is not None and training.pair_labels is not None
        return training.mask, training.pair_labels

    def _scatter(self, training: TrainingSet, values: np.ndarray, dtype: Any,
                 out: np.ndarray | None = None) -> np.ndarray:
        mask, _ = self._pairs(training)
        if out is None:
            out = np.zeros(mask.shape[0], dtype=dtype)
        else:
            out = out.reshape(-1)
            out.fill(0.0)
        out[mask] = values
        return out

    # ------------------------------------------------------------------ math
    def _values(self, training: TrainingSet, z: np.ndarray, reduction: str = "mean") -> Any:
        mask, y = self._pairs(training)
        flat = np.ascontiguousarray(z.reshape(-1)[mask], dtype=np.float64)
        if self.spec.asymmetric:
            loss = _asym_loss(self.spec, y, flat, None, training.pair_combined)
        else:
            loss = _backend.loss(y, flat, None, training.pair_combined, self.spec.gamma,
                                 binary=True)
        if reduction == "none":
            return self._scatter(training, loss, np.float64).reshape(z.shape)
        if reduction == "sum":
            return float(loss.sum())
        if reduction != "mean":
            raise ValueError(f"reduction must be one of ('mean', 'sum', 'none'), got {reduction!r}")
        return pair_mean(float(loss.sum()), self._total_weight(training))

    def _derivatives(
        self, training: TrainingSet, z: np.ndarray, *, dtype: Any = np.float64,
        out: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        mask, y = self._pairs(training)
        flat = np.ascontiguousarray(z.reshape(-1)[mask])
        if self.spec.asymmetric:
            grad, hess = _asym_grad_hess(self.spec, y, flat, None, training.pair_combined)
        else:
            grad, hess = _backend.grad_hess(y, flat, None, training.pair_combined,
                                            self.spec.gamma, self.spec.positive, binary=True)
        grad_out, hess_out = (None, None) if out is None else out
        return (self._scatter(training, grad, dtype, grad_out).reshape(z.shape),
                self._scatter(training, hess, dtype, hess_out).reshape(z.shape))

    def _total_weight(self, training: TrainingSet) -> float:
        _, y = self._pairs(training)
        weight = training.pair_weight
        return float(y.shape[0] if weight is None else np.sum(weight))

    def _log_loss_values(self, training: TrainingSet, z: np.ndarray) -> np.ndarray:
        mask, y = self._pairs(training)
        corrected = self.posterior_margin(z).reshape(-1)[mask]
        return _backend.loss(y, np.ascontiguousarray(corrected), None, training.pair_weight, 0.0,
                             binary=True)

    def loss(
        self, y: Any, raw_score: Any, sample_weight: Any = None, reduction: str = "mean"
    ) -> Any:
        """Focal loss: the weighted mean over the labelled entries (``reduction="sum"`` /
        ``"none"``: their sum / the ``(n, L)`` array, zero where unknown)."""
        training = self._numpy_training_set(y, sample_weight)
        return self._values(training, self._check_margins(raw_score, training.n_rows), reduction)

    def _ranking_metric(self, name: str, y: Any, raw_score: Any, sample_weight: Any) -> float:
        labels = self._check_labels(y)
        weight = self._check_weight(sample_weight, labels)
        raw = self._check_margins(raw_score, labels.shape[0])
        codes, mask = v.check_multioutput_labels(labels, 2, self.ignore_label)
        score = _ranking.roc_auc if name == "roc_auc" else _ranking.average_precision
        values = []
        for label in range(self.n_labels):
            rows = mask[:, label]
            w = None if weight is None else np.asarray(weight)[rows, label]
            self.check_metric_defined(name, codes[rows, label].astype(np.intp), w,
                                      name=f"label {label} of the evaluation data")
            values.append(score(codes[rows, label] == 1, raw[rows, label], w))
        return float(np.mean(values))

    # ------------------------------------------------------------------ margins and probabilities
    def init_score(self, y: Any, sample_weight: Any = None) -> np.ndarray:
        """Constant raw margins ``(n_labels,)``: each label's focal optimum (0 for a label
        without weight). Raises ValueError when ``sample_weight`` is zero on every labelled
        entry."""
        labels = self._check_labels(y)
        weight = self._check_weight(sample_weight, labels)
        codes, mask = v.check_multioutput_labels(labels, 2, self.ignore_label)
        _require_weight(None if weight is None else np.asarray(weight)[mask], "entry")
        self.fit(y, sample_weight)
        out = np.zeros(self.n_labels)
        for label in range(self.n_labels):
            rows = mask[:, label]
            w = None if weight is None else np.asarray(weight)[rows, label]
            totals = _class_totals(codes[rows, label], w, self.alpha_[label], 2)
            if totals.sum() > 0:
                out[label] = minimise_binary(totals, self.spec.gamma,
                                             functions=_asym_functions(self.spec))
        return out

    def _posterior_alpha(self) -> np.ndarray | None:
        if not self._weighted():
            return None
        if not hasattr(self, "alpha_"):
            if self.spec.needs_labels:
                raise ValueError(
                    f"alpha={self.alpha!r} is resolved from the training labels, but this loss "
                    "object has not seen them, and corrected probabilities need the resolved "
                    "class weights: call loss.fit(y_train, sample_weight) (or init_score) first"
                )
            self.alpha_ = self._resolve(np.zeros((1, self.n_labels)), None)
        return positive_weights(self.alpha_)

    def posterior_margin(self, raw_score: Any) -> np.ndarray:
        """Raw margins ``(n, L)`` mapped to the log-odds of each label's posterior."""
        z = self._check_margins(raw_score, -1)
        alpha = self._posterior_alpha()
        # [negative, positive] weights as (2, L): they broadcast per label
        per_label = None if alpha is None else alpha.T
        if self.spec.asymmetric:
            return _asym_posterior_log_odds(self.spec, z, per_label)
        return posterior_log_odds(z, per_label, self.spec.gamma)

    def predict_proba(
        self, raw_score: Any, *, corrected: bool = True, check_input: bool = True
    ) -> np.ndarray:
        """Positive-class probability of every label, ``(n, L)`` (scikit-learn's multi-label
        ``predict_proba`` layout): the focal posterior, or the plain sigmoid with
        ``corrected=False``."""
        z = self._check_margins(raw_score, -1)
        if check_input and z.size > 1 and ((z >= 0) & (z <= 1)).all():
            warnings.warn(
                "predict_proba received raw scores that all lie in [0, 1]: these look like "
                "probabilities, not raw margins; pass booster.predict(..., output_margin=True)",
                UserWarning, stacklevel=2,
            )
        t = self.posterior_margin(z) if corrected else z
        return special.expit(t)


# The metric callables lived here in gbfocal 0.1; they are in gbfocal.adapters now.
LightGBMMetric = adapters.LightGBMMetric
LightGBMSklearnMetric = adapters.LightGBMSklearnMetric
XGBoostMetric = adapters.XGBoostMetric
XGBoostSklearnMetric = adapters.XGBoostSklearnMetric
