"""With known class posteriors: is the focal posterior exact, and do boosted models reach it?

A simulated 6-class problem (x ~ N(0, I_8), eta(x) = softmax(x W + log priors), priors
0.45 ... 0.03; 20,000 training, 5,000 validation, 20,000 test rows):

* the math, no trees: the exact minimiser q* of the focal risk at the true eta (bisection
  on the Lagrange condition, independent of gbfocal; checked by random perturbations and
  Nelder-Mead), mapped back by ``focal_posterior``: its error to eta, and the log loss of q*
  and of the corrected q*; whether w(q) = 1/|phi'(q)| is increasing (so q -> eta is a
  bijection); how much the correction sharpens a softmax;
* boosted models (learning rate 0.05, at most 2,000 rounds, patience 100, early stopping
  on ``focal_loss`` or ``log_loss``): raw and corrected against the truth and a built-in
  LightGBM; without early stopping (learning rate 0.1, 600 rounds), per-round curves
  (overfitting);
* binary, eta = sigmoid(x w - 3): does the mean corrected probability match the mean
  posterior; and the slope of the corrected log-odds in the margin.

Run ``python benchmarks/calibration_known_posterior.py [--quick] [--out DIR]`` (about 2
minutes on 2 cores; ``--quick``: 4,000 rows, 200 rounds, prints only). A full run updates the
``sim`` section of ``benchmarks/calibration.json`` and rewrites ``calibration.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import _calibration as cal
import _common as common
import numpy as np
from scipy import optimize, special

import gbfocal
from gbfocal import focal_posterior

SIM = {"n_classes": 6, "n_features": 8, "priors": [0.45, 0.25, 0.13, 0.09, 0.05, 0.03],
       "weight_scale": 1.0, "n_train": 20_000, "n_val": 5_000, "n_test": 20_000,
       "learning_rate": 0.05, "max_rounds": 2000, "patience": 100}
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
    y = np.minimum((rng.random(n)[:, None] > np.cumsum(eta, axis=1)).sum(axis=1), K - 1)
    return X.astype(np.float32), y.astype(np.int64), eta


def focal_h(q: np.ndarray, gamma: float) -> np.ndarray:
    """|phi'(q)| for phi(q) = -(1 - q)^g log q: (1 - q)^(g-1) ((1 - q)/q - g log q)."""
    return (1 - q) ** (gamma - 1) * ((1 - q) / q - gamma * np.log(q))


def bisect(lo: np.ndarray, hi: np.ndarray, go_up: Any, steps: int = 100) -> np.ndarray:
    """The midpoint after ``steps`` bisections; ``go_up(mid)`` says where the root lies above."""
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        up = go_up(mid)
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    return 0.5 * (lo + hi)


def focal_minimiser(eta: np.ndarray, a: np.ndarray, gamma: float) -> np.ndarray:
    """argmin_q sum_i eta_i a_i phi(q_i) over the simplex, per row, by the Lagrange
    condition eta_i a_i |phi'(q_i)| = lambda (nested bisection in log lambda and logit q).
    Independent of gbfocal's closed form: it solves the forward problem."""
    c = eta * a  # (n, K)

    def q_of(log_lam: np.ndarray) -> np.ndarray:
        # solve log h(q) = log_lam - log c, h decreasing in q: bisection on u = logit q
        target = log_lam[:, None] - np.log(c)

        def h_too_big(u: np.ndarray) -> np.ndarray:  # then q must grow
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                return np.log(focal_h(special.expit(u), gamma)) > target

        return special.expit(bisect(np.full(c.shape, -60.0), np.full(c.shape, 60.0), h_too_big))

    # too much mass: raise lambda (every q_i decreases)
    q = q_of(bisect(np.full(len(c), -80.0), np.full(len(c), 80.0),
                    lambda log_lam: q_of(log_lam).sum(axis=1) > 1))
    return q / q.sum(axis=1, keepdims=True)


def focal_risk(q: np.ndarray, eta: np.ndarray, a: np.ndarray, gamma: float) -> np.ndarray:
    return -(eta * a * (1 - q) ** gamma * np.log(q)).sum(axis=1)


