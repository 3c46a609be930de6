"""focal_posterior: the class posterior of a focal-loss model, checked against a
high-precision numerical minimiser of the focal risk (not against its own formula)."""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, softmax

from gbfocal import BinaryFocalLoss, MulticlassFocalLoss, focal_posterior
from gbfocal.multioutput import MultiOutputFocalLoss

mp.mp.dps = 40


def _phi(q, gamma):
    return -((1 - q) ** gamma) * mp.log(q)


def _binary_minimiser(eta, gamma, a0, a1):
    """argmin_u of eta a1 phi(sigmoid(u)) + (1 - eta) a0 phi(sigmoid(-u)), in mpmath."""
    eta, gamma, a0, a1 = (mp.mpf(x) for x in (eta, gamma, a0, a1))

    def risk(u):
        q = 1 / (1 + mp.exp(-u))
        return eta * a1 * _phi(q, gamma) + (1 - eta) * a0 * _phi(1 - q, gamma)

    return mp.findroot(lambda u: mp.diff(risk, u), (mp.mpf(-40), mp.mpf(40)), solver="anderson")


def _multiclass_minimiser(eta, gamma, alpha):
    """argmin_z (z_0 = 0) of sum_i eta_i a_i phi(softmax(z)_i), in mpmath."""
    eta = [mp.mpf(e) for e in eta]
    alpha = [mp.mpf(a) for a in alpha]
    gamma = mp.mpf(gamma)
    k = len(eta)

    def risk(*free):
        z = [mp.mpf(0), *free]
        total = mp.fsum(mp.exp(t) for t in z)
        return mp.fsum(e * a * _phi(mp.exp(t) / total, gamma)
                       for e, a, t in zip(eta, alpha, z, strict=True))

    def gradient(*free):
        return [mp.diff(risk, free, tuple(int(i == j) for i in range(k - 1)))
                for j in range(k - 1)]

    start = [mp.log(eta[j] / eta[0]) for j in range(1, k)]
    return [mp.mpf(0), *mp.findroot(gradient, start)]


