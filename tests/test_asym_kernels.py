"""The compiled asymmetric focal loss kernels (gbfocal._kernels) against the NumPy reference
(gbfocal._asymmetric), and the dispatch through gbfocal._backend.

The two agree to 1e-12 relative. Two places need a scale other than the value itself, both
the reference formula's own rounding scale: the exact Hessian changes sign, and near its zero
the difference is measured against the log-loss curvature (the "positive" Hessian of the
reference), as in tests/test_kernels.py; and near the clip kink ``m = p - clip`` carries the
relative error ``eps p / m`` of ``p`` in either implementation, so the bound there grows by
that condition number (the rows away from the kink keep the plain 1e-12).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from scipy.special import expit

import gbfocal
from gbfocal import BinaryFocalLoss, MultiLabelFocalLoss, _asymmetric, _backend
from gbfocal._math import TINY

pytest.importorskip("numba")
from gbfocal import _kernels  # noqa: E402

RTOL = 1e-12
TINY_ABS = 1e-300
EPS = float(np.finfo(np.float64).eps)
# The compiled variants (gbfocal._kernels._asymmetric_kernel): one per (loss or derivatives,
# clip mode, gamma_pos code, gamma_neg code), built on first use once per dtype signature
# (about a second each where numba's disk cache is empty, as on a fresh clone in CI). The
# tests run a covering design of them, not all 2 x 3 x 5 x 5:
#
# * PAIRS, at a normal clip (mode 1): every code of _kernels._power ({0, 1, 2, 4} and the
#   general exp(gamma log x)) once on each class with a non-general code on the other class
#   (so through _power), and both general (the kernel's path with one _exp per row).
# * clip = 0 (mode 0) and a tiny clip (mode 2) change how m, w, rho and log m are formed, the
#   same for every code; of the codes only the general gamma_neg reads log m (log p in mode 0,
#   _log_any(m) otherwise), so these modes run the pairs with a general gamma_neg, alone and
#   both general; mode 2 also gamma_neg = 0, whose loss -log(1 - m) = m is nonzero on a
#   subnormal m (the other codes multiply it by an m**gamma_neg that underflows).
# * float32 margins and outputs only on the (0, 4) variant at mode 1 (Ridnik et al.'s
#   default): the dtype is read and written outside the math.
#
# The other tests, here and in tests/test_asymmetric_loss.py, take their gammas from these
# pairs and their clips from these modes, so they reuse the compiled variants. Any gamma
# other than 0, 1, 2 and 4 is free: the general code reads its value at run time.
PAIRS = [(0.0, 4.0), (1.0, 2.0), (4.0, 1.0), (2.0, 0.5), (2.5, 0.0), (1.5, 7.3)]
PAIRS_BY_CLIP_MODE = {0: [(2.0, 0.5), (1.5, 7.3)], 1: PAIRS,
                      2: [(2.5, 0.0), (2.0, 0.5), (1.5, 7.3)]}
GAMMA_POS = {gamma_neg: gamma_pos for gamma_pos, gamma_neg in PAIRS}


def pairs_for(clip: float) -> list[tuple[float, float]]:
    """The ``(gamma_pos, gamma_neg)`` pairs run at ``clip`` (those of its clip mode)."""
    return PAIRS_BY_CLIP_MODE[_kernels._clip_mode(clip)]


def cases(clips: tuple[float, ...]) -> list[tuple[float, float, float]]:
    """``(gamma_pos, gamma_neg, clip)`` for each clip and each pair of its clip mode."""
    return [(gp, gn, clip) for clip in clips for gp, gn in pairs_for(clip)]


# 0 (mode 0), two normal clips (mode 1: the kink at different p), a tiny one (mode 2)
REFERENCE_CLIPS = (0.0, 0.05, 0.3, 1e-300)
# as above, a subnormal clip and clips near 1 too
EXTREME_CLIPS = (0.0, 1e-300, 5e-324, 0.05, 0.5, 0.999)


def _logit(p: Any) -> Any:
    return np.log(p) - np.log1p(-p)


def margins(rng: np.random.Generator, clip: float) -> np.ndarray:
    """Typical, saturated and huge margins (|z| up to 1e4), and both sides of the kink."""
    special = np.array([0.0, 1e-300, -1e-300, 36.7, -36.7, 709.0, -709.0, 745.5, -745.5,
                        1e3, -1e3, 1e4, -1e4])
    parts = [rng.normal(0.0, 3.0, 3000), rng.uniform(-60.0, 60.0, 1000),
             rng.choice([-1.0, 1.0], 300) * 10.0 ** rng.uniform(2, 4, 300), special]
    if clip > 0.0:  # p = clip (1 +- delta), delta down to 1e-10 (m >> the ulps of p)
        delta = np.concatenate([10.0 ** -np.arange(1.0, 11.0), rng.uniform(1e-9, 1e-2, 200)])
        parts += [_logit(clip * (1.0 + delta)), _logit(clip * (1.0 - delta))]
    z = np.concatenate(parts)
    return np.concatenate([z, z])  # every margin once per class (labels below)


def labels(n: int) -> np.ndarray:
    return np.repeat(np.array([0, 1], dtype=np.int8), n // 2)


def kernel_loss(y, z, alpha, weight, gp, gn, clip) -> np.ndarray:
    out = np.empty(z.shape[0])
    _kernels.asymmetric_loss(y, z, alpha, weight, gp, gn, clip, out)
    return out


def kernel_grad_hess(y, z, alpha, weight, gp, gn, clip, positive, dtype: Any = np.float64):
    grad, hess = np.empty(z.shape[0], dtype), np.empty(z.shape[0], dtype)
    _kernels.asymmetric_grad_hess(y, z, alpha, weight, gp, gn, clip, positive, grad, hess)
    return grad, hess


def reference_grad_hess(y, z, alpha, weight, gp, gn, clip, positive):
    return _asymmetric.asymmetric_grad_hess(np, y, z, alpha, weight, gp, gn, clip, positive)


def kink_condition(y: np.ndarray, z: np.ndarray, clip: float) -> np.ndarray:
    """``p / |p - clip|`` on the negatives (their relative rounding scale), 0 elsewhere."""
    if clip == 0.0:
        return np.zeros(z.shape)
    p = expit(z)
    with np.errstate(divide="ignore"):
        kappa = p / np.abs(p - clip)
    return np.where(y == 0, np.minimum(kappa, 1e300), 0.0)


def assert_agree(got, want, *, scale=None, kappa=None, gamma_neg=0.0):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == np.float64
    assert np.isfinite(got).all()
    size = np.abs(want) if scale is None else np.abs(want) + np.abs(scale)
    rtol = RTOL if kappa is None else RTOL + 8.0 * (1.0 + gamma_neg) * EPS * kappa
    excess = np.abs(got - want) - (rtol * size + TINY_ABS)
    worst = int(np.argmax(excess))
    assert excess[worst] <= 0, (
        f"kernel {got[worst]!r} vs reference {want[worst]!r} at {worst}"
    )


# --------------------------------------------------------------------------- scalar math
def test_log_any_matches_numpy_on_normal_and_subnormal_numbers():
    from numba import njit

    @njit
    def apply(values):
        out = np.empty_like(values)
        for i in range(values.shape[0]):
            out[i] = _kernels._log_any(values[i])
        return out

    rng = np.random.default_rng(3)
    x = np.concatenate([10.0 ** rng.uniform(-300, 300, 5000), 10.0 ** rng.uniform(-323, -308, 5000),
                        [5e-324, 1e-310, TINY, np.nextafter(TINY, 0.0), 1.0, 0.5]])
    np.testing.assert_allclose(apply(x), np.log(x), rtol=6e-16, atol=0)


def test_log_w_is_log1p_of_minus_m_to_an_ulp():
    """``log(1 - m)`` from ``m`` (and the sum ``q + clip`` above m = 1/2): accurate relative
    to ``log1p(-m)`` for tiny ``m`` too, where ``log(1 - m)`` of the rounded ``1 - m`` is
    wrong in all but the leading digits."""
    from numba import njit

    @njit
    def apply(m, w):
        out = np.empty_like(m)
        for i in range(m.shape[0]):
            out[i] = _kernels._log_w(m[i], w[i])
        return out

    rng = np.random.default_rng(4)
    m = np.concatenate([10.0 ** rng.uniform(-320, -0.302, 20_000), rng.uniform(0.0, 0.5, 5000),
                        [5e-324, 1e-17, 1.2e-16, 2.3e-16, 0.25, 0.5]])
    m = m[m > 0]
    np.testing.assert_allclose(apply(m, 1.0 - m), np.log1p(-m), rtol=4e-16, atol=0)
    # above 1/2: log of the given sum (the exact 1 - m the caller has, q + clip)
    w = np.concatenate([10.0 ** rng.uniform(-320, -0.302, 5000), [5e-324, 0.4999]])
    np.testing.assert_allclose(apply(np.full(w.size, 0.75), w), np.log(w), rtol=6e-16, atol=0)


# --------------------------------------------------------------------------- vs the reference
def test_the_pairs_cover_every_code_on_both_classes_and_every_clip_mode():
    """The covering design above (nothing compiled here): the claims of its comment."""
    every = {0, 1, 2, 4, -1}
    both_general = (-1, -1)

    def codes(pairs):
        return {(_kernels._gamma_code(gp), _kernels._gamma_code(gn)) for gp, gn in pairs}

    through_power = codes(PAIRS) - {both_general}
    assert {pos for pos, _ in through_power} == every
    assert {neg for _, neg in through_power} == every
    assert both_general in codes(PAIRS)
    for mode, pairs in PAIRS_BY_CLIP_MODE.items():
        assert both_general in codes(pairs)
        assert any(pos != -1 and neg == -1 for pos, neg in codes(pairs)), mode
        assert codes(pairs) <= codes(PAIRS)
    assert (-1, 0) in codes(PAIRS_BY_CLIP_MODE[2])
    assert [_kernels._clip_mode(c) for c in REFERENCE_CLIPS] == [0, 1, 1, 2]
    assert {_kernels._clip_mode(c) for c in EXTREME_CLIPS} == {0, 1, 2}
    assert len(GAMMA_POS) == len(PAIRS)


@pytest.mark.parametrize(("gamma_pos", "gamma_neg", "clip"), cases(REFERENCE_CLIPS))
@pytest.mark.parametrize("hessian", ["positive", "exact"])
def test_kernels_match_the_numpy_reference(gamma_pos, gamma_neg, clip, hessian):
    rng = np.random.default_rng(int(gamma_neg * 10) + int(clip * 100))
    z = margins(rng, clip)
    y = labels(z.size)
    kappa = kink_condition(y, z, clip)
    weight = rng.uniform(0.0, 3.0, z.size)
    weight[::17] = 0.0
    positive = hessian == "positive"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for alpha in (None, np.array([0.3, 1.7])):
            for w in (None, weight):
                args = (y, z, alpha, w, gamma_pos, gamma_neg, clip)
                grad, hess = kernel_grad_hess(*args, positive)
                ref_grad, ref_hess = reference_grad_hess(*args, positive)
                _, curvature = reference_grad_hess(*args, True)
                assert_agree(grad, ref_grad, kappa=kappa, gamma_neg=gamma_neg)
                assert_agree(hess, ref_hess, scale=None if positive else curvature,
                             kappa=kappa, gamma_neg=gamma_neg)
                assert_agree(kernel_loss(*args), _asymmetric.asymmetric_loss(np, *args),
                             kappa=kappa, gamma_neg=gamma_neg)
                if positive:
                    assert (hess[(w is None) | (weight > 0)] > 0).all()


def test_the_tolerance_is_the_plain_one_away_from_the_kink():
    """The kink allowance is confined to the kink: it exceeds 1e-12 on a few per cent of
    the rows of margins() (the kink points), and is below 1e-13 on the typical row."""
    rng = np.random.default_rng(0)
    z = margins(rng, 0.05)
    largest = max(gamma_neg for _, gamma_neg in PAIRS)
    allowance = 8.0 * (1.0 + largest) * EPS * kink_condition(labels(z.size), z, 0.05)
    assert np.median(allowance) < 1e-13
    assert 0.0 < np.mean(allowance > RTOL) < 0.05


@pytest.mark.parametrize(("gamma_pos", "gamma_neg", "clip"), cases(EXTREME_CLIPS))
def test_extreme_margins_finite_and_equal_to_the_reference(gamma_pos, gamma_neg, clip):
    """Margins up to the float64 maximum, and tiny clips (a subnormal one included: there
    ``q / w`` comes from the logs, as in the reference)."""
    z = np.array([-1.7976931348623157e308, -1e308, -1e4, -1e3, -745.2, -40.0, -1e-300, 0.0,
                  1e-300, 40.0, 745.2, 1e3, 1e4, 1e308, 1.7976931348623157e308])
    z = np.concatenate([z, z])
    y = labels(z.size)
    w = np.linspace(0.0, 1.0, z.size)  # weights <= 1: a loss of 1.8e308 times 2 is inf
    kappa = kink_condition(y, z, clip)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for alpha, weight in [(None, None), (np.array([0.3, 0.7]), w)]:
            args = (y, z, alpha, weight, gamma_pos, gamma_neg, clip)
            loss = kernel_loss(*args)
            assert_agree(loss, _asymmetric.asymmetric_loss(np, *args), kappa=kappa,
                         gamma_neg=gamma_neg)
            assert (loss >= 0).all()
            for positive in (False, True):
                g, h = kernel_grad_hess(*args, positive)
                ref_g, ref_h = reference_grad_hess(*args, positive)
                assert_agree(g, ref_g, kappa=kappa, gamma_neg=gamma_neg)
                assert_agree(h, ref_h, kappa=kappa, gamma_neg=gamma_neg)
                assert (g[y == 1] <= 0).all() and (g[y == 0] >= 0).all()
                if positive:
                    assert (h[w > 0] > 0).all() and (weight is not None or (h > 0).all())


# --------------------------------------------------------------------------- the kink
@pytest.mark.parametrize(("gamma_pos", "gamma_neg"), PAIRS)
def test_at_the_kink_the_left_hand_values(gamma_pos, gamma_neg):
    """sigmoid(0) = 1/2 exactly in the kernel too: with clip = 1/2 the row sits on the kink."""
    y, z = np.zeros(2, dtype=np.int8), np.zeros(2)
    args = (y, z, None, None, gamma_pos, gamma_neg, 0.5)
    np.testing.assert_array_equal(kernel_loss(*args), 0.0)
    g, h = kernel_grad_hess(*args, False)
    np.testing.assert_array_equal(g, 0.0)
    np.testing.assert_array_equal(h, 0.0)
    weight = np.array([1e-3, 0.0])
    g, h = kernel_grad_hess(y, z, np.array([0.3, 0.7]), weight, gamma_pos, gamma_neg, 0.5, True)
    np.testing.assert_array_equal(g, 0.0)
    np.testing.assert_array_equal(h, [TINY, 0.0])  # the floor, on rows of positive weight


@pytest.mark.parametrize("gamma_neg", [0.0, 4.0, 7.3])
@pytest.mark.parametrize("clip", [0.05, 0.2, 0.7])
def test_below_the_threshold_exactly_zero(gamma_neg, clip):
    z = np.concatenate([[-1e308, -1e4, -745.0, -40.0],
                        np.linspace(-20.0, _logit(clip), 50, endpoint=False)])
    y = np.zeros(z.size, dtype=np.int8)
    w = np.linspace(0.0, 2.0, z.size)  # includes a row of weight 0
    alpha = np.array([0.3, 0.7])  # row weights alpha * w <= 0.6: the floor is tiny again
    gamma_pos = GAMMA_POS[gamma_neg]
    np.testing.assert_array_equal(kernel_loss(y, z, alpha, w, gamma_pos, gamma_neg, clip), 0.0)
    g, h = kernel_grad_hess(y, z, alpha, w, gamma_pos, gamma_neg, clip, False)
    np.testing.assert_array_equal(g, 0.0)
    np.testing.assert_array_equal(h, 0.0)
    g, h = kernel_grad_hess(y, z, alpha, w, gamma_pos, gamma_neg, clip, True)
    np.testing.assert_array_equal(g, 0.0)
    np.testing.assert_array_equal(h, np.where(w > 0, TINY, 0.0))
    g, h = kernel_grad_hess(y, z, None, None, gamma_pos, gamma_neg, clip, True)
    np.testing.assert_array_equal(h, TINY)


@pytest.mark.parametrize("clip", [0.05, 0.2, 0.7, 1e-300])
def test_threshold_switches_once_where_the_reference_does(clip):
    """Over 121 consecutive floats around logit(clip) the rows switch from exactly 0 to
    active once, at the reference's switch (give or take the one float by which the two
    implementations' p may differ). With clip = 1e-300, m = p - clip is subnormal there."""
    z = [float(_logit(clip))]
    for _ in range(60):
        z.insert(0, np.nextafter(z[0], -np.inf))
        z.append(np.nextafter(z[-1], np.inf))
    z = np.array(z)
    y = np.zeros(z.size, dtype=np.int8)
    # active rows: the gradient for gamma_neg = 0 (p rho > 0; m**gamma_neg may underflow)
    active = kernel_grad_hess(y, z, None, None, GAMMA_POS[0.0], 0.0, clip, False)[0] > 0
    ref_active = reference_grad_hess(y, z, None, None, GAMMA_POS[0.0], 0.0, clip, False)[0] > 0
    assert 0 < active.sum() < z.size
    first = int(np.argmax(active))
    assert not active[:first].any() and active[first:].all()
    assert abs(first - int(np.argmax(ref_active))) <= 1
    both = active & ref_active
    kappa = kink_condition(y, z, clip)[both]
    # gamma_neg up to 4: on the first active rows m is a few ulps of p, and m**gamma_neg
    # turns the ulp by which the two implementations' p may differ into a factor (300 for
    # 7.3) beyond the kink allowance, which is linear in the relative error of m
    for gamma_pos, gamma_neg in [pair for pair in pairs_for(clip) if pair[1] <= 4.0]:
        args = (y, z, None, None, gamma_pos, gamma_neg, clip)
        g, h = kernel_grad_hess(*args, False)
        ref_g, _ = reference_grad_hess(*args, False)
        loss = kernel_loss(*args)
        np.testing.assert_array_equal(g[~active], 0.0)
        np.testing.assert_array_equal(h[~active], 0.0)
        np.testing.assert_array_equal(loss[~active], 0.0)
        assert np.isfinite(h).all() and (loss >= 0).all()
        if gamma_neg == 0.0:
            np.testing.assert_array_equal(loss > 0, active)
        assert_agree(loss[both], _asymmetric.asymmetric_loss(np, *args)[both], kappa=kappa,
                     gamma_neg=gamma_neg)
        assert_agree(g[both], ref_g[both], kappa=kappa, gamma_neg=gamma_neg)


