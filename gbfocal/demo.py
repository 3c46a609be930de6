"""The breast-cancer demo: tune, compare, plot, and avoid three mistakes.

``gbfocal demo`` (or ``python -m gbfocal demo``, or ``python examples/breast_cancer.py``)
after ``pip install gbfocal[examples]``; options ``--trials 30 --backend lightgbm --seed 0
--output gbfocal_output``.

1. Stratified train/test split of scikit-learn's breast-cancer data (malignant = positive
   class, 37 %).
2. Optuna tunes the focal ``alpha`` and ``gamma`` by stratified CV on the training part
   (score: average precision, which does not depend on gamma), tunes log loss alike, and
   compares the two on training rows neither search saw (the verdict, with its interval).
3. LightGBM and XGBoost are trained with the tuned focal loss and with their built-in log
   loss, all four the same way (early stopping on average precision on a validation split),
   and compared on the test part in one table. ``fit s`` is a warm fit: each model is fitted
   once on a few rounds first, so that no row pays numba's or a library's start-up.
4. Plots (precision-recall, calibration, Optuna history, alpha/gamma map) go to ``--output``
   (created if missing; the four files in it are replaced).

Along the way it shows the three mistakes of the notebook this package grew out of, and
what gbfocal does about each of them. About a minute on two cores; every fit uses one
thread (on ~300 rows threads do not pay, and on a busy machine OpenMP threads that wait for
each other can make a fit 20x slower).

Everything but NumPy is imported when the demo runs, so that ``gbfocal --help`` stays fast
and a missing package is the install hint of ``gbfocal[examples]``.
"""

from __future__ import annotations

import argparse
import inspect
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._focal import binary_focal_grad_hess, binary_focal_loss
from ._optional import import_optional
from ._posterior import focal_posterior

__all__ = ["add_arguments", "main", "run"]

#: the packages the demo imports (all in the ``examples`` extra)
NEEDS = ("sklearn", "lightgbm", "xgboost", "optuna", "matplotlib")
DEFAULT_OUTPUT = "gbfocal_output"
N_JOBS = 1
EARLY_STOPPING_ROUNDS = 30
# shared by the focal and the built-in models, so only the loss differs
BOOSTER: dict[str, dict[str, Any]] = {
    "lightgbm": {"n_estimators": 400, "learning_rate": 0.05, "num_leaves": 15,
                 "min_child_samples": 10, "n_jobs": N_JOBS},
    "xgboost": {"n_estimators": 400, "learning_rate": 0.05, "max_depth": 3,
                "n_jobs": N_JOBS},
}
# boosting rounds of the warm-up fit that precedes each timed fit
_WARM_UP_ROUNDS = 5


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The demo's options, for ``gbfocal demo`` and ``examples/breast_cancer.py``."""
    parser.add_argument("--trials", type=int, default=30,
                        help="Optuna trials of each arm (default 30)")
    parser.add_argument("--backend", choices=("lightgbm", "xgboost"), default="lightgbm",
                        help="library used for tuning alpha and gamma (default lightgbm); "
                             "both are trained and compared afterwards")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, metavar="DIR",
                        help=f"folder for the four plots, created if missing (default "
                             f"./{DEFAULT_OUTPUT}); files of the same names are replaced")
    return parser


def banner(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 86 - len(title)))


