"""How fast is ``tune_focal`` next to a careful hand-written Optuna loop?

Run ``python benchmarks/tuning_speed.py`` (about 13 minutes on 2 cores; ``--quick``: one data
set, 8 trials, about 6 minutes, prints only; ``--data caravan --trials 60``: one set, longer
searches, prints only). Needs the real data sets of ``../shared/data`` (next to the
repository); the full run writes ``benchmarks/tuning_speed.json`` (a list of rows, which the
documentation's tuning page is rendered from) and ``benchmarks/tuning_speed.md``.

The hand-written loop is what a careful user writes with gbfocal's documented adapters:
the same folds (``gbfocal.tuning._objective.make_splits``: stratified outer folds, a stratified
early-stopping split of each training fold), the same search space and sampler
(``TPESampler(seed)``, the same ``PercentilePruner``), the same early stopping (50 rounds
on average precision) and the same initial score; per fold it builds a fresh
``LGBMClassifier`` (custom objective ``loss.sklearn_objective``, LightGBM's built-in
``average_precision`` metric, ``first_metric_only``, ``feature_pre_filter=False`` as
gbfocal's estimator sets it: otherwise other feature bundles break near-tie splits
differently and the two sides drift apart after a few trees) or a fresh ``xgb.DMatrix`` and
``xgb.train`` (``loss.xgb_objective``, ``loss.xgb_eval("average_precision")``). So both
sides train the same models: with one seed they run the same trials and find the same best
parameters, which the script checks, and the time ratio is a per-trial ratio.

Measured, per data set and library (one thread everywhere unless said: boosters'
``n_jobs=1``, ``GBFOCAL_NUM_THREADS=1``):

* hand-written loop and ``tune_focal(n_jobs=1)``, alternating, their time per trial and its
  ratio (best of ``--repeats``), and the time each needs to reach the hand-written loop's
  best score;
* ``tune_focal(n_jobs=2)`` (two trials at once, one booster thread each: one fold fit in
  this process, one on a worker process) against ``tune_focal(n_jobs=1)``, on the same work:
  the single-threaded run's trials enqueued (parallel trials left to TPE would propose other
  parameters, whose fits cost more or less, so that the ratio would measure the proposals), the
  speed-up in fitted folds per second (pruning may stop a trial at another fold when trials
  finish in another order), once with the worker starting (``shutdown_workers()`` before: the first
  search of a session pays its ~2 s start-up) and once with it running (the next search);
* one plain fit of the library on 1 and on 2 OpenMP threads (why tune_focal gives every fit
  one thread and the cores to parallel trials);
* what a user of plain LightGBM / XGBoost runs instead: the hand-written loop with the
  library's built-in log loss and metric (``LGBMClassifier(metric average_precision)``,
  ``XGBClassifier(eval_metric="aucpr")``, no custom objective), on the booster parameters of
  the focal loop's trials (enqueued), the same folds, pruner and early stopping; timed in the
  same alternation, reported per trial and per fitted fold, with the rounds early stopping
  kept on each side (a different loss stops at other rounds).
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

os.environ.setdefault("GBFOCAL_NUM_THREADS", "1")  # before gbfocal starts its threads

import _common as common
import numpy as np
import optuna
from scipy.special import expit
from sklearn.metrics import average_precision_score

import gbfocal
from gbfocal.tuning import shutdown_workers, tune_focal
from gbfocal.tuning._objective import make_splits

SETS = ("satimage_bin", "caravan", "sylva")
CV, ROUNDS, PATIENCE, SEED = 3, 300, 50, 0
SPACES = {
    "lightgbm": {"learning_rate": (0.02, 0.3, "log"), "num_leaves": (8, 64)},
    "xgboost": {"learning_rate": (0.02, 0.3, "log"), "max_depth": (2, 8)},
}


def _sampler_and_pruner() -> tuple[Any, Any]:
    # tune_focal's defaults, written out as a user would
    return (optuna.samplers.TPESampler(seed=SEED),
            optuna.pruners.PercentilePruner(75.0, n_startup_trials=10, n_warmup_steps=1))


def _suggest(trial: optuna.Trial, backend: str) -> tuple[Any, float, dict[str, Any]]:
    """The search space of tune_focal's alpha="auto", gamma=(0, 5) and SPACES, same order."""
    choice = trial.suggest_categorical("alpha_choice", ["balanced", None, "range"])
    alpha = trial.suggest_float("alpha", 0.05, 0.95) if choice == "range" else choice
    gamma = trial.suggest_float("gamma", 0.0, 5.0)
    booster = {}
    for name, (low, high, *log) in SPACES[backend].items():
        if isinstance(low, int):
            booster[name] = trial.suggest_int(name, low, high)
        else:
            booster[name] = trial.suggest_float(name, low, high, log=bool(log))
    return alpha, gamma, booster


