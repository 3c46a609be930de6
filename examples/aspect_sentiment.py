"""Aspect-based sentiment with a multi-output focal loss (gbfocal).

Short generated reviews mention a few of 11 aspects (price, service, quality, ...),
each with a sentiment: negative, neutral or positive, with neutral rare and the mix
different per aspect. Aspects a review does not mention carry no label (-1). The
features are TF-IDF word 1-3-grams of the text.

Models compared on a held-out set (macro F1 over the labelled entries of each aspect,
and fit time):

* focal LightGBM: ``FocalMultiOutputClassifier(backend="lightgbm")``, one booster
  per aspect on its labelled rows, all sharing the global "balanced" alpha;
* focal XGBoost: ``FocalMultiOutputClassifier(backend="xgboost")``, one booster for
  all 11 x 3 score columns;
* built-in LightGBM / XGBoost: one plain multiclass model per aspect (softmax
  cross-entropy), the usual baseline.

``--compare-lightgbm-layouts`` also trains one LightGBM booster with 33 score columns
through :class:`gbfocal.MultiOutputFocalLoss` (the alternative the estimator does not
use) and prints its time and F1 next to the per-aspect boosters.

Columns: "focal LGBM" / "focal XGB" (the estimator), "built-in LGBM" / "built-in XGB"
(per-aspect softmax models), "focal LGBM 1x33" (one booster, 33 columns).

Run ``python examples/aspect_sentiment.py`` (about a minute on 2 cores; add
``--libraries lightgbm xgboost`` for XGBoost, several times slower).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

ASPECTS: dict[str, tuple[list[str], dict[str, list[str]]]] = {
    "price": (["price", "cost", "prices"],
              {"positive": ["cheap", "affordable", "a bargain"],
               "negative": ["overpriced", "a rip-off", "too expensive"]}),
    "service": (["service", "support", "help desk"],
                {"positive": ["helpful", "quick to respond"],
                 "negative": ["slow", "unhelpful", "useless"]}),
    "quality": (["quality", "build", "material"],
                {"positive": ["solid", "durable", "well made"],
                 "negative": ["flimsy", "cheaply made", "broke quickly"]}),
    "delivery": (["delivery", "shipping", "courier"],
                 {"positive": ["fast", "on time", "early"],
                  "negative": ["late", "delayed", "lost"]}),
    "packaging": (["packaging", "box", "wrapping"],
                  {"positive": ["neat", "secure", "tidy"],
                   "negative": ["damaged", "torn", "crushed"]}),
    "staff": (["staff", "waiter", "employees"],
              {"positive": ["friendly", "polite", "kind"],
               "negative": ["rude", "arrogant", "dismissive"]}),
    "cleanliness": (["room", "bathroom", "place"],
                    {"positive": ["spotless", "clean", "fresh"],
                     "negative": ["dirty", "filthy", "smelly"]}),
    "location": (["location", "neighbourhood", "area"],
                 {"positive": ["central", "convenient", "quiet"],
                  "negative": ["remote", "noisy", "unsafe"]}),
    "food": (["food", "meal", "dish"],
             {"positive": ["delicious", "tasty", "flavourful"],
              "negative": ["bland", "cold", "stale"]}),
    "ambience": (["atmosphere", "decor", "music"],
                 {"positive": ["cosy", "relaxing", "lovely"],
                  "negative": ["gloomy", "loud", "depressing"]}),
    "app": (["app", "website", "checkout"],
            {"positive": ["intuitive", "smooth", "easy to use"],
             "negative": ["buggy", "confusing", "crashes"]}),
}
# Words that carry sentiment but not the aspect: a review that mixes aspects and
# generic words is ambiguous in a bag of words, as real reviews are.
GENERIC = {
    "positive": ["great", "excellent", "good", "amazing"],
    "negative": ["bad", "terrible", "awful", "poor"],
    "neutral": ["okay", "average", "fine", "acceptable", "nothing special", "as expected"],
}
SENTIMENTS = ["negative", "neutral", "positive"]
FILLERS = ["overall", "honestly", "to be fair", "i think", "we noticed", "last week", "as usual"]


def make_reviews(
    n: int, seed: int = 0, mention_rate: float = 0.25, label_noise: float = 0.05
) -> tuple[list[str], np.ndarray]:
    """Generated reviews and labels (n, 11): sentiment strings, -1 where not mentioned."""
    rng = np.random.default_rng(seed)
    names = list(ASPECTS)
    shares = rng.dirichlet([3.0, 1.5, 6.0], size=len(names))  # per aspect: neg, neu, pos
    mentioned = rng.random((n, len(names))) < rng.uniform(0.5, 1.5, len(names)) * mention_rate
    silent = ~mentioned.any(axis=1)
    mentioned[silent, rng.integers(0, len(names), silent.sum())] = True
    labels = np.full((n, len(names)), -1, dtype=object)
    texts = []
    for i in range(n):
        phrases = []
        for a in np.flatnonzero(mentioned[i]):
            sentiment = SENTIMENTS[rng.choice(3, p=shares[a])]
            labels[i, a] = sentiment
            shown = sentiment if rng.random() > label_noise else SENTIMENTS[rng.integers(3)]
            nouns, specific = ASPECTS[names[a]]
            words = GENERIC[shown] + specific.get(shown, [])
            phrase = f"the {rng.choice(nouns)} was {rng.choice(words)}"
            if rng.random() < 0.3:
                phrase = f"{rng.choice(FILLERS)} {phrase}"
            phrases.append(phrase)
        rng.shuffle(phrases)
        texts.append(" and ".join(phrases) + ".")
    return texts, labels


def macro_f1_per_aspect(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    from sklearn.metrics import f1_score

    scores = []
    for a in range(y_true.shape[1]):
        labelled = y_true[:, a] != -1
        scores.append(f1_score(y_true[labelled, a].astype(str), y_pred[labelled, a].astype(str),
                               labels=SENTIMENTS, average="macro", zero_division=0))
    return np.array(scores)


def timed(fit: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fit()
    return result, time.perf_counter() - start


# --------------------------------------------------------------------------- models
def builtin_per_aspect(library: str, X, y, X_test, args) -> np.ndarray:
    """One plain multiclass model (softmax cross-entropy) per aspect, on its labelled rows."""
    if library == "lightgbm":
        from lightgbm import LGBMClassifier

        def model():
            return LGBMClassifier(n_estimators=args.rounds, learning_rate=0.1, num_leaves=15,
                                  min_child_samples=5, n_jobs=args.threads, verbose=-1,
                                  random_state=args.seed)
    else:
        from xgboost import XGBClassifier

        def model():
            return XGBClassifier(n_estimators=args.rounds, learning_rate=0.1, max_depth=4,
                                 tree_method="hist", n_jobs=args.threads, random_state=args.seed)
    pred = np.empty((X_test.shape[0], y.shape[1]), dtype=object)
    for a in range(y.shape[1]):
        rows = y[:, a] != -1
        classes, codes = np.unique(y[rows, a].astype(str), return_inverse=True)
        clf = model().fit(X[rows], codes)
        pred[:, a] = classes[clf.predict(X_test)]
    return pred


def focal(library: str, X, y, X_test, args) -> np.ndarray:
    from gbfocal import FocalMultiOutputClassifier

    params = ({"num_leaves": 15, "min_child_samples": 5} if library == "lightgbm"
              else {"max_depth": 4})
    clf = FocalMultiOutputClassifier(
        backend=library, alpha=args.alpha, gamma=args.gamma, n_estimators=args.rounds,
        learning_rate=0.1, n_jobs=args.threads, random_state=args.seed, params=params,
    )
    return clf.fit(X, y).predict(X_test)


def focal_lightgbm_joint(X, y, X_test, args) -> np.ndarray:
    """One LightGBM booster with 11 x 3 score columns, via the loss object."""
    import lightgbm as lgb

    from gbfocal import MultiOutputFocalLoss

    classes = np.array(SENTIMENTS, dtype=object)
    codes = np.full(y.shape, -1)
    for k, name in enumerate(classes):
        codes[y == name] = k
    loss = MultiOutputFocalLoss(y.shape[1], 3, alpha=args.alpha, gamma=args.gamma)
    init = loss.init_score(codes).ravel()
    data = lgb.Dataset(X, label=loss.lgb_label(codes), init_score=np.tile(init, (len(y), 1)))
    params = {"objective": loss.lgb_objective, "num_class": init.size, "metric": "None",
              "learning_rate": 0.1, "num_leaves": 15, "min_child_samples": 5,
              "num_threads": args.threads, "seed": args.seed, "verbose": -1}
    booster = lgb.train(params, data, args.rounds)
    raw = booster.predict(X_test, raw_score=True) + init
    return classes[loss.predict_proba(raw).argmax(axis=2)]


# --------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reviews", type=int, default=6000, help="number of reviews (2/3 train)")
    parser.add_argument("--rounds", type=int, default=100, help="boosting rounds")
    parser.add_argument("--gamma", type=float, default=2.0, help="focal gamma")
    parser.add_argument("--alpha", default="balanced", choices=["balanced", "none"],
                        help="global class weights of the focal models")
    # gbfocal's thread rule: one thread per fit unless asked. OpenMP threads that share
    # busy cores spin-wait on each other: on a busy 2-core machine examples/multilabel.py
    # and the README's multi-output examples did not finish in 5-10 minutes with 2 threads,
    # and took 11-106 s with 1
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per model (default 1; more pay only on an idle machine)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--libraries", nargs="+", default=["lightgbm"],
                        choices=["lightgbm", "xgboost"],
                        help="libraries to compare (xgboost: one booster for all 33 score "
                             "columns, several times slower)")
    parser.add_argument("--compare-lightgbm-layouts", action="store_true",
                        help="also train one LightGBM booster with 33 score columns")
    args = parser.parse_args(argv)
    args.alpha = None if args.alpha == "none" else args.alpha
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts, labels = make_reviews(args.reviews, seed=args.seed)
    n_train = 2 * args.reviews // 3
    vectorizer = TfidfVectorizer(ngram_range=(1, 3), min_df=3, max_features=2000,
                                 sublinear_tf=True, dtype=np.float64)
    X = vectorizer.fit_transform(texts[:n_train])
    X_test = vectorizer.transform(texts[n_train:])
    y, y_test = labels[:n_train], labels[n_train:]
    labelled = y != -1
    counts = {s: int((y[labelled] == s).sum()) for s in SENTIMENTS}
    print(f"{n_train} training reviews, {X.shape[1]} TF-IDF features, "
          f"{labelled.mean():.0%} of the (review, aspect) entries labelled; "
          f"sentiments of the labelled pairs: {counts}")
    print(f"example: {texts[0]!r}")

    runs: list[tuple[str, Callable[[], np.ndarray]]] = []
    short = {"lightgbm": "LGBM", "xgboost": "XGB"}
    for lib in args.libraries:
        runs.append((f"focal {short[lib]}", lambda lib=lib: focal(lib, X, y, X_test, args)))
        runs.append((f"built-in {short[lib]}",
                     lambda lib=lib: builtin_per_aspect(lib, X, y, X_test, args)))
    if args.compare_lightgbm_layouts:
        runs.append(("focal LGBM 1x33",
                     lambda: focal_lightgbm_joint(X, y, X_test, args)))

    results = {}
    for name, fit in runs:
        pred, seconds = timed(fit)
        results[name] = (macro_f1_per_aspect(y_test, pred), seconds)
        print(f"  trained {name:<16} {seconds:6.1f} s")

    width = max(len(n) for n in results)
    print(f"\nmacro F1 per aspect (test set, labelled entries only), alpha={args.alpha}, "
          f"gamma={args.gamma}")
    header = f"{'aspect':<12}" + "".join(f"{name:>{width + 2}}" for name in results)
    print(header)
    for a, aspect in enumerate(ASPECTS):
        print(f"{aspect:<12}" + "".join(f"{f1[a]:>{width + 2}.3f}" for f1, _ in results.values()))
    print(f"{'mean':<12}" + "".join(f"{f1.mean():>{width + 2}.3f}" for f1, _ in results.values()))
    print(f"{'fit time s':<12}" + "".join(f"{t:>{width + 2}.1f}" for _, t in results.values()))


if __name__ == "__main__":
    main()
