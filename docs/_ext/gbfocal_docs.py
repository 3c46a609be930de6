"""Sphinx glue for gbfocal's documentation (loaded from ``docs/conf.py``).

* Performance tables: ``benchmarks/*.json`` -> ``docs/_generated/<json>/<table>.md`` at the
  start of every build (:mod:`benchmark_tables`); the performance pages include them.
* The examples gallery: ``examples/*.py`` -> ``docs/_gallery_src/`` with a reStructuredText
  title in the docstring (sphinx-gallery needs one; the examples themselves stay plain
  scripts), the command-line arguments each example runs with (:func:`gallery_argv`), a
  scraper for the PNG files the examples write (:func:`png_scraper`), and examples that end
  with ``sys.exit(main())`` (:func:`allow_sys_exit`).
* Docstrings: numpydoc sections it does not know become rubrics, fitted attributes in
  parameter types are escaped (:func:`prepare_docstring`); class pages show gbfocal's own
  members and public bases (:func:`skip_foreign_members`, :func:`public_bases`).
* Cross-references: ``gbfocal.BinaryFocalLoss`` is documented once, as
  ``gbfocal.losses.BinaryFocalLoss``; a reference to any name that is the same object, to a
  private module's constant, or to an attribute listed in a class's "Attributes" section
  resolves (:func:`resolve_alias`).
* ``.. gbfocal-internals::``: the private modules' docstrings (:class:`Internals`).
* The API reference covers every public name: each name in the ``__all__`` of the modules in
  :data:`PUBLIC_MODULES` must be documented somewhere, else the build warns (an error under
  ``-W``).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
import shutil
from pathlib import Path
from typing import Any, cast

from benchmark_tables import render_all
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.domains.python import PythonDomain
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import make_refnode, nested_parse_with_titles

logger = logging.getLogger(__name__)

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
GALLERY_SRC = DOCS / "_gallery_src"
GALLERY_OUTPUT = DOCS / "_build" / "gallery_output"

PUBLIC_MODULES = (
    "gbfocal", "gbfocal.losses", "gbfocal.sklearn", "gbfocal.multioutput",
    "gbfocal.multilabel", "gbfocal.tuning", "gbfocal.persist", "gbfocal.dask", "gbfocal.gpu",
    "gbfocal.xgboost", "gbfocal.adapters", "gbfocal.demo",
)

# Each example runs in the gallery with small settings: short, and enough to show its output.
# The output folder of an example that writes plots is where png_scraper finds them.
GALLERY_ARGS: dict[str, list[str]] = {
    "breast_cancer": ["--trials", "8", "--output", "{output}"],
    "multilabel": ["--rows", "600", "--rounds", "30", "--threads", "1"],
    "aspect_sentiment": ["--reviews", "1000", "--rounds", "30", "--threads", "1"],
}
GALLERY_HEADER = """\
Examples
========

The scripts in the repository's ``examples/`` folder, run while this site was built with
small settings, so their numbers are not the ones of the full runs:

{commands}

``dask_training.py`` is shown without running it (it starts a Dask cluster). Run any of them
yourself with ``python examples/<name>.py --help`` for their options; the defaults are larger.
"""


def _gallery_header() -> str:
    commands = "\n".join(
        f"* ``python examples/{name}.py {' '.join(args).replace('{output}', 'DIR')}``"
        for name, args in GALLERY_ARGS.items())
    return GALLERY_HEADER.format(commands=commands)


# ------------------------------------------------------------------ benchmark tables
def generate_tables(app: Sphinx) -> None:
    written = render_all(ROOT / "benchmarks", DOCS / "_generated")
    for path in written:
        logger.info("gbfocal_docs: wrote %s", path.relative_to(DOCS))


# ------------------------------------------------------------------------- gallery
def _titled(source: str, name: str) -> str:
    """The example's source with its docstring's first line as a reST title, and the
    indented command lines of the docstring (``    python examples/...``) as literal
    blocks rather than block quotes."""
    match = re.match(r'(\s*"""|\s*\'\'\')(.*?)\n', source)
    if not match:
        raise ValueError(f"examples/{name}: the file must start with a docstring")
    title = match.group(2).strip().rstrip(".")
    rest = source[match.end():]
    end = rest.find(match.group(1).strip())
    docstring = re.sub(r"(^|\n)\n(?=    python )", r"\1\n::\n\n", rest[:end])
    return f'{match.group(1)}{title}\n{"=" * len(title)}\n{docstring}{rest[end:]}'


