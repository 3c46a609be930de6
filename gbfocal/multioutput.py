"""Multi-output classifier: several outputs per row, each a softmax over shared classes.

The typical case is aspect-based sentiment: each review has up to ``A`` aspects
(price, service, quality, ...) and each mentioned aspect one of ``K`` sentiments;
aspects a review does not mention carry no label. :class:`FocalMultiOutputClassifier`
is the scikit-learn estimator; its loss, :class:`gbfocal.losses.MultiOutputFocalLoss`
(re-exported here), shares the loss base of the binary and multiclass losses.

scikit-learn is imported at module level (the estimator subclasses its base classes);
it comes with every booster extra (``pip install gbfocal[lightgbm]``). ``import gbfocal``
loads this module only on first access to its names.

Layouts
-------
Raw scores are ``(n, A, K)`` or the flat output-major ``(n, A * K)`` the libraries use
(column ``a * K + k`` is class ``k`` of output ``a``). The libraries store one label
per row (LightGBM) or require the label width to equal the number of outputs
(XGBoost), so the training labels are encoded: :meth:`MultiOutputFocalLoss.lgb_label`
and :meth:`MultiOutputFocalLoss.xgb_label`.
"""

from __future__ import annotations

import dataclasses
import warnings
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from scipy.sparse import csr_matrix, issparse

from ._optional import raise_install_hint

try:  # the install hint, not a bare ModuleNotFoundError, without scikit-learn
    from sklearn.base import _fit_context
    from sklearn.utils._param_validation import Interval, StrOptions
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:
    raise_install_hint(exc, "gbfocal.multioutput")
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
from .losses import MulticlassFocalLoss, MultiOutputFocalLoss

__all__ = ["FocalMultiOutputClassifier", "MultiOutputFocalLoss"]


def _import(module: str) -> Any:
    return import_optional(module, needed_by=f"FocalMultiOutputClassifier(backend={module!r})")


def _missing_mask(y: np.ndarray, marker: Any) -> np.ndarray:
    """Entries equal to ``marker``; None/NaN markers match None and NaN.

    A numeric marker also matches its text in string labels: NumPy stores ``-1`` as
    ``"-1"`` in a string array, which would otherwise become a class of its own.
    """
    if marker is None or (isinstance(marker, Real) and np.isnan(float(marker))):
        return np.frompyfunc(lambda x: x is None or x != x, 1, 1)(y).astype(bool)
    values = y.astype(object)
    missing = np.asarray(values == marker, dtype=bool)
    if isinstance(marker, Real) and not isinstance(marker, bool):
        texts = {str(marker)}
        if float(marker).is_integer():
            texts.add(str(round(marker)))  # int(marker), typed for numbers.Real
        is_text = np.frompyfunc(lambda x: isinstance(x, str) and x in texts, 1, 1)
        missing |= is_text(values).astype(bool)
    return missing


def _describe_outputs(outputs: np.ndarray, columns: Any) -> str:
    """``output columns [1, 3] ('service', 'staff')``: indices, and names for a DataFrame."""
    indices = [int(a) for a in outputs]
    noun = "output column" if len(indices) == 1 else "output columns"
    text = f"{noun} {indices[0] if len(indices) == 1 else indices}"
    if columns is not None:
        names = ", ".join(repr(columns[a]) for a in indices)
        text += f" ({names})"
    return text


# Booster parameters (main names) the multi-output estimator sets itself -> what to use.
_RESERVED = {
    "lightgbm": {**RESERVED_BOOSTER_PARAMS["lightgbm"], "metric": "eval_metric",
                 "early_stopping_round": "early_stopping_rounds"},
    "xgboost": {**RESERVED_BOOSTER_PARAMS["xgboost"], "eval_metric": "eval_metric",
                "disable_default_eval_metric": "eval_metric",
                "early_stopping_rounds": "early_stopping_rounds"},
}

# importance_type per backend: the library's own names; "auto" is the first (the default
# of FocalLGBMClassifier / FocalXGBClassifier).
_IMPORTANCE_TYPES = {
    "lightgbm": ("split", "gain"),
    "xgboost": ("gain", "weight", "cover", "total_gain", "total_cover"),
}


