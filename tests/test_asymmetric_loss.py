"""The asymmetric focal loss in the loss objects: BinaryFocalLoss(gamma_neg=, clip=) and
MultiLabelFocalLoss(gamma_neg=, clip=) (the math itself: tests/test_asymmetric.py).

The gammas and clips here are those of the covering design of tests/test_asym_kernels.py
(its comment above PAIRS): a compiled kernel variant is keyed by the gammas' codes (0, 1, 2,
4 or general) and the clip mode, not by their values, so these tests reuse the variants the
kernel tests compile (seconds each on a fresh clone). Float32 margins and outputs (the
libraries' per-round path) run on gamma 0, gamma_neg 4 and a normal clip.
"""

from __future__ import annotations

import lightgbm as lgb
import mpmath as mp
import numpy as np
import pytest
import xgboost as xgb
from numpy.testing import assert_allclose, assert_array_equal

from gbfocal import BinaryFocalLoss, MultiLabelFocalLoss, _asymmetric
from gbfocal.persist import _load_loss, _loss_document

mp.mp.dps = 40


def _risk_minimiser(eta, a0, a1, gamma_pos, gamma_neg, clip):
    """argmin_z of eta a1 L1(z) + (1 - eta) a0 L0(z), from the definition, in mpmath."""
    eta, a0, a1, gp, gn, c = (mp.mpf(x) for x in (eta, a0, a1, gamma_pos, gamma_neg, clip))

    def risk(z):  # on p > clip, where a minimiser with eta > 0 lies (smooth there)
        p = 1 / (1 + mp.e ** (-z))
        m = p - c
        return -eta * a1 * (1 - p) ** gp * mp.log(p) - (1 - eta) * a0 * m**gn * mp.log(1 - m)

    lo = mp.log(c / (1 - c)) + mp.mpf("1e-6") if c > 0 else mp.mpf(-40)
    slope = lambda z: mp.diff(risk, z)  # noqa: E731
    assert slope(lo) < 0 < slope(mp.mpf(40))
    hi = mp.mpf(40)
    for _ in range(160):  # bisection on the risk's derivative: slow, but it cannot wander
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if slope(mid) < 0 else (lo, mid)
    return (lo + hi) / 2


@pytest.mark.parametrize("seed", range(8))
def test_corrected_probability_recovers_the_posterior(seed):
    rng = np.random.default_rng(seed)
    eta = rng.uniform(0.05, 0.95)
    gamma_pos, gamma_neg = [(2, 3), (1, 2), (0, 4), (0.5, 1.5)][seed % 4]
    clip = [0.0, 0.05, 0.1, 0.2][seed % 4]
    a = rng.uniform(0.2, 0.8)
    z = float(_risk_minimiser(eta, 1 - a, a, gamma_pos, gamma_neg, clip))
    loss = BinaryFocalLoss(alpha=a, gamma=gamma_pos, gamma_neg=gamma_neg, clip=clip)
    assert loss.predict_proba(np.array([z]))[0, 1] == pytest.approx(eta, abs=1e-8)
    label = MultiLabelFocalLoss(1, alpha=a, gamma=gamma_pos, gamma_neg=gamma_neg, clip=clip)
    assert label.predict_proba(np.array([[z]]))[0, 0] == pytest.approx(eta, abs=1e-8)


def test_symmetric_settings_are_the_focal_loss():
    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.2).astype(int)
    z = rng.normal(scale=3, size=200)
    focal = BinaryFocalLoss(alpha=0.3, gamma=1.5)
    asym = BinaryFocalLoss(alpha=0.3, gamma=1.5, gamma_neg=1.5, clip=0.0)
    assert asym.spec.asymmetric and not focal.spec.asymmetric
    assert_allclose(asym.loss(y, z), focal.loss(y, z), rtol=1e-12)
    for a, b in zip(asym.grad_hess(y, z), focal.grad_hess(y, z), strict=True):
        assert_allclose(a, b, rtol=1e-10, atol=1e-300)
    assert_allclose(asym.predict_proba(z), focal.predict_proba(z), rtol=1e-9, atol=1e-15)
    assert asym.init_score(y) == pytest.approx(focal.init_score(y), abs=1e-9)


