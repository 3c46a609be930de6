"""Argument checks shared by the math, the loss objects and the estimators.

Every check raises ``ValueError`` (bad value) or ``TypeError`` (bad type) with a
message that names the argument and shows the offending value, so that a user
mistake never turns into a silently wrong gradient.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

HESSIAN_MODES = ("positive", "exact")


def describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_gamma(gamma: Any) -> float:
    """Return ``gamma`` as a float, or raise if it is not a finite number >= 0."""
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real):
        raise TypeError(f"gamma must be a real number >= 0, got {describe(gamma)}")
    value = float(gamma)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"gamma must be a finite number >= 0, got {value!r}")
    return value


def check_hessian(hessian: Any) -> str:
    """Return the Hessian mode, or raise for anything but 'positive' / 'exact'."""
    if not isinstance(hessian, str) or hessian not in HESSIAN_MODES:
        raise ValueError(
            f"hessian must be one of {HESSIAN_MODES}, got {describe(hessian)}"
        )
    return hessian


def check_n_classes(n_classes: Any) -> int:
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral):
        raise TypeError(f"n_classes must be an integer >= 2, got {describe(n_classes)}")
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    return int(n_classes)


def as_float_array(values: Any, name: str, *, keep_float32: bool = False) -> np.ndarray:
    """A float64 array (float32 kept as it is with ``keep_float32``: the kernels read it)."""
    try:
        array = np.asarray(values)
    except Exception as exc:  # e.g. ragged nested lists
        raise TypeError(f"{name} must be array-like of numbers: {exc}") from exc
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
    ):
        raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise TypeError(f"{name} must be real, got dtype {array.dtype}")
    if keep_float32 and array.dtype == np.float32:
        return array
    return array.astype(np.float64, copy=False)


def check_raw_score_binary(raw_score: Any, *, keep_float32: bool = False) -> np.ndarray:
    """Raw margins for the binary loss: a finite 1-D float64 (or kept float32) array."""
    z = as_float_array(raw_score, "raw_score", keep_float32=keep_float32)
    if z.ndim == 2 and z.shape[1] == 2:
        raise ValueError(
            "raw_score must be a 1-D array of raw margins (logits) for the binary loss, got "
            f"shape {z.shape}; this looks like predict_proba output with one column per class. "
            "Pass the raw margin (e.g. booster.predict(X, raw_score=True)), never probabilities."
        )
    if z.ndim != 1:
        raise ValueError(
            f"raw_score must be 1-D (n_samples,) for the binary loss, got shape {z.shape}"
        )
    check_finite(z, "raw_score")
    return z


def check_raw_score_multiclass(
    raw_score: Any, n_samples: int, *, keep_float32: bool = False
) -> np.ndarray:
    """Raw margins for the softmax loss: a finite (n_samples, K) float array, K >= 2."""
    z = as_float_array(raw_score, "raw_score", keep_float32=keep_float32)
    if z.ndim == 1:
        hint = ""
        if n_samples and z.size % n_samples == 0 and z.size // n_samples >= 2:
            hint = (
                f" It has {z.size} = {n_samples} x {z.size // n_samples} values: reshape a "
                "flattened layout to (n_samples, n_classes) first (LightGBM >= 4 and XGBoost "
                "already pass 2-D arrays)."
            )
        raise ValueError(
            "raw_score must be 2-D (n_samples, n_classes) raw margins for the multiclass loss, "
            f"got shape {z.shape}.{hint}"
        )
    if z.ndim != 2:
        raise ValueError(
            "raw_score must be 2-D (n_samples, n_classes) for the multiclass loss, "
            f"got shape {z.shape}"
        )
    if z.shape[0] != n_samples:
        transposed = " (transposed? expected samples in rows)" if z.shape[1] == n_samples else ""
        raise ValueError(
            f"raw_score has {z.shape[0]} rows but y_true has {n_samples} samples{transposed}"
        )
    if z.shape[1] < 2:
        raise ValueError(f"raw_score must have at least 2 columns (classes), got shape {z.shape}")
    check_finite(z, "raw_score")
    return z


def check_finite(array: np.ndarray, name: str) -> None:
    if array.size == 0:
        raise ValueError(f"{name} is empty: at least one sample is required")
    # A finite sum proves every value finite (NaN and infinities propagate) without a
    # boolean temporary; only a non-finite or overflowing sum needs the full check.
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(array)):
            return
    if not np.isfinite(array).all():
        bad = array[~np.isfinite(array)].ravel()[0]
        raise ValueError(f"{name} must be finite, found {bad!r} (NaN or infinity)")


def check_binary_labels(y_true: Any, n_samples: int) -> np.ndarray:
    """Binary labels as an int8 0/1 array; accepts bool, int or float 0.0/1.0."""
    y = as_float_array(y_true, "y_true")
    if y.ndim != 1:
        raise ValueError(f"y_true must be 1-D (n_samples,), got shape {y.shape}")
    if y.shape[0] != n_samples:
        raise ValueError(
            f"y_true has {y.shape[0]} samples but raw_score has {n_samples}: shapes must match"
        )
    if y.size == 0:
        raise ValueError("y_true is empty: at least one sample is required")
    bad = (y != 0) & (y != 1)
    if bad.any():
        raise ValueError(
            f"y_true must hold binary labels 0/1 for the binary loss, found {y[bad][0]!r}; "
            "map your classes to 0/1 (the positive class is 1)"
        )
    return y.astype(np.int8)


def check_multiclass_labels(y_true: Any, n_samples: int, n_classes: int) -> np.ndarray:
    """Class indices 0..n_classes-1 as an intp array (integral floats are accepted)."""
    y = as_float_array(y_true, "y_true")
    if y.ndim != 1:
        raise ValueError(f"y_true must be 1-D (n_samples,), got shape {y.shape}")
    if y.shape[0] != n_samples:
        raise ValueError(
            f"y_true has {y.shape[0]} samples but raw_score has {n_samples} rows: shapes must match"
        )
    if y.size == 0:
        raise ValueError("y_true is empty: at least one sample is required")
    bad = ~np.isfinite(y) | (y != np.round(y)) | (y < 0) | (y >= n_classes)
    if bad.any():
        raise ValueError(
            f"y_true must hold class indices 0..{n_classes - 1} (n_classes={n_classes}), "
            f"found {y[bad][0]!r}"
        )
    return y.astype(np.intp)


def check_sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray | None:
    """None, or a finite non-negative float64 array of length n_samples."""
    if sample_weight is None:
        return None
    w = as_float_array(sample_weight, "sample_weight")
    if w.ndim != 1 or w.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), got shape {w.shape}"
        )
    check_finite(w, "sample_weight")
    if (w < 0).any():
        raise ValueError(f"sample_weight must be non-negative, found {w[w < 0][0]!r}")
    return w


def check_alpha_vector(alpha: Any, n_classes: int) -> np.ndarray:
    """A sequence of per-class weights: finite, non-negative, one per class."""
    a = as_float_array(alpha, "alpha")
    if a.ndim != 1 or a.shape[0] != n_classes:
        raise ValueError(
            f"alpha as a sequence must have one non-negative weight per class ({n_classes}), "
            f"got shape {a.shape}: {describe(alpha)}"
        )
    if not np.isfinite(a).all() or (a < 0).any():
        raise ValueError(f"alpha weights must be finite and non-negative, got {describe(alpha)}")
    return a.copy()


# --------------------------------------------------------------------------- multi-output
def check_multioutput_label_array(y_true: Any) -> np.ndarray:
    """Multi-output labels as a non-empty 2-D float64 array (n_samples, n_outputs)."""
    y = as_float_array(y_true, "y_true")
    if y.ndim != 2:
        raise ValueError(
            f"y_true must be 2-D (n_samples, n_outputs) for the multi-output loss, got shape "
            f"{y.shape}"
        )
    if y.size == 0:
        raise ValueError(f"y_true is empty (shape {y.shape}): at least one entry is required")
    return y


def check_raw_score_multioutput(raw_score: Any, n_samples: int, n_outputs: int) -> np.ndarray:
    """Raw margins (n, A, K) or flat output-major (n, A*K) as a finite (n, A, K) array."""
    z = as_float_array(raw_score, "raw_score")
    expected = f"({n_samples}, {n_outputs}, n_classes) or ({n_samples}, {n_outputs} * n_classes)"
    if z.ndim not in (2, 3):
        raise ValueError(f"raw_score must have shape {expected}, got shape {z.shape}")
    if z.shape[0] != n_samples:
        raise ValueError(
            f"raw_score has {z.shape[0]} rows but y_true has {n_samples}: shapes must match"
        )
    if z.ndim == 3 and z.shape[1] != n_outputs:
        raise ValueError(
            f"raw_score has {z.shape[1]} outputs (shape {z.shape}) but y_true has {n_outputs} "
            "columns: the number of outputs must match"
        )
    if z.ndim == 2:
        if z.shape[1] % n_outputs:
            raise ValueError(
                f"flat raw_score has {z.shape[1]} columns, not a multiple of the {n_outputs} "
                f"outputs of y_true; expected shape {expected}"
            )
        z = z.reshape(n_samples, n_outputs, z.shape[1] // n_outputs)
    if z.shape[2] < 2:
        raise ValueError(
            f"raw_score must have at least 2 classes per output, got shape {np.shape(raw_score)}"
        )
    check_finite(z, "raw_score")
    return z


def check_ignore_label(ignore_label: Any, n_classes: int | None = None) -> int | None:
    """None, or an integer that is not a class index ``0..n_classes-1``."""
    if ignore_label is None:
        return None
    if isinstance(ignore_label, bool) or not isinstance(ignore_label, numbers.Integral):
        raise TypeError(f"ignore_label must be an integer or None, got {describe(ignore_label)}")
    if n_classes is not None and 0 <= int(ignore_label) < n_classes:
        raise ValueError(
            f"ignore_label={ignore_label} is a class index (0..{n_classes - 1}): use a value "
            "outside the classes, e.g. -1"
        )
    return int(ignore_label)


def check_multioutput_labels(
    y: np.ndarray, n_classes: int, ignore_label: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Class indices (intp, 0 where ignored) and the mask of labelled entries.

    Raises if a label is neither a class index nor ``ignore_label``, or if every entry
    is ignored (there would be nothing to learn from).
    """
    ignore = check_ignore_label(ignore_label, n_classes)
    labelled = np.ones(y.shape, dtype=bool) if ignore is None else y != ignore
    bad = labelled & (~np.isfinite(y) | (y != np.round(y)) | (y < 0) | (y >= n_classes))
    if bad.any():
        row, col = (int(i[0]) for i in np.nonzero(bad))
        marker = "" if ignore is None else f" or ignore_label={ignore}"
        raise ValueError(
            f"y_true must hold class indices 0..{n_classes - 1} (n_classes={n_classes}){marker}, "
            f"found {float(y[row, col])!r} at row {row}, output {col}"
        )
    if not labelled.any():
        raise ValueError(
            f"every entry of y_true equals ignore_label={ignore}: there is no labelled "
            "(row, output) pair"
        )
    return np.where(labelled, y, 0).astype(np.intp), labelled


def check_multioutput_sample_weight(
    sample_weight: Any, n_samples: int, n_outputs: int
) -> np.ndarray | None:
    """None, or finite non-negative weights broadcast to (n_samples, n_outputs)."""
    if sample_weight is None:
        return None
    w = as_float_array(sample_weight, "sample_weight")
    if w.ndim == 1:
        row_weight = check_sample_weight(w, n_samples)
        assert row_weight is not None  # None only for sample_weight=None
        return np.broadcast_to(row_weight[:, None], (n_samples, n_outputs))
    if w.shape != (n_samples, n_outputs):
        raise ValueError(
            f"sample_weight must have shape ({n_samples},) or ({n_samples}, {n_outputs}), "
            f"got shape {w.shape}"
        )
    check_finite(w, "sample_weight")
    if (w < 0).any():
        raise ValueError(f"sample_weight must be non-negative, found {w[w < 0][0]!r}")
    return w
