"""Saving and loading fitted estimators: one JSON file, no pickle.

``save_model(estimator, path)`` writes one JSON document holding the library's own model
format (LightGBM's text model, XGBoost's JSON model) next to what gbfocal needs around it:
the estimator class and its parameters, ``classes_`` (with their dtype), the feature names,
the loss (its validated parameters and the fitted ``alpha_``), ``init_score_`` and
``best_iteration_``. ``load_model(path)`` rebuilds an estimator whose ``predict_proba``,
``predict`` and ``decision_function`` equal the saved one's, in any process, with no
pickle and no code execution.

The embedded native model of ``FocalLGBMClassifier`` / ``FocalXGBClassifier`` is
self-contained (they fold the initial score into it), so
``lgb.Booster(model_str=doc["boosters"][0]["model"])`` or XGBoost's ``load_model`` of it alone
gives the margins; their probabilities are then ``gbfocal.focal_posterior(margin,
alpha=doc["loss"]["alpha_"], gamma=doc["loss"]["gamma"])``. The multi-output estimator adds
``doc["init_score"]`` (per aspect) to its boosters' margins.
"""

from __future__ import annotations

import json
import numbers
import os
from pathlib import Path
from typing import Any

import numpy as np

from ._optional import import_optional
from ._spec import FocalSpec
from .losses import (
    BinaryFocalLoss,
    FocalLoss,
    MulticlassFocalLoss,
    MultiLabelFocalLoss,
    MultiOutputFocalLoss,
)

__all__ = ["FORMAT", "load_model", "save_model"]

#: The ``"format"`` field of a saved model and its version.
FORMAT = "gbfocal-model"
_VERSION = 1
_ESTIMATORS = ("FocalLGBMClassifier", "FocalXGBClassifier", "FocalMultiOutputClassifier",
               "FocalMultiLabelClassifier")
# estimators with one booster per output (a list boosters_) and n_outputs_
_MULTI = ("FocalMultiOutputClassifier", "FocalMultiLabelClassifier")


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


def _array(values: Any, dtype: str) -> np.ndarray:
    return np.asarray(values, dtype=np.dtype(dtype))


# ------------------------------------------------------------------ boosters
def _booster_document(booster: Any) -> dict[str, Any]:
    if type(booster).__module__.startswith("lightgbm"):
        return {"library": "lightgbm", "format": "text", "model": booster.model_to_string()}
    raw = booster.save_raw(raw_format="json")
    return {"library": "xgboost", "format": "json", "model": bytes(raw).decode("utf-8")}


def _load_booster(document: dict[str, Any]) -> Any:
    library = document.get("library")
    if library == "lightgbm":
        lgb = import_optional("lightgbm", needed_by="loading a LightGBM gbfocal model")
        return lgb.Booster(model_str=document["model"])
    if library == "xgboost":
        xgb = import_optional("xgboost", needed_by="loading an XGBoost gbfocal model")
        booster = xgb.Booster()
        booster.load_model(bytearray(document["model"].encode("utf-8")))
        return booster
    raise ValueError(f"unknown booster library {library!r} in the saved model")


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
            multilabel.alpha_ = np.asarray(document["alpha_"], dtype=np.float64)
            multilabel._fitted_explicitly = True
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
        loss.alpha_ = np.asarray(document["alpha_"], dtype=np.float64)
        loss._fitted_explicitly = True
    return loss


# ------------------------------------------------------------------ save / load
def save_model(estimator: Any, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Save a fitted gbfocal estimator as one JSON file.

    Parameters
    ----------
    estimator : FocalLGBMClassifier, FocalXGBClassifier or FocalMultiOutputClassifier
        A fitted estimator.
    path : str or path-like
        The file to write (conventionally ``*.json``).
    overwrite : bool, default=False
        Replace an existing file; otherwise an existing ``path`` raises FileExistsError.

    Returns
    -------
    path : Path
        The file written.

    Notes
    -----
    Parameters without a JSON form (a ``RandomState`` as ``random_state``, a callable
    ``eval_metric``) do not affect predictions; they are listed under
    ``"params_not_saved"`` and take their defaults when loaded.
    """
    from sklearn.utils.validation import check_is_fitted

    name = type(estimator).__name__
    if name not in _ESTIMATORS:
        raise TypeError(f"save_model saves gbfocal estimators {_ESTIMATORS}, got {name}")
    check_is_fitted(estimator)
    target = Path(path)
    if target.exists() and not overwrite:
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
    text = json.dumps(document, allow_nan=False)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)  # a half-written file never replaces a good one
    return target


def load_model(path: str | os.PathLike[str]) -> Any:
    """Load an estimator saved by :func:`save_model` (no pickle, no code execution).

    Returns
    -------
    estimator : FocalLGBMClassifier, FocalXGBClassifier or FocalMultiOutputClassifier
        Fitted, with the same ``predict_proba`` / ``predict`` / ``decision_function``.
    """
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not a gbfocal model file (not JSON: {exc})") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{path} is not a gbfocal model file (no 'format': {FORMAT!r})")
    if document.get("version") != _VERSION:
        raise ValueError(
            f"{path} has format version {document.get('version')!r}; this gbfocal reads "
            f"version {_VERSION}"
        )
    name = document["estimator"]
    if name not in _ESTIMATORS:
        raise ValueError(f"{path} names an unknown estimator {name!r}")
    import gbfocal  # the package's lazy exports: this module sits below the estimators

    estimator = getattr(gbfocal, name)(**document["params"])
    if document.get("classes_per_output"):
        estimator.classes_ = [_array(c, document["classes_dtype"]) for c in document["classes"]]
    else:
        estimator.classes_ = _array(document["classes"], document["classes_dtype"])
    estimator.n_features_in_ = document["n_features_in"]
    if document.get("feature_names_in") is not None:
        estimator.feature_names_in_ = np.asarray(document["feature_names_in"], dtype=object)
    estimator.loss_ = _load_loss(document["loss"])
    init = document["init_score"]
    estimator.init_score_ = np.asarray(init, dtype=np.float64) if isinstance(init, list) else (
        float(init))
    boosters = [_load_booster(b) for b in document["boosters"]]
    if name in _MULTI:
        estimator.n_outputs_ = document["n_outputs"]
        estimator.alpha_ = estimator.loss_.alpha_
        estimator.boosters_ = boosters
        if document.get("best_iteration") is not None:
            estimator.best_iteration_ = document["best_iteration"]
    else:
        estimator.n_classes_ = len(estimator.classes_)
        estimator.booster_ = boosters[0]
        estimator.best_iteration_ = document["best_iteration"]
    importances = getattr(estimator, "_feature_importances", None)
    computed = isinstance(getattr(type(estimator), "feature_importances_", None), property)
    if callable(importances) and not computed:  # derived from the booster, as in fit
        estimator.feature_importances_ = importances()
    return estimator
