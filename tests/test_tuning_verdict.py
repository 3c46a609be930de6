"""tune_focal's two arms and its verdict: tuned alike, compared on rows neither search saw,
with a calibrated interval, and the better arm returned."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

optuna = pytest.importorskip("optuna")
pytest.importorskip("lightgbm")

from gbfocal import FocalLGBMClassifier  # noqa: E402
from gbfocal.tuning import Comparison, _compare, _search, tune_focal  # noqa: E402
from gbfocal.tuning._compare import Part, compare_arms, verdict  # noqa: E402
from gbfocal.tuning._objective import Objective  # noqa: E402

pytestmark = pytest.mark.usefixtures("quiet_optuna")

FAST = {"n_estimators": 30, "n_jobs": 1}
OPTIONS = {"n_trials": 3, "cv": 3, "random_state": 0, "show_progress_bar": False,
           "early_stopping_rounds": 5}


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=400, n_features=6, n_informative=4, weights=[0.8],
                               flip_y=0.02, random_state=3)
    return X, y


class _Fixed(ClassifierMixin, BaseEstimator):
    """A stand-in fitted classifier whose predictions on the evaluation rows are given."""

    def __init__(self, margin=None, proba=None):
        self.margin, self.proba = margin, proba
        self.classes_ = np.arange(2 if proba is None else proba.shape[1])

    def decision_function(self, X):
        return self.margin[np.asarray(X)[:, 0]]

    def predict_proba(self, X):
        return self.proba[np.asarray(X)[:, 0]]


# ------------------------------------------------------------------ the interval's pieces
def test_verdict_needs_the_whole_interval_on_one_side():
    assert verdict((0.001, 0.2)) == "focal"
    assert verdict((-0.2, -0.001)) == "log_loss"
    assert verdict((-0.01, 0.2)) == "no_difference"
    assert verdict((0.0, 0.2)) == "no_difference"  # 0 inside: no evidence of a difference
    assert verdict((0.0, 0.0)) == "no_difference"
    assert verdict(None) is None


@pytest.mark.parametrize("weighted", [False, True])
def test_a_resample_scores_as_scikit_learn_scores_it(weighted):
    """The fast path scores resample b as the rows weighted by their multiplicities; that is
    scikit-learn's score of the resampled rows (ties, weights and clipping included)."""
    rng = np.random.default_rng(0)
    n = 300
    y = (rng.random(n) < 0.2).astype(int)
    margin = np.round(rng.normal(size=n) + y, 1)  # rounded: many ties
    proba3 = rng.dirichlet(np.ones(3), size=n)
    proba3[0] = [1.0, 0.0, 0.0]  # a zero probability: log loss clips it
    y3 = rng.integers(0, 3, n)
    weight = rng.uniform(0.5, 2.0, n) if weighted else None
    rows = np.arange(n)[:, None]
    binary = Part(X_eval=rows, y=y, sample_weight=weight, estimators={})
    multi = Part(X_eval=rows, y=y3, sample_weight=weight, estimators={})
    draws = [np.concatenate([s[rng.integers(0, s.size, s.size)]
                             for s in (np.flatnonzero(labels == c) for c in np.unique(labels))])
             for labels in (y, y3) for _ in range(5)]
    p_binary = np.column_stack([1 / (1 + np.exp(margin)), 1 / (1 + np.exp(-margin))])
    cases = [
        ("average_precision", _Fixed(margin=margin), binary,
         lambda idx, w: average_precision_score(y[idx], margin[idx], sample_weight=w)),
        ("roc_auc", _Fixed(margin=margin), binary,
         lambda idx, w: roc_auc_score(y[idx], margin[idx], sample_weight=w)),
        ("neg_log_loss", _Fixed(proba=p_binary), binary,
         lambda idx, w: -log_loss(y[idx], p_binary[idx], sample_weight=w, labels=[0, 1])),
        ("neg_log_loss", _Fixed(proba=proba3), multi,
         lambda idx, w: -log_loss(y3[idx], proba3[idx], sample_weight=w, labels=[0, 1, 2])),
        ("roc_auc_ovr", _Fixed(proba=proba3), multi,
         lambda idx, w: roc_auc_score(y3[idx], proba3[idx], sample_weight=w,
                                      multi_class="ovr")),
    ]
    for name, estimator, part, reference in cases:
        score = _compare._resampled_score(name, estimator, part)
        for idx in draws[:5] if part is binary else draws[5:]:
            counts = np.bincount(idx, minlength=n)[None, :].astype(float)
            w = None if weight is None else weight[idx]
            assert score(counts)[0] == pytest.approx(reference(idx, w), rel=1e-12, abs=1e-12), name


