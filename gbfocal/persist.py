"""Saving and loading fitted estimators: one JSON file, no pickle.

``save_model(estimator, path)`` writes one JSON document holding the library's own model
format (LightGBM's text model, XGBoost's JSON model) next to what gbfocal needs around it:
the estimator class and its parameters, ``classes_`` (with their dtype), the feature names,
the loss (its validated parameters and the fitted ``alpha_``), ``init_score_`` and
``best_iteration_``, and a SHA-256 digest of all that. ``load_model(path)`` rebuilds an
estimator whose ``predict_proba``, ``predict`` and ``decision_function`` equal the saved
one's, in any process, with no pickle and no code execution.

Loading checks the file before any library parses it: its size (:data:`MAX_FILE_BYTES`)
and JSON nesting (:data:`gbfocal._model_check.MAX_NESTING`), the digest (which catches
accidental damage and naive edits; anyone can recompute it, so it is not a signature),
every field against every other (classes against the boosters' outputs, the loss against
the parameters, ``best_iteration`` against the rounds, ...) and the trees of the native
models (:mod:`gbfocal._model_check`: LightGBM's and XGBoost's parsers are not memory-safe
on edited models). Anything wrong is a ``ValueError`` naming the file and the field.

The embedded native model of ``FocalLGBMClassifier`` / ``FocalXGBClassifier`` is
self-contained (they fold the initial score into it), so
``lgb.Booster(model_str=doc["boosters"][0]["model"])`` or XGBoost's ``load_model`` of it alone
gives the margins; their probabilities are then ``gbfocal.focal_posterior(margin,
alpha=doc["loss"]["alpha_"], gamma=doc["loss"]["gamma"])``. The multi-output estimator adds
``doc["init_score"]`` (per aspect) to its boosters' margins.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import numbers
import os
import secrets
from pathlib import Path
from typing import Any

import numpy as np

from . import _model_check
from ._model_check import BoosterShape
from ._optional import import_optional
from ._spec import FocalSpec
from .losses import (
    BinaryFocalLoss,
    FocalLoss,
    MulticlassFocalLoss,
    MultiLabelFocalLoss,
    MultiOutputFocalLoss,
)

__all__ = ["FORMAT", "MAX_FILE_BYTES", "load_model", "load_model_with_metadata", "save_model"]

#: The ``"format"`` field of a saved model and its version.
FORMAT = "gbfocal-model"
#: Largest model file :func:`load_model` reads (2 GiB); a larger file is refused before
#: it is read.
MAX_FILE_BYTES = 2 * 1024**3
# Version 2 added the "sha256" digest; version 1 files (gbfocal before it) load only with
# load_model(path, legacy=True).
_VERSION = 2
_LEGACY_VERSION = 1
_DIGEST = "sha256"
_ESTIMATORS = ("FocalLGBMClassifier", "FocalXGBClassifier", "FocalMultiOutputClassifier",
               "FocalMultiLabelClassifier")
# estimators with one booster per output (a list boosters_) and n_outputs_
_MULTI = ("FocalMultiOutputClassifier", "FocalMultiLabelClassifier")
_FIELDS = ("format", "version", "gbfocal_version", "estimator", "params", "params_not_saved",
           "classes", "classes_dtype", "classes_per_output", "n_features_in",
           "feature_names_in", "loss", "init_score", "best_iteration", "boosters")
# the caller's own JSON fields (save_model(metadata=...)): optional, covered by the digest
_METADATA = "metadata"
# the loss fields that repeat an estimator parameter
_LOSS_PARAMS = ("alpha", "gamma", "gamma_neg", "clip", "hessian")
# dtype kinds of classes_ (LabelEncoder / np.unique of labels): bool, integers, floats,
# strings, Python objects (strings or numbers)
_CLASS_KINDS = "biufUO"
# what the label strings of classes_ may take in memory (a dtype such as "<U999999999"
# would allocate gigabytes)
_MAX_CLASSES_BYTES = 1 << 26
# the prefix of the temporary file save_model writes next to the target
_TMP_PREFIX = ".gbfocal-"


class _Invalid(ValueError):
    """A field of the document is wrong (load_model adds the file name)."""


# ------------------------------------------------------------------ JSON values
def _jsonable(value: Any) -> Any:
    """A JSON value for a parameter or label; raises TypeError for anything else."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _params(estimator: Any) -> tuple[dict[str, Any], list[str]]:
    """``get_params()`` as JSON, and the names that cannot be saved (set to default on load).

    A RandomState or a callable metric has no JSON form; neither affects predictions.
    """
    saved, skipped = {}, []
    for name, value in estimator.get_params(deep=False).items():
        try:
            saved[name] = _jsonable(value)
        except TypeError:
            skipped.append(name)
    return saved, skipped


