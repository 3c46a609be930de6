"""Focal loss with Dask: XGBoost and LightGBM trained on a local 2-worker cluster.

    python examples/dask_training.py [--rows 20000] [--classes 2] [--workers 2]
                                     [--rounds 50] [--seed 0] [--scheduler ADDRESS]

1. Imbalanced data as Dask arrays with unequal partitions (as real data often are).
2. The loss is fitted on the *global* labels (``alpha="balanced"`` and the starting
   margin): ``gbfocal.dask.base_margin`` computes the small label vector, fits the loss
   and returns the per-row starting margin as a Dask array.
3. ``xgboost.dask.train`` with ``obj=loss.xgb_objective`` and the global weighted-mean
   metric ``gbfocal.dask.XGBoostDaskMetric`` (XGBoost would otherwise average the
   per-worker means), and ``lightgbm.DaskLGBMClassifier(objective=loss.sklearn_objective)``.
4. Both are compared with the same model trained on one machine.

Needs ``pip install gbfocal[dask]``. Pass ``--scheduler tcp://host:8786`` to use an
existing cluster instead of starting a LocalCluster.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="number of rows")
    parser.add_argument("--classes", type=int, default=2, help="number of classes (>= 2)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster workers")
    parser.add_argument("--rounds", type=int, default=50, help="boosting rounds")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the data")
    parser.add_argument("--scheduler", default=None,
                        help="address of an existing Dask scheduler (default: a LocalCluster)")
    return parser.parse_args(argv)


def make_data(rows: int, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification

    shares = [0.9] if n_classes == 2 else [0.7] + [0.3 / (n_classes - 1)] * (n_classes - 2)
    return make_classification(rows, 20, n_informative=8, n_classes=n_classes,
                               weights=shares, random_state=seed)


def unequal_chunks(rows: int, parts: int) -> tuple[int, ...]:
    """Partition sizes growing 1 : 2 : ... : parts, summing to ``rows``."""
    sizes = np.arange(1, parts + 1) * rows // (parts * (parts + 1) // 2)
    sizes[-1] += rows - sizes.sum()
    return tuple(int(s) for s in sizes)


def mean_focal(loss: Any, y: np.ndarray, margins: np.ndarray) -> float:
    return float(np.mean(loss.loss(y, margins)))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import dask.array as da
    import lightgbm as lgb
    import xgboost as xgb
    import xgboost.dask as xgb_dask
    from distributed import Client, LocalCluster

    from gbfocal.dask import XGBoostDaskMetric, base_margin, lightgbm_metric_history
    from gbfocal.losses import BinaryFocalLoss, MulticlassFocalLoss

    X, y = make_data(args.rows, args.classes, args.seed)
    chunks = unequal_chunks(args.rows, 2 * args.workers)
    dX = da.from_array(X, chunks=(chunks, X.shape[1]))
    dy = da.from_array(y, chunks=(chunks,))

    def new_loss() -> Any:
        if args.classes == 2:
            return BinaryFocalLoss(alpha="balanced", gamma=2.0)
        return MulticlassFocalLoss(args.classes, alpha="balanced", gamma=2.0)

    cluster = None
    if args.scheduler is None:
        # ":0": the dashboard on any free port (None still tries 8787 first)
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1,
                               dashboard_address=":0")
    with Client(args.scheduler or cluster) as client:
        print(f"{args.rows} rows, {args.classes} classes, partitions {chunks}")
        loss = new_loss()
        margin = base_margin(loss, dy)  # fits alpha_ on the global labels
        print(f"global alpha_ = {np.round(loss.alpha_, 4)}")
        init = np.tile(loss.init_score(y), (len(y), 1)).squeeze()

        # ---------------------------------------------------------------- XGBoost
        params: dict[str, Any] = {"max_depth": 4, "eta": 0.1, "tree_method": "hist",
                                  "base_score": 0.0}
        if args.classes > 2:
            params["num_class"] = args.classes
        dtrain = xgb_dask.DaskDMatrix(client, dX, dy, base_margin=margin)
        start = time.perf_counter()
        out = xgb_dask.train(client, params, dtrain, args.rounds, evals=[(dtrain, "train")],
                             obj=loss.xgb_objective, custom_metric=XGBoostDaskMetric(loss),
                             verbose_eval=False)
        seconds = time.perf_counter() - start
        margins = xgb_dask.predict(client, out["booster"], dtrain, output_margin=True).compute()
        single = xgb.DMatrix(X, y, base_margin=init)
        booster = xgb.train(params, single, args.rounds, obj=loss.xgb_objective)
        margins_1 = booster.predict(single, output_margin=True)
        print(f"XGBoost  dask {seconds:6.2f} s  reported train focal loss "
              f"{out['history']['train']['focal_loss'][-1]:.6f}  recomputed "
              f"{mean_focal(loss, y, margins):.6f}  single machine "
              f"{mean_focal(loss, y, margins_1):.6f}  max |margin diff| "
              f"{np.abs(margins - margins_1).max():.2e}")

        # ---------------------------------------------------------------- LightGBM
        lgb_params = {"n_estimators": args.rounds, "num_leaves": 15, "learning_rate": 0.1,
                      "verbose": -1}
        start = time.perf_counter()
        model = lgb.DaskLGBMClassifier(objective=loss.sklearn_objective, client=client,
                                       **lgb_params)
        model.fit(dX, dy, init_score=margin)
        seconds = time.perf_counter() - start
        # custom objective: predict raw margins, add the starting margin, then convert
        raw = model.predict(dX, raw_score=True).compute() + init
        single_model = lgb.LGBMClassifier(objective=loss.sklearn_objective, **lgb_params)
        raw_1 = single_model.fit(X, y, init_score=init).predict(X, raw_score=True) + init
        accuracy = np.mean(loss.predict_proba(raw).argmax(axis=1) == y)
        print(f"LightGBM dask {seconds:6.2f} s  train focal loss {mean_focal(loss, y, raw):.6f}"
              f"  single machine {mean_focal(loss, y, raw_1):.6f}  accuracy {accuracy:.4f}")
        # lightgbm.dask's evals_result_ would hold one worker's share only: the global
        # weighted metric after every round, computed on the workers block by block
        history = lightgbm_metric_history(loss, model, dX, dy, init_score=margin)
        print(f"LightGBM global train focal loss by round: first {history[0]:.6f}, "
              f"best {history.min():.6f} at round {history.argmin() + 1}")
    if cluster is not None:
        cluster.close()


if __name__ == "__main__":
    main()
