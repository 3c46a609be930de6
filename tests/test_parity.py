"""Issue 14: the estimators do what LGBMClassifier / XGBClassifier do, and save self-contained.

Each behaviour is compared with the library's own estimator at ``gamma=0, alpha=None``, where
the focal loss is the library's log loss, so the predictions must agree (LightGBM to float64
rounding, XGBoost to float32 rounding). The last part checks that the fitted booster carries
the initial score: a model saved by the library and loaded back by the library predicts
``decision_function`` bit for bit.
"""

from __future__ import annotations

import inspect
import json
import threading
import warnings
from typing import Any

import numpy as np
import pytest
from scipy.special import expit, log_expit
from sklearn.datasets import make_classification
from sklearn.metrics import roc_auc_score

import gbfocal
from gbfocal import _parallel
from gbfocal._engines.lightgbm import fold_init_score_text  # noqa: E402
from gbfocal.losses import BinaryFocalLoss, MulticlassFocalLoss
from gbfocal.sklearn import FocalLGBMClassifier, FocalXGBClassifier

lgb = pytest.importorskip("lightgbm")
xgb = pytest.importorskip("xgboost")
pd = pytest.importorskip("pandas")

ESTIMATORS = [FocalLGBMClassifier, FocalXGBClassifier]
LOG_LOSS = {"gamma": 0.0, "alpha": None}  # the focal loss that is the library's log loss
# Small, single-threaded models: the test machine is shared.
LGB_SHARED = {"n_estimators": 20, "num_leaves": 7, "n_jobs": 1}
XGB_SHARED = {"n_estimators": 20, "max_depth": 3, "n_jobs": 1}
# what agreement with the library's estimator means: float64 (LightGBM) / float32 (XGBoost)
ATOL = {FocalLGBMClassifier: 1e-10, FocalXGBClassifier: 1e-6}


def _pair(Estimator: Any, **extra: Any) -> tuple[Any, Any]:
    """(focal estimator at gamma=0, the library's own estimator), same booster settings."""
    if Estimator is FocalLGBMClassifier:
        shared = {**LGB_SHARED, **extra}
        return FocalLGBMClassifier(**LOG_LOSS, **shared), lgb.LGBMClassifier(verbose=-1, **shared)
    shared = {**XGB_SHARED, **extra}
    return (FocalXGBClassifier(**LOG_LOSS, **shared),
            xgb.XGBClassifier(tree_method="hist", enable_categorical=True, **shared))


def _library_margin(model: Any, X: Any, **kwargs: Any) -> np.ndarray:
    if isinstance(model, lgb.LGBMClassifier):
        return model.predict(X, raw_score=True, **kwargs)
    return model.predict(X, output_margin=True, **kwargs)


def _lgbm_fit_eval(X_val: Any, y_val: Any) -> dict[str, Any]:
    """LGBMClassifier's validation-set arguments (LightGBM 4.7 renamed eval_set)."""
    if "eval_X" in inspect.signature(lgb.LGBMClassifier.fit).parameters:
        return {"eval_X": (X_val,), "eval_y": (y_val,)}
    return {"eval_set": [(X_val, y_val)]}


def _binary(n: int = 400, seed: int = 0) -> Any:
    return make_classification(n_samples=n, n_features=6, n_informative=3, flip_y=0.05,
                               random_state=seed)


def _multiclass(n: int = 450, seed: int = 0) -> Any:
    return make_classification(n_samples=n, n_features=6, n_informative=4, n_classes=3,
                               weights=[0.5, 0.3, 0.2], random_state=seed)


def _frame(n: int = 500, seed: int = 0) -> tuple[Any, np.ndarray]:
    """Numeric columns and a string-valued category column that carries signal."""
    rng = np.random.default_rng(seed)
    X, y = make_classification(n_samples=n, n_features=4, n_informative=2, random_state=seed)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(4)])
    frame["color"] = pd.Categorical(rng.choice(["red", "green", "blue", "grey"], n))
    return frame, (y ^ (frame["color"] == "red").to_numpy()).astype(int)


