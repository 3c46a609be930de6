"""Command line: ``gbfocal tune | train | predict | demo`` (also ``python -m gbfocal``).

* ``gbfocal tune data.csv --target y`` runs :func:`gbfocal.tuning.tune_focal` (the focal
  and the log-loss arm, tuned alike, compared on a holdout neither search saw) and prints /
  writes the selected arm's parameters, the verdict and its interval, and both arms as JSON
  (stdout); a short summary (the scored class, each arm's search score, both arms' scores
  on the unseen rows with the 95 % interval of the difference, the verdict and the
  selected arm) goes to stderr. ``--model`` also writes the selected arm refit on all rows.
* ``gbfocal train data.csv --target y --output model.json`` fits one estimator, with the
  parameters of a ``tune`` result (``--params best.json``) or given ones, and saves it.
* ``gbfocal predict model.json data.csv --output predictions.csv`` writes one probability
  column per class (``proba_<label>``) and the predicted label (``predicted``): the argmax,
  or for a binary model with a decision threshold (``--threshold T``, or the one ``tune`` /
  ``train --threshold-metric f1`` chose on out-of-fold predictions and saved in the model
  file) the positive class where its probability is at least ``T``.
* ``gbfocal demo`` runs the breast-cancer demo (:mod:`gbfocal.demo`).

Binary targets score (average precision, F1, the threshold) and weight by a float alpha
the minority class unless ``--pos-label`` says otherwise; the choice is printed and saved
(the JSON's ``pos_label`` and ``pos_label_source``, the model file's metadata).
``--plots DIR`` writes the optimisation history (``tune``), precision-recall and
calibration curves of out-of-fold predictions (:mod:`gbfocal._plots`).

Tables are CSV (the separator is detected, or ``--sep``) or Parquet; every column but the
target is a feature, string columns become pandas ``category`` columns. User errors (bad
file, missing or duplicated column, one-class target, an existing output without
``--force``, bad option) end with a one-line message on stderr and exit status 1 (2 for
usage errors), never a traceback.

Output files are written all or nothing: into a temporary file beside the target
(``.NAME.XXXXXXXX.tmp``), flushed to disk, then renamed over it, so that a failure, Ctrl-C
(SIGINT, exit status 130) or SIGTERM (exit status 143) leaves either the old file or the
complete new one, and no temporary file.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import signal
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from . import __version__
from ._optional import import_optional, install_hint
from ._spec import BOOSTER_BACKENDS

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command ended by Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM
_CSV_SUFFIXES = (".csv", ".txt", ".tsv")
_PARQUET_SUFFIXES = (".parquet", ".pq")
# separators csv.Sniffer may choose: anything else (space, letters) is more often data
_SNIFF_DELIMITERS = ",;\t|"
_SNIFF_BYTES = 64 * 1024
_PROBA_PREFIX = "proba_"
_PREDICTED = "predicted"
# rows of predictions formatted and written at a time: a large output is never one string
_CSV_CHUNK_ROWS = 50_000
_UNSEEN_CATEGORY_CHOICES = ("missing", "error")
# a missing option, distinct from an explicit "none" (alpha None)
_UNSET: Any = argparse.SUPPRESS

_SPEC_HELP = (
    "LOW:HIGH searches a range (LOW:HIGH:log on a log scale; integers when both are ints), "
    "A,B,C is a choice, a single value is fixed"
)
_THRESHOLD = "threshold"
# --threshold none: the argmax, whatever threshold the model file holds
_NO_THRESHOLD = "none"
# how the scored class of a binary target was chosen (pos_label_source in the JSON)
_MINORITY = "minority"
_GIVEN = "--pos-label"
_FROM_PARAMS = "--params"


class CLIError(Exception):
    """A user error reported as one line, without a traceback."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt.

    A KeyboardInterrupt (the same ``except`` clauses catch it) so that SIGTERM ends a command
    the way Ctrl-C does: ``finally`` blocks remove temporary files and stop worker processes;
    :func:`main` then returns :data:`EXIT_TERMINATED`.
    """


class _Interrupts:
    """The SIGINT / SIGTERM handler of :func:`main`, with sections that a signal cannot cut.

    Outside :meth:`held` sections a signal raises at once (KeyboardInterrupt for SIGINT,
    :class:`Terminated` for SIGTERM), after removing the temporary files registered with
    :meth:`track`: a signal that arrives while a ``finally`` block is about to remove one
    would otherwise leave it behind. Inside, it is remembered and raised when the outermost
    section ends: creating a temporary file and registering it, or renaming a finished
    file into place, happen completely or not at all.
    """

    def __init__(self) -> None:
        self._depth = 0
        self._pending: int | None = None
        self._temporaries: set[str] = set()

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self._depth:
            self._pending = self._pending or signum
            return
        self._remove_temporaries()
        raise self._exception(signum)

    @staticmethod
    def _exception(signum: int) -> KeyboardInterrupt:
        if signum == getattr(signal, "SIGTERM", None):
            return Terminated(f"signal {signum} (SIGTERM)")
        return KeyboardInterrupt()

    @contextmanager
    def held(self) -> Iterator[None]:
        """A section that a signal does not interrupt; it raises when the section ends."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if not self._depth and self._pending is not None:
                signum, self._pending = self._pending, None
                self._remove_temporaries()
                raise self._exception(signum)

    def track(self, path: str) -> None:
        self._temporaries.add(path)

    def forget(self, path: str) -> None:
        self._temporaries.discard(path)

    def _remove_temporaries(self) -> None:
        for path in list(self._temporaries):
            _remove(path)
            self._temporaries.discard(path)


_INTERRUPTS = _Interrupts()


@contextmanager
def _interrupt_handlers() -> Iterator[None]:
    """SIGINT and SIGTERM raise (see :class:`_Interrupts`) while the block runs; the
    previous handlers come back after it.

    A signal the parent process ignores (SIG_IGN: ``nohup``, a background job of a
    non-interactive shell) stays ignored. Only the main thread can set handlers: elsewhere
    (``main`` called from a thread) the block runs with the handlers as they are.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}
    try:
        for name in ("SIGINT", "SIGTERM"):
            signum = getattr(signal, name, None)
            if signum is None or signal.getsignal(signum) is signal.SIG_IGN:
                continue
            previous[signum] = signal.signal(signum, _INTERRUPTS.handle)
        yield
    finally:
        for signum, handler in previous.items():
            # None: a handler set outside Python, which cannot be put back; the default is
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


# ---------------------------------------------------------------------- value parsing
def _scalar(text: str) -> Any:
    """'none' -> None, '3' -> 3, '0.5' -> 0.5, 'true'/'false' -> bool, else the string."""
    lowered = text.strip().lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip()


def _range(text: str) -> tuple:
    parts = text.split(":")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2].strip().lower() != "log"):
        raise CLIError(f"bad range {text!r}: use LOW:HIGH or LOW:HIGH:log")
    low, high = _scalar(parts[0]), _scalar(parts[1])
    if not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in (low, high)):
        raise CLIError(f"bad range {text!r}: LOW and HIGH must be numbers")
    return (low, high, "log") if len(parts) == 3 else (low, high)


def parse_spec(text: str) -> Any:
    """A search-space spec from text: ``0:5`` range, ``a,b`` choices, ``x`` fixed value.

    In a list of choices an item may be a range (used for ``--alpha 0.05:0.95,balanced,none``).
    """
    if "," in text:
        return [_range(item) if ":" in item else _scalar(item) for item in text.split(",")]
    if ":" in text:
        return _range(text)
    return _scalar(text)


def _spec_argument(text: str) -> Any:
    """``parse_spec`` for argparse, which reports ArgumentTypeError as a usage error."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return parse_spec(text)
    except CLIError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _parse_param(text: str) -> tuple[str, Any]:
    name, sep, spec = text.partition("=")
    if not sep or not name.strip() or not spec.strip():
        raise CLIError(f"bad --param {text!r}: use NAME=SPEC, e.g. learning_rate=0.01:0.3:log")
    return name.strip(), parse_spec(spec)