def _null_parts(rng, n=150, prevalence=0.2, informative=0.0):
    """One holdout's labels and two arms' margins: the focal arm's carry ``informative``
    signal, the log-loss arm's none."""
    y = (rng.random(n) < prevalence).astype(int)
    y[:2] = [0, 1]
    focal = rng.normal(size=n) + informative * y
    plain = rng.normal(size=n)
    return [Part(X_eval=np.arange(n)[:, None], y=y, sample_weight=None,
                 estimators={"focal": _Fixed(margin=focal), "log_loss": _Fixed(margin=plain)})]


def _upper_bound(count, n_seeds):
    """The one-sided 95 % Clopper-Pearson upper bound of a rate seen ``count`` times."""
    return stats.beta.ppf(0.95, count + 1, n_seeds - count)


def _scorer(name):
    from sklearn.metrics import get_scorer

    return get_scorer(name)


@pytest.mark.parametrize("scoring", ["average_precision", "roc_auc"])
def test_the_interval_is_calibrated_when_the_arms_are_exchangeable(scoring):
    """Two arms that rank at random: the rate of "focal" (and of "log_loss") verdicts is
    below 5 % with 95 % confidence (Clopper-Pearson bound over 400 seeds; the nominal rate
    of each side is 2.5 %, seen: 9 and 4 of 400 for AP); an arm that really ranks better
    is found almost always."""
    n_seeds = 400
    wrong = {"focal": 0, "log_loss": 0}
    for seed in range(n_seeds):
        parts = _null_parts(np.random.default_rng(seed))
        result = compare_arms(parts, scorer=_scorer(scoring), scoring=scoring,
                              method="holdout", multilabel=False, seed=seed,
                              named_scorer=True, n_resamples=1000)
        found = verdict(result.interval)
        if found in wrong:
            wrong[found] += 1
    assert _upper_bound(wrong["focal"], n_seeds) < 0.05, wrong
    assert _upper_bound(wrong["log_loss"], n_seeds) < 0.05, wrong
    found = [verdict(compare_arms(_null_parts(np.random.default_rng(seed), informative=1.5),
                                  scorer=_scorer(scoring), scoring=scoring, method="holdout",
                                  multilabel=False, seed=seed, named_scorer=True,
                                  n_resamples=1000).interval) for seed in range(40)]
    assert found.count("focal") >= 36


def test_a_callable_scorer_is_resampled_through_the_estimators_predictions():
    """The generic path: the scorer gets the estimator's cached predictions by row position."""
    rng = np.random.default_rng(1)
    parts = _null_parts(rng, informative=2.0)
    calls = []

    def scorer(estimator, X, y, sample_weight=None):
        calls.append(len(y))
        return average_precision_score(y, estimator.decision_function(X))

    named = compare_arms(parts, scorer=_scorer("average_precision"), scoring="average_precision",
                         method="holdout", multilabel=False, seed=0, named_scorer=True)
    generic = compare_arms(parts, scorer=scorer, scoring="scorer", method="holdout",
                           multilabel=False, seed=0, named_scorer=False, n_resamples=300)
    assert len(calls) == 2 + 2 * 300  # the point scores, then both arms per resample
    assert generic.focal_score == pytest.approx(named.focal_score, rel=1e-12)
    assert generic.log_loss_score == pytest.approx(named.log_loss_score, rel=1e-12)
    assert generic.interval[0] > 0 and named.interval[0] > 0  # a clear, real difference


