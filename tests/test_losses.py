"""Tests of gbfocal.losses: loss objects and their LightGBM / XGBoost adapters."""

from __future__ import annotations

import copy
import io
import json
import pickle
import subprocess
import sys

import joblib
import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, softmax
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

from gbfocal import (
    binary_focal_grad_hess,
    binary_focal_loss,
    focal_posterior,
    multiclass_focal_loss,
)
from gbfocal.losses import (
    METRICS,
    BinaryFocalLoss,
    LightGBMMetric,
    MulticlassFocalLoss,
)

LGB_PARAMS = {
    "num_threads": 1,
    "verbose": -1,
    "seed": 0,
    "deterministic": True,
    "force_col_wise": True,
    "num_leaves": 7,
    "min_data_in_leaf": 5,
    "learning_rate": 0.1,
}
XGB_PARAMS = {"nthread": 1, "max_depth": 3, "eta": 0.1, "seed": 0, "tree_method": "hist"}
N_ROUNDS = 20


# --------------------------------------------------------------------------- data
def _binary_data(n: int = 400, positive_rate: float = 0.25, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    score = X[:, 0] + 0.5 * X[:, 1] ** 2 + rng.normal(scale=0.7, size=n)
    y = (score > np.quantile(score, 1 - positive_rate)).astype(int)
    weight = rng.uniform(0.2, 3.0, size=n)
    return X, y, weight


def _multiclass_data(n: int = 600, seed: int = 1):
    """Three imbalanced classes (about 65 / 25 / 10 %) depending on two features."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    score = X[:, 0] + 0.6 * X[:, 1] + rng.normal(scale=0.6, size=n)
    y = np.digitize(score, np.quantile(score, [0.65, 0.9]))
    weight = rng.uniform(0.2, 3.0, size=n)
    return X, y, weight


def _split(X, y, w, n_train):
    return (X[:n_train], y[:n_train], w[:n_train]), (X[n_train:], y[n_train:], w[n_train:])


def _macro_auc(y, proba):
    return roc_auc_score(y, proba, multi_class="ovr", average="macro")


# --------------------------------------------------------------------------- constructor
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"gamma": -1.0}, ValueError, "gamma"),
        ({"gamma": "2"}, TypeError, "gamma"),
        ({"alpha": 1.5}, ValueError, "alpha"),
        ({"alpha": "balance"}, ValueError, "alpha"),
        ({"alpha": [1.0, 2.0, 3.0]}, ValueError, "alpha"),
        ({"alpha": True}, TypeError, "alpha"),
        ({"hessian": "abs"}, ValueError, "hessian"),
    ],
)
def test_binary_constructor_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        BinaryFocalLoss(**kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((1,), {}, ValueError, "n_classes"),
        ((3.0,), {}, TypeError, "n_classes"),
        ((3,), {"alpha": 0.25}, ValueError, "binary"),
        ((3,), {"alpha": [1.0, 2.0]}, ValueError, "alpha"),
        ((3,), {"gamma": float("nan")}, ValueError, "gamma"),
        ((3,), {"hessian": None}, ValueError, "hessian"),
    ],
)
def test_multiclass_constructor_rejects_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        MulticlassFocalLoss(*args, **kwargs)


def test_constructor_stores_parameters():
    loss = MulticlassFocalLoss(4, alpha="balanced", gamma=1.5, hessian="exact")
    assert (loss.n_classes, loss.alpha, loss.gamma, loss.hessian) == (4, "balanced", 1.5, "exact")
    assert not hasattr(loss, "alpha_")
    assert BinaryFocalLoss().n_classes == 2


# --------------------------------------------------------------------------- fit / alpha_
def test_fit_resolves_alpha():
    y = np.array([0, 0, 0, 1])
    assert_allclose(BinaryFocalLoss().fit(y).alpha_, [1.0, 1.0])
    assert_allclose(BinaryFocalLoss(alpha=0.25).fit(y).alpha_, [0.75, 0.25])
    assert_allclose(BinaryFocalLoss(alpha="balanced").fit(y).alpha_, [4 / 6, 4 / 2])
    w = np.array([1.0, 1.0, 1.0, 3.0])  # weighted counts 3 / 3: balanced is all ones
    assert_allclose(BinaryFocalLoss(alpha="balanced").fit(y, w).alpha_, [1.0, 1.0])
    assert_allclose(MulticlassFocalLoss(3, alpha=[1, 2, 3]).fit([0, 1, 2]).alpha_, [1, 2, 3])


def test_fit_rejects_bad_labels():
    with pytest.raises(ValueError, match="0/1"):
        BinaryFocalLoss().fit([0, 2])
    with pytest.raises(ValueError, match="class indices"):
        MulticlassFocalLoss(3).fit([0, 1, 3])
    with pytest.raises(ValueError, match="every class"):
        MulticlassFocalLoss(3, alpha="balanced").fit([0, 1, 1])


def test_objective_refits_alpha_on_each_training_set():
    loss = BinaryFocalLoss(alpha="balanced")
    for positive_rate in (0.25, 0.1):
        X, y, _ = _binary_data(positive_rate=positive_rate)
        xgb.train(XGB_PARAMS, xgb.DMatrix(X, y), 2, obj=loss.xgb_objective)
        assert_allclose(loss.alpha_, len(y) / (2 * np.bincount(y)))


def test_unfitted_balanced_metric_raises_instead_of_using_validation_labels():
    """lgb.train deep-copies params: the objective fits a copy, never the user's object."""
    (X, y, _), (Xv, yv, _) = _split(*_binary_data(positive_rate=0.2), 300)
    loss = BinaryFocalLoss(alpha="balanced")
    with pytest.raises(ValueError, match="init_score"):
        lgb.train({**LGB_PARAMS, "objective": loss.lgb_objective, "metric": "None"},
                  lgb.Dataset(X, y), 2, valid_sets=[lgb.Dataset(Xv, yv)], feval=loss.lgb_metric)
    loss.init_score(y)  # fits alpha_ on the training labels
    assert_allclose(loss.alpha_, len(y) / (2 * np.bincount(y)))


def test_metric_uses_the_objectives_alpha():
    (X, y, _), (Xv, yv, _) = _split(*_binary_data(positive_rate=0.2), 300)
    loss = BinaryFocalLoss(alpha="balanced", gamma=2.0)
    loss.init_score(y)
    dvalid = lgb.Dataset(Xv, yv)
    evals: dict = {}
    booster = lgb.train(
        {**LGB_PARAMS, "objective": loss.lgb_objective, "metric": "None"},
        lgb.Dataset(X, y), 5, valid_sets=[dvalid], feval=loss.lgb_metric,
        callbacks=[lgb.record_evaluation(evals)],
    )
    alpha_train = len(y) / (2 * np.bincount(y))
    expected = binary_focal_loss(yv, booster.predict(Xv), alpha=alpha_train).mean()
    assert_allclose(evals["valid_0"]["focal_loss"][-1], expected, rtol=1e-12)


# --------------------------------------------------------------------------- init_score
def test_binary_init_score_gamma0_is_weighted_log_odds():
    _, y, w = _binary_data()
    loss = BinaryFocalLoss(gamma=0.0)
    for weight in (None, w):
        rate = np.average(y, weights=weight)
        assert_allclose(loss.init_score(y, weight), np.log(rate / (1 - rate)), rtol=1e-12)
    # alpha=a with gamma=0 is weighted log loss: log-odds of the alpha-weighted rate
    rate = np.average(y, weights=w)
    alpha_odds = 0.25 * rate / (0.75 * (1 - rate))
    assert_allclose(BinaryFocalLoss(alpha=0.25, gamma=0).init_score(y, w), np.log(alpha_odds))


def test_multiclass_init_score_gamma0_is_centred_log_shares():
    _, y, w = _multiclass_data()
    init = MulticlassFocalLoss(3, gamma=0.0).init_score(y, w)
    log_share = np.log(np.bincount(y, weights=w))
    assert_allclose(init, log_share - log_share.mean(), atol=1e-7)
    assert init.shape == (3,)


@pytest.mark.parametrize("alpha", [None, "balanced"])
@pytest.mark.parametrize("gamma", [0.5, 2.0, 5.0])
def test_binary_init_score_minimises_the_focal_loss(alpha, gamma):
    _, y, w = _binary_data(positive_rate=0.1)
    loss = BinaryFocalLoss(alpha=alpha, gamma=gamma)
    c = loss.init_score(y, w)
    total = lambda s: loss.loss(y, np.full(y.shape, s), w).sum()  # noqa: E731
    assert total(c) <= min(total(c - 1e-4), total(c + 1e-4))
    grad, _ = loss.grad_hess(y, np.full(y.shape, c), w)
    assert abs(grad.sum()) < 1e-9 * w.sum()


@pytest.mark.parametrize("alpha", [None, "balanced", [1.0, 0.5, 2.0]])
@pytest.mark.parametrize("gamma", [1.0, 2.0])
def test_multiclass_init_score_minimises_the_focal_loss(alpha, gamma):
    _, y, w = _multiclass_data()
    loss = MulticlassFocalLoss(3, alpha=alpha, gamma=gamma)
    c = loss.init_score(y, w)
    assert abs(c.mean()) < 1e-12  # the gauge: softmax ignores a common shift
    grad, _ = loss.grad_hess(y, np.tile(c, (len(y), 1)), w)
    assert_allclose(grad.sum(axis=0), 0.0, atol=1e-7 * w.sum())
    base = loss.loss(y, np.tile(c, (len(y), 1)), w).sum()
    rng = np.random.default_rng(0)
    for _ in range(5):
        other = c + 1e-3 * rng.normal(size=3)
        assert base <= loss.loss(y, np.tile(other, (len(y), 1)), w).sum()


def test_init_score_with_a_missing_class_stays_finite():
    assert np.isfinite(BinaryFocalLoss().init_score(np.ones(10)))
    init = MulticlassFocalLoss(3).init_score(np.array([0, 0, 1, 1, 1]))
    assert np.isfinite(init).all() and init[2] < init[0] < init[1]


# --------------------------------------------------------------------------- predict_proba
def test_predict_proba_binary():
    z = np.array([-1000.0, -3.0, 0.0, 2.0, 1000.0])
    proba = BinaryFocalLoss().predict_proba(z, corrected=False)
    assert proba.shape == (5, 2)
    assert_allclose(proba[:, 1], expit(z), rtol=1e-15)
    assert_array_equal(proba[[0, -1]], [[1.0, 0.0], [0.0, 1.0]])
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-15)


