"""The plots of ``gbfocal tune | train --plots DIR``, drawn by Optuna's and scikit-learn's
display classes and returned as PNG bytes (the command line writes them all or nothing).

* ``optimization_history.png``: each arm's trial scores and best-so-far
  (``optuna.visualization.matplotlib.plot_optimization_history``), ``tune`` only;
* ``precision_recall.png``: precision-recall curves of the out-of-fold predictions
  (``sklearn.metrics.PrecisionRecallDisplay``), with the chance level and, where chosen,
  the decision threshold marked;
* ``calibration.png``: the calibration curves of the same predictions
  (``sklearn.calibration.CalibrationDisplay``).

matplotlib is imported on first use (``pip install gbfocal[plots]``); figures are drawn on
the non-interactive Agg canvas and closed, so nothing opens a window or stays in pyplot.
"""

from __future__ import annotations

import io
import sys
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._optional import import_optional

__all__ = ["FILES", "calibration", "optimization_history", "precision_recall", "require"]

#: what each plot's file is called
FILES = {"history": "optimization_history.png", "pr": "precision_recall.png",
         "calibration": "calibration.png"}
_SIZE = (6.0, 4.5)
# scikit-learn's displays draw square axes (both axes are shares)
_SQUARE = (6.0, 6.0)
_DPI = 100


def require(needed_by: str) -> None:
    """ImportError with the install hint when matplotlib is missing."""
    import_optional("matplotlib", needed_by=needed_by)


def _png(fig: Any) -> bytes:
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def _figure() -> tuple[Any, Any]:
    """A figure and its axes, made without pyplot (Agg canvas, no window, no registry)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=_SQUARE)
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def optimization_history(studies: Mapping[str, Any], target_name: str) -> bytes:
    """Optuna's optimisation history of the studies, labelled by ``studies``' keys."""
    optuna = import_optional("optuna", needed_by="the optimisation history plot")
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        # Optuna draws through pyplot: a non-interactive backend, never a window
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # rc_context: Optuna switches pyplot to its "ggplot" style, for this plot only
    with warnings.catch_warnings(), matplotlib.rc_context():
        # its matplotlib module is marked experimental; the plot is what the user asked for
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        ax = optuna.visualization.matplotlib.plot_optimization_history(
            list(studies.values()), target_name=target_name)
        return _labelled_png(ax, studies, plt)


def _labelled_png(ax: Any, studies: Mapping[str, Any], plt: Any) -> bytes:
    """The history plot with the arms' names in its legend (Optuna shows study names)."""
    fig = ax.figure
    try:
        names = {study.study_name: label for label, study in studies.items()}
        for artist in [*ax.lines, *ax.collections]:
            text = artist.get_label()
            for name, label in names.items():
                if isinstance(text, str) and text.endswith(f" of {name}"):
                    artist.set_label(text.replace(f" of {name}", f", {label}"))
        ax.legend(loc="best", fontsize=8, framealpha=0.8)
        fig.set_size_inches(*_SIZE)
        return _png(fig)
    finally:
        plt.close(fig)


def precision_recall(y: Any, scores: Mapping[str, np.ndarray], pos_label: Any,
                     threshold: float | None = None) -> bytes:
    """Precision-recall curves of ``scores`` (name -> the positive class's probability)."""
    from sklearn.metrics import PrecisionRecallDisplay

    fig, ax = _figure()
    for i, (name, score) in enumerate(scores.items()):
        PrecisionRecallDisplay.from_predictions(
            y, score, pos_label=pos_label, name=name, ax=ax, plot_chance_level=i == 0)
        if threshold is not None and i == 0:
            # where the chosen threshold puts this model on its curve
            predicted = score >= threshold
            actual = np.asarray(y) == pos_label
            recall = float(np.sum(predicted & actual) / max(np.sum(actual), 1))
            precision = float(np.sum(predicted & actual) / max(np.sum(predicted), 1))
            ax.plot([recall], [precision], "o", color="black",
                    label=f"threshold {threshold:.3g}")
    ax.set_title(f"Precision-recall, out-of-fold ({pos_label!r} positive)")
    ax.legend(loc="best", fontsize=8, framealpha=0.8)
    return _png(fig)


def calibration(y: Any, scores: Mapping[str, np.ndarray], pos_label: Any,
                n_bins: int = 10) -> bytes:
    """Calibration curves (quantile bins) of ``scores``."""
    from sklearn.calibration import CalibrationDisplay

    fig, ax = _figure()
    for name, score in scores.items():
        CalibrationDisplay.from_predictions(y, score, pos_label=pos_label, n_bins=n_bins,
                                            strategy="quantile", name=name, ax=ax)
    ax.set_title(f"Calibration, out-of-fold ({pos_label!r} positive)")
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)