def _digest(document: dict[str, Any]) -> str:
    """SHA-256 of the document's canonical JSON, the digest field itself left out."""
    body = {key: value for key, value in document.items() if key != _DIGEST}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# ------------------------------------------------------------------ boosters
def _booster_document(booster: Any) -> dict[str, Any]:
    if type(booster).__module__.startswith("lightgbm"):
        return {"library": "lightgbm", "format": "text", "model": booster.model_to_string()}
    raw = booster.save_raw(raw_format="json")
    return {"library": "xgboost", "format": "json", "model": bytes(raw).decode("utf-8")}


def _check_booster(document: Any, index: int, library: str) -> BoosterShape:
    """The native model's fields and trees (before any library parses it)."""
    where = f"boosters[{index}]"
    if not isinstance(document, dict) or set(document) != {"library", "format", "model"}:
        raise _Invalid(f"{where} must be an object with 'library', 'format' and 'model', got "
                       f"{_show(document)}")
    expected_format = "text" if library == "lightgbm" else "json"
    if document["library"] != library or document["format"] != expected_format:
        raise _Invalid(f"{where} is a {document['library']!r} model in {document['format']!r} "
                       f"format; this estimator needs a {library!r} model in "
                       f"{expected_format!r} format")
    if not isinstance(document["model"], str):
        raise _Invalid(f"{where}.model must be a string, got {_show(document['model'])}")
    try:
        if library == "lightgbm":
            return _model_check.check_lightgbm_model(document["model"])
        return _model_check.check_xgboost_model(document["model"])
    except (ValueError, RecursionError) as exc:
        raise _Invalid(f"{where}.model: {exc}") from exc


def _load_booster(document: dict[str, Any], index: int) -> Any:
    """The library's booster of a checked native model."""
    library = document["library"]
    module = import_optional(library, needed_by=f"loading a {library} gbfocal model")
    try:
        if library == "lightgbm":
            return module.Booster(model_str=document["model"])
        booster = module.Booster()
        booster.load_model(bytearray(document["model"].encode("utf-8")))
        return booster
    except Exception as exc:  # the library's own error type, whatever it is
        # the first line: XGBoost appends a stack trace, the CLI prints one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _Invalid(f"boosters[{index}]: {library} refused the model: {first}") from exc


# ------------------------------------------------------------------ the loss
def _loss_document(loss: FocalLoss) -> dict[str, Any]:
    spec = loss.spec
    if isinstance(loss, MultiLabelFocalLoss):
        return {"kind": "multilabel", "n_labels": loss.n_labels, "alpha": _jsonable(loss.alpha),
                "gamma": spec.gamma, "gamma_neg": spec.gamma_neg, "clip": spec.clip,
                "hessian": spec.hessian, "ignore_label": loss.ignore_label,
                "alpha_": _jsonable(loss.alpha_) if hasattr(loss, "alpha_") else None}
    document: dict[str, Any] = {
        "kind": "multioutput" if isinstance(loss, MultiOutputFocalLoss)
        else "binary" if spec.binary else "multiclass",
        "n_classes": spec.n_classes,
        "alpha": _jsonable(spec.given_alpha),
        "gamma": spec.gamma,
        "gamma_neg": spec.gamma_neg,
        "clip": spec.clip,
        "hessian": spec.hessian,
        "alpha_": _jsonable(loss.alpha_) if hasattr(loss, "alpha_") else None,
    }
    if isinstance(loss, MultiOutputFocalLoss):
        document.update(n_outputs=loss.n_outputs, ignore_label=loss.ignore_label)
    return document


def _load_loss(document: dict[str, Any]) -> FocalLoss:
    kind = document["kind"]
    if kind == "multilabel":
        alpha = document["alpha"]
        multilabel = MultiLabelFocalLoss(
            document["n_labels"], alpha=tuple(alpha) if isinstance(alpha, list) and alpha
            and isinstance(alpha[0], str) else alpha, gamma=document["gamma"],
            hessian=document["hessian"], ignore_label=document["ignore_label"],
            gamma_neg=document.get("gamma_neg"), clip=document.get("clip", 0.0))
        if document.get("alpha_") is not None:
            multilabel.restore_alpha(document["alpha_"])
        return multilabel
    spec = FocalSpec.create(alpha=document["alpha"], gamma=document["gamma"],
                            hessian=document["hessian"], n_classes=document["n_classes"],
                            binary=kind == "binary", gamma_neg=document.get("gamma_neg"),
                            clip=document.get("clip", 0.0))
    loss: FocalLoss
    if kind == "multioutput":
        loss = MultiOutputFocalLoss.from_spec(spec, n_outputs=document["n_outputs"],
                                              ignore_label=document["ignore_label"])
    else:
        loss = (BinaryFocalLoss if kind == "binary" else MulticlassFocalLoss).from_spec(spec)
    if document.get("alpha_") is not None:
        loss.restore_alpha(document["alpha_"])
    return loss


