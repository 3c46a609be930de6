"""Peak memory of a fit with many classes: gbfocal's estimators against the libraries' own.

Run ``python benchmarks/many_classes.py`` (about 20 minutes on 2 cores; ``--quick``: K 50 and
200, 5,000 rows, one run each, about a minute, prints only; ``--classes 5000 --rows 20000
--library lightgbm``: other sizes, prints only). Only the full run writes
``benchmarks/many_classes.json`` (which the documentation's performance page is rendered
from) and ``benchmarks/many_classes.md``.

Every fit runs in a fresh interpreter (``python many_classes.py --child KIND ROWS K``), which

1. imports the library and builds the data set: ``--rows`` rows (20,000 by default), 10
   features, K classes of equal size (a Gaussian blob per class, rows shuffled);
2. fits a tiny model of the same kind first (300 rows, 3 classes: numba's kernels loaded
   from their cache, the library's first-call set-up), then collects garbage;
3. reads its resident memory (``VmRSS`` of ``/proc/self/status``), the *baseline*, and
   resets the peak (writing 5 to ``/proc/self/clear_refs`` sets ``VmHWM`` to ``VmRSS``);
4. fits the model, 5 rounds, one thread, the same booster parameters on every side
   (learning rate 0.1; LightGBM 15 leaves and ``feature_pre_filter=False`` as gbfocal
   sets it; XGBoost depth 4, ``hist``);
5. reports its peak resident memory (``VmHWM``) minus the baseline: what the fit itself
   needed, the fitted model included.

Three fits per library and K:

* *library*: ``lightgbm.LGBMClassifier(objective="multiclass")`` /
  ``xgboost.XGBClassifier(objective="multi:softprob")``, the built-in softmax;
* *floor*: what the library itself holds under *any* custom objective that starts from a
  constant initial score: ``lgb.train`` / ``xgb.train`` with an objective that does no work
  (it returns the same preallocated float32 gradient and Hessian every round, in the layout
  the library reads without a copy), LightGBM's initial score in the Dataset (its Python
  copy dropped), XGBoost's as one ``base_score`` vector;
* *gbfocal*: ``FocalLGBMClassifier`` / ``FocalXGBClassifier`` (default focal loss).

Reported: medians of ``--repeats`` runs (3; the order rotates), the ratios gbfocal /
library, floor / library and gbfocal / floor, and the bytes per row and class (n K).
Everything that grows with K is an ``(n, K)`` array. The built-in LightGBM objective needs
the scores (float64, 8 bytes per row and class) and its gradient pair (float32, 8); a custom
objective adds the float64 copy of the scores that ``lgb.train`` hands the objective (8) and
the initial score, which LightGBM stores per row and class in float64 (8). XGBoost: the
prediction cache and the gradient pair (4 + 8) with the built-in objective; a custom one adds
the float32 copy of the margins handed to it (4) and the gradient pair it returns, which
XGBoost copies (8). So the floor is about 1.6x (LightGBM) and 1.5x (XGBoost) of the
library's memory, whatever the objective computes, and gbfocal's ratio to the floor is what
gbfocal itself adds.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Literal

import _common as common

CLASSES = (100, 500, 1000, 2000)
ROWS, FEATURES, ROUNDS = 20_000, 10, 5
# per library: (the library's own estimator, the custom-objective floor, gbfocal's estimator)
KINDS = {"lightgbm": ("lgb", "lgb_floor", "focal_lgb"),
         "xgboost": ("xgb", "xgb_floor", "focal_xgb")}
SIDES = ("library", "floor", "focal")


# --------------------------------------------------------------------------- the child
def _status(field: str) -> int:
    """A ``/proc/self/status`` field in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _data(n_rows: int, n_classes: int, seed: int = 0) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n_rows) % n_classes)
    centres = rng.normal(scale=2.0, size=(n_classes, FEATURES))
    return centres[y] + rng.normal(size=(n_rows, FEATURES)), y


class _FixedGradient:
    """A custom objective that does no work: the same preallocated float32 gradient and
    Hessian every round (softmax log loss at margin 0), in the layout the library reads
    without a copy (LightGBM: column-major; XGBoost: row-major). Allocated in the first
    call, so that they count as the fit's memory, as the arrays any objective returns."""

    def __init__(self, y: Any, n_classes: int, order: Literal["C", "F"]) -> None:
        self.y, self.n_classes, self.order = y, n_classes, order
        self.pair: Any = None

    def __call__(self, preds: Any, data: Any) -> Any:
        import numpy as np

        if self.pair is None:
            shape, k = (len(self.y), self.n_classes), 1.0 / self.n_classes
            grad = np.full(shape, k, dtype=np.float32, order=self.order)
            grad[np.arange(len(self.y)), self.y] -= 1.0
            self.pair = grad, np.full(shape, k * (1.0 - k), dtype=np.float32, order=self.order)
        return self.pair


