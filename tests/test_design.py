"""The package's structure as the layout page of the docs (``docs/design/layout.md``) draws
it: imports between the modules, validation in one place, and ``import gbfocal`` with only its
required dependencies."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import gbfocal
from gbfocal import _spec

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "gbfocal"
#: the one place of the layout table (the docs' design pages show it)
LAYOUT = ROOT / "docs" / "design" / "layout.md"


def _module_name(path: Path) -> str:
    """``gbfocal/tuning/_space.py`` -> ``tuning._space``; a package's ``__init__`` -> its name."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


MODULES = sorted(_module_name(path) for path in PACKAGE.rglob("*.py"))


def _layout() -> dict[str, set[str]]:
    """module -> the gbfocal modules it may import, from the layout table of
    ``docs/design/layout.md`` (the rows between its headings "The modules" and "Rules behind
    it")."""
    text = LAYOUT.read_text(encoding="utf-8")
    section = text[text.index("\n## The modules\n"):text.index("\n## Rules behind it\n")]
    allowed: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`gbfocal/"):
            continue
        imports = set(re.findall(r"`([\w.]+)`", cells[2]))
        for file in re.findall(r"`((?:gbfocal/)?[\w/]+\.py)`", cells[0]):
            path = PACKAGE / file.removeprefix("gbfocal/")
            allowed[_module_name(path)] = imports
    return allowed


def _runtime_nodes(tree: ast.AST):
    """Every node except those under ``if TYPE_CHECKING:`` (imports for annotations only)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(module: str) -> set[str]:
    """The gbfocal modules ``module`` imports at run time (relative imports, any depth)."""
    path = PACKAGE.joinpath(*module.split(".")) if module != "__init__" else PACKAGE
    is_package = path.is_dir()
    source = path / "__init__.py" if is_package else path.with_suffix(".py")
    # the package a relative import of level 1 starts from
    package = module.split(".") if is_package and module != "__init__" else (
        module.split(".")[:-1])
    found: set[str] = set()

    def add(base: list[str], name: str | None) -> None:
        dotted = ".".join([*base, name] if name else base)
        found.add(dotted if dotted in MODULES else ".".join(base) or "__init__")

    for node in _runtime_nodes(ast.parse(source.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
            if node.module:
                base = [*base, *node.module.split(".")]
            for alias in node.names:
                add(base, alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
            "gbfocal."
        ):
            for alias in node.names:
                add(node.module.split(".")[1:], alias.name)
    # `from . import __version__` reads the package itself
    return {"__init__" if name == "__version__" else name for name in found}


def test_every_module_is_in_the_layout_table():
    assert set(MODULES) == set(_layout())


@pytest.mark.parametrize("module", MODULES)
def test_imports_follow_the_layout(module):
    allowed = _layout()[module]
    used = _imports(module) - {module}
    assert used <= allowed, f"{module} imports {sorted(used - allowed)}, not in {LAYOUT.name}"


def test_the_layout_has_no_import_cycle():
    """Every edge counts, the packages' own ``__init__`` modules included (the top-level
    package imports its eager names; its lazy exports go through importlib and the
    registry, which the import graph cannot see: there the registry is the one place)."""
    graph = {module: _imports(module) - {module} for module in _layout()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 1:
            raise AssertionError(f"import cycle: {' -> '.join(path + [node])}")
        if state.get(node) == 2:
            return
        state[node] = 1
        for nxt in graph.get(node, ()):
            visit(nxt, path + [node])
        state[node] = 2

    for module in graph:
        visit(module, [])


# ------------------------------------------------------------------ validated once
def _entry_points():
    from gbfocal import FocalLGBMClassifier, FocalMultiOutputClassifier, FocalXGBClassifier

    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    return {
        "binary_focal_loss": lambda **kw: gbfocal.binary_focal_loss(y, X[:, 0], **kw),
        "multiclass_focal_grad_hess": lambda **kw: gbfocal.multiclass_focal_grad_hess(
            y, X[:, :2], **kw),
        "BinaryFocalLoss": lambda **kw: gbfocal.BinaryFocalLoss(**kw),
        "MulticlassFocalLoss": lambda **kw: gbfocal.MulticlassFocalLoss(2, **kw),
        "MultiOutputFocalLoss": lambda **kw: gbfocal.MultiOutputFocalLoss(1, 2, **kw),
        "focal_posterior": lambda **kw: gbfocal.focal_posterior(
            X[:, 0], **{k: v for k, v in kw.items() if k != "hessian"}),
        "FocalLGBMClassifier": lambda **kw: FocalLGBMClassifier(n_estimators=2, **kw).fit(X, y),
        "FocalXGBClassifier": lambda **kw: FocalXGBClassifier(n_estimators=2, **kw).fit(X, y),
        "FocalMultiOutputClassifier": lambda **kw: FocalMultiOutputClassifier(
            n_estimators=2, **kw).fit(X, y[:, None]),
    }


@pytest.mark.parametrize(
    ("bad", "error"),
    [({"gamma": True}, TypeError), ({"gamma": -1.0}, ValueError),
     ({"gamma": "2"}, TypeError), ({"alpha": "Balanced"}, ValueError),
     ({"alpha": True}, TypeError), ({"alpha": [1.0, -1.0]}, ValueError),
     ({"hessian": "Positive"}, ValueError)],
)
def test_a_bad_value_gets_the_same_error_from_every_entry_point(bad, error):
    messages = {}
    for name, call in _entry_points().items():
        if "hessian" in bad and name in ("binary_focal_loss", "focal_posterior"):
            continue  # no Hessian there
        if name == "focal_posterior" and bad.get("alpha") == "Balanced":
            continue  # its own rule: no label-dependent alpha at all
        with pytest.raises(error) as info:
            call(**bad)
        messages[name] = str(info.value)
    assert len(set(messages.values())) == 1, messages
    assert next(iter(bad)) in next(iter(messages.values()))


def test_one_fit_builds_one_spec_and_never_revalidates(monkeypatch):
    """Before: a 20-round fit ran check_gamma 48 times."""
    from gbfocal import FocalLGBMClassifier, _validation

    created, gamma_checks = [], []
    original_create = _spec.FocalSpec.create.__func__
    original_gamma = _validation.check_gamma

    def counting_create(cls, **kwargs):
        created.append(kwargs)
        return original_create(cls, **kwargs)

    def counting_gamma(gamma):
        gamma_checks.append(gamma)
        return original_gamma(gamma)

    monkeypatch.setattr(_spec.FocalSpec, "create", classmethod(counting_create))
    monkeypatch.setattr(_validation, "check_gamma", counting_gamma)
    X = np.random.default_rng(0).normal(size=(300, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    FocalLGBMClassifier(alpha="balanced", n_estimators=20, early_stopping_rounds=50,
                        eval_metric="log_loss", n_jobs=1).fit(
        X[:200], y[:200], eval_set=[(X[200:], y[200:])])
    assert len(created) == 1 and len(gamma_checks) == 1


# ------------------------------------------------------------------ required dependencies
_BLOCKER = textwrap.dedent("""
    import importlib.abc, sys
    OPTIONAL = {"sklearn", "lightgbm", "xgboost", "optuna", "optuna_integration", "pandas",
                "pyarrow", "matplotlib", "dask", "distributed", "cupy", "joblib"}

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in OPTIONAL:
                raise ImportError(f"{name} is blocked: not a required dependency")
            return None

    sys.meta_path.insert(0, Block())
""")

_CORE = (Path(__file__).parent / "minimal_env_check.py").read_text()


@pytest.mark.parametrize("numba", ["compiled", "numpy"])
def test_import_gbfocal_needs_only_its_required_dependencies(numba):
    """With every optional package blocked, the core functions, the loss objects and their
    adapters work; the estimators say what to install."""
    env = {"GBFOCAL_DISABLE_NUMBA": "1"} if numba == "numpy" else {}
    import os

    done = subprocess.run(
        [sys.executable, "-c", _BLOCKER + _CORE], capture_output=True, text=True,
        timeout=300, check=False, env={**os.environ, **env}, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "core ok" in done.stdout
