"""Multi-label classifier: several independent yes/no labels per row, trained with focal loss.

Typical cases are tagging (which topics does a document have, which objects does an image
show) and attribute prediction: each row has ``L`` binary labels, any number of them may be
on, and some may be unknown. :class:`FocalMultiLabelClassifier` is the scikit-learn
estimator; its loss is :class:`gbfocal.losses.MultiLabelFocalLoss`, one sigmoid focal loss
per label (the binary focal loss, label by label).

scikit-learn is imported at module level (the estimator subclasses its base classes); it
comes with every booster extra (``pip install gbfocal[lightgbm]``).

Layouts
-------
LightGBM keeps one label per row, so the LightGBM backend trains one binary booster per
label, on the rows where that label is known, with :class:`gbfocal.BinaryFocalLoss` and that
label's ``alpha_`` (resolved once, from all the labels, by the multi-label loss). XGBoost
takes an ``(n, L)`` label, so the XGBoost backend trains one booster for all labels with
:class:`~gbfocal.losses.MultiLabelFocalLoss` (``multi_strategy`` chooses one tree per label
per round or vector-leaf trees).

Early stopping follows the layout: each LightGBM booster stops on its own label's metric,
on the validation rows where that label is known; the XGBoost booster stops on the
multi-label metric (macro over labels, or the mean over the known entries).
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from scipy import sparse

from ._optional import raise_install_hint

try:  # the install hint, not a bare ModuleNotFoundError, without scikit-learn
    from sklearn.base import _fit_context
    from sklearn.utils._param_validation import Interval, StrOptions
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:
    raise_install_hint(exc, "gbfocal.multilabel")
    raise

from ._base import (
    BACKEND_OPTIONS,
    RESERVED_BOOSTER_PARAMS,
    FocalEstimator,
    check_weight,
    eval_triples,
)
from ._categories import X_CHECKS
from ._engines import lightgbm as engine_lightgbm
from ._engines import xgboost as engine_xgboost
from ._optional import import_optional
from ._spec import METRICS
from .losses import BinaryFocalLoss, FocalLoss, MultiLabelFocalLoss

__all__ = ["FocalMultiLabelClassifier", "MultiLabelFocalLoss"]

# Booster parameters (main names) the estimator sets itself -> what to use instead,
# checked under every alias of the library.
_RESERVED_PARAMS = {
    "lightgbm": {**RESERVED_BOOSTER_PARAMS["lightgbm"],
                 "num_class": "the labels (one binary booster per label)",
                 "metric": "eval_metric", "early_stopping_round": "early_stopping_rounds"},
    "xgboost": {**RESERVED_BOOSTER_PARAMS["xgboost"], "num_target": "the labels (the width of Y)",
                "tree_method": "nothing (hist is required for an (n, L) label)",
                "eval_metric": "eval_metric", "disable_default_eval_metric": "eval_metric",
                "early_stopping_rounds": "early_stopping_rounds"},
}

# eval_metric="auto": the single-output estimators' binary default, label by label (macro).
_AUTO_METRIC = "average_precision"
# What feature_importances_ reports: the defaults of FocalLGBMClassifier (split counts) and
# FocalXGBClassifier (gain, normalised to sum 1).
_IMPORTANCE_TYPE = {"lightgbm": "split", "xgboost": "gain"}

# The marker of an unknown label inside the training labels handed to the loss and to
# XGBoost (the user's missing_label is translated to it).
UNKNOWN = -1

# A checked validation set: features, labels (n, L) with UNKNOWN, row weights or None.
_EvalSet = tuple[Any, np.ndarray, np.ndarray | None]


def _import(module: str) -> Any:
    return import_optional(module, needed_by=f"FocalMultiLabelClassifier(backend={module!r})")


def as_float_labels(Y: Any) -> np.ndarray:
    """``Y`` (dense, sparse, bool, DataFrame, None-holding object) as a float64 array.

    None becomes NaN, so that ``missing_label=None`` finds it; text is refused, because
    ``"1"`` and ``"yes"`` are not the 0/1 indicator scikit-learn's multi-label API uses.
    """
    if sparse.issparse(Y):
        Y = Y.toarray()
    values = np.asarray(Y)
    if values.dtype.kind in "USO":
        if values.dtype.kind == "O":
            is_none = np.frompyfunc(lambda x: x is None, 1, 1)(values).astype(bool)
            values = np.where(is_none, np.nan, values)
        try:
            return np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                "Y must be a 0/1 indicator matrix (n_samples, n_labels) of numbers or bools, "
                f"got {values.dtype} entries ({exc}); turn label sets into indicators with "
                "sklearn.preprocessing.MultiLabelBinarizer"
            ) from exc
    if values.dtype.kind not in "biuf":
        raise TypeError(f"Y must be a 0/1 indicator matrix of numbers, got dtype {values.dtype}")
    return values.astype(np.float64)


def unknown_entries(values: np.ndarray, marker: Any) -> np.ndarray:
    """Mask of the entries of ``values`` equal to ``marker`` (the estimators'
    ``missing_label``; None / NaN: the NaN entries)."""
    if marker is None or (isinstance(marker, Real) and not isinstance(marker, bool)
                          and np.isnan(float(marker))):
        return np.isnan(values)
    if isinstance(marker, bool) or not isinstance(marker, Real):
        raise TypeError(
            f"missing_label must be a number other than 0 and 1, None or NaN, got "
            f"{marker!r}"
        )
    if marker in (0, 1):
        raise ValueError(
            f"missing_label={marker!r} is a label value (0/1); use e.g. -1 for unknown labels"
        )
    return np.asarray(values == float(marker))


class FocalMultiLabelClassifier(FocalEstimator):
    """Multi-label classifier (several independent 0/1 labels per row) trained with focal loss.

    Every label gets its own sigmoid focal loss ``-a_{l,y} (1 - p_t)^gamma log p_t``; unknown
    labels (``missing_label``) contribute nothing.

    Parameters
    ----------
    backend : {"lightgbm", "xgboost"}, default="lightgbm"
        "lightgbm": one binary booster per label, each trained on the rows where that label
        is known, with :class:`gbfocal.BinaryFocalLoss` and that label's ``alpha_[l]``
        (LightGBM holds one label per row, so there is no joint layout). "xgboost": one
        booster for all labels (an ``(n, L)`` label) with
        :class:`~gbfocal.losses.MultiLabelFocalLoss`.
    alpha : None, float, array-like of n_labels floats, "balanced" or \
