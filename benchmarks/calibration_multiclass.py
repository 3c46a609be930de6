"""Multiclass: does the focal posterior fix a focal model's softmax, and where does it hurt?

On shuttle (stratified ~20,000-row subsample, every row of the classes under 500 rows kept)
and ``digits_imb`` (scikit-learn's digits, classes 5-9 downsampled to 10 / 10 / 7 / 7 / 5 %),
LightGBM (defaults, and "LightGBM reg" with XGBoost's leaf regularisation) and XGBoost:
built-in multiclass log loss against focal models (alpha None and "balanced"), raw softmax
and corrected, early-stopped on gbfocal's ``"log_loss"`` (of the corrected probabilities) and,
as a comparison, on macro ``"average_precision"``; test and training metrics per fold.

Why the correction can hurt, measured on the same fits: how far the training rows are from
a stationary point of the focal risk, train-vs-test overconfidence, which rows move the
log loss (wrong / right, rare true class); and, on the first fold without early stopping,
per-round test and training log loss, raw and corrected, and the largest margin.

Run ``python benchmarks/calibration_multiclass.py [DATA_DIR] [--quick] [--out DIR]`` (about 3
minutes on 2 cores; ``--quick``: 2 folds, 60 rounds, prints only). A full run updates the
``multiclass`` section of ``benchmarks/calibration.json`` and rewrites ``calibration.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import _calibration as cal
import _common as common
import numpy as np
from scipy import special

import gbfocal
from gbfocal import focal_posterior

LIBS = ("lgb", "lgb_reg", "xgb")
KEYS = ("set", "lib", "alpha", "es", "variant")
FIELDS = ("rounds", "log_loss", "brier", "ece", "auc", "accuracy", "mean_conf")
CURVE_ROUNDS = (1, 2, 3, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300)


def stationarity(model: Any, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """How far the training rows are from a stationary point of the focal risk.

    ``grad_mean``: max over classes of |mean_i g_ik| (alpha-weighted focal gradient with
    respect to the margin of class k; exactly 0 at the init score, the constant optimum,
    and 0 at any stationary point of the training risk). ``grad_rel``: the same divided by
    mean_i |g_ik|. ``grad_left``: mean |g| of the final model / mean |g| at the init
    score; near 0 when the trees fit the training rows (almost) perfectly, which on
    separable training data is the only way to approach the training "stationary point"
    (it lies at infinite margins)."""
    alpha = None if model.alpha is None else model.loss_.alpha_
    g, _ = gbfocal.multiclass_focal_grad_hess(y, model.decision_function(X), alpha=alpha,
                                              gamma=model.gamma)
    z0 = np.tile(model.init_score_, (len(y), 1))
    g0, _ = gbfocal.multiclass_focal_grad_hess(y, z0, alpha=alpha, gamma=model.gamma)
    mean = np.abs(g.mean(axis=0))
    return {"grad_mean": float(mean.max()),
            "grad_rel": float((mean / np.maximum(np.abs(g).mean(axis=0), 1e-300)).max()),
            "grad_left": float(np.abs(g).mean() / np.abs(g0).mean()),
            "init_grad_mean": float(np.abs(g0.mean(axis=0)).max())}


def amplification(y: np.ndarray, raw: np.ndarray, corr: np.ndarray,
                  rare: np.ndarray) -> dict[str, float]:
    """Where the corrected log loss differs from the raw one: rows whose argmax is wrong
    vs right (contributions to the mean log-loss difference corrected - raw); among the
    wrong ones, those whose true class is rare (``rare``: boolean per class)."""
    rows = np.arange(len(y))
    lr = -np.log(np.clip(raw[rows, y], cal.EPS, 1.0))
    lc = -np.log(np.clip(corr[rows, y], cal.EPS, 1.0))
    wrong = raw.argmax(axis=1) != y
    d = lc - lr
    return {"d_ll_wrong_rare": float(d[wrong & rare[y]].sum() / len(y)),
            "share_wrong_rare": float((wrong & rare[y]).sum() / max(wrong.sum(), 1)),
            "d_ll_wrong": float(d[wrong].sum() / len(y)),
            "d_ll_right": float(d[~wrong].sum() / len(y)),
            "share_wrong": float(wrong.mean()),
            "ll_wrong_raw": float(lr[wrong].mean()) if wrong.any() else 0.0,
            "ll_wrong_corr": float(lc[wrong].mean()) if wrong.any() else 0.0}


def fit_fold(name: str, k: int, X, y, fit, val, test, cfg) -> list[dict[str, Any]]:
    """The records of one fold: built-in and focal models of every library."""
    K = int(y.max()) + 1
    records = []

    def record(lib, alpha, es, variant, rounds, seconds, P, Ptr, **extra):
        records.append({"set": name, "fold": k, "lib": lib, "alpha": alpha, "es": es,
                        "variant": variant, "rounds": rounds, "fit_s": seconds,
                        **cal.multiclass_metrics(y[test], P),
                        "train": cal.multiclass_metrics(y[fit], Ptr), **extra})

    for lib in LIBS:
        seconds, (model, rounds) = common.timed(
            cal.fit_builtin, lib, X[fit], y[fit], X[val], y[val], cfg, multiclass=True)
        record(lib, "-", "mlogloss", "builtin", rounds, seconds,
               cal.builtin_proba(model, X[test], True), cal.builtin_proba(model, X[fit], True))
        for alpha in (None, "balanced"):
            for es in ("log_loss", "average_precision"):
                model = cal.make_focal(lib, alpha, es, cfg)
                seconds, _ = common.timed(model.fit, X[fit], y[fit], eval_set=[(X[val], y[val])])
                z, raw, corr = cal.focal_probas(model, X[test], True)
                _, raw_tr, corr_tr = cal.focal_probas(model, X[fit], True)
                # Corrected probabilities at the init score = training class shares.
                init_post = focal_posterior(model.init_score_[None, :],
                                            alpha=model.loss_.alpha_, gamma=model.gamma)[0]
                shares = np.bincount(y[fit], minlength=K) / len(fit)
                diag = {**stationarity(model, X[fit], y[fit]),
                        **amplification(y[test], raw, corr, shares < 0.5 / K),
                        "max_abs_margin": float(np.abs(z).max()),
                        "init_posterior_err": float(np.abs(init_post - shares).max())}
                for variant, P, Ptr in (("raw", raw, raw_tr), ("corrected", corr, corr_tr)):
                    record(lib, cal.alpha_label(alpha), es, variant, model.best_iteration_,
                           seconds, P, Ptr, diag=diag)
    return records


def curves(name: str, X, y, cfg) -> list[dict[str, Any]]:
    """Per-round log loss on the first fold, no early stopping."""
    _, fit, _, test = next(cal.folds(y, cfg))
    grid = sorted({r for r in CURVE_ROUNDS if r <= cfg["max_rounds"]} | {cfg["max_rounds"]})
    rows = []
    for lib in LIBS:
        for alpha in (None, "balanced"):
            model = cal.make_focal(lib, alpha, None, cfg)
            model.fit(X[fit], y[fit])
            zt = cal.staged_margins(model, X[test], cfg["max_rounds"])
            zf = cal.staged_margins(model, X[fit], cfg["max_rounds"])
            assert np.allclose(zt[-1], model.decision_function(X[test]), rtol=1e-5, atol=1e-4)
            row: dict[str, Any] = {"set": name, "lib": lib, "alpha": cal.alpha_label(alpha),
                                   "grid": grid, "test_raw": [], "test_corr": [],
                                   "train_raw": [], "train_corr": [], "test_auc": [],
                                   "max_abs_margin": []}
            for r in grid:
                for part, zz, yy in (("test", zt[r - 1], y[test]), ("train", zf[r - 1], y[fit])):
                    raw = special.softmax(zz, axis=1)
                    mc = cal.multiclass_metrics(yy, model.loss_.predict_proba(zz,
                                                                               check_input=False))
                    row[f"{part}_raw"].append(cal.multiclass_metrics(yy, raw)["log_loss"])
                    row[f"{part}_corr"].append(mc["log_loss"])
                    if part == "test":
                        row["test_auc"].append(mc["auc"])
                        row["max_abs_margin"].append(float(np.abs(zz).max()))
            rows.append(row)
    return rows


def run(data_dir: Path, cfg: dict[str, Any], quick: bool = False) -> dict[str, Any]:
    records, curve_rows = [], []
    for name, (X, y) in cal.multiclass_sets(data_dir, cfg["seed"]).items():
        print(f"[multiclass] {name}: {X.shape}, class counts {np.bincount(y).tolist()}",
              flush=True)
        for k, fit, val, test in cal.folds(y, cfg):
            records += fit_fold(name, k, X, y, fit, val, test, cfg)
            print(f"  fold {k} done", flush=True)
        curve_rows += curves(name, X, y, cfg)
        print("  curves done", flush=True)
    return {"records": records, "curves": curve_rows}


# --------------------------------------------------------------------------- tables
def tables(res: dict[str, Any]) -> list[str]:
    recs, fmt = res["records"], common.fmt
    agg = common.mean_by(recs, KEYS, FIELDS)
    train = common.mean_by([{**r, "train_log_loss": r["train"]["log_loss"]} for r in recs], KEYS,
                           ("train_log_loss",))
    lines = []
    for s in dict.fromkeys(r["set"] for r in recs):
        rows = []
        for lib in LIBS:
            base = agg[(s, lib, "-", "mlogloss", "builtin")]
            keys = [(s, lib, "-", "mlogloss", "builtin")] + [
                (s, lib, a, es, v) for a in ("None", "balanced")
                for es in ("log_loss", "average_precision") for v in ("raw", "corrected")]
            for key in keys:
                m = agg[key]
                kind = "built-in" if key[4] == "builtin" else "focal"
                rows.append([f"{cal.LIB_NAME[lib]} {kind}", key[2], key[3], key[4],
                             f"{m['rounds']:.0f}", fmt(m["log_loss"]), fmt(m["brier"]),
                             fmt(m["ece"]), fmt(m["auc"]), fmt(m["accuracy"]),
                             f"{m['log_loss'] / base['log_loss']:.2f}",
                             f"{m['brier'] / base['brier']:.2f}",
                             f"{m['ece'] / max(base['ece'], 1e-12):.2f}",
                             fmt(train[key]["train_log_loss"])])
        lines += [f"### {s}", ""] + common.table(
            ["model", "alpha", "early stop", "proba", "rounds", "log loss", "Brier",
             "top-label ECE", "macro AUC", "accuracy", "LL ratio", "Brier ratio", "ECE ratio",
             "train log loss"], rows, "llll" + "r" * 10) + [""]
    return lines


def diagnostics(res: dict[str, Any]) -> list[str]:
    recs, fmt = [r for r in res["records"] if r["variant"] == "corrected"], common.fmt
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
    ]
    groups: dict[tuple, list] = {}
    for r in recs:
        groups.setdefault((r["set"], r["lib"], r["alpha"], r["es"]), []).append(r)
    raw_ll = common.mean_by([r for r in res["records"] if r["variant"] == "raw"],
                            ("set", "lib", "alpha", "es"), ("log_loss",))
    rows = []
    for key, rs in groups.items():
        d = {k: float(np.mean([r["diag"][k] for r in rs])) for k in rs[0]["diag"]}
        oc_tr = np.mean([r["train"]["mean_conf"] - r["train"]["accuracy"] for r in rs])
        oc_te = np.mean([r["mean_conf"] - r["accuracy"] for r in rs])
        rows.append([key[0], cal.LIB_NAME[key[1]], key[2], key[3],
                     f"{np.mean([r['rounds'] for r in rs]):.0f}", f"{d['grad_mean']:.1e}",
                     f"{d['grad_rel']:.3f}", f"{d['grad_left']:.3f}",
                     fmt(np.mean([r["train"]["log_loss"] for r in rs])),
                     fmt(raw_ll[key]["log_loss"]), fmt(np.mean([r["log_loss"] for r in rs])),
                     f"{oc_tr:+.4f} -> {oc_te:+.4f}", f"{d['d_ll_wrong']:+.4f}",
                     f"{d['d_ll_right']:+.4f}", f"{d['d_ll_wrong_rare']:+.4f}",
                     f"{d['ll_wrong_raw']:.2f} -> {d['ll_wrong_corr']:.2f}",
                     f"{d['share_wrong']:.4f}", f"{d['share_wrong_rare']:.2f}",
                     fmt(d["max_abs_margin"], 1)])
    lines += common.table(
        ["set", "model", "alpha", "early stop", "rounds", "mean g", "rel", "g left",
         "train LL corr", "test LL raw", "test LL corr", "overconf train -> test", "dLL wrong",
         "dLL right", "of which true class rare", "LL of wrong rows raw -> corr",
         "share wrong", "rare among wrong", "max abs z"], rows, "llll" + "r" * 7 + "l" + "rrr"
        + "l" + "rrr")
    init_err = max(r["diag"]["init_posterior_err"] for r in recs)
    lines += ["", f"Check: the corrected probabilities at the init score equal the training "
              f"class shares (max abs error {init_err:.1e} over all focal fits).", ""]
    lines += ["#### Per-round test log loss, first fold, no early stopping (raw / corrected; "
              "train corrected in brackets)", ""]
    for s in dict.fromkeys(c["set"] for c in res["curves"]):
        cs = [c for c in res["curves"] if c["set"] == s]
        header = ["model", "alpha"] + [f"r={g}" for g in cs[0]["grid"]]
        lines += [f"{s}:", ""] + common.table(header, (
            [f"{cal.LIB_NAME[c['lib']]} focal", c["alpha"]]
            + [f"{fmt(a, 3)} / {fmt(b, 3)} ({fmt(t, 3)})"
               for a, b, t in zip(c["test_raw"], c["test_corr"], c["train_corr"], strict=True)]
            for c in cs))
        lines += ["", "max |test margin| at each round:", ""] + common.table(header, (
            [f"{cal.LIB_NAME[c['lib']]} focal", c["alpha"]]
            + [fmt(x, 1) for x in c["max_abs_margin"]] for c in cs)) + [""]
    return lines


if __name__ == "__main__":
    cal.main(__doc__, ["multiclass"], sys.argv[1:])
