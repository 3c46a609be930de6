"""Tests of the focal-loss math (gbfocal._focal).

The analytic derivatives are checked three independent ways: central finite
differences in float64, high-precision numerical derivatives of the *definition*
of the loss in mpmath (never the package's formulas), and reduction cases whose
answer is known in closed form (gamma = 0 is log loss, K = 2 softmax is a sigmoid).
"""

from __future__ import annotations

import pickle
import warnings

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import expit  # a sigmoid implemented independently of the package

import gbfocal
from gbfocal import (
    balanced_alpha,
    binary_focal_grad_hess,
    binary_focal_loss,
    multiclass_focal_grad_hess,
    multiclass_focal_loss,
)

GAMMAS = [0.0, 0.5, 1.0, 2.0, 5.0]
BINARY_ALPHAS = [None, 0.25, [0.3, 2.0], "balanced"]
MULTI_ALPHAS = [None, [0.5, 1.0, 3.0], "balanced"]
# a grid with large scores (but small enough for float64 finite differences to resolve)
Z_GRID = np.concatenate([np.linspace(-12, 12, 49), [-60.0, -35.0, -20.0, 20.0, 35.0, 60.0]])


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- finite differences
def _central(f, x, step):
    return (f(x + step) - f(x - step)) / (2 * step)


def assert_matches_fd(analytic, fd, scale, step, rtol):
    """Agreement up to the truncation (rtol) and rounding (eps * scale / step) errors of FD."""
    tol = rtol * np.abs(fd) + 1e-10 + 20 * np.finfo(float).eps * np.abs(scale) / step
    bad = np.abs(analytic - fd) > tol
    assert not bad.any(), (analytic[bad], fd[bad])


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha", BINARY_ALPHAS)
def test_binary_derivatives_match_finite_differences(gamma, alpha):
    z = np.concatenate([Z_GRID, Z_GRID])
    y = np.repeat([0, 1], Z_GRID.size)
    sw = np.linspace(0.5, 2.0, z.size)
    step = 1e-5

    def loss(zz):
        return binary_focal_loss(y, zz, alpha=alpha, gamma=gamma, sample_weight=sw)

    def grad(zz):
        kw = dict(alpha=alpha, gamma=gamma, sample_weight=sw, hessian="exact")
        return binary_focal_grad_hess(y, zz, **kw)[0]

    g, h = binary_focal_grad_hess(y, z, alpha=alpha, gamma=gamma, sample_weight=sw, hessian="exact")
    assert_matches_fd(g, _central(loss, z, step), loss(z), step, rtol=1e-6)
    assert_matches_fd(h, _central(grad, z, step), g, step, rtol=1e-5)


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha", MULTI_ALPHAS)
def test_multiclass_derivatives_match_finite_differences(gamma, alpha):
    rng = np.random.default_rng(7)
    n, k = 300, 3
    z = rng.normal(scale=4.0, size=(n, k))
    z[:20] *= 8.0  # large scores, confidently right and wrong
    y = rng.integers(0, k, n)
    y[:3] = [0, 1, 2]
    sw = rng.uniform(0.5, 2.0, n)
    step = 1e-5
    kw = dict(alpha=alpha, gamma=gamma, sample_weight=sw)
    g, h = multiclass_focal_grad_hess(y, z, hessian="exact", **kw)
    for j in range(k):
        e = np.zeros_like(z)
        e[:, j] = step
        fd_g = (multiclass_focal_loss(y, z + e, **kw) - multiclass_focal_loss(y, z - e, **kw)) / (
            2 * step
        )
        g_plus = multiclass_focal_grad_hess(y, z + e, hessian="exact", **kw)[0][:, j]
        g_minus = multiclass_focal_grad_hess(y, z - e, hessian="exact", **kw)[0][:, j]
        assert_matches_fd(g[:, j], fd_g, multiclass_focal_loss(y, z, **kw), step, rtol=1e-6)
        assert_matches_fd(h[:, j], (g_plus - g_minus) / (2 * step), g[:, j], step, rtol=1e-5)


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    n=st.integers(1, 40),
    k=st.integers(2, 6),
    gamma=st.floats(0.0, 6.0),
)
def test_multiclass_gradient_property(data, n, k, gamma):
    """Random shapes and values: finite, gradient rows sum to 0, FD agreement."""
    z = data.draw(
        hnp.arrays(np.float64, (n, k), elements=st.floats(-30, 30, allow_subnormal=False))
    )
    y = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, k - 1)))
    g, h = multiclass_focal_grad_hess(y, z, gamma=gamma, hessian="exact")
    loss = multiclass_focal_loss(y, z, gamma=gamma)
    assert np.isfinite(g).all() and np.isfinite(h).all() and (loss >= 0).all()
    np.testing.assert_allclose(g.sum(axis=1), 0.0, atol=1e-12)
    step = 1e-6
    j = data.draw(st.integers(0, k - 1))
    e = np.zeros_like(z)
    e[:, j] = step
    fd = multiclass_focal_loss(y, z + e, gamma=gamma) - multiclass_focal_loss(y, z - e, gamma=gamma)
    np.testing.assert_allclose(g[:, j], fd / (2 * step), rtol=1e-4, atol=1e-7)


