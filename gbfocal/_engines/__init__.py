"""The library glue: one module per boosting library, the adapters, the parameter tables.

* :mod:`~gbfocal._engines.adapters`: the objective and metric callables that speak each
  library's protocol (public as :mod:`gbfocal.adapters`); they use only a loss object's
  per-round interface.
* :mod:`~gbfocal._engines.lightgbm`, :mod:`~gbfocal._engines.xgboost`: one ``train`` per
  library (objective, metrics, early stopping, history, rounds, initial score) that every
  estimator and the tuner's fold models train through.
* :mod:`~gbfocal._engines.params`: the libraries' parameter names and aliases, and the
  check of an estimator's native ``params``.

Below the estimators, above the math: nothing here imports an estimator or the loss
classes (a loss is used through its interface).
"""