# ------------------------------------------------------------------ pandas category columns
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_category_columns_are_used_natively_like_the_library(Estimator: Any) -> None:
    frame, y = _frame()
    focal, library = _pair(Estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        focal.fit(frame, y, eval_set=[(frame[:100], y[:100])])
    library.fit(frame, y)
    np.testing.assert_allclose(focal.decision_function(frame), _library_margin(library, frame),
                               atol=ATOL[Estimator])
    np.testing.assert_allclose(focal.predict_proba(frame), library.predict_proba(frame),
                               atol=ATOL[Estimator])
    # validate_data's bookkeeping is kept
    assert focal.feature_names_in_.tolist() == frame.columns.tolist()
    assert focal.n_features_in_ == frame.shape[1]
    # the categories are matched by value, not by code: reordered categories predict the same
    reordered = frame.assign(color=frame["color"].cat.reorder_categories(
        ["red", "grey", "blue", "green"]))
    np.testing.assert_array_equal(focal.predict(reordered), focal.predict(frame))
    # and the category really splits (the label depends on it)
    assert focal.feature_importances_[frame.columns.get_loc("color")] > 0
    with pytest.raises(ValueError, match="category"):
        focal.predict(frame.assign(color=frame["color"].cat.codes))  # codes are not categories
    with pytest.raises(ValueError, match="category"):
        focal.fit(frame, y, eval_set=[(frame.assign(color=frame["color"].cat.codes), y)])


def test_lgbm_categorical_feature_argument_like_lgbmclassifier() -> None:
    frame, y = _frame()
    codes = np.c_[frame.iloc[:, :4].to_numpy(), frame["color"].cat.codes.to_numpy()]
    focal, library = _pair(FocalLGBMClassifier)
    with warnings.catch_warnings():
        # before: params={"categorical_feature": ...} warned "will be ignored" (and was used)
        warnings.simplefilter("error")
        focal.fit(codes, y, categorical_feature=[4])
    library.fit(codes, y, categorical_feature=[4])
    np.testing.assert_allclose(focal.predict_proba(codes), library.predict_proba(codes),
                               atol=1e-10)
    # by name, with a DataFrame of numeric columns: the same model
    named = pd.DataFrame(codes, columns=frame.columns)
    by_name = FocalLGBMClassifier(**LOG_LOSS, **LGB_SHARED).fit(named, y,
                                                                categorical_feature=["color"])
    np.testing.assert_allclose(by_name.predict_proba(named), focal.predict_proba(codes),
                               atol=1e-12)
    plain = FocalLGBMClassifier(**LOG_LOSS, **LGB_SHARED).fit(codes, y)
    assert np.abs(plain.predict_proba(codes) - focal.predict_proba(codes)).max() > 1e-3
    with pytest.raises(ValueError, match=r"categorical_feature.*fit\(\.\.\., categorical_feature"):
        FocalLGBMClassifier(params={"cat_feature": [4]}).fit(codes, y)
    with pytest.raises(ValueError, match="out of range"):
        FocalLGBMClassifier(**LGB_SHARED).fit(codes, y, categorical_feature=[9])
    with pytest.raises(ValueError, match="not a column"):
        FocalLGBMClassifier(**LGB_SHARED).fit(codes, y, categorical_feature=["color"])


# ------------------------------------------------------------------ feature names
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_feature_names_reach_the_booster(Estimator: Any) -> None:
    X, y = _binary()
    names = [f"feature_{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=names)
    focal, library = _pair(Estimator)
    focal.fit(frame, y)
    library.fit(frame, y)
    if Estimator is FocalLGBMClassifier:
        assert focal.booster_.feature_name() == library.booster_.feature_name() == names
    else:
        assert focal.booster_.feature_names == library.get_booster().feature_names == names
    # importances are keyed by those names (XGBoost): still one per column, in order
    np.testing.assert_allclose(focal.feature_importances_, library.feature_importances_,
                               rtol=1e-5)
    # a NumPy array at predict time still works (scikit-learn warns about the names)
    with pytest.warns(UserWarning, match="feature names"):
        np.testing.assert_array_equal(focal.decision_function(X), focal.decision_function(frame))
    # a name the library cannot store is refused before training, naming the column (the
    # libraries' own estimators fail too, without saying which column)
    bad = frame.rename(columns={"feature_1": "temp [C]"})
    with pytest.raises(ValueError, match=r"temp \[C\].*rename"):
        Estimator(n_estimators=2, n_jobs=1).fit(bad, y)
    if Estimator is FocalLGBMClassifier:  # LightGBM writes white space as "_"
        spaced = Estimator(n_estimators=2, n_jobs=1).fit(frame.rename(
            columns={"feature_1": "feature one"}), y)
        assert spaced.booster_.feature_name()[1] == "feature_one"


# ------------------------------------------------------------------ predict options
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_iteration_options_like_the_library(Estimator: Any) -> None:
    X, y = _binary()
    focal, library = _pair(Estimator)
    focal.fit(X, y)
    library.fit(X, y)
    atol = ATOL[Estimator]
    if Estimator is FocalLGBMClassifier:
        first_five = library.predict(X, raw_score=True, num_iteration=5)
        middle = library.predict(X, raw_score=True, start_iteration=3, num_iteration=6)
    else:
        first_five = library.predict(X, output_margin=True, iteration_range=(0, 5))
        middle = library.predict(X, output_margin=True, iteration_range=(3, 9))
    np.testing.assert_allclose(focal.decision_function(X, num_iteration=5), first_five, atol=atol)
    np.testing.assert_array_equal(focal.decision_function(X, num_iteration=5),
                                  focal.decision_function(X, iteration_range=(0, 5)))
    # start > 0: each library's own convention for the initial score (see the docstring)
    np.testing.assert_allclose(focal.decision_function(X, iteration_range=(3, 9)), middle,
                               atol=atol)
    proba = focal.predict_proba(X, num_iteration=5)
    np.testing.assert_allclose(proba, focal.loss_.predict_proba(first_five), atol=atol)
    np.testing.assert_array_equal(focal.predict(X, num_iteration=5),
                                  focal.classes_[proba.argmax(axis=1)])
    np.testing.assert_array_equal(focal.decision_function(X, num_iteration=20),
                                  focal.decision_function(X))
    with pytest.raises(ValueError, match="not both"):
        focal.predict(X, iteration_range=(0, 5), num_iteration=5)
    for bad in ({"num_iteration": 0}, {"num_iteration": 21}, {"num_iteration": 2.5},
                {"iteration_range": (5, 5)}, {"iteration_range": (0, 21)},
                {"iteration_range": 5}):
        with pytest.raises(ValueError, match="iteration"):
            focal.decision_function(X, **bad)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_shap_values_like_the_library_and_sum_to_the_margin(Estimator: Any, task: str) -> None:
    X, y = _binary() if task == "binary" else _multiclass()
    focal, library = _pair(Estimator)
    focal.fit(X, y)
    library.fit(X, y)
    contributions = focal.decision_function(X, pred_contrib=True)
    n_classes = len(focal.classes_)
    expected_shape = (len(y), X.shape[1] + 1) if n_classes == 2 else (len(y), n_classes,
                                                                      X.shape[1] + 1)
    assert contributions.shape == expected_shape
    # the row sums are the margins, initial score included (in the bias column)
    np.testing.assert_allclose(contributions.sum(axis=-1), focal.decision_function(X),
                               atol=ATOL[Estimator] * 10)
    if n_classes == 2:  # multiclass margins differ from the library's by a constant per row
        if Estimator is FocalLGBMClassifier:
            native = library.predict(X, pred_contrib=True)
        else:
            native = library.get_booster().predict(xgb.DMatrix(X), pred_contribs=True)
        np.testing.assert_allclose(contributions, native, atol=ATOL[Estimator])
    some = focal.decision_function(X, pred_contrib=True, num_iteration=4)
    np.testing.assert_allclose(some.sum(axis=-1), focal.decision_function(X, num_iteration=4),
                               atol=ATOL[Estimator] * 10)


def test_lgbm_shap_values_of_sparse_input() -> None:
    from scipy.sparse import csr_matrix

    X, y = _multiclass()
    X[np.abs(X) < 0.5] = 0.0
    clf = FocalLGBMClassifier(**LGB_SHARED).fit(X, y)
    np.testing.assert_allclose(clf.decision_function(csr_matrix(X), pred_contrib=True),
                               clf.decision_function(X, pred_contrib=True), atol=1e-12)


# ------------------------------------------------------------------ booster access
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_early_stopping_and_booster_access_like_the_library(Estimator: Any) -> None:
    X, y = _binary(n=600, seed=1)
    fit_rows, val_rows = slice(0, 400), slice(400, None)
    extra = {"n_estimators": 300, "learning_rate": 0.1}
    focal, _ = _pair(Estimator, **extra)
    focal.set_params(early_stopping_rounds=5, eval_metric="log_loss")
    focal.fit(X[fit_rows], y[fit_rows], eval_set=[(X[val_rows], y[val_rows])],
              eval_names=["holdout"])
    if Estimator is FocalLGBMClassifier:
        library = lgb.LGBMClassifier(verbose=-1, **{**LGB_SHARED, **extra})
        library.fit(X[fit_rows], y[fit_rows], eval_names=["holdout"], eval_metric="binary_logloss",
                    callbacks=[lgb.early_stopping(5, verbose=False)],
                    **_lgbm_fit_eval(X[val_rows], y[val_rows]))
        best, history = library.best_iteration_, library.evals_result_["holdout"]["binary_logloss"]
        best_score = library.best_score_["holdout"]["binary_logloss"]
    else:
        library = xgb.XGBClassifier(tree_method="hist", early_stopping_rounds=5,
                                    eval_metric="logloss", **{**XGB_SHARED, **extra})
        library.fit(X[fit_rows], y[fit_rows], eval_set=[(X[val_rows], y[val_rows])],
                    verbose=False)
        best, history = library.best_iteration + 1, library.evals_result()["validation_0"][
            "logloss"]
        best_score = library.best_score
    assert 5 < focal.best_iteration_ == best < 300
    assert list(focal.evals_result_) == ["holdout"]
    # XGBoost logs its metrics with 6 decimals ("%f")
    np.testing.assert_allclose(focal.evals_result_["holdout"]["log_loss"], history, atol=1e-6)
    assert focal.best_score_ == {"holdout": {"log_loss": pytest.approx(best_score, abs=1e-6)}}
    assert focal.n_iter_ == focal.best_iteration_ + 5 == len(history)
    assert focal.get_booster() is focal.booster_
    # the booster keeps the rounds up to the best one (lgb.train does; XGBoost: save_best)
    rounds = (focal.booster_.current_iteration() if Estimator is FocalLGBMClassifier
              else focal.booster_.num_boosted_rounds())
    assert rounds == focal.best_iteration_
    np.testing.assert_allclose(focal.predict_proba(X), library.predict_proba(X),
                               atol=ATOL[Estimator])
    unfitted = Estimator()
    assert not hasattr(unfitted, "feature_importances_")
    with pytest.raises(AttributeError):
        unfitted.get_booster()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_eval_names_are_checked(Estimator: Any) -> None:
    X, y = _binary(n=200)
    clf = Estimator(n_estimators=3, n_jobs=1)
    pairs = [(X[:50], y[:50]), (X[50:100], y[50:100])]
    clf.fit(X, y, eval_set=pairs, eval_names=["a", "b"])
    assert list(clf.evals_result_) == ["a", "b"]
    for bad, error in ((["a"], ValueError), (["a", "a"], ValueError), ("ab", TypeError),
                       (["a", 3], TypeError)):
        with pytest.raises(error, match="eval_names"):
            clf.fit(X, y, eval_set=pairs, eval_names=bad)
    with pytest.raises(ValueError, match="eval_names"):
        clf.fit(X, y, eval_names=["a"])
    if Estimator is FocalXGBClassifier:  # XGBoost splits its log at "-" and ":"
        with pytest.raises(ValueError, match="eval_names"):
            clf.fit(X, y, eval_set=pairs, eval_names=["hold-out", "b"])


# ------------------------------------------------------------------ eval metrics
def _log_loss_metric(y_true: np.ndarray, raw: np.ndarray, weight: Any) -> tuple[str, float, bool]:
    """A user's metric on class indices and margins: the binary log loss."""
    losses = -np.where(y_true == 1, log_expit(raw), log_expit(-raw))
    return "my_log_loss", float(np.average(losses, weights=weight)), False


def _auc_metric(y_true: np.ndarray, raw: np.ndarray, weight: Any) -> tuple[str, float, bool]:
    return "my_auc", float(roc_auc_score(y_true, raw, sample_weight=weight)), True


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_callable_and_list_eval_metrics(Estimator: Any) -> None:
    X, y = _binary(n=600, seed=1)
    fit_rows, val_rows = slice(0, 400), slice(400, None)
    weight = np.random.default_rng(0).uniform(0.5, 2.0, 200)
    settings = {"early_stopping_rounds": 5, "n_estimators": 300, "learning_rate": 0.1}

    def fit(metric: Any) -> Any:
        focal, _ = _pair(Estimator, n_estimators=300, learning_rate=0.1)
        focal.set_params(early_stopping_rounds=settings["early_stopping_rounds"],
                         eval_metric=metric)
        return focal.fit(X[fit_rows], y[fit_rows], eval_set=[(X[val_rows], y[val_rows])],
                         eval_sample_weight=[weight])

    named = fit("log_loss")
    mine = fit(_log_loss_metric)
    # gamma=0, alpha=None: the corrected log loss is the plain one, so early stopping agrees
    assert mine.best_iteration_ == named.best_iteration_
    np.testing.assert_allclose(mine.evals_result_["valid_0"]["my_log_loss"],
                               named.evals_result_["valid_0"]["log_loss"], atol=1e-6)
    # a list: every metric recorded, the first one stops (here a maximised callable)
    both = fit([_auc_metric, "log_loss"])
    by_auc = fit("roc_auc")
    assert list(both.evals_result_["valid_0"]) == ["my_auc", "log_loss"]
    assert both.best_iteration_ == by_auc.best_iteration_
    history = both.evals_result_["valid_0"]["my_auc"]
    assert history[both.best_iteration_ - 1] == pytest.approx(max(history))
    np.testing.assert_allclose(history, by_auc.evals_result_["valid_0"]["roc_auc"], atol=1e-6)
    assert both.best_score_["valid_0"]["my_auc"] == pytest.approx(max(history))
    for bad, error in (([], ValueError), (["log_loss", "log_loss"], ValueError),
                       (["auc"], ValueError), ([3], TypeError)):
        with pytest.raises(error, match="eval_metric"):
            fit(bad)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_callable_metric_sees_class_indices_and_margins(Estimator: Any) -> None:
    X, y_index = _multiclass(n=300)
    y = np.array(["ant", "bee", "cat"])[y_index]
    seen: list[tuple[np.ndarray, np.ndarray, Any]] = []

    def record(y_true: np.ndarray, raw: np.ndarray, weight: Any) -> tuple[str, float, bool]:
        seen.append((y_true, raw, weight))
        return "rows", float(len(y_true)), True

    clf = Estimator(n_estimators=3, n_jobs=1, eval_metric=record)
    clf.fit(X[:200], y[:200], eval_set=[(X[200:], y[200:])])
    y_true, raw, weight = seen[-1]
    np.testing.assert_array_equal(y_true, y_index[200:])  # positions in classes_
    assert raw.shape == (100, 3) and raw.dtype == np.float64 and weight is None
    np.testing.assert_allclose(raw, clf.decision_function(X[200:]), atol=1e-6)
    assert len(seen) == 3 and clf.evals_result_["valid_0"]["rows"] == [100.0] * 3
    with pytest.raises(TypeError, match="must return"):
        Estimator(n_estimators=2, eval_metric=lambda *args: 0.5).fit(
            X[:200], y[:200], eval_set=[(X[200:], y[200:])])


# ------------------------------------------------------------------ warm start
@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_warm_start_continues_a_fitted_model(Estimator: Any, task: str, tmp_path: Any) -> None:
    X, y = _binary() if task == "binary" else _multiclass()
    keyword = "init_model" if Estimator is FocalLGBMClassifier else "xgb_model"
    shared = {"n_estimators": 10, "n_jobs": 1, "gamma": 2.0, "alpha": "balanced"}
    first = Estimator(**shared).fit(X, y)
    before = first.decision_function(X)
    continued = Estimator(**shared).fit(X, y, **{keyword: first})
    straight = Estimator(**{**shared, "n_estimators": 20}).fit(X, y)
    np.testing.assert_allclose(continued.decision_function(X), straight.decision_function(X),
                               atol=ATOL[Estimator])
    assert continued.best_iteration_ == continued.n_iter_ == 20
    np.testing.assert_allclose(continued.init_score_, first.init_score_)
    np.testing.assert_array_equal(continued.decision_function(X, num_iteration=10), before)
    np.testing.assert_array_equal(first.decision_function(X), before)  # left as it was
    # a Booster or a model file: the same continuation
    path = tmp_path / ("model.txt" if Estimator is FocalLGBMClassifier else "model.json")
    first.booster_.save_model(str(path))
    for source in (first.booster_, path):
        again = Estimator(**shared).fit(X, y, **{keyword: source})
        np.testing.assert_array_equal(again.decision_function(X),
                                      continued.decision_function(X))
        assert again.init_score_ is None  # a booster does not tell its initial score
    # early stopping counts the rounds of the init model too
    stopped = Estimator(**{**shared, "n_estimators": 200, "early_stopping_rounds": 3})
    stopped.fit(X[:300], y[:300], eval_set=[(X[300:], y[300:])], **{keyword: first})
    assert stopped.best_iteration_ > 10
    assert stopped.n_iter_ == 10 + len(stopped.evals_result_["valid_0"]["average_precision"
                                       if task == "binary" else "log_loss"])
    other_classes = np.where(y == 0, 7, y)
    with pytest.raises(ValueError, match="classes"):
        Estimator(**shared).fit(X, other_classes, **{keyword: first})
    with pytest.raises(ValueError, match="features"):
        Estimator(**shared).fit(X[:, :4], y, **{keyword: first})
    with pytest.raises(TypeError, match=keyword):
        Estimator(**shared).fit(X, y, **{keyword: 3})


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_warm_start_like_the_library(Estimator: Any) -> None:
    X, y = _binary()
    focal, library = _pair(Estimator, n_estimators=10)
    focal_first, library_first = _pair(Estimator, n_estimators=10)
    focal_first.fit(X, y)
    library_first.fit(X, y)
    if Estimator is FocalLGBMClassifier:
        focal.fit(X, y, init_model=focal_first)
        library.fit(X, y, init_model=library_first.booster_)
    else:
        focal.fit(X, y, xgb_model=focal_first)
        library.fit(X, y, xgb_model=library_first.get_booster())
    np.testing.assert_allclose(focal.predict_proba(X), library.predict_proba(X),
                               atol=ATOL[Estimator])


def test_xgb_warm_start_refuses_a_model_with_another_objective() -> None:
    X, y = _binary(n=200)
    other = xgb.train({"objective": "reg:squarederror", "nthread": 1}, xgb.DMatrix(X, y), 2)
    with pytest.raises(ValueError, match="objective"):
        FocalXGBClassifier(n_estimators=2, n_jobs=1).fit(X, y, xgb_model=other)


def test_lgbm_warm_start_refuses_a_booster_of_another_shape() -> None:
    X, y = _multiclass(n=200)
    binary = FocalLGBMClassifier(n_estimators=2, n_jobs=1).fit(X, (y > 0).astype(int))
    with pytest.raises(ValueError, match="trees per round"):
        FocalLGBMClassifier(n_estimators=2, n_jobs=1).fit(X, y, init_model=binary.booster_)


# ------------------------------------------------------------------ threads
def _thread_probe(observed: list[int], barrier: threading.Barrier | None = None) -> Any:
    def probe(y_true: np.ndarray, raw: np.ndarray, weight: Any) -> tuple[str, float, bool]:
        first = barrier is not None and not observed
        if first:
            barrier.wait(timeout=60)  # both fits are inside fit() now
        observed.append(gbfocal.get_num_threads())
        if first:
            barrier.wait(timeout=60)  # and neither leaves before both have read the bound
        return "threads", float(observed[-1]), False

    return probe


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_n_jobs_bounds_the_gradient_threads_and_restores_them(Estimator: Any) -> None:
    X, y = _binary(n=200)
    eval_set = [(X[:50], y[:50])]
    before = _parallel._num_threads
    try:
        gbfocal.set_num_threads(4)
        observed: list[int] = []
        Estimator(n_estimators=3, n_jobs=2, eval_metric=_thread_probe(observed)).fit(
            X, y, eval_set=eval_set)
        assert observed == [2, 2, 2]
        assert _parallel._num_threads == 4  # restored
        gbfocal.set_num_threads(1)  # a bound never raises the count
        observed.clear()
        Estimator(n_estimators=2, n_jobs=3, eval_metric=_thread_probe(observed)).fit(
            X, y, eval_set=eval_set)
        assert observed == [1, 1]
        gbfocal.set_num_threads(None)
        observed.clear()
        Estimator(n_estimators=2, n_jobs=1, eval_metric=_thread_probe(observed)).fit(
            X, y, eval_set=eval_set)
        assert observed == [1, 1]
        assert _parallel._num_threads is None  # the default again, not a pinned number
        # n_jobs=None: gbfocal's setting is left alone
        gbfocal.set_num_threads(3)
        observed.clear()
        Estimator(n_estimators=2, eval_metric=_thread_probe(observed)).fit(
            X, y, eval_set=eval_set)
        assert observed == [3, 3]
    finally:
        gbfocal.set_num_threads(before)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_concurrent_fits_share_the_smallest_bound(Estimator: Any) -> None:
    X, y = _binary(n=200)
    eval_set = [(X[:50], y[:50])]
    before = _parallel._num_threads
    barrier = threading.Barrier(2)
    observed: dict[int, list[int]] = {1: [], 2: []}
    errors: list[BaseException] = []

    def fit(n_jobs: int) -> None:
        try:
            Estimator(n_estimators=2, n_jobs=n_jobs,
                      eval_metric=_thread_probe(observed[n_jobs], barrier)).fit(
                X, y, eval_set=eval_set)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            barrier.abort()

    try:
        gbfocal.set_num_threads(4)
        threads = [threading.Thread(target=fit, args=(n,)) for n in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        # at the barrier both fits ran: the process-wide value was the smaller bound
        assert observed[1][0] == observed[2][0] == 1
        assert max(observed[1]) == 1 and max(observed[2]) <= 2
        assert _parallel._num_threads == 4
    finally:
        gbfocal.set_num_threads(before)


# ------------------------------------------------------------------ unsupported options
@pytest.mark.parametrize(
    ("Estimator", "params", "match"),
    [
        (FocalLGBMClassifier, {"boosting": "rf"}, "random forest"),
        (FocalLGBMClassifier, {"boosting_type": "random_forest"}, "random forest"),
        (FocalLGBMClassifier, {"alpha": 0.25}, "estimator's alpha"),
        (FocalLGBMClassifier, {"sigmoid": 2.0}, "silently ignore"),
        (FocalLGBMClassifier, {"tweedie_variance_power": 1.2}, "silently ignore"),
        (FocalXGBClassifier, {"booster": "gblinear"}, "gblinear"),
        (FocalXGBClassifier, {"huber_slope": 2.0}, "silently ignore"),
        (FocalXGBClassifier, {"quantile_alpha": 0.3}, "silently ignore"),
    ],
)
def test_unsupported_options_fail_before_training(Estimator: Any, params: dict[str, Any],
                                                  match: str, monkeypatch: Any) -> None:
    X, y = _binary(n=100)

    def no_training(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("training started")

    module = lgb if Estimator is FocalLGBMClassifier else xgb
    monkeypatch.setattr(module, "train", no_training)
    with pytest.raises(ValueError, match=match):
        Estimator(n_estimators=2, params=params).fit(X, y)


def test_unsupported_predictions_fail_clearly() -> None:
    X, y = _binary(n=200)
    linear = FocalLGBMClassifier(n_estimators=3, n_jobs=1, params={"linear_tree": True}).fit(X, y)
    with pytest.raises(ValueError, match="linear_tree"):
        linear.decision_function(X, pred_contrib=True)
    # linear trees themselves work: their leaf constants hold the initial score too
    np.testing.assert_array_equal(linear.decision_function(X),
                                  linear.booster_.predict(X, raw_score=True))
    X3, y3 = _multiclass(n=200)
    vector_leaf = FocalXGBClassifier(n_estimators=3, n_jobs=1,
                                     params={"multi_strategy": "multi_output_tree"}).fit(X3, y3)
    with pytest.raises(ValueError, match="multi_output_tree"):
        vector_leaf.decision_function(X3, pred_contrib=True)
    frame, yf = _frame(n=200)
    with pytest.raises(ValueError, match="exact"):
        FocalXGBClassifier(n_estimators=2, tree_method="exact").fit(frame, yf)


# ------------------------------------------------------------------ saving: self-contained boosters
def _reload(Estimator: Any, clf: Any, tmp_path: Any) -> Any:
    if Estimator is FocalLGBMClassifier:
        path = tmp_path / "model.txt"
        clf.booster_.save_model(str(path))
        return lgb.Booster(model_file=str(path))
    path = tmp_path / "model.json"
    clf.booster_.save_model(str(path))
    return xgb.Booster(model_file=str(path))


def _native_margin(booster: Any, X: Any) -> np.ndarray:
    if isinstance(booster, lgb.Booster):
        return booster.predict(X, raw_score=True)
    return booster.predict(xgb.DMatrix(X, enable_categorical=True), output_margin=True)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("task", ["binary", "multiclass"])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_saved_booster_reproduces_decision_function(Estimator: Any, task: str,
                                                    early_stopping: bool, tmp_path: Any) -> None:
    X, y = _binary(n=600) if task == "binary" else _multiclass(n=600)
    clf = Estimator(alpha="balanced", gamma=2.0, n_jobs=1, learning_rate=0.3,
                    n_estimators=200 if early_stopping else 15,
                    early_stopping_rounds=5 if early_stopping else None)
    clf.fit(X[:400], y[:400], **({"eval_set": [(X[400:], y[400:])]} if early_stopping else {}))
    if early_stopping:
        assert clf.best_iteration_ < clf.n_iter_  # it did stop early
    expected = clf.decision_function(X)
    loaded = _reload(Estimator, clf, tmp_path)
    # bit for bit: LightGBM in float64 (leaf values written with 17 digits), XGBoost in
    # float32 (its margins and its JSON numbers are float32)
    np.testing.assert_array_equal(_native_margin(loaded, X), expected)
    np.testing.assert_array_equal(_native_margin(clf.booster_, X), expected)
    contributions = clf.decision_function(X, pred_contrib=True)
    np.testing.assert_allclose(contributions.sum(axis=-1), expected,
                               atol=1e-12 if Estimator is FocalLGBMClassifier else 1e-5)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_saved_booster_like_the_libraries_own(Estimator: Any, tmp_path: Any) -> None:
    """At gamma=0 the saved focal model predicts what the library's own saved model does:
    both hold their initial score (LightGBM folds boost_from_average into the first trees,
    XGBoost writes base_score)."""
    X, y = _binary()
    focal, library = _pair(Estimator)
    focal.fit(X, y)
    library.fit(X, y)
    native = library.booster_ if Estimator is FocalLGBMClassifier else library.get_booster()
    np.testing.assert_allclose(_native_margin(_reload(Estimator, focal, tmp_path), X),
                               _native_margin(native, X), atol=ATOL[Estimator])
    if Estimator is FocalXGBClassifier:
        config = json.loads(focal.booster_.save_config())["learner"]
        assert config["objective"]["name"] == "binary:logistic"  # not reg:squarederror
        # the booster's own predict is the plain sigmoid, as XGBClassifier's is
        np.testing.assert_allclose(focal.booster_.predict(xgb.DMatrix(X)),
                                   expit(focal.decision_function(X)), rtol=1e-6)


def test_xgboost_base_score_semantics() -> None:
    """What base_score means, measured on models without trees: a probability (margin =
    logit) under binary:logistic, one margin per class under multi:softprob (XGBoost >= 3.1).
    """
    X, y = _multiclass(n=120)
    binary = BinaryFocalLoss(gamma=2.0)
    init = binary.init_score((y > 0).astype(int))
    dtrain = xgb.DMatrix(X, (y > 0).astype(int))
    model = xgb.train({"objective": "binary:logistic", "base_score": float(expit(init)),
                       "nthread": 1}, dtrain, 0, obj=binary.xgb_objective)
    np.testing.assert_allclose(model.predict(dtrain, output_margin=True), init, rtol=1e-6)
    from gbfocal._boosting import library_version as _version

    if _version(xgb.__version__) < (3, 1):
        pytest.skip("a vector base_score needs xgboost >= 3.1")
    multi = MulticlassFocalLoss(3, gamma=2.0)
    init3 = multi.init_score(y)
    dtrain3 = xgb.DMatrix(X, y)
    model = xgb.train({"objective": "multi:softprob", "num_class": 3, "nthread": 1,
                       "base_score": init3.tolist()}, dtrain3, 0, obj=multi.xgb_objective)
    np.testing.assert_allclose(model.predict(dtrain3, output_margin=True),
                               np.tile(init3, (len(y), 1)), rtol=1e-6)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
@pytest.mark.parametrize("params", [{}, {"linear_tree": True}, {"boosting": "dart"}])
def test_lgbm_folding_adds_the_init_score_to_the_first_trees(task: str,
                                                             params: dict[str, Any]) -> None:
    X, y = _binary() if task == "binary" else _multiclass()
    loss = BinaryFocalLoss() if task == "binary" else MulticlassFocalLoss(3)
    init = loss.init_score(y)
    n_trees = 1 if task == "binary" else 3
    train_params = {"objective": loss.lgb_objective, "metric": "None", "verbosity": -1,
                    "num_threads": 1, **params, **({} if task == "binary" else {"num_class": 3})}
    plain = lgb.train(train_params, lgb.Dataset(X, y, init_score=np.tile(init, (len(y), 1))
                                                if task == "multiclass"
                                                else np.full(len(y), init)), 5)
    folded = lgb.Booster(model_str=fold_init_score_text(
        plain.model_to_string(num_iteration=-1), init))
    for tree in range(n_trees):
        value = np.atleast_1d(init)[tree]
        assert folded.get_leaf_output(tree, 0) == plain.get_leaf_output(tree, 0) + value
    assert folded.get_leaf_output(n_trees, 0) == plain.get_leaf_output(n_trees, 0)
    # trees added in another order: equal to float64 rounding
    np.testing.assert_allclose(folded.predict(X, raw_score=True),
                               plain.predict(X, raw_score=True) + init, atol=1e-12)


# ------------------------------------------------------------------ rebuilding an estimator
@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_estimator_rebuilt_from_a_native_model_string(Estimator: Any, task: str) -> None:
    """What gbfocal.persist needs: the class, get_params(), classes_, n_features_in_,
    feature_names_in_, the loss spec with alpha_, init_score_, best_iteration_ and the
    booster from its native model (string) are all that predictions read."""
    frame, y = _frame(n=400)
    if task == "multiclass":
        y = y + (frame["x0"].to_numpy() > 0.5)
    labels = np.array(["no", "yes", "maybe"])[y]
    clf = Estimator(alpha="balanced", gamma=1.5, n_estimators=100, n_jobs=1, learning_rate=0.3,
                    early_stopping_rounds=3)
    clf.fit(frame[:300], labels[:300], eval_set=[(frame[300:], labels[300:])])
    if Estimator is FocalLGBMClassifier:
        booster = lgb.Booster(model_str=clf.booster_.model_to_string())
    else:
        booster = xgb.Booster()
        booster.load_model(bytearray(clf.booster_.save_raw("json")))
    rebuilt = Estimator(**clf.get_params())
    loss_class = BinaryFocalLoss if len(clf.classes_) == 2 else MulticlassFocalLoss
    rebuilt.loss_ = loss_class.from_spec(clf.loss_.spec)
    rebuilt.loss_.alpha_ = clf.loss_.alpha_
    for name in ("classes_", "n_classes_", "n_features_in_", "feature_names_in_",
                 "init_score_", "best_iteration_"):
        setattr(rebuilt, name, getattr(clf, name))
    rebuilt.booster_ = booster
    np.testing.assert_array_equal(rebuilt.decision_function(frame), clf.decision_function(frame))
    np.testing.assert_array_equal(rebuilt.predict_proba(frame), clf.predict_proba(frame))
    np.testing.assert_array_equal(rebuilt.predict(frame), clf.predict(frame))
    np.testing.assert_array_equal(rebuilt.feature_importances_, clf.feature_importances_)
    np.testing.assert_array_equal(rebuilt.decision_function(frame, pred_contrib=True),
                                  clf.decision_function(frame, pred_contrib=True))