def _fitted_loss(estimator: Any, name: str, n_classes: int, n_outputs: int) -> FocalLoss:
    """The loss ``fit`` builds from the estimator's parameters (before resolving alpha_).

    The multi-output and multi-label estimators train with the losses' default
    ``ignore_label`` (-1).
    """
    if name == "FocalMultiLabelClassifier":
        return MultiLabelFocalLoss(n_outputs, alpha=estimator.alpha, gamma=estimator.gamma,
                                   hessian=estimator.hessian, gamma_neg=estimator.gamma_neg,
                                   clip=estimator.clip)
    if name == "FocalMultiOutputClassifier":
        spec = estimator._focal_spec(n_classes, binary=False)
        return MultiOutputFocalLoss.from_spec(spec, n_outputs=n_outputs)
    spec = estimator._focal_spec(n_classes, binary=n_classes == 2)
    return (BinaryFocalLoss if n_classes == 2 else MulticlassFocalLoss).from_spec(spec)


def _check_loss(saved: Any, expected: FocalLoss, not_saved: list[str], version: int) -> None:
    """Every field of the saved loss against the loss the parameters give."""
    reference = _loss_document(expected)
    if not isinstance(saved, dict):
        raise _Invalid(f"loss must be an object, got {_show(saved)}")
    # absent from the format-1 files of gbfocal before the asymmetric loss
    legacy_defaults = {"gamma_neg": None, "clip": 0.0} if version == _LEGACY_VERSION else {}
    unknown = set(saved) - set(reference)
    if unknown:
        raise _Invalid(f"loss has unknown fields {sorted(unknown)}")
    for key, value in reference.items():
        if key == "alpha_" or key in not_saved:
            continue
        if key not in saved and key not in legacy_defaults:
            raise _Invalid(f"loss has no {key!r}")
        got = saved.get(key, legacy_defaults.get(key))
        if got != value or type(got) is not type(value) and not (
                isinstance(got, numbers.Real) and isinstance(value, numbers.Real)
                and not isinstance(got, bool) and not isinstance(value, bool)):
            source = ("the parameters give" if key in _LOSS_PARAMS
                      else "fit uses" if key == "ignore_label" else "the classes and outputs give")
            raise _Invalid(f"loss.{key} is {_show(got)} but {source} {_show(value)}")


def _check_alpha(saved: Any, loss: FocalLoss) -> np.ndarray:
    """The fitted class weights: shape, finite, and what the loss resolves where it can."""
    shape = (loss.n_labels, 2) if isinstance(loss, MultiLabelFocalLoss) else (loss.n_classes,)
    try:
        alpha = np.asarray(saved, dtype=np.float64) if _all_numbers(saved) else None
    except ValueError:  # ragged lists
        alpha = None
    if alpha is None or alpha.shape != shape or not np.isfinite(alpha).all() or (
            alpha < 0).any():
        raise _Invalid(f"loss.alpha_ must be {shape} finite weights >= 0, got {_show(saved)}")
    spec = loss.spec
    if isinstance(loss, MultiLabelFocalLoss) and loss._label_alpha is not None:
        a = np.asarray(loss._label_alpha)
        expected = np.column_stack([1.0 - a, a])
    elif not spec.needs_labels:
        weights = spec.class_weights()
        expected = np.ones(shape) if weights is None else np.broadcast_to(weights, shape)
    else:
        # resolved from the training labels: "balanced" weights n / (K n_c) still satisfy
        # sum_c 1 / alpha_c = K (per label for the multi-label loss)
        if (alpha <= 0).any():
            raise _Invalid(f"loss.alpha_ resolved from labels must be > 0, got {_show(saved)}")
        if spec.alpha == "balanced":
            k = alpha.shape[-1]
            total = np.sum(1.0 / alpha, axis=-1)
            if not np.allclose(total, k, rtol=1e-9, atol=0.0):
                raise _Invalid(f"loss.alpha_ {_show(saved)} are not 'balanced' weights "
                               f"(their inverses sum to {_show(total.tolist())}, not {k})")
        return alpha
    if not np.array_equal(alpha, expected):
        raise _Invalid(f"loss.alpha_ is {_show(saved)} but alpha={_show(loss.alpha)} gives "
                       f"{_show(np.asarray(expected).tolist())}")
    return alpha


