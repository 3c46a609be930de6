"""Tests of the scikit-learn estimators FocalLGBMClassifier and FocalXGBClassifier."""

from __future__ import annotations

import doctest
import pickle
import sys
from typing import Any

import joblib
import numpy as np
import pytest
from scipy.special import expit, softmax
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import gbfocal.sklearn as focal_sklearn
from gbfocal import focal_posterior
from gbfocal.losses import BinaryFocalLoss, MulticlassFocalLoss
from gbfocal.sklearn import FocalLGBMClassifier, FocalXGBClassifier

lgb = pytest.importorskip("lightgbm")
xgb = pytest.importorskip("xgboost")

ESTIMATORS = [FocalLGBMClassifier, FocalXGBClassifier]
# Small, single-threaded models: the test machine is shared.
FAST = {"n_estimators": 10, "n_jobs": 1}

XGB_FLOAT32_REASON = (
    "XGBoost stores gradients in float32, so a row of weight 3 (one rounded w*g) and three "
    "repeated rows (three rounded g) differ in the last float32 digit (~1e-7 relative); the "
    "check demands rtol=1e-7. xgboost.XGBClassifier fails it the same way. "
    "test_xgb_integer_weights_equal_repeated_rows checks the equivalence to float32 precision."
)


def _expected_failed_checks(estimator: Any) -> dict[str, str]:
    if isinstance(estimator, FocalXGBClassifier):
        return {
            "check_sample_weight_equivalence_on_dense_data": XGB_FLOAT32_REASON,
            "check_sample_weight_equivalence_on_sparse_data": XGB_FLOAT32_REASON,
        }
    return {}


@parametrize_with_checks(
    [FocalLGBMClassifier(**FAST), FocalXGBClassifier(**FAST)],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator: Any, check: Any) -> None:
    check(estimator)


# ---------------------------------------------------------------- data
def _binary(n: int = 400, weights: tuple[float, ...] = (0.8,), seed: int = 0) -> Any:
    return make_classification(
        n_samples=n, n_features=8, n_informative=4, weights=list(weights), random_state=seed
    )


def _multiclass(n: int = 450, seed: int = 0) -> Any:
    return make_classification(
        n_samples=n,
        n_features=8,
        n_informative=5,
        n_classes=3,
        weights=[0.6, 0.3, 0.1],
        random_state=seed,
    )


