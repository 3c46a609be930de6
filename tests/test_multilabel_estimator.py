"""FocalMultiLabelClassifier: several independent 0/1 labels per row, unknown labels.

The focal models are checked against independent references: with gamma = 0 and no alpha
the focal loss is log loss, so LightGBM's per-label boosters must equal one built-in binary
``LGBMClassifier`` per label, and the XGBoost booster must equal a booster trained with a
hand-written masked log-loss objective (and the built-in per-label ``XGBClassifier`` up to
float32 rounding).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from scipy.special import expit
from sklearn.base import clone
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    make_scorer,
    roc_auc_score,
)
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

from gbfocal import MultiLabelFocalLoss, focal_posterior
from gbfocal.multilabel import FocalMultiLabelClassifier

BACKENDS = ["lightgbm", "xgboost"]


def data(n=300, n_labels=3, seed=0, unknown=0.0):
    """Features and labels with 12 %, 35 % and 55 % positives; ``unknown`` share set to -1."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    thresholds = np.array([1.2, 0.4, -0.1, 0.8])[:n_labels]
    Y = (X[:, :n_labels] + rng.normal(scale=0.6, size=(n, n_labels)) > thresholds).astype(int)
    Y[rng.random(Y.shape) < unknown] = -1
    return X, Y


def model(backend="lightgbm", **kw):
    kw = {"n_estimators": 15, "n_jobs": 1, "random_state": 0, **kw}
    return FocalMultiLabelClassifier(backend=backend, **kw)


# --------------------------------------------------------------------------- predictions
@pytest.mark.parametrize("backend", BACKENDS)
def test_predictions_and_probability_layout(backend):
    X, Y = data(unknown=0.1)
    clf = model(backend, alpha="balanced", n_estimators=30).fit(X[:200], Y[:200])
    assert clf.n_outputs_ == 3 and clf.n_features_in_ == 5
    assert len(clf.classes_) == 3 and all(c.tolist() == [0, 1] for c in clf.classes_)
    assert clf.alpha_.shape == (3, 2) and clf.init_score_.shape == (3,)
    assert len(clf.boosters_) == (3 if backend == "lightgbm" else 1)
    raw = clf.decision_function(X[200:])
    proba = clf.predict_proba(X[200:])
    pred = clf.predict(X[200:])
    assert raw.shape == proba.shape == pred.shape == (100, 3)
    assert ((proba > 0) & (proba < 1)).all()
    assert_array_equal(pred, (proba > 0.5).astype(int))  # threshold on what is returned
    assert set(np.unique(pred)) <= {0, 1}
    for label in range(3):  # each column is that label's focal posterior
        expected = focal_posterior(raw[:, label], alpha=clf.alpha_[label], gamma=clf.gamma)
        assert_allclose(proba[:, label], expected, rtol=1e-12)
        known = Y[200:, label] >= 0
        ap = average_precision_score(Y[200:][known, label], proba[known, label])
        assert ap > Y[200:][known, label].mean() + 0.2  # far better than chance
    plain = clone(clf).set_params(correct_proba=False).fit(X[:200], Y[:200])
    assert_allclose(plain.predict_proba(X[200:]), expit(raw), rtol=1e-12)
    assert_array_equal(plain.predict(X[200:]), (expit(raw) > 0.5).astype(int))


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_label(backend):
    """L = 1 is the binary focal model on the known rows (XGBoost hands an (n, 1) label
    back flat, so that backend trains the binary loss directly)."""
    from gbfocal import FocalLGBMClassifier, FocalXGBClassifier

    X, Y = data(n_labels=1, unknown=0.1)
    clf = model(backend, alpha="balanced").fit(X, Y)
    assert clf.predict_proba(X).shape == (300, 1) and clf.predict(X).shape == (300, 1)
    rows = Y[:, 0] >= 0
    ref = FocalLGBMClassifier if backend == "lightgbm" else FocalXGBClassifier
    kw = {} if backend == "lightgbm" else {"learning_rate": 0.1, "reg_lambda": 0.0}
    single = ref(alpha="balanced", n_estimators=15, n_jobs=1, random_state=0, **kw)
    single.fit(X[rows], Y[rows, 0])
    assert_allclose(clf.predict_proba(X)[:, 0], single.predict_proba(X)[:, 1], rtol=1e-6)


