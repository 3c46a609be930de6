"""Which validation metric should a focal-loss booster early-stop on?

For ``FocalLGBMClassifier`` / ``FocalXGBClassifier`` (gamma 2, alpha "balanced" and None)
this script early-stops on each ``eval_metric`` and scores the test folds:

* binary (satimage_bin, caravan, sylva): ``focal_loss``, ``average_precision``,
  ``log_loss`` (of the corrected probabilities) and ``roc_auc``; test average precision,
  ROC AUC and corrected log loss;
* multiclass (shuttle subsample, digits_imb; see ``calibration.py``): ``focal_loss``,
  ``log_loss``, ``roc_auc`` and ``average_precision`` (macro); test macro ROC AUC,
  corrected log loss, accuracy. LightGBM is run with its defaults and, as "LightGBM
  reg", with XGBoost's leaf regularisation (reg_lambda 1, min_child_weight 1): with
  its defaults it diverges on shuttle's 10-row classes (see calibration.md).

Protocol: the folds of ``calibration.py`` (stratified 3-fold CV, 15 % of each training
fold held out for early stopping, learning rate 0.1, at most 300 rounds, patience 30,
one thread). Every (library, alpha, metric, fold) is fitted with the estimator's own
early stopping. In addition, one 300-round fit per (library, alpha, fold) without early
stopping gives per-round validation and test curves, from which

* early stopping is *replayed* offline for every metric (the replay must pick the same
  round as the estimator: a check of the estimator's metrics and stopping rule),
  including ``log_loss`` of the *raw* sigmoid / softmax, the metric the estimator no
  longer offers (the old claim "early stopping on log loss stops reweighted models far
  too early" was measured with it);
* "hindsight" rows give the best test value of each metric over the 300 rounds (every
  round up to 50, then every 5th) and the round where it is reached (what a perfect
  stopping rule could get).

Run ``python benchmarks/early_stopping.py [DATA_DIR] [--sections binary multiclass]
[--quick]``; missing data files are skipped. Prints the tables and writes
``benchmarks/early_stopping.md`` (sections not run keep their text from the existing
file, and so does the text between the ``conclusions`` markers).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from scipy import special
from sklearn.metrics import average_precision_score, roc_auc_score

import gbfocal
from gbfocal import focal_posterior

sys.path.insert(0, str(Path(__file__).resolve().parent))
import calibration as cal  # noqa: E402  (the sibling benchmark: data, folds, models)

HERE = Path(__file__).resolve().parent
BINARY_SETS = ("satimage_bin", "caravan", "sylva")
BINARY_METRICS = ("focal_loss", "average_precision", "log_loss", "roc_auc")
MULTI_METRICS = ("focal_loss", "log_loss", "roc_auc", "average_precision")
HIGHER = {"average_precision", "roc_auc"}
LIB_NAME = cal.LIB_NAME
CONCL_START, CONCL_END = cal.CONCL_START, cal.CONCL_END


# --------------------------------------------------------------------------- metrics
def metric_value(metric: str, model: Any, y: np.ndarray, z: np.ndarray) -> float:
    """The validation metric from margins, computed independently of the estimator
    (public functions only); ``log_loss_raw`` is the log loss of the plain link."""
    binary = z.ndim == 1
    alpha = None if model.alpha is None else model.loss_.alpha_
    g = model.gamma
    if metric == "focal_loss":
        fn = gbfocal.binary_focal_loss if binary else gbfocal.multiclass_focal_loss
        return float(np.mean(fn(y, z, alpha=alpha, gamma=g)))
    if metric in ("log_loss", "log_loss_raw"):
        if binary:
            p = (
                focal_posterior(z, alpha=model.loss_.alpha_, gamma=g)
                if metric == "log_loss"
                else special.expit(z)
            )
            pt = np.where(y == 1, p, 1 - p)
            # exact tails: -log sigmoid(+-t) for the margins of the posterior
            return float(np.mean(-np.log(np.clip(pt, 1e-300, 1.0))))
        if metric == "log_loss":
            P = focal_posterior(z, alpha=model.loss_.alpha_, gamma=g)
        else:
            P = special.softmax(z, axis=1)
        return float(np.mean(-np.log(np.clip(P[np.arange(len(y)), y], 1e-300, 1.0))))
    score = roc_auc_score if metric == "roc_auc" else average_precision_score
    if binary:
        return float(score(y, z))
    P = focal_posterior(z, alpha=model.loss_.alpha_, gamma=g)
    K = z.shape[1]
    if metric == "roc_auc":
        return float(
            roc_auc_score(
                y,
                P / P.sum(axis=1, keepdims=True),
                multi_class="ovr",
                average="macro",
                labels=np.arange(K),
            )
        )
    return float(average_precision_score(np.eye(K, dtype=np.int8)[y], P, average="macro"))


def replay(value_at, n_rounds: int, higher: bool, patience: int) -> tuple[int, dict[int, float]]:
    """The round (1-based) that LightGBM / XGBoost early stopping keeps: the first strict
    best; training stops ``patience`` rounds after it. ``value_at(r)`` is the validation
    metric after round r, evaluated lazily (only up to the stop). Returns the round and
    the values computed."""
    best, best_r, seen = None, 0, {}
    for r in range(1, n_rounds + 1):
        v = seen[r] = value_at(r)
        if best is None or (v > best if higher else v < best):
            best, best_r = v, r
        elif r - best_r >= patience:
            break
    return best_r, seen


def test_scores(model: Any, y: np.ndarray, z: np.ndarray) -> dict[str, float]:
    if z.ndim == 1:
        p = focal_posterior(z, alpha=model.loss_.alpha_, gamma=model.gamma)
        m = cal.binary_metrics(y, p)
        pr = np.clip(special.expit(z), cal.EPS, 1 - cal.EPS)
        ll_raw = float(-np.mean(np.where(y == 1, np.log(pr), np.log1p(-pr))))
        return {
            "ap": m["ap"],
            "auc": m["auc"],
            "ll": m["log_loss"],
            "ece": m["ece"],
            "ll_raw": ll_raw,
        }
    P = focal_posterior(z, alpha=model.loss_.alpha_, gamma=model.gamma)
    m = cal.multiclass_metrics(y, P)
    pr = special.softmax(z, axis=1)[np.arange(len(y)), y]
    return {
        "auc": m["auc"],
        "ll": m["log_loss"],
        "ece": m["ece"],
        "accuracy": m["accuracy"],
        "ll_raw": float(-np.mean(np.log(np.clip(pr, cal.EPS, 1.0)))),
    }


# --------------------------------------------------------------------------- runner
def run_set(
    name: str,
    X: np.ndarray,
    y: np.ndarray,
    libs: tuple[str, ...],
    metrics: tuple[str, ...],
    cfg: dict[str, Any],
) -> dict[str, list]:
    direct, replays, hindsight, checks = [], [], [], []
    for k, fit, val, test in cal.folds(y, cfg):
        for lib in libs:
            for alpha in ("balanced", None):
                a = cal.alpha_label(alpha)
                # the estimator's own early stopping, one fit per metric
                for metric in metrics:
                    t = time.perf_counter()
                    model = cal.make_focal(lib, alpha, metric, cfg)
                    model.fit(X[fit], y[fit], eval_set=[(X[val], y[val])])
                    direct.append(
                        {
                            "set": name,
                            "fold": k,
                            "lib": lib,
                            "alpha": a,
                            "es": metric,
                            "rounds": model.best_iteration_,
                            "fit_s": time.perf_counter() - t,
                            **test_scores(model, y[test], model.decision_function(X[test])),
                        }
                    )
                if k == 0:  # eval_metric="auto" resolves to the documented default
                    auto = cal.make_focal(lib, alpha, "auto", cfg)
                    auto.fit(X[fit], y[fit], eval_set=[(X[val], y[val])])
                    want = "average_precision" if y.max() == 1 else "log_loss"
                    ref = next(
                        d
                        for d in direct
                        if d["set"] == name
                        and d["fold"] == k
                        and d["lib"] == lib
                        and d["alpha"] == a
                        and d["es"] == want
                    )
                    checks.append(
                        {
                            "set": name,
                            "lib": lib,
                            "alpha": a,
                            "kind": "auto",
                            "ok": auto.best_iteration_ == ref["rounds"],
                            "detail": f"auto {auto.best_iteration_} vs {want} {ref['rounds']}",
                        }
                    )
                # one full-length fit: replay early stopping offline, and hindsight
                model = cal.make_focal(lib, alpha, None, cfg)
                model.fit(X[fit], y[fit])
                R = cfg["max_rounds"]
                zv = cal.staged_margins(model, X[val], R)
                zt = cal.staged_margins(model, X[test], R)
                yv = y[val]
                for metric in (*metrics, "log_loss_raw"):
                    r_stop, curve = replay(
                        lambda r, metric=metric, model=model, zv=zv, yv=yv: metric_value(
                            metric, model, yv, zv[r - 1]
                        ),
                        R,
                        metric in HIGHER,
                        cfg["patience"],
                    )
                    row = {
                        "set": name,
                        "fold": k,
                        "lib": lib,
                        "alpha": a,
                        "es": metric,
                        "rounds": r_stop,
                        **test_scores(model, y[test], zt[r_stop - 1]),
                    }
                    replays.append(row)
                    if metric != "log_loss_raw":
                        d = next(
                            d
                            for d in direct
                            if d["set"] == name
                            and d["fold"] == k
                            and d["lib"] == lib
                            and d["alpha"] == a
                            and d["es"] == metric
                        )
                        at_est = curve.get(d["rounds"])
                        if at_est is None:
                            at_est = metric_value(metric, model, y[val], zv[d["rounds"] - 1])
                        gap = abs(at_est - curve[r_stop])
                        checks.append(
                            {
                                "set": name,
                                "lib": lib,
                                "alpha": a,
                                "kind": metric,
                                "ok": d["rounds"] == r_stop,
                                "detail": f"fold {k}: estimator {d['rounds']}, replay "
                                f"{r_stop}, validation {metric} differs by "
                                f"{gap:.1e} between the two rounds",
                            }
                        )
                # hindsight: the best test value over the rounds (every round up to 50,
                # then every 5th, and the last)
                grid = sorted(set(range(1, min(R, 50) + 1)) | set(range(55, R + 1, 5)) | {R})
                ts = [test_scores(model, y[test], zt[r - 1]) for r in grid]
                best = {"set": name, "fold": k, "lib": lib, "alpha": a}
                for key, higher in (("ap", True), ("auc", True), ("ll", False)):
                    if key not in ts[0]:
                        continue
                    vals = np.array([s[key] for s in ts])
                    i = int(np.argmax(vals) if higher else np.argmin(vals))
                    best[key], best[f"{key}_round"] = float(vals[i]), grid[i]
                best["final"] = ts[-1]
                hindsight.append(best)
            print(f"  {name} fold {k} {lib} done", flush=True)
    return {"direct": direct, "replays": replays, "hindsight": hindsight, "checks": checks}


def merge(parts: list[dict[str, list]]) -> dict[str, list]:
    out: dict[str, list] = defaultdict(list)
    for p in parts:
        for key, v in p.items():
            out[key] += v
    return out


# --------------------------------------------------------------------------- tables
def mean_rows(rows: list[dict], fields: tuple[str, ...], keys: tuple[str, ...]) -> dict:
    groups: dict[tuple, list] = defaultdict(list)
    for r in rows:
        groups[tuple(r[f] for f in fields)].append(r)
    return {
        g: {k: float(np.mean([r[k] for r in rs])) for k in keys if k in rs[0]}
        for g, rs in groups.items()
    }


def tables(
    res: dict[str, list],
    binary: bool,
    libs: tuple[str, ...],
    metrics: tuple[str, ...],
    patience: int,
) -> list[str]:
    keys = ("rounds", "ap", "auc", "ll", "ll_raw", "ece", "accuracy")
    d = mean_rows(res["direct"], ("set", "lib", "alpha", "es"), keys)
    rp = mean_rows(res["replays"], ("set", "lib", "alpha", "es"), keys)
    hs = mean_rows(
        res["hindsight"],
        ("set", "lib", "alpha"),
        ("ap", "ap_round", "auc", "auc_round", "ll", "ll_round"),
    )
    sets = list(dict.fromkeys(r["set"] for r in res["direct"]))
    cols = (
        ("rounds", "ap", "auc", "ll", "ece")
        if binary
        else ("rounds", "auc", "ll", "accuracy", "ece")
    )
    head = {
        "rounds": "rounds",
        "ap": "test AP",
        "auc": "test ROC AUC" if binary else "test macro AUC",
        "ll": "test log loss (corrected)",
        "ece": "test ECE (corrected)",
        "accuracy": "test accuracy",
    }
    lines = []
    for s in sets:
        lines += [
            f"### {s}",
            "",
            "| model | alpha | early stop on | " + " | ".join(head[c] for c in cols) + " |",
            "|---|---|---|" + "---:|" * len(cols),
        ]
        for lib in libs:
            for a in ("balanced", "None"):
                if (s, lib, a, metrics[0]) not in d:
                    continue
                for m in metrics:
                    v = d[(s, lib, a, m)]
                    lines.append(
                        f"| {LIB_NAME[lib]} focal | {a} | {m} | "
                        + " | ".join(
                            f"{v[c]:.0f}" if c == "rounds" else cal.fmt(v[c]) for c in cols
                        )
                        + " |"
                    )
                v = rp[(s, lib, a, "log_loss_raw")]
                lines.append(
                    f"| {LIB_NAME[lib]} focal | {a} | *log_loss of the raw link (replayed)* | "
                    + " | ".join(f"{v[c]:.0f}" if c == "rounds" else cal.fmt(v[c]) for c in cols)
                    + " |"
                )
                h = hs[(s, lib, a)]
                cells = []
                for c in cols:
                    if c in ("ap", "auc", "ll"):
                        cells.append(f"{cal.fmt(h[c])} (r {h[c + '_round']:.0f})")
                    else:
                        cells.append("")
                lines.append(
                    f"| {LIB_NAME[lib]} focal | {a} | *hindsight: best test value (round)* | "
                    + " | ".join(cells)
                    + " |"
                )
        lines.append("")
    # summary: per (lib, alpha), metric values relative to the best early-stopping metric
    lines += [
        "### Summary over sets and folds",
        "",
        "Mean over (set, library, alpha) of each test metric, and how often each "
        "early-stopping metric gives the best test value of that (set, library, alpha) "
        "(ties count for all):",
        "",
        "| early stop on | mean rounds | "
        + " | ".join(f"mean {head[c]} | best {head[c]}" for c in cols if c != "rounds")
        + " |",
        "|---|---:|" + "---:|---:|" * (len(cols) - 1),
    ]
    cells_by_metric = {}
    combos = [
        (s, lib, a)
        for s in sets
        for lib in libs
        for a in ("balanced", "None")
        if (s, lib, a, metrics[0]) in d
    ]
    for m in (*metrics, "log_loss_raw"):
        src = rp if m == "log_loss_raw" else d
        row = [f"{np.mean([src[(*c, m)]['rounds'] for c in combos]):.0f}"]
        for c in cols:
            if c == "rounds":
                continue
            vals = [src[(*cb, m)][c] for cb in combos]
            wins = 0
            for cb in combos:
                allv = [d[(*cb, mm)][c] for mm in metrics] + [rp[(*cb, "log_loss_raw")][c]]
                target = min(allv) if c in ("ll", "ece") else max(allv)
                wins += int(np.isclose(src[(*cb, m)][c], target, rtol=0, atol=1e-12))
            row += [cal.fmt(float(np.mean(vals))), f"{wins}/{len(combos)}"]
        cells_by_metric[m] = row
        label = "*log_loss raw link (replayed)*" if m == "log_loss_raw" else m
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    lines.append("")
    # checks
    chk = res["checks"]
    bad = [c for c in chk if not c["ok"]]
    lines += [
        f"Checks: the offline replay (independent metrics, LightGBM/XGBoost stopping rule, "
        f"patience {patience}) picks the estimator's round in "
        f"{sum(c['ok'] for c in chk if c['kind'] != 'auto')}/"
        f'{sum(1 for c in chk if c["kind"] != "auto")} fits; `eval_metric="auto"` matches '
        f"the documented default in {sum(c['ok'] for c in chk if c['kind'] == 'auto')}/"
        f"{sum(1 for c in chk if c['kind'] == 'auto')}."
    ]
    if bad:
        lines += [
            "Mismatches: "
            + "; ".join(
                f"{c['set']} {c['lib']} alpha={c['alpha']} {c['kind']}: {c['detail']}"
                for c in bad[:12]
            )
        ]
    lines.append("")
    return lines


def splice(old: str, tag: str, body: list[str]) -> str:
    start, end = f"<!-- section:{tag} -->", f"<!-- /section:{tag} -->"
    block = "\n".join([start, *body, end])
    if start in old and end in old:
        return old[: old.index(start)] + block + old[old.index(end) + len(end) :]
    return old.rstrip("\n") + "\n\n" + block + "\n"


def header(cfg: dict[str, Any]) -> str:
    meta = cal.machine_info()
    return "\n".join(
        [
            "# Early stopping metric for focal-loss boosters",
            "",
            f"Generated by `benchmarks/early_stopping.py`; header written {meta['date']}. Machine: "
            f"{meta['cpu']} ({meta['cpu_count']} CPUs, runs use 1 thread), "
            f"Python {meta['python']}, "
            f"LightGBM {meta['lightgbm']}, XGBoost {meta['xgboost']}, scikit-learn "
            f"{meta['scikit-learn']}, gbfocal {meta['gbfocal']} (git {meta['git']}).",
            "",
            f"Settings: folds of `calibration.py` ({cfg['n_folds']}-fold stratified CV, seed "
            f"{cfg['seed']}; {cfg['val_fraction']:.0%} of each training fold held out for early "
            "stopping, stratified, at least one row per class); learning rate "
            f"{cfg['learning_rate']}, at most {cfg['max_rounds']} rounds, patience "
            f"{cfg['patience']}; gamma {cfg['gamma']}; "
            "library defaults otherwise. `log_loss` is the estimator's metric: log loss of the "
            "corrected probabilities (focal posterior). Test log loss is also of the corrected "
            "probabilities (clipped at 1e-15). Multiclass AUC / AP: macro one-vs-rest on the "
            "corrected probabilities (as the estimator computes them). Rows in italics are "
            "computed offline from a 300-round fit (see the module docstring). All values are "
            "means over the 3 folds.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", nargs="?", default=str(cal.DATA))
    parser.add_argument(
        "--sections", nargs="+", default=["binary", "multiclass"], choices=["binary", "multiclass"]
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(HERE / "early_stopping.md"))
    args = parser.parse_args(argv)
    cfg = {**cal.SETTINGS, **(cal.QUICK if args.quick else {})}
    data_dir = Path(args.data_dir)
    out = Path(args.out)
    old = out.read_text() if out.is_file() else ""
    if CONCL_START in old and CONCL_END in old:
        concl = old[old.index(CONCL_START) : old.index(CONCL_END) + len(CONCL_END)]
    else:
        concl = f"{CONCL_START}\n(conclusions: to be written after reading the tables)\n{CONCL_END}"
    body_old = old[old.index("<!-- section:") :] if "<!-- section:" in old else ""
    text = header(cfg) + "\n## Conclusions\n\n" + concl + "\n\n" + body_old
    for section in args.sections:
        t0 = time.perf_counter()
        if section == "binary":
            parts = []
            for name in BINARY_SETS:
                data = cal.load_binary(data_dir, name, cfg["seed"])
                if data is None:
                    continue
                print(f"[binary] {name} {data[0].shape}", flush=True)
                parts.append(run_set(name, *data, ("lgb", "xgb"), BINARY_METRICS, cfg))
            if not parts:
                continue
            res = merge(parts)
            body = ["## Binary", ""] + tables(
                res, True, ("lgb", "xgb"), BINARY_METRICS, cfg["patience"]
            )
        else:
            parts = []
            for name, (X, y) in cal.multiclass_sets(data_dir, cfg["seed"]).items():
                print(f"[multiclass] {name} {X.shape}", flush=True)
                parts.append(run_set(name, X, y, ("lgb", "lgb_reg", "xgb"), MULTI_METRICS, cfg))
            res = merge(parts)
            body = ["## Multiclass", ""] + tables(
                res, False, ("lgb", "lgb_reg", "xgb"), MULTI_METRICS, cfg["patience"]
            )
        elapsed = time.perf_counter() - t0
        body += [f"Section run time: {elapsed:.0f} s.", ""]
        text = splice(text, section, body)
        out.write_text(text)
        print("\n".join(body), flush=True)
        print(f"[{section}] {elapsed:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
