"""The studies of a search: what is saved in them, and when one may be resumed.

A :func:`~gbfocal.tune_focal` call runs one Optuna study per arm (focal loss, log loss) and
per part of the data it searches (the rows left after the holdout, or each outer fold and
then all rows for ``compare="nested"``), all in one storage. Each study saves its whole
search definition (:data:`SETTINGS_ATTR`), so that resuming it with other data or other
settings is refused with a message naming each difference.
"""

from __future__ import annotations

import copy
import json
import numbers
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._inputs import is_dataframe
from ._space import AlphaSpace, is_range

__all__ = ["GRACE_SECONDS", "HEARTBEAT_SECONDS", "SETTINGS_ATTR", "Studies", "fingerprint",
           "search_definition"]

SETTINGS_ATTR = "gbfocal_settings"
#: Optuna's heartbeat for a storage given as a URL: a running trial reports every
#: ``HEARTBEAT_SECONDS``; one silent for ``GRACE_SECONDS`` (its process died) is marked
#: failed when a search next starts a trial in that study.
HEARTBEAT_SECONDS = 60
GRACE_SECONDS = 180


def fingerprint(X: Any, y: Any, sample_weight: Any) -> str:
    """A hash of the data a study was run on, saved to refuse resuming on other data."""
    import joblib

    return joblib.hash((_data_key(X), y, sample_weight))



def _data_key(X: Any) -> Any:
    """What identifies ``X``: arrays as they are; a DataFrame column by column.

    A DataFrame's pickle (what joblib.hash would read) depends on how pandas happens to
    store its blocks, so equal frames built differently would not resume. Per column: the
    name, the dtype and the values, for a ``category`` column its categories, order flag and
    codes. The row index is left out: the folds use positions.
    """
    if not is_dataframe(X):
        return X  # unchanged, so that studies saved for arrays still resume
    columns = []
    for position, name in enumerate(X.columns):
        column = X.iloc[:, position]
        dtype = column.dtype
        if str(dtype) == "category":
            values: Any = (column.cat.categories.tolist(), bool(dtype.ordered),
                           column.cat.codes.to_numpy())
        else:
            values = column.to_numpy()
        columns.append((str(name), str(dtype), values))
    return ("DataFrame", tuple(X.shape), columns)




# Booster parameters that change how fast a model trains or what it reports, not the model:
# a resumed study may change them.
_RUNTIME_PARAMS = ("n_jobs", "verbose", "importance_type")