def _fixed_param(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` of ``train``: one value (training searches nothing)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise CLIError(f"bad --param {text!r}: use NAME=VALUE, e.g. n_estimators=300")
    if ":" in value or "," in value:
        raise CLIError(
            f"bad --param {text!r}: train takes one value per parameter (ranges and choices "
            "are for gbfocal tune)"
        )
    return name.strip(), _scalar(value)


def _fixed_alpha(text: str) -> Any:
    """``--alpha`` of ``train``: none, balanced, a float, or per-class weights ``W1,W2,...``."""
    if ":" in text:
        raise argparse.ArgumentTypeError(
            f"bad alpha {text!r}: train takes one value (ranges are for gbfocal tune)"
        )
    if "," in text:
        weights = [_scalar(item) for item in text.split(",")]
        if not all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in weights):
            raise argparse.ArgumentTypeError(
                f"bad alpha {text!r}: per-class weights must be numbers, e.g. 1,3"
            )
        return [float(w) for w in weights]
    value = _scalar(text)
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _separator(text: str) -> str:
    """``--sep``: one character; ``\\t`` or ``tab`` for a tab."""
    if text in ("\\t", "tab", "TAB"):
        return "\t"
    if len(text) != 1 or text in ('"', "\n", "\r"):
        raise argparse.ArgumentTypeError(
            f"bad separator {text!r}: use one character, e.g. ';' or '|', or \\t (tab)"
        )
    return text


def _threshold_argument(text: str) -> float | str:
    """``--threshold``: a probability in [0, 1], or ``none`` for the argmax."""
    if text.strip().lower() in (_NO_THRESHOLD, "argmax"):
        return _NO_THRESHOLD
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise argparse.ArgumentTypeError(
            f"bad threshold {text!r}: use a probability in [0, 1] (the positive class is "
            "predicted where its probability is at least that), or none for the argmax"
        )
    return value


def _positive_int(text: str) -> int:
    """A count >= 2 (folds)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 2:
        raise argparse.ArgumentTypeError(f"bad number of folds {text!r}: use an integer >= 2")
    return value


# -------------------------------------------------------------------------- the data
def _pandas() -> Any:
    try:
        return import_optional("pandas", needed_by="reading data")
    except ImportError as exc:
        raise CLIError(str(exc)) from exc


def _sniff(file: Path) -> tuple[str, bool] | None:
    """``(separator, skipinitialspace)`` that csv.Sniffer finds in the file's start, or None.

    Only the common separators are candidates: with every character allowed the sniffer
    happily splits a one-column file at a letter.
    """
    with file.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        sample = handle.read(_SNIFF_BYTES)
    if len(sample) == _SNIFF_BYTES and "\n" in sample:
        sample = sample[:sample.rindex("\n")]  # a cut last line would look inconsistent
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=_SNIFF_DELIMITERS)
    except csv.Error:  # one column, or no consistent candidate
        return None
    return str(dialect.delimiter), bool(dialect.skipinitialspace)


def _csv_header(pd: Any, file: Path, options: dict[str, Any]) -> list[str]:
    """The header row as written: pandas renames a duplicated ``a`` to ``a.1`` silently."""
    first = pd.read_csv(file, header=None, nrows=1, dtype=str, keep_default_na=False, **options)
    return [str(name) for name in first.iloc[0].tolist()] if len(first) else []


def _duplicates(names: Sequence[Any]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for name in map(str, names):
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    return repeated


def read_data(path: str, sep: str | None = None) -> tuple[Any, str | None]:
    """Read a CSV (.csv, .txt, .tsv) or Parquet file; returns ``(DataFrame, separator)``.

    ``sep=None`` means tab for .tsv and the separator csv.Sniffer detects (comma when it
    finds none) for .csv / .txt; the separator is ``None`` for Parquet. A UTF-8 byte-order
    mark is skipped. Empty files, header-only files and duplicated column names raise
    :class:`CLIError`.
    """
    pd = _pandas()
    file = Path(path)
    if not file.is_file():
        raise CLIError(f"no such file: {path}")
    suffix = file.suffix.lower()
    used_sep: str | None = None
    try:
        if suffix in _PARQUET_SUFFIXES:
            table = pd.read_parquet(file)
            repeated = _duplicates(table.columns)
        elif suffix in _CSV_SUFFIXES:
            if file.stat().st_size == 0:
                raise CLIError(f"{path} is empty: no header, no rows")
            skip_space = False
            if sep is not None:
                used_sep = sep
            elif suffix == ".tsv":
                used_sep = "\t"
            else:
                sniffed = _sniff(file)
                used_sep, skip_space = sniffed if sniffed is not None else (",", False)
            # utf-8-sig: a byte-order mark (Excel's "CSV UTF-8") is not part of the first name
            options = {"sep": used_sep, "encoding": "utf-8-sig", "skipinitialspace": skip_space}
            repeated = _duplicates(_csv_header(pd, file, options))
            # low_memory=False: one dtype per column, not one per chunk of a large file
            table = pd.read_csv(file, low_memory=False, **options)
        else:
            raise CLIError(
                f"unsupported file type {suffix or '(none)'!r} for {path}: "
                "use .csv, .tsv or .parquet"
            )
    except CLIError:
        raise
    except ImportError as exc:  # parquet without pyarrow / fastparquet
        raise CLIError(f"cannot read {path}: {exc} ({install_hint('pyarrow', 'Parquet')})") from exc
    except pd.errors.EmptyDataError as exc:  # only blank lines
        raise CLIError(f"{path} is empty: no header, no rows") from exc
    except UnicodeDecodeError as exc:
        raise CLIError(f"cannot read {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") \
            from exc
    except Exception as exc:  # pandas raises many parser error types
        raise CLIError(f"cannot read {path}: {type(exc).__name__}: {exc}") from exc
    if repeated:
        raise CLIError(
            f"{path} has duplicated column names {repeated[:10]}: every column needs its own name"
        )
    if len(table) == 0:
        raise CLIError(f"{path} has no data rows (only a header)")
    return table, used_sep


def read_table(path: str, sep: str | None = None) -> Any:
    """The DataFrame of :func:`read_data`."""
    return read_data(path, sep)[0]


def as_features(X: Any) -> Any:
    """Feature columns ready for the estimators.

    Numbers and booleans stay as they are (NaN is a missing value); string / object columns
    become pandas ``category`` columns, which the estimators pass to LightGBM as categorical
    features and to XGBoost with ``enable_categorical``; ``category`` columns stay.
    """
    pd = _pandas()
    converted = {}
    unsupported = []
    for name in X.columns:
        dtype = X[name].dtype
        if isinstance(dtype, pd.CategoricalDtype) or dtype.kind in "biuf":
            continue
        if dtype.kind in "OSU":  # object, pandas str / string, fixed-width bytes / text
            converted[name] = X[name].astype("category")
        else:
            unsupported.append(f"{name} ({dtype})")
    if unsupported:
        raise CLIError(
            f"feature columns of unsupported type {unsupported[:10]}: convert them to numbers "
            "or text first (or drop them)"
        )
    if converted:
        X = X.copy()  # never change the caller's table
        for name, column in converted.items():
            X[name] = column
    return X


def split_features(table: Any, target: str) -> tuple[Any, Any]:
    """Features (every other column, see :func:`as_features`) and the target column, checked."""
    if target not in table.columns:
        columns = ", ".join(map(str, table.columns[:20]))
        raise CLIError(f"target column {target!r} not found; columns are: {columns}")
    y = table[target]
    if y.isna().any():
        raise CLIError(f"target column {target!r} has {int(y.isna().sum())} missing values")
    if y.nunique() < 2:
        raise CLIError(
            f"target column {target!r} has a single class ({y.iloc[0]!r}): nothing to classify"
        )
    X = table.drop(columns=[target])
    if X.shape[1] == 0:
        raise CLIError("no feature columns: the table has only the target column")
    X = as_features(X)
    return X, y.to_numpy()


# -------------------------------------------------------------------- output files
def _same_file(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(outputs: Sequence[str | None], inputs: Sequence[str | None], *,
                  force: bool) -> None:
    """Refuse, before any work, outputs that exist (without ``force``) or clash.

    An output is never an input file (not even with ``force``: it would be replaced by
    what was computed from it), nor another output; its folder must exist.
    """
    given = [o for o in outputs if o is not None]
    for i, output in enumerate(given):
        for source in inputs:
            if source is not None and _same_file(output, source):
                raise CLIError(f"refusing to write {output}: it is the input file {source}")
        for other in given[:i]:
            if _same_file(output, other):
                raise CLIError(f"{output} is given for two outputs: use two files")
        file = Path(output)
        if file.is_dir():
            raise CLIError(f"cannot write {output}: it is a directory")
        if file.exists() and not force:
            raise CLIError(f"{output} exists: pass --force to overwrite it")
        folder = file.parent
        if not folder.is_dir():
            raise CLIError(f"cannot write {output}: the folder {folder} does not exist")


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:  # gone already, or not ours to remove any more
        pass


def _new_file_mode(target: str) -> int:
    """The permission bits the written file gets: an existing target's, else what
    ``open()`` would create (0o666 less the umask); a temporary file starts with 0o600."""
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _sync(path: str) -> None:
    """Flush a file's data to the disk."""
    fd = os.open(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_folder(folder: str) -> None:
    """Flush a folder's entries (a rename) to the disk, where folders can be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse it for folders
        pass
    finally:
        os.close(fd)


def _exists_error(path: str) -> CLIError:
    return CLIError(f"{path} exists: pass --force to overwrite it")


def _commit(tmp: str, target: str, shown: str, *, force: bool) -> None:
    """Put the finished file ``tmp`` in the place of ``target`` in one step.

    With ``force`` a rename replaces the old file. Without, a hard link creates the name
    only if nothing has it (a file that appeared after :func:`check_outputs` is kept, with
    no window in between); where the file system has no hard links, an exclusively
    created empty file reserves the name and the rename replaces it.
    """
    if force:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError as exc:
        raise _exists_error(shown) from exc
    except OSError:  # no hard links here (FAT, some network file systems)
        try:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError as exc:
            raise _exists_error(shown) from exc
        try:
            os.replace(tmp, target)
        except BaseException:
            _remove(target)  # the empty file that reserved the name
            raise
    else:
        _remove(tmp)


@contextmanager
def _replacing(path: str, *, force: bool) -> Iterator[str]:
    """Write ``path`` all or nothing: the block writes the file whose name it gets.

    That is a new temporary file beside the target (``.NAME.XXXXXXXX.tmp``, in the same
    folder: the rename stays on one file system). When the block ends normally the file is
    flushed to disk and renamed to ``path`` (:func:`_commit`: without ``force`` an existing
    ``path`` is never replaced); when it raises, or SIGINT / SIGTERM arrive, the temporary
    file is removed and ``path`` stays as it was. A device or pipe (``/dev/null``,
    ``/dev/stdout``) is written in place: there is nothing to replace.
    """
    if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
        yield path
        return
    # a link: the file it points to is replaced, as writing through the link would do
    target = os.path.realpath(path)
    folder, name = os.path.split(target)
    with _INTERRUPTS.held():  # no temporary file without its registration
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        except OSError as exc:
            raise CLIError(
                f"cannot write {path}: no temporary file can be created in {folder} "
                f"({exc.strerror or exc})"
            ) from exc
        os.close(fd)
        _INTERRUPTS.track(tmp)
    try:
        yield tmp
        _sync(tmp)
        os.chmod(tmp, _new_file_mode(target))
        with _INTERRUPTS.held():  # a signal now is raised once the new file is in place
            _commit(tmp, target, path, force=force)
            _INTERRUPTS.forget(tmp)
        _sync_folder(folder)
    finally:
        with _INTERRUPTS.held():
            _remove(tmp)  # after a commit the name is gone (or the target's link): no-op
            _INTERRUPTS.forget(tmp)


def _write_file(path: str, write: Callable[[str], None], *, force: bool) -> None:
    """``write(file_name)`` through :func:`_replacing` ``path``."""
    with _replacing(path, force=force) as file_name:
        write(file_name)


def _write_bytes(path: str, data: bytes, *, force: bool) -> None:
    def write(file_name: str) -> None:
        with open(file_name, "wb") as handle:
            handle.write(data)

    _write_file(path, write, force=force)


def _save_model(estimator: Any, path: str, *, force: bool,
                metadata: dict[str, Any] | None = None) -> None:
    # save_model writes over the (empty) temporary file and _replacing puts it in place: a
    # signal never leaves a cut model, and an existing file is never replaced without
    # --force, not even one that appeared after check_outputs
    _write_file(path, lambda file_name: estimator.save_model(
        file_name, overwrite=True, metadata=_to_json(metadata)), force=force)


# ----------------------------------------------------------------------- the parser
def _add_data_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data", help="CSV (.csv, .txt, .tsv; UTF-8) or Parquet (.parquet) file"
    )


def _add_sep_and_force(parser: argparse.ArgumentParser, outputs: str) -> None:
    parser.add_argument(
        "--sep", type=_separator, default=None, metavar="CHAR",
        help="CSV separator (default: tab for .tsv, otherwise detected among , ; tab |)",
    )
    parser.add_argument("--force", action="store_true", help=f"overwrite existing {outputs}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gbfocal",
        description=(
            "Focal loss for LightGBM and XGBoost: tune alpha/gamma, train a model and predict "
            "from the shell; gbfocal demo shows it on the breast-cancer data."
        ),
        epilog=(
            "example: gbfocal tune data.csv --target label --output best.json; gbfocal train "
            "data.csv --target label --params best.json --threshold-metric f1 --output "
            "model.json; gbfocal predict model.json new.csv --output predictions.csv"
        ),
    )
    parser.add_argument("--version", action="version", version=f"gbfocal {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    tune = commands.add_parser(
        "tune",
        help="tune the focal-loss alpha and gamma with Optuna cross-validation",
        description=(
            "Cross-validated Optuna search over the focal-loss alpha and gamma (and booster "
            "parameters given with --param), against log loss searched alike; both compared "
            "on rows neither search saw (the verdict). Prints the result as JSON on stdout, "
            "what runs and a summary on stderr."
        ),
        epilog=(
            "example: gbfocal tune data.csv --target label --trials 30 "
            "--param learning_rate=0.02:0.3:log --param num_leaves=8:64 --output best.json"
        ),
    )
    _add_data_argument(tune)
    tune.add_argument("--target", required=True, help="name of the label column")
    tune.add_argument(
        "--backend", choices=BOOSTER_BACKENDS, default="lightgbm",
        help="booster library: lightgbm (default, FocalLGBMClassifier) or xgboost "
             "(FocalXGBClassifier, pip install gbfocal[xgboost])",
    )
    tune.add_argument("--trials", type=int, default=50,
                      help="trials of each arm (default 50)")
    tune.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                      help="stop starting new trials of an arm after this many seconds")
    tune.add_argument("--cv", type=int, default=5,
                      help="stratified folds of each search, and of the out-of-fold "
                           "predictions of --threshold-metric and --plots (default 5)")
    tune.add_argument(
        "--scoring", default="average_precision",
        help="scikit-learn scorer name: average_precision (default), roc_auc, neg_log_loss, ...",
    )
    tune.add_argument(
        "--pos-label", default=None, metavar="LABEL",
        help="binary targets: the class scored as positive (average precision, F1, the "
             "threshold) and weighted by a float alpha (default: the minority class; printed "
             "and saved in the JSON and the model file)",
    )
    tune.add_argument("--seed", type=int, default=None,
                      help="random seed: the holdout, the folds, the samplers and the "
                           "boosters (the same seed gives the same result)")
    tune.add_argument(
        "--alpha", type=_spec_argument, default="auto",
        help=f"alpha search space (default auto = 0.05:0.95,balanced,none); {_SPEC_HELP}; "
             "none (no class weights) and balanced may be the value or among the choices, a "
             "float is the weight of --pos-label",
    )
    tune.add_argument("--gamma", type=_spec_argument, default=(0.0, 5.0),
                      help=f"gamma search space, each value >= 0 (default 0:5); {_SPEC_HELP}")
    tune.add_argument(
        "--param", action="append", default=[], metavar="NAME=SPEC",
        help=f"booster parameter, repeatable, e.g. num_leaves=8:64, n_estimators=500; "
             f"{_SPEC_HELP}",
    )
    tune.add_argument("--early-stopping-rounds", type=int, default=50,
                      help="early-stopping patience inside each fold (default 50; 0 disables)")
    tune.add_argument("--n-jobs", type=int, default=None,
                      help="booster threads per fit (default 1: the cores go to --parallel "
                           "trials)")
    tune.add_argument("--parallel", type=int, default=1, metavar="N",
                      help="trials run at once (default 1, reproducible with --seed; -1: one "
                           "per core)")
    tune.add_argument(
        "--no-baseline", action="store_true",
        help="skip the log-loss arm (gamma=0, alpha=none, tuned alike): no verdict, the focal "
             "arm is returned",
    )
    tune.add_argument(
        "--compare", choices=("holdout", "nested", "none"), default="holdout",
        help="where the two arms are compared for the verdict: a stratified holdout that "
             "neither search sees (default), nested outer folds (small data), or none",
    )
    tune.add_argument("--holdout-size", type=float, default=None, metavar="SHARE",
                      help="share of the rows held out with --compare holdout (default 0.2)")
    tune.add_argument("--outer-cv", type=int, default=None, metavar="K",
                      help="outer folds with --compare nested (default 3)")
    tune.add_argument(
        "--select", choices=("auto", "focal", "log_loss"), default="auto",
        help="the model returned (best_params, --model): auto = the arm the verdict favours, "
             "log loss unless focal loss is better beyond noise (default); focal; log_loss",
    )
    tune.add_argument("--storage", default=None,
                      help="Optuna storage URL to save/resume the study, e.g. sqlite:///study.db")
    tune.add_argument("--study-name", default=None, help="study name inside --storage")
    tune.add_argument("--output", "-o", default=None, help="write the result JSON to this file")
    tune.add_argument("--model", default=None, metavar="MODEL.json",
                      help="also refit the selected arm on all rows and save it to this file "
                           "(with the scored class and the --threshold-metric threshold)")
    _add_threshold_metric(tune, "the selected arm's parameters")
    _add_plots(tune, "the optimisation history of both arms, precision-recall and calibration "
                     "curves of each arm's out-of-fold predictions")
    tune.add_argument("--no-progress", action="store_true",
                      help="hide Optuna's progress bar (the notes on what runs stay)")
    _add_sep_and_force(tune, "--output, --model and --plots files")

    train = commands.add_parser(
        "train",
        help="train one focal-loss model and save it",
        description=(
            "Fit a focal-loss model on every row of the data and save it as one JSON file. "
            "Parameters: --params (the JSON of gbfocal tune --output, or a JSON object of "
            "estimator parameters), then --param, then --alpha / --gamma / --seed / --n-jobs."
        ),
        epilog=(
            "example: gbfocal train data.csv --target label --params best.json "
            "--output model.json"
        ),
    )
    _add_data_argument(train)
    train.add_argument("--target", required=True, help="name of the label column")
    train.add_argument(
        "--backend", choices=BOOSTER_BACKENDS, default=None,
        help="default: the backend of a tune result given with --params, else lightgbm",
    )
    train.add_argument(
        "--params", default=None, metavar="PARAMS.json",
        help="the JSON that gbfocal tune --output writes (its best_params are used), or a "
             "JSON object of estimator parameters",
    )
    train.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE",
        help="estimator parameter, repeatable, e.g. n_estimators=300 (overrides --params)",
    )
    train.add_argument(
        "--alpha", type=_fixed_alpha, default=_UNSET,
        help="class weights: none, balanced, a float in [0, 1] (binary: the weight of "
             "--pos-label) or one weight per class in sorted label order, e.g. 1,3",
    )
    train.add_argument("--gamma", type=float, default=_UNSET, help="focusing parameter >= 0")
    train.add_argument(
        "--pos-label", default=None, metavar="LABEL",
        help="binary targets: the class a float alpha weights and --threshold-metric scores "
             "(default: the pos_label of a tune result given with --params, else the minority "
             "class; saved in the model file)",
    )
    train.add_argument("--seed", type=int, default=None,
                       help="random seed of the booster (and of the --threshold-metric folds)")
    train.add_argument("--n-jobs", type=int, default=None,
                       help="booster threads (default: the library's, every core)")
    train.add_argument("--output", "-o", required=True, metavar="MODEL.json",
                       help="the model file to write")
    _add_threshold_metric(train, "these parameters")
    train.add_argument("--threshold-cv", type=_positive_int, default=5, metavar="K",
                       help="stratified folds of the out-of-fold predictions of "
                            "--threshold-metric and --plots (default 5)")
    _add_plots(train, "precision-recall and calibration curves of out-of-fold predictions")
    _add_sep_and_force(train, "--output and --plots files")

    predict = commands.add_parser(
        "predict",
        help="predict class probabilities and labels with a saved model",
        description=(
            "Write one probability column per class (proba_<label>, in the model's class "
            "order) and the predicted label (column 'predicted'), one row per input row: the "
            "argmax of the probabilities, or, with a decision threshold (--threshold, or the "
            "one saved in the model file), the positive class where its probability is at "
            "least the threshold (column 'threshold' says which). The columns the model was "
            "trained on are read by name; any other column (the target too) is ignored unless "
            "copied with --keep."
        ),
        epilog="example: gbfocal predict model.json new.csv --keep id --output predictions.csv",
    )
    predict.add_argument("model", help="a model file written by gbfocal train or tune --model")
    _add_data_argument(predict)
    predict.add_argument(
        "--keep", action="append", default=[], metavar="COLUMN",
        help="copy this input column (an id, the true label) in front of the predictions; "
             "repeatable",
    )
    predict.add_argument("--n-jobs", type=int, default=None,
                         help="booster threads (default: the model's n_jobs)")
    predict.add_argument(
        "--threshold", type=_threshold_argument, default=None, metavar="T",
        help="binary models: predict the positive class where its probability is >= T "
             "(0..1; default: the threshold saved in the model file by --threshold-metric, "
             "else the argmax); none: the argmax",
    )
    predict.add_argument(
        "--pos-label", default=None, metavar="LABEL",
        help="binary models: the positive class of --threshold (default: the one saved in the "
             "model file, else the larger label)",
    )
    predict.add_argument(
        "--unseen-category", choices=_UNSEEN_CATEGORY_CHOICES, default=None,
        help="a value of a text (category) column that the model did not see in training: "
             "missing (the default, unless the model was trained with "
             "unseen_category=error) predicts it as a missing value and says so on stderr, "
             "one line per column; error refuses the file",
    )
    predict.add_argument(
        "--output", "-o", default=None, metavar="PREDICTIONS.csv",
        help="CSV (.csv, .txt, .tsv) or Parquet (.parquet) file; default: CSV on stdout",
    )
    _add_sep_and_force(predict, "--output file")

    from .demo import add_arguments as add_demo_arguments  # NumPy only until the demo runs

    add_demo_arguments(commands.add_parser(
        "demo",
        help="run the breast-cancer demo (pip install gbfocal[examples])",
        description=(
            "Tune focal loss on scikit-learn's breast-cancer data, compare it with log loss "
            "tuned alike, train LightGBM and XGBoost both ways and compare them on a test "
            "split, show three classic mistakes, and write four plots."
        ),
        epilog="example: gbfocal demo --trials 10 --output demo_plots",
    ))
    return parser


def _add_threshold_metric(parser: argparse.ArgumentParser, whose: str) -> None:
    from ._threshold import METRICS

    parser.add_argument(
        "--threshold-metric", choices=tuple(METRICS), default=None,
        help="binary targets: choose the decision threshold that maximises this metric of "
             f"out-of-fold predictions of {whose} (stratified, seeded folds); saved in the "
             "JSON and the model file, used by gbfocal predict. "
             + "; ".join(f"{name}: {what}" for name, what in METRICS.items()),
    )


def _add_plots(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--plots", default=None, metavar="DIR",
        help=f"write PNG plots into this folder (created if missing): {what} (needs "
             "matplotlib: pip install gbfocal[plots])",
    )


# ------------------------------------------------------------------------ helpers
def _to_json(value: Any) -> Any:
    """Plain JSON types (NumPy scalars and arrays included)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    return value


def _match_label(text: str, labels: Sequence[Any]) -> Any:
    """The label of ``y`` that ``--pos-label`` names (labels read from a file may be numbers).

    Unmatched text is returned as is, for tune_focal to reject with the list of labels.
    """
    for candidates in ([c for c in labels if str(c) == text],
                       [c for c in labels if c == _scalar(text)]):
        if len(candidates) == 1:
            return candidates[0]
    return text


def _note(text: str) -> None:
    print(f"gbfocal: {text}", file=sys.stderr)


def _read(path: str, sep: str | None) -> Any:
    """Read a table, saying which separator was detected when it is not the comma."""
    table, used = read_data(path, sep)
    if sep is None and used not in (None, ",", "\t"):
        _note(f"{path}: separator {used!r} detected (--sep sets it)")
    return table


def _categorical_note(X: Any) -> None:
    """Say which columns the models see as categorical (a numeric column read as text
    because of one odd value would be among them)."""
    pd = _pandas()
    categorical = [str(c) for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    if categorical:
        _note(f"categorical feature columns: {categorical[:20]}")


# ----------------------------------------------------------------------- tune
def run_tune(args: argparse.Namespace) -> dict[str, Any]:
    """Run the search of ``gbfocal tune``; returns the result JSON (see :func:`_tune`)."""
    return _tune(args).summary


@dataclasses.dataclass
class _TuneRun:
    """What ``gbfocal tune`` found, and what its later steps need."""

    summary: dict[str, Any]  # the result JSON
    result: Any  # the TuningResult
    X: Any
    y: np.ndarray
    pos_label: Any  # the scored class of a binary target, else None


def _minority(y: np.ndarray) -> Any:
    """The label with the fewest rows; of equal counts the larger label (scikit-learn's
    ``classes_[1]``, the positive class of its binary scorers)."""
    labels, counts = np.unique(y, return_counts=True)
    last = len(counts) - 1 - int(np.argmin(counts[::-1]))
    return labels.tolist()[last]


def _scored_class(args: argparse.Namespace, y: np.ndarray,
                  classes: list[Any]) -> tuple[Any, str | None]:
    """The class a binary target scores: ``(label, how it was chosen)``.

    ``--pos-label`` (matched to a label, or left as text for tune_focal to refuse), else
    the minority class: what imbalanced data is about, where the larger label of a
    ``good``/``bad`` file would score the 95 % ``good`` rows. Multiclass: ``(None, None)``,
    or ``--pos-label`` as given, for tune_focal to refuse.
    """
    if args.pos_label is not None:
        return _match_label(args.pos_label, classes), _GIVEN
    if len(classes) == 2:
        return _minority(y), _MINORITY
    return None, None


def _class_counts(y: np.ndarray) -> dict[str, int]:
    labels, counts = np.unique(y, return_counts=True)
    return {str(label): int(count) for label, count in zip(labels.tolist(), counts, strict=True)}


def _require_backend(backend: str) -> None:
    """The booster library, or the install hint in the command line's words."""
    try:
        import_optional(backend, needed_by=f"--backend {backend}")
    except ImportError as exc:
        raise CLIError(str(exc)) from exc


def _tune(args: argparse.Namespace) -> _TuneRun:
    """The search of ``gbfocal tune``: its result JSON, the TuningResult (whose
    ``best_estimator`` is ``None`` without ``--model``), the data and the scored class."""
    _require_backend(args.backend)
    params = dict(_parse_param(text) for text in args.param)
    if args.n_jobs is not None:
        params["n_jobs"] = args.n_jobs
    X, y = split_features(_read(args.data, args.sep), args.target)
    _categorical_note(X)
    classes = sorted(set(y.tolist()), key=str)
    pos_label, source = _scored_class(args, y, classes)
    if args.threshold_metric is not None and len(classes) != 2:
        raise CLIError(f"--threshold-metric is for binary targets; {args.target!r} has "
                       f"{len(classes)} classes")
    try:
        optuna = import_optional("optuna", needed_by="tuning")
    except ImportError as exc:
        raise CLIError(str(exc)) from exc
    from .tuning import tune_focal

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress bar says enough
    compare = None if args.compare == "none" else args.compare
    result = tune_focal(
        X, y, backend=args.backend, n_trials=args.trials, cv=args.cv, scoring=args.scoring,
        pos_label=pos_label, alpha=args.alpha, gamma=args.gamma, params=params or None,
        early_stopping_rounds=args.early_stopping_rounds or None, timeout=args.timeout,
        random_state=args.seed, storage=args.storage, study_name=args.study_name,
        refit=args.model is not None, baseline=not args.no_baseline, compare=compare,
        holdout_size=args.holdout_size, outer_cv=args.outer_cv, select=args.select,
        n_jobs=args.parallel, show_progress_bar=not args.no_progress, progress=_note,
    )
    arms = {}
    for name, arm in result.arms.items():
        states = [t.state.name for t in arm.study.trials]
        arms[name] = {"best_params": arm.best_params, "best_score": arm.best_score,
                      "best_fold_scores": arm.best_fold_scores, "n_trials": len(states),
                      "n_complete": states.count("COMPLETE"),
                      "n_pruned": states.count("PRUNED")}
    comparison = result.comparison
    summary = _to_json({
        "best_params": result.best_params,
        "best_score": result.best_score,
        "selected": result.selected,
        "verdict": result.verdict,
        "comparison": None if comparison is None else dataclasses.asdict(comparison),
        "scoring": result.scoring,
        "pos_label": result.pos_label,
        "pos_label_source": source,
        "class_counts": _class_counts(y),
        "arms": arms,
        "best_fold_scores": result.best_fold_scores,
        "baseline_score": result.baseline_score,
        "baseline_fold_scores": result.baseline_fold_scores,
        "fold_differences": result.fold_differences,
        "backend": result.backend,
        "cv": args.cv,
        "seed": args.seed,
        "n_trials": arms["focal"]["n_trials"],
        "n_complete": arms["focal"]["n_complete"],
        "n_pruned": arms["focal"]["n_pruned"],
        "data": str(args.data),
        "target": args.target,
        "classes": classes,
        "gbfocal_version": __version__,
    })
    return _TuneRun(summary=summary, result=result, X=X, y=y, pos_label=result.pos_label)


_ARM_NAMES = {"focal": "focal-loss arm", "log_loss": "log-loss arm (gamma=0, alpha=none)"}
_VERDICTS = {
    "focal": "focal loss is better beyond noise",
    "log_loss": "log loss is better beyond noise",
    "no_difference": "no difference beyond noise",
}


def _summary_lines(summary: dict[str, Any]) -> list[str]:
    """The human-readable part of the result, printed on stderr (stdout stays pure JSON)."""
    scoring = summary["scoring"]
    lines: list[str] = []
    if summary.get("pos_label") is not None:
        lines.append(f"positive (scored) class: {summary['pos_label']!r}"
                     + _scored_class_reason(summary))
    for name, arm in summary["arms"].items():
        lines.append(
            f"{_ARM_NAMES[name]}: best {scoring} {arm['best_score']:.4f} in the search "
            f"(mean of {summary['cv']} folds; {arm['n_complete']} trials complete, "
            f"{arm['n_pruned']} pruned)"
        )
    comparison = summary.get("comparison")
    if comparison is not None:
        where = ("the holdout" if comparison["method"] == "holdout"
                 else "the outer folds of a nested CV")
        text = (f"on {comparison['n_rows']} rows neither search saw ({where}): "
                f"focal {comparison['focal_score']:.4f}")
        if comparison["log_loss_score"] is not None:
            low, high = comparison["interval"]
            text += (f", log loss {comparison['log_loss_score']:.4f}, difference "
                     f"{comparison['difference']:+.4f} (95% interval {low:+.4f} to "
                     f"{high:+.4f})")
        lines.append(text)
    if summary.get("verdict") is not None:
        lines.append(f"verdict: {_VERDICTS[summary['verdict']]}")
    lines.append(f"selected: the {_ARM_NAMES[summary['selected']]}; best_params "
                 "(and --model) describe it")
    return lines


def _scored_class_reason(summary: dict[str, Any]) -> str:
    """`` (the minority class: 84 of 1857 rows, 4.5 %; --pos-label sets it)``."""
    counts = summary.get("class_counts") or {}
    count = counts.get(str(summary["pos_label"]))
    total = sum(counts.values())
    share = "" if count is None or not total else f"{count} of {total} rows, {count / total:.1%}"
    source = summary.get("pos_label_source")
    if source == _MINORITY:
        return f" (the minority class: {share}; --pos-label sets it)"
    if source == _GIVEN:
        return f" (--pos-label; {share})" if share else " (--pos-label)"
    return ""


def _command_tune(args: argparse.Namespace) -> int:
    plots = _plot_paths(args.plots, history=True)
    check_outputs([args.output, args.model, *plots.values()], [args.data], force=args.force)
    run = _tune(args)
    summary, result = run.summary, run.result
    scores: dict[str, np.ndarray] = {}
    if args.threshold_metric is not None or plots:
        scores = _tuned_out_of_fold(args, run, both_arms=bool(plots))
    if args.threshold_metric is not None:
        summary["threshold"] = _choose(args.threshold_metric, run.y, run.pos_label,
                                       next(iter(scores.values())), folds=args.cv,
                                       seed=_fold_seed(args.seed))
    text = json.dumps(summary, indent=2)
    if args.model is not None:
        _save_model(result.best_estimator, args.model, force=args.force,
                    metadata=_model_metadata(summary, "gbfocal tune"))
    if args.output:
        _write_bytes(args.output, (text + "\n").encode("utf-8"), force=args.force)
    if plots:
        _write_plots(plots, run.y, run.pos_label, scores, summary.get("threshold"),
                     studies={_ARM_NAMES[name]: arm.study for name, arm in result.arms.items()},
                     scoring=str(summary["scoring"]), force=args.force)
    print(text)
    for line in _summary_lines(summary):
        _note(line)
    for written in (args.model, args.output, *plots.values()):
        if written:
            print(f"wrote {written}", file=sys.stderr)
    return 0


# ---------------------------------------------------- thresholds, plots, metadata
def _fold_seed(seed: int | None) -> int:
    """The seed of the out-of-fold predictions: ``--seed``, else 0 (always reproducible)."""
    return 0 if seed is None else seed


def _out_of_fold(estimator: Any, X: Any, y: np.ndarray, pos_label: Any, *, folds: int,
                 seed: int) -> np.ndarray:
    """The positive class's out-of-fold probability of every row (see
    :func:`gbfocal._threshold.out_of_fold_proba`)."""
    from ._threshold import out_of_fold_proba

    labels = np.unique(y).tolist()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        proba = out_of_fold_proba(estimator, X, y, cv=folds, seed=seed)
    for record in caught:
        # a category that only the held-out fold has is "unseen" by that fold's model:
        # expected in cross-validation, and predicted as missing as it should be
        if not hasattr(record.message, "unseen_values"):
            warnings.warn_explicit(record.message, record.category, record.filename,
                                   record.lineno)
    return proba[:, labels.index(pos_label)]


def _tuned_out_of_fold(args: argparse.Namespace, run: _TuneRun, *,
                       both_arms: bool) -> dict[str, np.ndarray]:
    """Out-of-fold positive-class probabilities of the selected arm's parameters (first),
    and of the other arm's with ``both_arms``; keyed by the arm's name in the plots.

    Binary targets only (``{}`` otherwise): the curves and the threshold need a positive
    class. One thread per fit unless ``--n-jobs`` says otherwise, seeded folds.
    """
    if run.pos_label is None:
        return {}
    result = run.result
    names = [result.selected] + [name for name in result.arms
                                 if both_arms and name != result.selected]
    folds, seed = args.cv, _fold_seed(args.seed)
    scores = {}
    for name in names:
        params = dict(result.arms[name].best_params)
        params.setdefault("n_jobs", 1)
        if args.seed is not None:
            params.setdefault("random_state", args.seed)
        _note(f"out-of-fold predictions of the {_ARM_NAMES[name]}'s best parameters "
              f"({folds} stratified folds)")
        label = _ARM_NAMES[name] + (" (selected)" if name == result.selected else "")
        scores[label] = _out_of_fold(_estimator_class(args.backend)(**params), run.X, run.y,
                                     run.pos_label, folds=folds, seed=seed)
    return scores


def _choose(metric: str, y: np.ndarray, pos_label: Any, score: np.ndarray, *, folds: int,
            seed: int) -> dict[str, Any]:
    """The decision threshold that maximises ``metric`` of the out-of-fold ``score``, as
    the JSON and the model file store it."""
    from ._threshold import choose_threshold

    value, achieved = choose_threshold(y == pos_label, score, metric)
    predicted = int(np.sum(score >= value))
    _note(f"decision threshold {value:.4g}: predicts {pos_label!r} where its probability is "
          f"at least that; {metric} {achieved:.4f} on out-of-fold predictions "
          f"({predicted} of {len(y)} rows predicted {pos_label!r}, "
          f"{int(np.sum(y == pos_label))} are)")
    return _to_json({"value": value, "pos_label": pos_label, "metric": metric,
                     "score": achieved, "folds": folds, "seed": seed,
                     "chosen_on": "out-of-fold predictions"})


def _model_metadata(summary: dict[str, Any], command: str) -> dict[str, Any]:
    """What the model file keeps for ``gbfocal predict``: the scored class, how it was
    chosen, the decision threshold."""
    metadata: dict[str, Any] = {"written_by": command}
    if summary.get("pos_label") is not None:
        metadata["pos_label"] = summary["pos_label"]
        metadata["pos_label_source"] = summary.get("pos_label_source")
    if summary.get("threshold") is not None:
        metadata["threshold"] = summary["threshold"]
    return metadata


def _plot_paths(folder: str | None, *, history: bool) -> dict[str, str]:
    """The plot files of ``--plots DIR`` (none without it), the folder created; matplotlib
    is checked before any work."""
    if folder is None:
        return {}
    from . import _plots

    try:
        _plots.require("--plots")
    except ImportError as exc:
        raise CLIError(str(exc)) from exc
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise CLIError(f"--plots {folder}: not a folder")
    if not path.parent.is_dir():
        raise CLIError(f"--plots {folder}: the folder {path.parent} does not exist")
    path.mkdir(exist_ok=True)
    names = [key for key in _plots.FILES if history or key != "history"]
    return {key: str(path / _plots.FILES[key]) for key in names}


def _write_plots(paths: dict[str, str], y: np.ndarray, pos_label: Any,
                 scores: dict[str, np.ndarray], threshold: dict[str, Any] | None, *,
                 studies: dict[str, Any] | None, scoring: str, force: bool) -> None:
    """Draw and write the plots of ``paths``; the curves need a binary target."""
    from . import _plots

    images: dict[str, bytes] = {}
    if studies and "history" in paths:
        images["history"] = _plots.optimization_history(studies, scoring)
    if scores:
        value = None if threshold is None else float(threshold["value"])
        images["pr"] = _plots.precision_recall(y, scores, pos_label, value)
        images["calibration"] = _plots.calibration(y, scores, pos_label)
    elif "pr" in paths:
        _note("--plots: precision-recall and calibration curves are for binary targets; "
              "not drawn")
    for key, path in list(paths.items()):
        if key in images:
            _write_bytes(path, images[key], force=force)
        else:
            del paths[key]  # not written: not reported either


# ---------------------------------------------------------------------- train
def read_params(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Estimator parameters from ``--params``, and what a tune result says about them.

    Returns ``(params, tuned)``: for the JSON of ``gbfocal tune --output``, its
    ``best_params`` and its ``backend``, ``pos_label`` and ``classes``; for a plain JSON
    object, the object and ``{}``.
    """
    file = Path(path)
    if not file.is_file():
        raise CLIError(f"no such file: {path}")
    try:
        document = json.loads(file.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise CLIError(f"{path} is not JSON: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise CLIError(f"{path} is not UTF-8 text: {exc.reason}") from exc
    if not isinstance(document, dict):
        raise CLIError(
            f"{path} must hold a JSON object: the output of gbfocal tune, or parameter names "
            f"and values; got a JSON {type(document).__name__}"
        )
    if "best_params" not in document:
        return document, {}
    best = document["best_params"]
    if not isinstance(best, dict):
        raise CLIError(f"{path}: best_params must be a JSON object, got {best!r}")
    tuned = {key: document[key] for key in ("backend", "pos_label", "classes", "threshold")
             if key in document}
    return best, tuned


def _estimator_class(backend: str) -> Any:
    from ._registry import estimator_for

    return estimator_for(backend)


def _label_order_alpha(alpha: Any, pos_label: Any, labels: list[Any]) -> Any:
    """A float alpha weighting ``pos_label`` -> what the estimators read (weight of the
    larger label ``labels[1]``): the vector ``[alpha, 1 - alpha]`` when ``pos_label`` is the
    smaller one, so that the value always means what the user meant."""
    number = isinstance(alpha, (int, float)) and not isinstance(alpha, bool)
    if number and len(labels) == 2 and pos_label is not None and pos_label == labels[0]:
        return [float(alpha), 1.0 - float(alpha)]
    return alpha


def _train_pos_label(args: argparse.Namespace, tuned: dict[str, Any], labels: list[Any],
                     y: np.ndarray) -> tuple[Any, str | None]:
    """The class a float alpha weights and ``--threshold-metric`` scores, and how it was
    chosen: ``--pos-label``, else the tune result's, else the minority class (binary
    targets; ``(None, None)`` for multiclass ones)."""
    pos_label = _given_train_pos_label(args, tuned, labels)
    if pos_label is not None:
        return pos_label, _GIVEN if args.pos_label is not None else _FROM_PARAMS
    if len(labels) == 2:
        return _minority(y), _MINORITY
    return None, None


def _given_train_pos_label(args: argparse.Namespace, tuned: dict[str, Any],
                           labels: list[Any]) -> Any:
    """``--pos-label``, else the tune result's, checked; None when neither is given."""
    binary = len(labels) == 2
    if args.pos_label is not None:
        if not binary:
            raise CLIError(
                f"--pos-label is only for binary targets; {args.target!r} has {len(labels)} "
                "classes"
            )
        pos_label = _match_label(args.pos_label, labels)
        if pos_label not in labels:
            raise CLIError(f"--pos-label {args.pos_label!r} is not one of the labels {labels}")
        return pos_label
    if tuned.get("pos_label") is not None:
        # checked as --pos-label is: a pos_label that is no label would leave a float
        # alpha weighing the larger label, whichever class was tuned as positive
        value = tuned["pos_label"]
        if not binary:
            raise CLIError(
                f"{args.params}: pos_label {value!r} is only for binary targets; "
                f"{args.target!r} has {len(labels)} classes"
            )
        pos_label = _match_label(str(value), labels)
        if pos_label not in labels:
            raise CLIError(
                f"{args.params}: pos_label {value!r} is not one of the labels {labels}"
            )
        return pos_label
    return None


def _train_params(args: argparse.Namespace, loaded: dict[str, Any], tuned: dict[str, Any],
                  labels: list[Any], pos_label: Any) -> dict[str, Any]:
    """The estimator parameters of ``gbfocal train``, from lowest to highest priority:
    ``--params``, ``--param``, ``--alpha`` / ``--gamma`` / ``--seed`` / ``--n-jobs``."""
    params = dict(loaded)
    if not tuned and "alpha" in params:
        # a plain parameter file is the user's own: its float alpha weights --pos-label
        # (a tune result's best_params are already in the estimators' label order)
        params["alpha"] = _label_order_alpha(params["alpha"], pos_label, labels)
    params.update(_fixed_param(text) for text in args.param)
    if "alpha" in vars(args):
        params["alpha"] = _label_order_alpha(args.alpha, pos_label, labels)
    if "gamma" in vars(args):
        params["gamma"] = args.gamma
    if args.seed is not None:
        params["random_state"] = args.seed
    if args.n_jobs is not None:
        params["n_jobs"] = args.n_jobs
    return params


def _command_train(args: argparse.Namespace) -> int:
    plots = _plot_paths(args.plots, history=False)
    check_outputs([args.output, *plots.values()], [args.data, args.params], force=args.force)
    loaded, tuned = ({}, {}) if args.params is None else read_params(args.params)
    backend = args.backend or tuned.get("backend") or "lightgbm"
    if backend not in BOOSTER_BACKENDS:
        raise CLIError(f"{args.params}: unknown backend {backend!r}: use one of {BOOSTER_BACKENDS}")
    _require_backend(backend)
    X, y = split_features(_read(args.data, args.sep), args.target)
    _categorical_note(X)
    labels = sorted(set(y.tolist()))  # the estimators' classes_ order (np.unique)
    if args.threshold_metric is not None and len(labels) != 2:
        raise CLIError(f"--threshold-metric is for binary targets; {args.target!r} has "
                       f"{len(labels)} classes")
    if isinstance(tuned.get("classes"), list) \
            and sorted(map(str, tuned["classes"])) != sorted(map(str, labels)):
        # a tuned alpha vector is in the tuned labels' order: on other labels it means nothing
        raise CLIError(
            f"{args.params} was tuned on the classes {tuned['classes']} but target column "
            f"{args.target!r} has {labels}"
        )
    pos_label, source = _train_pos_label(args, tuned, labels, y)
    summary: dict[str, Any] = {"pos_label": pos_label, "pos_label_source": source,
                               "class_counts": _class_counts(y)}
    if pos_label is not None:
        _note(f"positive class: {pos_label!r}" + (
            _scored_class_reason(summary) if source != _FROM_PARAMS
            else f" (the pos_label of {args.params})"))
    params = _train_params(args, loaded, tuned, labels, pos_label)
    estimator_class = _estimator_class(backend)
    valid = estimator_class().get_params()
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise CLIError(
            f"unknown parameters {unknown} for {estimator_class.__name__} ({backend}); valid "
            f"names: {sorted(valid)}"
        )
    estimator = estimator_class(**params).fit(X, y)
    shown = ", ".join(
        f"{name}={params[name]!r}" for name in ("alpha", "gamma", "n_estimators") if name in params
    )
    _note(
        f"trained {estimator_class.__name__} on {X.shape[0]} rows x {X.shape[1]} features, "
        f"classes {_to_json(estimator.classes_)}" + (f" ({shown})" if shown else "")
    )
    score = None
    if pos_label is not None and (args.threshold_metric is not None or plots):
        # the package's thread rule: one thread per fit unless --n-jobs says otherwise
        fold_params = {"n_jobs": 1, **params}
        _note(f"out-of-fold predictions of these parameters ({args.threshold_cv} stratified "
              "folds)")
        score = _out_of_fold(estimator_class(**fold_params), X, y, pos_label,
                             folds=args.threshold_cv, seed=_fold_seed(args.seed))
    if args.threshold_metric is not None:
        assert score is not None
        summary["threshold"] = _choose(args.threshold_metric, y, pos_label, score,
                                       folds=args.threshold_cv, seed=_fold_seed(args.seed))
    else:
        summary["threshold"] = _tuned_threshold(args, tuned, pos_label)
    _save_model(estimator, args.output, force=args.force,
                metadata=_model_metadata(summary, "gbfocal train"))
    if plots:
        scores = {} if score is None else {estimator_class.__name__: score}
        _write_plots(plots, y, pos_label, scores, summary["threshold"], studies=None,
                     scoring="", force=args.force)
    for written in (args.output, *plots.values()):
        print(f"wrote {written}", file=sys.stderr)
    return 0


def _tuned_threshold(args: argparse.Namespace, tuned: dict[str, Any],
                     pos_label: Any) -> dict[str, Any] | None:
    """The threshold of a tune result given with ``--params``, when it still describes the
    model: no ``--param`` / ``--alpha`` / ``--gamma`` changed it, and it is for the scored
    class. Said on stderr either way."""
    saved = tuned.get(_THRESHOLD)
    if saved is None:
        return None
    changed = [option for option, given in (("--param", bool(args.param)),
                                            ("--alpha", "alpha" in vars(args)),
                                            ("--gamma", "gamma" in vars(args))) if given]
    if not isinstance(saved, dict) or not _is_probability(saved.get("value")):
        raise CLIError(f"{args.params}: threshold must be an object with a 'value' in [0, 1], "
                       f"got {saved!r}")
    if changed:
        _note(f"the decision threshold of {args.params} is not used: {', '.join(changed)} "
              "changed the model (--threshold-metric chooses one for it)")
        return None
    if not _same_label(saved.get("pos_label"), pos_label):
        _note(f"the decision threshold of {args.params} is for the class "
              f"{saved.get('pos_label')!r}, not {pos_label!r}: not used (--threshold-metric "
              "chooses one)")
        return None
    _note(f"decision threshold {saved['value']:.4g} from {args.params} "
          f"({saved.get('metric')} on out-of-fold predictions of gbfocal tune)")
    return saved


def _is_probability(value: Any) -> bool:
    from ._threshold import is_probability

    return is_probability(value)


def _same_label(a: Any, b: Any) -> bool:
    """Labels equal as values or as text (a JSON file keeps 0 as 0, a CSV may read '0')."""
    return bool(a == b) or str(a) == str(b)


# -------------------------------------------------------------------- predict
def _load_model(path: str) -> tuple[Any, dict[str, Any]]:
    """The model of a model file, and the metadata saved with it."""
    if not Path(path).is_file():
        raise CLIError(f"no such file: {path}")
    from .persist import load_model_with_metadata

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


def _decision(args: argparse.Namespace, model: Any,
              metadata: dict[str, Any]) -> tuple[Any, float, str] | None:
    """``(positive class, threshold, where the threshold comes from)`` of ``predict``, or
    None for the argmax.

    ``--threshold`` wins, then the threshold saved in the model file (by ``tune`` /
    ``train --threshold-metric``); ``--threshold none`` is the argmax whatever the file
    says. The positive class: ``--pos-label``, else the file's, else the larger label.
    """
    classes = model.classes_.tolist()
    if args.threshold == _NO_THRESHOLD:
        return None
    if len(classes) != 2:
        for option, value in (("--threshold", args.threshold), ("--pos-label", args.pos_label)):
            if value is not None:
                raise CLIError(f"{option} is for binary models; {args.model} has "
                               f"{len(classes)} classes {classes}")
        return None
    saved = metadata.get(_THRESHOLD)
    if args.pos_label is not None:
        pos_label = _match_label(args.pos_label, classes)
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
    if not isinstance(saved, dict) or not _is_probability(saved.get("value")):
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
        if _same_label(label, value):
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


def _command_predict(args: argparse.Namespace) -> int:
    pd = _pandas()
    output_suffix = None if args.output is None else Path(args.output).suffix.lower()
    if output_suffix is not None and output_suffix not in _CSV_SUFFIXES + _PARQUET_SUFFIXES:
        raise CLIError(
            f"unsupported output type {output_suffix or '(none)'!r} for {args.output}: "
            "use .csv, .tsv or .parquet"
        )
    check_outputs([args.output], [args.model, args.data], force=args.force)
    model, metadata = _load_model(args.model)
    decision = _decision(args, model, metadata)
    table = _read(args.data, args.sep)
    missing = [name for name in args.keep if name not in table.columns]
    if missing:
        raise CLIError(f"--keep: {args.data} has no columns {missing}")
    X = _prediction_features(model, table, args.data)
    if args.n_jobs is not None:
        model.set_params(n_jobs=args.n_jobs)
    columns = [f"{_PROBA_PREFIX}{label}" for label in model.classes_]
    added = [_PREDICTED] + ([_THRESHOLD] if decision is not None else [])
    clashes = _duplicates([*args.keep, *columns, *added])
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
        frame[_THRESHOLD] = threshold
        _note(f"predicted {pos_label!r} where its probability is at least {threshold:.4g} "
              f"({how}): {int(positive.sum())} of {len(positive)} rows")
    if args.keep:
        kept = table[list(args.keep)].reset_index(drop=True)
        frame = pd.concat([kept, frame], axis=1)
    sep = "\t" if output_suffix == ".tsv" else args.sep or ","
    if args.output is None:
        for chunk in _csv_chunks(frame, sep):
            sys.stdout.write(chunk)
        return 0
    if output_suffix in _PARQUET_SUFFIXES:
        _write_file(args.output, lambda name: _write_parquet(frame, name, args.output),
                    force=args.force)
    else:
        _write_file(args.output, lambda name: _write_csv(frame, name, sep), force=args.force)
    _note(f"predicted {len(frame)} rows, classes {[_to_json(c) for c in model.classes_]}")
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
        _note(f"warning: {line}: predicted as missing values")
    return proba


def _unseen_line(message: Any, data: str) -> str:
    """``column 'city' of new.csv: 3 rows have values not seen in training ('Oslo')``."""
    values = list(message.unseen_values)
    shown = ", ".join(repr(_to_json(v)) for v in values[:5])
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


# ----------------------------------------------------------------------- main
def _command_demo(args: argparse.Namespace) -> int:
    from . import demo  # imports its libraries when it runs

    if args.trials < 1:
        raise CLIError(f"--trials must be at least 1, got {args.trials}")
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise CLIError(f"--output {args.output}: not a folder")
    demo.run(trials=args.trials, backend=args.backend, seed=args.seed, output=output)
    return 0


_COMMANDS = {"tune": _command_tune, "train": _command_train, "predict": _command_predict,
             "demo": _command_demo}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``gbfocal`` and ``python -m gbfocal``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # no command is a request for the overview, not a mistake
        parser.print_help()
        return 0
    # SIGTERM (kill, a job scheduler, a container stopping) ends a command as Ctrl-C does:
    # finally blocks run, no temporary file stays, no output file is left cut
    with _interrupt_handlers():
        try:
            return _COMMANDS[args.command](args)
        except CLIError as exc:
            print(f"gbfocal: error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        except (ValueError, TypeError, ImportError, OSError, RuntimeError) as exc:
            # the estimators' and tune_focal's argument checks name the problem; the
            # traceback adds nothing for users
            print(f"gbfocal: error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        except Terminated:
            print("gbfocal: terminated (SIGTERM)", file=sys.stderr)
            return EXIT_TERMINATED
        except KeyboardInterrupt:
            print("gbfocal: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
