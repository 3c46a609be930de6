"""Which Hessian should a Newton-boosted focal loss use? An experiment on real data.

The exact second derivative of the focal loss is negative for badly misclassified
rows, so a Newton booster (LightGBM, XGBoost) needs a positive surrogate there. This
script trains the same focal objective with five Hessian rules and compares them:

* ``positive`` -- gbfocal's default: ``max(exact, a_t q^g p q, tiny)``, the exact
  Hessian floored at the focal-weighted log-loss curvature (``q = 1 - p_t``);
* ``clip``     -- ``max(exact, 1e-6)``;
* ``abs``      -- ``|exact|`` (floored at ``tiny`` so that it is never 0);
* ``logloss``  -- ``a_t p q``: the plain log-loss curvature, not weighted by ``q^g``;
* ``exact``    -- the exact Hessian, unmodified (negative leaf denominators).

Protocol: stratified 3-fold CV on the binary sets of ``../shared/data`` (next to the
repository; flights_cancelled subsampled to 40,000 rows); 15% of each training fold is held
out for early stopping on average precision (patience 30, at most 300 rounds, learning rate
0.1, one thread, library defaults otherwise); gamma 1, 2 and 5, alpha None and "balanced".
The test fold is scored by average precision and ROC AUC. "Bite" is the share of training
rows where ``exact < a_t q^g p q``, i.e. where the default rule departs from the exact
Hessian: at the start, at its largest during training, and for the final model.

Two starts are compared: ``focal``, the constant minimising the focal loss (the right
one), and ``prior``, the log-odds of the positive rate (log loss's optimum, which
``boost_from_average`` or a copied intercept would give): a stress test that puts every
positive row where the exact Hessian is negative.

Run ``python benchmarks/hessian_rule.py --xgboost`` (about 16 minutes on 2 cores; without
``--xgboost`` LightGBM only, about half of that; ``--quick``: one set, two folds, gamma 2,
under a minute, prints only). A run other than ``--quick`` writes
``benchmarks/hessian_rule.json`` (every fit) and ``benchmarks/hessian_rule.md`` (the tables).
"""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import _common as common
import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

import gbfocal

SETS = ("satimage_bin", "caravan", "sylva", "flights_cancelled")
MAX_ROWS = {"flights_cancelled": 40_000}  # a stratified subsample keeps the run short
RULES = ("positive", "clip", "abs", "logloss", "exact")
TINY = np.finfo(np.float64).tiny
START_TITLES = {
    "focal": "focal loss's constant optimum (the proper start)",
    "prior": "log-odds of the positive rate (log loss's optimum: a wrong start, a stress test)",
}
MAX_ROUNDS, PATIENCE, LEARNING_RATE = 300, 30, 0.1


# --------------------------------------------------------------------------- the rules
def focal_curvature(y: np.ndarray, z: np.ndarray, alpha: np.ndarray | None, gamma: float):
    """Return ``(a_t p q, a_t q^g p q)``: log-loss and focal-weighted log-loss curvature."""
    p, one_minus_p = expit(z), expit(-z)  # no cancellation in 1 - p
    pq = p * one_minus_p
    q_t = np.where(y == 1, one_minus_p, p)
    a_t = np.ones_like(z) if alpha is None else alpha[y]
    return a_t * pq, a_t * q_t**gamma * pq


def apply_rule(rule: str, exact: np.ndarray, logloss: np.ndarray, floor: np.ndarray):
    if rule == "positive":
        return np.maximum(np.maximum(exact, floor), TINY)
    if rule == "clip":
        return np.maximum(exact, 1e-6)
    if rule == "abs":
        return np.maximum(np.abs(exact), TINY)
    if rule == "logloss":
        return np.maximum(logloss, TINY)
    if rule == "exact":
        return exact
    raise ValueError(f"unknown rule {rule!r}")


class Diverged(RuntimeError):
    """The raw scores stopped being finite: the rule made Newton steps blow up."""


@dataclass
class FocalObjective:
    """grad/hess of the focal loss with one Hessian rule, for any booster."""

    y: np.ndarray
    alpha: np.ndarray | None
    gamma: float
    rule: str
    bites: list[float] = field(default_factory=list)  # share of rows with exact < floor

    def grad_hess(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = np.asarray(z, dtype=np.float64)
        if not np.isfinite(z).all():
            raise Diverged("non-finite raw scores")
        grad, exact = gbfocal.binary_focal_grad_hess(
            self.y, z, alpha=self.alpha, gamma=self.gamma, hessian="exact"
        )
        logloss, floor = focal_curvature(self.y, z, self.alpha, self.gamma)
        self.bites.append(float(np.mean(exact < floor)))
        return grad, apply_rule(self.rule, exact, logloss, floor)


def check_positive_rule() -> None:
    """The script's ``positive`` rule must be gbfocal's default, or the comparison is moot."""
    rng = np.random.default_rng(0)
    y, z = rng.integers(0, 2, 10_000), rng.normal(0.0, 8.0, 10_000)
    alpha = np.array([0.3, 2.0])
    for gamma in (0.0, 1.0, 2.0, 5.0):
        _, ours = FocalObjective(y, alpha, gamma, "positive").grad_hess(z)
        _, theirs = gbfocal.binary_focal_grad_hess(y, z, alpha=alpha, gamma=gamma)
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-300)


