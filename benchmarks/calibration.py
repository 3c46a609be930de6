"""Calibration of focal-loss boosters: raw sigmoid / softmax vs the focal posterior.

Are the probabilities of a focal-loss model usable, and does ``correct_proba=True``
(:func:`gbfocal.focal_posterior`, Charoenphakdee et al., CVPR 2021) fix them? This
script compares, on the real imbalanced sets of ``../shared/data`` (relative to the
repository) and on bundled / simulated multiclass data:

* ``builtin``   -- LightGBM / XGBoost with their own log-loss objective;
* ``raw``       -- a focal model's plain sigmoid / softmax (``correct_proba=False``);
* ``corrected`` -- the same fitted model's focal posterior (no refit).

Protocol (every section): stratified 3-fold CV; 15 % of each training fold (stratified,
at least one row per class) is held out for early stopping (learning rate 0.1, at most
300 rounds, patience 30, one thread, library defaults otherwise). Binary sets: every
model stops on average precision (LightGBM ``average_precision``, XGBoost ``aucpr``,
gbfocal ``eval_metric="average_precision"``). Multiclass sets: built-in models stop on
their multiclass log loss, focal models on gbfocal's ``"log_loss"`` (the log loss of the
*corrected* probabilities, the multiclass default) and, as a comparison, on macro
average precision. Test folds are scored by log loss (probabilities clipped to
[1e-15, 1]), Brier score, ECE (15 equal-width bins, weighted by bin count; binary: on the
positive-class probability, multiclass: top-label), mean predicted positive probability
vs the positive rate, average precision, ROC AUC (multiclass: macro one-vs-rest).

Sections (``--sections``; results of earlier runs of other sections are kept in the
JSON file, so each section can be run on its own):

* ``binary``     -- caravan, sylva, satimage_bin, flights_cancelled (60,000-row
  stratified subsample);
* ``multiclass`` -- shuttle (stratified ~20,000-row subsample, every row of the classes
  below 500 rows kept) and ``digits_imb`` (scikit-learn's bundled digits, classes 5-9
  downsampled to 10 / 10 / 7 / 7 / 5 %), with stationarity and train-vs-test
  diagnostics, and per-round curves on the first fold;
* ``sim``        -- a simulated 6-class problem with known posteriors: the exact focal
  minimiser (the math check) and boosted models against the truth.

Run ``python benchmarks/calibration.py [DATA_DIR] [--sections ...] [--quick]``. Missing
data files are skipped. Writes ``benchmarks/calibration.json`` and
``benchmarks/calibration.md`` (the text between the ``conclusions`` markers of an
existing ``calibration.md`` is kept).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize, special
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold

import gbfocal
from gbfocal import FocalLGBMClassifier, FocalXGBClassifier, focal_posterior

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
DATA = REPO.parent / "shared" / "data"
BINARY_SETS = ("caravan", "sylva", "satimage_bin", "flights_cancelled")
MAX_ROWS = {"flights_cancelled": 60_000}
SHUTTLE_ROWS = 20_000
RARE_KEEP = 500  # shuttle classes with fewer rows are kept whole
DIGITS_KEEP = {5: 0.10, 6: 0.10, 7: 0.07, 8: 0.07, 9: 0.05}
SETTINGS: dict[str, Any] = {
    "n_folds": 3,
    "val_fraction": 0.15,
    "learning_rate": 0.1,
    "max_rounds": 300,
    "patience": 30,
    "gamma": 2.0,
    "threads": 1,
    "seed": 0,
    "ece_bins": 15,
    "proba_clip": 1e-15,
}
QUICK = {"n_folds": 2, "max_rounds": 60, "patience": 10}
EPS = 1e-15
CONCL_START = "<!-- conclusions -->"
CONCL_END = "<!-- /conclusions -->"

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("GBFOCAL_NUM_THREADS", "1")
warnings.filterwarnings("ignore", message=".*eval_set.*deprecated.*")


# =========================================================================== data
def load_npz(data_dir: Path, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    path = Path(data_dir) / f"{name}.npz"
    if not path.is_file():
        print(f"[skip] {path} not found", flush=True)
        return None
    with np.load(path, allow_pickle=False) as d:
        return np.asarray(d["X"], dtype=np.float32), np.asarray(d["y"], dtype=np.int64)


def stratified_subsample(
    X: np.ndarray, y: np.ndarray, n_rows: int, seed: int, keep_below: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """About ``n_rows`` rows, class shares kept, except classes below ``keep_below`` rows
    (kept whole); the other classes share the remaining budget in proportion."""
    if len(y) <= n_rows:
        return X, y
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    small = counts < keep_below
    budget = n_rows - counts[small].sum()
    frac = budget / counts[~small].sum()
    idx = []
    for c, n, s in zip(classes, counts, small, strict=True):
        rows = np.flatnonzero(y == c)
        idx.append(rows if s else rng.choice(rows, max(2, int(round(n * frac))), replace=False))
    idx = np.sort(np.concatenate(idx))
    return X[idx], y[idx]


def load_binary(data_dir: Path, name: str, seed: int) -> tuple[np.ndarray, np.ndarray] | None:
    data = load_npz(data_dir, name)
    if data is None:
        return None
    X, y = data
    if name in MAX_ROWS:
        X, y = stratified_subsample(X, y, MAX_ROWS[name], seed)
    return X, y


def load_shuttle(data_dir: Path, seed: int) -> tuple[np.ndarray, np.ndarray] | None:
    data = load_npz(data_dir, "shuttle")
    if data is None:
        return None
    return stratified_subsample(*data, SHUTTLE_ROWS, seed, keep_below=RARE_KEEP)


def load_digits_imb(seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    keep = np.ones(len(y), dtype=bool)
    for c, frac in DIGITS_KEEP.items():
        rows = np.flatnonzero(y == c)
        drop = rng.choice(rows, len(rows) - max(3, int(round(frac * len(rows)))), replace=False)
        keep[drop] = False
    return X[keep].astype(np.float32), y[keep].astype(np.int64)


def multiclass_sets(data_dir: Path, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    sets = {}
    shuttle = load_shuttle(data_dir, seed)
    if shuttle is not None:
        sets["shuttle"] = shuttle
    sets["digits_imb"] = load_digits_imb(seed)
    return sets


def inner_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (fit, validation) split with at least one row of each class on each side."""
    rng = np.random.default_rng(seed)
    fit, val = [], []
    for c in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == c))
        n_val = min(len(rows) - 1, max(1, int(round(fraction * len(rows))))) if len(rows) > 1 else 0
        val.append(rows[:n_val])
        fit.append(rows[n_val:])
    return np.sort(np.concatenate(fit)), np.sort(np.concatenate(val))


def folds(y: np.ndarray, cfg: dict[str, Any]):
    """(fold, fit, val, test) index arrays: outer stratified CV, inner validation split."""
    skf = StratifiedKFold(cfg["n_folds"], shuffle=True, random_state=cfg["seed"])
    for k, (train, test) in enumerate(skf.split(np.zeros(len(y)), y)):
        fit_rel, val_rel = inner_split(y[train], cfg["val_fraction"], cfg["seed"] + k)
        yield k, train[fit_rel], train[val_rel], test


