""":func:`tune_focal`: two arms tuned alike, compared on rows neither saw, the better refit."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _validation as v
from . import _inputs as inputs
from . import _multilabel as multilabel
from . import _space as space
from ._compare import Comparison, Part, compare_arms, comparison_splits, verdict
from ._objective import Objective, best_params, fold_runner, make_splits
from ._study import Studies, fingerprint, search_definition

if TYPE_CHECKING:  # pragma: no cover - typing only
    import optuna

__all__ = ["ArmResult", "TuningResult", "tune_focal"]

ARMS = ("focal", "log_loss")
_COMPARE = ("holdout", "nested")
_SELECT = ("auto", "focal", "log_loss")
_DEFAULT_HOLDOUT_SIZE = 0.2
_DEFAULT_OUTER_CV = 3


@dataclass
class ArmResult:
    """One arm's search: the focal loss, or the plain log loss (``gamma=0``, ``alpha=None``).

    Attributes
    ----------
    best_params : dict
        The arm's best trial as estimator parameters (see :attr:`TuningResult.best_params`).
    best_score : float
        Its mean cross-validated score, on the folds that chose it (optimistic).
    best_fold_scores : list of float or None
        Its score on each fold.
    study : optuna.Study
        The arm's study (of the final search).
    """

    best_params: dict[str, Any]
    best_score: float
    best_fold_scores: list[float] | None
    study: optuna.Study = field(repr=False)


@dataclass
class TuningResult:
    """What :func:`tune_focal` found, and which model it returns.

    Attributes
    ----------
    best_params : dict
        The returned model's parameters (the arm in ``selected``): ``alpha`` (a float,
        ``"balanced"``, ``None`` or per-class weights), ``gamma``, ``n_estimators`` (mean
        of the early-stopping rounds over the best trial's folds) and every other searched
        or fixed booster parameter; ``FocalLGBMClassifier(**best_params)`` fitted on the
        original labels is that model (up to ``random_state``). The log-loss arm's are
        ``gamma=0.0, alpha=None``. When ``pos_label`` is the smaller of two labels a
        float alpha is reported as the weights ``[alpha, 1 - alpha]`` in label order (see
        :func:`tune_focal`).
    best_score : float
        Mean cross-validated score of the selected arm's best trial, on the folds that
        chose it: optimistic (the winner's curse); ``comparison`` holds the honest scores.
    study : optuna.Study
        The focal arm's study (``arms`` holds both), for plots
        (``optuna.visualization``), ``trials_dataframe()`` or resuming.
    best_estimator : FocalLGBMClassifier, FocalXGBClassifier, FocalMultiLabelClassifier or None
        The selected arm refit on all rows of ``X`` with ``best_params``; ``None`` when
        ``refit=False``.
    scoring : str
        Name of the score (``__qualname__`` or ``repr`` of a callable scorer).
    backend : str
        ``"lightgbm"`` or ``"xgboost"``.
    pos_label : label or None
        The class that was scored as positive (binary targets); ``None`` otherwise.
    best_fold_scores : list of float or None
        The selected arm's best trial's score on each search fold.
    verdict : {"focal", "log_loss", "no_difference"} or None
        From ``comparison``: ``"focal"`` only when the interval of the difference lies
        above 0, ``"log_loss"`` only when it lies below 0; None without a comparison
        (``compare=None`` or ``baseline=False``).
    comparison : Comparison or None
        Both arms scored on rows neither search saw: the metric, each arm's score, the
        difference (focal - log loss), its 95 % interval, the method and the number of
        rows (:class:`~gbfocal.tuning.Comparison`); None with ``compare=None``.
    selected : {"focal", "log_loss"}
        The arm that ``best_params``, ``best_score`` and ``best_estimator`` describe.
    arms : dict of str to ArmResult
        ``"focal"`` and (unless ``baseline=False``) ``"log_loss"``: each arm's best
        parameters, cross-validated score, fold scores and study.
    baseline_score : float or None
        The log-loss arm's best cross-validated score; ``None`` when ``baseline=False``.
    baseline_fold_scores : list of float or None
        The log-loss arm's best trial's score on each fold.
    fold_differences : list of float or None
        Focal arm minus log-loss arm, fold by fold, on the search folds. Biased: each
        arm's best trial was chosen on these very folds, and the arm with the larger
        search space (focal) gains more from that choice; read ``verdict`` instead.
    """

    best_params: dict[str, Any]
    best_score: float
    study: optuna.Study = field(repr=False)
    best_estimator: Any = field(default=None, repr=False)
    scoring: str = "average_precision"
    backend: str = "lightgbm"
    pos_label: Any = None
    best_fold_scores: list[float] | None = None
    verdict: str | None = None
    comparison: Comparison | None = None
    selected: str = "focal"
    arms: dict[str, ArmResult] = field(default_factory=dict, repr=False)
    baseline_score: float | None = None
    baseline_fold_scores: list[float] | None = None
    fold_differences: list[float] | None = None


def _import_optional(module: str, *, needed_by: str) -> Any:
    from .._optional import import_optional

    return import_optional(module, needed_by=needed_by)


def _import_optuna() -> Any:
    return _import_optional("optuna", needed_by="gbfocal.tune_focal")


# what the progress messages call each arm
_ARM_TITLES = {"focal": "focal-loss arm", "log_loss": "log-loss arm (gamma=0, alpha=None)"}
# a default pos_label that holds at least this share of the rows is warned about
_MAJORITY_SHARE = 0.6


def _quiet(message: str) -> None:
    """The progress callback of ``progress=None``: says nothing."""


def _warn_if_majority_scored(target: _Target, pos_label: Any) -> None:
    """Warn when the class scored by default (the larger label) is the clear majority.

    Average precision and F1 of a majority class say little about the rare class that
    imbalanced data is usually about; a ``pos_label`` passed explicitly is never warned.
    """
    if pos_label is not None or not target.binary or target.multilabel:
        return
    share = float(np.mean(target.index == 1))
    if share >= _MAJORITY_SHARE:
        others = [label for label in np.unique(target.y).tolist() if label != target.pos_label]
        warnings.warn(
            f"tune_focal scores the class {target.pos_label!r} (the larger label, the default "
            f"pos_label), which holds {share:.1%} of the rows: scorers with a positive class "
            f"(average precision, F1, ...) then measure the majority class. Pass "
            f"pos_label={others[0]!r} to score the minority class, or pos_label="
            f"{target.pos_label!r} to keep this choice without this warning",
            UserWarning, stacklevel=3)


# --------------------------------------------------------------------- the arguments
def _comparison_settings(compare: Any, holdout_size: Any, outer_cv: Any,
                         select: Any, baseline: bool) -> tuple[str | None, float | int | None]:
    """``(compare, its size)``: the holdout share or the number of outer folds."""
    if compare is not None and compare not in _COMPARE:
        raise ValueError(f"compare must be one of {_COMPARE} or None, got {compare!r}")
    if select not in _SELECT:
        raise ValueError(f"select must be one of {_SELECT}, got {select!r}")
    if holdout_size is not None and compare != "holdout":
        raise ValueError(f"holdout_size={holdout_size!r} is only used with compare='holdout', "
                         f"not compare={compare!r}")
    if outer_cv is not None and compare != "nested":
        raise ValueError(f"outer_cv={outer_cv!r} is only used with compare='nested', not "
                         f"compare={compare!r}")
    if not baseline and select == "log_loss":
        raise ValueError("select='log_loss' needs the log-loss arm: baseline=False skips it")
    if baseline and compare is None and select == "auto":
        raise ValueError(
            "select='auto' returns the arm that wins on rows neither search saw; with "
            "compare=None there is no such comparison. Pass compare='holdout' (default) or "
            "'nested', or choose the arm yourself: select='focal' or select='log_loss'"
        )
    if compare == "holdout":
        size = _DEFAULT_HOLDOUT_SIZE if holdout_size is None else holdout_size
        if isinstance(size, bool) or not isinstance(size, numbers.Real) \
                or not 0 < float(size) < 1:
            raise ValueError(f"holdout_size must be a share in (0, 1), got {holdout_size!r}")
        return compare, float(size)
    if compare == "nested":
        folds = _DEFAULT_OUTER_CV if outer_cv is None else outer_cv
        return compare, inputs.check_positive_int(folds, "outer_cv", minimum=2)
    return None, None


def _check_data(X: Any, n_samples: int) -> Any:
    if not hasattr(X, "shape") or len(X.shape) != 2:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] != n_samples:
        raise ValueError(f"X has {X.shape[0]} rows but y has {n_samples} labels")
    return X


@dataclass
class _Target:
    """The labels as the folds see them, and how to split them."""

    y: np.ndarray  # the original labels (a multi-label matrix as floats)
    index: np.ndarray  # fold labels: class indices, pos_label = 1 (the matrix for multi-label)
    pos_label: Any
    swapped: bool
    binary: bool
    known: Callable[[np.ndarray], np.ndarray] | None  # multi-label: the known entries

    @property
    def multilabel(self) -> bool:
        return self.known is not None

    def check_counts(self, rows: np.ndarray | None, cv: int, val_fraction: float | None,
                     where: str) -> None:
        """Enough rows of every class (label) in ``rows`` for the search's folds."""
        y = self.index if rows is None else self.index[rows]
        try:
            if self.known is None:
                inputs.check_class_counts(y, cv, val_fraction)
            else:
                multilabel.check_label_counts(y, self.known(y), cv, val_fraction)
        except ValueError as exc:
            raise ValueError(f"{exc} ({where})" if where else str(exc)) from None

    def splits(self, cv: int, val_fraction: float | None, seed: int,
               rows: np.ndarray | None) -> list[tuple[np.ndarray, np.ndarray | None, np.ndarray]]:
        if self.known is None:
            return make_splits(self.index, cv, val_fraction, seed, rows)
        return multilabel.make_splits(self.index, self.known(self.index), cv, val_fraction,
                                      seed, rows)

    def comparison_splits(self, method: str, size: float | int,
                          seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
        if self.known is None:
            return comparison_splits(self.index, method, size, seed)
        return multilabel.comparison_splits(self.index, self.known(self.index), method, size,
                                            seed)

    def early_stopping_split(self, rows: np.ndarray, val_fraction: float | None,
                             seed: int) -> tuple[np.ndarray, np.ndarray | None]:
        """``rows`` split for the early stopping of an evaluation refit, as in the trials."""
        if val_fraction is None:
            return rows, None
        from sklearn.model_selection import train_test_split

        if self.known is None:
            fit, val = train_test_split(rows, test_size=val_fraction,
                                        stratify=self.index[rows], random_state=seed)
        else:
            fit, val = train_test_split(rows, test_size=val_fraction, random_state=seed)
            multilabel.check_parts(self.index, self.known(self.index),
                                   {"training": fit, "validation": val},
                                   "the early-stopping split of the search rows",
                                   "Use another random_state or drop the rarest labels.")
        return np.sort(fit), np.sort(val)


def _target(y: Any, pos_label: Any, params: Mapping[str, Any] | None) -> _Target:
    y_array = inputs.targets(y)
    if y_array.ndim == 2:
        if pos_label is not None:
            raise ValueError(f"pos_label={pos_label!r} is only defined for binary targets; y is "
                             "multi-label (n_samples, n_labels): every label's positive class is 1")
        marker = (params or {}).get("missing_label", -1)
        return _Target(y=y_array, index=y_array, pos_label=None, swapped=False, binary=True,
                       known=lambda Y: multilabel.known_mask(Y, marker))
    classes = inputs.check_class_counts(y_array, 2, None)
    binary = classes.size == 2
    pos_label, swapped = inputs.resolve_pos_label(classes, pos_label, binary=binary)
    # Folds train and score on class indices so that scorers with a positive class
    # (average_precision, f1, ...) score pos_label (index 1) for any label type, and a float
    # alpha weights it; best_estimator is refit on the original labels.
    index = np.searchsorted(classes, y_array)
    if swapped:
        index = 1 - index
    return _Target(y=y_array, index=index, pos_label=pos_label, swapped=swapped, binary=binary,
                   known=None)


# ------------------------------------------------------------------------ the searches
@dataclass
class _Arm:
    """One arm of one search: its objective (search space) and study."""

    objective: Objective
    study: Any


class _Count:
    """An Optuna callback: the trials this process finished (others may share the study)."""

    def __init__(self) -> None:
        self.trials = 0

    def __call__(self, study: Any, trial: Any) -> None:
        self.trials += 1


def _run_search(arms: dict[str, _Arm], *, n_trials: int | None, timeout: float | None,
                n_parallel: int, show_progress_bar: bool, optuna: Any,
                progress: Callable[[str], None]) -> None:
    """The focal arm's trials, then as many of the log-loss arm's (same timeout).

    An arm with nothing to search (fixed alpha and gamma, no booster range) runs one
    trial: the others would train the very same models on the same folds.
    """
    budget = n_trials
    for name, arm in arms.items():
        ran = _Count()
        complete = (optuna.trial.TrialState.COMPLETE,)
        if arm.objective.searches or not arm.study.get_trials(deepcopy=False, states=complete):
            trials = budget if arm.objective.searches else 1
            what = (f"{trials} trial{'s' if trials != 1 else ''}" if trials is not None
                    else "trials until the timeout")
            why = (" (nothing to search)" if not arm.objective.searches
                   else " (the focal arm's budget)" if name == "log_loss" else "")
            progress(f"{_ARM_TITLES[name]}: {what}{why}")
            arm.study.optimize(arm.objective, n_trials=budget if arm.objective.searches else 1,
                               timeout=timeout, n_jobs=n_parallel, callbacks=[ran],
                               show_progress_bar=show_progress_bar)
        if not arm.study.get_trials(deepcopy=False, states=complete):
            raise RuntimeError(
                f"no trial of the {name.replace('_', '-')} arm completed (all pruned or "
                "stopped by the timeout): raise n_trials/timeout"
            )
        if name == "focal" and arm.objective.searches:
            budget = ran.trials  # the same budget for the log-loss arm


def _evaluation_part(arms: dict[str, _Arm], target: _Target, search: np.ndarray,
                     held: np.ndarray, val_fraction: float | None, seed: int) -> Part:
    """Each arm's best trial refit on the search rows, as the evaluation part's models."""
    from ._inputs import rows as take_rows

    fit, val = target.early_stopping_split(search, val_fraction, seed)
    estimators = {}
    for name, arm in arms.items():
        params = arm.objective.trial_params(arm.study.best_trial)
        estimators[name] = arm.objective.fit_rows(params, fit, val)
    objective = next(iter(arms.values())).objective
    weight = None if objective.sample_weight is None else objective.sample_weight[held]
    return Part(X_eval=take_rows(objective.X, held), y=target.index[held],
                sample_weight=weight, estimators=estimators)


def _arm_result(arm: _Arm, target: _Target) -> ArmResult:
    best = arm.study.best_trial
    folds = best.user_attrs.get("fold_scores")
    return ArmResult(
        best_params=best_params(best, arm.objective, target.swapped),
        best_score=float(best.value), study=arm.study,
        best_fold_scores=None if folds is None else [float(s) for s in folds],
    )


def tune_focal(
    X: Any,
    y: Any,
    *,
    backend: str = "lightgbm",
    n_trials: int | None = 50,
    cv: int = 5,
    scoring: str | Callable = "average_precision",
    pos_label: Any = None,
    alpha: Any = "auto",
    gamma: Any = (0.0, 5.0),
    params: Mapping[str, Any] | None = None,
    sample_weight: Any = None,
    early_stopping_rounds: int | None = 50,
    early_stopping_metric: str | None = None,
    validation_fraction: float = 0.2,
    timeout: float | None = None,
    random_state: int | None = None,
    study: optuna.Study | None = None,
    storage: str | Any = None,
    study_name: str | None = None,
    refit: bool = True,
    baseline: bool = True,
    compare: str | None = "holdout",
    holdout_size: float | None = None,
    outer_cv: int | None = None,
    select: str = "auto",
    n_jobs: int = 1,
    show_progress_bar: bool = True,
    progress: Callable[[str], None] | None = None,
) -> TuningResult:
    """Tune the focal loss, tune log loss alike, compare them honestly, return the better.

    Two arms are searched with the same budget: the focal arm (``alpha``, ``gamma`` and
    the booster parameters) and the log-loss arm (``gamma=0``, ``alpha=None``, the same
    booster space), with the same number of trials, sampler seed, folds, early stopping
    and pruner. Every trial trains one estimator per stratified CV fold, early-stops it on
    a stratified validation split of the training fold, and scores it on the held-out fold
    with a score that does not depend on ``gamma``. Then both arms' best parameters are
    scored on rows neither search saw (a holdout set aside before any tuning, or the
    outer folds of a nested CV), with a 95 % interval of the difference, and the arm that
    the verdict favours is refit on all rows: focal loss only when it is better beyond
    noise, else the simpler, natively calibrated log loss.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_samples, n_features)
        Features. A pandas DataFrame is passed to the estimators as it is, never converted
        to float: its ``category`` columns reach LightGBM as categorical features and
        XGBoost with ``enable_categorical``. The folds take its rows by position
        (``.iloc``), whatever its index.
    y : array-like of shape (n_samples,) or (n_samples, n_labels)
        Class labels (binary or multiclass, any label type), or a multi-label 0/1 indicator
        matrix (dense, sparse or bool; unknown entries marked with
        ``params["missing_label"]``, default -1): then the estimator is
        :class:`~gbfocal.FocalMultiLabelClassifier` with ``backend``, the folds, the holdout
        and the outer folds are shuffled ``KFold`` splits (every label must keep positive
        and negative known rows in every part, else ValueError), ``scoring`` is one of
        "average_precision", "roc_auc", "neg_log_loss" (macro averages over the labels of
        the per-label score on their known rows) or a callable ``scorer(estimator, X, Y)``,
        a float ``alpha`` is the positives' weight of every label, and
        ``best_params["n_estimators"]`` is the mean over folds and labels of the
        early-stopped rounds.
    backend : {"lightgbm", "xgboost"}, default="lightgbm"
        :class:`~gbfocal.FocalLGBMClassifier` or :class:`~gbfocal.FocalXGBClassifier`.
    n_trials : int or None, default=50
        Trials to run now in each arm (added to those already in a resumed study). ``None``
        runs the focal arm until ``timeout``, then the log-loss arm for as many trials.
    cv : int, default=5
        Number of stratified folds of each search (>= 2).
    scoring : str or callable, default="average_precision"
        A scikit-learn scorer name ("average_precision", "roc_auc", "neg_log_loss", "f1", ...)
        or a callable ``scorer(estimator, X, y[, sample_weight=])``; higher is better.
        Inside the folds labels are class indices: for binary targets 1 is ``pos_label``
        and 0 the other label, for multiclass targets 0..K-1 in sorted label order.
        ``"focal_loss"`` is rejected: its values are not comparable across ``gamma``. A
        callable scorer that reads ``X`` itself (not through the estimator's ``predict``,
        ``predict_proba`` or ``decision_function``) cannot be resampled for the verdict's
        interval: there ``X`` is a column of row positions.
    pos_label : label, optional
        Binary targets only: the class that scorers with a positive class (average
        precision, f1, ...) score, and whose weight a float ``alpha`` is. Default: the larger
        label (scikit-learn's ``classes_[1]``), e.g. ``"yes"`` of ``"no"``/``"yes"`` but
        ``"legit"`` of ``"fraud"``/``"legit"``: pass ``pos_label="fraud"`` there. When the
        default class holds 60 % of the rows or more, a ``UserWarning`` says so and names
        the minority class to pass (the command line scores the minority class by
        default); an explicit ``pos_label`` is never warned about.
    alpha : "auto", value, (low, high), list or optuna distribution, default="auto"
        The focal arm's alpha search space:

        * ``"auto"``: binary targets search ``[(0.05, 0.95), "balanced", None]``, multiclass
          targets ``["balanced", None]``;
        * ``(low, high)`` or ``(low, high, "log")``: a float range inside [0, 1] (binary);
        * a list of choices, each ``"balanced"``, ``None``, a float, or at most one
          ``(low, high)`` range: a categorical trial parameter ``alpha_choice`` picks one and,
          for the range, the float trial parameter ``alpha`` is sampled;
        * ``None``, ``"balanced"``, a float or a NumPy array of per-class weights (in sorted
          label order): fixed;
        * an ``optuna.distributions`` Float- or CategoricalDistribution.

        A float alpha is the weight of ``pos_label`` (the other class gets ``1 - alpha``),
        for any label type. The estimators weight their ``classes_[1]`` by a float alpha, so
        when ``pos_label`` is the smaller label the folds train on labels where it is class 1,
        and ``best_params`` reports the float as the vector ``[alpha, 1 - alpha]`` (weights in
        sorted label order), which the estimators read the same way on the original labels;
        the trial parameter ``alpha`` keeps the weight of ``pos_label``.
    gamma : (low, high), float, list or optuna distribution, default=(0.0, 5.0)
        The focal arm's gamma search space: a range (``(low, high, "log")`` needs
        ``low > 0``), a fixed float, or a list of choices.
    params : dict, optional
        Booster parameters of the estimator, searched alike in both arms. A value
        ``(low, high)`` or ``(low, high, "log")`` is searched (integers when both bounds
        are ints), a list is a categorical choice, an ``optuna.distributions`` object is
        used as is, anything else is fixed. Example: ``{"learning_rate": (0.01, 0.3,
        "log"), "num_leaves": (8, 64), "n_estimators": 500}``. ``n_estimators`` (fixed or
        searched) is the most rounds a fold may use before early stopping;
        ``best_params["n_estimators"]`` is the rounds early stopping kept. The asymmetric
        loss's ``gamma_neg`` and ``clip`` are searched in the focal arm only (the log-loss
        arm has ``gamma_neg=None, clip=0``).
    sample_weight : array-like of shape (n_samples,), optional
        Used for training, early stopping, scoring and the comparison.
    early_stopping_rounds : int or None, default=50
        Stop a fold when the validation score has not improved for this many rounds. ``None``
        trains every fold for ``n_estimators`` rounds (no validation split).
    early_stopping_metric : {"average_precision", "roc_auc", "log_loss", "focal_loss"}, optional
        Validation metric for early stopping. Default: the one matching ``scoring``
        (``average_precision`` for scorers without a counterpart). Not log loss by default:
        focal loss worsens log loss by design, so stopping on it cuts focal models short.
    validation_fraction : float, default=0.2
        Share of each training fold held out for early stopping.
    timeout : float, optional
        Stop starting new trials of an arm after this many seconds.
    random_state : int, optional
        Seeds the holdout, the folds, both arms' TPE samplers, the bootstrap and the
        boosters: the same value gives the same trials, verdict and best parameters
        (trials run one at a time). ``None`` draws a seed for the folds once (saved in the
        study, so a resumed study keeps its folds and holdout).
    study : optuna.Study, optional
        An existing study (``direction="maximize"``) of the focal arm, e.g. with your own
        sampler or pruner; the other studies (``<study_name>.log_loss``, and
        ``<study_name>.outer<i>[.log_loss]`` for nested folds) are created in its storage
        with copies of its sampler (as it was before this search) and pruner. Default: new
        studies with ``TPESampler(seed=random_state)`` and ``PercentilePruner(75,
        n_startup_trials=10, n_warmup_steps=1)``, which stops only clearly bad trials:
        once 10 trials have completed, a trial whose best running mean score so far is in
        the bottom quarter of the completed trials at the same fold is stopped, from the
        second fold on and never after the last one (with ``cv=2`` no trial is pruned).
        Note that Optuna's ``PercentilePruner(p)`` in a maximised study *keeps* the top
        ``p`` percent.
    storage : str or optuna storage, optional
        E.g. ``"sqlite:///tuning.db"`` or an ``optuna.storages.JournalStorage``; the
        studies are created or, when they exist, resumed. Several processes (or machines,
        with an RDB server) may run the same search at once: each adds its trials to both
        arms (pass the same ``random_state`` everywhere, it fixes the folds and the
        holdout).
    study_name : str, optional
        Name of the focal arm's study in ``storage`` (default ``"gbfocal"`` when a storage
        is given); the log-loss arm's is ``<study_name>.log_loss``.
    refit : bool, default=True
        Refit ``best_estimator`` (the selected arm) on all rows with its best parameters
        and rounds.
    baseline : bool, default=True
        Tune the log-loss arm. ``False`` skips it: no verdict, the focal arm is returned
        (with ``compare`` set, its score on the unseen rows is still reported).
    compare : {"holdout", "nested"} or None, default="holdout"
        Where both arms are scored for the verdict. ``"holdout"``: a stratified share
        ``holdout_size`` of the rows is set aside before any tuning and never used by
        either search; each arm's best parameters are refit on the other rows
        (early-stopped on a stratified ``validation_fraction`` of them, as in the trials)
        and scored on the holdout. ``"nested"``: for small data; ``outer_cv`` stratified
        outer folds, both searches run inside each, each arm's best refit on the fold's
        search rows and scored on its test rows; the scores are averaged over the folds,
        then both arms are searched once more on all rows for the returned model (costs
        ``outer_cv + 1`` searches per arm). ``None``: no comparison (the searches use all
        rows). The interval: a paired, stratified bootstrap of the evaluation rows, 2,000
        resamples (:mod:`gbfocal.tuning`).
    holdout_size : float, optional
        Share of the rows held out with ``compare="holdout"`` (default 0.2).
    outer_cv : int, optional
        Outer folds with ``compare="nested"`` (default 3).
    select : {"auto", "focal", "log_loss"}, default="auto"
        The arm returned as ``best_params`` / ``best_estimator``: ``"auto"`` the one the
        verdict favours, and the log-loss arm on ``"no_difference"`` (simpler, natively
        calibrated); ``"focal"`` or ``"log_loss"`` always that arm. ``"auto"`` needs a
        comparison (or ``baseline=False``, where the focal arm is the only one).
    n_jobs : int, default=1
        Trials run at once (-1: one per core this process may use, its CPU affinity).
        Optuna runs them in threads of this process (sampling, pruning and the study stay
        here); one fold fit at a time runs here, the others on ``n_jobs - 1`` worker
        processes (joblib's loky) shared by both arms, because the boosting rounds' Python
        holds the GIL and threads alone queue behind it. X, y, sample_weight and the scorer
        are pickled once per search (cloudpickle: a lambda scorer works); the workers stay
        for 5 minutes after a search so that the next one skips their start-up (about 2 s
        of imports), or until :func:`shutdown_workers`. Unless ``params`` fixes ``n_jobs``
        (the booster's threads), every fit (folds, evaluation refits and refit, and the
        workers' fits) runs its booster and gbfocal's gradient code on one thread, so the
        threads in use never outnumber the cores: OpenMP boosters that share cores
        spin-wait instead of working (on a shared 2-core machine one LightGBM fit with 2
        threads took 2-3x to 40-60x the time of 1 thread while other work ran). A fixed
        ``params["n_jobs"]`` times ``n_jobs`` above the cores is refused. Speed-ups
        measured in ``benchmarks/tuning_speed.md``.
    show_progress_bar : bool, default=True
        Optuna's tqdm progress bar (one per arm and search).
    progress : callable, optional
        Called with one line of text as each stage starts: each arm's trials, the
        evaluation refits and the bootstrap of the comparison, the refit on all rows (what
        runs after the trials' progress bar, which can take as long as a few trials). The
        command line prints them on stderr. Default: silent.

    Returns
    -------
    TuningResult
        The selected arm's ``best_params``, ``best_score`` and ``best_estimator``, the
        ``verdict`` and its ``comparison``, both ``arms``, ``pos_label`` and the in-sample
        baseline fields.

    Raises
    ------
    ValueError
        Unknown backend, scoring, ``pos_label``, ``compare`` or ``select``,
        ``scoring="focal_loss"``, bad ranges, a class with too few samples for the
        holdout and the folds, a storage that cannot be opened, or a resumed study whose
        saved search differs (the message names each changed setting, saved and new
        value).
    ImportError
        Optuna (``pip install gbfocal[tune]``) or the backend library is missing.

    Notes
    -----
    The refit model uses ``n_estimators`` = the mean early-stopping rounds of the selected
    arm's best trial's folds, trained on all rows (without early stopping).

    Each study saves its whole search definition in its user attribute
    ``gbfocal_settings``: backend, scoring, cv, early-stopping rounds, metric and validation
    fraction, ``pos_label``, a fingerprint of ``X``, ``y`` and ``sample_weight`` (of a
    DataFrame: its column names, dtypes and values, for ``category`` columns the categories
    and codes, not its index), the comparison and the part of the rows it searches, its
    arm's alpha and gamma spaces and every searched range or fixed value of ``params``,
    plus the fold seed. Resuming with any of them changed raises ``ValueError``: old
    trials would be scored on other folds or labels, or ``best_params`` would describe a
    model that was never trained. Only ``n_jobs``, ``verbose`` and ``importance_type`` may
    change. A trial left ``RUNNING`` by a process that died stays so in an RDB storage
    unless Optuna's heartbeat is enabled on it (``RDBStorage(url,
    heartbeat_interval=60)``): its stale trials are then marked failed.

    Reproducibility: with ``n_jobs=1``, the same ``random_state`` gives the same trials,
    scores, verdict and ``best_params`` (tested; a fixed ``params["n_jobs"]`` keeps it so
    only where the library trains the same trees on that many threads). With ``n_jobs > 1``
    the folds and the score of given parameters stay the same, but which parameters the
    sampler proposes depends on the order in which parallel trials finish (Optuna's
    ``TPESampler`` is reproducible only sequentially).

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from gbfocal.tuning import tune_focal
    >>> X, y = make_classification(n_samples=300, weights=[0.8], random_state=0)
    >>> result = tune_focal(X, y, n_trials=2, cv=2, random_state=0, show_progress_bar=False,
    ...                     params={"n_estimators": 20, "n_jobs": 1})
    >>> result.verdict in ("focal", "log_loss", "no_difference")
    True
    >>> result.selected == ("focal" if result.verdict == "focal" else "log_loss")
    True
    >>> sorted(result.arms)
    ['focal', 'log_loss']
    """
    optuna = _import_optuna()
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable taking one str, or None, got "
                        f"{progress!r}")
    notify = _quiet if progress is None else progress
    target = _target(y, pos_label, params)
    estimator_class = inputs.estimator_class(backend, multilabel=target.multilabel)
    # the booster library now, with its install hint, not inside the first trial
    _import_optional(backend, needed_by=f"tune_focal(backend={backend!r})")
    scorer, scoring_name, es_metric = (
        multilabel.resolve_scoring(scoring, early_stopping_metric, inputs.EVAL_METRICS)
        if target.multilabel else inputs.resolve_scoring(scoring, early_stopping_metric))
    n_trials = inputs.check_positive_int(n_trials, "n_trials", allow_none=True)
    if n_trials is None and timeout is None:
        raise ValueError("n_trials=None needs a timeout, otherwise the search never ends")
    if timeout is not None and (not isinstance(timeout, numbers.Real) or not timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    cv = inputs.check_positive_int(cv, "cv", minimum=2)
    early_stopping_rounds = inputs.check_positive_int(
        early_stopping_rounds, "early_stopping_rounds", allow_none=True)
    if isinstance(validation_fraction, bool) or not isinstance(validation_fraction, numbers.Real) \
            or not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must lie in (0, 1), got {validation_fraction!r}")
    if random_state is not None:
        random_state = inputs.check_positive_int(random_state, "random_state", minimum=0)
    n_parallel = inputs.check_n_jobs(n_jobs)
    method, size = _comparison_settings(compare, holdout_size, outer_cv, select, baseline)
    X = _check_data(X, target.y.shape[0])
    weights = v.check_sample_weight(sample_weight, target.y.shape[0])
    val_fraction = None if early_stopping_rounds is None else float(validation_fraction)
    target.check_counts(None, cv, val_fraction, "")
    _warn_if_majority_scored(target, pos_label)

    focal_alpha = space.alpha_space(alpha, binary=target.binary)
    focal_gamma = space.gamma_space(gamma)
    valid_names = list(estimator_class().get_params())
    searched, fixed = space.booster_space(params, valid_names, backend)
    if target.multilabel:
        fixed["backend"] = backend  # one estimator class for both libraries
    fit_threads = inputs.thread_budget(n_parallel, fixed, searched)
    if focal_alpha.is_fixed:
        focal_alpha = replace(focal_alpha, fixed=space.fold_alpha(focal_alpha.fixed,
                                                                 target.swapped))
    spaces = {"focal": (focal_alpha, focal_gamma, searched, fixed)}
    if baseline:
        spaces["log_loss"] = space.log_loss_space(searched, fixed)

    settings = {
        "backend": backend, "scoring": scoring_name, "cv": cv,
        "early_stopping_rounds": early_stopping_rounds, "early_stopping_metric": es_metric,
        "validation_fraction": val_fraction, "pos_label": target.pos_label,
        "data": fingerprint(X, target.y, weights), "compare": method, "compare_size": size,
    }

    def definition(arm: str, part: str) -> dict[str, Any]:
        alpha_space, gamma_space, arm_searched, arm_fixed = spaces[arm]
        return search_definition({**settings, "arm": arm, "rows": part or "search"},
                                 alpha_space=alpha_space, gamma_space=gamma_space,
                                 searched=arm_searched, fixed=arm_fixed)

    studies = Studies(optuna, study=study, storage=storage, study_name=study_name,
                      random_state=random_state)
    # the final search's focal study opens first: it fixes (or restores) the fold seed
    final_studies = {arm: studies.open(arm, "", definition(arm, "")) for arm in spaces}
    seed = studies.seed
    assert seed is not None
    pairs = [] if method is None else target.comparison_splits(method, size, seed)
    base = Objective(
        estimator_class=estimator_class, X=X, y=target.index, sample_weight=weights, splits=[],
        alpha_space=focal_alpha, gamma_space=focal_gamma, searched=searched, fixed=fixed,
        scorer=scorer, early_stopping_metric=es_metric,
        early_stopping_rounds=early_stopping_rounds, random_state=seed,
        named_scorer=isinstance(scoring, str), threads=fit_threads,
    )

    def search(rows: np.ndarray | None, studies_of_part: dict[str, Any],
               held: np.ndarray | None) -> tuple[dict[str, _Arm], Part | None]:
        """Both arms searched on ``rows`` (None: all); their refits scored on ``held``."""
        objective = replace(base, splits=target.splits(cv, val_fraction, seed, rows))
        with fold_runner(objective, n_parallel, fit_threads, fixed):
            arms = {name: _Arm(objective.with_space(*spaces[name]), studies_of_part[name])
                    for name in spaces}
            _run_search(arms, n_trials=n_trials, timeout=timeout, n_parallel=n_parallel,
                        show_progress_bar=show_progress_bar, optuna=optuna, progress=notify)
        part = None
        if held is not None and rows is not None:
            notify(f"refitting each arm's best parameters on the {rows.size} search rows, "
                   f"to score them on the {held.size} rows neither search saw")
            part = _evaluation_part(arms, target, rows, held, val_fraction, seed)
        return arms, part

    parts: list[Part] = []
    if method == "nested":
        for i, (outer_rows, held) in enumerate(pairs):
            target.check_counts(outer_rows, cv, val_fraction, f"in the search rows of outer "
                                f"fold {i} of outer_cv={size}")
            notify(f"nested comparison, outer fold {i + 1} of {size}: both arms searched on "
                   f"{outer_rows.size} rows")
            part_studies = {arm: studies.open(arm, f"outer{i}", definition(arm, f"outer{i}"))
                            for arm in spaces}
            _, part = search(outer_rows, part_studies, held)
            assert part is not None
            parts.append(part)
        notify(f"the final search on all {target.y.shape[0]} rows")
        final_arms, _ = search(None, final_studies, None)
    elif method == "holdout":
        search_rows, held = pairs[0]
        target.check_counts(search_rows, cv, val_fraction,
                            f"after setting aside holdout_size={size}")
        notify(f"searching on {search_rows.size} rows; {held.size} rows held out for the "
               "comparison")
        final_arms, part = search(search_rows, final_studies, held)
        assert part is not None
        parts.append(part)
    else:
        final_arms, _ = search(None, final_studies, None)
    for arm in final_arms.values():
        studies.check_unchanged(arm.study)

    if parts:
        notify("the comparison: both arms scored on the unseen rows, a bootstrap interval "
               "of the difference")
    comparison = None if not parts else compare_arms(
        parts, scorer=scorer, scoring=scoring_name, method=str(method),
        multilabel=target.multilabel, seed=seed, known=target.known,
        named_scorer=isinstance(scoring, str))
    result_verdict = None if comparison is None else verdict(comparison.interval)
    arm_results = {name: _arm_result(arm, target) for name, arm in final_arms.items()}
    selected = select if select != "auto" else (
        "focal" if result_verdict in ("focal", None) else "log_loss")
    chosen = arm_results[selected]
    best_estimator = None
    if refit:
        notify(f"refitting the selected {_ARM_TITLES[selected]} on all {target.y.shape[0]} "
               "rows")
        estimator = final_arms[selected].objective.make_estimator(
            chosen.best_params, early_stopping=False)
        fit_kwargs = {} if weights is None else {"sample_weight": weights}
        best_estimator = estimator.fit(X, target.y, **fit_kwargs)
    focal, plain = arm_results["focal"], arm_results.get("log_loss")
    differences = None
    if plain is not None and focal.best_fold_scores is not None \
            and plain.best_fold_scores is not None \
            and len(focal.best_fold_scores) == len(plain.best_fold_scores):
        differences = [a - b for a, b in zip(focal.best_fold_scores, plain.best_fold_scores,
                                             strict=True)]
    return TuningResult(
        best_params=chosen.best_params, best_score=chosen.best_score, study=focal.study,
        best_estimator=best_estimator, scoring=scoring_name, backend=backend,
        pos_label=target.pos_label, best_fold_scores=chosen.best_fold_scores,
        verdict=result_verdict, comparison=comparison, selected=selected, arms=arm_results,
        baseline_score=None if plain is None else plain.best_score,
        baseline_fold_scores=None if plain is None else plain.best_fold_scores,
        fold_differences=differences,
    )
