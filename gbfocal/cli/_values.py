"""Option values from text: search-space specs, parameters, alpha, separators, thresholds.

``--alpha 0.05:0.95,balanced``, ``--param num_leaves=8:64``, ``--sep ';'``, ``--threshold
none``: the parser's ``type=`` functions and the parsing of repeated ``NAME=VALUE`` options.
A function that argparse calls raises ``argparse.ArgumentTypeError`` (a usage error, exit
status 2); the others raise :class:`~gbfocal.cli._messages.CLIError` (exit status 1).
Separate from the parser so that the rules for a value are read (and tested) in one place,
without the help texts around them.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._messages import CLIError

__all__ = ["NO_THRESHOLD", "fixed_alpha", "fixed_param", "parse_param", "parse_spec",
           "positive_int", "scalar", "separator", "spec_argument", "threshold_argument"]

# --threshold none: the argmax, whatever threshold the model file holds
NO_THRESHOLD = "none"


def scalar(text: str) -> Any:
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
    low, high = scalar(parts[0]), scalar(parts[1])
    if not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in (low, high)):
        raise CLIError(f"bad range {text!r}: LOW and HIGH must be numbers")
    return (low, high, "log") if len(parts) == 3 else (low, high)


def parse_spec(text: str) -> Any:
    """A search-space spec from text: ``0:5`` range, ``a,b`` choices, ``x`` fixed value.

    In a list of choices an item may be a range (used for ``--alpha 0.05:0.95,balanced,none``).

    Parameters
    ----------
    text : str
        The spec as given on the command line.

    Returns
    -------
    tuple, list or scalar
        ``(low, high)`` or ``(low, high, "log")`` for a range, a list for choices, else the
        value (``none`` -> None, numbers as ``int`` / ``float``, ``true`` / ``false`` as
        ``bool``).

    Raises
    ------
    CLIError
        A malformed range.
    """
    if "," in text:
        return [_range(item) if ":" in item else scalar(item) for item in text.split(",")]
    if ":" in text:
        return _range(text)
    return scalar(text)


def spec_argument(text: str) -> Any:
    """``parse_spec`` for argparse, which reports ArgumentTypeError as a usage error."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return parse_spec(text)
    except CLIError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def parse_param(text: str) -> tuple[str, Any]:
    """``NAME=SPEC`` of ``tune``: a booster parameter and its search space."""
    name, sep, spec = text.partition("=")
    if not sep or not name.strip() or not spec.strip():
        raise CLIError(f"bad --param {text!r}: use NAME=SPEC, e.g. learning_rate=0.01:0.3:log")
    return name.strip(), parse_spec(spec)


def fixed_param(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` of ``train``: one value (training searches nothing)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise CLIError(f"bad --param {text!r}: use NAME=VALUE, e.g. n_estimators=300")
    if ":" in value or "," in value:
        raise CLIError(
            f"bad --param {text!r}: train takes one value per parameter (ranges and choices "
            "are for gbfocal tune)"
        )
    return name.strip(), scalar(value)


def fixed_alpha(text: str) -> Any:
    """``--alpha`` of ``train``: none, balanced, a float, or per-class weights ``W1,W2,...``."""
    if ":" in text:
        raise argparse.ArgumentTypeError(
            f"bad alpha {text!r}: train takes one value (ranges are for gbfocal tune)"
        )
    if "," in text:
        weights = [scalar(item) for item in text.split(",")]
        if not all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in weights):
            raise argparse.ArgumentTypeError(
                f"bad alpha {text!r}: per-class weights must be numbers, e.g. 1,3"
            )
        return [float(w) for w in weights]
    value = scalar(text)
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def separator(text: str) -> str:
    """``--sep``: one character; ``\\t`` or ``tab`` for a tab."""
    if text in ("\\t", "tab", "TAB"):
        return "\t"
    if len(text) != 1 or text in ('"', "\n", "\r"):
        raise argparse.ArgumentTypeError(
            f"bad separator {text!r}: use one character, e.g. ';' or '|', or \\t (tab)"
        )
    return text


def threshold_argument(text: str) -> float | str:
    """``--threshold``: a probability in [0, 1], or ``none`` for the argmax."""
    if text.strip().lower() in (NO_THRESHOLD, "argmax"):
        return NO_THRESHOLD
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


def positive_int(text: str) -> int:
    """A count >= 2 (folds)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 2:
        raise argparse.ArgumentTypeError(f"bad number of folds {text!r}: use an integer >= 2")
    return value
