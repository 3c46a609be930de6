"""MultiLabelFocalLoss: an independent sigmoid focal loss per label, with unknown labels."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
import xgboost as xgb
from numpy.testing import assert_allclose, assert_array_equal

import gbfocal
from gbfocal import BinaryFocalLoss, MultiLabelFocalLoss

mp.mp.dps = 40


def _data(n=120, n_labels=3, seed=0, missing=0.2):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, n_labels)) < [0.1, 0.3, 0.5][:n_labels]).astype(int)
    y[rng.random(y.shape) < missing] = -1
    z = rng.normal(scale=3, size=(n, n_labels))
    return y, z


def _reference_loss(y, z, alpha, gamma, w=None):
    """mpmath: sum over labelled entries of -a (1 - p_t)^g log p_t (a of that label, class)."""
    total = mp.mpf(0)
    for i in range(y.shape[0]):
        for label in range(y.shape[1]):
            if y[i, label] < 0:
                continue
            p = 1 / (1 + mp.e ** (-mp.mpf(z[i, label])))
            pt = p if y[i, label] == 1 else 1 - p
            a = 1 if alpha is None else alpha[label][y[i, label]]
            weight = 1 if w is None else w[i]
            total += -weight * a * (1 - pt) ** gamma * mp.log(pt)
    return total


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("alpha", [None, 0.25, [0.2, 0.5, 0.8], "balanced"])
def test_loss_and_gradient_match_the_definition(gamma, alpha):
    y, z = _data(n=12)
    w = np.random.default_rng(1).uniform(0.5, 2, size=12)
    loss = MultiLabelFocalLoss(3, alpha=alpha, gamma=gamma).fit(y, w)
    a = loss.alpha_.tolist()
    total = float(loss.loss(y, z, w, reduction="sum"))
    assert total == pytest.approx(float(_reference_loss(y, z, a, gamma, w)), rel=1e-12)
    grad, hess = loss.grad_hess(y, z, w)
    # derivative of the definition with respect to each margin (mpmath)
    for i, label in [(0, 0), (3, 1), (7, 2), (11, 0)]:
        if y[i, label] < 0:
            assert grad[i, label] == 0.0 and hess[i, label] == 0.0
            continue

        def f(t, i=i, label=label):
            zz = z.astype(object).copy()
            zz[i, label] = t
            p = 1 / (1 + mp.e ** (-t))
            pt = p if y[i, label] == 1 else 1 - p
            return -w[i] * a[label][y[i, label]] * (1 - pt) ** gamma * mp.log(pt)

        t0 = mp.mpf(z[i, label])
        assert grad[i, label] == pytest.approx(float(mp.diff(f, t0)), rel=1e-9, abs=1e-300)


def test_each_label_is_the_binary_focal_loss():
    y, z = _data()
    loss = MultiLabelFocalLoss(3, alpha="balanced", gamma=1.5, hessian="exact").fit(y)
    grad, hess = loss.grad_hess(y, z)
    for label in range(3):
        rows = y[:, label] >= 0
        ref = BinaryFocalLoss(alpha="balanced", gamma=1.5, hessian="exact").fit(y[rows, label])
        assert_allclose(loss.alpha_[label], ref.alpha_, rtol=1e-15)
        g, h = ref.grad_hess(y[rows, label], z[rows, label])
        assert_array_equal(grad[rows, label], g)
        assert_array_equal(hess[rows, label], h)
        assert (grad[~rows, label] == 0).all() and (hess[~rows, label] == 0).all()


def test_gamma_zero_is_per_label_log_loss_and_positive_hessian():
    y, z = _data(missing=0.0)
    grad, hess = MultiLabelFocalLoss(3, gamma=0.0).grad_hess(y, z)
    p = 1 / (1 + np.exp(-z))
    assert_allclose(grad, p - y, rtol=1e-12, atol=1e-15)
    assert_allclose(hess, p * (1 - p), rtol=1e-12, atol=1e-300)
    _, hess = MultiLabelFocalLoss(3, gamma=4.0).grad_hess(y, z * 10)
    assert (hess > 0).all()


def test_finite_differences_of_the_gradient():
    y, z = _data(n=30)
    loss = MultiLabelFocalLoss(3, alpha=[0.3, 0.6, 0.9], gamma=2.0, hessian="exact")
    grad, hess = loss.grad_hess(y, z)
    eps = 1e-6
    up, _ = loss.grad_hess(y, z + eps)
    down, _ = loss.grad_hess(y, z - eps)
    assert_allclose((up - down) / (2 * eps), hess, rtol=1e-5, atol=1e-8)
    vals = lambda zz: loss.loss(y, zz, reduction="none")  # noqa: E731
    assert_allclose((vals(z + eps) - vals(z - eps)) / (2 * eps), grad, rtol=1e-5, atol=1e-8)


def test_extreme_margins_are_finite_without_warnings():
    y, _ = _data(n=20, missing=0.0)
    z = np.where(np.arange(60).reshape(20, 3) % 2, 1e308, -1e4)
    with np.errstate(all="raise", under="ignore"):
        grad, hess = MultiLabelFocalLoss(3, gamma=0.5).grad_hess(y, z)
        proba = MultiLabelFocalLoss(3, gamma=0.5).predict_proba(z)
    assert np.isfinite(grad).all() and np.isfinite(hess).all() and np.isfinite(proba).all()


def test_xgboost_one_booster_multi_output_and_the_metrics():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    y = (X[:, :3] + rng.normal(scale=0.5, size=(400, 3)) > [1.0, 0.5, 0.0]).astype(int)
    y[rng.random(y.shape) < 0.1] = -1
    loss = MultiLabelFocalLoss(3, alpha="balanced", gamma=2.0)
    init = loss.init_score(y)
    for strategy in ("one_output_per_tree", "multi_output_tree"):
        dtrain = xgb.DMatrix(X, label=y.astype(float), base_margin=np.tile(init, (400, 1)))
        history: dict = {}
        booster = xgb.train({"tree_method": "hist", "multi_strategy": strategy,
                             "base_score": 0.0, "disable_default_eval_metric": 1,
                             "nthread": 1}, dtrain, 20, obj=loss.xgb_objective,
                            custom_metric=loss.xgb_eval("average_precision"),
                            evals=[(dtrain, "train")], evals_result=history,
                            verbose_eval=False)
        margin = booster.predict(dtrain, output_margin=True)
        assert margin.shape == (400, 3)
        curve = history["train"]["average_precision"]
        assert curve[-1] > curve[0]
        from sklearn.metrics import average_precision_score

        expected = np.mean([average_precision_score(y[y[:, j] >= 0, j],
                                                    margin[y[:, j] >= 0, j]) for j in range(3)])
        assert curve[-1] == pytest.approx(expected, abs=1e-6)
        proba = loss.predict_proba(margin)
        assert proba.shape == (400, 3) and ((proba >= 0) & (proba <= 1)).all()


def test_corrected_probabilities_use_each_labels_weights():
    y, z = _data()
    loss = MultiLabelFocalLoss(3, alpha="balanced", gamma=2.0).fit(y)
    proba = loss.predict_proba(z)
    for label in range(3):
        assert_allclose(proba[:, label], gbfocal.focal_posterior(
            z[:, label], alpha=loss.alpha_[label], gamma=2.0), rtol=1e-13)
    assert_allclose(loss.predict_proba(z, corrected=False), 1 / (1 + np.exp(-z)), rtol=1e-13)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="one positive-class weight per label"):
        MultiLabelFocalLoss(3, alpha=[0.5, 0.5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        MultiLabelFocalLoss(2, alpha=[0.5, 1.5])
    with pytest.raises(TypeError, match="n_labels"):
        MultiLabelFocalLoss(2.0)
    with pytest.raises(TypeError, match="gamma"):
        MultiLabelFocalLoss(2, gamma=True)
    loss = MultiLabelFocalLoss(2)
    with pytest.raises(ValueError, match="n_labels=2"):
        loss.grad_hess(np.zeros((3, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="class indices 0..1"):
        loss.grad_hess(np.full((3, 2), 2), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="finite"):
        loss.grad_hess(np.zeros((3, 2)), np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="label 1"):
        MultiLabelFocalLoss(2, alpha="balanced").fit(np.array([[0, 1], [1, 1]]))
    with pytest.raises(ValueError, match="one booster per label"):
        loss.decode_label(np.zeros(3))
