"""Tests of gbfocal.tuning.tune_focal: small real Optuna studies (few trials, tiny data)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from sklearn.datasets import make_classification

optuna = pytest.importorskip("optuna")
pytest.importorskip("lightgbm")

from gbfocal.tuning import TuningResult, tune_focal  # noqa: E402

# one thread and few rounds: fast and deterministic on a shared machine
FAST = {"n_estimators": 30, "n_jobs": 1}


pytestmark = pytest.mark.usefixtures("quiet_optuna")


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=240, n_features=6, n_informative=4, weights=[0.8], flip_y=0.02, random_state=3
    )
    return X, y


def _tune(X, y, **kwargs):
    """tune_focal with small settings; by default the focal search alone, on all rows (the
    two arms and their comparison are tested in test_tuning_verdict.py and where asked)."""
    options = {
        "n_trials": 3, "cv": 3, "random_state": 0, "show_progress_bar": False,
        "early_stopping_rounds": 5, "params": dict(FAST), "compare": None, "baseline": False,
    }
    options.update(kwargs)
    return tune_focal(X, y, **options)


@pytest.mark.parametrize("backend", ["lightgbm", "xgboost"])
def test_end_to_end_study(data, backend):
    if backend == "xgboost":
        pytest.importorskip("xgboost")
    X, y = data
    # the defaults: both arms, compared on a holdout, the selected arm refit
    booster = {"num_leaves": (4, 16)} if backend == "lightgbm" else {"max_depth": (2, 5)}
    result = _tune(X, y, backend=backend, compare="holdout", baseline=True,
                   params={**FAST, **booster})
    assert isinstance(result, TuningResult)
    assert result.backend == backend
    assert result.verdict in ("focal", "log_loss", "no_difference")
    assert result.selected == ("focal" if result.verdict == "focal" else "log_loss")
    arm = result.arms[result.selected]
    assert result.best_score == pytest.approx(arm.study.best_value)
    assert result.best_params == arm.best_params
    assert result.study is result.arms["focal"].study
    assert 0.0 <= result.best_score <= 1.0
    for name, arm in result.arms.items():
        best = arm.study.best_trial
        # n_estimators is the mean of the rounds early stopping kept in the best trial's folds
        assert arm.best_params["n_estimators"] == round(np.mean(best.user_attrs["fold_rounds"]))
        assert 1 <= arm.best_params["n_estimators"] <= FAST["n_estimators"]
        assert len(arm.study.trials) == 3
        if name == "log_loss":
            assert arm.best_params["gamma"] == 0.0 and arm.best_params["alpha"] is None
            continue
        assert 0.0 <= arm.best_params["gamma"] <= 5.0
        alpha = arm.best_params["alpha"]
        assert alpha in ("balanced", None) or 0.05 <= alpha <= 0.95
    # the refit model is configured with exactly the reported parameters
    fitted = result.best_estimator.get_params()
    for name, value in result.best_params.items():
        assert fitted[name] == value, name
    assert fitted["early_stopping_rounds"] is None
    proba = result.best_estimator.predict_proba(X)
    assert proba.shape == (len(y), 2)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # a useful model: clearly better than the positive rate
    from sklearn.metrics import average_precision_score

    assert average_precision_score(y, proba[:, 1]) > 2 * y.mean()


def test_same_seed_same_study_and_other_seed_differs(data):
    X, y = data
    first = _tune(X, y, random_state=7)
    again = _tune(X, y, random_state=7)
    assert first.best_params == again.best_params
    assert [t.params for t in first.study.trials] == [t.params for t in again.study.trials]
    assert [t.value for t in first.study.trials] == [t.value for t in again.study.trials]
    other = _tune(X, y, random_state=8)
    assert [t.params for t in other.study.trials] != [t.params for t in first.study.trials]


def test_every_trial_of_both_arms_sees_the_same_folds(data):
    X, y = data
    seen: list[list[tuple[int, float]]] = []

    def recording_scorer(estimator, X_test, y_test):
        # fingerprint of the held-out rows, recorded per trial
        if not seen or len(seen[-1]) == 3:
            seen.append([])
        seen[-1].append((len(y_test), float(np.asarray(X_test).sum())))
        return float(np.mean(estimator.predict(X_test) == y_test))

    result = _tune(X, y, scoring=recording_scorer, n_trials=3, baseline=True, select="focal",
                   params={**FAST, "num_leaves": (4, 16)})
    assert len(seen) == 6  # three trials of the focal arm, then three of the log-loss arm
    assert all(folds == seen[0] for folds in seen)
    assert sum(n for n, _ in seen[0]) == len(y)  # the test folds partition the data
    assert result.scoring.endswith("recording_scorer")


def test_search_space_for_booster_params(data):
    X, y = data
    params = {
        **FAST,
        "learning_rate": (0.05, 0.3, "log"),
        "num_leaves": (4, 16),
        "min_child_samples": [5, 10],
        "reg_lambda": optuna.distributions.FloatDistribution(0.0, 1.0),
    }
    result = _tune(X, y, params=params, alpha=[(0.2, 0.8)], gamma=[0.0, 2.0])
    for trial in result.study.trials:
        assert 0.05 <= trial.params["learning_rate"] <= 0.3
        assert isinstance(trial.params["num_leaves"], int)
        assert 4 <= trial.params["num_leaves"] <= 16
        assert trial.params["min_child_samples"] in (5, 10)
        assert 0.0 <= trial.params["reg_lambda"] <= 1.0
        assert trial.params["gamma"] in (0.0, 2.0)
        assert 0.2 <= trial.params["alpha"] <= 0.8
        assert "alpha_choice" not in trial.params  # a single option needs no choice
    for name in ("learning_rate", "num_leaves", "min_child_samples", "reg_lambda"):
        assert result.best_params[name] == result.study.best_trial.params[name]
    assert result.best_params["n_jobs"] == 1


def test_fixed_alpha_and_gamma_are_not_searched(data):
    X, y = data
    result = _tune(X, y, alpha="balanced", gamma=1.5, n_trials=2)
    # nothing to search: one trial, the second would train the very same fold models
    assert [t.params for t in result.study.trials] == [{}]
    assert result.best_params["alpha"] == "balanced"
    assert result.best_params["gamma"] == 1.5


def test_alpha_choices_include_balanced_and_none(data):
    X, y = data
    result = _tune(X, y, n_trials=12, cv=2, params={"n_estimators": 5, "n_jobs": 1})
    kinds = {t.params["alpha_choice"] for t in result.study.trials}
    assert kinds == {"range", "balanced", None}
    for t in result.study.trials:
        assert ("alpha" in t.params) == (t.params["alpha_choice"] == "range")


def test_multiclass_and_sample_weight():
    X, y = make_classification(
        n_samples=240, n_features=6, n_informative=4, n_classes=3, weights=[0.6, 0.3, 0.1],
        random_state=0,
    )
    w = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y))
    result = _tune(X, y, scoring="roc_auc_ovr", sample_weight=w, n_trials=2)
    for t in result.study.trials:  # float alpha is binary-only: "auto" drops the range
        assert t.params["alpha_choice"] in ("balanced", None)
    proba = result.best_estimator.predict_proba(X)
    assert proba.shape == (len(y), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_no_early_stopping_uses_all_rounds(data):
    X, y = data
    result = _tune(X, y, early_stopping_rounds=None, n_trials=1)
    assert result.best_params["n_estimators"] == FAST["n_estimators"]


def test_searched_n_estimators_refits_with_the_early_stopped_rounds(data):
    X, y = data
    result = _tune(X, y, params={"n_estimators": (50, 300), "n_jobs": 1}, n_trials=3)
    best = result.study.best_trial
    rounds = best.user_attrs["fold_rounds"]
    cap = best.params["n_estimators"]
    # the regression needs early stopping to have cut every fold short of the sampled cap
    assert max(rounds) < cap
    kept = round(np.mean(rounds))
    assert result.best_params["n_estimators"] == kept
    assert result.best_estimator.get_params()["n_estimators"] == kept
    # and the refit booster really holds that many rounds, not the cap
    assert result.best_estimator.booster_.current_iteration() == kept


def test_the_log_loss_arm_is_the_plain_log_loss_model_on_the_same_folds(data):
    from sklearn.metrics import average_precision_score
    from sklearn.model_selection import StratifiedKFold, train_test_split

    from gbfocal import FocalLGBMClassifier

    X, y = data
    result = _tune(X, y, n_trials=2, params={**FAST, "num_leaves": (4, 16)}, baseline=True,
                   select="focal")
    plain = result.arms["log_loss"].study.best_trial
    # the documented folds, rebuilt here: stratified and shuffled with random_state, and a
    # stratified early-stopping split of each training fold (validation_fraction=0.2)
    scores = []
    for train, test in StratifiedKFold(3, shuffle=True, random_state=0).split(X, y):
        fit, val = train_test_split(train, test_size=0.2, stratify=y[train], random_state=0)
        fit, val = np.sort(fit), np.sort(val)
        model = FocalLGBMClassifier(
            alpha=None, gamma=0.0, num_leaves=plain.params["num_leaves"], random_state=0,
            early_stopping_rounds=5, eval_metric="average_precision", **FAST,
        ).fit(X[fit], y[fit], eval_set=[(X[val], y[val])])
        # the margins rank like the probabilities: the score does not depend on calibration
        scores.append(average_precision_score(y[test], model.decision_function(X[test])))
    np.testing.assert_allclose(result.baseline_fold_scores, scores, rtol=1e-12)
    assert result.baseline_score == pytest.approx(np.mean(scores), rel=1e-12)
    assert result.arms["log_loss"].best_params["num_leaves"] == plain.params["num_leaves"]
    # the log-loss arm searched the booster space itself (its own trials)
    assert {"num_leaves"} == set(plain.params)
    best = result.study.best_trial
    assert result.best_fold_scores == best.user_attrs["fold_scores"]
    assert np.mean(result.best_fold_scores) == pytest.approx(result.best_score, rel=1e-12)
    np.testing.assert_allclose(
        result.fold_differences, np.subtract(result.best_fold_scores, scores), rtol=1e-12
    )


def test_baseline_can_be_turned_off(data):
    X, y = data
    seen: list[int] = []

    def counting_scorer(estimator, X_test, y_test):
        seen.append(len(y_test))
        return float(np.mean(estimator.predict(X_test) == y_test))

    result = _tune(X, y, scoring=counting_scorer, n_trials=1, baseline=False)
    assert len(seen) == 3  # the trial's folds only
    assert result.baseline_score is None
    assert result.baseline_fold_scores is None
    assert result.fold_differences is None
    assert len(result.best_fold_scores) == 3


def test_both_arms_resume_and_pair_their_saved_fold_scores(data, tmp_path):
    X, y = data
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    options = {"storage": storage, "study_name": "paired", "refit": False, "baseline": True,
               "select": "focal", "params": {**FAST, "num_leaves": (4, 16)}}
    _tune(X, y, n_trials=2, **options)
    # the resumed run's best trials may be the first run's: their fold scores come from the
    # studies, not from this run
    resumed = _tune(X, y, n_trials=1, **options)
    focal = resumed.arms["focal"].study
    plain = resumed.arms["log_loss"].study
    assert plain.study_name == "paired.log_loss"
    assert len(focal.trials) == len(plain.trials) == 3
    assert resumed.best_fold_scores == focal.best_trial.user_attrs["fold_scores"]
    assert resumed.baseline_fold_scores == plain.best_trial.user_attrs["fold_scores"]
    np.testing.assert_allclose(
        resumed.fold_differences,
        np.subtract(resumed.best_fold_scores, resumed.baseline_fold_scores), rtol=1e-12,
    )


def test_pruned_trials_and_no_completed_trial(data):
    X, y = data
    # a pruner that prunes every reported value: the trials stop after their first fold
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(
        lower=2.0))
    with pytest.raises(RuntimeError, match="no trial of the focal arm completed"):
        _tune(X, y, study=study, n_trials=2)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.PRUNED] * 2
    assert all(list(t.intermediate_values) == [0] for t in study.trials)


def test_a_trial_is_never_pruned_after_its_last_fold(data):
    X, y = data
    # this pruner would prune every value from the second fold on: with cv=2 that fold is
    # the last one, when the trial is already complete
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(
        lower=2.0, n_warmup_steps=1))
    result = _tune(X, y, study=study, n_trials=2, cv=2)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2
    assert all(list(t.intermediate_values) == [0, 1] for t in study.trials)
    assert result.best_estimator is not None


def test_sqlite_storage_resumes(data, tmp_path):
    X, y = data
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    first = _tune(X, y, storage=storage, study_name="resume", n_trials=2, refit=False)
    assert first.best_estimator is None
    first_params = [t.params for t in first.study.trials]
    resumed = _tune(X, y, storage=storage, study_name="resume", n_trials=1, random_state=None)
    assert len(resumed.study.trials) == 3
    assert [t.params for t in resumed.study.trials[:2]] == first_params
    assert resumed.best_score >= first.best_score
    # other data or settings in the same study would mix incomparable scores
    with pytest.raises(ValueError, match="different data"):
        _tune(X[:200], y[:200], storage=storage, study_name="resume", n_trials=1)
    with pytest.raises(ValueError, match="different scoring"):
        _tune(X, y, storage=storage, study_name="resume", n_trials=1, scoring="roc_auc")
    with pytest.raises(ValueError, match="random_state"):
        _tune(X, y, storage=storage, study_name="resume", n_trials=1, random_state=5)


def test_focal_loss_scoring_is_rejected_with_the_reason(data):
    X, y = data
    with pytest.raises(ValueError, match="not comparable across trials"):
        _tune(X, y, scoring="focal_loss")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"backend": "catboost"}, "backend must be one of"),
        ({"scoring": "accuracy_of_vibes"}, "unknown scoring"),
        ({"scoring": "log_loss"}, "neg_log_loss"),
        ({"scoring": 3}, "scoring must be"),
        ({"gamma": (5.0, 1.0)}, "low < high"),
        ({"gamma": (-1.0, 1.0)}, ">= 0"),
        ({"gamma": (0.0, 2.0, "exp")}, "'log'"),
        ({"gamma": (0.0, 2.0, "log")}, "low > 0"),
        ({"gamma": -0.5}, "gamma must be"),
        ({"alpha": (0.5, 1.5)}, "<= 1.0"),
        ({"alpha": [(0.1, 0.3), (0.5, 0.7)]}, "at most one"),
        ({"alpha": "sometimes"}, "unknown string"),
        ({"alpha": [[0.2, 0.8]]}, "cannot be searched"),
        ({"alpha": []}, "empty"),
        ({"params": {"num_leafs": (4, 8)}}, "unknown parameter 'num_leafs'"),
        ({"params": {"gamma": (0.0, 1.0)}}, "tune_focal's own argument"),
        ({"params": {"learning_rate": (0.3, 0.01)}}, "low < high"),
        ({"params": ["learning_rate"]}, "params must be a dict"),
        ({"cv": 1}, "cv must be an integer >= 2"),
        ({"n_trials": 0}, "n_trials"),
        ({"n_trials": None}, "needs a timeout"),
        ({"timeout": -1}, "timeout"),
        ({"early_stopping_metric": "accuracy"}, "early_stopping_metric"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"sample_weight": np.ones(3)}, "sample_weight"),
        ({"compare": "cv"}, "compare must be one of"),
        ({"select": "best"}, "select must be one of"),
        ({"compare": "nested", "holdout_size": 0.3}, "holdout_size=0.3 is only used"),
        ({"compare": "holdout", "outer_cv": 3}, "outer_cv=3 is only used"),
        ({"holdout_size": 0.3}, "holdout_size=0.3 is only used with compare='holdout'"),
        ({"baseline": True}, "select='auto' returns the arm"),
        ({"select": "log_loss"}, "needs the log-loss arm"),
        ({"compare": "holdout", "holdout_size": 1.5}, "holdout_size must be a share"),
        ({"compare": "holdout", "holdout_size": True}, "holdout_size must be a share"),
        ({"compare": "nested", "outer_cv": 1}, "outer_cv must be an integer >= 2"),
        ({"storage": "nodb://nowhere"}, "storage='nodb://nowhere' could not be opened"),
        ({"storage": "sqlite:////no/such/folder/x.db"}, "could not be opened"),
    ],
)
def test_bad_arguments_raise_clear_errors(data, kwargs, message):
    X, y = data
    error = TypeError if kwargs.get("scoring") == 3 or "params" in kwargs and isinstance(
        kwargs["params"], list) else ValueError
    with pytest.raises(error, match=message):
        _tune(X, y, **kwargs)


def test_bad_targets_raise_clear_errors(data):
    X, y = data
    with pytest.raises(ValueError, match="single class"):
        _tune(X, np.zeros(len(y)))
    few = np.zeros(len(y), dtype=int)
    few[:4] = 1  # 4 positives cannot fill 3 folds plus an early-stopping split
    with pytest.raises(ValueError, match="class 1 has only 4 samples"):
        _tune(X, few)
    with pytest.raises(ValueError, match="rows but y has"):
        _tune(X[:-1], y)
    with pytest.raises(ValueError, match="float range is only defined for binary"):
        _tune(X, np.arange(len(y)) % 3, alpha=(0.1, 0.9))


def test_missing_optuna_says_what_to_install(data, monkeypatch):
    X, y = data
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ImportError, match=r"pip install gbfocal\[tune\]"):
        _tune(X, y)


# ------------------------------------------------------------- DataFrames and categories
def _category_frame(n: int = 240, seed: int = 5):
    """A DataFrame whose label depends mostly on a category column, with a shuffled index."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(seed)
    city = rng.choice(["Oslo", "Paris", "Rome", "Lima"], size=n)
    x = rng.normal(size=n)
    y = ((city == "Rome") | (city == "Lima") & (x > 0) | (rng.random(n) < 0.05)).astype(int)
    frame = pd.DataFrame(
        {"x": x, "city": pd.Categorical(city), "noise": rng.normal(size=n)},
        index=rng.permutation(n) + 1000,  # the folds must take rows by position
    )
    return frame, y