def test_easy_negatives_below_the_clip_do_not_train():
    y = np.zeros(5, dtype=int)
    z = np.array([-6.0, -4.0, -3.0, 0.0, 2.0])  # p = 0.0025, 0.018, 0.047, 0.5, 0.88
    loss = BinaryFocalLoss(gamma=0.0, gamma_neg=4.0, clip=0.05, hessian="exact")
    grad, hess = loss.grad_hess(y, z)
    assert_array_equal(grad[:3], 0.0) and assert_array_equal(hess[:3], 0.0)
    assert (grad[3:] > 0).all()
    assert_array_equal(loss.loss(y, z)[:3], 0.0)
    _, positive = BinaryFocalLoss(gamma=0.0, gamma_neg=4.0, clip=0.05).grad_hess(y, z)
    assert (positive > 0).all()


def test_the_objective_matches_the_math_and_trains_both_libraries():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 4))
    y = (X[:, 0] + rng.normal(size=500) > 1.5).astype(int)
    loss = BinaryFocalLoss(alpha=0.25, gamma=0.0, gamma_neg=4.0, clip=0.05)
    init = loss.init_score(y)
    raw = rng.normal(size=500).astype(np.float32)
    grad, hess = loss.xgb_objective(raw, xgb.DMatrix(X, y))
    ref = _asymmetric.asymmetric_grad_hess(np, y.astype(np.int8), raw.astype(np.float64),
                                           np.array([0.75, 0.25]), None, 0.0, 4.0, 0.05, True)
    assert_array_equal(grad, ref[0].astype(np.float32))
    assert_array_equal(hess, ref[1].astype(np.float32))
    booster = xgb.train({"base_score": init, "disable_default_eval_metric": 1, "nthread": 1,
                         "max_depth": 3}, xgb.DMatrix(X, y), 20, obj=loss.xgb_objective)
    margin = booster.predict(xgb.DMatrix(X), output_margin=True)
    train = lgb.Dataset(X, y, init_score=np.full(500, init))
    lgb_booster = lgb.train({"objective": loss.lgb_objective, "metric": "None", "verbose": -1,
                             "num_threads": 1}, train, 20)
    lgb_margin = lgb_booster.predict(X) + init
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, margin) > 0.75 and roc_auc_score(y, lgb_margin) > 0.75
    assert np.isfinite(loss.metric("log_loss", y, margin))


def test_multilabel_asymmetric_is_the_binary_one_per_label():
    rng = np.random.default_rng(2)
    Y = (rng.random((100, 2)) < [0.1, 0.4]).astype(int)
    Y[rng.random(Y.shape) < 0.2] = -1
    Z = rng.normal(scale=2, size=(100, 2))
    multi = MultiLabelFocalLoss(2, alpha="balanced", gamma=2.0, gamma_neg=3.0, clip=0.05).fit(Y)
    grad, hess = multi.grad_hess(Y, Z)
    for label in range(2):
        rows = Y[:, label] >= 0
        ref = BinaryFocalLoss(alpha="balanced", gamma=2.0, gamma_neg=3.0, clip=0.05).fit(
            Y[rows, label])
        g, h = ref.grad_hess(Y[rows, label], Z[rows, label])
        assert_allclose(grad[rows, label], g, rtol=1e-14, atol=1e-300)
        assert_allclose(hess[rows, label], h, rtol=1e-14, atol=1e-300)


def test_saved_and_loaded_with_its_parameters():
    loss = BinaryFocalLoss(alpha=0.25, gamma=1.0, gamma_neg=4.0, clip=0.05).fit([0, 1, 0])
    again = _load_loss(_loss_document(loss))
    assert again.spec == loss.spec
    assert "gamma_neg=4.0, clip=0.05" in repr(again)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [({"clip": 1.0}, ValueError, r"clip must lie in \[0, 1\)"),
     ({"clip": -0.1}, ValueError, "clip"),
     ({"clip": "0.1"}, TypeError, "clip must be a real number"),
     ({"gamma_neg": -1.0}, ValueError, "gamma_neg"),
     ({"gamma_neg": True}, TypeError, "gamma_neg")],
)
def test_bad_parameters_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        BinaryFocalLoss(**kwargs)
    with pytest.raises(error, match=match):
        MultiLabelFocalLoss(2, **kwargs)