def bite_fraction(y, z, alpha, gamma) -> tuple[float, float]:
    """Share of rows with ``exact < floor`` and with ``exact < 0``."""
    _, exact = gbfocal.binary_focal_grad_hess(y, z, alpha=alpha, gamma=gamma, hessian="exact")
    _, floor = focal_curvature(y, z, alpha, gamma)
    return float(np.mean(exact < floor)), float(np.mean(exact < 0))


def constant_init(y: np.ndarray, alpha: np.ndarray | None, gamma: float) -> float:
    """The constant raw score minimising the (alpha-weighted) focal loss on ``y``."""

    def total(c: float) -> float:
        return float(
            gbfocal.binary_focal_loss(y, np.full(y.shape, c), alpha=alpha, gamma=gamma).sum()
        )

    return float(minimize_scalar(total, bounds=(-30.0, 30.0), method="bounded").x)


def safe_ap(y: np.ndarray, z: np.ndarray) -> float:
    return float(average_precision_score(y, z)) if np.isfinite(z).all() else 0.0


# --------------------------------------------------------------------------- boosters
def fit_lightgbm(objective: FocalObjective, parts, init: float, seed: int):
    import lightgbm as lgb

    (x_fit, y_fit), (x_val, y_val), x_test = parts

    def lgb_obj(preds, _data):
        return objective.grad_hess(preds)

    def lgb_ap(preds, _data):
        return "average_precision", safe_ap(y_val, preds), True

    params = {
        "objective": lgb_obj,
        "metric": "None",
        "learning_rate": LEARNING_RATE,
        "num_threads": 1,
        "verbose": -1,
        "seed": seed,
        "deterministic": True,
    }
    train = lgb.Dataset(x_fit, y_fit, init_score=np.full(y_fit.shape, init))
    valid = lgb.Dataset(x_val, y_val, init_score=np.full(y_val.shape, init), reference=train)
    booster = lgb.train(
        params,
        train,
        num_boost_round=MAX_ROUNDS,
        valid_sets=[valid],
        feval=lgb_ap,
        callbacks=[lgb.early_stopping(PATIENCE, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()

    def margin(x):  # raw margins of the chosen model, with the init score added back
        return init + booster.predict(x, num_iteration=best, raw_score=True)

    return best, margin(x_fit), margin(x_test)


def fit_xgboost(objective: FocalObjective, parts, init: float, seed: int):
    import xgboost as xgb

    (x_fit, y_fit), (x_val, y_val), x_test = parts
    d_fit = xgb.DMatrix(x_fit, y_fit, base_margin=np.full(y_fit.shape, init), nthread=1)
    d_val = xgb.DMatrix(x_val, y_val, base_margin=np.full(y_val.shape, init), nthread=1)

    def xgb_obj(predt, _dtrain):
        return objective.grad_hess(predt)

    def xgb_ap(predt, _dmatrix):
        return "average_precision", safe_ap(y_val, predt)

    params = {
        "eta": LEARNING_RATE,
        "tree_method": "hist",
        "nthread": 1,
        "seed": seed,
        "base_score": 0.5,
        "disable_default_eval_metric": 1,
    }
    booster = xgb.train(
        params,
        d_fit,
        num_boost_round=MAX_ROUNDS,
        obj=xgb_obj,
        custom_metric=xgb_ap,
        evals=[(d_val, "valid")],
        early_stopping_rounds=PATIENCE,
        maximize=True,
        verbose_eval=False,
    )
    best = booster.best_iteration + 1

    def margin(x):  # predict ignores best_iteration; base_margin carries the init score
        d = xgb.DMatrix(x, base_margin=np.full(x.shape[0], init), nthread=1)
        return booster.predict(d, iteration_range=(0, best), output_margin=True)

    return best, margin(x_fit), margin(x_test)


BOOSTERS: dict[str, Callable] = {"lightgbm": fit_lightgbm, "xgboost": fit_xgboost}


# --------------------------------------------------------------------------- experiment
def start_score(start: str, y: np.ndarray, alpha: np.ndarray | None, gamma: float) -> float:
    """'focal': the focal loss's own constant optimum (the right start). 'prior': the
    log-odds of the positive rate, the log-loss optimum (what boost_from_average or a
    copied log-loss intercept would give); it starts every positive at p_t = rate."""
    if start == "focal":
        return constant_init(y, alpha, gamma)
    rate = float(np.mean(y))
    return float(np.log(rate / (1.0 - rate)))


def run_one(booster: str, start: str, rule: str, gamma: float, alpha_name: str, fold) -> dict:
    (x_fit, y_fit), (x_val, y_val), (x_test, y_test), seed = fold
    alpha = gbfocal.balanced_alpha(y_fit) if alpha_name == "balanced" else None
    init = start_score(start, y_fit, alpha, gamma)
    objective = FocalObjective(y_fit, alpha, gamma, rule)
    bite_start, _ = bite_fraction(y_fit, np.full(y_fit.shape, init), alpha, gamma)
    parts = ((x_fit, y_fit), (x_val, y_val), x_test)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # overflow in exp while a rule diverges
            rounds, z_fit, z_test = BOOSTERS[booster](objective, parts, init, seed)
    except Diverged:
        return {"failed": True, "bite_start": bite_start}
    if not (np.isfinite(z_test).all() and np.isfinite(z_fit).all()):
        return {"failed": True, "bite_start": bite_start}
    bite_end, negative_end = bite_fraction(y_fit, z_fit, alpha, gamma)
    return {
        "failed": False,
        "ap": float(average_precision_score(y_test, z_test)),
        "auc": float(roc_auc_score(y_test, z_test)),
        "rounds": rounds,
        "bite_start": bite_start,
        "bite_max": max(objective.bites),
        "bite_end": bite_end,
        "negative_end": negative_end,
    }


def folds(name: str, n_folds: int):
    """((x_fit, y_fit), (x_val, y_val), (x_test, y_test), k) of each fold of ``name``."""
    data = common.load_set(name, dtype=np.float64)
    if data is None:
        return
    x, y = data
    if name in MAX_ROWS and x.shape[0] > MAX_ROWS[name]:
        x, _, y, _ = train_test_split(x, y, train_size=MAX_ROWS[name], stratify=y,
                                      random_state=0)
    for k, fit, val, test in common.holdout_folds(y, n_folds):
        yield (x[fit], y[fit]), (x[val], y[val]), (x[test], y[test]), k


def threshold_p(gamma: float) -> float:
    """Largest p_t where exact < floor: 2q + log(p)(q - g p) < 0 (from the formulas)."""
    p = np.linspace(1e-6, 1 - 1e-6, 200_001)
    below = 2 * (1 - p) + np.log(p) * ((1 - p) - gamma * p) < 0
    return float(p[below].max()) if below.any() else 0.0


def experiment(boosters, starts, sets, n_folds, gammas) -> list[dict[str, Any]]:
    """One record per (booster, start, set, fold, gamma, alpha, rule)."""
    runs, start = [], time.perf_counter()
    for booster, start_name in itertools.product(boosters, starts):
        for name in sets:
            for fold in folds(name, n_folds):
                for gamma, alpha_name, rule in itertools.product(gammas, ("none", "balanced"),
                                                                 RULES):
                    runs.append({"booster": booster, "start": start_name, "set": name,
                                 "fold": fold[3], "gamma": gamma, "alpha": alpha_name,
                                 "rule": rule,
                                 **run_one(booster, start_name, rule, gamma, alpha_name, fold)})
                print(f"{booster} start={start_name} {name} fold {fold[3]} done "
                      f"({time.perf_counter() - start:.0f} s)", flush=True)
    return runs


# --------------------------------------------------------------------------- tables
def mean_sd(values: list[float], fmt: str) -> str:
    if not values:
        return "--"
    return f"{np.mean(values):{fmt}} ± {np.std(values, ddof=1) if len(values) > 1 else 0:{fmt}}"


def summarise(results: dict[tuple, list[dict]]) -> list[str]:
    """Detailed table: one row per (set, gamma, alpha, rule)."""
    rows = []
    for (set_name, gamma, alpha_name, rule), runs in results.items():
        ok = [r for r in runs if not r["failed"]]

        def mean(key: str, fmt: str, ok: list[dict] = ok) -> str:
            return f"{np.mean([r[key] for r in ok]):{fmt}}" if ok else "--"

        rows.append([set_name, f"{gamma:g}", alpha_name, rule,
                     mean_sd([r["ap"] for r in ok], ".4f"), mean_sd([r["auc"] for r in ok], ".4f"),
                     mean("rounds", ".0f"), f"{np.mean([r['bite_start'] for r in runs]):.1%}",
                     mean("bite_max", ".2%"), mean("bite_end", ".2%"), mean("negative_end", ".2%"),
                     f"{len(runs) - len(ok)}/{len(runs)}"])
    return common.table(["set", "γ", "α", "rule", "AP", "ROC AUC", "rounds", "bite start",
                         "bite max", "bite end", "exact<0 end", "failed"], rows)


def overview(results: dict[tuple, list[dict]]) -> list[str]:
    """One row per rule: mean AP/AUC over configurations, paired differences to 'positive'."""
    configs = sorted({k[:3] for k in results}, key=str)
    rows = []
    for rule in RULES:
        aps, aucs, deltas, rounds, failed, total = [], [], [], [], 0, 0
        for config in configs:
            runs, ref = results.get((*config, rule)), results.get((*config, "positive"))
            if runs is None:
                continue
            total += len(runs)
            failed += sum(r["failed"] for r in runs)
            ok = [r for r in runs if not r["failed"]]
            if len(ok) < len(runs):
                continue  # a configuration with a failed fold has no comparable mean
            aps.append(np.mean([r["ap"] for r in ok]))
            aucs.append(np.mean([r["auc"] for r in ok]))
            rounds.append(np.mean([r["rounds"] for r in ok]))
            deltas.append(aps[-1] - np.mean([r["ap"] for r in ref]))
        if total == 0:
            continue
        if not aps:
            rows.append([rule, "--", "--", "--", "--", "--", f"{failed}/{total}"])
            continue
        d = np.array(deltas)
        rows.append([rule, f"{np.mean(aps):.4f}", f"{np.mean(aucs):.4f}",
                     f"{d.mean():+.4f} ({d.min():+.4f}, {d.max():+.4f})",
                     f"{int((d > 0.001).sum())} / {int((d < -0.001).sum())} of {len(d)}",
                     f"{np.mean(rounds):.0f}", f"{failed}/{total}"])
    return common.table(["rule", "mean AP", "mean ROC AUC", "ΔAP vs positive (mean, min, max)",
                         "configs better / worse", "mean rounds", "failed runs"], rows)


def markdown(data: dict[str, Any]) -> str:
    cfg = data["settings"]
    out = [
        "# Hessian rule for Newton-boosted focal loss",
        "",
        f"{cfg['folds']}-fold stratified CV, 15% of each training fold held out for early "
        f"stopping on average precision (patience {PATIENCE}, at most {MAX_ROUNDS} rounds, "
        f"learning rate {LEARNING_RATE}), one thread, library defaults otherwise. "
        "Scores are mean ± sd over folds on the test folds. *bite*: share of training rows "
        "where the exact Hessian is below the focal-weighted log-loss curvature "
        "`a_t q^g p q` (where the default rule departs from the exact Hessian): at the "
        "constant start, at its largest during training, and for the final model. "
        "'failed': folds where the raw scores stopped being finite.",
        "",
        "Thresholds: the default rule replaces the exact Hessian exactly where p_t < "
        + ", ".join(f"{threshold_p(g):.3f} (γ={g:g})" for g in cfg["gammas"]) + ".",
        "",
    ]
    for booster, start_name in itertools.product(cfg["boosters"], cfg["starts"]):
        results: dict[tuple, list[dict]] = {}
        for r in data["runs"]:
            if (r["booster"], r["start"]) == (booster, start_name):
                key = (r["set"], r["gamma"], r["alpha"], r["rule"])
                results.setdefault(key, []).append(r)
        if results:
            out += [f"## {booster}, start from the {START_TITLES[start_name]}", "",
                    "Over all (set, γ, α) configurations:", "", *overview(results), "",
                    *summarise(results), ""]
    out.append(f"Run on {common.describe(data['meta'])}. Total time {data['seconds']:.0f} s.")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = common.arguments(__doc__, "one set, two folds, gamma 2")
    parser.add_argument("--xgboost", action="store_true", help="also run XGBoost")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--start", nargs="*", choices=list(START_TITLES),
                        default=list(START_TITLES), help="constant start score(s)")
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    args = parser.parse_args()
    settings = {"sets": args.sets, "folds": args.folds, "gammas": [1.0, 2.0, 5.0],
                "boosters": ["lightgbm", "xgboost"] if args.xgboost else ["lightgbm"],
                "starts": args.start}
    if args.quick:
        settings.update(sets=args.sets[:1], folds=2, gammas=[2.0])
    check_positive_rule()
    meta = common.machine()
    seconds, runs = common.timed(experiment, settings["boosters"], settings["starts"],
                                 settings["sets"], settings["folds"], settings["gammas"])
    data = {"meta": meta, "settings": settings, "seconds": seconds, "runs": runs}
    common.publish(common.out_dir(args), "hessian_rule", markdown(data), data)


if __name__ == "__main__":
    main()
