"""Native ``params``: every key checked against the library's own parameter table.

Before, an unknown key (a typo, a name of the other library, a DMatrix field), a None
value and a GPU request without a GPU were accepted and silently ignored: the libraries
only log, and the estimators silence their logs. Each case below fitted without a word on
the code before the fix (the LightGBM GPU requests excepted: LightGBM raises on its own).

At the end: the losses' ``init_score`` with weights that give no row any weight (issue 24
item 9).
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb

from gbfocal import (
    FocalLGBMClassifier,
    FocalMultiLabelClassifier,
    FocalMultiOutputClassifier,
    FocalXGBClassifier,
)
from gbfocal._engines import params
from gbfocal._param_tables import LIGHTGBM_PARAMETERS, LIGHTGBM_VERSION

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 3))
y = (X[:, 0] + RNG.normal(size=60) > 0).astype(int)
Y = np.column_stack([y, 1 - y])

# (id, backend, factory(params) -> estimator, the labels it fits)
ESTIMATORS: list[tuple[str, str, Callable[[Any], Any], np.ndarray]] = [
    ("FocalLGBMClassifier", "lightgbm",
     lambda p: FocalLGBMClassifier(params=p, n_estimators=2, n_jobs=1), y),
    ("FocalXGBClassifier", "xgboost",
     lambda p: FocalXGBClassifier(params=p, n_estimators=2, n_jobs=1), y),
    ("FocalMultiOutputClassifier-lightgbm", "lightgbm",
     lambda p: FocalMultiOutputClassifier(backend="lightgbm", params=p, n_estimators=2,
                                          n_jobs=1), Y),
    ("FocalMultiOutputClassifier-xgboost", "xgboost",
     lambda p: FocalMultiOutputClassifier(backend="xgboost", params=p, n_estimators=2,
                                          n_jobs=1), Y),
    ("FocalMultiLabelClassifier-lightgbm", "lightgbm",
     lambda p: FocalMultiLabelClassifier(backend="lightgbm", params=p, n_estimators=2,
                                         n_jobs=1), Y),
    ("FocalMultiLabelClassifier-xgboost", "xgboost",
     lambda p: FocalMultiLabelClassifier(backend="xgboost", params=p, n_estimators=2,
                                         n_jobs=1), Y),
]

# backend -> (params, what the message must say)
REFUSED: dict[str, list[tuple[dict[str, Any], str]]] = {
    "lightgbm": [
        ({"min_data_in_leafs": 3}, r"no parameter or alias 'min_data_in_leafs'.*"
                                   r"did you mean 'min_data_in_leaf'"),
        ({"foo_bar": 1}, r"LightGBM has no parameter or alias 'foo_bar'"),
        ({"eval_metric": "auc"}, r"'eval_metric'.*argument of Focal\w+: pass Focal\w+"
                                 r"\(eval_metric=...\)"),
        ({"max_depthh": 3}, r"did you mean 'max_depth'"),
        ({"num_leave": 7}, r"did you mean 'num_leaves'"),
        ({"max_bin": None}, r"params\['max_bin'\] is None"),
        ({"min_gain_to_split": None}, r"params\['min_gain_to_split'\] is None"),
    ],
    "xgboost": [
        ({"max_bins": 3}, r"XGBoost has no parameter or alias 'max_bins'.*"
                          r"did you mean 'max_bin'"),
        ({"early_stopping_round": 3}, r"did you mean 'early_stopping_rounds'.*sets that one "
                                      r"itself"),
        ({"base_margin": 0.0}, r"no booster parameter 'base_margin'.*DMatrix field"),
        ({"foo_bar": 1}, r"XGBoost has no parameter or alias 'foo_bar'"),
        ({"num_leaves": 7}, r"XGBoost has no parameter or alias 'num_leaves'"),
        ({"min_child_samples": 7}, r"XGBoost has no parameter or alias 'min_child_samples'"),
        ({"max_bin": None}, r"params\['max_bin'\] is None"),
        ({"max_leaves": None}, r"params\['max_leaves'\] is None"),
    ],
}

CASES = [
    pytest.param(make, labels, params, message, id=f"{name}-{next(iter(params))}")
    for name, backend, make, labels in ESTIMATORS
    for params, message in REFUSED[backend]
]


@pytest.mark.parametrize(("make", "labels", "params", "message"), CASES)
def test_unknown_names_and_none_values_are_refused(make, labels, params, message):
    with pytest.raises(ValueError, match=message):
        make(params).fit(X, labels)


def _gpu_usable() -> bool:
    return params._xgboost_device("cuda").startswith("cuda")


@pytest.mark.parametrize("device", ["cuda", "gpu", "cuda:0", "gpu:0"])
@pytest.mark.parametrize(("name", "make", "labels"),
                         [(n, m, lab) for n, b, m, lab in ESTIMATORS if b == "xgboost"],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_xgboost_gpu_request_without_a_gpu_is_an_error(name, make, labels, device):
    """Before: XGBoost warned "No visible GPU is found, setting device to CPU" (hidden by
    verbosity=0) and trained on the CPU."""
    if _gpu_usable():
        pytest.skip("a GPU is usable here: the request is honoured")
    with pytest.raises(ValueError, match=r"asks for a GPU, but (no usable GPU was found|this "
                                         r"XGBoost is built without CUDA)"):
        make({"device": device}).fit(X, labels)


def test_xgboost_cpu_device_is_accepted():
    model = FocalXGBClassifier(params={"device": "cpu"}, n_estimators=2, n_jobs=1).fit(X, y)
    assert model.predict(X).shape == (60,)


@pytest.mark.parametrize("params", [{"device_type": "gpu"}, {"device_type": "cuda"},
                                    {"device": "gpu"}])
def test_lightgbm_gpu_request_without_a_gpu_raises_on_its_own(params):
    """LightGBM needs no check: its GPU build raises "No OpenCL device found", its CPU
    build "... Tree Learner was not enabled in this build" (checked on 4.7)."""
    if shutil.which("nvidia-smi"):
        pytest.skip("a GPU may be present")
    with pytest.raises(lgb.basic.LightGBMError,
                       match="OpenCL|CUDA|GPU|not enabled in this build"):
        FocalLGBMClassifier(params=params, n_estimators=2, n_jobs=1).fit(X, y)


# ------------------------------------------------------------------ what still passes
# The native parameters that the README, the docstrings and the existing tests use.
ACCEPTED = {
    "lightgbm": [{"max_bin": 63}, {"max_bin": 15, "extra_trees": True},
                 {"min_data_per_group": 5}, {"linear_tree": True}, {"max_bins": 31},
                 {"num_leaves": 7, "min_child_samples": 5, "max_depth": 3},  # multi-output
                 {"boosting": "dart"}, {"device_type": "cpu"}, {"force_col_wise": True}],
    "xgboost": [{"gamma": 0.5, "max_bin": 15}, {"grow_policy": "lossguide"},
                {"max_leaves": 7}, {"booster": "dart", "rate_drop": 0.1},
                {"device": "cpu"}, {"max_cat_to_onehot": 2}, {"min_split_loss": 0.1},
                {"colsample_bylevel": 0.9, "colsample_bynode": 0.9}],
}


@pytest.mark.parametrize(
    ("make", "labels", "params"),
    [pytest.param(make, labels, params, id=f"{name}-{'-'.join(params)}")
     for name, backend, make, labels in ESTIMATORS for params in ACCEPTED[backend]
     # the booster estimators set these from their constructor arguments
     if not (name in ("FocalLGBMClassifier", "FocalXGBClassifier")
             and {"num_leaves", "max_depth", "min_child_samples"} & set(params))],
)
def test_documented_native_parameters_still_pass(make, labels, params):
    model = make(params).fit(X, labels)
    assert np.asarray(model.predict(X)).shape[0] == 60


@pytest.mark.parametrize("backend", ["lightgbm", "xgboost"])
def test_every_parameter_the_estimators_send_is_in_the_table(backend):
    """The table must know at least what gbfocal itself hands to the library."""
    table = params.aliases(backend)
    booster = FocalLGBMClassifier() if backend == "lightgbm" else FocalXGBClassifier()
    multi = FocalMultiOutputClassifier(backend=backend, random_state=0, n_jobs=1)
    sent = {*booster._library_params(), *multi._common_params(), "objective", "num_class",
            "metric" if backend == "lightgbm" else "eval_metric"}
    sent |= ({"feature_pre_filter", "verbose", "subsample_freq"} if backend == "lightgbm"
             else {"tree_method", "multi_strategy", "base_score",
                   "disable_default_eval_metric", "nthread", "seed"})
    assert sent - set(table) == set()


# ------------------------------------------------------------------ the tables themselves
def test_the_lightgbm_table_is_the_installed_lightgbms():
    """gbfocal/_param_tables.py is a copy of LightGBM's own alias table (the run-time path
    imports no private LightGBM API); this says when a LightGBM release changed it."""
    private = pytest.importorskip("lightgbm.basic")
    if not hasattr(private, "_ConfigAliases"):
        pytest.skip("this LightGBM has no _ConfigAliases to compare with")
    installed = {main: tuple(sorted(set(names) - {main}))
                 for main, names in private._ConfigAliases._get_all_param_aliases().items()}
    copied = {main: tuple(sorted(names)) for main, names in LIGHTGBM_PARAMETERS.items()}
    if installed != copied:
        changed = sorted(set(installed.items()) ^ set(copied.items()))
        pytest.fail(
            f"LightGBM {lgb.__version__}'s parameter table differs from the copy of "
            f"LightGBM {LIGHTGBM_VERSION} in gbfocal/_param_tables.py; regenerate it from "
            f"lightgbm.basic._ConfigAliases._get_all_param_aliases(). Changed: {changed}"
        )


def test_names_refused_as_unknown_are_unknown_to_the_libraries_too(capfd):
    """Ground truth: LightGBM logs "Unknown parameter" and XGBoost warns "not used" for
    exactly the names gbfocal calls unknown, and for none of the valid ones."""
    data = lgb.Dataset(X, y.astype(float), params={"verbosity": 0, "num_threads": 1})
    lgb.train({"objective": "binary", "verbosity": 0, "num_threads": 1,
               "min_data_in_leafs": 3, "foo_bar": 1, "max_bin": 63}, data, 1)
    logged = capfd.readouterr().out
    assert "Unknown parameter: min_data_in_leafs" in logged
    assert "Unknown parameter: foo_bar" in logged
    assert "Unknown parameter: max_bin" not in logged
    with warnings.catch_warnings(record=True) as caught, xgb.config_context(verbosity=1):
        warnings.simplefilter("always")
        xgb.train({"nthread": 1, "max_bins": 3, "foo_bar": 1, "early_stopping_round": 2,
                   "base_margin": 0.0, "max_bin": 15},
                  xgb.DMatrix(X, y, nthread=1), 1)
    said = " ".join(str(w.message) for w in caught)
    assert "are not used" in said
    for name in ("max_bins", "foo_bar", "early_stopping_round", "base_margin"):
        assert f'"{name}"' in said or f" {name} " in said
    table = params.aliases("xgboost")
    for name in ("max_bins", "foo_bar", "early_stopping_round", "base_margin"):
        assert name not in table
    assert "max_bin" in table


def test_xgboost_table_has_the_aliases_and_the_groups():
    table = params.aliases("xgboost")
    assert table["learning_rate"] == "eta"
    assert table["reg_lambda"] == "lambda" and table["reg_alpha"] == "alpha"
    assert table["min_split_loss"] == "gamma" and table["random_state"] == "seed"
    assert table["n_jobs"] == "nthread"
    # groups that only some configurations bring: dart, the objectives' parameters
    assert {"rate_drop", "skip_drop", "tweedie_variance_power", "huber_slope",
            "quantile_alpha", "aft_loss_distribution", "lambdarank_pair_method",
            "eval_metric", "verbosity"} <= set(table)


def test_reading_the_xgboost_table_leaves_no_global_trace():
    before = xgb.get_config()
    params.xgboost_aliases.cache_clear()
    params._xgboost_device.cache_clear()
    params.xgboost_aliases()
    params._xgboost_device("cuda")
    assert xgb.get_config() == before


# ------------------------------------------------------------------ messages
def test_a_newer_lightgbm_is_named_in_the_message(monkeypatch):
    monkeypatch.setattr(lgb, "__version__", "99.0.0")
    with pytest.raises(ValueError, match=rf"LightGBM {LIGHTGBM_VERSION}'s and this is "
                                         r"99\.0\.0.*please report"):
        FocalLGBMClassifier(params={"brand_new_parameter": 1}, n_estimators=2).fit(X, y)


def test_no_suggestion_when_nothing_is_close():
    with pytest.raises(ValueError) as info:
        FocalXGBClassifier(params={"zzzzzz": 1}, n_estimators=2).fit(X, y)
    assert "did you mean" not in str(info.value)


def test_a_key_that_is_not_a_string_is_a_type_error():
    with pytest.raises(TypeError, match=r"params keys must be parameter names \(str\)"):
        FocalLGBMClassifier(params={1: 2}, n_estimators=2).fit(X, y)


@pytest.mark.parametrize(("key", "use"), [("weight", "sample_weight"), ("label", "y"),
                                           ("weight_column", "sample_weight")])
def test_lightgbm_data_column_parameters_are_refused(key, use):
    """LightGBM's file-column parameters (``weight`` is an alias of ``weight_column``,
    ``label`` of ``label_column``) would shadow what fit passes."""
    with pytest.raises(ValueError, match=rf"'{key}'.*estimator sets it itself.*{use}"):
        FocalLGBMClassifier(params={key: "x"}, n_estimators=2).fit(X, y)


def test_checks_before_the_unknown_name_still_win():
    """The reserved-name, class-weight and twice-named messages are unchanged."""
    with pytest.raises(ValueError, match="estimator sets it itself"):
        FocalXGBClassifier(params={"n_estimators": 3}, n_estimators=2).fit(X, y)
    with pytest.raises(ValueError, match="alpha"):
        FocalLGBMClassifier(params={"is_unbalance": True}, n_estimators=2).fit(X, y)
    with pytest.raises(ValueError, match="twice"):
        FocalLGBMClassifier(params={"max_bin": 63, "max_bins": 31}, n_estimators=2).fit(X, y)


@pytest.mark.usefixtures("quiet_optuna")
def test_tune_focal_fails_its_first_fit_on_a_misspelt_native_parameter():
    pytest.importorskip("optuna")
    from gbfocal.tuning import tune_focal

    with pytest.raises(ValueError, match="did you mean 'min_data_in_leaf'"):
        tune_focal(X, y, n_trials=1, cv=2, params={"params": {"min_data_in_leafs": 5}},
                   n_jobs=1, show_progress_bar=False, baseline=False, compare=None)


# ------------------------------------------------------------------ init_score weights
# (Issue 24 item 9, kept here because this session may only add these two test files;
# tests/test_losses.py is their natural home.)
def _losses() -> list[Any]:
    from gbfocal.losses import (
        BinaryFocalLoss,
        MulticlassFocalLoss,
        MultiLabelFocalLoss,
        MultiOutputFocalLoss,
    )

    labels_1d, labels_2d = np.array([0, 1, 1, 0]), np.array([[0, 1], [1, -1], [1, 0], [0, 1]])
    return [
        pytest.param(BinaryFocalLoss(), labels_1d, id="BinaryFocalLoss"),
        pytest.param(BinaryFocalLoss(gamma_neg=4.0, clip=0.05), labels_1d,
                     id="BinaryFocalLoss-asymmetric"),
        pytest.param(BinaryFocalLoss(alpha="balanced"), labels_1d, id="BinaryFocalLoss-balanced"),
        pytest.param(MulticlassFocalLoss(3), np.array([0, 1, 2, 1]), id="MulticlassFocalLoss"),
        pytest.param(MultiOutputFocalLoss(2, 2), labels_2d, id="MultiOutputFocalLoss"),
        pytest.param(MultiLabelFocalLoss(2), labels_2d, id="MultiLabelFocalLoss"),
    ]


@pytest.mark.parametrize(("loss", "labels"), _losses())
def test_init_score_with_all_zero_weights_names_sample_weight(loss, labels):
    """Before: -49.98 (binary; NaN for multiclass, zeros for the multi-output losses) after
    NumPy's divide-by-zero warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no NumPy warning on the way
        with pytest.raises(ValueError, match="sample_weight is all zero.*carries weight"):
            loss.init_score(labels, np.zeros(labels.shape[0]))