@pytest.mark.parametrize("seed", range(12))
def test_binary_recovers_the_posterior_of_the_focal_risk_minimiser(seed):
    rng = np.random.default_rng(seed)
    eta = rng.uniform(0.02, 0.98)
    gamma = [0.0, 0.3, 1.0, 2.0, 3.7, 5.0][seed % 6]
    a0, a1 = rng.uniform(0.1, 4.0, size=2)
    u = float(_binary_minimiser(eta, gamma, a0, a1))
    assert focal_posterior(np.array([u]), alpha=[a0, a1], gamma=gamma)[0] == pytest.approx(
        eta, abs=1e-9)
    # the same through the loss object, whose float alpha is [1 - a, a]
    a = a1 / (a0 + a1)
    u = float(_binary_minimiser(eta, gamma, 1 - a, a))
    proba = BinaryFocalLoss(alpha=a, gamma=gamma).predict_proba(np.array([u]))
    assert_allclose(proba[0], [1 - eta, eta], atol=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_multiclass_recovers_the_posterior_of_the_focal_risk_minimiser(seed):
    rng = np.random.default_rng(100 + seed)
    k = 3 + seed % 2
    eta = rng.dirichlet(np.ones(k) * 2.0)
    gamma = [0.5, 1.0, 2.0, 4.0, 0.0, 2.5][seed]
    alpha = rng.uniform(0.2, 3.0, size=k)
    z = np.array([float(t) for t in _multiclass_minimiser(eta, gamma, alpha)])
    assert_allclose(focal_posterior(z[None, :], alpha=alpha, gamma=gamma)[0], eta, atol=1e-9)
    proba = MulticlassFocalLoss(k, alpha=list(alpha), gamma=gamma).predict_proba(z[None, :])
    assert_allclose(proba[0], eta, atol=1e-9)


def test_gamma_zero_without_alpha_is_exactly_the_plain_link():
    z = np.random.default_rng(0).normal(scale=20, size=200)
    assert_array_equal(focal_posterior(z, gamma=0.0), expit(z))
    Z = z.reshape(50, 4)
    assert_array_equal(focal_posterior(Z, gamma=0.0), softmax(Z, axis=1))
    assert_array_equal(BinaryFocalLoss(gamma=0.0).predict_proba(z)[:, 1], expit(z))
    assert_array_equal(MulticlassFocalLoss(4, gamma=0.0).predict_proba(Z), softmax(Z, axis=1))


def test_gamma_zero_with_alpha_is_the_prior_shift_of_weighted_log_loss():
    """Weighted log loss is minimised by q_i = a_i eta_i / sum_j a_j eta_j: dividing by a_i
    and normalising recovers eta."""
    rng = np.random.default_rng(1)
    eta = rng.dirichlet(np.ones(5), size=30)
    alpha = rng.uniform(0.1, 5.0, size=5)
    q = alpha * eta / (alpha * eta).sum(axis=1, keepdims=True)
    assert_allclose(focal_posterior(np.log(q), alpha=alpha, gamma=0.0), eta, rtol=1e-12)


def test_binary_is_softmax_with_two_columns():
    z = np.linspace(-40, 40, 81)
    for gamma in (0.5, 2.0, 6.0):
        binary = focal_posterior(z, alpha=0.2, gamma=gamma)
        two = focal_posterior(np.column_stack([np.zeros_like(z), z]), alpha=[0.8, 0.2],
                              gamma=gamma)
        assert_allclose(two[:, 1], binary, rtol=1e-10, atol=1e-300)


def test_binary_posterior_is_increasing_in_the_margin():
    z = np.linspace(-60, 60, 4001)
    for gamma in (0.2, 1.0, 2.0, 5.0, 10.0):
        eta = focal_posterior(z, alpha=0.3, gamma=gamma)
        assert (np.diff(eta) >= 0).all()
        assert eta[0] < 1e-10 and eta[-1] > 1 - 1e-10


@pytest.mark.parametrize("gamma", [0.0, 0.01, 0.5, 1.0, 2.0, 10.0, 1e6])
def test_extreme_margins_give_finite_probabilities_without_warnings(gamma):
    z = np.array([-1e308, -1e4, -800.0, -40.0, -1e-12, 0.0, 1e-12, 40.0, 800.0, 1e4, 1e308])
    Z = np.column_stack([z, -z, np.zeros_like(z)])
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        p = focal_posterior(z, alpha=0.25, gamma=gamma)
        P = focal_posterior(Z, alpha=[1.0, 2.0, 0.5], gamma=gamma)
    assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    assert np.isfinite(P).all()
    assert_allclose(P.sum(axis=1), 1.0, rtol=1e-14)
    assert p[0] == 0.0 and p[-1] == 1.0
    assert_array_equal(P[[0, -1]].argmax(axis=1), [1, 0])  # rows [-big, big, 0], [big, -big, 0]


def test_a_near_certain_class_keeps_its_complement_exact():
    """1 - q is never formed by subtraction: at q = 1 - 1e-20 the posterior still moves."""
    z = np.array([[46.0, 0.0], [47.0, 0.0]])  # 1 - q ~ 1e-20
    p = focal_posterior(z, gamma=0.5)
    assert 0 < p[0, 1] and p[1, 1] < p[0, 1]  # distinguishable tails
    assert p[0, 1] == pytest.approx(focal_posterior(np.array([-46.0]), gamma=0.5)[0], rel=1e-9)


def test_bad_arguments_are_rejected_by_name():
    z = np.zeros(3)
    with pytest.raises(ValueError, match="balanced"):
        focal_posterior(z, alpha="balanced")
    with pytest.raises(ValueError, match="positive"):
        focal_posterior(z, alpha=[0.0, 1.0])
    with pytest.raises(ValueError, match="positive"):
        focal_posterior(z, alpha=1.0)  # [0, 1]: the negative class has weight 0
    with pytest.raises(ValueError, match="one non-negative weight per class"):
        focal_posterior(np.zeros((2, 3)), alpha=[1.0, 2.0])
    with pytest.raises(ValueError, match="only defined for the binary"):
        focal_posterior(np.zeros((2, 3)), alpha=0.3)
    with pytest.raises(ValueError, match="gamma"):
        focal_posterior(z, gamma=-1.0)
    with pytest.raises(TypeError, match="gamma"):
        focal_posterior(z, gamma=True)
    with pytest.raises(ValueError, match="finite"):
        focal_posterior(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="raw_score"):
        focal_posterior(np.zeros((2, 2, 2)))
    with pytest.raises(TypeError, match="raw_score"):
        focal_posterior(np.array(["a", "b"]))


def test_loss_objects_correct_with_their_fitted_alpha():
    y = np.array([0, 0, 0, 1, 1, 0, 0, 0])
    z = np.linspace(-3, 3, 8)
    loss = BinaryFocalLoss(alpha="balanced", gamma=1.5)
    with pytest.raises(ValueError, match="fit"):
        loss.predict_proba(z)  # unfitted "balanced": the weights are unknown
    loss.fit(y)
    assert_allclose(loss.predict_proba(z)[:, 1],
                    focal_posterior(z, alpha=loss.alpha_, gamma=1.5), rtol=1e-14)
    assert_allclose(loss.predict_proba(z, corrected=False)[:, 1], expit(z), rtol=1e-15)
    assert_allclose(loss.predict_proba(z).sum(axis=1), 1.0, rtol=1e-15)


def test_multioutput_loss_corrects_every_output():
    rng = np.random.default_rng(3)
    y = rng.integers(-1, 3, size=(40, 2))
    loss = MultiOutputFocalLoss(2, 3, alpha="balanced", gamma=2.0).fit(y)
    raw = rng.normal(scale=3, size=(5, 2, 3))
    proba = loss.predict_proba(raw)
    for a in range(2):
        assert_allclose(proba[:, a], focal_posterior(raw[:, a], alpha=loss.alpha_, gamma=2.0),
                        rtol=1e-13)
    assert_allclose(loss.predict_proba(raw, corrected=False), softmax(raw, axis=2), rtol=1e-14)


def test_tied_margins_stay_tied():
    """Exact ties keep exact ties, so argmax of the probabilities is argmax of the margins
    (scikit-learn's check that predict agrees with decision_function)."""
    z = np.array([[0.0, 0.0, 0.0], [1.0, 3.0, 3.0], [-2.0, -2.0, -5.0]])
    for alpha in (None, [2.0, 2.0, 2.0]):
        p = focal_posterior(z, alpha=alpha, gamma=2.0)
        assert p[0, 0] == p[0, 1] == p[0, 2]
        assert p[1, 1] == p[1, 2] and p[2, 0] == p[2, 1]
        assert_array_equal(p.argmax(axis=1), z.argmax(axis=1))
