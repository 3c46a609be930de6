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


def test_breast_cancer_demo(tmp_path):
    pytest.importorskip("matplotlib")
    out = _run("breast_cancer.py", "--trials", "3", "--output", str(tmp_path))
    for word in ("average precision", "ROC AUC", "Brier", "plain sigmoid",
                 "log-loss arm (gamma=0, alpha=None, the same search)",
                 "training rows neither search saw (holdout)", "-> verdict:"):
        assert word.lower() in out.lower()
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".png"] * 4


def test_aspect_sentiment_example():
    out = _run("aspect_sentiment.py", "--reviews", "600", "--rounds", "15", "--threads", "1")
    assert "F1" in out


def test_multilabel_example():
    out = _run("multilabel.py", "--rows", "400", "--rounds", "10", "--threads", "1",
               "--compare-layouts")
    for word in ("macro AP", "micro AP", "focal LightGBM", "built-in XGBoost per label",
                 "focal XGBoost multi_output_tree", "focal XGBoost per label"):
        assert word in out