@pytest.mark.parametrize(("loss", "labels"), _losses())
@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
def test_init_score_refuses_negative_and_non_finite_weights(loss, labels, bad):
    weight = np.ones(labels.shape[0])
    weight[1] = bad
    with pytest.raises(ValueError, match="sample_weight"):
        loss.init_score(labels, weight)


@pytest.mark.parametrize(("loss", "labels"), _losses()[4:])
def test_multi_losses_refuse_weight_only_on_unlabelled_entries(loss, labels):
    """Zero weight on every labelled entry is the same as no weight at all."""
    weight = np.where(labels == -1, 1.0, 0.0)
    with pytest.raises(ValueError, match="zero on every labelled entry"):
        loss.init_score(labels, weight)


def test_init_score_with_alpha_zero_for_every_present_class_is_an_error():
    """The weighted class totals are all zero here too (the guard in gbfocal._init_score)."""
    from gbfocal import _init_score
    from gbfocal.losses import BinaryFocalLoss, MulticlassFocalLoss

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="class totals.*all zero.*no row carries weight"):
            BinaryFocalLoss(alpha=[0.0, 1.0]).init_score([0, 0, 0])
        with pytest.raises(ValueError, match="class totals.*all zero"):
            MulticlassFocalLoss(3, alpha=[0.0, 1.0, 1.0]).init_score([0, 0, 0])
        for minimise in (_init_score.minimise_binary, _init_score.minimise_multiclass):
            with pytest.raises(ValueError, match="all zero"):
                minimise(np.zeros(2), 2.0)
            with pytest.raises(ValueError, match="finite and non-negative"):
                minimise(np.array([1.0, np.nan]), 2.0)
            with pytest.raises(ValueError, match="finite and non-negative"):
                minimise(np.array([2.0, -1.0]), 2.0)


def test_init_score_with_some_zero_weights_still_works():
    from gbfocal.losses import BinaryFocalLoss

    value = BinaryFocalLoss(gamma=0.0).init_score([0, 1, 1, 0], [0.0, 1.0, 1.0, 1.0])
    assert value == pytest.approx(np.log(2.0), abs=1e-9)  # log-odds of 2 positives : 1