@settings(max_examples=80, deadline=None)
@given(
    z=hnp.arrays(np.float64, st.integers(1, 50), elements=st.floats(-1e4, 1e4)),
    gamma=st.floats(0.0, 10.0),
    alpha=st.one_of(st.none(), st.sampled_from([0.0, 1.0]), st.floats(1e-6, 1.0)),
    hessian=st.sampled_from(["positive", "exact"]),
)
def test_binary_finite_and_bounded_property(z, gamma, alpha, hessian):
    y = (np.arange(z.size) % 2).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = binary_focal_loss(y, z, alpha=alpha, gamma=gamma)
        g, h = binary_focal_grad_hess(y, z, alpha=alpha, gamma=gamma, hessian=hessian)
    assert np.isfinite(loss).all() and np.isfinite(g).all() and np.isfinite(h).all()
    assert (loss >= 0).all()
    # the gradient pushes toward the true class; |q^g (q - g p log p)| <= 1 + g / e
    assert (np.sign(g) * (2 * y - 1) <= 0).all()
    assert (np.abs(g) <= 1.0 + gamma / np.e + 1e-12).all()
    if hessian == "positive":
        assert (h > 0).all() or alpha in (0.0, 1.0)


# --------------------------------------------------------------------------- high precision
mp.mp.dps = 50


def _mp_binary_loss(y, z, gamma):
    u = z if y == 1 else -z
    log_p_t = -mp.log1p(mp.exp(-u))  # log(1 / (1 + e^-u)) without rounding 1 + e^-300 to 1
    one_minus = 1 / (1 + mp.exp(u))  # = 1 - p_t
    return -(one_minus**gamma) * log_p_t


def _rel_err(actual, ref):
    ref = float(ref)
    if abs(ref) < 1e-250:
        return 0.0  # outside the accuracy contract
    return abs(actual - ref) / abs(ref)


@pytest.mark.parametrize("gamma", [0.0, 0.25, 0.5, 1.0, 2.0, 3.7, 10.0])
def test_binary_matches_high_precision_reference(gamma):
    zs = [-1e4, -700.0, -40.0, -12.5, -3.0, -0.7, -1e-3, 0.0, 2e-9, 0.4, 1.9, 6.0, 17.0, 36.0,
          80.0, 300.0, 1e4]
    worst = 0.0
    for y in (0, 1):
        z_arr = np.array(zs)
        loss = binary_focal_loss(np.full(z_arr.size, y), z_arr, gamma=gamma)
        g, h = binary_focal_grad_hess(np.full(z_arr.size, y), z_arr, gamma=gamma, hessian="exact")
        for i, z in enumerate(zs):
            zz = mp.mpf(z)

            def f(x, y=y):
                return _mp_binary_loss(y, x, gamma)

            worst = max(
                worst,
                _rel_err(loss[i], f(zz)),
                _rel_err(g[i], mp.diff(f, zz)),
                _rel_err(h[i], mp.diff(f, zz, 2)),
            )
    assert worst < 1e-9