def _accepts_categories(estimator_class) -> bool:
    """Whether the estimator fits and predicts a DataFrame with a ``category`` column."""
    frame, y = _category_frame(60)
    try:
        estimator_class(n_estimators=2, n_jobs=1).fit(frame, y).predict_proba(frame)
    except (TypeError, ValueError):
        return False
    return True


def test_dataframe_fingerprint_is_its_content():
    pd = pytest.importorskip("pandas")
    from gbfocal.tuning._study import fingerprint as _fingerprint

    frame, y = _category_frame(50)
    # the same content stored differently (other blocks, other index) is the same data
    rebuilt = pd.DataFrame({"x": frame["x"].to_numpy()}).assign(
        city=pd.Categorical(frame["city"].to_numpy(), categories=frame["city"].cat.categories),
        noise=frame["noise"].to_numpy(),
    )
    assert _fingerprint(frame, y, None) == _fingerprint(rebuilt, y, None)
    changed = frame.copy()
    changed.iloc[0, 1] = "Oslo" if changed.iloc[0, 1] != "Oslo" else "Rome"
    reordered = frame.assign(city=frame["city"].cat.reorder_categories(
        sorted(frame["city"].cat.categories, reverse=True)))
    renamed = frame.rename(columns={"noise": "other"})
    as_float = frame.assign(city=frame["city"].cat.codes.astype(float))
    for other in (changed, reordered, renamed, as_float):
        assert _fingerprint(other, y, None) != _fingerprint(frame, y, None)
    # arrays keep the fingerprint of earlier versions: their saved studies still resume
    import joblib

    X = np.arange(12.0).reshape(6, 2)
    assert _fingerprint(X, y[:6], None) == joblib.hash((X, y[:6], None))