def test_softmax_losses_refuse_asymmetric_parameters():
    from gbfocal._spec import FocalSpec

    with pytest.raises(ValueError, match="sigmoid outputs"):
        FocalSpec.create(binary=False, n_classes=3, clip=0.1)


# ------------------------------------------------------------------ estimators and tuning
@pytest.mark.parametrize("backend", ["lightgbm", "xgboost"])
def test_estimators_train_the_asymmetric_loss(backend):
    from gbfocal import FocalLGBMClassifier, FocalMultiLabelClassifier, FocalXGBClassifier

    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 4))
    y = (X[:, 0] + rng.normal(size=400) > 1.2).astype(int)
    Estimator = FocalLGBMClassifier if backend == "lightgbm" else FocalXGBClassifier
    clf = Estimator(gamma=0.0, gamma_neg=4.0, clip=0.05, n_estimators=10, n_jobs=1).fit(X, y)
    assert clf.loss_.spec.asymmetric and clf.loss_.spec.clip == 0.05
    margin = clf.decision_function(X)
    assert_allclose(clf.predict_proba(X)[:, 1], clf.loss_.predict_proba(margin)[:, 1])
    # a different loss from the symmetric one: different trees
    plain = Estimator(gamma=0.0, n_estimators=10, n_jobs=1).fit(X, y)
    assert np.abs(plain.decision_function(X) - margin).max() > 1e-3
    Y = np.column_stack([y, (X[:, 1] > 0.5).astype(int)])
    multi = FocalMultiLabelClassifier(backend=backend, gamma=0.0, gamma_neg=4.0, clip=0.1,
                                      n_estimators=5, n_jobs=1).fit(X, Y)
    assert multi.loss_.spec.asymmetric and multi.predict_proba(X).shape == (400, 2)
    with pytest.raises(ValueError, match="sigmoid outputs"):
        Estimator(clip=0.1, n_estimators=2).fit(X, rng.integers(0, 3, 400))
    with pytest.raises(ValueError, match="clip"):
        Estimator(clip=1.5, n_estimators=2).fit(X, y)


def test_tune_focal_searches_the_asymmetric_parameters_and_its_baseline_is_log_loss(
    monkeypatch,
):
    pytest.importorskip("optuna")
    from gbfocal import FocalLGBMClassifier, tune_focal

    fits = []
    original = FocalLGBMClassifier.fit

    def spy(self, *args, **kwargs):
        fits.append((self.gamma, self.gamma_neg, self.clip))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(FocalLGBMClassifier, "fit", spy)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + rng.normal(size=300) > 1.0).astype(int)
    result = tune_focal(X, y, n_trials=4, cv=2, alpha=None, gamma=(0.0, 2.0),
                        params={"gamma_neg": (0.0, 4.0), "clip": (0.0, 0.1), "n_estimators": 10,
                                "n_jobs": 1},
                        random_state=0, show_progress_bar=False, compare=None, select="focal")
    assert 0.0 <= result.best_params["clip"] <= 0.1
    assert 0.0 <= result.best_params["gamma_neg"] <= 4.0
    assert result.best_estimator.loss_.spec.asymmetric
    searched = {(g, n, c) for g, n, c in fits if n is not None}
    assert len(searched) >= 2  # the trials really vary the asymmetric parameters
    # the log-loss arm (one trial of cv=2 fits: it has nothing to search; then the refit of
    # the focal arm) is the plain log loss: no gamma_neg, no clip
    assert fits[-3:-1] == [(0.0, None, 0.0)] * 2
    assert len(result.arms["log_loss"].study.trials) == 1
    assert result.baseline_score is not None
