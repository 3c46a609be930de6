"""The command line's output files: written all or nothing, also under SIGTERM and Ctrl-C.

``gbfocal predict --output`` (and ``tune --output``, ``train`` / ``tune --model``) write a
temporary file beside the target and rename it into place, so that whatever moment a
signal arrives the target is the old file or the complete new one, and no temporary file
(``.NAME.XXXXXXXX.tmp``) stays. The signal tests run ``gbfocal predict`` in a subprocess
through a small wrapper whose only change is the test hook: the CSV is written in chunks of
2,000 rows with a pause after each (``_CSV_CHUNK_ROWS`` and ``_csv_chunks`` of
``gbfocal.cli._predict``), so that the signal lands while the file is being written. Also
here: ``gbfocal train --params`` checks a tuned ``pos_label`` as ``--pos-label`` is checked.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("lightgbm")
pytest.importorskip("sklearn")

import gbfocal  # noqa: E402
from gbfocal import cli  # noqa: E402
from gbfocal.cli import _files, _predict  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

ROWS = 60_000  # 30 chunks of 2,000 rows, 20 ms apart: about 0.6 s of writing
WRAPPER = """\
import signal, sys, time
from gbfocal import cli
from gbfocal.cli import _predict

# Ctrl-C as in a terminal, also where the test runs as a background job (which inherits
# SIGINT ignored; gbfocal leaves an ignored signal ignored)
signal.signal(signal.SIGINT, signal.default_int_handler)

# test hook: small chunks with a pause after each, so that a signal lands mid-write
_predict._CSV_CHUNK_ROWS = 2_000
chunks = _predict._csv_chunks

def slow(*args, **kwargs):
    for chunk in chunks(*args, **kwargs):
        yield chunk
        time.sleep(0.02)

_predict._csv_chunks = slow
sys.exit(cli.main(sys.argv[1:]))
"""
TIMEOUT = 120  # seconds for one subprocess: start-up, reading, predicting, writing


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A model, a large input, the complete predictions of it and the wrapper script."""
    folder = tmp_path_factory.mktemp("outputs")
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    train = pd.DataFrame({"x": x, "z": rng.normal(size=300),
                          "label": np.where(x + rng.normal(size=300) > 0, "yes", "no")})
    train.to_csv(folder / "train.csv", index=False)
    model = folder / "model.json"
    assert cli.main(["train", str(folder / "train.csv"), "--target", "label", "--output",
                     str(model), "--param", "n_estimators=5", "--n-jobs", "1"]) == 0
    big = folder / "big_input.csv"
    pd.DataFrame({"x": rng.normal(size=ROWS), "z": rng.normal(size=ROWS)}).to_csv(big,
                                                                                 index=False)
    expected = folder / "expected.csv"
    assert cli.main(["predict", str(model), str(big), "--output", str(expected)]) == 0
    wrapper = folder / "wrapper.py"
    wrapper.write_text(WRAPPER)
    return {"model": model, "big": big, "expected": expected.read_bytes(), "wrapper": wrapper}


