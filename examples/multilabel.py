"""Multi-label image tagging with focal loss (gbfocal.FocalMultiLabelClassifier).

The data: "which digits are in this picture?". Each image is a 2 x 2 grid of cells, and each
cell holds, with probability 0.6, one of scikit-learn's bundled 8 x 8 handwritten digits (the
UCI optdigits scans, 1,797 images, shipped with scikit-learn: nothing is downloaded), or is
left blank; every pixel gets sensor noise. The 10 labels say which digits appear anywhere in
the image, so a row has 0 to 4 labels on, like the object tags of a photo (Pascal VOC, COCO)
in miniature. The digits are drawn with long-tailed (Zipf) frequencies, so the labels range
from about 3 % to 75 % of the images, the imbalance real tag sets have. The training and test
images are built from disjoint halves of the handwritten digits (the test set shows
handwriting the models never saw), and by default 10 % of the training (image, label) pairs
are unannotated (missing_label=-1), as in crowd-sourced tags. Features: the 256 pixels.

Models (the same boosting settings for all; test set: every label known):

* focal LightGBM: ``FocalMultiLabelClassifier(backend="lightgbm")``, one binary focal booster
  per label on its annotated rows;
* focal XGBoost: ``FocalMultiLabelClassifier(backend="xgboost")``, one booster with an
  ``(n, 10)`` label;
* built-in LightGBM / XGBoost: one plain binary model (log loss) per label on its annotated
  rows, the usual baseline (``sklearn.multioutput.MultiOutputClassifier`` does the same).

``--compare-layouts`` also trains the XGBoost focal loss with ``multi_strategy=
"multi_output_tree"`` and as one booster per label (``FocalXGBClassifier`` with the label's
``alpha_``), to time the layouts the estimator chooses between.

Printed: macro and micro average precision (AP), the mean AP of the rare labels (under 10 %
of the training images) and the fit time. Run ``python examples/multilabel.py`` (well under
a minute on 2 cores); options ``--backend``, ``--seed``, ``--rows``, ``--rounds``, ``--gamma``,
``--alpha``, ``--unknown``, ``--threads``, ``--compare-layouts``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

N_LABELS = 10
CELLS = 4  # a 2 x 2 grid of 8 x 8 cells


def make_images(
    n: int, digits: np.ndarray, classes: np.ndarray, frequencies: np.ndarray,
    rng: np.random.Generator, fill: float = 0.6, noise: float = 4.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images (n, 256) of up to 4 digits from ``digits``, and their 0/1 tags (n, 10)."""
    by_class = [digits[classes == c] for c in range(N_LABELS)]
    # Noise first, then the digits on top: blank cells look like blank paper, not zeros.
    X = np.clip(rng.normal(scale=noise, size=(n, CELLS * 64)), 0, None)
    Y = np.zeros((n, N_LABELS), dtype=np.int64)
    filled = rng.random((n, CELLS)) < fill
    drawn = rng.choice(N_LABELS, size=(n, CELLS), p=frequencies)
    for i, cell in zip(*np.nonzero(filled), strict=True):
        pool = by_class[drawn[i, cell]]
        X[i, cell * 64:(cell + 1) * 64] += pool[rng.integers(len(pool))]
        Y[i, drawn[i, cell]] = 1
    return X, Y


def make_data(rows: int, seed: int, unknown: float) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(digits.target))
    train_digits, test_digits = np.array_split(order, 2)
    zipf = 1.0 / np.arange(1, N_LABELS + 1) ** 1.5
    frequencies = np.empty(N_LABELS)
    frequencies[rng.permutation(N_LABELS)] = zipf / zipf.sum()  # which digit is rare: random
    X, Y = make_images(rows, digits.data[train_digits], digits.target[train_digits],
                       frequencies, rng)
    X_test, Y_test = make_images(rows, digits.data[test_digits], digits.target[test_digits],
                                 frequencies, rng)
    Y = Y.copy()
    Y[rng.random(Y.shape) < unknown] = -1  # unannotated (image, label) pairs
    return X, Y, X_test, Y_test


# --------------------------------------------------------------------------- models
def settings(library: str, args: argparse.Namespace) -> dict[str, Any]:
    """The boosting settings every model of ``library`` shares (estimator arguments)."""
    common = {"n_estimators": args.rounds, "learning_rate": 0.1, "colsample_bytree": 0.5,
              "random_state": args.seed, "n_jobs": args.threads}
    if library == "lightgbm":
        return {**common, "reg_lambda": 0.0, "tree": {"num_leaves": 15}}
    return {**common, "reg_lambda": 1.0, "tree": {"max_depth": 4}}


def focal(library: str, X, Y, X_test, args, **extra: Any) -> np.ndarray:
    from gbfocal.multilabel import FocalMultiLabelClassifier

    kw = settings(library, args)
    clf = FocalMultiLabelClassifier(backend=library, alpha=args.alpha, gamma=args.gamma,
                                    params=kw.pop("tree"), **kw, **extra)
    return clf.fit(X, Y).predict_proba(X_test)