def test_the_boosters_carry_the_global_per_label_weights():
    """LightGBM: label l's booster is FocalLGBMClassifier(alpha=alpha_[l]) on its known rows."""
    from gbfocal import FocalLGBMClassifier

    X, Y = data(unknown=0.2)
    clf = model(alpha="balanced", gamma=1.5, hessian="exact").fit(X, Y)
    loss = MultiLabelFocalLoss(3, alpha="balanced", gamma=1.5).fit(Y)
    assert_allclose(clf.alpha_, loss.alpha_, rtol=1e-15)
    assert_allclose(clf.init_score_, loss.init_score(Y), rtol=1e-15)
    proba = clf.predict_proba(X)
    for label in range(3):
        rows = Y[:, label] >= 0
        ref = FocalLGBMClassifier(alpha=clf.alpha_[label].tolist(), gamma=1.5, hessian="exact",
                                  n_estimators=15, n_jobs=1, random_state=0)
        ref.fit(X[rows], Y[rows, label])
        assert_allclose(proba[:, label], ref.predict_proba(X)[:, 1], rtol=1e-10)


# --------------------------------------------------------------------------- log-loss references
def test_lightgbm_gamma_zero_equals_builtin_binary_per_label():
    """Same rounds and parameters, bagging included. Column subsampling is left at 1:
    LightGBM draws other columns under a custom objective than under a built-in one
    (LightGBM issues #5543, #6053), whatever the loss."""
    from lightgbm import LGBMClassifier

    X, Y = data(unknown=0.15)
    kw = {"n_estimators": 25, "learning_rate": 0.2, "subsample": 0.8, "reg_lambda": 0.5,
          "random_state": 3, "n_jobs": 1}
    clf = FocalMultiLabelClassifier(gamma=0.0, params={"num_leaves": 7}, **kw).fit(X, Y)
    proba = clf.predict_proba(X)
    for label in range(3):
        rows = Y[:, label] >= 0  # the built-in model simply drops the unknown rows
        ref = LGBMClassifier(objective="binary", subsample_freq=1, num_leaves=7, verbose=-1, **kw)
        ref.fit(X[rows], Y[rows, label])
        assert_allclose(proba[:, label], ref.predict_proba(X)[:, 1], rtol=0, atol=1e-6)


@pytest.mark.parametrize("strategy", ["one_output_per_tree", "multi_output_tree"])
def test_xgboost_gamma_zero_equals_masked_log_loss(strategy):
    """Against a booster trained with a hand-written log-loss objective that zeroes the
    unknown entries: same parameters, subsampling included."""
    import xgboost as xgb

    X, Y = data(unknown=0.15)
    kw = {"n_estimators": 20, "learning_rate": 0.3, "subsample": 0.8, "colsample_bytree": 0.7,
          "reg_lambda": 1.0, "random_state": 1, "n_jobs": 1}
    clf = FocalMultiLabelClassifier(backend="xgboost", gamma=0.0, multi_strategy=strategy,
                                    params={"max_depth": 3}, **kw).fit(X, Y)
    known = Y >= 0
    positive = ((Y == 1) & known).sum(axis=0) / known.sum(axis=0)
    init = np.log(positive / (1 - positive))
    assert_allclose(clf.init_score_, init, rtol=1e-9)

    def log_loss(predt, dtrain):
        y = dtrain.get_label().reshape(predt.shape)
        p = expit(predt.astype(np.float64))
        return np.where(y >= 0, p - y, 0.0), np.where(y >= 0, p * (1 - p), 0.0)

    params = {"eta": 0.3, "subsample": 0.8, "colsample_bytree": 0.7, "lambda": 1.0, "seed": 1,
              "nthread": 1, "max_depth": 3, "tree_method": "hist", "multi_strategy": strategy,
              "base_score": 0.0, "disable_default_eval_metric": True}
    dtrain = xgb.DMatrix(X, label=Y.astype(float), base_margin=np.tile(init, (len(Y), 1)))
    booster = xgb.train(params, dtrain, 20, obj=log_loss)
    expected = expit(booster.predict(xgb.DMatrix(X), output_margin=True) + init)
    assert_allclose(clf.predict_proba(X), expected, rtol=0, atol=1e-6)


def test_xgboost_gamma_zero_matches_builtin_binary_per_label():
    """One XGBoost booster for all labels vs one built-in binary:logistic model per label.
    Up to 1e-3, not 1e-6: XGBoost's built-in objective rounds p - y in float32, a custom
    objective's float64 gradient is rounded once at the end, and on this data that flips
    one near-tied split (the masked log-loss test above pins the objective to 1e-6)."""
    from xgboost import XGBClassifier

    X, Y = data()
    kw = {"n_estimators": 20, "learning_rate": 0.3, "reg_lambda": 1.0, "random_state": 1,
          "n_jobs": 1}
    clf = FocalMultiLabelClassifier(backend="xgboost", gamma=0.0, params={"max_depth": 3},
                                    **kw).fit(X, Y)
    proba = clf.predict_proba(X)
    for label in range(3):
        ref = XGBClassifier(objective="binary:logistic", tree_method="hist", max_depth=3,
                            base_score=Y[:, label].mean(), **kw).fit(X, Y[:, label])
        assert_allclose(proba[:, label], ref.predict_proba(X)[:, 1], rtol=0, atol=1e-3)