def test_folds_pass_dataframe_rows_with_their_category_columns(monkeypatch):
    """tune_focal hands the estimators DataFrames (category dtype kept, rows by position),
    whatever the estimators then do with them: this spy encodes the category itself."""
    from gbfocal import tuning
    from gbfocal.sklearn import FocalLGBMClassifier

    frame, y = _category_frame()
    seen: list[tuple[str, tuple[int, ...]]] = []

    def encoded(X):
        assert isinstance(X, type(frame)), type(X)
        assert str(X["city"].dtype) == "category"
        seen.append((str(X["city"].dtype), tuple(X.index[:3])))
        return X.assign(city=X["city"].cat.codes.astype(float)).to_numpy()

    class Spy(FocalLGBMClassifier):
        def fit(self, X, y, sample_weight=None, *, eval_set=None, **kwargs):
            if eval_set is not None:
                eval_set = [(encoded(X_val), y_val) for X_val, y_val in eval_set]
            return super().fit(encoded(X), y, sample_weight, eval_set=eval_set, **kwargs)

        def decision_function(self, X):
            return super().decision_function(encoded(X))

    monkeypatch.setattr(tuning._inputs, "estimator_class", lambda backend, multilabel=False: Spy)
    result = _tune(frame, y, n_trials=2)
    assert seen and all(dtype == "category" for dtype, _ in seen)
    # rows by position: the index (1000 + a permutation) travels along, unused
    assert all(set(first) <= set(frame.index) for _, first in seen)
    assert isinstance(result.best_estimator, Spy)
    # the category column carries the signal: the spy's integer codes find it
    assert result.best_score > 0.8


