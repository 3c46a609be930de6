"""A DataFrame's text columns: the estimators name them and say to use the category dtype,
as LGBMClassifier and XGBClassifier do, instead of scikit-learn's "could not convert string
to float" about the first string it meets."""

from __future__ import annotations

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from gbfocal import FocalLGBMClassifier, FocalXGBClassifier  # noqa: E402

ESTIMATORS = [FocalLGBMClassifier, FocalXGBClassifier]


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "x": rng.normal(size=40),
        "city": rng.choice(["Oslo", "Rome"], size=40),                      # pandas str
        "code": pd.Series(rng.choice(["a", "b"], size=40), dtype=object),   # object
        "mixed": pd.Series([1, "one"] * 20, dtype=object),
        "count": pd.Series(np.arange(40.0), dtype=object),  # object, numbers only: accepted
    })


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_text_columns_are_named_with_the_fix(frame, Estimator):
    if Estimator is FocalXGBClassifier:
        pytest.importorskip("xgboost")
    y = np.arange(40) % 2
    with pytest.raises(ValueError) as info:
        Estimator(n_estimators=2, n_jobs=1).fit(frame, y)
    message = str(info.value)
    assert message.startswith("X has text columns 'city' (")
    for name in ("'code' (object)", "'mixed' (object)"):
        assert name in message
    assert "'count'" not in message and "'x'" not in message
    assert "astype('category')" in message
    # the category dtype is the fix; an object column of numbers stays accepted
    fixed = frame.drop(columns="mixed").astype({"city": "category", "code": "category"})
    model = Estimator(n_estimators=2, n_jobs=1).fit(fixed, y)
    assert model.predict(fixed).shape == (40,)
    # at predict time too, and in an eval set
    with pytest.raises(ValueError, match="X has text columns 'city'"):
        model.predict(fixed.astype({"city": str}))
    numeric = frame[["x", "count"]]
    with pytest.raises(ValueError, match="X has text columns 'count'"):
        Estimator(n_estimators=2, n_jobs=1, early_stopping_rounds=2).fit(
            numeric, y, eval_set=[(numeric.astype({"count": str}), y)])