def _fit_lightgbm(X, y, fit, val, loss, init, booster):
    import lightgbm as lgb

    clf = lgb.LGBMClassifier(objective=loss.sklearn_objective, n_estimators=ROUNDS, n_jobs=1,
                             verbose=-1, random_state=SEED, metric="None",
                             # what gbfocal's estimator sets (so that a feature-less fold fits
                             # a constant): feature bundles, hence near-tie splits, follow it
                             feature_pre_filter=False, **booster)
    clf.fit(X[fit], y[fit], init_score=np.full(len(fit), init), eval_set=[(X[val], y[val])],
            eval_init_score=[np.full(len(val), init)], eval_metric="average_precision",
            callbacks=[lgb.early_stopping(PATIENCE, first_metric_only=True, verbose=False)])
    # the model's margin: the trees plus the initial score (rounding merges near-ties
    # differently without it, so even ranking scores differ in the last digits)
    return lambda rows: clf.predict(X[rows], raw_score=True) + init


def _fit_xgboost(X, y, fit, val, loss, init, booster):
    import xgboost as xgb

    params = {"objective": "binary:logistic", "base_score": float(expit(init)), "nthread": 1,
              "seed": SEED, "tree_method": "hist", "disable_default_eval_metric": 1, **booster}
    train = xgb.DMatrix(X[fit], label=y[fit], nthread=1)
    valid = xgb.DMatrix(X[val], label=y[val], nthread=1)
    model = xgb.train(params, train, ROUNDS, evals=[(valid, "valid")], obj=loss.xgb_objective,
                      custom_metric=loss.xgb_eval("average_precision"), verbose_eval=False,
                      callbacks=[xgb.callback.EarlyStopping(rounds=PATIENCE, maximize=True,
                                                            save_best=True)])
    return lambda rows: model.predict(xgb.DMatrix(X[rows], nthread=1), output_margin=True)


def _fit_lightgbm_builtin(X, y, fit, val, booster):
    import lightgbm as lgb

    clf = lgb.LGBMClassifier(n_estimators=ROUNDS, n_jobs=1, verbose=-1, random_state=SEED,
                             **booster)
    clf.fit(X[fit], y[fit], eval_set=[(X[val], y[val])], eval_metric="average_precision",
            callbacks=[lgb.early_stopping(PATIENCE, first_metric_only=True, verbose=False)])
    return (lambda rows: clf.predict(X[rows], raw_score=True)), clf.best_iteration_


def _fit_xgboost_builtin(X, y, fit, val, booster):
    import xgboost as xgb

    clf = xgb.XGBClassifier(n_estimators=ROUNDS, n_jobs=1, random_state=SEED,
                            tree_method="hist", eval_metric="aucpr",
                            early_stopping_rounds=PATIENCE, **booster)
    clf.fit(X[fit], y[fit], eval_set=[(X[val], y[val])], verbose=False)
    return (lambda rows: clf.predict(X[rows], output_margin=True)), clf.best_iteration + 1


def hand_written(X: np.ndarray, y: np.ndarray, backend: str, n_trials: int, *,
                 builtin_replaying: optuna.Study | None = None) -> optuna.Study:
    """The hand-written loop; with ``builtin_replaying``, the library's built-in log loss
    and metric (``LGBMClassifier`` with ``average_precision``, ``XGBClassifier`` with
    ``aucpr``) on that study's trials, enqueued (alpha and gamma then go unused)."""
    splits = make_splits(y, CV, 0.2, SEED)
    fit_fold = _fit_lightgbm if backend == "lightgbm" else _fit_xgboost
    fit_builtin = _fit_lightgbm_builtin if backend == "lightgbm" else _fit_xgboost_builtin

    def objective(trial: optuna.Trial) -> float:
        alpha, gamma, booster = _suggest(trial, backend)
        scores, rounds = [], []
        for k, (fit, val, test) in enumerate(splits):
            if builtin_replaying is None:
                loss = gbfocal.BinaryFocalLoss(alpha=alpha, gamma=gamma)
                init = loss.init_score(y[fit])
                predict = fit_fold(X, y, fit, val, loss, init, booster)
            else:
                predict, best = fit_builtin(X, y, fit, val, booster)
                rounds.append(int(best))
            scores.append(average_precision_score(y[test], predict(test)))
            trial.report(float(np.mean(scores)), k)
            if k < CV - 1 and trial.should_prune():
                raise optuna.TrialPruned()
        trial.set_user_attr("fold_rounds", rounds)
        return float(np.mean(scores))

    sampler, pruner = _sampler_and_pruner()
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    for replayed in builtin_replaying.trials if builtin_replaying is not None else ():
        study.enqueue_trial(replayed.params)
    study.optimize(objective, n_trials=n_trials)
    return study


