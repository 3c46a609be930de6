"""The protocol of the calibration and early-stopping scripts: sets, folds, models, metrics.

Shared by ``calibration_binary.py``, ``calibration_multiclass.py``,
``calibration_known_posterior.py`` (each one section of ``calibration.json`` and
``calibration.md``, :func:`main`), ``calibration.py`` (all of them) and ``early_stopping.py``.

Protocol: stratified K-fold CV (:data:`SETTINGS`: 3 folds, seed 0); 15 % of each training fold
(stratified, at least one row per class) held out for early stopping; learning rate 0.1, at
most 300 rounds, patience 30, one thread, library defaults otherwise; focal gamma 2. Test
folds are scored by log loss (probabilities clipped to [1e-15, 1]), Brier score, ECE (15
equal-width bins, weighted by bin count; binary: positive-class probability, multiclass:
top label), mean probability, average precision, ROC AUC (multiclass: macro one-vs-rest).
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("GBFOCAL_NUM_THREADS", "1")  # before gbfocal starts its threads

import _common as common  # noqa: E402

from gbfocal import FocalLGBMClassifier, FocalXGBClassifier, focal_posterior  # noqa: E402

warnings.filterwarnings("ignore", message=".*eval_set.*deprecated.*")

SETTINGS: dict[str, Any] = {"n_folds": 3, "val_fraction": 0.15, "learning_rate": 0.1,
                            "max_rounds": 300, "patience": 30, "gamma": 2.0, "threads": 1,
                            "seed": 0, "ece_bins": 15, "proba_clip": 1e-15}
QUICK = {"n_folds": 2, "max_rounds": 60, "patience": 10}
EPS = 1e-15
MAX_ROWS = {"flights_cancelled": 60_000}
SHUTTLE_ROWS = 20_000
RARE_KEEP = 500  # shuttle classes with fewer rows are kept whole
DIGITS_KEEP = {5: 0.10, 6: 0.10, 7: 0.07, 8: 0.07, 9: 0.05}
LIB_NAME = {"lgb": "LightGBM", "lgb_reg": "LightGBM reg", "xgb": "XGBoost"}
#: section of calibration.json -> the script that runs it (``run``) and writes its tables
SECTIONS = {"binary": "calibration_binary", "multiclass": "calibration_multiclass",
            "sim": "calibration_known_posterior"}


def settings(quick: bool) -> dict[str, Any]:
    return {**SETTINGS, **(QUICK if quick else {})}


# --------------------------------------------------------------------------- data
def load_binary(data_dir: Path, name: str, seed: int) -> tuple[np.ndarray, np.ndarray] | None:
    data = common.load_set(name, data_dir)
    if data is None or name not in MAX_ROWS:
        return data
    return common.subsample(*data, MAX_ROWS[name], seed)


def binary_sets(data_dir: Path, names: Iterable[str],
                seed: int) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, X, y)`` of each set of ``names`` that is there (see :func:`load_binary`)."""
    for name in names:
        data = load_binary(data_dir, name, seed)
        if data is not None:
            yield name, *data