# ------------------------------------------------------- predictions
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_binary_outputs_are_consistent(Estimator: Any) -> None:
    X, y = _binary()
    clf = Estimator(**FAST).fit(X, y)
    raw = clf.decision_function(X)
    proba = clf.predict_proba(X)
    assert raw.shape == (len(y),)
    assert proba.shape == (len(y), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # corrected by default: the focal posterior of the margins, not their sigmoid
    np.testing.assert_allclose(proba[:, 1], focal_posterior(raw, gamma=clf.gamma), rtol=1e-12)
    assert np.abs(proba[:, 1] - expit(raw)).max() > 0.05
    # alpha=None: the posterior is 1/2 at margin 0, so predict is the sign of the margin
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(raw > 0).astype(int)])
    plain = clone(clf).set_params(correct_proba=False).fit(X, y)
    np.testing.assert_allclose(plain.predict_proba(X)[:, 1], expit(plain.decision_function(X)),
                               rtol=1e-12)
    assert isinstance(clf.loss_, BinaryFocalLoss)
    assert clf.n_features_in_ == X.shape[1]
    assert clf.score(X, y) > 0.85


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_multiclass_string_labels(Estimator: Any) -> None:
    X, y_index = _multiclass()
    names = np.array(["bird", "cat", "dog"])
    y = names[y_index]
    clf = Estimator(**FAST).fit(X, y)
    assert clf.classes_.tolist() == names.tolist()
    assert isinstance(clf.loss_, MulticlassFocalLoss)
    raw = clf.decision_function(X)
    proba = clf.predict_proba(X)
    assert raw.shape == proba.shape == (len(y), 3)
    np.testing.assert_allclose(proba, focal_posterior(raw, gamma=clf.gamma), rtol=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    plain = clone(clf).set_params(correct_proba=False).fit(X, y)
    np.testing.assert_allclose(plain.predict_proba(X), softmax(plain.decision_function(X),
                                                                axis=1), rtol=1e-12)
    predicted = clf.predict(X)
    assert set(predicted) <= set(names)
    np.testing.assert_array_equal(predicted, names[raw.argmax(axis=1)])
    assert np.mean(predicted == y) > 0.85


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_decision_function_includes_init_score(Estimator: Any) -> None:
    X, y = _binary(weights=(0.9,))
    clf = Estimator(**FAST).fit(X, y)
    expected_init = BinaryFocalLoss(gamma=2.0).init_score(y)
    assert clf.init_score_ == pytest.approx(expected_init)
    assert clf.init_score_ < -0.5  # imbalanced: a clearly non-zero starting point
    # The initial score is folded into the model: the booster's own raw predictions are
    # the margins, nothing is added on top (tests/test_parity.py: also after a reload).
    if Estimator is FocalLGBMClassifier:
        booster_margin = clf.booster_.predict(X, raw_score=True)
    else:
        booster_margin = clf.booster_.predict(xgb.DMatrix(X), output_margin=True)
    np.testing.assert_array_equal(clf.decision_function(X), booster_margin)
    # ... and they include it: a model of (almost) no trees predicts the initial score
    flat = Estimator(n_estimators=1, learning_rate=1e-9, n_jobs=1).fit(X, y)
    np.testing.assert_allclose(flat.decision_function(X[:5]), expected_init, atol=1e-6)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_multiclass_init_score_is_the_loss_optimum(Estimator: Any) -> None:
    X, y = _multiclass()
    clf = Estimator(n_estimators=1, learning_rate=1e-9, n_jobs=1).fit(X, y)
    expected = MulticlassFocalLoss(3, gamma=2.0).init_score(y)
    np.testing.assert_allclose(clf.init_score_, expected)
    # With a negligible learning rate the trees add ~nothing: predictions are the init score.
    np.testing.assert_allclose(clf.decision_function(X[:5]), np.tile(expected, (5, 1)), atol=1e-6)


# ------------------------------------- gamma = 0 is the built-in objective
@pytest.mark.parametrize("weighted", [False, True])
def test_lgbm_gamma0_matches_builtin_binary(weighted: bool) -> None:
    X, y = _binary(weights=(0.85,))
    weight = np.random.default_rng(1).uniform(0.2, 3.0, len(y)) if weighted else None
    shared = {"n_estimators": 20, "num_leaves": 7, "learning_rate": 0.1, "n_jobs": 1}
    focal = FocalLGBMClassifier(gamma=0.0, **shared).fit(X, y, sample_weight=weight)
    builtin = lgb.LGBMClassifier(verbose=-1, **shared).fit(X, y, sample_weight=weight)
    np.testing.assert_allclose(focal.predict_proba(X), builtin.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
def test_xgb_gamma0_matches_builtin_binary(weighted: bool) -> None:
    X, y = _binary(weights=(0.85,))
    weight = np.random.default_rng(1).uniform(0.2, 3.0, len(y)) if weighted else None
    shared = {"n_estimators": 20, "max_depth": 3, "learning_rate": 0.3, "n_jobs": 1}
    focal = FocalXGBClassifier(gamma=0.0, **shared).fit(X, y, sample_weight=weight)
    builtin = xgb.XGBClassifier(tree_method="hist", **shared).fit(X, y, sample_weight=weight)
    np.testing.assert_allclose(focal.predict_proba(X), builtin.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_multiclass_ranks_like_builtin(Estimator: Any) -> None:
    X, y = _multiclass(n=600)
    train, test = slice(0, 400), slice(400, None)
    focal = Estimator(n_estimators=30, n_jobs=1).fit(X[train], y[train])
    if Estimator is FocalLGBMClassifier:
        builtin = lgb.LGBMClassifier(n_estimators=30, n_jobs=1, verbose=-1)
    else:
        builtin = xgb.XGBClassifier(n_estimators=30, n_jobs=1)
    builtin.fit(X[train], y[train])
    auc_focal = roc_auc_score(y[test], focal.predict_proba(X[test]), multi_class="ovr")
    auc_builtin = roc_auc_score(y[test], builtin.predict_proba(X[test]), multi_class="ovr")
    assert auc_focal > 0.8
    assert auc_focal > auc_builtin - 0.05


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_imbalanced_focal_balanced_is_useful(Estimator: Any) -> None:
    X, y = _binary(n=1200, weights=(0.95,), seed=3)
    train, test = slice(0, 800), slice(800, None)
    clf = Estimator(alpha="balanced", gamma=2.0, n_estimators=40, n_jobs=1)
    clf.fit(X[train], y[train])
    np.testing.assert_allclose(clf.loss_.alpha_, len(y[train]) / (2 * np.bincount(y[train])))
    positive_rate = y[test].mean()
    ap = average_precision_score(y[test], clf.predict_proba(X[test])[:, 1])
    assert positive_rate < 0.1
    assert ap > 4 * positive_rate


# ------------------------------------------------------- sample weights
def test_xgb_integer_weights_equal_repeated_rows() -> None:
    X, y = _binary(n=200)
    counts = np.random.default_rng(2).integers(1, 4, len(y))
    weighted = FocalXGBClassifier(**FAST).fit(X, y, sample_weight=counts.astype(float))
    repeated = FocalXGBClassifier(**FAST).fit(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    # XGBoost keeps gradients in float32: equal to that precision, not to float64's.
    np.testing.assert_allclose(
        weighted.decision_function(X), repeated.decision_function(X), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_sample_weight_reaches_init_score_and_trees(Estimator: Any) -> None:
    # (LightGBM counts rows for min_child_samples and builds bins from rows, so a weight of
    # k is not k repeated rows there; the gamma=0 tests above check its weighted gradients.)
    X, y = _binary(n=300)
    weight = np.where(y == 1, 5.0, 1.0)
    weighted = Estimator(**FAST).fit(X, y, sample_weight=weight)
    unweighted = Estimator(**FAST).fit(X, y)
    assert weighted.init_score_ == pytest.approx(BinaryFocalLoss().init_score(y, weight))
    assert weighted.init_score_ > unweighted.init_score_
    p_weighted = weighted.predict_proba(X)[:, 1]
    p_unweighted = unweighted.predict_proba(X)[:, 1]
    assert p_weighted.mean() > p_unweighted.mean() + 0.02


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_bad_sample_weights_rejected(Estimator: Any) -> None:
    X, y = _binary(n=60)
    with pytest.raises(ValueError, match="sample_weight"):
        Estimator(**FAST).fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="sample_weight"):
        Estimator(**FAST).fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="class"):
        Estimator(**FAST).fit(X, y, sample_weight=(y == 1).astype(float))


# ------------------------------------------------------- early stopping
@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("metric", ["focal_loss", "log_loss", "average_precision", "roc_auc"])
def test_early_stopping_keeps_best_round(Estimator: Any, metric: str) -> None:
    X, y = _binary(n=600, weights=(0.85,), seed=5)
    fit_rows, val_rows = slice(0, 300), slice(300, None)
    params = {"n_estimators": 200, "learning_rate": 0.5, "n_jobs": 1}
    clf = Estimator(early_stopping_rounds=5, eval_metric=metric, **params)
    clf.fit(X[fit_rows], y[fit_rows], eval_set=[(X[val_rows], y[val_rows])])
    history = np.asarray(clf.evals_result_["valid_0"][metric])
    assert clf.best_iteration_ < params["n_estimators"]
    assert len(history) == clf.best_iteration_ + 5  # stopped 5 rounds after the best
    best = history.max() if metric in {"average_precision", "roc_auc"} else history.min()
    assert history[clf.best_iteration_ - 1] == pytest.approx(best)
    # Predictions use the best round only: the same as a model trained for that many rounds.
    short = Estimator(**{**params, "n_estimators": clf.best_iteration_})
    short.fit(X[fit_rows], y[fit_rows])
    np.testing.assert_allclose(clf.decision_function(X), short.decision_function(X), atol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(X), short.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_eval_metric_matches_sklearn_on_validation_set(Estimator: Any) -> None:
    X, y = _binary(n=400, seed=6)
    weight = np.random.default_rng(0).uniform(0.5, 2.0, 200)
    clf = Estimator(eval_metric="roc_auc", **FAST)
    clf.fit(X[:200], y[:200], eval_set=[(X[200:], y[200:])], eval_sample_weight=[weight])
    recorded = clf.evals_result_["valid_0"]["roc_auc"][-1]
    expected = roc_auc_score(y[200:], clf.decision_function(X[200:]), sample_weight=weight)
    assert recorded == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_eval_set_labels_map_through_classes(Estimator: Any) -> None:
    X, y_index = _binary(n=300)
    y = np.array(["no", "yes"])[y_index]
    clf = Estimator(early_stopping_rounds=3, **FAST)
    clf.fit(X[:200], y[:200], eval_set=[(X[200:], y[200:])])
    assert len(clf.evals_result_["valid_0"]["average_precision"]) >= 1  # "auto", binary
    y_bad = y[200:].copy()
    y_bad[0] = "maybe"
    with pytest.raises(ValueError, match="eval_set"):
        clf.fit(X[:200], y[:200], eval_set=[(X[200:], y_bad)])
    with pytest.raises(ValueError, match="eval_set"):
        Estimator(early_stopping_rounds=3, **FAST).fit(X, y)


# ---------------------------------------------------- pandas, sparse
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_dataframe_feature_names(Estimator: Any) -> None:
    pd = pytest.importorskip("pandas")
    X, y = _binary(n=200)
    columns = [f"feature_{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=columns)
    clf = Estimator(**FAST).fit(frame, pd.Series(y))
    assert clf.feature_names_in_.tolist() == columns
    assert clf.n_features_in_ == len(columns)
    from_array = Estimator(**FAST).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(frame), from_array.predict_proba(X))
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame[columns[::-1]])


def test_lgbm_sparse_equals_dense() -> None:
    from scipy.sparse import csr_matrix

    X, y = _binary(n=200)
    X[np.abs(X) < 0.5] = 0.0
    dense = FocalLGBMClassifier(**FAST).fit(X, y)
    sparse = FocalLGBMClassifier(**FAST).fit(csr_matrix(X), y)
    np.testing.assert_allclose(sparse.predict_proba(csr_matrix(X)), dense.predict_proba(X))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_feature_importances_find_the_signal(Estimator: Any) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = (X[:, 2] + 0.3 * rng.normal(size=300) > 0).astype(int)
    clf = Estimator(**FAST).fit(X, y)
    assert clf.feature_importances_.shape == (5,)
    assert np.argmax(clf.feature_importances_) == 2


# -------------------------------------------- scikit-learn machinery
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_pickle_and_joblib_round_trip(Estimator: Any, tmp_path: Any) -> None:
    X, y = _multiclass()
    clf = Estimator(alpha="balanced", early_stopping_rounds=3, **FAST)
    clf.fit(X[:300], y[:300], eval_set=[(X[300:], y[300:])])
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    path = tmp_path / "model.joblib"
    joblib.dump(clf, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.decision_function(X), clf.decision_function(X))
    assert loaded.best_iteration_ == clf.best_iteration_
    np.testing.assert_array_equal(loaded.loss_.alpha_, clf.loss_.alpha_)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_pipeline_cross_val_and_grid_search(Estimator: Any) -> None:
    X, y = _binary(n=240)
    pipe = make_pipeline(StandardScaler(), Estimator(**FAST))
    scores = cross_val_score(pipe, X, y, cv=3, scoring="roc_auc")
    assert scores.shape == (3,)
    assert scores.mean() > 0.8
    search = GridSearchCV(
        Estimator(**FAST), {"gamma": [0.0, 2.0], "alpha": [None, "balanced"]}, cv=2,
        scoring="average_precision",
    )
    search.fit(X, y)
    assert search.best_params_["gamma"] in (0.0, 2.0)
    cloned = clone(search.best_estimator_)
    assert cloned.get_params() == search.best_estimator_.get_params()
    assert not hasattr(cloned, "booster_")


# ------------------------------------------------------ bad arguments
@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"gamma": -1.0}, "gamma"),
        ({"gamma": "2"}, "gamma"),
        ({"alpha": "inverse"}, "alpha"),
        ({"alpha": 1.5}, "alpha"),
        ({"hessian": "negative"}, "hessian"),
        ({"n_estimators": 0}, "n_estimators"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"subsample": 1.5}, "subsample"),
        ({"eval_metric": "auc"}, "eval_metric"),
        ({"early_stopping_rounds": 0}, "early_stopping_rounds"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"params": {"objective": "binary"}}, "params"),
        ({"params": "max_bin=63"}, "params"),
    ],
)
def test_bad_parameters_raise_at_fit(Estimator: Any, params: dict[str, Any], name: str) -> None:
    X, y = _binary(n=60)
    clf = Estimator(**params)  # __init__ only stores
    with pytest.raises((ValueError, TypeError), match=name):
        clf.fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_alpha_shape_must_match_classes(Estimator: Any) -> None:
    X, y = _multiclass(n=150)
    with pytest.raises(ValueError, match="alpha"):
        Estimator(alpha=0.25, **FAST).fit(X, y)  # a float is binary-only
    with pytest.raises(ValueError, match="alpha"):
        Estimator(alpha=[1.0, 2.0], **FAST).fit(X, y)
    clf = Estimator(alpha=[1.0, 2.0, 4.0], **FAST).fit(X, y)
    np.testing.assert_allclose(clf.loss_.alpha_, [1.0, 2.0, 4.0])


