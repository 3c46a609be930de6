"""The library glue (gbfocal._engines): a boosting round's path through the package, the
adapters built once per loss object."""

from __future__ import annotations

import copy
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

import gbfocal
from gbfocal import BinaryFocalLoss, MulticlassFocalLoss
from gbfocal.adapters import LightGBMObjective, XGBoostObjective

lgb = pytest.importorskip("lightgbm")
xgb = pytest.importorskip("xgboost")

PACKAGE = str(Path(gbfocal.__file__).parent)


class _RoundFiles:
    """The package files a boosting round calls into, recorded from round ``watch`` on."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def profile(self, frame, event, arg):  # noqa: ARG002 - sys.setprofile's signature
        name = frame.f_code.co_filename
        if event == "call" and name.startswith(PACKAGE):
            self.calls.append(name[len(PACKAGE) + 1:])

    @property
    def files(self) -> set[str]:
        return set(self.calls)


class _ProfileRound:
    """lgb.train callback: profile one round after the first (caches built by then)."""

    order = 0
    before_iteration = True

    def __init__(self, record: _RoundFiles, round_: int = 2) -> None:
        self.record, self.round = record, round_

    def __call__(self, env) -> None:
        if env.iteration == self.round:
            sys.setprofile(self.record.profile)
        elif env.iteration == self.round + 1:
            sys.setprofile(None)


def _data(n_classes: int):
    rng = np.random.default_rng(n_classes)
    X = rng.normal(size=(600, 4))
    y = np.digitize(X[:, 0] + rng.normal(size=600), np.quantile(X[:, 0], [0.7, 0.9])[
        : n_classes - 1])
    return X, y


@pytest.mark.parametrize("n_classes", [2, 3])
def test_a_lightgbm_round_after_the_first_touches_four_files(n_classes):
    """Before: a round moved 24 times between 7 files (losses -> adapters -> losses three
    times, _backend, _validation and _spec every round). Now the adapter is built once, the
    training set resolves its compiled kernel once, and margins that are already right
    are not checked again in depth."""
    from gbfocal import FocalLGBMClassifier

    X, y = _data(n_classes)
    record = _RoundFiles()
    try:
        FocalLGBMClassifier(n_estimators=5, n_jobs=1, early_stopping_rounds=10,
                            eval_metric="average_precision" if n_classes == 2 else "log_loss",
                            ).fit(X[:400], y[:400], eval_set=[(X[400:], y[400:])],
                                  callbacks=[_ProfileRound(record)])
    finally:
        sys.setprofile(None)
    objective = {"_engines/adapters.py", "losses/_base.py", "_kernels.py", "_parallel.py"}
    if n_classes == 2:  # LightGBM computes the binary average precision itself
        assert record.files == objective, record.calls
    else:  # the multiclass log loss is gbfocal's: its metric adds the loss's own modules
        assert objective <= record.files
    assert record.files <= objective | {"_backend.py", "_spec.py", "_validation.py",
                                        "_focal.py", "_posterior.py", "losses/_binary.py"}


def test_an_xgboost_objective_round_touches_four_files():
    X, y = _data(2)
    loss = BinaryFocalLoss(alpha=0.25, gamma=2.0)
    init = loss.init_score(y)
    dtrain = xgb.DMatrix(X, y, base_margin=np.full(len(y), init))
    record = _RoundFiles()

    class Profile(xgb.callback.TrainingCallback):
        def before_iteration(self, model, epoch, evals_log):
            sys.setprofile(record.profile if epoch == 2 else None)
            return False

    try:
        xgb.train({"base_score": 0.0, "nthread": 1}, dtrain, 4, obj=loss.xgb_objective,
                  callbacks=[Profile()])
    finally:
        sys.setprofile(None)
    assert record.files == {"_engines/adapters.py", "losses/_base.py", "_kernels.py",
                            "_parallel.py"}, record.calls


@pytest.mark.parametrize("loss", [BinaryFocalLoss(gamma=2.0), MulticlassFocalLoss(3)])
def test_adapters_are_built_once_and_not_pickled(loss):
    assert isinstance(loss.lgb_objective, LightGBMObjective)
    assert loss.lgb_objective is loss.lgb_objective  # the same object every round
    assert isinstance(loss.xgb_objective, XGBoostObjective)
    assert loss.xgb_objective.loss is loss
    copied = pickle.loads(pickle.dumps(loss))
    assert "lgb_objective" not in copied.__dict__  # rebuilt on first use
    assert copied.lgb_objective.loss is copied
    deep = copy.deepcopy(loss.lgb_objective)  # what lgb.train does to its params
    assert deep.loss is not loss and deep.loss.lgb_objective.loss is deep.loss


def test_the_adapter_objective_equals_the_loss_math():
    X, y = _data(2)
    loss = BinaryFocalLoss(alpha=0.3, gamma=1.5)
    init = loss.init_score(y)
    margins = np.full(len(y), init) + X[:, 0]
    dataset = lgb.Dataset(X, y.astype(float), free_raw_data=False).construct()
    grad, hess = loss.lgb_objective(margins, dataset)
    expected = loss.grad_hess(y, margins)
    np.testing.assert_array_equal(grad, expected[0].astype(np.float32))
    np.testing.assert_array_equal(hess, expected[1].astype(np.float32))
    # a round later, the same training set: the same values from the cached kernel
    again = loss.lgb_objective(margins, dataset)
    np.testing.assert_array_equal(again[0], grad)


def _trees(booster) -> str:
    """A model's trees: what training decided (the header names the objective)."""
    text = booster.model_to_string()
    return text[text.index("Tree=0"):text.index("end of trees")]


