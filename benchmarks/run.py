"""How fast are gbfocal's focal objectives next to the libraries' built-in ones?

Measured, gbfocal against the baseline of each level: the binary and multiclass gradient +
Hessian kernels against NumPy log loss / softmax cross-entropy (and their extra memory, the
single-threaded kernel, the NumPy path, the peer packages imlightgbm and imbalance-xgboost
when installed); the per-round cost of the LightGBM / XGBoost adapters against the bare
function; end-to-end ``lgb.train`` / ``xgb.train`` with the focal objective against the
built-in objective (binary: 10^6 rows, 100 rounds; multiclass: 2 * 10^5 rows, 7 classes, 50
rounds; 30 features), and for binary training a bare NumPy log-loss objective (what the
library's custom-objective path costs whatever the objective computes: the floor; each custom
objective's fit split into the time inside it and in the library); small data, where
tuning spends its time (the estimators with an evaluation set and early stopping at 3,000
and 30,000 rows, 300 rounds, 1 thread, against ``XGBClassifier`` / ``LGBMClassifier`` with
their built-in objective and metric; ``xgb.train`` on the 569 breast-cancer rows); XGBoost
on a CUDA device (skipped without CuPy and a GPU); and the first-call cost (import,
compiling or loading the numba cache) in fresh interpreters.

Method: every ratio compares timings taken side by side in this one run, in rotating order
(so a background load spike hits every side), and reports the median of the repetitions.
LightGBM and XGBoost get 2 threads, and so do gbfocal's SIMD kernels
(``gbfocal.get_num_threads()`` on this 2-CPU machine; a "1 thread" row shows the
single-threaded kernel too). First-call cost is measured in fresh subprocesses, so it never
pollutes the steady-state timings.

Run ``python benchmarks/run.py`` (full sizes, about 17 minutes on 2 cores; writes
``benchmarks/results.json``, which the documentation's performance page is rendered from, and
``benchmarks/results.md``) or ``python benchmarks/run.py --quick`` (small sizes, about a
minute, prints only).
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import _common as common
import numpy as np
from scipy.special import expit

import gbfocal
from gbfocal import _backend

THREADS = 2

FULL = {
    "kernel_binary_n": 1_000_000, "kernel_multi_n": 200_000, "kernel_multi_k": 7,
    "binary_n": 1_000_000, "binary_rounds": 100, "multi_n": 200_000, "multi_rounds": 50,
    "n_features": 30, "n_classes": 7, "kernel_repeats": 25, "train_repeats": 5,
    "gpu_n": 5_000_000, "gpu_features": 50, "gpu_rounds": 100, "gpu_repeats": 5,
    "small_n": (3_000, 30_000), "small_rounds": 300, "small_repeats": 7,
}
QUICK = {
    "kernel_binary_n": 100_000, "kernel_multi_n": 20_000, "kernel_multi_k": 7,
    "binary_n": 20_000, "binary_rounds": 10, "multi_n": 5_000, "multi_rounds": 5,
    "n_features": 30, "n_classes": 7, "kernel_repeats": 5, "train_repeats": 2,
    "gpu_n": 100_000, "gpu_features": 50, "gpu_rounds": 10, "gpu_repeats": 2,
    "small_n": (3_000,), "small_rounds": 50, "small_repeats": 2,
}


# --------------------------------------------------------------------------- helpers
def extra_memory(fn: Callable[[], Any], n_values: int) -> float:
    """Peak bytes allocated during ``fn`` beyond its result, in float64 arrays of
    ``n_values`` (the size of one returned array: n, or n * K for multiclass).

    tracemalloc sees NumPy's allocations; numba's (a few KiB of per-call scratch in the
    multiclass kernel) are not traced.
    """
    fn()
    tracemalloc.start()
    tracemalloc.reset_peak()
    result = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    arrays = result if isinstance(result, tuple) else (result,)
    kept = sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))
    return max(peak - kept, 0) / (8 * n_values)


class _Labels:
    """The one DMatrix method imbalance-xgboost's objective calls."""

    def __init__(self, y: np.ndarray) -> None:
        self._y = y

    def get_label(self) -> np.ndarray:
        return self._y


