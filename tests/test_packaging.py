"""The package's metadata and extras: every install hint names an extra that installs the
missing package, the extras install what their features import, test and lint tools stay
out of ``all``, and a missing scikit-learn is an install hint, not a bare
ModuleNotFoundError."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gbfocal._optional import DISTRIBUTIONS, EXTRAS, install_hint

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "gbfocal"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
OPTIONAL = PROJECT["optional-dependencies"]

# what a requirement installs that is imported under another name
_PROVIDES = {"scikit-learn": {"sklearn"}, "cupy-cuda12x": {"cupy"},
             "dask[distributed]": {"dask", "distributed"}}


def _requirement(text: str) -> str:
    """``"dask[distributed]>=2024.1"`` -> ``"dask[distributed]"`` (name and extras)."""
    return re.match(r"\s*([A-Za-z0-9_.\-]+(?:\[[^\]]*\])?)", text).group(1).lower()


def _installs(extra: str, seen: frozenset[str] = frozenset()) -> set[str]:
    """The top-level modules that ``pip install gbfocal[extra]`` installs (self-references
    like ``gbfocal[test]`` followed)."""
    assert extra in OPTIONAL, f"no extra {extra!r} in pyproject.toml"
    modules: set[str] = set()
    for text in OPTIONAL[extra]:
        name = _requirement(text)
        if name.startswith("gbfocal["):
            for inner in name[len("gbfocal["):-1].split(","):
                if inner.strip() not in seen:
                    modules |= _installs(inner.strip(), seen | {extra})
            continue
        modules |= _PROVIDES.get(name, {name.partition("[")[0].replace("-", "_")})
    return modules


def _hint_calls() -> list[tuple[str, str, str | None]]:
    """``(file:line, module, extra)`` of every import_optional / install_hint call in the
    package whose module is a literal (the others pass "lightgbm" / "xgboost" in a
    variable, checked through EXTRAS)."""
    calls = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            name = getattr(node.func, "id", getattr(node.func, "attr", "")) if isinstance(
                node, ast.Call) else ""
            if not name.endswith(("import_optional", "install_hint")):
                continue
            if not node.args or not isinstance(node.args[0], ast.Constant):
                continue
            extra = next((k.value.value for k in node.keywords
                          if k.arg == "extra" and isinstance(k.value, ast.Constant)), None)
            calls.append((f"{path.relative_to(ROOT)}:{node.lineno}", node.args[0].value, extra))
    return calls


@pytest.mark.parametrize("module", sorted(EXTRAS))
def test_every_hinted_extra_installs_the_missing_package(module):
    extra = EXTRAS[module]
    assert module in _installs(extra), f"gbfocal[{extra}] does not install {module}"
    assert f"pip install gbfocal[{extra}]" in install_hint(module, "x")


def test_every_hint_in_the_code_names_a_fitting_extra():
    calls = _hint_calls()
    assert len(calls) > 10  # the scan finds them
    for where, module, extra in calls:
        package = module.partition(".")[0]
        if extra is None:
            assert package in EXTRAS, f"{where}: {module!r} has no extra (EXTRAS)"
        else:
            assert package in _installs(extra), f"{where}: gbfocal[{extra}] lacks {module}"


def test_hints_name_what_pip_installs():
    assert install_hint("sklearn", "gbfocal.sklearn") == (
        "gbfocal.sklearn needs scikit-learn: pip install gbfocal[sklearn]")
    assert set(DISTRIBUTIONS) <= set(EXTRAS)
    # a package of no extra: a plain pip install, never a made-up extra
    assert install_hint("nothing_here", "x") == "x needs nothing_here: pip install nothing_here"


def test_the_extras_install_what_their_features_import():
    # tune_focal and the command line with the default backend (LightGBM)
    assert {"optuna", "sklearn", "lightgbm", "pandas", "pyarrow", "joblib",
            "cloudpickle"} <= _installs("tune")
    # gbfocal demo tunes and fits both libraries and plots (gbfocal/demo.py's NEEDS)
    from gbfocal.demo import NEEDS

    assert set(NEEDS) | {"pandas"} <= _installs("examples")
    assert "matplotlib" in _installs("plots")
    assert {"lightgbm", "sklearn"} <= _installs("lightgbm")
    assert {"xgboost", "sklearn"} <= _installs("xgboost")


def test_test_and_lint_tools_are_dev_not_all():
    tools = {"pytest", "hypothesis", "mpmath", "ruff", "mypy"}
    assert not tools & _installs("all")
    assert tools <= _installs("dev")
    # the test extra runs the test suite: every optional package but CuPy
    assert {"pytest", "hypothesis", "mpmath"} <= _installs("test")
    assert set(EXTRAS) - {"cupy"} <= _installs("test")
    assert set(EXTRAS) - {"cupy"} <= _installs("all")


def test_metadata():
    assert PROJECT["license"] == "MIT"  # an SPDX expression, not the deprecated table
    assert PROJECT["license-files"] == ["LICENSE"]
    urls = PROJECT["urls"]
    for name in ("Homepage", "Documentation", "Changelog", "Issues"):
        assert urls[name].startswith("https://github.com/gbfocal/gbfocal"), name
    classifiers = PROJECT["classifiers"]
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    assert any(c.startswith("Operating System :: ") for c in classifiers)
    low = int(PROJECT["requires-python"].removeprefix(">=3."))
    versions = [int(c.rsplit(".", 1)[1]) for c in classifiers
                if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert min(versions) == low
    assert not any("License ::" in c for c in classifiers)  # the SPDX field says it
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    assert any(re.fullmatch(r"setuptools>=(\d+)", r) and int(r.split(">=")[1]) >= 77
               for r in build["requires"]), "license = 'MIT' needs setuptools >= 77"
    # the changelog ships in the sdist (MANIFEST.in) and the wheel (data-files); the
    # license in both through license-files
    assert "CHANGELOG.md" in (ROOT / "MANIFEST.in").read_text()
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "CHANGELOG.md" in [f for files in setuptools["data-files"].values() for f in files]


_BLOCK_SKLEARN = textwrap.dedent("""
    import importlib.abc, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] == "sklearn":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Block())
""")


@pytest.mark.parametrize("statement", [
    "from gbfocal.sklearn import FocalLGBMClassifier",
    "import gbfocal; gbfocal.FocalXGBClassifier",
    "from gbfocal.multioutput import FocalMultiOutputClassifier",
    "from gbfocal.multilabel import FocalMultiLabelClassifier",
])
def test_the_estimators_without_scikit_learn_give_the_install_hint(statement):
    code = _BLOCK_SKLEARN + textwrap.dedent(f"""
        try:
            {statement}
        except ImportError as exc:
            print(type(exc).__name__, exc)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ImportError ")  # not a bare ModuleNotFoundError
    assert "needs scikit-learn: pip install gbfocal[sklearn]" in done.stdout
