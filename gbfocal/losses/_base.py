"""The one loss base: state, the NumPy level, the per-round interface, the adapters.

:class:`FocalLoss` holds one validated :class:`~gbfocal._spec.FocalSpec` and everything the
binary, multiclass, multi-output and multi-label losses share; each subclass supplies its
labels' checks and its math. :class:`TrainingSet` is one training set's per-round state
(checked labels and weights, reused buffers, the compiled kernel). A boosting round after
the first runs in this module and the kernels only: the per-round path (the training set's
lookup, the margins, the gradient pair) lives here, not in the subclasses.
"""

from __future__ import annotations

import platform
import sys
import threading
import weakref
from typing import Any, Literal, TypeVar, cast

import numpy as np

from .. import _backend
from .. import _validation as v
from .._engines import adapters
from .._posterior import positive_weights
from .._spec import METRICS, FocalSpec, check_metric

__all__ = ["ADAPTER_TABLE", "MAX_TRAINING_SETS", "TRAINING_SETS_LOCK", "FocalLoss", "TrainingSet",
           "class_totals", "ready_margins", "require_weight", "weighted_mean"]


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


def _equal_arrays(current: Any, kept: np.ndarray | None) -> bool:
    """True if ``current`` holds exactly ``kept``'s values: same dtype, shape and values
    (a copy taken earlier, so an array changed in place since compares unequal)."""
    if current is None or kept is None:
        return current is None and kept is None
    return (current.dtype == kept.dtype and current.shape == kept.shape
            and bool(np.array_equal(current, kept)))


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


class CheckedInputs:
    """Checked labels and row weights of one metric / NumPy-level call, kept across calls
    by :meth:`FocalLoss._checked` with a copy of the raw inputs they were checked from."""

    __slots__ = ("defined", "labels", "raw_label", "raw_weight", "weight")

    def __init__(self, labels: np.ndarray, weight: np.ndarray | None) -> None:
        self.labels, self.weight = labels, weight
        self.raw_label: np.ndarray | None = None
        self.raw_weight: np.ndarray | None = None
        self.defined: set[str] = set()  # the ranking metrics found defined on these labels


# Training sets a loss object remembers at once (several concurrent trainings may share
# one loss; the oldest is forgotten first).
MAX_TRAINING_SETS = 8
# One lock for every loss object's training-set and checked-input lists: it is held only
# to look up or insert a cache entry, never while gradients or metrics are computed.
TRAINING_SETS_LOCK = threading.Lock()
# Checked label/weight pairs of the metrics a loss object remembers at once (a training
# set and a few validation sets, evaluated every round).
MAX_CHECKED_INPUTS = 8


def ready_margins(z: Any, shape: tuple[int, ...], keep_float32: bool) -> bool:
    """Whether ``z`` is already what the margin checks would return: a finite float64
    (or, kept, float32) array of ``shape``. Then nothing is converted or re-checked in
    depth; anything else goes through the full checks and their messages."""
    return (isinstance(z, np.ndarray) and z.shape == shape
            and (z.dtype == np.float64 or keep_float32 and z.dtype == np.float32)
            and bool(np.isfinite(z).all()))


def weighted_mean(values: np.ndarray, sample_weight: np.ndarray | None) -> float:
    """``sum(values) / sum(w)`` for values already multiplied by the weights ``w``."""
    total = values.shape[0] if sample_weight is None else float(np.sum(sample_weight))
    if total <= 0:
        raise ValueError("sample_weight sums to zero: the weighted mean loss is undefined")
    return float(np.sum(values) / total)