def _mp_multiclass_loss(y, z, gamma):
    e = [mp.exp(v) for v in z]
    total = mp.fsum(e)
    rest = mp.fsum(e[k] for k in range(len(z)) if k != y)
    log_p_y = -mp.log1p(rest / e[y])  # log(e_y / (e_y + rest)), no rounding of 1 + tiny
    return -((rest / total) ** gamma) * log_p_y


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
def test_multiclass_matches_high_precision_reference(gamma):
    rng = np.random.default_rng(3)
    rows = [
        [0.0, 0.0, 0.0],
        [40.0, 0.0, -3.0],  # confidently right
        [-40.0, 25.0, 24.0],  # confidently wrong, two rivals
        [1e4, -1e4, 0.0],
        [-1e4, 1e4, 9999.0],
        [3.0, 3.0 + 1e-6, -2.0],
        [30.0, 29.0, -5.0],  # non-target class dominating the rest (1 - r_j small)
        *rng.normal(scale=5.0, size=(6, 3)).tolist(),
    ]
    z = np.array(rows)
    for y in range(3):
        labels = np.full(len(rows), y)
        loss = multiclass_focal_loss(labels, z, gamma=gamma)
        g, h = multiclass_focal_grad_hess(labels, z, gamma=gamma, hessian="exact")
        for i, row in enumerate(rows):
            point = [mp.mpf(v) for v in row]
            assert _rel_err(loss[i], _mp_multiclass_loss(y, point, gamma)) < 1e-9
            for j in range(3):

                def f(x, j=j, point=point, y=y):
                    moved = list(point)
                    moved[j] = x
                    return _mp_multiclass_loss(y, moved, gamma)

                assert _rel_err(g[i, j], mp.diff(f, point[j])) < 1e-9, (y, row, j)
                assert _rel_err(h[i, j], mp.diff(f, point[j], 2)) < 1e-9, (y, row, j)


# --------------------------------------------------------------------------- reductions
def test_gamma_zero_is_log_loss():
    rng = np.random.default_rng(0)
    z = rng.normal(scale=6.0, size=500)
    y = rng.integers(0, 2, 500)
    p = expit(z)
    loss = binary_focal_loss(y, z, gamma=0.0)
    np.testing.assert_allclose(loss, np.logaddexp(0.0, np.where(y == 1, -z, z)), rtol=1e-12)
    for mode in ("positive", "exact"):
        g, h = binary_focal_grad_hess(y, z, gamma=0.0, hessian=mode)
        np.testing.assert_allclose(g, p - y, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(h, p * expit(-z), rtol=1e-12)  # p (1 - p) without cancellation


def test_gamma_zero_is_softmax_cross_entropy():
    rng = np.random.default_rng(1)
    z = rng.normal(scale=4.0, size=(400, 5))
    y = rng.integers(0, 5, 400)
    p = softmax(z)
    onehot = np.eye(5)[y]
    loss = multiclass_focal_loss(y, z, gamma=0.0)
    np.testing.assert_allclose(loss, -np.log(p[np.arange(400), y]), rtol=1e-10)
    for mode in ("positive", "exact"):
        g, h = multiclass_focal_grad_hess(y, z, gamma=0.0, hessian=mode)
        np.testing.assert_allclose(g, p - onehot, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(h, p * (1 - p), rtol=1e-10, atol=1e-300)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 4.0])
