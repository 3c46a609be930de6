"""``gbfocal train``: one focal-loss model fitted on every row and saved as one file.

The parameters come, from lowest to highest priority, from ``--params`` (the JSON of ``tune
--output``, whose ``best_params``, backend, scored class and threshold carry over, or a
plain JSON object of estimator parameters), ``--param``, and ``--alpha`` / ``--gamma`` /
``--seed`` / ``--n-jobs``. A float alpha always weights the scored class (``--pos-label``,
else the tune result's, else the minority class). The decision threshold is chosen on
out-of-fold predictions (``--threshold-metric``) or taken from the tune result while it
still describes the model. Separate from ``tune``: merging parameter sources and keeping a
tuned threshold honest is only train's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .._spec import BOOSTER_BACKENDS
from ._files import check_outputs
from ._labels import (
    FROM_PARAMS,
    GIVEN,
    MINORITY,
    class_counts,
    match_label,
    minority,
    same_label,
    scored_class_reason,
)
from ._messages import CLIError, note, to_json
from ._models import THRESHOLD, estimator_class, model_metadata, require_backend, save_model_file
from ._out_of_fold import decision_threshold, fold_seed, out_of_fold, plot_paths, write_plots
from ._tables import note_categorical_columns, read_input, split_features
from ._values import fixed_param

__all__ = ["command_train", "read_params"]


def read_params(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Estimator parameters from ``--params``, and what a tune result says about them.

    Returns ``(params, tuned)``: for the JSON of ``gbfocal tune --output``, its
    ``best_params`` and its ``backend``, ``pos_label`` and ``classes``; for a plain JSON
    object, the object and ``{}``.

    Parameters
    ----------
    path : str
        The JSON file of ``--params``.

    Returns
    -------
    params : dict
        The estimator parameters.
    tuned : dict
        A tune result's ``backend``, ``pos_label``, ``classes`` and ``threshold`` (those it
        has); empty for a plain parameter file.

    Raises
    ------
    CLIError
        A missing file, a file that is not a JSON object, or ``best_params`` that is not one.
    """
    file = Path(path)
    if not file.is_file():
        raise CLIError(f"no such file: {path}")
    try:
        document = json.loads(file.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise CLIError(f"{path} is not JSON: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise CLIError(f"{path} is not UTF-8 text: {exc.reason}") from exc
    if not isinstance(document, dict):
        raise CLIError(
            f"{path} must hold a JSON object: the output of gbfocal tune, or parameter names "
            f"and values; got a JSON {type(document).__name__}"
        )
    if "best_params" not in document:
        return document, {}
    best = document["best_params"]
    if not isinstance(best, dict):
        raise CLIError(f"{path}: best_params must be a JSON object, got {best!r}")
    tuned = {key: document[key] for key in ("backend", "pos_label", "classes", THRESHOLD)
             if key in document}
    return best, tuned


def _label_order_alpha(alpha: Any, pos_label: Any, labels: list[Any]) -> Any:
    """A float alpha weighting ``pos_label`` -> what the estimators read (weight of the
    larger label ``labels[1]``): the vector ``[alpha, 1 - alpha]`` when ``pos_label`` is the
    smaller one, so that the value always means what the user meant."""
    number = isinstance(alpha, (int, float)) and not isinstance(alpha, bool)
    if number and len(labels) == 2 and pos_label is not None and pos_label == labels[0]:
        return [float(alpha), 1.0 - float(alpha)]
    return alpha


def _train_pos_label(args: argparse.Namespace, tuned: dict[str, Any], labels: list[Any],
                     y: np.ndarray) -> tuple[Any, str | None]:
    """The class a float alpha weights and ``--threshold-metric`` scores, and how it was
    chosen: ``--pos-label``, else the tune result's, else the minority class (binary
    targets; ``(None, None)`` for multiclass ones)."""
    pos_label = _given_train_pos_label(args, tuned, labels)
    if pos_label is not None:
        return pos_label, GIVEN if args.pos_label is not None else FROM_PARAMS
    if len(labels) == 2:
        return minority(y), MINORITY
    return None, None


def _given_train_pos_label(args: argparse.Namespace, tuned: dict[str, Any],
                           labels: list[Any]) -> Any:
    """``--pos-label``, else the tune result's, checked; None when neither is given."""
    binary = len(labels) == 2
    if args.pos_label is not None:
        if not binary:
            raise CLIError(
                f"--pos-label is only for binary targets; {args.target!r} has {len(labels)} "
                "classes"
            )
        pos_label = match_label(args.pos_label, labels)
        if pos_label not in labels:
            raise CLIError(f"--pos-label {args.pos_label!r} is not one of the labels {labels}")
        return pos_label
    if tuned.get("pos_label") is not None:
        # checked as --pos-label is: a pos_label that is no label would leave a float
        # alpha weighing the larger label, whichever class was tuned as positive
        value = tuned["pos_label"]
        if not binary:
            raise CLIError(
                f"{args.params}: pos_label {value!r} is only for binary targets; "
                f"{args.target!r} has {len(labels)} classes"
            )
        pos_label = match_label(str(value), labels)
        if pos_label not in labels:
            raise CLIError(
                f"{args.params}: pos_label {value!r} is not one of the labels {labels}"
            )
        return pos_label
    return None


def _train_params(args: argparse.Namespace, loaded: dict[str, Any], tuned: dict[str, Any],
                  labels: list[Any], pos_label: Any) -> dict[str, Any]:
    """The estimator parameters of ``gbfocal train``, from lowest to highest priority:
    ``--params``, ``--param``, ``--alpha`` / ``--gamma`` / ``--seed`` / ``--n-jobs``."""
    params = dict(loaded)
    if not tuned and "alpha" in params:
        # a plain parameter file is the user's own: its float alpha weights --pos-label
        # (a tune result's best_params are already in the estimators' label order)
        params["alpha"] = _label_order_alpha(params["alpha"], pos_label, labels)
    params.update(fixed_param(text) for text in args.param)
    if "alpha" in vars(args):
        params["alpha"] = _label_order_alpha(args.alpha, pos_label, labels)
    if "gamma" in vars(args):
        params["gamma"] = args.gamma
    if args.seed is not None:
        params["random_state"] = args.seed
    if args.n_jobs is not None:
        params["n_jobs"] = args.n_jobs
    return params


def command_train(args: argparse.Namespace) -> int:
    """``gbfocal train``: fit, choose or carry over the threshold, save; returns the exit
    status."""
    plots = plot_paths(args.plots, history=False)
    check_outputs([args.output, *plots.values()], [args.data, args.params], force=args.force)
    loaded, tuned = ({}, {}) if args.params is None else read_params(args.params)
    backend = args.backend or tuned.get("backend") or "lightgbm"
    if backend not in BOOSTER_BACKENDS:
        raise CLIError(f"{args.params}: unknown backend {backend!r}: use one of {BOOSTER_BACKENDS}")
    require_backend(backend)
    X, y = split_features(read_input(args.data, args.sep), args.target)
    note_categorical_columns(X)
    labels = sorted(set(y.tolist()))  # the estimators' classes_ order (np.unique)
    if args.threshold_metric is not None and len(labels) != 2:
        raise CLIError(f"--threshold-metric is for binary targets; {args.target!r} has "
                       f"{len(labels)} classes")
    if isinstance(tuned.get("classes"), list) \
            and sorted(map(str, tuned["classes"])) != sorted(map(str, labels)):
        # a tuned alpha vector is in the tuned labels' order: on other labels it means nothing
        raise CLIError(
            f"{args.params} was tuned on the classes {tuned['classes']} but target column "
            f"{args.target!r} has {labels}"
        )
    pos_label, source = _train_pos_label(args, tuned, labels, y)
    summary: dict[str, Any] = {"pos_label": pos_label, "pos_label_source": source,
                               "class_counts": class_counts(y)}
    if pos_label is not None:
        note(f"positive class: {pos_label!r}" + (
            scored_class_reason(summary) if source != FROM_PARAMS
            else f" (the pos_label of {args.params})"))
    params = _train_params(args, loaded, tuned, labels, pos_label)
    estimator_type = estimator_class(backend)
    valid = estimator_type().get_params()
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise CLIError(
            f"unknown parameters {unknown} for {estimator_type.__name__} ({backend}); valid "
            f"names: {sorted(valid)}"
        )
    estimator = estimator_type(**params).fit(X, y)
    shown = ", ".join(
        f"{name}={params[name]!r}" for name in ("alpha", "gamma", "n_estimators") if name in params
    )
    note(
        f"trained {estimator_type.__name__} on {X.shape[0]} rows x {X.shape[1]} features, "
        f"classes {to_json(estimator.classes_)}" + (f" ({shown})" if shown else "")
    )
    score = None
    if pos_label is not None and (args.threshold_metric is not None or plots):
        # the package's thread rule: one thread per fit unless --n-jobs says otherwise
        fold_params = {"n_jobs": 1, **params}
        note(f"out-of-fold predictions of these parameters ({args.threshold_cv} stratified "
             "folds)")
        score = out_of_fold(estimator_type(**fold_params), X, y, pos_label,
                            folds=args.threshold_cv, seed=fold_seed(args.seed))
    if args.threshold_metric is not None:
        assert score is not None
        summary[THRESHOLD] = decision_threshold(args.threshold_metric, y, pos_label, score,
                                                folds=args.threshold_cv,
                                                seed=fold_seed(args.seed))
    else:
        summary[THRESHOLD] = _tuned_threshold(args, tuned, pos_label)
    save_model_file(estimator, args.output, force=args.force,
                    metadata=model_metadata(summary, "gbfocal train"))
    if plots:
        scores = {} if score is None else {estimator_type.__name__: score}
        write_plots(plots, y, pos_label, scores, summary[THRESHOLD], studies=None,
                    scoring="", force=args.force)
    for written in (args.output, *plots.values()):
        print(f"wrote {written}", file=sys.stderr)
    return 0


def _tuned_threshold(args: argparse.Namespace, tuned: dict[str, Any],
                     pos_label: Any) -> dict[str, Any] | None:
    """The threshold of a tune result given with ``--params``, when it still describes the
    model: no ``--param`` / ``--alpha`` / ``--gamma`` changed it, and it is for the scored
    class. Said on stderr either way."""
    from .._threshold import is_probability

    saved = tuned.get(THRESHOLD)
    if saved is None:
        return None
    changed = [option for option, given in (("--param", bool(args.param)),
                                            ("--alpha", "alpha" in vars(args)),
                                            ("--gamma", "gamma" in vars(args))) if given]
    if not isinstance(saved, dict) or not is_probability(saved.get("value")):
        raise CLIError(f"{args.params}: threshold must be an object with a 'value' in [0, 1], "
                       f"got {saved!r}")
    if changed:
        note(f"the decision threshold of {args.params} is not used: {', '.join(changed)} "
             "changed the model (--threshold-metric chooses one for it)")
        return None
    if not same_label(saved.get("pos_label"), pos_label):
        note(f"the decision threshold of {args.params} is for the class "
             f"{saved.get('pos_label')!r}, not {pos_label!r}: not used (--threshold-metric "
             "chooses one)")
        return None
    note(f"decision threshold {saved['value']:.4g} from {args.params} "
         f"({saved.get('metric')} on out-of-fold predictions of gbfocal tune)")
    return saved
