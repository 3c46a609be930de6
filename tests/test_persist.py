"""Saving and loading fitted estimators: one JSON file, identical predictions, across
processes, without pickle."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.datasets import make_classification

import gbfocal
from gbfocal import FocalLGBMClassifier, FocalMultiOutputClassifier, FocalXGBClassifier
from gbfocal.persist import load_model, save_model

FAST = {"n_estimators": 15, "n_jobs": 1, "random_state": 0}


def _data(n_classes: int, labels: str):
    X, y = make_classification(n_samples=400, n_features=6, n_informative=4,
                               n_classes=n_classes, weights=None if n_classes > 2 else [0.8],
                               random_state=n_classes)
    names = {"int": np.array([3, 7, 11]), "str": np.array(["ant", "bee", "cat"]),
             "float": np.array([1.0, 2.0, 4.0])}[labels]
    return X, names[y]


@pytest.mark.parametrize("Estimator", [FocalLGBMClassifier, FocalXGBClassifier])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("labels", ["int", "str", "float"])
def test_round_trip_gives_identical_predictions(tmp_path, Estimator, n_classes, labels):
    X, y = _data(n_classes, labels)
    alpha = "balanced" if labels != "float" else None
    clf = Estimator(alpha=alpha, gamma=1.5, early_stopping_rounds=5, **FAST).fit(
        X[:300], y[:300], eval_set=[(X[300:], y[300:])])
    path = clf.save_model(tmp_path / "model.json")
    loaded = gbfocal.load_model(path)
    assert type(loaded) is Estimator
    assert loaded.classes_.dtype == clf.classes_.dtype
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.decision_function(X), clf.decision_function(X))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    np.testing.assert_array_equal(loaded.loss_.alpha_, clf.loss_.alpha_)
    assert loaded.best_iteration_ == clf.best_iteration_
    assert loaded.get_params() == clf.get_params()
    np.testing.assert_allclose(loaded.feature_importances_, clf.feature_importances_)
    assert Estimator.load_model(path).predict(X[:5]).tolist() == clf.predict(X[:5]).tolist()


def test_plain_link_and_feature_names_survive(tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = _data(2, "str")
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = FocalLGBMClassifier(correct_proba=False, **FAST).fit(frame, y)
    loaded = load_model(save_model(clf, tmp_path / "m.json"))
    assert loaded.correct_proba is False
    np.testing.assert_array_equal(loaded.feature_names_in_, clf.feature_names_in_)
    np.testing.assert_array_equal(loaded.predict_proba(frame), clf.predict_proba(frame))


def test_multioutput_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = np.where(X[:, :2] > 0.3, "pos", np.where(X[:, :2] < -0.3, "neg", "neu")).astype(object)
    y[rng.random(y.shape) < 0.3] = -1
    for backend in ("lightgbm", "xgboost"):
        clf = FocalMultiOutputClassifier(backend=backend, alpha="balanced", **FAST).fit(X, y)
        loaded = load_model(save_model(clf, tmp_path / f"{backend}.json"))
        np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
        np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_loading_in_another_process_needs_no_pickle(tmp_path):
    X, y = _data(3, "str")
    clf = FocalXGBClassifier(alpha=[1.0, 2.0, 3.0], **FAST).fit(X, y)
    path = clf.save_model(tmp_path / "model.json")
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "expected.npy", clf.predict_proba(X))
    code = textwrap.dedent(f"""
        import pickle, sys
        import numpy as np
        def refuse(*args, **kwargs):
            raise AssertionError("pickle used")
        pickle.loads = pickle.load = refuse
        import gbfocal
        model = gbfocal.load_model({str(path)!r})
        X = np.load({str(tmp_path / "X.npy")!r})
        assert np.array_equal(model.predict_proba(X), np.load({str(tmp_path / "expected.npy")!r}))
        print("same")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "same" in done.stdout


def test_the_file_is_json_with_the_native_model(tmp_path):
    X, y = _data(2, "int")
    clf = FocalLGBMClassifier(**FAST).fit(X, y)
    document = json.loads(clf.save_model(tmp_path / "m.json").read_text())
    assert document["format"] == "gbfocal-model" and document["version"] == 2
    assert document["boosters"][0]["library"] == "lightgbm"
    assert document["boosters"][0]["model"].startswith("tree")  # LightGBM's text format
    assert document["loss"]["gamma"] == 2.0