# =========================================================================== metrics
def ece(conf: np.ndarray, hit: np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error: |mean(hit) - mean(conf)| per equal-width bin,
    weighted by the bin's share of rows."""
    b = np.minimum((np.asarray(conf) * n_bins).astype(np.int64), n_bins - 1)
    s_conf = np.bincount(b, weights=conf, minlength=n_bins)
    s_hit = np.bincount(b, weights=hit.astype(np.float64), minlength=n_bins)
    return float(np.abs(s_hit - s_conf).sum() / len(conf))


def binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    pc = np.clip(p, EPS, 1 - EPS)
    return {
        "log_loss": float(-np.mean(y * np.log(pc) + (1 - y) * np.log1p(-pc))),
        "brier": float(np.mean((p - y) ** 2)),
        "ece": ece(p, y),
        "mean_p": float(np.mean(p)),
        "pos_rate": float(np.mean(y)),
        "ap": float(average_precision_score(y, p)),
        "auc": float(roc_auc_score(y, p)),
    }


def multiclass_metrics(y: np.ndarray, P: np.ndarray) -> dict[str, float]:
    n, k = P.shape
    rows = np.arange(n)
    onehot = np.eye(k)[y]
    pred = P.argmax(axis=1)
    return {
        "log_loss": float(-np.mean(np.log(np.clip(P[rows, y], EPS, 1.0)))),
        "brier": float(np.mean(((P - onehot) ** 2).sum(axis=1))),
        "ece": ece(P.max(axis=1), pred == y),
        "auc": float(
            roc_auc_score(
                y,
                P / P.sum(axis=1, keepdims=True),
                multi_class="ovr",
                average="macro",
                labels=np.arange(k),
            )
        ),
        "accuracy": float(np.mean(pred == y)),
        "mean_conf": float(np.mean(P.max(axis=1))),
    }


# =========================================================================== models
def lgb_reg_params() -> dict[str, Any]:
    """XGBoost's leaf regularisation defaults, for LightGBM ("lgb_reg")."""
    return {"reg_lambda": 1.0, "min_child_weight": 1.0}


def fit_builtin(lib: str, X, y, Xv, yv, cfg, *, multiclass: bool) -> tuple[Any, int]:
    """A built-in log-loss booster, early-stopped (binary: AP, multiclass: log loss)."""
    common = {
        "n_estimators": cfg["max_rounds"],
        "learning_rate": cfg["learning_rate"],
        "n_jobs": cfg["threads"],
        "random_state": cfg["seed"],
    }
    if lib.startswith("lgb"):
        import lightgbm as lgb

        extra = lgb_reg_params() if lib == "lgb_reg" else {}
        model = lgb.LGBMClassifier(
            objective="multiclass" if multiclass else "binary",
            metric="multi_logloss" if multiclass else "average_precision",
            verbose=-1,
            **common,
            **extra,
        )
        model.fit(
            X,
            y,
            eval_X=(Xv,),
            eval_y=(yv,),
            callbacks=[lgb.early_stopping(cfg["patience"], verbose=False)],
        )
        return model, int(model.best_iteration_)
    import xgboost as xgb

    model = xgb.XGBClassifier(
        eval_metric="mlogloss" if multiclass else "aucpr",
        tree_method="hist",
        early_stopping_rounds=cfg["patience"],
        **common,
    )
    model.fit(X, y, eval_set=[(Xv, yv)], verbose=False)
    return model, int(model.best_iteration) + 1


def builtin_proba(model: Any, X, multiclass: bool) -> np.ndarray:
    P = model.predict_proba(X)
    return P if multiclass else P[:, 1]


def make_focal(
    lib: str,
    alpha: Any,
    es_metric: str | None,
    cfg: dict[str, Any],
    n_rounds: int | None = None,
    **extra: Any,
):
    cls = FocalXGBClassifier if lib == "xgb" else FocalLGBMClassifier
    kw = dict(lgb_reg_params()) if lib == "lgb_reg" else {}
    kw.update(extra)
    return cls(
        alpha=alpha,
        gamma=cfg["gamma"],
        learning_rate=cfg["learning_rate"],
        n_estimators=n_rounds or cfg["max_rounds"],
        early_stopping_rounds=cfg["patience"] if es_metric else None,
        eval_metric=es_metric or "auto",
        n_jobs=cfg["threads"],
        random_state=cfg["seed"],
        correct_proba=False,
        **kw,
    )


def focal_probas(model: Any, X, multiclass: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(margins, raw proba, corrected proba) of a fitted focal estimator (no refit)."""
    z = model.decision_function(X)
    raw = model.predict_proba(X)  # correct_proba=False: plain link
    corr = model.loss_.predict_proba(z, check_input=False)  # corrected=True
    # Cross-check against the public function.
    ref = focal_posterior(z, alpha=model.loss_.alpha_, gamma=model.gamma)
    ref = ref if multiclass else np.column_stack([1 - ref, ref])
    assert np.allclose(corr, ref, rtol=0, atol=1e-12), "loss_.predict_proba != focal_posterior"
    if multiclass:
        return z, raw, corr
    return z, raw[:, 1], corr[:, 1]


def staged_margins(model: Any, X: np.ndarray, n_rounds: int) -> np.ndarray:
    """Margins after rounds 1..n_rounds, shape (n_rounds, n) or (n_rounds, n, K),
    the focal estimator's init score included."""
    # The fitted booster holds the initial score (the estimators fold it into the model):
    # LightGBM in the first round's leaves, so the per-round sums include it; XGBoost as
    # base_score, which a zero base_margin replaces, so each round is its tree alone.
    booster = model.booster_
    steps = []
    if isinstance(model, FocalXGBClassifier):
        import xgboost as xgb

        zeros = np.zeros((X.shape[0],) + np.shape(model.init_score_))
        dm = xgb.DMatrix(X, base_margin=zeros, nthread=1)
        for r in range(n_rounds):
            steps.append(booster.predict(dm, output_margin=True, iteration_range=(r, r + 1)))
        offset = model.init_score_
    else:
        for r in range(n_rounds):
            steps.append(booster.predict(X, raw_score=True, start_iteration=r, num_iteration=1))
        offset = 0.0
    return np.cumsum(np.asarray(steps, dtype=np.float64), axis=0) + offset


def alpha_label(alpha: Any) -> str:
    return "None" if alpha is None else str(alpha)


# =========================================================================== machine
def machine_info() -> dict[str, Any]:
    import lightgbm
    import sklearn
    import xgboost

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "-C", str(REPO), "status", "--porcelain"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
        )
    except OSError:
        commit, dirty = "", False
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "lightgbm": lightgbm.__version__,
        "xgboost": xgboost.__version__,
        # GBFOCAL_SNAPSHOT: optional description of a package copy put first on PYTHONPATH
        "gbfocal": gbfocal.__version__
        + (
            ""
            if Path(gbfocal.__file__).resolve().is_relative_to(REPO)
            else f", imported from {Path(gbfocal.__file__).parent}"
            + (f" ({os.environ['GBFOCAL_SNAPSHOT']})" if os.environ.get("GBFOCAL_SNAPSHOT") else "")
        ),
        "git": commit + (" (working tree modified)" if dirty else ""),
    }