def _all_numbers(value: Any) -> bool:
    """True for a number or (nested) lists of numbers, bools excluded."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, bool) or not isinstance(item, (int, float)):
            return False
    return True


# ------------------------------------------------------------------ document fields
def _field(document: dict[str, Any], key: str, kind: type | tuple[type, ...],
           what: str) -> Any:
    value = document[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise _Invalid(f"{key} must be {what}, got {_show(value)}")
    return value


def _count(document: dict[str, Any], key: str) -> int:
    value = _field(document, key, int, "an integer >= 1")
    if value < 1:
        raise _Invalid(f"{key} must be an integer >= 1, got {value!r}")
    return int(value)


def _classes(values: Any, dtype_text: Any, where: str) -> np.ndarray:
    """``classes_`` as saved: one value per class, distinct and sorted (as np.unique gives)."""
    try:
        dtype = np.dtype(dtype_text) if isinstance(dtype_text, str) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in _CLASS_KINDS or dtype.fields is not None:
        raise _Invalid(f"classes_dtype must be a NumPy dtype of kind {_CLASS_KINDS!r}, got "
                       f"{_show(dtype_text)}")
    if not isinstance(values, list) or len(values) < 2:
        raise _Invalid(f"{where} must be a list of at least 2 labels, got {_show(values)}")
    kinds = {type(v) for v in values}
    allowed: dict[str, set[type]] = {"b": {bool}, "i": {int}, "u": {int}, "f": {int, float},
                                     "U": {str}}
    if dtype.kind in allowed:
        ok = kinds <= allowed[dtype.kind]
    else:  # object: labels of one type
        ok = kinds in ({str}, {bool}) or kinds <= {int, float}
    if not ok:
        raise _Invalid(f"{where} {_show(values)} do not match classes_dtype {dtype.str!r}")
    if dtype.itemsize * len(values) > _MAX_CLASSES_BYTES:
        raise _Invalid(f"classes_dtype {dtype.str!r} is too large for {len(values)} classes")
    try:
        array = np.asarray(values, dtype=dtype)
        same = array.tolist() == values
        unique = np.unique(array)
    except (TypeError, ValueError, OverflowError) as exc:
        raise _Invalid(f"{where} {_show(values)} are not {dtype.str!r} labels: {exc}") from exc
    if not same:
        raise _Invalid(f"{where} {_show(values)} change when stored as {dtype.str!r}")
    if dtype.kind == "f" and not np.isfinite(array).all():
        raise _Invalid(f"{where} holds a label that is not finite: {_show(values)}")
    if unique.shape != array.shape or not (unique == array).all():
        # predict maps the booster's class k to classes_[k]: classes_ must be the sorted,
        # distinct labels fit saw (np.unique), or every label would be flipped
        raise _Invalid(f"{where} {_show(values)} must be distinct and sorted")
    return array


def _numbers(value: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
    """Finite numbers of the given shape (from JSON)."""
    try:
        array = np.asarray(value, dtype=np.float64) if _all_numbers(value) else None
    except ValueError:  # ragged lists
        array = None
    if array is None or array.shape != shape or not np.isfinite(array).all():
        raise _Invalid(f"{where} must be finite numbers of shape {shape}, got {_show(value)}")
    return array


def _rounds(value: Any, high: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise _Invalid(f"{where} must be an integer in [1, {high}] (the booster's rounds), got "
                       f"{_show(value)}")
    return value


# ------------------------------------------------------------------ save / load
def save_model(estimator: Any, path: str | os.PathLike[str], *, overwrite: bool = False,
               metadata: dict[str, Any] | None = None) -> Path:
    """Save a fitted gbfocal estimator as one JSON file.

    Parameters
    ----------
    estimator : FocalLGBMClassifier, FocalXGBClassifier, FocalMultiOutputClassifier or \