# --------------------------------------------------------------------------- mistakes
def mistake_1_builtin_objective(X: np.ndarray, y: np.ndarray) -> None:
    """'Tuning' alpha/gamma while LightGBM trains its built-in binary objective."""
    import lightgbm as lgb

    from .sklearn import FocalLGBMClassifier

    banner("Mistake 1: tuning focal alpha/gamma while training the built-in objective")
    settings = [(0.25, 2.0), (0.75, 0.5), (0.5, 5.0)]
    builtin = []
    for alpha, gamma in settings:
        # what the notebook did: the focal parameters travel along, the objective is 'binary'
        # (LightGBM reads 'alpha' as the Huber/quantile parameter and ignores 'gamma')
        model = lgb.LGBMClassifier(objective="binary", n_estimators=50, verbose=-1,
                                   n_jobs=N_JOBS, alpha=alpha, gamma=gamma)
        builtin.append(np.asarray(model.fit(X, y).predict_proba(X))[:, 1])
    spread = max(np.abs(p - builtin[0]).max() for p in builtin)
    print(f"built-in objective, {len(settings)} (alpha, gamma) settings: largest change in "
          f"predictions = {spread:.1e}  -> the loss never changed, the 'tuning' was noise")
    focal = [
        FocalLGBMClassifier(alpha=alpha, gamma=gamma, n_estimators=50, n_jobs=N_JOBS)
        .fit(X, y).predict_proba(X)[:, 1]
        for alpha, gamma in settings
    ]
    spread = max(np.abs(p - focal[0]).max() for p in focal)
    print(f"gbfocal focal objective, same settings: largest change = {spread:.3f}")
    try:
        FocalLGBMClassifier(params={"objective": "binary"}, n_jobs=N_JOBS).fit(X, y)
    except ValueError as exc:
        print(f"gbfocal refuses a built-in objective next to focal parameters:\n  {exc}")


def mistake_2_logloss_gradient(seed: int) -> None:
    """A 'focal' objective that returns the log-loss gradient p - y."""
    from scipy.special import expit

    banner("Mistake 2: the log-loss gradient p - y under a focal name")
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=3.0, size=2000)
    y = rng.integers(0, 2, size=2000)
    gamma, step = 2.0, 1e-5
    grad, _ = binary_focal_grad_hess(y, z, alpha=0.25, gamma=gamma)
    finite_diff = (binary_focal_loss(y, z + step, alpha=0.25, gamma=gamma)
                   - binary_focal_loss(y, z - step, alpha=0.25, gamma=gamma)) / (2 * step)
    logloss_grad = expit(z) - y
    print(f"gamma={gamma}: max |gbfocal grad - finite differences| = "
          f"{np.abs(grad - finite_diff).max():.1e}")
    print(f"gamma={gamma}: max |gbfocal grad - (p - y)|            = "
          f"{np.abs(grad - logloss_grad).max():.2f}  (focal != log loss)")
    grad0, _ = binary_focal_grad_hess(y, z, alpha=None, gamma=0.0)
    print(f"gamma=0, alpha=None: max |grad - (p - y)| = {np.abs(grad0 - logloss_grad).max():.1e}"
          "  (focal loss reduces to log loss, as it should)")


