"""``gbfocal predict``: probabilities and labels of a saved model, written as a table.

One probability column per class (``proba_<label>``, in the model's class order) and the
predicted label (``predicted``): the argmax, or for a binary model with a decision
threshold (``--threshold``, or the one saved in the model file) the positive class where
its probability is at least the threshold (column ``threshold``). The model's feature
columns are read by name; ``--keep`` copies others in front. Category values unseen in
training are said per column (or refused). The output is CSV on stdout or a CSV / Parquet
file, formatted :data:`_CSV_CHUNK_ROWS` rows at a time (a large output is never one
string). Separate from training: it reads a model file and needs nothing of the search.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._optional import install_hint
from ._files import check_outputs, write_file
from ._labels import match_label, same_label
from ._messages import CLIError, note, to_json
from ._models import THRESHOLD, load_model_file
from ._tables import (
    CSV_SUFFIXES,
    PARQUET_SUFFIXES,
    as_features,
    duplicates,
    import_pandas,
    read_input,
)
from ._values import NO_THRESHOLD

__all__ = ["command_predict"]

_PROBA_PREFIX = "proba_"
_PREDICTED = "predicted"
# rows of predictions formatted and written at a time: a large output is never one string
_CSV_CHUNK_ROWS = 50_000


def _decision(args: argparse.Namespace, model: Any,
              metadata: dict[str, Any]) -> tuple[Any, float, str] | None:
    """``(positive class, threshold, where the threshold comes from)`` of ``predict``, or
    None for the argmax.

    ``--threshold`` wins, then the threshold saved in the model file (by ``tune`` /
    ``train --threshold-metric``); ``--threshold none`` is the argmax whatever the file
    says. The positive class: ``--pos-label``, else the file's, else the larger label.
    """
    classes = model.classes_.tolist()
    if args.threshold == NO_THRESHOLD:
        return None
    if len(classes) != 2:
        for option, value in (("--threshold", args.threshold), ("--pos-label", args.pos_label)):
            if value is not None:
                raise CLIError(f"{option} is for binary models; {args.model} has "
                               f"{len(classes)} classes {classes}")
        return None
    saved = metadata.get(THRESHOLD)
    if args.pos_label is not None:
        pos_label = match_label(args.pos_label, classes)
        if pos_label not in classes:
            raise CLIError(f"--pos-label {args.pos_label!r} is not one of the model's classes "
                           f"{classes}")
    elif metadata.get("pos_label") is not None:
        pos_label = _model_label(metadata["pos_label"], classes, args.model, "pos_label")
    else:
        pos_label = classes[1]
    if args.threshold is not None:
        return pos_label, float(args.threshold), "--threshold"
    if saved is None:
        return None
    from .._threshold import is_probability

    if not isinstance(saved, dict) or not is_probability(saved.get("value")):
        raise CLIError(f"{args.model}: the saved threshold must be an object with a 'value' "
                       f"in [0, 1], got {saved!r}")
    saved_label = _model_label(saved.get("pos_label"), classes, args.model, "threshold's "
                               "pos_label")
    if saved_label != pos_label:
        raise CLIError(
            f"the threshold saved in {args.model} is for the class {saved_label!r}, not "
            f"--pos-label {pos_label!r}: give --threshold too (or --threshold none for the "
            "argmax)"
        )
    how = (f"chosen by {saved.get('metric')} on out-of-fold predictions when the model was "
           "trained; --threshold sets another")
    return pos_label, float(saved["value"]), how


def _model_label(value: Any, classes: list[Any], path: str, field: str) -> Any:
    """The class of ``classes`` that a model file's ``field`` names."""
    for label in classes:
        if same_label(label, value):
            return label
    raise CLIError(f"{path}: the metadata's {field} {value!r} is not one of the model's "
                   f"classes {classes}")


def _prediction_features(model: Any, table: Any, data: str) -> Any:
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        # a model fitted on an array: its columns are the table's columns, in order
        if table.shape[1] != model.n_features_in_:
            raise CLIError(
                f"the model has {model.n_features_in_} unnamed features but {data} has "
                f"{table.shape[1]} columns"
            )
        return as_features(table)
    names = [str(name) for name in names]
    missing = [name for name in names if name not in table.columns]
    if missing:
        raise CLIError(
            f"{data} lacks the feature columns {missing[:10]} the model was trained with"
        )
    return as_features(table[names])