@pytest.mark.parametrize("hessian", ["positive", "exact"])
def test_two_class_softmax_equals_sigmoid(gamma, hessian):
    rng = np.random.default_rng(2)
    z = np.concatenate([rng.normal(scale=5.0, size=300), [-800.0, 800.0, 1e4, -1e4]])
    y = rng.integers(0, 2, z.size)
    scores = np.column_stack([np.zeros_like(z), z])
    np.testing.assert_allclose(
        multiclass_focal_loss(y, scores, gamma=gamma), binary_focal_loss(y, z, gamma=gamma),
        rtol=1e-12, atol=0,
    )
    gm, hm = multiclass_focal_grad_hess(y, scores, gamma=gamma, hessian=hessian)
    gb, hb = binary_focal_grad_hess(y, z, gamma=gamma, hessian=hessian)
    np.testing.assert_allclose(gm[:, 1], gb, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(hm[:, 1], hb, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(gm[:, 0], -gb, rtol=1e-12, atol=1e-300)


def test_per_class_alpha_scales_exactly():
    rng = np.random.default_rng(4)
    z = rng.normal(scale=3.0, size=(200, 3))
    y = rng.integers(0, 3, 200)
    alpha = np.array([0.2, 1.5, 7.0])
    base_loss = multiclass_focal_loss(y, z)
    base_g, base_h = multiclass_focal_grad_hess(y, z)
    np.testing.assert_array_equal(multiclass_focal_loss(y, z, alpha=alpha), base_loss * alpha[y])
    g, h = multiclass_focal_grad_hess(y, z, alpha=alpha)
    np.testing.assert_array_equal(g, base_g * alpha[y][:, None])
    np.testing.assert_array_equal(h, base_h * alpha[y][:, None])
    # binary float alpha is Lin et al.'s convention: alpha for y=1, 1 - alpha for y=0
    zb, yb = z[:, 0], (y == 1).astype(int)
    a_t = np.where(yb == 1, 0.25, 0.75)
    np.testing.assert_array_equal(
        binary_focal_loss(yb, zb, alpha=0.25), binary_focal_loss(yb, zb) * a_t
    )
    np.testing.assert_array_equal(
        binary_focal_loss(yb, zb, alpha=[0.75, 0.25]), binary_focal_loss(yb, zb, alpha=0.25)
    )


def test_sample_weight_multiplies():
    rng = np.random.default_rng(5)
    z = rng.normal(size=50)
    y = rng.integers(0, 2, 50)
    w = rng.uniform(0, 3, 50)
    np.testing.assert_allclose(
        binary_focal_loss(y, z, sample_weight=w), binary_focal_loss(y, z) * w, rtol=1e-15
    )
    g, h = binary_focal_grad_hess(y, z, sample_weight=w)
    g0, h0 = binary_focal_grad_hess(y, z)
    np.testing.assert_allclose(g, g0 * w, rtol=1e-15)
    np.testing.assert_allclose(h, h0 * w, rtol=1e-15)


def test_focusing_down_weights_easy_rows():
    """gamma > 0 shrinks the loss of well-classified rows far more than of hard rows."""
    y = np.array([1, 1])
    z = np.array([4.0, -4.0])  # easy, hard
    ratio = binary_focal_loss(y, z, gamma=2.0) / binary_focal_loss(y, z, gamma=0.0)
    q = 1 - expit(z)
    np.testing.assert_allclose(ratio, q**2, rtol=1e-12)
    assert ratio[0] < 1e-3 < 0.9 < ratio[1]


# --------------------------------------------------------------------------- balanced alpha
def test_balanced_alpha_example_from_issue():
    y = np.repeat([0, 1, 2], [20_000, 10_000, 5_000])
    np.testing.assert_allclose(balanced_alpha(y), [7 / 12, 7 / 6, 7 / 3], rtol=1e-12)
    np.testing.assert_allclose(balanced_alpha(y).round(4), [0.5833, 1.1667, 2.3333])


def test_balanced_alpha_matches_sklearn_and_weights():
    from sklearn.utils.class_weight import compute_class_weight

    rng = np.random.default_rng(6)
    y = rng.choice(4, size=1000, p=[0.6, 0.25, 0.1, 0.05])
    expected = compute_class_weight("balanced", classes=np.arange(4), y=y)
    np.testing.assert_allclose(balanced_alpha(y), expected, rtol=1e-12)
    w = rng.uniform(0.1, 2.0, 1000)
    counts = np.array([w[y == c].sum() for c in range(4)])
    np.testing.assert_allclose(balanced_alpha(y, 4, w), w.sum() / (4 * counts), rtol=1e-12)
    # "balanced" inside the loss uses exactly these weights
    z = rng.normal(size=(1000, 4))
    np.testing.assert_allclose(
        multiclass_focal_loss(y, z, alpha="balanced", sample_weight=w),
        multiclass_focal_loss(y, z, alpha=balanced_alpha(y, 4, w), sample_weight=w),
        rtol=1e-15,
    )


def test_balanced_alpha_rejects_missing_class():
    with pytest.raises(ValueError, match="classes \\[1\\]"):
        balanced_alpha([0, 0, 2], n_classes=3)
    with pytest.raises(ValueError, match="y_true"):
        balanced_alpha([0, 1, 5], n_classes=3)


# --------------------------------------------------------------------------- Hessian modes
@pytest.mark.parametrize("gamma", [0.5, 2.0, 5.0])
def test_positive_hessian_rule(gamma):
    rng = np.random.default_rng(8)
    z = rng.normal(scale=5.0, size=4000)
    y = rng.integers(0, 2, z.size)
    _, exact = binary_focal_grad_hess(y, z, gamma=gamma, hessian="exact")
    _, pos = binary_focal_grad_hess(y, z, gamma=gamma, hessian="positive")
    assert (exact < 0).mean() > 0.1  # the exact Hessian really is negative on hard rows
    assert (pos > 0).all() and np.isfinite(pos).all()
    p = expit(np.where(y == 1, z, -z))
    floor = (1 - p) ** gamma * p * (1 - p)  # focal-weighted log-loss curvature
    comfortable = exact >= floor
    assert comfortable.mean() > 0.5
    np.testing.assert_array_equal(pos[comfortable], exact[comfortable])
    np.testing.assert_allclose(pos[~comfortable], floor[~comfortable], rtol=1e-9)
    # multiclass: same rule per entry
    zm = rng.normal(scale=4.0, size=(2000, 4))
    ym = rng.integers(0, 4, 2000)
    _, ex = multiclass_focal_grad_hess(ym, zm, gamma=gamma, hessian="exact")
    _, po = multiclass_focal_grad_hess(ym, zm, gamma=gamma)
    pm = softmax(zm)
    fl = (1 - pm[np.arange(2000), ym])[:, None] ** gamma * pm * (1 - pm)
    assert (po > 0).all()
    np.testing.assert_allclose(po, np.maximum(ex, fl), rtol=1e-9, atol=1e-300)


def test_positive_hessian_strictly_positive_at_extremes():
    z = np.array([-1e4, -1e3, 1e3, 1e4])
    for y in (0, 1):
        for gamma in (0.0, 0.3, 2.0, 10.0):
            _, h = binary_focal_grad_hess(np.full(4, y), z, gamma=gamma)
            assert (h > 0).all() and np.isfinite(h).all()


# --------------------------------------------------------------------------- numerics
@pytest.mark.parametrize("gamma", [0.0, 0.01, 0.5, 1.0, 2.0, 10.0])
@pytest.mark.parametrize("hessian", ["positive", "exact"])
def test_extreme_scores_finite_without_warnings(gamma, hessian):
    z = np.array([-1e4, -1e3, -745.2, -40.0, -1e-300, 0.0, 1e-300, 40.0, 745.2, 1e3, 1e4])
    y = np.arange(z.size) % 2
    zm = np.column_stack([z, -z, np.zeros_like(z), 0.5 * z])
    ym = np.arange(z.size) % 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for alpha in BINARY_ALPHAS:
            outs = [binary_focal_loss(y, z, alpha=alpha, gamma=gamma)]
            outs += binary_focal_grad_hess(y, z, alpha=alpha, gamma=gamma, hessian=hessian)
            assert all(np.isfinite(o).all() for o in outs)
        for alpha in [None, [1.0, 2.0, 0.5, 3.0], "balanced"]:
            outs = [multiclass_focal_loss(ym, zm, alpha=alpha, gamma=gamma)]
            outs += multiclass_focal_grad_hess(ym, zm, alpha=alpha, gamma=gamma, hessian=hessian)
            assert all(np.isfinite(o).all() for o in outs)


def test_small_gamma_near_certain_rows_are_exact():
    """gamma < 1: (1 - p)**(gamma - 1) diverges as p -> 1; the result must not."""
    gamma = 0.3
    z = np.array([20.0, 30.0, 38.0])
    g, h = binary_focal_grad_hess(np.ones(3), z, gamma=gamma, hessian="exact")
    q = np.exp(-z) / (1 + np.exp(-z))
    # leading terms for tiny q: grad ~ -(1 + gamma) q^(1+gamma), hess ~ (1 + gamma)^2 q^(1+gamma)
    np.testing.assert_allclose(g, -(1 + gamma) * q ** (1 + gamma), rtol=1e-7)
    np.testing.assert_allclose(h, (1 + gamma) ** 2 * q ** (1 + gamma), rtol=1e-7)


# --------------------------------------------------------------------------- outputs
def test_outputs_are_fresh_contiguous_float64():
    z = np.asfortranarray(np.random.default_rng(9).normal(size=(30, 3)))
    y = np.arange(30) % 3
    for out in (*multiclass_focal_grad_hess(y, z), multiclass_focal_loss(y, z)):
        assert out.dtype == np.float64 and out.flags.c_contiguous
        assert not np.shares_memory(out, z)
    zb = np.linspace(-3, 3, 30).astype(np.float32)
    w = np.ones(30)
    for out in (*binary_focal_grad_hess(y % 2, zb, sample_weight=w), binary_focal_loss(y % 2, zb)):
        assert out.dtype == np.float64 and out.flags.c_contiguous
        assert not np.shares_memory(out, zb) and not np.shares_memory(out, w)


def test_label_types_accepted():
    z = np.array([0.3, -1.2, 2.0])
    ref = binary_focal_loss([1, 0, 1], z)
    for y in ([True, False, True], [1.0, 0.0, 1.0], np.array([1, 0, 1], dtype=np.uint8)):
        np.testing.assert_array_equal(binary_focal_loss(y, z), ref)
    zm = np.zeros((3, 3))
    np.testing.assert_array_equal(
        multiclass_focal_loss([0.0, 2.0, 1.0], zm), multiclass_focal_loss([0, 2, 1], zm)
    )


def test_public_api():
    for name in gbfocal.__all__:
        assert hasattr(gbfocal, name), name
    assert pickle.loads(pickle.dumps(binary_focal_grad_hess)) is binary_focal_grad_hess


# --------------------------------------------------------------------------- bad input
Z1 = np.array([0.1, -0.2, 0.3])
Y1 = np.array([0, 1, 1])
ZM = np.zeros((3, 3))
YM = np.array([0, 1, 2])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(raw_score=Z1[:2]), ValueError, "y_true has 3 samples"),
        (dict(raw_score=np.array([0.1, np.nan, 0.3])), ValueError, "raw_score must be finite"),
        (dict(raw_score=np.array([0.1, np.inf, 0.3])), ValueError, "raw_score must be finite"),
        (dict(raw_score=np.array([[0.3, 0.7]] * 3)), ValueError, "predict_proba"),
        (dict(raw_score=["a", "b", "c"]), TypeError, "raw_score"),
        (dict(raw_score=np.array([]), y_true=np.array([])), ValueError, "empty"),
        (dict(y_true=[0, 2, 1]), ValueError, "y_true must hold binary labels"),
        (dict(y_true=[0, 0.5, 1]), ValueError, "y_true"),
        (dict(y_true=[0, -1, 1]), ValueError, "y_true"),
        (dict(y_true=[[0, 1, 1]]), ValueError, "y_true"),
        (dict(sample_weight=[1, -1, 1]), ValueError, "sample_weight must be non-negative"),
        (dict(sample_weight=[1, np.nan, 1]), ValueError, "sample_weight must be finite"),
        (dict(sample_weight=[1, 1]), ValueError, "sample_weight"),
        (dict(gamma=-0.5), ValueError, "gamma"),
        (dict(gamma=np.nan), ValueError, "gamma"),
        (dict(gamma=np.inf), ValueError, "gamma"),
        (dict(gamma="2"), TypeError, "gamma"),
        (dict(alpha=1.5), ValueError, "alpha"),
        (dict(alpha=-0.1), ValueError, "alpha"),
        (dict(alpha=[1.0, 2.0, 3.0]), ValueError, "alpha"),
        (dict(alpha=[1.0, -2.0]), ValueError, "alpha"),
        (dict(alpha="balance"), ValueError, "alpha"),
        (dict(alpha=True), TypeError, "alpha"),
        (dict(alpha={"a": 1}), TypeError, "alpha"),
    ],
)
def test_binary_bad_input(kwargs, error, match):
    args = dict(y_true=Y1, raw_score=Z1) | kwargs
    with pytest.raises(error, match=match):
        binary_focal_loss(**args)
    with pytest.raises(error, match=match):
        binary_focal_grad_hess(**args)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(raw_score=np.zeros(9)), ValueError, "reshape a flattened"),
        (dict(raw_score=np.zeros((3, 4)).T), ValueError, "raw_score has 4 rows"),
        (dict(raw_score=np.zeros((2, 3))), ValueError, "rows but y_true has 3"),
        (dict(raw_score=np.zeros((3, 1))), ValueError, "at least 2 columns"),
        (dict(raw_score=np.zeros((3, 3, 1))), ValueError, "2-D"),
        (dict(raw_score=np.full((3, 3), np.nan)), ValueError, "finite"),
        (dict(y_true=[0, 1, 3]), ValueError, "class indices 0..2"),
        (dict(y_true=[0, 1, -1]), ValueError, "class indices"),
        (dict(y_true=[0, 1.5, 2]), ValueError, "class indices"),
        (dict(alpha=0.25), ValueError, "only defined for the binary loss"),
        (dict(alpha=[1.0, 2.0]), ValueError, "one non-negative weight per class"),
        (dict(alpha=[1.0, np.nan, 2.0]), ValueError, "alpha"),
        (dict(alpha="balanced", y_true=[0, 0, 1]), ValueError, "no samples"),
        (dict(sample_weight=[[1, 1, 1]]), ValueError, "sample_weight"),
        (dict(gamma=None), TypeError, "gamma"),
    ],
)
def test_multiclass_bad_input(kwargs, error, match):
    args = dict(y_true=YM, raw_score=ZM) | kwargs
    with pytest.raises(error, match=match):
        multiclass_focal_loss(**args)
    with pytest.raises(error, match=match):
        multiclass_focal_grad_hess(**args)