def math_check(eta: np.ndarray, y: np.ndarray, a: np.ndarray, label: str,
               gamma: float) -> dict[str, Any]:
    """The exact focal minimiser q*(eta) (forward problem), then the closed-form inverse."""
    rows = np.arange(len(y))
    qstar = focal_minimiser(eta, a, gamma)
    back = focal_posterior(np.log(qstar), alpha=None if label == "None" else a, gamma=gamma)
    # the forward solution is a minimiser: random feasible perturbations never do better
    rng = np.random.default_rng(1)
    sub = slice(0, 300)
    r0 = focal_risk(qstar[sub], eta[sub], a, gamma)
    worse = 0
    for _ in range(50):
        pert = special.softmax(np.log(qstar[sub]) + rng.normal(scale=0.05,
                                                               size=qstar[sub].shape), axis=1)
        worse += int((focal_risk(pert, eta[sub], a, gamma) >= r0 - 1e-12).sum())
    # scipy check of the minimiser on 30 rows
    sc = []
    for i in range(30):
        def f(zz: np.ndarray, i: int = i) -> float:
            return float(focal_risk(special.softmax(zz)[None], eta[i:i + 1], a, gamma)[0])

        res = optimize.minimize(f, np.log(eta[i]), method="Nelder-Mead",
                                options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20000})
        sc.append(np.abs(special.softmax(res.x) - qstar[i]).max())
    return {"alpha": label,
            "max_abs_err_corrected_vs_eta": float(np.abs(back - eta).max()),
            "mae_raw_qstar_vs_eta": float(np.abs(qstar - eta).mean()),
            "ll_raw_qstar": float(-np.mean(np.log(qstar[rows, y]))),
            "ll_corrected_qstar": float(-np.mean(np.log(back[rows, y]))),
            "perturbations_not_better": f"{worse}/{50 * 300}",
            "scipy_max_abs_diff": float(np.max(sc)),
            "ece_raw_qstar": cal.ece(qstar.max(axis=1), qstar.argmax(axis=1) == y)}


def sharpening(K: int, gamma: float) -> list[dict[str, float]]:
    """How much the correction sharpens: K classes, top raw probability t, the rest equal."""
    out = []
    for t in (0.3, 0.5, 0.7, 0.9, 0.95, 0.99, 0.999):
        q = np.full((1, K), (1 - t) / (K - 1))
        q[0, 0] = t
        c = focal_posterior(np.log(q), gamma=gamma)[0]
        out.append({"q_top": t, "q_other": float(q[0, 1]), "corr_top": float(c[0]),
                    "corr_other": float(c[1]), "ll_if_other_raw": float(-np.log(q[0, 1])),
                    "ll_if_other_corr": float(-np.log(c[1]))})
    return out


def builtin_lightgbm(X, y, tr, va, sim: dict[str, Any], **params: Any) -> Any:
    """LightGBM's own objective, early-stopped on its default metric."""
    import lightgbm as lgb

    ref = lgb.LGBMClassifier(n_estimators=sim["max_rounds"], learning_rate=sim["learning_rate"],
                             n_jobs=1, random_state=0, verbose=-1, **params)
    ref.fit(X[tr], y[tr], eval_X=(X[va],), eval_y=(y[va],),
            callbacks=[lgb.early_stopping(sim["patience"], verbose=False)])
    return ref


def sim_settings(cfg: dict[str, Any], sim: dict[str, Any]) -> dict[str, Any]:
    return {**cfg, "learning_rate": sim["learning_rate"], "max_rounds": sim["max_rounds"],
            "patience": sim["patience"]}