def mistake_3_double_sigmoid(model: Any, X: np.ndarray, y: np.ndarray) -> None:
    """Applying a sigmoid to values that already are probabilities."""
    from scipy.special import expit
    from sklearn.metrics import brier_score_loss, f1_score, log_loss

    banner("Mistake 3: applying a sigmoid to probabilities")
    proba = model.predict_proba(X)[:, 1]
    squashed = expit(proba)  # the notebook's extra sigmoid
    print(f"predict_proba in [{proba.min():.3f}, {proba.max():.3f}]; sigmoid(proba) in "
          f"[{squashed.min():.3f}, {squashed.max():.3f}]: every row now looks positive")
    print(f"  log loss {log_loss(y, proba):.3f} -> {log_loss(y, squashed):.3f}, "
          f"Brier {brier_score_loss(y, proba):.3f} -> {brier_score_loss(y, squashed):.3f}, "
          f"F1@0.5 {f1_score(y, proba > 0.5):.3f} -> {f1_score(y, squashed > 0.5):.3f}")
    margin = model.decision_function(X)
    posterior = focal_posterior(margin, alpha=model.loss_.alpha_, gamma=model.gamma)
    print("gbfocal applies the link exactly once, to raw margins: predict_proba = "
          "focal_posterior(decision_function), max difference "
          f"{np.abs(proba - posterior).max():.1e}")
    print("  (a focal model's plain sigmoid(margin) is biased towards 1/2: mean "
          f"{expit(margin).mean():.3f} vs corrected {proba.mean():.3f}, "
          f"positive rate {y.mean():.3f})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.loss_.predict_proba(proba)
    for warning in caught:
        print(f"loss.predict_proba(probabilities) warns: {warning.message}")
    try:
        model.loss_.predict_proba(model.predict_proba(X))
    except ValueError as exc:
        print(f"loss.predict_proba(predict_proba output) raises: {str(exc)[:150]}...")


# ------------------------------------------------------------------------ the models
def _model_factories(alpha: Any, gamma: float, X_val: Any, y_val: Any,
                     seed: int) -> dict[str, Callable[[], tuple[Any, dict[str, Any]]]]:
    """Each model, with its fit arguments, made afresh (early-stopping callbacks keep state)."""
    import lightgbm as lgb
    import xgboost as xgb

    from .sklearn import FocalLGBMClassifier, FocalXGBClassifier

    focal: dict[str, Any] = {"alpha": alpha, "gamma": gamma, "random_state": seed,
             "early_stopping_rounds": EARLY_STOPPING_ROUNDS, "eval_metric": "average_precision"}

    def with_eval(model: Any, fit_kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        if isinstance(model, lgb.LGBMClassifier) and "eval_X" in inspect.signature(
            model.fit
        ).parameters:  # LightGBM >= 4.7 deprecates eval_set in favour of eval_X / eval_y
            return model, {**fit_kwargs, "eval_X": (X_val,), "eval_y": (y_val,)}
        return model, {**fit_kwargs, "eval_set": [(X_val, y_val)]}

    return {
        "LightGBM focal": lambda: with_eval(
            FocalLGBMClassifier(**focal, **BOOSTER["lightgbm"]), {}),
        "LightGBM log loss": lambda: with_eval(
            lgb.LGBMClassifier(objective="binary", random_state=seed, verbose=-1,
                               **BOOSTER["lightgbm"]),
            {"eval_metric": "average_precision",
             "callbacks": [lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)]}),
        "XGBoost focal": lambda: with_eval(
            FocalXGBClassifier(**focal, **BOOSTER["xgboost"]), {}),
        "XGBoost log loss": lambda: with_eval(
            xgb.XGBClassifier(objective="binary:logistic", eval_metric="aucpr",
                              early_stopping_rounds=EARLY_STOPPING_ROUNDS, random_state=seed,
                              **BOOSTER["xgboost"]),
            {"verbose": False}),
    }


def fit_models(alpha: Any, gamma: float, X_fit: Any, y_fit: Any, X_val: Any, y_val: Any,
               seed: int) -> dict[str, tuple[Any, float]]:
    """Four models trained the same way (early stopping on average precision on X_val),
    each with the seconds of a warm fit.

    The first fit of a model type in a process pays start-up costs that have nothing to do
    with the loss: numba loading the compiled gradient kernels, the library initialising
    its threads (measured: XGBoost focal 2.42 s cold against 0.16 s warm). A fit of a few
    rounds on the same data pays them before the timed fit.
    """
    fitted = {}
    for name, make in _model_factories(alpha, gamma, X_val, y_val, seed).items():
        model, fit_kwargs = make()
        model.set_params(n_estimators=_WARM_UP_ROUNDS).fit(X_fit, y_fit, **fit_kwargs)
        model, fit_kwargs = make()
        start = time.perf_counter()
        model.fit(X_fit, y_fit, **fit_kwargs)
        fitted[name] = (model, time.perf_counter() - start)
    return fitted


def best_f1_threshold(y: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y, proba)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[np.argmax(f1[:-1])])


def plain_link(model: Any, X: np.ndarray) -> np.ndarray:
    """The uncorrected sigmoid of a focal model's margins (what the notebook reported)."""
    return np.asarray(model.loss_.predict_proba(model.decision_function(X), corrected=False))