@pytest.mark.parametrize(
    ("Estimator", "module", "extra"),
    [(FocalLGBMClassifier, "lightgbm", "lightgbm"), (FocalXGBClassifier, "xgboost", "xgboost")],
)
def test_missing_library_says_what_to_install(
    Estimator: Any, module: str, extra: str, monkeypatch: Any
) -> None:
    X, y = _binary(n=60)
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(ImportError, match=rf"pip install gbfocal\[{extra}\]"):
        Estimator(**FAST).fit(X, y)


def test_docstring_examples_run() -> None:
    failures, attempted = doctest.testmod(focal_sklearn, verbose=False)
    assert attempted > 0
    assert failures == 0


# ---------------------------------------------------- issue 12: probabilities and defaults
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_corrected_probabilities_are_calibrated_where_the_plain_link_is_not(
    Estimator: Any,
) -> None:
    """On held-out data with 10 % positives, the focal posterior's mean matches the positive
    rate and its log loss beats the plain sigmoid's; the ranking is the same."""
    X, y = make_classification(n_samples=6000, n_features=8, n_informative=4, weights=[0.9],
                               class_sep=0.5, flip_y=0.02, random_state=3)
    X_fit, y_fit, X_test, y_test = X[:4000], y[:4000], X[4000:], y[4000:]
    size = {"num_leaves": 7} if Estimator is FocalLGBMClassifier else {"max_depth": 3}
    clf = Estimator(gamma=2.0, n_estimators=150, learning_rate=0.05, n_jobs=1, random_state=0,
                    **size).fit(X_fit, y_fit)
    corrected = clf.predict_proba(X_test)[:, 1]
    plain = clf.loss_.predict_proba(clf.decision_function(X_test), corrected=False)[:, 1]
    from sklearn.metrics import log_loss

    assert abs(corrected.mean() - y_test.mean()) < 0.03
    assert plain.mean() - y_test.mean() > 0.1  # pulled towards 1/2
    assert log_loss(y_test, corrected) < 0.8 * log_loss(y_test, plain)
    assert roc_auc_score(y_test, corrected) == pytest.approx(roc_auc_score(y_test, plain),
                                                             abs=1e-9)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_predict_is_the_argmax_of_the_returned_probabilities(Estimator: Any) -> None:
    X, y = _binary(n=600, weights=(0.85,))
    for correct in (True, False):
        clf = Estimator(alpha=0.9, gamma=2.0, correct_proba=correct, **FAST).fit(X, y)
        proba = clf.predict_proba(X)
        np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    # with alpha the corrected posterior's threshold is not margin 0: some rows differ
    corrected = Estimator(alpha=0.9, gamma=2.0, **FAST).fit(X, y)
    raw_rule = corrected.classes_[(corrected.decision_function(X) > 0).astype(int)]
    assert (raw_rule != corrected.predict(X)).any()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_default_eval_metric_is_average_precision_binary_log_loss_multiclass(
    Estimator: Any,
) -> None:
    X, y = _binary(n=300)
    clf = Estimator(early_stopping_rounds=5, **FAST).fit(X[:200], y[:200],
                                                         eval_set=[(X[200:], y[200:])])
    assert list(clf.evals_result_["valid_0"]) == ["average_precision"]
    X, y = _multiclass(n=300)
    clf = Estimator(early_stopping_rounds=5, **FAST).fit(X[:200], y[:200],
                                                         eval_set=[(X[200:], y[200:])])
    assert list(clf.evals_result_["valid_0"]) == ["log_loss"]
    # the multiclass default is the log loss of the corrected probabilities
    from sklearn.metrics import log_loss

    last = clf.evals_result_["valid_0"]["log_loss"][clf.best_iteration_ - 1]
    assert last == pytest.approx(log_loss(y[200:], clf.predict_proba(X[200:]),
                                          labels=clf.classes_), rel=1e-5)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("name", ["scale_pos_weight", "is_unbalance", "class_weight"])
