"""What does the asymmetric focal loss cost per gradient + Hessian call, next to the focal loss?

10^6 values (10 % positives, margins ~ N(0, 3^2)), 1 thread (``gbfocal.set_num_threads(1)``):
the loss objects' ``grad_hess`` (validation included) of log loss, focal (gamma 2) and the two
asymmetric losses of ``asymmetric.py``, the latter also on the NumPy reference path
(``GBFOCAL_DISABLE_NUMBA=1``); the compiled kernels alone (``gbfocal._kernels`` on checked
arrays, other gammas too); the objectives' per-round path (labels checked once per training
set) for the binary losses and the multi-label focal loss on the same values as (10^5, 10)
labels (10 % unknown). Every call is compiled and warmed up first; then ``REPEATS`` rounds
time each call once, in the same order, so a load change on the machine hits all of them
alike. Reported: the median over the rounds and its ratio to the median of "focal g=2"
("kernel only" rows: to "kernel only: focal g=2").

Run ``python benchmarks/asymmetric_speed.py [--quick] [--out DIR]`` (under a minute;
``--quick``: 10^5 values, 5 rounds, prints only). A full run writes
``benchmarks/asymmetric_speed.json`` and ``benchmarks/asymmetric_speed.md``.
"""

from __future__ import annotations

import os
from typing import Any

import _common as common
import numpy as np

import gbfocal
from gbfocal import BinaryFocalLoss, MultiLabelFocalLoss, _kernels

REPEATS = 21
LOSSES = {
    "log loss": {"gamma": 0.0},
    "focal g=2": {"gamma": 2.0},
    "ASL g+=0 g-=4 clip=0.05": {"gamma": 0.0, "gamma_neg": 4.0, "clip": 0.05},
    "ASL g+=1 g-=2 clip=0": {"gamma": 1.0, "gamma_neg": 2.0, "clip": 0.0},
}
KERNEL_ASL = ((0.0, 4.0, 0.05), (1.0, 2.0, 0.0), (0.5, 7.3, 0.05), (2.5, 3.5, 0.0))


def power(n: int) -> str:
    return f"10^{round(np.log10(n))}"


def calls(n: int) -> dict[str, Any]:
    """The callables to time, on ``n`` values."""
    rng = np.random.default_rng(0)
    y = (rng.random(n) < 0.1).astype(np.int8)
    z = rng.normal(scale=3, size=n)
    out: dict[str, Any] = {name: (lambda k=kwargs: BinaryFocalLoss(**k).grad_hess(y, z))
                           for name, kwargs in LOSSES.items()}
    for name, kwargs in LOSSES.items():
        if "ASL" in name:
            out[f"{name}, NumPy reference"] = common.numpy_path(
                lambda k=kwargs: BinaryFocalLoss(**k).grad_hess(y, z))
    grad, hess = np.empty(n), np.empty(n)
    for gamma in (2.0, 2.5):
        out[f"kernel only: focal g={gamma:g}"] = lambda g=gamma: _kernels.binary_grad_hess(
            y, z, None, None, g, True, grad, hess)
    for gp, gn, clip in KERNEL_ASL:
        out[f"kernel only: ASL g+={gp:g} g-={gn:g} clip={clip:g}"] = (
            lambda a=(gp, gn, clip): _kernels.asymmetric_grad_hess(
                y, z, None, None, *a, True, grad, hess))
    labels = y.reshape(-1, 10).astype(float)
    labels[rng.random(labels.shape) < 0.1] = -1
    multi = MultiLabelFocalLoss(10, gamma=2.0).fit(labels)
    # the per-round path of the objectives: labels checked once per training set
    training = multi.training_set(labels, None)
    margins = z.reshape(-1, 10).astype(np.float32)
    flat = z.astype(np.float32)
    for name, loss in (("focal g=2", BinaryFocalLoss(gamma=2.0)),
                       ("ASL g+=0 g-=4 clip=0.05",
                        BinaryFocalLoss(gamma=0.0, gamma_neg=4.0, clip=0.05))):
        loss_training = loss.training_set(y.astype(float), None)
        out[f"{name}, per round (objective path)"] = (
            lambda loss=loss, t=loss_training: loss.round_grad_hess(
                loss.margins(flat, n, keep_float32=True), t))
    out[f"multi-label focal g=2, ({power(n // 10)}, 10), per round"] = (
        lambda: multi.round_grad_hess(multi.margins(margins, n // 10, keep_float32=True),
                                      training))
    return out


def markdown(data: dict[str, Any]) -> str:
    seconds, n = data["seconds"], data["n"]
    base, kernel_base = seconds["focal g=2"], seconds["kernel only: focal g=2"]
    rows = [[name, f"{s * 1e3:.1f}",
             f"{s / (kernel_base if name.startswith('kernel only') else base):.2f}x"]
            for name, s in seconds.items()]
    return "\n".join([
        "# Gradient + Hessian time of the asymmetric focal loss", "",
        f"## Gradient + Hessian time per call, {power(n)} values (ratio to the focal loss)", "",
        f"Measured {data['meta']['date']} on {common.describe(data['meta'])}, 1 thread, median "
        f"of {data['repeats']} interleaved rounds (module docstring). \"ratio\": to the median "
        "of \"focal g=2\" (the loss objects' `grad_hess`, validation included); \"kernel only\" "
        "rows call `gbfocal._kernels` on checked arrays, their ratio column is to \"kernel "
        "only: focal g=2\" (the compiled kernels agree with the NumPy reference to 1e-12, "
        "`tests/test_asym_kernels.py`).", "",
        *common.table(["loss", "ms", "ratio"], rows, "lrr"), ""])


def main() -> None:
    args = common.arguments(__doc__, "10^5 values, 5 rounds").parse_args()
    n, repeats = (100_000, 5) if args.quick else (1_000_000, REPEATS)
    os.environ.pop("GBFOCAL_DISABLE_NUMBA", None)
    meta = common.machine()
    gbfocal.set_num_threads(1)
    try:
        seconds = common.medians(calls(n), repeats, rotate=False)
    finally:
        gbfocal.set_num_threads(None)
    data = {"meta": meta, "n": n, "repeats": repeats, "seconds": seconds}
    common.publish(common.out_dir(args), "asymmetric_speed", markdown(data), data)


if __name__ == "__main__":
    main()