# --------------------------------------------------------------------------- unknown labels
@pytest.mark.parametrize("backend", BACKENDS)
def test_unknown_labels_are_ignored_whatever_the_marker(backend):
    X, Y = data(unknown=0.2)
    reference = model(backend, alpha="balanced").fit(X, Y).predict_proba(X)
    as_nan = np.where(Y < 0, np.nan, Y)
    none = np.where(Y < 0, None, Y).astype(object)
    seven = np.where(Y < 0, 7, Y)
    for marker, labels in [(np.nan, as_nan), (None, as_nan), (None, none), (7, seven)]:
        clf = model(backend, alpha="balanced", missing_label=marker).fit(X, labels)
        assert_array_equal(clf.predict_proba(X), reference)


def test_lightgbm_rows_without_any_known_label_change_nothing():
    """Each LightGBM booster sees only the rows where its label is known."""
    X, Y = data(unknown=0.1)
    rng = np.random.default_rng(5)
    X_more = np.vstack([X, rng.normal(scale=10, size=(50, 5))])
    Y_more = np.vstack([Y, np.full((50, 3), -1)])
    a = model(alpha="balanced").fit(X, Y)
    b = model(alpha="balanced").fit(X_more, Y_more)
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert_array_equal(a.alpha_, b.alpha_)


# --------------------------------------------------------------------------- inputs
@pytest.mark.parametrize("backend", BACKENDS)
def test_sparse_bool_and_frame_labels_equal_dense(backend):
    pd = pytest.importorskip("pandas")
    X, Y = data()
    expected = model(backend).fit(X, Y).predict_proba(X)
    for labels in (sparse.csr_matrix(Y), sparse.csc_array(Y), Y.astype(bool), Y.tolist(),
                   pd.DataFrame(Y, columns=["a", "b", "c"]), Y.astype(np.float32)):
        assert_array_equal(model(backend).fit(X, labels).predict_proba(X), expected)
    # sparse features too
    assert model(backend).fit(sparse.csr_matrix(X), Y).predict(X).shape == (300, 3)


def test_sample_weight_enters_the_weights_and_the_start():
    X, Y = data(unknown=0.1)
    w = np.random.default_rng(2).uniform(0.2, 3.0, size=len(Y))
    clf = model(alpha="balanced").fit(X, Y, sample_weight=w)
    loss = MultiLabelFocalLoss(3, alpha="balanced").fit(Y, w)
    assert_allclose(clf.alpha_, loss.alpha_, rtol=1e-15)
    assert_allclose(clf.init_score_, loss.init_score(Y, w), rtol=1e-15)
    assert not np.allclose(clf.predict_proba(X), model(alpha="balanced").fit(X, Y).predict_proba(X))


@pytest.mark.parametrize(
    ("labels", "error", "match"),
    [
        (lambda Y: Y[:, 0], ValueError, r"2-D \(n_samples, n_labels\)"),
        (lambda Y: Y[:, :, None], ValueError, "2-D"),
        (lambda Y: Y[:-1], ValueError, "X has 300 rows but Y has 299"),
        (lambda Y: np.where(Y == 1, 2, Y), ValueError, r"columns \[0, 1, 2\] hold other values"),
        (lambda Y: np.column_stack([Y[:, :2], np.where(Y[:, 2] == 1, 3, Y[:, 2])]), ValueError,
         r"columns \[2\] hold other values \(e.g. 3.0\)"),
        (lambda Y: np.column_stack([Y[:, 0], np.zeros(300), Y[:, 2]]), ValueError,
         "column 1 has 0 positive and 300 negative rows"),
        (lambda Y: np.column_stack([np.full(300, -1), Y[:, 1], np.ones(300)]), ValueError,
         "column 0 has no labelled rows; column 2 has 300 positive and 0 negative rows"),
        (lambda Y: np.where(Y == 1, "yes", "no"), TypeError, "MultiLabelBinarizer"),
        (lambda Y: np.where(Y == 1, np.nan, Y), ValueError, "hold other values"),
    ],
)
def test_bad_labels_raise_naming_the_columns(labels, error, match):
    X, Y = data()
    with pytest.raises(error, match=match):
        model().fit(X, labels(Y))


