"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest


@pytest.fixture
def quiet_optuna():
    """Optuna's per-trial log at WARNING for the test, the previous level restored after.

    Tuning modules use it with ``pytestmark = pytest.mark.usefixtures("quiet_optuna")``.
    """
    import optuna  # only the modules that need Optuna (and skip without it) ask for this

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    optuna.logging.set_verbosity(level)


@pytest.fixture
def assert_rescored_alike():
    """``check(result, X, y, **options)``: a parallel search's trials score as re-run alone.

    A trial's score depends on its parameters only, wherever its folds were fitted: the
    same parameters enqueued into a fresh study and tuned with ``n_jobs=1`` (``options``
    otherwise the same) give the same values.
    """
    import optuna

    from gbfocal.tuning import tune_focal

    def check(result, X, y, **options):
        # no pruning: a pruned trial's value is its last fold's running mean
        study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
        for trial in result.study.trials:
            study.enqueue_trial(trial.params)
        sequential = tune_focal(X, y, n_jobs=1, study=study, **options)
        by_params = {repr(sorted(t.params.items())): t.value for t in sequential.study.trials}
        for trial in result.study.trials:
            assert trial.state == optuna.trial.TrialState.COMPLETE
            assert by_params[repr(sorted(trial.params.items()))] == pytest.approx(
                trial.value, abs=1e-12)

    return check