# --------------------------------------------------------------------------- end to end
def test_equal_arms_by_construction_never_give_a_verdict(data):
    """The focal search restricted to gamma 0 and alpha None is the log-loss arm: the same
    seed, folds, space, early stopping and budget give the same trials, an interval of 0."""
    X, y = data
    for seed in range(3):
        result = tune_focal(X, y, alpha=None, gamma=0.0, params={**FAST, "num_leaves": (4, 32)},
                            **{**OPTIONS, "random_state": seed})
        focal, plain = result.arms["focal"].study, result.arms["log_loss"].study
        assert [t.params for t in focal.trials] == [t.params for t in plain.trials]
        assert [t.value for t in focal.trials] == [t.value for t in plain.trials]
        assert result.comparison.difference == 0.0
        assert result.comparison.interval == (0.0, 0.0)
        assert result.verdict == "no_difference" and result.selected == "log_loss"


@pytest.mark.slow
def test_labels_independent_of_the_features_rarely_get_a_focal_verdict():
    """Where focal loss cannot help (labels independent of the features), the verdict says
    "focal" in at most 5 % of 60 seeds (seen: 1), while the in-sample comparison of the
    same searches, best against best on the folds that chose them, favours focal loss in
    most seeds (the winner's curse; seen: 43 of 60)."""
    n_seeds = 60
    verdicts, in_sample = [], []
    for seed in range(n_seeds):
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(500, 4))
        y = (rng.random(500) < 0.15).astype(int)
        result = tune_focal(X, y, n_trials=3, cv=2, random_state=seed, early_stopping_rounds=5,
                            params={"n_estimators": 20, "n_jobs": 1}, refit=False,
                            show_progress_bar=False)
        verdicts.append(result.verdict)
        in_sample.append(np.mean(result.fold_differences) > 0)
    assert verdicts.count("focal") <= 0.05 * n_seeds, verdicts
    assert verdicts.count("log_loss") <= 0.05 * n_seeds, verdicts
    assert sum(in_sample) >= 0.6 * n_seeds  # what fold_differences would have said


def _holdout(y, size=0.2, seed=0):
    every = np.arange(len(y))
    search, held = train_test_split(every, test_size=size, stratify=y, random_state=seed)
    return np.sort(search), np.sort(held)


def test_no_search_sees_the_holdout_and_the_comparison_is_a_plain_refit(data, monkeypatch):
    X, y = data
    touched: list[np.ndarray] = []
    refits: list[tuple[np.ndarray, np.ndarray]] = []
    original_fold = Objective.fit_fold
    original_rows = Objective.fit_rows
    original_score = Objective.score

    def spy_fold(self, params, fold, fit_idx, val_idx):
        touched.extend([fit_idx, val_idx])
        return original_fold(self, params, fold, fit_idx, val_idx)

    def spy_rows(self, params, fit_idx, val_idx):
        refits.append((fit_idx, val_idx))
        return original_rows(self, params, fit_idx, val_idx)

    def spy_score(self, estimator, test_idx):
        touched.append(test_idx)
        return original_score(self, estimator, test_idx)

    monkeypatch.setattr(Objective, "fit_fold", spy_fold)
    monkeypatch.setattr(Objective, "fit_rows", spy_rows)
    monkeypatch.setattr(Objective, "score", spy_score)
    params = {**FAST, "num_leaves": (4, 32)}
    result = tune_focal(X, y, params=params, **OPTIONS)
    search, held = _holdout(y)
    assert np.intersect1d(np.concatenate(touched), held).size == 0
    # the two evaluation refits: the search rows, split as an early-stopping fold
    assert len(refits) == 2
    for fit, val in refits:
        np.testing.assert_array_equal(np.union1d(fit, val), search)
    # the comparison, rebuilt by hand: each arm's best trial refit on the search rows,
    # early-stopped on a stratified 20 % of them, scored on the holdout
    fit, val = train_test_split(search, test_size=0.2, stratify=y[search], random_state=0)
    scores = {}
    for name, arm in result.arms.items():
        trial = arm.study.best_trial
        alpha = trial.user_attrs["alpha"]
        model = FocalLGBMClassifier(
            alpha=alpha, gamma=trial.params.get("gamma", 0.0), random_state=0,
            num_leaves=trial.params["num_leaves"], early_stopping_rounds=5,
            eval_metric="average_precision", **FAST,
        ).fit(X[np.sort(fit)], y[np.sort(fit)], eval_set=[(X[np.sort(val)], y[np.sort(val)])])
        scores[name] = average_precision_score(y[held], model.decision_function(X[held]))
    comparison = result.comparison
    assert isinstance(comparison, Comparison)
    assert comparison.method == "holdout" and comparison.n_rows == held.size == 80
    assert comparison.focal_score == pytest.approx(scores["focal"], rel=1e-12)
    assert comparison.log_loss_score == pytest.approx(scores["log_loss"], rel=1e-12)
    assert comparison.difference == pytest.approx(scores["focal"] - scores["log_loss"])
    low, high = comparison.interval
    assert low <= comparison.difference <= high
    assert comparison.n_resamples == 2000 and comparison.confidence == 0.95
    assert result.verdict == verdict(comparison.interval)
    # the returned model is the selected arm refit on all rows
    chosen = result.arms[result.selected].best_params
    assert result.best_params == chosen
    again = FocalLGBMClassifier(**chosen, random_state=0).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), result.best_estimator.predict_proba(X))