def prepare_gallery(app: Sphinx, config: Any) -> None:
    """Copy ``examples/*.py`` to ``_gallery_src`` (only files whose text changed)."""
    GALLERY_SRC.mkdir(exist_ok=True)
    wanted = {"GALLERY_HEADER.rst": _gallery_header()}
    for path in sorted((ROOT / "examples").glob("*.py")):
        wanted[path.name] = _titled(path.read_text(encoding="utf-8"), path.name)
    for old in GALLERY_SRC.iterdir():
        if old.name not in wanted:
            old.unlink() if old.is_file() else shutil.rmtree(old)
    for name, text in wanted.items():
        target = GALLERY_SRC / name
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")


def gallery_argv(gallery_conf: dict[str, Any], script_vars: dict[str, Any]) -> list[str]:
    """sphinx-gallery ``reset_argv``: the arguments of one example (see GALLERY_ARGS)."""
    stem = Path(script_vars["src_file"]).stem
    output = GALLERY_OUTPUT / stem
    shutil.rmtree(output, ignore_errors=True)
    output.mkdir(parents=True)
    return [arg.format(output=output) for arg in GALLERY_ARGS.get(stem, [])]


def allow_sys_exit() -> None:
    """Let an example end with ``sys.exit(main())``, as scripts do.

    sphinx-gallery runs an example in this process and catches only ``Exception``: a
    ``SystemExit`` would end the whole build, with exit status 0 and half the pages missing.
    Here ``sys.exit(0)`` / ``sys.exit(None)`` ends the example normally and any other status
    is an error of that example (which fails the build: ``abort_on_example_error``)."""
    from sphinx_gallery import gen_rst

    runner = getattr(gen_rst, "_exec_once", None)
    if runner is None or getattr(runner.__call__, "allows_sys_exit", False):
        if runner is None:
            logger.warning("gbfocal_docs: sphinx_gallery.gen_rst._exec_once is gone; an "
                           "example's sys.exit() would end the build", type="gbfocal")
        return
    run = runner.__call__

    def call(self: Any) -> None:
        try:
            run(self)
        except SystemExit as exc:
            if exc.code not in (None, 0):
                raise RuntimeError(f"the example called sys.exit({exc.code!r})") from None

    call.allows_sys_exit = True  # type: ignore[attr-defined]
    runner.__call__ = call


def png_scraper(block: Any, block_vars: dict[str, Any], gallery_conf: dict[str, Any]) -> str:
    """sphinx-gallery image scraper: the PNG files the example wrote (breast_cancer.py saves
    and closes its figures, so matplotlib's scraper does not see them)."""
    from sphinx_gallery.scrapers import figure_rst

    output = GALLERY_OUTPUT / Path(block_vars["src_file"]).stem
    if not output.is_dir():
        return ""
    images = []
    for png in sorted(output.glob("*.png")):
        target = next(block_vars["image_path_iterator"])  # sphx_glr_<example>_<n>.png
        shutil.move(png, target)  # moved: a later block of the same example does not repeat it
        images.append(target)
    return figure_rst(images, gallery_conf["src_dir"])


# ------------------------------------------------------------------ alias references
_documented: dict[int, str] | None = None


