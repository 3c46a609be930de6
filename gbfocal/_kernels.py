r"""Compiled (numba) kernels for the focal loss, its gradient and its Hessian.

The formulas are those of :mod:`gbfocal._math` (the array-generic reference, whose
docstring has the notation), fused into one pass over the rows that writes straight
into preallocated outputs and folds the row weight ``alpha[y] * sample_weight`` in.

Why the math is written out here instead of calling ``math.exp``: a call to libm
cannot be vectorised, and a scalar ``exp`` + ``log1p`` per row costs about 20 ns,
twice a whole NumPy log-loss gradient. ``_exp``, ``_log`` and ``_log1p`` below are
straight-line polynomial code (no calls, no tables) that LLVM turns into SIMD
instructions; they are accurate to about 1 ulp in the ranges the kernels use
(checked against NumPy in ``tests/test_kernels.py``). Compiled with
``fastmath=False``, so no reassociation changes the rounding of the formulas.

Each row needs one ``_exp`` and one ``_log1p`` (giving ``p``, ``q``, ``log p`` and
``log q``) and one more ``_exp`` for ``q**gamma`` unless ``gamma`` is 0, 1 or 2.

The asymmetric focal loss of :mod:`gbfocal._asymmetric` (Ridnik et al. 2021) has its
kernels here too (last section), built from the same scalar functions.

This module is imported lazily (on the first call of a public function), so that
``import gbfocal`` does not pay numba's import; ``cache=True`` keeps the compiled code
on disk, so only the very first call after installation compiles.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, TypedDict

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from ._math import MARGIN_CLIP as _MARGIN_CLIP
from ._math import TINY as _TINY
from ._parallel import run_rows


class _JitOptions(TypedDict, total=False):
    """The ``njit`` keywords used here (typed, so that mypy matches them to njit's stubs)."""

    cache: bool
    fastmath: bool
    error_model: Literal["python", "numpy"]
    nogil: bool
    inline: Literal["never", "always"]


_OPTIONS: _JitOptions = {"cache": True, "fastmath": False, "error_model": "numpy", "nogil": True}
# Helpers are plain compiled functions that LLVM inlines into the loops calling them:
# numba types and compiles each once, where inline="always" copies and re-types its IR
# into every kernel variant (a cold compile took 2-5x longer, for the same speed). Only
# helpers that return tuples, and _block_margin, are inlined by numba: as calls LLVM kept
# them out of line, and the loops stopped vectorising (binary kernel 4x slower,
# multiclass 1.3x; measured on 1e6 rows).
_INLINE: _JitOptions = {**_OPTIONS, "inline": "always"}

_LOG2E = 1.4426950408889634
# ln 2 split so that k * _LN2_HI is exact for |k| < 2**20 (fdlibm's constants).
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_SQRT2 = 1.4142135623730951
_TWO_POW_M200 = 2.0**-200


# --------------------------------------------------------------------------- bit casts
if TYPE_CHECKING:
    # The intrinsics as nopython code calls them. numba's stub types an @intrinsic as
    # callable with the definition's parameters, the typing context included, and as
    # returning Never (it raises when called from Python), so mypy would reject every
    # call below and skip the code after it as unreachable.
    def _bits_to_float(bits: np.int64) -> float: ...

    def _float_to_bits(value: float) -> np.int64: ...

else:

    @intrinsic
    def _bits_to_float(typingctx, bits):  # noqa: ARG001 - numba's intrinsic signature
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.DoubleType())

        return types.float64(types.int64), codegen

    @intrinsic
    def _float_to_bits(typingctx, value):  # noqa: ARG001
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.IntType(64))

        return types.int64(types.float64), codegen


# --------------------------------------------------------------------------- scalar math
@njit(**_OPTIONS)
def _exp(x: float) -> float:
    """``exp(x)`` for ``x <= 709``; 0 below -745.2, gradual underflow in between."""
    x = min(max(x, -746.0), 709.0)
    k = np.floor(x * _LOG2E + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO  # |r| <= ln(2)/2
    # Taylor series of exp(r) to degree 13: truncation error < 5e-18 for |r| <= ln(2)/2.
    # Terms 4..13 in Estrin's scheme (independent products, so the CPU overlaps them),
    # the four leading terms by Horner's rule, which adds the largest terms last.
    r2 = r * r
    r4 = r2 * r2
    t45 = 1.0 / 24.0 + r * (1.0 / 120.0)
    t67 = 1.0 / 720.0 + r * (1.0 / 5040.0)
    t89 = 1.0 / 40320.0 + r * (1.0 / 362880.0)
    t1011 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0)
    t1213 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0)
    tail = (t45 + r2 * t67) + r4 * ((t89 + r2 * t1011) + r4 * t1213)
    e = tail * r + 1.0 / 6.0
    e = e * r + 0.5
    e = e * r + 1.0
    e = e * r + 1.0
    # Scale by 2**k through the exponent bits; below 2**-1000 in two steps so that
    # subnormal results round once from a normal intermediate.
    ki = np.int64(k)
    small = ki < -1000
    scale = _bits_to_float((ki + (1223 if small else 1023)) << 52)
    return (e * scale) * (_TWO_POW_M200 if small else 1.0)


