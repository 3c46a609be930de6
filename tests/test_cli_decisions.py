"""The command line on imbalanced data (issue 26): the minority class is scored by default,
a decision threshold is chosen on out-of-fold predictions, saved in the model file and used
by ``predict``, ``tune`` says what runs after the trials, ``--plots`` draws the curves, and
every option has a help text.

The commands run in this process (``cli.main``), so a traceback would fail the test.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
optuna = pytest.importorskip("optuna")
pytest.importorskip("lightgbm")

from gbfocal import cli  # noqa: E402
from gbfocal._threshold import choose_threshold  # noqa: E402
from gbfocal.persist import load_model_with_metadata  # noqa: E402

TUNE_FAST = ["--trials", "2", "--cv", "3", "--seed", "0", "--n-jobs", "1", "--no-progress",
             "--early-stopping-rounds", "5", "--param", "n_estimators=15"]
SMALL = ["--param", "n_estimators=10", "--n-jobs", "1"]


@pytest.fixture(autouse=True)
def _restore_optuna_logging():
    level = optuna.logging.get_verbosity()  # the CLI quiets Optuna's per-trial log
    yield
    optuna.logging.set_verbosity(level)


@pytest.fixture
def table():
    """300 rows, about 12 % 'bad': the larger label, 'good', is the majority."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 3))
    bad = X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.6, size=300) > 1.4
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["risk"] = np.where(bad, "bad", "good")
    return frame


@pytest.fixture
def data(table, tmp_path):
    path = tmp_path / "credit.csv"
    table.to_csv(path, index=False)
    return path


def _json_out(capsys) -> tuple[dict, str]:
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


# ----------------------------------------------------------------- the scored class
def test_tune_scores_the_minority_class_by_default(table, data, capsys):
    assert (table["risk"] == "bad").mean() < 0.2
    assert cli.main(["tune", str(data), "--target", "risk", *TUNE_FAST]) == 0
    result, err = _json_out(capsys)
    assert result["pos_label"] == "bad"
    assert result["pos_label_source"] == "minority"
    n_bad = int((table["risk"] == "bad").sum())
    assert result["class_counts"] == {"bad": n_bad, "good": 300 - n_bad}
    assert (f"gbfocal: positive (scored) class: 'bad' (the minority class: {n_bad} of 300 "
            f"rows, {n_bad / 300:.1%}; --pos-label sets it)") in err
    # asked for, the majority class is scored, and said so
    assert cli.main(["tune", str(data), "--target", "risk", "--pos-label", "good",
                     *TUNE_FAST]) == 0
    result, err = _json_out(capsys)
    assert (result["pos_label"], result["pos_label_source"]) == ("good", "--pos-label")
    assert "positive (scored) class: 'good' (--pos-label; " in err


def test_train_weights_and_saves_the_minority_class(data, tmp_path, capsys):
    model = tmp_path / "model.json"
    assert cli.main(["train", str(data), "--target", "risk", "--alpha", "0.8", "-o",
                     str(model), *SMALL]) == 0
    assert "positive class: 'bad' (the minority class: " in capsys.readouterr().err
    estimator, metadata = load_model_with_metadata(model)
    # 'bad' sorts first: its float alpha becomes the weights in label order
    assert estimator.alpha == [0.8, pytest.approx(0.2)]
    assert metadata == {"written_by": "gbfocal train", "pos_label": "bad",
                        "pos_label_source": "minority"}


# ------------------------------------------------------------------------ thresholds
@pytest.mark.parametrize("metric", ["f1", "f2", "balanced_accuracy", "mcc"])
def test_the_chosen_threshold_maximises_scikit_learns_metric(metric):
    from sklearn.metrics import balanced_accuracy_score, f1_score, fbeta_score, matthews_corrcoef

    score_of = {"f1": f1_score, "f2": lambda y, p: fbeta_score(y, p, beta=2),
                "balanced_accuracy": balanced_accuracy_score, "mcc": matthews_corrcoef}[metric]
    rng = np.random.default_rng(0)
    y = rng.random(400) < 0.15
    score = np.clip(0.3 * y + rng.normal(0.3, 0.15, size=400), 0, 1).round(3)  # with ties
    threshold, value = choose_threshold(y, score, metric)
    assert value == pytest.approx(score_of(y, score >= threshold), abs=1e-12)
    best = max(score_of(y, score >= t) for t in np.unique(score))
    assert value == pytest.approx(best, abs=1e-12)
    # halfway between two scores: the rows it rests on are not at its edge
    assert not np.any(score == threshold)


