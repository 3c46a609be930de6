"""What ``tune`` and ``train`` draw from out-of-fold predictions: the decision threshold
of ``--threshold-metric`` and the plots of ``--plots``.

A threshold chosen on the rows a model was fitted on would be chosen on its own answers:
both are computed from out-of-fold probabilities (stratified folds seeded by ``--seed``,
else 0, so that the same command gives the same threshold). The plots' files are decided
(and matplotlib checked) before any work, and written all or nothing. Separate because
``tune`` and ``train`` do this alike, and the threshold's wording is what ``predict`` and
the JSON show.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ._files import write_bytes
from ._messages import CLIError, note, to_json

__all__ = ["decision_threshold", "fold_seed", "out_of_fold", "plot_paths", "write_plots"]


def fold_seed(seed: int | None) -> int:
    """The seed of the out-of-fold predictions: ``--seed``, else 0 (always reproducible)."""
    return 0 if seed is None else seed


def out_of_fold(estimator: Any, X: Any, y: np.ndarray, pos_label: Any, *, folds: int,
                seed: int) -> np.ndarray:
    """The positive class's out-of-fold probability of every row (see
    :func:`gbfocal._threshold.out_of_fold_proba`)."""
    from .._threshold import out_of_fold_proba

    labels = np.unique(y).tolist()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        proba = out_of_fold_proba(estimator, X, y, cv=folds, seed=seed)
    for record in caught:
        # a category that only the held-out fold has is "unseen" by that fold's model:
        # expected in cross-validation, and predicted as missing as it should be
        if not hasattr(record.message, "unseen_values"):
            warnings.warn_explicit(record.message, record.category, record.filename,
                                   record.lineno)
    return proba[:, labels.index(pos_label)]


def decision_threshold(metric: str, y: np.ndarray, pos_label: Any, score: np.ndarray, *,
                       folds: int, seed: int) -> dict[str, Any]:
    """The decision threshold that maximises ``metric`` of the out-of-fold ``score``, as
    the JSON and the model file store it."""
    from .._threshold import choose_threshold

    value, achieved = choose_threshold(y == pos_label, score, metric)
    predicted = int(np.sum(score >= value))
    note(f"decision threshold {value:.4g}: predicts {pos_label!r} where its probability is "
         f"at least that; {metric} {achieved:.4f} on out-of-fold predictions "
         f"({predicted} of {len(y)} rows predicted {pos_label!r}, "
         f"{int(np.sum(y == pos_label))} are)")
    return to_json({"value": value, "pos_label": pos_label, "metric": metric,
                    "score": achieved, "folds": folds, "seed": seed,
                    "chosen_on": "out-of-fold predictions"})


def plot_paths(folder: str | None, *, history: bool) -> dict[str, str]:
    """The plot files of ``--plots DIR`` (none without it), the folder created; matplotlib
    is checked before any work."""
    if folder is None:
        return {}
    from .. import _plots

    try:
        _plots.require("--plots")
    except ImportError as exc:
        raise CLIError(str(exc)) from exc
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise CLIError(f"--plots {folder}: not a folder")
    if not path.parent.is_dir():
        raise CLIError(f"--plots {folder}: the folder {path.parent} does not exist")
    path.mkdir(exist_ok=True)
    names = [key for key in _plots.FILES if history or key != "history"]
    return {key: str(path / _plots.FILES[key]) for key in names}


def write_plots(paths: dict[str, str], y: np.ndarray, pos_label: Any,
                scores: dict[str, np.ndarray], threshold: dict[str, Any] | None, *,
                studies: dict[str, Any] | None, scoring: str, force: bool) -> None:
    """Draw and write the plots of ``paths``; the curves need a binary target."""
    from .. import _plots

    images: dict[str, bytes] = {}
    if studies and "history" in paths:
        images["history"] = _plots.optimization_history(studies, scoring)
    if scores:
        value = None if threshold is None else float(threshold["value"])
        images["pr"] = _plots.precision_recall(y, scores, pos_label, value)
        images["calibration"] = _plots.calibration(y, scores, pos_label)
    elif "pr" in paths:
        note("--plots: precision-recall and calibration curves are for binary targets; "
             "not drawn")
    for key, path in list(paths.items()):
        if key in images:
            write_bytes(path, images[key], force=force)
        else:
            del paths[key]  # not written: not reported either
