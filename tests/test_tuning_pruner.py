"""The default pruner of tune_focal stops only clearly bad trials (issue 12.2)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification

optuna = pytest.importorskip("optuna")
pytest.importorskip("lightgbm")

from gbfocal.tuning import tune_focal  # noqa: E402

COMPLETE = optuna.trial.TrialState.COMPLETE
PRUNED = optuna.trial.TrialState.PRUNED


pytestmark = pytest.mark.usefixtures("quiet_optuna")


@pytest.fixture(scope="module")
def study():
    # a noisy problem and a wide learning-rate range: trials differ clearly, so that some are
    # bad enough to prune
    X, y = make_classification(
        n_samples=300, n_features=8, n_informative=3, weights=[0.85], flip_y=0.05,
        random_state=1,
    )
    result = tune_focal(
        X, y, n_trials=40, cv=4, random_state=0, show_progress_bar=False,
        early_stopping_rounds=5, refit=False,
        params={"n_estimators": 15, "n_jobs": 1, "learning_rate": (0.01, 0.5, "log"),
                "num_leaves": (2, 16)},
    )
    return result.study


def test_default_pruner_prunes_a_minority_of_trials(study):
    trials = study.trials
    pruned = [t for t in trials if t.state == PRUNED]
    # PercentilePruner(25) kept only the top quarter: 32 of these 40 trials were pruned
    assert 0 < len(pruned) <= 0.4 * len(trials)


def test_pruned_trials_were_in_the_bottom_quarter_at_their_fold(study):
    trials = study.trials
    pruned = [t for t in trials if t.state == PRUNED]
    assert pruned
    for trial in pruned:
        step = trial.last_step
        # not on the noisy first fold, and never after the last (cv=4: steps 0..3)
        assert 1 <= step <= 2, trial.number
        # trials run one at a time: those numbered before it had finished when it was judged
        earlier = [t for t in trials[: trial.number] if t.state == COMPLETE]
        assert len(earlier) >= 10, trial.number  # enough trials to judge by
        at_step = [t.intermediate_values[step] for t in earlier]
        # its best running mean so far is below three quarters of the completed trials at
        # the same fold (the old rule pruned anything below the top quarter)
        assert max(trial.intermediate_values.values()) < np.percentile(at_step, 25), trial.number