def test_weightless_class_counts_as_absent():
    X, Y = data()
    w = np.where(Y[:, 0] == 1, 0.0, 1.0)
    with pytest.raises(ValueError, match="column 0 has 0 positive"):
        model().fit(X, Y, sample_weight=w)


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        ({"missing_label": 1}, ValueError, "missing_label=1 is a label value"),
        ({"missing_label": "?"}, TypeError, "missing_label must be a number"),
        ({"missing_label": True}, TypeError, "missing_label must be a number"),
        ({"alpha": [0.2, 0.8]}, ValueError, "one positive-class weight per label"),
        ({"alpha": "Balanced"}, ValueError, "alpha"),
        ({"gamma": -1.0}, ValueError, "gamma"),
        ({"gamma": True}, TypeError, "gamma"),
        ({"hessian": "Positive"}, ValueError, "hessian"),
        ({"backend": "catboost"}, ValueError, "backend"),
        ({"multi_strategy": "tree"}, ValueError, "multi_strategy"),
        ({"params": {"objective": "binary"}}, ValueError, "must not set 'objective'"),
        ({"params": {"num_boost_round": 5}}, ValueError, "an alias of 'num_iterations'"),
        ({"params": {"scale_pos_weight": 3.0}}, ValueError, "alpha="),
        ({"params": {"is_unbalance": True}}, ValueError, 'alpha="balanced"'),
    ],
)
def test_bad_parameters_raise(kw, error, match):
    X, Y = data()
    with pytest.raises(error, match=match):
        model(**kw).fit(X, Y)


def test_bad_xgboost_parameters_raise():
    X, Y = data()
    for params, match in [({"num_target": 3}, "the labels"), ({"tree_method": "exact"}, "hist"),
                          ({"base_score": 0.5}, "initial score")]:
        with pytest.raises(ValueError, match=match):
            model("xgboost", params=params).fit(X, Y)


def test_same_bad_value_same_message_as_the_loss():
    X, Y = data()
    for bad in ({"gamma": True}, {"alpha": "Balanced"}, {"gamma": -1.0}):
        with pytest.raises((TypeError, ValueError)) as est:
            model(**bad).fit(X, Y)
        with pytest.raises(type(est.value)) as loss:
            MultiLabelFocalLoss(3, **bad)
        assert str(est.value) == str(loss.value)


# --------------------------------------------------------------------------- scikit-learn
@pytest.mark.parametrize("n_labels", [2, 3])
def test_multilabel_scorers_work(n_labels):
    """classes_ is a list of [0, 1] per label, so type_of_target(classes_) is
    "multilabel-indicator" for any L; with classes_ = arange(L) (MLPClassifier's choice)
    the scorers break for L = 2."""
    X, Y = data(n_labels=n_labels)
    clf = model().fit(X[:200], Y[:200])
    proba, pred = clf.predict_proba(X[200:]), clf.predict(X[200:])
    scorer = make_scorer(average_precision_score, average="macro", response_method="predict_proba")
    expected = average_precision_score(Y[200:], proba, average="macro")
    assert scorer(clf, X[200:], Y[200:]) == pytest.approx(expected, rel=1e-12)
    f1 = make_scorer(f1_score, average="micro")
    assert f1(clf, X[200:], Y[200:]) == pytest.approx(f1_score(Y[200:], pred, average="micro"))
    cv = KFold(3, shuffle=True, random_state=0)
    for scoring in ("average_precision", "roc_auc", "f1_micro", "f1_macro"):
        scores = cross_val_score(model(), X, Y, cv=cv, scoring=scoring)
        assert scores.shape == (3,) and np.isfinite(scores).all()
    # "average_precision" ranks by decision_function; the posterior is monotone per label
    folds = cross_val_score(model(), X, Y, cv=cv, scoring="average_precision")
    by_proba = cross_val_score(model(), X, Y, cv=cv, scoring=scorer)
    assert_allclose(folds, by_proba, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pickle_clone_and_grid_search(backend):
    X, Y = data()
    clf = model(backend, alpha="balanced").fit(X, Y)
    restored = pickle.loads(pickle.dumps(clf))
    assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    assert clone(clf).get_params() == clf.get_params()
    assert not hasattr(clone(clf), "boosters_")
    scorer = make_scorer(average_precision_score, average="macro", response_method="predict_proba")
    search = GridSearchCV(model(backend), {"gamma": [0.0, 2.0], "alpha": [None, "balanced"]},
                          scoring=scorer, cv=KFold(3, shuffle=True, random_state=0), n_jobs=1)
    search.fit(X, Y)
    assert set(search.best_params_) == {"gamma", "alpha"}
    assert search.best_estimator_.predict_proba(X).shape == (300, 3)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_tags_and_score():
    X, Y = data(unknown=0.1)
    clf = model()
    tags = clf.__sklearn_tags__()
    assert tags.classifier_tags.multi_label and not tags.classifier_tags.multi_class
    assert tags.target_tags.multi_output and not tags.target_tags.single_output
    assert tags.input_tags.sparse and tags.input_tags.allow_nan
    clf.fit(X, Y)
    complete = (Y >= 0).all(axis=1)
    # subset accuracy; with every label known it is accuracy_score
    assert clf.score(X[complete], Y[complete]) == pytest.approx(
        accuracy_score(Y[complete], clf.predict(X[complete])))
    pred = clf.predict(X)
    right = ((pred == Y) | (Y < 0)).all(axis=1)
    labelled = (Y >= 0).any(axis=1)  # a row without any known label is left out
    assert not labelled.all()
    assert clf.score(X, Y) == pytest.approx(right[labelled].mean())


def test_features_checked_at_predict():
    X, Y = data()
    clf = model().fit(X, Y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :4])
    X_nan = X.copy()
    X_nan[::7, 1] = np.nan  # NaN is "missing", handled by the libraries
    assert model().fit(X_nan, Y).predict(X_nan).shape == (300, 3)