FocalMultiLabelClassifier
        A fitted estimator.
    path : str or path-like
        The file to write (conventionally ``*.json``).
    overwrite : bool, default=False
        Replace an existing file; otherwise an existing ``path`` raises FileExistsError
        (also when it appears while the model is being written).
    metadata : dict, optional
        Your own fields, saved with the model under ``"metadata"`` and covered by its
        digest: a JSON object (str keys; str, number, bool, None, list and dict values,
        NumPy scalars and arrays converted), e.g. the decision threshold ``gbfocal
        train --threshold-metric`` chose. The estimator does not read them (its
        ``predict`` stays the argmax of ``predict_proba``); :func:`load_model_with_metadata`
        returns them.

    Returns
    -------
    path : Path
        The file written.

    Notes
    -----
    Parameters without a JSON form (a ``RandomState`` as ``random_state``, a callable
    ``eval_metric``) do not affect predictions; they are listed under
    ``"params_not_saved"`` and take their defaults when loaded.

    The file is written to a new temporary file in the same folder (created exclusively,
    so nothing planted there is followed or overwritten), flushed to disk and then moved
    onto ``path`` in one step: a reader sees the old file or the new one, never a part, and
    a failed or interrupted save leaves the old file as it was and no temporary file.
    """
    from sklearn.utils.validation import check_is_fitted

    name = type(estimator).__name__
    if name not in _ESTIMATORS:
        raise TypeError(f"save_model saves gbfocal estimators {_ESTIMATORS}, got {name}")
    check_is_fitted(estimator)
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict of JSON values or None, got "
                        f"{type(metadata).__name__}")
    target = Path(path)
    if target.exists() and not overwrite:  # early; _write checks again when it links
        raise FileExistsError(f"{target} exists: pass overwrite=True to replace it")
    from . import __version__

    params, skipped = _params(estimator)
    boosters = estimator.boosters_ if name in _MULTI else [estimator.booster_]
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": _VERSION,
        "gbfocal_version": __version__,
        "estimator": name,
        "params": params,
        "params_not_saved": skipped,
        "classes": _jsonable(estimator.classes_),
        "classes_dtype": (estimator.classes_[0] if isinstance(estimator.classes_, list)
                          else estimator.classes_).dtype.str,
        "classes_per_output": isinstance(estimator.classes_, list),
        "n_features_in": int(estimator.n_features_in_),
        "feature_names_in": _jsonable(getattr(estimator, "feature_names_in_", None)),
        "loss": _loss_document(estimator.loss_),
        "init_score": _jsonable(estimator.init_score_),
        "best_iteration": _jsonable(getattr(estimator, "best_iteration_", None)),
        "boosters": [_booster_document(b) for b in boosters],
    }
    if name in _MULTI:
        document["n_outputs"] = int(estimator.n_outputs_)
    if metadata is not None:
        try:
            document[_METADATA] = _jsonable(metadata)
            json.dumps(document[_METADATA], allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"metadata must hold JSON values (finite numbers): {exc}") from exc
    document[_DIGEST] = _digest(document)
    _write(target, json.dumps(document, allow_nan=False).encode("utf-8"), overwrite=overwrite)
    return target


def _write(target: Path, data: bytes, *, overwrite: bool) -> None:
    """Write ``data`` to ``target`` through a new temporary file in its folder.

    The temporary file is created exclusively (``O_EXCL``: a link planted at a predictable
    name is never followed) with the permissions a plain ``open`` gives (``mkstemp`` would
    make it 0600), and removed on any failure, KeyboardInterrupt included.
    """
    folder = target.parent
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = folder / f"{_TMP_PREFIX}{target.name}.{secrets.token_hex(8)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 collisions of 64 random bits
        raise FileExistsError(f"cannot create a temporary file next to {target}")
    try:
        with open(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            _move_exclusive(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _sync_folder(folder)


def _move_exclusive(tmp: Path, target: Path) -> None:
    """Move ``tmp`` to ``target`` unless ``target`` exists, with no window between the two.

    A hard link fails if ``target`` exists; where the file system has no hard links, an
    exclusively created placeholder reserves the name before the replace.
    """
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise FileExistsError(f"{target} exists: pass overwrite=True to replace it") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV,
                             errno.ENOSYS, errno.EMLINK):
            raise
        try:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            raise FileExistsError(f"{target} exists: pass overwrite=True to replace it") \
                from None
        try:
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                target.unlink()  # our empty placeholder
            raise
        return
    tmp.unlink()


def _sync_folder(folder: Path) -> None:
    """fsync the folder, so the rename survives a crash (not possible on every system)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _read(path: str | os.PathLike[str]) -> str:
    """The file's text; files above MAX_FILE_BYTES are refused before they are read."""
    file = Path(path)
    size = file.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{path} is {size} bytes, more than a gbfocal model file may have "
                         f"(gbfocal.persist.MAX_FILE_BYTES = {MAX_FILE_BYTES})")
    with open(file, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)  # the file may have grown since stat
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"{path} is more than MAX_FILE_BYTES = {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not a gbfocal model file (not UTF-8 text: {exc})") from exc