class FocalMultiOutputClassifier(FocalEstimator):
    """Multi-output classifier (e.g. aspects x sentiments) trained with focal loss.

    Parameters
    ----------
    backend : {"lightgbm", "xgboost"}, default="lightgbm"
        "lightgbm": one booster per output, each trained on the rows where that
        output is labelled, with the multiclass focal objective and the *global*
        ``alpha_`` (faster than one booster with ``A * K`` score columns at the same
        accuracy: see the README). "xgboost": one booster for all outputs
        (``A * K`` score columns) with :class:`MultiOutputFocalLoss`.
    alpha : None, array-like of n_classes floats or "balanced", default=None
        Class weights shared by all outputs, in the order of ``classes_``;
        "balanced" counts the labelled (row, output) pairs of all outputs.
    gamma : float, default=2.0
        Focusing parameter ``>= 0``.
    hessian : {"positive", "exact"}, default="positive"
        Hessian used for the Newton steps.
    missing_label : object, default=-1
        Marker of an entry without a label (an aspect a review does not mention).
        None or NaN: None and NaN entries are missing.
    n_estimators : int, default=100
        Boosting rounds (the most, with early stopping).
    learning_rate : float, default=0.1
        Shrinkage.
    subsample, colsample_bytree : float, default=1.0
        Row and feature subsampling (LightGBM: bagging every round when < 1).
    reg_lambda : float, default=0.0
        L2 regularisation of the leaf values.
    multi_strategy : {"one_output_per_tree", "multi_output_tree"}, default="one_output_per_tree"
        XGBoost only: one tree per score column, or vector-leaf trees.
    early_stopping_rounds : int or None, default=None
        Stop when ``eval_metric`` on the validation data (``eval_set`` in :meth:`fit`)
        has not improved for this many rounds; predictions then use the best round.
        LightGBM stops each output's booster on its own labelled validation rows;
        XGBoost stops its one booster on the metric over all labelled pairs.
    eval_metric : {"log_loss", "focal_loss"}, default="log_loss"
        Validation metric, the weighted mean over the labelled (row, output) pairs:
        "log_loss" of the corrected probabilities (what :meth:`predict_proba`
        returns), or the training objective "focal_loss", which stops early, before the
        ranking stops improving (measured in the README, "Defaults").
    importance_type : {"auto", "split", "gain", "weight", "cover", "total_gain", \
"total_cover"}, default="auto"
        What ``feature_importances_`` measures, in the library's own terms: LightGBM
        "split" or "gain"; XGBoost "gain", "weight", "cover", "total_gain" or
        "total_cover". "auto": "split" for LightGBM, "gain" for XGBoost (the defaults of
        :class:`gbfocal.FocalLGBMClassifier` / :class:`gbfocal.FocalXGBClassifier`).
    random_state : int, RandomState or None, default=None
        Seed of the boosters.
    n_jobs : int or None, default=None
        Threads (-1: all cores); None: the library's default. Passed to training and to
        every prediction; 1 in a forked child, where more OpenMP threads would hang.
    correct_proba : bool, default=True
        :meth:`predict_proba` returns the class posterior of the focal risk minimiser
        (:func:`gbfocal.focal_posterior`); False: the plain softmax of the margins, which
        focal loss biases towards uniform. :meth:`predict` is the argmax of what
        :meth:`predict_proba` returns.
    params : dict or None, default=None
        Further booster parameters (e.g. ``num_leaves``, ``min_child_samples``,
        ``max_depth``), passed unchanged. Names the estimator sets itself are rejected
        under any alias.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in any output; all outputs share them.
    n_outputs_ : int
        Number of outputs ``A``.
    loss_ : MultiOutputFocalLoss
        The fitted loss; ``loss_.alpha_`` holds the global class weights, resolved on
        all training labels.
    alpha_ : ndarray of shape (n_classes,)
        The same weights as ``loss_.alpha_``.
    init_score_ : ndarray of shape (n_outputs, n_classes)
        Initial raw margins (added to the trees' output).
    boosters_ : list
        One LightGBM booster per output, or one XGBoost booster.
    best_iteration_ : ndarray of shape (n_outputs,) of int (LightGBM) or int (XGBoost)
        Rounds used by predictions, counted from 1: the best round under early
        stopping, else all rounds trained. LightGBM has one per output booster.
    evals_result_ : list of dict (LightGBM) or dict (XGBoost)
        Validation metric per round, ``{"valid_0": {"log_loss": [...]}, ...}``; for
        LightGBM one such dict per output (an output without labelled rows in an eval
        set has no entry for it).
    feature_importances_ : ndarray of shape (n_features_in_,)
        Importances of the rounds kept, of type ``importance_type``, normalised to sum
        1 (LightGBM: summed over the output boosters first).
    n_features_in_ : int
    feature_names_in_ : ndarray, only for DataFrame input

    Notes
    -----
    ``predict_proba`` returns one ``(n, A, K)`` array over ``classes_``: an output that
    never used some class in training gives it a near-zero probability.
    ``score`` is the mean over outputs of the accuracy on the labelled entries.

    Every output must have labelled rows in ``y`` (with positive ``sample_weight``):
    otherwise :meth:`fit` raises ValueError naming the column. In an ``eval_set`` an
    output without labelled rows is left out of that set's metric (LightGBM: its
    booster gets no validation data from that set; if no set labels it, it trains all
    ``n_estimators`` rounds, with a warning under early stopping). An eval set
    without any labelled entry is a ValueError.

    The estimator tags report ``estimator_type=None``, not "classifier", although it
    is one: for a classifier, ``cross_val_score``, ``GridSearchCV`` and the other
    model-selection tools with an integer ``cv`` probe the target type of ``y`` to
    choose stratified folds, and the probe sorts every entry of ``y``: string labels
    mixed with the ``-1`` / None / NaN marker raise a TypeError before :meth:`fit` is
    called. scikit-learn stratifies single-column targets only, so with two or more
    outputs the folds are the same ``KFold`` as for a classifier (a one-column ``y``
    now gets ``KFold`` too); the default scorer is :meth:`score` either way.
    ``sklearn.base.is_classifier`` returns False.

    Examples
    --------
    >>> import numpy as np
    >>> from gbfocal import FocalMultiOutputClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> y = np.where(X[:, :2] > 0.3, "pos", np.where(X[:, :2] < -0.3, "neg", "neu")).astype(object)
    >>> y[rng.random(y.shape) < 0.3] = -1          # not mentioned
    >>> clf = FocalMultiOutputClassifier(n_estimators=20, n_jobs=1).fit(X, y)
    >>> clf.predict(X[:2]).shape, clf.predict_proba(X[:2]).shape
    ((2, 2), (2, 2, 3))
    """

    _parameter_constraints: ClassVar[dict[str, Any]] = {
        **FocalEstimator._parameter_constraints,
        "backend": [BACKEND_OPTIONS],
        "missing_label": "no_validation",
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "colsample_bytree": [Interval(Real, 0, 1, closed="right")],
        "reg_lambda": [Interval(Real, 0, None, closed="left")],
        "multi_strategy": [StrOptions({"one_output_per_tree", "multi_output_tree"})],
        "early_stopping_rounds": [None, Interval(Integral, 1, None, closed="left")],
        "eval_metric": [StrOptions({"log_loss", "focal_loss"})],
        "importance_type": [
            StrOptions({"auto", *_IMPORTANCE_TYPES["lightgbm"], *_IMPORTANCE_TYPES["xgboost"]})
        ],
    }

    def __init__(
        self,
        *,
        backend: str = "lightgbm",
        alpha: Any = None,
        gamma: float = 2.0,
        hessian: str = "positive",
        missing_label: Any = -1,
        n_estimators: int = 100,
        learning_rate: float = 0.1,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        reg_lambda: float = 0.0,
        multi_strategy: str = "one_output_per_tree",
        early_stopping_rounds: int | None = None,
        eval_metric: str = "log_loss",
        importance_type: str = "auto",
        random_state: Any = None,
        n_jobs: int | None = None,
        correct_proba: bool = True,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.backend = backend
        self.alpha = alpha
        self.gamma = gamma
        self.hessian = hessian
        self.missing_label = missing_label
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.multi_strategy = multi_strategy
        self.early_stopping_rounds = early_stopping_rounds
        self.eval_metric = eval_metric
        self.importance_type = importance_type
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.correct_proba = correct_proba
        self.params = params

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        # Not "classifier" (see Notes): for a classifier, cross_val_score / GridSearchCV
        # with an integer cv call type_of_target(y), which sorts every entry of y and
        # raises TypeError on string labels mixed with the -1 / None / NaN marker, before
        # fit is ever called. The probe stratifies single-column targets only.
        tags.estimator_type = None
        return tags

    # ------------------------------------------------------------------ labels
    def _label_values(self, y: Any, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(y as an object array, missing mask, labelled values)``, the values checked.

        The values are one array of one type (strings, integers, floats): what
        ``classes_`` is built from and matched against.
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        y = np.asarray(y, dtype=object)
        if y.ndim not in (1, 2) or y.size == 0:
            raise ValueError(
                f"{name} must be a non-empty 2-D array (n_samples, n_outputs), got shape "
                f"{y.shape}"
            )
        missing = _missing_mask(y, self.missing_label)
        values = y[~missing]
        labels = np.asarray(values.tolist())
        if labels.dtype.kind in "UO" and not all(isinstance(x, str) for x in values):
            raise TypeError(
                f"the labels of {name} mix strings and other types; use one type for all "
                f"outputs (the missing marker {self.missing_label!r} excepted)"
            )
        if labels.dtype.kind == "f" and not np.isfinite(labels).all():
            raise ValueError(
                f"{name} contains NaN or infinity; mark missing entries with missing_label"
            )
        if labels.size:
            # A regression target is not a set of labels (scikit-learn's own message).
            check_classification_targets(labels)
        return y, missing, labels

    def _encode(self, y: Any) -> np.ndarray:
        """Training labels -> class indices (n, A), -1 where missing; sets ``classes_``."""
        y, missing, labels = self._label_values(y, "y")
        if missing.all():
            raise ValueError(
                f"every entry of y equals missing_label={self.missing_label!r}: nothing to learn"
            )
        classes = np.unique(labels)
        if classes.shape[0] < 2:
            # Checked before the shape: "one class" is the more basic problem.
            raise ValueError(
                f"y has only one class ({classes[0]!r}) among its labelled entries: a "
                "classifier needs at least 2 classes"
            )
        if y.ndim != 2:
            raise ValueError(
                f"y must be 2-D (n_samples, n_outputs) with a missing marker "
                f"(missing_label={self.missing_label!r}), got shape {y.shape}; for one output "
                "use FocalLGBMClassifier / FocalXGBClassifier"
            )
        self.classes_ = classes
        codes = np.full(y.shape, -1, dtype=np.intp)
        codes[~missing] = np.searchsorted(classes, labels)
        return codes

    def _codes(self, y: Any, name: str) -> np.ndarray:
        """Labels of new data -> class indices of ``classes_`` (n, A), -1 where missing."""
        y, missing, labels = self._label_values(y, name)
        if y.ndim != 2 or y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"{name} must have shape (n_samples, {self.n_outputs_}) like the training "
                f"labels, got {y.shape}"
            )
        codes = np.full(y.shape, -1, dtype=np.intp)
        if not labels.size:
            return codes
        numeric = labels.dtype.kind in "biuf"
        if numeric != (self.classes_.dtype.kind in "biuf"):
            unknown = labels[:5]
        else:
            index = np.minimum(np.searchsorted(self.classes_, labels), self.classes_.size - 1)
            unknown = labels[self.classes_[index] != labels][:5]
            codes[~missing] = index
        if unknown.size:
            raise ValueError(
                f"{name} has labels that are not among the training classes "
                f"{self.classes_.tolist()}, e.g. {unknown.tolist()}"
            )
        return codes

    @staticmethod
    def _check_trainable(codes: np.ndarray, weight: np.ndarray | None, columns: Any) -> None:
        """Every output has labelled rows of positive weight; two classes have weight."""
        labelled = codes >= 0
        empty = np.flatnonzero(~labelled.any(axis=0))
        if empty.size:
            raise ValueError(
                f"{_describe_outputs(empty, columns)} of y "
                f"{'has' if empty.size == 1 else 'have'} no labelled rows (every entry is "
                "the missing marker): there is nothing to train that output on. Drop the "
                "column or label some of its rows"
            )
        if weight is None:
            return
        per_output = (labelled * weight[:, None]).sum(axis=0)
        empty = np.flatnonzero(per_output <= 0)
        if empty.size:
            raise ValueError(
                f"{_describe_outputs(empty, columns)} of y "
                f"{'has' if empty.size == 1 else 'have'} no labelled rows with positive "
                "sample_weight: there is nothing to train that output on"
            )
        counts = np.bincount(codes[labelled], weights=np.broadcast_to(
            weight[:, None], codes.shape)[labelled])
        if np.count_nonzero(counts > 0) < 2:
            raise ValueError(
                "sample_weight leaves only one class with positive weight: a classifier "
                "needs at least 2 classes"
            )

    def _validation_sets(
        self, eval_set: Any, eval_sample_weight: Any
    ) -> list[tuple[Any, np.ndarray, np.ndarray | None]]:
        """Validated (X, class indices (n, A), weight) triples, labels mapped via classes_."""
        checked = []
        for i, (X_val, y_val, w_val) in enumerate(eval_triples(eval_set, eval_sample_weight)):
            X_val = validate_data(self, X_val, reset=False, **X_CHECKS)
            codes = self._codes(y_val, f"eval_set[{i}]")
            if codes.shape[0] != X_val.shape[0]:
                raise ValueError(
                    f"eval_set[{i}]: X has {X_val.shape[0]} rows but y has {codes.shape[0]}"
                )
            w = check_weight(w_val, X_val.shape[0], f"eval_sample_weight[{i}]")
            labelled = codes >= 0
            if not (labelled if w is None else labelled & (w[:, None] > 0)).any():
                raise ValueError(
                    f"eval_set[{i}] has no labelled entry (with positive weight): the "
                    f"validation metric would be undefined"
                )
            checked.append((X_val, codes, w))
        return checked

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        eval_set: Any = None,
        eval_sample_weight: Any = None,
    ) -> FocalMultiOutputClassifier:
        """Fit on ``X`` and labels ``y`` of shape (n_samples, n_outputs).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; NaN marks a missing feature value.
        y : array-like of shape (n_samples, n_outputs)
            Labels of one type (strings, integers, ...) shared by all outputs, and
            ``missing_label`` where an output has no label. Every output needs
            labelled rows.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, shared by every output of a row.
        eval_set : list of (X, y) tuples, default=None
            Validation sets, evaluated every round with ``eval_metric`` over their
            labelled entries; labels must be among ``classes_``. Early stopping
            (``early_stopping_rounds``) needs one.
        eval_sample_weight : list of array-like or None, default=None
            Row weights of each validation set, in the order of ``eval_set``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        _import(self.backend)
        self._check_native_params(self.backend, _RESERVED[self.backend])
        importance = self._importance_type()
        X = validate_data(self, X, reset=True, **X_CHECKS)
        codes = self._encode(y)
        if codes.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {codes.shape[0]}")
        weight = check_weight(sample_weight, X.shape[0], "sample_weight")
        self._check_trainable(codes, weight, getattr(y, "columns", None))
        self.n_outputs_ = codes.shape[1]
        evals = self._validation_sets(eval_set, eval_sample_weight)
        if self.early_stopping_rounds is not None and not evals:
            raise ValueError(
                "early_stopping_rounds needs a validation set: pass eval_set=[(X_val, y_val)] "
                "to fit"
            )
        spec = self._focal_spec(self.classes_.shape[0], binary=False)
        self.loss_ = MultiOutputFocalLoss.from_spec(spec, n_outputs=self.n_outputs_)
        # init_score also fits alpha_ on all training labels, which the objectives keep.
        self.init_score_ = self.loss_.init_score(codes, weight)
        self.alpha_ = self.loss_.alpha_
        # LightGBM: per output booster (array of rounds, list of histories); XGBoost: one.
        best: Any
        history: Any
        if self.backend == "lightgbm":
            boosters, rounds, history = self._fit_lightgbm(X, codes, weight, evals)
            best = np.asarray(rounds, dtype=np.int64)
        else:
            booster, best, history = self._fit_xgboost(X, codes, weight, evals)
            boosters = [booster]
        self.boosters_ = boosters
        self.best_iteration_ = best
        self.evals_result_ = history
        self.feature_importances_ = self._feature_importances(importance)
        return self

    def _importance_type(self) -> str:
        """``importance_type`` with "auto" resolved; ValueError for the other library's."""
        options = _IMPORTANCE_TYPES[self.backend]
        if self.importance_type == "auto":
            return options[0]
        if self.importance_type not in options:
            raise ValueError(
                f"importance_type={self.importance_type!r} is not a {self.backend} importance "
                f"type; use one of {('auto', *options)}"
            )
        return str(self.importance_type)

    def _output_loss(self, labels: np.ndarray, weight: np.ndarray | None) -> MulticlassFocalLoss:
        """The multiclass loss of one output's booster, with the *global* ``alpha_``.

        Its spec is the estimator's with the resolved weights in place of "balanced":
        every output is trained on the multi-output loss restricted to its labelled
        rows, not on class weights of its own. The explicit ``fit`` fixes ``alpha_`` (the
        objective keeps it, as after ``init_score``).
        """
        spec = self.loss_.spec
        weights = None if spec.alpha is None else tuple(self.alpha_.tolist())
        output_spec = dataclasses.replace(spec, alpha=weights, given_alpha=weights)
        loss = MulticlassFocalLoss.from_spec(output_spec)
        loss.fit(labels, weight)
        return loss

    def _fit_lightgbm(
        self, X: Any, codes: np.ndarray, weight: np.ndarray | None,
        evals: list[tuple[Any, np.ndarray, np.ndarray | None]],
    ) -> tuple[list[Any], list[int], list[dict[str, Any]]]:
        lgb = _import("lightgbm")
        params = {
            **self._common_params(), "verbose": -1,
            # Pre-filtering drops features that cannot split under min_data_in_leaf; left
            # with none (an output with few labelled rows), LightGBM aborts under a custom
            # objective. Unfiltered, the booster keeps the constant initial score instead.
            "feature_pre_filter": False,
        }
        if self.subsample < 1:
            params["subsample_freq"] = 1
        params.update(self.params or {})
        if issparse(X):
            X = csr_matrix(X)  # row selection per output, and LightGBM's native format
        evals = [(csr_matrix(Xv) if issparse(Xv) else Xv, c, w) for Xv, c, w in evals]
        boosters, best, results = [], [], []
        for a in range(self.n_outputs_):
            rows = np.flatnonzero(codes[:, a] >= 0)
            w = None if weight is None else weight[rows]
            loss = self._output_loss(codes[rows, a], w)
            valid, names = [], []
            for i, (X_val, c_val, w_val) in enumerate(evals):
                val_rows = np.flatnonzero(c_val[:, a] >= 0)
                if w_val is not None:
                    val_rows = val_rows if w_val[val_rows].sum() > 0 else val_rows[:0]
                if not val_rows.size:
                    continue  # this output is not labelled in eval set i: no metric there
                valid.append((X_val[val_rows], c_val[val_rows, a],
                              None if w_val is None else w_val[val_rows]))
                names.append(f"valid_{i}")
            if self.early_stopping_rounds is not None and not valid:
                warnings.warn(
                    f"output {a} has no labelled rows in any eval_set: its booster trains "
                    f"all n_estimators={self.n_estimators} rounds without early stopping",
                    UserWarning, stacklevel=4,
                )
            train_set, valid_sets = engine_lightgbm.datasets(
                lgb, X[rows], codes[rows, a], w, valid, self.init_score_[a])
            trained = engine_lightgbm.train(
                lgb, params, loss, train_set, valid_sets, rounds=self.n_estimators,
                valid_names=names, metrics=[self.eval_metric],
                early_stopping_rounds=self.early_stopping_rounds if valid else None,
            )
            booster = trained.booster
            boosters.append(booster)
            best.append(booster.best_iteration if booster.best_iteration > 0
                        else booster.current_iteration())
            results.append(trained.history)
        return boosters, best, results

    def _fit_xgboost(
        self, X: Any, codes: np.ndarray, weight: np.ndarray | None,
        evals: list[tuple[Any, np.ndarray, np.ndarray | None]],
    ) -> tuple[Any, int, dict[str, Any]]:
        xgb = _import("xgboost")
        params = {
            **self._common_params(), "tree_method": "hist", "multi_strategy": self.multi_strategy,
            "base_score": 0.0,
        }
        params.update(self.params or {})

        def matrix(X_: Any, codes_: np.ndarray, weight_: np.ndarray | None) -> Any:
            return engine_xgboost.dmatrix(
                xgb, X_, self.loss_.xgb_label(codes_), weight_,
                base_margin=np.tile(self.init_score_.ravel(), (X_.shape[0], 1)),
                nthread=self._threads(),
            )

        trained = engine_xgboost.train(
            xgb, params, self.loss_, matrix(X, codes, weight),
            [(matrix(*triple), f"valid_{i}") for i, triple in enumerate(evals)],
            rounds=self.n_estimators, metrics=[self.eval_metric],
            early_stopping_rounds=self.early_stopping_rounds, save_best=False,
        )
        return trained.booster, engine_xgboost.best_rounds(trained.booster), trained.history

    # ------------------------------------------------------------------ predict
    def _rounds(self) -> list[int | None]:
        """Rounds each booster predicts with (None: all)."""
        return self._rounds_per_model(len(self.boosters_))

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw margins (n_samples, n_outputs, n_classes), initial score included.

        Uses the first ``best_iteration_`` rounds of each booster.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, **X_CHECKS)
        # The thread count goes with every call (see FocalLGBMClassifier._predict_trees).
        threads = self._threads()
        rounds = self._rounds()
        if self.backend == "lightgbm":
            if issparse(X):  # LightGBM predicts CSR natively, other formats with a warning
                X = csr_matrix(X)
            extra = {} if threads is None else {"num_threads": threads}
            raw = np.stack([
                booster.predict(X, raw_score=True, num_iteration=r, **extra)
                for booster, r in zip(self.boosters_, rounds, strict=True)
            ], axis=1)
        else:
            xgb = _import("xgboost")
            # XGBoost's predict ignores best_iteration: the range is explicit.
            raw = self.boosters_[0].predict(
                xgb.DMatrix(X, nthread=threads), output_margin=True,
                iteration_range=(0, rounds[0] or 0),
            )
        raw = np.asarray(raw, dtype=np.float64).reshape(X.shape[0], self.n_outputs_, -1)
        return raw + self.init_score_

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities (n_samples, n_outputs, n_classes) over ``classes_``.

        The focal posterior (``correct_proba=True``) or the plain softmax.
        """
        raw = self.decision_function(X)  # checks is-fitted first
        # These are the boosters' margins: the loss's guard against probabilities passed
        # as margins would only be a false alarm here.
        return self.loss_.predict_proba(raw, corrected=self.correct_proba, check_input=False)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable label per output (argmax of :meth:`predict_proba`), (n, n_outputs)."""
        proba = self.predict_proba(X)  # checks is-fitted before classes_ is read
        return self.classes_[np.argmax(proba, axis=2)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean over outputs of the (weighted) accuracy on the labelled entries of ``y``.

        Outputs without labelled entries (of positive weight) in ``y`` are left out; a
        label outside ``classes_`` counts as an error.
        """
        y = np.asarray(y, dtype=object)
        pred = self.predict(X).astype(object)
        if y.shape != pred.shape:
            raise ValueError(f"y must have shape {pred.shape} like the predictions, got {y.shape}")
        labelled = ~_missing_mask(y, self.missing_label)
        w = check_weight(sample_weight, y.shape[0], "sample_weight")
        w = np.ones(y.shape[0]) if w is None else w
        scores = []
        for a in range(y.shape[1]):
            m = labelled[:, a]
            if w[m].sum() > 0:
                scores.append(np.average(pred[m, a] == y[m, a], weights=w[m]))
        if not scores:
            raise ValueError("y has no labelled entry (with positive weight): nothing to score")
        return float(np.mean(scores))

    def _feature_importances(self, importance_type: str | None = None) -> np.ndarray:
        """Importances of the rounds kept, normalised to sum 1 (all zeros without splits).

        LightGBM sums the output boosters' importances before normalising, so an output
        counts with the splits (or gain) it used.
        """
        kind = self._importance_type() if importance_type is None else importance_type
        rounds = self._rounds()
        if self.backend == "lightgbm":
            total = np.zeros(self.n_features_in_)
            for booster, r in zip(self.boosters_, rounds, strict=True):
                # iteration=0 would mean "all rounds" to LightGBM; r is at least 1.
                total += booster.feature_importance(importance_type=kind, iteration=r)
        else:
            booster = self.boosters_[0]
            kept = booster if rounds[0] is None else booster[: rounds[0]]
            scores = kept.get_score(importance_type=kind)
            total = np.array(
                [scores.get(f"f{i}", 0.0) for i in range(self.n_features_in_)], dtype=np.float64
            )
        norm = total.sum()
        return total / norm if norm > 0 else total
