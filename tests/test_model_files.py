"""Model files you can trust (issue 24): edited native models are refused before a library
parses them, contradictory documents are refused field by field, damaged files give one
ValueError naming the file, and saving writes through an exclusive temporary file.

Edited files are loaded in child processes (forked from one subprocess that imports the
libraries once), each with a timeout: on a regression a crash or an endless ``predict``
costs one case, not the test run.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import gbfocal
from gbfocal import persist
from gbfocal.persist import load_model, save_model

pytest.importorskip("lightgbm")
pytest.importorskip("xgboost")
pd = pytest.importorskip("pandas")

FAST = {"n_estimators": 4, "n_jobs": 1, "random_state": 0}


# --------------------------------------------------------------------------- data, models
def _data(kind: str) -> tuple[Any, Any]:
    """Small deterministic training data of each kind (also run by the child processes)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    X = rng.normal(size=(240, 5))
    if kind == "binary":
        return X, np.where(X[:, 0] + 0.5 * X[:, 1] > 0.3, "yes", "no")
    if kind == "multiclass":
        return X, np.array([3, 7, 11])[np.argmax(X[:, :3], axis=1)]
    if kind == "categorical":
        frame = pd.DataFrame({
            "a": X[:, 0],
            "city": pd.Categorical(rng.choice(["oslo", "rome", "lima", "kyiv"], 240)),
            "size": pd.Categorical(rng.choice([3, 5, 9], 240)),
        })
        y = ((frame["a"] > 0) ^ (frame["city"] == "rome")).astype(int).to_numpy()
        return frame, y
    if kind == "multioutput":
        y = np.where(X[:, :2] > 0.3, "pos", np.where(X[:, :2] < -0.3, "neg", "neu"))
        return X, y
    if kind == "multilabel":
        return X, (X[:, :3] > [0.5, 0.0, -0.5]).astype(int)
    raise ValueError(kind)


# model key -> (data kind, estimator factory)
_MODELS: dict[str, tuple[str, Callable[[], Any]]] = {
    "lgb_binary": ("binary", lambda: gbfocal.FocalLGBMClassifier(alpha=0.25, **FAST)),
    "lgb_multiclass": ("multiclass",
                       lambda: gbfocal.FocalLGBMClassifier(alpha="balanced", **FAST)),
    "lgb_categorical": ("categorical",
                        lambda: gbfocal.FocalLGBMClassifier(min_child_samples=5, **FAST)),
    "lgb_linear": ("binary",
                   lambda: gbfocal.FocalLGBMClassifier(params={"linear_tree": True}, **FAST)),
    "xgb_binary": ("binary", lambda: gbfocal.FocalXGBClassifier(alpha="balanced", **FAST)),
    "xgb_multiclass": ("multiclass",
                       lambda: gbfocal.FocalXGBClassifier(alpha=[1.0, 2.0, 3.0], **FAST)),
    "xgb_categorical": ("categorical", lambda: gbfocal.FocalXGBClassifier(**FAST)),
    "xgb_vector_leaf": ("multiclass", lambda: gbfocal.FocalXGBClassifier(
        params={"multi_strategy": "multi_output_tree"}, **FAST)),
    "xgb_dart": ("multiclass", lambda: gbfocal.FocalXGBClassifier(
        params={"booster": "dart", "rate_drop": 0.3}, **FAST)),
    "xgb_pruned": ("binary", lambda: gbfocal.FocalXGBClassifier(
        tree_method="exact", max_depth=8, params={"gamma": 1.0}, **FAST)),
    "multioutput_lgb": ("multioutput", lambda: gbfocal.FocalMultiOutputClassifier(
        backend="lightgbm", alpha="balanced", **FAST)),
    "multioutput_xgb": ("multioutput", lambda: gbfocal.FocalMultiOutputClassifier(
        backend="xgboost", **FAST)),
    "multilabel_lgb": ("multilabel", lambda: gbfocal.FocalMultiLabelClassifier(
        backend="lightgbm", alpha=[0.2, 0.5, 0.8], gamma_neg=3.0, **FAST)),
    "multilabel_xgb": ("multilabel", lambda: gbfocal.FocalMultiLabelClassifier(
        backend="xgboost", alpha="balanced", **FAST)),
}


@pytest.fixture(scope="module")
def fitted() -> dict[str, Any]:
    """One fitted estimator of every kind."""
    result = {}
    for key, (kind, factory) in _MODELS.items():
        X, y = _data(kind)
        result[key] = factory().fit(X, y)
    return result