def load_model(path: str | os.PathLike[str], *, legacy: bool = False) -> Any:
    """Load an estimator saved by :func:`save_model` (no pickle, no code execution).

    The estimator of :func:`load_model_with_metadata`, which also returns the file's
    ``metadata``.

    Parameters
    ----------
    path : str or path-like
        The model file.
    legacy : bool, default=False
        Also load a format-1 file (saved by gbfocal before files carried a SHA-256 digest):
        such a file cannot be checked for accidental damage, so it is refused unless you
        trust where it comes from. All other checks still run; save it again to add the
        digest.

    Returns
    -------
    estimator : FocalLGBMClassifier, FocalXGBClassifier, FocalMultiOutputClassifier or \
FocalMultiLabelClassifier
        Fitted, with the same ``predict_proba`` / ``predict`` / ``decision_function``.

    Raises
    ------
    ValueError
        Naming the file, if it is larger than :data:`MAX_FILE_BYTES`, not a gbfocal model
        file, edited or damaged (its digest does not match), or if any field contradicts
        another or a native model is malformed. Checked before LightGBM or XGBoost parses
        anything.
    """
    return load_model_with_metadata(path, legacy=legacy)[0]


def load_model_with_metadata(path: str | os.PathLike[str], *,
                             legacy: bool = False) -> tuple[Any, dict[str, Any]]:
    """:func:`load_model`, and the ``metadata`` saved with the model.

    Returns
    -------
    estimator : FocalLGBMClassifier, FocalXGBClassifier, FocalMultiOutputClassifier or \
FocalMultiLabelClassifier
        As :func:`load_model` returns it (every check of :func:`load_model` runs).
    metadata : dict
        The ``metadata`` given to :func:`save_model` (covered by the file's digest), or
        ``{}`` when none was.
    """
    text = _read(path)
    try:
        document = _model_check.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{path} is not a gbfocal model file (not JSON: {exc})") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{path} is not a gbfocal model file (no 'format': {FORMAT!r})")
    version = document.get("version")
    if isinstance(version, bool) or version not in (_VERSION, _LEGACY_VERSION):
        raise ValueError(
            f"{path} has format version {_show(version)}; this gbfocal reads versions "
            f"{_LEGACY_VERSION} and {_VERSION}"
        )
    missing = [key for key in _FIELDS if key not in document]
    if document.get("estimator") in _MULTI and "n_outputs" not in document:
        missing.append("n_outputs")
    if missing:
        raise ValueError(f"{path} is not a complete gbfocal model file (it lacks {missing})")
    if version == _LEGACY_VERSION and not legacy:
        raise ValueError(
            f"{path} is a format-{_LEGACY_VERSION} gbfocal model file, saved before model "
            "files carried a sha256 digest, so damage to it cannot be detected. If you trust "
            "its source, load it with gbfocal.load_model(path, legacy=True) (the other checks "
            "still run) and save it again"
        )
    if version == _VERSION:
        saved = document.get(_DIGEST)
        if not isinstance(saved, str):
            raise ValueError(f"{path} is not a complete gbfocal model file: it has no "
                             f"{_DIGEST!r} digest (edited or damaged)")
        if saved != _digest(document):
            raise ValueError(
                f"{path} was edited or damaged: its content does not match the sha256 digest "
                "saved with it"
            )
    try:
        estimator = _build(document, version)
    except (_Invalid, ValueError, TypeError, KeyError, IndexError, AttributeError,
            RecursionError, OverflowError) as exc:
        detail = str(exc) if isinstance(exc, _Invalid) else f"{type(exc).__name__}: {exc}"
        detail = " ".join(detail.splitlines())  # one line (the CLI prints it as one)
        raise ValueError(f"{path} is not a valid gbfocal model file: {detail}") from exc
    return estimator, dict(document.get(_METADATA) or {})