def command_predict(args: argparse.Namespace) -> int:
    """``gbfocal predict``: predict every row and write the table; returns the exit
    status."""
    pd = import_pandas()
    output_suffix = None if args.output is None else Path(args.output).suffix.lower()
    if output_suffix is not None and output_suffix not in CSV_SUFFIXES + PARQUET_SUFFIXES:
        raise CLIError(
            f"unsupported output type {output_suffix or '(none)'!r} for {args.output}: "
            "use .csv, .tsv or .parquet"
        )
    check_outputs([args.output], [args.model, args.data], force=args.force)
    model, metadata = load_model_file(args.model)
    decision = _decision(args, model, metadata)
    table = read_input(args.data, args.sep)
    missing = [name for name in args.keep if name not in table.columns]
    if missing:
        raise CLIError(f"--keep: {args.data} has no columns {missing}")
    X = _prediction_features(model, table, args.data)
    if args.n_jobs is not None:
        model.set_params(n_jobs=args.n_jobs)
    columns = [f"{_PROBA_PREFIX}{label}" for label in model.classes_]
    added = [_PREDICTED] + ([THRESHOLD] if decision is not None else [])
    clashes = duplicates([*args.keep, *columns, *added])
    if clashes:
        raise CLIError(f"two output columns would be named {clashes}: rename the input column")
    unseen = args.unseen_category or getattr(model, "unseen_category", "missing")
    proba = _predict_proba(model, X, args.data, unseen=unseen)
    frame = pd.DataFrame(proba, columns=columns)
    if decision is None:
        # predict is the argmax of predict_proba: computed once, unseen categories said once
        frame[_PREDICTED] = model.classes_[np.argmax(proba, axis=1)]
    else:
        pos_label, threshold, how = decision
        column = model.classes_.tolist().index(pos_label)
        positive = proba[:, column] >= threshold
        frame[_PREDICTED] = model.classes_[np.where(positive, column, 1 - column)]
        frame[THRESHOLD] = threshold
        note(f"predicted {pos_label!r} where its probability is at least {threshold:.4g} "
             f"({how}): {int(positive.sum())} of {len(positive)} rows")
    if args.keep:
        kept = table[list(args.keep)].reset_index(drop=True)
        frame = pd.concat([kept, frame], axis=1)
    sep = "\t" if output_suffix == ".tsv" else args.sep or ","
    if args.output is None:
        for chunk in _csv_chunks(frame, sep):
            sys.stdout.write(chunk)
        return 0
    if output_suffix in PARQUET_SUFFIXES:
        write_file(args.output, lambda name: _write_parquet(frame, name, args.output),
                   force=args.force)
    else:
        write_file(args.output, lambda name: _write_csv(frame, name, sep), force=args.force)
    note(f"predicted {len(frame)} rows, classes {[to_json(c) for c in model.classes_]}")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _predict_proba(model: Any, X: Any, data: str, *, unseen: str) -> Any:
    """``model.predict_proba(X)``, values of category columns unseen in training said on
    stderr (one line per column) and predicted as missing; ``unseen="error"`` refuses them.

    The model predicts with ``unseen_category="missing"`` either way: its warnings carry
    the column and the values, for messages in the command line's words (the file, the
    option), and the error lists every column, not the first.
    """
    model.set_params(unseen_category="missing")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        proba = model.predict_proba(X)
    lines = []
    for record in caught:
        # UnseenCategoryWarning (gbfocal.sklearn) carries the unseen values; the layout
        # lets the command line import no estimator module, so it is known by them
        message = record.message
        if hasattr(message, "unseen_values"):
            lines.append(_unseen_line(message, data))
        else:  # any other warning as it came
            warnings.warn_explicit(message, record.category, record.filename, record.lineno)
    if lines and unseen == "error":
        raise CLIError(
            "; ".join(lines) + " (--unseen-category error refuses them; the default, missing, "
            "predicts them as missing values)"
        )
    for line in lines:
        note(f"warning: {line}: predicted as missing values")
    return proba


def _unseen_line(message: Any, data: str) -> str:
    """``column 'city' of new.csv: 3 rows have values not seen in training ('Oslo')``."""
    values = list(message.unseen_values)
    shown = ", ".join(repr(to_json(v)) for v in values[:5])
    more = f" and {len(values) - 5} more" if len(values) > 5 else ""
    rows = "1 row has" if message.n_rows == 1 else f"{message.n_rows} rows have"
    return (f"column {str(message.column)!r} of {data}: {rows} values not seen in training "
            f"({shown}{more})")


def _csv_chunks(frame: Any, sep: str) -> Iterator[str]:
    """``frame.to_csv(index=False, sep=sep)`` in pieces of :data:`_CSV_CHUNK_ROWS` rows."""
    for start in range(0, max(len(frame), 1), _CSV_CHUNK_ROWS):
        part = frame.iloc[start:start + _CSV_CHUNK_ROWS]
        yield part.to_csv(index=False, header=start == 0, sep=sep)


def _write_csv(frame: Any, file_name: str, sep: str) -> None:
    with open(file_name, "w", encoding="utf-8", newline="") as handle:
        for chunk in _csv_chunks(frame, sep):
            handle.write(chunk)


def _write_parquet(frame: Any, file_name: str, shown: str) -> None:
    try:
        frame.to_parquet(file_name, index=False)
    except ImportError as exc:
        raise CLIError(f"cannot write {shown}: {install_hint('pyarrow', 'Parquet')}") from exc