def test_native_class_weights_are_rejected_not_ignored(Estimator: Any, name: str) -> None:
    X, y = _binary(n=100)
    value = True if name == "is_unbalance" else 5.0
    with pytest.raises(ValueError, match=rf"{name}.*alpha"):
        Estimator(params={name: value}, **FAST).fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_float_alpha_weighs_the_larger_label_with_string_classes(Estimator: Any) -> None:
    """classes_ is sorted, so with labels fraud/legit a float alpha is the weight of 'legit'
    (classes_[1]); fraud gets 1 - alpha. Weighting fraud needs alpha=[w_fraud, w_legit]."""
    X, y_index = _binary(n=200)
    y = np.array(["legit", "fraud"])[y_index]
    clf = Estimator(alpha=0.25, **FAST).fit(X, y)
    assert clf.classes_.tolist() == ["fraud", "legit"]
    np.testing.assert_allclose(clf.loss_.alpha_, [0.75, 0.25])
    per_class = Estimator(alpha=[0.25, 0.75], **FAST).fit(X, y)
    np.testing.assert_allclose(per_class.loss_.alpha_, [0.25, 0.75])


# ------------------------------------------------------- memory with many classes
def _trees(model_str: str) -> str:
    start, end = model_str.index("\nTree=0\n"), model_str.index("\nend of trees")
    return model_str[start:end]


