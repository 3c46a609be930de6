"""Every ```python block of the README and of the documentation pages runs as written.

The blocks of one unit run in order in one fresh interpreter (``python -c``, in a temporary
folder, one OpenMP and one gbfocal thread: the package's thread rule, and no spin-waiting on a
busy machine), after a few lines that make the small data the text speaks of (``X_train``,
``y_train``, ``Y``, ...), with checks after them. A unit is a ``## `` section of ``README.md``
(the front page) or a page of ``docs/`` (``docs/**/*.md`` but the build's output: one page holds
what was one section of the README before the documentation site). A unit with a python block
but no entry in :data:`SETUPS` fails the test, so a new block is run too. The GPU page runs only
where CuPy sees a CUDA device, the Dask page only where Dask is installed.

Two things are made smaller than written, without changing a character of the blocks:
``tune_focal`` is wrapped to run 2 trials of at most 3 folds on 40 rounds, and the data has a
few hundred rows.

The pages' ``>>>`` examples (```pycon blocks) are doctests with their own small data: they run
in the documentation build (``bash docs/build.sh``, step 2).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
#: folders of docs/ that the build writes (and whose Markdown is not a page)
NOT_PAGES = {"_build", "_generated", "_gallery_src", "auto_examples"}
#: the command CI runs (.ci/run), as the README's "The two commands" says it
TEST_INSTALL = 'pip install -e ".[test]"'
TEST_COMMAND = "python -m pytest -n auto"
REPOSITORY = "https://github.com/gbfocal/gbfocal"

_BINARY = """
import numpy as np
from sklearn.datasets import make_classification

X, y = make_classification(n_samples=800, n_features=8, n_informative=5, weights=[0.85],
                           random_state=0)
w = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y))
X_train, y_train, w_train = X[:400], y[:400], w[:400]
X_valid, y_valid, w_valid = X[400:600], y[400:600], w[400:600]
X_val, y_val = X_valid, y_valid
X_test, y_test = X[600:], y[600:]
"""

_SMALL_TUNING = """
import gbfocal.tuning

_tune_focal = gbfocal.tuning.tune_focal


def _small(X, y, **kwargs):
    kwargs["n_trials"] = 2
    kwargs["cv"] = min(kwargs.get("cv", 5), 3)
    kwargs["params"] = {**(kwargs.get("params") or {}), "n_estimators": 40}
    kwargs["show_progress_bar"] = False
    return _tune_focal(X, y, **kwargs)


gbfocal.tuning.tune_focal = _small
"""

_MULTILABEL = """
import numpy as np

rng = np.random.default_rng(0)
L = 3
X_all = rng.normal(size=(600, 6))
Y_all = (X_all[:, :L] + rng.normal(scale=0.8, size=(600, L)) > 0.7).astype(int)
Y_all[rng.random(Y_all.shape) < 0.1] = -1          # unknown labels
X, Y, X_val, Y_val = X_all[:400], Y_all[:400], X_all[400:], Y_all[400:]
X_new = rng.normal(size=(5, 6))
"""

_MULTIOUTPUT = """
import numpy as np

rng = np.random.default_rng(0)
A, K = 3, 3
X = rng.normal(size=(400, 6))
y = np.digitize(X[:, :A] + rng.normal(scale=0.7, size=(400, A)), [-0.6, 0.6])  # 0, 1, 2
y[rng.random(y.shape) < 0.3] = -1                   # aspects not mentioned
X_new = rng.normal(size=(5, 6))
"""

# the estimator the saving page saves: in the README it was the scikit-learn section's last
_FITTED = _BINARY + """
from gbfocal import FocalXGBClassifier

clf = FocalXGBClassifier(alpha="balanced", n_estimators=50, n_jobs=1).fit(X_train, y_train)
_proba_before = clf.predict_proba(X_test)
"""

_GPU = _BINARY + """
import xgboost as xgb
from gbfocal.losses import BinaryFocalLoss

loss = BinaryFocalLoss(alpha="balanced", gamma=2.0)
X, y = X_train, y_train
dtrain = xgb.DMatrix(X, y, base_margin=np.full(len(y), loss.init_score(y)))
"""


@dataclass(frozen=True)
class Setup:
    """How one unit runs: ``data`` before its first block, ``checks`` after its last one, and
    ``after``: a line of one block -> checks that run right after that block (a later block
    may reuse the names)."""

    data: str = ""
    checks: str = ""
    after: dict[str, str] = field(default_factory=dict)
    #: modules the unit needs beyond the test extra (skipped without them)
    needs: tuple[str, ...] = ()
    gpu: bool = False


#: a ``## `` section of the README ("README.md: <title>") or a page ("docs/<path>.md")
SETUPS: dict[str, Setup] = {
    "README.md: API overview": Setup(checks="assert grad.shape == (4,) and hess.shape == (4,)"),
    "README.md: Quick start": Setup(checks="""
from sklearn.metrics import average_precision_score
for proba_name in ("proba", "proba_lgb", "proba_xgb"):
    value = globals()[proba_name]
    assert value.shape == y_te.shape and ((value >= 0) & (value <= 1)).all(), proba_name
    assert average_precision_score(y_te, value) > 0.9, proba_name
"""),
    "docs/user_guide/native.md": Setup(
        _BINARY,
        checks="assert np.isfinite(value) and weight > 0",
        after={
            "callbacks=[lgb.early_stopping(": """
assert proba.shape == (200, 2)
assert booster.current_iteration() < 1000  # stopped early on average precision
""",
            "evals=[(dvalid, \"valid\")], early_stopping_rounds=50": """
