"""The constant starting margin that minimises a weighted focal loss.

Boosting starts from a constant raw score; under a custom objective neither LightGBM
(``boost_from_average`` is ignored) nor XGBoost (``base_score`` is added as a margin)
computes it, so the loss objects do, from the per-class weight totals
``W_c = alpha_c * sum(sample_weight of class c)``. Inputs are checked by the caller;
totals that carry no weight at all are refused here (:func:`check_totals`), since every
margin then minimises the loss and the search would return an arbitrary bound.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import optimize

from . import _backend

__all__ = ["check_totals", "minimise_binary", "minimise_multiclass"]

# Half-width of the interval searched for the initial score: sigmoid(50) is 1 in
# float64, so a larger constant margin cannot lower the loss any further.
INIT_BOUND = 50.0


LossFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
GradFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def check_totals(totals: np.ndarray) -> None:
    """Refuse class totals that are not finite, are negative, or are all zero.

    Parameters
    ----------
    totals : ndarray of shape (n_classes,)
        ``alpha_c * sum(sample_weight of class c)``.

    Raises
    ------
    ValueError
        If no class carries weight (all ``sample_weight`` zero, or ``alpha`` zero for
        every class present): the loss is then 0 for every margin, and the search used
        to return -49.98 after NumPy's divide-by-zero warnings. Also for a NaN,
        infinite or negative total, which checked weights and alpha never give.
    """
    totals = np.asarray(totals, dtype=np.float64)
    if not np.isfinite(totals).all() or (totals < 0).any():
        raise ValueError(
            "the weighted class totals (alpha_c * sum of sample_weight over class c) must be "
            f"finite and non-negative, got {totals.tolist()}"
        )
    if not totals.sum() > 0:
        raise ValueError(
            "the weighted class totals (alpha_c * sum of sample_weight over class c) are all "
            "zero: no row carries weight (sample_weight all zero, or alpha zero for every "
            "class in y), so no starting margin minimises the loss"
        )


def minimise_binary(
    totals: np.ndarray, gamma: float, *, functions: tuple[LossFn, GradFn] | None = None
) -> float:
    """argmin_c of ``W0 FL(0, c) + W1 FL(1, c)`` for class totals ``W = totals``.

    ``functions``: ``(loss(y, z, weight), grad(y, z, weight))`` of another sigmoid loss
    (the asymmetric one); default the focal loss with ``gamma``.
    """
    check_totals(totals)
    y = np.array([0, 1], dtype=np.int8)
    scale = 1.0 / totals.sum()

    def focal_loss(yy: np.ndarray, z: np.ndarray, w: np.ndarray) -> np.ndarray:
        return _backend.loss(yy, z, None, w, gamma, binary=True)

    def focal_grad(yy: np.ndarray, z: np.ndarray, w: np.ndarray) -> np.ndarray:
        return _backend.grad_hess(yy, z, None, w, gamma, True, binary=True)[0]

    loss_fn, grad_fn = (focal_loss, focal_grad) if functions is None else functions

    def value(c: float) -> float:
        return float(loss_fn(y, np.array([c, c], dtype=np.float64), totals).sum()) * scale

    def slope(c: float) -> float:
        return float(grad_fn(y, np.array([c, c], dtype=np.float64), totals).sum()) * scale

    # A coarse grid locates the global minimum (focal loss is not convex in general),
    # then a root of the derivative inside the grid cell gives it to machine precision.
    grid = np.linspace(-INIT_BOUND, INIT_BOUND, 2001)
    values = loss_fn(
        np.repeat(y, grid.size), np.tile(grid, 2), np.repeat(totals, grid.size),
    ).reshape(2, -1).sum(axis=0)
    i = int(np.argmin(values))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    if slope(lo) < 0 < slope(hi):
        return float(optimize.brentq(slope, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps))
    result = optimize.minimize_scalar(value, bounds=(lo, hi), method="bounded",
                                      options={"xatol": 1e-12})
    return float(result.x)


def minimise_multiclass(totals: np.ndarray, gamma: float) -> np.ndarray:
    """argmin_c of ``sum_k W_k FL(k, c)``, gauge fixed by ``mean(c) = 0``."""
    check_totals(totals)
    k = totals.shape[0]
    y = np.arange(k, dtype=np.intp)
    scale = 1.0 / totals.sum()

    def value_and_grad(c: np.ndarray) -> tuple[float, np.ndarray]:
        raw = np.ascontiguousarray(np.broadcast_to(c, (k, k)), dtype=np.float64)
        loss = _backend.loss(y, raw, None, totals, gamma, binary=False).sum()
        grad, _ = _backend.grad_hess(y, raw, None, totals, gamma, True, binary=False)
        return float(loss) * scale, grad.sum(axis=0) * scale

    # Start at the log class shares: the exact answer for gamma = 0 (softmax cross-entropy).
    with np.errstate(divide="ignore"):
        start = np.clip(np.log(totals / totals.sum()), -INIT_BOUND, INIT_BOUND)
    start -= start.mean()
    result = optimize.minimize(
        value_and_grad, start, jac=True, method="L-BFGS-B",
        bounds=[(-2 * INIT_BOUND, 2 * INIT_BOUND)] * k,
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 500},
    )
    c = np.asarray(result.x, dtype=np.float64)
    return c - c.mean()