@njit(**_OPTIONS)
def _k_ln2_plus_2atanh(k: float, s: float) -> float:
    """``k log(2) + 2 atanh(s)`` for ``|s| < 0.1716``: the core of ``_log`` and ``_log1p_unit``."""
    s2 = s * s
    s4 = s2 * s2
    # atanh series to s**21 (truncation error < 3e-17 relative), the sum of s2**j / (2j + 3)
    # in Estrin's scheme: independent products that the CPU overlaps
    w01 = 1.0 / 3.0 + s2 * (1.0 / 5.0)
    w23 = 1.0 / 7.0 + s2 * (1.0 / 9.0)
    w45 = 1.0 / 11.0 + s2 * (1.0 / 13.0)
    w67 = 1.0 / 15.0 + s2 * (1.0 / 17.0)
    w89 = 1.0 / 19.0 + s2 * (1.0 / 21.0)
    s8 = s4 * s4
    w = (w01 + s4 * w23) + s8 * ((w45 + s4 * w67) + s8 * w89)
    two_s = 2.0 * s
    return k * _LN2_HI + ((two_s + two_s * (s2 * w)) + k * _LN2_LO)


@njit(**_OPTIONS)
def _log(x: float) -> float:
    """``log(x)`` for positive normal ``x``."""
    bits = _float_to_bits(x)
    mantissa = _bits_to_float((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)  # [1, 2)
    high = mantissa > _SQRT2
    mantissa = mantissa * 0.5 if high else mantissa  # now in (0.707, 1.414]
    k = np.float64((bits >> 52) - (1022 if high else 1023))
    f = mantissa - 1.0  # exact (Sterbenz)
    s = f / (2.0 + f)  # log(1 + f) = 2 atanh(s), |s| < 0.1716
    return _k_ln2_plus_2atanh(k, s)


@njit(**_OPTIONS)
def _log1p(x: float) -> float:
    """``log(1 + x)`` for ``x >= 0`` (Goldberg's correction of the rounded ``1 + x``)."""
    one_plus = 1.0 + x
    delta = one_plus - 1.0
    return x if delta == 0.0 else _log(one_plus) * (x / delta)


@njit(**_OPTIONS)
def _log1p_unit(e: float) -> float:
    """``log(1 + e)`` for ``0 <= e <= 1`` with a single division.

    Above ``sqrt(2) - 1`` it uses ``log1p(e) = ln 2 + log1p((e - 1) / 2)`` so that the
    atanh series always runs on ``|s| < 0.1716``; below ``2**-60`` it is ``e`` itself
    (also keeps subnormal ``e`` exact).
    """
    high = e > _SQRT2 - 1.0
    f = (e - 1.0) * 0.5 if high else e
    s = f / (2.0 + f)
    value = _k_ln2_plus_2atanh(1.0 if high else 0.0, s)
    return e if e < 8.673617379884035e-19 else value


# --------------------------------------------------------------------------- shared terms
# gamma -> the code of its power q**gamma in _target_terms: products (and one square root
# for the half-integers) instead of exp(gamma log q), which costs as much as the rest of
# a row (measured: the general path took 1.7x the gamma = 2 path)
_FOCAL_GAMMA_CODES = {0.0: 0, 1.0: 1, 2.0: 2, 3.0: 3, 4.0: 4, 0.5: 5, 1.5: 6, 2.5: 7}


def focal_gamma_code(gamma: float) -> int:
    """The ``gamma_code`` of :func:`_target_terms` for ``gamma`` (-1: the general power)."""
    return _FOCAL_GAMMA_CODES.get(float(gamma), -1)


@njit(**_INLINE)
def _target_terms(u: float, gamma: float, gamma_code: int):
    """``p, q, log p, q**gamma`` of the target margin ``u``.

    One ``_exp`` and one ``_log1p`` of ``-|u|``; ``1 - p`` is never formed by
    subtraction. ``gamma_code`` (:func:`focal_gamma_code`) picks ``q**gamma`` as products of
    ``q`` (gamma 0 to 4) or with one ``sqrt(q)`` (gamma 0.5, 1.5, 2.5), each within an ulp
    of the NumPy reference's ``exp(gamma log q)``, which -1 computes.
    """
    a = abs(u)
    e = _exp(-a)
    t = _log1p_unit(e)
    d = 1.0 / (1.0 + e)
    positive = u >= 0.0
    p = d if positive else e * d
    q = e * d if positive else d
    log_p = -t if positive else -(a + t)
    log_q = -(a + t) if positive else -t
    if gamma_code == 2:
        q_g = q * q
    elif gamma_code == 0:
        q_g = 1.0
    elif gamma_code == 1:
        q_g = q
    elif gamma_code == 3:
        q_g = q * q * q
    elif gamma_code == 4:
        q2 = q * q
        q_g = q2 * q2
    elif gamma_code == 5:
        q_g = math.sqrt(q)
    elif gamma_code == 6:
        q_g = q * math.sqrt(q)
    elif gamma_code == 7:
        q_g = q * q * math.sqrt(q)
    else:
        q_g = _exp(gamma * log_q)
    return p, q, log_p, q_g


@njit(**_INLINE)
def _target_grad_hess(p: float, q: float, log_p: float, q_g: float, gamma: float, positive: bool):
    """dFL/du and d2FL/du2 (unweighted); the Hessian floored by the positive rule."""
    grad = q_g * (gamma * p * log_p - q)
    hess = p * q_g * ((2.0 * gamma + 1.0) * q + gamma * log_p * (q - gamma * p))
    if positive:
        hess = max(max(hess, q_g * p * q), _TINY)
    return grad, hess


# --------------------------------------------------------------------------- binary
@njit(**_OPTIONS)
def _binary_rows(lo, hi, y, z, a0, a1, sw, has_sw, gamma, gamma_code, positive, grad, hess,
                 loss_only):
    """Rows ``lo:hi``; constant flags make LLVM emit one branch-free SIMD loop each."""
    # Slices, then indices from 0: with ``range(lo, hi)`` LLVM cannot rule out negative
    # indices (which numba wraps around) and the loop stops vectorising (4x slower).
    y, z, sw, grad, hess = y[lo:hi], z[lo:hi], sw[lo:hi], grad[lo:hi], hess[lo:hi]
    for i in range(z.shape[0]):
        label = y[i] != 0
        u = z[i] if label else -z[i]
        u = u if loss_only else min(max(u, -_MARGIN_CLIP), _MARGIN_CLIP)  # see gbfocal._math
        p, q, log_p, q_g = _target_terms(u, gamma, gamma_code)
        w = a1 if label else a0
        if has_sw:
            w = w * sw[i]
        if loss_only:
            grad[i] = -(q_g * log_p) * w
        else:
            g_u, h = _target_grad_hess(p, q, log_p, q_g, gamma, positive)
            grad[i] = (g_u if label else -g_u) * w
            # floored again after the weight (see gbfocal._math.weighted)
            hess[i] = max(h * w, _TINY) if positive and w > 0.0 else h * w


@functools.cache
def _binary_kernel(loss_only: bool, gamma_code: int) -> Callable[..., None]:
    """The compiled loop of one variant, built on first use (and cached on disk).

    Each calls :func:`_binary_rows` (compiled once) with literal flags (closure constants,
    part of numba's cache key); LLVM inlines the call, and with the flags constant turns it
    into a single branch-free SIMD loop (a function holding several variants behind
    branches does not vectorise): loss or derivatives, and the power's ``gamma_code``.
    Whether there are weights is an argument, a loop-invariant flag that LLVM unswitches.
    """
    if loss_only:

        def loss(lo: int, hi: int, y: np.ndarray, z: np.ndarray, a0: float, a1: float,
                 sw: np.ndarray, has_sw: bool, gamma: float, out: np.ndarray) -> None:
            _binary_rows(lo, hi, y, z, a0, a1, sw, has_sw, gamma, gamma_code, False, out, out,
                         True)

        return njit(**_OPTIONS)(loss)

    def grad_hess(lo: int, hi: int, y: np.ndarray, z: np.ndarray, a0: float, a1: float,
                  sw: np.ndarray, has_sw: bool, gamma: float, positive: bool,
                  grad: np.ndarray, hess: np.ndarray) -> None:
        _binary_rows(lo, hi, y, z, a0, a1, sw, has_sw, gamma, gamma_code, positive, grad, hess,
                     False)

    return njit(**_OPTIONS)(grad_hess)


def _contiguous(z: np.ndarray, sample_weight: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """C-contiguous inputs (one compiled specialisation); ``z`` stands in for no weights."""
    z = np.ascontiguousarray(z)
    return z, z if sample_weight is None else np.ascontiguousarray(sample_weight)


def _class_weights(alpha: np.ndarray | None) -> tuple[float, float]:
    return (1.0, 1.0) if alpha is None else (float(alpha[0]), float(alpha[1]))


def binary_loss(y, z, alpha, sample_weight, gamma, out):
    """Weighted binary focal loss per row into ``out``; None means "not given"."""
    a0, a1 = _class_weights(alpha)
    z, sw = _contiguous(z, sample_weight)
    run_rows(_binary_kernel(True, focal_gamma_code(gamma)), z.shape[0], 1, y, z, a0, a1, sw,
             sample_weight is not None, gamma, out)


def binary_grad_hess(y, z, alpha, sample_weight, gamma, positive, grad, hess):
    """Weighted gradient and Hessian of the binary focal loss w.r.t. ``z`` into the outputs."""
    a0, a1 = _class_weights(alpha)
    z, sw = _contiguous(z, sample_weight)
    run_rows(_binary_kernel(False, focal_gamma_code(gamma)), z.shape[0], 1, y, z, a0, a1, sw,
             sample_weight is not None, gamma, positive, grad, hess)


# --------------------------------------------------------------------------- multiclass
_BLOCK = 256  # rows per block: the (K, _BLOCK) scratch stays in L1/L2


def _block_rows(n_rows: int) -> int:
    """Rows per block for a call on ``n_rows`` rows: ``_BLOCK``, or ``n_rows`` if fewer.

    The scratch is four ``(K, block)`` arrays, allocated per call: sized by ``_BLOCK``
    alone, one row with K = 200,000 classes took 1.6 GB and seconds to allocate and
    fault in. With the block cut to the rows the scratch is at most four times the
    margins the call works on (plus 14 numbers per block row). Every row is computed
    on its own, so the block size never changes a result.
    """
    return max(1, min(_BLOCK, n_rows))


@njit(**_INLINE)
def _block_margin(lo, b, y, z, zt, ex, m, top, rest, u):
    """Target margins of rows ``lo:lo+b`` and their softmax pieces, class-major.

    ``zt`` is the block transposed (so every loop below is unit-stride over rows and
    vectorises); ``ex[k, j] = exp(z_k - m_j)`` over the non-target classes, with ``m_j``
    the largest non-target score (class ``top_j``, ``ex = 1`` there, 0 at the target);
    ``rest_j`` sums ``ex`` without the target and the top class, so that
    ``total = 1 + rest``, ``r_k = ex_k / total`` and ``1 - r_top = rest / total``.
    """
    # Each loop writes one array and reads few: more would exceed the number of
    # run-time aliasing checks LLVM is willing to emit, and it would not vectorise.
    n_classes = z.shape[1]
    if z.strides[0] == z.itemsize:  # column-major (LightGBM's layout): unit stride over rows
        for k in range(n_classes):
            for j in range(b):
                zt[k, j] = z[lo + j, k]
    else:
        for j in range(b):
            for k in range(n_classes):
                zt[k, j] = z[lo + j, k]
    for j in range(b):
        m[j] = -np.inf
    for k in range(n_classes):
        for j in range(b):
            m[j] = zt[k, j] if (k != y[lo + j]) & (zt[k, j] > m[j]) else m[j]
    for j in range(b):
        top[j] = -1
    for k in range(n_classes - 1, -1, -1):  # the first column holding the maximum
        for j in range(b):
            top[j] = k if (k != y[lo + j]) & (zt[k, j] == m[j]) else top[j]
    for k in range(n_classes):
        for j in range(b):
            value = _exp(zt[k, j] - m[j])
            ex[k, j] = 0.0 if k == y[lo + j] else (1.0 if k == top[j] else value)
    for j in range(b):
        rest[j] = 0.0
    for k in range(n_classes):
        for j in range(b):
            rest[j] += 0.0 if k == top[j] else ex[k, j]
    for j in range(b):
        u[j] = z[lo + j, y[lo + j]] - (m[j] + _log1p(rest[j]))


@njit(**_OPTIONS)
def _multiclass_rows(lo, hi, block, y, z, alpha, sw, gamma, gamma_code, positive, grad, hess,
                     loss_only):
    """Rows ``lo:hi`` in blocks of ``block`` rows (see _block_rows)."""
    n_classes = z.shape[1]
    zt = np.empty((n_classes, block))
    ex = np.empty((n_classes, block))
    gt = np.empty((n_classes, block))
    ht = np.empty((n_classes, block))
    m = np.empty(block)
    top = np.empty(block, dtype=np.int64)
    rest = np.empty(block)
    u = np.empty(block)
    row = np.empty((10, block))  # per row: p, q, q^g, weight, pull, curl, 1/total, g_y, h_y
    has_alpha = alpha.shape[0] > 0
    has_sw = sw.shape[0] > 0
    # Row indices from 0 (see _binary_rows); an empty ``sw`` stays empty.
    y, z, grad, hess = y[lo:hi], z[lo:hi], grad[lo:hi], hess[lo:hi]
    sw = sw[lo:hi] if has_sw else sw
    n_rows = z.shape[0]
    for start in range(0, n_rows, block):
        b = min(block, n_rows - start)
        _block_margin(start, b, y, z, zt, ex, m, top, rest, u)
        # Weights and terms in separate loops without conditional stores, so that the
        # transcendental-heavy one vectorises.
        for j in range(b):
            row[3, j] = alpha[y[start + j]] if has_alpha else 1.0
        if has_sw:
            for j in range(b):
                row[3, j] *= sw[start + j]
        if loss_only:
            for j in range(b):
                p, q, log_p, q_g = _target_terms(u[j], gamma, gamma_code)
                row[0, j] = -(q_g * log_p)
            for j in range(b):
                grad[start + j, 0] = row[0, j] * row[3, j]
            continue
        for j in range(b):
            u_j = min(max(u[j], -_MARGIN_CLIP), _MARGIN_CLIP)  # see gbfocal._math.MARGIN_CLIP
            p, q, log_p, q_g = _target_terms(u_j, gamma, gamma_code)
            g_y, h_y = _target_grad_hess(p, q, log_p, q_g, gamma, positive)
            row[0, j] = p
            row[1, j] = q
            row[2, j] = q_g
            row[4, j] = q - gamma * p * log_p  # "pull" >= 0
            row[5, j] = gamma * p * (2.0 * q + log_p * (q - (gamma - 1.0) * p))
            row[6, j] = 1.0 / (1.0 + rest[j])
            row[7, j] = g_y
            row[8, j] = h_y
        floor = _TINY if positive else -np.inf
        for k in range(n_classes):
            for j in range(b):
                p, q, q_g, w = row[0, j], row[1, j], row[2, j], row[3, j]
                pull, curl, inv_total = row[4, j], row[5, j], row[6, j]
                r = ex[k, j] * inv_total
                # 1 - r_k: r_k <= 1/2 except for the dominant non-target class, whose
                # complement is the softmax mass of the remaining classes.
                one_minus_r = rest[j] * inv_total if k == top[j] else 1.0 - r
                one_minus_p = p + q * one_minus_r  # 1 - p_k without cancellation
                g_k = q_g * r * pull
                h_k = q_g * (curl * r * r + r * one_minus_p * pull)
                # positive rule as a branch-free max; floor = -inf leaves h_k exact
                curvature = q_g * (q * r) * one_minus_p if positive else -np.inf
                h_k = max(max(h_k, curvature), floor)
                target = k == y[start + j]
                gt[k, j] = (row[7, j] if target else g_k) * w
                h_w = (row[8, j] if target else h_k) * w
                ht[k, j] = max(h_w, floor) if w > 0.0 else h_w  # see gbfocal._math.weighted
        if grad.strides[0] == grad.itemsize:  # column-major outputs (see _block_margin)
            for k in range(n_classes):
                for j in range(b):
                    grad[start + j, k] = gt[k, j]
                    hess[start + j, k] = ht[k, j]
        else:
            for j in range(b):
                for k in range(n_classes):
                    grad[start + j, k] = gt[k, j]
                    hess[start + j, k] = ht[k, j]


# With the block a compile-time constant the loops run 10-25% faster than with a block
# known only at run time (measured for K = 10 to 1000): _multiclass_full, where LLVM inlines
# _multiclass_rows and the block becomes the constant again, serves every call of _BLOCK
# rows or more; shorter row ranges, cheap anyway, call _multiclass_rows itself (no third
# optimised copy of the loop to compile per array signature: 1.2 s less on a cold cache).
# _multiclass_rows is not inlined by numba (inline="always" copies its IR into each entry
# point: a cold compile took 18 s instead of 11 s; same speed, measured for K = 7 to 1000).
@njit(**_OPTIONS)
def _multiclass_full(lo, hi, y, z, alpha, sw, gamma, gamma_code, positive, grad, hess,
                     loss_only):
    _multiclass_rows(lo, hi, _BLOCK, y, z, alpha, sw, gamma, gamma_code, positive, grad, hess,
                     loss_only)


def _multiclass(lo: int, hi: int, *args: object) -> None:
    """Rows ``lo:hi`` of the multiclass kernel, with scratch sized by _block_rows."""
    block = _block_rows(hi - lo)
    if block == _BLOCK:
        _multiclass_full(lo, hi, *args)
    else:
        _multiclass_rows(lo, hi, block, *args)


_EMPTY = np.empty(0)


def _multiclass_arrays(z, alpha, sample_weight):
    """Contiguous inputs; an empty array stands for "not given".

    Column-major margins (LightGBM's ``(n, K)`` view of its flat score buffer) are read
    as they are: a C-ordered copy would cost 8 bytes per row and class every round.
    """
    alpha = _EMPTY if alpha is None else np.ascontiguousarray(alpha)
    sw = _EMPTY if sample_weight is None else np.ascontiguousarray(sample_weight)
    if not (z.flags.c_contiguous or z.flags.f_contiguous):
        z = np.ascontiguousarray(z)
    return z, alpha, sw


def multiclass_loss(y, z, alpha, sample_weight, gamma, out):
    """Weighted softmax focal loss per row into ``out`` (shape (n,))."""
    z, alpha, sw = _multiclass_arrays(z, alpha, sample_weight)
    column = out.reshape(-1, 1)
    run_rows(_multiclass, z.shape[0], z.shape[1], y, z, alpha, sw, gamma, -1, False, column,
             column, True)


def multiclass_grad_hess(y, z, alpha, sample_weight, gamma, positive, grad, hess):
    """Weighted gradient and diagonal Hessian of the softmax focal loss, (n, K).

    ``z``, ``grad`` and ``hess`` may each be row- or column-major: the layout changes the
    order values are copied in, never a result.
    """
    z, alpha, sw = _multiclass_arrays(z, alpha, sample_weight)
    gamma_code = focal_gamma_code(gamma)
    run_rows(_multiclass, z.shape[0], z.shape[1], y, z, alpha, sw, gamma, gamma_code, positive,
             grad, hess, False)


# --------------------------------------------------------------------------- asymmetric
# The asymmetric focal loss of gbfocal._asymmetric (whose docstring has the notation and
# the derivation): positives are the binary focal loss with gamma_pos, negatives use the
# shifted probability m = max(p - clip, 0) with gamma_neg. The formulas are the
# reference's, term for term; where the reference spends a transcendental only to stay
# general over ``xp`` the kernel does the cheaper exact thing:
#
# * ``log w = log1p(-m)`` (m <= 1/2) without libm and without a division (_log_w);
# * ``rho = q / w`` is a division where ``clip >= _TINY_CLIP``. The reference's
#   ``exp(log q - log w)`` is needed for clip = 0, where ``1 / w`` overflows (its own
#   variant here: rho = 1), and for a tiny clip: there ``q`` may underflow (z > 708) while
#   ``q / clip`` is far above 1e-300, and the division would lose it (a third variant, which
#   uses the reference's form);
# * ``1 - 2p`` is ``q - p``: its absolute error (eps) is below the rounding of the terms it
#   is summed with, so the reference's ``tanh(z / 2)`` buys nothing;
# * ``q**gamma_pos`` and ``m**gamma_neg`` are products for gamma in {0, 1, 2, 4} (Ridnik et
#   al.'s default is gamma_pos = 0, gamma_neg = 4), else ``exp(gamma log x)`` as in the
#   reference.
#
# The kink is the reference's: ``active = p - clip > 0`` on the kernel's own ``p``, and
# inactive rows get loss, gradient and exact Hessian 0 (the positive Hessian: ``tiny``).
_TWO_POW_200 = 2.0**200
# Below this clip the lost part of an underflowed q, over clip (< 2.5e-324 / clip), could
# exceed 1e-300 in q / w: rho comes from the logs instead.
_TINY_CLIP = 1e-20
_LOG_TWO_POW_200 = 200.0 * 0.6931471805599453  # 200 ln 2, correctly rounded


@njit(**_OPTIONS)
def _log_any(x: float) -> float:
    """``log(x)`` for any positive ``x``, subnormal included (``_log`` needs normal ``x``).

    ``m = p - clip`` can be subnormal (``p`` and a tiny ``clip`` a few ulps apart), and so
    can ``q + clip`` for a subnormal ``clip``.
    """
    small = x < _TINY
    value = _log(x * _TWO_POW_200 if small else x)
    return value - _LOG_TWO_POW_200 if small else value


@njit(**_OPTIONS)
def _log_w(m: float, w: float) -> float:
    """``log w`` for ``w = 1 - m`` given as the sum ``w = q + clip``, ``0 < m < 1``.

    ``log1p(-m)`` for ``m <= 1/2`` (so that ``log(w) / m`` is accurate for small ``m``) and
    ``log(w)`` above, as the reference, with one ``_log``: ``1 - m = x + err`` exactly
    (Fast2Sum, ``m <= 1``) and ``log(x + err) = log(x) + err / x``, with ``1 / x`` as
    ``2 - x`` (relative error ``m**2``: below 1e-16 of the result).
    """
    near = m <= 0.5
    x = 1.0 - m if near else w
    err = (1.0 - x) - m
    log_x = _log_any(x)
    return log_x + err * (2.0 - x) if near else log_x


@njit(**_OPTIONS)
def _power(x: float, log_x: float, gamma: float, code: int) -> float:
    """``x**gamma`` from ``x`` and ``log x``; ``code`` (a compile-time constant) is
    ``gamma`` for gamma in {0, 1, 2, 4} (products, no ``_exp``), else -1."""
    if code == 0:
        return 1.0
    if code == 1:
        return x
    if code == 2:
        return x * x
    if code == 4:
        x2 = x * x
        return x2 * x2
    return _exp(gamma * log_x)


def _gamma_code(gamma: float) -> int:
    """The ``code`` of :func:`_power` for ``gamma``."""
    return int(gamma) if gamma in (0.0, 1.0, 2.0, 4.0) else -1


def _clip_mode(clip: float) -> int:
    """The ``clip_mode`` of :func:`_asymmetric_rows`."""
    return 0 if clip == 0.0 else (1 if clip >= _TINY_CLIP else 2)


@njit(**_OPTIONS)
def _asymmetric_rows(
    lo: int, hi: int, y: np.ndarray, z: np.ndarray, a0: float, a1: float, sw: np.ndarray,
    has_sw: bool, gamma_pos: float, pos_code: int, gamma_neg: float, neg_code: int,
    clip: float, clip_mode: int, positive: bool, grad: np.ndarray, hess: np.ndarray,
    loss_only: bool,
) -> None:
    """Rows ``lo:hi``; constant flags and codes make LLVM emit one branch-free SIMD loop.

    ``clip_mode``: 0 for clip = 0, 1 for ``clip >= _TINY_CLIP``, 2 below (see above).
    """
    # Both classes' terms are computed on every row and selected (no branches in the loop).
    y, z, sw, grad, hess = y[lo:hi], z[lo:hi], sw[lo:hi], grad[lo:hi], hess[lo:hi]
    for i in range(z.shape[0]):
        label = y[i] != 0
        zi = float(z[i])
        zi = zi if loss_only else min(max(zi, -_MARGIN_CLIP), _MARGIN_CLIP)  # see _math
        # p, q, log p, log q from one _exp and one _log1p_unit of -|z| (as _target_terms)
        a = abs(zi)
        e = _exp(-a)
        t = _log1p_unit(e)
        d = 1.0 / (1.0 + e)
        up = zi >= 0.0
        p = d if up else e * d
        q = e * d if up else d
        log_p = -t if up else -(a + t)
        log_q = -(a + t) if up else -t
        if clip_mode == 0:  # m = p, w = q: rho = 1, r = p q / m = q, s = q
            active = p > 0.0
            m, log_m, log_w, r, rho, s = p, log_p, log_q, q, 1.0, q
        else:
            m = p - clip  # the inherent cancellation (relative error eps p / m at the kink)
            active = m > 0.0
            m = m if active else 0.5  # finite placeholder, masked below (as the reference)
            log_w = _log_w(m, q + clip)
            log_m = _log_any(m) if neg_code == -1 else 0.0  # only m**gamma_neg needs it
            if clip_mode == 1:
                inv_w = 1.0 / (q + clip)  # <= 1e20
                rho, clip_w = q * inv_w, clip * inv_w
            else:  # as the reference: 1 / w overflows for a subnormal clip
                rho, clip_w = _exp(log_q - log_w), clip / (q + clip)
            r = p * q / m
            s = q - p * clip_w
        if pos_code == -1 and neg_code == -1:
            # one _exp: a row needs q**gamma_pos (positives) or m**gamma_neg (negatives)
            q_g = m_g = _exp(gamma_pos * log_q if label else gamma_neg * log_m)
        else:
            q_g = _power(q, log_q, gamma_pos, pos_code)
            m_g = _power(m, log_m, gamma_neg, neg_code)
        w = a1 if label else a0
        if has_sw:
            w = w * sw[i]
        if loss_only:
            loss_neg = -(m_g * log_w) if active else 0.0
            grad[i] = (-(q_g * log_p) if label else loss_neg) * w
            continue
        g = gamma_pos
        grad_pos = q_g * (g * p * log_p - q)
        hess_pos = p * q_g * ((2.0 * g + 1.0) * q + g * log_p * (q - g * p))
        g = gamma_neg
        k = -log_w * r
        pull = p * rho + g * k
        hess_neg = m_g * (p * rho * s + g * ((q - p) * k + r * (2.0 * p * rho + (g - 1.0) * k)))
        g_row = grad_pos if label else (m_g * pull if active else 0.0)
        h_row = hess_pos if label else (hess_neg if active else 0.0)
        if positive:
            curvature = (q_g if label else (m_g if active else 0.0)) * (p * q)
            h_row = max(max(h_row, curvature), _TINY)
        grad[i] = g_row * w
        # floored again after the weight (see gbfocal._math.weighted)
        hess[i] = max(h_row * w, _TINY) if positive and w > 0.0 else h_row * w


@functools.cache
def _asymmetric_kernel(
    loss_only: bool, clip_mode: int, pos_code: int, neg_code: int
) -> Callable[..., None]:
    """The compiled loop of one variant, built on first use.

    As for the binary kernels, each variant calls :func:`_asymmetric_rows` (compiled once,
    inlined by LLVM) with literal flags (closure constants, part of numba's cache key, so
    ``cache=True`` keeps every variant on disk): 2 x 3 x 5 x 5 = 150 of them (loss or
    derivatives, clip mode, two gamma codes), each compiled on first use (about 1 s).
    Whether there are weights is an argument instead: a loop-invariant flag that LLVM
    unswitches (measured: the same time as a compiled-in flag, within 3 %), which halves
    the variants to compile.
    """
    if loss_only:

        def loss(lo: int, hi: int, y: np.ndarray, z: np.ndarray, a0: float, a1: float,
                 sw: np.ndarray, has_sw: bool, gamma_pos: float, gamma_neg: float,
                 clip: float, out: np.ndarray) -> None:
            _asymmetric_rows(lo, hi, y, z, a0, a1, sw, has_sw, gamma_pos, pos_code, gamma_neg,
                             neg_code, clip, clip_mode, False, out, out, True)

        return njit(**_OPTIONS)(loss)

    def grad_hess(lo: int, hi: int, y: np.ndarray, z: np.ndarray, a0: float, a1: float,
                  sw: np.ndarray, has_sw: bool, gamma_pos: float, gamma_neg: float, clip: float,
                  positive: bool, grad: np.ndarray, hess: np.ndarray) -> None:
        _asymmetric_rows(lo, hi, y, z, a0, a1, sw, has_sw, gamma_pos, pos_code, gamma_neg,
                         neg_code, clip, clip_mode, positive, grad, hess, False)

    return njit(**_OPTIONS)(grad_hess)


def asymmetric_loss(
    y: np.ndarray, z: np.ndarray, alpha: np.ndarray | None, sample_weight: np.ndarray | None,
    gamma_pos: float, gamma_neg: float, clip: float, out: np.ndarray,
) -> None:
    """Weighted asymmetric focal loss per row into ``out`` (see gbfocal._asymmetric)."""
    a0, a1 = _class_weights(alpha)
    z, sw = _contiguous(z, sample_weight)
    kernel = _asymmetric_kernel(True, _clip_mode(clip), _gamma_code(gamma_pos),
                                _gamma_code(gamma_neg))
    run_rows(kernel, z.shape[0], 1, y, z, a0, a1, sw, sample_weight is not None,
             float(gamma_pos), float(gamma_neg), float(clip), out)


def asymmetric_grad_hess(
    y: np.ndarray, z: np.ndarray, alpha: np.ndarray | None, sample_weight: np.ndarray | None,
    gamma_pos: float, gamma_neg: float, clip: float, positive: bool, grad: np.ndarray,
    hess: np.ndarray,
) -> None:
    """Weighted gradient and Hessian of the asymmetric focal loss w.r.t. ``z`` into the
    outputs (float64 or float32, rounded once); ``positive`` as in gbfocal._asymmetric."""
    a0, a1 = _class_weights(alpha)
    z, sw = _contiguous(z, sample_weight)
    kernel = _asymmetric_kernel(False, _clip_mode(clip), _gamma_code(gamma_pos),
                                _gamma_code(gamma_neg))
    run_rows(kernel, z.shape[0], 1, y, z, a0, a1, sw, sample_weight is not None,
             float(gamma_pos), float(gamma_neg), float(clip), bool(positive), grad, hess)


# --------------------------------------------------------------------------- ranking
@njit(**_OPTIONS)
def _ranking_areas(order, score, positive, weights, ap, auc):
    for b in range(weights.shape[0]):
        tp = fp = tp_cut = fp_cut = 0.0
        precision_sum = area = 0.0
        for j in range(order.shape[0] - 1, -1, -1):  # from the highest score down
            row = order[j]
            if positive[row]:
                tp += weights[b, row]
            else:
                fp += weights[b, row]
            # the lowest row of a run of equal scores closes that cut
            if j == 0 or score[order[j - 1]] != score[row]:
                if tp + fp > 0.0:
                    precision_sum += (tp - tp_cut) * (tp / (tp + fp))
                area += (fp - fp_cut) * (tp + tp_cut)
                tp_cut, fp_cut = tp, fp
        ap[b] = precision_sum / tp
        auc[b] = area / (2.0 * tp * fp)


def ranking_areas(order: np.ndarray, score: np.ndarray, positive: np.ndarray,
                  weights: np.ndarray, ap: np.ndarray, auc: np.ndarray) -> None:
    """Average precision and ROC AUC of ``score`` under each row of ``weights`` (B, n).

    The sums of :mod:`gbfocal._ranking` (its docstring has the definitions) in one pass
    over the rows in ``order``, an ascending ``argsort`` of ``score`` (any order among
    tied scores: a run of them is one cut), into ``ap`` and ``auc`` (B,). NumPy's own
    cumulative sums and cut indexing allocate a dozen arrays per call, which is most
    of the metric's time on a validation set of a few thousand rows, every boosting round.
    """
    _ranking_areas(order, np.ascontiguousarray(score), positive, weights, ap, auc)
