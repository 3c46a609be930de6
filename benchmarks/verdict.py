"""Does ``tune_focal``'s verdict tell the truth, and what does the log-loss arm cost?

Run ``python benchmarks/verdict.py`` (about 40 minutes on 2 cores; ``--quick``: two sets,
5 trials, 20 seeds, about 2 minutes, prints only). Needs the real data sets of
``../shared/data`` (next to the repository); the full run writes ``benchmarks/verdict.json``
(which the documentation's verdict page is rendered from) and ``benchmarks/verdict.md``.

Measured:

* per real set and library, the default search (``tune_focal``: the focal and the log-loss
  arm, 15 trials each, 3-fold CV, a 20 % stratified holdout neither search sees): the
  verdict, both arms' holdout scores, the difference and its 95 % interval, the selected
  arm, the in-sample (biased) mean fold difference, and the time of that search against
  the focal arm alone on all rows (``baseline=False, compare=None``, what tune_focal did
  before), as a ratio within one run;
* the null false-positive rate: labels independent of the features (1,500 rows, 10 %
  positives, 5 features; 5 trials per arm, 3 folds), the share of seeds whose verdict is
  "focal" (and "log_loss"), with its 95 % Clopper-Pearson interval, next to the share of
  seeds where the in-sample comparison (``fold_differences``) favours focal loss.

One booster thread per fit (``n_jobs=1``), one trial at a time.
"""

from __future__ import annotations

import json
import os
from typing import Any

os.environ.setdefault("GBFOCAL_NUM_THREADS", "1")  # before gbfocal starts its threads

import _common as common
import numpy as np
import optuna
from scipy import stats

from gbfocal.tuning import tune_focal

# set -> (scoring, most rows used: a stratified subsample keeps every row of small classes)
SETS = {
    "satimage_bin": ("average_precision", None),
    "caravan": ("average_precision", None),
    "sylva": ("average_precision", None),
    "flights_cancelled": ("average_precision", 40_000),
    "shuttle": ("roc_auc_ovr", 20_000),
}
SPACES = {
    "lightgbm": {"learning_rate": (0.02, 0.3, "log"), "num_leaves": (8, 64),
                 "n_estimators": 300, "n_jobs": 1},
    "xgboost": {"learning_rate": (0.02, 0.3, "log"), "max_depth": (2, 8),
                "n_estimators": 300, "n_jobs": 1},
}
TRIALS, CV, SEED = 15, 3, 0