@pytest.fixture(scope="module")
def saved(fitted: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("saved")
    return {key: save_model(model, folder / f"{key}.json") for key, model in fitted.items()}


def _document(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _write(document: dict[str, Any], path: Path, *, digest: bool = True) -> Path:
    """Write a (changed) document; with ``digest`` its sha256 is recomputed, as anyone can,
    so that the field and tree checks, not the digest, have to catch the change."""
    if digest and "sha256" in document:
        body = {k: v for k, v in document.items() if k != "sha256"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
        document["sha256"] = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    path.write_text(json.dumps(document, allow_nan=False), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- native edits
def _fix_tree_sizes(text: str) -> str:
    """``tree_sizes`` recomputed after an edit, as an informed editor would."""
    head, marker, rest = text.partition("\nTree=0\n")
    end = rest.find("\nend of trees")
    blocks = re.split(r"(?m)^(?=Tree=\d+$)", "Tree=0\n" + rest[:end + 1])[1:]
    sizes = " ".join(str(len(block.encode())) for block in blocks)
    return re.sub(r"(?m)^tree_sizes=.*$", "tree_sizes=" + sizes, head) + marker + rest


def _lgb_set(tree: int, key: str, index: int | None, value: Any, *,
             fix_sizes: bool = True) -> Callable[[str], str]:
    """Set entry ``index`` (None: the whole value) of ``key`` in ``Tree=tree``."""
    def edit(text: str) -> str:
        lines = text.split("\n")
        start = lines.index(f"Tree={tree}")
        i = next(k for k in range(start + 1, len(lines)) if lines[k].startswith(key + "="))
        values = lines[i][len(key) + 1:].split(" ")
        if index is None:
            values = [str(value)]
        else:
            values[index] = str(value)
        lines[i] = key + "=" + " ".join(values)
        text = "\n".join(lines)
        return _fix_tree_sizes(text) if fix_sizes else text
    return edit


def _lgb_header(key: str, value: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        return re.sub(rf"(?m)^{key}=.*$", f"{key}={value}", text, count=1)
    return edit


def _lgb_replace(old: str, new: str, *, fix_sizes: bool = True) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text
        text = text.replace(old, new, 1)
        return _fix_tree_sizes(text) if fix_sizes else text
    return edit


def _lgb_categorical_bounds(text: str) -> str:
    blocks = re.split(r"(?m)^(?=Tree=\d+$)", text)[1:]
    tree = next(i for i, block in enumerate(blocks) if re.search(r"(?m)^num_cat=[1-9]", block))
    return _lgb_set(tree, "cat_boundaries", -1, 1000)(text)


def _lgb_shared_child(text: str) -> str:
    """The root's right child made its left child too."""
    left = re.search(r"(?m)^left_child=(\S+)", text.split("Tree=2\n", 1)[1]).group(1)
    return _lgb_set(2, "right_child", 0, left)(text)


def _lgb_chain(*edits: Callable[[str], str]) -> Callable[[str], str]:
    def edit(text: str) -> str:
        for step in edits:
            text = step(text)
        return text
    return edit


def _xgb(edit: Callable[[dict[str, Any]], None]) -> Callable[[str], str]:
    """An edit of the parsed XGBoost JSON model."""
    def apply(text: str) -> str:
        model = json.loads(text)
        edit(model)
        return json.dumps(model)
    return apply


def _trees(model: dict[str, Any]) -> dict[str, Any]:
    booster = model["learner"]["gradient_booster"]
    return booster["model"] if "model" in booster else booster["gbtree"]["model"]


def _xgb_tree(index: int, key: str, position: int | None, value: Any) -> Callable[[str], str]:
    def edit(model: dict[str, Any]) -> None:
        tree = _trees(model)["trees"][index]
        if position is None:
            tree[key] = value
        else:
            tree[key][position] = value
    return _xgb(edit)


def _xgb_inner_node(tree: dict[str, Any]) -> int:
    """An internal node other than the root."""
    return next(i for i in range(1, len(tree["left_children"])) if tree["left_children"][i] > 0)


def _xgb_self_child(model: dict[str, Any]) -> None:
    tree = _trees(model)["trees"][1]
    node = _xgb_inner_node(tree)
    tree["left_children"][node] = node


def _xgb_leaf_nan(text: str) -> str:
    model = json.loads(text)
    tree = _trees(model)["trees"][0]
    leaf = tree["left_children"].index(-1)
    tree["split_conditions"][leaf] = float("nan")
    return json.dumps(model)  # NaN, as XGBoost itself writes it


def _xgb_vector_leaf_index(model: dict[str, Any]) -> None:
    tree = _trees(model)["trees"][0]
    leaf = tree["left_children"].index(-1)
    tree["right_children"][leaf] = 999


def _xgb_deep(text: str) -> str:
    assert '"feature_names":[]' in text.replace(" ", "")
    deep = "[" * 100_000 + "]" * 100_000
    return re.sub(r'"feature_names":\s*\[\]', f'"feature_names": {deep}', text, count=1)


def _xgb_attribute_deep(model: dict[str, Any]) -> None:
    model["learner"]["attributes"]["gbfocal_pandas_categorical"] = "[" * 100_000 + "]" * 100_000


def _xgb_num_feature(model: dict[str, Any]) -> None:
    model["learner"]["learner_model_param"]["num_feature"] = "1"
    for tree in _trees(model)["trees"]:
        tree["tree_param"]["num_feature"] = "1"


def _xgb_categorical(key: str, value: Any) -> Callable[[str], str]:
    def edit(model: dict[str, Any]) -> None:
        tree = next(t for t in _trees(model)["trees"] if t["categories_nodes"])
        tree[key][0] = value
    return _xgb(edit)


# case id -> (model key, edit of the native model text)
EDITS: dict[str, tuple[str, Callable[[str], str]]] = {
    # LightGBM text models
    "lgb-left-child-out-of-range": ("lgb_binary", _lgb_set(1, "left_child", 0, 99)),
    "lgb-leaf-out-of-range": ("lgb_binary", _lgb_set(1, "right_child", 0, -99)),
    "lgb-root-own-child": ("lgb_binary", _lgb_set(1, "left_child", 0, 0)),
    "lgb-node-own-child": ("lgb_binary", _lgb_set(1, "left_child", 1, 1)),
    "lgb-shared-child": ("lgb_multiclass", _lgb_shared_child),
    "lgb-split-feature-out-of-range": ("lgb_binary", _lgb_set(1, "split_feature", 0, 999)),
    "lgb-split-feature-negative": ("lgb_binary", _lgb_set(1, "split_feature", 0, -1)),
    "lgb-threshold-nan": ("lgb_binary", _lgb_set(1, "threshold", 0, "nan")),
    "lgb-num-leaves-larger": ("lgb_binary", _lgb_set(1, "num_leaves", None, 400)),
    "lgb-leaf-value-missing": ("lgb_binary", _lgb_set(1, "leaf_value", -1, "")),
    "lgb-tree-sizes-kept-after-edit": ("lgb_binary", _lgb_set(
        0, "leaf_value", 0, "-0.12345678901234567890123", fix_sizes=False)),
    "lgb-tree-sizes-huge": ("lgb_binary", lambda text: re.sub(
        r"(?m)^tree_sizes=\d+", "tree_sizes=999999999", text, count=1)),
    "lgb-num-tree-per-iteration-zero": ("lgb_binary",
                                        _lgb_header("num_tree_per_iteration", "0")),
    "lgb-num-class-3-for-binary": ("lgb_binary", _lgb_header("num_class", "3")),
    "lgb-fewer-features": ("lgb_binary", _lgb_chain(
        _lgb_header("max_feature_idx", "0"), _lgb_header("feature_names", "Column_0"),
        _lgb_header("feature_infos", "none"))),
    "lgb-categorical-split-without-categories": ("lgb_binary",
                                                 _lgb_set(1, "decision_type", 0, 1)),
    "lgb-decision-type-out-of-range": ("lgb_binary", _lgb_set(1, "decision_type", 0, 99)),
    "lgb-cat-boundaries-out-of-range": ("lgb_categorical", _lgb_categorical_bounds),
    "lgb-line-without-equals": ("lgb_binary", lambda text: _fix_tree_sizes(
        re.sub(r"(?m)^shrinkage=.*$", "shrinkage", text, count=1))),
    "lgb-nul-character": ("lgb_binary", _lgb_replace("leaf_value=", "leaf_value=\0")),
    "lgb-parameter-line-without-colon": ("lgb_binary", _lgb_replace(
        "parameters:\n", "parameters:\nnot a parameter\n", fix_sizes=False)),
    "lgb-pandas-categorical-deep": ("lgb_binary", lambda text: text.replace(
        "pandas_categorical:null", "pandas_categorical:" + "[" * 100_000 + "]" * 100_000)),
    "lgb-linear-feature-out-of-range": ("lgb_linear", lambda text: _fix_tree_sizes(
        re.sub(r"(?m)^(leaf_features= *)[0-9]+", r"\g<1>999", text, count=1))),
    # XGBoost JSON models
    "xgb-left-child-out-of-range": ("xgb_binary", _xgb_tree(1, "left_children", 0, 999)),
    "xgb-root-own-child": ("xgb_binary", _xgb_tree(1, "left_children", 0, 0)),
    "xgb-node-own-child": ("xgb_binary", _xgb(_xgb_self_child)),
    "xgb-split-feature-out-of-range": ("xgb_binary", _xgb_tree(1, "split_indices", 0, 999)),
    "xgb-split-feature-negative": ("xgb_binary", _xgb_tree(1, "split_indices", 0, -5)),
    "xgb-parent-out-of-range": ("xgb_binary", _xgb_tree(1, "parents", 1, 999)),
    "xgb-tree-id-out-of-range": ("xgb_binary", _xgb_tree(1, "id", None, 99)),
    "xgb-num-trees-larger": ("xgb_binary", _xgb(lambda m: _trees(m)["gbtree_model_param"]
                                                .__setitem__("num_trees", "9"))),
    "xgb-tree-info-out-of-range": ("xgb_binary",
                                   _xgb(lambda m: _trees(m)["tree_info"].__setitem__(0, 7))),
    "xgb-iteration-indptr-wrong": ("xgb_multiclass", _xgb(
        lambda m: _trees(m)["iteration_indptr"].__setitem__(-1, 99))),
    "xgb-num-nodes-larger": ("xgb_binary", _xgb(
        lambda m: _trees(m)["trees"][1]["tree_param"].__setitem__("num_nodes", "999"))),
    "xgb-fewer-features": ("xgb_binary", _xgb(_xgb_num_feature)),
    "xgb-num-class-changed": ("xgb_multiclass", _xgb(
        lambda m: m["learner"]["learner_model_param"].__setitem__("num_class", "5"))),
    "xgb-leaf-value-nan": ("xgb_binary", _xgb_leaf_nan),
    "xgb-deep-nesting": ("xgb_binary", _xgb_deep),
    "xgb-attribute-deep-nesting": ("xgb_categorical", _xgb(_xgb_attribute_deep)),
    "xgb-vector-leaf-index-out-of-range": ("xgb_vector_leaf", _xgb(_xgb_vector_leaf_index)),
    "xgb-vector-leaf-weights-truncated": ("xgb_vector_leaf", _xgb(
        lambda m: _trees(m)["trees"][0].__setitem__(
            "leaf_weights", _trees(m)["trees"][0]["leaf_weights"][:2]))),
    "xgb-size-leaf-vector-changed": ("xgb_vector_leaf", _xgb(
        lambda m: _trees(m)["trees"][0]["tree_param"].__setitem__("size_leaf_vector", "5"))),
    "xgb-dart-weight-drop-short": ("xgb_dart", _xgb(
        lambda m: m["learner"]["gradient_booster"].__setitem__("weight_drop", [1.0]))),
    "xgb-category-segment-out-of-range": ("xgb_categorical",
                                          _xgb_categorical("categories_segments", 1000)),
    "xgb-category-huge": ("xgb_categorical", _xgb_categorical("categories", 2**31 - 1)),
    "xgb-base-score-nan": ("xgb_binary", _xgb(
        lambda m: m["learner"]["learner_model_param"].__setitem__("base_score", "NaN"))),
}


def _edited(saved: dict[str, Path], folder: Path, case: str, *, digest: bool = True) -> Path:
    key, edit = EDITS[case]
    document = _document(saved[key])
    booster = document["boosters"][0]
    booster["model"] = edit(booster["model"])
    return _write(document, folder / f"{case}.json", digest=digest)


# Loads each case's file and predicts in a forked child; prints one JSON line per case.
_RUNNER = textwrap.dedent("""
    import json, os, signal, sys, time
    spec = json.loads(sys.argv[1])
    exec(spec["data_source"])
    import gbfocal, lightgbm, xgboost
    for name in ("FocalLGBMClassifier", "FocalXGBClassifier", "FocalMultiOutputClassifier",
                 "FocalMultiLabelClassifier"):
        getattr(gbfocal, name)
    for case in spec["cases"]:
        X = _data(case["data"])[0]
        note = case["path"] + ".outcome"
        pid = os.fork()
        if pid == 0:
            code = 4
            try:
                try:
                    gbfocal.load_model(case["path"]).predict_proba(X)
                    code, text = 0, ""
                except ValueError as exc:
                    code, text = 3, str(exc)
                except BaseException as exc:
                    text = f"{type(exc).__name__}: {exc}"
                with open(note, "w") as handle:
                    handle.write(text)
            finally:
                os._exit(code)
        deadline, status = time.monotonic() + spec["timeout"], None
        while status is None:
            done, raw = os.waitpid(pid, os.WNOHANG)
            if done:
                status = raw
            elif time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            else:
                time.sleep(0.01)
        if status is None:
            outcome = "hang (killed)"
        elif os.WIFSIGNALED(status):
            outcome = f"killed by signal {os.WTERMSIG(status)}"
        else:
            outcome = {0: "loaded and predicted", 3: "ValueError",
                       4: "another exception"}.get(os.WEXITSTATUS(status), "exit")
        message = open(note).read() if os.path.exists(note) else ""
        print("RESULT " + json.dumps({"case": case["id"], "outcome": outcome,
                                      "message": message[:500]}), flush=True)
""")


def run_cases(cases: list[tuple[str, Path, str]], timeout: float = 30.0) -> dict[str, Any]:
    """Load and predict each ``(id, file, data kind)`` in a forked child with a timeout."""
    spec = {"data_source": "from typing import Any\n" + inspect.getsource(_data),
            "timeout": timeout,
            "cases": [{"id": c, "path": str(p), "data": kind} for c, p, kind in cases]}
    done = subprocess.run([sys.executable, "-c", _RUNNER, json.dumps(spec)],
                          capture_output=True, text=True, check=False,
                          timeout=60 + timeout * len(cases))
    results = {}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
            results[result["case"]] = result
    assert results, done.stderr[-3000:]
    return results


@pytest.fixture(scope="module")
def edited_outcomes(saved: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
                    ) -> dict[str, Any]:
    if not hasattr(os, "fork"):
        pytest.skip("the child processes are forked")
    folder = tmp_path_factory.mktemp("edited")
    cases = [(case, _edited(saved, folder, case), _MODELS[EDITS[case][0]][0]) for case in EDITS]
    return run_cases(cases)


# --------------------------------------------------------------------------- 1. native models
@pytest.mark.parametrize("case", list(EDITS))
def test_edited_native_model_is_refused_before_the_library_parses_it(edited_outcomes, case):
    result = edited_outcomes.get(case, {"outcome": "no result (the runner died)"})
    assert result["outcome"] == "ValueError", result
    assert f"{case}.json" in result["message"]  # names the file
    assert "boosters[0]" in result["message"]  # and the part of it


def test_an_edit_without_a_new_digest_is_reported_as_edited(saved, tmp_path):
    for case in ("lgb-left-child-out-of-range", "xgb-split-feature-out-of-range"):
        path = _edited(saved, tmp_path, case, digest=False)
        with pytest.raises(ValueError, match="edited or damaged") as info:
            load_model(path)
        assert str(path) in str(info.value)


@pytest.mark.parametrize("key", list(_MODELS))
def test_valid_models_round_trip_bit_for_bit(fitted, saved, key, tmp_path):
    model = fitted[key]
    X = _data(_MODELS[key][0])[0]
    loaded = load_model(saved[key])
    document = _document(saved[key])
    boosters = loaded.boosters_ if hasattr(loaded, "boosters_") else [loaded.booster_]
    for booster, saved_booster in zip(boosters, document["boosters"], strict=True):
        assert persist._booster_document(booster)["model"] == saved_booster["model"]
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    again = save_model(loaded, tmp_path / "again.json")
    assert again.read_bytes() == saved[key].read_bytes()


def test_the_digest_covers_the_whole_document(saved, tmp_path):
    document = _document(saved["lgb_binary"])
    assert re.fullmatch(r"[0-9a-f]{64}", document["sha256"])
    assert document["version"] == 2
    for key in ("params", "classes", "loss", "boosters"):
        changed = copy.deepcopy(document)
        changed[key] = copy.deepcopy(changed[key])
        if key == "params":
            changed["params"]["gamma"] = 3.0
        elif key == "classes":
            changed["classes"] = changed["classes"][::-1]
        elif key == "loss":
            changed["loss"]["gamma"] = 3.0
        else:
            changed["boosters"][0]["model"] += "\n"
        with pytest.raises(ValueError, match="edited or damaged"):
            load_model(_write(changed, tmp_path / f"{key}.json", digest=False))
    del document["sha256"]
    with pytest.raises(ValueError, match="no 'sha256' digest"):
        load_model(_write(document, tmp_path / "no-digest.json"))


def test_format_1_files_load_only_when_trusted(fitted, saved, tmp_path):
    document = _document(saved["xgb_multiclass"])
    del document["sha256"]
    document["version"] = 1
    path = _write(document, tmp_path / "old.json")
    with pytest.raises(ValueError, match=r"format-1 .*legacy=True") as info:
        load_model(path)
    assert str(path) in str(info.value)
    X = _data("multiclass")[0]
    for loaded in (load_model(path, legacy=True),
                   gbfocal.FocalXGBClassifier.load_model(path, legacy=True)):
        np.testing.assert_array_equal(loaded.predict_proba(X),
                                      fitted["xgb_multiclass"].predict_proba(X))
    # the checks still run on trusted files
    document["best_iteration"] = 10_000
    with pytest.raises(ValueError, match="best_iteration"):
        load_model(_write(document, tmp_path / "old-bad.json"), legacy=True)


# --------------------------------------------------------------------------- 2. contradictions
def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set a field of the document by a dotted path (list indices as numbers)."""
    def edit(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = document
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return edit


def _steps(*edits: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        for step in edits:
            step(document)
    return edit


def _reverse_classes(document: dict[str, Any]) -> None:
    document["classes"] = document["classes"][::-1]


def _three_classes_for_a_binary_booster(document: dict[str, Any]) -> None:
    # every field that describes the classes says 3, only the booster has one output
    document["classes"] = ["mid", "no", "yes"]
    document["loss"].update(kind="multiclass", n_classes=3, alpha=None,
                            alpha_=[1.0, 1.0, 1.0])
    document["params"]["alpha"] = None
    document["init_score"] = [0.0, 0.0, 0.0]


def _scale_alpha(document: dict[str, Any]) -> None:
    document["loss"]["alpha_"] = [2 * a for a in document["loss"]["alpha_"]]


def _shift_init_score(document: dict[str, Any]) -> None:
    document["init_score"] += 0.5


# case -> (model key, edit of the document, field the error must name)
CONTRADICTIONS: dict[str, tuple[str, Callable[[dict[str, Any]], None], str]] = {
    "classes-reversed": ("lgb_binary", _reverse_classes, "classes"),
    "classes-reordered": ("xgb_multiclass", _set("classes", [7, 3, 11]), "classes"),
    "classes-repeated": ("lgb_multiclass", _set("classes", [3, 3, 11]), "classes"),
    "three-classes-binary-loss": ("xgb_binary", _set("classes", ["mid", "no", "yes"]),
                                  "loss.kind"),
    "three-classes-binary-booster": ("lgb_binary", _three_classes_for_a_binary_booster,
                                     "num_class"),
    "three-classes-binary-xgboost": ("xgb_binary", _three_classes_for_a_binary_booster,
                                     "outputs"),
    "alpha_-nan": ("lgb_binary", _set("loss.alpha_", ["NaN", 1]), "loss.alpha_"),
    "alpha_-changed": ("lgb_binary", _set("loss.alpha_", [0.5, 0.5]), "loss.alpha_"),
    "alpha_-not-balanced": ("lgb_multiclass", _scale_alpha, "balanced"),
    "alpha_-wrong-shape": ("multilabel_xgb", _set("loss.alpha_", [1.0, 1.0]), "loss.alpha_"),
    "loss-alpha-changed": ("xgb_multiclass", _set("loss.alpha", [1.0, 2.0, 9.0]),
                           "loss.alpha"),
    "loss-gamma-changed": ("lgb_binary", _set("loss.gamma", 3.0), "loss.gamma"),
    "loss-hessian-changed": ("xgb_binary", _set("loss.hessian", "exact"), "loss.hessian"),
    "loss-gamma_neg-changed": ("multilabel_lgb", _set("loss.gamma_neg", 1.0), "loss.gamma_neg"),
    "params-gamma-negative": ("lgb_binary", _set("params.gamma", -5), "params"),
    "params-and-loss-gamma-negative": ("xgb_binary", _steps(
        _set("params.gamma", -5), _set("loss.gamma", -5)), "params"),
    "params-n_estimators-zero": ("lgb_binary", _set("params.n_estimators", 0), "params"),
    "params-unknown": ("lgb_binary", _set("params.colour", "red"), "params"),
    "params-native-class-weight": ("xgb_binary", _set("params.params", {"scale_pos_weight": 3}),
                                   "params"),
    "best_iteration-negative": ("lgb_binary", _set("best_iteration", -1), "best_iteration"),
    "best_iteration-too-large": ("xgb_binary", _set("best_iteration", 10_000),
                                 "best_iteration"),
    "best_iteration-per-output": ("multioutput_lgb", _set("best_iteration", [2, 99]),
                                  "best_iteration"),
    "init_score-changed": ("xgb_binary", _shift_init_score, "init_score"),
    "init_score-not-finite": ("lgb_multiclass", _set("init_score.1", "NaN"), "init_score"),
    "init_score-shape": ("multioutput_xgb", _set("init_score", [[0.0, 0.0]]), "init_score"),
    "n_features_in-changed": ("lgb_binary", _set("n_features_in", 3), "features"),
    "feature_names-count": ("lgb_categorical", _set("feature_names_in", ["a", "city"]),
                            "feature_names_in"),
    "n_outputs-changed": ("multioutput_xgb", _steps(
        _set("n_outputs", 3), _set("loss.n_outputs", 3),
        _set("init_score", [[0.0] * 3] * 3)), "outputs"),
    "multilabel-classes-flipped": ("multilabel_lgb", _set("classes.1", [1, 0]), "classes"),
    "estimator-swapped": ("lgb_binary", _set("estimator", "FocalXGBClassifier"), "params"),
    "estimator-swapped-same-params": ("xgb_binary", _set("estimator", "FocalLGBMClassifier"),
                                      "params"),
    "classes_dtype-huge": ("lgb_binary", _set("classes_dtype", "<U999999999"), "classes_dtype"),
    "xgb-base-score-zero": ("multioutput_xgb", lambda d: d["boosters"][0].__setitem__(
        "model", d["boosters"][0]["model"].replace('"base_score":"[0E0', '"base_score":"[1E0')),
        "base_score"),
}


@pytest.mark.parametrize("case", list(CONTRADICTIONS))
def test_contradictory_documents_are_refused_naming_the_field(saved, tmp_path, case):
    key, edit, field = CONTRADICTIONS[case]
    document = _document(saved[key])
    edit(document)
    path = _write(document, tmp_path / "model.json")
    with pytest.raises(ValueError) as info:
        load_model(path)
    message = str(info.value)
    assert str(path) in message
    assert field in message, message


# --------------------------------------------------------------------------- 3. damaged files
_TOP_LEVEL = ["format", "version", "gbfocal_version", "estimator", "params", "params_not_saved",
              "classes", "classes_dtype", "classes_per_output", "n_features_in",
              "feature_names_in", "loss", "init_score", "best_iteration", "boosters", "sha256"]
_OTHER_TYPE = {str: 12, int: "12", float: "1.5", bool: "yes", list: {"a": 1}, dict: [1, 2],
               type(None): {"a": 1}}


@pytest.mark.parametrize("field", _TOP_LEVEL)
def test_each_field_deleted_swapped_or_null_gives_a_value_error(saved, tmp_path, field):
    for key in ("lgb_binary", "multioutput_xgb"):
        document = _document(saved[key])
        variants = {"deleted": None, "swapped": _OTHER_TYPE[type(document[field])],
                    "null": None}
        for variant, value in variants.items():
            changed = copy.deepcopy(document)
            if variant == "deleted":
                del changed[field]
            else:
                changed[field] = value
            path = _write(changed, tmp_path / f"{key}-{variant}.json",
                          digest=field != "sha256")
            null_is_valid = variant == "null" and (
                field == "feature_names_in" or (field == "init_score" and key == "lgb_binary")
                or (field == "best_iteration" and key == "multioutput_xgb"))
            if null_is_valid:  # what fit itself stores in some cases
                load_model(path)
                continue
            with pytest.raises(ValueError) as info:
                load_model(path)
            assert str(path) in str(info.value)


@pytest.mark.parametrize("field", ["loss", "boosters.0", "params"])
def test_nested_fields_deleted_or_null_give_a_value_error(saved, tmp_path, field):
    document = _document(saved["multilabel_lgb"])
    target = document["boosters"][0] if field == "boosters.0" else document[field]
    for key in list(target):
        for variant in ("deleted", "null"):
            changed = copy.deepcopy(document)
            part = changed["boosters"][0] if field == "boosters.0" else changed[field]
            if variant == "deleted":
                del part[key]
            else:
                part[key] = None
            if changed == document:
                continue
            path = _write(changed, tmp_path / "model.json")
            try:  # a parameter left out takes its default, null is valid for some
                load_model(path)
            except ValueError as exc:
                assert str(path) in str(exc)
            else:
                assert field == "params", (field, key, variant)


@pytest.mark.parametrize("fraction", [0.0, 0.001, 0.25, 0.5, 0.75, 0.999])
def test_truncated_files_give_a_value_error(saved, tmp_path, fraction):
    data = saved["xgb_binary"].read_bytes()
    path = tmp_path / "truncated.json"
    path.write_bytes(data[:int(len(data) * fraction)])
    with pytest.raises(ValueError, match="not a gbfocal model file"):
        load_model(path)


def test_deep_nesting_and_large_files_are_refused_without_reading_them(saved, tmp_path,
                                                                       monkeypatch):
    document = _document(saved["lgb_binary"])
    text = json.dumps(document)
    deep = text.replace('"params_not_saved": []',
                        '"params_not_saved": ' + "[" * 50_000 + "]" * 50_000)
    path = tmp_path / "deep.json"
    path.write_text(deep)
    with pytest.raises(ValueError, match="nested deeper than 64"):
        load_model(path)
    monkeypatch.setattr(persist, "MAX_FILE_BYTES", 1000)

    def no_reading(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the file was opened")

    monkeypatch.setattr(persist, "open", no_reading, raising=False)
    with pytest.raises(ValueError, match="MAX_FILE_BYTES") as info:
        load_model(saved["lgb_binary"])
    assert str(saved["lgb_binary"]) in str(info.value)


@pytest.mark.parametrize("change", [
    {"boosters": []}, {"boosters": [{}]}, {"loss": {}}, {"loss": []}, {"classes": "ab"},
    {"estimator": None}, {"params": {"n_estimators": "many"}},
])
def test_damaged_files_give_one_error_line_in_the_cli(saved, tmp_path, capsys, change):
    from gbfocal import cli

    document = _document(saved["lgb_binary"])
    document.update(change)
    path = _write(document, tmp_path / "model.json")
    with pytest.raises(ValueError, match="model.json"):
        load_model(path)
    X = _data("binary")[0]
    data = tmp_path / "data.csv"
    pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).to_csv(data, index=False)
    assert cli.main(["predict", str(path), str(data)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gbfocal: error: "), err
    assert "model.json" in err[0]


def test_cli_on_empty_boosters_in_a_real_process(saved, tmp_path):
    document = _document(saved["lgb_binary"])
    document["boosters"] = []
    path = _write(document, tmp_path / "model.json")
    data = tmp_path / "data.csv"
    X = _data("binary")[0]
    pd.DataFrame(X).to_csv(data, index=False)
    done = subprocess.run([sys.executable, "-m", "gbfocal", "predict", str(path), str(data)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gbfocal: error: "), done.stderr[-2000:]


# --------------------------------------------------------------------------- 4. saving
def test_save_never_follows_a_link_planted_next_to_the_file(fitted, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    path = tmp_path / "model.json"
    (tmp_path / "model.json.tmp").symlink_to(victim)
    save_model(fitted["lgb_binary"], path)
    assert victim.read_text() == "precious"
    assert path.is_file() and not path.is_symlink()
    assert (tmp_path / "model.json.tmp").is_symlink()
    load_model(path)
    save_model(fitted["xgb_binary"], path, overwrite=True)
    assert victim.read_text() == "precious"
    assert type(load_model(path)).__name__ == "FocalXGBClassifier"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.json.tmp",
                                                          "victim.txt"]


def test_concurrent_saves_to_one_path_leave_one_complete_file(fitted, tmp_path):
    path = tmp_path / "model.json"
    models = [fitted["lgb_binary"], fitted["xgb_binary"]]
    errors: list[BaseException] = []

    def save(model: Any) -> None:
        try:
            for _ in range(5):
                save_model(model, path, overwrite=True)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(m,)) for m in models]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert type(load_model(path)).__name__ in ("FocalLGBMClassifier", "FocalXGBClassifier")
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_overwrite_false_is_checked_when_the_file_is_moved_into_place(fitted, tmp_path,
                                                                      monkeypatch):
    path = tmp_path / "model.json"
    real_link = os.link

    def someone_else_first(source: Any, target: Any) -> None:
        Path(target).write_text("someone else's model")  # appears during the save
        real_link(source, target)

    monkeypatch.setattr(os, "link", someone_else_first)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_model(fitted["lgb_binary"], path)
    assert path.read_text() == "someone else's model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


@pytest.mark.parametrize(("step", "error"), [
    ("fsync", OSError("disk full")),  # the data is written, not yet on disk
    ("replace", OSError("device gone")),  # written and flushed, moving it into place
    ("replace", KeyboardInterrupt()),
])
def test_a_failed_save_keeps_the_old_file_and_leaves_no_temporary_file(fitted, tmp_path,
                                                                       monkeypatch, step, error):
    path = save_model(fitted["lgb_binary"], tmp_path / "model.json")
    before = path.read_bytes()

    def fail(*args: Any) -> None:
        raise error

    monkeypatch.setattr(os, step, fail)
    with pytest.raises(type(error)):
        save_model(fitted["xgb_binary"], path, overwrite=True)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_saved_files_get_the_usual_permissions(fitted, tmp_path):
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    path = save_model(fitted["lgb_binary"], tmp_path / "model.json")
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_the_document_json_is_strict(saved, tmp_path):
    text = saved["lgb_binary"].read_text()
    for name, bad in {
        "repeated key": text.replace('"estimator": ', '"estimator": "x", "estimator": ', 1),
        "NaN": text.replace('"n_features_in": 5', '"n_features_in": NaN', 1),
        "overflow": text.replace('"n_features_in": 5', '"n_features_in": 1e999', 1),
        "not UTF-8": text.replace('"estimator"', '"estimator\udcff"', 1),
    }.items():
        assert bad != text, name
        path = tmp_path / "model.json"
        path.write_bytes(bad.encode("utf-8", "surrogateescape"))
        with pytest.raises(ValueError, match="not a gbfocal model file") as info:
            load_model(path)
        assert str(path) in str(info.value), name


def test_the_tree_checks_need_neither_library():
    import ast

    source = Path(inspect.getfile(gbfocal)).with_name("_model_check.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {"__future__", "json", "re", "dataclasses", "typing", "numpy"}, imported
