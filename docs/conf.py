"""Sphinx configuration of gbfocal's documentation.

Build it with ``bash docs/build.sh`` (warnings are errors, cross-references nitpicky); see
docs/contributing.md.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# the checkout's package, not an installed copy; the docs' own extension
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))
# the examples run in this process: one gbfocal thread
os.environ.setdefault("GBFOCAL_NUM_THREADS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")  # no Optuna progress bars in the examples' output

import gbfocal  # noqa: E402

project = "gbfocal"
author = "gbfocal developers"
copyright = "2026, gbfocal developers"  # noqa: A001
version = release = gbfocal.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.linkcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sphinx_copybutton",
    "gbfocal_docs",
]

# no typographic quotes or dashes: "--force" must stay two hyphens, quotes stay as typed
smartquotes = False
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = [
    "_build", "_generated", "_gallery_src", "Thumbs.db", ".DS_Store",
    "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
]
templates_path: list[str] = []

# -- warnings as errors, every cross-reference checked (build with -W --keep-going -n) -----
nitpicky = True
# Names of other projects: no intersphinx (the build must work offline), so their types in
# signatures and bases are plain text. Every gbfocal name must resolve.
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|scipy|pandas|pd|sklearn|lightgbm|lgb|xgboost|xgb|optuna|dask|"
               r"distributed|cupy|joblib|pyarrow|numba|typing|collections|os|pathlib|"
               r"concurrent|threading|multiprocessing)(\..*)?"),
    (r"py:.*", r"(ArrayLike|NDArray|Any|Callable|Iterable|Iterator|Sequence|Mapping|"
               r"Literal|Self|TypeVar|Path|PathLike|BinaryIO|TextIO)"),
    (r"py:.*", r"(int|float|str|bool|bytes|dict|list|tuple|set|frozenset|object|type|"
               r"None|Exception|ValueError|TypeError|UserWarning|RuntimeError)"),
]

# -- MyST (the prose pages are Markdown) -------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3

# -- autodoc / numpydoc (the API reference) ----------------------------------------------
autodoc_default_options = {"member-order": "bysource"}  # a non-string default would override
# every directive's own option: each page says :members: itself
autodoc_typehints = "none"  # the numpydoc "Parameters" sections carry the types
autosummary_generate = False
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True
# numpydoc also parses the raw docstrings for signatures (mangle_signature), where
# FocalLoss's "Per-round interface" heading is still a section it does not know; the page
# shows it as a rubric (gbfocal_docs.prepare_docstring)
warnings.filterwarnings("ignore", message="Unknown section Per-round", category=UserWarning)

# -- [source] links to the code on GitHub (sphinx.ext.viewcode's own source pages link back
# to an object under the first name its module was documented with, which breaks anchors of
# re-exported names such as gbfocal.binary_focal_loss, defined in gbfocal._focal)
REPOSITORY = "https://github.com/gbfocal/gbfocal"


def linkcode_resolve(domain: str, info: dict[str, str]) -> str | None:
    if domain != "py" or not info.get("module"):
        return None
    import importlib
    import inspect

    obj: Any
    try:
        obj = importlib.import_module(info["module"])
        for part in info["fullname"].split("."):
            obj = getattr(obj, part)
        obj = inspect.unwrap(getattr(obj, "fget", None) or obj)
        source = Path(inspect.getsourcefile(obj) or "").resolve()
        lines, first = inspect.getsourcelines(obj)
    except (AttributeError, ImportError, OSError, TypeError):
        return None  # data, or no Python source
    if not source.is_relative_to(ROOT):
        return None
    path = source.relative_to(ROOT).as_posix()
    return f"{REPOSITORY}/blob/main/{path}#L{first}-L{first + len(lines) - 1}"


# -- the examples gallery ------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "_gallery_src",  # examples/*.py with a title, written by gbfocal_docs
    "gallery_dirs": "auto_examples",
    # run these; dask_training.py is listed with its code, not run (it starts a cluster)
    "filename_pattern": r"(breast_cancer|multilabel|aspect_sentiment)\.py$",
    "ignore_pattern": r"__init__\.py",
    "reset_argv": "gbfocal_docs.gallery_argv",
    "image_scrapers": ("matplotlib", "gbfocal_docs.png_scraper"),
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "show_signature": False,
    "min_reported_time": 1,
    "capture_repr": (),
}

# -- HTML ---------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"gbfocal {release}"
html_static_path: list[str] = []
html_theme_options = {
    "source_repository": "https://github.com/gbfocal/gbfocal/",
    "source_branch": "main",
    "source_directory": "docs/",
}
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
