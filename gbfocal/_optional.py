"""The one way gbfocal imports an optional dependency, with one install hint format.

``import gbfocal`` needs only NumPy and SciPy (numba for the compiled kernels); everything
else is imported by the module that needs it, on first use, through :func:`import_optional`,
so that a missing package always says the same thing: what needs it and which extra to
install, ``<what> needs <package>: pip install gbfocal[<extra>]``. The extra named is one
that installs the package (``tests/test_packaging.py`` checks every hint against
``pyproject.toml``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["DISTRIBUTIONS", "EXTRAS", "import_optional", "install_hint", "raise_install_hint"]

#: Top-level module -> the smallest gbfocal extra that installs it.
EXTRAS: dict[str, str] = {
    "sklearn": "sklearn",
    "lightgbm": "lightgbm",
    "xgboost": "xgboost",
    "optuna": "tune",
    "pandas": "tune",
    "pyarrow": "tune",
    "joblib": "tune",
    "cloudpickle": "tune",
    "matplotlib": "plots",
    "dask": "dask",
    "distributed": "dask",
    "cupy": "gpu",
}

#: Top-level module -> the name pip knows it by, where the two differ.
DISTRIBUTIONS: dict[str, str] = {"sklearn": "scikit-learn"}


def install_hint(module: str, needed_by: str, *, extra: str | None = None) -> str:
    """``"<needed_by> needs <package>: pip install gbfocal[<extra>]"``.

    Parameters
    ----------
    module : str
        The module that could not be imported (``"sklearn.metrics"``: its package counts).
    needed_by : str
        What needs it, as the user calls it (``"FocalLGBMClassifier"``, ``"--plots"``).
    extra : str, optional
        The gbfocal extra to name; default: the smallest one that installs the package
        (:data:`EXTRAS`). A feature that needs several packages names the extra that
        installs them all (``gbfocal demo``: ``examples``). A package of no extra gets a
        plain ``pip install <package>``.

    Examples
    --------
    >>> install_hint("sklearn.metrics", "FocalLGBMClassifier")
    'FocalLGBMClassifier needs scikit-learn: pip install gbfocal[sklearn]'
    >>> install_hint("matplotlib", "gbfocal demo", extra="examples")
    'gbfocal demo needs matplotlib: pip install gbfocal[examples]'
    """
    package = module.partition(".")[0]
    name = DISTRIBUTIONS.get(package, package)
    chosen = extra if extra is not None else EXTRAS.get(package)
    if chosen is None:
        return f"{needed_by} needs {name}: pip install {name}"
    return f"{needed_by} needs {name}: pip install gbfocal[{chosen}]"


def import_optional(module: str, *, needed_by: str, extra: str | None = None) -> ModuleType:
    """Import ``module``, or raise ImportError with the install hint of :func:`install_hint`.

    Examples
    --------
    >>> import_optional("numpy", needed_by="this example").__name__
    'numpy'
    >>> try:
    ...     import_optional("not_a_package.sub", needed_by="this example")
    ... except ImportError as exc:
    ...     print(exc)
    this example needs not_a_package: pip install not_a_package
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(install_hint(module, needed_by, extra=extra),
                          name=module.partition(".")[0]) from exc


def raise_install_hint(exc: ImportError, needed_by: str) -> None:
    """For a module whose top-level imports need an optional package: if ``exc`` is that
    package missing, raise ImportError with the install hint instead; return otherwise (the
    caller re-raises ``exc``: a gbfocal module's own import error is not hidden).

    ``try: from sklearn... import ...`` / ``except ImportError as exc:
    raise_install_hint(exc, "gbfocal.multioutput"); raise``.
    """
    package = (exc.name or "").partition(".")[0]
    if package in EXTRAS:
        raise ImportError(install_hint(package, needed_by), name=package) from exc