def test_save_refuses_to_overwrite_and_bad_files_are_clear(tmp_path):
    X, y = _data(2, "int")
    clf = FocalLGBMClassifier(**FAST).fit(X, y)
    path = clf.save_model(tmp_path / "m.json")
    with pytest.raises(FileExistsError, match="overwrite"):
        clf.save_model(path)
    clf.save_model(path, overwrite=True)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a gbfocal model file"):
        load_model(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something"}))
    with pytest.raises(ValueError, match="not a gbfocal model file"):
        load_model(tmp_path / "other.json")
    with pytest.raises(TypeError, match="holds a FocalLGBMClassifier"):
        FocalXGBClassifier.load_model(path)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        FocalLGBMClassifier().save_model(tmp_path / "unfitted.json")


def test_unsaveable_parameters_are_listed_and_do_not_change_predictions(tmp_path):
    X, y = _data(2, "int")
    clf = FocalLGBMClassifier(n_estimators=10, n_jobs=1,
                              random_state=np.random.RandomState(0)).fit(X, y)
    path = clf.save_model(tmp_path / "m.json")
    assert json.loads(path.read_text())["params_not_saved"] == ["random_state"]
    np.testing.assert_array_equal(load_model(path).predict_proba(X), clf.predict_proba(X))


def test_multilabel_round_trip(tmp_path):
    from gbfocal import FocalMultiLabelClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    Y = (X[:, :3] + rng.normal(scale=0.5, size=(300, 3)) > [1.0, 0.5, 0.0]).astype(int)
    Y[rng.random(Y.shape) < 0.1] = -1
    for backend in ("lightgbm", "xgboost"):
        clf = FocalMultiLabelClassifier(backend=backend, alpha="balanced", **FAST).fit(X, Y)
        loaded = load_model(save_model(clf, tmp_path / f"{backend}.json"))
        np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
        np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
        assert [c.tolist() for c in loaded.classes_] == [[0, 1]] * 3


def test_metadata_is_saved_covered_by_the_digest_and_checked(tmp_path):
    from gbfocal.persist import load_model_with_metadata

    X, y = _data(2, "str")
    clf = FocalLGBMClassifier(**FAST).fit(X, y)
    metadata = {"threshold": {"value": np.float64(0.25), "pos_label": "ant"},
                "folds": np.array([1, 2])}
    path = save_model(clf, tmp_path / "m.json", metadata=metadata)
    loaded, read = load_model_with_metadata(path)
    assert read == {"threshold": {"value": 0.25, "pos_label": "ant"}, "folds": [1, 2]}
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert load_model(path).predict(X[:3]).tolist() == clf.predict(X[:3]).tolist()
    # without metadata the file has no such field, and an empty dict comes back
    plain = save_model(clf, tmp_path / "plain.json")
    assert "metadata" not in json.loads(plain.read_text())
    assert load_model_with_metadata(plain)[1] == {}
    # an edit of the metadata breaks the digest
    document = json.loads(path.read_text())
    document["metadata"]["threshold"]["value"] = 0.9
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="edited or damaged"):
        load_model(path)
    with pytest.raises(TypeError, match="metadata must be a dict"):
        save_model(clf, tmp_path / "bad.json", metadata=[1, 2])
    with pytest.raises(ValueError, match="metadata must hold JSON values"):
        save_model(clf, tmp_path / "nan.json", metadata={"t": float("nan")})
    with pytest.raises(ValueError, match="metadata must hold JSON values"):
        save_model(clf, tmp_path / "obj.json", metadata={"t": object()})
    assert not (tmp_path / "nan.json").exists()


def test_metadata_that_is_no_object_is_refused(tmp_path):
    from gbfocal.persist import _digest

    X, y = _data(2, "int")
    path = save_model(FocalLGBMClassifier(**FAST).fit(X, y), tmp_path / "m.json")
    document = json.loads(path.read_text())
    document["metadata"] = [0.5]
    document["sha256"] = _digest(document)
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="metadata must be an object"):
        load_model(path)