def run(data_dir: Path | None, cfg: dict[str, Any], quick: bool = False) -> dict[str, Any]:
    sim = {**SIM, **(SIM_QUICK if quick else {})}
    gamma, K = cfg["gamma"], sim["n_classes"]
    X, y, eta = simulate(sim, cfg["seed"])
    n1, n2 = sim["n_train"], sim["n_train"] + sim["n_val"]
    tr, va, te = slice(0, n1), slice(n1, n2), slice(n2, None)
    out: dict[str, Any] = {"settings": sim,
                           "class_counts_train": np.bincount(y[tr], minlength=K).tolist()}
    out["bayes_log_loss"] = float(-np.mean(np.log(eta[te][np.arange(len(y[te])), y[te]])))
    # monotonicity of w(q) = 1/|phi'(q)|: the map q -> eta is then a bijection
    grid = np.linspace(1e-6, 1 - 1e-6, 200_001)
    out["w_monotone"] = {str(g): bool(np.all(np.diff(1 / focal_h(grid, g)) > 0))
                         for g in (0.5, 1.0, 2.0, 3.0, 5.0)}
    alpha_bal = gbfocal.balanced_alpha(y[tr], K)
    out["math"] = [math_check(eta[te], y[te], a, label, gamma)
                   for label, a in (("None", np.ones(K)), ("balanced", alpha_bal))]
    out["sharpening"] = sharpening(K, gamma)

    def score(P: np.ndarray) -> dict[str, float]:
        return {**cal.multiclass_metrics(y[te], P), "mae_vs_eta": float(np.abs(P - eta[te]).mean())}

    seconds, ref = common.timed(builtin_lightgbm, X, y, tr, va, sim, objective="multiclass")
    models = [{"model": "builtin LightGBM multiclass", "es": "multi_logloss",
               "variant": "builtin", "rounds": int(ref.best_iteration_), "fit_s": seconds,
               **score(ref.predict_proba(X[te]))}]
    print(f"[sim] builtin done ({models[-1]['rounds']} rounds)", flush=True)
    for lib in ("lgb", "xgb"):
        for alpha in (None, "balanced"):
            for es in ("focal_loss", "log_loss"):
                model = cal.make_focal(lib, alpha, es, sim_settings(cfg, sim))
                seconds, _ = common.timed(model.fit, X[tr], y[tr], eval_set=[(X[va], y[va])])
                _, raw, corr = cal.focal_probas(model, X[te], True)
                models += [{"model": f"focal {lib} alpha={cal.alpha_label(alpha)}", "es": es,
                            "variant": variant, "rounds": model.best_iteration_,
                            "fit_s": seconds, **score(P)}
                           for variant, P in (("raw", raw), ("corrected", corr))]
                print(f"[sim] {lib} {alpha} {es} done ({model.best_iteration_} rounds)",
                      flush=True)
    out["models"] = models
    out["overfit_curves"] = overfit_curves(X, y, eta, tr, te, cfg, 100 if quick else 600)
    out["binary"] = run_binary_sim(cfg, sim)
    return out


def overfit_curves(X, y, eta, tr, te, cfg: dict[str, Any], n_over: int) -> list[dict[str, Any]]:
    """Learning rate 0.1, no early stopping: test and training curves against the truth."""
    grid = [r for r in (10, 25, 50, 100, 200, 300, 400, 600) if r <= n_over]
    curves = []
    for lib in ("lgb", "xgb"):
        model = cal.make_focal(lib, None, None, {**cfg, "max_rounds": n_over})
        model.fit(X[tr], y[tr])
        zt = cal.staged_margins(model, X[te], n_over)
        zf = cal.staged_margins(model, X[tr], n_over)
        row: dict[str, Any] = {"lib": lib, "grid": grid}
        for key in ("test_raw", "test_corr", "train_corr", "mae_raw", "mae_corr", "ece_corr",
                    "ece_corr_train"):
            row[key] = []
        for r in grid:
            raw = special.softmax(zt[r - 1], axis=1)
            corr = model.loss_.predict_proba(zt[r - 1], check_input=False)
            mtr = cal.multiclass_metrics(
                y[tr], model.loss_.predict_proba(zf[r - 1], check_input=False))
            mr, mc = cal.multiclass_metrics(y[te], raw), cal.multiclass_metrics(y[te], corr)
            row["test_raw"].append(mr["log_loss"])
            row["test_corr"].append(mc["log_loss"])
            row["train_corr"].append(mtr["log_loss"])
            row["mae_raw"].append(float(np.abs(raw - eta[te]).mean()))
            row["mae_corr"].append(float(np.abs(corr - eta[te]).mean()))
            row["ece_corr"].append(mc["ece"])
            row["ece_corr_train"].append(mtr["ece"])
        curves.append(row)
        print(f"[sim] overfit curve {lib} done", flush=True)
    return curves


