"""The compiled kernels (gbfocal._kernels) against the pure-NumPy reference.

Every public function runs the numba kernel by default and the NumPy reference with
``GBFOCAL_DISABLE_NUMBA=1``; the two must agree to 1e-12 relative. Where both results
underflow (below ~1e-300) only a tiny absolute difference is allowed. The exact Hessian
changes sign, and near its zero the reference formula itself cancels terms the size of
the log-loss curvature: there the difference is measured against that curvature (the
"positive" Hessian of the reference), which is the formula's own rounding scale.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import gbfocal
from gbfocal import _backend

pytest.importorskip("numba")
from gbfocal import _kernels  # noqa: E402

# every code of _kernels.focal_gamma_code (products for 0-4, a square root for 0.5, 1.5,
# 2.5) and the general exp(gamma log q) (5, 10)
GAMMAS = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 10.0]
RTOL = 1e-12
TINY_ABS = 1e-300


@pytest.fixture
def numpy_path(monkeypatch):
    """Call the public functions on the NumPy reference path."""

    def call(fn, *args, **kwargs):
        with monkeypatch.context() as m:
            m.setenv("GBFOCAL_DISABLE_NUMBA", "1")
            return fn(*args, **kwargs)

    return call


def assert_agree(kernel, reference, scale=None):
    kernel, reference = np.asarray(kernel), np.asarray(reference)
    assert kernel.shape == reference.shape and kernel.dtype == np.float64
    assert np.isfinite(kernel).all()
    bound = RTOL * np.abs(reference) + TINY_ABS
    if scale is not None:
        bound = bound + RTOL * np.abs(scale)
    excess = np.abs(kernel - reference) - bound
    worst = np.unravel_index(np.argmax(excess), excess.shape)
    assert excess[worst] <= 0, (
        f"kernel {kernel[worst]!r} vs reference {reference[worst]!r} at {worst}"
    )


def binary_scores(rng, n=3000):
    """Typical margins, saturated ones and the edges of the exp/log ranges."""
    special = np.array([0.0, 1e-300, -1e-300, 36.7, -36.7, 709.0, -709.0, 745.5, -745.5,
                        800.0, -800.0, 1e6, -1e6, 1e300, -1e300])
    return np.concatenate([
        rng.normal(0.0, 3.0, n),
        rng.uniform(-60.0, 60.0, n // 3),
        rng.choice([-1.0, 1.0], n // 10) * 10.0 ** rng.uniform(2, 6, n // 10),
        special, special,
    ])


def multiclass_scores(rng, n, k):
    z = rng.normal(0.0, 3.0, (n, k))
    z[: n // 10] *= 150.0  # saturated rows, beyond exp's range
    z[n // 10 : n // 5, 1:] = z[n // 10 : n // 5, :1]  # ties
    z[-1] = 0.0
    return z


def binary_cases(rng, n):
    y = (rng.random(n) < 0.3).astype(np.int64)
    y[:2] = [0, 1]
    weight = rng.uniform(0.0, 3.0, n)
    weight[::17] = 0.0
    return y, weight


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("hessian", ["positive", "exact"])
def test_binary_grad_hess_matches_numpy(gamma, hessian, numpy_path):
    rng = np.random.default_rng(int(gamma * 10))
    z = binary_scores(rng)
    y, weight = binary_cases(rng, z.shape[0])
    for alpha in (None, 0.25, [0.3, 1.7], "balanced"):
        for sample_weight in (None, weight):
            kwargs = {"alpha": alpha, "gamma": gamma, "sample_weight": sample_weight}
            grad, hess = gbfocal.binary_focal_grad_hess(y, z, hessian=hessian, **kwargs)
            ref_grad, ref_hess = numpy_path(
                gbfocal.binary_focal_grad_hess, y, z, hessian=hessian, **kwargs
            )
            _, curvature = numpy_path(gbfocal.binary_focal_grad_hess, y, z, **kwargs)
            assert_agree(grad, ref_grad)
            assert_agree(hess, ref_hess, scale=curvature if hessian == "exact" else None)
            loss = gbfocal.binary_focal_loss(y, z, **kwargs)
            assert_agree(loss, numpy_path(gbfocal.binary_focal_loss, y, z, **kwargs))


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("n_classes", [2, 3, 7])
@pytest.mark.parametrize("hessian", ["positive", "exact"])
def test_multiclass_grad_hess_matches_numpy(gamma, n_classes, hessian, numpy_path):
    rng = np.random.default_rng(n_classes * 100 + int(gamma * 10))
    n = 600
    z = multiclass_scores(rng, n, n_classes)
    y = rng.integers(0, n_classes, n)
    y[:n_classes] = np.arange(n_classes)
    weight = rng.uniform(0.0, 3.0, n)
    weight[::13] = 0.0
    vector = rng.uniform(0.1, 2.0, n_classes)
    for alpha, sample_weight in ((None, None), (vector, None), ("balanced", weight)):
        kwargs = {"alpha": alpha, "gamma": gamma, "sample_weight": sample_weight}
        grad, hess = gbfocal.multiclass_focal_grad_hess(y, z, hessian=hessian, **kwargs)
        ref_grad, ref_hess = numpy_path(
            gbfocal.multiclass_focal_grad_hess, y, z, hessian=hessian, **kwargs
        )
        _, curvature = numpy_path(gbfocal.multiclass_focal_grad_hess, y, z, **kwargs)
        assert grad.flags.c_contiguous and hess.flags.c_contiguous
        assert_agree(grad, ref_grad)
        assert_agree(hess, ref_hess, scale=curvature if hessian == "exact" else None)
        loss = gbfocal.multiclass_focal_loss(y, z, **kwargs)
        assert_agree(loss, numpy_path(gbfocal.multiclass_focal_loss, y, z, **kwargs))


def test_kernels_accept_any_layout_and_dtype(numpy_path):
    """Strided, Fortran-ordered and float32 inputs, bool labels: same numbers."""
    rng = np.random.default_rng(7)
    z = rng.normal(0.0, 4.0, 4000)
    y = rng.random(4000) < 0.4
    weight = rng.uniform(0.5, 2.0, 4000)[::2]
    for raw in (z[::2], z[::2].astype(np.float32)):
        got = gbfocal.binary_focal_grad_hess(y[::2], raw, gamma=1.5, sample_weight=weight)
        want = numpy_path(gbfocal.binary_focal_grad_hess, y[::2], raw, gamma=1.5,
                          sample_weight=weight)
        for a, b in zip(got, want, strict=True):
            assert_agree(a, b)
    zm = np.asfortranarray(rng.normal(0.0, 4.0, (500, 5)))
    ym = rng.integers(0, 5, 500).astype(np.float32)
    got = gbfocal.multiclass_focal_grad_hess(ym, zm)
    want = numpy_path(gbfocal.multiclass_focal_grad_hess, ym, zm)
    for a, b in zip(got, want, strict=True):
        assert a.flags.c_contiguous
        assert_agree(a, b)


def test_gamma_zero_is_log_loss():
    """Closed form, independent of both implementations: p - y and p (1 - p).

    ``1 - p`` is computed as the other classes' mass (no cancellation).
    """
    z = np.linspace(-30.0, 30.0, 121)
    y = (np.arange(121) % 2).astype(float)
    p, q = 1.0 / (1.0 + np.exp(-z)), 1.0 / (1.0 + np.exp(z))
    grad, hess = gbfocal.binary_focal_grad_hess(y, z, gamma=0.0)
    np.testing.assert_allclose(grad, np.where(y == 1, -q, p), rtol=1e-12, atol=0)
    np.testing.assert_allclose(hess, p * q, rtol=1e-12, atol=0)
    zm = np.stack([z, -z / 3.0, np.zeros_like(z)], axis=1)
    ym = np.arange(121) % 3
    e = np.exp(zm - zm.max(axis=1, keepdims=True))
    total = e.sum(axis=1, keepdims=True)
    pm, qm = e / total, (e @ (1.0 - np.eye(3))) / total  # others summed directly
    grad, hess = gbfocal.multiclass_focal_grad_hess(ym, zm, gamma=0.0)
    onehot = np.eye(3, dtype=bool)[ym]
    np.testing.assert_allclose(grad, np.where(onehot, -qm, pm), rtol=1e-12, atol=0)
    np.testing.assert_allclose(hess, pm * qm, rtol=1e-12, atol=0)


@pytest.mark.parametrize("n_classes", [2, 7, 300])
def test_multiclass_layouts_give_the_same_bits(n_classes):
    """Column-major margins (LightGBM's) are read as they are, and column-major outputs
    written directly (no C-ordered copies): the layout changes only the order values are
    copied in, so every result equals the row-major one bit for bit (weights, class
    weights, both Hessians, several blocks). The layouts used: LightGBM's margins into
    float32 column-major buffers (round_grad_hess) and into new float64 row-major arrays
    (the public functions, a metric); each is compiled once, so no more are tested."""
    rng = np.random.default_rng(n_classes)
    n = 700  # blocks of 256 and a shorter last one
    z = multiclass_scores(rng, n, n_classes)
    zf = np.asfortranarray(z)
    assert not zf.flags.c_contiguous
    y = rng.integers(0, n_classes, n).astype(np.intp)
    weight = rng.uniform(0.0, 3.0, n)
    alpha = rng.uniform(0.1, 2.0, n_classes)
    for positive in (True, False):
        for a, w in ((None, None), (alpha, weight)):
            for dtype, order in ((np.float32, "F"), (np.float64, "C")):
                want = [np.empty((n, n_classes), dtype) for _ in range(2)]
                _kernels.multiclass_grad_hess(y, z, a, w, 2.5, positive, *want)
                got = [np.empty((n, n_classes), dtype, order=order) for _ in range(2)]
                _kernels.multiclass_grad_hess(y, zf, a, w, 2.5, positive, *got)
                for g, v in zip(got, want, strict=True):
                    np.testing.assert_array_equal(g, v)
    loss_c, loss_f = np.empty(n), np.empty(n)
    _kernels.multiclass_loss(y, z, alpha, weight, 2.5, loss_c)
    _kernels.multiclass_loss(y, zf, alpha, weight, 2.5, loss_f)
    np.testing.assert_array_equal(loss_f, loss_c)


def test_column_major_margins_are_not_copied():
    """Only a margin array in neither layout (a strided view) is copied."""
    for z in (np.zeros((50, 4)), np.asfortranarray(np.zeros((50, 4)))):
        assert _kernels._multiclass_arrays(z, None, None)[0] is z
    strided = np.zeros((50, 8))[:, ::2]
    copied = _kernels._multiclass_arrays(strided, None, None)[0]
    assert copied.flags.c_contiguous and not np.shares_memory(copied, strided)


# --------------------------------------------------------------------------- scratch
@pytest.mark.parametrize("n_rows", [0, 1, 2, 63, 255, 256, 257, 10_000])
def test_multiclass_scratch_is_sized_by_the_rows(n_rows):
    """Four (K, block) scratch arrays per call: at most 4x the margins of the call.

    Large calls keep the full block (the fast compiled loop, see _kernels._multiclass).
    """
    block = _kernels._block_rows(n_rows)
    assert 1 <= block <= max(n_rows, 1)
    assert block == _kernels._BLOCK or n_rows < _kernels._BLOCK


def _peak_growth_mb(fn):
    """``fn()`` and the growth of the process's peak resident memory during it, in MB.

    tracemalloc does not see numba's allocations; Linux resets the peak (VmHWM) on
    writing 5 to /proc/self/clear_refs. The growth is None where that is not possible.
    """

    def peak_kb():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))

    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        before = peak_kb()
    except (OSError, StopIteration):
        return fn(), None
    result = fn()
    return result, (peak_kb() - before) / 1024


def test_one_row_with_many_classes_allocates_little(numpy_path):
    """K = 200,000 classes, one row: the NumPy reference needs 16 MB, the kernel as little.

    With scratch sized by 256 rows whatever the row count, the kernel allocated and
    touched 1.6 GB (and took seconds) for this call.
    """
    k = 200_000
    rng = np.random.default_rng(3)
    y, z = np.array([k // 2]), rng.normal(0.0, 3.0, (1, k))
    gbfocal.multiclass_focal_grad_hess(np.array([1]), np.zeros((1, 3)))  # compiled first
    (grad, hess), growth = _peak_growth_mb(lambda: gbfocal.multiclass_focal_grad_hess(y, z))
    ref_grad, ref_hess = numpy_path(gbfocal.multiclass_focal_grad_hess, y, z)
    assert_agree(grad, ref_grad)
    assert_agree(hess, ref_hess)
    assert_agree(gbfocal.multiclass_focal_loss(y, z),
                 numpy_path(gbfocal.multiclass_focal_loss, y, z))
    if growth is not None:  # outputs 3.2 MB, scratch 6.4 MB
        assert growth < 200, f"peak memory grew by {growth:.0f} MB"


# --------------------------------------------------------------------------- scalar math
def _elementwise(fn):
    from numba import njit

    @njit
    def apply(values):
        out = np.empty_like(values)
        for i in range(values.shape[0]):
            out[i] = fn(values[i])
        return out

    return apply


def test_exp_matches_numpy_to_an_ulp():
    rng = np.random.default_rng(1)
    x = np.concatenate([-rng.exponential(60.0, 20_000), rng.uniform(-746.0, 0.0, 20_000),
                        rng.uniform(0.0, 709.0, 2000), -rng.exponential(1e-6, 2000),
                        [0.0, -708.39, -745.13, -745.14, -746.0, -1e4, 709.0]])
    got, want = _elementwise(_kernels._exp)(x), np.exp(x)
    normal = want >= np.finfo(np.float64).tiny
    np.testing.assert_allclose(got[normal], want[normal], rtol=3e-16, atol=0)
    np.testing.assert_allclose(got[~normal], want[~normal], rtol=0, atol=1e-323)


def test_logs_match_numpy_to_an_ulp():
    rng = np.random.default_rng(2)
    unit = np.concatenate([np.exp(-rng.exponential(40.0, 20_000)), rng.random(20_000),
                           [0.0, 1.0, 5e-324, 1e-19, np.sqrt(2.0) - 1.0]])
    np.testing.assert_allclose(_elementwise(_kernels._log1p_unit)(unit), np.log1p(unit),
                               rtol=6e-16, atol=0)
    positive = np.concatenate([10.0 ** rng.uniform(-300, 300, 20_000),
                               1.0 + rng.uniform(-1e-9, 1e-9, 2000), [1.0, 2.0, 0.5]])
    np.testing.assert_allclose(_elementwise(_kernels._log)(positive), np.log(positive),
                               rtol=6e-16, atol=0)
    wide = np.concatenate([unit, rng.uniform(0.0, 10.0, 2000),
                           10.0 ** rng.uniform(-300, 300, 2000)])
    np.testing.assert_allclose(_elementwise(_kernels._log1p)(wide), np.log1p(wide),
                               rtol=6e-16, atol=0)


# --------------------------------------------------------------------------- dispatch
def _poison(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("compiled kernel called")

    for name in ("binary_loss", "binary_grad_hess", "multiclass_loss", "multiclass_grad_hess"):
        monkeypatch.setattr(_kernels, name, fail)


def _call_all():
    y, z = np.array([0, 1, 1]), np.array([-1.0, 0.5, 3.0])
    gbfocal.binary_focal_loss(y, z)
    gbfocal.binary_focal_grad_hess(y, z)
    gbfocal.multiclass_focal_loss(y, np.stack([z, -z], axis=1))
    gbfocal.multiclass_focal_grad_hess(y, np.stack([z, -z], axis=1))


def test_kernels_are_the_default(monkeypatch):
    monkeypatch.delenv("GBFOCAL_DISABLE_NUMBA", raising=False)
    assert _backend.compiled() is _kernels
    _poison(monkeypatch)
    with pytest.raises(AssertionError, match="compiled kernel called"):
        _call_all()


@pytest.mark.parametrize("value", ["1", "true"])
def test_env_variable_forces_numpy(monkeypatch, value):
    monkeypatch.setenv("GBFOCAL_DISABLE_NUMBA", value)
    assert _backend.compiled() is None
    _poison(monkeypatch)
    _call_all()  # never touches the poisoned kernels
    monkeypatch.setenv("GBFOCAL_DISABLE_NUMBA", "0")
    assert _backend.compiled() is _kernels


def test_missing_numba_falls_back_to_numpy(monkeypatch, numpy_path):
    monkeypatch.delenv("GBFOCAL_DISABLE_NUMBA", raising=False)
    monkeypatch.setattr(_backend, "_KERNELS", None)
    monkeypatch.setitem(sys.modules, "gbfocal._kernels", None)  # import raises ImportError
    monkeypatch.delattr(gbfocal, "_kernels", raising=False)
    assert _backend.compiled() is None
    y, z = np.array([0, 1, 1, 0]), np.array([-1.0, 0.5, 3.0, 40.0])
    got = gbfocal.binary_focal_grad_hess(y, z)
    want = numpy_path(gbfocal.binary_focal_grad_hess, y, z)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_bad_input_still_rejected_on_the_compiled_path(monkeypatch):
    monkeypatch.delenv("GBFOCAL_DISABLE_NUMBA", raising=False)
    with pytest.raises(ValueError, match="raw_score must be finite"):
        gbfocal.binary_focal_grad_hess([0, 1], [0.0, np.nan])
    with pytest.raises(ValueError, match="binary labels"):
        gbfocal.binary_focal_grad_hess([0, 2], [0.0, 1.0])
    with pytest.raises(ValueError, match="class indices"):
        gbfocal.multiclass_focal_grad_hess([0, 3], np.zeros((2, 3)))
