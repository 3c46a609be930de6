"""Benchmark suite: gbfocal's focal objectives against the built-in ones.

Run ``python benchmarks/run.py`` (full sizes, about 17 minutes on 2 cores) or
``python benchmarks/run.py --quick`` (small sizes, about a minute). Writes
``benchmarks/results.md`` (Markdown tables with the machine description) and
``benchmarks/results.json``.

Method: every ratio compares timings taken side by side in this one run, in
alternating order (so a background load spike hits both sides), and reports the
median of the repetitions. LightGBM and XGBoost get 2 threads, and so do gbfocal's
SIMD kernels (``gbfocal.get_num_threads()`` on this 2-CPU machine; a "1 thread" row
shows the single-threaded kernel too). First-call cost (import + compile or cache load) is
measured in fresh subprocesses, so it never pollutes the steady-state timings.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit

import gbfocal
from gbfocal import _backend

HERE = Path(__file__).resolve().parent
THREADS = 2

FULL = {
    "kernel_binary_n": 1_000_000, "kernel_multi_n": 200_000, "kernel_multi_k": 7,
    "binary_n": 1_000_000, "binary_rounds": 100, "multi_n": 200_000, "multi_rounds": 50,
    "n_features": 30, "n_classes": 7, "kernel_repeats": 25, "train_repeats": 5,
    "gpu_n": 5_000_000, "gpu_features": 50, "gpu_rounds": 100, "gpu_repeats": 5,
}
QUICK = {
    "kernel_binary_n": 100_000, "kernel_multi_n": 20_000, "kernel_multi_k": 7,
    "binary_n": 20_000, "binary_rounds": 10, "multi_n": 5_000, "multi_rounds": 5,
    "n_features": 30, "n_classes": 7, "kernel_repeats": 5, "train_repeats": 2,
    "gpu_n": 100_000, "gpu_features": 50, "gpu_rounds": 10, "gpu_repeats": 2,
}


# --------------------------------------------------------------------------- helpers
def side_by_side(
    contenders: dict[str, Callable[[], Any]], repeats: int, warmup: bool = True
) -> dict[str, float]:
    """Median seconds of each callable, run in rotating order within each repetition."""
    names = list(contenders)
    for name in names if warmup else ():  # caches, page faults, lazy imports, compiling
        contenders[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(repeats):
        order = names[rep % len(names):] + names[: rep % len(names)]
        for name in order:
            start = time.perf_counter()
            contenders[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


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


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for module in ("numpy", "scipy", "numba", "lightgbm", "xgboost"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            versions[module] = "not installed"
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu, "logical_cpus": os.cpu_count(), "memory": memory,
        "python": platform.python_version(), "os": platform.platform(),
        "versions": versions, "gbfocal": gbfocal.__version__,
        "gbfocal_threads": gbfocal.get_num_threads(),
        "load_average_start": os.getloadavg(),
    }


class _Labels:
    """The one DMatrix method imbalance-xgboost's objective calls."""

    def __init__(self, y: np.ndarray) -> None:
        self._y = y

    def get_label(self) -> np.ndarray:
        return self._y