def _build(document: dict[str, Any], version: int) -> Any:
    """The estimator of a document whose format, version and digest were checked."""
    name = document.get("estimator")
    if not isinstance(name, str) or name not in _ESTIMATORS:
        raise _Invalid(f"estimator {_show(name)} is not one of {_ESTIMATORS}")
    multi = name in _MULTI
    expected_fields = set(_FIELDS) | ({"n_outputs"} if multi else set()) | (
        {_DIGEST} if version == _VERSION else set()) | ({_METADATA} & set(document))
    missing, unknown = expected_fields - set(document), set(document) - expected_fields
    if missing or unknown:
        raise _Invalid(f"the {name} document lacks {sorted(missing)} and has unknown fields "
                       f"{sorted(unknown)}")
    _field(document, "gbfocal_version", str, "a string")
    if _METADATA in document:
        _field(document, _METADATA, dict, "an object of the caller's fields")
    from ._registry import estimator_class  # the estimators sit above this module

    cls = estimator_class(name)
    estimator = _estimator(cls, document)
    n_features = _count(document, "n_features_in")
    names = document["feature_names_in"]
    if names is not None and (
            not isinstance(names, list) or len(names) != n_features
            or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names)):
        raise _Invalid(f"feature_names_in must be null or {n_features} distinct strings (one "
                       f"per feature, n_features_in), got {_show(names)}")
    per_output = _field(document, "classes_per_output", bool, "true or false")
    n_outputs = _count(document, "n_outputs") if multi else 1
    if per_output != (name == "FocalMultiLabelClassifier"):
        raise _Invalid(f"classes_per_output is {per_output} for a {name}")
    classes: Any
    if per_output:
        values = document["classes"]
        if not isinstance(values, list) or len(values) != n_outputs or any(
                c != [0, 1] for c in values):
            raise _Invalid(f"classes must be [0, 1] for each of the {n_outputs} labels, got "
                           f"{_show(values)}")
        if document["classes_dtype"] != np.dtype(np.int64).str:
            raise _Invalid(f"classes_dtype must be {np.dtype(np.int64).str!r} for 0/1 labels, "
                           f"got {_show(document['classes_dtype'])}")
        classes = [np.array([0, 1]) for _ in range(n_outputs)]
        n_classes = 2
    else:
        classes = _classes(document["classes"], document["classes_dtype"], "classes")
        n_classes = len(classes)
    not_saved = document["params_not_saved"]
    try:
        expected_loss = _fitted_loss(estimator, name, n_classes, n_outputs)
    except (TypeError, ValueError) as exc:
        raise _Invalid(f"params: {exc}") from exc
    _check_loss(document["loss"], expected_loss, not_saved, version)
    # the loss as saved (equal to the parameters' where they were saved), then its
    # fitted weights, checked before they are set
    loss = _load_loss({k: v for k, v in document["loss"].items() if k != "alpha_"})
    alpha = _check_alpha(document["loss"].get("alpha_"), loss)
    init = _init_score(document["init_score"], name, n_classes, n_outputs)
    library = estimator.backend if multi else (
        "lightgbm" if name == "FocalLGBMClassifier" else "xgboost")
    boosters_doc = _field(document, "boosters", list, "a list of boosters")
    n_boosters = n_outputs if multi and library == "lightgbm" else 1
    if len(boosters_doc) != n_boosters:
        raise _Invalid(f"a {name} ({library}) has {n_boosters} booster(s), the file lists "
                       f"{len(boosters_doc)}")
    shapes = [_check_booster(b, i, library) for i, b in enumerate(boosters_doc)]
    _check_shapes(shapes, name, n_classes, n_outputs, n_features, init)
    best = _best_iteration(document["best_iteration"], name, library, shapes, n_outputs)

    # every field checked: build the estimator as fit leaves it
    estimator.classes_ = classes
    estimator.n_features_in_ = n_features
    if names is not None:
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    loss.restore_alpha(alpha)  # the objectives keep alpha_ (as after fit)
    estimator.loss_ = loss
    estimator.init_score_ = init
    boosters = [_load_booster(b, i) for i, b in enumerate(boosters_doc)]
    if multi:
        estimator.n_outputs_ = n_outputs
        estimator.alpha_ = estimator.loss_.alpha_
        estimator.boosters_ = boosters
        if best is not None:
            estimator.best_iteration_ = best
    else:
        estimator.n_classes_ = n_classes
        estimator.booster_ = boosters[0]
        estimator.best_iteration_ = best
    importances = getattr(estimator, "_feature_importances", None)
    computed = isinstance(getattr(type(estimator), "feature_importances_", None), property)
    if callable(importances) and not computed:  # derived from the booster, as in fit
        estimator.feature_importances_ = importances()
    return estimator


