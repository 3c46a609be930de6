"""tune_focal on a multi-label target: FocalMultiLabelClassifier, per-label checked folds,
macro per-label scores that leave unknown entries out."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

optuna = pytest.importorskip("optuna")
pytest.importorskip("lightgbm")

from gbfocal import FocalMultiLabelClassifier  # noqa: E402
from gbfocal.tuning import tune_focal  # noqa: E402
from gbfocal.tuning._multilabel import MultiLabelScorer  # noqa: E402

pytestmark = pytest.mark.usefixtures("quiet_optuna")


def _data(n=360, seed=0, missing=-1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    logits = X[:, :3] * [1.5, 1.0, 2.0] - [0.5, 1.0, 1.5] + rng.normal(scale=0.8, size=(n, 3))
    Y = (logits > 0).astype(float)  # 3 labels, about 40 %, 25 %, 20 % positive
    Y[rng.random(Y.shape) < 0.1] = missing
    return X, Y


OPTIONS = {"n_trials": 3, "cv": 3, "random_state": 0, "show_progress_bar": False,
           "params": {"n_estimators": 20, "n_jobs": 1}}


def _macro(score, Y, raw, missing=-1):
    known = ~np.isnan(Y) if missing is None else Y != missing
    return np.mean([score(Y[known[:, j], j], raw[known[:, j], j]) for j in range(Y.shape[1])])


@pytest.mark.parametrize("backend", ["lightgbm", "xgboost"])
def test_fold_scores_are_macro_per_label_scores_on_known_entries(backend):
    if backend == "xgboost":
        pytest.importorskip("xgboost")
    X, Y = _data()
    result = tune_focal(X, Y, backend=backend, early_stopping_rounds=None, baseline=False,
                        compare=None, **OPTIONS)
    assert isinstance(result.best_estimator, FocalMultiLabelClassifier)
    assert result.best_params["backend"] == backend
    best = result.study.best_trial
    # refit the best trial's folds by hand: the same folds (the study's seed), scored with
    # scikit-learn per label on the known entries
    from sklearn.model_selection import KFold

    params = {k: v for k, v in result.best_params.items()}
    scores = []
    for train, test in KFold(3, shuffle=True, random_state=0).split(X):
        model = FocalMultiLabelClassifier(**params, random_state=0).fit(X[train], Y[train])
        scores.append(_macro(average_precision_score, Y[test], model.decision_function(X[test])))
    np.testing.assert_allclose(best.user_attrs["fold_scores"], scores, rtol=0, atol=1e-12)
    assert result.best_score == pytest.approx(np.mean(scores), abs=1e-12)


@pytest.mark.parametrize("scoring", ["roc_auc", "neg_log_loss"])
def test_other_scores_and_the_nan_marker(scoring):
    X, Y = _data(missing=np.nan)
    params = {**OPTIONS["params"], "missing_label": None}
    result = tune_focal(X, Y, scoring=scoring, early_stopping_rounds=None, baseline=False,
                        compare=None, **{**OPTIONS, "params": params})
    model = result.best_estimator
    value = MultiLabelScorer(scoring)(model, X, Y)
    if scoring == "roc_auc":
        assert value == pytest.approx(_macro(roc_auc_score, Y, model.decision_function(X),
                                             missing=None), abs=1e-12)
        assert 0.5 < value <= 1.0
    else:
        assert value < 0


def test_early_stopping_both_arms_and_the_verdict():
    X, Y = _data(n=420)
    result = tune_focal(X, Y, early_stopping_rounds=5, **OPTIONS)
    best = result.arms[result.selected].study.best_trial
    assert 1 <= result.best_params["n_estimators"] <= 20
    assert result.best_params["n_estimators"] == round(np.mean(best.user_attrs["fold_rounds"]))
    assert len(result.fold_differences) == 3
    assert result.baseline_score is not None
    # the verdict of a multi-label target: macro scores on a holdout neither search saw
    comparison = result.comparison
    assert comparison.method == "holdout" and comparison.n_rows == 84  # 20 % of 420 rows
    assert result.verdict in ("focal", "log_loss", "no_difference")
    low, high = comparison.interval
    assert low <= comparison.difference <= high
    assert comparison.difference == pytest.approx(
        comparison.focal_score - comparison.log_loss_score)
    assert result.best_estimator.get_params()["gamma"] == result.best_params["gamma"]


def test_multilabel_mistakes_are_clear_errors():
    X, Y = _data()
    with pytest.raises(ValueError, match="pos_label"):
        tune_focal(X, Y, pos_label=1, **OPTIONS)
    with pytest.raises(ValueError, match="scoring='f1' is not available for a multi-label"):
        tune_focal(X, Y, scoring="f1", **OPTIONS)
    with pytest.raises(ValueError, match=r"params\['backend'\]"):
        tune_focal(X, Y, **{**OPTIONS, "params": {"backend": "xgboost"}})
    rare = Y.copy()
    rare[:, 2] = 0.0
    rare[:4, 2] = 1.0  # 4 positives cannot fill 3 folds plus early-stopping splits
    with pytest.raises(ValueError, match="label 2 has 4 positive"):
        tune_focal(X, rare, **OPTIONS)
    with pytest.raises(ValueError, match="y must be 1-D .* or a 2-D"):
        tune_focal(X, Y[:, :, None], **OPTIONS)


def test_parallel_multilabel_trials_score_like_sequential_ones(assert_rescored_alike):
    # n_jobs=2 fits folds on a worker process too
    X, Y = _data()
    options = {**OPTIONS, "n_trials": 4, "params": {"n_estimators": 20},
               "early_stopping_rounds": 5, "refit": False, "baseline": False, "compare": None}
    parallel = tune_focal(X, Y, n_jobs=2, **options)
    assert_rescored_alike(parallel, X, Y, **options)