@pytest.mark.parametrize("metric", ["average_precision", "roc_auc", "log_loss", "focal_loss"])
def test_lightgbm_own_log_loss_trains_the_focal_trees_at_gamma_0(metric):
    """gamma 0 and alpha None is the log loss: LightGBM's own binary objective and metrics
    (what the tuner's log-loss arm uses) train the very same trees, stop at the same round
    and record the same validation history."""
    from gbfocal._engines import lightgbm as engine

    X, y = _data(2)
    loss = BinaryFocalLoss(alpha=None, gamma=0.0)
    start = loss.init_score(y)
    results = {}
    for builtin in (False, True):
        train_set, valid_sets = engine.datasets(lgb, X[:400], y[:400], None,
                                                [(X[400:], y[400:], None)], start)
        results[builtin] = engine.train(
            lgb, {"verbose": -1, "num_threads": 1, "seed": 0, "num_leaves": 7}, loss,
            train_set, valid_sets, rounds=60, valid_names=["valid"], metrics=[metric],
            early_stopping_rounds=5, builtin_log_loss=builtin)
    focal, own = results[False], results[True]
    assert "[objective: custom]" in focal.booster.model_to_string()
    assert "[objective: custom]" not in own.booster.model_to_string()  # LightGBM's own ran
    assert _trees(own.booster) == _trees(focal.booster)
    assert own.rounds_run == focal.rounds_run
    assert own.booster.best_iteration == focal.booster.best_iteration
    np.testing.assert_allclose(own.history["valid"][metric], focal.history["valid"][metric],
                               rtol=1e-6)  # LightGBM's metric is float32-weighted


def test_lightgbm_own_log_loss_only_for_the_plain_log_loss():
    from gbfocal._engines import lightgbm as engine

    assert engine._log_loss_metrics(BinaryFocalLoss(gamma=0.0), ["average_precision"]) == [
        "average_precision"]
    for loss in (BinaryFocalLoss(gamma=0.5), BinaryFocalLoss(gamma=0.0, alpha=0.3),
                 BinaryFocalLoss(gamma=0.0, gamma_neg=1.0)):
        assert engine._log_loss_metrics(loss, ["log_loss"]) is None
    # multiclass: LightGBM's softmax Hessian is K / (K - 1) times the exact one (other trees)
    assert engine._log_loss_metrics(MulticlassFocalLoss(3, gamma=0.0), ["log_loss"]) is None
    assert engine._log_loss_metrics(BinaryFocalLoss(gamma=0.0), [lambda *a: ("m", 0, True)]) \
        is None
