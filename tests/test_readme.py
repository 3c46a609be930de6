"""The README's quick start runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def _section_code(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, f"no python block under '## {title}'"
    return "\n".join(blocks)


def test_quick_start_runs_and_learns():
    namespace: dict = {}
    exec(compile(_section_code("Quick start"), "README quick start", "exec"), namespace)
    from sklearn.metrics import average_precision_score

    y_te = namespace["y_te"]
    for name in ("proba", "proba_lgb", "proba_xgb"):
        proba = namespace[name]
        assert proba.shape == y_te.shape and np.all((proba >= 0) & (proba <= 1))
        assert average_precision_score(y_te, proba) > 0.9, name


def test_api_overview_example_runs():
    exec(compile(_section_code("API overview"), "README API overview", "exec"), {})