class _ForgetInitScore:
    """As gbfocal's estimator does: the Datasets' Python copy of the initial score is
    dropped once LightGBM holds it (it keeps its own in C++)."""

    before_iteration = True

    def __call__(self, env: Any) -> None:
        env.model.train_set.init_score = None


def _floor_fit(kind: str, X: Any, y: Any) -> Any:
    """What the library itself holds under a custom objective from a constant initial
    score: LightGBM: the scores (C++), the initial score (C++), the float64 copy of the
    scores ``lgb.train`` hands the objective, the gradient pair; XGBoost: the prediction
    cache, its float32 copy for the objective, the gradient pair and XGBoost's own copy of
    it (the initial score is one vector ``base_score``)."""
    import numpy as np

    n_classes = int(y.max()) + 1
    if kind == "lgb_floor":
        import lightgbm as lgb

        params = {"objective": _FixedGradient(y, n_classes, "F"), "num_class": n_classes,
                  "learning_rate": 0.1, "num_leaves": 15, "num_threads": 1, "seed": 0,
                  "verbosity": -1, "metric": "None", "feature_pre_filter": False}
        data = lgb.Dataset(X, y, init_score=np.zeros(len(y) * n_classes))
        return lgb.train(params, data, ROUNDS, callbacks=[_ForgetInitScore()])
    import xgboost as xgb

    params = {"objective": "multi:softprob", "num_class": n_classes, "learning_rate": 0.1,
              "max_depth": 4, "nthread": 1, "seed": 0, "tree_method": "hist",
              "disable_default_eval_metric": 1, "base_score": [0.0] * n_classes}
    return xgb.train(params, xgb.DMatrix(X, y, nthread=1), ROUNDS,
                     obj=_FixedGradient(y, n_classes, "C"))


def _fit(kind: str, X: Any, y: Any) -> Any:
    if kind.endswith("_floor"):
        return _floor_fit(kind, X, y)
    params: dict[str, Any] = {"n_estimators": ROUNDS, "learning_rate": 0.1, "n_jobs": 1,
                              "random_state": 0}
    if kind in ("focal_lgb", "lgb"):
        params.update(num_leaves=15, verbose=-1)
        if kind == "focal_lgb":
            from gbfocal import FocalLGBMClassifier

            return FocalLGBMClassifier(**params).fit(X, y)
        import lightgbm as lgb

        return lgb.LGBMClassifier(objective="multiclass", feature_pre_filter=False,
                                  **params).fit(X, y)
    params.update(max_depth=4, tree_method="hist")
    if kind == "focal_xgb":
        from gbfocal import FocalXGBClassifier

        return FocalXGBClassifier(**params).fit(X, y)
    import xgboost as xgb

    return xgb.XGBClassifier(objective="multi:softprob", **params).fit(X, y)


def child(kind: str, n_rows: int, n_classes: int) -> dict[str, Any]:
    """One fit in this (fresh) process: baseline and peak resident memory, seconds."""
    X, y = _data(n_rows, n_classes)
    _fit(kind, *_data(300, 3, seed=1))  # kernels and library set up before the baseline
    gc.collect()
    baseline = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # VmHWM := VmRSS
    start = time.perf_counter()
    model = _fit(kind, X, y)
    seconds = time.perf_counter() - start
    peak = _status("VmHWM")
    del model
    return {"baseline": baseline, "peak": peak, "extra": peak - baseline, "seconds": seconds}


# --------------------------------------------------------------------------- the parent
def _run_child(kind: str, n_rows: int, n_classes: int) -> dict[str, Any]:
    env = dict(os.environ, GBFOCAL_NUM_THREADS="1", OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(n_rows), str(n_classes)],
        capture_output=True, text=True, env=env, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"child {kind} K={n_classes} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(libraries: list[str], classes: list[int], n_rows: int,
        repeats: int) -> list[dict[str, Any]]:
    rows = []
    for library in libraries:
        kinds = KINDS[library]
        for n_classes in classes:
            runs = common.rounds({kind: lambda kind=kind, k=n_classes: _run_child(kind, n_rows, k)
                                  for kind in kinds}, repeats)
            row: dict[str, Any] = {"library": library, "rows": n_rows, "classes": n_classes}
            for kind, side in zip(kinds, SIDES, strict=True):
                row[f"{side}_extra_bytes"] = statistics.median(r["extra"] for r in runs[kind])
                row[f"{side}_seconds"] = statistics.median(r["seconds"] for r in runs[kind])
                row[f"{side}_runs"] = runs[kind]
            row["ratio"] = row["focal_extra_bytes"] / row["library_extra_bytes"]
            row["floor_ratio"] = row["floor_extra_bytes"] / row["library_extra_bytes"]
            row["over_floor"] = row["focal_extra_bytes"] / row["floor_extra_bytes"]
            rows.append(row)
            print(_table_row(row), flush=True)
    return rows