# =========================================================================== binary
def run_binary(data_dir: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    records = []
    for name in BINARY_SETS:
        data = load_binary(data_dir, name, cfg["seed"])
        if data is None:
            continue
        X, y = data
        print(f"[binary] {name}: {X.shape}, positive rate {y.mean():.4f}", flush=True)
        for k, fit, val, test in folds(y, cfg):
            for lib in ("lgb", "xgb"):
                t = time.perf_counter()
                model, rounds = fit_builtin(
                    lib, X[fit], y[fit], X[val], y[val], cfg, multiclass=False
                )
                p = builtin_proba(model, X[test], False)
                records.append(
                    {
                        "set": name,
                        "fold": k,
                        "lib": lib,
                        "alpha": "-",
                        "variant": "builtin",
                        "rounds": rounds,
                        "fit_s": time.perf_counter() - t,
                        **binary_metrics(y[test], p),
                    }
                )
                for alpha in (None, "balanced", 0.25):
                    t = time.perf_counter()
                    model = make_focal(lib, alpha, "average_precision", cfg)
                    model.fit(X[fit], y[fit], eval_set=[(X[val], y[val])])
                    fit_s = time.perf_counter() - t
                    _, raw, corr = focal_probas(model, X[test], False)
                    for variant, p in (("raw", raw), ("corrected", corr)):
                        records.append(
                            {
                                "set": name,
                                "fold": k,
                                "lib": lib,
                                "alpha": alpha_label(alpha),
                                "variant": variant,
                                "rounds": model.best_iteration_,
                                "fit_s": fit_s,
                                **binary_metrics(y[test], p),
                            }
                        )
            print(f"  fold {k} done", flush=True)
    return {"records": records, "drift": binary_drift(data_dir, cfg)}


DRIFT_SETS = ("caravan", "flights_cancelled")
DRIFT_ROUNDS = (1, 5, 10, 25, 50, 100, 200, 300)


def binary_drift(data_dir: Path, cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Mean corrected probability on the training and test rows of the first fold, per
    round, without early stopping: does it stay at the positive rate (as the mean
    probability of a log-loss model does)?"""
    rows = []
    for name in DRIFT_SETS:
        data = load_binary(data_dir, name, cfg["seed"])
        if data is None:
            continue
        X, y = data
        k, fit, val, test = next(folds(y, cfg))
        grid = [r for r in DRIFT_ROUNDS if r <= cfg["max_rounds"]]
        for lib in ("lgb", "xgb"):
            for alpha in ("balanced", None, 0.25):
                model = make_focal(lib, alpha, None, cfg, n_rounds=grid[-1])
                model.fit(X[fit], y[fit])
                zf = staged_margins(model, X[fit], grid[-1])
                zt = staged_margins(model, X[test], grid[-1])
                row = {
                    "set": name,
                    "lib": lib,
                    "alpha": alpha_label(alpha),
                    "grid": grid,
                    "rate": float(y[fit].mean()),
                    "train": [],
                    "test": [],
                    "train_raw": [],
                }
                for r in grid:
                    row["train"].append(
                        float(model.loss_.predict_proba(zf[r - 1], check_input=False)[:, 1].mean())
                    )
                    row["test"].append(
                        float(model.loss_.predict_proba(zt[r - 1], check_input=False)[:, 1].mean())
                    )
                    row["train_raw"].append(float(special.expit(zf[r - 1]).mean()))
                rows.append(row)
    return rows


# =========================================================================== multiclass
def stationarity(model: Any, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """How far the training rows are from a stationary point of the focal risk.

    ``grad_mean``: max over classes of |mean_i g_ik| (alpha-weighted focal gradient with
    respect to the margin of class k; exactly 0 at the init score, the constant optimum,
    and 0 at any stationary point of the training risk). ``grad_rel``: the same divided by
    mean_i |g_ik|. ``grad_left``: mean |g| of the final model / mean |g| at the init
    score; near 0 when the trees fit the training rows (almost) perfectly, which on
    separable training data is the only way to approach the training "stationary point"
    (it lies at infinite margins)."""
    z = model.decision_function(X)
    alpha = None if model.alpha is None else model.loss_.alpha_
    g, _ = gbfocal.multiclass_focal_grad_hess(y, z, alpha=alpha, gamma=model.gamma)
    z0 = np.tile(model.init_score_, (len(y), 1))
    g0, _ = gbfocal.multiclass_focal_grad_hess(y, z0, alpha=alpha, gamma=model.gamma)
    absg = np.abs(g).mean(axis=0)
    mean = np.abs(g.mean(axis=0))
    return {
        "grad_mean": float(mean.max()),
        "grad_rel": float((mean / np.maximum(absg, 1e-300)).max()),
        "grad_left": float(np.abs(g).mean() / np.abs(g0).mean()),
        "init_grad_mean": float(np.abs(g0.mean(axis=0)).max()),
    }


def amplification(
    y: np.ndarray, raw: np.ndarray, corr: np.ndarray, rare: np.ndarray
) -> dict[str, float]:
    """Where the corrected log loss differs from the raw one: rows whose argmax is wrong
    vs right (contributions to the mean log-loss difference corrected - raw); among the
    wrong ones, those whose true class is rare (``rare``: boolean per class)."""
    rows = np.arange(len(y))
    lr = -np.log(np.clip(raw[rows, y], EPS, 1.0))
    lc = -np.log(np.clip(corr[rows, y], EPS, 1.0))
    wrong = raw.argmax(axis=1) != y
    d = lc - lr
    return {
        "d_ll_wrong_rare": float(d[wrong & rare[y]].sum() / len(y)),
        "share_wrong_rare": float((wrong & rare[y]).sum() / max(wrong.sum(), 1)),
        "d_ll_wrong": float(d[wrong].sum() / len(y)),
        "d_ll_right": float(d[~wrong].sum() / len(y)),
        "share_wrong": float(wrong.mean()),
        "ll_wrong_raw": float(lr[wrong].mean()) if wrong.any() else 0.0,
        "ll_wrong_corr": float(lc[wrong].mean()) if wrong.any() else 0.0,
    }


def run_multiclass(data_dir: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    records = []
    curves = []
    for name, (X, y) in multiclass_sets(data_dir, cfg["seed"]).items():
        K = int(y.max()) + 1
        print(f"[multiclass] {name}: {X.shape}, class counts {np.bincount(y).tolist()}", flush=True)
        for k, fit, val, test in folds(y, cfg):
            for lib in ("lgb", "lgb_reg", "xgb"):
                t = time.perf_counter()
                model, rounds = fit_builtin(
                    lib, X[fit], y[fit], X[val], y[val], cfg, multiclass=True
                )
                P = builtin_proba(model, X[test], True)
                Ptr = builtin_proba(model, X[fit], True)
                records.append(
                    {
                        "set": name,
                        "fold": k,
                        "lib": lib,
                        "alpha": "-",
                        "es": "mlogloss",
                        "variant": "builtin",
                        "rounds": rounds,
                        "fit_s": time.perf_counter() - t,
                        **multiclass_metrics(y[test], P),
                        "train": multiclass_metrics(y[fit], Ptr),
                    }
                )
                for alpha in (None, "balanced"):
                    for es in ("log_loss", "average_precision"):
                        t = time.perf_counter()
                        model = make_focal(lib, alpha, es, cfg)
                        model.fit(X[fit], y[fit], eval_set=[(X[val], y[val])])
                        fit_s = time.perf_counter() - t
                        z, raw, corr = focal_probas(model, X[test], True)
                        ztr, raw_tr, corr_tr = focal_probas(model, X[fit], True)
                        # Corrected probabilities at the init score = training class shares.
                        init_post = focal_posterior(
                            model.init_score_[None, :], alpha=model.loss_.alpha_, gamma=model.gamma
                        )[0]
                        shares = np.bincount(y[fit], minlength=K) / len(fit)
                        diag = {
                            **stationarity(model, X[fit], y[fit]),
                            **amplification(y[test], raw, corr, shares < 0.5 / K),
                            "max_abs_margin": float(np.abs(z).max()),
                            "init_posterior_err": float(np.abs(init_post - shares).max()),
                        }
                        for variant, P, Ptr in (("raw", raw, raw_tr), ("corrected", corr, corr_tr)):
                            records.append(
                                {
                                    "set": name,
                                    "fold": k,
                                    "lib": lib,
                                    "alpha": alpha_label(alpha),
                                    "es": es,
                                    "variant": variant,
                                    "rounds": model.best_iteration_,
                                    "fit_s": fit_s,
                                    **multiclass_metrics(y[test], P),
                                    "train": multiclass_metrics(y[fit], Ptr),
                                    "diag": diag,
                                }
                            )
            print(f"  fold {k} done", flush=True)
        # Per-round curves, first fold, no early stopping.
        k, fit, val, test = next(folds(y, cfg))
        grid = sorted(
            {
                r
                for r in (1, 2, 3, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300)
                if r <= cfg["max_rounds"]
            }
            | {cfg["max_rounds"]}
        )
        for lib in ("lgb", "lgb_reg", "xgb"):
            for alpha in (None, "balanced"):
                model = make_focal(lib, alpha, None, cfg)
                model.fit(X[fit], y[fit])
                zt = staged_margins(model, X[test], cfg["max_rounds"])
                zf = staged_margins(model, X[fit], cfg["max_rounds"])
                assert np.allclose(zt[-1], model.decision_function(X[test]), rtol=1e-5, atol=1e-4)
                row = {
                    "set": name,
                    "lib": lib,
                    "alpha": alpha_label(alpha),
                    "grid": grid,
                    "test_raw": [],
                    "test_corr": [],
                    "train_raw": [],
                    "train_corr": [],
                    "test_auc": [],
                    "max_abs_margin": [],
                }
                for r in grid:
                    for part, zz, yy in (
                        ("test", zt[r - 1], y[test]),
                        ("train", zf[r - 1], y[fit]),
                    ):
                        raw = special.softmax(zz, axis=1)
                        corr = model.loss_.predict_proba(zz, check_input=False)
                        row[f"{part}_raw"].append(multiclass_metrics(yy, raw)["log_loss"])
                        mc = multiclass_metrics(yy, corr)
                        row[f"{part}_corr"].append(mc["log_loss"])
                        if part == "test":
                            row["test_auc"].append(mc["auc"])
                            row["max_abs_margin"].append(float(np.abs(zz).max()))
                curves.append(row)
        print("  curves done", flush=True)
    return {"records": records, "curves": curves}


# =========================================================================== simulation
SIM = {
    "n_classes": 6,
    "n_features": 8,
    "priors": [0.45, 0.25, 0.13, 0.09, 0.05, 0.03],
    "weight_scale": 1.0,
    "n_train": 20_000,
    "n_val": 5_000,
    "n_test": 20_000,
    "learning_rate": 0.05,
    "max_rounds": 2000,
    "patience": 100,
}
SIM_QUICK = {"n_train": 4_000, "n_val": 1_000, "n_test": 4_000, "max_rounds": 200, "patience": 20}


def simulate(sim: dict[str, Any], seed: int) -> tuple[np.ndarray, ...]:
    """x ~ N(0, I); eta(x) = softmax(x W + b), b = log priors; y ~ eta(x)."""
    rng = np.random.default_rng(seed)
    K, d = sim["n_classes"], sim["n_features"]
    W = rng.normal(scale=sim["weight_scale"], size=(d, K))
    b = np.log(np.asarray(sim["priors"]))
    n = sim["n_train"] + sim["n_val"] + sim["n_test"]
    X = rng.normal(size=(n, d))
    eta = special.softmax(X @ W + b, axis=1)
    y = (rng.random(n)[:, None] > np.cumsum(eta, axis=1)).sum(axis=1)
    y = np.minimum(y, K - 1)
    return X.astype(np.float32), y.astype(np.int64), eta


def focal_h(q: np.ndarray, gamma: float) -> np.ndarray:
    """|phi'(q)| for phi(q) = -(1 - q)^g log q: (1 - q)^(g-1) ((1 - q)/q - g log q)."""
    return (1 - q) ** (gamma - 1) * ((1 - q) / q - gamma * np.log(q))


def focal_minimiser(eta: np.ndarray, a: np.ndarray, gamma: float) -> np.ndarray:
    """argmin_q sum_i eta_i a_i phi(q_i) over the simplex, per row, by the Lagrange
    condition eta_i a_i |phi'(q_i)| = lambda (nested bisection in log lambda and logit q).
    Independent of gbfocal's closed form: it solves the forward problem."""
    c = eta * a  # (n, K)

    def q_of(log_lam: np.ndarray) -> np.ndarray:
        # solve log h(q) = log_lam - log c, h decreasing in q: bisection on u = logit q
        target = log_lam[:, None] - np.log(c)
        lo = np.full(c.shape, -60.0)
        hi = np.full(c.shape, 60.0)
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            q = special.expit(mid)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                val = np.log(focal_h(q, gamma))
            above = val > target  # h too big: q must grow
            lo = np.where(above, mid, lo)
            hi = np.where(above, hi, mid)
        return special.expit(0.5 * (lo + hi))

    lo = np.full(len(c), -80.0)
    hi = np.full(len(c), 80.0)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        s = q_of(mid).sum(axis=1)
        big = s > 1  # too much mass: raise lambda (every q_i decreases)
        lo = np.where(big, mid, lo)
        hi = np.where(big, hi, mid)
    q = q_of(0.5 * (lo + hi))
    return q / q.sum(axis=1, keepdims=True)


def focal_risk(q: np.ndarray, eta: np.ndarray, a: np.ndarray, gamma: float) -> np.ndarray:
    return -(eta * a * (1 - q) ** gamma * np.log(q)).sum(axis=1)


def run_sim(cfg: dict[str, Any], quick: bool) -> dict[str, Any]:
    import lightgbm as lgb

    sim = {**SIM, **(SIM_QUICK if quick else {})}
    gamma = cfg["gamma"]
    X, y, eta = simulate(sim, cfg["seed"])
    n1, n2 = sim["n_train"], sim["n_train"] + sim["n_val"]
    tr, va, te = slice(0, n1), slice(n1, n2), slice(n2, None)
    K = sim["n_classes"]
    rows_te = np.arange(len(y[te]))
    out: dict[str, Any] = {
        "settings": sim,
        "class_counts_train": np.bincount(y[tr], minlength=K).tolist(),
    }
    bayes_ll = float(-np.mean(np.log(eta[te][rows_te, y[te]])))
    out["bayes_log_loss"] = bayes_ll

    # (a) monotonicity of w(q) = 1/|phi'(q)|: the map q -> eta is then a bijection.
    grid = np.linspace(1e-6, 1 - 1e-6, 200_001)
    out["w_monotone"] = {
        str(g): bool(np.all(np.diff(1 / focal_h(grid, g)) > 0)) for g in (0.5, 1.0, 2.0, 3.0, 5.0)
    }

    # (b) the exact focal minimiser q*(eta) (forward problem), then the closed-form inverse.
    math = []
    alpha_bal = gbfocal.balanced_alpha(y[tr], K)
    for label, a in (("None", np.ones(K)), ("balanced", alpha_bal)):
        qstar = focal_minimiser(eta[te], a, gamma)
        back = focal_posterior(np.log(qstar), alpha=None if label == "None" else a, gamma=gamma)
        # the forward solution is a minimiser: random feasible perturbations never do better
        rng = np.random.default_rng(1)
        sub = slice(0, 300)
        r0 = focal_risk(qstar[sub], eta[te][sub], a, gamma)
        worse = 0
        for _ in range(50):
            pert = special.softmax(
                np.log(qstar[sub]) + rng.normal(scale=0.05, size=qstar[sub].shape), axis=1
            )
            worse += int((focal_risk(pert, eta[te][sub], a, gamma) >= r0 - 1e-12).sum())
        # scipy check of the minimiser on 30 rows
        sc = []
        for i in range(30):

            def f(zz: np.ndarray, i: int = i, a: np.ndarray = a) -> float:
                return float(focal_risk(special.softmax(zz)[None], eta[te][i : i + 1], a, gamma)[0])

            res = optimize.minimize(
                f,
                np.log(eta[te][i]),
                method="Nelder-Mead",
                options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20000},
            )
            sc.append(np.abs(special.softmax(res.x) - qstar[i]).max())
        math.append(
            {
                "alpha": label,
                "max_abs_err_corrected_vs_eta": float(np.abs(back - eta[te]).max()),
                "mae_raw_qstar_vs_eta": float(np.abs(qstar - eta[te]).mean()),
                "ll_raw_qstar": float(-np.mean(np.log(qstar[rows_te, y[te]]))),
                "ll_corrected_qstar": float(-np.mean(np.log(back[rows_te, y[te]]))),
                "perturbations_not_better": f"{worse}/{50 * 300}",
                "scipy_max_abs_diff": float(np.max(sc)),
                "ece_raw_qstar": ece(qstar.max(axis=1), qstar.argmax(axis=1) == y[te]),
            }
        )
    out["math"] = math

    # (b') how much the correction sharpens: K classes, top raw probability t, the rest equal.
    sharp = []
    for t in (0.3, 0.5, 0.7, 0.9, 0.95, 0.99, 0.999):
        q = np.full((1, K), (1 - t) / (K - 1))
        q[0, 0] = t
        c = focal_posterior(np.log(q), gamma=gamma)[0]
        sharp.append(
            {
                "q_top": t,
                "q_other": float(q[0, 1]),
                "corr_top": float(c[0]),
                "corr_other": float(c[1]),
                "ll_if_other_raw": float(-np.log(q[0, 1])),
                "ll_if_other_corr": float(-np.log(c[1])),
            }
        )
    out["sharpening"] = sharp

    # (c) boosted models against the truth.
    models = []
    scfg = {
        **cfg,
        "learning_rate": sim["learning_rate"],
        "max_rounds": sim["max_rounds"],
        "patience": sim["patience"],
    }

    def score(P: np.ndarray) -> dict[str, float]:
        m = multiclass_metrics(y[te], P)
        m["mae_vs_eta"] = float(np.abs(P - eta[te]).mean())
        return m

    t = time.perf_counter()
    ref = lgb.LGBMClassifier(
        objective="multiclass",
        n_estimators=sim["max_rounds"],
        learning_rate=sim["learning_rate"],
        n_jobs=1,
        random_state=0,
        verbose=-1,
    )
    ref.fit(
        X[tr],
        y[tr],
        eval_X=(X[va],),
        eval_y=(y[va],),
        callbacks=[lgb.early_stopping(sim["patience"], verbose=False)],
    )
    models.append(
        {
            "model": "builtin LightGBM multiclass",
            "es": "multi_logloss",
            "variant": "builtin",
            "rounds": int(ref.best_iteration_),
            "fit_s": time.perf_counter() - t,
            **score(ref.predict_proba(X[te])),
        }
    )
    print(f"[sim] builtin done ({models[-1]['rounds']} rounds)", flush=True)
    for lib in ("lgb", "xgb"):
        for alpha in (None, "balanced"):
            for es in ("focal_loss", "log_loss"):
                t = time.perf_counter()
                model = make_focal(lib, alpha, es, scfg)
                model.fit(X[tr], y[tr], eval_set=[(X[va], y[va])])
                fit_s = time.perf_counter() - t
                z, raw, corr = focal_probas(model, X[te], True)
                for variant, P in (("raw", raw), ("corrected", corr)):
                    models.append(
                        {
                            "model": f"focal {lib} alpha={alpha_label(alpha)}",
                            "es": es,
                            "variant": variant,
                            "rounds": model.best_iteration_,
                            "fit_s": fit_s,
                            **score(P),
                        }
                    )
                print(f"[sim] {lib} {alpha} {es} done ({model.best_iteration_} rounds)", flush=True)
    out["models"] = models

    # (d) overfitting: lr 0.1, no early stopping, curves against the truth.
    curves = []
    n_over = 600 if not quick else 100
    ocfg = {**cfg, "max_rounds": n_over}
    grid_r = [r for r in (10, 25, 50, 100, 200, 300, 400, 600) if r <= n_over]
    for lib in ("lgb", "xgb"):
        model = make_focal(lib, None, None, ocfg)
        model.fit(X[tr], y[tr])
        zt = staged_margins(model, X[te], n_over)
        zf = staged_margins(model, X[tr], n_over)
        row = {
            "lib": lib,
            "grid": grid_r,
            "test_raw": [],
            "test_corr": [],
            "train_corr": [],
            "mae_raw": [],
            "mae_corr": [],
            "ece_corr": [],
            "ece_corr_train": [],
        }
        for r in grid_r:
            raw = special.softmax(zt[r - 1], axis=1)
            corr = model.loss_.predict_proba(zt[r - 1], check_input=False)
            corr_tr = model.loss_.predict_proba(zf[r - 1], check_input=False)
            mr, mc = score(raw), score(corr)
            mtr = multiclass_metrics(y[tr], corr_tr)
            row["test_raw"].append(mr["log_loss"])
            row["test_corr"].append(mc["log_loss"])
            row["train_corr"].append(mtr["log_loss"])
            row["mae_raw"].append(mr["mae_vs_eta"])
            row["mae_corr"].append(mc["mae_vs_eta"])
            row["ece_corr"].append(mc["ece"])
            row["ece_corr_train"].append(mtr["ece"])
        curves.append(row)
        print(f"[sim] overfit curve {lib} done", flush=True)
    out["overfit_curves"] = curves
    out["binary"] = run_binary_sim(cfg, sim, quick)
    return out


def run_binary_sim(cfg: dict[str, Any], sim: dict[str, Any], quick: bool) -> dict[str, Any]:
    """Binary, known posterior: eta(x) = sigmoid(x w - 3), x ~ N(0, I_8) (about 10 %
    positives). Does the mean corrected probability match the mean posterior?"""
    import lightgbm as lgb

    rng = np.random.default_rng(cfg["seed"] + 1)
    n_tr, n_va, n_te = (sim["n_train"], sim["n_val"], sim["n_test"])
    n = n_tr + n_va + n_te
    X = rng.normal(size=(n, 8))
    eta = special.expit(X @ (0.8 * rng.normal(size=8)) - 3.0)
    y = (rng.random(n) < eta).astype(np.int64)
    X = X.astype(np.float32)
    tr, va, te = slice(0, n_tr), slice(n_tr, n_tr + n_va), slice(n_tr + n_va, None)
    scfg = {
        **cfg,
        "learning_rate": sim["learning_rate"],
        "max_rounds": sim["max_rounds"],
        "patience": sim["patience"],
    }
    out: dict[str, Any] = {
        "rate_train": float(y[tr].mean()),
        "mean_eta_test": float(eta[te].mean()),
        "models": [],
    }
    ref = lgb.LGBMClassifier(
        n_estimators=sim["max_rounds"],
        learning_rate=sim["learning_rate"],
        n_jobs=1,
        random_state=0,
        verbose=-1,
    )
    ref.fit(
        X[tr],
        y[tr],
        eval_X=(X[va],),
        eval_y=(y[va],),
        callbacks=[lgb.early_stopping(sim["patience"], verbose=False)],
    )
    p = ref.predict_proba(X[te])[:, 1]
    out["models"].append(
        {
            "model": "builtin LightGBM binary",
            "variant": "builtin",
            "rounds": int(ref.best_iteration_),
            "mean_p": float(p.mean()),
            "mean_p_train": float(ref.predict_proba(X[tr])[:, 1].mean()),
            "mae_vs_eta": float(np.abs(p - eta[te]).mean()),
            **binary_metrics(y[te], p),
        }
    )
    for alpha in ("balanced", None, 0.25):
        model = make_focal("lgb", alpha, "focal_loss", scfg)
        model.fit(X[tr], y[tr], eval_set=[(X[va], y[va])])
        _, raw, corr = focal_probas(model, X[te], False)
        _, _, corr_tr = focal_probas(model, X[tr], False)
        for variant, p in (("raw", raw), ("corrected", corr)):
            out["models"].append(
                {
                    "model": f"focal lgb alpha={alpha_label(alpha)}",
                    "variant": variant,
                    "rounds": model.best_iteration_,
                    "mean_p": float(p.mean()),
                    "mean_p_train": float(corr_tr.mean())
                    if variant == "corrected"
                    else float("nan"),
                    "mae_vs_eta": float(np.abs(p - eta[te]).mean()),
                    **binary_metrics(y[te], p),
                }
            )
        print(f"[sim] binary {alpha} done ({model.best_iteration_} rounds)", flush=True)
    # slope of the corrected log-odds in the raw margin: gamma + 1 in the tails
    z = np.array([-8.0, -4.0, -2.0, 0.0, 2.0, 4.0, 8.0])
    h = 1e-4
    slope = {}
    for label, a in (("None", None), ("balanced", float(1 - out["rate_train"]))):
        lo = special.logit(focal_posterior(z - h, alpha=a, gamma=cfg["gamma"]))
        hi = special.logit(focal_posterior(z + h, alpha=a, gamma=cfg["gamma"]))
        slope[label] = ((hi - lo) / (2 * h)).tolist()
    out["slope_z"], out["slope"] = z.tolist(), slope
    return out


# =========================================================================== summaries
BIN_KEYS = ("rounds", "log_loss", "brier", "ece", "mean_p", "pos_rate", "ap", "auc")
MC_KEYS = ("rounds", "log_loss", "brier", "ece", "auc", "accuracy", "mean_conf")
LIB_NAME = {"lgb": "LightGBM", "lgb_reg": "LightGBM reg", "xgb": "XGBoost"}


def mean_by(
    records: list[dict[str, Any]],
    key_fields: tuple[str, ...],
    keys: tuple[str, ...],
    sub: str | None = None,
) -> dict[tuple, dict[str, float]]:
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[tuple(r[f] for f in key_fields)].append(r)
    out = {}
    for g, rs in groups.items():
        src = [r[sub] if sub else r for r in rs]
        out[g] = {k: float(np.mean([s[k] for s in src])) for k in keys if k in src[0]}
        out[g]["n"] = len(rs)
    return out


def fmt(x: float, nd: int = 4) -> str:
    if x != x:
        return "nan"
    if abs(x) >= 1000:
        return f"{x:.0f}"
    if abs(x) >= 100:
        return f"{x:.1f}"
    return f"{x:.{nd}f}"


def binary_tables(res: dict[str, Any]) -> list[str]:
    recs = res["records"]
    agg = mean_by(recs, ("set", "lib", "alpha", "variant"), BIN_KEYS)
    lines = []
    sets = list(dict.fromkeys(r["set"] for r in recs))
    for s in sets:
        lines += [
            f"### {s} (positive rate {agg[(s, 'lgb', '-', 'builtin')]['pos_rate']:.4f})",
            "",
            "| model | alpha | proba | rounds | log loss | Brier | ECE | mean p | AP | ROC AUC "
            "| LL ratio | Brier ratio | ECE ratio |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for lib in ("lgb", "xgb"):
            base = agg[(s, lib, "-", "builtin")]
            keys = [(s, lib, "-", "builtin")] + [
                (s, lib, a, v) for a in ("None", "balanced", "0.25") for v in ("raw", "corrected")
            ]
            for key in keys:
                m = agg[key]
                model = (
                    f"{LIB_NAME[lib]} built-in" if key[3] == "builtin" else f"{LIB_NAME[lib]} focal"
                )
                lines.append(
                    f"| {model} | {key[2]} | {key[3]} | {m['rounds']:.0f} | {fmt(m['log_loss'])} | "
                    f"{fmt(m['brier'])} | {fmt(m['ece'])} | {fmt(m['mean_p'])} | {fmt(m['ap'])} | "
                    f"{fmt(m['auc'])} | {m['log_loss'] / base['log_loss']:.2f} | "
                    f"{m['brier'] / base['brier']:.2f} | {m['ece'] / base['ece']:.2f} |"
                )
        lines.append("")
    # compact overview: corrected vs raw vs builtin log-loss ratio per set
    lines += [
        "### Overview: log-loss ratio to the built-in model of the same library (raw -> corrected)",
        "",
        "| set | "
        + " | ".join(
            f"{LIB_NAME[lib]} alpha={a}"
            for lib in ("lgb", "xgb")
            for a in ("None", "balanced", "0.25")
        )
        + " |",
        "|---|" + "---|" * 6,
    ]
    for s in sets:
        cells = []
        for lib in ("lgb", "xgb"):
            base = agg[(s, lib, "-", "builtin")]["log_loss"]
            for a in ("None", "balanced", "0.25"):
                cells.append(
                    f"{agg[(s, lib, a, 'raw')]['log_loss'] / base:.2f} -> "
                    f"{agg[(s, lib, a, 'corrected')]['log_loss'] / base:.2f}"
                )
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines.append("")
    drift = res.get("drift") or []
    if drift:
        grid = drift[0]["grid"]
        lines += [
            "### Mean corrected probability vs the positive rate, per round (first fold, no "
            "early stopping): training rows / test rows [raw sigmoid on training rows]",
            "",
            "| set | model | alpha | rate | " + " | ".join(f"r={g}" for g in grid) + " |",
            "|---|---|---|---:|" + "---|" * len(grid),
        ]
        for d in drift:
            lines.append(
                f"| {d['set']} | {LIB_NAME[d['lib']]} focal | {d['alpha']} | {d['rate']:.4f} | "
                + " | ".join(
                    f"{a:.4f} / {b:.4f} [{c:.3f}]"
                    for a, b, c in zip(d["train"], d["test"], d["train_raw"], strict=True)
                )
                + " |"
            )
        lines.append("")
    return lines


def multiclass_tables(res: dict[str, Any]) -> list[str]:
    recs = res["records"]
    agg = mean_by(recs, ("set", "lib", "alpha", "es", "variant"), MC_KEYS)
    tr = mean_by(
        recs,
        ("set", "lib", "alpha", "es", "variant"),
        ("log_loss", "ece", "mean_conf", "accuracy"),
        sub="train",
    )
    lines = []
    sets = list(dict.fromkeys(r["set"] for r in recs))
    for s in sets:
        lines += [
            f"### {s}",
            "",
            "| model | alpha | early stop | proba | rounds | log loss | Brier | top-label ECE "
            "| macro AUC | accuracy | LL ratio | Brier ratio | ECE ratio | train log loss |",
            "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for lib in ("lgb", "lgb_reg", "xgb"):
            bkey = (s, lib, "-", "mlogloss", "builtin")
            base = agg[bkey]
            keys = [bkey] + [
                (s, lib, a, es, v)
                for a in ("None", "balanced")
                for es in ("log_loss", "average_precision")
                for v in ("raw", "corrected")
            ]
            for key in keys:
                m = agg[key]
                model = (
                    f"{LIB_NAME[lib]} built-in" if key[4] == "builtin" else f"{LIB_NAME[lib]} focal"
                )
                lines.append(
                    f"| {model} | {key[2]} | {key[3]} | {key[4]} | {m['rounds']:.0f} | "
                    f"{fmt(m['log_loss'])} | {fmt(m['brier'])} | {fmt(m['ece'])} | "
                    f"{fmt(m['auc'])} | {fmt(m['accuracy'])} | "
                    f"{m['log_loss'] / base['log_loss']:.2f} | {m['brier'] / base['brier']:.2f} | "
                    f"{m['ece'] / max(base['ece'], 1e-12):.2f} | "
                    f"{fmt(tr[key]['log_loss'])} |"
                )
        lines.append("")
    return lines


def diagnostics_tables(res: dict[str, Any]) -> list[str]:
    recs = [r for r in res["records"] if r["variant"] == "corrected"]
    lines = [
        "#### Stationarity, train vs test, and where the log loss moves (focal models, "
        "mean over folds)",
        "",
        "`|mean g|`: max over classes of |mean_i g_ik| on the training rows (0 at a stationary "
        "point of the training risk; it is 0 at the init score, max "
        f"{max(r['diag']['init_grad_mean'] for r in recs):.0e} here); `rel` = that / mean |g_ik|. "
        "`g left`: mean |g| final / at init. `overconf` = mean top-label confidence - "
        "accuracy of the corrected probabilities (train -> test). `dLL wrong / right`: "
        "contribution to the (corrected - raw) test log loss of rows whose raw argmax is "
        "wrong / right; `of which true class rare`: the part from wrong rows whose true class "
        "has a training share below 1/(2K); `rare among wrong`: their share of the wrong rows. "
        "`max |z|`: largest test margin.",
        "",
        "| set | model | alpha | early stop | rounds | mean g | rel | g left | train LL corr "
        "| test LL raw | test LL corr | overconf train -> test | dLL wrong | dLL right "
        "| of which true class rare | LL of wrong rows raw -> corr | share wrong "
        "| rare among wrong | max abs z |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    groups: dict[tuple, list] = defaultdict(list)
    for r in recs:
        groups[(r["set"], r["lib"], r["alpha"], r["es"])].append(r)
    raw_ll = mean_by(
        [r for r in res["records"] if r["variant"] == "raw"],
        ("set", "lib", "alpha", "es"),
        ("log_loss",),
    )
    for key, rs in groups.items():
        d = {k: float(np.mean([r["diag"][k] for r in rs])) for k in rs[0]["diag"]}
        oc_tr = np.mean([r["train"]["mean_conf"] - r["train"]["accuracy"] for r in rs])
        oc_te = np.mean([r["mean_conf"] - r["accuracy"] for r in rs])
        lines.append(
            f"| {key[0]} | {LIB_NAME[key[1]]} | {key[2]} | {key[3]} | "
            f"{np.mean([r['rounds'] for r in rs]):.0f} | {d['grad_mean']:.1e} | "
            f"{d['grad_rel']:.3f} | {d['grad_left']:.3f} | "
            f"{fmt(np.mean([r['train']['log_loss'] for r in rs]))} | "
            f"{fmt(raw_ll[key]['log_loss'])} | "
            f"{fmt(np.mean([r['log_loss'] for r in rs]))} | {oc_tr:+.4f} -> {oc_te:+.4f} | "
            f"{d['d_ll_wrong']:+.4f} | {d['d_ll_right']:+.4f} | {d['d_ll_wrong_rare']:+.4f} | "
            f"{d['ll_wrong_raw']:.2f} -> {d['ll_wrong_corr']:.2f} | {d['share_wrong']:.4f} | "
            f"{d['share_wrong_rare']:.2f} | {fmt(d['max_abs_margin'], 1)} |"
        )
    init_err = max(r["diag"]["init_posterior_err"] for r in recs)
    lines += [
        "",
        f"Check: the corrected probabilities at the init score equal the training class "
        f"shares (max abs error {init_err:.1e} over all focal fits).",
        "",
    ]
    # curves
    lines += [
        "#### Per-round test log loss, first fold, no early stopping (raw / corrected; "
        "train corrected in brackets)",
        "",
    ]
    sets = list(dict.fromkeys(c["set"] for c in res["curves"]))
    for s in sets:
        cs = [c for c in res["curves"] if c["set"] == s]
        grid = cs[0]["grid"]
        lines += [
            f"{s}:",
            "",
            "| model | alpha | " + " | ".join(f"r={g}" for g in grid) + " |",
            "|---|---|" + "---|" * len(grid),
        ]
        for c in cs:
            cells = [
                f"{fmt(a, 3)} / {fmt(b, 3)} ({fmt(t, 3)})"
                for a, b, t in zip(c["test_raw"], c["test_corr"], c["train_corr"], strict=True)
            ]
            lines.append(
                f"| {LIB_NAME[c['lib']]} focal | {c['alpha']} | " + " | ".join(cells) + " |"
            )
        lines += [
            "",
            "max |test margin| at each round:",
            "",
            "| model | alpha | " + " | ".join(f"r={g}" for g in grid) + " |",
            "|---|---|" + "---|" * len(grid),
        ]
        for c in cs:
            lines.append(
                f"| {LIB_NAME[c['lib']]} focal | {c['alpha']} | "
                + " | ".join(fmt(x, 1) for x in c["max_abs_margin"])
                + " |"
            )
        lines.append("")
    return lines


def sim_tables(res: dict[str, Any]) -> list[str]:
    s = res["settings"]
    lines = [
        f"Simulated: K = {s['n_classes']}, x ~ N(0, I_{s['n_features']}), eta(x) = softmax(x W + "
        f"log priors), W ~ N(0, {s['weight_scale']}^2), priors {s['priors']}; "
        f"{s['n_train']:,} training / {s['n_val']:,} validation / {s['n_test']:,} test rows "
        f"(training class counts {res['class_counts_train']}). Bayes log loss (the truth "
        f"eta against the test labels): **{res['bayes_log_loss']:.4f}**.",
        "",
        "w(q) = 1/|phi'(q)| strictly increasing on (0, 1) (so the focal minimiser is unique "
        f"and q -> eta is a bijection): {res['w_monotone']}.",
        "",
        "**Math check** (no trees): q* = the exact minimiser of the focal risk at the true "
        "eta (solved by bisection on the Lagrange condition, independent of gbfocal), then "
        "`focal_posterior(log q*)`:",
        "",
        "| alpha | max abs(corrected - eta) | MAE raw q* vs eta | log loss raw q* | log loss "
        "corrected | top-label ECE raw q* | perturbations not better | scipy vs bisection |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for m in res["math"]:
        lines.append(
            f"| {m['alpha']} | {m['max_abs_err_corrected_vs_eta']:.1e} | "
            f"{m['mae_raw_qstar_vs_eta']:.4f} | {m['ll_raw_qstar']:.4f} | "
            f"{m['ll_corrected_qstar']:.4f} | {m['ece_raw_qstar']:.4f} | "
            f"{m['perturbations_not_better']} | {m['scipy_max_abs_diff']:.1e} |"
        )
    lines += [
        "",
        f"How the correction sharpens (K = {s['n_classes']}, alpha None, gamma 2; the "
        "top class has raw probability q_top, the other classes share the rest equally): "
        "the log loss of a row whose label is one of the *other* classes goes from "
        "-log q_other to -log p_other:",
        "",
        "| q_top | q_other | corrected top | corrected other | -log q_other | -log p_other |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for m in res["sharpening"]:
        lines.append(
            f"| {m['q_top']} | {m['q_other']:.4g} | {m['corr_top']:.6f} | "
            f"{m['corr_other']:.3g} | {m['ll_if_other_raw']:.2f} | {m['ll_if_other_corr']:.2f} |"
        )
    lines += [
        "",
        f"**Boosted models** (lr {s['learning_rate']}, up to {s['max_rounds']} rounds, "
        f"patience {s['patience']}), test set:",
        "",
        "| model | early stop | proba | rounds | log loss | MAE vs eta | Brier | top-label ECE "
        "| macro AUC |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in res["models"]:
        lines.append(
            f"| {m['model']} | {m['es']} | {m['variant']} | {m['rounds']} | "
            f"{m['log_loss']:.4f} | {m['mae_vs_eta']:.4f} | {m['brier']:.4f} | "
            f"{m['ece']:.4f} | {m['auc']:.4f} |"
        )
    b = res.get("binary")
    if b:
        lines += [
            "",
            "**Binary, known posterior** (eta = sigmoid(x w - 3), x ~ N(0, I_8); same "
            "sizes and early stopping as above, focal models on `focal_loss`): mean "
            f"posterior on the test rows {b['mean_eta_test']:.4f}, training positive rate "
            f"{b['rate_train']:.4f}.",
            "",
            "| model | proba | rounds | mean p test | mean corrected p train | MAE vs eta | "
            "log loss | ECE |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for m in b["models"]:
            lines.append(
                f"| {m['model']} | {m['variant']} | {m['rounds']} | {m['mean_p']:.4f} | "
                f"{fmt(m['mean_p_train'])} | {m['mae_vs_eta']:.4f} | {m['log_loss']:.4f} | "
                f"{m['ece']:.4f} |"
            )
        lines += [
            "",
            "Slope d logit(corrected p) / d z of the binary correction (gamma 2): "
            + "; ".join(
                f"alpha {k}: "
                + ", ".join(f"z={zz:g}: {v:.2f}" for zz, v in zip(b["slope_z"], vals, strict=True))
                for k, vals in b["slope"].items()
            )
            + ". (`balanced` here: alpha = 1 - positive rate, the float form.)",
        ]
    lines += [
        "",
        "**Overfitting** (lr 0.1, no early stopping, alpha None): test log loss raw / "
        "corrected, train corrected log loss, MAE vs eta raw / corrected, top-label ECE "
        "corrected test / train:",
        "",
        "| model | rounds | test LL raw | test LL corr | train LL corr | MAE raw | MAE corr "
        "| ECE corr test | ECE corr train |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in res["overfit_curves"]:
        for i, r in enumerate(c["grid"]):
            lines.append(
                f"| {LIB_NAME[c['lib']]} focal | {r} | {c['test_raw'][i]:.4f} | "
                f"{c['test_corr'][i]:.4f} | {c['train_corr'][i]:.4f} | {c['mae_raw'][i]:.4f} | "
                f"{c['mae_corr'][i]:.4f} | {c['ece_corr'][i]:.4f} | {c['ece_corr_train'][i]:.4f} |"
            )
    lines.append("")
    return lines


def settings_lines(
    meta: dict[str, Any], cfg: dict[str, Any], timings: dict[str, float]
) -> list[str]:
    return [
        f"Generated by `benchmarks/calibration.py`; last run {meta['date']}.",
        "",
        f"Machine: {meta['cpu']} ({meta['cpu_count']} CPUs, runs use {cfg['threads']} thread), "
        f"{meta['platform']}, Python {meta['python']}; numpy {meta['numpy']}, scikit-learn "
        f"{meta['scikit-learn']}, LightGBM {meta['lightgbm']}, XGBoost {meta['xgboost']}, gbfocal "
        f"{meta['gbfocal']} (git {meta['git']}).",
        "",
        f"Settings: {cfg['n_folds']}-fold stratified CV (shuffled, seed {cfg['seed']}); "
        f"{cfg['val_fraction']:.0%} of each training fold held out (stratified, at least one row "
        f"per class) for early stopping; learning rate {cfg['learning_rate']}, at most "
        f"{cfg['max_rounds']} rounds, patience {cfg['patience']}; focal gamma {cfg['gamma']}; "
        "library defaults otherwise (LightGBM num_leaves 31, min_child_samples 20, "
        "min_child_weight 1e-3, reg_lambda 0; XGBoost max_depth 6, min_child_weight 1, "
        'reg_lambda 1, hist). "LightGBM reg" = LightGBM with XGBoost\'s leaf regularisation '
        "(reg_lambda 1, min_child_weight 1). Binary: every model early-stops on average "
        "precision (LightGBM `average_precision`, XGBoost `aucpr`, gbfocal "
        '`eval_metric="average_precision"`). Multiclass: built-in models on multiclass log '
        'loss, focal models on `"log_loss"` (corrected) or macro `"average_precision"`. '
        f"Log loss clips probabilities to [{cfg['proba_clip']}, 1] (a row at the clip costs "
        f"{-np.log(cfg['proba_clip']):.1f}); ECE: {cfg['ece_bins']} equal-width bins, weighted by "
        "count (binary: positive-class probability; multiclass: top label). Ratios: focal "
        'metric / built-in metric of the same library, fold means. "raw" = '
        '`correct_proba=False` (plain sigmoid / softmax), "corrected" = the same fitted model\'s '
        "`loss_.predict_proba(decision_function(X))` (= `focal_posterior`). "
        f"flights_cancelled: stratified {MAX_ROWS['flights_cancelled']:,}-row subsample; "
        f"shuttle: ~{SHUTTLE_ROWS:,} rows, classes under {RARE_KEEP} rows kept whole; "
        f"digits_imb: sklearn digits with classes {list(DIGITS_KEEP)} kept at "
        f"{[f'{v:.0%}' for v in DIGITS_KEEP.values()]}.",
        "",
        "Section run times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()) + ".",
        "",
    ]


def write_markdown(path: Path, store: dict[str, Any]) -> str:
    old = path.read_text() if path.is_file() else ""
    if CONCL_START in old and CONCL_END in old:
        concl = old[old.index(CONCL_START) : old.index(CONCL_END) + len(CONCL_END)]
    else:
        concl = f"{CONCL_START}\n(conclusions: to be written after reading the tables)\n{CONCL_END}"
    sec = store["sections"]
    lines = ["# Calibration of focal-loss models: raw link vs focal posterior", ""]
    lines += settings_lines(store["meta"], store["cfg"], store["timings"])
    lines += ["## Conclusions", "", concl, ""]
    if sec.get("binary", {}).get("records"):
        lines += ["## Binary sets (test folds, mean of 3 folds)", ""] + binary_tables(sec["binary"])
    if sec.get("multiclass", {}).get("records"):
        lines += ["## Multiclass sets (test folds, mean of 3 folds)", ""]
        lines += multiclass_tables(sec["multiclass"])
    if "multiclass" in sec or "sim" in sec:
        lines += ["## Multiclass: why the correction can hurt: measurements", ""]
        if "sim" in sec:
            lines += ["### (i) Known posteriors: the math and the trees", ""] + sim_tables(
                sec["sim"]
            )
        if sec.get("multiclass", {}).get("records"):
            lines += [
                "### (ii)-(iii) Real sets: stationarity, overfitting, early-stopping metric",
                "",
            ]
            lines += diagnostics_tables(sec["multiclass"])
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return text


# =========================================================================== main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", nargs="?", default=str(DATA))
    parser.add_argument(
        "--sections",
        nargs="+",
        default=["binary", "multiclass", "sim"],
        choices=["binary", "multiclass", "sim"],
    )
    parser.add_argument("--quick", action="store_true", help="2 folds, 60 rounds: a smoke test")
    parser.add_argument(
        "--out",
        default=str(HERE / "calibration"),
        help="output prefix (.json and .md are appended)",
    )
    args = parser.parse_args(argv)
    cfg = {**SETTINGS, **(QUICK if args.quick else {})}
    out = Path(args.out)
    json_path, md_path = out.with_suffix(".json"), out.with_suffix(".md")
    store = json.loads(json_path.read_text()) if json_path.is_file() else {}
    if store.get("cfg") != cfg:  # other settings: earlier sections no longer comparable
        store = {"sections": {}, "timings": {}}
    store["cfg"] = cfg
    store["meta"] = machine_info()
    runners = {
        "binary": lambda: run_binary(Path(args.data_dir), cfg),
        "multiclass": lambda: run_multiclass(Path(args.data_dir), cfg),
        "sim": lambda: run_sim(cfg, args.quick),
    }
    for name in args.sections:
        t = time.perf_counter()
        store["sections"][name] = runners[name]()
        store["timings"][name] = time.perf_counter() - t
        print(f"[{name}] {store['timings'][name]:.0f} s", flush=True)
        json_path.write_text(json.dumps(store, indent=1, default=float))
        text = write_markdown(md_path, store)
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
