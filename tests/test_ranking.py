"""The per-round ranking metrics against scikit-learn's definitions: the compiled single pass
(gbfocal._kernels through gbfocal._backend) and the NumPy reference (gbfocal._ranking)."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from gbfocal import _backend, _ranking

CASES = [
    # (rows, distinct score values: few values means many ties, weighted)
    (2, None, False), (7, 3, True), (50, None, True), (500, 5, False), (2000, None, True),
    (1000, 40, True),
]


@pytest.fixture(params=["compiled", "numpy"])
def scores(request, monkeypatch):
    """``scores(metric, positive, score, weight)`` through one implementation."""
    if request.param == "compiled":
        monkeypatch.delenv("GBFOCAL_DISABLE_NUMBA", raising=False)
        assert _backend.compiled() is not None
    else:
        monkeypatch.setenv("GBFOCAL_DISABLE_NUMBA", "1")
    return _backend.ranking_scores


def _case(n, levels, weighted, seed):
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
    return y, score, weight


@pytest.mark.parametrize(("n", "levels", "weighted"), CASES)
@pytest.mark.parametrize("seed", range(3))
def test_matches_scikit_learn(scores, n, levels, weighted, seed):
    y, score, weight = _case(n, levels, weighted, seed)
    ap = scores("average_precision", y, score, weight)
    auc = scores("roc_auc", y, score, weight)
    assert ap.shape == auc.shape == ()
    np.testing.assert_allclose(ap, average_precision_score(y, score, sample_weight=weight),
                               rtol=1e-12)
    np.testing.assert_allclose(auc, roc_auc_score(y, score, sample_weight=weight), rtol=1e-12)


def test_compiled_pass_equals_the_reference_to_rounding():
    # the reference's own functions (the fallback without numba) against the compiled pass
    for n, levels, weighted in CASES:
        y, score, weight = _case(n, levels, weighted, 7)
        for metric in ("average_precision", "roc_auc"):
            np.testing.assert_allclose(_backend.ranking_scores(metric, y, score, weight),
                                       _ranking.ranking_scores(metric, y, score, weight),
                                       rtol=1e-13)


def test_one_sort_for_many_weightings(scores):
    # (B, n) weights: each row's metric, as if computed alone (bootstrap multiplicities)
    y, score, _ = _case(400, 10, False, 3)
    counts = np.random.default_rng(4).poisson(1.0, size=(5, y.size)).astype(float)
    counts[:, :2] = 1.0
    for metric, reference in (("average_precision", average_precision_score),
                              ("roc_auc", roc_auc_score)):
        got = scores(metric, y, score, counts)
        assert got.shape == (5,)
        np.testing.assert_allclose(got, [reference(y, score, sample_weight=c) for c in counts],
                                   rtol=1e-12)


def test_float32_and_strided_scores(scores):
    rng = np.random.default_rng(5)
    y = rng.random(300) < 0.1
    y[0] = True
    y[1] = False
    score = (rng.normal(size=300) * 1e4).astype(np.float32)  # float32 margins (XGBoost's)
    np.testing.assert_allclose(scores("average_precision", y, score),
                               average_precision_score(y, score), rtol=1e-12)
    np.testing.assert_allclose(scores("roc_auc", y, score), roc_auc_score(y, score), rtol=1e-12)
    # a column of (n, K) probabilities, as the multiclass one-vs-rest metric passes it
    table = np.stack([rng.random(300), score.astype(np.float64)], axis=1)
    np.testing.assert_allclose(scores("roc_auc", y, table[:, 1]), roc_auc_score(y, score),
                               rtol=1e-12)


def test_known_values(scores):
    # all scores tied: AUC one half, AP the positive rate (one cut at recall 1)
    y = np.array([True, False, False, True])
    flat = np.zeros(4)
    assert scores("roc_auc", y, flat) == 0.5
    assert scores("average_precision", y, flat) == 0.5
    # perfect and reversed rankings
    score = np.array([3.0, 1.0, 0.0, 2.0])
    assert scores("roc_auc", y, score) == 1.0
    assert scores("average_precision", y, score) == 1.0
    assert scores("roc_auc", y, -score) == 0.0
    # positives at ranks 3 and 4: precision 1/3 then 2/4, each half the recall
    assert scores("average_precision", y, -score) == pytest.approx((1 / 3 + 2 / 4) / 2)


def test_unknown_metric_is_named(scores):
    with pytest.raises(ValueError, match="got 'auc'"):
        scores("auc", np.array([True, False]), np.array([1.0, 0.0]))