# --------------------------------------------------------------------------- early stopping
STRATEGIES = ["one_output_per_tree", "multi_output_tree"]
# the metric name each eval_metric records, and whether higher is better
METRIC_NAMES = {"auto": ("average_precision", True), "roc_auc": ("roc_auc", True),
                "log_loss": ("log_loss", False), "focal_loss": ("focal_loss", False)}


def noisy(n=900, seed=0, unknown=0.1):
    """Labels with much noise: a deep booster overfits within a few dozen rounds."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    Y = (X[:, :3] + rng.normal(scale=1.5, size=(n, 3)) > [1.0, 0.3, -0.2]).astype(int)
    Y[rng.random(Y.shape) < unknown] = -1
    return X[:500], Y[:500], X[500:], Y[500:]


def stopping(backend="lightgbm", **kw):
    return model(backend, **{"n_estimators": 200, "learning_rate": 0.2,
                             "early_stopping_rounds": 8, **kw})


def best_round(history, higher_is_better):
    """The round (from 1) early stopping keeps: the first best of the history."""
    return int(np.argmax(history) if higher_is_better else np.argmin(history)) + 1


@pytest.mark.parametrize("metric", list(METRIC_NAMES))
def test_lightgbm_stops_each_label_at_its_best_round(metric):
    X, Y, X_val, Y_val = noisy()
    clf = stopping(eval_metric=metric, params={"num_leaves": 7}).fit(
        X, Y, eval_set=[(X_val, Y_val)])
    name, higher = METRIC_NAMES[metric]
    assert clf.best_iteration_.shape == (3,) and clf.best_iteration_.dtype.kind == "i"
    assert isinstance(clf.evals_result_, list) and len(clf.evals_result_) == 3
    raw = clf.decision_function(X_val)
    for label, booster in enumerate(clf.boosters_):
        history = clf.evals_result_[label]["valid_0"][name]
        best = int(clf.best_iteration_[label])
        assert 1 <= best < 200 and len(history) == best + 8  # stopped 8 rounds after it
        assert best == best_round(history, higher)
        # the booster's own prediction at its best round, plus the initial score
        own = booster.predict(X_val, raw_score=True, num_iteration=best) + clf.init_score_[label]
        assert_allclose(raw[:, label], own, rtol=1e-12)
    # each label's column equals a model trained with that label's rounds from the start
    for label in range(3):
        best = int(clf.best_iteration_[label])
        fresh = model(n_estimators=best, learning_rate=0.2, eval_metric=metric,
                      params={"num_leaves": 7}).fit(X, Y)
        assert_allclose(raw[:, label], fresh.decision_function(X_val)[:, label], rtol=1e-12)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("metric", ["auto", "focal_loss"])
def test_xgboost_stops_at_the_best_round_of_the_multilabel_metric(strategy, metric):
    X, Y, X_val, Y_val = noisy()
    clf = stopping("xgboost", multi_strategy=strategy, eval_metric=metric).fit(
        X, Y, eval_set=[(X_val, Y_val)])
    name, higher = METRIC_NAMES[metric]
    history = clf.evals_result_["valid_0"][name]
    best = int(clf.best_iteration_[0])
    assert_array_equal(clf.best_iteration_, np.full(3, best))
    assert 1 <= best < 200 and len(history) == best + 8
    assert best == best_round(history, higher)
    # the booster keeps every round run; predictions use the first best_iteration_ only
    assert clf.boosters_[0].num_boosted_rounds() == best + 8
    fresh = model("xgboost", n_estimators=best, learning_rate=0.2, multi_strategy=strategy)
    fresh.fit(X, Y)
    assert_allclose(clf.decision_function(X_val), fresh.decision_function(X_val), rtol=1e-6,
                    atol=1e-6)
    assert_allclose(clf.feature_importances_, fresh.feature_importances_, rtol=1e-6)
    # the history is the multi-label metric: at the best round it is that of the predictions
    expected = clf.loss_.metric(name, np.where(Y_val < 0, -1, Y_val),
                                clf.decision_function(X_val))
    assert history[best - 1] == pytest.approx(expected, abs=2e-6)  # XGBoost logs 6 decimals


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_label_early_stopping(backend):
    X, Y, X_val, Y_val = noisy()
    clf = stopping(backend).fit(X, Y[:, 1:2], eval_set=[(X_val, Y_val[:, 1:2])])
    history = (clf.evals_result_[0] if backend == "lightgbm" else clf.evals_result_)
    history = history["valid_0"]["average_precision"]
    best = int(clf.best_iteration_[0])
    assert clf.best_iteration_.shape == (1,) and best < 200
    assert best == best_round(history, True)
    fresh = model(backend, n_estimators=best, learning_rate=0.2).fit(X, Y[:, 1:2])
    assert_allclose(clf.predict_proba(X_val), fresh.predict_proba(X_val), rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_unknown_eval_labels_are_left_out_of_the_metric(backend):
    """The history is the metric on the known validation entries, whatever the marker."""
    X, Y, X_val, Y_val = noisy(unknown=0.25)
    kw = {"eval_metric": "roc_auc", "n_estimators": 12, "early_stopping_rounds": None}
    clf = stopping(backend, **kw).fit(X, Y, eval_set=[(X_val, Y_val)])
    raw = clf.decision_function(X_val)  # all 12 rounds: the last entry of the history
    known = Y_val >= 0
    per_label = [roc_auc_score(Y_val[known[:, j], j], raw[known[:, j], j]) for j in range(3)]
    if backend == "lightgbm":
        for label in range(3):
            history = clf.evals_result_[label]["valid_0"]["roc_auc"]
            assert history[-1] == pytest.approx(per_label[label], rel=1e-12)
    else:
        history = clf.evals_result_["valid_0"]["roc_auc"]
        assert history[-1] == pytest.approx(np.mean(per_label), abs=2e-6)
    # NaN as the marker, in training and validation labels: the same model and history
    as_nan = stopping(backend, missing_label=np.nan, **kw).fit(
        X, np.where(Y < 0, np.nan, Y), eval_set=[(X_val, np.where(Y_val < 0, np.nan, Y_val))])
    assert as_nan.evals_result_ == clf.evals_result_
    assert_array_equal(as_nan.decision_function(X_val), raw)


@pytest.mark.parametrize("backend", BACKENDS)
def test_eval_sample_weight_weights_the_history(backend):
    X, Y, X_val, Y_val = noisy()
    w = np.random.default_rng(3).uniform(0.0, 3.0, size=len(Y_val))
    kw = {"eval_metric": "roc_auc", "n_estimators": 12, "early_stopping_rounds": None}
    plain = stopping(backend, **kw).fit(X, Y, eval_set=[(X_val, Y_val)])
    ones = stopping(backend, **kw).fit(X, Y, eval_set=[(X_val, Y_val)],
                                       eval_sample_weight=[np.ones(len(Y_val))])
    weighted = stopping(backend, **kw).fit(X, Y, eval_set=[(X_val, Y_val)],
                                           eval_sample_weight=[w])
    assert ones.evals_result_ == plain.evals_result_
    assert weighted.evals_result_ != plain.evals_result_
    # the validation weights change the metric, never the model
    raw = weighted.decision_function(X_val)
    assert_array_equal(raw, plain.decision_function(X_val))
    known = Y_val >= 0
    per_label = [roc_auc_score(Y_val[known[:, j], j], raw[known[:, j], j],
                               sample_weight=w[known[:, j]]) for j in range(3)]
    if backend == "lightgbm":
        for label in range(3):
            history = weighted.evals_result_[label]["valid_0"]["roc_auc"]
            # LightGBM stores a Dataset's weights in float32
            assert history[-1] == pytest.approx(per_label[label], rel=1e-7)
    else:
        history = weighted.evals_result_["valid_0"]["roc_auc"]
        assert history[-1] == pytest.approx(np.mean(per_label), abs=2e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_eval_set_without_early_stopping_records_every_round(backend):
    X, Y, X_val, Y_val = noisy()
    reference = model(backend).fit(X, Y)
    clf = model(backend).fit(X, Y, eval_set=[(X_val, Y_val), (X, Y)])
    assert_array_equal(clf.best_iteration_, np.full(3, 15))
    assert_array_equal(reference.best_iteration_, np.full(3, 15))
    assert_array_equal(clf.decision_function(X_val), reference.decision_function(X_val))
    histories = clf.evals_result_ if backend == "lightgbm" else [clf.evals_result_]
    for history in histories:
        assert set(history) == {"valid_0", "valid_1"}
        assert all(len(h["average_precision"]) == 15 for h in history.values())
    # training rows score better than held-out ones
    assert histories[0]["valid_1"]["average_precision"][-1] > \
        histories[0]["valid_0"]["average_precision"][-1]
    empty = [{}] * 3 if backend == "lightgbm" else {}
    assert reference.evals_result_ == empty


def test_lightgbm_label_unknown_in_every_eval_set_warns_and_trains_all_rounds():
    X, Y, X_val, Y_val = noisy()
    Y_val = Y_val.copy()
    Y_val[:, 2] = -1
    clf = stopping(eval_metric="focal_loss", n_estimators=40)
    with pytest.warns(UserWarning, match="label 2 is unknown in every eval_set"):
        clf.fit(X, Y, eval_set=[(X_val, Y_val)])
    assert clf.best_iteration_[2] == 40 and clf.best_iteration_[:2].max() < 40
    assert clf.evals_result_[2] == {}
    # a ranking metric cannot skip it: undefined on that label
    with pytest.raises(ValueError, match=r"label 2 of eval_set\[0\]"):
        stopping().fit(X, Y, eval_set=[(X_val, Y_val)])


@pytest.mark.parametrize(
    ("kw", "fit_kw", "error", "match"),
    [
        ({}, {"eval_set": [("X_val", lambda Y: Y[:, :2])]}, ValueError,
         r"eval_set\[0\]: Y must have shape \(n_samples, 3\) like the training labels, got "
         r"shape \(400, 2\)"),
        ({}, {"eval_set": [("X_val", lambda Y: Y[:, 0])]}, ValueError, r"eval_set\[0\]: Y"),
        ({}, {"eval_set": [("X_val", lambda Y: Y[:-1])]}, ValueError,
         r"eval_set\[0\]: X has 400 rows but Y has 399"),
        ({}, {"eval_set": [("X_val", lambda Y: np.where(Y == 1, 2, Y))]}, ValueError,
         r"eval_set\[0\]: Y must hold 0/1 labels"),
        ({}, {"eval_set": [("X_val", lambda Y: np.where(Y == 1, "yes", "no"))]}, TypeError,
         r"eval_set\[0\]: Y must be a 0/1 indicator matrix"),
        ({}, {"eval_set": [("X_val[:, :4]", lambda Y: Y)]}, ValueError, "features"),
        ({}, {"eval_set": [("X_val", lambda Y: np.full_like(Y, -1))]}, ValueError,
         r"eval_set\[0\] has no known label"),
        ({}, {"eval_set": [("X_val", lambda Y: np.column_stack([Y[:, :2], Y[:, 2] * 0]))]},
         ValueError, r"average_precision is undefined on label 2 of eval_set\[0\]"),
        ({"eval_metric": "roc_auc"},
         {"eval_set": [("X_val", lambda Y: Y), ("X_val", lambda Y: np.where(Y == 0, -1, Y))]},
         ValueError, r"roc_auc is undefined on label 0 of eval_set\[1\]"),
        ({"early_stopping_rounds": 5}, {}, ValueError, "needs a validation set: pass eval_set"),
        ({"early_stopping_rounds": 5}, {"eval_set": []}, ValueError, "eval_set"),
        ({}, {"eval_sample_weight": [None]}, ValueError, "eval_sample_weight was given without "
         "eval_set"),
        ({}, {"eval_set": [("X_val", lambda Y: Y)], "eval_sample_weight": [np.ones(3)]},
         ValueError, r"eval_sample_weight\[0\]"),
        ({}, {"eval_set": [("X_val", lambda Y: Y)], "eval_sample_weight": [np.zeros(400)]},
         ValueError, r"eval_sample_weight\[0\] must not be all zero"),
        ({}, {"eval_set": "X_val"}, TypeError, "eval_set must be a list of"),
        ({"eval_metric": "accuracy"}, {}, ValueError, "eval_metric"),
        ({"eval_metric": "Average_precision"}, {}, ValueError, "eval_metric"),
        ({"early_stopping_rounds": 0}, {}, ValueError, "early_stopping_rounds"),
        ({"early_stopping_rounds": 2.5}, {}, ValueError, "early_stopping_rounds"),
    ],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_eval_input_raises_naming_the_argument(backend, kw, fit_kw, error, match):
    X, Y, X_val, Y_val = noisy()
    features = {"X_val": X_val, "X_val[:, :4]": X_val[:, :4]}
    if isinstance(fit_kw.get("eval_set"), list):
        fit_kw = {**fit_kw, "eval_set": [(features[x], labels(Y_val))
                                         for x, labels in fit_kw["eval_set"]]}
    with pytest.raises(error, match=match):
        model(backend, **kw).fit(X, Y, **fit_kw)


@pytest.mark.parametrize(
    ("backend", "params", "match"),
    [
        ("lightgbm", {"metric": "auc"}, "use eval_metric"),
        ("lightgbm", {"early_stopping_round": 5}, "use early_stopping_rounds"),
        ("lightgbm", {"n_iter_no_change": 5}, "use early_stopping_rounds"),
        ("xgboost", {"eval_metric": "auc"}, "use eval_metric"),
        ("xgboost", {"early_stopping_rounds": 5}, "use early_stopping_rounds"),
    ],
)
def test_native_metric_and_stopping_params_point_to_the_estimator_params(backend, params, match):
    X, Y = data()
    with pytest.raises(ValueError, match=match):
        model(backend, params=params).fit(X, Y)


# --------------------------------------------------------------------------- importances
def test_lightgbm_feature_importances_are_the_mean_split_counts_of_the_rounds_kept():
    X, Y, X_val, Y_val = noisy()
    clf = stopping(params={"num_leaves": 7}).fit(X, Y, eval_set=[(X_val, Y_val)])
    expected = np.mean([booster.feature_importance("split", iteration=int(best))
                        for booster, best in zip(clf.boosters_, clf.best_iteration_,
                                                 strict=True)], axis=0)
    assert clf.feature_importances_.shape == (5,)
    assert_array_equal(clf.feature_importances_, expected)
    # not normalised (FocalLGBMClassifier's split counts): a tree of 7 leaves splits 6 times
    assert clf.feature_importances_.sum() == pytest.approx(6 * clf.best_iteration_.mean())


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_xgboost_feature_importances_are_the_normalised_gain(strategy):
    X, Y = data()
    clf = model("xgboost", multi_strategy=strategy, n_estimators=30).fit(X, Y)
    scores = clf.boosters_[0].get_score(importance_type="gain")
    expected = np.array([scores.get(f"f{i}", 0.0) for i in range(5)])
    assert_allclose(clf.feature_importances_, expected / expected.sum(), rtol=1e-12)
    assert clf.feature_importances_.sum() == pytest.approx(1.0)
    assert clf.feature_importances_[:3].min() > clf.feature_importances_[3:].max()


@pytest.mark.parametrize("backend", BACKENDS)
def test_feature_importances_need_a_fit(backend):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        model(backend).feature_importances_  # noqa: B018
    assert not hasattr(model(backend), "feature_importances_")


# --------------------------------------------------------------------------- persistence
@pytest.mark.parametrize("backend", BACKENDS)
def test_best_rounds_survive_save_load_and_pickle(backend, tmp_path):
    from gbfocal import load_model

    X, Y, X_val, Y_val = noisy()
    clf = stopping(backend).fit(X, Y, eval_set=[(X_val, Y_val)])
    assert clf.best_iteration_.max() < 200
    loaded = load_model(clf.save_model(tmp_path / "m.json"))
    restored = pickle.loads(pickle.dumps(clf))
    for other in (loaded, restored):
        assert_array_equal(np.asarray(other.best_iteration_), clf.best_iteration_)
        assert_array_equal(other.decision_function(X_val), clf.decision_function(X_val))
        assert_array_equal(other.predict_proba(X_val), clf.predict_proba(X_val))
        assert_array_equal(other.feature_importances_, clf.feature_importances_)
    if backend == "xgboost":  # the saved booster holds every round: best_iteration_ matters
        assert loaded.boosters_[0].num_boosted_rounds() > clf.best_iteration_[0]
    # without best_iteration_ (an estimator pickled before early stopping): all rounds
    del restored.best_iteration_
    full = restored.decision_function(X_val)
    if backend == "xgboost":
        assert not np.allclose(full, clf.decision_function(X_val))


# --------------------------------------------------------------------------- scikit-learn
@pytest.mark.parametrize("backend", BACKENDS)
def test_clone_and_grid_search_with_early_stopping(backend):
    X, Y, X_val, Y_val = noisy(unknown=0.0)
    clf = stopping(backend, eval_metric="log_loss")
    params = clf.get_params()
    assert params["early_stopping_rounds"] == 8 and params["eval_metric"] == "log_loss"
    assert clone(clf).get_params() == params
    assert model(backend).get_params()["eval_metric"] == "auto"
    assert model(backend).get_params()["early_stopping_rounds"] is None
    scorer = make_scorer(average_precision_score, average="macro", response_method="predict_proba")
    search = GridSearchCV(clf, {"gamma": [0.0, 2.0], "eval_metric": ["auto", "focal_loss"]},
                          scoring=scorer, cv=KFold(2, shuffle=True, random_state=0), n_jobs=1)
    search.fit(X, Y, eval_set=[(X_val, Y_val)])  # passed unchanged to every fold's fit
    best = search.best_estimator_
    assert best.best_iteration_.max() < 200
    assert set(search.best_params_) == {"gamma", "eval_metric"}
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_lightgbm_label_known_on_few_rows_fits_its_constant():
    # 15 known rows: with min_child_samples=20 no feature can split; LightGBM's feature
    # pre-filter would leave none and abort ("num_features() > 0") under the custom objective
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    Y = (X[:, :2] > 0).astype(float)
    Y[15:, 1] = -1
    Y[:15, 1] = [0, 1] * 7 + [1]
    model = FocalMultiLabelClassifier(n_estimators=5, n_jobs=1).fit(X, Y)
    raw = model.decision_function(X)
    np.testing.assert_allclose(raw[:, 1], model.init_score_[1])  # no split: the constant
    assert np.ptp(raw[:, 0]) > 0
