"""Regression tests of the reliability issue: misuse that once gave silent wrong answers,
hangs or late crashes (each fails on the code before the fix)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import xgboost as xgb
from numpy.testing import assert_array_equal

from gbfocal import BinaryFocalLoss


def _imbalanced(n: int, positive_rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (rng.random(n) < positive_rate).astype(float)
    return X, y


def test_one_unfitted_balanced_loss_shared_by_concurrent_trainings():
    """Each training set boosts with its own resolved class weights, even when two threads
    share one unfitted alpha="balanced" loss (before: the other training's alpha_ leaked in,
    about 1 call in 60)."""
    shared = BinaryFocalLoss(alpha="balanced", gamma=2.0)
    sets = []
    for seed, rate in ((0, 0.05), (1, 0.5)):
        X, y = _imbalanced(2000, rate, seed)
        raw = np.random.default_rng(seed).normal(size=2000).astype(np.float32)
        dtrain = xgb.DMatrix(X, y)
        expected = BinaryFocalLoss(alpha="balanced", gamma=2.0).xgb_objective(raw, dtrain)
        sets.append((raw, dtrain, expected))
    wrong = []
    start = threading.Barrier(2)

    def train(raw, dtrain, expected):
        start.wait()
        for _ in range(1500):
            grad, hess = shared.xgb_objective(raw, dtrain)
            if not (np.array_equal(grad, expected[0]) and np.array_equal(hess, expected[1])):
                wrong.append(1)

    threads = [threading.Thread(target=train, args=s) for s in sets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong, f"{len(wrong)} of 3000 calls used the other training's class weights"


def test_concurrent_xgboost_trainings_sharing_a_loss_match_sequential_ones():
    shared = BinaryFocalLoss(alpha="balanced", gamma=2.0)
    data = [_imbalanced(1500, rate, seed) for seed, rate in ((2, 0.08), (3, 0.4))]
    params = {"max_depth": 3, "nthread": 1, "base_score": 0.0}

    def fit(loss, X, y):
        return xgb.train(params, xgb.DMatrix(X, y), 25, obj=loss.xgb_objective)

    expected = [fit(BinaryFocalLoss(alpha="balanced", gamma=2.0), X, y).predict(
        xgb.DMatrix(X), output_margin=True) for X, y in data]
    results: dict[int, np.ndarray] = {}

    def run(i):
        X, y = data[i]
        results[i] = fit(shared, X, y).predict(xgb.DMatrix(X), output_margin=True)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(2):
        assert_array_equal(results[i], expected[i])


@pytest.mark.parametrize("n_sets", [1, 3])
def test_training_set_caches_stay_bounded(n_sets):
    loss = BinaryFocalLoss(alpha="balanced")
    for seed in range(20):
        X, y = _imbalanced(50, 0.3, seed % n_sets)
        loss.xgb_objective(np.zeros(50, np.float32), xgb.DMatrix(X, y))
    assert len(loss._train_caches) <= 8


@pytest.mark.parametrize("backend", ["lightgbm", "xgboost"])
@pytest.mark.parametrize("metric", ["average_precision", "roc_auc"])
def test_an_eval_set_where_the_metric_is_undefined_is_refused_before_training(backend, metric):
    """One class in the validation set: AP/AUC would be NaN every round and early stopping
    would keep round 1 (before: best_iteration_ = 1 of 200, silently)."""
    from gbfocal import FocalLGBMClassifier, FocalXGBClassifier

    Estimator = FocalLGBMClassifier if backend == "lightgbm" else FocalXGBClassifier
    X, y = _imbalanced(400, 0.3, 0)
    negatives = np.flatnonzero(y == 0)[:50]
    clf = Estimator(n_estimators=200, early_stopping_rounds=5, eval_metric=metric, n_jobs=1)
    with pytest.raises(ValueError, match=rf"{metric} is undefined on eval_set\[0\]"):
        clf.fit(X, y, eval_set=[(X[negatives], y[negatives])])
    # a class present only with weight 0 is missing too
    rows = np.r_[negatives, np.flatnonzero(y == 1)[:5]]
    weight = np.where(y[rows] == 1, 0.0, 1.0)
    with pytest.raises(ValueError, match="undefined"):
        clf.fit(X, y, eval_set=[(X[rows], y[rows])], eval_sample_weight=[weight])
    # the losses are defined for one class
    clf.set_params(eval_metric="log_loss").fit(X, y, eval_set=[(X[negatives], y[negatives])])


def test_multiclass_ranking_metric_needs_every_class():
    from gbfocal import FocalLGBMClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = rng.integers(0, 3, 300)
    keep = y != 2
    clf = FocalLGBMClassifier(n_estimators=20, early_stopping_rounds=3, eval_metric="roc_auc",
                              n_jobs=1)
    with pytest.raises(ValueError, match=r"classes \[2\]"):
        clf.fit(X, y, eval_set=[(X[keep], y[keep])])


def test_native_metric_raises_instead_of_returning_nan():
    loss = BinaryFocalLoss(gamma=2.0)
    X, y = _imbalanced(100, 0.3, 0)
    negatives = y == 0
    metric = loss.xgb_eval("average_precision")
    with pytest.raises(ValueError, match="undefined"):
        metric(np.zeros(int(negatives.sum()), np.float32),
               xgb.DMatrix(X[negatives], y[negatives]))


def _predict_in_child(clf, X, queue):
    queue.put(clf.predict(X).shape)


def test_lightgbm_predict_honours_n_jobs_so_a_forked_child_does_not_hang():
    """Before: predict ignored n_jobs and started every OpenMP thread; a child forked after
    that hung in its own predict (GridSearchCV with the multiprocessing backend)."""
    import multiprocessing

    from gbfocal import FocalLGBMClassifier

    X, y = _imbalanced(500, 0.3, 0)
    clf = FocalLGBMClassifier(n_estimators=10, n_jobs=1).fit(X, y)
    clf.predict(X)  # in the parent first
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_predict_in_child, args=(clf, X, queue))
    child.start()
    child.join(60)
    hung = child.is_alive()
    if hung:
        child.kill()
    assert not hung, "predict in a forked child hung"
    assert queue.get(timeout=5) == (500,)


def test_lightgbm_predict_passes_the_thread_count(monkeypatch):
    import lightgbm as lgb

    from gbfocal import FocalLGBMClassifier, FocalMultiOutputClassifier

    seen = []
    original = lgb.Booster.predict

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("num_threads"))
        return original(self, *args, **kwargs)

    X, y = _imbalanced(300, 0.3, 0)
    clf = FocalLGBMClassifier(n_estimators=5, n_jobs=1).fit(X, y)
    multi = FocalMultiOutputClassifier(n_estimators=5, n_jobs=1).fit(
        X, np.column_stack([y, 1 - y]).astype(int))
    monkeypatch.setattr(lgb.Booster, "predict", spy)
    clf.predict_proba(X)
    multi.predict(X)
    assert seen and all(threads == 1 for threads in seen)


# ------------------------------------------------------------------ parameter aliases
@pytest.mark.parametrize(
    "alias",
    ["eta", "shrinkage_rate", "max_leaves", "min_data", "lambda", "random_seed", "nthread",
     "sub_feature", "l1_regularization", "num_boost_round", "min_sum_hessian", "bagging",
     "subsample_freq", "early_stopping", "metrics", "verbose"],
)
def test_lightgbm_aliases_of_constructor_parameters_are_rejected(alias):
    """Before: params={"eta": 0.9} trained at learning_rate 0.1 (LightGBM lets the main
    name win), the same for 21 more aliases."""
    from gbfocal import FocalLGBMClassifier

    X, y = _imbalanced(100, 0.3, 0)
    with pytest.raises(ValueError, match=rf"'{alias}'.*estimator sets it"):
        FocalLGBMClassifier(params={alias: 1}, n_estimators=3).fit(X, y)


@pytest.mark.parametrize("alias", ["learning_rate", "reg_alpha", "reg_lambda", "random_state",
                                   "n_jobs", "eta", "lambda", "num_boost_round"])
def test_xgboost_aliases_of_constructor_parameters_are_rejected(alias):
    from gbfocal import FocalXGBClassifier

    X, y = _imbalanced(100, 0.3, 0)
    with pytest.raises(ValueError, match=rf"'{alias}'"):
        FocalXGBClassifier(params={alias: 1}, n_estimators=3).fit(X, y)


def test_one_native_parameter_under_two_names_is_rejected():
    from gbfocal import FocalLGBMClassifier

    X, y = _imbalanced(100, 0.3, 0)
    with pytest.raises(ValueError, match="twice"):
        FocalLGBMClassifier(params={"max_bin": 63, "max_bins": 31}, n_estimators=3).fit(X, y)


def test_native_parameters_that_are_not_controlled_still_work():
    from gbfocal import FocalLGBMClassifier, FocalXGBClassifier

    X, y = _imbalanced(200, 0.3, 0)
    lgb_model = FocalLGBMClassifier(params={"max_bin": 15, "extra_trees": True}, n_estimators=3)
    assert lgb_model.fit(X, y).booster_.params["max_bin"] == 15
    xgb_model = FocalXGBClassifier(params={"gamma": 0.5, "max_bin": 15}, n_estimators=3)
    import json

    config = json.loads(xgb_model.fit(X, y).booster_.save_config())
    tree = config["learner"]["gradient_booster"]["tree_train_param"]
    assert tree["min_split_loss"] == "0.5" and tree["max_bin"] == "15"


@pytest.mark.parametrize(
    ("backend", "name"),
    [("xgboost", "eta"), ("xgboost", "lambda"), ("xgboost", "n_estimators"),
     ("xgboost", "num_boost_round"), ("lightgbm", "eta"), ("lightgbm", "num_iterations"),
     ("lightgbm", "objective"), ("xgboost", "scale_pos_weight")],
)
def test_multioutput_rejects_parameters_it_controls(backend, name):
    """Before: FocalMultiOutputClassifier had no reserved-name check (XGBoost eta, lambda,
    n_estimators, num_boost_round were silently ignored)."""
    from gbfocal import FocalMultiOutputClassifier

    X, y = _imbalanced(120, 0.3, 0)
    labels = np.column_stack([y, 1 - y]).astype(int)
    with pytest.raises(ValueError, match=name):
        FocalMultiOutputClassifier(backend=backend, params={name: 1}, n_estimators=3).fit(
            X, labels)


def test_xgboost_gblinear_is_refused_before_training():
    from gbfocal import FocalXGBClassifier

    X, y = _imbalanced(100, 0.3, 0)
    with pytest.raises(ValueError, match="gblinear"):
        FocalXGBClassifier(params={"booster": "gblinear"}, n_estimators=3).fit(X, y)


# ------------------------------------------------------------------ messages
def test_a_dmatrix_without_labels_says_so():
    """Before: 'y_true is empty' / 'y_true has 0 samples'. (A LightGBM Dataset built without
    labels stores zeros, so it cannot be told apart from all-negative labels.)"""
    loss = BinaryFocalLoss()
    raw = np.zeros(3, np.float32)
    for call in (lambda: loss.xgb_objective(raw, xgb.DMatrix(np.zeros((3, 2)))),
                 lambda: loss.xgb_metric(raw, xgb.DMatrix(np.zeros((3, 2))))):
        with pytest.raises(ValueError, match="has no labels"):
            call()


def test_multioutput_string_labels_treat_the_numeric_marker_as_missing():
    """Before: in a string label array the -1 marker became the string "-1", a class."""
    from gbfocal import FocalMultiOutputClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = np.where(X[:, :2] > 0, "pos", "neg")
    y[rng.random(y.shape) < 0.3] = -1  # numpy stores it as "-1" in a str array
    assert "-1" in y
    clf = FocalMultiOutputClassifier(n_estimators=5, n_jobs=1).fit(X, y)
    assert clf.classes_.tolist() == ["neg", "pos"]
    assert set(np.unique(clf.predict(X))) <= {"neg", "pos"}


# ------------------------------------------------------------------ install hints
def test_every_optional_import_says_what_to_install(monkeypatch):
    """One helper, one format: '<what> needs <package>: pip install gbfocal[<extra>]'."""
    import re
    import sys

    from gbfocal import FocalLGBMClassifier, FocalMultiOutputClassifier, gpu, tuning
    from gbfocal import xgboost as gb_xgboost

    pattern = r"needs \w+: pip install gbfocal\[\w+\]"
    X, y = _imbalanced(50, 0.3, 0)
    for module, call in (
        ("lightgbm", lambda: FocalLGBMClassifier(n_estimators=2).fit(X, y)),
        ("xgboost", lambda: FocalMultiOutputClassifier(backend="xgboost").fit(
            X, np.column_stack([y, y]).astype(int))),
        ("xgboost", lambda: gb_xgboost._xgboost()),
        ("optuna", lambda: tuning._search._import_optuna()),
        ("cupy", lambda: gpu.array_module("cupy")),
    ):
        with monkeypatch.context() as patch:
            patch.setitem(sys.modules, module, None)
            with pytest.raises(ImportError, match=pattern) as info:
                call()
            assert re.search(rf"needs {module}", str(info.value))


def test_multioutput_objective_reuses_buffers_only_when_free():
    """The multi-output loss shares the per-round buffers of the loss base: a held result is
    never overwritten, a dropped one is reused."""
    from gbfocal import MultiOutputFocalLoss

    rng = np.random.default_rng(0)
    y = rng.integers(-1, 3, size=(200, 2))
    loss = MultiOutputFocalLoss(2, 3, alpha="balanced")
    dtrain = xgb.DMatrix(rng.normal(size=(200, 3)), label=loss.xgb_label(y))
    raw1 = rng.normal(size=(200, 6)).astype(np.float32)
    raw2 = rng.normal(size=(200, 6)).astype(np.float32)
    held_grad, held_hess = loss.xgb_objective(raw1, dtrain)
    copy_grad = held_grad.copy()
    grad2, _ = loss.xgb_objective(raw2, dtrain)
    assert np.array_equal(held_grad, copy_grad)  # held: not overwritten
    expected = loss.grad_hess(y, raw2.astype(np.float64))[0].astype(np.float32)
    assert np.array_equal(grad2, expected)
    del held_grad, held_hess, grad2, _
    again, _ = loss.xgb_objective(raw1, dtrain)
    assert np.array_equal(again, copy_grad)