("effective_number", beta), default=None
        Class weights. None: 1. A float ``a`` in [0, 1]: ``a`` for the positives and ``1 - a``
        for the negatives of every label. ``L`` floats in [0, 1]: that per label (a sequence
        is always one positive-class weight per label, also when ``L = 2``). "balanced" /
        ("effective_number", beta): resolved per label from its known entries.
    gamma : float, default=2.0
        Focusing parameter ``>= 0``.
    hessian : {"positive", "exact"}, default="positive"
        Hessian used for the Newton steps.
    gamma_neg : float >= 0 or None, default=None
        The asymmetric focal loss (Ridnik et al., ICCV 2021): ``gamma`` focuses the
        positives and ``gamma_neg`` the negatives of every label; None: ``gamma`` for both.
    clip : float in [0, 1), default=0.0
        The asymmetric loss's probability margin: negatives with ``p <= clip`` contribute
        nothing (the paper's multi-label default is 0.05 with gamma 0, gamma_neg 4).
    missing_label : int, float, None or NaN, default=-1
        Marker of an unknown label. None or NaN: NaN (and None) entries are unknown. Must not
        be 0 or 1.
    n_estimators : int, default=100
        Boosting rounds (per label for LightGBM; the most, with early stopping).
    learning_rate : float, default=0.1
        Shrinkage.
    subsample, colsample_bytree : float, default=1.0
        Row and feature subsampling (LightGBM: bagging every round when < 1).
    reg_lambda : float, default=0.0
        L2 regularisation of the leaf values.
    multi_strategy : {"one_output_per_tree", "multi_output_tree"}, default="one_output_per_tree"
        XGBoost only: one tree per label per round, or one vector-leaf tree per round.
    early_stopping_rounds : int or None, default=None
        Stop when ``eval_metric`` on the validation data (``eval_set`` in :meth:`fit`) has
        not improved for this many rounds; predictions then use the best round. LightGBM
        stops each label's booster on that label's metric, on the validation rows where
        the label is known (it stops when any eval set stops improving); XGBoost stops its
        one booster on the multi-label metric of the last eval set. Needs an ``eval_set``;
        with a loss metric, a LightGBM label unknown in every eval set trains all rounds
        (with a warning).
    eval_metric : {"auto", "average_precision", "roc_auc", "log_loss", "focal_loss"}, \
default="auto"
        Validation metric, from the raw margins, on the known labels, weighted by
        ``eval_sample_weight``. "average_precision" and "roc_auc": per label on the rows
        where it is known (every label needs both classes in every eval set), macro
        averaged over the labels for XGBoost. "log_loss" (of the corrected probabilities,
        what :meth:`predict_proba` returns) and "focal_loss" (the training objective): the
        weighted mean over the known entries. "auto" is "average_precision", the default of
        the single-output estimators for two classes.
    random_state : int, RandomState or None, default=None
        Seed of the boosters.
    n_jobs : int or None, default=None
        Threads (-1: all cores); None: the library's default. Passed to training and to
        every prediction; 1 in a forked child, where more OpenMP threads would hang.
    correct_proba : bool, default=True
        :meth:`predict_proba` returns each label's focal posterior
        (:func:`gbfocal.focal_posterior` with that label's ``alpha_[l]``); False: the plain
        sigmoid of the margins, which focal loss biases towards 1/2.
    params : dict or None, default=None
        Further booster parameters (e.g. ``num_leaves``, ``min_child_samples``,
        ``max_depth``), passed unchanged to every booster.

    Attributes
    ----------
    classes_ : list of n_labels ndarrays ``[0, 1]``
        The classes of every label (scikit-learn's multi-output convention; with it,
        ``type_of_target(classes_)`` is "multilabel-indicator" for any ``L``, which the
        scorers rely on).
    n_outputs_ : int
        Number of labels ``L``.
    alpha_ : ndarray of shape (n_labels, 2)
        Resolved ``[negative, positive]`` weights of every label.
    init_score_ : ndarray of shape (n_labels,)
        Initial raw margin of every label (added to the trees' output).
    loss_ : MultiLabelFocalLoss
        The fitted loss.
    boosters_ : list
        One LightGBM booster per label, or one XGBoost booster.
    best_iteration_ : ndarray of shape (n_labels,) of int
        Rounds each label predicts with, counted from 1: under early stopping the best
        round (LightGBM: each label's own; XGBoost: the booster's, repeated for every
        label), else all rounds trained (``n_estimators``).
    evals_result_ : list of dict (LightGBM) or dict (XGBoost)
        Validation metric per round, ``{"valid_0": {"average_precision": [...]}, ...}``
        (keyed by eval set, ``valid_i`` for ``eval_set[i]``, then by metric name; every
        round run, so past ``best_iteration_`` under early stopping). LightGBM: one such
        dict per label, that label's metric on its known validation rows (an eval set
        where the label is unknown throughout has no entry); XGBoost: one dict, the
        multi-label metric. Empty without ``eval_set``.
    feature_importances_ : ndarray of shape (n_features_in_,)
        Importances of the rounds kept (``best_iteration_``), as the single-output
        estimators report them by default. LightGBM: the mean over the labels' boosters of
        their split counts (not normalised, like :class:`gbfocal.FocalLGBMClassifier`);
        XGBoost: the one booster's gain, normalised to sum 1 (like
        :class:`gbfocal.FocalXGBClassifier`).
    n_features_in_ : int
    feature_names_in_ : ndarray, only for DataFrame input

    Notes
    -----
    ``predict_proba`` returns one ``(n, L)`` array of positive-class probabilities, column
    ``l`` being ``P(label l = 1)``: the multi-label layout of scikit-learn's
    ``MLPClassifier``, and what the multi-label metrics take (``average_precision_score(Y,
    proba)``). It is not the list of ``L`` arrays of shape ``(n, 2)`` that
    ``sklearn.multioutput.MultiOutputClassifier`` (and ``RandomForestClassifier``) return;
    ``[np.column_stack([1 - p, p]) for p in proba.T]`` converts. scikit-learn's scorers take
    either (``"average_precision"``, ``"roc_auc"``, ``make_scorer(...,
    response_method="predict_proba")``); they need ``Y`` without unknown entries.
    ``predict`` is ``predict_proba(X) > 0.5`` on the probabilities returned (with the
    corrected ones, the decision that minimises the expected Hamming loss); for F1, tune
    per-label thresholds on held-out data. ``score`` is the subset accuracy (all known
    labels of a row right), scikit-learn's multi-label accuracy.

    Examples
    --------
    >>> import numpy as np
    >>> from gbfocal.multilabel import FocalMultiLabelClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> Y = (X[:, :3] > [0.0, 0.5, 1.0]).astype(int)   # 3 labels, 50 %, 31 %, 16 % positive
    >>> Y[rng.random(Y.shape) < 0.1] = -1               # unknown labels
    >>> clf = FocalMultiLabelClassifier(alpha="balanced", n_estimators=20, n_jobs=1).fit(X, Y)
    >>> clf.predict(X[:2]).shape, clf.predict_proba(X[:2]).shape, clf.alpha_.shape
    ((2, 3), (2, 3), (3, 2))
    """

    _parameter_constraints: ClassVar[dict[str, Any]] = {
        **FocalEstimator._parameter_constraints,
        "backend": [BACKEND_OPTIONS],
        "gamma_neg": "no_validation",  # validated by the loss (FocalSpec.create)
        "clip": "no_validation",
        "missing_label": "no_validation",
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "colsample_bytree": [Interval(Real, 0, 1, closed="right")],
        "reg_lambda": [Interval(Real, 0, None, closed="left")],
        "multi_strategy": [StrOptions({"one_output_per_tree", "multi_output_tree"})],
        "early_stopping_rounds": [None, Interval(Integral, 1, None, closed="left")],
        "eval_metric": [StrOptions({"auto", *METRICS})],
    }

    def __init__(
        self,
        *,
        backend: str = "lightgbm",
        alpha: Any = None,
        gamma: float = 2.0,
        hessian: str = "positive",
        gamma_neg: float | None = None,
        clip: float = 0.0,
        missing_label: Any = -1,
        n_estimators: int = 100,
        learning_rate: float = 0.1,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        reg_lambda: float = 0.0,
        multi_strategy: str = "one_output_per_tree",
        early_stopping_rounds: int | None = None,
        eval_metric: str = "auto",
        random_state: Any = None,
        n_jobs: int | None = None,
        correct_proba: bool = True,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.backend = backend
        self.alpha = alpha
        self.gamma = gamma
        self.hessian = hessian
        self.gamma_neg = gamma_neg
        self.clip = clip
        self.missing_label = missing_label
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.multi_strategy = multi_strategy
        self.early_stopping_rounds = early_stopping_rounds
        self.eval_metric = eval_metric
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.correct_proba = correct_proba
        self.params = params

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        tags.classifier_tags.multi_label = True
        tags.classifier_tags.multi_class = False  # each label is yes/no
        return tags

    # ------------------------------------------------------------------ labels
    def _unknown(self, values: np.ndarray) -> np.ndarray:
        """Mask of the entries equal to ``missing_label`` (None / NaN: the NaN entries)."""
        return unknown_entries(values, self.missing_label)

    def _encode_labels(self, values: np.ndarray, name: str) -> np.ndarray:
        """``values`` as 0.0 / 1.0, and ``UNKNOWN`` where unknown.

        Every message names the offending columns: with dozens of labels, "a value is
        wrong" would leave the user searching.
        """
        unknown = self._unknown(values)
        other = ~unknown & ~np.isin(values, (0.0, 1.0))
        if other.any():
            columns = np.flatnonzero(other.any(axis=0))
            raise ValueError(
                f"{name} must hold 0/1 labels and missing_label={self.missing_label!r} for "
                f"unknown ones; columns {columns.tolist()} hold other values (e.g. "
                f"{float(values[other][0])!r}). For several classes per output use "
                "FocalMultiOutputClassifier"
            )
        return np.where(unknown, float(UNKNOWN), values)

    def _check_labels(self, values: np.ndarray, sample_weight: np.ndarray | None) -> np.ndarray:
        """Validated training labels (:meth:`_encode_labels`), both classes in every column."""
        labels = self._encode_labels(values, "Y")
        # Rows of weight 0 teach nothing: a label whose positives all weigh 0 has one class.
        known = labels != UNKNOWN
        counted = known if sample_weight is None else known & (sample_weight > 0)[:, None]
        positives = (counted & (labels == 1.0)).sum(axis=0).tolist()
        negatives = (counted & (labels == 0.0)).sum(axis=0).tolist()
        problems = []
        for j, (p, n) in enumerate(zip(positives, negatives, strict=True)):
            if p + n == 0:
                problems.append(f"column {j} has no labelled rows")
            elif p == 0 or n == 0:
                problems.append(f"column {j} has {p} positive and {n} negative rows")
        if problems:
            raise ValueError(
                "every label of Y needs positive and negative rows to be learned (drop the "
                "column, or add rows of the missing class): " + "; ".join(problems)
            )
        return labels

    def _eval_labels(self, Y: Any, n_rows: int, name: str) -> np.ndarray:
        """The labels of a validation set, ``(n_rows, n_labels)`` as in :meth:`_encode_labels`."""
        try:
            values = as_float_labels(Y)
        except TypeError as exc:
            raise TypeError(f"{name}: {exc}") from exc
        if values.ndim != 2 or values.shape[1] != self.n_outputs_:
            raise ValueError(
                f"{name}: Y must have shape (n_samples, {self.n_outputs_}) like the training "
                f"labels, got shape {values.shape}"
            )
        if values.shape[0] != n_rows:
            raise ValueError(f"{name}: X has {n_rows} rows but Y has {values.shape[0]}")
        return self._encode_labels(values, f"{name}: Y")

    def _validation_sets(self, eval_set: Any, eval_sample_weight: Any) -> list[_EvalSet]:
        """Checked ``(X, labels, weight)`` of every ``eval_set`` pair, the metric defined."""
        checked = []
        for i, (X_val, Y_val, w_val) in enumerate(eval_triples(eval_set, eval_sample_weight)):
            X_val = validate_data(self, X_val, reset=False, **X_CHECKS)
            labels = self._eval_labels(Y_val, X_val.shape[0], f"eval_set[{i}]")
            weight = check_weight(w_val, X_val.shape[0], f"eval_sample_weight[{i}]")
            self._check_metric_defined(labels, weight, f"eval_set[{i}]")
            checked.append((X_val, labels, weight))
        return checked

    def _check_metric_defined(
        self, labels: np.ndarray, weight: np.ndarray | None, name: str
    ) -> None:
        """ValueError before training where the metric would fail (or be NaN) every round."""
        known = labels != UNKNOWN
        counted = known if weight is None else known & (weight > 0)[:, None]
        if not counted.any():
            raise ValueError(
                f"{name} has no known label (with positive weight): the validation metric "
                "would be undefined"
            )
        for label in range(self.n_outputs_):  # the ranking metrics need both classes
            rows = counted[:, label]
            self.loss_.check_metric_defined(
                self._metric(), labels[rows, label].astype(np.intp),
                None if weight is None else weight[rows], name=f"label {label} of {name}",
            )

    def _metric(self) -> str:
        """``eval_metric`` with "auto" resolved."""
        return _AUTO_METRIC if self.eval_metric == "auto" else str(self.eval_metric)

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X: Any,
        Y: Any,
        sample_weight: Any = None,
        *,
        eval_set: Any = None,
        eval_sample_weight: Any = None,
    ) -> FocalMultiLabelClassifier:
        """Fit on ``X`` and the 0/1 indicator matrix ``Y`` of shape (n_samples, n_labels).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; NaN marks a missing feature value.
        Y : {array-like, sparse matrix} of shape (n_samples, n_labels)
            0/1 (or bool) labels, ``missing_label`` where a label is unknown; dense, a
            scipy sparse matrix or a DataFrame. Every label needs positive and negative
            rows.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, shared by every label of a row.
        eval_set : list of (X, Y) tuples, default=None
            Validation sets, evaluated every round with ``eval_metric`` on their known
            labels; ``Y`` in the format of the training labels (same columns, same
            ``missing_label``). Early stopping (``early_stopping_rounds``) needs one.
        eval_sample_weight : list of array-like or None, default=None
            Row weights of each validation set, in the order of ``eval_set``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        _import(self.backend)
        self._check_native_params(self.backend, _RESERVED_PARAMS[self.backend])
        X = validate_data(self, X, reset=True, **X_CHECKS)
        values = as_float_labels(Y)
        if values.ndim != 2 or min(values.shape) < 1:
            raise ValueError(
                f"Y must be 2-D (n_samples, n_labels), a 0/1 indicator matrix, got shape "
                f"{values.shape}; for one label use FocalLGBMClassifier / FocalXGBClassifier"
            )
        if values.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {values.shape[0]}")
        weight = check_weight(sample_weight, X.shape[0], "sample_weight")
        # The loss validates alpha, gamma and hessian (FocalSpec.create): the same exceptions
        # and messages as every other entry point.
        self.loss_ = MultiLabelFocalLoss(values.shape[1], alpha=self.alpha, gamma=self.gamma,
                                         hessian=self.hessian, ignore_label=UNKNOWN,
                                         gamma_neg=self.gamma_neg, clip=self.clip)
        labels = self._check_labels(values, weight)
        self.n_outputs_ = labels.shape[1]
        evals = self._validation_sets(eval_set, eval_sample_weight)
        if self.early_stopping_rounds is not None and not evals:
            raise ValueError(
                "early_stopping_rounds needs a validation set: pass eval_set=[(X_val, Y_val)] "
                "to fit"
            )
        self.classes_ = [np.array([0, 1]) for _ in range(self.n_outputs_)]
        self.init_score_ = self.loss_.init_score(labels, weight)  # also fixes alpha_
        self.alpha_ = self.loss_.alpha_
        # LightGBM: rounds and history per label's booster; XGBoost: one booster's.
        history: Any
        if self.backend == "lightgbm":
            boosters, rounds, history = self._fit_lightgbm(X, labels, weight, evals)
        else:
            booster, best, history = self._fit_xgboost(X, labels, weight, evals)
            boosters, rounds = [booster], [best] * self.n_outputs_
        self.boosters_ = boosters
        self.best_iteration_ = np.asarray(rounds, dtype=np.int64)
        self.evals_result_ = history
        return self

    def _label_loss(self, label: int) -> BinaryFocalLoss:
        """The binary focal loss of one label, with the weights of the multi-label loss."""
        alpha = None if self.alpha is None else self.alpha_[label].tolist()
        return BinaryFocalLoss(alpha=alpha, gamma=self.gamma, hessian=self.hessian,
                               gamma_neg=self.gamma_neg, clip=self.clip)

    def _fit_lightgbm(
        self, X: Any, labels: np.ndarray, weight: np.ndarray | None, evals: list[_EvalSet]
    ) -> tuple[list[Any], list[int], list[dict[str, Any]]]:
        """One booster per label; its rounds used (counted from 1) and its history."""
        lgb = _import("lightgbm")
        # feature_pre_filter as FocalLGBMClassifier sets it: a label known on few rows
        # leaves no feature that can split, and LightGBM aborts under a custom objective
        params = {**self._common_params(), "verbose": -1, "feature_pre_filter": False}
        if self.subsample < 1:
            params["subsample_freq"] = 1
        params.update(self.params or {})
        boosters, rounds, histories = [], [], []
        for label in range(self.n_outputs_):
            rows = np.flatnonzero(labels[:, label] != UNKNOWN)
            valid, names = self._label_valid_sets(evals, label)
            if self.early_stopping_rounds is not None and not valid:
                warnings.warn(
                    f"label {label} is unknown in every eval_set: its booster trains all "
                    f"n_estimators={self.n_estimators} rounds without early stopping",
                    UserWarning, stacklevel=4,
                )
            train_set, valid_sets = engine_lightgbm.datasets(
                lgb, X[rows], labels[rows, label], None if weight is None else weight[rows],
                valid, self.init_score_[label])
            # The label's weights come from the multi-label loss (resolved once, from all
            # labels), so the boosters together minimise exactly the multi-label loss.
            trained = engine_lightgbm.train(
                lgb, params, self._label_loss(label), train_set, valid_sets,
                rounds=self.n_estimators, valid_names=names, metrics=[self._metric()],
                early_stopping_rounds=self.early_stopping_rounds if valid else None,
            )
            booster = trained.booster
            boosters.append(booster)
            # best_iteration is 0 without early stopping; lgb.train has cut the model to it
            rounds.append(booster.best_iteration if booster.best_iteration > 0
                          else booster.current_iteration())
            histories.append(trained.history)
        return boosters, rounds, histories

    @staticmethod
    def _label_valid_sets(evals: list[_EvalSet], label: int
                          ) -> tuple[list[_EvalSet], list[str]]:
        """The validation rows of one label: of each set, where the label is known."""
        valid, names = [], []
        for i, (X_val, labels_val, w_val) in enumerate(evals):
            rows = np.flatnonzero(labels_val[:, label] != UNKNOWN)
            if w_val is not None and not w_val[rows].sum() > 0:
                rows = rows[:0]
            if not rows.size:  # (the losses only: the ranking metrics were checked in fit)
                continue
            valid.append((X_val[rows], labels_val[rows, label],
                          None if w_val is None else w_val[rows]))
            names.append(f"valid_{i}")
        return valid, names

    def _fit_xgboost(
        self, X: Any, labels: np.ndarray, weight: np.ndarray | None, evals: list[_EvalSet]
    ) -> tuple[Any, int, dict[str, Any]]:
        """One booster for all labels; the rounds it predicts with and its history."""
        xgb = _import("xgboost")
        params = {
            **self._common_params(), "tree_method": "hist", "multi_strategy": self.multi_strategy,
            "base_score": 0.0,
        }
        params.update(self.params or {})
        # One label: the binary focal loss with that label's weights (see _dmatrix).
        loss: FocalLoss = self._label_loss(0) if self.n_outputs_ == 1 else self.loss_
        trained = engine_xgboost.train(
            xgb, params, loss, self._dmatrix(xgb, X, labels, weight),
            [(self._dmatrix(xgb, *triple), f"valid_{i}") for i, triple in enumerate(evals)],
            rounds=self.n_estimators, metrics=[self._metric()],
            early_stopping_rounds=self.early_stopping_rounds, save_best=False,
        )
        return trained.booster, engine_xgboost.best_rounds(trained.booster), trained.history

    def _dmatrix(self, xgb: Any, X: Any, labels: np.ndarray, weight: np.ndarray | None) -> Any:
        """A DMatrix of ``(n, L)`` labels starting from the initial scores (base_margin)."""
        # base_margin rather than a vector base_score: it works on XGBoost < 3.1 too.
        margin = np.tile(self.init_score_, (X.shape[0], 1))
        if self.n_outputs_ == 1:
            # XGBoost hands an (n, 1) label back flat, which the multi-label loss refuses;
            # one label is the binary focal loss with that label's weights, 1-D throughout,
            # on the rows where the label is known (as the LightGBM backend trains).
            rows = np.flatnonzero(labels[:, 0] != UNKNOWN)
            X, labels, margin = X[rows], labels[rows, 0], margin[rows, 0]
            weight = None if weight is None else weight[rows]
        return engine_xgboost.dmatrix(xgb, X, labels, weight, base_margin=margin,
                                      nthread=self._threads())

    # ------------------------------------------------------------------ predict
    def _rounds(self) -> list[int | None]:
        """Rounds each label predicts with (None: all)."""
        return self._rounds_per_model(self.n_outputs_)

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw margins (n_samples, n_labels), initial score included.

        Uses the first ``best_iteration_`` rounds (of each label's booster for LightGBM).
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, **X_CHECKS)
        rounds = self._rounds()
        if self.backend == "lightgbm":
            # the thread count goes with every call (see FocalLGBMClassifier._predict_trees)
            threads = self._threads()
            extra = {} if threads is None else {"num_threads": threads}
            raw = np.column_stack([
                booster.predict(X, raw_score=True, num_iteration=r, **extra)
                for booster, r in zip(self.boosters_, rounds, strict=True)
            ])
        else:
            xgb = _import("xgboost")
            # XGBoost's predict ignores best_iteration: the range is explicit ((0, 0): all).
            raw = self.boosters_[0].predict(xgb.DMatrix(X, nthread=self._threads()),
                                            output_margin=True,
                                            iteration_range=(0, rounds[0] or 0))
        return raw.reshape(X.shape[0], self.n_outputs_) + self.init_score_

    @property
    def feature_importances_(self) -> np.ndarray:
        """Importances of the rounds kept, one per feature (see the class Attributes).

        Computed from :attr:`boosters_`, so a loaded or unpickled estimator has them too.
        """
        check_is_fitted(self)
        kind = _IMPORTANCE_TYPE[self.backend]
        rounds = self._rounds()
        if self.backend == "lightgbm":
            per_label = [booster.feature_importance(importance_type=kind, iteration=r)
                         for booster, r in zip(self.boosters_, rounds, strict=True)]
            return np.asarray(np.mean(per_label, axis=0), dtype=np.float64)
        booster = self.boosters_[0]
        kept = booster if rounds[0] is None else booster[: rounds[0]]
        scores = kept.get_score(importance_type=kind)
        # validate_data hands XGBoost arrays, so its features are named f0, f1, ...
        values = np.array([scores.get(f"f{i}", 0.0) for i in range(self.n_features_in_)],
                          dtype=np.float64)
        total = values.sum()
        return values / total if total > 0 else values

    def predict_proba(self, X: Any) -> np.ndarray:
        """Positive-class probability of every label, (n_samples, n_labels).

        Column ``l`` is ``P(label l = 1)``: the focal posterior (``correct_proba=True``) or the
        plain sigmoid. The columns need not sum to 1 (the labels are independent).
        """
        return self.loss_.predict_proba(self.decision_function(X), corrected=self.correct_proba,
                                        check_input=False)

    def predict(self, X: Any) -> np.ndarray:
        """0/1 indicator matrix (n_samples, n_labels): ``predict_proba(X) > 0.5``."""
        return (self.predict_proba(X) > 0.5).astype(np.intp)

    def score(self, X: Any, Y: Any, sample_weight: Any = None) -> float:
        """Subset accuracy: the (weighted) share of rows whose known labels are all right.

        With no unknown entries this is ``sklearn.metrics.accuracy_score(Y, predict(X))``;
        rows without any known label are left out.
        """
        values = as_float_labels(Y)
        known = ~self._unknown(values)
        right = ((self.predict(X) == values) | ~known).all(axis=1)
        rows = known.any(axis=1)
        w = np.ones(values.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
        return float(np.average(right[rows], weights=w[rows]))