def run_binary_sim(cfg: dict[str, Any], sim: dict[str, Any]) -> dict[str, Any]:
    """Binary, known posterior: eta(x) = sigmoid(x w - 3), x ~ N(0, I_8) (about 10 %
    positives). Does the mean corrected probability match the mean posterior?"""
    rng = np.random.default_rng(cfg["seed"] + 1)
    n_tr, n_va, n_te = (sim["n_train"], sim["n_val"], sim["n_test"])
    n = n_tr + n_va + n_te
    X = rng.normal(size=(n, 8))
    eta = special.expit(X @ (0.8 * rng.normal(size=8)) - 3.0)
    y = (rng.random(n) < eta).astype(np.int64)
    X = X.astype(np.float32)
    tr, va, te = slice(0, n_tr), slice(n_tr, n_tr + n_va), slice(n_tr + n_va, None)
    out: dict[str, Any] = {"rate_train": float(y[tr].mean()),
                           "mean_eta_test": float(eta[te].mean()), "models": []}

    def entry(model: str, variant: str, rounds: int, p: np.ndarray,
              mean_p_train: float) -> dict[str, Any]:
        return {"model": model, "variant": variant, "rounds": rounds, "mean_p": float(p.mean()),
                "mean_p_train": mean_p_train, "mae_vs_eta": float(np.abs(p - eta[te]).mean()),
                **cal.binary_metrics(y[te], p)}

    ref = builtin_lightgbm(X, y, tr, va, sim)
    out["models"].append(entry("builtin LightGBM binary", "builtin", int(ref.best_iteration_),
                               ref.predict_proba(X[te])[:, 1],
                               float(ref.predict_proba(X[tr])[:, 1].mean())))
    for alpha in ("balanced", None, 0.25):
        model = cal.make_focal("lgb", alpha, "focal_loss", sim_settings(cfg, sim))
        model.fit(X[tr], y[tr], eval_set=[(X[va], y[va])])
        _, raw, corr = cal.focal_probas(model, X[te], False)
        _, _, corr_tr = cal.focal_probas(model, X[tr], False)
        for variant, p in (("raw", raw), ("corrected", corr)):
            out["models"].append(entry(
                f"focal lgb alpha={cal.alpha_label(alpha)}", variant, model.best_iteration_, p,
                float(corr_tr.mean()) if variant == "corrected" else float("nan")))
        print(f"[sim] binary {alpha} done ({model.best_iteration_} rounds)", flush=True)
    # slope of the corrected log-odds in the raw margin: gamma + 1 in the tails
    z, h = np.array([-8.0, -4.0, -2.0, 0.0, 2.0, 4.0, 8.0]), 1e-4
    slope = {}
    for label, a in (("None", None), ("balanced", float(1 - out["rate_train"]))):
        lo = special.logit(focal_posterior(z - h, alpha=a, gamma=cfg["gamma"]))
        hi = special.logit(focal_posterior(z + h, alpha=a, gamma=cfg["gamma"]))
        slope[label] = ((hi - lo) / (2 * h)).tolist()
    out["slope_z"], out["slope"] = z.tolist(), slope
    return out