def load_digits_imb(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits with classes 5-9 downsampled (:data:`DIGITS_KEEP`)."""
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
    """shuttle (stratified ~20,000 rows, classes under 500 rows kept whole), digits_imb."""
    sets = {}
    shuttle = common.load_set("shuttle", data_dir)
    if shuttle is not None:
        sets["shuttle"] = common.subsample(*shuttle, SHUTTLE_ROWS, seed, whole_below=RARE_KEEP)
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


def folds(y: np.ndarray,
          cfg: dict[str, Any]) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """(fold, fit, val, test) index arrays: outer stratified CV, inner validation split."""
    skf = StratifiedKFold(cfg["n_folds"], shuffle=True, random_state=cfg["seed"])
    for k, (train, test) in enumerate(skf.split(np.zeros(len(y)), y)):
        fit_rel, val_rel = inner_split(y[train], cfg["val_fraction"], cfg["seed"] + k)
        yield k, train[fit_rel], train[val_rel], test


# --------------------------------------------------------------------------- metrics
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
    pred = P.argmax(axis=1)
    return {
        "log_loss": float(-np.mean(np.log(np.clip(P[np.arange(n), y], EPS, 1.0)))),
        "brier": float(np.mean(((P - np.eye(k)[y]) ** 2).sum(axis=1))),
        "ece": ece(P.max(axis=1), pred == y),
        "auc": float(roc_auc_score(y, P / P.sum(axis=1, keepdims=True), multi_class="ovr",
                                   average="macro", labels=np.arange(k))),
        "accuracy": float(np.mean(pred == y)),
        "mean_conf": float(np.mean(P.max(axis=1))),
    }


# --------------------------------------------------------------------------- models
def lgb_reg_params() -> dict[str, Any]:
    """XGBoost's leaf regularisation defaults, for LightGBM ("lgb_reg")."""
    return {"reg_lambda": 1.0, "min_child_weight": 1.0}


def fit_builtin(lib: str, X, y, Xv, yv, cfg, *, multiclass: bool) -> tuple[Any, int]:
    """A built-in log-loss booster, early-stopped (binary: AP, multiclass: log loss)."""
    common_params = {"n_estimators": cfg["max_rounds"], "learning_rate": cfg["learning_rate"],
                     "n_jobs": cfg["threads"], "random_state": cfg["seed"]}
    if lib.startswith("lgb"):
        import lightgbm as lgb

        extra = lgb_reg_params() if lib == "lgb_reg" else {}
        model = lgb.LGBMClassifier(objective="multiclass" if multiclass else "binary",
                                   metric="multi_logloss" if multiclass else "average_precision",
                                   verbose=-1, **common_params, **extra)
        model.fit(X, y, eval_X=(Xv,), eval_y=(yv,),
                  callbacks=[lgb.early_stopping(cfg["patience"], verbose=False)])
        return model, int(model.best_iteration_)
    import xgboost as xgb

    model = xgb.XGBClassifier(eval_metric="mlogloss" if multiclass else "aucpr",
                              tree_method="hist", early_stopping_rounds=cfg["patience"],
                              **common_params)
    model.fit(X, y, eval_set=[(Xv, yv)], verbose=False)
    return model, int(model.best_iteration) + 1


def builtin_proba(model: Any, X, multiclass: bool) -> np.ndarray:
    P = model.predict_proba(X)
    return P if multiclass else P[:, 1]


def make_focal(lib: str, alpha: Any, es_metric: str | None, cfg: dict[str, Any],
               n_rounds: int | None = None, **extra: Any):
    """A focal estimator with the raw link (``correct_proba=False``), early-stopped on
    ``es_metric`` (None: no early stopping)."""
    cls = FocalXGBClassifier if lib == "xgb" else FocalLGBMClassifier
    kw = dict(lgb_reg_params()) if lib == "lgb_reg" else {}
    kw.update(extra)
    return cls(alpha=alpha, gamma=cfg["gamma"], learning_rate=cfg["learning_rate"],
               n_estimators=n_rounds or cfg["max_rounds"],
               early_stopping_rounds=cfg["patience"] if es_metric else None,
               eval_metric=es_metric or "auto", n_jobs=cfg["threads"],
               random_state=cfg["seed"], correct_proba=False, **kw)


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


# --------------------------------------------------------------------------- the report
def settings_lines(meta: dict[str, Any], cfg: dict[str, Any],
                   timings: dict[str, float]) -> list[str]:
    return [
        f"Generated by `benchmarks/calibration*.py`; last run {meta['date']}.",
        "",
        f"Machine: {common.describe(meta)}; runs use {cfg['threads']} thread.",
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


def report(store: dict[str, Any], concl: str) -> str:
    """calibration.md from the results of calibration.json (every section run so far)."""
    sec = store["sections"]
    binary, multiclass, sim = (importlib.import_module(SECTIONS[name]) for name in SECTIONS)
    lines = ["# Calibration of focal-loss models: raw link vs focal posterior", ""]
    lines += settings_lines(store["meta"], store["cfg"], store["timings"])
    lines += ["## Conclusions", "", concl, ""]
    has_multiclass = bool(sec.get("multiclass", {}).get("records"))
    if sec.get("binary", {}).get("records"):
        lines += ["## Binary sets (test folds, mean of 3 folds)", ""] + binary.tables(sec["binary"])
    if has_multiclass:
        lines += ["## Multiclass sets (test folds, mean of 3 folds)", ""]
        lines += multiclass.tables(sec["multiclass"])
    if "multiclass" in sec or "sim" in sec:
        lines += ["## Multiclass: why the correction can hurt: measurements", ""]
        if "sim" in sec:
            lines += ["### (i) Known posteriors: the math and the trees", ""]
            lines += sim.tables(sec["sim"])
        if has_multiclass:
            lines += ["### (ii)-(iii) Real sets: stationarity, overfitting, early-stopping "
                      "metric", ""]
            lines += multiclass.diagnostics(sec["multiclass"])
    return "\n".join(lines) + "\n"


def main(doc: str, sections: list[str], argv: list[str] | None = None) -> None:
    """Run ``sections`` (or those of ``--sections``) and update ``calibration.json`` / ``.md``
    (results of earlier runs of the other sections are kept, with the same settings)."""
    parser = common.arguments(doc, "2 folds, 60 rounds, small simulations")
    parser.add_argument("data_dir", nargs="?", type=Path, default=common.DATA)
    if len(sections) > 1:
        parser.add_argument("--sections", nargs="+", default=sections, choices=sections)
    args = parser.parse_args(argv)
    cfg = settings(args.quick)
    folder = common.out_dir(args)
    store = common.read_json(folder / "calibration.json") if folder else None
    if not store or store.get("cfg") != cfg:  # other settings: earlier sections not comparable
        store = {"sections": {}, "timings": {}}
    store["cfg"], store["meta"] = cfg, common.machine()
    concl = common.conclusions(folder / "calibration.md" if folder else None)
    for name in getattr(args, "sections", sections):
        run = importlib.import_module(SECTIONS[name]).run
        store["timings"][name], store["sections"][name] = common.timed(
            run, args.data_dir, cfg, args.quick)
        print(f"[{name}] {store['timings'][name]:.0f} s", flush=True)
        text = report(store, concl)
        if folder:
            common.write_json(folder / "calibration.json", store)
            (folder / "calibration.md").write_text(text)
    print(text)
