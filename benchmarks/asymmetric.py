"""When does the asymmetric focal loss help? Real imbalanced binary sets, LightGBM.

    python benchmarks/asymmetric.py [--data ../shared/data] [--out benchmarks/asymmetric.md]
    python benchmarks/asymmetric.py --speed-only   # only the timing section of --out

3-fold stratified CV; 15 % of each training fold (stratified) for early stopping on average
precision (lr 0.1, up to 300 rounds, patience 30, 1 thread). Losses: plain log loss, focal
(gamma 2), and asymmetric focal (gamma_pos 0, gamma_neg 4, clip 0.05: Ridnik et al.'s
multi-label default; and gamma_pos 1, gamma_neg 2, clip 0). Metrics on the test folds:
average precision, ROC AUC, log loss of the corrected probabilities, and the loss's
gradient+Hessian time per call relative to the focal loss (compiled kernels, and the NumPy
reference with ``GBFOCAL_DISABLE_NUMBA=1``). Data sets missing from ``--data`` are skipped.

Timing: 10^6 values, 1 thread (``gbfocal.set_num_threads(1)``), every call compiled and
warmed up first; then ``REPEATS`` rounds that time each call once, in the same order, so a
load change on the machine hits all of them alike; the table gives the median over the
rounds and its ratio to the median of "focal g=2".
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

import gbfocal
from gbfocal import BinaryFocalLoss, MultiLabelFocalLoss, _kernels

SETS = ("caravan", "satimage_bin", "sylva")
LOSSES = {
    "log loss": {"gamma": 0.0},
    "focal g=2": {"gamma": 2.0},
    "ASL g+=0 g-=4 clip=0.05": {"gamma": 0.0, "gamma_neg": 4.0, "clip": 0.05},
    "ASL g+=1 g-=2 clip=0": {"gamma": 1.0, "gamma_neg": 2.0, "clip": 0.0},
}
REPEATS = 21
SPEED_TITLE = "## Gradient + Hessian time per call, 10^6 values (ratio to the focal loss)"
PARAMS = {"learning_rate": 0.1, "num_leaves": 31, "metric": "None", "verbose": -1,
          "num_threads": 1, "seed": 0}


def _fit_score(loss: BinaryFocalLoss, X, y, X_test, y_test, seed: int) -> dict[str, float]:
    X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=0.15, stratify=y,
                                                  random_state=seed)
    init = loss.init_score(y_fit)
    train = lgb.Dataset(X_fit, y_fit, init_score=np.full(len(y_fit), init))
    valid = lgb.Dataset(X_val, y_val, init_score=np.full(len(y_val), init), reference=train)
    booster = lgb.train({**PARAMS, "objective": loss.lgb_objective}, train, 300,
                        valid_sets=[valid], feval=loss.lgb_eval("average_precision"),
                        callbacks=[lgb.early_stopping(30, verbose=False)])
    margin = booster.predict(X_test, num_iteration=booster.best_iteration) + init
    proba = loss.predict_proba(margin, check_input=False)[:, 1]
    return {"AP": average_precision_score(y_test, margin),
            "ROC AUC": roc_auc_score(y_test, margin),
            "log loss": log_loss(y_test, np.clip(proba, 1e-15, 1 - 1e-15)),
            "rounds": float(booster.best_iteration)}


def _numpy_path(call: Any) -> Any:
    """``call`` on the NumPy reference path (GBFOCAL_DISABLE_NUMBA=1 while it runs)."""

    def run() -> Any:
        os.environ["GBFOCAL_DISABLE_NUMBA"] = "1"
        try:
            return call()
        finally:
            del os.environ["GBFOCAL_DISABLE_NUMBA"]

    return run


def _medians(calls: dict[str, Any], repeats: int = REPEATS) -> dict[str, float]:
    """Median seconds per call over ``repeats`` interleaved rounds (after a warm-up call)."""
    for call in calls.values():
        call()  # compile / warm up
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def _speed(n: int = 1_000_000) -> dict[str, float]:
    """grad+hess seconds per call for 10^6 values: the binary losses (loss objects, the
    kernels alone, the NumPy reference), and the multi-label focal loss on the same values
    as (n / 10, 10) labels (10 % unknown)."""
    os.environ.pop("GBFOCAL_DISABLE_NUMBA", None)
    gbfocal.set_num_threads(1)
    rng = np.random.default_rng(0)
    y = (rng.random(n) < 0.1).astype(np.int8)
    z = rng.normal(scale=3, size=n)
    calls: dict[str, Any] = {name: (lambda k=kwargs: BinaryFocalLoss(**k).grad_hess(y, z))
                             for name, kwargs in LOSSES.items()}
    for name, kwargs in LOSSES.items():
        if "ASL" in name:
            calls[f"{name}, NumPy reference"] = _numpy_path(
                lambda k=kwargs: BinaryFocalLoss(**k).grad_hess(y, z))
    grad, hess = np.empty(n), np.empty(n)
    calls["kernel only: focal g=2"] = lambda: _kernels.binary_grad_hess(
        y, z, None, None, 2.0, True, grad, hess)
    calls["kernel only: focal g=2.5"] = lambda: _kernels.binary_grad_hess(
        y, z, None, None, 2.5, True, grad, hess)
    for gp, gn, clip in ((0.0, 4.0, 0.05), (1.0, 2.0, 0.0), (0.5, 7.3, 0.05), (2.5, 3.5, 0.0)):
        calls[f"kernel only: ASL g+={gp:g} g-={gn:g} clip={clip:g}"] = (
            lambda a=(gp, gn, clip): _kernels.asymmetric_grad_hess(
                y, z, None, None, *a, True, grad, hess))
    labels = y.reshape(-1, 10).astype(float)
    labels[rng.random(labels.shape) < 0.1] = -1
    multi = MultiLabelFocalLoss(10, gamma=2.0).fit(labels)
    # the per-round path of the objectives: labels checked once per training set
    training = multi.training_set(labels, None)
    margins = z.reshape(-1, 10).astype(np.float32)
    binary = BinaryFocalLoss(gamma=2.0)
    binary_training = binary.training_set(y.astype(float), None)
    asym = BinaryFocalLoss(gamma=0.0, gamma_neg=4.0, clip=0.05)
    asym_training = asym.training_set(y.astype(float), None)
    flat = z.astype(np.float32)
    calls["focal g=2, per round (objective path)"] = (
        lambda: binary.round_grad_hess(binary.margins(flat, n, keep_float32=True),
                                       binary_training))
    calls["ASL g+=0 g-=4 clip=0.05, per round (objective path)"] = (
        lambda: asym.round_grad_hess(asym.margins(flat, n, keep_float32=True), asym_training))
    calls["multi-label focal g=2, (10^5, 10), per round"] = (
        lambda: multi.round_grad_hess(multi.margins(margins, n // 10, keep_float32=True),
                                      training))
    try:
        return _medians(calls)
    finally:
        gbfocal.set_num_threads(None)


def _speed_lines() -> list[str]:
    speed = _speed()
    base = speed["focal g=2"]
    kernel_base = speed["kernel only: focal g=2"]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [SPEED_TITLE, "",
             f"Measured {stamp} on {platform.processor() or platform.machine()} "
             f"({os.cpu_count()} CPUs), 1 thread, median of {REPEATS} interleaved rounds "
             "(module docstring). \"ratio\": to the median of \"focal g=2\" (the loss "
             "objects' `grad_hess`, validation included); \"kernel only\" rows call "
             "`gbfocal._kernels` on checked arrays, their ratio column is to "
             "\"kernel only: focal g=2\". `--speed-only` re-measures this section alone "
             "(the tables above keep their date; the compiled kernels agree with the NumPy "
             "reference to 1e-12, `tests/test_asym_kernels.py`).", "",
             "| loss | ms | ratio |", "|---|---:|---:|"]
    for name, seconds in speed.items():
        ratio = seconds / (kernel_base if name.startswith("kernel only") else base)
        lines.append(f"| {name} | {seconds * 1e3:.1f} | {ratio:.2f}x |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared"
                                              / "data"))
    parser.add_argument("--out", default=str(Path(__file__).with_suffix(".md")))
    parser.add_argument("--speed-only", action="store_true",
                        help="re-measure only the timing section of --out (the rest is kept)")
    args = parser.parse_args()
    if args.speed_only:
        out = Path(args.out)
        text = out.read_text()
        head = text[:text.index(SPEED_TITLE)] if SPEED_TITLE in text else text + "\n"
        lines = _speed_lines()
        out.write_text(head + "\n".join(lines) + "\n")
        print("\n".join(lines))
        return
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    machine = platform.processor() or platform.machine()
    lines = ["# Asymmetric focal loss on real imbalanced data (LightGBM)", "",
             f"Generated by `benchmarks/asymmetric.py` on {stamp}; {machine}, Python "
             f"{platform.python_version()}, LightGBM {lgb.__version__}. Settings in the module "
             "docstring. Means over 3 folds.", ""]
    for name in SETS:
        path = Path(args.data) / f"{name}.npz"
        if not path.exists():
            print(f"skip {name}: {path} not found")
            continue
        data = np.load(path, allow_pickle=False)
        X, y = data["X"], data["y"]
        lines += [f"## {name} (positive rate {y.mean():.4f})", "",
                  "| loss | AP | ROC AUC | log loss (corrected) | rounds |",
                  "|---|---:|---:|---:|---:|"]
        folds = StratifiedKFold(3, shuffle=True, random_state=0)
        for loss_name, kwargs in LOSSES.items():
            scores = [_fit_score(BinaryFocalLoss(**kwargs), X[tr], y[tr], X[te], y[te], seed)
                      for seed, (tr, te) in enumerate(folds.split(X, y))]
            mean = {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}
            lines.append(f"| {loss_name} | {mean['AP']:.4f} | {mean['ROC AUC']:.4f} | "
                         f"{mean['log loss']:.4f} | {mean['rounds']:.0f} |")
            print(name, loss_name, mean)
        lines.append("")
    lines += _speed_lines()
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
