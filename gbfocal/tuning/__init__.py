"""Optuna search of the focal loss against log loss, with an honest verdict.

:func:`tune_focal` tunes two arms alike, the focal loss (``alpha``, ``gamma`` and the
booster parameters) and the plain log loss (``gamma=0``, ``alpha=None``, the same booster
space and budget), with stratified cross-validation and a *gamma-independent* score
(average precision by default); it scores both arms' best parameters on rows that neither
search saw (:class:`Comparison`, with a paired bootstrap interval) and refits the arm the
verdict favours. Optuna is imported lazily: ``pip install gbfocal[tune]``.

Why the score must not be the focal loss: ``gamma`` changes the loss itself (with ``gamma = 5``
a confident model scores almost zero whatever it ranks), so comparing focal-loss values of
trials with different ``gamma`` rewards large ``gamma``, not better models.

Why a holdout: the best of ``N`` trials, scored on the folds that chose it, looks better
than it is (the winner's curse), and more so for the arm with the larger search space;
only rows that neither search used can tell the arms apart without that bias
(:mod:`gbfocal.tuning._compare` describes the interval).

The modules: ``_inputs`` (argument checks), ``_space`` (search spaces), ``_study`` (the
studies and what they save), ``_objective`` (cross-validated trials), ``_folds`` (fold
models that reuse their training data), ``_workers`` (parallel trials' worker processes),
``_multilabel`` (multi-label targets), ``_compare`` (the verdict), ``_search``
(:func:`tune_focal`).
"""

from ._compare import Comparison
from ._search import ArmResult, TuningResult, tune_focal
from ._workers import shutdown_workers

__all__ = ["ArmResult", "Comparison", "TuningResult", "shutdown_workers", "tune_focal"]
