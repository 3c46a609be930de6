"""Structural checks of a native model before LightGBM or XGBoost parses it.

LightGBM's text-model parser and XGBoost's JSON-model loader trust their input: an
out-of-range child index, a split on a feature the model does not have, a node that is
its own child or a ``tree_sizes`` entry that does not match its tree make them read
outside their buffers or loop forever (SIGSEGV, abort, a ``predict`` that never
returns). :func:`gbfocal.load_model` therefore hands a library only a model that these
checks accept: every field the library reads is present, of the right type and count,
in range, and the trees are trees (every node reached exactly once from the root, no
deeper than :data:`MAX_TREE_DEPTH`).

The checks only parse text and JSON (no LightGBM or XGBoost import) and are stricter
than the libraries: they accept what the libraries write, in the layout they write it,
not everything the libraries would read. Each failure is a ``ValueError`` naming the
tree, field and index, and showing the bad value.

Examples
--------
>>> check_nesting('{"a": [[1]]}', limit=3)
>>> check_nesting('{"a": [[[1]]]}', limit=3)
Traceback (most recent call last):
...
ValueError: JSON nested deeper than 3 levels (arrays and objects)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "MAX_CATEGORY",
    "MAX_NESTING",
    "MAX_TREE_DEPTH",
    "BoosterShape",
    "check_lightgbm_model",
    "check_nesting",
    "check_xgboost_model",
    "loads",
]

#: Deepest nesting of JSON arrays and objects accepted in a model file (the gbfocal
#: document, the embedded XGBoost model, the saved pandas categories). Python's ``json``
#: raises RecursionError and XGBoost's recursive JSON reader can overflow the C stack on
#: deep nesting; valid files nest fewer than 10 levels.
MAX_NESTING = 64
#: Deepest tree accepted (edges from the root to the deepest leaf). The libraries' SHAP
#: and depth code recurses along a tree and allocates depth**2 path entries.
MAX_TREE_DEPTH = 2048
#: Categories of an XGBoost categorical split must be < 2**24: XGBoost treats larger
#: values as invalid categories (they are not exact float32 integers) and allocates a
#: bitset of (largest category / 32) words per split.
MAX_CATEGORY = 1 << 24
# Total words of the bitsets XGBoost allocates for one model's categorical splits (a
# small file could otherwise ask for gigabytes).
_MAX_CATEGORY_WORDS = 1 << 26

_INT32_MAX = (1 << 31) - 1


@dataclass(frozen=True)
class BoosterShape:
    """What a checked native model holds.

    Attributes
    ----------
    library : str
        ``"lightgbm"`` or ``"xgboost"``.
    n_features : int
        Features the model takes (LightGBM ``max_feature_idx + 1``, XGBoost
        ``num_feature``).
    n_outputs : int
        Margins per row: LightGBM ``num_class``, XGBoost ``max(num_class, num_target, 1)``.
    num_class : int
        The library's ``num_class`` field (XGBoost writes 0 for a binary model).
    n_rounds : int
        Boosting rounds (trees / trees per round).
    trees_per_round : int
        Trees of one round.
    objective : str or None
        XGBoost's objective name; None for LightGBM (gbfocal's models have none).
    base_score : tuple of float
        XGBoost's ``base_score`` per output (as XGBoost stores it); empty for LightGBM.
    """

    library: str
    n_features: int
    n_outputs: int
    num_class: int
    n_rounds: int
    trees_per_round: int
    objective: str | None = None
    base_score: tuple[float, ...] = ()


# --------------------------------------------------------------------------- JSON
# A JSON string (escapes included) or one bracket: strings are skipped whole, so brackets
# inside them do not count.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[{\]}]', re.DOTALL)


def check_nesting(text: str, limit: int = MAX_NESTING) -> None:
    """Refuse JSON text that nests arrays and objects deeper than ``limit``.

    A linear scan without recursion, to run before a recursive parser (Python's
    ``json``, XGBoost's reader) sees the text. Malformed text may be over-counted, never
    under-counted; the parser then rejects it anyway.

    Parameters
    ----------
    text : str
        JSON text.
    limit : int, default=MAX_NESTING
        Deepest nesting accepted.

    Raises
    ------
    ValueError
        If the text nests deeper than ``limit``.
    """
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                raise ValueError(f"JSON nested deeper than {limit} levels (arrays and objects)")
        elif token in "]}":
            depth -= 1


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on a repeated key (first or last wins): refuse it, so that what
    # is checked here is what the library reads.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"JSON object repeats the key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"JSON holds {name}, which is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):  # e.g. 1e999
        raise ValueError(f"JSON holds the number {text}, beyond the float range")
    return value


def loads(text: str, *, allow_nan: bool = False, limit: int = MAX_NESTING) -> Any:
    """Parse JSON text after :func:`check_nesting`; repeated keys are refused.

    Parameters
    ----------
    text : str
        JSON text.
    allow_nan : bool, default=False
        Accept ``NaN`` / ``Infinity`` and numbers beyond the float range (XGBoost writes
        them; gbfocal's own document never holds them).
    limit : int, default=MAX_NESTING
        Deepest nesting accepted.

    Returns
    -------
    value : object
        The parsed value.

    Raises
    ------
    ValueError
        If the text is not JSON, nests too deep, repeats a key in an object or (without
        ``allow_nan``) holds NaN, Infinity or a number that overflows a float.
    """
    check_nesting(text, limit)
    if allow_nan:
        return json.loads(text, object_pairs_hook=_unique_keys)
    return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant,
                      parse_float=_finite_float)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --------------------------------------------------------------------------- trees
def _walk(left: np.ndarray, right: np.ndarray, leaf: np.ndarray, where: str
          ) -> tuple[np.ndarray, np.ndarray]:
    """Walk a binary tree from node 0, level by level; refuse anything but a tree.

    ``left`` / ``right`` hold the children of the nodes that are not ``leaf``. Returns
    which nodes were reached and each reached node's parent (-1 for the root).
    """
    n = left.size
    inner = np.flatnonzero(~leaf)
    for side, children in (("left", left), ("right", right)):
        # node 0 is the root: a child pointing there is a cycle
        bad = inner[(children[inner] < 1) | (children[inner] >= n)]
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{where}: the {side} child of node {i} is {int(children[i])}, "
                             f"outside the nodes 1..{n - 1}")
    # No node has two parents and the root has none: a walk from the root then reaches
    # every node at most once (a cycle would need a node with two parents), so it ends.
    parents_of = np.bincount(np.concatenate([left[inner], right[inner]]), minlength=n)
    if (parents_of > 1).any():
        raise ValueError(f"{where}: node {int(np.flatnonzero(parents_of > 1)[0])} is the child "
                         "of two nodes (a cycle or a shared child)")
    reached = np.zeros(n, dtype=bool)
    parent = np.full(n, -1, dtype=np.int64)
    reached[0] = True
    frontier = np.zeros(1, dtype=np.int64)
    for _ in range(MAX_TREE_DEPTH + 1):
        parents = frontier[~leaf[frontier]]
        if not parents.size:
            return reached, parent
        frontier = np.concatenate([left[parents], right[parents]])
        reached[frontier] = True
        parent[frontier] = np.concatenate([parents, parents])
    raise ValueError(f"{where}: deeper than {MAX_TREE_DEPTH} levels")


# --------------------------------------------------------------------------- LightGBM
_LGB_INT = r"-?[0-9]{1,10}"
_LGB_FLOAT = r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?"
# fields that only statistics read (gains, weights, internal values): the library writes
# nan / inf there when a statistic is not finite
_LGB_STAT = rf"(?:{_LGB_FLOAT}|-?nan|-?inf)"


def _list_pattern(token: str) -> re.Pattern[str]:
    return re.compile(rf" *(?:{token}(?: +{token})*)? *", re.ASCII)


_LGB_INTS = _list_pattern(_LGB_INT)
_LGB_FLOATS = _list_pattern(_LGB_FLOAT)
_LGB_STATS = _list_pattern(_LGB_STAT)

# The keys LightGBM 4 writes in a tree, and reads (at most 22 lines per tree).
_LGB_TREE_KEYS = frozenset({
    "num_leaves", "num_cat", "split_feature", "split_gain", "threshold", "decision_type",
    "left_child", "right_child", "leaf_value", "leaf_weight", "leaf_count", "internal_value",
    "internal_weight", "internal_count", "cat_boundaries", "cat_threshold", "is_linear",
    "leaf_const", "num_features", "leaf_features", "leaf_coeff", "shrinkage",
})
_LGB_MAX_TREE_LINES = 22
# decision_type bits: 1 categorical, 2 default left, (4|8) missing type 0 None, 1 Zero,
# 2 NaN; 3 is no missing type
_LGB_MAX_DECISION = 11
_LGB_PARAMETER = re.compile(r"\[[A-Za-z0-9_]+: [^\n]*\]", re.ASCII)
_PANDAS_KEY = "pandas_categorical:"


def _lgb_tokens(value: str) -> list[str]:
    # LightGBM splits at single spaces and skips empty pieces
    return [token for token in value.split(" ") if token]


def _lgb_array(fields: dict[str, str], key: str, count: int, kind: str, where: str
               ) -> np.ndarray:
    """Field ``key`` as ``count`` numbers of ``kind`` ("int", "float" finite, "stat")."""
    value = fields[key]
    pattern = {"int": _LGB_INTS, "float": _LGB_FLOATS, "stat": _LGB_STATS}[kind]
    if not pattern.fullmatch(value):
        what = {"int": "integers", "float": "finite numbers", "stat": "numbers"}[kind]
        raise ValueError(f"{where}: {key} must be {what} separated by spaces, got "
                         f"{_show(value)}")
    tokens = _lgb_tokens(value)
    if len(tokens) != count:
        raise ValueError(f"{where}: {key} has {len(tokens)} values, expected {count}")
    if kind == "int":
        array = np.array(tokens, dtype=np.int64)
        if array.size and (array.min() < -_INT32_MAX - 1 or array.max() > _INT32_MAX):
            raise ValueError(f"{where}: {key} holds a value outside 32-bit integers")
        return array
    return np.array(tokens, dtype=np.float64)


def _lgb_int(fields: dict[str, str], key: str, where: str, low: int, high: int) -> int:
    value = fields[key]
    if not re.fullmatch(_LGB_INT, value, re.ASCII) or not low <= int(value) <= high:
        raise ValueError(f"{where}: {key} must be an integer in [{low}, {high}], got "
                         f"{_show(value)}")
    return int(value)


def _lgb_header(lines: list[str]) -> dict[str, str]:
    """The header's ``key=value`` lines, read as LightGBM reads them."""
    fields: dict[str, str] = {}
    for line in lines:
        if not line:
            continue
        parts = [part for part in line.split("=") if part]
        if not parts:  # a line of '=' only: LightGBM reads no key from it
            continue
        if len(parts) > 2 and parts[0] not in ("feature_names", "monotone_constraints"):
            raise ValueError(f"header line {_show(line)} has more than one '='")
        key = parts[0]
        value = line[len(key) + 1:] if len(parts) > 2 else parts[1] if len(parts) == 2 else ""
        if key in fields:
            raise ValueError(f"header repeats {key!r}")
        fields[key] = value
    return fields


def _lgb_tree(fields: dict[str, str], n_features: int, where: str) -> None:
    """Check one tree's fields as LightGBM's ``Tree(const char*)`` and predict read them."""
    for key in ("num_leaves", "num_cat", "leaf_value"):
        if key not in fields:
            raise ValueError(f"{where}: no {key}")
    n = _lgb_int(fields, "num_leaves", where, 1, _INT32_MAX)
    num_cat = _lgb_int(fields, "num_cat", where, 0, _INT32_MAX)
    linear = 0
    if "is_linear" in fields:
        linear = _lgb_int(fields, "is_linear", where, 0, 1)
    _lgb_array(fields, "leaf_value", n, "float", where)
    if "shrinkage" in fields:
        _lgb_array(fields, "shrinkage", 1, "float", where)
    if "leaf_count" in fields and (_lgb_array(fields, "leaf_count", n, "int", where) < 0).any():
        raise ValueError(f"{where}: leaf_count holds a negative count")
    if n == 1 and not linear:
        # LightGBM reads nothing more of a one-leaf tree (it writes its other fields empty)
        if num_cat:
            raise ValueError(f"{where}: a one-leaf tree has num_cat={num_cat}, expected 0")
        return
    for key in ("left_child", "right_child", "split_feature", "threshold"):
        if key not in fields:
            raise ValueError(f"{where}: no {key}")
    splits = n - 1
    left = _lgb_array(fields, "left_child", splits, "int", where)
    right = _lgb_array(fields, "right_child", splits, "int", where)
    feature = _lgb_array(fields, "split_feature", splits, "int", where)
    threshold = _lgb_array(fields, "threshold", splits, "float", where)
    decision = (_lgb_array(fields, "decision_type", splits, "int", where)
                if "decision_type" in fields else np.zeros(splits, dtype=np.int64))
    for key, kind in (("split_gain", "stat"), ("internal_value", "stat"),
                      ("internal_weight", "stat"), ("internal_count", "int")):
        if key in fields:
            values = _lgb_array(fields, key, splits, kind, where)
            if kind == "int" and (values < 0).any():
                raise ValueError(f"{where}: {key} holds a negative count")
    if "leaf_weight" in fields:
        _lgb_array(fields, "leaf_weight", n, "stat", where)
    bad = np.flatnonzero((feature < 0) | (feature >= n_features))
    if bad.size:
        raise ValueError(f"{where}: split_feature[{int(bad[0])}] = {int(feature[bad[0]])} is "
                         f"not a feature of the model (0..{n_features - 1})")
    bad = np.flatnonzero((decision < 0) | (decision > _LGB_MAX_DECISION))
    if bad.size:
        raise ValueError(f"{where}: decision_type[{int(bad[0])}] = {int(decision[bad[0]])} is "
                         f"not a valid decision type (0..{_LGB_MAX_DECISION})")
    # one node id space: internal nodes 0..n-2, then leaf j (written ~j) as n-1+j
    for side, children in (("left_child", left), ("right_child", right)):
        bad = np.flatnonzero((children >= splits) | (children < -n))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{where}: {side}[{i}] = {int(children[i])} is outside the nodes "
                             f"0..{splits - 1} and leaves -1..{-n}")
    size = 2 * n - 1
    ids = np.full(size, -1, dtype=np.int64)
    combined_left, combined_right = ids.copy(), ids.copy()
    combined_left[:splits] = np.where(left >= 0, left, splits + ~left)
    combined_right[:splits] = np.where(right >= 0, right, splits + ~right)
    leaf = np.arange(size) >= splits
    reached, _ = _walk(combined_left, combined_right, leaf, where)
    if not reached.all():
        i = int(np.flatnonzero(~reached)[0])
        node = f"node {i}" if i < splits else f"leaf {i - splits}"
        raise ValueError(f"{where}: {node} is not reached from the root")
    categorical = np.flatnonzero(decision & 1)
    if categorical.size != num_cat:
        raise ValueError(f"{where}: num_cat={num_cat} but {categorical.size} categorical splits")
    if num_cat:
        for key in ("cat_boundaries", "cat_threshold"):
            if key not in fields:
                raise ValueError(f"{where}: no {key} (num_cat={num_cat})")
        bounds = _lgb_array(fields, "cat_boundaries", num_cat + 1, "int", where)
        if bounds[0] != 0 or (np.diff(bounds) < 0).any():
            raise ValueError(f"{where}: cat_boundaries must rise from 0, got "
                             f"{_show(fields['cat_boundaries'])}")
        words = _lgb_array(fields, "cat_threshold", int(bounds[-1]), "int", where)
        if (words < 0).any() or (words >= 1 << 32).any():
            raise ValueError(f"{where}: cat_threshold holds a value outside 32-bit words")
        index = threshold[categorical]
        if ((index != np.round(index)) | (index < 0) | (index >= num_cat)).any() or (
                np.unique(index).size != index.size):
            raise ValueError(f"{where}: the threshold of a categorical split must be a distinct "
                             f"index 0..{num_cat - 1} of cat_boundaries, got "
                             f"{_show(index.tolist())}")
    if linear:
        for key in ("leaf_const", "num_features", "leaf_features", "leaf_coeff"):
            if key not in fields:
                raise ValueError(f"{where}: a linear tree without {key}")
        _lgb_array(fields, "leaf_const", n, "float", where)
        counts = _lgb_array(fields, "num_features", n, "int", where)
        if (counts < 0).any():
            raise ValueError(f"{where}: num_features holds a negative count")
        used = _lgb_array(fields, "leaf_features", int(counts.sum()), "int", where)
        _lgb_array(fields, "leaf_coeff", int(counts.sum()), "float", where)
        if ((used < 0) | (used >= n_features)).any():
            raise ValueError(f"{where}: leaf_features holds a feature outside 0..{n_features - 1}")


def _lgb_pandas_categorical(text: str) -> None:
    """The last line that lightgbm's Python package reads back with ``json.loads``."""
    idx = text.rfind("\n", 0, -len(_PANDAS_KEY))  # exactly as lightgbm finds the line
    last_line = text[idx:].strip()
    if not last_line.startswith(_PANDAS_KEY):
        return
    try:
        categories = loads(last_line[len(_PANDAS_KEY):])
    except ValueError as exc:
        raise ValueError(f"pandas_categorical: {exc}") from exc
    if categories is None:
        return
    if not isinstance(categories, list) or not all(
        isinstance(column, list) and all(
            isinstance(value, (str, int, float)) for value in column)
        for column in categories
    ):
        raise ValueError(f"pandas_categorical must be null or one list of categories per "
                         f"category column, got {_show(categories)}")


def check_lightgbm_model(text: str) -> BoosterShape:
    """Check a LightGBM text model before ``lightgbm.Booster(model_str=...)`` parses it.

    Mirrors what LightGBM 4 reads: the header (``num_class``,
    ``num_tree_per_iteration``, ``max_feature_idx``, ``feature_names``,
    ``feature_infos``, ``tree_sizes``), every tree's fields, the ``parameters:`` section
    and the ``pandas_categorical`` line that lightgbm's Python package parses.

    Parameters
    ----------
    text : str
        The model as ``Booster.model_to_string()`` writes it.

    Returns
    -------
    shape : BoosterShape
        Features, outputs and rounds of the model.

    Raises
    ------
    ValueError
        Naming the tree and field, for anything LightGBM could misread.
    """
    if "\0" in text or "\r" in text:
        # a NUL ends the C string LightGBM reads, a CR ends its lines: either would make
        # LightGBM read another text than the one checked here
        raise ValueError("the LightGBM model contains a NUL or carriage-return character")
    lines = text.split("\n")
    if lines[0] != "tree":
        raise ValueError(f"a LightGBM text model starts with 'tree', got {_show(lines[0])}")
    first = next((i for i, line in enumerate(lines) if line.startswith("Tree=")), None)
    if first is None:
        raise ValueError("the LightGBM model has no trees")
    header = _lgb_header(lines[:first])
    for key in ("num_class", "num_tree_per_iteration", "label_index", "max_feature_idx",
                "feature_names", "feature_infos"):
        if key not in header:
            raise ValueError(f"the LightGBM model's header has no {key}")
    for key in ("objective", "average_output"):
        if key in header:
            # gbfocal trains with its own objective and refuses random forests: a
            # built-in objective or averaged trees would change what the model predicts
            raise ValueError(f"the LightGBM model's header sets {key}, which gbfocal models "
                             "never have")
    num_class = _lgb_int(header, "num_class", "header", 1, _INT32_MAX)
    per_round = _lgb_int(header, "num_tree_per_iteration", "header", 1, _INT32_MAX)
    _lgb_int(header, "label_index", "header", 0, _INT32_MAX)
    n_features = _lgb_int(header, "max_feature_idx", "header", 0, _INT32_MAX - 1) + 1
    if per_round != num_class:
        # LightGBM sizes a row's output by num_class and writes num_tree_per_iteration values
        raise ValueError(f"the header has num_tree_per_iteration={per_round} but "
                         f"num_class={num_class}")
    for key in ("feature_names", "feature_infos", "monotone_constraints"):
        if key in header and len(_lgb_tokens(header[key])) != n_features:
            raise ValueError(f"the header's {key} has {len(_lgb_tokens(header[key]))} entries "
                             f"for {n_features} features (max_feature_idx + 1)")
    # the trees: "Tree=i", key=value lines, blank lines; then "end of trees"
    blocks: list[str] = []
    i = first
    while i < len(lines) and lines[i].startswith("Tree="):
        where = f"Tree={len(blocks)}"
        if lines[i] != where:
            raise ValueError(f"expected the line {where!r}, got {_show(lines[i])}")
        start = i
        i += 1
        fields: dict[str, str] = {}
        while i < len(lines) and lines[i]:
            key, equals, value = lines[i].partition("=")
            if not equals or key not in _LGB_TREE_KEYS:
                raise ValueError(f"{where}: unexpected line {_show(lines[i])}")
            if key in fields:
                raise ValueError(f"{where}: repeats {key}")
            fields[key] = value
            i += 1
        if len(fields) > _LGB_MAX_TREE_LINES:  # pragma: no cover - at most 22 known keys
            raise ValueError(f"{where}: more than {_LGB_MAX_TREE_LINES} lines")
        if i >= len(lines):
            raise ValueError(f"{where}: the model ends inside the tree")
        while i < len(lines) and not lines[i]:
            i += 1
        _lgb_tree(fields, n_features, where)
        blocks.append("\n".join(lines[start:i]) + "\n")
    if i >= len(lines) or lines[i] != "end of trees":
        shown = _show(lines[i]) if i < len(lines) else "the end of the text"
        raise ValueError(f"expected 'end of trees' after Tree={len(blocks) - 1}, got {shown}")
    if "tree_sizes" in header:
        # LightGBM jumps to each tree by these byte counts: they must be the trees' sizes
        value = header["tree_sizes"]
        if not _LGB_INTS.fullmatch(value):
            raise ValueError(f"the header's tree_sizes must be integers, got {_show(value)}")
        sizes = [int(token) for token in _lgb_tokens(value)]
        actual = [len(block.encode("utf-8")) for block in blocks]
        if sizes != actual:
            differ = [k for k, (a, b) in enumerate(zip(sizes, actual, strict=False)) if a != b]
            raise ValueError(f"the header's tree_sizes do not match the trees ({len(sizes)} "
                             f"sizes for {len(actual)} trees, first difference at tree "
                             f"{differ[0] if differ else min(len(sizes), len(actual))})")
    if len(blocks) % per_round:
        raise ValueError(f"the model has {len(blocks)} trees, not a multiple of "
                         f"num_tree_per_iteration={per_round}")
    # after the trees: the parameters section (LightGBM splits each line at ':' and reads
    # both halves) and the pandas_categorical line
    rest = lines[i + 1:]
    if "parameters:" in rest:
        start = rest.index("parameters:") + 1
        if "end of parameters" not in rest[start:]:
            raise ValueError("the parameters section has no 'end of parameters'")
        end = rest.index("end of parameters", start)
        for line in rest[start:end]:
            if line and not _LGB_PARAMETER.fullmatch(line):
                raise ValueError(f"parameters: unexpected line {_show(line)}")
            if line:
                check_nesting(line[line.index(":") + 1:-1], 4)
    _lgb_pandas_categorical(text)
    return BoosterShape(library="lightgbm", n_features=n_features, n_outputs=num_class,
                        num_class=num_class, n_rounds=len(blocks) // per_round,
                        trees_per_round=per_round)


# --------------------------------------------------------------------------- XGBoost
_XGB_OBJECTIVES = ("binary:logistic", "multi:softprob", "reg:squarederror")
_XGB_FEATURE_TYPES = ("q", "c", "int", "float", "i")
_XGB_DELETED = _INT32_MAX  # split index of a node the pruner deleted
_XGB_FLOAT_TEXT = r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?"
_XGB_BASE_SCORE = re.compile(rf"{_XGB_FLOAT_TEXT}|\[{_XGB_FLOAT_TEXT}(?:,{_XGB_FLOAT_TEXT})*\]",
                             re.ASCII)
# XGBoost's typed-array kinds (json.h ValueKind kF32Array .. kU64Array) of a numeric
# category column
_XGB_ARRAY_KINDS = range(7, 17)


def _get(obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict):
        raise ValueError(f"{where} must be a JSON object, got {_show(obj)}")
    if key not in obj:
        raise ValueError(f"{where} has no {key!r}")
    value = obj[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise ValueError(f"{where}.{key} has the wrong type: {_show(value)}")
    return value


def _int_text(obj: Any, key: str, where: str, low: int, high: int = _INT32_MAX) -> int:
    value = _get(obj, key, str, where)
    if not re.fullmatch(r"-?[0-9]{1,10}", value, re.ASCII) or not low <= int(value) <= high:
        raise ValueError(f"{where}.{key} must be an integer in [{low}, {high}] (as text), got "
                         f"{_show(value)}")
    return int(value)


def _ints(values: Any, name: str, where: str, count: int | None = None) -> np.ndarray:
    # type() and not isinstance: a bool is no index; big ints are caught by the range test
    ok = isinstance(values, list) and set(map(type, values)) <= {int}
    array = np.array(values) if ok and values else np.zeros(0, dtype=np.int64)
    if ok and values and (array.dtype != np.int64  # object: an int beyond 64 bits
                          or array.min() < -(1 << 31) or array.max() > _INT32_MAX):
        ok = False
    if not ok:
        raise ValueError(f"{where}: {name} must be a list of 32-bit integers, got "
                         f"{_show(values)}")
    if count is not None and len(values) != count:
        raise ValueError(f"{where}: {name} has {len(values)} entries, expected {count}")
    return array


def _floats(values: Any, name: str, where: str, count: int | None = None) -> np.ndarray:
    ok = isinstance(values, list) and set(map(type, values)) <= {int, float}
    try:
        array = np.array(values, dtype=np.float64) if ok else None
    except OverflowError:  # an integer beyond the float range
        array = None
    if array is None:
        raise ValueError(f"{where}: {name} must be a list of numbers, got {_show(values)}")
    if count is not None and len(values) != count:
        raise ValueError(f"{where}: {name} has {len(values)} entries, expected {count}")
    return array


def _finite(values: np.ndarray, name: str, where: str) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(f"{where}: {name}[{int(bad[0])}] = {float(values[bad[0]])!r} is not "
                         "finite")


def _xgb_categories(tree: dict[str, Any], n: int, inner: np.ndarray, where: str) -> int:
    """Check a tree's categorical splits; returns the bitset words XGBoost allocates."""
    if "split_type" not in tree:
        return 0
    kinds = _ints(tree["split_type"], "split_type", where, n)
    if ((kinds != 0) & (kinds != 1)).any():
        raise ValueError(f"{where}: split_type holds a value other than 0 and 1")
    nodes = _ints(_get(tree, "categories_nodes", list, where), "categories_nodes", where)
    segments = _ints(_get(tree, "categories_segments", list, where), "categories_segments",
                     where, nodes.size)
    sizes = _ints(_get(tree, "categories_sizes", list, where), "categories_sizes", where,
                  nodes.size)
    categories = _ints(_get(tree, "categories", list, where), "categories", where)
    if not np.array_equal(nodes, np.flatnonzero(kinds == 1)):
        raise ValueError(f"{where}: categories_nodes {_show(nodes.tolist())} are not the nodes "
                         "whose split_type is 1")
    if not inner[nodes].all():
        raise ValueError(f"{where}: a categorical split on a leaf or deleted node")
    if nodes.size and (sizes < 1).any():
        raise ValueError(f"{where}: a categorical split without categories")
    expected = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if nodes.size else segments
    if not np.array_equal(segments, expected) or int(sizes.sum()) != categories.size:
        raise ValueError(f"{where}: categories_segments / categories_sizes do not cover "
                         "categories")
    if ((categories < 0) | (categories >= MAX_CATEGORY)).any():
        raise ValueError(f"{where}: a category outside 0..{MAX_CATEGORY - 1}")
    words = 0
    for begin, size in zip(segments.tolist(), sizes.tolist(), strict=True):
        words += int(categories[begin:begin + size].max()) // 32 + 1
    return words


def _xgb_tree(tree: Any, index: int, n_features: int, n_outputs: int, where: str
              ) -> tuple[int, int]:
    """Check one tree; returns (leaf vector size (1: scalar), categorical bitset words)."""
    if not isinstance(tree, dict):
        raise ValueError(f"{where} must be a JSON object, got {_show(tree)}")
    if _get(tree, "id", int, where) != index:
        raise ValueError(f"{where}.id is {tree['id']!r}, expected {index}")
    param = _get(tree, "tree_param", dict, where)
    n = _int_text(param, "num_nodes", f"{where}.tree_param", 1)
    deleted = _int_text(param, "num_deleted", f"{where}.tree_param", 0)
    if _int_text(param, "num_feature", f"{where}.tree_param", 0) != n_features:
        raise ValueError(f"{where}.tree_param.num_feature is {param['num_feature']!r}, the "
                         f"model has {n_features} features")
    vector = max(1, _int_text(param, "size_leaf_vector", f"{where}.tree_param", 0))
    if vector > 1 and vector != n_outputs:
        raise ValueError(f"{where}: size_leaf_vector={vector} but the model has {n_outputs} "
                         "outputs")
    left = _ints(_get(tree, "left_children", list, where), "left_children", where, n)
    right = _ints(_get(tree, "right_children", list, where), "right_children", where, n)
    parents = _ints(_get(tree, "parents", list, where), "parents", where, n)
    split = _ints(_get(tree, "split_indices", list, where), "split_indices", where, n)
    conditions = _floats(_get(tree, "split_conditions", list, where), "split_conditions",
                         where, n)
    default_left = _get(tree, "default_left", list, where)
    if len(default_left) != n or not all(v in (0, 1) for v in default_left):
        raise ValueError(f"{where}: default_left must be {n} values 0 / 1")
    for name in ("loss_changes", "sum_hessian"):
        _floats(_get(tree, name, list, where), name, where, n)
    leaf = left == -1
    if vector == 1:
        _floats(_get(tree, "base_weights", list, where), "base_weights", where, n)
        bad = np.flatnonzero(leaf & (right != -1))
        if bad.size:
            raise ValueError(f"{where}: leaf {int(bad[0])} has a right child "
                             f"{int(right[bad[0]])}")
    reached, parent = _walk(left, right, leaf, where)
    inner = reached & ~leaf
    if split[0] == _XGB_DELETED or (split[reached & leaf] == _XGB_DELETED).any():
        raise ValueError(f"{where}: a node reached from the root is marked deleted")
    unreached = np.flatnonzero(~reached)
    if vector > 1 and unreached.size:
        raise ValueError(f"{where}: node {int(unreached[0])} is not reached from the root")
    # XGBoost counts the nodes marked deleted (split index 2**31 - 1) and reads the
    # parent of every node but the root
    gone = (split[unreached] == _XGB_DELETED) & leaf[unreached]
    if not gone.all():
        raise ValueError(f"{where}: node {int(unreached[~gone][0])} is neither reached from the "
                         "root nor deleted")
    if unreached.size != deleted:
        raise ValueError(f"{where}: num_deleted={deleted} but {unreached.size} deleted nodes")
    if parents[0] not in (-1, _INT32_MAX):
        raise ValueError(f"{where}: the root's parent is {int(parents[0])}, expected none")
    if n > 1 and ((parents[1:] < 0) | (parents[1:] >= n)).any():
        bad_parent = int(np.flatnonzero((parents[1:] < 0) | (parents[1:] >= n))[0]) + 1
        raise ValueError(f"{where}: parents[{bad_parent}] = {int(parents[bad_parent])} is not a "
                         "node")
    wrong = np.flatnonzero(reached & (parent != parents) & (np.arange(n) > 0))
    if wrong.size:
        i = int(wrong[0])
        raise ValueError(f"{where}: parents[{i}] = {int(parents[i])}, but node {i} is a child "
                         f"of node {int(parent[i])}")
    bad = np.flatnonzero(inner & ((split < 0) | (split >= n_features)))
    if bad.size:
        raise ValueError(f"{where}: split_indices[{int(bad[0])}] = {int(split[bad[0]])} is not "
                         f"a feature of the model (0..{n_features - 1})")
    _finite(np.where(reached, conditions, 0.0), "split_conditions", where)
    if vector > 1:
        weights = _floats(_get(tree, "base_weights", list, where), "base_weights", where)
        if weights.size == 0 or weights.size % n or weights.size // n > vector:
            raise ValueError(f"{where}: base_weights has {weights.size} entries for {n} nodes "
                             f"and {vector} targets")
        n_leaves = int(leaf.sum())
        values = _floats(_get(tree, "leaf_weights", list, where), "leaf_weights", where,
                         n_leaves * vector)
        _finite(values, "leaf_weights", where)
        # a leaf's right child is the index of its weights in leaf_weights
        if not np.array_equal(np.sort(right[leaf]), np.arange(n_leaves)):
            raise ValueError(f"{where}: the leaves' right_children must number the leaves "
                             f"0..{n_leaves - 1} once each")
    return vector, _xgb_categories(tree, n, inner, where)


def _xgb_cats(cats: Any, n_features: int) -> None:
    """The category encoder XGBoost >= 3.1 saves (categories of each pandas column)."""
    where = "cats"
    enc = _get(cats, "enc", list, where)
    if len(enc) not in (0, n_features):
        raise ValueError(f"cats.enc has {len(enc)} columns for {n_features} features")
    counts = []
    for j, column in enumerate(enc):
        at = f"cats.enc[{j}]"
        if not isinstance(column, dict):
            raise ValueError(f"{at} must be a JSON object")
        values = _ints(_get(column, "values", list, at), "values", at)
        if "offsets" in column:
            offsets = _ints(column["offsets"], "offsets", at)
            if ((values < -128) | (values > 255)).any():
                raise ValueError(f"{at}: values must be bytes")
            if offsets.size == 0:
                if values.size:
                    raise ValueError(f"{at}: values without offsets")
                counts.append(0)
                continue
            if offsets[0] != 0 or (np.diff(offsets) < 0).any() or offsets[-1] != values.size:
                raise ValueError(f"{at}: offsets must rise from 0 to the number of values")
            counts.append(offsets.size - 1)
        else:
            if _get(column, "type", int, at) not in _XGB_ARRAY_KINDS:
                raise ValueError(f"{at}.type is {column['type']!r}, not a numeric array kind")
            counts.append(values.size)
    segments = _ints(_get(cats, "feature_segments", list, where), "feature_segments", where)
    order = _ints(_get(cats, "sorted_idx", list, where), "sorted_idx", where)
    expected = np.concatenate([[0], np.cumsum(counts)]) if enc else np.zeros(0, np.int64)
    if not (np.array_equal(segments, expected) or (not enc and segments.tolist() == [0])):
        raise ValueError(f"cats.feature_segments {_show(segments.tolist())} do not match the "
                         "columns' category counts")
    total = int(expected[-1]) if enc else 0
    if order.size != total:
        raise ValueError(f"cats.sorted_idx has {order.size} entries for {total} categories")
    for j, count in enumerate(counts):
        part = order[int(expected[j]):int(expected[j]) + count]
        if not np.array_equal(np.sort(part), np.arange(count)):
            raise ValueError(f"cats.sorted_idx of column {j} is not an ordering of its "
                             "categories")


def _xgb_attributes(attributes: dict[str, Any]) -> None:
    for key, value in attributes.items():
        if not isinstance(value, str):
            raise ValueError(f"learner.attributes.{key} must be a string, got {_show(value)}")
    stored = attributes.get("gbfocal_pandas_categorical")
    if stored is not None:
        try:
            categories = loads(stored)
        except ValueError as exc:
            raise ValueError(f"learner.attributes.gbfocal_pandas_categorical: {exc}") from exc
        if not isinstance(categories, list) or not all(
            isinstance(column, list)
            and all(isinstance(value, (str, int, float)) for value in column)
            for column in categories
        ):
            raise ValueError("learner.attributes.gbfocal_pandas_categorical must be one list "
                             f"of categories per category column, got {_show(categories)}")


def check_xgboost_model(text: str) -> BoosterShape:
    """Check an XGBoost JSON model before ``Booster.load_model`` parses it.

    Mirrors what XGBoost 3 reads: ``learner_model_param`` (features, classes,
    targets, ``base_score``), the objective, the trees of ``gbtree`` (or ``dart`` with
    its ``weight_drop``), ``tree_info`` and ``iteration_indptr``, the categorical splits
    and category encoder, the attributes, feature names and types.

    Parameters
    ----------
    text : str
        The model as ``Booster.save_raw(raw_format="json")`` writes it.

    Returns
    -------
    shape : BoosterShape
        Features, outputs, rounds, objective and ``base_score`` of the model.

    Raises
    ------
    ValueError
        Naming the tree and field, for anything XGBoost could misread.
    """
    model = loads(text, allow_nan=True)
    version = _get(model, "version", list, "the XGBoost model")
    if len(version) != 3 or not all(type(v) is int and v >= 0 for v in version):
        raise ValueError(f"the XGBoost model's version must be 3 integers, got {_show(version)}")
    learner = _get(model, "learner", dict, "the XGBoost model")
    param = _get(learner, "learner_model_param", dict, "learner")
    where = "learner.learner_model_param"
    n_features = _int_text(param, "num_feature", where, 1)
    num_class = _int_text(param, "num_class", where, 0)
    num_target = _int_text(param, "num_target", where, 1) if "num_target" in param else 1
    if "boost_from_average" in param:
        _int_text(param, "boost_from_average", where, 0, 1)
    if num_class > 1 and num_target > 1:
        raise ValueError(f"{where}: num_class={num_class} and num_target={num_target} (XGBoost "
                         "takes one of them)")
    n_outputs = max(num_class, num_target, 1)
    text_score = _get(param, "base_score", str, where)
    if not _XGB_BASE_SCORE.fullmatch(text_score):
        raise ValueError(f"{where}.base_score must be a number or a list of numbers, got "
                         f"{_show(text_score)}")
    base_score = np.array(text_score.strip("[]").split(","), dtype=np.float64)
    _finite(base_score, "base_score", where)
    if base_score.size not in (1, n_outputs):
        raise ValueError(f"{where}.base_score has {base_score.size} values for {n_outputs} "
                         "outputs")
    objective = _get(learner, "objective", dict, "learner")
    name = _get(objective, "name", str, "learner.objective")
    if name not in _XGB_OBJECTIVES:
        raise ValueError(f"learner.objective.name is {name!r}; gbfocal's XGBoost models use "
                         f"{_XGB_OBJECTIVES}")
    for key, value in objective.items():
        if key != "name" and not (isinstance(value, dict) and all(
                isinstance(v, str) for v in value.values())):
            raise ValueError(f"learner.objective.{key} must map names to strings")
    softmax = objective.get("softmax_multiclass_param", {}).get("num_class")
    if softmax is not None and softmax != str(num_class):
        raise ValueError(f"learner.objective's num_class is {softmax!r} but the model's is "
                         f"{num_class}")
    _xgb_attributes(_get(learner, "attributes", dict, "learner"))
    for key, allowed in (("feature_names", None), ("feature_types", _XGB_FEATURE_TYPES)):
        values = learner.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values) or (
                len(values) not in (0, n_features)):
            raise ValueError(f"learner.{key} must be 0 or {n_features} strings, got "
                             f"{_show(values)}")
        if allowed and any(v not in allowed for v in values):
            raise ValueError(f"learner.feature_types must be among {allowed}, got "
                             f"{_show(values)}")
    booster = _get(learner, "gradient_booster", dict, "learner")
    kind = _get(booster, "name", str, "learner.gradient_booster")
    if kind == "dart":
        inner = _get(booster, "gbtree", dict, "learner.gradient_booster")
        if _get(inner, "name", str, "learner.gradient_booster.gbtree") != "gbtree":
            raise ValueError("learner.gradient_booster.gbtree.name must be 'gbtree'")
        trees_model = _get(inner, "model", dict, "learner.gradient_booster.gbtree")
    elif kind == "gbtree":
        trees_model = _get(booster, "model", dict, "learner.gradient_booster")
    else:
        raise ValueError(f"learner.gradient_booster.name is {kind!r}; gbfocal trains 'gbtree' "
                         "or 'dart'")
    where = "learner.gradient_booster"
    gb_param = _get(trees_model, "gbtree_model_param", dict, where)
    n_trees = _int_text(gb_param, "num_trees", f"{where}.gbtree_model_param", 1)
    parallel = _int_text(gb_param, "num_parallel_tree", f"{where}.gbtree_model_param", 1)
    trees = _get(trees_model, "trees", list, where)
    if len(trees) != n_trees:
        raise ValueError(f"{where}: {len(trees)} trees but num_trees={n_trees}")
    vectors, words = set(), 0
    for t, tree in enumerate(trees):
        vector, tree_words = _xgb_tree(tree, t, n_features, n_outputs, f"trees[{t}]")
        vectors.add(vector)
        words += tree_words
    if len(vectors) > 1:
        raise ValueError("the model mixes trees with scalar and vector leaves")
    if words > _MAX_CATEGORY_WORDS:
        raise ValueError("the categorical splits would need more than "
                         f"{_MAX_CATEGORY_WORDS * 4 // 2**20} MiB of bitsets")
    vector_leaf = vectors == {n_outputs} and n_outputs > 1
    groups = 1 if vector_leaf else n_outputs
    per_round = groups * parallel
    if n_trees % per_round:
        raise ValueError(f"{where}: {n_trees} trees, not a multiple of the {per_round} trees "
                         "of a round")
    rounds = n_trees // per_round
    info = _ints(_get(trees_model, "tree_info", list, where), "tree_info", where, n_trees)
    expected = np.tile(np.repeat(np.arange(groups), parallel), rounds)
    if not np.array_equal(info, expected):
        k = int(np.flatnonzero(info != expected)[0])
        raise ValueError(f"{where}: tree_info[{k}] = {int(info[k])}, expected {int(expected[k])} "
                         f"(the output tree {k} adds to)")
    if "iteration_indptr" in trees_model:
        indptr = _ints(trees_model["iteration_indptr"], "iteration_indptr", where)
        if not np.array_equal(indptr, np.arange(rounds + 1) * per_round):
            raise ValueError(f"{where}: iteration_indptr does not count {per_round} trees in "
                             f"each of {rounds} rounds")
    if "cats" in trees_model:
        _xgb_cats(trees_model["cats"], n_features)
    if kind == "dart":
        drop = _floats(_get(booster, "weight_drop", list, where), "weight_drop", where, n_trees)
        _finite(drop, "weight_drop", where)
    return BoosterShape(library="xgboost", n_features=n_features, n_outputs=n_outputs,
                        num_class=num_class, n_rounds=rounds, trees_per_round=per_round,
                        objective=name,
                        base_score=tuple(float(v) for v in np.resize(base_score, n_outputs)))
