"""Every ```python block of the README runs as written.

The blocks of one ``## `` section run in order in one fresh interpreter (``python -c``, in a
temporary folder, one OpenMP and one gbfocal thread: the package's thread rule, and no
spin-waiting on a busy machine), after a few lines that make the small data the text
speaks of (``X_train``, ``y_train``, ``Y``, ...). A section of the README with a python
block but no entry in :data:`SETUPS` fails the test, so a new block is run too. The GPU
section runs only where CuPy sees a CUDA device.

Two things are made smaller than written, without changing a character of the blocks:
``tune_focal`` is wrapped to run 2 trials of at most 3 folds on 40 rounds, and the data
has a few hundred rows.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

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

_GPU = _BINARY + """
import xgboost as xgb
from gbfocal.losses import BinaryFocalLoss

loss = BinaryFocalLoss(alpha="balanced", gamma=2.0)
X, y = X_train, y_train
dtrain = xgb.DMatrix(X, y, base_margin=np.full(len(y), loss.init_score(y)))
"""

#: ``## `` section title -> (the data its blocks use, checks after them)
SETUPS: dict[str, tuple[str, str]] = {
    "API overview": ("", "assert grad.shape == (4,) and hess.shape == (4,)"),
    "Quick start": ("", """
from sklearn.metrics import average_precision_score
for proba_name in ("proba", "proba_lgb", "proba_xgb"):
    value = globals()[proba_name]
    assert value.shape == y_te.shape and ((value >= 0) & (value <= 1)).all(), proba_name
    assert average_precision_score(y_te, value) > 0.9, proba_name
"""),
    "LightGBM and XGBoost: objectives and metrics": (_BINARY, """
assert proba.shape == (200, 2)
assert booster.best_iteration < 999  # stopped early on average precision
"""),
    "Probabilities you can trust: the focal posterior": (_BINARY, """
assert np.isfinite(value) and weight > 0
"""),
    "scikit-learn estimators": (_BINARY, """
assert 0.0 < tuned.best_threshold_ < 1.0
assert clf.predict(X_test).shape == (200,)
"""),
    "Tuning alpha and gamma": ("import numpy as np\n" + _BINARY + _SMALL_TUNING, """
assert result.verdict in ("focal", "log_loss", "no_difference")
"""),
    "Multi-label focal loss: many independent yes/no labels per row": (_MULTILABEL, """
assert proba.shape == (5, L)
assert stopped.best_iteration_.shape == (L,)
"""),
    "Multi-output focal loss: several aspects x several sentiments per row": (_MULTIOUTPUT, """
assert proba.shape == (5, A, K)
np.testing.assert_allclose(proba.sum(axis=2), 1.0, rtol=1e-9)
"""),
    "Distributed training with Dask": ("", """
assert np.isfinite(history).all() and 1 <= best_rounds <= 100
"""),
    "GPU (XGBoost CUDA)": (_GPU, ""),
}
#: the sections that need more than the test suite installs, and when they run
NEEDS = {"Distributed training with Dask": ("distributed", "dask"),
         "GPU (XGBoost CUDA)": ("cupy",)}


def _sections() -> dict[str, list[str]]:
    """``## `` section title -> its python blocks, in order (subsections included)."""
    text = README.read_text(encoding="utf-8")
    sections: dict[str, list[str]] = {}
    for part in re.split(r"^## ", text, flags=re.M)[1:]:
        title, _, body = part.partition("\n")
        blocks = re.findall(r"^```python\n(.*?)^```", body, flags=re.S | re.M)
        if blocks:
            sections[title.strip()] = blocks
    return sections


def test_every_section_with_python_is_run():
    assert set(_sections()) == set(SETUPS)


def _gpu_available() -> bool:
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no CuPy, no driver, no device
        return False


@pytest.mark.parametrize("title", sorted(SETUPS))
def test_readme_section_runs(title, tmp_path):
    for module in NEEDS.get(title, ()):
        pytest.importorskip(module)
    if title.startswith("GPU") and not _gpu_available():
        pytest.skip("needs CuPy and a CUDA device")
    setup, checks = SETUPS[title]
    code = "\n\n".join([textwrap.dedent(setup), *_sections()[title], textwrap.dedent(checks)])
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1",
           "GBFOCAL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    # python -c: a spawned Dask worker does not run the code again (no main file)
    done = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", code],
                          capture_output=True, text=True, timeout=600, check=False,
                          cwd=tmp_path, env=env)
    assert done.returncode == 0, f"README section {title!r} failed:\n{done.stderr[-4000:]}"
    warned = [line for line in (done.stdout + done.stderr).splitlines()
              # lightgbm.dask's network set-up logs its retries whatever verbose says
              if "[Warning]" in line and "Connecting to rank" not in line]
    assert not warned, f"LightGBM warnings (add verbose=-1): {warned[:3]}"
