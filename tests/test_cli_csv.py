"""Reading tables from the command line: separators, odd CSV files, existing outputs.

Every failure here must be one line ``gbfocal: error: ...`` and exit status 1 (2 for usage
errors); the commands run in this process, so a traceback would fail the test.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")
pytest.importorskip("lightgbm")

from gbfocal import cli  # noqa: E402

TRAIN = ["--param", "n_estimators=5", "--n-jobs", "1"]


@pytest.fixture
def table():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(40, 2)).round(3), columns=["a", "b"])
    frame["label"] = np.where(frame["a"] + rng.normal(scale=0.5, size=40) > 0, "yes", "no")
    return frame


def _error(capsys) -> str:
    """The one error line of the last command (notes of earlier commands may precede it)."""
    lines = capsys.readouterr().err.splitlines()
    errors = [line for line in lines if line.startswith("gbfocal: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], lines
    return errors[0]


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
@pytest.mark.parametrize("suffix", [".csv", ".txt"])
def test_the_separator_is_detected(table, tmp_path, sep, suffix):
    data = tmp_path / f"data{suffix}"
    table.to_csv(data, index=False, sep=sep)
    read, used = cli.read_data(str(data))
    assert used == sep
    pd.testing.assert_frame_equal(read, table)


def test_detection_survives_decimal_commas_and_a_one_column_file(tmp_path):
    semicolons = tmp_path / "de.csv"
    semicolons.write_text("a;b;label\n1,5;2;yes\n0,5;3;no\n2,0;1;yes\n")
    read, used = cli.read_data(str(semicolons))
    assert used == ";"
    assert read.columns.tolist() == ["a", "b", "label"]
    single = tmp_path / "one.csv"
    single.write_text("label\nyes\nno\n")
    read, used = cli.read_data(str(single))
    assert used == ","
    assert read["label"].tolist() == ["yes", "no"]


def test_spaces_after_the_separator_are_skipped(tmp_path):
    data = tmp_path / "spaced.csv"
    data.write_text("a, b, label\n1, 2, yes\n3, 4, no\n")
    read, _ = cli.read_data(str(data))
    assert read.columns.tolist() == ["a", "b", "label"]
    assert read["label"].tolist() == ["yes", "no"]


def test_sep_overrides_detection_and_tsv_means_tab(table, tmp_path, capsys):
    data = tmp_path / "data.csv"
    table.to_csv(data, index=False, sep=";")
    read, used = cli.read_data(str(data), sep=",")
    assert used == ","
    assert read.columns.tolist() == ["a;b;label"]
    # a wrong --sep shows as a missing target, naming the one column read
    assert cli.main(["train", str(data), "--target", "label", "--sep", ",",
                     "--output", str(tmp_path / "m.json")]) == 1
    assert "target column 'label' not found; columns are: a;b;label" in _error(capsys)
    tsv = tmp_path / "data.tsv"
    table.to_csv(tsv, index=False, sep="\t")
    assert cli.read_data(str(tsv))[1] == "\t"


@pytest.mark.parametrize(("text", "sep"), [("\\t", "\t"), ("tab", "\t"), (";", ";"), ("|", "|")])
def test_sep_option_values(text, sep):
    args = cli.build_parser().parse_args(["train", "d.csv", "--target", "y", "-o", "m.json",
                                          "--sep", text])
    assert args.sep == sep


@pytest.mark.parametrize("text", [";;", "", '"'])
def test_bad_sep_is_a_usage_error(text, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "d.csv", "--target", "y", "-o", "m.json", "--sep", text])
    assert exit_info.value.code == 2
    assert "bad separator" in capsys.readouterr().err


@pytest.mark.parametrize("sep", [",", ";"])
def test_a_utf8_byte_order_mark_is_not_part_of_the_first_name(table, tmp_path, sep):
    data = tmp_path / "excel.csv"
    data.write_bytes(table[["label", "a", "b"]].to_csv(index=False, sep=sep).encode("utf-8-sig"))
    assert data.read_bytes().startswith(b"\xef\xbb\xbflabel")
    read, _ = cli.read_data(str(data))
    assert read.columns.tolist() == ["label", "a", "b"]  # the target is the first column
    X, y = cli.split_features(read, "label")
    assert X.columns.tolist() == ["a", "b"]
    assert set(y) == {"no", "yes"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty: no header, no rows"),
        (b"\n\n", "is empty: no header, no rows"),
        (b"a,b,label\n", "has no data rows (only a header)"),
        (b"\xef\xbb\xbfa;b;label\r\n", "has no data rows (only a header)"),
        (b"a,b,a,label\n1,2,3,yes\n", "duplicated column names ['a']"),
        (b"a,b,label\n1,2,yes\n3,4,yes\n", "target column 'label' has a single class ('yes')"),
        (b"a,b,label\n1,2,\n3,4,no\n", "target column 'label' has 1 missing values"),
        (b"label\nyes\nno\n", "no feature columns"),
        (b"a,b,label\n1,2,caf\xe9\n", "not UTF-8 text"),
        (b'a,b,label\n1,2,"yes\n', "cannot read"),
    ],
)
def test_odd_files_are_one_line_errors(tmp_path, capsys, content, message):
    data = tmp_path / "odd.csv"
    data.write_bytes(content)
    output = tmp_path / "model.json"
    assert cli.main(["train", str(data), "--target", "label", "--output", str(output),
                     *TRAIN]) == 1
    err = _error(capsys)
    assert message in err
    assert not output.exists()


def test_predict_and_tune_read_the_same_way(tmp_path, capsys):
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b,label\n")
    assert cli.main(["tune", str(header_only), "--target", "label", "--no-progress"]) == 1
    assert "has no data rows" in _error(capsys)
    model = tmp_path / "model.json"
    model.write_text("{}")  # never read: the data fails first or the model does, one line
    assert cli.main(["predict", str(model), str(header_only)]) == 1
    _error(capsys)


# ------------------------------------------------------------------- existing outputs
def _train(data, output, *extra):
    return cli.main(["train", str(data), "--target", "label", "--output", str(output),
                     *TRAIN, *extra])


def test_an_existing_output_needs_force(table, tmp_path, capsys):
    data = tmp_path / "data.csv"
    table.to_csv(data, index=False)
    model = tmp_path / "model.json"
    model.write_text("precious")
    assert _train(data, model) == 1
    assert f"{model} exists: pass --force to overwrite it" in _error(capsys)
    assert model.read_text() == "precious"
    assert _train(data, model, "--force") == 0
    assert json.loads(model.read_text())["format"] == "gbfocal-model"
    capsys.readouterr()

    predictions = tmp_path / "predictions.csv"
    predictions.write_text("precious")
    assert cli.main(["predict", str(model), str(data), "--output", str(predictions)]) == 1
    assert f"{predictions} exists: pass --force to overwrite it" in _error(capsys)
    assert predictions.read_text() == "precious"
    assert cli.main(["predict", str(model), str(data), "-o", str(predictions), "--force"]) == 0
    assert pd.read_csv(predictions).shape == (len(table), 3)


@pytest.mark.parametrize("option", ["--output", "--model"])
def test_tune_refuses_an_existing_output_before_searching(table, tmp_path, capsys, option):
    data = tmp_path / "data.csv"
    table.to_csv(data, index=False)
    existing = tmp_path / "exists.json"
    existing.write_text("precious")
    # no --trials etc.: the refusal comes before the (default 50-trial) search would start
    assert cli.main(["tune", str(data), "--target", "label", option, str(existing)]) == 1
    assert f"{existing} exists: pass --force to overwrite it" in _error(capsys)
    assert existing.read_text() == "precious"


def test_outputs_never_replace_an_input_or_each_other(table, tmp_path, capsys):
    data = tmp_path / "data.csv"
    table.to_csv(data, index=False)
    assert _train(data, data, "--force") == 1
    assert f"refusing to write {data}: it is the input file" in _error(capsys)
    assert pd.read_csv(data).shape == table.shape
    same = tmp_path / "same.json"
    assert cli.main(["tune", str(data), "--target", "label", "-o", str(same),
                     "--model", str(same)]) == 1
    assert "is given for two outputs" in _error(capsys)
    assert _train(data, tmp_path / "no" / "such" / "model.json") == 1
    assert "the folder" in _error(capsys)
    assert _train(data, tmp_path) == 1
    assert "it is a directory" in _error(capsys)