@pytest.mark.parametrize("forced", ["focal", "log_loss", "no_difference"])
def test_auto_returns_the_arm_the_verdict_favours(data, monkeypatch, forced):
    X, y = data
    monkeypatch.setattr(_search, "verdict", lambda interval: forced)
    result = tune_focal(X, y, params={**FAST, "num_leaves": (4, 32)}, **OPTIONS)
    expected = "focal" if forced == "focal" else "log_loss"
    assert result.verdict == forced and result.selected == expected
    assert result.best_params == result.arms[expected].best_params
    assert result.best_score == result.arms[expected].best_score
    fitted = result.best_estimator.get_params()
    assert fitted["gamma"] == result.best_params["gamma"]
    assert fitted["alpha"] == result.best_params["alpha"]
    if expected == "log_loss":
        assert fitted["gamma"] == 0.0 and fitted["alpha"] is None


@pytest.mark.parametrize("select", ["focal", "log_loss"])
def test_select_returns_that_arm_whatever_the_verdict(data, select):
    X, y = data
    result = tune_focal(X, y, params=FAST, select=select, **OPTIONS)
    assert result.selected == select
    assert result.best_params == result.arms[select].best_params
    assert result.verdict in ("focal", "log_loss", "no_difference")


def test_the_same_seed_gives_the_same_verdict(data):
    X, y = data
    first = tune_focal(X, y, params={**FAST, "num_leaves": (4, 32)}, **OPTIONS)
    again = tune_focal(X, y, params={**FAST, "num_leaves": (4, 32)}, **OPTIONS)
    assert first.comparison == again.comparison
    assert first.best_params == again.best_params


def test_weights_count_in_the_comparison(data):
    X, y = data
    w = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    result = tune_focal(X, y, sample_weight=w, params=FAST, select="focal", **OPTIONS)
    search, held = _holdout(y)
    assert result.comparison.n_rows == held.size
    fit, val = train_test_split(search, test_size=0.2, stratify=y[search], random_state=0)
    fit, val = np.sort(fit), np.sort(val)
    trial = result.arms["log_loss"].study.best_trial
    model = FocalLGBMClassifier(alpha=None, gamma=0.0, random_state=0, early_stopping_rounds=5,
                                eval_metric="average_precision", **FAST).fit(
        X[fit], y[fit], sample_weight=w[fit], eval_set=[(X[val], y[val])],
        eval_sample_weight=[w[val]])
    assert trial.params == {}
    expected = average_precision_score(y[held], model.decision_function(X[held]),
                                       sample_weight=w[held])
    assert result.comparison.log_loss_score == pytest.approx(expected, rel=1e-12)


def test_without_the_log_loss_arm_the_focal_holdout_score_is_reported(data):
    X, y = data
    result = tune_focal(X, y, params=FAST, baseline=False, **OPTIONS)
    assert result.verdict is None and result.selected == "focal"
    assert set(result.arms) == {"focal"}
    comparison = result.comparison
    assert comparison.log_loss_score is None and comparison.interval is None
    assert 0 < comparison.focal_score <= 1 and comparison.n_rows == 80
    assert result.baseline_score is None and result.fold_differences is None