def _estimator(cls: type, document: dict[str, Any]) -> Any:
    """The estimator of the saved parameters, validated as ``fit`` validates them."""
    params = _field(document, "params", dict, "an object of parameters")
    not_saved = _field(document, "params_not_saved", list, "a list of parameter names")
    known = cls().get_params(deep=False)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise _Invalid(f"params: {cls.__name__} has no parameters {unknown}")
    if not all(isinstance(n, str) and n in known and n not in params for n in not_saved):
        raise _Invalid(f"params_not_saved must name parameters of {cls.__name__} absent from "
                       f"params, got {_show(not_saved)}")
    estimator = cls(**params)
    try:
        estimator._validate_params()
        check_extra = getattr(estimator, "_check_extra_params", None)
        if callable(check_extra):  # the booster estimators' native-parameter checks
            check_extra()
    except (TypeError, ValueError) as exc:
        raise _Invalid(f"params: {exc}") from exc
    return estimator


def _init_score(value: Any, name: str, n_classes: int, n_outputs: int) -> Any:
    """``init_score_`` as fit stores it: finite, of the estimator's shape."""
    if name == "FocalMultiOutputClassifier":
        return _numbers(value, (n_outputs, n_classes), "init_score")
    if name == "FocalMultiLabelClassifier":
        return _numbers(value, (n_outputs,), "init_score")
    if value is None:  # boosting continued from a library model: gbfocal cannot know it
        return None
    if n_classes == 2:
        return float(_numbers(value, (), "init_score"))
    return _numbers(value, (n_classes,), "init_score")


def _check_shapes(shapes: list[BoosterShape], name: str, n_classes: int, n_outputs: int,
                  n_features: int, init: Any) -> None:
    """Each native model against the classes, outputs, features and initial score."""
    from scipy.special import expit

    for i, shape in enumerate(shapes):
        where = f"boosters[{i}].model"
        if shape.n_features != n_features:
            raise _Invalid(f"{where} takes {shape.n_features} features but n_features_in is "
                           f"{n_features}")
        if shape.library == "lightgbm":
            expected = {"FocalMultiOutputClassifier": n_classes,
                        "FocalMultiLabelClassifier": 1}.get(
                name, 1 if n_classes == 2 else n_classes)
            if shape.num_class != expected:
                raise _Invalid(f"{where} has num_class={shape.num_class}, but {name} with "
                               f"{n_classes} classes needs {expected}")
            continue
        base: tuple[float, ...] | None
        if name in _MULTI:
            width = n_outputs * n_classes if name == "FocalMultiOutputClassifier" else n_outputs
            objective, num_class, base = "reg:squarederror", 0, (0.0,) * width
        else:
            width = 1 if n_classes == 2 else n_classes
            objective = "binary:logistic" if n_classes == 2 else "multi:softprob"
            num_class = 0 if n_classes == 2 else n_classes
            base = None if init is None else tuple(
                np.atleast_1d(expit(init) if n_classes == 2 else init).tolist())
        if (shape.n_outputs, shape.num_class, shape.objective) != (width, num_class, objective):
            raise _Invalid(f"{where} has {shape.n_outputs} outputs (num_class="
                           f"{shape.num_class}, objective {shape.objective!r}), but {name} "
                           f"with {n_classes} classes needs {width} (num_class={num_class}, "
                           f"{objective!r})")
        if base is not None:
            # XGBoost keeps base_score (the initial score; a probability under
            # binary:logistic) in float32
            want = np.asarray(base, dtype=np.float32)
            got = np.asarray(shape.base_score, dtype=np.float32)
            if (np.abs(want.astype(np.float64) - got) > np.spacing(np.abs(want))).any():
                raise _Invalid(f"{where} has base_score {list(shape.base_score)}, but "
                               f"init_score gives {want.tolist()}")


def _best_iteration(value: Any, name: str, library: str, shapes: list[BoosterShape],
                    n_outputs: int) -> Any:
    """``best_iteration_`` within the boosters' rounds, in the layout fit stores."""
    if name not in _MULTI:
        return _rounds(value, shapes[0].n_rounds, "best_iteration")
    if value is None:
        return None
    if library == "xgboost" and name == "FocalMultiOutputClassifier":
        if isinstance(value, list) and len(value) == 1:
            return [_rounds(value[0], shapes[0].n_rounds, "best_iteration[0]")]
        return _rounds(value, shapes[0].n_rounds, "best_iteration")
    count = len(shapes) if library == "lightgbm" else n_outputs
    if not isinstance(value, list) or len(value) != count:
        raise _Invalid(f"best_iteration must be null or a list of {count} rounds, got "
                       f"{_show(value)}")
    rounds = [_rounds(v, shapes[i if library == "lightgbm" else 0].n_rounds,
                      f"best_iteration[{i}]") for i, v in enumerate(value)]
    if library == "xgboost" and len(set(rounds)) > 1:
        raise _Invalid(f"best_iteration must be one round for the one XGBoost booster, got "
                       f"{_show(value)}")
    return rounds