def test_choose_threshold_checks_its_input():
    with pytest.raises(ValueError, match="both classes"):
        choose_threshold([True, True], [0.2, 0.4], "f1")
    with pytest.raises(ValueError, match="metric must be one of"):
        choose_threshold([True, False], [0.2, 0.4], "accuracy")
    with pytest.raises(ValueError, match="finite"):
        choose_threshold([True, False], [np.nan, 0.4], "f1")


def test_tune_chooses_a_threshold_saves_it_and_predict_uses_it(table, data, tmp_path,
                                                               capsys):
    best, model = tmp_path / "best.json", tmp_path / "model.json"
    assert cli.main(["tune", str(data), "--target", "risk", "--threshold-metric", "f1",
                     "-o", str(best), "--model", str(model), *TUNE_FAST]) == 0
    result, err = _json_out(capsys)
    threshold = result["threshold"]
    assert json.loads(best.read_text())["threshold"] == threshold
    assert threshold["metric"] == "f1" and threshold["pos_label"] == "bad"
    assert threshold["folds"] == 3 and threshold["seed"] == 0
    assert 0.0 < threshold["value"] < 1.0 and 0.0 < threshold["score"] <= 1.0
    assert f"gbfocal: decision threshold {threshold['value']:.4g}: predicts 'bad'" in err
    estimator, metadata = load_model_with_metadata(model)
    assert metadata["threshold"] == threshold
    assert metadata["pos_label"] == "bad" and metadata["pos_label_source"] == "minority"

    out = tmp_path / "predictions.csv"
    assert cli.main(["predict", str(model), str(data), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    written = pd.read_csv(out)
    assert written.columns.tolist() == ["proba_bad", "proba_good", "predicted", "threshold"]
    np.testing.assert_allclose(written["threshold"], threshold["value"])
    positive = written["proba_bad"] >= threshold["value"]
    assert written["predicted"].tolist() == np.where(positive, "bad", "good").tolist()
    assert (f"predicted 'bad' where its probability is at least {threshold['value']:.4g} "
            f"(chosen by f1 on out-of-fold predictions when the model was trained; "
            f"--threshold sets another): {int(positive.sum())} of 300 rows") in err
    # the argmax predicts the rare class less often than the threshold chosen for F1
    argmax = tmp_path / "argmax.csv"
    assert cli.main(["predict", str(model), str(data), "--threshold", "none", "-o",
                     str(argmax)]) == 0
    plain = pd.read_csv(argmax)
    assert plain.columns.tolist() == ["proba_bad", "proba_good", "predicted"]
    assert plain["predicted"].tolist() == estimator.predict(table[["a", "b", "c"]]).tolist()
    assert (plain["predicted"] == "bad").sum() <= positive.sum()


def test_predict_threshold_options(data, tmp_path, capsys):
    model = tmp_path / "model.json"
    assert cli.main(["train", str(data), "--target", "risk", "-o", str(model), *SMALL]) == 0
    capsys.readouterr()
    assert cli.main(["predict", str(model), str(data), "--threshold", "0.3"]) == 0
    captured = capsys.readouterr()
    from io import StringIO

    written = pd.read_csv(StringIO(captured.out))
    # the positive class saved by train (the minority class), at the given threshold
    positive = written["proba_bad"] >= 0.3
    assert written["predicted"].tolist() == np.where(positive, "bad", "good").tolist()
    assert "predicted 'bad' where its probability is at least 0.3 (--threshold)" in captured.err
    assert cli.main(["predict", str(model), str(data), "--threshold", "0.3",
                     "--pos-label", "good"]) == 0
    written = pd.read_csv(StringIO(capsys.readouterr().out))
    positive = written["proba_good"] >= 0.3
    assert written["predicted"].tolist() == np.where(positive, "good", "bad").tolist()
    for bad in ("1.5", "-0.1", "x", "nan"):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["predict", str(model), str(data), "--threshold", bad])
        assert exit_info.value.code == 2
        assert "bad threshold" in capsys.readouterr().err
    assert cli.main(["predict", str(model), str(data), "--threshold", "0.3",
                     "--pos-label", "ugly"]) == 1
    assert "--pos-label 'ugly' is not one of the model's classes" in capsys.readouterr().err


def test_a_saved_threshold_for_another_class_is_not_applied_silently(data, tmp_path, capsys):
    model = tmp_path / "model.json"
    assert cli.main(["train", str(data), "--target", "risk", "--threshold-metric", "mcc",
                     "-o", str(model), *SMALL]) == 0
    capsys.readouterr()
    assert cli.main(["predict", str(model), str(data), "--pos-label", "good"]) == 1
    assert ("the threshold saved in " in capsys.readouterr().err)
    assert cli.main(["predict", str(model), str(data), "--pos-label", "good",
                     "--threshold", "none"]) == 0


def test_thresholds_are_for_binary_targets(table, tmp_path, capsys):
    three = table.assign(risk=np.digitize(table["a"], [-0.5, 0.5]))
    data = tmp_path / "three.csv"
    three.to_csv(data, index=False)
    model = tmp_path / "model.json"
    assert cli.main(["train", str(data), "--target", "risk", "--threshold-metric", "f1",
                     "-o", str(model), *SMALL]) == 1
    assert "--threshold-metric is for binary targets" in capsys.readouterr().err
    assert cli.main(["tune", str(data), "--target", "risk", "--threshold-metric", "f1",
                     *TUNE_FAST]) == 1
    assert "--threshold-metric is for binary targets" in capsys.readouterr().err
    assert cli.main(["train", str(data), "--target", "risk", "-o", str(model), *SMALL]) == 0
    capsys.readouterr()
    assert cli.main(["predict", str(model), str(data), "--threshold", "0.5"]) == 1
    assert "--threshold is for binary models" in capsys.readouterr().err


def test_train_reuses_a_tuned_threshold_only_for_the_same_model(data, tmp_path, capsys):
    best = tmp_path / "best.json"
    assert cli.main(["tune", str(data), "--target", "risk", "--threshold-metric",
                     "balanced_accuracy", "-o", str(best), *TUNE_FAST, "--no-baseline"]) == 0
    tuned = json.loads(best.read_text())["threshold"]
    capsys.readouterr()
    model = tmp_path / "model.json"
    assert cli.main(["train", str(data), "--target", "risk", "--params", str(best),
                     "-o", str(model)]) == 0
    assert f"decision threshold {tuned['value']:.4g} from {best}" in capsys.readouterr().err
    assert load_model_with_metadata(model)[1]["threshold"] == tuned
    # another gamma is another model: the tuned threshold does not describe it
    assert cli.main(["train", str(data), "--target", "risk", "--params", str(best),
                     "--gamma", "3", "-o", str(model), "--force"]) == 0
    assert "is not used: --gamma changed the model" in capsys.readouterr().err
    assert "threshold" not in load_model_with_metadata(model)[1]
    # chosen again on request, for the trained parameters
    assert cli.main(["train", str(data), "--target", "risk", "--params", str(best),
                     "--gamma", "3", "--threshold-metric", "f2", "--threshold-cv", "4",
                     "-o", str(model), "--force"]) == 0
    saved = load_model_with_metadata(model)[1]["threshold"]
    assert (saved["metric"], saved["folds"], saved["pos_label"]) == ("f2", 4, "bad")


# ---------------------------------------------------------- progress, plots, help
def test_tune_says_what_runs_after_the_trials(data, tmp_path, capsys):
    assert cli.main(["tune", str(data), "--target", "risk", "--model",
                     str(tmp_path / "m.json"), "--param", "num_leaves=4:8", *TUNE_FAST]) == 0
    err = capsys.readouterr().err.splitlines()
    stages = [line for line in err if line.startswith("gbfocal: ")]
    expected = ["gbfocal: searching on 240 rows; 60 rows held out for the comparison",
                "gbfocal: focal-loss arm: 2 trials",
                "gbfocal: log-loss arm (gamma=0, alpha=None): 2 trials (the focal arm's budget)",
                "gbfocal: refitting each arm's best parameters on the 240 search rows",
                "gbfocal: the comparison: both arms scored on the unseen rows",
                "gbfocal: refitting the selected"]
    found = [next(i for i, line in enumerate(stages) if line.startswith(text))
             for text in expected]
    assert found == sorted(found)  # in the order they run, before the summary
    assert found[-1] < next(i for i, line in enumerate(stages) if "verdict:" in line)


def _is_png(path) -> bool:
    return path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_tune_and_train_plots(data, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    plots = tmp_path / "plots"
    assert cli.main(["tune", str(data), "--target", "risk", "--plots", str(plots),
                     "--threshold-metric", "f1", *TUNE_FAST]) == 0
    err = capsys.readouterr().err
    names = sorted(p.name for p in plots.iterdir())
    assert names == ["calibration.png", "optimization_history.png", "precision_recall.png"]
    assert all(_is_png(plots / name) for name in names)
    for name in names:
        assert f"wrote {plots / name}" in err
    assert "out-of-fold predictions of the log-loss arm" in err
    # existing plots are not replaced without --force, checked before the search
    assert cli.main(["tune", str(data), "--target", "risk", "--plots", str(plots),
                     *TUNE_FAST]) == 1
    err = capsys.readouterr().err
    assert "exists: pass --force to overwrite it" in err and "focal-loss arm" not in err
    trained = tmp_path / "trained"
    assert cli.main(["train", str(data), "--target", "risk", "--plots", str(trained),
                     "-o", str(tmp_path / "m.json"), *SMALL]) == 0
    assert sorted(p.name for p in trained.iterdir()) == ["calibration.png",
                                                        "precision_recall.png"]


def test_plots_without_matplotlib_is_the_install_hint(data, tmp_path, capsys, monkeypatch):
    from gbfocal import _plots
    from gbfocal._optional import install_hint

    def missing(needed_by):
        raise ImportError(install_hint("matplotlib", needed_by))

    monkeypatch.setattr(_plots, "require", missing)
    assert cli.main(["tune", str(data), "--target", "risk", "--plots", str(tmp_path / "p"),
                     *TUNE_FAST]) == 1
    assert capsys.readouterr().err.strip() == (
        "gbfocal: error: --plots needs matplotlib: pip install gbfocal[plots]")


def _options(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from ((f"{name} {option}", text) for option, text in _options(sub))
        elif not isinstance(action, argparse._HelpAction):
            yield "/".join(action.option_strings) or action.dest, action.help


def test_every_option_has_its_own_help_text():
    options = dict(_options(cli.build_parser()))
    assert {"tune --backend", "tune --threshold-metric", "tune --plots", "train --plots",
            "predict --threshold", "predict --pos-label", "demo --trials"} <= set(options)
    missing = [name for name, text in options.items() if not text or not text.strip()]
    assert not missing, missing
    # the search-space syntax: none and balanced are values of alpha, not of gamma
    assert "none and balanced" not in options["tune --gamma"]
    assert "none" in options["tune --alpha"] and "balanced" in options["tune --alpha"]
    assert "minority" in options["tune --pos-label"]


def test_a_missing_backend_is_the_install_hint(data, tmp_path, capsys, monkeypatch):
    from gbfocal._optional import install_hint
    from gbfocal.cli import _models  # where --backend is checked

    real = _models.import_optional

    def without_xgboost(module, *, needed_by, extra=None):
        if module == "xgboost":
            raise ImportError(install_hint(module, needed_by, extra=extra))
        return real(module, needed_by=needed_by, extra=extra)

    monkeypatch.setattr(_models, "import_optional", without_xgboost)
    for command in (["tune", str(data), "--target", "risk", *TUNE_FAST],
                    ["train", str(data), "--target", "risk", "-o", str(tmp_path / "m.json")]):
        assert cli.main([*command, "--backend", "xgboost"]) == 1
        assert capsys.readouterr().err.strip() == (
            "gbfocal: error: --backend xgboost needs xgboost: pip install gbfocal[xgboost]")