def with_gbfocal(X, y, backend: str, n_trials: int, *, n_jobs: int = 1,
                 same_trials_as: optuna.Study | None = None) -> optuna.Study:
    # booster threads left to tune_focal: one per fit
    params: dict[str, Any] = {**SPACES[backend], "n_estimators": ROUNDS}
    study = None
    if same_trials_as is not None:  # the same parameters, tune_focal's default study
        sampler, pruner = _sampler_and_pruner()
        study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
        for trial in same_trials_as.trials:
            study.enqueue_trial(trial.params)
    result = tune_focal(X, y, backend=backend, n_trials=n_trials, cv=CV, params=params,
                        random_state=SEED, early_stopping_rounds=PATIENCE, refit=False,
                        baseline=False, compare=None, show_progress_bar=False, n_jobs=n_jobs,
                        study=study)
    return result.study


def _openmp_threads(X: np.ndarray, y: np.ndarray, backend: str) -> tuple[float, float]:
    """Median seconds of one plain fit (built-in objective, 100 rounds) on 1 and 2 threads."""
    def fit(threads: int) -> Any:
        if backend == "lightgbm":
            import lightgbm as lgb

            return lgb.train({"objective": "binary", "num_threads": threads, "verbose": -1},
                             lgb.Dataset(X, y), 100)
        import xgboost as xgb

        return xgb.train({"objective": "binary:logistic", "nthread": threads,
                          "tree_method": "hist"}, xgb.DMatrix(X, y, nthread=threads), 100)

    seconds = common.medians({1: lambda: fit(1), 2: lambda: fit(2)}, 3, warmup=False,
                             rotate=False)
    return seconds[1], seconds[2]


def _folds_fitted(study: optuna.Study) -> int:
    return sum(len(t.intermediate_values) for t in study.trials)


def _mean_rounds(study: optuna.Study) -> float:
    """Mean early-stopping rounds over the folds of the finished trials."""
    rounds = [r for t in study.trials for r in t.user_attrs.get("fold_rounds", [])]
    return float(np.mean(rounds))


def _time_to_reach(study: optuna.Study, target: float) -> float | None:
    """Seconds from the study's first trial start until a trial scored ``>= target``."""
    start = min(t.datetime_start for t in study.trials)
    reached = [t.datetime_complete for t in study.trials
               if t.value is not None and t.value >= target - 1e-12]
    return None if not reached else (min(reached) - start).total_seconds()


def _same_trials(a: optuna.Study, b: optuna.Study) -> bool:
    def key(study):
        return [(t.state.name, round(t.value, 12) if t.value is not None else None,
                 {k: v for k, v in t.params.items()}) for t in study.trials]
    return key(a) == key(b)


