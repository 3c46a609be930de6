"""``gbfocal train`` and ``gbfocal predict``: from a file to a model to predictions.

The commands run in this process (``cli.main``), so a traceback would fail the test; the
models are small (a few rounds, one thread).
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
optuna = pytest.importorskip("optuna")
pytest.importorskip("lightgbm")

import gbfocal  # noqa: E402
from gbfocal import cli  # noqa: E402

SMALL = ["--param", "n_estimators=8", "--n-jobs", "1"]
TUNE_FAST = ["--trials", "2", "--cv", "3", "--seed", "0", "--n-jobs", "1", "--no-progress",
             "--early-stopping-rounds", "5", "--param", "n_estimators=15", "--no-baseline"]


@pytest.fixture(autouse=True)
def _restore_optuna_logging():
    level = optuna.logging.get_verbosity()  # the CLI quiets Optuna's per-trial log
    yield
    optuna.logging.set_verbosity(level)


@pytest.fixture
def table():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 3))
    y = X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.7, size=120) > 0.8
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame.insert(0, "label", np.where(y, "yes", "no"))
    return frame


@pytest.fixture
def data(table, tmp_path):
    path = tmp_path / "data.csv"
    table.to_csv(path, index=False)
    return path


def _train(data, model, *extra) -> int:
    return cli.main(["train", str(data), "--target", "label", "--output", str(model),
                     *SMALL, *extra])


def _error(capsys) -> str:
    """The one error line of the last command (notes of earlier commands may precede it)."""
    lines = capsys.readouterr().err.splitlines()
    errors = [line for line in lines if line.startswith("gbfocal: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], lines
    return errors[0]


@pytest.mark.parametrize("backend", ["lightgbm", "xgboost"])
def test_file_to_model_to_predictions(table, data, tmp_path, capsys, backend):
    if backend == "xgboost":
        pytest.importorskip("xgboost")
    model = tmp_path / "model.json"
    assert _train(data, model, "--backend", backend, "--alpha", "0.3", "--gamma", "1.5") == 0
    err = capsys.readouterr().err
    assert "on 120 rows x 3 features, classes ['no', 'yes']" in err
    assert f"wrote {model}" in err
    estimator = gbfocal.load_model(model)
    assert type(estimator).__name__ == {"lightgbm": "FocalLGBMClassifier",
                                        "xgboost": "FocalXGBClassifier"}[backend]
    assert (estimator.alpha, estimator.gamma, estimator.n_estimators) == (0.3, 1.5, 8)

    predictions = tmp_path / "predictions.csv"
    assert cli.main(["predict", str(model), str(data), "--output", str(predictions)]) == 0
    assert "predicted 120 rows, classes ['no', 'yes']" in capsys.readouterr().err
    written = pd.read_csv(predictions)
    # the target column of the data is ignored: not a feature, not copied
    assert written.columns.tolist() == ["proba_no", "proba_yes", "predicted"]
    features = table[["a", "b", "c"]]
    np.testing.assert_allclose(written[["proba_no", "proba_yes"]].to_numpy(),
                               estimator.predict_proba(features), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(written["proba_no"] + written["proba_yes"], 1.0, atol=1e-12)
    assert written["predicted"].tolist() == estimator.predict(features).tolist()
    assert set(written["predicted"]) <= {"no", "yes"}


def test_predict_reads_features_by_name_and_keeps_asked_columns(table, data, tmp_path, capsys):
    model = tmp_path / "model.json"
    assert _train(data, model) == 0
    assert cli.main(["predict", str(model), str(data)]) == 0  # CSV on stdout
    expected = pd.read_csv(io.StringIO(capsys.readouterr().out))
    # other column order, an extra column, no target: the same predictions
    shuffled = table[["c", "a", "b"]].assign(id=np.arange(len(table)) + 100)
    new = tmp_path / "new.csv"
    shuffled.to_csv(new, index=False, sep=";")
    out = tmp_path / "out.csv"
    assert cli.main(["predict", str(model), str(new), "--keep", "id", "-o", str(out)]) == 0
    written = pd.read_csv(out)
    assert written.columns.tolist() == ["id", "proba_no", "proba_yes", "predicted"]
    assert written["id"].tolist() == list(range(100, 100 + len(table)))
    pd.testing.assert_frame_equal(written.drop(columns="id"), expected)
    # the true label alongside the prediction, on request
    both = tmp_path / "both.csv"
    assert cli.main(["predict", str(model), str(data), "--keep", "label", "-o", str(both)]) == 0
    assert pd.read_csv(both)["label"].tolist() == table["label"].tolist()


def test_multiclass_and_numeric_labels(table, tmp_path, capsys):
    three = table.assign(label=np.digitize(table["a"], [-0.5, 0.5]))  # 0, 1, 2
    data = tmp_path / "three.csv"
    three.to_csv(data, index=False)
    model = tmp_path / "model.json"
    assert _train(data, model, "--alpha", "balanced") == 0
    out = tmp_path / "out.tsv"
    assert cli.main(["predict", str(model), str(data), "-o", str(out)]) == 0
    written = pd.read_csv(out, sep="\t")
    assert written.columns.tolist() == ["proba_0", "proba_1", "proba_2", "predicted"]
    np.testing.assert_allclose(written.iloc[:, :3].sum(axis=1), 1.0, atol=1e-12)
    assert set(written["predicted"]) <= {0, 1, 2}
    assert cli.main(["train", str(data), "--target", "label", "-o", str(tmp_path / "x.json"),
                     "--pos-label", "1"]) == 1
    assert "--pos-label is only for binary targets" in _error(capsys)


def test_predictions_to_parquet(data, tmp_path):
    pytest.importorskip("pyarrow")
    model = tmp_path / "model.json"
    assert _train(data, model) == 0
    out = tmp_path / "out.parquet"
    assert cli.main(["predict", str(model), str(data), "-o", str(out)]) == 0
    assert pd.read_parquet(out).columns.tolist() == ["proba_no", "proba_yes", "predicted"]


# -------------------------------------------------------------------------- --params
def test_tune_model_and_train_with_its_params_are_the_same_model(data, table, tmp_path, capsys):
    best = tmp_path / "best.json"
    tuned = tmp_path / "tuned.json"
    assert cli.main(["tune", str(data), "--target", "label", "-o", str(best), "--model",
                     str(tuned), *TUNE_FAST]) == 0
    err = capsys.readouterr().err
    assert f"wrote {tuned}" in err and f"wrote {best}" in err
    result = json.loads(best.read_text())
    tuned_model = gbfocal.load_model(tuned)
    for name, value in result["best_params"].items():
        assert tuned_model.get_params()[name] == value, name

    trained = tmp_path / "trained.json"
    assert cli.main(["train", str(data), "--target", "label", "--params", str(best),
                     "--seed", "0", "-o", str(trained)]) == 0
    trained_model = gbfocal.load_model(trained)
    features = table[["a", "b", "c"]]
    np.testing.assert_allclose(trained_model.predict_proba(features),
                               tuned_model.predict_proba(features), rtol=1e-10)


def test_plain_params_and_overrides(data, tmp_path):
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"alpha": 0.25, "gamma": 1.0, "n_estimators": 5,
                                  "num_leaves": 7}))
    model = tmp_path / "model.json"
    assert cli.main(["train", str(data), "--target", "label", "--params", str(params),
                     "--n-jobs", "1", "-o", str(model)]) == 0
    got = gbfocal.load_model(model).get_params()
    assert (got["alpha"], got["gamma"], got["n_estimators"], got["num_leaves"]) == (
        0.25, 1.0, 5, 7)
    # --param overrides the file, --alpha / --gamma / --seed override both
    assert cli.main(["train", str(data), "--target", "label", "--params", str(params),
                     "--param", "num_leaves=5", "--param", "gamma=3", "--alpha", "none",
                     "--gamma", "0.5", "--seed", "4", "--n-jobs", "1", "-o", str(model),
                     "--force"]) == 0
    got = gbfocal.load_model(model).get_params()
    assert (got["alpha"], got["gamma"], got["num_leaves"], got["random_state"]) == (
        None, 0.5, 5, 4)


@pytest.mark.parametrize(
    ("extra", "alpha"),
    [
        (["--alpha", "0.3"], 0.3),  # the minority class, yes, is the positive class
        (["--alpha", "0.3", "--pos-label", "yes"], 0.3),
        (["--alpha", "0.3", "--pos-label", "no"], [0.3, 0.7]),  # weights in label order
        (["--alpha", "1,3"], [1.0, 3.0]),
        (["--alpha", "balanced", "--pos-label", "no"], "balanced"),
    ],
)
def test_a_float_alpha_weights_the_pos_label(data, tmp_path, extra, alpha):
    model = tmp_path / "model.json"
    assert _train(data, model, *extra) == 0
    assert gbfocal.load_model(model).alpha == alpha


def test_a_tune_result_keeps_its_alpha_and_lends_its_pos_label(data, tmp_path):
    result = tmp_path / "best.json"
    result.write_text(json.dumps({
        "best_params": {"alpha": [0.3, 0.7], "gamma": 1.0, "n_estimators": 5},
        "pos_label": "no", "backend": "lightgbm", "classes": ["no", "yes"],
    }))
    model = tmp_path / "model.json"
    assert _train(data, model, "--params", str(result)) == 0
    assert gbfocal.load_model(model).alpha == [0.3, 0.7]  # already in label order
    # a float --alpha on top means the weight of the tuned pos_label, "no"
    assert _train(data, model, "--params", str(result), "--alpha", "0.2", "--force") == 0
    assert gbfocal.load_model(model).alpha == [0.2, 0.8]


def test_the_backend_of_a_tune_result_is_the_default(data, tmp_path):
    pytest.importorskip("xgboost")
    result = tmp_path / "best.json"
    result.write_text(json.dumps({"best_params": {"alpha": None, "gamma": 2.0,
                                                  "n_estimators": 4, "max_depth": 2},
                                  "backend": "xgboost"}))
    model = tmp_path / "model.json"
    assert _train(data, model, "--params", str(result)) == 0
    assert type(gbfocal.load_model(model)).__name__ == "FocalXGBClassifier"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"best_params": 3}', "best_params must be a JSON object"),
        ('{"num_leafs": 3}', "unknown parameters ['num_leafs'] for FocalLGBMClassifier"),
        ('{"best_params": {"gamma": 1}, "classes": ["a", "b"]}',
         "was tuned on the classes ['a', 'b'] but target column 'label' has ['no', 'yes']"),
        ('{"best_params": {"gamma": 1}, "backend": "catboost"}', "unknown backend 'catboost'"),
        ('{"gamma": -1}', "gamma"),
    ],
)
def test_bad_params_files_are_one_line_errors(data, tmp_path, capsys, content, message):
    params = tmp_path / "params.json"
    params.write_text(content)
    model = tmp_path / "model.json"
    assert _train(data, model, "--params", str(params)) == 1
    assert message in _error(capsys)
    assert not model.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--params", "missing.json"], "no such file: missing.json"),
        (["--pos-label", "maybe"], "--pos-label 'maybe' is not one of the labels ['no', 'yes']"),
        (["--param", "n_estimators=5:10"], "train takes one value per parameter"),
        (["--param", "n_estimators"], "bad --param"),
        (["--alpha", "1.5"], "alpha"),
    ],
)
def test_bad_train_options_are_one_line_errors(data, tmp_path, capsys, extra, message):
    assert _train(data, tmp_path / "model.json", *extra) == 1
    assert message in _error(capsys)


def test_alpha_range_for_train_is_a_usage_error(data, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _train(data, tmp_path / "model.json", "--alpha", "0.1:0.5")
    assert exit_info.value.code == 2
    assert "train takes one value" in capsys.readouterr().err


# ------------------------------------------------------------------- predict errors
def test_predict_errors_are_one_line(table, data, tmp_path, capsys):
    model = tmp_path / "model.json"
    assert _train(data, model) == 0
    capsys.readouterr()
    assert cli.main(["predict", str(tmp_path / "nope.json"), str(data)]) == 1
    assert "no such file" in _error(capsys)
    assert cli.main(["predict", str(data), str(data)]) == 1  # a CSV is not a model
    assert "not a gbfocal model file" in _error(capsys)
    other = tmp_path / "other.json"
    other.write_text('{"format": "gbfocal-model", "version": 1}')
    assert cli.main(["predict", str(other), str(data)]) == 1
    assert "not a complete gbfocal model file" in _error(capsys)
    lacking = tmp_path / "lacking.csv"
    table.drop(columns=["b"]).to_csv(lacking, index=False)
    assert cli.main(["predict", str(model), str(lacking)]) == 1
    assert "lacks the feature columns ['b'] the model was trained with" in _error(capsys)
    assert cli.main(["predict", str(model), str(data), "--keep", "id"]) == 1
    assert "--keep: " in _error(capsys)
    clash = tmp_path / "clash.csv"
    table.assign(predicted=1).to_csv(clash, index=False)
    assert cli.main(["predict", str(model), str(clash), "--keep", "predicted"]) == 1
    assert "two output columns would be named ['predicted']" in _error(capsys)
    assert cli.main(["predict", str(model), str(data), "-o", str(tmp_path / "p.json")]) == 1
    assert "unsupported output type '.json'" in _error(capsys)


# ---------------------------------------------------------------- categorical features
def _accepts_categories(backend: str) -> bool:
    from gbfocal.tuning._inputs import estimator_class as _estimator_class

    frame = pd.DataFrame({"x": np.arange(40.0), "c": pd.Categorical(list("abcd") * 10)})
    try:
        _estimator_class(backend)(n_estimators=2, n_jobs=1).fit(frame, np.arange(40) % 2)
    except (TypeError, ValueError):
        return False
    return True


@pytest.mark.parametrize("backend", ["lightgbm", "xgboost"])
def test_text_columns_train_and_predict_as_categories(table, tmp_path, capsys, backend):
    if backend == "xgboost":
        pytest.importorskip("xgboost")
    if not _accepts_categories(backend):
        pytest.skip(
            f"the {backend} estimator does not accept pandas category columns yet (missing "
            "estimator feature: native categorical support)"
        )
    rng = np.random.default_rng(3)
    city = rng.choice(["Oslo", "Paris", "Rome"], size=len(table))
    frame = table.assign(city=city, label=np.where((city == "Rome") ^ (rng.random(len(city))
                                                                        < 0.1), "yes", "no"))
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "model.json"
    assert _train(data, model, "--backend", backend, "--param", "n_estimators=20") == 0
    assert "categorical feature columns: ['city']" in capsys.readouterr().err
    out = tmp_path / "all.csv"
    assert cli.main(["predict", str(model), str(data), "-o", str(out)]) == 0
    everything = pd.read_csv(out)
    assert (everything["predicted"] == frame["label"]).mean() > 0.8
    # a file with other categories (only some cities, in another order) gets the same
    # probabilities for the same rows: categories are matched by value, not by code
    part = frame[frame["city"] != "Oslo"].iloc[::-1]
    some = tmp_path / "some.csv"
    part.to_csv(some, index=False)
    out_part = tmp_path / "part.csv"
    assert cli.main(["predict", str(model), str(some), "-o", str(out_part)]) == 0
    np.testing.assert_allclose(pd.read_csv(out_part)["proba_yes"],
                               everything["proba_yes"].to_numpy()[part.index], rtol=1e-12)


def test_tune_with_a_text_column(table, tmp_path, capsys):
    if not _accepts_categories("lightgbm"):
        pytest.skip("the lightgbm estimator does not accept pandas category columns yet "
                    "(missing estimator feature: native categorical support)")
    data = tmp_path / "data.csv"
    table.assign(city=np.where(table["a"] > 0, "north", "south")).to_csv(data, index=False)
    assert cli.main(["tune", str(data), "--target", "label", *TUNE_FAST]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["best_score"] > 0.5
    assert "categorical feature columns: ['city']" in captured.err
