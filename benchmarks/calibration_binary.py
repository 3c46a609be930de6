"""Are a binary focal model's probabilities usable, and does the focal posterior fix them?

On the real binary sets (caravan, sylva, satimage_bin, flights_cancelled as a 60,000-row
stratified subsample), LightGBM and XGBoost, compared per test fold:

* ``builtin``   -- the library's own log-loss objective;
* ``raw``       -- a focal model's plain sigmoid (``correct_proba=False``; alpha None,
  "balanced", 0.25);
* ``corrected`` -- the same fitted model's focal posterior (no refit).

Every model early-stops on average precision (LightGBM ``average_precision``, XGBoost
``aucpr``, gbfocal ``eval_metric="average_precision"``); protocol and metrics in
``_calibration.py`` (log loss, Brier, ECE, mean probability, AP, ROC AUC). Also, on caravan
and flights_cancelled, first fold, no early stopping: the mean corrected probability per
round on training and test rows, next to the positive rate (does it drift?).

Run ``python benchmarks/calibration_binary.py [DATA_DIR] [--quick] [--out DIR]`` (about 2
minutes on 2 cores; ``--quick``: 2 folds, 60 rounds, prints only). A full run updates the
``binary`` section of ``benchmarks/calibration.json`` and rewrites ``calibration.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import _calibration as cal
import _common as common
import numpy as np
from scipy import special

SETS = ("caravan", "sylva", "satimage_bin", "flights_cancelled")
ALPHAS = (None, "balanced", 0.25)
DRIFT_SETS = ("caravan", "flights_cancelled")
DRIFT_ROUNDS = (1, 5, 10, 25, 50, 100, 200, 300)
KEYS = ("rounds", "log_loss", "brier", "ece", "mean_p", "pos_rate", "ap", "auc")


def run(data_dir: Path, cfg: dict[str, Any], quick: bool = False) -> dict[str, Any]:
    records = []
    for name, X, y in cal.binary_sets(data_dir, SETS, cfg["seed"]):
        print(f"[binary] {name}: {X.shape}, positive rate {y.mean():.4f}", flush=True)
        for k, fit, val, test in cal.folds(y, cfg):
            for lib in ("lgb", "xgb"):
                seconds, (model, rounds) = common.timed(
                    cal.fit_builtin, lib, X[fit], y[fit], X[val], y[val], cfg, multiclass=False)
                p = cal.builtin_proba(model, X[test], False)
                records.append({"set": name, "fold": k, "lib": lib, "alpha": "-",
                                "variant": "builtin", "rounds": rounds, "fit_s": seconds,
                                **cal.binary_metrics(y[test], p)})
                for alpha in ALPHAS:
                    model = cal.make_focal(lib, alpha, "average_precision", cfg)
                    seconds, _ = common.timed(model.fit, X[fit], y[fit],
                                              eval_set=[(X[val], y[val])])
                    _, raw, corr = cal.focal_probas(model, X[test], False)
                    for variant, p in (("raw", raw), ("corrected", corr)):
                        records.append({"set": name, "fold": k, "lib": lib,
                                        "alpha": cal.alpha_label(alpha), "variant": variant,
                                        "rounds": model.best_iteration_, "fit_s": seconds,
                                        **cal.binary_metrics(y[test], p)})
            print(f"  fold {k} done", flush=True)
    return {"records": records, "drift": drift(data_dir, cfg)}


def drift(data_dir: Path, cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Mean corrected probability on the training and test rows of the first fold, per
    round, without early stopping: does it stay at the positive rate (as the mean
    probability of a log-loss model does)?"""
    rows = []
    for name, X, y in cal.binary_sets(data_dir, DRIFT_SETS, cfg["seed"]):
        _, fit, _, test = next(cal.folds(y, cfg))
        grid = [r for r in DRIFT_ROUNDS if r <= cfg["max_rounds"]]
        for lib in ("lgb", "xgb"):
            for alpha in ("balanced", None, 0.25):
                model = cal.make_focal(lib, alpha, None, cfg, n_rounds=grid[-1])
                model.fit(X[fit], y[fit])
                zf = cal.staged_margins(model, X[fit], grid[-1])
                zt = cal.staged_margins(model, X[test], grid[-1])

                def mean_corrected(z: np.ndarray, model: Any = model) -> float:
                    return float(model.loss_.predict_proba(z, check_input=False)[:, 1].mean())

                rows.append({"set": name, "lib": lib, "alpha": cal.alpha_label(alpha),
                             "grid": grid, "rate": float(y[fit].mean()),
                             "train": [mean_corrected(zf[r - 1]) for r in grid],
                             "test": [mean_corrected(zt[r - 1]) for r in grid],
                             "train_raw": [float(special.expit(zf[r - 1]).mean())
                                           for r in grid]})
    return rows