def test_predict_proba_multiclass():
    z = np.array([[1000.0, -1000.0, 0.0], [0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    proba = MulticlassFocalLoss(3).predict_proba(z, corrected=False)
    assert_allclose(proba, softmax(z, axis=1), rtol=1e-14)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-15)
    assert np.isfinite(proba).all()


def test_predict_proba_rejects_wrong_shapes_and_probabilities():
    binary, multi = BinaryFocalLoss(), MulticlassFocalLoss(3)
    with pytest.raises(ValueError, match="probabilities"):
        binary.predict_proba(np.array([[0.3, 0.7], [0.9, 0.1]]))
    with pytest.raises(ValueError, match="1-D"):
        binary.predict_proba(np.zeros((4, 3)))
    with pytest.warns(UserWarning, match="look like probabilities"):
        binary.predict_proba(np.array([0.2, 0.9, 0.5]))
    with pytest.raises(ValueError, match="probabilities"):
        multi.predict_proba(softmax(np.arange(6.0).reshape(2, 3), axis=1))
    with pytest.raises(ValueError, match="n_classes=3"):
        multi.predict_proba(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="2-D"):
        multi.predict_proba(np.zeros(6))
    with pytest.raises(ValueError, match="finite"):
        multi.predict_proba([[0.0, np.nan, 1.0]])


# --------------------------------------------------------------------------- gamma=0 == built-in
def _lgb_binary_pair(X, y, weight, rounds=N_ROUNDS):
    builtin = lgb.train({**LGB_PARAMS, "objective": "binary"}, lgb.Dataset(X, y, weight=weight),
                        rounds)
    loss = BinaryFocalLoss(gamma=0.0)
    init = loss.init_score(y, weight)
    train = lgb.Dataset(X, y, weight=weight, init_score=np.full(len(y), init))
    focal = lgb.train({**LGB_PARAMS, "objective": loss.lgb_objective}, train, rounds)
    return builtin, focal, loss, init


@pytest.mark.parametrize("weighted", [False, True])
def test_lightgbm_gamma0_reproduces_builtin_binary(weighted):
    X, y, w = _binary_data()
    weight = w if weighted else None
    builtin, focal, loss, init = _lgb_binary_pair(X, y, weight)
    expected = builtin.predict(X)
    got = loss.predict_proba(focal.predict(X) + init)[:, 1]
    assert_allclose(got, expected, atol=1e-6)
    assert np.ptp(expected) > 0.5  # the model did learn something to agree on

    # the built-in's starting score (boost_from_average) is our init_score
    start = lgb.train({**LGB_PARAMS, "objective": "binary", "learning_rate": 1e-12},
                      lgb.Dataset(X, y, weight=weight), 1)
    # (LightGBM stores weights as float32: compare with the float32-rounded weights)
    init32 = loss.init_score(y, None if weight is None else weight.astype(np.float32))
    assert_allclose(start.predict(X[:3], raw_score=True), init32, rtol=1e-9)


@pytest.mark.parametrize("weighted", [False, True])
def test_xgboost_gamma0_reproduces_builtin_binary(weighted):
    X, y, w = _binary_data()
    weight = w if weighted else None
    dtrain = xgb.DMatrix(X, y, weight=weight)
    builtin = xgb.train({**XGB_PARAMS, "objective": "binary:logistic"}, dtrain, N_ROUNDS)
    loss = BinaryFocalLoss(gamma=0.0)
    init = loss.init_score(y, weight)
    # The built-in estimates its intercept (a probability) from the data: ours matches it.
    config = json.loads(builtin.save_config())["learner"]["learner_model_param"]
    assert_allclose(float(config["base_score"].strip("[]")), expit(init), rtol=1e-6)

    # Without an "objective" parameter base_score is added to the margin as is.
    focal = xgb.train({**XGB_PARAMS, "base_score": init}, dtrain, N_ROUNDS,
                      obj=loss.xgb_objective)
    dtest = xgb.DMatrix(X)
    expected = builtin.predict(dtest)
    assert_allclose(loss.predict_proba(focal.predict(dtest, output_margin=True))[:, 1],
                    expected, atol=1e-6)
    assert np.ptp(expected) > 0.5


def test_xgboost_base_score_base_margin_and_logistic_link_agree():
    """The three documented ways to start XGBoost from init_score give the same model."""
    X, y, w = _binary_data()
    loss = BinaryFocalLoss(alpha="balanced", gamma=2.0)
    init = loss.init_score(y, w)
    dtest = xgb.DMatrix(X)
    margin_of = {}
    plain = xgb.train({**XGB_PARAMS, "base_score": init}, xgb.DMatrix(X, y, weight=w), 10,
                      obj=loss.xgb_objective)
    margin_of["base_score"] = plain.predict(dtest, output_margin=True)
    # "binary:logistic" turns base_score into a probability (and predict into sigmoid)
    link = xgb.train({**XGB_PARAMS, "objective": "binary:logistic", "base_score": expit(init)},
                     xgb.DMatrix(X, y, weight=w), 10, obj=loss.xgb_objective)
    margin_of["logistic"] = link.predict(dtest, output_margin=True)
    per_row = xgb.train({**XGB_PARAMS, "base_score": 0.0},
                        xgb.DMatrix(X, y, weight=w, base_margin=np.full(len(y), init)), 10,
                        obj=loss.xgb_objective)
    margin_of["base_margin"] = per_row.predict(dtest, output_margin=True) + init
    for margin in margin_of.values():
        assert_allclose(margin, margin_of["base_score"], atol=1e-5)
    assert_allclose(link.predict(dtest), expit(margin_of["base_score"]), atol=1e-6)


# --------------------------------------------------------------------------- multiclass
class _FlattenedLayout:
    """A deliberately wrong objective: LightGBM gets sample-major 1-D grad/hess."""

    def __init__(self, loss):
        self.loss = loss

    def __call__(self, preds, dataset):
        grad, hess = self.loss.lgb_objective(preds, dataset)
        return np.ravel(grad, order="C"), np.ravel(hess, order="C")


def _lgb_multiclass(objective, X, y, weight, init, learning_rate):
    params = {**LGB_PARAMS, "objective": objective, "num_class": 3,
              "learning_rate": learning_rate, "min_sum_hessian_in_leaf": 0.0}
    data = lgb.Dataset(X, y, weight=weight, init_score=init)
    return lgb.train(params, data, N_ROUNDS)


@pytest.mark.parametrize("weighted", [False, True])
def test_lightgbm_gamma0_reproduces_builtin_multiclass(weighted):
    """Exact agreement: a transposed or flattened gradient layout cannot pass this.

    LightGBM's multiclass Hessian is ``K/(K-1) p (1 - p)``; with no L2 penalty the
    leaf values scale with 1/Hessian, so our exact ``p (1 - p)`` at a learning rate
    divided by ``K/(K-1)`` grows the very same trees.
    """
    X, y, w = _multiclass_data()
    weight = w if weighted else None
    builtin = _lgb_multiclass("multiclass", X, y, weight, None, 0.1)
    loss = MulticlassFocalLoss(3, gamma=0.0)
    init = np.tile(loss.init_score(y, weight), (len(y), 1))
    focal = _lgb_multiclass(loss.lgb_objective, X, y, weight, init, 0.1 * 2 / 3)
    expected = builtin.predict(X)
    assert_allclose(loss.predict_proba(focal.predict(X) + init), expected, atol=1e-6)

    # The same comparison rejects a sample-major 1-D layout, which LightGBM accepts.
    wrong = _lgb_multiclass(_FlattenedLayout(loss), X, y, weight, init, 0.1 * 2 / 3)
    assert np.abs(loss.predict_proba(wrong.predict(X) + init) - expected).max() > 0.05


@pytest.mark.parametrize("weighted", [False, True])
def test_xgboost_gamma0_reproduces_builtin_multiclass(weighted):
    """XGBoost's softprob Hessian is ``2 p (1 - p)``: half the learning rate, lambda=0."""
    X, y, w = _multiclass_data()
    weight = w if weighted else None
    params = {**XGB_PARAMS, "num_class": 3, "reg_lambda": 0.0, "min_child_weight": 0.0}
    dtrain = xgb.DMatrix(X, y, weight=weight)
    loss = MulticlassFocalLoss(3, gamma=0.0)
    init = loss.init_score(y, weight)
    builtin = xgb.train({**params, "objective": "multi:softprob", "base_score": init.tolist()},
                        dtrain, N_ROUNDS)
    focal = xgb.train({**params, "eta": params["eta"] / 2, "base_score": init.tolist()},
                      dtrain, N_ROUNDS, obj=loss.xgb_objective)
    dtest = xgb.DMatrix(X)
    expected = builtin.predict(dtest)
    got = loss.predict_proba(focal.predict(dtest, output_margin=True))
    # XGBoost computes the built-in gradient in float32, ours in float64: a near-tie
    # split can go the other way for a handful of rows, so bound the bulk tightly.
    diff = np.abs(got - expected)
    assert np.quantile(diff, 0.99) < 1e-6 and diff.max() < 1e-3, diff.max()

    transposed = xgb.train({**params, "eta": params["eta"] / 2, "base_score": init.tolist()},
                           dtrain, N_ROUNDS, obj=_transposed_xgb_objective(loss))
    wrong = loss.predict_proba(transposed.predict(dtest, output_margin=True))
    assert np.abs(wrong - expected).max() > 0.05


class _transposed_xgb_objective:  # noqa: N801 - reads like the function it stands for
    """A deliberately wrong objective: XGBoost gets class-major grad/hess."""

    def __init__(self, loss):
        self.loss = loss

    def __call__(self, predt, dtrain):
        grad, hess = self.loss.xgb_objective(predt, dtrain)
        return grad.T.reshape(grad.shape), hess.T.reshape(hess.shape)


def test_multiclass_focal_models_learn_like_builtin():
    (X, y, w), (Xv, yv, _) = _split(*_multiclass_data(n=900), 600)
    loss = MulticlassFocalLoss(3, alpha="balanced", gamma=2.0)
    init = loss.init_score(y, w)
    lgb_builtin = lgb.train({**LGB_PARAMS, "objective": "multiclass", "num_class": 3},
                            lgb.Dataset(X, y, weight=w), N_ROUNDS)
    lgb_focal = lgb.train({**LGB_PARAMS, "objective": loss.lgb_objective, "num_class": 3},
                          lgb.Dataset(X, y, weight=w, init_score=np.tile(init, (len(y), 1))),
                          N_ROUNDS)
    xgb_builtin = xgb.train({**XGB_PARAMS, "objective": "multi:softprob", "num_class": 3},
                            xgb.DMatrix(X, y, weight=w), N_ROUNDS)
    xgb_focal = xgb.train({**XGB_PARAMS, "num_class": 3, "base_score": init.tolist()},
                          xgb.DMatrix(X, y, weight=w), N_ROUNDS, obj=loss.xgb_objective)
    dvalid = xgb.DMatrix(Xv)
    auc = {
        "lgb_builtin": _macro_auc(yv, lgb_builtin.predict(Xv)),
        "lgb_focal": _macro_auc(yv, loss.predict_proba(lgb_focal.predict(Xv) + init)),
        "xgb_builtin": _macro_auc(yv, xgb_builtin.predict(dvalid)),
        "xgb_focal": _macro_auc(yv, loss.predict_proba(xgb_focal.predict(dvalid,
                                                                         output_margin=True))),
    }
    assert auc["lgb_builtin"] > 0.8 and auc["xgb_builtin"] > 0.8, auc
    assert auc["lgb_focal"] > auc["lgb_builtin"] - 0.03, auc
    assert auc["xgb_focal"] > auc["xgb_builtin"] - 0.03, auc


def test_library_layouts_are_handled():
    """LightGBM passes (n, K) Fortran-ordered float64, XGBoost (n, K) float32."""
    X, y, w = _multiclass_data(n=60)
    loss = MulticlassFocalLoss(3, gamma=2.0)
    raw = np.random.default_rng(0).normal(size=(60, 3))
    expected_grad, expected_hess = loss.grad_hess(y, raw, w)

    grad, hess = loss.lgb_objective(np.asfortranarray(raw), lgb.Dataset(X, y, weight=w).construct())
    assert grad.shape == hess.shape == (60, 3) and grad.dtype == np.float32
    assert_allclose(grad, expected_grad, rtol=1e-6)
    assert_allclose(hess, expected_hess, rtol=1e-6)
    with pytest.raises(ValueError, match="flattened"):
        loss.lgb_objective(raw.ravel(), lgb.Dataset(X, y, weight=w).construct())

    dtrain = xgb.DMatrix(X, y, weight=w)
    grad, hess = loss.xgb_objective(raw.astype(np.float32), dtrain)
    assert grad.shape == (60, 3) and grad.dtype == np.float32
    assert_allclose(grad, expected_grad, rtol=1e-5, atol=1e-7)
    # XGBoost < 2 flattened sample-major: reshaped, and (n, K) handed back
    grad_flat, hess_flat = loss.xgb_objective(raw.astype(np.float32).ravel(), dtrain)
    assert_array_equal(grad_flat, grad)
    assert_array_equal(hess_flat, hess)
    with pytest.raises(ValueError, match="flattened"):
        loss.xgb_objective(raw[:, :2].ravel(), dtrain)


# --------------------------------------------------------------------------- imbalanced binary
def test_balanced_focal_learns_imbalanced_binary_in_both_libraries():
    X, y, _ = _binary_data(n=1500, positive_rate=0.05, seed=3)
    (X, y), (Xv, yv) = (X[:1000], y[:1000]), (X[1000:], y[1000:])
    loss = BinaryFocalLoss(alpha="balanced", gamma=2.0)
    init = loss.init_score(y)
    lgb_model = lgb.train({**LGB_PARAMS, "objective": loss.lgb_objective},
                          lgb.Dataset(X, y, init_score=np.full(len(y), init)), 40)
    xgb_model = xgb.train({**XGB_PARAMS, "base_score": init}, xgb.DMatrix(X, y), 40,
                          obj=loss.xgb_objective)
    lgb_sk = lgb.LGBMClassifier(objective=loss.sklearn_objective, n_estimators=40,
                                **{k: v for k, v in LGB_PARAMS.items() if k != "num_threads"},
                                n_jobs=1).fit(X, y, init_score=np.full(len(y), init))
    xgb_sk = xgb.XGBClassifier(objective=loss.sklearn_objective, n_estimators=40, max_depth=3,
                               learning_rate=0.1, n_jobs=1, base_score=float(expit(init)))
    xgb_sk.fit(X, y)
    rate = yv.mean()
    scores = {
        "lgb": lgb_model.predict(Xv),
        "xgb": xgb_model.predict(xgb.DMatrix(Xv), output_margin=True),
        "lgb_sklearn": lgb_sk.predict(Xv, raw_score=True),
        "xgb_sklearn": xgb_sk.predict(Xv, output_margin=True),
    }
    for name, margin in scores.items():
        ap = average_precision_score(yv, margin)
        assert ap > max(5 * rate, 0.4), (name, ap, rate)


# --------------------------------------------------------------------------- metrics
def _reference(metric, y, proba, raw, weight, loss):
    if metric == "focal_loss":
        fn = binary_focal_loss if loss.n_classes == 2 and raw.ndim == 1 else multiclass_focal_loss
        values = fn(y, raw, alpha=loss.alpha_, gamma=loss.gamma, sample_weight=weight)
        return values.sum() / (len(y) if weight is None else weight.sum())
    if metric == "log_loss":
        return log_loss(y, proba, sample_weight=weight)
    if proba.shape[1] == 2:
        proba = proba[:, 1]
        onehot = y
    else:
        onehot = np.eye(proba.shape[1])[y]
    if metric == "roc_auc":
        return roc_auc_score(y, proba, multi_class="ovr", sample_weight=weight)
    return average_precision_score(onehot, proba, sample_weight=weight)


@pytest.mark.parametrize("metric", list(METRICS))
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_metrics_agree_with_reference(metric, weighted):
    X, y, w = _binary_data(n=200)
    weight = w if weighted else None
    raw = np.random.default_rng(0).normal(scale=2.0, size=200) + (y - 0.5)
    loss = BinaryFocalLoss(alpha=0.3, gamma=1.5).fit(y)
    expected = _reference(metric, y, loss.predict_proba(raw), raw, weight, loss)
    lgb_data = lgb.Dataset(X, y, weight=weight).construct()
    xgb_data = xgb.DMatrix(X, y, weight=weight)
    results = {
        "lgb_eval": loss.lgb_eval(metric)(raw, lgb_data),
        "xgb_eval": loss.xgb_eval(metric)(raw.astype(np.float32), xgb_data),
        "lgb_sklearn_eval": loss.lgb_sklearn_eval(metric)(y, raw, weight),
        "xgb_sklearn_eval": (metric, loss.xgb_sklearn_eval(metric)(y, raw, sample_weight=weight)),
    }
    if metric == "focal_loss":
        results["lgb_metric"] = loss.lgb_metric(raw, lgb_data)
        results["xgb_metric"] = loss.xgb_metric(raw, xgb_data)
    for name, result in results.items():
        assert result[0] == metric, name
        if len(result) == 3:
            assert result[2] is METRICS[metric], name
        # the libraries store weights (and XGBoost margins) as float32
        tolerance = 1e-9 if name.endswith("sklearn_eval") or not weighted else 1e-6
        if name.startswith("xgb") and not name.endswith("sklearn_eval"):
            tolerance = 1e-6
        assert result[1] == pytest.approx(expected, rel=tolerance), name


@pytest.mark.parametrize("metric", list(METRICS))
@pytest.mark.parametrize("weighted", [False, True])
def test_multiclass_metrics_agree_with_reference(metric, weighted):
    X, y, w = _multiclass_data(n=200)
    weight = w if weighted else None
    raw = np.random.default_rng(0).normal(scale=2.0, size=(200, 3)) + np.eye(3)[y]
    loss = MulticlassFocalLoss(3, alpha="balanced", gamma=2.0).fit(y, weight)
    expected = _reference(metric, y, loss.predict_proba(raw), raw, weight, loss)
    lgb_data = lgb.Dataset(X, y, weight=weight).construct()
    value = loss.lgb_eval(metric)(np.asfortranarray(raw), lgb_data)[1]
    assert value == pytest.approx(expected, rel=1e-6 if weighted else 1e-12)
    value = loss.xgb_eval(metric)(raw.astype(np.float32), xgb.DMatrix(X, y, weight=weight))[1]
    assert value == pytest.approx(expected, rel=1e-5)


def test_metric_during_training_matches_final_predictions():
    """LightGBM feval and XGBoost custom_metric receive margins that include init_score."""
    (X, y, w), (Xv, yv, wv) = _split(*_binary_data(n=500), 350)
    loss = BinaryFocalLoss(alpha="balanced", gamma=2.0)
    init = loss.init_score(y, w)
    evals: dict = {}
    booster = lgb.train(
        {**LGB_PARAMS, "objective": loss.lgb_objective, "metric": "None"},
        lgb.Dataset(X, y, weight=w, init_score=np.full(len(y), init)), 10,
        valid_sets=[lgb.Dataset(Xv, yv, weight=wv, init_score=np.full(len(yv), init))],
        valid_names=["valid"], feval=[loss.lgb_metric, loss.lgb_eval("average_precision")],
        callbacks=[lgb.record_evaluation(evals)],
    )
    margin = booster.predict(Xv) + init
    assert evals["valid"]["focal_loss"][-1] == pytest.approx(
        _reference("focal_loss", yv, None, margin, wv, loss), rel=1e-9)
    assert evals["valid"]["average_precision"][-1] == pytest.approx(
        average_precision_score(yv, margin, sample_weight=wv), rel=1e-9)

    xgb_evals: dict = {}
    booster = xgb.train({**XGB_PARAMS, "base_score": init, "disable_default_eval_metric": 1},
                        xgb.DMatrix(X, y, weight=w), 10, obj=loss.xgb_objective,
                        evals=[(xgb.DMatrix(Xv, yv, weight=wv), "valid")],
                        custom_metric=loss.xgb_eval("log_loss"), evals_result=xgb_evals,
                        verbose_eval=False)
    margin = booster.predict(xgb.DMatrix(Xv), output_margin=True)
    # log loss of the corrected probabilities (the focal posterior), not of sigmoid(margin)
    posterior = focal_posterior(margin, alpha=loss.alpha_, gamma=loss.gamma)
    assert xgb_evals["valid"]["log_loss"][-1] == pytest.approx(
        log_loss(yv, posterior, sample_weight=wv), rel=1e-5)


def test_early_stopping_direction_follows_the_metric():
    (X, y, _), (Xv, yv, _) = _split(*_binary_data(n=500, positive_rate=0.1), 350)
    loss = BinaryFocalLoss(gamma=2.0)
    init = loss.init_score(y)
    metric = loss.xgb_eval("roc_auc")
    assert metric.higher_is_better and not loss.xgb_eval("log_loss").higher_is_better
    evals: dict = {}
    booster = xgb.train({**XGB_PARAMS, "base_score": init, "disable_default_eval_metric": 1},
                        xgb.DMatrix(X, y), 60, obj=loss.xgb_objective,
                        evals=[(xgb.DMatrix(Xv, yv), "valid")], custom_metric=metric,
                        maximize=metric.higher_is_better, early_stopping_rounds=5,
                        evals_result=evals, verbose_eval=False)
    history = evals["valid"]["roc_auc"]
    assert booster.best_iteration == int(np.argmax(history))


def test_metrics_reject_bad_input():
    loss = BinaryFocalLoss()
    with pytest.raises(ValueError, match="metric must be one of"):
        loss.lgb_eval("auc")
    with pytest.raises(ValueError, match="metric must be one of"):
        loss.xgb_eval(None)
    with pytest.raises(TypeError, match="loss must be"):
        LightGBMMetric("binary", "roc_auc")
    data = lgb.Dataset(np.zeros((4, 1)), [0, 1, 0, 1]).construct()
    with pytest.raises(ValueError, match="shape"):
        loss.lgb_metric(np.zeros(3), data)
    with pytest.raises(ValueError, match="probabilities"):
        loss.lgb_metric(np.full((4, 2), 0.5), data)
    with pytest.raises(ValueError, match="finite"):
        loss.xgb_metric(np.array([0.0, np.inf, 0.0, 1.0]), xgb.DMatrix(np.zeros((4, 1)),
                                                                       [0, 1, 0, 1]))
    with pytest.raises(ValueError, match="0/1"):
        loss.lgb_objective(np.zeros(4), lgb.Dataset(np.zeros((4, 1)), [0, 2, 0, 1]).construct())


# --------------------------------------------------------------------------- grad_hess / loss
def test_numpy_level_matches_core_functions():
    _, y, w = _binary_data(n=50)
    raw = np.linspace(-30, 30, 50)
    loss = BinaryFocalLoss(alpha=0.25, gamma=2.0, hessian="exact")
    grad, hess = loss.grad_hess(y, raw, w)
    expected = binary_focal_grad_hess(y, raw, alpha=0.25, gamma=2.0, sample_weight=w,
                                      hessian="exact")
    assert_array_equal(grad, expected[0])
    assert_array_equal(hess, expected[1])
    assert_array_equal(loss.loss(y, raw, w),
                       binary_focal_loss(y, raw, alpha=0.25, gamma=2.0, sample_weight=w))


# --------------------------------------------------------------------------- pickling
def _adapters(loss):
    """Each adapter callable with the kind of arguments its library passes."""
    native = [loss.lgb_objective, loss.xgb_objective, loss.lgb_metric, loss.xgb_metric,
              loss.lgb_eval("roc_auc"), loss.xgb_eval("log_loss")]
    sklearn_api = [loss.sklearn_objective, loss.lgb_sklearn_eval("average_precision"),
                   loss.xgb_sklearn_eval("focal_loss")]
    return [(a, "native") for a in native] + [(a, "sklearn") for a in sklearn_api]


def _joblib_round_trip(obj):
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


@pytest.mark.parametrize(
    "make", [lambda: BinaryFocalLoss(alpha="balanced", gamma=1.0),
             lambda: MulticlassFocalLoss(3, alpha=[1.0, 2.0, 3.0], hessian="exact")],
)
@pytest.mark.parametrize("round_trip", [lambda o: pickle.loads(pickle.dumps(o)),
                                        _joblib_round_trip, copy.deepcopy])
def test_pickle_round_trip(make, round_trip):
    loss = make()
    if loss.n_classes == 2:
        X, y, w = _binary_data(n=60)
        raw = np.random.default_rng(0).normal(size=60)
    else:
        X, y, w = _multiclass_data(n=60)
        raw = np.random.default_rng(0).normal(size=(60, 3))
    clone = round_trip(loss)
    assert repr(clone) == repr(loss) and not hasattr(clone, "alpha_")
    loss.fit(y, w)
    clone = round_trip(loss)
    assert_array_equal(clone.alpha_, loss.alpha_)
    data = xgb.DMatrix(X, y, weight=w)
    for adapter, api in _adapters(loss):
        args = (raw, data) if api == "native" else (y, raw, w)
        result, copied_result = adapter(*args), round_trip(adapter)(*args)
        assert type(result) is type(copied_result)
        for a, b in zip(np.atleast_1d(result), np.atleast_1d(copied_result), strict=True):
            assert_array_equal(a, b)


# --------------------------------------------------------------------------- lazy imports
def test_import_needs_neither_lightgbm_nor_xgboost():
    code = (
        "import sys\n"
        "for name in ('lightgbm', 'xgboost', 'sklearn'):\n"
        "    sys.modules[name] = None\n"
        "import numpy as np\n"
        "from gbfocal.losses import BinaryFocalLoss\n"
        "class Data:\n"
        "    def get_label(self): return np.array([0.0, 1.0])\n"
        "    def get_weight(self): return None\n"
        "loss = BinaryFocalLoss()\n"
        "loss.lgb_objective(np.zeros(2), Data())\n"
        "print(loss.lgb_metric(np.zeros(2), Data())[0])\n"
        "print(loss.lgb_eval('roc_auc')(np.array([0.0, 1.0]), Data()))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    lines = result.stdout.splitlines()
    assert lines[0] == "focal_loss"
    # the ranking metrics are gbfocal's own (gbfocal._ranking): no scikit-learn either
    assert lines[1] == "('roc_auc', 1.0, True)"


def test_sklearn_api_metric_adapters_inside_the_classifiers():
    (X, y, w), (Xv, yv, wv) = _split(*_binary_data(n=500), 350)
    loss = BinaryFocalLoss(alpha="balanced", gamma=2.0)
    init = loss.init_score(y, w)
    lgb_model = lgb.LGBMClassifier(objective=loss.sklearn_objective, n_estimators=10,
                                   num_leaves=7, n_jobs=1, verbose=-1, metric="None")
    lgb_model.fit(X, y, sample_weight=w, init_score=np.full(len(y), init),
                  eval_X=(Xv,), eval_y=(yv,), eval_sample_weight=[wv],
                  eval_init_score=[np.full(len(yv), init)],
                  eval_metric=loss.lgb_sklearn_eval("focal_loss"))
    margin = lgb_model.predict(Xv, raw_score=True) + init
    assert lgb_model.evals_result_["valid_0"]["focal_loss"][-1] == pytest.approx(
        _reference("focal_loss", yv, None, margin, wv, loss), rel=1e-6)

    xgb_model = xgb.XGBClassifier(objective=loss.sklearn_objective, n_estimators=10, max_depth=3,
                                  n_jobs=1, base_score=float(expit(init)),
                                  eval_metric=loss.xgb_sklearn_eval("log_loss"))
    xgb_model.fit(X, y, sample_weight=w, eval_set=[(Xv, yv)], sample_weight_eval_set=[wv],
                  verbose=False)
    # with a callable objective XGBClassifier keeps the "binary:logistic" link: its
    # predict_proba is the plain sigmoid of the margin, not the focal posterior
    margin = xgb_model.predict(Xv, output_margin=True)
    assert_allclose(xgb_model.predict_proba(Xv), loss.predict_proba(margin, corrected=False),
                    atol=1e-6)
    posterior = focal_posterior(margin, alpha=loss.alpha_, gamma=loss.gamma)
    assert xgb_model.evals_result()["validation_0"]["log_loss"][-1] == pytest.approx(
        log_loss(yv, posterior, sample_weight=wv), rel=1e-5)


# --------------------------------------------------------------------------- per-round cache
def test_explicit_fit_keeps_alpha_for_a_partition():
    """Distributed training: alpha_ fitted on the global labels survives a partition."""
    X, y, w = _binary_data(n=400, positive_rate=0.25)
    part = slice(0, 80)  # a partition with a different positive rate
    assert not np.isclose(y[part].mean(), y.mean())
    raw = np.random.default_rng(0).normal(size=80)
    for explicit in ("fit", "init_score"):
        loss = BinaryFocalLoss(alpha="balanced")
        getattr(loss, explicit)(y, w)
        full_alpha = loss.alpha_.copy()
        expected = binary_focal_grad_hess(y[part], raw, alpha=full_alpha, sample_weight=w[part])
        for objective, data in (
            (loss.lgb_objective, lgb.Dataset(X[part], y[part], weight=w[part]).construct()),
            (loss.xgb_objective, xgb.DMatrix(X[part], y[part], weight=w[part])),
        ):
            raw_in = raw if objective == loss.lgb_objective else raw.astype(np.float32)
            grad, hess = objective(raw_in, data)
            assert_array_equal(loss.alpha_, full_alpha)
            assert_allclose(grad, expected[0], rtol=1e-6)
            assert_allclose(hess, expected[1], rtol=1e-6)
        grad, _ = loss.sklearn_objective(y[part], raw, w[part])
        assert_array_equal(loss.alpha_, full_alpha)
        assert_allclose(grad, expected[0], rtol=1e-6)
        # a worker receives a pickled copy: it keeps the global alpha_ too
        worker_copy = pickle.loads(pickle.dumps(loss))
        worker_copy.xgb_objective(raw.astype(np.float32), xgb.DMatrix(X[part], y[part]))
        assert_array_equal(worker_copy.alpha_, full_alpha)
    # An unfitted loss resolves alpha_ from the partition it is handed.
    loss = BinaryFocalLoss(alpha="balanced")
    loss.xgb_objective(raw.astype(np.float32), xgb.DMatrix(X[part], y[part], weight=w[part]))
    assert_allclose(loss.alpha_, BinaryFocalLoss(alpha="balanced").fit(y[part], w[part]).alpha_)


def test_objective_checks_labels_once_per_training_set_and_notices_changes():
    X, y, w = _binary_data(n=200, positive_rate=0.25)
    raw = np.random.default_rng(1).normal(size=200)
    loss = BinaryFocalLoss(alpha="balanced", gamma=2.0)
    dtrain = xgb.DMatrix(X, y, weight=w)
    grad, hess = loss.xgb_objective(raw.astype(np.float32), dtrain)
    first_cache = loss._train_caches[-1]
    loss.xgb_objective(raw.astype(np.float32), dtrain)
    assert loss._train_caches == [first_cache]  # same training set: nothing re-checked
    # float32 kernels output = the float64 result rounded once
    ref = binary_focal_grad_hess(y, raw.astype(np.float32), alpha="balanced",
                                 sample_weight=dtrain.get_weight())  # stored as float32
    assert_array_equal(grad, ref[0].astype(np.float32))
    assert_array_equal(hess, ref[1].astype(np.float32))
    # new labels on the same DMatrix, then new weights: a new training set, refitted
    y2 = 1 - y
    dtrain.set_label(y2)
    loss.xgb_objective(raw.astype(np.float32), dtrain)
    assert_allclose(loss.alpha_, BinaryFocalLoss(alpha="balanced").fit(y2, w).alpha_)
    dtrain.set_weight(np.ones_like(w))
    loss.xgb_objective(raw.astype(np.float32), dtrain)
    assert_allclose(loss.alpha_, BinaryFocalLoss(alpha="balanced").fit(y2).alpha_)
    # bad labels are still caught on a new training set
    with pytest.raises(ValueError, match="0/1"):
        loss.lgb_objective(raw, lgb.Dataset(X, np.where(y == 1, 2, 0)).construct())
    # margins are checked every round
    bad = raw.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        loss.lgb_objective(bad, lgb.Dataset(X, y).construct())
    with pytest.raises(ValueError, match="samples"):
        loss.lgb_objective(raw[:-1], lgb.Dataset(X, y).construct())
    # the cache never travels with a copy
    assert not hasattr(copy.deepcopy(loss), "_train_caches")
    assert not hasattr(pickle.loads(pickle.dumps(loss)), "_train_caches")


def test_predict_proba_check_input_false_skips_the_probability_guard():
    margins = np.array([0.1, 0.5, 0.9])
    with pytest.warns(UserWarning, match="look like"):
        BinaryFocalLoss().predict_proba(margins)
    proba = BinaryFocalLoss().predict_proba(margins, check_input=False)  # no warning
    assert_allclose(proba[:, 1], focal_posterior(margins, gamma=2.0))
    rows = np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
    with pytest.raises(ValueError, match="probabilities"):
        MulticlassFocalLoss(3).predict_proba(rows)
    assert_allclose(MulticlassFocalLoss(3).predict_proba(rows, check_input=False),
                    focal_posterior(rows, gamma=2.0))
    with pytest.raises(ValueError, match="finite"):
        BinaryFocalLoss().predict_proba([0.1, np.nan], check_input=False)


# --------------------------------------------------------------------------- per-round buffers
@pytest.mark.parametrize("binary", [True, False])
def test_objective_reuses_only_buffers_nobody_holds(binary):
    """Last round's arrays are rewritten only once the caller has dropped them."""
    if binary:
        X, y, w = _binary_data(n=300, positive_rate=0.3)
        loss, shape = BinaryFocalLoss(alpha=0.3, gamma=2.0), (300,)
    else:
        X, y, w = _multiclass_data(n=300)
        loss, shape = MulticlassFocalLoss(3, gamma=2.0), (300, 3)
    rng = np.random.default_rng(0)
    dtrain = xgb.DMatrix(X, y, weight=w)
    w = dtrain.get_weight()  # stored as float32
    raw1, raw2 = (rng.normal(size=shape).astype(np.float32) for _ in range(2))
    expected1 = [a.astype(np.float32) for a in loss.grad_hess(y, raw1, w)]
    expected2 = [a.astype(np.float32) for a in loss.grad_hess(y, raw2, w)]

    grad1, hess1 = loss.xgb_objective(raw1, dtrain)
    view = hess1[::2]
    grad2, hess2 = loss.xgb_objective(raw2, dtrain)  # grad1 and hess1 are still held
    for got, want in ((grad1, expected1[0]), (hess1, expected1[1]),
                      (grad2, expected2[0]), (hess2, expected2[1])):
        assert_array_equal(got, want)
    assert not np.shares_memory(grad1, grad2) and not np.shares_memory(hess1, hess2)

    del grad1, hess1  # only a view of hess1 is left: it must survive the next round
    grad3, hess3 = loss.xgb_objective(raw2, dtrain)
    assert_array_equal(view, expected1[1][::2])
    assert not np.shares_memory(view, hess3)

    address = grad3.ctypes.data, hess3.ctypes.data
    del grad2, hess2, grad3, hess3, view
    grad4, hess4 = loss.xgb_objective(raw1, dtrain)
    assert_array_equal(grad4, expected1[0])
    assert_array_equal(hess4, expected1[1])
    if sys.implementation.name == "cpython" and getattr(sys, "_is_gil_enabled", lambda: True)():
        assert (grad4.ctypes.data, hess4.ctypes.data) == address  # reused: no new pages


def test_lightgbm_multiclass_gradients_come_column_major_without_copies():
    """LightGBM hands (n, K) column-major margins (a view of its flat score buffer) and
    flattens the gradient in column order: the kernels read the margins as they are and
    write the gradient pair column-major into the reused buffers, so that LightGBM's
    ``ravel(order="F")`` and float32 conversion are views. Same numbers as row-major;
    a pair the caller still holds is never rewritten."""
    X, y, w = _multiclass_data(n=300)
    loss = MulticlassFocalLoss(3, alpha=[0.5, 1.0, 2.0], gamma=2.0)
    data = lgb.Dataset(X, y, weight=w).construct()
    rng = np.random.default_rng(1)
    raw1, raw2 = (np.asfortranarray(rng.normal(0.0, 3.0, (300, 3))) for _ in range(2))
    weight = data.get_weight()  # float32, as the objective reads it
    expected1, expected2 = ([a.astype(np.float32) for a in loss.grad_hess(y, raw, weight)]
                            for raw in (raw1, raw2))

    grad1, hess1 = loss.lgb_objective(raw1, data)
    for got, want in ((grad1, expected1[0]), (hess1, expected1[1])):
        assert got.dtype == np.float32 and got.flags.f_contiguous
        assert np.shares_memory(got.ravel(order="F"), got)  # LightGBM's flattening: a view
        assert_array_equal(got, want)
    grad2, hess2 = loss.lgb_objective(raw2, data)  # round 1's pair is still held
    assert_array_equal(grad1, expected1[0])
    assert_array_equal(hess1, expected1[1])
    assert_array_equal(grad2, expected2[0])
    assert_array_equal(hess2, expected2[1])
    assert not np.shares_memory(grad1, grad2) and not np.shares_memory(hess1, hess2)
    # row-major margins (XGBoost's layout, a user's array) give row-major results, same values
    training = loss.training_set(data.get_label(), weight, dataset=data)
    grad_c, hess_c = loss.round_grad_hess(loss.margins(np.ascontiguousarray(raw2), 300),
                                          training)
    assert grad_c.flags.c_contiguous and hess_c.flags.c_contiguous
    assert_array_equal(grad_c, expected2[0])
    assert_array_equal(hess_c, expected2[1])


def test_forget_training_sets_drops_the_cached_buffers():
    X, y, _ = _multiclass_data(n=200)
    loss = MulticlassFocalLoss(3, alpha="balanced")
    data = lgb.Dataset(X, y).construct()
    raw = np.zeros((200, 3), order="F")
    first = [a.copy() for a in loss.lgb_objective(raw, data)]
    alpha = loss.alpha_.copy()
    loss.forget_training_sets()
    assert not loss.__dict__.get("_train_caches")
    assert_array_equal(loss.alpha_, alpha)  # the fitted class weights stay
    for got, want in zip(loss.lgb_objective(raw, data), first, strict=True):
        assert_array_equal(got, want)  # checked again, same result


def test_metrics_check_their_labels_once_and_again_when_they_change():
    """The per-round metrics remember checked labels by value: the same labels every round
    are checked once; labels changed in place, or a new array, are checked again."""
    X, y, w = _binary_data(n=400, positive_rate=0.2)
    raw = np.random.default_rng(4).normal(size=400)
    loss = BinaryFocalLoss(alpha=0.25).fit(y)
    checks = []
    check = loss._check_labels
    loss._check_labels = lambda labels: checks.append(1) or check(labels)
    labels = y.astype(float)  # as the libraries store them
    first = loss.metric("average_precision", labels, raw, w)
    for _ in range(3):
        assert loss.metric("average_precision", labels, raw, w) == first
        assert loss.metric("average_precision", labels.copy(), raw, w) == first  # XGBoost's copy
    assert len(checks) == 1
    assert first == pytest.approx(average_precision_score(y, raw, sample_weight=w), rel=1e-12)
    labels[:40] = 1.0 - labels[:40]  # changed in place
    changed = loss.metric("average_precision", labels, raw, w)
    assert len(checks) == 2
    assert changed == pytest.approx(
        average_precision_score(labels, raw, sample_weight=w), rel=1e-12)
    assert changed != first
    heavier = w.copy()
    heavier[:100] *= 3.0  # other weights: checked again
    assert loss.metric("roc_auc", labels, raw, heavier) == pytest.approx(
        roc_auc_score(labels, raw, sample_weight=heavier), rel=1e-12)
    assert len(checks) == 3
    labels[:] = 0.0  # one class left: the metric is undefined, found again
    with pytest.raises(ValueError, match="undefined"):
        loss.metric("average_precision", labels, raw, w)
    with pytest.raises(ValueError, match="labels"):
        loss.metric("average_precision", np.full(400, 2.0), raw, w)
    # float32 margins rank as their float64 values; non-finite ones are still refused
    assert loss.metric("roc_auc", y, raw.astype(np.float32)) == roc_auc_score(
        y, raw.astype(np.float32))
    with pytest.raises(ValueError, match="finite"):
        loss.metric("roc_auc", y, np.full(400, np.nan, np.float32))
    # never pickled, forgotten with the training sets, bounded
    del loss._check_labels
    assert loss._checked_inputs
    assert "_checked_inputs" not in pickle.loads(pickle.dumps(loss)).__dict__
    for seed in range(20):
        loss.metric("log_loss", np.random.default_rng(seed).integers(0, 2, 400), raw)
    assert len(loss._checked_inputs) == 8
    loss._checked_inputs.clear()
    loss.loss(y, raw)  # the one-off NumPy level keeps no copies
    loss.grad_hess(y, raw)
    assert not loss._checked_inputs
    loss.metric("focal_loss", y, raw)
    assert len(loss._checked_inputs) == 1
    loss.forget_training_sets()
    assert "_checked_inputs" not in loss.__dict__


def test_float32_margins_give_the_float64_result():
    """XGBoost's float32 margins go to the kernels as they are; every float32 is exact
    in float64, so the result equals that of the float64 copy bit for bit."""
    X, y, w = _binary_data(n=500, positive_rate=0.2)
    raw = np.random.default_rng(3).normal(0, 4, size=500).astype(np.float32)
    loss = BinaryFocalLoss(alpha=0.25, gamma=1.5)
    dtrain = xgb.DMatrix(X, y, weight=w)
    for got, want in zip(loss.xgb_objective(raw, dtrain),
                         loss.xgb_objective(raw.astype(np.float64), dtrain), strict=True):
        assert got.dtype == np.float32
        assert_array_equal(got, want)
    bad = raw.copy()
    bad[7] = np.inf
    with pytest.raises(ValueError, match="raw_score must be finite"):
        loss.xgb_objective(bad, dtrain)