def report(fitted: dict[str, tuple[Any, float]], X_val: Any, y_val: Any, X_test: Any,
           y_test: Any) -> dict[str, np.ndarray]:
    from sklearn.metrics import (
        average_precision_score,
        brier_score_loss,
        f1_score,
        log_loss,
        roc_auc_score,
    )

    banner("Test set (threshold for F1 chosen on the validation split)")
    header = (f"{'model':<20}{'avg prec':>10}{'ROC AUC':>10}{'log loss':>10}{'Brier':>8}"
              f"{'F1':>8}{'rounds':>8}{'fit s':>8}")
    print(header)
    print("-" * len(header))
    test_proba = {}
    rows: list[tuple[str, Any, float, Callable[[Any], np.ndarray]]] = [
        (name, model, seconds, model.predict_proba) for name, (model, seconds) in fitted.items()]
    # the focal model's uncorrected sigmoid, for comparison: same ranking, worse probabilities
    focal, seconds = fitted["LightGBM focal"]
    rows.insert(1, ("  plain sigmoid", focal, seconds, lambda X: plain_link(focal, X)))
    for name, model, seconds, predict_proba in rows:
        threshold = best_f1_threshold(y_val, predict_proba(X_val)[:, 1])
        proba = predict_proba(X_test)[:, 1]
        test_proba[name] = proba
        rounds = getattr(model, "best_iteration_", None) or model.best_iteration + 1
        print(f"{name:<20}{average_precision_score(y_test, proba):>10.4f}"
              f"{roc_auc_score(y_test, proba):>10.4f}{log_loss(y_test, proba):>10.4f}"
              f"{brier_score_loss(y_test, proba):>8.4f}"
              f"{f1_score(y_test, proba >= threshold):>8.4f}{rounds:>8d}{seconds:>8.2f}")
    print(f"fit s: one warm fit (after a {_WARM_UP_ROUNDS}-round warm-up fit of the same "
          "model, which pays numba's and the library's start-up), one thread.")
    corrected, plain = test_proba["LightGBM focal"], test_proba["  plain sigmoid"]
    better = log_loss(y_test, corrected) < log_loss(y_test, plain)
    print("The focal models' predict_proba is the focal posterior (gbfocal.focal_posterior); "
          "'plain sigmoid' is the uncorrected\nsigmoid of the LightGBM focal margins: the same "
          f"ranking, {'worse' if better else 'here better'} log loss. The posterior undoes "
          "the focal loss's pull\ntowards 1/2 exactly only where the model fits; on 298 rows "
          "an early-stopped model with a large gamma\ncan be confidently wrong, and the "
          "correction then sharpens those errors too.")
    return test_proba


# ------------------------------------------------------------------------------ plots
def plot_all(study: Any, test_proba: dict[str, np.ndarray], y_test: np.ndarray,
             y_train: np.ndarray, output: Path) -> list[Path]:
    """The four plots, written into ``output`` (created if missing)."""
    from matplotlib.figure import Figure
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import average_precision_score, precision_recall_curve

    output.mkdir(parents=True, exist_ok=True)
    written = []

    fig = Figure(figsize=(5.5, 4.5))
    ax = fig.subplots()
    for name, proba in test_proba.items():
        if name.strip() == "plain sigmoid":
            continue  # the same ranking as "LightGBM focal"
        precision, recall, _ = precision_recall_curve(y_test, proba)
        ax.step(recall, precision, where="post",
                label=f"{name} (AP {average_precision_score(y_test, proba):.3f})")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall, test set",
           ylim=(0.5, 1.02))
    ax.legend(loc="lower left", fontsize=8)
    written.append(_save(fig, output / "pr_curves.png"))

    fig = Figure(figsize=(5.5, 4.5))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    # three curves: the built-in objective, the focal model's plain sigmoid, its posterior
    curves = {"LightGBM log loss (built-in)": test_proba["LightGBM log loss"],
              "LightGBM focal, plain sigmoid": test_proba["  plain sigmoid"],
              "LightGBM focal, corrected (predict_proba)": test_proba["LightGBM focal"]}
    for name, proba in curves.items():
        observed, predicted = calibration_curve(y_test, proba, n_bins=8, strategy="quantile")
        ax.plot(predicted, observed, marker="o", label=name)
    ax.set(xlabel="mean predicted probability", ylabel="fraction of positives",
           title="Calibration, test set (LightGBM)")
    ax.legend(loc="upper left", fontsize=8)
    written.append(_save(fig, output / "calibration.png"))

    trials = [t for t in study.trials if t.value is not None and t.state.name == "COMPLETE"]
    fig = Figure(figsize=(5.5, 4.5))
    ax = fig.subplots()
    numbers = [t.number for t in trials]
    values = [t.value for t in trials]
    ax.plot(numbers, values, "o", label="trial (CV average precision)")
    ax.plot(numbers, np.maximum.accumulate(values), "-", label="best so far")
    ax.set(xlabel="trial", ylabel="CV average precision", title="Optuna optimisation history")
    ax.legend(loc="lower right", fontsize=8)
    written.append(_save(fig, output / "optimization_history.png"))

    written.append(_alpha_gamma_map(trials, y_train, output / "alpha_gamma_contour.png"))
    return written