def _predict_in_subprocess(setup, output: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(gbfocal.__file__).parents[1])}
    return subprocess.Popen(
        [sys.executable, str(setup["wrapper"]), "predict", str(setup["model"]),
         str(setup["big"]), "--output", str(output), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )


def _wait_for(condition, process: subprocess.Popen) -> bool:
    """Poll until ``condition()`` holds (True) or the process has ended (False)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if condition():
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.002)
    process.kill()
    pytest.fail("the subprocess neither started writing nor ended in time")


def _temporary_size(folder: Path) -> int:
    """The size of the temporary file in ``folder``; -1 when there is none."""
    sizes = [-1]
    for path in folder.iterdir():
        if path.name.endswith(".tmp"):
            try:
                sizes.append(path.stat().st_size)
            except FileNotFoundError:  # renamed or removed in between
                pass
    return max(sizes)


# the moments a signal is sent: once the temporary file exists (before or as the first
# bytes are written), once it holds a chunk, once it holds about half the output
MOMENTS = {"temporary file created": 0, "first chunk written": 1, "half written": None}


@pytest.mark.parametrize("moment", list(MOMENTS))
@pytest.mark.parametrize("signum, status, last_line", [
    (signal.SIGTERM, cli.EXIT_TERMINATED, "gbfocal: terminated (SIGTERM)"),
    (signal.SIGINT, cli.EXIT_INTERRUPTED, "gbfocal: interrupted"),
])
def test_a_signal_leaves_the_old_file_or_the_complete_new_one(setup, tmp_path, moment, signum,
                                                              status, last_line):
    output = tmp_path / "big.csv"
    old = b"proba_no,proba_yes,predicted\n0.5,0.5,old\n" * 50_000  # 2 MB of the old file
    output.write_bytes(old)
    process = _predict_in_subprocess(setup, output, "--force")
    threshold = MOMENTS[moment]
    least = len(setup["expected"]) // 2 if threshold is None else threshold
    signalled = _wait_for(lambda: _temporary_size(tmp_path) >= least, process)
    if signalled:
        process.send_signal(signum)
    _, err = process.communicate(timeout=TIMEOUT)
    content = output.read_bytes()
    assert content in (old, setup["expected"]), (len(content), len(old),
                                                 len(setup["expected"]))
    assert _temporaries(tmp_path) == []
    assert "Traceback" not in err
    if process.returncode == 0:  # done before the signal came (a very slow test process)
        assert content == setup["expected"]
    else:  # the exit status and message of the signal, never a traceback
        assert signalled and process.returncode == status, err
        assert err.splitlines()[-1] == last_line


def test_a_signal_during_a_new_write_leaves_no_file(setup, tmp_path):
    """Without --force and no old file: nothing, not a prefix that looks like a CSV."""
    output = tmp_path / "new.csv"
    process = _predict_in_subprocess(setup, output)
    signalled = _wait_for(lambda: _temporary_size(tmp_path) > 0, process)
    if signalled:
        process.send_signal(signal.SIGTERM)
    process.communicate(timeout=TIMEOUT)
    if process.returncode == 0:  # the write was done before the signal could be sent
        assert output.read_bytes() == setup["expected"]
    else:
        assert signalled and process.returncode == cli.EXIT_TERMINATED
        assert not output.exists()
    assert _temporaries(tmp_path) == []


# --------------------------------------------------------------- in this process
def test_predictions_are_written_in_chunks_identical_to_one_csv(setup, tmp_path, monkeypatch):
    whole, chunked = tmp_path / "whole.csv", tmp_path / "chunked.csv"
    for rows, output in ((10**9, whole), (7_001, chunked)):  # 7,001 does not divide the rows
        monkeypatch.setattr(_predict, "_CSV_CHUNK_ROWS", rows)
        assert cli.main(["predict", str(setup["model"]), str(setup["big"]), "--output",
                         str(output), "--keep", "x"]) == 0
    assert chunked.read_bytes() == whole.read_bytes()
    assert whole.read_bytes().count(b"\n") == ROWS + 1  # one header
    assert _temporaries(tmp_path) == []


def test_a_device_is_written_in_place():
    """/dev/null (or /dev/stdout) has no folder to put a temporary file in, nor a file to
    replace: it is written as before (with --force, as any existing output)."""
    _files.write_bytes(os.devnull, b"{}\n", force=True)
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)  # still the device, not a file


def test_sigterm_in_process_runs_cleanup_and_restores_the_handlers(setup, tmp_path,
                                                                   monkeypatch, capsys):
    output = tmp_path / "p.csv"
    output.write_text("old\n")
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def killed(frame, file_name, sep):
        Path(file_name).write_text("proba_no,proba_yes,predicted\n0.1,0.9,ye")  # a cut line
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        pytest.fail("SIGTERM did not interrupt the write")

    monkeypatch.setattr(_predict, "_write_csv", killed)
    status = cli.main(["predict", str(setup["model"]), str(setup["big"]), "--output",
                       str(output), "--force"])
    assert status == cli.EXIT_TERMINATED == 143
    assert capsys.readouterr().err.splitlines()[-1] == "gbfocal: terminated (SIGTERM)"
    assert output.read_text() == "old\n"
    assert _temporaries(tmp_path) == []
    assert {s: signal.getsignal(s) for s in before} == before


@pytest.mark.parametrize("force", [False, True])
def test_an_interrupted_model_save_keeps_the_old_model(setup, tmp_path, monkeypatch, force):
    """``train --output`` / ``tune --model``: whatever ``save_model`` leaves in the file it
    is given when interrupted (here: half a model), the target is not touched."""
    data = setup["model"].parent / "train.csv"
    model = tmp_path / "model.json"
    if force:
        model.write_text("the old model")

    def cut_save(self, path, *, overwrite=False, metadata=None):
        Path(path).write_text('{"format": "gbfocal-model", "boost')
        raise cli.Terminated()

    monkeypatch.setattr(type(gbfocal.FocalLGBMClassifier()), "save_model", cut_save)
    args = ["train", str(data), "--target", "label", "--output", str(model), "--param",
            "n_estimators=3", "--n-jobs", "1"]
    assert cli.main(args + (["--force"] if force else [])) == cli.EXIT_TERMINATED
    assert (model.read_text() == "the old model") if force else not model.exists()
    assert _temporaries(tmp_path) == []


def test_an_interrupted_json_write_keeps_the_old_file(tmp_path, monkeypatch):
    """``tune --output`` goes through ``write_bytes``: Ctrl-C before the rename."""
    target = tmp_path / "best.json"
    target.write_text('{"old": true}')

    def interrupted(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(_files, "_sync", interrupted)  # after the data, before the rename
    with pytest.raises(KeyboardInterrupt):
        _files.write_bytes(str(target), b'{"new": tr', force=True)
    assert target.read_text() == '{"old": true}'
    assert _temporaries(tmp_path) == []


def test_a_file_that_appears_during_the_work_is_not_replaced(setup, tmp_path, monkeypatch,
                                                             capsys):
    """Without --force the check before the work and the write leave no window."""
    output = tmp_path / "p.csv"
    write_csv = _predict._write_csv

    def meanwhile(frame, file_name, sep):
        output.write_text("written by someone else")
        write_csv(frame, file_name, sep)

    monkeypatch.setattr(_predict, "_write_csv", meanwhile)
    assert cli.main(["predict", str(setup["model"]), str(setup["big"]), "--output",
                     str(output)]) == cli.EXIT_ERROR
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"gbfocal: error: {output} exists: pass --force to overwrite it")
    assert output.read_text() == "written by someone else"
    assert _temporaries(tmp_path) == []


def test_the_new_file_has_the_usual_permissions(setup, tmp_path):
    """mkstemp's files are private (0o600); the output gets what open() would give it, or
    the mode of the file it replaces."""
    fresh, replaced = tmp_path / "fresh.csv", tmp_path / "replaced.csv"
    replaced.write_text("old")
    replaced.chmod(0o640)
    mask = os.umask(0o022)
    try:
        for output in (fresh, replaced):
            assert cli.main(["predict", str(setup["model"]), str(setup["big"]), "--output",
                             str(output), "--force"]) == 0
    finally:
        os.umask(mask)
    assert fresh.stat().st_mode & 0o777 == 0o644
    assert replaced.stat().st_mode & 0o777 == 0o640


# ------------------------------------------------------- train --params: pos_label
@pytest.fixture
def labelled(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.normal(size=150)
    path = tmp_path / "data.csv"
    pd.DataFrame({"x": x, "label": np.where(x + rng.normal(size=150) > 0.5, "yes", "no")}) \
        .to_csv(path, index=False)
    return path


@pytest.mark.parametrize("document, message", [
    # a tune result whose pos_label is not a label of this target (no "classes" to compare)
    ({"best_params": {"alpha": 0.3, "gamma": 1.0}, "pos_label": "fraud",
      "backend": "lightgbm"}, "pos_label 'fraud' is not one of the labels ['no', 'yes']"),
    ({"best_params": {"alpha": 0.3, "gamma": 1.0}, "pos_label": 1, "backend": "lightgbm"},
     "pos_label 1 is not one of the labels ['no', 'yes']"),
])
def test_a_tuned_pos_label_that_is_no_label_is_refused(labelled, tmp_path, capsys, document,
                                                       message):
    params = tmp_path / "tuned.json"
    params.write_text(json.dumps(document))
    model = tmp_path / "model.json"
    status = cli.main(["train", str(labelled), "--target", "label", "--params", str(params),
                       "--output", str(model), "--param", "n_estimators=3"])
    assert status == cli.EXIT_ERROR
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1] == f"gbfocal: error: {params}: {message}"
    assert not model.exists()


def test_a_tuned_pos_label_on_a_multiclass_target_is_refused(tmp_path, capsys):
    rng = np.random.default_rng(4)
    data = tmp_path / "three.csv"
    pd.DataFrame({"x": rng.normal(size=90), "label": np.repeat(["a", "b", "c"], 30)}) \
        .to_csv(data, index=False)
    params = tmp_path / "tuned.json"
    params.write_text(json.dumps({"best_params": {"gamma": 1.0}, "pos_label": "a"}))
    status = cli.main(["train", str(data), "--target", "label", "--params", str(params),
                       "--output", str(tmp_path / "m.json")])
    assert status == cli.EXIT_ERROR
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"gbfocal: error: {params}: pos_label 'a' is only for binary targets; 'label' has 3 "
        "classes")


def test_a_tuned_pos_label_that_is_a_label_still_weighs_it(labelled, tmp_path):
    """The check refuses nothing valid: pos_label "no" (the smaller label) is weighted."""
    params = tmp_path / "tuned.json"
    params.write_text(json.dumps({"best_params": {"gamma": 1.0}, "pos_label": "no",
                                  "backend": "lightgbm", "classes": ["no", "yes"]}))
    model = tmp_path / "model.json"
    assert cli.main(["train", str(labelled), "--target", "label", "--params", str(params),
                     "--alpha", "0.2", "--output", str(model), "--param",
                     "n_estimators=3"]) == 0
    assert gbfocal.load_model(model).alpha == [0.2, 0.8]
