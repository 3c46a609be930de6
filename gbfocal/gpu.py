"""Focal-loss objective for XGBoost on CUDA: gradient and Hessian computed with CuPy.

With ``device="cuda"`` XGBoost hands a custom objective the margins as a NumPy array
on the host and accepts CuPy arrays back. :class:`XGBoostCudaObjective` copies the
margins to the GPU, evaluates the same formulas as the CPU path
(:mod:`gbfocal._math`, written once for NumPy and CuPy) in float64 and returns float32
CuPy arrays. Labels and weights are checked and copied to the device once per
training set. CuPy is imported on the first call: ``pip install gbfocal[gpu]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _math
from ._engines.adapters import dataset_label
from ._optional import import_optional
from ._spec import ARRAY_BACKENDS
from .losses import FocalLoss, MultiOutputFocalLoss

__all__ = ["XGBoostCudaObjective", "xgb_cuda_objective"]


def array_module(backend: str) -> Any:
    if backend == "numpy":
        return np
    # gbfocal[gpu] installs cupy-cuda12x: pick the CuPy package matching your CUDA version
    return import_optional("cupy", needed_by="the CUDA focal objective")


class XGBoostCudaObjective:
    """XGBoost custom objective computing the focal gradient and Hessian with CuPy.

    Use it like :meth:`~gbfocal.losses.BinaryFocalLoss.xgb_objective`::

        xgb.train({"device": "cuda", ...}, dtrain, obj=XGBoostCudaObjective(loss))

    Parameters
    ----------
    loss : BinaryFocalLoss or MulticlassFocalLoss
        Supplies ``alpha`` / ``gamma`` / ``hessian``; ``alpha_`` is resolved exactly as
        by ``loss.xgb_objective`` (kept if the loss was fitted explicitly, otherwise
        from the training set).
    backend : {"cupy", "numpy"}, default="cupy"
        Array module; "numpy" runs the identical code on the CPU (for testing, or to
        keep one code path on machines without a GPU).

    Notes
    -----
    Results equal ``loss.xgb_objective`` up to the order of floating-point
    operations (both compute in float64 and round once to float32).
    """

    def __init__(self, loss: FocalLoss, backend: str = "cupy") -> None:
        if not isinstance(loss, FocalLoss) or isinstance(loss, MultiOutputFocalLoss):
            raise TypeError(
                f"loss must be a BinaryFocalLoss or MulticlassFocalLoss, got {type(loss).__name__}"
            )
        if backend not in ARRAY_BACKENDS:
            raise ValueError(f"backend must be one of {ARRAY_BACKENDS}, got {backend!r}")
        self.loss = loss
        self.backend = backend

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.loss!r}, backend={self.backend!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_device_cache", None)  # device arrays: rebuilt on the next call
        return state

    def _device_inputs(self, xp: Any, dtrain: Any) -> tuple[Any, Any, Any]:
        """Checked labels, weights and class weights on the device, cached per training set."""
        training_set = self.loss.training_set(
            dataset_label(dtrain), dtrain.get_weight(), dataset=dtrain
        )
        labels, weight = training_set.labels, training_set.weight
        alpha = None if self.loss.spec.alpha is None else training_set.class_weights
        cache = getattr(self, "_device_cache", None)
        if cache is None or cache[0] is not labels or cache[1] is not weight:
            device = tuple(None if a is None else xp.asarray(a) for a in (labels, weight))
            cache = (labels, weight, alpha, device)
            self._device_cache = cache
        y, w = cache[3]
        a = None if alpha is None else xp.asarray(alpha, dtype=xp.float64)
        return y, w, a

    def __call__(self, predt: Any, dtrain: Any) -> tuple[Any, Any]:
        xp = array_module(self.backend)
        n = int(dtrain.num_row())
        raw = self.loss.margins(np.asarray(predt), n, layout="C")
        return self.device_grad_hess(xp.asarray(raw), dtrain)

    def device_grad_hess(self, margins: Any, dtrain: Any) -> tuple[Any, Any]:
        """float32 gradient and Hessian from margins already on the device of ``backend``.

        ``margins``: ``(n,)`` or ``(n, K)`` array of the array module of ``backend``
        (CuPy, or NumPy); checked for shape and finiteness like the host path.
        """
        xp = array_module(self.backend)
        y, w, alpha = self._device_inputs(xp, dtrain)
        n = int(y.shape[0])
        z = xp.asarray(margins, dtype=xp.float64)
        if self.loss.binary and z.ndim == 2 and z.shape[1] == 1:
            z = z[:, 0]
        expected = (n,) if self.loss.binary else (n, self.loss.n_classes)
        if tuple(z.shape) != expected:
            raise ValueError(f"margins have shape {tuple(z.shape)}, expected {expected}")
        if not bool(xp.isfinite(z).all()):
            raise ValueError("raw_score must be finite (NaN or infinity in the margins)")
        fn = _math.binary_grad_hess if self.loss.binary else _math.multiclass_grad_hess
        grad, hess = fn(xp, y, z, alpha, w, self.loss.spec.gamma, self.loss.spec.positive)
        return grad.astype(xp.float32), hess.astype(xp.float32)


def xgb_cuda_objective(loss: FocalLoss) -> XGBoostCudaObjective:
    """``XGBoostCudaObjective(loss)``: the CuPy focal objective for ``xgb.train(obj=...)``."""
    return XGBoostCudaObjective(loss)