@pytest.mark.parametrize(("weighted", "alpha"), [(False, None), (True, [0.5, 1.0, 2.0])])
def test_lgbm_multiclass_model_is_what_lightgbm_trains_from_float64_gradients(
    weighted: bool, alpha: Any,
) -> None:
    """The estimator hands LightGBM column-major float32 gradients written in place, the
    initial score flat in LightGBM's class-major layout, and drops the Dataset's Python
    copy of it (benchmarks/many_classes.py). Reference: LightGBM converting everything
    itself, from an objective returning row-major float64 arrays and an (n, K) float64
    initial score. The trees are the same bit for bit."""
    from gbfocal._engines.lightgbm import fold_init_score_text

    X, y = _multiclass()
    w = np.random.default_rng(3).uniform(0.2, 3.0, len(y)) if weighted else None
    clf = FocalLGBMClassifier(alpha=alpha, gamma=2.0, n_estimators=12, num_leaves=7,
                              n_jobs=1, random_state=0).fit(X, y, sample_weight=w)
    loss = MulticlassFocalLoss(3, alpha=alpha, gamma=2.0)
    init = loss.init_score(y, w)
    np.testing.assert_array_equal(init, clf.init_score_)
    assert np.ptp(init) > 0.1  # a per-class start: its layout matters

    def objective(preds: Any, data: Any) -> Any:  # float64, C order: LightGBM converts
        grad, hess = loss.grad_hess(y, np.ascontiguousarray(preds), data.get_weight())
        assert grad.dtype == np.float64 and grad.flags.c_contiguous
        return grad, hess

    params = {**clf._booster_params(), "objective": objective, "metric": "None",
              "num_class": 3}
    data = lgb.Dataset(X, y, weight=w, init_score=np.tile(init, (len(y), 1)))
    reference = lgb.train(params, data, num_boost_round=12)
    folded = lgb.Booster(model_str=fold_init_score_text(
        reference.model_to_string(num_iteration=-1), init))
    assert _trees(clf.booster_.model_to_string()) == _trees(folded.model_to_string())
    np.testing.assert_array_equal(clf.decision_function(X), folded.predict(X, raw_score=True))


