"""The tuner's speed work changes no result: fold models, reused data, built-in metrics,
parallel trials and the thread budget (timings themselves: benchmarks/tuning_speed.py)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.metrics import average_precision_score, roc_auc_score

optuna = pytest.importorskip("optuna")
lgb = pytest.importorskip("lightgbm")
xgb = pytest.importorskip("xgboost")

import gbfocal  # noqa: E402
from gbfocal import _parallel, tuning  # noqa: E402
from gbfocal.tuning import _objective, _search, tune_focal  # noqa: E402
from gbfocal.tuning._folds import FoldData, fold_estimator_class  # noqa: E402
from gbfocal.tuning._objective import make_splits  # noqa: E402

CLASSES = {"lightgbm": gbfocal.FocalLGBMClassifier, "xgboost": gbfocal.FocalXGBClassifier}


pytestmark = pytest.mark.usefixtures("quiet_optuna")


def _data(n_classes=2, n=400, seed=0):
    weights = [0.85] if n_classes == 2 else [0.6, 0.3]
    return make_classification(n_samples=n, n_features=6, n_informative=4,
                               n_classes=n_classes, weights=weights, flip_y=0.05,
                               random_state=seed)


def _fit(cls, X, y, fit, val, fold_data=None, apart=False, **params):
    est = cls(n_estimators=60, n_jobs=1, random_state=0, early_stopping_rounds=10,
              eval_metric="average_precision" if len(np.unique(y)) == 2 else "log_loss",
              **params)
    if fold_data is not None:
        est.fold_data, est.fold, est.init_score_apart = fold_data, 0, apart
    return est.fit(X[fit], y[fit], eval_set=[(X[val], y[val])])


# ------------------------------------------------------------------ fold models
@pytest.mark.parametrize("backend", ["lightgbm", "xgboost"])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("apart", [False, True])
def test_fold_models_reusing_their_data_equal_the_public_estimator(backend, n_classes, apart):
    X, y = _data(n_classes)
    fit, val, test = np.arange(0, 250), np.arange(250, 320), np.arange(320, 400)
    public, fold_class = CLASSES[backend], fold_estimator_class(CLASSES[backend])
    assert fold_class is not public and issubclass(fold_class, public)
    data = FoldData()
    # the second and third fits reuse the first's Dataset / DMatrix with another initial
    # score (alpha and gamma move it): a stale initial score would change every margin
    for alpha, gamma in [(None, 2.0), ("balanced", 0.5), ("balanced", 3.0)]:
        reused = _fit(fold_class, X, y, fit, val, data, apart, alpha=alpha, gamma=gamma)
        fresh = _fit(public, X, y, fit, val, alpha=alpha, gamma=gamma)
        assert reused.best_iteration_ == fresh.best_iteration_
        np.testing.assert_allclose(reused.decision_function(X[test]),
                                   fresh.decision_function(X[test]), rtol=0, atol=1e-12)
        np.testing.assert_allclose(reused.predict_proba(X[test]), fresh.predict_proba(X[test]),
                                   rtol=0, atol=1e-12)
        assert reused.evals_result_.keys() == fresh.evals_result_.keys()


def test_lightgbm_fold_data_is_rebuilt_when_a_binning_parameter_changes():
    X, y = _data()
    fit, val, test = np.arange(0, 250), np.arange(250, 320), np.arange(320, 400)
    fold_class, data = fold_estimator_class(gbfocal.FocalLGBMClassifier), FoldData()
    # max_bin bins the Dataset; min_child_samples pre-filters its features (LightGBM
    # refuses to lower it on a built Dataset): both must build new data
    for params in [{"params": {"max_bin": 255}}, {"params": {"max_bin": 15}},
                   {"min_child_samples": 40}, {"min_child_samples": 5}, {"num_leaves": 7}]:
        reused = _fit(fold_class, X, y, fit, val, data, True, **params)
        fresh = _fit(gbfocal.FocalLGBMClassifier, X, y, fit, val, **params)
        np.testing.assert_allclose(reused.decision_function(X[test]),
                                   fresh.decision_function(X[test]), rtol=0, atol=1e-12)


def test_fold_data_is_per_thread_and_never_pickled():
    import pickle
    import threading

    data, built = FoldData(), []
    data.get(0, "key", lambda: built.append("main") or "main data")
    assert data.get(0, "key", lambda: "rebuilt") == "main data"
    seen = []
    thread = threading.Thread(target=lambda: seen.append(data.get(0, "key", lambda: "other")))
    thread.start()
    thread.join()
    assert seen == ["other"]  # another thread builds its own (a Dataset holds one init score)
    assert pickle.loads(pickle.dumps(data)).get(0, "key", lambda: "fresh") == "fresh"


# ------------------------------------------------------- LightGBM's built-in metrics
@pytest.mark.parametrize("metric", ["average_precision", "roc_auc"])
@pytest.mark.parametrize("weighted", [False, True])
def test_lightgbm_builtin_ranking_metric_equals_gbfocal_metric(metric, weighted):
    X, y = _data(n=600, seed=1)
    rng = np.random.default_rng(0)
    w = rng.exponential(size=len(y)) if weighted else None
    fit, val = np.arange(0, 400), np.arange(400, 600)
    clf = gbfocal.FocalLGBMClassifier(n_estimators=25, n_jobs=1, random_state=0, gamma=2.0,
                                      alpha=0.3, eval_metric=[metric, "log_loss"])
    clf.fit(X[fit], y[fit], sample_weight=None if w is None else w[fit],
            eval_set=[(X[val], y[val])],
            eval_sample_weight=None if w is None else [w[val]])
    history = clf.evals_result_["valid_0"]
    assert list(history) == [metric, "log_loss"]  # gbfocal's names, the order asked for
    score = average_precision_score if metric == "average_precision" else roc_auc_score
    wv = None if w is None else w[val]
    expected = [score(y[val], clf.decision_function(X[val], num_iteration=i), sample_weight=wv)
                for i in range(1, 26)]
    # LightGBM keeps weights in float32: equal to its rounding
    np.testing.assert_allclose(history[metric], expected, rtol=0, atol=1e-7)


# ------------------------------------------------ tune_focal: same work, same result
def _hand_written_study(X, y, n_trials, seed=0):
    """The loop a careful user writes with gbfocal's adapters (as the benchmark does)."""
    splits = make_splits(y, 3, 0.2, seed)

    def objective(trial):
        choice = trial.suggest_categorical("alpha_choice", ["balanced", None, "range"])
        alpha = trial.suggest_float("alpha", 0.05, 0.95) if choice == "range" else choice
        gamma = trial.suggest_float("gamma", 0.0, 5.0)
        leaves = trial.suggest_int("num_leaves", 4, 16)
        scores = []
        for k, (fit, val, test) in enumerate(splits):
            loss = gbfocal.BinaryFocalLoss(alpha=alpha, gamma=gamma)
            init = loss.init_score(y[fit])
            clf = lgb.LGBMClassifier(objective=loss.sklearn_objective, n_estimators=40,
                                     num_leaves=leaves, n_jobs=1, verbose=-1, random_state=seed,
                                     metric="None", feature_pre_filter=False)  # as gbfocal
            clf.fit(X[fit], y[fit], init_score=np.full(len(fit), init),
                    eval_set=[(X[val], y[val])], eval_init_score=[np.full(len(val), init)],
                    eval_metric="average_precision",
                    callbacks=[lgb.early_stopping(5, first_metric_only=True, verbose=False)])
            margin = clf.predict(X[test], raw_score=True) + init  # the model's margin
            scores.append(average_precision_score(y[test], margin))
            trial.report(float(np.mean(scores)), k)
            if k < 2 and trial.should_prune():
                raise optuna.TrialPruned()
        return float(np.mean(scores))

    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.PercentilePruner(75.0, n_startup_trials=10, n_warmup_steps=1))
    study.optimize(objective, n_trials=n_trials)
    return study


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore:.*eval_set.*:DeprecationWarning")
def test_tune_focal_scores_every_trial_as_the_hand_written_loop():
    X, y = _data(n=500, seed=2)
    hand = _hand_written_study(X, y, n_trials=4)
    result = tune_focal(X, y, n_trials=4, cv=3, random_state=0, early_stopping_rounds=5,
                        params={"n_estimators": 40, "num_leaves": (4, 16), "n_jobs": 1},
                        refit=False, baseline=False, compare=None, show_progress_bar=False)
    assert [t.params for t in result.study.trials] == [t.params for t in hand.trials]
    np.testing.assert_allclose([t.value for t in result.study.trials],
                               [t.value for t in hand.trials], rtol=0, atol=1e-12)


