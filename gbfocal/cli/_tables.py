"""The input tables: CSV (separator detected) or Parquet files, their features and target.

Reading is where most user mistakes show (a missing file, a semicolon file, a duplicated
column, a header without rows, a one-class target): each becomes one
:class:`~gbfocal.cli._messages.CLIError` naming the file and the problem. String columns
become pandas ``category`` features. pandas is imported when a table is read (an install
hint otherwise). Separate from the commands: ``tune``, ``train`` and ``predict`` read alike.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._optional import import_optional, install_hint
from ._messages import CLIError, note

__all__ = ["CSV_SUFFIXES", "PARQUET_SUFFIXES", "as_features", "duplicates", "import_pandas",
           "note_categorical_columns", "read_data", "read_input", "read_table",
           "split_features"]

CSV_SUFFIXES = (".csv", ".txt", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
# separators csv.Sniffer may choose: anything else (space, letters) is more often data
_SNIFF_DELIMITERS = ",;\t|"
_SNIFF_BYTES = 64 * 1024


def import_pandas() -> Any:
    """pandas, or a :class:`CLIError` with the install hint."""
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


def duplicates(names: Sequence[Any]) -> list[str]:
    """The names (as text) that occur more than once, in the order of their second use."""
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

    Parameters
    ----------
    path : str
        The file; its suffix chooses the format.
    sep : str or None, default=None
        The CSV separator (``--sep``); None detects it.

    Returns
    -------
    table : pandas.DataFrame
        The rows, at least one.
    separator : str or None
        The separator used (None for Parquet).

    Raises
    ------
    CLIError
        A missing, empty, unreadable or unsupported file, or duplicated column names.
    """
    pd = import_pandas()
    file = Path(path)
    if not file.is_file():
        raise CLIError(f"no such file: {path}")
    suffix = file.suffix.lower()
    used_sep: str | None = None
    try:
        if suffix in PARQUET_SUFFIXES:
            table = pd.read_parquet(file)
            repeated = duplicates(table.columns)
        elif suffix in CSV_SUFFIXES:
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
            repeated = duplicates(_csv_header(pd, file, options))
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


def read_input(path: str, sep: str | None) -> Any:
    """Read a table, saying which separator was detected when it is not the comma."""
    table, used = read_data(path, sep)
    if sep is None and used not in (None, ",", "\t"):
        note(f"{path}: separator {used!r} detected (--sep sets it)")
    return table


def as_features(X: Any) -> Any:
    """Feature columns ready for the estimators.

    Numbers and booleans stay as they are (NaN is a missing value); string / object columns
    become pandas ``category`` columns, which the estimators pass to LightGBM as categorical
    features and to XGBoost with ``enable_categorical``; ``category`` columns stay.

    Parameters
    ----------
    X : pandas.DataFrame
        The feature columns; not changed (a converted copy is returned).

    Returns
    -------
    pandas.DataFrame
        ``X``, or a copy with its text columns as ``category`` columns.

    Raises
    ------
    CLIError
        A column of another type (dates, complex numbers, ...), named.
    """
    pd = import_pandas()
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
    """Features (every other column, see :func:`as_features`) and the target column, checked.

    Parameters
    ----------
    table : pandas.DataFrame
        The rows read from the data file.
    target : str
        The name of the label column (``--target``).

    Returns
    -------
    X : pandas.DataFrame
        The feature columns.
    y : numpy.ndarray
        The labels.

    Raises
    ------
    CLIError
        A missing target column, missing labels, a single class, or no feature column.
    """
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


def note_categorical_columns(X: Any) -> None:
    """Say which columns the models see as categorical (a numeric column read as text
    because of one odd value would be among them)."""
    pd = import_pandas()
    categorical = [str(c) for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    if categorical:
        note(f"categorical feature columns: {categorical[:20]}")