def _mib(value: float) -> str:
    return f"{value / 2**20:,.0f}"


def _table_row(row: dict[str, Any]) -> str:
    entries = row["rows"] * row["classes"]
    per_entry = " / ".join(f"{row[f'{side}_extra_bytes'] / entries:.1f}" for side in SIDES)
    return (f"| {row['library']} | {row['rows']:,} | {row['classes']:,} | "
            + " | ".join(_mib(row[f"{side}_extra_bytes"]) for side in SIDES)
            + f" | **{row['ratio']:.2f}x** | {row['floor_ratio']:.2f}x | "
            f"{row['over_floor']:.2f}x | {per_entry} | "
            f"{row['library_seconds']:.1f} / {row['focal_seconds']:.1f} |")


HEADER = "\n".join(common.table(
    ["library", "rows n", "classes K", "library MiB", "floor MiB", "gbfocal MiB",
     "gbfocal / library", "floor / library", "gbfocal / floor",
     "bytes per row and class: library / floor / gbfocal", "seconds: library / gbfocal"], [],
    "l" + "r" * 10))


# gbfocal's peak before issue 24 (item 12), measured with this script (medians of 3 runs),
# MiB and the ratio to the library: LightGBM got a C-ordered float64 copy of its margins and
# column-major copies of the gradient pair every round, and the (n, K) initial score was
# converted by LightGBM and kept twice; XGBoost's fit was at its floor already (its fitted
# estimator kept the gradient buffers, 8 bytes per row and class, which is not a peak).
BEFORE = {("lightgbm", 100): (108, 3.10), ("lightgbm", 500): (471, 2.57),
          ("lightgbm", 1000): (948, 2.54), ("lightgbm", 2000): (1928, 2.53),
          ("xgboost", 100): (60, 2.12), ("xgboost", 500): (277, 2.03),
          ("xgboost", 1000): (550, 2.08), ("xgboost", 2000): (1094, 2.10)}


def _markdown(data: dict[str, Any]) -> str:
    rows, meta, repeats = data["results"], data["meta"], data["repeats"]
    before = [f"{row['library']} K = {row['classes']:,}: {BEFORE[key][0]:,} MiB, "
              f"{BEFORE[key][1]:.2f}x" for row in rows
              if (key := (row["library"], row["classes"])) in BEFORE]
    return "\n".join([
        "# Peak memory with many classes",
        "",
        f"Generated by `benchmarks/many_classes.py`, {meta['date']}; {common.describe(meta)}. "
        f"{ROUNDS} rounds, {FEATURES} features, one thread; each fit in a fresh process: "
        "peak resident memory (VmHWM) minus the resident memory before the fit, median of "
        f"{repeats} runs. *floor*: the library under a custom objective that does no work, "
        "started from a constant initial score (what any custom objective costs). Method "
        "in the script's docstring; the documentation's performance page "
        "(docs/performance/index.md) shows this table.",
        "",
        HEADER,
        *(_table_row(row) for row in rows),
        "",
        "gbfocal's fit needs what the library itself needs under any custom objective "
        "(gbfocal / floor about 1.0x); the rest of the ratio to the built-in objective is "
        "the library's custom-objective path (LightGBM: the float64 copy of the scores "
        "handed to the objective and the initial score stored per row and class; XGBoost: "
        "the float32 copy of the margins and its own copy of the gradient pair).",
        "",
        *([f"gbfocal before issue 24 (item 12), same script, medians of 3 runs: "
           f"{'; '.join(before)}.", ""] if before else []),
    ])


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
        return
    parser = common.arguments(__doc__, "K in {50, 200}, 5,000 rows, one run each")
    parser.add_argument("--classes", type=int, action="append",
                        help=f"K (repeatable; default {', '.join(map(str, CLASSES))}); "
                             "prints only")
    parser.add_argument("--rows", type=int, default=None, help=f"rows n (default {ROWS:,})")
    parser.add_argument("--repeats", type=int, default=None, help="runs per fit (default 3)")
    parser.add_argument("--library", choices=sorted(KINDS), action="append",
                        help="lightgbm and/or xgboost (default both)")
    args = parser.parse_args()
    libraries = args.library or sorted(KINDS)
    if args.quick:
        classes, n_rows, repeats = args.classes or [50, 200], args.rows or 5_000, 1
    else:
        classes, n_rows = args.classes or list(CLASSES), args.rows or ROWS
        repeats = args.repeats or 3
    meta = common.machine()
    print(HEADER, flush=True)
    data = {"meta": meta, "rounds": ROUNDS, "features": FEATURES, "repeats": repeats,
            "results": run(libraries, classes, n_rows, repeats)}
    partial = bool(args.classes or args.rows or args.library or args.repeats)
    common.publish(common.out_dir(args, partial), "many_classes", _markdown(data), data)


if __name__ == "__main__":
    main()
