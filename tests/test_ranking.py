"""The per-round ranking metrics (gbfocal._ranking) against scikit-learn's definitions."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from gbfocal import _ranking

CASES = [
    # (rows, distinct score values: few values means many ties, weighted)
    (2, None, False), (7, 3, True), (50, None, True), (500, 5, False), (2000, None, True),
    (1000, 40, True),
]


@pytest.mark.parametrize(("n", "levels", "weighted"), CASES)
@pytest.mark.parametrize("seed", range(3))
def test_matches_scikit_learn(n, levels, weighted, seed):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    y[:2] = [True, False]  # both classes present
    score = rng.normal(size=n) + y  # informative but imperfect
    if levels is not None:
        score = np.round(score * levels / 4) / levels  # many tied scores
    weight = rng.exponential(size=n) if weighted else None
    if weighted:
        weight[rng.random(n) < 0.1] = 0.0  # zero-weight rows take part in no cut
        weight[:2] = 1.0
    np.testing.assert_allclose(_ranking.average_precision(y, score, weight),
                               average_precision_score(y, score, sample_weight=weight),
                               rtol=1e-12)
    np.testing.assert_allclose(_ranking.roc_auc(y, score, weight),
                               roc_auc_score(y, score, sample_weight=weight), rtol=1e-12)


def test_float32_scores_and_extremes():
    rng = np.random.default_rng(5)
    y = rng.random(300) < 0.1
    y[0] = True
    y[1] = False
    score = (rng.normal(size=300) * 1e4).astype(np.float32)  # float32 margins (XGBoost's)
    np.testing.assert_allclose(_ranking.average_precision(y, score),
                               average_precision_score(y, score), rtol=1e-12)
    np.testing.assert_allclose(_ranking.roc_auc(y, score), roc_auc_score(y, score), rtol=1e-12)


def test_known_values():
    # all scores tied: AUC one half, AP the positive rate (one cut at recall 1)
    y = np.array([True, False, False, True])
    flat = np.zeros(4)
    assert _ranking.roc_auc(y, flat) == 0.5
    assert _ranking.average_precision(y, flat) == 0.5
    # perfect and reversed rankings
    score = np.array([3.0, 1.0, 0.0, 2.0])
    assert _ranking.roc_auc(y, score) == 1.0
    assert _ranking.average_precision(y, score) == 1.0
    assert _ranking.roc_auc(y, -score) == 0.0
    # positives at ranks 3 and 4: precision 1/3 then 2/4, each half the recall
    assert _ranking.average_precision(y, -score) == pytest.approx((1 / 3 + 2 / 4) / 2)
