"""LightGBM training: one ``train`` for every gbfocal estimator and the tuner's fold models.

What training with a focal loss needs from ``lgb.train`` and nothing else: the loss as the
callable objective; the focal optimum as the initial score on every Dataset (LightGBM skips
``boost_from_average`` under a custom objective); gbfocal's metrics on raw margins as
``feval`` (or LightGBM's own rank metric for a first binary AP / ROC AUC, which raw margins
leave right and which needs no Python call per round); early stopping on the first metric;
the evaluation history; the rounds run; and, for a self-contained model file, the initial
score folded into the first round's trees (:func:`with_init_score`).

The estimators (:mod:`gbfocal.sklearn`, :mod:`gbfocal.multioutput`,
:mod:`gbfocal.multilabel`) and the tuner's fold models build their Datasets through
:func:`datasets` and train through :func:`train`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .adapters import ForgetInitScoreCopies, LightGBMCallableMetric, Trained, history_length

__all__ = ["BUILTIN_METRICS", "ForgetInitScoreCopies", "Trained", "datasets", "start_margin",
           "train", "with_init_score"]

# gbfocal metric -> LightGBM's built-in metric of the same value on binary raw margins
BUILTIN_METRICS = {"average_precision": "average_precision", "roc_auc": "auc"}
# ... and under LightGBM's own binary log loss objective (gamma 0, alpha None: the focal loss
# is the log loss, and the focal metrics are the log loss's). Binary only: LightGBM's
# multiclass objective scales the softmax Hessian by K / (K - 1), other trees than the
# exact Hessian's (measured).
_LOG_LOSS_METRICS = {"average_precision": "average_precision", "roc_auc": "auc",
                     "log_loss": "binary_logloss", "focal_loss": "binary_logloss"}


def start_margin(start: Any, n_rows: int) -> np.ndarray | None:
    """The initial score of ``n_rows`` rows in the layout LightGBM stores.

    ``start``: None (no initial score), a constant (binary) or one margin per class:
    then LightGBM's own flat layout (all rows of class 0, then class 1, ...), which it
    takes as it is (an ``(n, K)`` array would be copied into it).
    """
    if start is None:
        return None
    if np.ndim(start) == 0:
        return np.full(n_rows, float(start))
    return np.repeat(np.asarray(start, dtype=np.float64), n_rows)


def datasets(lgb: Any, X: Any, y: np.ndarray, weight: np.ndarray | None,
             evals: Sequence[tuple[Any, np.ndarray, np.ndarray | None]], start: Any, *,
             feature_name: Any = "auto", categorical_feature: Any = "auto"
             ) -> tuple[Any, list[Any]]:
    """The training Dataset and the validation Datasets (binned like it), from ``start``."""
    train_set = lgb.Dataset(X, label=y, weight=weight, init_score=start_margin(start, len(y)),
                            feature_name=feature_name, categorical_feature=categorical_feature)
    valid_sets = [
        lgb.Dataset(X_val, label=y_val, weight=w_val, init_score=start_margin(start, len(y_val)),
                    reference=train_set)
        for X_val, y_val, w_val in evals
    ]
    return train_set, valid_sets


def _builtin_metric(metrics: Sequence[Any], binary: bool) -> str | None:
    """The first eval metric when LightGBM computes it itself, else None.

    Binary ROC AUC and average precision depend only on the order of the margins, so
    LightGBM's own C++ metrics on the raw scores (what it evaluates under a callable
    objective) give the values of :meth:`FocalLoss.metric` (to float32 weight rounding,
    tested) without a Python call per round: the bulk of a tuning trial's time
    otherwise. Only the first metric, which LightGBM evaluates before any ``feval``
    (and early stopping follows), so the order of the history stays as asked.
    """
    first = metrics[0] if metrics else None
    if binary and first in BUILTIN_METRICS:
        return str(first)
    return None


def train(
    lgb: Any,
    params: dict[str, Any],
    loss: Any,
    train_set: Any,
    valid_sets: Sequence[Any] = (),
    *,
    rounds: int,
    valid_names: Sequence[str] = (),
    metrics: Sequence[str | Callable[..., Any]] = (),
    early_stopping_rounds: int | None = None,
    verbose_period: int = 0,
    callbacks: Sequence[Any] = (),
    init_model: Any = None,
    keep_training_booster: bool = False,
    builtin_metrics: bool = False,
    builtin_log_loss: bool = False,
) -> Trained:
    """``lgb.train`` with the focal loss ``loss``: objective, metrics, early stopping, history.

    Parameters
    ----------
    lgb : module
        ``lightgbm``.
    params : dict
        Booster parameters; the objective, ``metric`` and (several classes) ``num_class``
        are set here.
    loss : FocalLoss
        The loss: its objective and metrics (its per-round interface).
    train_set, valid_sets : lightgbm.Dataset
        From :func:`datasets` (or the tuner's cache of them), with the initial score.
    rounds : int
        Most boosting rounds.
    valid_names : sequence of str
        One name per validation set.
    metrics : sequence of str or callable
        gbfocal metric names (:data:`gbfocal._spec.METRICS`) or ``func(y, raw, weight) ->
        (name, value, higher_is_better)`` (:class:`gbfocal._engines.adapters.CallableMetric`);
        early stopping watches the first.
    early_stopping_rounds : int or None
        Patience of early stopping on the first metric of the last validation set.
    verbose_period : int
        Print the validation metrics every so many rounds (0: silent).
    callbacks : sequence
        The caller's own ``lgb.train`` callbacks, run after these.
    init_model : lightgbm.Booster or None
        Continue this booster (warm start).
    keep_training_booster : bool
        ``lgb.train``'s option (the tuner's fold models keep it).
    builtin_metrics : bool
        Let LightGBM compute a first binary AP / ROC AUC itself (:func:`_builtin_metric`).
    builtin_log_loss : bool
        Where ``loss`` is the plain binary log loss (``gamma=0``, ``alpha=None``, no
        asymmetric loss) and every metric has a LightGBM equivalent, train with LightGBM's
        own ``binary`` objective and metrics (no Python call per round; the same trees,
        tested): the tuner's log-loss arm.

    Returns
    -------
    Trained
        The booster (cut to the best round under early stopping, unless kept for
        training), the rounds run and the history under gbfocal's metric names.
    """
    params = dict(params)
    plain = _log_loss_metrics(loss, metrics) if builtin_log_loss else None
    if plain is not None:
        return _train_log_loss(lgb, params, loss, train_set, valid_sets, [str(m) for m in metrics],
                               plain,
                               rounds=rounds,
                               valid_names=valid_names, early_stopping_rounds=early_stopping_rounds,
                               verbose_period=verbose_period, callbacks=callbacks,
                               init_model=init_model,
                               keep_training_booster=keep_training_booster)
    # Under a callable objective LightGBM returns raw margins and its built-in
    # probability metrics would be wrong: only gbfocal's metrics are evaluated, or
    # LightGBM's own rank metrics, which raw margins leave right.
    params["objective"] = loss.lgb_objective
    builtin = _builtin_metric(metrics, builtin_metrics and loss.binary)
    params["metric"] = "None" if builtin is None else BUILTIN_METRICS[builtin]
    if not loss.binary:  # one score column per class (two for a two-class softmax too)
        params["num_class"] = loss.n_classes
    history: dict[str, Any] = {}
    own: list[Any] = [lgb.record_evaluation(history)]
    if train_set.init_score is not None:
        own.append(ForgetInitScoreCopies())
    if early_stopping_rounds is not None:
        own.append(lgb.early_stopping(early_stopping_rounds, first_metric_only=True,
                                      verbose=bool(verbose_period)))
    if verbose_period and valid_sets:
        own.append(lgb.log_evaluation(period=verbose_period))
    feval = [loss.lgb_eval(metric) if isinstance(metric, str)
             else LightGBMCallableMetric(metric, loss)
             for metric in metrics[builtin is not None:]]
    booster = lgb.train(
        params, train_set, num_boost_round=rounds, valid_sets=list(valid_sets),
        valid_names=list(valid_names), feval=feval if valid_sets else None,
        callbacks=own + list(callbacks), init_model=init_model,
        keep_training_booster=keep_training_booster,
    )
    if builtin is not None:  # LightGBM's name of the built-in metric -> gbfocal's
        history = {
            name: {(builtin if key == BUILTIN_METRICS[builtin] else key): values
                   for key, values in per_metric.items()}
            for name, per_metric in history.items()
        }
    # lgb.train has already cut the model to the best round under early stopping
    # (unless it keeps the training booster).
    first_round = 0 if init_model is None else init_model.current_iteration()
    rounds_run = (first_round + history_length(history) if history
                  else booster.current_iteration())
    return Trained(booster, int(rounds_run), history)


def _log_loss_metrics(loss: Any, metrics: Sequence[Any]) -> list[str] | None:
    """LightGBM's names of ``metrics`` when ``loss`` is the plain log loss and LightGBM has
    all of them; None otherwise (then the focal objective trains)."""
    spec = loss.spec
    if not loss.binary or spec.gamma != 0.0 or spec.alpha is not None or spec.asymmetric:
        return None
    if not all(isinstance(m, str) and m in _LOG_LOSS_METRICS for m in metrics):
        return None
    return [_LOG_LOSS_METRICS[m] for m in metrics]


def _train_log_loss(lgb: Any, params: dict[str, Any], loss: Any, train_set: Any,
                    valid_sets: Sequence[Any], metrics: list[str], names: list[str], *,
                    rounds: int,
                    valid_names: Sequence[str], early_stopping_rounds: int | None,
                    verbose_period: int, callbacks: Sequence[Any], init_model: Any,
                    keep_training_booster: bool) -> Trained:
    """:func:`train` with LightGBM's own log loss objective and metrics.

    The initial score (the log-odds of the weighted class shares, the focal optimum at
    ``gamma=0``) stays on the Datasets, so LightGBM does not boost from its own average.
    """
    params["objective"] = "binary"
    params["metric"] = list(dict.fromkeys(names)) or "None"
    history: dict[str, Any] = {}
    own: list[Any] = [lgb.record_evaluation(history)]
    if early_stopping_rounds is not None:
        own.append(lgb.early_stopping(early_stopping_rounds, first_metric_only=True,
                                      verbose=bool(verbose_period)))
    if verbose_period and valid_sets:
        own.append(lgb.log_evaluation(period=verbose_period))
    booster = lgb.train(
        params, train_set, num_boost_round=rounds, valid_sets=list(valid_sets),
        valid_names=list(valid_names), callbacks=own + list(callbacks), init_model=init_model,
        keep_training_booster=keep_training_booster,
    )
    gbfocal_name = dict(zip(reversed(names), reversed(metrics), strict=True))  # first wins
    history = {name: {gbfocal_name.get(key, key): values for key, values in per_metric.items()}
               for name, per_metric in history.items()}
    first_round = 0 if init_model is None else init_model.current_iteration()
    rounds_run = (first_round + history_length(history) if history
                  else booster.current_iteration())
    return Trained(booster, int(rounds_run), history)


def with_init_score(lgb: Any, booster: Any, start: Any) -> Any:
    """``booster`` with the initial score folded into its first round's trees.

    The model file is then self-contained: LightGBM alone predicts the margins the
    estimator predicts.
    """
    folded = lgb.Booster(
        model_str=fold_init_score_text(booster.model_to_string(num_iteration=-1), start))
    folded.best_iteration, folded.best_score = booster.best_iteration, booster.best_score
    return folded


_FOLDED_LINES = ("leaf_value", "internal_value", "leaf_const")


def fold_init_score_text(model_str: str, init_score: Any) -> str:
    """A LightGBM model string with ``init_score`` added to the first round's trees.

    What LightGBM does itself with ``boost_from_average`` (``Tree::AddBias``): the value
    of class ``k`` is added to every leaf value, internal value and (linear trees) leaf
    constant of tree ``k``; ``tree_sizes`` in the header follows the edited lengths.
    Numbers are written with ``repr`` (shortest round trip), which LightGBM parses exactly.
    """
    init = np.atleast_1d(np.asarray(init_score, dtype=np.float64))
    head, marker, rest = model_str.partition("\nTree=0\n")
    end = rest.find("\nend of trees")
    if not marker or end < 0:
        raise RuntimeError("unexpected LightGBM model string: no 'Tree=0' ... 'end of trees'")
    trees_text, tail = "Tree=0\n" + rest[: end + 1], rest[end + 1:]
    blocks = re.split(r"(?m)^(?=Tree=\d+$)", trees_text)[1:]
    if len(blocks) < init.size:
        raise RuntimeError(f"the LightGBM model has {len(blocks)} trees, fewer than one "
                           f"round of {init.size}")
    old_sizes = [len(block.encode()) for block in blocks]
    for k, value in enumerate(init):
        if not blocks[k].startswith(f"Tree={k}\n"):
            raise RuntimeError(f"unexpected LightGBM model string: tree {k} is out of order")
        lines = blocks[k].split("\n")
        for i, line in enumerate(lines):
            key, equals, numbers = line.partition("=")
            if equals and key in _FOLDED_LINES and numbers.strip():
                lines[i] = key + "=" + " ".join(
                    repr(float(number) + float(value)) for number in numbers.split()
                )
        blocks[k] = "\n".join(lines)
    head_lines = head.split("\n")
    for i, line in enumerate(head_lines):
        if line.startswith("tree_sizes="):
            if [int(size) for size in line[len("tree_sizes="):].split()] != old_sizes:
                raise RuntimeError("unexpected LightGBM model string: tree_sizes do not match")
            head_lines[i] = "tree_sizes=" + " ".join(str(len(b.encode())) for b in blocks)
    return "\n".join(head_lines) + "\n" + "".join(blocks) + tail