def load(name: str, max_rows: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The set, subsampled to ``max_rows``: classes under 200 rows kept whole, every other
    class at least 200 rows, otherwise its share."""
    data = common.load_set(name)
    if data is None:
        raise SystemExit(f"{name}: the real data sets are needed")
    if max_rows is None:
        return data
    return common.subsample(*data, max_rows, SEED, whole_below=200, at_least=200, share="all")


def real_set(name: str, backend: str, trials: int) -> dict[str, Any]:
    scoring, max_rows = SETS[name]
    X, y = load(name, max_rows)
    options = {"backend": backend, "n_trials": trials, "cv": CV, "scoring": scoring,
               "random_state": SEED, "params": SPACES[backend], "show_progress_bar": False}
    t_alone, alone = common.timed(tune_focal, X, y, baseline=False, compare=None,
                                  refit=False, **options)
    t_both, result = common.timed(tune_focal, X, y, refit=False, **options)
    comparison = result.comparison
    assert comparison is not None and comparison.interval is not None
    return {
        "set": name, "backend": backend, "rows": int(len(y)), "scoring": scoring,
        "verdict": result.verdict, "selected": result.selected,
        "focal": comparison.focal_score, "log_loss": comparison.log_loss_score,
        "difference": comparison.difference, "interval": list(comparison.interval),
        "holdout_rows": comparison.n_rows,
        "in_sample_difference": float(np.mean(result.fold_differences)),
        "focal_alone_cv": alone.best_score,
        "seconds_two_arms": t_both, "seconds_focal_alone": t_alone,
        "time_ratio": t_both / t_alone,
    }


def null_rate(n_seeds: int) -> dict[str, Any]:
    verdicts, in_sample = [], []
    for seed in range(n_seeds):
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(1500, 5))
        y = (rng.random(1500) < 0.1).astype(int)
        result = tune_focal(X, y, n_trials=5, cv=3, random_state=seed, refit=False,
                            params={"n_estimators": 200, "n_jobs": 1,
                                    "learning_rate": (0.02, 0.3, "log")},
                            show_progress_bar=False)
        verdicts.append(result.verdict)
        in_sample.append(bool(np.mean(result.fold_differences) > 0))

    def rate(count: int) -> dict[str, Any]:
        low = stats.beta.ppf(0.025, count, n_seeds - count + 1) if count else 0.0
        high = stats.beta.ppf(0.975, count + 1, n_seeds - count)
        return {"count": count, "rate": count / n_seeds, "interval": [float(low), float(high)]}

    return {"seeds": n_seeds, "focal": rate(verdicts.count("focal")),
            "log_loss": rate(verdicts.count("log_loss")),
            "in_sample_focal": rate(sum(in_sample))}


def markdown(rows: list[dict[str, Any]], null: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        "# The verdict of tune_focal on real data, and its false-positive rate",
        "",
        f"`python benchmarks/verdict.py`, {meta['date']}, {common.describe(meta)}. {TRIALS} "
        f"trials per arm, {CV}-fold CV, "
        "a 20 % stratified holdout neither search sees, 2,000 paired stratified bootstrap "
        "resamples; one booster thread per fit. Verdict: `focal` only when the 95 % interval "
        "of focal - log loss lies above 0, `log_loss` when below, else `no_difference`; the "
        "selected arm is the one returned.",
        "",
    ]
    lines += common.table(
        ["set (rows)", "library", "score", "focal", "log loss", "difference [95 % interval]",
         "verdict -> selected", "in-sample difference", "time: two arms / focal alone"],
        ([f"{r['set']} ({r['rows']:,})", r["backend"], r["scoring"], f"{r['focal']:.4f}",
          f"{r['log_loss']:.4f}",
          f"{r['difference']:+.4f} [{r['interval'][0]:+.4f}, {r['interval'][1]:+.4f}]",
          f"{r['verdict']} -> {r['selected']}", f"{r['in_sample_difference']:+.4f}",
          f"{r['time_ratio']:.2f}x"] for r in rows), "lllrrllrr")
    f, ll, ins = null["focal"], null["log_loss"], null["in_sample_focal"]
    lines += [
        "",
        f"Null (labels independent of the features; {null['seeds']} seeds): verdict `focal` in "
        f"{f['count']} ({f['rate']:.1%}, 95 % interval {f['interval'][0]:.1%}-"
        f"{f['interval'][1]:.1%}), `log_loss` in {ll['count']} ({ll['rate']:.1%}); the in-sample "
        f"comparison (`fold_differences`) favoured focal loss in {ins['count']} "
        f"({ins['rate']:.0%}).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = common.arguments(__doc__, "two sets, 5 trials, 20 seeds")
    parser.add_argument("--seeds", type=int, default=200, help="null seeds (default 200)")
    parser.add_argument("--backends", default="lightgbm,xgboost")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = 5 if args.quick else TRIALS
    sets = ["satimage_bin", "caravan"] if args.quick else list(SETS)
    meta = common.machine()
    rows = []
    for backend in args.backends.split(","):
        for name in sets:
            if backend == "xgboost" and name in ("flights_cancelled", "shuttle"):
                continue  # the time budget: the three smaller sets with XGBoost
            row = real_set(name, backend, trials)
            print(json.dumps(row), flush=True)
            rows.append(row)
    null = null_rate(20 if args.quick else args.seeds)
    print(json.dumps(null), flush=True)
    common.publish(common.out_dir(args), "verdict", markdown(rows, null, meta),
                   {"meta": meta, "sets": rows, "null": null})


if __name__ == "__main__":
    main()