def builtin_per_label(library: str, X, Y, X_test, args) -> np.ndarray:
    """One plain binary model (log loss) per label, on the rows where it is annotated."""
    kw = settings(library, args)
    tree = kw.pop("tree")
    if library == "lightgbm":
        from lightgbm import LGBMClassifier

        def model() -> Any:
            return LGBMClassifier(objective="binary", verbose=-1, **tree, **kw)
    else:
        from xgboost import XGBClassifier

        def model() -> Any:
            return XGBClassifier(objective="binary:logistic", tree_method="hist", **tree, **kw)
    columns = []
    for label in range(Y.shape[1]):
        rows = Y[:, label] >= 0
        columns.append(model().fit(X[rows], Y[rows, label]).predict_proba(X_test)[:, 1])
    return np.column_stack(columns)


def focal_xgboost_per_label(X, Y, X_test, args) -> np.ndarray:
    """The XGBoost focal loss as one booster per label, with the multi-label loss's alpha_."""
    from gbfocal import FocalXGBClassifier, MultiLabelFocalLoss

    alpha = MultiLabelFocalLoss(Y.shape[1], alpha=args.alpha, gamma=args.gamma).fit(Y).alpha_
    kw = settings("xgboost", args)
    tree = kw.pop("tree")
    columns = []
    for label in range(Y.shape[1]):
        rows = Y[:, label] >= 0
        clf = FocalXGBClassifier(alpha=None if args.alpha is None else alpha[label].tolist(),
                                 gamma=args.gamma, **tree, **kw)
        columns.append(clf.fit(X[rows], Y[rows, label]).predict_proba(X_test)[:, 1])
    return np.column_stack(columns)


# --------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="both", choices=["lightgbm", "xgboost", "both"],
                        help="library of the models compared")
    parser.add_argument("--seed", type=int, default=0, help="data and model seed")
    parser.add_argument("--rows", type=int, default=1500, help="training images (as many test)")
    parser.add_argument("--rounds", type=int, default=80, help="boosting rounds")
    parser.add_argument("--gamma", type=float, default=2.0, help="focal gamma")
    parser.add_argument("--alpha", default="none", choices=["none", "balanced"],
                        help="per-label class weights of the focal models")
    parser.add_argument("--unknown", type=float, default=0.1,
                        help="share of unannotated training (image, label) pairs")
    # gbfocal's thread rule: one thread per fit unless asked. OpenMP threads that share
    # busy cores spin-wait on each other: on a busy 2-core machine examples/multilabel.py
    # and the README's multi-output examples did not finish in 5-10 minutes with 2 threads,
    # and took 11-106 s with 1
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per model (default 1; more pay only on an idle machine)")
    parser.add_argument("--compare-layouts", action="store_true",
                        help="also time XGBoost multi_output_tree and one booster per label")
    args = parser.parse_args(argv)
    args.alpha = None if args.alpha == "none" else args.alpha
    return args


def main(argv: list[str] | None = None) -> None:
    from sklearn.metrics import average_precision_score

    args = parse_args(argv)
    X, Y, X_test, Y_test = make_data(args.rows, args.seed, args.unknown)
    known = Y >= 0
    prevalence = (Y == 1).sum(axis=0) / known.sum(axis=0)
    rare = prevalence < 0.10
    print(f"{len(Y)} training and {len(Y_test)} test images, {X.shape[1]} pixels, "
          f"{N_LABELS} labels, {1 - known.mean():.0%} of the training labels unannotated")
    print("label prevalence (training): "
          + ", ".join(f"{d}: {p:.1%}" for d, p in enumerate(prevalence)))

    libraries = ["lightgbm", "xgboost"] if args.backend == "both" else [args.backend]
    short = {"lightgbm": "LightGBM", "xgboost": "XGBoost"}
    runs: list[tuple[str, Callable[[], np.ndarray]]] = []
    for lib in libraries:
        runs.append((f"focal {short[lib]}", lambda lib=lib: focal(lib, X, Y, X_test, args)))
        runs.append((f"built-in {short[lib]} per label",
                     lambda lib=lib: builtin_per_label(lib, X, Y, X_test, args)))
    if args.compare_layouts:
        runs.append(("focal XGBoost multi_output_tree", lambda: focal(
            "xgboost", X, Y, X_test, args, multi_strategy="multi_output_tree")))
        runs.append(("focal XGBoost per label",
                     lambda: focal_xgboost_per_label(X, Y, X_test, args)))

    rows = []
    for name, fit in runs:
        start = time.perf_counter()
        proba = fit()
        seconds = time.perf_counter() - start
        per_label = average_precision_score(Y_test, proba, average=None)
        rows.append((name, per_label.mean(),
                     average_precision_score(Y_test, proba, average="micro"),
                     per_label[rare].mean() if rare.any() else float("nan"), seconds))

    print(f"\ntest set, gamma={args.gamma}, alpha={args.alpha}, {args.rounds} rounds, "
          f"{args.threads} threads; rare labels: {np.flatnonzero(rare).tolist()}")
    width = max(len(r[0]) for r in rows)
    print(f"{'model':<{width}}  {'macro AP':>8}  {'micro AP':>8}  {'rare AP':>8}  {'fit s':>6}")
    for name, macro, micro, rare_ap, seconds in rows:
        print(f"{name:<{width}}  {macro:8.4f}  {micro:8.4f}  {rare_ap:8.4f}  {seconds:6.1f}")


if __name__ == "__main__":
    main()
