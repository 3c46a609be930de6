"""The commands' models: the booster library, the estimator class, the model file.

``tune --model`` and ``train`` save one model file (:func:`gbfocal.persist.save_model`, all
or nothing through :func:`~gbfocal.cli._files.write_file`) with what ``predict`` needs
besides the model (:func:`model_metadata`: the scored class, how it was chosen, the
decision threshold); ``predict`` loads it back (:func:`load_model_file`). The estimator
classes come from :mod:`gbfocal._registry`, never from the package's lazy exports; a
missing booster library is its install hint in the command line's words. Separate because
saving and loading must agree on the metadata, and tune, train and predict all use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._optional import import_optional
from ._files import write_file
from ._messages import CLIError, to_json

__all__ = ["THRESHOLD", "estimator_class", "load_model_file", "model_metadata",
           "require_backend", "save_model_file"]

# the decision threshold's key in the model file's metadata and the tune JSON (and the
# column of predict that holds it)
THRESHOLD = "threshold"


def require_backend(backend: str) -> None:
    """The booster library, or the install hint in the command line's words."""
    try:
        import_optional(backend, needed_by=f"--backend {backend}")
    except ImportError as exc:
        raise CLIError(str(exc)) from exc


def estimator_class(backend: str) -> Any:
    """The estimator class of a booster library (:func:`gbfocal._registry.estimator_for`)."""
    from .._registry import estimator_for

    return estimator_for(backend)


def model_metadata(summary: dict[str, Any], command: str) -> dict[str, Any]:
    """What the model file keeps for ``gbfocal predict``: the scored class, how it was
    chosen, the decision threshold."""
    metadata: dict[str, Any] = {"written_by": command}
    if summary.get("pos_label") is not None:
        metadata["pos_label"] = summary["pos_label"]
        metadata["pos_label_source"] = summary.get("pos_label_source")
    if summary.get(THRESHOLD) is not None:
        metadata[THRESHOLD] = summary[THRESHOLD]
    return metadata


def save_model_file(estimator: Any, path: str, *, force: bool,
                    metadata: dict[str, Any] | None = None) -> None:
    """Save ``estimator`` with ``metadata`` to ``path``, all or nothing."""
    # save_model writes over the (empty) temporary file and write_file puts it in place: a
    # signal never leaves a cut model, and an existing file is never replaced without
    # --force, not even one that appeared after check_outputs
    write_file(path, lambda file_name: estimator.save_model(
        file_name, overwrite=True, metadata=to_json(metadata)), force=force)


def load_model_file(path: str) -> tuple[Any, dict[str, Any]]:
    """The model of a model file, and the metadata saved with it."""
    if not Path(path).is_file():
        raise CLIError(f"no such file: {path}")
    from ..persist import load_model_with_metadata

    try:
        model, metadata = load_model_with_metadata(path)
    except KeyError as exc:
        raise CLIError(f"{path} is not a complete gbfocal model file (no {exc})") from exc
    if hasattr(model, "n_outputs_"):
        raise CLIError(
            f"{path} holds a {type(model).__name__}: gbfocal predict handles single-target "
            "classifiers (FocalLGBMClassifier, FocalXGBClassifier)"
        )
    return model, metadata