@pytest.mark.parametrize("func", [binary_focal_grad_hess, multiclass_focal_grad_hess])
def test_unknown_hessian_mode(func):
    y, z = (Y1, Z1) if func is binary_focal_grad_hess else (YM, ZM)
    with pytest.raises(ValueError, match="hessian must be one of"):
        func(y, z, hessian="newton")


@pytest.mark.parametrize("disable_numba", ["0", "1"])
def test_scores_near_the_float64_maximum(monkeypatch, disable_numba):
    """Finite gradients and Hessians (no 0 * inf) even where gamma * log p, or the
    margin of two scores 2e308 apart, overflows; the finite check sums first, and an
    overflowing sum of finite values is not an error."""
    monkeypatch.setenv("GBFOCAL_DISABLE_NUMBA", disable_numba)
    y, z = [1, 0, 1, 0], np.array([1e308, 1e308, -1e308, -1e308])
    grad, hess = gbfocal.binary_focal_grad_hess(y, z, gamma=2.0, hessian="exact")
    # saturated: -y_sign * a_t for the misclassified rows, 0 for the others
    np.testing.assert_array_equal(grad, [0.0, 1.0, -1.0, 0.0])
    np.testing.assert_array_equal(hess, [0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(gbfocal.binary_focal_loss(y, z), [0.0, 1e308, 1e308, 0.0])
    zm = np.array([[1e308, -1e308, 0.0], [1e308, -1e308, 0.0]])
    grad, hess = gbfocal.multiclass_focal_grad_hess([0, 1], zm, gamma=2.0)
    np.testing.assert_array_equal(grad, [[0.0, 0.0, 0.0], [1.0, -1.0, 0.0]])
    assert (hess > 0).all() and np.isfinite(hess).all()
    # the true loss of row 1 is 2e308: beyond float64, so it overflows to inf
    np.testing.assert_array_equal(gbfocal.multiclass_focal_loss([0, 1], zm), [0.0, np.inf])
    with pytest.raises(ValueError, match="finite"):
        gbfocal.binary_focal_grad_hess([1, 0, 1], np.array([1e308, np.nan, -5.0]))


@pytest.mark.parametrize("disable_numba", ["0", "1"])
def test_positive_hessian_stays_positive_under_tiny_row_weights(monkeypatch, disable_numba):
    """Found by the property test: a row weight below 1 (alpha = 1 - 1e-16 gives the
    negative class 1.1e-16) took the tiny floor under the smallest normal float."""
    monkeypatch.setenv("GBFOCAL_DISABLE_NUMBA", disable_numba)
    y, z = [0, 1, 0, 1], np.array([709.0, 709.0, 40.0, -3.0])
    for weight in (None, np.array([1e-300, 1.0, 0.0, 1e-10])):
        _, h = gbfocal.binary_focal_grad_hess(y, z, alpha=0.9999999999999999, gamma=0.0,
                                              sample_weight=weight)
        zero_weight = np.zeros(4, bool) if weight is None else weight == 0
        assert (h[~zero_weight] > 0).all() and (h[zero_weight] == 0).all()
    zm = np.array([[800.0, 0.0, -800.0], [0.0, 1.0, 2.0], [5.0, 0.0, 0.0]])
    _, h = gbfocal.multiclass_focal_grad_hess([2, 0, 1], zm, alpha=[1.0, 1e-300, 1e-20],
                                              sample_weight=[1e-10, 1.0, 0.0])
    assert (h[:2] > 0).all() and (h[2] == 0).all()
