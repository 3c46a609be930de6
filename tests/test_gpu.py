"""The array-module-generic focal math (gbfocal._math) and the XGBoost CUDA objective.

The generic code runs here with ``xp = numpy`` and must agree with gbfocal's own
functions to 1e-12; the CuPy tests run only where CuPy and a CUDA device exist.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose

from gbfocal import _math, binary_focal_grad_hess, multiclass_focal_grad_hess
from gbfocal.gpu import XGBoostCudaObjective, xgb_cuda_objective
from gbfocal.losses import BinaryFocalLoss, MulticlassFocalLoss

# Margins from tiny to huge, where the stable formulas matter.
SCALES = [0.1, 3.0, 40.0, 400.0]


def _case(n_classes: int, scale: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = 300
    y = rng.integers(0, n_classes, n)
    z = rng.normal(scale=scale, size=n if n_classes == 2 else (n, n_classes))
    w = rng.uniform(0.1, 3.0, n)
    alpha = rng.uniform(0.2, 2.0, n_classes)
    return y, z, w, alpha


@pytest.mark.parametrize("hessian", ["positive", "exact"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_generic_code_on_numpy_equals_gbfocal(n_classes, scale, gamma, hessian):
    y, z, w, alpha = _case(n_classes, scale)
    if n_classes == 2:
        ref = binary_focal_grad_hess(y, z, alpha=alpha, gamma=gamma, sample_weight=w,
                                     hessian=hessian)
        got = _math.binary_grad_hess(np, y, z, alpha, w, gamma, hessian == "positive")
    else:
        ref = multiclass_focal_grad_hess(y, z, alpha=alpha, gamma=gamma, sample_weight=w,
                                         hessian=hessian)
        got = _math.multiclass_grad_hess(np, y, z, alpha, w, gamma, hessian == "positive")
    for r, g in zip(ref, got, strict=True):
        assert g.shape == r.shape and g.dtype == np.float64
        # relative 1e-12, plus an absolute floor far below float32 resolution for
        # entries that underflow differently along the two evaluation orders
        assert_allclose(g, r, rtol=1e-12, atol=1e-300)


def test_generic_code_without_weights_or_alpha():
    y, z, _, _ = _case(4, 3.0)
    ref = multiclass_focal_grad_hess(y, z, gamma=2.0)
    got = _math.multiclass_grad_hess(np, y, z, None, None, 2.0, True)
    assert_allclose(got[0], ref[0], rtol=1e-12)
    assert_allclose(got[1], ref[1], rtol=1e-12)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_objective_with_numpy_backend_equals_xgb_objective(n_classes):
    xgb = pytest.importorskip("xgboost")
    y, z, w, _ = _case(n_classes, 2.0, seed=1)
    X = np.random.default_rng(2).normal(size=(len(y), 4))
    dtrain = xgb.DMatrix(X, y, weight=w)
    if n_classes == 2:
        loss = BinaryFocalLoss(alpha="balanced", gamma=2.0)
    else:
        loss = MulticlassFocalLoss(3, alpha="balanced", gamma=2.0)
    objective = XGBoostCudaObjective(loss, backend="numpy")
    predt = z.astype(np.float32)
    for _ in range(2):  # the second call uses the cached device inputs
        grad, hess = objective(predt, dtrain)
        ref_grad, ref_hess = loss.xgb_objective(predt, dtrain)
        assert grad.dtype == np.float32 and grad.shape == ref_grad.shape
        assert_allclose(grad, ref_grad, rtol=1e-6, atol=1e-30)
        assert_allclose(hess, ref_hess, rtol=1e-6, atol=1e-30)
    # the model trained through it is the model trained through loss.xgb_objective
    params = {"max_depth": 3, "nthread": 1, "base_score": 0.0}
    if n_classes > 2:
        params["num_class"] = n_classes
    a = xgb.train(params, dtrain, 5, obj=objective)
    b = xgb.train(params, dtrain, 5, obj=loss.xgb_objective)
    assert_allclose(a.predict(dtrain, output_margin=True),
                    b.predict(dtrain, output_margin=True), rtol=1e-6)
    clone = pickle.loads(pickle.dumps(objective))
    assert clone.backend == "numpy" and clone.loss.gamma == 2.0


def test_objective_argument_checks():
    with pytest.raises(TypeError, match="loss must be"):
        XGBoostCudaObjective("focal")
    with pytest.raises(ValueError, match="backend"):
        XGBoostCudaObjective(BinaryFocalLoss(), backend="torch")
    assert xgb_cuda_objective(BinaryFocalLoss()).backend == "cupy"


def test_missing_cupy_says_what_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_cupy(name, *args, **kwargs):
        if name == "cupy":
            raise ImportError("No module named 'cupy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cupy)
    objective = xgb_cuda_objective(BinaryFocalLoss())
    with pytest.raises(ImportError, match=r"pip install gbfocal\[gpu\]"):
        objective(np.zeros(3, np.float32), None)


# --------------------------------------------------------------------------- CUDA
def _cupy():
    cupy = pytest.importorskip("cupy")
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("no CUDA device")
    except cupy.cuda.runtime.CUDARuntimeError:
        pytest.skip("no CUDA device")
    return cupy


@pytest.mark.parametrize("n_classes", [2, 3])
def test_cupy_equals_numpy_reference(n_classes):
    cupy = _cupy()
    y, z, w, alpha = _case(n_classes, 40.0)
    fn = _math.binary_grad_hess if n_classes == 2 else _math.multiclass_grad_hess
    ref = fn(np, y, z, alpha, w, 2.0, True)
    got = fn(cupy, cupy.asarray(y), cupy.asarray(z), cupy.asarray(alpha), cupy.asarray(w),
             2.0, True)
    for r, g in zip(ref, got, strict=True):
        assert_allclose(cupy.asnumpy(g), r, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_xgboost_cuda_training_matches_cpu_objective(n_classes):
    _cupy()
    xgb = pytest.importorskip("xgboost")
    y, _, w, _ = _case(n_classes, 1.0, seed=3)
    X = np.random.default_rng(4).normal(size=(len(y), 5))
    dtrain = xgb.DMatrix(X, y, weight=w)
    loss = (BinaryFocalLoss(alpha="balanced") if n_classes == 2
            else MulticlassFocalLoss(n_classes, alpha="balanced"))
    params = {"max_depth": 3, "device": "cuda", "tree_method": "hist", "base_score": 0.0}
    if n_classes > 2:
        params["num_class"] = n_classes
    gpu = xgb.train(params, dtrain, 5, obj=xgb_cuda_objective(loss))
    cpu = xgb.train(params, dtrain, 5, obj=loss.xgb_objective)
    assert_allclose(gpu.predict(dtrain, output_margin=True),
                    cpu.predict(dtrain, output_margin=True), rtol=1e-6, atol=1e-6)
