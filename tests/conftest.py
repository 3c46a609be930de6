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
