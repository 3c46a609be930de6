"""The scored class of a binary target: labels named as text, the minority class, and how
the class was chosen.

A label read from a CSV file may be the number ``0`` where ``--pos-label`` gives the text
``"0"``, and a JSON file keeps what a CSV read: these helpers match them as values or as
text. Binary targets score (and weight with a float alpha) the minority class unless
``--pos-label`` (or a tune result) says otherwise; how the class was chosen is printed and
saved (``pos_label_source``: :data:`MINORITY`, :data:`GIVEN`, :data:`FROM_PARAMS`).
Separate because ``tune``, ``train`` and ``predict`` all name the positive class, in the
same words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._values import scalar

__all__ = ["FROM_PARAMS", "GIVEN", "MINORITY", "class_counts", "match_label", "minority",
           "same_label", "scored_class_reason"]

# how the scored class of a binary target was chosen (pos_label_source in the JSON)
MINORITY = "minority"
GIVEN = "--pos-label"
FROM_PARAMS = "--params"


def match_label(text: str, labels: Sequence[Any]) -> Any:
    """The label of ``y`` that ``--pos-label`` names (labels read from a file may be numbers).

    Unmatched text is returned as is, for tune_focal to reject with the list of labels.
    """
    for candidates in ([c for c in labels if str(c) == text],
                       [c for c in labels if c == scalar(text)]):
        if len(candidates) == 1:
            return candidates[0]
    return text


def same_label(a: Any, b: Any) -> bool:
    """Labels equal as values or as text (a JSON file keeps 0 as 0, a CSV may read '0')."""
    return bool(a == b) or str(a) == str(b)


def minority(y: np.ndarray) -> Any:
    """The label with the fewest rows; of equal counts the larger label (scikit-learn's
    ``classes_[1]``, the positive class of its binary scorers)."""
    labels, counts = np.unique(y, return_counts=True)
    last = len(counts) - 1 - int(np.argmin(counts[::-1]))
    return labels.tolist()[last]


def class_counts(y: np.ndarray) -> dict[str, int]:
    """Rows per label, the labels as text (JSON keys)."""
    labels, counts = np.unique(y, return_counts=True)
    return {str(label): int(count) for label, count in zip(labels.tolist(), counts, strict=True)}


def scored_class_reason(summary: dict[str, Any]) -> str:
    """`` (the minority class: 84 of 1857 rows, 4.5 %; --pos-label sets it)``."""
    counts = summary.get("class_counts") or {}
    count = counts.get(str(summary["pos_label"]))
    total = sum(counts.values())
    share = "" if count is None or not total else f"{count} of {total} rows, {count / total:.1%}"
    source = summary.get("pos_label_source")
    if source == MINORITY:
        return f" (the minority class: {share}; --pos-label sets it)"
    if source == GIVEN:
        return f" (--pos-label; {share})" if share else " (--pos-label)"
    return ""
