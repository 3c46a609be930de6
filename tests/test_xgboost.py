"""gbfocal.xgboost.train: the margin-keeping loop builds the model xgb.train(obj=) builds."""

from __future__ import annotations

import sys

import numpy as np
import pytest

xgb = pytest.importorskip("xgboost")

from gbfocal.losses import BinaryFocalLoss, MulticlassFocalLoss  # noqa: E402
from gbfocal.xgboost import train  # noqa: E402

PARAMS = {"max_depth": 3, "eta": 0.3, "nthread": 1, "tree_method": "hist"}


def _data(n_classes, n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    X[rng.random((n, 5)) < 0.05] = np.nan  # missing values go the same way in both
    scores = np.nan_to_num(X[:, :n_classes]) * 1.5 - np.arange(n_classes)
    y = np.argmax(scores + rng.gumbel(size=(n, n_classes)), axis=1).astype(float)
    return X, y, rng.uniform(0.5, 2.0, n)


def _setup(n_classes, weighted=True):
    X, y, w = _data(n_classes)
    if n_classes == 2:
        loss = BinaryFocalLoss(alpha="balanced", gamma=2.0)
        margin = np.full(len(y), loss.init_score(y, w))
    else:
        loss = MulticlassFocalLoss(n_classes, alpha="balanced", gamma=1.5)
        margin = np.tile(loss.init_score(y, w), (len(y), 1))
    weight = w if weighted else None
    dtrain = xgb.DMatrix(X, y, weight=weight, base_margin=margin)
    return X, y, loss, dtrain


def _reference(loss, dtrain, rounds, **kwargs):
    params = {**PARAMS, "base_score": 0.0, "disable_default_eval_metric": 1}
    if not loss.binary:
        params["num_class"] = loss.n_classes
    return xgb.train(params, dtrain, rounds, obj=loss.xgb_objective, verbose_eval=False,
                     **kwargs)


@pytest.fixture
def device_branch(monkeypatch):
    """The GPU branch (margins kept and updated by the loop), with NumPy standing in
    for CuPy: CI has no GPU."""
    from gbfocal import xgboost as fast_module

    monkeypatch.setitem(sys.modules, "cupy", np)
    monkeypatch.setattr(fast_module, "_on_gpu", lambda data: True)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("branch", ["host", "device"])
def test_same_model_as_xgb_train_with_the_objective(request, n_classes, weighted, branch):
    if branch == "device":
        request.getfixturevalue("device_branch")
    X, _, loss, dtrain = _setup(n_classes, weighted)
    fast = train(PARAMS, dtrain, 12, loss=loss, data=X, verbose_eval=False)
    reference = _reference(loss, dtrain, 12)
    assert fast.get_dump(with_stats=True) == reference.get_dump(with_stats=True)
    np.testing.assert_array_equal(fast.predict(dtrain, output_margin=True),
                                  reference.predict(dtrain, output_margin=True))


@pytest.mark.parametrize("branch", ["host", "device"])
def test_evals_early_stopping_and_history_follow_xgb_train(request, branch):
    if branch == "device":
        request.getfixturevalue("device_branch")
    X, y, loss, dtrain = _setup(2)
    Xv, yv, _ = _data(2, n=300, seed=1)
    dvalid = xgb.DMatrix(Xv, yv, base_margin=np.full(len(yv), loss.init_score(y)))
    evals = [(dtrain, "train"), (dvalid, "valid")]
    kwargs = dict(evals=evals, custom_metric=loss.xgb_eval("focal_loss"),
                  early_stopping_rounds=3)
    history_fast, history_ref = {}, {}
    fast = train(PARAMS, dtrain, 200, loss=loss, data=X, evals_result=history_fast,
                 verbose_eval=False, **kwargs)
    reference = _reference(loss, dtrain, 200, evals_result=history_ref, **kwargs)
    assert history_fast == history_ref
    assert fast.best_iteration == reference.best_iteration < 199  # it did stop early
    assert fast.get_dump() == reference.get_dump()


def test_host_data_or_none_boosts_as_xgb_train():
    X, _, loss, dtrain = _setup(2)
    reference = _reference(loss, dtrain, 6).get_dump()
    assert train(PARAMS, dtrain, 6, loss=loss, verbose_eval=False).get_dump() == reference


@pytest.mark.parametrize(
    ("params", "kwargs", "error", "match"),
    [
        ({"objective": "binary:logistic"}, {}, ValueError, "objective"),
        ({"base_score": 0.5}, {}, ValueError, "base_score"),
        ({"booster": "dart"}, {}, ValueError, "dart"),
        ({"num_class": 4}, {"multiclass": True}, ValueError, "num_class"),
        ({}, {"rows": 10}, ValueError, "rows"),
        ({}, {"dtrain": "not a DMatrix"}, TypeError, "DMatrix"),
        ({}, {"loss": "focal"}, TypeError, "BinaryFocalLoss"),
        ([("max_depth", 2)], {}, TypeError, "params"),
    ],
)
@pytest.mark.usefixtures("device_branch")
def test_bad_arguments_are_rejected(params, kwargs, error, match):
    X, y, loss, dtrain = _setup(3 if kwargs.get("multiclass") else 2)
    data = X[: kwargs["rows"]] if "rows" in kwargs else X
    with pytest.raises(error, match=match):
        train(params, kwargs.get("dtrain", dtrain), 2, loss=kwargs.get("loss", loss), data=data,
              verbose_eval=False)


@pytest.mark.parametrize("branch", ["host", "device"])
def test_the_evaluation_log_is_xgb_trains_to_the_last_round(request, capsys, branch):
    """verbose_eval prints what xgb.train prints, the round early stopping ends on
    included (the log runs before early stopping, as in xgb.train)."""
    if branch == "device":
        request.getfixturevalue("device_branch")
    X, y, loss, dtrain = _setup(2)
    Xv, yv, _ = _data(2, n=300, seed=1)
    dvalid = xgb.DMatrix(Xv, yv, base_margin=np.full(len(yv), loss.init_score(y)))
    kwargs = dict(evals=[(dvalid, "valid")], custom_metric=loss.xgb_eval("focal_loss"),
                  early_stopping_rounds=3, verbose_eval=True)
    train(PARAMS, dtrain, 200, loss=loss, data=X, **kwargs)
    ours = capsys.readouterr()
    params = {**PARAMS, "base_score": 0.0, "disable_default_eval_metric": 1}
    xgb.train(params, dtrain, 200, obj=loss.xgb_objective, **kwargs)
    theirs = capsys.readouterr()
    assert ours.out == theirs.out and ours.err == theirs.err
    assert (ours.out + ours.err).count("valid-focal_loss") > 4


@pytest.mark.parametrize("n_classes", [2, 3])
def test_the_fit_reads_margins_without_xgboosts_python_predict(monkeypatch, n_classes):
    """The rounds read the fit's own margins through the C API (XGBoost's Booster.predict
    costs ~90 us of Python per call, two calls a round) and check each matrix's features
    once: with the installed XGBoost neither of its Python paths runs per round."""
    X, y, loss, dtrain = _setup(n_classes)
    Xv, yv, _ = _data(n_classes, n=300, seed=1)
    init = loss.init_score(y)
    dvalid = xgb.DMatrix(Xv, yv, base_margin=np.tile(init, (len(yv), 1)).reshape(
        len(yv), -1).squeeze())
    calls = {"predict": 0, "features": 0}
    predict, features = xgb.Booster.predict, xgb.Booster._assign_dmatrix_features

    def counted_predict(self, *args, **kwargs):
        calls["predict"] += 1
        return predict(self, *args, **kwargs)

    def counted_features(self, data):
        calls["features"] += 1
        return features(self, data)

    monkeypatch.setattr(xgb.Booster, "predict", counted_predict)
    monkeypatch.setattr(xgb.Booster, "_assign_dmatrix_features", counted_features)
    history = {}
    booster = train(PARAMS, dtrain, 20, loss=loss, evals=[(dvalid, "valid")],
                    custom_metric=loss.xgb_eval("log_loss"), evals_result=history,
                    verbose_eval=False)
    assert calls == {"predict": 0, "features": 2}  # once per matrix, never per round
    assert type(booster) is xgb.Booster  # the fit's class does not leave the fit
    monkeypatch.undo()
    reference_history = {}
    reference = _reference(loss, dtrain, 20, evals=[(dvalid, "valid")],
                           custom_metric=loss.xgb_eval("log_loss"),
                           evals_result=reference_history)
    assert booster.get_dump(with_stats=True) == reference.get_dump(with_stats=True)
    assert history == reference_history and len(history["valid"]["log_loss"]) == 20


def test_a_callbacks_own_predictions_take_xgboosts_path(monkeypatch):
    """A user's callback predicting on another matrix goes through XGBoost's own predict
    (its feature checks and results), not the fit's shortcut."""
    X, y, loss, _ = _setup(2)
    names = list("abcde")
    dtrain = xgb.DMatrix(X, y, base_margin=np.full(len(y), loss.init_score(y)),
                         feature_names=names)
    seen = []
    library_calls = []
    predict = xgb.Booster.predict

    def counted_predict(self, *args, **kwargs):
        library_calls.append(args[0] if args else kwargs["data"])
        return predict(self, *args, **kwargs)

    class Probe(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            seen.append(model.predict(xgb.DMatrix(X[:50], feature_names=names),
                                      output_margin=True))
            with pytest.raises(ValueError, match="feature_names mismatch"):
                model.predict(xgb.DMatrix(X[:50], feature_names=list("vwxyz")),
                              output_margin=True)
            return False

    monkeypatch.setattr(xgb.Booster, "predict", counted_predict)
    booster = train(PARAMS, dtrain, 3, loss=loss, callbacks=[Probe()], verbose_eval=False)
    assert len(library_calls) == 6 and dtrain not in library_calls
    monkeypatch.undo()
    np.testing.assert_array_equal(
        seen[-1], booster.predict(xgb.DMatrix(X[:50], feature_names=names), output_margin=True))


def test_a_checkpoint_pickled_during_the_fit_is_a_plain_booster(tmp_path):
    X, _, loss, dtrain = _setup(2)
    checkpoint = xgb.callback.TrainingCheckPoint(tmp_path, name="model", as_pickle=True,
                                                 interval=2)
    booster = train(PARAMS, dtrain, 4, loss=loss, callbacks=[checkpoint], verbose_eval=False)
    saved = sorted(tmp_path.iterdir())
    assert saved and b"gbfocal" not in saved[-1].read_bytes()  # loads without gbfocal
    import pickle

    with open(saved[-1], "rb") as f:
        restored = pickle.load(f)
    assert type(restored) is xgb.Booster
    np.testing.assert_array_equal(restored.predict(xgb.DMatrix(X), output_margin=True)[:5],
                                  booster[: restored.num_boosted_rounds()].predict(
                                      xgb.DMatrix(X), output_margin=True)[:5])


def test_warm_start_and_quantile_matrices_boost_as_xgb_train():
    X, y, loss, dtrain = _setup(2)
    first = _reference(loss, dtrain, 4)
    from gbfocal._engines.xgboost import boost

    params = {**PARAMS, "base_score": 0.0, "disable_default_eval_metric": 1}
    warm = boost(xgb, params, dtrain, 3, obj=loss.xgb_objective, xgb_model=first)
    assert warm.get_dump() == _reference(loss, dtrain, 3, xgb_model=first).get_dump()
    assert warm.num_boosted_rounds() == 7
    # a QuantileDMatrix evaluation set must reference the training matrix: xgb.train's
    # own check, kept by handing such fits to xgb.train
    quantile = xgb.QuantileDMatrix(X, y)
    with pytest.raises(ValueError):
        boost(xgb, params, quantile, 2, obj=loss.xgb_objective,
              evals=[(xgb.QuantileDMatrix(X, y), "valid")])
