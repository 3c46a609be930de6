"""``gbfocal tune``: the search, its result JSON and summary, the model and plots it writes.

:func:`run_tune` runs :func:`gbfocal.tuning.tune_focal` on a data file (the focal and the
log-loss arm, tuned alike, compared on rows neither search saw) and returns the result JSON
printed on stdout; the command adds a summary on stderr (the scored class, each arm's
search score, the comparison with its interval, the verdict, the selected arm) and writes
``--output``, ``--model`` (the selected arm refit on all rows, with its scored class and
``--threshold-metric`` threshold) and ``--plots``. Separate from ``train``: what the
search returns and how it is summed up is only tune's.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

import numpy as np

from .. import __version__
from .._optional import import_optional
from ._files import check_outputs, write_bytes
from ._labels import GIVEN, MINORITY, class_counts, match_label, minority, scored_class_reason
from ._messages import CLIError, note, to_json
from ._models import estimator_class, model_metadata, require_backend, save_model_file
from ._out_of_fold import decision_threshold, fold_seed, out_of_fold, plot_paths, write_plots
from ._tables import note_categorical_columns, read_input, split_features
from ._values import parse_param

__all__ = ["command_tune", "run_tune"]

_ARM_NAMES = {"focal": "focal-loss arm", "log_loss": "log-loss arm (gamma=0, alpha=none)"}
_VERDICTS = {
    "focal": "focal loss is better beyond noise",
    "log_loss": "log loss is better beyond noise",
    "no_difference": "no difference beyond noise",
}


def run_tune(args: argparse.Namespace) -> dict[str, Any]:
    """Run the search of ``gbfocal tune``; returns the result JSON (see :func:`_tune`).

    Parameters
    ----------
    args : argparse.Namespace
        The options of ``tune`` (:func:`gbfocal.cli.build_parser`).

    Returns
    -------
    dict
        The result JSON: the selected arm's ``best_params``, the ``verdict`` and its
        ``comparison``, the scored class (``pos_label``, ``pos_label_source``), both
        ``arms``, and what ran (data, target, classes, backend, folds, seed, version).
    """
    return _tune(args).summary


@dataclasses.dataclass
class _TuneRun:
    """What ``gbfocal tune`` found, and what its later steps need."""

    summary: dict[str, Any]  # the result JSON
    result: Any  # the TuningResult
    X: Any
    y: np.ndarray
    pos_label: Any  # the scored class of a binary target, else None


def _scored_class(args: argparse.Namespace, y: np.ndarray,
                  classes: list[Any]) -> tuple[Any, str | None]:
    """The class a binary target scores: ``(label, how it was chosen)``.

    ``--pos-label`` (matched to a label, or left as text for tune_focal to refuse), else
    the minority class: what imbalanced data is about, where the larger label of a
    ``good``/``bad`` file would score the 95 % ``good`` rows. Multiclass: ``(None, None)``,
    or ``--pos-label`` as given, for tune_focal to refuse.
    """
    if args.pos_label is not None:
        return match_label(args.pos_label, classes), GIVEN
    if len(classes) == 2:
        return minority(y), MINORITY
    return None, None


def _tune(args: argparse.Namespace) -> _TuneRun:
    """The search of ``gbfocal tune``: its result JSON, the TuningResult (whose
    ``best_estimator`` is ``None`` without ``--model``), the data and the scored class."""
    require_backend(args.backend)
    params = dict(parse_param(text) for text in args.param)
    if args.n_jobs is not None:
        params["n_jobs"] = args.n_jobs
    X, y = split_features(read_input(args.data, args.sep), args.target)
    note_categorical_columns(X)
    classes = sorted(set(y.tolist()), key=str)
    pos_label, source = _scored_class(args, y, classes)
    if args.threshold_metric is not None and len(classes) != 2:
        raise CLIError(f"--threshold-metric is for binary targets; {args.target!r} has "
                       f"{len(classes)} classes")
    try:
        optuna = import_optional("optuna", needed_by="tuning")
    except ImportError as exc:
        raise CLIError(str(exc)) from exc
    from ..tuning import tune_focal

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress bar says enough
    compare = None if args.compare == "none" else args.compare
    result = tune_focal(
        X, y, backend=args.backend, n_trials=args.trials, cv=args.cv, scoring=args.scoring,
        pos_label=pos_label, alpha=args.alpha, gamma=args.gamma, params=params or None,
        early_stopping_rounds=args.early_stopping_rounds or None, timeout=args.timeout,
        random_state=args.seed, storage=args.storage, study_name=args.study_name,
        refit=args.model is not None, baseline=not args.no_baseline, compare=compare,
        holdout_size=args.holdout_size, outer_cv=args.outer_cv, select=args.select,
        n_jobs=args.parallel, show_progress_bar=not args.no_progress, progress=note,
    )
    arms = {}
    for name, arm in result.arms.items():
        states = [t.state.name for t in arm.study.trials]
        arms[name] = {"best_params": arm.best_params, "best_score": arm.best_score,
                      "best_fold_scores": arm.best_fold_scores, "n_trials": len(states),
                      "n_complete": states.count("COMPLETE"),
                      "n_pruned": states.count("PRUNED")}
    comparison = result.comparison
    summary = to_json({
        "best_params": result.best_params,
        "best_score": result.best_score,
        "selected": result.selected,
        "verdict": result.verdict,
        "comparison": None if comparison is None else dataclasses.asdict(comparison),
        "scoring": result.scoring,
        "pos_label": result.pos_label,
        "pos_label_source": source,
        "class_counts": class_counts(y),
        "arms": arms,
        "best_fold_scores": result.best_fold_scores,
        "baseline_score": result.baseline_score,
        "baseline_fold_scores": result.baseline_fold_scores,
        "fold_differences": result.fold_differences,
        "backend": result.backend,
        "cv": args.cv,
        "seed": args.seed,
        "n_trials": arms["focal"]["n_trials"],
        "n_complete": arms["focal"]["n_complete"],
        "n_pruned": arms["focal"]["n_pruned"],
        "data": str(args.data),
        "target": args.target,
        "classes": classes,
        "gbfocal_version": __version__,
    })
    return _TuneRun(summary=summary, result=result, X=X, y=y, pos_label=result.pos_label)


def _summary_lines(summary: dict[str, Any]) -> list[str]:
    """The human-readable part of the result, printed on stderr (stdout stays pure JSON)."""
    scoring = summary["scoring"]
    lines: list[str] = []
    if summary.get("pos_label") is not None:
        lines.append(f"positive (scored) class: {summary['pos_label']!r}"
                     + scored_class_reason(summary))
    for name, arm in summary["arms"].items():
        lines.append(
            f"{_ARM_NAMES[name]}: best {scoring} {arm['best_score']:.4f} in the search "
            f"(mean of {summary['cv']} folds; {arm['n_complete']} trials complete, "
            f"{arm['n_pruned']} pruned)"
        )
    comparison = summary.get("comparison")
    if comparison is not None:
        where = ("the holdout" if comparison["method"] == "holdout"
                 else "the outer folds of a nested CV")
        text = (f"on {comparison['n_rows']} rows neither search saw ({where}): "
                f"focal {comparison['focal_score']:.4f}")
        if comparison["log_loss_score"] is not None:
            low, high = comparison["interval"]
            text += (f", log loss {comparison['log_loss_score']:.4f}, difference "
                     f"{comparison['difference']:+.4f} (95% interval {low:+.4f} to "
                     f"{high:+.4f})")
        lines.append(text)
    if summary.get("verdict") is not None:
        lines.append(f"verdict: {_VERDICTS[summary['verdict']]}")
    lines.append(f"selected: the {_ARM_NAMES[summary['selected']]}; best_params "
                 "(and --model) describe it")
    return lines


def command_tune(args: argparse.Namespace) -> int:
    """``gbfocal tune``: search, then write what was asked for; returns the exit status."""
    plots = plot_paths(args.plots, history=True)
    check_outputs([args.output, args.model, *plots.values()], [args.data], force=args.force)
    run = _tune(args)
    summary, result = run.summary, run.result
    scores: dict[str, np.ndarray] = {}
    if args.threshold_metric is not None or plots:
        scores = _tuned_out_of_fold(args, run, both_arms=bool(plots))
    if args.threshold_metric is not None:
        summary["threshold"] = decision_threshold(args.threshold_metric, run.y, run.pos_label,
                                                  next(iter(scores.values())), folds=args.cv,
                                                  seed=fold_seed(args.seed))
    text = json.dumps(summary, indent=2)
    if args.model is not None:
        save_model_file(result.best_estimator, args.model, force=args.force,
                        metadata=model_metadata(summary, "gbfocal tune"))
    if args.output:
        write_bytes(args.output, (text + "\n").encode("utf-8"), force=args.force)
    if plots:
        write_plots(plots, run.y, run.pos_label, scores, summary.get("threshold"),
                    studies={_ARM_NAMES[name]: arm.study for name, arm in result.arms.items()},
                    scoring=str(summary["scoring"]), force=args.force)
    print(text)
    for line in _summary_lines(summary):
        note(line)
    for written in (args.model, args.output, *plots.values()):
        if written:
            print(f"wrote {written}", file=sys.stderr)
    return 0


def _tuned_out_of_fold(args: argparse.Namespace, run: _TuneRun, *,
                       both_arms: bool) -> dict[str, np.ndarray]:
    """Out-of-fold positive-class probabilities of the selected arm's parameters (first),
    and of the other arm's with ``both_arms``; keyed by the arm's name in the plots.

    Binary targets only (``{}`` otherwise): the curves and the threshold need a positive
    class. One thread per fit unless ``--n-jobs`` says otherwise, seeded folds.
    """
    if run.pos_label is None:
        return {}
    result = run.result
    names = [result.selected] + [name for name in result.arms
                                 if both_arms and name != result.selected]
    folds, seed = args.cv, fold_seed(args.seed)
    scores = {}
    for name in names:
        params = dict(result.arms[name].best_params)
        params.setdefault("n_jobs", 1)
        if args.seed is not None:
            params.setdefault("random_state", args.seed)
        note(f"out-of-fold predictions of the {_ARM_NAMES[name]}'s best parameters "
             f"({folds} stratified folds)")
        label = _ARM_NAMES[name] + (" (selected)" if name == result.selected else "")
        scores[label] = out_of_fold(estimator_class(args.backend)(**params), run.X, run.y,
                                    run.pos_label, folds=folds, seed=seed)
    return scores