def _numpy_path(fn: Callable[[], Any]) -> Callable[[], Any]:
    def call() -> Any:
        os.environ["GBFOCAL_DISABLE_NUMBA"] = "1"
        try:
            return fn()
        finally:
            del os.environ["GBFOCAL_DISABLE_NUMBA"]

    return call


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
def kernel_benchmarks(cfg: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    n, repeats = cfg["kernel_binary_n"], cfg["kernel_repeats"]
    z = rng.normal(0.0, 3.0, n)
    y = (rng.random(n) < 0.1).astype(np.float64)  # what LightGBM/XGBoost labels become

    def log_loss() -> tuple[np.ndarray, np.ndarray]:
        p = expit(z)
        return p - y, p * (1 - p)

    def focal() -> tuple[np.ndarray, np.ndarray]:
        return gbfocal.binary_focal_grad_hess(y, z)

    binary = {"log loss (NumPy)": log_loss, "focal (gbfocal)": focal,
              "focal (gbfocal, 1 thread)": _one_thread(focal),
              "focal (gbfocal, NumPy path)": _numpy_path(focal)}
    imlgb = _peer("imlightgbm.objective")
    if not isinstance(imlgb, str):
        binary["focal (imlightgbm)"] = functools.partial(
            imlgb.binary_focal_objective, y_true=y, y_pred=z, gamma=2.0)
    imxgb = _peer("imxgboost.focal_loss")
    if not isinstance(imxgb, str):
        binary["focal (imbalance-xgboost)"] = functools.partial(
            imxgb.Focal_Binary_Loss(2.0).focal_binary_object, z, _Labels(y))
    binary_times = side_by_side(binary, repeats)
    binary_memory = {name: extra_memory(fn, n) for name, fn in binary.items()}

    m, k = cfg["kernel_multi_n"], cfg["kernel_multi_k"]
    zm = rng.normal(0.0, 2.0, (m, k))
    ym = rng.integers(0, k, m).astype(np.float64)
    onehot = np.eye(k)[ym.astype(np.intp)]

    def softmax_ce() -> tuple[np.ndarray, np.ndarray]:
        e = np.exp(zm - zm.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        return p - onehot, p * (1 - p)

    def focal_multi() -> tuple[np.ndarray, np.ndarray]:
        return gbfocal.multiclass_focal_grad_hess(ym, zm)

    multi = {"softmax cross-entropy (NumPy)": softmax_ce, "focal (gbfocal)": focal_multi,
             "focal (gbfocal, 1 thread)": _one_thread(focal_multi),
             "focal (gbfocal, NumPy path)": _numpy_path(focal_multi)}
    if not isinstance(imlgb, str):
        multi["focal (imlightgbm)"] = functools.partial(
            imlgb.multiclass_focal_objective, y_true=ym, y_pred=zm, gamma=2.0, num_class=k)
    multi_times = side_by_side(multi, repeats)
    multi_memory = {name: extra_memory(fn, m * k) for name, fn in multi.items()}
    return {
        "binary": {"n": n, "seconds": binary_times, "extra_memory_arrays": binary_memory,
                   "baseline": "log loss (NumPy)"},
        "multiclass": {"n": m, "k": k, "seconds": multi_times,
                       "extra_memory_arrays": multi_memory,
                       "baseline": "softmax cross-entropy (NumPy)"},
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
    return {"n": n, "seconds": side_by_side(calls, cfg["kernel_repeats"])}


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

    try:
        import lightgbm as lgb
    except ImportError as exc:
        results["lightgbm"] = {"skipped": str(exc)}
    else:
        results["lightgbm binary"] = _lightgbm(
            lgb, xb, yb, None, binary_loss, binary_init, cfg["binary_rounds"], reps)
        results["lightgbm multiclass"] = _lightgbm(
            lgb, xm, ym, k, multi_loss, multi_init, cfg["multi_rounds"], reps)
    try:
        import xgboost as xgb
    except ImportError as exc:
        results["xgboost"] = {"skipped": str(exc)}
    else:
        results["xgboost binary"] = _xgboost(
            xgb, xb, yb, None, binary_loss, binary_init, cfg["binary_rounds"], reps)
        results["xgboost multiclass"] = _xgboost(
            xgb, xm, ym, k, multi_loss, multi_init, cfg["multi_rounds"], reps)
    return results


def _lightgbm(lgb, x, y, k, loss, init, rounds, reps) -> dict[str, Any]:
    common = {"num_threads": THREADS, "verbose": -1, "metric": "None", "seed": 0,
              "deterministic": True, "force_row_wise": True}
    dataset_params = {"verbose": -1}
    plain = lgb.Dataset(x, y, params=dataset_params, free_raw_data=False).construct()
    init_rows = np.tile(init, (len(y), 1)) if k else np.full(len(y), init)
    shifted = lgb.Dataset(x, y, init_score=init_rows, params=dataset_params,
                          free_raw_data=False).construct()
    builtin = {**common, "objective": "multiclass", "num_class": k} if k else \
        {**common, "objective": "binary"}
    focal = {**common, "objective": loss.lgb_objective}
    if k:
        focal["num_class"] = k
    runs = {
        "built-in": lambda: lgb.train(builtin, plain, rounds),
        "focal (gbfocal)": lambda: lgb.train(focal, shifted, rounds),
    }
    imlgb = _peer("imlightgbm.objective")
    if not isinstance(imlgb, str):
        peer_obj = (functools.partial(imlgb.multiclass_focal_lgb_objective, gamma=2.0,
                                      num_class=k) if k else
                    functools.partial(imlgb.binary_focal_lgb_objective, gamma=2.0))
        peer = {**common, "objective": peer_obj}
        if k:
            peer["num_class"] = k
        runs["focal (imlightgbm)"] = lambda: lgb.train(peer, shifted, rounds)
    return {"n": len(y), "rounds": rounds, "seconds": side_by_side(runs, reps, warmup=False),
            "baseline": "built-in"}


def _xgboost(xgb, x, y, k, loss, init, rounds, reps) -> dict[str, Any]:
    common = {"tree_method": "hist", "nthread": THREADS, "max_depth": 6, "eta": 0.1,
              "seed": 0, "verbosity": 0}
    plain = xgb.DMatrix(x, y, nthread=THREADS)
    margin = np.tile(init, (len(y), 1)) if k else np.full(len(y), init)
    shifted = xgb.DMatrix(x, y, base_margin=margin, nthread=THREADS)
    if k:
        builtin = {**common, "objective": "multi:softprob", "num_class": k}
        custom = {**common, "num_class": k, "disable_default_eval_metric": 1}
    else:
        builtin = {**common, "objective": "binary:logistic"}
        custom = {**common, "base_score": 0.0, "disable_default_eval_metric": 1}
    runs = {
        "built-in": lambda: xgb.train(builtin, plain, rounds),
        "focal (gbfocal)": lambda: xgb.train(custom, shifted, rounds, obj=loss.xgb_objective),
    }
    imxgb = _peer("imxgboost.focal_loss")
    if not k and not isinstance(imxgb, str):
        peer_obj = imxgb.Focal_Binary_Loss(2.0).focal_binary_object
        runs["focal (imbalance-xgboost)"] = lambda: xgb.train(custom, shifted, rounds,
                                                              obj=peer_obj)
    return {"n": len(y), "rounds": rounds, "seconds": side_by_side(runs, reps, warmup=False),
            "baseline": "built-in"}


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
    common = {"device": "cuda", "tree_method": "hist", "max_depth": 6, "eta": 0.1, "seed": 0,
              "verbosity": 0}
    custom = {**common, "base_score": 0.0, "disable_default_eval_metric": 1}
    runs = {
        "built-in": lambda: xgb.train({**common, "objective": "binary:logistic"}, plain,
                                      rounds),
        "focal, xgb.train(obj=CuPy objective)": lambda: xgb.train(
            custom, shifted, rounds, obj=xgb_cuda_objective(loss)),
        "focal, xgb.train(obj=loss.xgb_objective)": lambda: xgb.train(
            custom, shifted, rounds, obj=loss.xgb_objective),
        "focal, gbfocal.xgboost.train": lambda: margin_keeping_train(
            common, shifted, rounds, loss=loss, data=x_gpu, verbose_eval=False),
    }

    def synchronised(fn: Callable[[], Any]) -> Callable[[], Any]:
        def call() -> Any:
            out = fn()
            cp.cuda.Device().synchronize()
            return out

        return call

    seconds = side_by_side({k: synchronised(f) for k, f in runs.items()}, cfg["gpu_repeats"])
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
def _ratio_rows(seconds: dict[str, float], baseline: str, scale: float, unit: str) -> list[str]:
    base = seconds[baseline]
    return [f"| {name} | {value * scale:.2f} {unit} | {value / base:.2f}x |"
            for name, value in seconds.items()]


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# gbfocal benchmark results", "",
        f"Mode: {'quick' if results['quick'] else 'full'}; {results['date']}.  ",
        f"Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, {m['memory']}; {m['os']}; "
        f"Python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + ".  ",
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
        lines += [f"## {title}, {size}", "",
                  "| objective | median | ratio | extra memory (output-sized float64 arrays) |",
                  "|---|---|---|---|"]
        base = block["seconds"][block["baseline"]]
        for name, value in block["seconds"].items():
            mem = block["extra_memory_arrays"][name]
            lines.append(f"| {name} | {value * 1e3:.2f} ms | {value / base:.2f}x | "
                         f"{mem:.2f} |")
        lines.append("")
    for peer, why in kern["peers"].items():
        if why:
            lines.append(f"- {peer}: {why}")
    adapters = results.get("adapters", {})
    if "seconds" in adapters:
        lines += ["", f"## Adapter cost per boosting round, binary, n = {adapters['n']:,}", "",
                  "| call | median | ratio |", "|---|---|---|"]
        lines += _ratio_rows(adapters["seconds"], "bare function", 1e3, "ms")
    lines += ["", "## End-to-end training", ""]
    for name, block in results["training"].items():
        if "seconds" not in block:
            lines.append(f"- {name}: skipped ({block.get('skipped')})")
            continue
        lines += [f"### {name}: {block['n']:,} rows x {results['config']['n_features']} "
                  f"features, {block['rounds']} rounds", "", "| objective | median | ratio |",
                  "|---|---|---|"]
        lines += _ratio_rows(block["seconds"], block["baseline"], 1.0, "s")
        lines.append("")
    gpu = results.get("gpu", {})
    if "seconds" in gpu:
        lines += [f"## XGBoost on {gpu['device']}: {gpu['n']:,} rows x {gpu['features']} "
                  f"features, {gpu['rounds']} rounds, depth 6", "",
                  "| objective | median | ratio |", "|---|---|---|"]
        lines += _ratio_rows(gpu["seconds"], gpu["baseline"], 1.0, "s")
        lines += ["", f"Identical trees (CuPy objective vs gbfocal.xgboost.train): "
                  f"{gpu['identical_trees']}; " + ", ".join(
                      f"{k} {v}" for k, v in gpu["versions"].items()) + ".", ""]
    elif gpu:
        lines += [f"- GPU (XGBoost CUDA): skipped ({gpu['skipped']})", ""]
    lines += ["## First-call cost (fresh interpreter)", "", "| cache | import gbfocal | "
              "first binary call | first multiclass call |", "|---|---|---|---|"]
    for label, t in results["first_call"].items():
        lines.append(f"| {label} | {t['import gbfocal']:.2f} s | {t['first binary call']:.2f} s"
                     f" | {t['first multiclass call']:.2f} s |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for results.md/json")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    if _backend.compiled() is None:
        print("warning: numba kernels disabled or unavailable; timing the NumPy path")
    rng = np.random.default_rng(0)
    results: dict[str, Any] = {"quick": args.quick, "config": cfg, "machine": machine(),
                               "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    steps = (("first_call", lambda: first_call_cost()),
             ("kernels", lambda: kernel_benchmarks(cfg, rng)),
             ("adapters", lambda: adapter_benchmarks(cfg, rng)),
             ("training", lambda: training_benchmarks(cfg, rng)),
             ("gpu", lambda: gpu_benchmarks(cfg, rng)))
    for key, step in steps:
        start = time.perf_counter()
        results[key] = step()
        print(f"{key}: done in {time.perf_counter() - start:.1f} s", flush=True)
    results["load_average_end"] = os.getloadavg()
    report = markdown(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text(report)
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
