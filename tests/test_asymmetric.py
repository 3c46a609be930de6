"""Tests of the asymmetric focal loss (gbfocal._asymmetric, Ridnik et al., ICCV 2021).

As for the focal loss (tests/test_focal.py), the analytic derivatives are checked three
independent ways: central finite differences in float64, numerical derivatives of the
*definition* (written from ``p``, never the package's formulas) in 50-digit mpmath, and
reductions whose answer is known in closed form (clip = 0 is the binary focal loss,
gamma = clip = 0 is log loss, gamma_neg = 0 is ``-log(1 - p + clip)``). On top: the hard
threshold (exact zeros for ``p <= clip``), the one-sided kink at ``p = clip``, the positive
Hessian rule, extreme margins, zero weights, and a check that the reference comparison
rejects the usual mistakes with the probability margin (a missing or wrong chain rule).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import expit, log_expit  # a sigmoid implemented independently

import gbfocal
from gbfocal._asymmetric import asymmetric_grad_hess, asymmetric_loss
from gbfocal._math import TINY

GAMMAS = [0.0, 0.5, 1.0, 2.0, 4.0]
CLIPS = [0.0, 0.05, 0.2]
ALPHAS = [None, [0.3, 0.7]]
Z_GRID = np.concatenate([np.linspace(-12, 12, 97), [-60.0, -35.0, -20.0, 20.0, 35.0, 60.0]])


def _arrays(y, z, alpha, weight):
    y = np.asarray(y, dtype=np.int8)
    z = np.asarray(z, dtype=np.float64)
    alpha = None if alpha is None else np.asarray(alpha, dtype=np.float64)
    weight = None if weight is None else np.asarray(weight, dtype=np.float64)
    return y, z, alpha, weight


def loss_fn(y, z, gp, gn, clip, alpha=None, weight=None):
    return asymmetric_loss(np, *_arrays(y, z, alpha, weight), gp, gn, clip)


def grad_hess_fn(y, z, gp, gn, clip, alpha=None, weight=None, positive=False):
    return asymmetric_grad_hess(np, *_arrays(y, z, alpha, weight), gp, gn, clip, positive)


def _away_from_kink(z, y, clip, gap=1e-2):
    """Rows whose probability is at least ``gap`` from the threshold (negatives only)."""
    return (y == 1) | (np.abs(expit(z) - clip) >= gap)


# --------------------------------------------------------------------------- finite differences
def _central(f, x, step):
    return (f(x + step) - f(x - step)) / (2 * step)


def assert_matches_fd(analytic, fd, scale, step, rtol):
    """Agreement up to the truncation (rtol) and rounding (eps * scale / step) errors of FD."""
    tol = rtol * np.abs(fd) + 1e-10 + 20 * np.finfo(float).eps * np.abs(scale) / step
    bad = np.abs(analytic - fd) > tol
    assert not bad.any(), (analytic[bad], fd[bad])


@pytest.mark.parametrize("gamma_pos", GAMMAS)
@pytest.mark.parametrize("gamma_neg", GAMMAS)
@pytest.mark.parametrize("clip", CLIPS)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_derivatives_match_finite_differences(gamma_pos, gamma_neg, clip, alpha):
    z = np.concatenate([Z_GRID, Z_GRID])
    y = np.repeat([0, 1], Z_GRID.size)
    keep = _away_from_kink(z, y, clip)  # FD across the kink measures the jump, not a derivative
    z, y = z[keep], y[keep]
    sw = np.linspace(0.5, 2.0, z.size)
    step = 1e-5
    args = (gamma_pos, gamma_neg, clip, alpha, sw)

    def loss(zz):
        return loss_fn(y, zz, *args)

    def grad(zz):
        return grad_hess_fn(y, zz, *args)[0]

    g, h = grad_hess_fn(y, z, *args)
    assert_matches_fd(g, _central(loss, z, step), loss(z), step, rtol=1e-6)
    assert_matches_fd(h, _central(grad, z, step), g, step, rtol=1e-5)
    # the grid reaches both sides of the threshold, so both branches were exercised
    assert (g[y == 0] == 0).any() == (clip > 0)
    assert (g[y == 0] > 0).any()


# --------------------------------------------------------------------------- high precision
def _mp_loss(y, z, gp, gn, clip):
    """The definition, from p (50 digits keep 1 - p at z = 50 to 28 digits)."""
    p = 1 / (1 + mp.exp(-z))
    if y == 1:
        return -((1 - p) ** gp) * mp.log(p)
    p_m = max(p - clip, mp.mpf(0))
    return -(p_m**gn) * mp.log(1 - p_m)


MP_Z = [-50.0, -33.3, -20.0, -7.5, -3.0, -1.2, -0.3, 0.4, 1.7, 3.0, 8.0, 15.0, 30.0, 41.7, 50.0]
MP_GAMMAS = [(0.0, 0.0), (0.5, 0.5), (1.0, 1.0), (2.0, 2.0), (4.0, 0.5), (0.5, 4.0),
             (1.0, 2.0), (0.3, 3.7), (3.7, 0.3)]


def _rel_err(actual, ref):
    ref = float(ref)
    if not np.isfinite(actual):
        return np.inf
    if abs(ref) < 1e-250:
        return 0.0 if actual == 0.0 else np.inf  # outside the accuracy contract, but zero
    return abs(actual - ref) / abs(ref)


def _worst_reference_error(impl: Callable, gp, gn, clip, alpha, weight) -> float:
    """Largest relative error of ``impl(y, z) -> (loss, grad, hess)`` against mpmath."""
    worst = 0.0
    z = np.array(MP_Z)
    for y in (0, 1):
        labels = np.full(z.size, y)
        keep = _away_from_kink(z, labels, clip, gap=1e-3)
        loss, g, h = impl(labels[keep], z[keep])
        scale = (1.0 if alpha is None else alpha[y]) * weight
        with mp.workdps(50):
            for i, zi in enumerate(z[keep]):
                x0 = mp.mpf(zi)

                def f(x, y=y, scale=scale):
                    return scale * _mp_loss(y, x, gp, gn, clip)

                worst = max(
                    worst,
                    _rel_err(loss[i], f(x0)),
                    _rel_err(g[i], mp.diff(f, x0)),
                    _rel_err(h[i], mp.diff(f, x0, 2)),
                )
    return worst


@pytest.mark.parametrize(("gamma_pos", "gamma_neg"), MP_GAMMAS)
@pytest.mark.parametrize("clip", [0.0, 0.05, 0.2, 0.5])
@pytest.mark.parametrize("alpha", ALPHAS)
def test_matches_high_precision_reference(gamma_pos, gamma_neg, clip, alpha):
    weight = 1.7

    def impl(y, z):
        args = (gamma_pos, gamma_neg, clip, alpha, np.full(z.size, weight))
        return (loss_fn(y, z, *args), *grad_hess_fn(y, z, *args))

    assert _worst_reference_error(impl, gamma_pos, gamma_neg, clip, alpha, weight) < 1e-9


def test_reference_rejects_probability_margin_mistakes():
    """The reference comparison is strong enough to catch the mistakes a clipped probability
    invites; each is off by up to 20x (1 / (p (1 - p)) = 21 at p = 0.95) or more."""
    gp, gn, clip = 1.0, 4.0, 0.05

    def ours(y, z):
        return loss_fn(y, z, gp, gn, clip), *grad_hess_fn(y, z, gp, gn, clip)

    def neg_only(fix):  # replace the negatives' gradient (and Hessian) by a mistake
        def impl(y, z):
            loss, g, h = ours(y, z)
            p = expit(z)
            p_m = np.maximum(p - clip, 0.0)
            with np.errstate(all="ignore"):  # naive on purpose
                g_bad, h_bad = fix(p, p_m, g, h)
            return loss, np.where(y == 0, g_bad, g), np.where(y == 0, h_bad, h)

        return impl

    def dl_dm(p_m):  # the true dL/dp_m of the negatives
        return p_m**gn / (1 - p_m) - gn * p_m ** (gn - 1) * np.log1p(-p_m)

    mistakes = {
        # dL/dp_m handed to the booster as if it were dL/dz: no chain rule at all
        "no chain rule": neg_only(lambda p, p_m, g, h: (dl_dm(p_m), h)),
        # the chain rule with the shifted probability: p_m (1 - p_m) instead of p (1 - p)
        "dp_m/dz = p_m (1 - p_m)": neg_only(
            lambda p, p_m, g, h: (p_m * (1 - p_m) * dl_dm(p_m), h)
        ),
        # the second-order term of the chain rule dropped: (p q)^2 d2L/dm2 only
        "no d2p/dz2 term": neg_only(
            lambda p, p_m, g, h: (g, h - g * (1 - 2 * p))
        ),
        # the threshold forgotten in the derivatives: focal gradient of the unshifted p
        "gradient of the unclipped p": neg_only(
            lambda p, p_m, g, h: (
                p**gn * (p - gn * (1 - p) * np.log1p(-p)),
                h,
            )
        ),
    }
    assert _worst_reference_error(ours, gp, gn, clip, None, 1.0) < 1e-9
    for name, impl in mistakes.items():
        assert _worst_reference_error(impl, gp, gn, clip, None, 1.0) > 1e-2, name


# --------------------------------------------------------------------------- reductions
@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 3.7])
@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("hessian", ["exact", "positive"])
def test_clip_zero_equal_gammas_is_binary_focal(gamma, alpha, hessian):
    rng = np.random.default_rng(11)
    z = np.concatenate([rng.normal(scale=6.0, size=400), [-700.0, -60.0, -35.0, 35.0, 60.0]])
    y = rng.integers(0, 2, z.size)
    y[-5:] = [0, 1, 0, 1, 0]
    sw = rng.uniform(0.2, 3.0, z.size)
    ours = loss_fn(y, z, gamma, gamma, 0.0, alpha, sw)
    kw = dict(alpha=alpha, gamma=gamma, sample_weight=sw)
    np.testing.assert_allclose(ours, gbfocal.binary_focal_loss(y, z, **kw), rtol=1e-12, atol=1e-300)
    g, h = grad_hess_fn(y, z, gamma, gamma, 0.0, alpha, sw, positive=hessian == "positive")
    g_ref, h_ref = gbfocal.binary_focal_grad_hess(y, z, hessian=hessian, **kw)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-300)
    # the exact Hessian changes sign: where it crosses 0 "relative" means relative to its terms
    np.testing.assert_allclose(h, h_ref, rtol=1e-12, atol=1e-15 if hessian == "exact" else 1e-300)


@pytest.mark.parametrize("positive", [False, True])
def test_gamma_zero_clip_zero_is_log_loss(positive):
    rng = np.random.default_rng(12)
    z = np.concatenate([rng.normal(scale=6.0, size=500), [-40.0, 40.0]])
    y = rng.integers(0, 2, z.size)
    loss = loss_fn(y, z, 0.0, 0.0, 0.0)
    np.testing.assert_allclose(loss, np.logaddexp(0.0, np.where(y == 1, -z, z)), rtol=1e-12)
    g, h = grad_hess_fn(y, z, 0.0, 0.0, 0.0, positive=positive)
    np.testing.assert_allclose(g, expit(z) - y, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(h, expit(z) * expit(-z), rtol=1e-12)  # p (1 - p), no cancellation


@pytest.mark.parametrize("clip", [0.05, 0.2, 0.5])
def test_gamma_neg_zero_closed_form(clip):
    """gamma_neg = 0: L = -log(1 - p + c), dL/dz = p q / w, d2L/dz2 = p q (q^2 + c (q - p)) / w^2
    with w = q + c; derived by hand, independently of the general formulas."""
    z = np.linspace(-8.0, 40.0, 400)
    z = z[expit(z) > clip + 1e-3]
    y = np.zeros(z.size, dtype=int)
    p, q = expit(z), expit(-z)
    w = q + clip
    loss = loss_fn(y, z, 2.0, 0.0, clip, [0.3, 0.7])
    g, h = grad_hess_fn(y, z, 2.0, 0.0, clip, [0.3, 0.7])
    np.testing.assert_allclose(loss, -0.3 * np.log(w), rtol=1e-12)
    np.testing.assert_allclose(g, 0.3 * p * q / w, rtol=1e-12)
    exact = 0.3 * p * q * (q * q + clip * (q - p)) / w**2
    np.testing.assert_allclose(h, exact, rtol=1e-9, atol=1e-15)
    # the shift makes the loss non-convex in z even without focusing: the positive Hessian
    # replaces the negative part by the curvature a p q
    assert (exact < 0).any()
    _, h_pos = grad_hess_fn(y, z, 2.0, 0.0, clip, [0.3, 0.7], positive=True)
    np.testing.assert_allclose(h_pos, np.maximum(np.maximum(exact, 0.3 * p * q), TINY),
                               rtol=1e-9, atol=1e-15)


def test_branches_are_independent():
    """gamma_pos acts on positives only, gamma_neg and clip on negatives only (bit for bit)."""
    z = np.linspace(-10.0, 10.0, 81)
    y = np.arange(z.size) % 2
    base = (loss_fn(y, z, 1.0, 2.0, 0.1), *grad_hess_fn(y, z, 1.0, 2.0, 0.1, positive=True))
    other_neg = (loss_fn(y, z, 1.0, 0.5, 0.3), *grad_hess_fn(y, z, 1.0, 0.5, 0.3, positive=True))
    other_pos = (loss_fn(y, z, 3.0, 2.0, 0.1), *grad_hess_fn(y, z, 3.0, 2.0, 0.1, positive=True))
    for a, b, c in zip(base, other_neg, other_pos, strict=True):
        np.testing.assert_array_equal(a[y == 1], b[y == 1])
        np.testing.assert_array_equal(a[y == 0], c[y == 0])
        assert not np.array_equal(a[y == 0], b[y == 0])
        assert not np.array_equal(a[y == 1], c[y == 1])


def test_alpha_and_weight_multiply():
    rng = np.random.default_rng(13)
    z = rng.normal(scale=4.0, size=300)
    y = rng.integers(0, 2, z.size)
    w = rng.uniform(0.5, 2.0, z.size)
    alpha = np.array([0.3, 0.7])
    args = (2.0, 1.0, 0.05)
    row = alpha[y] * w
    np.testing.assert_allclose(loss_fn(y, z, *args, alpha, w), loss_fn(y, z, *args) * row,
                               rtol=1e-15)
    for positive in (False, True):
        g, h = grad_hess_fn(y, z, *args, alpha, w, positive=positive)
        g0, h0 = grad_hess_fn(y, z, *args, positive=positive)
        np.testing.assert_allclose(g, g0 * row, rtol=1e-15)
        # the positive floor applies again after the weight (rows below the threshold)
        np.testing.assert_allclose(h, np.maximum(h0 * row, TINY) if positive else h0 * row,
                                   rtol=1e-15)


# --------------------------------------------------------------------------- threshold and kink
@pytest.mark.parametrize("gamma_neg", GAMMAS)
@pytest.mark.parametrize("clip", [0.05, 0.2, 0.5])
def test_zero_below_the_threshold(gamma_neg, clip):
    z = np.concatenate([[-1e308, -1e4, -745.0, -40.0], np.linspace(-20.0, np.log(clip / (1 - clip)),
                                                                 50, endpoint=False)])
    assert (expit(z) < clip).all()
    y = np.zeros(z.size, dtype=int)
    w = np.linspace(0.0, 2.0, z.size)  # includes a row of weight 0
    for alpha, weight in [(None, None), ([0.3, 0.7], w)]:
        np.testing.assert_array_equal(loss_fn(y, z, 2.0, gamma_neg, clip, alpha, weight), 0.0)
        g, h = grad_hess_fn(y, z, 2.0, gamma_neg, clip, alpha, weight)
        np.testing.assert_array_equal(g, 0.0)
        np.testing.assert_array_equal(h, 0.0)
        # positive Hessian: the floor on rows of positive weight, so Newton steps stay defined
        g, h = grad_hess_fn(y, z, 2.0, gamma_neg, clip, alpha, weight, positive=True)
        np.testing.assert_array_equal(g, 0.0)
        expected = np.full(z.size, TINY) if weight is None else np.where(w > 0, TINY, 0.0)
        np.testing.assert_array_equal(h, expected)


@pytest.mark.parametrize("gamma_neg", GAMMAS)
def test_at_the_kink_the_left_hand_values(gamma_neg):
    """sigmoid(0) = 1/2 exactly: with clip = 1/2 the row sits on the kink, p_m = 0."""
    y, z = np.zeros(1, dtype=int), np.zeros(1)
    assert loss_fn(y, z, 2.0, gamma_neg, 0.5)[0] == 0.0
    g, h = grad_hess_fn(y, z, 2.0, gamma_neg, 0.5)
    assert g[0] == 0.0 and h[0] == 0.0
    g, h = grad_hess_fn(y, z, 2.0, gamma_neg, 0.5, [0.3, 0.7], [1e-3], positive=True)
    assert g[0] == 0.0 and h[0] == TINY


@pytest.mark.parametrize("clip", [0.05, 0.2, 0.7])
def test_threshold_switches_once_across_consecutive_floats(clip):
    """Over the floats around logit(clip), the rows switch from exactly 0 to active once,
    and the first active rows have a loss of the size of p_m (continuity)."""
    z = [np.log(clip / (1 - clip))]
    for _ in range(60):
        z.insert(0, np.nextafter(z[0], -np.inf))
        z.append(np.nextafter(z[-1], np.inf))
    z = np.array(z)
    y = np.zeros(z.size, dtype=int)
    loss = loss_fn(y, z, 1.0, 0.0, clip)
    g = grad_hess_fn(y, z, 1.0, 0.5, clip)[0]
    active = loss > 0
    assert 0 < active.sum() < z.size
    first = np.argmax(active)
    assert not active[:first].any() and active[first:].all()
    np.testing.assert_array_equal(active, g > 0)
    assert loss.max() < 1e-13  # L ~ p_m for gamma_neg = 0, and p_m < 1e-14 here


def _just_right_of_kink(clip, p_m):
    return np.log((clip + p_m) / (1 - clip - p_m))


@pytest.mark.parametrize("clip", [0.05, 0.2, 0.5])
def test_one_sided_limits_right_of_the_kink(clip):
    """The right-hand limits documented in gbfocal._asymmetric, approached from p_m = 1e-6."""
    a, c = 0.3, clip
    cq = c * (1 - c)
    p_m = np.array([1e-6, 1e-7, 1e-8])
    z = _just_right_of_kink(c, p_m)
    y = np.zeros(z.size, dtype=int)

    def gh(gamma_neg):
        return grad_hess_fn(y, z, 2.0, gamma_neg, c, [a, 0.7])

    # gamma_neg = 0: the gradient jumps from 0 to a c (1 - c); the Hessian to a c(1-c)(1-c-c^2)
    g, h = gh(0.0)
    # (relative corrections are O(p_m / (c (1 - c))) <= 2.1e-5)
    np.testing.assert_allclose(g, a * cq, rtol=1e-4)
    np.testing.assert_allclose(h, a * cq * (1 - c - c * c), rtol=1e-4)
    # 0 < gamma_neg < 1: gradient -> 0, Hessian -> +inf like p_m^(gamma - 1)
    g, h = gh(0.5)
    assert (np.diff(g) < 0).all() and g[-1] < 1e-3
    np.testing.assert_allclose(h / h[0], np.sqrt(p_m[0] / p_m), rtol=1e-4)
    np.testing.assert_allclose(h * np.sqrt(p_m), a * 0.5 * 1.5 * cq**2, rtol=1e-4)
    # gamma_neg = 1: the Hessian jumps to 2 a (c (1 - c))^2
    g, h = gh(1.0)
    np.testing.assert_allclose(h, 2 * a * cq**2, rtol=1e-4)
    # gamma_neg > 1: gradient and Hessian continuous (-> 0)
    for gamma_neg in (2.0, 4.0):
        g, h = gh(gamma_neg)
        assert (g < 1e-5).all() and (np.abs(h) < 1e-5).all()


# --------------------------------------------------------------------------- positive Hessian
@pytest.mark.parametrize(("gamma_pos", "gamma_neg"), [(0.5, 4.0), (2.0, 2.0), (4.0, 0.5)])
@pytest.mark.parametrize("clip", CLIPS)
def test_positive_hessian_rule(gamma_pos, gamma_neg, clip):
    rng = np.random.default_rng(14)
    z = rng.normal(scale=5.0, size=4000)
    y = rng.integers(0, 2, z.size)
    _, exact = grad_hess_fn(y, z, gamma_pos, gamma_neg, clip)
    _, pos = grad_hess_fn(y, z, gamma_pos, gamma_neg, clip, positive=True)
    assert (exact < 0).mean() > 0.05  # the exact Hessian really is negative on hard rows
    assert (pos > 0).all() and np.isfinite(pos).all()
    p, q = expit(z), expit(-z)
    p_m = np.maximum(p - clip, 0.0)
    curvature = np.where(y == 1, q**gamma_pos, p_m**gamma_neg) * p * q
    np.testing.assert_allclose(pos, np.maximum(np.maximum(exact, curvature), TINY),
                               rtol=1e-12, atol=1e-300)
    assert (pos[exact > 0] == exact[exact > 0]).mean() > 0.5  # exact wherever it is larger


def test_positive_hessian_stays_positive_under_tiny_row_weights():
    y, z = [0, 1, 0, 1, 0], np.array([709.0, 709.0, 40.0, -3.0, -5.0])
    for weight in (None, np.array([1e-300, 1.0, 0.0, 1e-10, 1e-200])):
        _, h = grad_hess_fn(y, z, 0.0, 0.0, 0.05, [1e-16, 1.0], weight, positive=True)
        zero = np.zeros(5, bool) if weight is None else weight == 0
        assert (h[~zero] > 0).all() and (h[zero] == 0).all()


# --------------------------------------------------------------------------- numerics
EXTREME_Z = np.array([-1.7976931348623157e308, -1e308, -1e4, -1e3, -745.2, -40.0, -1e-300, 0.0,
                      1e-300, 40.0, 745.2, 1e3, 1e4, 1e308, 1.7976931348623157e308])


@pytest.mark.parametrize("gamma_neg", [0.0, 0.01, 0.5, 1.0, 2.0, 10.0])
@pytest.mark.parametrize("clip", [0.0, 1e-300, 1e-20, 0.05, 0.5, 0.999])
@pytest.mark.parametrize("positive", [False, True])
def test_extreme_margins_finite_without_warnings(gamma_neg, clip, positive):
    z = np.concatenate([EXTREME_Z, EXTREME_Z])
    y = np.repeat([0, 1], EXTREME_Z.size)
    w = np.linspace(0.0, 1.0, z.size)  # weights <= 1: a loss of 1.8e308 times 2 is inf
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        for gamma_pos in (0.0, 0.5, 2.0, 10.0):
            for alpha, weight in [(None, None), ([0.3, 0.7], w)]:
                loss = loss_fn(y, z, gamma_pos, gamma_neg, clip, alpha, weight)
                g, h = grad_hess_fn(y, z, gamma_pos, gamma_neg, clip, alpha, weight, positive)
                assert np.isfinite(loss).all() and np.isfinite(g).all() and np.isfinite(h).all()
                assert (loss >= 0).all() and (g[y == 1] <= 0).all() and (g[y == 0] >= 0).all()
                if positive:
                    assert (h[w > 0] > 0).all() and (weight is not None or (h > 0).all())


def test_saturated_values_at_the_float64_maximum():
    y, z = [1, 0, 1, 0, 0], np.array([1e308, 1e308, -1e308, -1e308, 1e308])
    clip = [0.0, 0.0, 0.0, 0.0, 0.2]
    for gamma in (0.0, 2.0):
        rows = [(loss_fn(y[i:i + 1], z[i:i + 1], gamma, gamma, clip[i]),
                 *grad_hess_fn(y[i:i + 1], z[i:i + 1], gamma, gamma, clip[i]))
                for i in range(5)]
        loss, g, h = (np.concatenate(col) for col in zip(*rows, strict=True))
        # misclassified rows saturate at |grad| = 1; with clip the negative's p_m stops at 1 - c
        np.testing.assert_array_equal(g, [0.0, 1.0, -1.0, 0.0, 0.0])
        np.testing.assert_array_equal(h, 0.0)
        np.testing.assert_allclose(loss, [0.0, 1e308, 1e308, 0.0, -(0.8**gamma) * np.log(0.2)],
                                   rtol=1e-15)


def test_small_gamma_large_margins_are_exact():
    """Leading terms for tiny q (positives) and tiny p (negatives, clip = 0): the small-gamma
    factors (1 - p)^(gamma - 1), p^(gamma - 1) must not spoil them."""
    gamma = 0.3
    z = np.array([20.0, 30.0, 38.0, 200.0])
    q = np.exp(log_expit(-z))
    g, h = grad_hess_fn(np.ones(4), z, gamma, 2.0, 0.1)
    np.testing.assert_allclose(g, -(1 + gamma) * q ** (1 + gamma), rtol=1e-7)
    np.testing.assert_allclose(h, (1 + gamma) ** 2 * q ** (1 + gamma), rtol=1e-7)
    g, h = grad_hess_fn(np.zeros(4), -z, 2.0, gamma, 0.0)
    np.testing.assert_allclose(g, (1 + gamma) * q ** (1 + gamma), rtol=1e-7)
    np.testing.assert_allclose(h, (1 + gamma) ** 2 * q ** (1 + gamma), rtol=1e-7)


def test_zero_weight_rows_contribute_exactly_zero():
    z = np.concatenate([EXTREME_Z, np.linspace(-5, 5, 11)])
    z = np.concatenate([z, z])
    y = np.repeat([0, 1], z.size // 2)
    w = np.where(np.arange(z.size) % 3 == 0, 0.0, 1.5)
    for alpha in (None, [0.3, 0.7], [0.0, 0.7]):
        for positive in (False, True):
            loss = loss_fn(y, z, 2.0, 4.0, 0.05, alpha, w)
            g, h = grad_hess_fn(y, z, 2.0, 4.0, 0.05, alpha, w, positive)
            for out in (loss, g, h):
                np.testing.assert_array_equal(out[w == 0], 0.0)
            if alpha is not None and alpha[0] == 0.0:  # a class weight of 0 is a weight of 0
                for out in (loss, g, h):
                    np.testing.assert_array_equal(out[y == 0], 0.0)


@settings(max_examples=60, deadline=None)
@given(
    z=hnp.arrays(np.float64, st.integers(1, 40), elements=st.floats(-1e4, 1e4)),
    gamma_pos=st.floats(0.0, 8.0),
    gamma_neg=st.floats(0.0, 8.0),
    clip=st.floats(0.0, 0.99),
    positive=st.booleans(),
)
def test_finite_and_signed_property(z, gamma_pos, gamma_neg, clip, positive):
    y = np.arange(z.size) % 2
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        loss = loss_fn(y, z, gamma_pos, gamma_neg, clip)
        g, h = grad_hess_fn(y, z, gamma_pos, gamma_neg, clip, positive=positive)
    assert np.isfinite(loss).all() and np.isfinite(g).all() and np.isfinite(h).all()
    assert (loss >= 0).all()
    assert (g[y == 1] <= 0).all() and (g[y == 0] >= 0).all()  # towards the true class
    if positive:
        assert (h > 0).all()


def test_outputs_are_fresh_float64():
    z = np.linspace(-3, 3, 30)
    y = (np.arange(30) % 2).astype(np.int8)
    w = np.ones(30)
    z0, w0 = z.copy(), w.copy()
    outs = (loss_fn(y, z, 2.0, 4.0, 0.05, None, w), *grad_hess_fn(y, z, 2.0, 4.0, 0.05, None, w))
    for out in outs:
        assert out.dtype == np.float64 and out.shape == (30,)
        assert not np.shares_memory(out, z) and not np.shares_memory(out, w)
    np.testing.assert_array_equal(z, z0)
    np.testing.assert_array_equal(w, w0)