def tables(res: dict[str, Any]) -> list[str]:
    recs = res["records"]
    agg = common.mean_by(recs, ("set", "lib", "alpha", "variant"), KEYS)
    fmt = common.fmt
    lines = []
    sets = list(dict.fromkeys(r["set"] for r in recs))
    cells = [(a, v) for a in ("None", "balanced", "0.25") for v in ("raw", "corrected")]
    for s in sets:
        rows = []
        for lib in ("lgb", "xgb"):
            base = agg[(s, lib, "-", "builtin")]
            for key in [(s, lib, "-", "builtin")] + [(s, lib, a, v) for a, v in cells]:
                m = agg[key]
                kind = "built-in" if key[3] == "builtin" else "focal"
                rows.append([f"{cal.LIB_NAME[lib]} {kind}", key[2], key[3], f"{m['rounds']:.0f}",
                             fmt(m["log_loss"]), fmt(m["brier"]), fmt(m["ece"]),
                             fmt(m["mean_p"]), fmt(m["ap"]), fmt(m["auc"]),
                             f"{m['log_loss'] / base['log_loss']:.2f}",
                             f"{m['brier'] / base['brier']:.2f}",
                             f"{m['ece'] / base['ece']:.2f}"])
        lines += [f"### {s} (positive rate {agg[(s, 'lgb', '-', 'builtin')]['pos_rate']:.4f})",
                  ""]
        lines += common.table(["model", "alpha", "proba", "rounds", "log loss", "Brier", "ECE",
                               "mean p", "AP", "ROC AUC", "LL ratio", "Brier ratio",
                               "ECE ratio"], rows, "lll" + "r" * 10) + [""]
    # compact overview: corrected vs raw vs builtin log-loss ratio per set
    rows = []
    for s in sets:
        row = [s]
        for lib in ("lgb", "xgb"):
            base = agg[(s, lib, "-", "builtin")]["log_loss"]
            row += [f"{agg[(s, lib, a, 'raw')]['log_loss'] / base:.2f} -> "
                    f"{agg[(s, lib, a, 'corrected')]['log_loss'] / base:.2f}"
                    for a in ("None", "balanced", "0.25")]
        rows.append(row)
    lines += ["### Overview: log-loss ratio to the built-in model of the same library "
              "(raw -> corrected)", ""]
    lines += common.table(["set"] + [f"{cal.LIB_NAME[lib]} alpha={a}" for lib in ("lgb", "xgb")
                                     for a in ("None", "balanced", "0.25")], rows) + [""]
    if res.get("drift"):
        lines += drift_table(res["drift"])
    return lines


def drift_table(rows: list[dict[str, Any]]) -> list[str]:
    grid = rows[0]["grid"]
    lines = ["### Mean corrected probability vs the positive rate, per round (first fold, no "
             "early stopping): training rows / test rows [raw sigmoid on training rows]", ""]
    return lines + common.table(
        ["set", "model", "alpha", "rate"] + [f"r={g}" for g in grid],
        ([d["set"], f"{cal.LIB_NAME[d['lib']]} focal", d["alpha"], f"{d['rate']:.4f}"]
         + [f"{a:.4f} / {b:.4f} [{c:.3f}]"
            for a, b, c in zip(d["train"], d["test"], d["train_raw"], strict=True)]
         for d in rows), "lllr" + "l" * len(grid)) + [""]


if __name__ == "__main__":
    cal.main(__doc__, ["binary"], sys.argv[1:])
