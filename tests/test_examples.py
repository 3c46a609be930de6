"""The example scripts run end to end (small settings) and print their results."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _run(script: str, *args: str) -> str:
    # the checkout's package first: the examples run from a clone that is not installed too
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


_DEMO_WORDS = ("average precision", "ROC AUC", "Brier", "plain sigmoid",
               "log-loss arm (gamma=0, alpha=None, the same search)",
               "training rows neither search saw (holdout)", "-> verdict:",
               "fit s: one warm fit")
_DEMO_PLOTS = ["alpha_gamma_contour.png", "calibration.png", "optimization_history.png",
               "pr_curves.png"]


def test_breast_cancer_demo(tmp_path):
    """examples/breast_cancer.py: the thin script that runs gbfocal.demo."""
    pytest.importorskip("matplotlib")
    out = _run("breast_cancer.py", "--trials", "3", "--output", str(tmp_path))
    for word in _DEMO_WORDS:
        assert word.lower() in out.lower()
    assert sorted(p.name for p in tmp_path.iterdir()) == _DEMO_PLOTS


def test_gbfocal_demo_command(tmp_path):
    """``gbfocal demo --trials 3 --output DIR`` (``python -m gbfocal``: the same entry
    point as the console script), run from another folder than the checkout; the plots go
    where --output says, a relative folder under the working directory."""
    pytest.importorskip("matplotlib")
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "gbfocal", "demo", "--trials", "3", "--output", "tmp"],
        capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    for word in _DEMO_WORDS:
        assert word.lower() in done.stdout.lower()
    assert sorted(p.name for p in (tmp_path / "tmp").iterdir()) == _DEMO_PLOTS
    rows = [line for line in done.stdout.splitlines()
            if line.startswith(("LightGBM focal", "LightGBM log loss", "XGBoost focal",
                                "XGBoost log loss"))]
    assert len(rows) == 4, done.stdout


def test_the_demo_times_warm_fits(monkeypatch):
    """Each model is fitted once on a few rounds before the timed fit: the first fit of a
    process pays numba's and the library's start-up (XGBoost focal: 2.42 s against 0.16 s)."""
    pytest.importorskip("xgboost")
    from sklearn.datasets import load_breast_cancer

    from gbfocal import demo

    X, y = load_breast_cancer(return_X_y=True)
    fits = []
    factories = demo._model_factories

    def spying(*args, **kwargs):
        made = factories(*args, **kwargs)

        def spy(name, make):
            def wrapped():
                model, fit_kwargs = make()
                fit = model.fit

                def counted(*a, **k):
                    fits.append((name, model.get_params()["n_estimators"]))
                    return fit(*a, **k)

                model.fit = counted
                return model, fit_kwargs
            return wrapped

        return {name: spy(name, make) for name, make in made.items()}

    monkeypatch.setattr(demo, "_model_factories", spying)
    fitted = demo.fit_models(None, 1.0, X[:300], 1 - y[:300], X[300:], 1 - y[300:], 0)
    assert set(fitted) == {"LightGBM focal", "LightGBM log loss", "XGBoost focal",
                           "XGBoost log loss"}
    for name in fitted:  # a warm-up fit of a few rounds, then the timed fit
        assert [rounds for model, rounds in fits if model == name] == [
            demo._WARM_UP_ROUNDS, demo.BOOSTER[name.split()[0].lower()]["n_estimators"]]


def test_gbfocal_demo_errors_are_one_line(tmp_path, capsys):
    from gbfocal import cli

    file = tmp_path / "file"
    file.write_text("x")
    assert cli.main(["demo", "--output", str(file)]) == 1
    assert capsys.readouterr().err.strip() == f"gbfocal: error: --output {file}: not a folder"
    assert cli.main(["demo", "--trials", "0"]) == 1
    assert "--trials must be at least 1" in capsys.readouterr().err


def test_aspect_sentiment_example():
    out = _run("aspect_sentiment.py", "--reviews", "600", "--rounds", "15", "--threads", "1")
    assert "F1" in out


def test_multilabel_example():
    out = _run("multilabel.py", "--rows", "400", "--rounds", "10", "--threads", "1",
               "--compare-layouts")
    for word in ("macro AP", "micro AP", "focal LightGBM", "built-in XGBoost per label",
                 "focal XGBoost multi_output_tree", "focal XGBoost per label"):
        assert word in out