ADAPTER_TABLE = """
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
        state.pop("_checked_inputs", None)
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

    def _checked(self, y: Any, sample_weight: Any) -> CheckedInputs:
        """Checked labels and row weights, remembered by value across calls.

        The per-round metrics hand the same validation labels every boosting round, and
        checking them again was a third of a small model's metric time (the one-off NumPy
        level, :meth:`loss` and :meth:`grad_hess`, does not keep copies). The last few
        pairs of NumPy inputs are kept with a copy of the inputs; the same values (dtype,
        shape, every element: an array changed in place is checked again) reuse the
        checked arrays. Anything but NumPy arrays is checked anew. (Not made read-only:
        numba would compile every kernel once more for read-only arrays; nothing here
        writes into checked labels or weights.)
        """
        cacheable = isinstance(y, np.ndarray) and (
            sample_weight is None or isinstance(sample_weight, np.ndarray))
        if cacheable:
            with TRAINING_SETS_LOCK:
                entries = list(self.__dict__.get("_checked_inputs", ()))
            for entry in reversed(entries):
                if (_equal_arrays(y, entry.raw_label)
                        and _equal_arrays(sample_weight, entry.raw_weight)):
                    return entry
        labels = self._check_labels(y)
        entry = CheckedInputs(labels, self._check_weight(sample_weight, labels))
        if cacheable:
            entry.raw_label = y.copy()
            entry.raw_weight = None if sample_weight is None else sample_weight.copy()
            with TRAINING_SETS_LOCK:
                entries = self.__dict__.setdefault("_checked_inputs", [])
                entries.append(entry)
                del entries[:-MAX_CHECKED_INPUTS]
        return entry

    def _numpy_training_set(self, y: Any, sample_weight: Any, *,
                            remember: bool = False) -> TrainingSet:
        """A training set of the NumPy level; ``remember``: through :meth:`_checked` (the
        per-round metrics), else checked anew (one-off calls: no copies kept)."""
        if remember:
            checked = self._checked(y, sample_weight)
            labels, weight = checked.labels, checked.weight
        else:
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
        with TRAINING_SETS_LOCK:
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
        with TRAINING_SETS_LOCK:
            caches = self.__dict__.setdefault("_train_caches", [])
            caches.append(cache)
            del caches[:-MAX_TRAINING_SETS]
        return cache

    def forget_training_sets(self) -> None:
        """Drop the cached training sets (checked labels, weights, gradient buffers).

        The next objective call checks its training set again; ``alpha_`` stays. The
        estimators call it after fitting, so that a fitted model holds none of them.
        """
        with TRAINING_SETS_LOCK:
            self.__dict__.pop("_train_caches", None)
            self.__dict__.pop("_checked_inputs", None)

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
        z = self._unflatten(z, n_rows, layout)
        if self._ready(z, n_rows, keep_float32):
            return z  # every boosting round: nothing to convert, nothing wrong
        return self._check_margins(z, n_rows, keep_float32=keep_float32)

    def _ready(self, z: Any, n_rows: int, keep_float32: bool) -> bool:
        """Whether ``z`` is already checked margins for ``n_rows`` rows (see ready_margins)."""
        columns = self._columns()
        shape = (n_rows,) if columns == 1 else (n_rows, columns)
        return self._fast_margins and ready_margins(z, shape, keep_float32)

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
        if training.writer is not None:  # the compiled kernel, straight into the buffers
            # LightGBM's multiclass margins are a column-major (n, K) view and it flattens
            # the gradient in column order: written so, it is taken without a copy
            order: Literal["C", "F"] = ("F" if margins.flags.f_contiguous
                                        and not margins.flags.c_contiguous else "C")
            out = training.take_buffers(margins.shape, order)
            self._write_round(training, margins, out)
            grad, hess = out
        else:
            out = training.take_buffers(margins.shape, self._buffer_order(margins))
            grad, hess = self._derivatives(training, margins, dtype=np.float32, out=out)
        training.keep_buffers(grad, hess)
        return grad, hess

    # which compiled kernel writes this loss's rounds (None: always the general path), and
    # whether margins that are already finite arrays of the loss's shape skip the checks
    _kernel_kind: str | None = None
    _fast_margins = False

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
        self._require_alpha(self._UNFITTED_METRIC)
        training = self._numpy_training_set(y, sample_weight, remember=True)
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

    # What to do when alpha still waits for the training labels, for the metrics (which
    # must not fit themselves: that would take the class weights from the *validation*
    # labels, silently unlike the objective's; lgb.train deep-copies params, so the
    # objective fits a copy and never this object) and for the corrected probabilities.
    _UNFITTED_METRIC = (
        " (lgb.train deep-copies params, so the objective fits a copy). Call "
        "loss.init_score(y_train, sample_weight) - needed for the starting margin anyway - "
        "or loss.fit(y_train, sample_weight) before training."
    )
    _UNFITTED_POSTERIOR = (
        ", and corrected probabilities need the resolved class weights: call "
        "loss.fit(y_train, sample_weight) (or init_score) first"
    )

    def _require_alpha(self, remedy: str) -> None:
        """Raise ValueError (ending in ``remedy``) while ``alpha`` is ``"balanced"`` or
        ``("effective_number", beta)`` and this loss has not seen the training labels."""
        if self.spec.needs_labels and not hasattr(self, "alpha_"):
            raise ValueError(
                f"alpha={self.alpha!r} is resolved from the training labels, but this loss "
                f"object has not seen them{remedy}"
            )

    def _log_loss_values(self, training: TrainingSet, z: np.ndarray) -> np.ndarray:
        corrected = self.posterior_margin(z)
        return _backend.loss(training.labels, corrected, None, training.weight, 0.0,
                             binary=self.binary)

    def _ranking_metric(
        self, name: str, y: Any, raw_score: Any, sample_weight: Any
    ) -> float:
        self._require_alpha(self._UNFITTED_METRIC)
        checked = self._checked(y, sample_weight)
        labels, weight = checked.labels, checked.weight
        # binary float32 margins (XGBoost's) rank as they are: no float64 copy, no second
        # check (the multiclass probabilities are computed in float64, from float64)
        raw = raw_score if self._ready(raw_score, labels.shape[0], self.binary) else (
            self._check_margins(raw_score, labels.shape[0]))
        if name not in checked.defined:
            self.check_metric_defined(name, labels, weight)
            checked.defined.add(name)
        if self.binary:
            # Ranking metrics are invariant under the monotone posterior: ranking the
            # margins avoids the ties that sigmoid creates once it saturates at 1.0.
            return float(_backend.ranking_scores(name, labels == 1, raw, weight))
        # macro one-vs-rest, as scikit-learn's average="macro" (multi_class="ovr")
        proba = self.predict_proba(raw, check_input=False)
        return float(np.mean([_backend.ranking_scores(name, labels == k, proba[:, k], weight)
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
        self._require_alpha(self._UNFITTED_POSTERIOR)
        if not hasattr(self, "alpha_"):
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


def class_totals(labels: np.ndarray, weight: np.ndarray | None, alpha: np.ndarray,
                  n_classes: int) -> np.ndarray:
    return np.bincount(labels, weights=weight, minlength=n_classes) * alpha


def require_weight(weight: np.ndarray | None, entries: str = "row") -> None:
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


