"""Class-balanced weights (Cui, Jia, Lin, Song & Belongie, "Class-Balanced Loss Based on
Effective Number of Samples", CVPR 2019): alpha=("effective_number", beta)."""

from __future__ import annotations

import numpy as np
import pytest

import gbfocal
from gbfocal import (
    BinaryFocalLoss,
    FocalLGBMClassifier,
    FocalMultiOutputClassifier,
    FocalXGBClassifier,
    MulticlassFocalLoss,
    MultiOutputFocalLoss,
)


def _expected(counts, beta):
    """The paper's weights, written from the definition: (1 - beta) / (1 - beta**n_c),
    normalised so that sum_c n_c a_c = n (the "balanced" scale)."""
    counts = np.asarray(counts, dtype=float)
    raw = np.array([(1 - beta) / (1 - beta**c) for c in counts])
    return raw * counts.sum() / (raw * counts).sum()


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.99, 0.9999])
def test_weights_follow_the_definition(beta):
    y = np.repeat([0, 1, 2], [600, 300, 30])
    loss = MulticlassFocalLoss(3, alpha=("effective_number", beta)).fit(y)
    np.testing.assert_allclose(loss.alpha_, _expected([600, 300, 30], beta), rtol=1e-12)
    assert np.sum(loss.alpha_[y]) == pytest.approx(len(y), rel=1e-12)


def test_limits_are_uniform_and_balanced():
    y = np.repeat([0, 1], [900, 100])
    np.testing.assert_allclose(
        BinaryFocalLoss(alpha=("effective_number", 0.0)).fit(y).alpha_, [1.0, 1.0])
    near_one = BinaryFocalLoss(alpha=("effective_number", 1 - 1e-12)).fit(y).alpha_
    np.testing.assert_allclose(near_one, BinaryFocalLoss(alpha="balanced").fit(y).alpha_,
                               rtol=1e-6)


def test_weighted_counts_and_every_loss():
    y = np.repeat([0, 1], [80, 20])
    w = np.where(y == 1, 2.0, 1.0)
    loss = BinaryFocalLoss(alpha=("effective_number", 0.99)).fit(y, w)
    np.testing.assert_allclose(loss.alpha_, _expected([80, 40], 0.99), rtol=1e-12)
    pairs = np.array([[0, -1], [1, 1], [0, 0], [1, -1]])
    multi = MultiOutputFocalLoss(2, 2, alpha=["effective_number", 0.9]).fit(pairs)
    np.testing.assert_allclose(multi.alpha_, _expected([3, 3], 0.9), rtol=1e-12)
    g1 = gbfocal.binary_focal_grad_hess(y, np.zeros(100), alpha=("effective_number", 0.99),
                                        sample_weight=w)[0]
    g2 = gbfocal.binary_focal_grad_hess(y, np.zeros(100), alpha=loss.alpha_,
                                        sample_weight=w)[0]
    np.testing.assert_array_equal(g1, g2)


@pytest.mark.parametrize("Estimator", [FocalLGBMClassifier, FocalXGBClassifier])
def test_estimators_accept_it_and_keep_the_training_counts(Estimator):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + rng.normal(size=300) > 1.2).astype(int)
    clf = Estimator(alpha=("effective_number", 0.999), n_estimators=5, n_jobs=1).fit(X, y)
    np.testing.assert_allclose(clf.loss_.alpha_, _expected(np.bincount(y), 0.999), rtol=1e-12)
    assert clf.predict_proba(X).shape == (300, 2)


def test_multioutput_estimator_counts_labelled_pairs():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    y = (X[:, :2] > 0.5).astype(int)
    y[rng.random(y.shape) < 0.3] = -1
    clf = FocalMultiOutputClassifier(alpha=("effective_number", 0.99), n_estimators=5,
                                     n_jobs=1).fit(X, y)
    labelled = y[y >= 0]
    np.testing.assert_allclose(clf.alpha_, _expected(np.bincount(labelled), 0.99), rtol=1e-12)


@pytest.mark.parametrize(
    ("alpha", "error", "match"),
    [(("effective_number",), ValueError, "exactly one beta"),
     (("effective_number", 1.0), ValueError, r"\[0, 1\)"),
     (("effective_number", -0.1), ValueError, r"\[0, 1\)"),
     (("effective_number", "0.9"), TypeError, "beta must be a real number"),
     (("effective_number", True), TypeError, "beta must be a real number"),
     (("effective", 0.9), ValueError, "effective_number")],
)
def test_bad_values_are_named(alpha, error, match):
    with pytest.raises(error, match=match):
        BinaryFocalLoss(alpha=alpha)
    with pytest.raises(error, match=match):
        FocalLGBMClassifier(alpha=alpha).fit(np.zeros((4, 1)), [0, 1, 0, 1])


def test_a_missing_class_and_the_posterior_need_resolved_weights():
    with pytest.raises(ValueError, match="needs every class"):
        MulticlassFocalLoss(3, alpha=("effective_number", 0.9)).fit(np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="resolved"):
        gbfocal.focal_posterior(np.zeros(2), alpha=("effective_number", 0.9))
    loss = BinaryFocalLoss(alpha=("effective_number", 0.9))
    with pytest.raises(ValueError, match="fit"):
        loss.predict_proba(np.array([-3.0, 3.0]))


def test_tune_focal_searches_or_fixes_beta():
    pytest.importorskip("optuna")
    from gbfocal import tune_focal

    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + rng.normal(size=300) > 1.2).astype(int)
    common = {"n_trials": 4, "cv": 2, "gamma": 1.0, "random_state": 0,
              "params": {"n_estimators": 8, "n_jobs": 1}, "show_progress_bar": False,
              "baseline": False, "compare": None}
    searched = tune_focal(X, y, alpha=[None, ("effective_number", (0.9, 0.9999))], **common)
    trials = searched.study.trials
    betas = [t.params["beta"] for t in trials if "beta" in t.params]
    assert betas and all(0.9 <= b <= 0.9999 for b in betas)
    alphas = [t.user_attrs["alpha"] for t in trials]
    assert all(a is None or (a[0] == "effective_number" and a[1] in betas) for a in alphas)
    fixed = tune_focal(X, y, alpha=("effective_number", 0.99), **common)
    assert fixed.best_params["alpha"] == ("effective_number", 0.99)
    np.testing.assert_allclose(fixed.best_estimator.loss_.alpha_,
                               _expected(np.bincount(y), 0.99), rtol=1e-12)
    # pos_label the smaller label: the class-balanced weights follow the classes, unreversed
    names = np.array(["legit", "fraud"])[y]
    swapped = tune_focal(X, names, alpha=("effective_number", 0.99), pos_label="fraud", **common)
    assert tuple(swapped.best_params["alpha"]) == ("effective_number", 0.99)
    with pytest.raises(ValueError, match="beta range"):
        tune_focal(X, y, alpha=[None, ("effective_number", 0.99)], **common)