def run(names: tuple[str, ...], n_trials: int, repeats: int) -> list[dict[str, Any]]:
    rows = []
    for name in names:
        data = common.load_set(name, dtype=np.float64)
        if data is None:
            continue
        X, y = data
        for backend in ("lightgbm", "xgboost"):
            hand_times, gb_times, builtin_times = [], [], []
            rates: dict[str, list[float]] = {"one": [], "cold": [], "warm": []}
            for _ in range(repeats):  # alternating: a load spike hits all sides
                t_hand, hand = common.timed(hand_written, X, y, backend, n_trials)
                t_gb, gb = common.timed(with_gbfocal, X, y, backend, n_trials)
                t_builtin, builtin = common.timed(hand_written, X, y, backend, n_trials,
                                                  builtin_replaying=hand)
                hand_times.append(t_hand)
                gb_times.append(t_gb)
                builtin_times.append(t_builtin)
                rates["one"].append(_folds_fitted(gb) / t_gb)
                shutdown_workers()
                for start in ("cold", "warm"):
                    t_par, par = common.timed(with_gbfocal, X, y, backend, n_trials, n_jobs=2,
                                        same_trials_as=gb)
                    rates[start].append(_folds_fitted(par) / t_par)
            shutdown_workers()  # the next measurements run beside no idle worker
            one, two = _openmp_threads(X, y, backend)
            t_hand, t_gb, t_builtin = min(hand_times), min(gb_times), min(builtin_times)
            row = {
                "data": name, "rows": int(len(y)), "backend": backend, "trials": n_trials,
                "hand_s_per_trial": t_hand / n_trials, "gbfocal_s_per_trial": t_gb / n_trials,
                "ratio_per_trial": t_gb / t_hand,
                "same_trials_and_best": _same_trials(hand, gb)
                and hand.best_params == gb.best_params,
                "hand_best": hand.best_value, "gbfocal_best": gb.best_value,
                "hand_to_best_s": _time_to_reach(hand, hand.best_value),
                "gbfocal_to_hand_best_s": _time_to_reach(gb, hand.best_value),
                "parallel_speedup_cold": max(rates["cold"]) / max(rates["one"]),
                "parallel_speedup_warm": max(rates["warm"]) / max(rates["one"]),
                "fit_s_1_thread": one, "fit_s_2_threads": two,
                "builtin_s_per_trial": t_builtin / n_trials,
                "ratio_to_builtin_per_trial": t_gb / t_builtin,
                "gbfocal_folds": _folds_fitted(gb), "builtin_folds": _folds_fitted(builtin),
                "ratio_to_builtin_per_fold": (t_gb / _folds_fitted(gb))
                / (t_builtin / _folds_fitted(builtin)),
                "gbfocal_mean_best_rounds": _mean_rounds(gb),
                "builtin_mean_best_rounds": _mean_rounds(builtin),
                "builtin_best": builtin.best_value,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def _markdown(rows: list[dict[str, Any]], meta: dict[str, Any], trials: int,
              repeats: int) -> str:
    tables = common.rendered("tuning_speed", rows)  # the documentation's tables
    return "\n".join([
        "# tune_focal against a hand-written Optuna loop",
        "",
        f"Generated by `benchmarks/tuning_speed.py`, {meta['date']}; {common.describe(meta)}. "
        f"{trials} trials, {CV}-fold CV, at most {ROUNDS} rounds, early stopping {PATIENCE} on "
        f"average precision; timings are the best of {repeats} alternating runs. Method in the "
        "script's docstring.",
        "",
        "Single-threaded, same folds, space, seed and early stopping:",
        "",
        tables["per_trial"],
        "",
        "Against plain LightGBM / XGBoost tuned the same way: the hand-written loop with the "
        "library's built-in log loss and metric (`LGBMClassifier`, `average_precision`; "
        "`XGBClassifier`, `aucpr`), running the booster parameters of the hand-written focal "
        "loop's trials (enqueued), the same folds, pruner and early stopping. Folds: fitted "
        "(the pruner stops trials at other folds on other scores); rounds: the mean "
        "early-stopping best round of the finished trials' folds (each fit runs 50 more):",
        "",
        tables["builtin"],
        "",
        "Parallel trials: `tune_focal(n_jobs=2)` (one booster thread per fit, the default: "
        "one fold fit in this process, one on a worker process) against "
        "`tune_focal(n_jobs=1)` on the same trials (enqueued), in fitted folds per second "
        "(best of the runs on each side), "
        "with the worker starting (the first search of a session) and running (the next "
        "search); and why each fit gets one thread: one plain fit of the library (built-in "
        "objective, 100 rounds, all rows) on 1 and 2 OpenMP threads (median of 3):",
        "",
        tables["parallel"],
    ]) + "\n"


def main() -> None:
    parser = common.arguments(__doc__, "one data set, 8 trials")
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--data", choices=SETS, action="append",
                        help="only these data sets (repeatable); prints only")
    args = parser.parse_args()
    if args.quick:
        args.trials = 8
    names = tuple(args.data) if args.data else SETS[:1] if args.quick else SETS
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=FutureWarning)  # LightGBM/XGBoost renames
    warnings.filterwarnings("ignore", message=".*eval_set.*deprecated.*")
    meta = common.machine()
    rows = run(names, args.trials, args.repeats)
    common.publish(common.out_dir(args, partial=names != SETS), "tuning_speed",
                   _markdown(rows, meta, args.trials, args.repeats), rows)


if __name__ == "__main__":
    main()