# ------------------------------------------------------ parallel trials and threads
def test_parallel_trials_complete_and_score_like_sequential_ones(assert_rescored_alike):
    X, y = _data(n=300)
    options = {"n_trials": 4, "cv": 2, "random_state": 0, "early_stopping_rounds": 5,
               "params": {"n_estimators": 20}, "refit": False, "baseline": False, "compare": None,
               "show_progress_bar": False}
    parallel = tune_focal(X, y, n_jobs=2, **options)
    assert len(parallel.study.trials) == 4
    assert_rescored_alike(parallel, X, y, **options)


def test_same_seed_same_best_params_with_one_parallel_trial():
    X, y = _data(n=300)
    options = {"n_trials": 3, "cv": 2, "random_state": 1, "early_stopping_rounds": 5,
               "params": {"n_estimators": 20}, "refit": False, "baseline": False, "compare": None,
               "show_progress_bar": False, "n_jobs": 1}
    first, second = tune_focal(X, y, **options), tune_focal(X, y, **options)
    assert first.best_params == second.best_params
    assert [t.value for t in first.study.trials] == [t.value for t in second.study.trials]


def _spy_threads(monkeypatch, cores):
    monkeypatch.setattr(_parallel, "available_cpus", lambda: cores)
    seen = []
    original = _objective.Objective.make_estimator

    def spy(self, params, **kwargs):
        estimator = original(self, params, **kwargs)
        seen.append(estimator.n_jobs)
        return estimator

    monkeypatch.setattr(_objective.Objective, "make_estimator", spy)
    return seen