def _import(name: str) -> Any:
    """The object a dotted name refers to, or None."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _documented_objects_by_id() -> dict[int, str]:
    return _documented or {}


def _documented_objects(env: BuildEnvironment) -> dict[int, str]:
    global _documented
    if _documented is None:
        _documented = {}
        for name, *_ in env.get_domain("py").get_objects():
            obj = _import(name)
            if obj is not None and not isinstance(obj, (str, int, float, tuple, frozenset)):
                _documented.setdefault(id(obj), name)
    return _documented


def _candidates(node: Any) -> list[str]:
    """Documented names a reference may mean: in the page's module and class, in the module
    that really defines that class (a private one), and the target as written."""
    target, module, cls = node["reftarget"], node.get("py:module"), node.get("py:class")
    names = []
    if module:
        if cls:
            names.append(f"{module}.{cls}.{target}")
        names.append(f"{module}.{target}")
        context = _import(f"{module}.{cls}" if cls else module)
        defining = getattr(context, "__module__", None) if cls else None
        if isinstance(defining, str):
            names += [f"{defining}.{context.__qualname__}.{target}", f"{defining}.{target}"]
    return names + [target]


def _attribute_owner(node: Any, objects: dict[str, Any]) -> str | None:
    """The documented class whose numpydoc "Attributes" section lists the referenced
    attribute (``booster_``, ``TuningResult.best_params``): that section gives the
    attribute no target of its own, so a reference links to the class."""
    target, module, cls = node["reftarget"], node.get("py:module"), node.get("py:class")
    owner_name, _, attribute = target.rpartition(".")
    owners = []
    if owner_name:
        owners = [f"{module}.{owner_name}"] if module else []
        owners += [owner_name]
    elif module and cls:
        owners = [f"{module}.{cls}"]
    pattern = re.compile(rf"^\s*{re.escape(attribute)}\s*:", re.MULTILINE)
    for owner in owners:
        obj = _import(owner)
        if obj is None:
            continue
        name = owner if owner in objects else _documented_objects_by_id().get(id(obj))
        if name and pattern.search(inspect.getdoc(obj) or ""):
            return name
    return None


def resolve_alias(app: Sphinx, env: BuildEnvironment, node: Any, contnode: Any) -> Any:
    """``missing-reference``: a gbfocal name that Sphinx's own lookup did not find.

    1. an alias: ``gbfocal.BinaryFocalLoss`` is documented once, as
       ``gbfocal.losses.BinaryFocalLoss``; so is any name that is the same object;
    2. a name of the module that defines the page's class (``CONFIDENCE`` in the docstring
       of ``gbfocal.tuning.Comparison``, defined in ``gbfocal.tuning._compare``);
    3. a fitted attribute (``booster_``): listed in its class's "Attributes" section, which
       has no target of its own, so the reference goes to the class;
    4. the one documented object of that kind whose name ends with the target (a summary
       line in an autosummary table has no module context).
    """
    if node.get("refdomain") != "py":
        return None
    domain = cast(PythonDomain, env.get_domain("py"))
    objects = domain.objects
    documented = _documented_objects(env)

    def link(name: str) -> Any:
        entry = objects[name]
        return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id,
                            contnode, name)

    for name in _candidates(node):
        if not name.startswith("gbfocal"):
            continue
        if name in objects:
            return link(name)
        obj = _import(name)
        if obj is not None and id(obj) in documented:
            return link(documented[id(obj)])
    if node["reftype"] == "attr":
        owner = _attribute_owner(node, objects)
        if owner:
            return link(owner)
    target = node["reftarget"].lstrip(".")
    kinds = set(domain.objtypes_for_role(node["reftype"]) or ())
    matches = [name for name, entry in objects.items()
               if name.endswith("." + target) and entry.objtype in kinds
               and not entry.aliased]
    if len(matches) == 1:
        return link(matches[0])
    return None


def reset_alias_cache(app: Sphinx, env: BuildEnvironment, *args: Any) -> None:
    global _documented
    _documented = None


# ------------------------------------------------------- docstrings before numpydoc
NUMPYDOC_SECTIONS = {
    "Parameters", "Attributes", "Methods", "Returns", "Yields", "Receives",
    "Other Parameters", "Raises", "Warns", "Warnings", "See Also", "Notes", "References",
    "Examples",
}
_PARAM_LINE = re.compile(r"^(\s*\**[\w, ]+ : )(.*)$")
_FITTED_NAME = re.compile(r"\b([A-Za-z]\w*)_(?=\W|$)")


def prepare_docstring(app: Sphinx, what: str, name: str, obj: Any, options: Any,
                      lines: list[str]) -> None:
    """``autodoc-process-docstring``, run before numpydoc's handler:

    * a heading numpydoc does not know (``Per-round interface`` in ``FocalLoss``) becomes a
      rubric: numpydoc would drop the section and its text;
    * a fitted attribute's name in a parameter's type (``ndarray of shape
      (n_features_in_,)``) is escaped: reStructuredText reads ``name_`` as a link.
    """
    if what == "module":
        return  # numpydoc leaves module docstrings to reStructuredText
    for i in range(len(lines) - 1):
        title, rule = lines[i].strip(), lines[i + 1].strip()
        if (title and len(rule) >= 3 and set(rule) in ({"-"}, {"="})
                and title not in NUMPYDOC_SECTIONS):
            indent = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
            lines[i], lines[i + 1] = f"{indent}.. rubric:: {title}", ""
    for i, line in enumerate(lines):
        match = _PARAM_LINE.match(line)
        if match and "`" not in match.group(2):
            lines[i] = match.group(1) + _FITTED_NAME.sub(r"\1\\_", match.group(2))


def public_bases(app: Sphinx, name: str, obj: Any, options: Any, bases: list[Any]) -> None:
    """``autodoc-process-bases``: show a private base class's bases instead of it (the
    "Bases:" line of ``FocalLGBMClassifier`` names scikit-learn's classes, not
    ``gbfocal._base.FocalEstimator``)."""
    public: list[Any] = []

    def add(base: Any) -> None:
        private = base.__name__.startswith("_") or any(
            part.startswith("_") for part in base.__module__.split("."))
        if base is object or base in public:
            return
        if private and base.__module__.startswith("gbfocal"):
            for parent in base.__bases__:
                add(parent)
        else:
            public.append(base)

    for base in bases:
        add(base)
    bases[:] = public


# ------------------------------------------------------------- members of classes
def _origin(obj: Any) -> str | None:
    """The module that defines a class member (a method, property or descriptor)."""
    if isinstance(obj, property):
        obj = obj.fget
    elif isinstance(obj, functools.cached_property):
        obj = obj.func
    elif isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    module = getattr(obj, "__module__", None)
    if isinstance(module, str):
        return module
    if callable(obj) or hasattr(type(obj), "__get__"):
        return type(obj).__module__
    return None


def skip_foreign_members(app: Sphinx, what: str, name: str, obj: Any, skip: bool,
                         options: Any) -> bool | None:
    """``autodoc-skip-member``: a class page shows what gbfocal defines (its own methods and
    those of its gbfocal base classes), not what scikit-learn or Python add (``get_params``,
    ``set_fit_request``, ``with_traceback``, ...)."""
    if what == "class":
        origin = _origin(obj)
        if origin is not None and origin.split(".")[0] != "gbfocal":
            return True
    return None


# ----------------------------------------------------------- private modules' notes
# Functions and constants of private modules that public docstrings refer to: documented on
# the internals page under their module, so that those references resolve.
INTERNAL_MEMBERS: dict[str, list[str]] = {
    "gbfocal._focal": ["autofunction:: gbfocal._focal.multioutput_focal_loss",
                       "autofunction:: gbfocal._focal.multioutput_focal_grad_hess"],
    "gbfocal._model_check": ["autodata:: gbfocal._model_check.MAX_NESTING"],
    "gbfocal.tuning._workers": ["autodata:: gbfocal.tuning._workers.IDLE_SECONDS"],
    "gbfocal.tuning._compare": ["autodata:: gbfocal.tuning._compare.CONFIDENCE"],
}


def private_modules() -> list[str]:
    """Every module of the package whose name has a private part, and the command line, in
    the order of the layout table (``docs/design/layout.md``, bottom to top); any the table
    lacks at the end."""
    import pkgutil

    import gbfocal

    names = [info.name for info in pkgutil.walk_packages(gbfocal.__path__, "gbfocal.")
             if info.name != "gbfocal.__main__"
             and (info.name == "gbfocal.cli"
                  or any(part.startswith("_") for part in info.name.split(".")))]
    table = (DOCS / "design" / "layout.md").read_text(encoding="utf-8")
    order = [path.removesuffix(".py").replace("/", ".")
             for path in re.findall(r"^\| `(gbfocal/[\w/]+\.py)`", table, re.MULTILINE)]
    rank = {name: i for i, name in enumerate(order)}
    return sorted(names, key=lambda name: (rank.get(name, len(rank)), name))


class Internals(SphinxDirective):
    """``.. gbfocal-internals::``: one section per private module with its docstring as the
    developer wrote it (plain text, not reStructuredText: these docstrings are notes for
    whoever changes the module) under a ``py:module`` target for cross-references."""

    def run(self) -> list[nodes.Node]:
        self.env.note_dependency(str(DOCS / "design" / "layout.md"))
        lines: list[str] = []
        for name in private_modules():
            module = importlib.import_module(name)
            if module.__file__:
                self.env.note_dependency(module.__file__)
            text = inspect.getdoc(module) or "(no module docstring)"
            title = f"``{name}``"
            lines += [title, "-" * len(title), "", f".. py:module:: {name}",
                      "   :no-index-entry:", "", ".. code-block:: text", ""]
            lines += [f"   {line}" if line else "" for line in text.splitlines()]
            lines.append("")
            for member in INTERNAL_MEMBERS.get(name, []):
                lines += [f".. {member}", ""]
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source="gbfocal-internals"),
                                 container)
        return list(container.children)


# --------------------------------------------------------------------- API coverage
def check_api_coverage(app: Sphinx, env: BuildEnvironment) -> None:
    documented = _documented_objects(env)
    names = {name for name, *_ in env.get_domain("py").get_objects()}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            if name.startswith("__"):
                continue  # __version__: shown on the page, not an object to document
            obj = getattr(module, name)
            if f"{module_name}.{name}" in names or id(obj) in documented:
                continue
            logger.warning("the API reference does not document %s.%s (in %s.__all__)",
                           module_name, name, module_name, type="gbfocal", subtype="api")


def setup(app: Sphinx) -> dict[str, Any]:
    allow_sys_exit()
    app.connect("config-inited", prepare_gallery, priority=100)
    app.connect("builder-inited", generate_tables, priority=100)
    app.connect("env-updated", reset_alias_cache, priority=100)
    app.connect("env-check-consistency", check_api_coverage)
    app.connect("missing-reference", resolve_alias)
    app.connect("autodoc-skip-member", skip_foreign_members)
    app.connect("autodoc-process-docstring", prepare_docstring, priority=100)
    app.connect("autodoc-process-bases", public_bases)
    app.add_directive("gbfocal-internals", Internals)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

