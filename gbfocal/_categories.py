"""pandas input of the estimators: category columns, text columns, unseen categories.

Both libraries read pandas ``category`` columns natively (LightGBM's categorical
features, XGBoost's ``enable_categorical``) but disagree on values that were not
categories in ``fit``: LightGBM treats them as missing, XGBoost 3.2 maps some to a
neighbouring category and fails in C++ on others. So gbfocal decides in Python, before a
library sees the data (:func:`with_known_categories`): unseen values become missing
values for both, with an :class:`UnseenCategoryWarning`, or a ValueError with
``unseen_category="error"``. A DataFrame's text columns are refused with their names.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np

__all__ = ["UNSEEN_CATEGORY_OPTIONS", "X_CHECKS", "XGB_CATEGORIES_ATTR", "UnseenCategoryWarning",
           "category_columns", "pandas_categories", "refuse_text_columns",
           "with_known_categories", "with_numeric_columns", "xgboost_categories"]

# Input accepted by fit / predict: dense or sparse numbers; NaN means "missing", which
# both libraries handle natively (scikit-learn's check_array arguments).
X_CHECKS: dict[str, Any] = {
    "accept_sparse": ("csr", "csc"),
    "dtype": (np.float64, np.float32),
    "ensure_all_finite": "allow-nan",
}


def category_columns(X: Any) -> list[int]:
    """Positions of the pandas ``category`` columns of a DataFrame (none for other input)."""
    if not hasattr(X, "columns") or not hasattr(X, "dtypes"):
        return []
    return [j for j, dtype in enumerate(X.dtypes) if getattr(dtype, "name", None) == "category"]


# what pandas.api.types.infer_dtype calls a column that holds text
_TEXT_KINDS = ("string", "unicode", "bytes", "mixed", "mixed-integer")


def refuse_text_columns(X: Any) -> None:
    """ValueError naming a DataFrame's text (object / string) columns.

    Without this, scikit-learn's conversion to floats fails on the first string it meets
    ("could not convert string to float: 'Paris'"), naming neither the column nor the fix.
    Object columns that hold only numbers pass, as before.
    """
    if not hasattr(X, "columns") or not hasattr(X, "dtypes") or not hasattr(X, "iloc"):
        return
    from pandas.api.types import infer_dtype

    text = [f"{name!r} ({dtype})"
            for j, (name, dtype) in enumerate(zip(X.columns, X.dtypes, strict=True))
            if getattr(dtype, "kind", None) in ("O", "S", "U")
            and infer_dtype(X.iloc[:, j], skipna=True) in _TEXT_KINDS]
    if text:
        shown = ", ".join(text[:10]) + (f" and {len(text) - 10} more" if len(text) > 10 else "")
        raise ValueError(
            f"X has text columns {shown}: the estimators take numbers, booleans and pandas "
            "'category' columns. Use the category dtype for categorical features "
            "(X[col] = X[col].astype('category'); LightGBM and XGBoost split on them "
            "natively), or convert the columns to numbers"
        )


class UnseenCategoryWarning(UserWarning):
    """A pandas ``category`` column holds values that were not categories in ``fit``.

    :class:`FocalLGBMClassifier` and :class:`FocalXGBClassifier` predict such cells as
    missing values (NaN), the same for both libraries, and warn once per column and call
    with the column's name and (the first few of) its unseen values; with
    ``unseen_category="error"`` they raise ValueError instead.

    Parameters
    ----------
    message : str
        The text shown.
    column : object
        The column's name (its position for a DataFrame without names).
    unseen_values : list
        Every unseen value of the column, sorted (by their text when of mixed types).
    n_rows : int
        The rows that hold one.
    """

    def __init__(self, message: str, column: Any = None, unseen_values: Any = (),
                 n_rows: int = 0) -> None:
        super().__init__(message)
        self.column = column
        self.unseen_values = list(unseen_values)
        self.n_rows = n_rows


# the values the unseen_category parameter takes
UNSEEN_CATEGORY_OPTIONS = ("missing", "error")
# unseen values named in a warning or error (then how many more there are)
_UNSEEN_SHOWN = 5
# XGBoost booster attribute (saved with the model) holding the training categories as JSON:
# the booster keeps them too, but reads them back only through pyarrow
XGB_CATEGORIES_ATTR = "gbfocal_pandas_categorical"


def pandas_categories(X: Any) -> list[list[Any]]:
    """The categories of each pandas ``category`` column of ``X``, in column order.

    The layout of LightGBM's ``Booster.pandas_categorical``, which LightGBM saves with the
    model; :class:`FocalXGBClassifier` saves the same list as a booster attribute.
    """
    return [X.iloc[:, j].cat.categories.tolist() for j in category_columns(X)]


def _sorted(values: Any) -> list[Any]:
    """Sorted values; sorted by their text where they do not compare (mixed types)."""
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _unseen_text(name: Any, values: list[Any], n_rows: int, where: str) -> str:
    """``column 'city' of X: 3 rows have values not among its categories in fit: [...]``."""
    shown = values[:_UNSEEN_SHOWN]
    more = f" and {len(values) - len(shown)} more" if len(values) > len(shown) else ""
    return (f"column {name!r} of {where}: {n_rows} row{'s' if n_rows != 1 else ''} "
            f"{'have' if n_rows != 1 else 'has'} values that were not among its categories "
            f"in fit: {shown}{more}")


def with_known_categories(X: Any, known: list[list[Any]] | None, *, unseen: Any,
                           where: str = "X") -> Any:
    """``X`` whose category columns have exactly the training categories, matched by value.

    Both libraries then read the codes of ``fit``: a column whose categories are ordered
    differently (or are a subset, or a superset) keeps the meaning of its values, and a
    value that was not a training category becomes NaN, a missing value, for both
    libraries (left alone, XGBoost maps it to a neighbouring category or fails in C++,
    LightGBM treats it as missing). ``unseen="error"`` raises ValueError instead.

    Parameters
    ----------
    X : DataFrame or array-like
        Prediction (or validation) data, its category columns in the positions of ``fit``
        (checked before); anything without category columns is returned as is.
    known : list of list or None
        The training categories of each category column, in column order
        (:func:`pandas_categories`); None when the model does not say: ``X`` as is.
    unseen : {"missing", "error"}
        The estimator's ``unseen_category``.
    where : str, default="X"
        What ``X`` is, for the messages (``"eval_set[0]"`` ...).

    Returns
    -------
    X : DataFrame or array-like
        ``X`` itself when nothing changes, else a shallow copy with new category columns.

    Raises
    ------
    ValueError
        With ``unseen="error"``, for the first column with unseen values; for an
        ``unseen`` other than "missing" and "error".
    """
    if unseen not in UNSEEN_CATEGORY_OPTIONS:
        raise ValueError(
            f"unseen_category must be one of {list(UNSEEN_CATEGORY_OPTIONS)}, got {unseen!r}"
        )
    positions = category_columns(X)
    if known is None or not positions or len(known) != len(positions):
        return X  # a count mismatch is reported by _check_predict_categories
    frame = None
    for j, categories in zip(positions, known, strict=True):
        column = X.iloc[:, j]
        if column.cat.categories.tolist() == list(categories):
            continue  # the training dtype itself: nothing to map (the common case)
        recoded = column.cat.set_categories(categories)  # by value; unknown values -> NaN
        lost = recoded.isna().to_numpy() & column.notna().to_numpy()
        if lost.any():
            values = _sorted(set(column[lost].tolist()))
            text = _unseen_text(X.columns[j], values, int(lost.sum()), where)
            if unseen == "error":
                raise ValueError(
                    f"{text} (unseen_category='error'; unseen_category='missing' predicts "
                    "them as missing values)"
                )
            warnings.warn(UnseenCategoryWarning(
                f"{text}: predicted as missing values (NaN); unseen_category='error' "
                "refuses them", X.columns[j], values, int(lost.sum())), stacklevel=3)
        if frame is None:
            frame = X.copy(deep=False)  # the caller's frame keeps its columns
        frame.isetitem(j, recoded)
    return X if frame is None else frame


def xgboost_categories(booster: Any) -> list[list[Any]] | None:
    """The training categories of an XGBoost booster, as :func:`pandas_categories`.

    From the attribute :class:`FocalXGBClassifier` stores; for another booster (a model
    saved before, or trained elsewhere) from XGBoost itself, which needs pyarrow to say;
    None when neither is available.
    """
    stored = booster.attr(XGB_CATEGORIES_ATTR)
    if stored is not None:
        return list(json.loads(stored))
    try:
        columns = booster.get_categories(export_to_arrow=True).to_arrow()
    except Exception:  # no pyarrow, or no categories to export
        return None
    return [array.to_pylist() for _, array in columns if array is not None]


def with_numeric_columns(X: Any, categories: list[int]) -> Any:
    """A shallow copy of the DataFrame ``X`` whose non-category columns are checked floats.

    The category columns stay as they are: both libraries read them natively (and LightGBM
    stores their categories in the model, to map them the same way at predict time).
    """
    if X.shape[0] < 1:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required."
        )
    categorical = set(categories)
    numeric = [j for j in range(X.shape[1]) if j not in categorical]
    frame = X.copy(deep=False)
    if numeric:
        from sklearn.utils.validation import check_array

        values = check_array(X.iloc[:, numeric], input_name="X", **X_CHECKS)
        for position, j in enumerate(numeric):
            frame.isetitem(j, values[:, position])  # a new column; X itself is untouched
    return frame