# --------------------------------------------------------------------------- tables
def tables(res: dict[str, Any]) -> list[str]:
    s, fmt = res["settings"], common.fmt
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
    ]
    lines += common.table(
        ["alpha", "max abs(corrected - eta)", "MAE raw q* vs eta", "log loss raw q*",
         "log loss corrected", "top-label ECE raw q*", "perturbations not better",
         "scipy vs bisection"],
        ([m["alpha"], f"{m['max_abs_err_corrected_vs_eta']:.1e}",
          f"{m['mae_raw_qstar_vs_eta']:.4f}", f"{m['ll_raw_qstar']:.4f}",
          f"{m['ll_corrected_qstar']:.4f}", f"{m['ece_raw_qstar']:.4f}",
          m["perturbations_not_better"], f"{m['scipy_max_abs_diff']:.1e}"]
         for m in res["math"]), "lrrrrrlr")
    lines += ["", f"How the correction sharpens (K = {s['n_classes']}, alpha None, gamma 2; the "
              "top class has raw probability q_top, the other classes share the rest equally): "
              "the log loss of a row whose label is one of the *other* classes goes from "
              "-log q_other to -log p_other:", ""]
    lines += common.table(
        ["q_top", "q_other", "corrected top", "corrected other", "-log q_other",
         "-log p_other"],
        ([m["q_top"], f"{m['q_other']:.4g}", f"{m['corr_top']:.6f}", f"{m['corr_other']:.3g}",
          f"{m['ll_if_other_raw']:.2f}", f"{m['ll_if_other_corr']:.2f}"]
         for m in res["sharpening"]), "rrrrrr")
    lines += ["", f"**Boosted models** (lr {s['learning_rate']}, up to {s['max_rounds']} rounds, "
              f"patience {s['patience']}), test set:", ""]
    lines += common.table(
        ["model", "early stop", "proba", "rounds", "log loss", "MAE vs eta", "Brier",
         "top-label ECE", "macro AUC"],
        ([m["model"], m["es"], m["variant"], m["rounds"], f"{m['log_loss']:.4f}",
          f"{m['mae_vs_eta']:.4f}", f"{m['brier']:.4f}", f"{m['ece']:.4f}", f"{m['auc']:.4f}"]
         for m in res["models"]), "lll" + "r" * 6)
    b = res.get("binary")
    if b:
        lines += ["", "**Binary, known posterior** (eta = sigmoid(x w - 3), x ~ N(0, I_8); same "
                  "sizes and early stopping as above, focal models on `focal_loss`): mean "
                  f"posterior on the test rows {b['mean_eta_test']:.4f}, training positive rate "
                  f"{b['rate_train']:.4f}.", ""]
        lines += common.table(
            ["model", "proba", "rounds", "mean p test", "mean corrected p train", "MAE vs eta",
             "log loss", "ECE"],
            ([m["model"], m["variant"], m["rounds"], f"{m['mean_p']:.4f}",
              fmt(m["mean_p_train"]), f"{m['mae_vs_eta']:.4f}", f"{m['log_loss']:.4f}",
              f"{m['ece']:.4f}"] for m in b["models"]), "ll" + "r" * 6)
        slopes = "; ".join(
            f"alpha {k}: " + ", ".join(f"z={zz:g}: {v:.2f}"
                                       for zz, v in zip(b["slope_z"], vals, strict=True))
            for k, vals in b["slope"].items())
        lines += ["", f"Slope d logit(corrected p) / d z of the binary correction (gamma 2): "
                  f"{slopes}. (`balanced` here: alpha = 1 - positive rate, the float form.)"]
    lines += ["", "**Overfitting** (lr 0.1, no early stopping, alpha None): test log loss raw / "
              "corrected, train corrected log loss, MAE vs eta raw / corrected, top-label ECE "
              "corrected test / train:", ""]
    keys = ("test_raw", "test_corr", "train_corr", "mae_raw", "mae_corr", "ece_corr",
            "ece_corr_train")
    lines += common.table(
        ["model", "rounds", "test LL raw", "test LL corr", "train LL corr", "MAE raw",
         "MAE corr", "ECE corr test", "ECE corr train"],
        ([f"{cal.LIB_NAME[c['lib']]} focal", r] + [f"{c[k][i]:.4f}" for k in keys]
         for c in res["overfit_curves"] for i, r in enumerate(c["grid"])), "l" + "r" * 8)
    return lines + [""]


if __name__ == "__main__":
    cal.main(__doc__, ["sim"], sys.argv[1:])