def _one_thread(fn: Callable[[], Any]) -> Callable[[], Any]:
    def call() -> Any:
        gbfocal.set_num_threads(1)
        try:
            return fn()
        finally:
            gbfocal.set_num_threads(None)

    return call


def _peer(module: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return f"not available ({type(exc).__name__}: {exc})"


# --------------------------------------------------------------------------- kernels
def _kernel_block(baseline: str, calls: dict[str, Callable[[], Any]], focal: Callable[[], Any],
                  n_values: int, repeats: int, **size: int) -> dict[str, Any]:
    """Median seconds and extra memory of the baseline, gbfocal's kernel (also on 1 thread
    and on the NumPy path) and the peers in ``calls``."""
    calls = {baseline: calls.pop(baseline), "focal (gbfocal)": focal,
             "focal (gbfocal, 1 thread)": _one_thread(focal),
             "focal (gbfocal, NumPy path)": common.numpy_path(focal), **calls}
    seconds = common.medians(calls, repeats)
    return {**size, "seconds": seconds,
            "extra_memory_arrays": {name: extra_memory(fn, n_values) for name, fn in calls.items()},
            "baseline": baseline}


def kernel_benchmarks(cfg: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    n, repeats = cfg["kernel_binary_n"], cfg["kernel_repeats"]
    z = rng.normal(0.0, 3.0, n)
    y = (rng.random(n) < 0.1).astype(np.float64)  # what LightGBM/XGBoost labels become

    def log_loss() -> tuple[np.ndarray, np.ndarray]:
        p = expit(z)
        return p - y, p * (1 - p)

    binary: dict[str, Callable[[], Any]] = {"log loss (NumPy)": log_loss}
    imlgb = _peer("imlightgbm.objective")
    if not isinstance(imlgb, str):
        binary["focal (imlightgbm)"] = functools.partial(
            imlgb.binary_focal_objective, y_true=y, y_pred=z, gamma=2.0)
    imxgb = _peer("imxgboost.focal_loss")
    if not isinstance(imxgb, str):
        binary["focal (imbalance-xgboost)"] = functools.partial(
            imxgb.Focal_Binary_Loss(2.0).focal_binary_object, z, _Labels(y))
    binary["focal gamma 0.5 (gbfocal)"] = lambda: gbfocal.binary_focal_grad_hess(y, z, gamma=0.5)
    binary_block = _kernel_block("log loss (NumPy)", binary,
                                 lambda: gbfocal.binary_focal_grad_hess(y, z), n, repeats, n=n)

    m, k = cfg["kernel_multi_n"], cfg["kernel_multi_k"]
    zm = rng.normal(0.0, 2.0, (m, k))
    ym = rng.integers(0, k, m).astype(np.float64)
    onehot = np.eye(k)[ym.astype(np.intp)]

    def softmax_ce() -> tuple[np.ndarray, np.ndarray]:
        e = np.exp(zm - zm.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        return p - onehot, p * (1 - p)

    multi: dict[str, Callable[[], Any]] = {"softmax cross-entropy (NumPy)": softmax_ce}
    if not isinstance(imlgb, str):
        multi["focal (imlightgbm)"] = functools.partial(
            imlgb.multiclass_focal_objective, y_true=ym, y_pred=zm, gamma=2.0, num_class=k)
    return {
        "binary": binary_block,
        "multiclass": _kernel_block("softmax cross-entropy (NumPy)", multi,
                                    lambda: gbfocal.multiclass_focal_grad_hess(ym, zm),
                                    m * k, repeats, n=m, k=k),
        "peers": {"imlightgbm": None if not isinstance(imlgb, str) else imlgb,
                  "imbalance-xgboost": None if not isinstance(imxgb, str) else imxgb},
    }


def adapter_benchmarks(cfg: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Per-round cost of the LightGBM/XGBoost adapters against the bare function."""
    try:
        import lightgbm as lgb
        import xgboost as xgb

        from gbfocal.losses import BinaryFocalLoss
    except ImportError as exc:
        return {"skipped": str(exc)}
    n = cfg["kernel_binary_n"]
    x = rng.normal(size=(n, 2)).astype(np.float32)
    y = (rng.random(n) < 0.1).astype(np.float64)
    z = rng.normal(0.0, 3.0, n)
    loss = BinaryFocalLoss(gamma=2.0)
    dataset = lgb.Dataset(x, y, params={"verbose": -1}, free_raw_data=False).construct()
    dmatrix = xgb.DMatrix(x, y, nthread=THREADS)
    z32 = z.astype(np.float32)  # XGBoost hands float32 margins
    calls = {
        "bare function": lambda: gbfocal.binary_focal_grad_hess(y, z),
        "lgb_objective": lambda: loss.lgb_objective(z, dataset),
        "xgb_objective": lambda: loss.xgb_objective(z32, dmatrix),
    }
    return {"n": n, "seconds": common.medians(calls, cfg["kernel_repeats"])}


# --------------------------------------------------------------------------- training
def _binary_data(n: int, d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(n, d)).astype(np.float32)
    logit = x[:, :8] @ rng.normal(size=8) + 0.5 * np.sin(3 * x[:, 8]) - 3.0
    return x, (rng.random(n) < expit(logit)).astype(np.float64)


def _multi_data(n: int, d: int, k: int, rng: np.random.Generator):
    x = rng.normal(size=(n, d)).astype(np.float32)
    scores = x[:, :10] @ rng.normal(size=(10, k)) + np.log(np.geomspace(1.0, 0.05, k))
    y = np.argmax(scores + rng.gumbel(size=(n, k)), axis=1).astype(np.float64)
    return x, y


def training_benchmarks(cfg: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    results: dict[str, Any] = {}
    try:
        from gbfocal.losses import BinaryFocalLoss, MulticlassFocalLoss
    except ImportError as exc:
        return {"skipped": f"gbfocal.losses not importable: {exc}"}
    d, k, reps = cfg["n_features"], cfg["n_classes"], cfg["train_repeats"]
    xb, yb = _binary_data(cfg["binary_n"], d, rng)
    xm, ym = _multi_data(cfg["multi_n"], d, k, rng)
    binary_loss, multi_loss = BinaryFocalLoss(gamma=2.0), MulticlassFocalLoss(k, gamma=2.0)
    binary_init, multi_init = binary_loss.init_score(yb), multi_loss.init_score(ym)

    for library, train in (("lightgbm", _lightgbm), ("xgboost", _xgboost)):
        try:
            module = importlib.import_module(library)
        except ImportError as exc:
            results[library] = {"skipped": str(exc)}
            continue
        results[f"{library} binary"] = train(
            module, xb, yb, None, binary_loss, binary_init, cfg["binary_rounds"], reps)
        results[f"{library} multiclass"] = train(
            module, xm, ym, k, multi_loss, multi_init, cfg["multi_rounds"], reps)
    return results


def _lightgbm(lgb, x, y, k, loss, init, rounds, reps) -> dict[str, Any]:
    base = {"num_threads": THREADS, "verbose": -1, "metric": "None", "seed": 0,
              "deterministic": True, "force_row_wise": True}
    dataset_params = {"verbose": -1}
    plain = lgb.Dataset(x, y, params=dataset_params, free_raw_data=False).construct()
    init_rows = np.tile(init, (len(y), 1)) if k else np.full(len(y), init)
    shifted = lgb.Dataset(x, y, init_score=init_rows, params=dataset_params,
                          free_raw_data=False).construct()
    builtin = {**base, "objective": "multiclass", "num_class": k} if k else \
        {**base, "objective": "binary"}
    custom = {**base, "num_class": k} if k else base
    clocks = {"focal (gbfocal)": _ObjectiveClock(loss.lgb_objective)}
    if not k:  # LightGBM's own custom-objective path: what any Python objective costs
        clocks[FLOOR] = _ObjectiveClock(_numpy_log_loss)
    runs = {"built-in": lambda: lgb.train(builtin, plain, rounds)}
    runs.update({name: clock.fit(lambda obj: lgb.train({**custom, "objective": obj}, shifted,
                                                       rounds))
                 for name, clock in clocks.items()})
    imlgb = _peer("imlightgbm.objective")
    if not isinstance(imlgb, str):
        peer_obj = (functools.partial(imlgb.multiclass_focal_lgb_objective, gamma=2.0,
                                      num_class=k) if k else
                    functools.partial(imlgb.binary_focal_lgb_objective, gamma=2.0))
        peer = {**base, "objective": peer_obj}
        if k:
            peer["num_class"] = k
        runs["focal (imlightgbm)"] = lambda: lgb.train(peer, shifted, rounds)
    return {"n": len(y), "rounds": rounds, "seconds": common.medians(runs, reps, warmup=False),
            "baseline": "built-in",
            "objective_seconds": {name: statistics.median(clock.per_fit)
                                  for name, clock in clocks.items()}}


FLOOR = "bare NumPy log-loss obj= (floor)"


def _numpy_log_loss(predt: np.ndarray, dtrain: Any) -> tuple[np.ndarray, np.ndarray]:
    """The cheapest useful objective: a library's custom-objective path costs at least this
    (LightGBM and XGBoost call it the same way: margins and the training set)."""
    p = expit(predt)
    return p - dtrain.get_label(), p * (1.0 - p)


class _ObjectiveClock:
    """An ``obj=`` callable that adds up the seconds spent inside ``objective``: a fit's
    time splits into the Python objective's and XGBoost's own (its custom-objective path
    and the trees), so gbfocal's share can be told from run-to-run noise in the trees."""

    def __init__(self, objective: Callable[[Any, Any], Any]) -> None:
        self.objective, self.seconds, self.per_fit = objective, 0.0, []

    def __deepcopy__(self, memo: dict[int, Any]) -> _ObjectiveClock:
        return self  # lgb.train deep-copies its params: the copy's clock would be lost

    def __call__(self, predt: Any, dtrain: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.objective(predt, dtrain)
        finally:
            self.seconds += time.perf_counter() - start

    def fit(self, train: Callable[[Any], Any]) -> Callable[[], Any]:
        def call() -> Any:
            self.seconds = 0.0
            out = train(self)
            self.per_fit.append(self.seconds)
            return out

        return call


def _xgboost(xgb, x, y, k, loss, init, rounds, reps) -> dict[str, Any]:
    base = {"tree_method": "hist", "nthread": THREADS, "max_depth": 6, "eta": 0.1,
              "seed": 0, "verbosity": 0}
    plain = xgb.DMatrix(x, y, nthread=THREADS)
    margin = np.tile(init, (len(y), 1)) if k else np.full(len(y), init)
    shifted = xgb.DMatrix(x, y, base_margin=margin, nthread=THREADS)
    if k:
        builtin = {**base, "objective": "multi:softprob", "num_class": k}
        custom = {**base, "num_class": k, "disable_default_eval_metric": 1}
    else:
        builtin = {**base, "objective": "binary:logistic"}
        custom = {**base, "base_score": 0.0, "disable_default_eval_metric": 1}
    clocks = {"focal (gbfocal)": _ObjectiveClock(loss.xgb_objective)}
    if not k:  # XGBoost's own custom-objective path: what any Python objective costs
        clocks[FLOOR] = _ObjectiveClock(_numpy_log_loss)
    runs = {"built-in": lambda: xgb.train(builtin, plain, rounds)}
    runs.update({name: clock.fit(lambda obj: xgb.train(custom, shifted, rounds, obj=obj))
                 for name, clock in clocks.items()})
    imxgb = _peer("imxgboost.focal_loss")
    if not k and not isinstance(imxgb, str):
        peer_obj = imxgb.Focal_Binary_Loss(2.0).focal_binary_object
        runs["focal (imbalance-xgboost)"] = lambda: xgb.train(custom, shifted, rounds,
                                                              obj=peer_obj)
    return {"n": len(y), "rounds": rounds, "seconds": common.medians(runs, reps, warmup=False),
            "baseline": "built-in",
            "objective_seconds": {name: statistics.median(clock.per_fit)
                                  for name, clock in clocks.items()}}


# --------------------------------------------------------------------------- small data
GAMMA0_XGB = "FocalXGBClassifier(gamma=0, alpha=None)"
GAMMA0_LGB = "FocalLGBMClassifier(gamma=0, alpha=None)"


def small_data_benchmarks(cfg: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Where tuning spends its time: many fits of a few thousand rows (issue 27).

    The estimators with an evaluation set and early stopping against the libraries' own
    estimators with their built-in objective and metric (``aucpr`` / ``average_precision``);
    1 thread, 300 rounds, patience 300 (every round is trained, so the ratio compares the
    same number of rounds). The estimators at ``gamma=0, alpha=None`` (plain log loss
    through the same custom objective and metric) grow the built-in's trees: their ratio
    is the custom-objective path alone, the default's also the focal trees' own cost.
    Also ``xgb.train`` on scikit-learn's breast-cancer data (569 rows), 300 rounds, with
    and without an evaluation metric.
    """
    try:
        import lightgbm as lgb
        import xgboost as xgb
        from sklearn.datasets import load_breast_cancer

        from gbfocal.losses import BinaryFocalLoss
        from gbfocal.sklearn import FocalLGBMClassifier, FocalXGBClassifier
    except ImportError as exc:
        return {"skipped": str(exc)}
    rounds, reps = cfg["small_rounds"], cfg["small_repeats"]
    common_args = {"n_estimators": rounds, "random_state": 0, "n_jobs": 1}
    out: dict[str, Any] = {}
    for n in cfg["small_n"]:
        x, y = _binary_data(n + n // 3, cfg["n_features"], rng)
        fit = {"X": x[:n], "y": y[:n], "eval_set": [(x[n:], y[n:])]}
        runs = {
            "XGBClassifier(eval_metric='aucpr')": lambda fit=fit: xgb.XGBClassifier(
                eval_metric="aucpr", early_stopping_rounds=rounds, **common_args).fit(
                    **fit, verbose=False),
            "FocalXGBClassifier": lambda fit=fit: FocalXGBClassifier(
                early_stopping_rounds=rounds, **common_args).fit(**fit),
            # plain log loss through the same custom-objective path: the built-in's trees,
            # so the ratio is the path's cost alone (the focal gradient grows other trees)
            GAMMA0_XGB: lambda fit=fit: FocalXGBClassifier(
                gamma=0.0, alpha=None, early_stopping_rounds=rounds, **common_args).fit(**fit),
            # lightgbm 4.7 deprecates eval_set in LGBMClassifier.fit: eval_X / eval_y
            "LGBMClassifier(eval_metric='average_precision')": lambda fit=fit: lgb.LGBMClassifier(
                verbose=-1, **common_args).fit(
                    fit["X"], fit["y"], eval_X=fit["eval_set"][0][0],
                    eval_y=fit["eval_set"][0][1], eval_metric="average_precision",
                    callbacks=[lgb.early_stopping(rounds, verbose=False)]),
            "FocalLGBMClassifier": lambda fit=fit: FocalLGBMClassifier(
                early_stopping_rounds=rounds, **common_args).fit(**fit),
            GAMMA0_LGB: lambda fit=fit: FocalLGBMClassifier(
                gamma=0.0, alpha=None, early_stopping_rounds=rounds, **common_args).fit(**fit),
        }
        out[f"estimators, {n:,} rows"] = {
            "n": n, "rounds": rounds, "seconds": common.medians(runs, reps),
            "pairs": {"FocalXGBClassifier": "XGBClassifier(eval_metric='aucpr')",
                      GAMMA0_XGB: "XGBClassifier(eval_metric='aucpr')",
                      "FocalLGBMClassifier": "LGBMClassifier(eval_metric='average_precision')",
                      GAMMA0_LGB: "LGBMClassifier(eval_metric='average_precision')"}}

    x, y = load_breast_cancer(return_X_y=True)
    loss = BinaryFocalLoss(gamma=2.0)
    base = {"tree_method": "hist", "nthread": 1, "max_depth": 6, "eta": 0.1, "seed": 0,
            "verbosity": 0}
    plain = xgb.DMatrix(x, y, nthread=1)
    shifted = xgb.DMatrix(x, y, base_margin=np.full(len(y), loss.init_score(y)), nthread=1)
    custom = {**base, "base_score": 0.0, "disable_default_eval_metric": 1}
    builtin = {**base, "objective": "binary:logistic"}
    runs = {
        "built-in": lambda: xgb.train(builtin, plain, rounds),
        "xgb.train(obj=loss.xgb_objective)": lambda: xgb.train(
            custom, shifted, rounds, obj=loss.xgb_objective),
        FLOOR: lambda: xgb.train(custom, shifted, rounds, obj=_numpy_log_loss),
        "built-in, eval logloss": lambda: xgb.train(
            builtin, plain, rounds, evals=[(plain, "train")], verbose_eval=False),
        "focal, custom_metric=loss.xgb_eval()": lambda: xgb.train(
            custom, shifted, rounds, obj=loss.xgb_objective, evals=[(shifted, "train")],
            custom_metric=loss.xgb_eval(), verbose_eval=False),
    }
    out["breast cancer, xgb.train"] = {
        "n": len(y), "rounds": rounds, "seconds": common.medians(runs, reps),
        "pairs": {"xgb.train(obj=loss.xgb_objective)": "built-in",
                  FLOOR: "built-in",
                  "focal, custom_metric=loss.xgb_eval()": "built-in, eval logloss"}}
    return out


# --------------------------------------------------------------------------- GPU
def gpu_benchmarks(cfg: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """XGBoost ``device="cuda"``: built-in objective against the focal paths (issue 8).

    Skipped without CuPy and a CUDA device. Each contender ends with a device
    synchronisation, so that queued GPU work is inside its time.
    """
    try:
        import cupy as cp
        import xgboost as xgb

        device = cp.cuda.runtime.getDeviceProperties(0)["name"]
    except Exception as exc:  # noqa: BLE001 - no CuPy, no driver, no device
        return {"skipped": f"no CUDA device with CuPy ({type(exc).__name__}: {exc})"}
    from gbfocal.gpu import xgb_cuda_objective
    from gbfocal.losses import BinaryFocalLoss
    from gbfocal.xgboost import train as margin_keeping_train

    n, rounds = cfg["gpu_n"], cfg["gpu_rounds"]
    x, y = _binary_data(n, cfg["gpu_features"], rng)
    loss = BinaryFocalLoss(gamma=2.0)
    x_gpu, y_gpu = cp.asarray(x), cp.asarray(y)
    plain = xgb.QuantileDMatrix(x_gpu, y_gpu)
    shifted = xgb.QuantileDMatrix(x_gpu, y_gpu, base_margin=cp.full(n, loss.init_score(y)))
    base = {"device": "cuda", "tree_method": "hist", "max_depth": 6, "eta": 0.1, "seed": 0,
              "verbosity": 0}
    custom = {**base, "base_score": 0.0, "disable_default_eval_metric": 1}
    runs = {
        "built-in": lambda: xgb.train({**base, "objective": "binary:logistic"}, plain,
                                      rounds),
        "focal, xgb.train(obj=CuPy objective)": lambda: xgb.train(
            custom, shifted, rounds, obj=xgb_cuda_objective(loss)),
        "focal, xgb.train(obj=loss.xgb_objective)": lambda: xgb.train(
            custom, shifted, rounds, obj=loss.xgb_objective),
        "focal, gbfocal.xgboost.train": lambda: margin_keeping_train(
            base, shifted, rounds, loss=loss, data=x_gpu, verbose_eval=False),
    }

    def synchronised(fn: Callable[[], Any]) -> Callable[[], Any]:
        def call() -> Any:
            out = fn()
            cp.cuda.Device().synchronize()
            return out

        return call

    seconds = common.medians({k: synchronised(f) for k, f in runs.items()}, cfg["gpu_repeats"])
    identical = (runs["focal, xgb.train(obj=CuPy objective)"]().get_dump()
                 == runs["focal, gbfocal.xgboost.train"]().get_dump())
    name = device.decode() if isinstance(device, bytes) else str(device)
    return {"n": n, "features": cfg["gpu_features"], "rounds": rounds, "device": name,
            "seconds": seconds, "baseline": "built-in", "identical_trees": identical,
            "versions": {"xgboost": xgb.__version__, "cupy": cp.__version__}}


# --------------------------------------------------------------------------- first call
_FIRST_CALL = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
t1 = time.perf_counter()
import gbfocal
t2 = time.perf_counter()
gbfocal.binary_focal_grad_hess(np.array([0, 1]), np.array([0.5, -1.0]))
t3 = time.perf_counter()
gbfocal.multiclass_focal_grad_hess(np.array([0, 2]), np.zeros((2, 3)))
t4 = time.perf_counter()
print(json.dumps({"import gbfocal": t2 - t1, "first binary call": t3 - t2,
                  "first multiclass call": t4 - t3}))
"""


def first_call_cost() -> dict[str, Any]:
    """Cold (empty numba cache: compiles) and warm (cache on disk) fresh interpreters."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        env.pop("GBFOCAL_DISABLE_NUMBA", None)
        for label in ("cold cache (compiles)", "warm cache"):
            done = subprocess.run([sys.executable, "-c", _FIRST_CALL], env=env, check=True,
                                  capture_output=True, text=True)
            out[label] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


# --------------------------------------------------------------------------- report
def _seconds_table(seconds: dict[str, float], baseline: str, scale: float,
                   unit: str, header: str = "objective") -> list[str]:
    base = seconds[baseline]
    return common.table([header, "median", "ratio"], (
        [name, f"{value * scale:.2f} {unit}", f"{value / base:.2f}x"]
        for name, value in seconds.items()))


def _objective_split(block: dict[str, Any]) -> list[str]:
    """Each custom objective's fit split into the time inside the Python objective and
    the library's own (median fit; empty for blocks without the split)."""
    inside = block.get("objective_seconds", {})
    return [f"- {name}: {s:.2f} s inside the objective, "
            f"{block['seconds'][name] - s:.2f} s in the library" for name, s in inside.items()
            ] + ([""] if inside else [])


def _small_data_markdown(small: dict[str, Any]) -> list[str]:
    if "skipped" in small:
        return [f"- small data: skipped ({small['skipped']})", ""]
    lines = []
    for name, block in small.items():
        lines += [f"### Small data: {name}, {block['rounds']} rounds, 1 thread", ""]
        seconds = block["seconds"]
        lines += common.table(["fit", "median", "ratio to"], (
            [fit, f"{value:.3f} s",
             f"{value / seconds[block['pairs'][fit]]:.2f}x {block['pairs'][fit]}"
             if fit in block["pairs"] else "-"] for fit, value in seconds.items())) + [""]
    return lines


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# gbfocal benchmark results", "",
        f"Mode: {'quick' if results['quick'] else 'full'}; {results['date']}.  ",
        f"Machine: {common.describe(m)}.  ",
        f"Load average at start {tuple(round(x, 2) for x in m['load_average_start'])}, "
        f"at end {tuple(round(x, 2) for x in results['load_average_end'])} "
        "(other processes shared the machine when this is above 0).  ",
        f"LightGBM/XGBoost threads: {THREADS}; gbfocal kernel threads: "
        f"{m.get('gbfocal_threads', 1)}. Medians of repeated runs, ratios measured side by side "
        "in this run (rotating order). Ratio = time / baseline (first row).",
        "",
    ]
    kern = results["kernels"]
    for key, title in (("binary", "Binary grad+hess (default Hessian)"),
                       ("multiclass", "Multiclass grad+hess")):
        block = kern[key]
        size = f"n = {block['n']:,}" + (f", K = {block['k']}" if "k" in block else "")
        base = block["seconds"][block["baseline"]]
        lines += [f"## {title}, {size}", ""] + common.table(
            ["objective", "median", "ratio", "extra memory (output-sized float64 arrays)"],
            ([name, f"{value * 1e3:.2f} ms", f"{value / base:.2f}x",
              f"{block['extra_memory_arrays'][name]:.2f}"]
             for name, value in block["seconds"].items())) + [""]
    lines += [f"- {peer}: {why}" for peer, why in kern["peers"].items() if why]
    adapters = results.get("adapters", {})
    if "seconds" in adapters:
        lines += ["", f"## Adapter cost per boosting round, binary, n = {adapters['n']:,}", ""]
        lines += _seconds_table(adapters["seconds"], "bare function", 1e3, "ms", "call")
    lines += ["", "## End-to-end training", ""]
    for name, block in results["training"].items():
        if "seconds" not in block:
            lines.append(f"- {name}: skipped ({block.get('skipped')})")
            continue
        lines += [f"### {name}: {block['n']:,} rows x {results['config']['n_features']} "
                  f"features, {block['rounds']} rounds", ""]
        lines += _seconds_table(block["seconds"], block["baseline"], 1.0, "s") + [""]
        lines += _objective_split(block)
    lines += _small_data_markdown(results.get("small_data", {}))
    gpu = results.get("gpu", {})
    if "seconds" in gpu:
        lines += [f"## XGBoost on {gpu['device']}: {gpu['n']:,} rows x {gpu['features']} "
                  f"features, {gpu['rounds']} rounds, depth 6", ""]
        lines += _seconds_table(gpu["seconds"], gpu["baseline"], 1.0, "s")
        lines += ["", f"Identical trees (CuPy objective vs gbfocal.xgboost.train): "
                  f"{gpu['identical_trees']}; " + ", ".join(
                      f"{k} {v}" for k, v in gpu["versions"].items()) + ".", ""]
    elif gpu:
        lines += [f"- GPU (XGBoost CUDA): skipped ({gpu['skipped']})", ""]
    lines += ["## First-call cost (fresh interpreter)", ""] + common.table(
        ["cache", "import gbfocal", "first binary call", "first multiclass call"],
        ([label, f"{t['import gbfocal']:.2f} s", f"{t['first binary call']:.2f} s",
          f"{t['first multiclass call']:.2f} s"] for label, t in results["first_call"].items()))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = common.arguments(__doc__, "small sizes, about a minute").parse_args(argv)
    cfg = QUICK if args.quick else FULL
    if _backend.compiled() is None:
        print("warning: numba kernels disabled or unavailable; timing the NumPy path")
    rng = np.random.default_rng(0)
    meta = common.machine()
    results: dict[str, Any] = {"quick": args.quick, "config": cfg, "machine": meta,
                               "date": meta["date"]}
    steps = (("first_call", lambda: first_call_cost()),
             ("kernels", lambda: kernel_benchmarks(cfg, rng)),
             ("adapters", lambda: adapter_benchmarks(cfg, rng)),
             ("training", lambda: training_benchmarks(cfg, rng)),
             ("small_data", lambda: small_data_benchmarks(cfg, rng)),
             ("gpu", lambda: gpu_benchmarks(cfg, rng)))
    for key, step in steps:
        seconds, results[key] = common.timed(step)
        print(f"{key}: done in {seconds:.1f} s", flush=True)
    results["load_average_end"] = os.getloadavg()
    common.publish(common.out_dir(args), "results", markdown(results), results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