# --------------------------------------------------------------------------- layouts, threads
def test_float32_margins_and_outputs():
    """float32 margins give the float64 margins' values; float32 outputs are the float64
    values rounded once (what the per-round objective path stores)."""
    rng = np.random.default_rng(5)
    z = rng.normal(0.0, 4.0, 5000)
    y = (rng.random(5000) < 0.3).astype(np.int8)
    w = rng.uniform(0.0, 2.0, 5000)
    z32 = z.astype(np.float32)
    for positive in (False, True):
        args = (y, z32, np.array([0.4, 1.3]), w, 0.0, 4.0, 0.05, positive)
        g64, h64 = kernel_grad_hess(*args)
        wide = kernel_grad_hess(y, z32.astype(np.float64), *args[2:])
        np.testing.assert_array_equal(g64, wide[0])
        np.testing.assert_array_equal(h64, wide[1])
        g32, h32 = kernel_grad_hess(*args, dtype=np.float32)
        assert g32.dtype == np.float32
        np.testing.assert_array_equal(g32, g64.astype(np.float32))
        np.testing.assert_array_equal(h32, h64.astype(np.float32))


def test_threads_give_the_single_thread_result_bit_for_bit():
    rng = np.random.default_rng(6)
    n = 300_000
    z = rng.normal(0.0, 4.0, n)
    y = (rng.random(n) < 0.2).astype(np.int8)
    w = rng.uniform(0.0, 2.0, n)
    before = gbfocal.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            gbfocal.set_num_threads(threads)
            results.append((kernel_loss(y, z, None, w, 0.0, 4.0, 0.05),
                            *kernel_grad_hess(y, z, None, w, 0.0, 4.0, 0.05, True)))
    finally:
        gbfocal.set_num_threads(before)
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


