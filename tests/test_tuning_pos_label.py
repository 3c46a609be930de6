"""tune_focal's pos_label: which class is scored and weighted by a float alpha (issue 12.3),
the warning when that is the majority class; its progress messages and the check of the
backend library before any trial (issue 26)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification

optuna = pytest.importorskip("optuna")
pytest.importorskip("lightgbm")

from gbfocal.tuning import tune_focal  # noqa: E402

FAST = {"n_estimators": 20, "n_jobs": 1}


pytestmark = pytest.mark.usefixtures("quiet_optuna")


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=240, n_features=6, n_informative=4, weights=[0.8], flip_y=0.02, random_state=3
    )
    return X, y == 1  # True: the rare class, "fraud" below


def _tune(X, y, **kwargs):
    options = {
        "n_trials": 3, "cv": 3, "random_state": 0, "show_progress_bar": False,
        # no early-stopping split: the outer folds do not depend on how labels sort, so the
        # runs below see the same rows (StratifiedShuffleSplit orders classes by label)
        "early_stopping_rounds": None, "params": dict(FAST), "baseline": False, "compare": None,
    }
    options.update(kwargs)
    return tune_focal(X, y, **options)


@pytest.mark.parametrize(
    ("alpha", "alpha_when_larger", "reported"),
    [
        # searched: the trial's float alpha is the weight of fraud in both runs
        ((0.1, 0.9), (0.1, 0.9), None),
        # fixed weights are given in sorted label order: (fraud, legit) vs (legit, zfraud)
        (np.array([0.7, 0.3]), np.array([0.3, 0.7]), [0.7, 0.3]),
    ],
)
def test_pos_label_smaller_label_scores_like_the_larger_label(data, alpha, alpha_when_larger,
                                                               reported):
    X, is_fraud = data
    small = np.where(is_fraud, "fraud", "legit")  # fraud sorts first: classes_[0]
    large = np.where(is_fraud, "zfraud", "legit")  # the same rows, fraud sorts last
    result = _tune(X, small, pos_label="fraud", alpha=alpha, gamma=(0.0, 3.0))
    reference = _tune(X, large, alpha=alpha_when_larger, gamma=(0.0, 3.0))
    assert result.pos_label == "fraud"
    assert reference.pos_label == "zfraud"  # the default: the larger label
    # fraud was the scored (average precision) and alpha-weighted class in both: the same
    # trials, the same scores
    assert [t.params for t in result.study.trials] == [t.params for t in reference.study.trials]
    assert [t.values for t in result.study.trials] == [t.values for t in reference.study.trials]

    alpha_fraud = reference.best_params["alpha"]
    if reported is None:  # a float: the weight of fraud, reported in label order
        assert isinstance(alpha_fraud, float)
        assert result.best_params["alpha"] == [alpha_fraud, 1.0 - alpha_fraud]
    else:
        assert result.best_params["alpha"] == reported
    assert {k: v for k, v in result.best_params.items() if k != "alpha"} == {
        k: v for k, v in reference.best_params.items() if k != "alpha"
    }
    # best_estimator is fit on the original labels and gives fraud the tuned weight
    model = result.best_estimator
    assert model.classes_.tolist() == ["fraud", "legit"]
    np.testing.assert_allclose(
        model.loss_.alpha_, reference.best_estimator.loss_.alpha_[::-1], rtol=0, atol=1e-15
    )
    fraud_proba = model.predict_proba(X)[:, 0]
    np.testing.assert_allclose(
        fraud_proba, reference.best_estimator.predict_proba(X)[:, 1], rtol=0, atol=1e-6
    )


def test_default_pos_label_is_the_larger_label(data):
    X, is_fraud = data
    labels = np.where(is_fraud, "fraud", "legit")
    # legit holds about 80 % of the rows: scoring it is allowed, and said
    with pytest.warns(UserWarning, match=r"scores the class 'legit' \(the larger label.*"
                                         r"holds 7\d\.\d% of the rows.*pos_label='fraud'"):
        default = _tune(X, labels, n_trials=1, alpha=None, gamma=0.0)
    explicit = _tune(X, labels, n_trials=1, alpha=None, gamma=0.0, pos_label="legit")
    assert default.pos_label == explicit.pos_label == "legit"
    assert default.best_score == explicit.best_score
    fraud = _tune(X, labels, n_trials=1, alpha=None, gamma=0.0, pos_label="fraud")
    assert fraud.best_score < default.best_score  # the rare class is the harder one to rank


def test_numeric_pos_label_and_bad_pos_label(data):
    X, is_fraud = data
    y = is_fraud.astype(int)
    assert _tune(X, y, n_trials=1, alpha=None, gamma=0.0, pos_label=0).pos_label == 0
    assert _tune(X, y, n_trials=1, alpha=None, gamma=0.0).pos_label == 1
    with pytest.raises(ValueError, match=r"pos_label='fraud' is not one of the labels.*\[0, 1\]"):
        _tune(X, y, pos_label="fraud")
    with pytest.raises(ValueError, match="pos_label=2 is only defined for binary targets"):
        _tune(X, np.arange(len(y)) % 3, pos_label=2, alpha="balanced")
    assert _tune(X, np.arange(len(y)) % 3, n_trials=1, alpha=None).pos_label is None


def test_an_explicit_or_minority_pos_label_is_not_warned_about(data, recwarn):
    X, is_fraud = data
    labels = np.where(is_fraud, "fraud", "legit")
    assert _tune(X, labels, n_trials=1, alpha=None, gamma=0.0,
                 pos_label="legit").pos_label == "legit"  # asked for: no warning
    assert _tune(X, is_fraud.astype(int), n_trials=1, alpha=None, gamma=0.0).pos_label == 1
    assert not [w for w in recwarn if "holds" in str(w.message)]


def test_progress_announces_every_stage_after_the_trials(data):
    X, is_fraud = data
    messages = []
    result = _tune(X, is_fraud.astype(int), n_trials=2, baseline=True, compare="holdout",
                   refit=True, progress=messages.append)
    assert result.best_estimator is not None
    assert messages[0] == "searching on 192 rows; 48 rows held out for the comparison"
    assert messages[1] == "focal-loss arm: 2 trials"
    # booster parameters are fixed: the log-loss arm has nothing to search
    assert messages[2] == "log-loss arm (gamma=0, alpha=None): 1 trial (nothing to search)"
    assert messages[3].startswith("refitting each arm's best parameters on the 192 search rows")
    assert messages[4].startswith("the comparison: both arms scored on the unseen rows")
    selected = {"focal": "focal-loss", "log_loss": "log-loss"}[result.selected]
    assert messages[5].startswith(f"refitting the selected {selected} arm")
    assert messages[5].endswith("on all 240 rows")
    assert len(messages) == 6
    with pytest.raises(TypeError, match="progress must be a callable"):
        _tune(X, is_fraud, progress="stderr")


def test_a_missing_backend_is_the_install_hint_before_any_trial(data, monkeypatch):
    """Before: the ImportError came from inside the first trial, after the study started."""
    from gbfocal._optional import install_hint
    from gbfocal.tuning import _search

    real = _search._import_optional

    def without_xgboost(module, *, needed_by):
        if module == "xgboost":
            raise ImportError(install_hint(module, needed_by))
        return real(module, needed_by=needed_by)

    monkeypatch.setattr(_search, "_import_optional", without_xgboost)
    X, is_fraud = data
    with pytest.raises(ImportError, match=r"^tune_focal\(backend='xgboost'\) needs xgboost: "
                                          r"pip install gbfocal\[xgboost\]$"):
        _tune(X, is_fraud, backend="xgboost")