def test_lgbm_datasets_keep_their_init_score_in_lightgbm_only() -> None:
    """The Python copy LightGBM keeps of each Dataset's initial score is dropped before
    the first round; LightGBM reads it back on demand."""
    X, y = _multiclass()
    seen: list[Any] = []

    def look(env: Any) -> None:
        if env.iteration == 1:
            train, valid = env.model.train_set, env.model.valid_sets[0]
            seen.append((train.init_score, valid.init_score))
            seen.append((train.get_init_score(), valid.get_init_score()))

    clf = FocalLGBMClassifier(n_estimators=3, n_jobs=1)
    clf.fit(X[:300], y[:300], eval_set=[(X[300:], y[300:])], callbacks=[look])
    assert seen[0] == (None, None)
    for got, rows in zip(seen[1], (300, 150), strict=True):
        np.testing.assert_array_equal(got, np.tile(clf.init_score_, (rows, 1)))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_fitted_estimator_keeps_no_training_buffers(Estimator: Any) -> None:
    """The loss's per-training-set cache (labels, gradient buffers: 8 bytes per row and
    class) is dropped after fit; XGBoost trains with ``loss_`` itself."""
    X, y = _multiclass()
    clf = Estimator(**FAST).fit(X, y)
    assert not clf.loss_.__dict__.get("_train_caches")