def _canonical(value: Any) -> Any:
    """A JSON-able form of a parameter value, equal for equal values after a storage trip."""
    if isinstance(value, np.ndarray):
        return [_canonical(item) for item in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _canonical(item) for k, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    # an object's repr often holds its address: the qualified name is what stays the same
    return getattr(value, "__qualname__", None) or repr(value)


def _spec_record(spec: Any) -> dict[str, Any]:
    """Record of one normalised spec: a range, a list of choices or a fixed value.

    Tagged, because in JSON a range ``(0, 5)`` and the choices ``[0, 5]`` look the same.
    """
    if is_range(spec):
        low, high, *rest = spec
        integer = isinstance(low, numbers.Integral) and isinstance(high, numbers.Integral)
        return {"range": [_canonical(low), _canonical(high)], "log": bool(rest), "int": integer}
    if isinstance(spec, list):
        return {"choices": _canonical(spec)}
    return {"fixed": _canonical(spec)}


def _alpha_record(space: AlphaSpace) -> dict[str, Any]:
    if space.is_fixed:
        return {"fixed": _canonical(space.fixed)}
    span = None if space.low is None else [space.low, space.high]
    record = {"choices": _canonical(list(space.choices)), "range": span, "log": space.log}
    if space.beta_low is not None:
        record["beta"] = [space.beta_low, space.beta_high, space.beta_log]
    return record


def search_definition(settings: Mapping[str, Any], *, alpha_space: AlphaSpace, gamma_space: Any,
                      searched: Mapping[str, Any],
                      fixed: Mapping[str, Any]) -> dict[str, Any]:
    """Everything that makes two trials' scores comparable, as saved in a study.

    ``settings`` holds the scalar settings (backend, scoring, folds, early stopping,
    ``pos_label``, the data fingerprint, the comparison and which arm and rows the study
    searches); the spaces are recorded in a tagged form.
    """
    params = {name: _spec_record(spec) for name, spec in searched.items()}
    params.update({
        name: _spec_record(value) for name, value in fixed.items() if name not in _RUNTIME_PARAMS
    })
    definition = {
        **{key: _canonical(value) for key, value in settings.items()},
        "alpha": _alpha_record(alpha_space), "gamma": _spec_record(gamma_space),
        "params": params,
    }
    # what a storage returns: tuples as lists, dict keys as strings
    return json.loads(json.dumps(definition))


_NOT_RECORDED = object()


def _show(record: Any) -> str:
    """A saved or new setting, for the resume error message."""
    if record is _NOT_RECORDED:
        return "(not recorded)"
    if isinstance(record, dict) and "fixed" in record:
        return repr(record["fixed"])
    if isinstance(record, dict) and "choices" in record:
        text = f"choices {record['choices']!r}"
        if record.get("range") is not None:
            text += f" + range {tuple(record['range'])}" + (" log" if record.get("log") else "")
        return text
    if isinstance(record, dict) and "range" in record:
        kind = "int " if record.get("int") else ""
        return f"{kind}range {tuple(record['range'])}" + (" log" if record.get("log") else "")
    return repr(record)


def _definition_changes(saved: Mapping[str, Any],
                        definition: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(name, saved, new)`` for every setting of ``definition`` that ``saved`` differs in."""
    changes = []
    for key, new in definition.items():
        if key == "params":
            continue
        old = saved.get(key, _NOT_RECORDED)
        if old != new:
            changes.append((key, old, new))
    old_params = saved.get("params")
    if not isinstance(old_params, Mapping):
        changes.append(("params", _NOT_RECORDED, definition["params"]))
        return changes
    new_params = definition["params"]
    for name in sorted(set(old_params) | set(new_params)):
        old = old_params.get(name, _NOT_RECORDED)
        new = new_params.get(name, _NOT_RECORDED)
        if old != new:
            changes.append((f"params[{name!r}]", old, new))
    return changes




def _new_seed() -> int:
    return int(np.random.SeedSequence().generate_state(1)[0] % (2**31 - 1))


class Studies:
    """The studies of one search, created or resumed in one storage.

    The focal arm's study of the final search is the given ``study`` or ``study_name``
    (default ``"gbfocal"`` when a storage is given); the others are named after it:
    ``<name>.log_loss`` for the log-loss arm, ``<name>.outer<i>`` (and
    ``<name>.outer<i>.log_loss``) for the searches of ``compare="nested"``'s outer folds.
    Every study gets the same kind of sampler with the same seed and the same pruner: a
    new ``TPESampler(seed)`` and the default pruner, or copies of a given study's sampler
    (as it was before this search) and pruner.

    The first study opened fixes the fold seed (the saved one when it resumes, else
    ``random_state`` or a fresh draw); every later study must have been run with it.
    """

    def __init__(self, optuna: Any, *, study: Any, storage: Any, study_name: str | None,
                 random_state: int | None) -> None:
        if study is not None and (storage is not None or study_name is not None):
            raise ValueError("pass either study or storage/study_name, not both")
        self._optuna = optuna
        self._study = study
        self._random_state = random_state
        self.seed: int | None = None
        if study is not None:
            if study.direction != optuna.study.StudyDirection.MAXIMIZE:
                raise ValueError(
                    "study must be created with direction='maximize' (scores are maximised)")
            # Optuna keeps a study's storage only in this attribute; the other arm's study
            # goes next to the given one
            self._storage = study._storage
            self._name: str | None = study.study_name
            self._sampler = copy.deepcopy(study.sampler)  # before this search moves it on
            self._pruner = study.pruner
        else:
            self._storage = _checked_storage(optuna, storage)
            self._name = study_name if study_name is not None or storage is None else "gbfocal"
            seed = random_state if random_state is not None else _new_seed()
            self._sampler = optuna.samplers.TPESampler(seed=seed)
            # Prune only clearly bad trials. In a maximised study PercentilePruner(p) stops a
            # trial whose best running score is below the (100 - p)-th percentile of the
            # completed trials at that fold, i.e. it keeps the top p percent: 75 stops the
            # bottom quarter. Folds are few and noisy, so never on the first fold (warmup)
            # and only once 10 trials (TPE's random start-up) have completed.
            self._pruner = optuna.pruners.PercentilePruner(
                75.0, n_startup_trials=10, n_warmup_steps=1)

    def name(self, arm: str, part: str) -> str | None:
        """The study name of ``arm`` ("focal", "log_loss") on ``part`` ("", "outer<i>")."""
        if self._name is None:
            return None
        return self._name + (f".{part}" if part else "") + (
            "" if arm == "focal" else f".{arm}")

    def open(self, arm: str, part: str, definition: dict[str, Any]) -> Any:
        """The study of ``arm`` on ``part``, checked against ``definition`` (or saved)."""
        optuna = self._optuna
        if self._study is not None and arm == "focal" and not part:
            study = self._study
        else:
            study = optuna.create_study(
                storage=self._storage, study_name=self.name(arm, part), direction="maximize",
                sampler=copy.deepcopy(self._sampler), pruner=copy.deepcopy(self._pruner),
                load_if_exists=self._storage is not None,
            )
            if study.direction != optuna.study.StudyDirection.MAXIMIZE:
                raise ValueError(f"the study {study.study_name!r} in the storage minimises: "
                                 "tune_focal maximises its scores; use another study_name")
        random_state = self._random_state if self.seed is None else self.seed
        saved = study.user_attrs.get(SETTINGS_ATTR)
        if saved is None:
            seed = random_state if random_state is not None else _new_seed()
            study.set_user_attr(SETTINGS_ATTR, {**definition, "fold_seed": seed})
            # another process may have saved its settings at the same time: theirs count
            saved = study.user_attrs.get(SETTINGS_ATTR) if self._storage is not None else None
            if saved is None or saved.get("fold_seed") == seed:
                self.seed = seed if self.seed is None else self.seed
                return study
        changes = _definition_changes(saved, definition)
        if random_state is not None and saved.get("fold_seed") != random_state:
            changes.append(("random_state", saved.get("fold_seed"), random_state))
        if changes:
            details = "; ".join(
                f"{name}: saved {_show(old)}, now {_show(new)}" for name, old, new in changes
            )
            raise ValueError(
                f"the study {study.study_name!r} was run with different "
                f"{', '.join(name for name, _, _ in changes)} ({details}); its trials are not "
                "comparable with this search (their scores or best_params would describe other "
                "models). Use a new study_name, or the same data and settings to resume."
            )
        if self.seed is None:
            self.seed = int(saved["fold_seed"])
        return study

    def check_unchanged(self, study: Any) -> None:
        """Raise when another process replaced the settings this search ran with."""
        saved = self._optuna.load_study(
            study_name=study.study_name, storage=self._storage
        ).user_attrs.get(SETTINGS_ATTR) if self._storage is not None else None
        if saved is not None and saved.get("fold_seed") != self.seed:
            raise RuntimeError(
                f"the study {study.study_name!r} was started at the same time by another "
                f"process with another fold seed ({saved.get('fold_seed')} vs {self.seed}): "
                "processes that share a search must pass the same random_state"
            )


def _checked_storage(optuna: Any, storage: Any) -> Any:
    """``storage`` as Optuna's storage object; a bad URL is a ValueError naming it.

    A URL becomes an ``RDBStorage`` with a heartbeat (:data:`HEARTBEAT_SECONDS`), so that
    the trials of a process that died (``kill -9``, a lost machine) do not stay ``RUNNING``
    for ever; a storage object is used as it is (set its heartbeat yourself).
    """
    if storage is None or not isinstance(storage, str):
        return storage
    try:
        with warnings.catch_warnings():
            # experimental since Optuna 2.9, unchanged since; used knowingly
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(storage, heartbeat_interval=HEARTBEAT_SECONDS,
                                              grace_period=GRACE_SECONDS)
    except ImportError:
        raise
    except Exception as exc:  # sqlalchemy's own errors name neither the argument nor the fix
        raise ValueError(
            f"storage={storage!r} could not be opened ({type(exc).__name__}: {exc}); use an "
            "RDB URL such as 'sqlite:///tuning.db' or an optuna storage object (for several "
            "processes on one machine: optuna.storages.JournalStorage)"
        ) from exc