def test_empty_input():
    y, z = np.zeros(0, dtype=np.int8), np.zeros(0)
    assert kernel_loss(y, z, None, None, 0.0, 4.0, 0.05).shape == (0,)
    g, h = kernel_grad_hess(y, z, None, None, 0.0, 4.0, 0.05, True)
    assert g.shape == h.shape == (0,)


# --------------------------------------------------------------------------- dispatch
@contextmanager
def _numpy_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with monkeypatch.context() as m:
        m.setenv("GBFOCAL_DISABLE_NUMBA", "1")
        yield


def _poison(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("compiled kernel called")

    monkeypatch.setattr(_kernels, "asymmetric_loss", fail)
    monkeypatch.setattr(_kernels, "asymmetric_grad_hess", fail)


def _loss_objects() -> list[Any]:
    """Binary and multi-label, both Hessians, with and without alpha: all on the (0, 4)
    variant at a normal clip, whose float32 signatures (the per-round path) the kernel tests
    compile anyway. Which code runs is the kernel tests' business; here: which path."""
    return [BinaryFocalLoss(alpha=0.3, gamma=0.0, gamma_neg=4.0, clip=0.05),
            BinaryFocalLoss(gamma=0.0, gamma_neg=4.0, clip=0.3, hessian="exact"),
            MultiLabelFocalLoss(3, gamma=0.0, gamma_neg=4.0, clip=0.05)]


def _everything(loss: Any, rng: np.random.Generator) -> list[np.ndarray]:
    """loss values, grad_hess, and the per-round float32 objective path of a loss object."""
    n = 400
    if isinstance(loss, MultiLabelFocalLoss):
        y = (rng.random((n, 3)) < 0.3).astype(float)
        y[rng.random((n, 3)) < 0.1] = -1  # unknown labels
        z = rng.normal(0.0, 3.0, (n, 3))
    else:
        y = (rng.random(n) < 0.3).astype(float)
        z = rng.normal(0.0, 3.0, n)
    w = rng.uniform(0.5, 2.0, n)
    loss.fit(y, w)
    training = loss.training_set(y, w)
    margins = loss.margins(z.astype(np.float32), n, keep_float32=True)
    return [np.asarray(loss.loss(y, z, sample_weight=w)),
            *loss.grad_hess(y, z, sample_weight=w),
            *(np.asarray(a, dtype=np.float64) for a in loss.round_grad_hess(margins, training))]


def test_loss_objects_run_the_kernels_by_default(monkeypatch):
    monkeypatch.delenv("GBFOCAL_DISABLE_NUMBA", raising=False)
    assert _backend.compiled() is _kernels
    # and asymmetric through gamma_neg alone (clip = 0); the poisoned call compiles nothing
    for loss in [*_loss_objects(), BinaryFocalLoss(gamma=2.0, gamma_neg=0.5)]:
        with monkeypatch.context() as m:
            _poison(m)
            with pytest.raises(AssertionError, match="compiled kernel called"):
                _everything(loss, np.random.default_rng(0))


@pytest.mark.parametrize("value", ["1", "true"])
def test_env_variable_forces_the_numpy_reference(monkeypatch, value):
    """GBFOCAL_DISABLE_NUMBA: the NumPy reference runs (the kernels are never called), and
    its results are those of the compiled path."""
    for index, loss in enumerate(_loss_objects()):
        compiled = _everything(loss, np.random.default_rng(index))
        with monkeypatch.context() as m:
            m.setenv("GBFOCAL_DISABLE_NUMBA", value)
            assert _backend.compiled() is None
            _poison(m)
            reference = _everything(loss, np.random.default_rng(index))
        for got, want in zip(compiled, reference, strict=True):
            if got.dtype == np.float32 or want.dtype == np.float32:
                np.testing.assert_allclose(got, want, rtol=2e-7, atol=1e-30)
            else:
                np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-300)


