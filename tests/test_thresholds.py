"""scikit-learn's TunedThresholdClassifierCV around the focal estimators: the threshold is
chosen on cross-validated predictions of the focal posterior and applied by ``predict``."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import TunedThresholdClassifierCV

from gbfocal import FocalLGBMClassifier, FocalXGBClassifier


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=600, n_features=8, n_informative=4, weights=[0.88],
                               flip_y=0.03, random_state=0)
    return X, y


@pytest.mark.parametrize("Estimator", [FocalLGBMClassifier, FocalXGBClassifier])
def test_tuned_threshold_wraps_the_focal_estimators(data, Estimator):
    if Estimator is FocalXGBClassifier:
        pytest.importorskip("xgboost")
    X, y = data
    base = Estimator(alpha="balanced", gamma=2.0, n_estimators=40, n_jobs=1, random_state=0)
    tuned = TunedThresholdClassifierCV(base, scoring="f1", cv=3, random_state=0,
                                       store_cv_results=True).fit(X, y)
    assert 0.0 < tuned.best_threshold_ < 1.0
    proba = tuned.estimator_.predict_proba(X)[:, 1]
    # predict applies the chosen threshold to the focal posterior (predict_proba)
    np.testing.assert_array_equal(tuned.predict(X), (proba >= tuned.best_threshold_).astype(int))
    np.testing.assert_allclose(tuned.predict_proba(X)[:, 1], proba)
    # the threshold chosen is the best of the thresholds tried on the folds
    assert tuned.best_score_ == pytest.approx(max(tuned.cv_results_["scores"]))


def test_string_labels_score_the_class_the_scorer_names(data):
    X, y = data
    labels = np.where(y == 1, "fraud", "legit")  # fraud sorts first: classes_[0]
    tuned = TunedThresholdClassifierCV(
        FocalLGBMClassifier(n_estimators=40, n_jobs=1, random_state=0),
        scoring=make_scorer(f1_score, pos_label="fraud"), cv=3,
    ).fit(X, labels)
    fraud = tuned.estimator_.predict_proba(X)[:, 0]
    expected = np.where(fraud >= tuned.best_threshold_, "fraud", "legit")
    np.testing.assert_array_equal(tuned.predict(X), expected)
    # on this imbalanced set the F1-optimal threshold predicts fraud more often than 1/2 does
    assert tuned.best_threshold_ < 0.5
    assert np.sum(tuned.predict(X) == "fraud") >= np.sum(
        tuned.estimator_.predict(X) == "fraud")