def _alpha_gamma_map(trials: list[Any], y_train: np.ndarray, path: Path) -> Path:
    """CV score over (alpha, gamma); 'balanced' and None drawn at their equivalent alpha."""
    from matplotlib.figure import Figure

    # positive-class share of the weight: alpha itself; None weighs both classes equally
    # (0.5); 'balanced' weighs each class by 1/count, i.e. the share n_neg / n
    equivalent = {None: 0.5, "balanced": float(np.mean(y_train == 0))}
    xs, gs, scores, kinds = [], [], [], []
    for t in trials:
        alpha = t.user_attrs["alpha"]
        kinds.append("range" if isinstance(alpha, float) else str(alpha))
        xs.append(alpha if isinstance(alpha, float) else equivalent[alpha])
        gs.append(t.params.get("gamma", np.nan))
        scores.append(t.value)
    x, g, score = np.asarray(xs), np.asarray(gs), np.asarray(scores)
    fig = Figure(figsize=(5.5, 4.5))
    ax = fig.subplots()
    if len(x) >= 4 and np.ptp(x) > 0 and np.ptp(g) > 0:
        try:
            contour = ax.tricontourf(x, g, score, levels=10, cmap="viridis", alpha=0.6)
            fig.colorbar(contour, ax=ax, label="CV average precision")
        except (ValueError, RuntimeError):  # degenerate (collinear) trial points
            pass
    markers = {"range": "o", "None": "s", "balanced": "^"}
    labels = {"range": "alpha from range", "None": "alpha=None (at 0.5)",
              "balanced": "alpha='balanced'"}
    for kind, marker in markers.items():
        mask = np.array([k == kind for k in kinds], dtype=bool)
        if mask.any():
            ax.scatter(x[mask], g[mask], c=score[mask], cmap="viridis", marker=marker,
                       edgecolors="black", label=labels[kind],
                       vmin=score.min(), vmax=score.max())
    ax.set(xlim=(0, 1), xlabel="alpha (positive-class weight share)", ylabel="gamma",
           title="Optuna trials over alpha and gamma")
    ax.legend(loc="upper right", fontsize=8)
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    # a Figure made without pyplot: no GUI backend, nothing kept in pyplot's registry
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    return path


