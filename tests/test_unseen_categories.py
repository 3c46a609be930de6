"""Values of a pandas ``category`` column that were not categories in ``fit``.

One rule for both libraries, applied in Python before the library sees the data: such a
value is a missing value (NaN), with an ``UnseenCategoryWarning`` naming the column and the
values, or a ValueError with ``unseen_category="error"``. Before, XGBoost 3.2 mapped a value
that sorts before the last training category to a training category and failed with a C++
trace for one that sorts after, and LightGBM treated any as missing, silently. Known values
are matched by value whatever the order of the column's categories. The training categories
are part of the saved model (LightGBM's own ``pandas_categorical``; an XGBoost booster
attribute), so a loaded model follows the same rule.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from gbfocal import load_model  # noqa: E402
from gbfocal.sklearn import (  # noqa: E402
    FocalLGBMClassifier,
    FocalXGBClassifier,
    UnseenCategoryWarning,
)

BACKENDS = {"lightgbm": FocalLGBMClassifier, "xgboost": FocalXGBClassifier}
# sorted against the training categories b, c, d: before all, between two, after all
UNSEEN = ["a", "bb", "e", "zz"]


@pytest.fixture(params=list(BACKENDS))
def Estimator(request) -> Any:
    pytest.importorskip(request.param)
    return BACKENDS[request.param]


def _training(n: int = 600, seed: int = 0) -> tuple[Any, np.ndarray]:
    """A string category column (with missing cells, so that "missing" predicts something of
    its own), an integer category column and a number; the label depends on all three."""
    rng = np.random.default_rng(seed)
    c = rng.choice(np.array(["b", "c", "d", None], dtype=object), n, p=[0.3, 0.3, 0.3, 0.1])
    k = rng.choice([10, 20, 30], n)
    x = rng.normal(size=n)
    score = np.select([c == "b", c == "c", c == "d"], [-1.0, 1.0, 0.0], 2.5) + 0.5 * x
    y = (score + 0.3 * (k == 20) + rng.normal(scale=0.5, size=n) > 0.3).astype(int)
    frame = pd.DataFrame({"x": x, "c": pd.Categorical(c, categories=["b", "c", "d"]),
                          "k": pd.Categorical(k)})
    return frame, y


def _fitted(Estimator: Any, **params: Any) -> Any:
    X, y = _training()
    extra = {"min_child_samples": 5} if Estimator is FocalLGBMClassifier else {}
    return Estimator(n_estimators=30, n_jobs=1, **extra, **params).fit(X, y)


def _rows(c: list[Any], k: list[Any] | None = None) -> Any:
    """Prediction rows: ``c`` with the categories its values give (not the training ones)."""
    k = [10] * len(c) if k is None else k
    return pd.DataFrame({"x": np.zeros(len(c)), "c": pd.Categorical(c),
                         "k": pd.Categorical(k)})


def _predictions(model: Any, X: Any) -> dict[str, np.ndarray]:
    return {
        "decision_function": model.decision_function(X),
        "predict_proba": model.predict_proba(X),
        "predict": model.predict(X),
        "pred_contrib": model.decision_function(X, pred_contrib=True),
    }


def _unseen_warnings(caught: list[Any]) -> list[Any]:
    return [w.message for w in caught if issubclass(w.category, UnseenCategoryWarning)]


# ------------------------------------------------------------------ the rule
@pytest.mark.parametrize("value", UNSEEN)
def test_an_unseen_value_is_predicted_as_missing_with_a_warning(Estimator, value):
    model = _fitted(Estimator)
    X = _rows(["b", value, "d", None])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = _predictions(model, X)
    missing = _predictions(model, _rows(["b", None, "d", None]))
    for name, values in got.items():
        np.testing.assert_array_equal(values, missing[name], err_msg=name)
    # the missing row differs from the known values' rows: the test sees a wrong mapping
    margin = got["decision_function"]
    assert margin[1] != margin[0] and margin[1] != margin[2]
    unseen = _unseen_warnings(caught)
    assert len(unseen) == 4  # one per call, every prediction path
    message = unseen[0]
    assert (message.column, message.unseen_values, message.n_rows) == ("c", [value], 1)
    assert "column 'c' of X" in str(message) and repr(value) in str(message)
    assert "\n" not in str(message)


def test_each_column_is_warned_about_once_per_call_with_its_values(Estimator):
    model = _fitted(Estimator)
    X = _rows(["a", "e", "e", "b", "z1", "z2", "z3", "z4"],
              k=[10, 40, 5, 20, 10, 10, 10, 10])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = model.predict_proba(X)
    unseen = _unseen_warnings(caught)
    assert [(m.column, m.unseen_values, m.n_rows) for m in unseen] == [
        ("c", ["a", "e", "z1", "z2", "z3", "z4"], 7), ("k", [5, 40], 2)]
    # the first few values are named, then how many more there are
    assert "['a', 'e', 'z1', 'z2', 'z3'] and 1 more" in str(unseen[0])
    c = [None if v not in ("b", "c", "d") else v for v in X["c"].tolist()]
    k = [None if v not in (10, 20, 30) else v for v in X["k"].tolist()]
    expected = model.predict_proba(pd.DataFrame({
        "x": X["x"], "c": pd.Categorical(c, categories=["b", "c", "d"]),
        "k": pd.Categorical(k, categories=[10, 20, 30])}))
    np.testing.assert_array_equal(got, expected)


def test_error_refuses_unseen_values_naming_the_column_and_values(Estimator):
    model = _fitted(Estimator, unseen_category="error")
    X = _rows(["b", "e", "a"])
    for predict in (model.predict, model.predict_proba, model.decision_function,
                    lambda X: model.decision_function(X, pred_contrib=True)):
        with pytest.raises(ValueError, match=r"column 'c' of X: 2 rows have values that were "
                                             r"not among its categories in fit: \['a', 'e'\] "
                                             r"\(unseen_category='error'"):
            predict(X)
    # known values (and missing cells) are fine
    model.predict(_rows(["b", None, "d"]))
    # the parameter can be changed after fit, as any predict-time parameter
    model.set_params(unseen_category="missing")
    with pytest.warns(UnseenCategoryWarning, match="'e'"):
        model.predict(X)


def test_unseen_category_is_checked_and_named(Estimator):
    X, y = _training(200)
    with pytest.raises(ValueError, match="unseen_category"):
        Estimator(unseen_category="ignore", n_estimators=2).fit(X, y)
    model = _fitted(Estimator)
    model.set_params(unseen_category="drop")
    with pytest.raises(ValueError, match=r"unseen_category must be one of \['missing', "
                                         r"'error'\], got 'drop'"):
        model.predict(_rows(["b"]))


def test_known_values_are_matched_by_value_whatever_the_category_order(Estimator):
    model = _fitted(Estimator)
    values = ["d", "b", None, "c", "b"]
    reference = model.decision_function(pd.DataFrame({
        "x": np.zeros(5), "c": pd.Categorical(values, categories=["b", "c", "d"]),
        "k": pd.Categorical([30, 10, 20, 10, 30], categories=[10, 20, 30])}))
    for c_categories, k_categories in [
        (["d", "c", "b"], [30, 20, 10]),  # reversed: the codes all differ
        (["b", "c", "d", "q"], [10, 20, 30, 99]),  # unused extra categories
        (None, None),  # only the values present: a subset, codes shifted
    ]:
        X = pd.DataFrame({
            "x": np.zeros(5), "c": pd.Categorical(values, categories=c_categories),
            "k": pd.Categorical([30, 10, 20, 10, 30], categories=k_categories)})
        with warnings.catch_warnings():
            warnings.simplefilter("error", UnseenCategoryWarning)
            np.testing.assert_array_equal(model.decision_function(X), reference)
    # the caller's frame is not changed
    assert X["c"].cat.categories.tolist() == ["b", "c", "d"]


def test_validation_sets_follow_the_rule_too(Estimator):
    """eval_set rows with unseen values are scored as predict_proba predicts them."""
    X, y = _training()
    X_val = X.iloc[:200].copy()
    X_val["c"] = pd.Categorical(np.where(X_val["c"] == "b", "a", X_val["c"]).tolist())
    extra = {"min_child_samples": 5} if Estimator is FocalLGBMClassifier else {}
    with pytest.warns(UnseenCategoryWarning, match=r"column 'c' of eval_set\[0\]"):
        model = Estimator(n_estimators=10, n_jobs=1, eval_metric="log_loss", **extra).fit(
            X, y, eval_set=[(X_val, y[:200])])
    from sklearn.metrics import log_loss

    with pytest.warns(UnseenCategoryWarning):
        proba = model.predict_proba(X_val)
    assert model.evals_result_["valid_0"]["log_loss"][-1] == pytest.approx(
        log_loss(y[:200], proba), rel=1e-5)
    with pytest.raises(ValueError, match=r"eval_set\[0\]"):
        Estimator(n_estimators=2, unseen_category="error").fit(X, y, eval_set=[(X_val, y[:200])])


# ------------------------------------------------------------------ saved models
def test_a_loaded_model_keeps_the_rule_and_the_option(Estimator, tmp_path):
    model = _fitted(Estimator, unseen_category="error")
    path = tmp_path / "model.json"
    model.save_model(path)
    loaded = load_model(path)
    assert loaded.get_params()["unseen_category"] == "error"
    with pytest.raises(ValueError, match="'zz'"):
        loaded.predict(_rows(["zz"]))
    loaded.set_params(unseen_category="missing")
    with pytest.warns(UnseenCategoryWarning):
        got = loaded.decision_function(_rows(["a", "zz", "c"]))
    np.testing.assert_array_equal(got, model.decision_function(_rows([None, None, "c"])))


def test_an_xgboost_booster_without_gbfocal_s_attribute_asks_xgboost(tmp_path):
    """A booster saved before gbfocal stored the categories: XGBoost's own (via pyarrow)."""
    pytest.importorskip("xgboost")
    pytest.importorskip("pyarrow")
    model = _fitted(FocalXGBClassifier)
    model.booster_.set_attr(gbfocal_pandas_categorical=None)  # removes it
    assert model.booster_.attr("gbfocal_pandas_categorical") is None
    with pytest.warns(UnseenCategoryWarning, match="'e'"):
        got = model.decision_function(_rows(["e", "a", "d"]))
    np.testing.assert_array_equal(got, model.decision_function(_rows([None, None, "d"])))