@pytest.mark.parametrize(("n_jobs", "cores"), [(1, 4), (2, 4), (-1, 4), (2, 1)])
def test_every_fit_gets_one_thread_and_the_cores_go_to_trials(monkeypatch, n_jobs, cores):
    seen = _spy_threads(monkeypatch, cores)
    started = []
    original = optuna.Study.optimize

    def spy_optimize(self, *args, **kwargs):
        started.append(kwargs["n_jobs"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(optuna.Study, "optimize", spy_optimize)
    X, y = _data(n=200)
    tune_focal(X, y, n_trials=2, cv=2, random_state=0, early_stopping_rounds=None,
               params={"n_estimators": 5}, baseline=False, compare=None, show_progress_bar=False,
               n_jobs=n_jobs)
    assert set(seen) == {1}  # the folds and the refit
    assert started == [cores if n_jobs == -1 else n_jobs]


def test_fixed_booster_threads_are_kept_or_refused_when_they_oversubscribe(monkeypatch):
    seen = _spy_threads(monkeypatch, 4)
    X, y = _data(n=200)
    options = {"n_trials": 1, "cv": 2, "random_state": 0, "early_stopping_rounds": None,
               "baseline": False, "compare": None, "show_progress_bar": False}
    tune_focal(X, y, params={"n_estimators": 5, "n_jobs": 2}, n_jobs=2, **options)
    assert set(seen) == {2}
    with pytest.raises(ValueError, match=r"params\['n_jobs'\]=3 .* n_jobs=2 .* 6 threads on 4"):
        tune_focal(X, y, params={"n_estimators": 5, "n_jobs": 3}, n_jobs=2, **options)
    with pytest.raises(ValueError, match="cannot be searched"):
        tune_focal(X, y, params={"n_estimators": 5, "n_jobs": [1, 2]}, **options)


# ------------------------------------------------- worker processes of parallel trials
def _recording_scorer(path):
    """Average precision; appends "pid estimator.n_jobs OMP_NUM_THREADS GBFOCAL_NUM_THREADS"
    to ``path`` per fold (a closure: cloudpickle sends it to the workers by value)."""

    def scorer(estimator, X, y, sample_weight=None):
        import os

        with open(path, "a") as file:
            file.write(f"{os.getpid()} {estimator.n_jobs} {os.environ.get('OMP_NUM_THREADS')} "
                       f"{os.environ.get('GBFOCAL_NUM_THREADS')}\n")
        return average_precision_score(y, estimator.predict_proba(X)[:, 1],
                                       sample_weight=sample_weight)

    return scorer


@pytest.mark.parametrize("backend", ["lightgbm", "xgboost"])
def test_parallel_trials_fit_folds_on_workers_with_one_thread_each(tmp_path, backend):
    import os

    X, y = _data(n=300)
    log = tmp_path / "folds.txt"
    result = tune_focal(X, y, backend=backend, n_trials=6, cv=2, random_state=0,
                        early_stopping_rounds=5, params={"n_estimators": 20}, refit=False,
                        baseline=False, compare=None, show_progress_bar=False, n_jobs=2,
                        scoring=_recording_scorer(str(log)))
    rows = [line.split() for line in log.read_text().splitlines()]
    assert len(rows) == sum(len(t.intermediate_values) for t in result.study.trials)
    workers = [row for row in rows if int(row[0]) != os.getpid()]
    assert workers and len({row[0] for row in workers}) == 1  # n_jobs - 1 worker processes
    assert {row[1] for row in rows} == {"1"}  # every fit: one booster thread
    assert {(row[2], row[3]) for row in workers} == {("1", "1")}  # and one OpenMP/gbfocal thread



def test_both_arms_share_the_parallel_workers(tmp_path):
    import os

    X, y = _data(n=400)
    log = tmp_path / "folds.txt"

    def scorer(estimator, X_test, y_test, sample_weight=None):
        with open(log, "a") as file:
            file.write(f"{os.getpid()} {estimator.gamma}\n")
        return average_precision_score(y_test, estimator.predict_proba(X_test)[:, 1])

    result = tune_focal(X, y, n_trials=6, cv=2, random_state=0, early_stopping_rounds=5,
                        params={"n_estimators": 20, "num_leaves": (4, 16)}, refit=False,
                        select="focal", compare=None, show_progress_bar=False, n_jobs=2,
                        scoring=scorer)
    rows = [line.split() for line in log.read_text().splitlines()]
    plain = [pid for pid, gamma in rows if float(gamma) == 0.0]
    assert len(result.arms["log_loss"].study.trials) == 6
    # the log-loss arm's folds run here and on the worker process too
    assert {int(pid) == os.getpid() for pid in plain} == {True, False}


def test_three_parallel_trials_use_at_most_two_workers_and_score_alike(tmp_path,
                                                                       assert_rescored_alike):
    # n_jobs=3 after a search with one worker: the reusable executor grows to n_jobs - 1
    import os

    X, y = _data(n=300)
    log = tmp_path / "folds.txt"
    options = {"n_trials": 6, "cv": 2, "random_state": 0, "early_stopping_rounds": 5,
               "params": {"n_estimators": 20}, "refit": False, "baseline": False, "compare": None,
               "show_progress_bar": False}
    tune_focal(X, y, n_jobs=2, **options)
    result = tune_focal(X, y, n_jobs=3, scoring=_recording_scorer(str(log)), **options)
    assert len(result.study.trials) == 6
    pids = {int(line.split()[0]) for line in log.read_text().splitlines()}
    assert 1 <= len(pids - {os.getpid()}) <= 2
    # the re-run gets a callable scorer too (for a named one tune_focal fits fold models apart)
    options["scoring"] = _recording_scorer(str(tmp_path / "sequential.txt"))
    assert_rescored_alike(result, X, y, **options)

def _search_objective(monkeypatch, X, y, **options):
    """The Objective of a (parallel) tune_focal search, as its fold runner received it."""
    seen = []
    original = _search.fold_runner

    def spy(objective, *args):
        seen.append(objective)
        return original(objective, *args)

    monkeypatch.setattr(_search, "fold_runner", spy)
    tune_focal(X, y, n_trials=2, cv=2, random_state=0, refit=False, baseline=False, compare=None,
               show_progress_bar=False, **options)
    return seen[0]


def test_a_worker_fold_equals_the_same_fold_fitted_here(monkeypatch):
    from gbfocal.tuning._workers import FoldRunner

    X, y = _data(n=300)
    objective = _search_objective(monkeypatch, X, y, params={"n_estimators": 20},
                                  early_stopping_rounds=5)
    params = {"alpha": 0.3, "gamma": 1.5, "n_estimators": 20}
    with FoldRunner(objective, 1, 1) as runner:
        runner._here.acquire()  # a fit runs here: the next one goes to the worker
        try:
            remote = [runner(params, fold) for fold in range(2)]
        finally:
            runner._here.release()
        local = [runner(params, fold) for fold in range(2)]
    assert remote == local
    assert remote == [objective.fold_result(params, fold) for fold in range(2)]


def test_a_worker_error_reaches_the_caller_and_files_are_removed(monkeypatch, tmp_path):
    import os
    import tempfile

    from gbfocal.tuning._workers import FoldRunner

    parent = os.getpid()  # a closure cell: cloudpickle sends its value to the worker

    def fails_in_workers(estimator, X, y, sample_weight=None):
        if os.getpid() != parent:
            raise ValueError("scorer failed in a worker")
        return 0.5

    X, y = _data(n=200)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    objective = _search_objective(monkeypatch, X, y, params={"n_estimators": 5},
                                  early_stopping_rounds=None, scoring=fails_in_workers)
    assert list(tmp_path.iterdir()) == []  # the search removed its pickled objective
    with FoldRunner(objective, 1, 1) as runner:
        assert len(list(tmp_path.glob("gbfocal-tuning-*/objective.pkl"))) == 1
        assert runner({"alpha": None, "gamma": 1.0, "n_estimators": 5}, 0) == (0.5, 5)
        runner._here.acquire()
        try:
            with pytest.raises(ValueError, match="scorer failed in a worker"):
                runner({"alpha": None, "gamma": 1.0, "n_estimators": 5}, 0)
        finally:
            runner._here.release()
    assert list(tmp_path.iterdir()) == []


def test_unpicklable_search_is_a_type_error_naming_n_jobs():
    import threading

    lock = threading.Lock()

    def scorer(estimator, X, y, sample_weight=None):
        with lock:  # a lock cannot be pickled
            return 0.5

    X, y = _data(n=200)
    options = {"n_trials": 2, "cv": 2, "random_state": 0, "early_stopping_rounds": None,
               "params": {"n_estimators": 5}, "refit": False, "baseline": False, "compare": None,
               "show_progress_bar": False, "scoring": scorer}
    with pytest.raises(TypeError, match=r"n_jobs > 1.*pickle.*Use n_jobs=1"):
        tune_focal(X, y, n_jobs=2, **options)
    assert tune_focal(X, y, n_jobs=1, **options).best_score == 0.5


def test_shutdown_workers_stops_them_and_the_next_search_starts_new_ones(monkeypatch):
    import os

    from gbfocal.tuning._workers import FoldRunner

    X, y = _data(n=200)
    objective = _search_objective(monkeypatch, X, y, params={"n_estimators": 5},
                                  early_stopping_rounds=None, n_jobs=2)
    with FoldRunner(objective, 1, 1) as runner:
        before = runner._executor.submit(os.getpid).result()
    with FoldRunner(objective, 1, 1) as runner:  # workers stay between searches
        assert runner._executor.submit(os.getpid).result() == before
    tuning.shutdown_workers()
    with FoldRunner(objective, 1, 1) as runner:
        assert runner._executor.submit(os.getpid).result() != before


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_bad_n_jobs_names_the_argument(bad):
    X, y = _data(n=200)
    with pytest.raises(ValueError, match="n_jobs"):
        tune_focal(X, y, n_trials=1, n_jobs=bad, show_progress_bar=False)


def test_lightgbm_verbose_minus_one_is_silent_as_in_lgbmclassifier(capsys):
    X, y = _data(n=200)
    options = {"n_trials": 1, "cv": 2, "random_state": 0, "early_stopping_rounds": 3,
               "baseline": False, "compare": None, "show_progress_bar": False}
    # LGBMClassifier users write verbose=-1; it used to fail inside the first trial
    tune_focal(X, y, params={"n_estimators": 5, "verbose": -1}, **options)
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="verbose"):
        gbfocal.FocalLGBMClassifier(verbose=-2).fit(X, y)


def test_the_log_loss_arm_scores_the_same_with_lightgbms_own_objective(monkeypatch):
    """The log-loss arm's fold models train with LightGBM's own binary objective (no Python
    call per round); the focal objective at gamma 0 gives the same trial scores."""
    from gbfocal.tuning._folds import _FoldLGBMClassifier

    X, y = _data(n=400)
    options = {"n_trials": 3, "cv": 2, "random_state": 0, "early_stopping_rounds": 5,
               "params": {"n_estimators": 30, "num_leaves": (4, 16), "n_jobs": 1},
               "refit": False, "select": "focal", "compare": None,
               "show_progress_bar": False}
    own = tune_focal(X, y, **options).arms["log_loss"].study
    monkeypatch.setattr(_FoldLGBMClassifier, "_builtin_log_loss", lambda self: False)
    focal = tune_focal(X, y, **options).arms["log_loss"].study
    assert [t.params for t in own.trials] == [t.params for t in focal.trials]
    np.testing.assert_allclose([t.value for t in own.trials], [t.value for t in focal.trials],
                               rtol=0, atol=1e-12)