# ------------------------------------------------------------------------------- main
def run(*, trials: int = 30, backend: str = "lightgbm", seed: int = 0,
        output: str | Path = DEFAULT_OUTPUT) -> list[Path]:
    """Run the demo (printing as it goes); returns the plot files written.

    Raises
    ------
    ImportError
        A package of the ``examples`` extra is missing (the install hint names it).
    ValueError
        ``trials`` below 1 or an unknown ``backend``.
    """
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials must be an integer >= 1, got {trials!r}")
    if backend not in BOOSTER:
        raise ValueError(f"backend must be one of {tuple(BOOSTER)}, got {backend!r}")
    for module in NEEDS:  # every missing package named before any work, one hint format
        import_optional(module, needed_by="gbfocal demo", extra="examples")
    import optuna
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    from .tuning import tune_focal

    start = time.perf_counter()
    data = load_breast_cancer()
    X, y = data.data, 1 - data.target  # malignant (target 0 in scikit-learn) is the positive
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    X_fit, X_val, y_fit, y_val = train_test_split(
        X_train, y_train, test_size=0.25, stratify=y_train, random_state=seed
    )
    print(f"breast cancer: {len(y)} rows, {X.shape[1]} features, {y.mean():.0%} malignant; "
          f"train {len(y_train)} (fit {len(y_fit)} + validation {len(y_val)}), "
          f"test {len(y_test)}")

    mistake_1_builtin_objective(X_fit, y_fit)
    mistake_2_logloss_gradient(seed)

    banner(f"Tuning alpha and gamma with Optuna ({trials} trials, {backend}, 3-fold CV)")
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    booster = {**BOOSTER[backend], "learning_rate": 0.1}  # faster during the search
    # tune_focal's default study prunes weak trials after a fold; here every trial runs all
    # folds so that the alpha/gamma map below shows them all
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.NopPruner(),
    )
    try:
        result = tune_focal(
            X_train, y_train, backend=backend, n_trials=trials, cv=3,
            scoring="average_precision", params=booster, early_stopping_rounds=20,
            random_state=seed, study=study, refit=False,
        )
    finally:
        optuna.logging.set_verbosity(level)
    focal = result.arms["focal"].best_params
    alpha, gamma = focal["alpha"], focal["gamma"]
    alpha_text = f"{alpha:.3f}" if isinstance(alpha, float) else repr(alpha)
    print(f"focal arm: best CV average precision {result.arms['focal'].best_score:.4f} with "
          f"alpha={alpha_text}, gamma={gamma:.3f} (used for both libraries below)")
    print(f"log-loss arm (gamma=0, alpha=None, the same search): best CV average precision "
          f"{result.baseline_score:.4f}")
    print("  (each arm's best trial is scored on the folds that chose it: optimistic, and more "
          "so for the larger focal search)")
    comparison = result.comparison
    assert comparison is not None and comparison.log_loss_score is not None
    low, high = comparison.interval or (float("nan"), float("nan"))
    print(f"on {comparison.n_rows} training rows neither search saw (holdout): focal "
          f"{comparison.focal_score:.4f}, log loss {comparison.log_loss_score:.4f}, difference "
          f"{comparison.difference:+.4f}, 95% interval {low:+.4f} to {high:+.4f}")
    verdicts = {"focal": "focal loss is better beyond noise",
                "log_loss": "log loss is better beyond noise: use it",
                "no_difference": "no difference beyond noise: a tie, which is an honest answer"}
    print(f"  -> verdict: {verdicts[str(result.verdict)]}; tune_focal returns the "
          f"{result.selected.replace('_', '-')} arm")

    fitted = fit_models(alpha, gamma, X_fit, y_fit, X_val, y_val, seed)
    test_proba = report(fitted, X_val, y_val, X_test, y_test)
    mistake_3_double_sigmoid(fitted["LightGBM focal"][0], X_test, y_test)

    written = plot_all(result.study, test_proba, y_test, y_train, Path(output).resolve())
    banner("Plots")
    for path in written:
        print(f"wrote {path}")
    print(f"\ndone in {time.perf_counter() - start:.0f} s")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``examples/breast_cancer.py``'s entry point (``gbfocal demo`` is the CLI's)."""
    parser = add_arguments(argparse.ArgumentParser(
        description="Tune focal loss on the breast-cancer data and compare it with log loss."))
    args = parser.parse_args(argv)
    run(trials=args.trials, backend=args.backend, seed=args.seed, output=args.output)
    return 0
