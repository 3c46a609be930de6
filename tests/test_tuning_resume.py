"""Resuming a stored study with a changed search is refused (reliability item 3)."""

from __future__ import annotations

import re

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
    return X, y


def _tune(X, y, storage, **kwargs):
    options = {
        "n_trials": 1, "cv": 3, "random_state": 0, "show_progress_bar": False,
        "early_stopping_rounds": 5, "params": dict(FAST), "refit": False,
        "storage": storage, "study_name": "resume", "compare": None, "baseline": False,
    }
    options.update(kwargs)
    return tune_focal(X, y, **options)


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        ({"params": {**FAST, "learning_rate": 0.1}}, {"params": {**FAST, "learning_rate": 0.05}},
         "params['learning_rate']: saved 0.1, now 0.05"),
        ({"alpha": 0.25}, {"alpha": 0.75}, "alpha: saved 0.25, now 0.75"),
        ({"alpha": [(0.1, 0.9), None]}, {"alpha": [(0.2, 0.9), None]},
         "alpha: saved choices [None] + range (0.1, 0.9), now choices [None] + range (0.2, 0.9)"),
        ({"gamma": 1.0}, {"gamma": (0.0, 5.0)}, "gamma: saved 1.0, now range (0.0, 5.0)"),
        ({"gamma": [0.0, 2.0]}, {"gamma": (0.0, 2.0)},
         "gamma: saved choices [0.0, 2.0], now range (0.0, 2.0)"),
        ({}, {"params": {**FAST, "num_leaves": (4, 16)}},
         "params['num_leaves']: saved (not recorded), now int range (4, 16)"),
        ({"params": {**FAST, "num_leaves": (4, 16)}}, {"params": FAST},
         "params['num_leaves']: saved int range (4, 16), now (not recorded)"),
        ({"params": {**FAST, "n_estimators": (20, 40)}}, {"params": FAST},
         "params['n_estimators']: saved int range (20, 40), now 20"),
        ({}, {"early_stopping_metric": "log_loss"},
         "early_stopping_metric: saved 'average_precision', now 'log_loss'"),
        ({}, {"early_stopping_rounds": 10}, "early_stopping_rounds: saved 5, now 10"),
        ({}, {"validation_fraction": 0.3}, "validation_fraction: saved 0.2, now 0.3"),
        ({}, {"cv": 4}, "cv: saved 3, now 4"),
        ({}, {"pos_label": 0}, "pos_label: saved 1, now 0"),
        ({}, {"backend": "xgboost"}, "backend: saved 'lightgbm', now 'xgboost'"),
    ],
)
def test_a_changed_search_is_refused_naming_old_and_new(data, tmp_path, first, second, message):
    if second.get("backend") == "xgboost":
        pytest.importorskip("xgboost")
    X, y = data
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    _tune(X, y, storage, **first)
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        _tune(X, y, storage, **{**first, **second})
    assert "not comparable" in str(error.value)
    # nothing was added to the stored study
    study = optuna.load_study(study_name="resume", storage=storage)
    assert len(study.trials) == 1


def test_other_data_and_sample_weight_are_refused(data, tmp_path):
    X, y = data
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    _tune(X, y, storage)
    data_changed = r"data: saved '[0-9a-f]+', now '[0-9a-f]+'"
    with pytest.raises(ValueError, match=data_changed):
        _tune(X, 1 - y, storage, pos_label=0)  # relabelled: same positives, other labels
    with pytest.raises(ValueError, match=r"different data \(" + data_changed):
        _tune(X, y, storage, sample_weight=np.full(len(y), 2.0))


def test_same_search_resumes_and_runtime_params_may_change(data, tmp_path):
    X, y = data
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    space = {"alpha": [(0.1, 0.9), None], "gamma": (0.0, 3.0),
             "params": {**FAST, "num_leaves": (4, 16), "learning_rate": (0.05, 0.3, "log")}}
    first = [t.params for t in _tune(X, y, storage, n_trials=2, **space).study.trials]
    # threads and verbosity do not change the model: the same search, another machine
    space["params"] = {**space["params"], "n_jobs": 2, "verbose": 0}
    resumed = _tune(X, y, storage, n_trials=1, random_state=None, refit=True, **space)
    assert len(resumed.study.trials) == 3
    assert [t.params for t in resumed.study.trials[:2]] == first
    best = resumed.study.best_trial
    assert resumed.best_params["gamma"] == best.params["gamma"]
    assert resumed.best_params["num_leaves"] == best.params["num_leaves"]
    assert resumed.best_params["n_jobs"] == 2
    assert resumed.best_estimator is not None