# ------------------------------------------------------------------ command line
@pytest.fixture
def files(tmp_path):
    """A training file with two text columns, and new rows with values it did not have."""
    X, y = _training()
    table = pd.DataFrame({"x": X["x"], "c": X["c"].astype(object),
                          "g": np.where(X["k"].to_numpy() == 10, "low", "high"),
                          "label": np.where(y == 1, "yes", "no")})
    train = tmp_path / "train.csv"
    table.to_csv(train, index=False)
    new = tmp_path / "new.csv"
    pd.DataFrame({"id": [1, 2, 3, 4], "x": [0.0] * 4, "c": ["a", "b", "e", "zz"],
                  "g": ["low", "mid", "mid", "high"]}).to_csv(new, index=False)
    empty = tmp_path / "empty_cells.csv"
    pd.DataFrame({"id": [1, 2, 3, 4], "x": [0.0] * 4, "c": [None, "b", None, None],
                  "g": ["low", None, None, "high"]}).to_csv(empty, index=False)
    return train, new, empty


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_cli_predict_warns_once_per_column_and_predicts_missing(files, tmp_path, capsys,
                                                                backend):
    pytest.importorskip(backend)
    from gbfocal import cli

    train, new, empty = files
    model = tmp_path / "model.json"
    assert cli.main(["train", str(train), "--target", "label", "--backend", backend,
                     "--output", str(model), "--param", "n_estimators=20", "--n-jobs",
                     "1"]) == 0
    capsys.readouterr()
    out, reference = tmp_path / "p.csv", tmp_path / "reference.csv"
    assert cli.main(["predict", str(model), str(new), "--keep", "id", "--output",
                     str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if "warning" in line] == [
        f"gbfocal: warning: column 'c' of {new}: 3 rows have values not seen in training "
        "('a', 'e', 'zz'): predicted as missing values",
        f"gbfocal: warning: column 'g' of {new}: 2 rows have values not seen in training "
        "('mid'): predicted as missing values",
    ]
    assert cli.main(["predict", str(model), str(empty), "--keep", "id", "--output",
                     str(reference)]) == 0
    assert "warning" not in capsys.readouterr().err
    assert out.read_bytes() == reference.read_bytes()

    refused = tmp_path / "refused.csv"
    assert cli.main(["predict", str(model), str(new), "--output", str(refused),
                     "--unseen-category", "error"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"gbfocal: error: column 'c' of {new}: 3 rows have values not seen in training "
        f"('a', 'e', 'zz'); column 'g' of {new}: 2 rows have values not seen in training "
        "('mid') (--unseen-category error refuses them; the default, missing, predicts them "
        "as missing values)"
    ]
    assert not refused.exists()