def test_backend_out_buffers_on_both_paths(monkeypatch):
    rng = np.random.default_rng(9)
    z = rng.normal(0.0, 3.0, 1000)
    y = (rng.random(1000) < 0.4).astype(np.int8)
    results = []
    for disable in ("0", "1"):
        monkeypatch.setenv("GBFOCAL_DISABLE_NUMBA", disable)
        out = (np.empty(1000, np.float32), np.empty(1000, np.float32))
        grad, hess = _backend.asymmetric_grad_hess(y, z, None, None, 0.0, 4.0, 0.05, True,
                                                   dtype=np.float32, out=out)
        assert grad is out[0] and hess is out[1]
        fresh = _backend.asymmetric_grad_hess(y, z, None, None, 0.0, 4.0, 0.05, True)
        assert fresh[0].dtype == np.float64 and fresh[0].flags.c_contiguous
        results.append((grad.copy(), hess.copy(), *fresh,
                        _backend.asymmetric_loss(y, z, None, None, 0.0, 4.0, 0.05)))
    for got, want in zip(*results, strict=True):
        np.testing.assert_allclose(got, want, rtol=2e-7 if got.dtype == np.float32 else 1e-12)


def test_numpy_path_without_numba(monkeypatch):
    """numba missing (the import of gbfocal._kernels fails): the reference runs."""
    import sys

    monkeypatch.delenv("GBFOCAL_DISABLE_NUMBA", raising=False)
    monkeypatch.setattr(_backend, "_KERNELS", None)
    monkeypatch.setitem(sys.modules, "gbfocal._kernels", None)
    monkeypatch.delattr(gbfocal, "_kernels", raising=False)
    assert _backend.compiled() is None
    y, z = np.array([0, 1, 1, 0], dtype=np.int8), np.array([-1.0, 0.5, 3.0, 40.0])
    got = _backend.asymmetric_grad_hess(y, z, None, None, 0.0, 4.0, 0.05, False)
    want = _asymmetric.asymmetric_grad_hess(np, y, z, None, None, 0.0, 4.0, 0.05, False)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
