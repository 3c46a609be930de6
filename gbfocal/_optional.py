"""The one way gbfocal imports an optional dependency, with one install hint format.

``import gbfocal`` needs only NumPy and SciPy (numba for the compiled kernels); everything
else is imported by the module that needs it, on first use, through :func:`import_optional`,
so that a missing package always says the same thing: what needs it and which extra to
install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "import_optional", "install_hint"]

#: Top-level package -> the gbfocal extra that installs it.
EXTRAS: dict[str, str] = {
    "lightgbm": "lightgbm",
    "xgboost": "xgboost",
    "sklearn": "sklearn",
    "optuna": "tune",
    "pandas": "tune",
    "pyarrow": "tune",
    "joblib": "tune",
    "cloudpickle": "tune",
    "matplotlib": "examples",
    "dask": "dask",
    "distributed": "dask",
    "cupy": "gpu",
}


def install_hint(module: str, needed_by: str) -> str:
    """``"<needed_by> needs <package>: pip install gbfocal[<extra>]"``."""
    package = module.partition(".")[0]
    return f"{needed_by} needs {package}: pip install gbfocal[{EXTRAS.get(package, package)}]"


def import_optional(module: str, *, needed_by: str) -> ModuleType:
    """Import ``module``, or raise ImportError with the install hint of :func:`install_hint`.

    Examples
    --------
    >>> import_optional("numpy", needed_by="this example").__name__
    'numpy'
    >>> try:
    ...     import_optional("cupy_not_installed", needed_by="the GPU objective")
    ... except ImportError as exc:
    ...     print(exc)
    the GPU objective needs cupy_not_installed: pip install gbfocal[cupy_not_installed]
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(install_hint(module, needed_by)) from exc
