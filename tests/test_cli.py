"""Tests of the command line (gbfocal.cli, ``python -m gbfocal``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
optuna = pytest.importorskip("optuna")
pytest.importorskip("lightgbm")

import gbfocal  # noqa: E402
from gbfocal import cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--trials", "3", "--cv", "3", "--seed", "0", "--n-jobs", "1", "--no-progress",
        "--early-stopping-rounds", "5", "--param", "n_estimators=20"]


@pytest.fixture(autouse=True)
def _restore_optuna_logging():
    level = optuna.logging.get_verbosity()  # the CLI quiets Optuna's per-trial log
    yield
    optuna.logging.set_verbosity(level)


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.7, size=150) > 1.0).astype(int)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    frame["label"] = np.where(y == 1, "yes", "no")  # string labels travel through
    return frame


def _run_module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gbfocal", *args], capture_output=True, text=True, cwd=ROOT,
        timeout=120,
    )


def test_help_and_version_from_python_m():
    helped = _run_module("--help")
    assert helped.returncode == 0
    for command in ("tune", "train", "predict"):
        assert command in helped.stdout
    tune_help = _run_module("tune", "--help")
    assert tune_help.returncode == 0
    for option in ("--target", "--backend", "--trials", "--scoring", "--output", "--seed", "--cv",
                   "--pos-label", "--no-baseline", "--compare", "--holdout-size", "--outer-cv",
                   "--select"):
        assert option in tune_help.stdout
    version = _run_module("--version")
    assert version.returncode == 0
    assert version.stdout.strip() == f"gbfocal {gbfocal.__version__}"


def test_no_command_prints_the_help_and_succeeds():
    bare = _run_module()
    assert bare.returncode == 0
    assert bare.stdout.startswith("usage: gbfocal")
    for command in ("tune", "train", "predict"):
        assert command in bare.stdout
    assert bare.stderr == ""


def test_console_script_is_declared():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["gbfocal"] == "gbfocal.cli:main"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_tune_writes_json(table, tmp_path, capsys, suffix):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    data = tmp_path / f"data{suffix}"
    table.to_csv(data, index=False) if suffix == ".csv" else table.to_parquet(data)
    output = tmp_path / "best.json"
    status = cli.main(
        ["tune", str(data), "--target", "label", "--output", str(output),
         "--param", "num_leaves=4:12", "--gamma", "0:3", *FAST]
    )
    assert status == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads(output.read_text())
    assert printed == written
    best = written["best_params"]
    assert set(best) >= {"alpha", "gamma", "n_estimators", "num_leaves"}
    assert 0.0 <= best["gamma"] <= 3.0
    assert 4 <= best["num_leaves"] <= 12
    assert 1 <= best["n_estimators"] <= 20
    assert written["classes"] == ["no", "yes"]
    assert written["n_trials"] == 3
    assert 0.0 < written["best_score"] <= 1.0
    # the written parameters rebuild a working model
    model = gbfocal.sklearn.FocalLGBMClassifier(**best).fit(table[["a", "b", "c", "d"]],
                                                           table["label"])
    assert set(model.predict(table[["a", "b", "c", "d"]])) <= {"no", "yes"}


def test_tune_parallel_runs_trials_at_once(table, tmp_path, capsys, monkeypatch):
    from gbfocal import tuning

    seen = {}
    original = tuning.tune_focal

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(tuning, "tune_focal", spy)
    data = tmp_path / "data.csv"
    table.to_csv(data, index=False)
    fast = [arg for arg in FAST if arg not in ("--n-jobs", "1")]  # threads left to tune_focal
    assert cli.main(["tune", str(data), "--target", "label", "--parallel", "2", *fast]) == 0
    assert seen["n_jobs"] == 2 and "n_jobs" not in (seen["params"] or {})
    assert json.loads(capsys.readouterr().out)["n_trials"] == 3


@pytest.mark.parametrize(("extra", "scored"), [([], "yes"), (["--pos-label", "no"], "no")])
def test_scored_class_verdict_and_arms_are_printed_and_saved(table, tmp_path, capsys, extra,
                                                             scored):
    data = tmp_path / "data.csv"
    table.to_csv(data, index=False)
    output = tmp_path / "best.json"
    assert cli.main(["tune", str(data), "--target", "label", "-o", str(output), *FAST,
                     "--param", "num_leaves=4:12", *extra]) == 0
    captured = capsys.readouterr()
    written = json.loads(output.read_text())
    assert json.loads(captured.out) == written  # stdout stays pure JSON
    assert written["pos_label"] == scored
    assert f"gbfocal: positive (scored) class: {scored!r}" in captured.err
    # both arms, searched alike, and the verdict from the 30 held-out rows
    arms = written["arms"]
    assert set(arms) == {"focal", "log_loss"}
    assert arms["focal"]["n_trials"] == arms["log_loss"]["n_trials"] == 3
    assert arms["log_loss"]["best_params"]["gamma"] == 0.0
    assert arms["log_loss"]["best_params"]["alpha"] is None
    comparison = written["comparison"]
    assert comparison["method"] == "holdout" and comparison["n_rows"] == 30
    low, high = comparison["interval"]
    assert written["verdict"] == ("focal" if low > 0 else "log_loss" if high < 0
                                  else "no_difference")
    assert written["selected"] == ("focal" if written["verdict"] == "focal" else "log_loss")
    assert written["best_params"] == arms[written["selected"]]["best_params"]
    assert written["best_score"] == arms[written["selected"]]["best_score"]
    assert written["baseline_score"] == arms["log_loss"]["best_score"]
    np.testing.assert_allclose(
        written["fold_differences"],
        np.subtract(arms["focal"]["best_fold_scores"], arms["log_loss"]["best_fold_scores"]),
    )
    assert (f"on 30 rows neither search saw (the holdout): focal "
            f"{comparison['focal_score']:.4f}, log loss {comparison['log_loss_score']:.4f}, "
            f"difference {comparison['difference']:+.4f} (95% interval {low:+.4f} to "
            f"{high:+.4f})") in captured.err
    verdicts = {"focal": "focal loss is better beyond noise",
                "log_loss": "log loss is better beyond noise",
                "no_difference": "no difference beyond noise"}
    assert f"gbfocal: verdict: {verdicts[written['verdict']]}" in captured.err
    assert "gbfocal: selected: the " in captured.err


def test_train_params_use_the_selected_arm(table, tmp_path, capsys):
    data = tmp_path / "data.csv"
    table.to_csv(data, index=False)
    best = tmp_path / "best.json"
    model = tmp_path / "model.json"
    assert cli.main(["tune", str(data), "--target", "label", "-o", str(best), *FAST,
                     "--select", "log_loss"]) == 0
    written = json.loads(best.read_text())
    assert written["selected"] == "log_loss"
    assert cli.main(["train", str(data), "--target", "label", "--params", str(best),
                     "--output", str(model), "--n-jobs", "1"]) == 0
    loaded = gbfocal.load_model(model)
    assert loaded.gamma == 0.0 and loaded.alpha is None
    assert loaded.n_estimators == written["arms"]["log_loss"]["best_params"]["n_estimators"]


def test_compare_options(table, tmp_path, capsys):
    data = tmp_path / "data.csv"
    table.to_csv(data, index=False)
    assert cli.main(["tune", str(data), "--target", "label", *FAST, "--compare", "nested",
                     "--outer-cv", "2", "--cv", "2"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["comparison"]["method"] == "nested"
    assert written["comparison"]["n_rows"] == len(table)
    assert cli.main(["tune", str(data), "--target", "label", *FAST, "--compare", "none",
                     "--select", "focal"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["comparison"] is None and written["verdict"] is None
    assert written["selected"] == "focal"
    # without a comparison "auto" cannot choose: a clean error that says what to do
    assert cli.main(["tune", str(data), "--target", "label", *FAST, "--compare", "none"]) == 1
    assert "select='auto' returns the arm" in capsys.readouterr().err


def test_pos_label_changes_the_score(table, tmp_path, capsys):
    data = tmp_path / "data.csv"
    table.to_csv(data, index=False)
    scores = {}
    for label in ("yes", "no"):
        assert cli.main(["tune", str(data), "--target", "label", "--pos-label", label,
                         "--alpha", "none", "--gamma", "0", *FAST]) == 0
        scores[label] = json.loads(capsys.readouterr().out)["best_score"]
    # "no" is the majority (about 80 % of rows): its average precision is far higher
    assert scores["no"] > scores["yes"] + 0.1


def test_numeric_pos_label_and_unknown_pos_label(table, tmp_path, capsys):
    data = tmp_path / "data.csv"
    table.assign(label=(table["label"] == "yes").astype(int)).to_csv(data, index=False)
    assert cli.main(["tune", str(data), "--target", "label", "--pos-label", "0",
                     "--no-baseline", *FAST]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["pos_label"] == 0  # the label, not the text "0"
    assert written["baseline_score"] is None
    assert written["fold_differences"] is None
    assert cli.main(["tune", str(data), "--target", "label", "--pos-label", "yes",
                     *FAST]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gbfocal: error: pos_label='yes' is not one of the labels")


def test_same_seed_same_json(table, tmp_path, capsys):
    data = tmp_path / "data.csv"
    table.to_csv(data, index=False)
    results = []
    for _ in range(2):
        assert cli.main(["tune", str(data), "--target", "label", *FAST]) == 0
        results.append(json.loads(capsys.readouterr().out))
    assert results[0] == results[1]


def _assert_clean_failure(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert message in result.stderr


def test_missing_file_is_a_clean_error(tmp_path):
    _assert_clean_failure(
        _run_module("tune", str(tmp_path / "nope.csv"), "--target", "y"), "no such file"
    )


def test_unreadable_and_unsupported_files(tmp_path):
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"this is not parquet")
    _assert_clean_failure(_run_module("tune", str(broken), "--target", "y"), "cannot read")
    excel = tmp_path / "data.xlsx"
    excel.write_text("a,b\n1,2\n")
    _assert_clean_failure(_run_module("tune", str(excel), "--target", "y"), "unsupported file")


def test_missing_target_column(table, tmp_path):
    data = tmp_path / "data.csv"
    table.to_csv(data, index=False)
    _assert_clean_failure(
        _run_module("tune", str(data), "--target", "lable"), "target column 'lable' not found"
    )


def test_one_class_target(table, tmp_path):
    data = tmp_path / "data.csv"
    table.assign(label="yes").to_csv(data, index=False)
    _assert_clean_failure(_run_module("tune", str(data), "--target", "label"), "single class")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--scoring", "focal_loss"], "not comparable across trials"),
        (["--param", "num_leafs=4:8"], "unknown parameter 'num_leafs'"),
        (["--param", "num_leaves"], "bad --param"),
        (["--cv", "1"], "cv must be"),
        (["--storage", "nodb://nowhere"], "storage='nodb://nowhere' could not be opened"),
        (["--compare", "holdout", "--holdout-size", "2"], "holdout_size must be a share"),
    ],
)
def test_bad_options_are_clean_errors(table, tmp_path, capsys, extra, message):
    data = tmp_path / "data.csv"
    table.to_csv(data, index=False)
    assert cli.main(["tune", str(data), "--target", "label", "--no-progress", *extra]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gbfocal: error:")
    assert message in err


def test_text_features_become_categories_and_other_types_are_named():
    frame = pd.DataFrame({
        "x": [1.0, np.nan], "n": [1, 2], "flag": [True, False], "city": ["Paris", "Rome"],
        "kind": pd.Categorical(["a", "b"]), "code": pd.Series(["u", None], dtype=object),
    })
    features = cli.as_features(frame)
    assert [str(features[c].dtype) for c in features.columns] == [
        "float64", "int64", "bool", "category", "category", "category"]
    assert features["city"].tolist() == ["Paris", "Rome"]
    assert features["code"].isna().tolist() == [False, True]  # missing stays missing
    assert str(frame["city"].dtype) != "category"  # the caller's table is untouched
    with pytest.raises(cli.CLIError, match=r"unsupported type \['when \(datetime64"):
        cli.as_features(frame.assign(when=pd.Timestamp("2024-01-01")))


def test_bad_range_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["tune", "x.csv", "--target", "y", "--gamma", "1:x"])
    assert exit_info.value.code == 2
    assert "bad range '1:x'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("0:5", (0, 5)),
        ("0.01:0.3:log", (0.01, 0.3, "log")),
        ("0.05:0.95,balanced,none", [(0.05, 0.95), "balanced", None]),
        ("2", 2),
        ("0.25", 0.25),
        ("gbdt,dart", ["gbdt", "dart"]),
    ],
)
def test_parse_spec(text, spec):
    assert cli.parse_spec(text) == spec