assert proba.shape == (200, 2)
assert booster.best_iteration < 999  # stopped early on average precision
""",
        },
    ),
    "docs/user_guide/sklearn.md": Setup(
        _BINARY,
        checks="assert clf.predict(X_test).shape == (200,)",
        after={"tuned.best_threshold_": "assert 0.0 < tuned.best_threshold_ < 1.0"},
    ),
    "docs/user_guide/saving.md": Setup(_FITTED, checks="""
assert type(clf).__name__ == "FocalXGBClassifier"
np.testing.assert_array_equal(clf.predict_proba(X_test), _proba_before)
"""),
    "docs/user_guide/tuning.md": Setup(
        "import numpy as np\n" + _BINARY + _SMALL_TUNING,
        checks='assert result.verdict in ("focal", "log_loss", "no_difference")',
    ),
    "docs/user_guide/multilabel.md": Setup(_MULTILABEL, checks="""
assert proba.shape == (5, L)
assert stopped.best_iteration_.shape == (L,)
"""),
    "docs/user_guide/multioutput.md": Setup(_MULTIOUTPUT, checks="""
assert proba.shape == (5, A, K)
np.testing.assert_allclose(proba.sum(axis=2), 1.0, rtol=1e-9)
"""),
    "docs/user_guide/dask.md": Setup(
        checks="assert np.isfinite(history).all() and 1 <= best_rounds <= 100",
        needs=("distributed", "dask"),
    ),
    "docs/user_guide/gpu.md": Setup(_GPU, needs=("cupy",), gpu=True),
}


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def _pages() -> list[Path]:
    """The documentation's Markdown pages (not what the build writes)."""
    return sorted(path for path in DOCS.rglob("*.md")
                  if not NOT_PAGES & set(path.relative_to(DOCS).parts))


def _units() -> dict[str, list[str]]:
    """unit -> its python blocks, in order: each ``## `` section of the README (subsections
    included) and each page of docs/ that has any."""
    units: dict[str, list[str]] = {}
    readme = README.read_text(encoding="utf-8")
    for part in re.split(r"^## ", readme, flags=re.M)[1:]:
        title, _, body = part.partition("\n")
        if blocks := _python_blocks(body):
            units[f"README.md: {title.strip()}"] = blocks
    for page in _pages():
        if blocks := _python_blocks(page.read_text(encoding="utf-8")):
            units[page.relative_to(ROOT).as_posix()] = blocks
    return units


def test_every_unit_with_python_is_run():
    assert set(_units()) == set(SETUPS)


def test_the_pages_are_found():
    pages = {page.relative_to(DOCS).as_posix() for page in _pages()}
    assert {"index.md", "getting_started.md", "user_guide/native.md",
            "design/layout.md"} <= pages
    assert not any(page.startswith(tuple(NOT_PAGES)) for page in pages)


def test_the_readme_keeps_the_test_command_ci_runs():
    readme = README.read_text(encoding="utf-8")
    section = readme.partition("\n## The two commands\n")[2].partition("\n## ")[0]
    assert f'{TEST_INSTALL} && {TEST_COMMAND}\n' in section
    assert f"\n{TEST_COMMAND}\n" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash docs/build.sh" in readme


def test_the_readme_links_work_on_pypi_too():
    """The README is the package's long description: on PyPI a relative link or image breaks,
    so every one is an absolute URL (the docs' pages by their GitHub address)."""
    readme = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert targets, "no links found"
    relative = [target for target in targets if not target.startswith("https://")]
    assert not relative, f"relative links in README.md: {relative}"
    for target in targets:
        if target.startswith(f"{REPOSITORY}/blob/main/"):
            path = target.removeprefix(f"{REPOSITORY}/blob/main/").partition("#")[0]
            assert (ROOT / path).is_file(), f"README.md links to a missing file: {target}"


def _gpu_available() -> bool:
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no CuPy, no driver, no device
        return False


def _program(unit: str, blocks: list[str]) -> str:
    setup = SETUPS[unit]
    parts = [textwrap.dedent(setup.data)]
    placed = dict.fromkeys(setup.after, 0)
    for block in blocks:
        parts.append(block)
        for line, checks in setup.after.items():
            if line in block:
                placed[line] += 1
                parts.append(textwrap.dedent(checks))
    unplaced = [line for line, count in placed.items() if count != 1]
    assert not unplaced, f"{unit}: no single block contains {unplaced} (SETUPS[...].after)"
    parts.append(textwrap.dedent(setup.checks))
    return "\n\n".join(parts)


@pytest.mark.parametrize("unit", sorted(SETUPS))
def test_python_blocks_run(unit, tmp_path):
    setup = SETUPS[unit]
    if setup.gpu and not _gpu_available():
        pytest.skip("needs CuPy and a CUDA device")
    for module in setup.needs:
        pytest.importorskip(module)
    code = _program(unit, _units()[unit])
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1",
           "GBFOCAL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    # python -c: a spawned Dask worker does not run the code again (no main file)
    done = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", code],
                          capture_output=True, text=True, timeout=600, check=False,
                          cwd=tmp_path, env=env)
    assert done.returncode == 0, f"{unit} failed:\n{done.stderr[-4000:]}"
    warned = [line for line in (done.stdout + done.stderr).splitlines()
              # lightgbm.dask's network set-up logs its retries whatever verbose says
              if "[Warning]" in line and "Connecting to rank" not in line]
    assert not warned, f"LightGBM warnings (add verbose=-1): {warned[:3]}"
