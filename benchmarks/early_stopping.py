"""Which validation metric should a focal-loss booster early-stop on?

For ``FocalLGBMClassifier`` / ``FocalXGBClassifier`` (gamma 2, alpha "balanced" and None)
this script early-stops on each ``eval_metric`` and scores the test folds:

* binary (satimage_bin, caravan, sylva): ``focal_loss``, ``average_precision``,
  ``log_loss`` (of the corrected probabilities) and ``roc_auc``; test average precision,
  ROC AUC and corrected log loss;
* multiclass (shuttle subsample, digits_imb; see ``calibration_multiclass.py``):
  ``focal_loss``, ``log_loss``, ``roc_auc`` and ``average_precision`` (macro); test macro
  ROC AUC, corrected log loss, accuracy. LightGBM is run with its defaults and, as "LightGBM
  reg", with XGBoost's leaf regularisation (reg_lambda 1, min_child_weight 1): with its
  defaults it diverges on shuttle's 10-row classes (see calibration.md).

Protocol: the folds of the calibration scripts (``_calibration.py``: stratified 3-fold CV,
15 % of each training fold held out for early stopping, learning rate 0.1, at most 300
rounds, patience 30, one thread). Every (library, alpha, metric, fold) is fitted with the
estimator's own early stopping. In addition, one 300-round fit per (library, alpha, fold)
without early stopping gives per-round validation and test curves, from which

* early stopping is *replayed* offline for every metric (the replay must pick the same
  round as the estimator: a check of the estimator's metrics and stopping rule),
  including ``log_loss`` of the *raw* sigmoid / softmax, the metric the estimator no
  longer offers (the old claim "early stopping on log loss stops reweighted models far
  too early" was measured with it);
* "hindsight" rows give the best test value of each metric over the 300 rounds (every
  round up to 50, then every 5th) and the round where it is reached (what a perfect
  stopping rule could get).

Run ``python benchmarks/early_stopping.py [DATA_DIR] [--sections binary multiclass]
[--quick] [--out DIR]`` (about 7 minutes on 2 cores; ``--quick``: 2 folds, 60 rounds,
prints only); missing data files are skipped. A full run writes
``benchmarks/early_stopping.json`` (results of earlier runs of the other section are kept)
and ``benchmarks/early_stopping.md`` (sections not run keep their text, and so does the
text between the ``conclusions`` markers).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import _calibration as cal
import _common as common
import numpy as np
from scipy import special
from sklearn.metrics import average_precision_score, roc_auc_score

import gbfocal
from gbfocal import focal_posterior

SECTIONS = {  # section -> data sets (None: calibration_multiclass's), libraries, metrics
    "binary": (("satimage_bin", "caravan", "sylva"), ("lgb", "xgb"),
               ("focal_loss", "average_precision", "log_loss", "roc_auc")),
    "multiclass": (None, ("lgb", "lgb_reg", "xgb"),
                   ("focal_loss", "log_loss", "roc_auc", "average_precision")),
}
HIGHER = {"average_precision", "roc_auc"}
ALPHAS = ("balanced", None)


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
        if metric == "log_loss":
            p = focal_posterior(z, alpha=model.loss_.alpha_, gamma=g)
        else:
            p = special.expit(z) if binary else special.softmax(z, axis=1)
        # exact tails: -log sigmoid(+-t) for the margins of the posterior
        pt = np.where(y == 1, p, 1 - p) if binary else p[np.arange(len(y)), y]
        return float(np.mean(-np.log(np.clip(pt, 1e-300, 1.0))))
    if binary:
        return float((roc_auc_score if metric == "roc_auc" else average_precision_score)(y, z))
    P = focal_posterior(z, alpha=model.loss_.alpha_, gamma=g)
    K = z.shape[1]
    if metric == "roc_auc":
        return float(roc_auc_score(y, P / P.sum(axis=1, keepdims=True), multi_class="ovr",
                                   average="macro", labels=np.arange(K)))
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
    P = focal_posterior(z, alpha=model.loss_.alpha_, gamma=model.gamma)
    if z.ndim == 1:
        m = cal.binary_metrics(y, P)
        pr = np.clip(special.expit(z), cal.EPS, 1 - cal.EPS)
        ll_raw = float(-np.mean(np.where(y == 1, np.log(pr), np.log1p(-pr))))
        return {"ap": m["ap"], "auc": m["auc"], "ll": m["log_loss"], "ece": m["ece"],
                "ll_raw": ll_raw}
    m = cal.multiclass_metrics(y, P)
    pr = special.softmax(z, axis=1)[np.arange(len(y)), y]
    return {"auc": m["auc"], "ll": m["log_loss"], "ece": m["ece"], "accuracy": m["accuracy"],
            "ll_raw": float(-np.mean(np.log(np.clip(pr, cal.EPS, 1.0))))}


# --------------------------------------------------------------------------- runner
def run_set(name: str, X: np.ndarray, y: np.ndarray, libs: tuple[str, ...],
            metrics: tuple[str, ...], cfg: dict[str, Any]) -> dict[str, list]:
    out: dict[str, list] = {"direct": [], "replays": [], "hindsight": [], "checks": []}
    for k, fit, val, test in cal.folds(y, cfg):
        for lib in libs:
            for alpha in ALPHAS:
                cell = {"set": name, "fold": k, "lib": lib, "alpha": cal.alpha_label(alpha)}
                rounds = estimator_fits(cell, X, y, fit, val, test, alpha, metrics, cfg, out)
                offline(cell, X, y, fit, val, test, alpha, metrics, rounds, cfg, out)
            print(f"  {name} fold {k} {lib} done", flush=True)
    return out


def estimator_fits(cell, X, y, fit, val, test, alpha, metrics, cfg, out) -> dict[str, int]:
    """The estimator's own early stopping, one fit per metric; on the first fold, that
    ``eval_metric="auto"`` resolves to the documented default. Returns the rounds kept."""
    rounds = {}
    for metric in metrics:
        model = cal.make_focal(cell["lib"], alpha, metric, cfg)
        seconds, _ = common.timed(model.fit, X[fit], y[fit], eval_set=[(X[val], y[val])])
        rounds[metric] = model.best_iteration_
        out["direct"].append({**cell, "es": metric, "rounds": model.best_iteration_,
                              "fit_s": seconds,
                              **test_scores(model, y[test], model.decision_function(X[test]))})
    if cell["fold"] == 0:
        auto = cal.make_focal(cell["lib"], alpha, "auto", cfg)
        auto.fit(X[fit], y[fit], eval_set=[(X[val], y[val])])
        want = "average_precision" if y.max() == 1 else "log_loss"
        out["checks"].append({**check_cell(cell), "kind": "auto",
                              "ok": auto.best_iteration_ == rounds[want],
                              "detail": f"auto {auto.best_iteration_} vs {want} {rounds[want]}"})
    return rounds


def check_cell(cell: dict[str, Any]) -> dict[str, Any]:
    return {k: cell[k] for k in ("set", "lib", "alpha")}


def offline(cell, X, y, fit, val, test, alpha, metrics, rounds, cfg, out) -> None:
    """One full-length fit: early stopping replayed for every metric, and hindsight."""
    model = cal.make_focal(cell["lib"], alpha, None, cfg)
    model.fit(X[fit], y[fit])
    R, k = cfg["max_rounds"], cell["fold"]
    zv = cal.staged_margins(model, X[val], R)
    zt = cal.staged_margins(model, X[test], R)
    for metric in (*metrics, "log_loss_raw"):
        def value_at(r: int, metric: str = metric) -> float:
            return metric_value(metric, model, y[val], zv[r - 1])

        r_stop, curve = replay(value_at, R, metric in HIGHER, cfg["patience"])
        out["replays"].append({**cell, "es": metric, "rounds": r_stop,
                               **test_scores(model, y[test], zt[r_stop - 1])})
        if metric == "log_loss_raw":
            continue
        at_est = curve.get(rounds[metric])
        if at_est is None:
            at_est = value_at(rounds[metric])
        out["checks"].append({
            **check_cell(cell), "kind": metric, "ok": rounds[metric] == r_stop,
            "detail": f"fold {k}: estimator {rounds[metric]}, replay {r_stop}, validation "
                      f"{metric} differs by {abs(at_est - curve[r_stop]):.1e} between the two "
                      "rounds"})
    # hindsight: the best test value over the rounds (every round up to 50, then every
    # 5th, and the last)
    grid = sorted(set(range(1, min(R, 50) + 1)) | set(range(55, R + 1, 5)) | {R})
    ts = [test_scores(model, y[test], zt[r - 1]) for r in grid]
    best = dict(cell)
    for key, higher in (("ap", True), ("auc", True), ("ll", False)):
        if key in ts[0]:
            vals = np.array([s[key] for s in ts])
            i = int(np.argmax(vals) if higher else np.argmin(vals))
            best[key], best[f"{key}_round"] = float(vals[i]), grid[i]
    best["final"] = ts[-1]
    out["hindsight"].append(best)


def run_section(section: str, data_dir: Path, cfg: dict[str, Any]) -> dict[str, list] | None:
    names, libs, metrics = SECTIONS[section]
    if names is None:
        sets = cal.multiclass_sets(data_dir, cfg["seed"])
    else:
        sets = {name: (X, y) for name, X, y in cal.binary_sets(data_dir, names, cfg["seed"])}
    res: dict[str, list] = {"direct": [], "replays": [], "hindsight": [], "checks": []}
    for name, (X, y) in sets.items():
        print(f"[{section}] {name} {X.shape}", flush=True)
        for key, rows in run_set(name, X, y, libs, metrics, cfg).items():
            res[key] += rows
    return res if sets else None


# --------------------------------------------------------------------------- tables
def tables(res: dict[str, list], binary: bool, libs: tuple[str, ...],
           metrics: tuple[str, ...], patience: int) -> list[str]:
    keys = ("rounds", "ap", "auc", "ll", "ll_raw", "ece", "accuracy")
    d = common.mean_by(res["direct"], ("set", "lib", "alpha", "es"), keys)
    rp = common.mean_by(res["replays"], ("set", "lib", "alpha", "es"), keys)
    hs = common.mean_by(res["hindsight"], ("set", "lib", "alpha"),
                        ("ap", "ap_round", "auc", "auc_round", "ll", "ll_round"))
    sets = list(dict.fromkeys(r["set"] for r in res["direct"]))
    cols = ("rounds", "ap", "auc", "ll", "ece") if binary else (
        "rounds", "auc", "ll", "accuracy", "ece")
    head = {"rounds": "rounds", "ap": "test AP",
            "auc": "test ROC AUC" if binary else "test macro AUC",
            "ll": "test log loss (corrected)", "ece": "test ECE (corrected)",
            "accuracy": "test accuracy"}

    def cells(v: dict[str, float]) -> list[str]:
        return [f"{v[c]:.0f}" if c == "rounds" else common.fmt(v[c]) for c in cols]

    combos = [(s, lib, a) for s in sets for lib in libs for a in ("balanced", "None")
              if (s, lib, a, metrics[0]) in d]
    lines = []
    for s in sets:
        rows = []
        for _, lib, a in (c for c in combos if c[0] == s):
            name = f"{cal.LIB_NAME[lib]} focal"
            rows += [[name, a, m] + cells(d[(s, lib, a, m)]) for m in metrics]
            rows.append([name, a, "*log_loss of the raw link (replayed)*"]
                        + cells(rp[(s, lib, a, "log_loss_raw")]))
            h = hs[(s, lib, a)]
            rows.append([name, a, "*hindsight: best test value (round)*"]
                        + [f"{common.fmt(h[c])} (r {h[c + '_round']:.0f})"
                           if c in ("ap", "auc", "ll") else "" for c in cols])
        lines += [f"### {s}", ""] + common.table(
            ["model", "alpha", "early stop on"] + [head[c] for c in cols], rows,
            "lll" + "r" * len(cols)) + [""]
    # summary: per (lib, alpha), metric values relative to the best early-stopping metric
    rows = []
    for m in (*metrics, "log_loss_raw"):
        src = rp if m == "log_loss_raw" else d
        row = ["*log_loss raw link (replayed)*" if m == "log_loss_raw" else m,
               f"{np.mean([src[(*c, m)]['rounds'] for c in combos]):.0f}"]
        for c in cols[1:]:
            wins = 0
            for cb in combos:
                allv = [d[(*cb, mm)][c] for mm in metrics] + [rp[(*cb, "log_loss_raw")][c]]
                target = min(allv) if c in ("ll", "ece") else max(allv)
                wins += int(np.isclose(src[(*cb, m)][c], target, rtol=0, atol=1e-12))
            row += [common.fmt(float(np.mean([src[(*cb, m)][c] for cb in combos]))),
                    f"{wins}/{len(combos)}"]
        rows.append(row)
    lines += ["### Summary over sets and folds", "",
              "Mean over (set, library, alpha) of each test metric, and how often each "
              "early-stopping metric gives the best test value of that (set, library, alpha) "
              "(ties count for all):", ""]
    lines += common.table(["early stop on", "mean rounds"] + [
        f"{kind} {head[c]}" for c in cols[1:] for kind in ("mean", "best")], rows,
        "lr" + "rr" * (len(cols) - 1)) + [""]
    return lines + check_lines(res["checks"], patience)


def check_lines(checks: list[dict[str, Any]], patience: int) -> list[str]:
    replayed = [c for c in checks if c["kind"] != "auto"]
    auto = [c for c in checks if c["kind"] == "auto"]
    lines = [f"Checks: the offline replay (independent metrics, LightGBM/XGBoost stopping rule, "
             f"patience {patience}) picks the estimator's round in "
             f"{sum(c['ok'] for c in replayed)}/{len(replayed)} fits; `eval_metric=\"auto\"` "
             f"matches the documented default in {sum(c['ok'] for c in auto)}/{len(auto)}."]
    bad = [c for c in checks if not c["ok"]]
    if bad:
        lines.append("Mismatches: " + "; ".join(
            f"{c['set']} {c['lib']} alpha={c['alpha']} {c['kind']}: {c['detail']}"
            for c in bad[:12]))
    return lines + [""]


def section_lines(section: str, res: dict[str, list], cfg: dict[str, Any],
                  seconds: float) -> list[str]:
    _, libs, metrics = SECTIONS[section]
    return ([f"## {section.capitalize()}", ""]
            + tables(res, section == "binary", libs, metrics, cfg["patience"])
            + [f"Section run time: {seconds:.0f} s.", ""])


def header(meta: dict[str, Any], cfg: dict[str, Any]) -> str:
    return "\n".join([
        "# Early stopping metric for focal-loss boosters",
        "",
        f"Generated by `benchmarks/early_stopping.py`; header written {meta['date']}. Machine: "
        f"{common.describe(meta)}; runs use 1 thread.",
        "",
        f"Settings: folds of the calibration scripts ({cfg['n_folds']}-fold stratified CV, seed "
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
    ])


def main(argv: list[str] | None = None) -> None:
    parser = common.arguments(__doc__, "2 folds, 60 rounds")
    parser.add_argument("data_dir", nargs="?", type=Path, default=common.DATA)
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=list(SECTIONS))
    args = parser.parse_args(argv)
    cfg = cal.settings(args.quick)
    folder = common.out_dir(args)
    md = folder / "early_stopping.md" if folder else None
    store = common.read_json(folder / "early_stopping.json") if folder else None
    if not store or store.get("cfg") != cfg:  # other settings: earlier sections not comparable
        store = {"sections": {}, "timings": {}}
    store["cfg"], store["meta"] = cfg, common.machine()
    old = md.read_text() if md is not None and md.is_file() else ""
    kept = old[old.index("<!-- section:"):] if "<!-- section:" in old else ""
    text = header(store["meta"], cfg) + "\n## Conclusions\n\n" + common.conclusions(md) + "\n\n"
    text += kept
    for section in args.sections:
        seconds, res = common.timed(run_section, section, args.data_dir, cfg)
        if res is None:
            continue
        store["sections"][section], store["timings"][section] = res, seconds
        body = section_lines(section, res, cfg, seconds)
        text = common.splice(text, section, body)
        print("\n".join(body), flush=True)
        print(f"[{section}] {seconds:.0f} s", flush=True)
        if md is not None:
            md.write_text(text)
            common.write_json(md.with_suffix(".json"), store)


if __name__ == "__main__":
    main(sys.argv[1:])