def test_nested_comparison_runs_both_searches_in_every_outer_fold(data, tmp_path, monkeypatch):
    X, y = data
    touched: dict[bytes, list[np.ndarray]] = {}
    original_fold = Objective.fit_fold

    def spy_fold(self, params, fold, fit_idx, val_idx):
        # one list per search (its splits): the outer folds' searches, then the final one
        touched.setdefault(self.splits[0][2].tobytes(), []).extend([fit_idx, val_idx,
                                                        self.splits[fold][2]])
        return original_fold(self, params, fold, fit_idx, val_idx)

    monkeypatch.setattr(Objective, "fit_fold", spy_fold)
    storage = f"sqlite:///{tmp_path / 'nested.db'}"
    result = tune_focal(X, y, params={**FAST, "num_leaves": (4, 32)}, compare="nested",
                        outer_cv=2, storage=storage, study_name="n", **{**OPTIONS, "cv": 2})
    names = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    assert names == {"n", "n.log_loss", "n.outer0", "n.outer0.log_loss", "n.outer1",
                     "n.outer1.log_loss"}
    assert optuna.load_study(study_name="n.outer0", storage=storage).user_attrs[
        "gbfocal_settings"]["rows"] == "outer0"
    comparison = result.comparison
    assert comparison.method == "nested" and comparison.n_rows == len(y)
    assert len(comparison.focal_fold_scores) == len(comparison.log_loss_fold_scores) == 2
    assert comparison.focal_score == pytest.approx(np.mean(comparison.focal_fold_scores))
    assert result.verdict == verdict(comparison.interval)
    # each outer fold's searches (both arms) never saw that fold's test rows; the final
    # search, for the returned model, uses all rows
    outer = list(StratifiedKFold(2, shuffle=True, random_state=0).split(X, y))
    searches = list(touched.values())
    assert len(searches) == 3
    for (_, test), rows in zip(outer, searches[:2], strict=True):
        assert np.intersect1d(np.concatenate(rows), test).size == 0
    assert np.unique(np.concatenate(searches[2])).size == len(y)


def test_holdout_that_leaves_too_few_rows_is_a_clear_error(data):
    X, y = data
    few = np.zeros(len(y), dtype=int)
    few[:9] = 1  # 9 positives: enough for 3 folds, not after a 40 % holdout
    with pytest.raises(ValueError, match=r"after setting aside holdout_size=0.4"):
        tune_focal(X, few, params=FAST, holdout_size=0.4, **OPTIONS)


def test_a_given_study_gets_its_log_loss_study_beside_it(data, tmp_path):
    X, y = data
    storage = f"sqlite:///{tmp_path / 'mine.db'}"
    mine = optuna.create_study(storage=storage, study_name="mine", direction="maximize",
                               sampler=optuna.samplers.RandomSampler(seed=3),
                               pruner=optuna.pruners.NopPruner())
    result = tune_focal(X, y, study=mine, params={**FAST, "num_leaves": (4, 32)}, **OPTIONS)
    plain = result.arms["log_loss"].study
    assert result.study is mine and plain.study_name == "mine.log_loss"
    assert isinstance(plain.sampler, optuna.samplers.RandomSampler)
    assert isinstance(plain.pruner, optuna.pruners.NopPruner)
    assert len(optuna.load_study(study_name="mine.log_loss", storage=storage).trials) == 3


_WORKER = textwrap.dedent("""
    import json, sys
    import optuna
    from sklearn.datasets import make_classification
    from gbfocal.tuning import tune_focal

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(sys.argv[1]))
    X, y = make_classification(n_samples=300, n_features=6, weights=[0.8], random_state=3)
    result = tune_focal(X, y, n_trials=3, cv=2, random_state=0, early_stopping_rounds=5,
                        params={"n_estimators": 20, "n_jobs": 1, "num_leaves": (4, 32)},
                        storage=storage, study_name="shared", refit=False,
                        show_progress_bar=False)
    print(json.dumps({"verdict": result.verdict}))
""")


def test_two_processes_add_trials_to_one_search(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    journal = str(tmp_path / "search.journal")
    workers = [subprocess.Popen([sys.executable, str(script), journal], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-2000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    assert all(o["verdict"] in ("focal", "log_loss", "no_difference") for o in outputs)
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(journal))
    for name in ("shared", "shared.log_loss"):
        study = optuna.load_study(study_name=name, storage=storage)
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        assert len(study.trials) == 6 and len(complete) == 6, name
        assert study.user_attrs["gbfocal_settings"]["fold_seed"] == 0