@pytest.mark.parametrize("backend", ["lightgbm", "xgboost"])
def test_tune_focal_on_a_dataframe_with_a_category_column(backend, tmp_path):
    pytest.importorskip("pandas")
    if backend == "xgboost":
        pytest.importorskip("xgboost")
    from gbfocal.tuning._inputs import estimator_class as _estimator_class

    estimator_class = _estimator_class(backend)
    if not _accepts_categories(estimator_class):
        pytest.skip(
            f"{estimator_class.__name__} does not accept pandas category columns yet (missing "
            "estimator feature: native categorical support, LightGBM categorical features / "
            "XGBoost enable_categorical)"
        )
    frame, y = _category_frame()
    params = dict(FAST)
    if backend == "lightgbm":
        # LightGBM splits a feature of more than max_cat_to_onehot (4, the missing bin
        # included) categories only between groups of min_data_per_group rows, 100 by
        # default: more than a category has in these folds (measured: AP 0.49 vs 0.97)
        params["params"] = {"min_data_per_group": 5}
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    result = _tune(frame, y, backend=backend, storage=storage, study_name="categories",
                   params=params)
    assert result.best_score > 0.8  # the category column carries the signal
    proba = result.best_estimator.predict_proba(frame)
    assert proba.shape == (len(y), 2)
    # the same frame resumes; a changed category value is other data
    resumed = _tune(frame.copy(), y, backend=backend, storage=storage, study_name="categories",
                    params=params, n_trials=1, refit=False)
    assert len(resumed.study.trials) == 4
    changed = frame.assign(city=frame["city"].where(frame["city"] != "Oslo", "Paris"))
    with pytest.raises(ValueError, match="different data"):
        _tune(changed, y, backend=backend, storage=storage, study_name="categories",
              params=params, n_trials=1)
