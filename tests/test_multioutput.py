"""Tests of the multi-output focal loss (math, loss object, adapters, estimator).

The math is checked against finite differences of its own loss and against the
multiclass functions applied output by output (an independent path through the
data: a wrong flat layout or a leaking ignored entry cannot pass both).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from gbfocal._focal import (
    multiclass_focal_grad_hess,
    multiclass_focal_loss,
    multioutput_focal_grad_hess,
    multioutput_focal_loss,
)
from gbfocal.multioutput import FocalMultiOutputClassifier, MultiOutputFocalLoss

GAMMAS = [0.0, 0.5, 2.0, 5.0]
ALPHAS = [None, [0.5, 1.0, 3.0], "balanced"]


def problem(n=40, a=4, k=3, seed=0, missing=0.3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=(n, a))
    y[rng.random((n, a)) < missing] = -1
    y[0] = np.arange(a) % k  # every class present
    return y, rng.normal(scale=3.0, size=(n, a, k))


def per_output(y, z, *, alpha, gamma, weight=None, hessian="positive"):
    """Reference: the multiclass functions on each output's labelled rows."""
    n, a, k = z.shape
    mask = y >= 0
    if isinstance(alpha, str):  # global counts over the labelled pairs
        counts = np.bincount(y[mask], minlength=k)
        alpha = counts.sum() / (k * counts)
    loss, grad, hess = np.zeros((n, a)), np.zeros((n, a, k)), np.zeros((n, a, k))
    for j in range(a):
        m = mask[:, j]
        w = None if weight is None else weight[m]
        loss[m, j] = multiclass_focal_loss(y[m, j], z[m, j], alpha=alpha, gamma=gamma,
                                           sample_weight=w)
        grad[m, j], hess[m, j] = multiclass_focal_grad_hess(
            y[m, j], z[m, j], alpha=alpha, gamma=gamma, sample_weight=w, hessian=hessian)
    return loss, grad, hess


# --------------------------------------------------------------------------- math
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_derivatives_match_finite_differences(gamma, alpha):
    y, z = problem()
    grad, hess = multioutput_focal_grad_hess(y, z, alpha=alpha, gamma=gamma, hessian="exact")
    step = 1e-5
    for c in range(z.shape[2]):
        e = np.zeros_like(z)
        e[..., c] = step

        def f(s, e=e):
            return multioutput_focal_loss(y, s, alpha=alpha, gamma=gamma, reduction="none")

        def g(s, c=c):
            return multioutput_focal_grad_hess(y, s, alpha=alpha, gamma=gamma,
                                               hessian="exact")[0][..., c]

        fd_grad = (f(z + e) - f(z - e)) / (2 * step)
        fd_hess = (g(z + e) - g(z - e)) / (2 * step)
        np.testing.assert_allclose(grad[..., c], fd_grad, rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(hess[..., c], fd_hess, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("hessian", ["positive", "exact"])
def test_equals_multiclass_output_by_output(alpha, hessian):
    y, z = problem(seed=1)
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=y.shape[0])
    loss = multioutput_focal_loss(y, z, alpha=alpha, sample_weight=w, reduction="none")
    grad, hess = multioutput_focal_grad_hess(y, z, alpha=alpha, sample_weight=w, hessian=hessian)
    ref = per_output(y, z, alpha=alpha, gamma=2.0, weight=w, hessian=hessian)
    if alpha == "balanced":  # weighted counts
        counts = np.bincount(y[y >= 0], weights=np.broadcast_to(w[:, None], y.shape)[y >= 0])
        ref = per_output(y, z, alpha=counts.sum() / (3 * counts), gamma=2.0, weight=w,
                         hessian=hessian)
    np.testing.assert_allclose(loss, ref[0], rtol=1e-14)
    np.testing.assert_allclose(grad, ref[1], rtol=1e-14)
    np.testing.assert_allclose(hess, ref[2], rtol=1e-14)


@pytest.mark.parametrize("alpha", [None, [0.5, 1.0, 3.0, 2.0], "balanced"])
def test_one_output_equals_multiclass_exactly(alpha):
    rng = np.random.default_rng(2)
    y = rng.integers(0, 4, size=30)
    y[:4] = np.arange(4)
    z = rng.normal(scale=4, size=(30, 4))
    w = rng.uniform(size=30)
    loss = multioutput_focal_loss(y[:, None], z[:, None, :], alpha=alpha, sample_weight=w,
                                  reduction="none")
    grad, hess = multioutput_focal_grad_hess(y[:, None], z, alpha=alpha, sample_weight=w)
    ref_loss = multiclass_focal_loss(y, z, alpha=alpha, sample_weight=w)
    ref_grad, ref_hess = multiclass_focal_grad_hess(y, z, alpha=alpha, sample_weight=w)
    assert np.array_equal(loss[:, 0], ref_loss)
    assert np.array_equal(grad, ref_grad) and np.array_equal(hess, ref_hess)
    assert multioutput_focal_loss(y[:, None], z, alpha=alpha, sample_weight=w) == pytest.approx(
        ref_loss.sum() / w.sum(), rel=1e-14)


def test_ignored_entries_are_exactly_zero_and_inert():
    y, z = problem(seed=3, missing=0.5)
    ignored = y < 0
    loss = multioutput_focal_loss(y, z, alpha="balanced", reduction="none")
    grad, hess = multioutput_focal_grad_hess(y, z, alpha="balanced")
    assert (loss[ignored] == 0).all() and (grad[ignored] == 0).all() and (hess[ignored] == 0).all()
    assert (loss[~ignored] > 0).all() and (hess[~ignored] > 0).all()
    # Any score at an ignored entry changes nothing, anywhere.
    z2 = z.copy()
    z2[ignored] = 1e3 * np.random.default_rng(0).normal(size=z2[ignored].shape)
    grad2, hess2 = multioutput_focal_grad_hess(y, z2, alpha="balanced")
    assert np.array_equal(grad, grad2) and np.array_equal(hess, hess2)
    assert multioutput_focal_loss(y, z2, alpha="balanced") == multioutput_focal_loss(
        y, z, alpha="balanced")
    # An extra, fully ignored output leaves the others untouched.
    y3 = np.column_stack([y, np.full(len(y), -1)])
    z3 = np.concatenate([z, np.zeros((len(y), 1, 3))], axis=1)
    grad3, _ = multioutput_focal_grad_hess(y3, z3, alpha="balanced")
    assert np.array_equal(grad3[:, :-1], grad) and (grad3[:, -1] == 0).all()


def test_flat_layout_is_output_major_and_agrees_with_3d():
    y, z = problem(seed=4)
    n, a, k = z.shape
    flat = z.reshape(n, a * k)
    g3, h3 = multioutput_focal_grad_hess(y, z)
    gf, hf = multioutput_focal_grad_hess(y, flat)
    assert gf.shape == (n, a * k) and g3.shape == (n, a, k)
    assert np.array_equal(gf, g3.reshape(n, -1)) and np.array_equal(hf, h3.reshape(n, -1))
    assert multioutput_focal_loss(y, flat) == multioutput_focal_loss(y, z)
    # A class-major layout (the other possible flattening) gives different numbers.
    class_major = z.transpose(0, 2, 1).reshape(n, a * k)
    assert not np.allclose(multioutput_focal_grad_hess(y, class_major)[0], gf)


def test_balanced_counts_labelled_pairs_only():
    rng = np.random.default_rng(5)
    labels = rng.permutation(np.repeat([0, 1, 2], [20_000, 10_000, 5_000]))
    y = np.full((35_000 * 2, 3), -1)  # the pairs spread over 3 outputs, most entries ignored
    y.ravel()[rng.choice(y.size, size=labels.size, replace=False)] = labels
    loss = MultiOutputFocalLoss(3, 3, alpha="balanced").fit(y)
    np.testing.assert_allclose(loss.alpha_, [7 / 12, 7 / 6, 7 / 3])
    assert loss.alpha_.round(4).tolist() == [0.5833, 1.1667, 2.3333]
    z = rng.normal(size=(y.shape[0], 3, 3))
    assert multioutput_focal_loss(y, z, alpha="balanced") == pytest.approx(
        multioutput_focal_loss(y, z, alpha=[7 / 12, 7 / 6, 7 / 3]), rel=1e-12)


def test_reductions():
    y, z = problem(seed=6)
    each = multioutput_focal_loss(y, z, reduction="none")
    mask = y >= 0
    assert multioutput_focal_loss(y, z, reduction="sum") == pytest.approx(each.sum(), rel=1e-13)
    assert multioutput_focal_loss(y, z) == pytest.approx(each[mask].mean(), rel=1e-13)
    per = [each[mask[:, j], j].mean() for j in range(y.shape[1])]
    assert multioutput_focal_loss(y, z, reduction="output_mean") == pytest.approx(np.mean(per))
    w = np.random.default_rng(6).uniform(size=y.shape)  # per-entry weights
    weighted = multioutput_focal_loss(y, z, sample_weight=w)
    assert weighted == pytest.approx((each * w)[mask].sum() / w[mask].sum(), rel=1e-13)


@pytest.mark.parametrize(
    ("y", "z", "match"),
    [
        ([[0, 3]], np.zeros((1, 2, 3)), "class indices 0..2.*found 3.0 at row 0, output 1"),
        ([[0, 0.5]], np.zeros((1, 2, 3)), "class indices"),
        ([[-1, -1]], np.zeros((1, 2, 3)), "no labelled"),
        ([0, 1], np.zeros((2, 3)), "2-D"),
        ([[0, 1]], np.zeros((2, 2, 3)), "rows"),
        ([[0, 1]], np.zeros((1, 3, 3)), "outputs"),
        ([[0, 1]], np.zeros((1, 5)), "multiple"),
        ([[0, 1]], np.zeros((1, 2, 1)), "at least 2 classes"),
        ([[0, 1]], np.zeros(6), "shape"),
        ([[0, 1]], [[[0.0, np.nan], [0.0, 0.0]]], "finite"),
    ],
)
def test_bad_input_raises(y, z, match):
    with pytest.raises(ValueError, match=match):
        multioutput_focal_loss(y, z)
    with pytest.raises(ValueError, match=match):
        multioutput_focal_grad_hess(y, z)


def test_bad_arguments_raise():
    y, z = problem(n=5, a=2)
    with pytest.raises(ValueError, match="ignore_label=1 is a class index"):
        multioutput_focal_loss(y, z, ignore_label=1)
    with pytest.raises(TypeError, match="ignore_label"):
        multioutput_focal_loss(y, z, ignore_label=-1.5)
    with pytest.raises(ValueError, match=r"0\.\.2 \(n_classes=3\), found -1\.0"):
        multioutput_focal_loss(y, z, ignore_label=None)  # -1 entries are then bad labels
    with pytest.raises(ValueError, match="reduction"):
        multioutput_focal_loss(y, z, reduction="avg")
    with pytest.raises(ValueError, match="sample_weight"):
        multioutput_focal_loss(y, z, sample_weight=np.ones((5, 3)))
    with pytest.raises(ValueError, match="sums to zero"):
        multioutput_focal_loss(y, z, sample_weight=np.zeros(5))
    with pytest.raises(ValueError, match="only defined for the binary"):
        multioutput_focal_loss(y, z, alpha=0.25)
    with pytest.raises(ValueError, match="every class"):  # balanced with a class never labelled
        multioutput_focal_loss(np.zeros((3, 2), int), np.zeros((3, 2, 3)), alpha="balanced")


# --------------------------------------------------------------------------- loss object
def test_loss_object_checks_outputs_and_classes():
    y, z = problem(n=6, a=2)
    loss = MultiOutputFocalLoss(2, 3)
    with pytest.raises(ValueError, match="n_outputs=2"):
        loss.loss(np.zeros((6, 3), int), np.zeros((6, 3, 3)))
    with pytest.raises(ValueError, match="n_classes=3"):
        loss.grad_hess(y, np.zeros((6, 2, 4)))
    with pytest.raises(ValueError, match="n_classes=3"):
        loss.grad_hess(y, np.zeros((6, 8)))  # flat: 2 outputs x 4 classes
    with pytest.raises(ValueError, match="n_outputs"):
        MultiOutputFocalLoss(0, 3)
    with pytest.raises(ValueError, match="n_classes"):
        MultiOutputFocalLoss(2, 1)
    with pytest.raises(ValueError, match="alpha"):
        MultiOutputFocalLoss(2, 3, alpha=[1.0, 2.0])
    with pytest.raises(ValueError, match="probabilities"):
        loss.predict_proba(np.full((2, 6), 1 / 3))
    proba = loss.predict_proba(z.reshape(6, -1))
    assert proba.shape == (6, 2, 3)
    np.testing.assert_allclose(proba.sum(axis=2), 1.0)


@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_init_score_minimises_each_output(gamma):
    y, _ = problem(n=300, a=3, seed=7, missing=0.4)
    y[:, 2] = np.where(y[:, 2] >= 0, 0, -1)  # output 2: a single class
    y[0, 2] = 1
    loss = MultiOutputFocalLoss(3, 3, alpha="balanced", gamma=gamma)
    init = loss.init_score(y)
    assert init.shape == (3, 3)
    np.testing.assert_allclose(init.sum(axis=1), 0.0, atol=1e-9)
    grad, _ = loss.grad_hess(y, np.broadcast_to(init, (len(y), 3, 3)))
    np.testing.assert_allclose(grad.sum(axis=0)[:2], 0.0, atol=1e-6)  # stationary
    if gamma == 0:  # centred log class shares, output by output
        for j in range(2):
            share = np.bincount(y[y[:, j] >= 0, j], minlength=3) * loss.alpha_
            ref = np.log(share) - np.log(share).mean()
            np.testing.assert_allclose(init[j], ref, atol=1e-6)


def test_label_encodings_round_trip():
    y, _ = problem(n=50, a=11, seed=8)
    loss = MultiOutputFocalLoss(11, 3)
    code = loss.lgb_label(y)
    assert code.shape == (50,) and np.array_equal(code.astype(np.float32), code)
    assert np.array_equal(loss.decode_label(code.astype(np.float32)), y)
    onehot = loss.xgb_label(y)
    assert onehot.shape == (50, 33)
    assert np.array_equal(loss.decode_label(onehot), y)
    with pytest.raises(ValueError, match="2\\*\\*24"):
        MultiOutputFocalLoss(13, 3).lgb_label(np.zeros((2, 13), int))
    with pytest.raises(ValueError, match="one-hot"):
        loss.decode_label(np.full((50, 33), 0.5))


# --------------------------------------------------------------------------- adapters
def synthetic(n=400, a=3, seed=0, missing=0.3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, a + 2))
    # imbalanced classes per output: 0 common, 2 rare
    y = np.digitize(X[:, :a] + 0.3 * rng.normal(size=(n, a)), [0.3, 1.2])
    y[rng.random((n, a)) < missing] = -1
    return X, y


def macro_accuracy(y, pred):
    mask = y >= 0
    return np.mean([(pred[mask[:, j], j] == y[mask[:, j], j]).mean() for j in range(y.shape[1])])


def test_lightgbm_one_booster_with_a_times_k_columns():
    lgb = pytest.importorskip("lightgbm")
    X, y = synthetic()
    loss = MultiOutputFocalLoss(3, 3, alpha="balanced")
    init = loss.init_score(y).ravel()
    data = lgb.Dataset(X, label=loss.lgb_label(y), init_score=np.tile(init, (len(y), 1)))
    record: dict = {}
    booster = lgb.train(
        {"objective": loss.lgb_objective, "num_class": 9, "metric": "None", "num_threads": 1,
         "verbose": -1, "num_leaves": 7},
        data, 30, valid_sets=[data], feval=loss.lgb_metric,
        callbacks=[lgb.record_evaluation(record)],
    )
    raw = booster.predict(X, raw_score=True) + init
    assert raw.shape == (len(y), 9)
    curve = record["training"]["focal_loss"]
    assert curve[-1] < 0.5 * curve[0]
    assert curve[-1] == pytest.approx(loss.loss(y, raw), rel=1e-5)
    assert macro_accuracy(y, loss.predict_proba(raw).argmax(axis=2)) > 0.85
    # The objective hands LightGBM exactly the gradient of the math, in its layout.
    grad, hess = loss.lgb_objective(raw, data)
    ref_grad, ref_hess = loss.grad_hess(y, raw)
    assert grad.shape == (len(y), 9) and grad.dtype == np.float32
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(hess, ref_hess, rtol=1e-6, atol=1e-30)


@pytest.mark.parametrize("strategy", ["one_output_per_tree", "multi_output_tree"])
def test_xgboost_one_booster_for_all_outputs(strategy):
    xgb = pytest.importorskip("xgboost")
    X, y = synthetic(seed=1)
    w = np.random.default_rng(1).uniform(0.5, 1.5, size=len(y))
    loss = MultiOutputFocalLoss(3, 3, alpha="balanced")
    init = loss.init_score(y, w).ravel()
    data = xgb.DMatrix(X, label=loss.xgb_label(y), weight=w,
                       base_margin=np.tile(init, (len(y), 1)))
    record: dict = {}
    booster = xgb.train(
        {"tree_method": "hist", "multi_strategy": strategy, "nthread": 1, "max_depth": 3,
         "disable_default_eval_metric": True},
        data, 30, obj=loss.xgb_objective, custom_metric=loss.xgb_metric,
        evals=[(data, "train")], evals_result=record, verbose_eval=False,
    )
    raw = booster.predict(data, output_margin=True)
    assert raw.shape == (len(y), 9)
    curve = record["train"]["focal_loss"]
    assert curve[-1] < 0.5 * curve[0]
    assert curve[-1] == pytest.approx(loss.loss(y, raw, w), rel=1e-4)  # printed to 6 digits
    assert macro_accuracy(y, loss.predict_proba(raw).argmax(axis=2)) > 0.85


# --------------------------------------------------------------------------- estimator
def string_labels(y):
    names = np.array(["negative", "neutral", "positive"], dtype=object)
    out = names[np.maximum(y, 0)]
    out[y < 0] = -1
    return out


@pytest.mark.parametrize("backend", ["lightgbm", "xgboost"])
def test_estimator_with_string_labels_and_missing_marker(backend):
    pytest.importorskip(backend)
    X, y = synthetic(seed=2)
    labels = string_labels(y)
    clf = FocalMultiOutputClassifier(backend=backend, alpha="balanced", n_estimators=30,
                                     n_jobs=1, random_state=0, params={"max_depth": 3})
    clf.fit(X[:300], labels[:300])
    assert clf.classes_.tolist() == ["negative", "neutral", "positive"]
    assert clf.n_outputs_ == 3 and clf.n_features_in_ == X.shape[1]
    pred = clf.predict(X[300:])
    proba = clf.predict_proba(X[300:])
    assert pred.shape == (100, 3) and proba.shape == (100, 3, 3)
    np.testing.assert_allclose(proba.sum(axis=2), 1.0)
    assert np.array_equal(pred, clf.classes_[proba.argmax(axis=2)])
    assert set(pred.ravel()) <= set(clf.classes_)
    test = y[300:]
    majority = np.mean([np.bincount(test[test[:, j] >= 0, j]).max() / (test[:, j] >= 0).sum()
                        for j in range(3)])
    assert clf.score(X[300:], labels[300:]) > majority + 0.1  # ~0.6 -> ~0.8
    restored = pickle.loads(pickle.dumps(clf))
    assert np.array_equal(restored.predict_proba(X[300:]), proba)
    assert clone(clf).get_params() == clf.get_params()


def test_estimator_lightgbm_boosters_match_the_multioutput_objective():
    """Per-output boosters train on the same loss as one joint booster would."""
    X, y = synthetic(seed=3)
    clf = FocalMultiOutputClassifier(alpha="balanced", n_estimators=5, n_jobs=1).fit(X, y)
    loss = MultiOutputFocalLoss(3, 3, alpha="balanced").fit(y)
    np.testing.assert_array_equal(clf.alpha_, loss.alpha_)
    np.testing.assert_allclose(clf.init_score_, loss.init_score(y))
    assert len(clf.boosters_) == 3
    assert clf.loss_.loss(y, clf.decision_function(X)) < loss.loss(
        y, np.broadcast_to(loss.init_score(y), (len(y), 3, 3)))


def test_estimator_missing_marker_none_and_errors():
    X, y = synthetic(n=120, seed=4)
    labels = string_labels(y)
    labels[labels == -1] = None
    clf = FocalMultiOutputClassifier(missing_label=None, n_estimators=3, n_jobs=1)
    assert clf.fit(X, labels).predict(X).shape == (120, 3)
    with pytest.raises(ValueError, match="2-D"):
        clf.fit(X, labels[:, 0])
    all_missing = np.full(labels.shape, None, dtype=object)
    with pytest.raises(ValueError, match="nothing to learn"):
        clf.fit(X, all_missing)
    one_empty = labels.copy()
    one_empty[:, 1] = None
    with pytest.raises(ValueError, match=r"output column 1 of y has no labelled rows"):
        clf.fit(X, one_empty)
    mixed = labels.copy()
    mixed[0, 0] = 3
    with pytest.raises(TypeError, match="mix"):
        clf.fit(X, mixed)
    with pytest.raises(ValueError, match="backend"):
        FocalMultiOutputClassifier(backend="catboost").fit(X, labels)


def test_estimator_probabilities_are_corrected_by_default():
    """predict_proba is the per-output focal posterior; correct_proba=False the softmax;
    predict is the argmax of what predict_proba returns."""
    from scipy.special import softmax

    from gbfocal import FocalMultiOutputClassifier, focal_posterior

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = np.where(X[:, :2] > 0.3, 2, np.where(X[:, :2] < -0.3, 0, 1))
    y[rng.random(y.shape) < 0.2] = -1
    clf = FocalMultiOutputClassifier(alpha="balanced", n_estimators=15, n_jobs=1).fit(X, y)
    raw = clf.decision_function(X)
    proba = clf.predict_proba(X)
    for a in range(2):
        np.testing.assert_allclose(proba[:, a], focal_posterior(raw[:, a], alpha=clf.alpha_,
                                                                gamma=clf.gamma), rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=2)])
    plain = clf.set_params(correct_proba=False)
    np.testing.assert_allclose(plain.predict_proba(X), softmax(raw, axis=2), rtol=1e-12)


# --------------------------------------------------------------------------- issue 14
# Small, single-threaded models throughout: the test machine is shared.
BACKENDS = ["lightgbm", "xgboost"]


def noisy(n=300, a=3, seed=0, missing=0.3):
    """Labels that are only partly predictable, so that validation loss turns up early."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, a + 3))
    y = np.digitize(X[:, :a] + 1.5 * rng.normal(size=(n, a)), [-0.4, 0.8])
    y[rng.random((n, a)) < missing] = -1
    return X, y


def corrected_log_loss(proba, y, weight=None):
    """Weighted mean of -log p_y over the labelled pairs (the reference for "log_loss")."""
    rows, outputs = np.nonzero(y >= 0)
    w = np.ones(len(y)) if weight is None else weight
    return np.average(-np.log(proba[rows, outputs, y[rows, outputs]]), weights=w[rows])


def test_lightgbm_early_stopping_per_output_uses_the_best_rounds():
    lgb = pytest.importorskip("lightgbm")
    X, y = noisy(seed=1)
    clf = FocalMultiOutputClassifier(
        alpha="balanced", n_estimators=200, learning_rate=0.3, early_stopping_rounds=5,
        n_jobs=1, params={"num_leaves": 15, "min_child_samples": 5},
    ).fit(X[:200], y[:200], eval_set=[(X[200:], y[200:])])
    best = clf.best_iteration_
    assert best.shape == (3,) and best.dtype.kind == "i"
    assert ((best >= 1) & (best < 200)).all()  # every output stopped early, on its own
    assert isinstance(clf.evals_result_, list) and len(clf.evals_result_) == 3
    proba = clf.predict_proba(X[200:])
    for a, (booster, history) in enumerate(zip(clf.boosters_, clf.evals_result_, strict=True)):
        curve = history["valid_0"]["log_loss"]
        # trained early_stopping_rounds past the best round; lgb.train keeps the best trees
        assert len(curve) == best[a] + 5 and booster.current_iteration() == best[a]
        assert best[a] == np.argmin(curve) + 1
        # The metric is the corrected-probability log loss of this output's labelled rows,
        # and predictions use exactly the best round.
        only_a = np.full_like(y[200:], -1)
        only_a[:, a] = y[200:, a]
        assert curve[best[a] - 1] == pytest.approx(corrected_log_loss(proba, only_a), rel=1e-9)
        raw = booster.predict(X[200:], raw_score=True, num_iteration=int(best[a]), num_threads=1)
        np.testing.assert_allclose(clf.decision_function(X[200:])[:, a],
                                   raw + clf.init_score_[a], rtol=1e-12)
    kept = sum(b.feature_importance(iteration=int(r))
               for b, r in zip(clf.boosters_, best, strict=True))
    np.testing.assert_allclose(clf.feature_importances_, kept / kept.sum())
    assert isinstance(clf.boosters_[0], lgb.Booster)


def test_xgboost_early_stopping_one_booster_weighted_metric():
    xgb = pytest.importorskip("xgboost")
    X, y = noisy(seed=2)
    w_val = np.random.default_rng(2).uniform(0.5, 2.0, size=100)
    clf = FocalMultiOutputClassifier(
        backend="xgboost", alpha="balanced", n_estimators=200, learning_rate=0.3,
        early_stopping_rounds=5, n_jobs=1, params={"max_depth": 4},
    ).fit(X[:200], y[:200], eval_set=[(X[200:], y[200:])], eval_sample_weight=[w_val])
    assert isinstance(clf.best_iteration_, int) and 1 <= clf.best_iteration_ < 200
    curve = clf.evals_result_["valid_0"]["log_loss"]
    assert clf.boosters_[0].num_boosted_rounds() == len(curve) == clf.best_iteration_ + 5
    # XGBoost prints metrics with 6 decimals
    expected = corrected_log_loss(clf.predict_proba(X[200:]), y[200:], w_val)
    assert curve[clf.best_iteration_ - 1] == pytest.approx(expected, rel=1e-5)
    raw = clf.boosters_[0].predict(xgb.DMatrix(X[200:]), output_margin=True,
                                   iteration_range=(0, clf.best_iteration_))
    np.testing.assert_allclose(clf.decision_function(X[200:]),
                               raw.reshape(100, 3, 3) + clf.init_score_, rtol=1e-6)
    # importances of the kept rounds only (the booster holds 5 rounds more)
    scores = clf.boosters_[0][: clf.best_iteration_].get_score(importance_type="gain")
    values = np.array([scores.get(f"f{i}", 0.0) for i in range(X.shape[1])])
    np.testing.assert_allclose(clf.feature_importances_, values / values.sum())


@pytest.mark.parametrize("backend", BACKENDS)
def test_focal_loss_metric_and_no_early_stopping(backend):
    pytest.importorskip(backend)
    X, y = noisy(n=200, seed=3)
    clf = FocalMultiOutputClassifier(backend=backend, eval_metric="focal_loss", n_estimators=8,
                                     n_jobs=1).fit(X[:150], y[:150], eval_set=(X[150:], y[150:]))
    raw = clf.decision_function(X[150:])
    if backend == "lightgbm":
        assert clf.best_iteration_.tolist() == [8, 8, 8]  # nothing stopped: all rounds
        for a, history in enumerate(clf.evals_result_):
            only_a = np.full_like(y[150:], -1)
            only_a[:, a] = y[150:, a]
            assert history["valid_0"]["focal_loss"][-1] == pytest.approx(
                clf.loss_.metric("focal_loss", only_a, raw), rel=1e-9)
    else:
        assert clf.best_iteration_ == 8
        assert clf.evals_result_["valid_0"]["focal_loss"][-1] == pytest.approx(
            clf.loss_.metric("focal_loss", y[150:], raw), rel=1e-5)


def test_eval_set_with_string_labels_is_mapped_through_classes():
    X, y = synthetic(n=200, seed=4)
    labels = string_labels(y)
    clf = FocalMultiOutputClassifier(n_estimators=5, n_jobs=1).fit(
        X[:150], labels[:150], eval_set=[(X[150:], labels[150:]), (X[:150], labels[:150])])
    assert set(clf.evals_result_[0]) == {"valid_0", "valid_1"}
    proba = clf.predict_proba(X[150:])
    only_0 = np.full_like(y[150:], -1)
    only_0[:, 0] = y[150:, 0]
    assert clf.evals_result_[0]["valid_0"]["log_loss"][-1] == pytest.approx(
        corrected_log_loss(proba, only_0), rel=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_eval_set_errors(backend):
    pytest.importorskip(backend)
    X, y = synthetic(n=120, seed=5)
    clf = FocalMultiOutputClassifier(backend=backend, n_estimators=3, n_jobs=1)
    with pytest.raises(ValueError, match="early_stopping_rounds needs a validation set"):
        clf.set_params(early_stopping_rounds=3).fit(X, y)
    clf.set_params(early_stopping_rounds=None)
    with pytest.raises(ValueError, match="eval_sample_weight was given without eval_set"):
        clf.fit(X, y, eval_sample_weight=[None])
    with pytest.raises(TypeError, match="list of"):
        clf.fit(X, y, eval_set=[X, y])
    with pytest.raises(ValueError, match="one entry"):
        clf.fit(X, y, eval_set=[(X, y)], eval_sample_weight=[None, None])
    unseen = y.copy()
    unseen[0, 0] = 7
    with pytest.raises(ValueError, match=r"eval_set\[0\] has labels that are not among"):
        clf.fit(X, y, eval_set=[(X, unseen)])
    with pytest.raises(ValueError, match=r"eval_set\[0\] has labels that are not among"):
        clf.fit(X, y, eval_set=[(X, string_labels(y))])  # strings against integer classes
    with pytest.raises(ValueError, match=r"eval_set\[0\] must have shape \(n_samples, 3\)"):
        clf.fit(X, y, eval_set=[(X, y[:, :2])])
    with pytest.raises(ValueError, match=r"eval_set\[0\] has no labelled entry"):
        clf.fit(X, y, eval_set=[(X, np.full_like(y, -1))])
    with pytest.raises(ValueError, match=r"eval_set\[0\]: X has 120 rows but y has 60"):
        clf.fit(X, y, eval_set=[(X, y[:60])])
    with pytest.raises(ValueError, match="eval_metric"):
        clf.set_params(eval_metric="roc_auc").fit(X, y)


def test_lightgbm_eval_output_without_labels_is_skipped():
    """An output that no eval set labels gets no validation data: under early stopping it
    trains all rounds, with a warning; the other outputs stop as usual."""
    X, y = noisy(seed=6)
    y_val = y[200:].copy()
    y_val[:, 1] = -1
    clf = FocalMultiOutputClassifier(n_estimators=60, learning_rate=0.3, early_stopping_rounds=3,
                                     n_jobs=1, params={"min_child_samples": 5})
    with pytest.warns(UserWarning, match="output 1 has no labelled rows in any eval_set"):
        clf.fit(X[:200], y[:200], eval_set=[(X[200:], y_val)])
    assert clf.evals_result_[1] == {} and clf.best_iteration_[1] == 60
    assert set(clf.evals_result_[0]) == {"valid_0"} and clf.best_iteration_[0] < 60
    # without early stopping there is nothing to warn about
    clf.set_params(early_stopping_rounds=None, n_estimators=3).fit(
        X[:200], y[:200], eval_set=[(X[200:], y_val)])
    assert clf.evals_result_[1] == {} and clf.best_iteration_.tolist() == [3, 3, 3]


def test_xgboost_eval_output_without_labels_leaves_the_pooled_metric():
    pytest.importorskip("xgboost")
    X, y = noisy(n=200, seed=7)
    y_val = y[150:].copy()
    y_val[:, 2] = -1
    clf = FocalMultiOutputClassifier(backend="xgboost", n_estimators=5, n_jobs=1).fit(
        X[:150], y[:150], eval_set=[(X[150:], y_val)])
    assert clf.evals_result_["valid_0"]["log_loss"][-1] == pytest.approx(
        corrected_log_loss(clf.predict_proba(X[150:]), y_val), rel=1e-5)


def test_fit_refuses_an_output_without_labels_naming_it():
    pd = pytest.importorskip("pandas")
    X, y = synthetic(n=120, seed=8)
    y[:, 2] = -1
    frame = pd.DataFrame(y, columns=["price", "service", "staff"])
    clf = FocalMultiOutputClassifier(n_estimators=2, n_jobs=1)
    with pytest.raises(ValueError, match=r"output column 2 \('staff'\) of y has no labelled"):
        clf.fit(X, frame)
    y[:, 0] = -1
    with pytest.raises(ValueError, match=r"output columns \[0, 2\] of y have no labelled"):
        clf.fit(X, y)
    # labelled rows of zero weight are no labels either
    X, y = synthetic(n=120, seed=8)
    w = np.where(y[:, 1] >= 0, 0.0, 1.0)
    with pytest.raises(ValueError, match="output column 1 of y has no labelled rows with "
                                         "positive sample_weight"):
        clf.fit(X, y, sample_weight=w)
    X, y = synthetic(n=120, seed=8)
    w = np.where((y == 0).any(axis=1), 0.0, 1.0)
    y[w > 0] = 1  # the rows of positive weight hold class 1 only
    with pytest.raises(ValueError, match="only one class with positive weight"):
        clf.fit(X, y, sample_weight=w)


@pytest.mark.parametrize("backend", BACKENDS)
def test_labels_that_are_no_classes_are_refused(backend):
    pytest.importorskip(backend)
    X, _ = synthetic(n=40, seed=9)
    clf = FocalMultiOutputClassifier(backend=backend, n_estimators=2, n_jobs=1)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        clf.fit(X, np.random.default_rng(0).normal(size=(40, 2)))
    with pytest.raises(ValueError, match="requires y to be passed"):
        clf.fit(X, None)
    with pytest.raises(ValueError, match="only one class"):
        clf.fit(X, np.ones((40, 2)))
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(X, np.full((40, 2), np.nan))  # NaN is not the -1 marker


@pytest.mark.parametrize("backend", BACKENDS)
def test_feature_importances_sum_the_kept_rounds(backend):
    pytest.importorskip(backend)
    X, y = synthetic(n=300, seed=10)  # only the first 3 of 5 features carry signal
    clf = FocalMultiOutputClassifier(backend=backend, n_estimators=10, n_jobs=1,
                                     params={"max_depth": 3}).fit(X, y)
    imp = clf.feature_importances_
    assert imp.shape == (5,) and imp.sum() == pytest.approx(1.0)
    assert imp[:3].min() > imp[3:].max()
    if backend == "lightgbm":
        for kind in ("split", "gain"):
            clf.set_params(importance_type=kind)
            total = sum(b.feature_importance(importance_type=kind, iteration=int(r))
                        for b, r in zip(clf.boosters_, clf.best_iteration_, strict=True))
            np.testing.assert_allclose(clf._feature_importances(), total / total.sum())
        np.testing.assert_allclose(imp, clf.set_params(importance_type="split")
                                   ._feature_importances())
        with pytest.raises(ValueError, match="importance_type='weight' is not a lightgbm"):
            clone(clf).set_params(importance_type="weight").fit(X, y)
    else:
        scores = clf.boosters_[0].get_score(importance_type="gain")  # the default, "auto"
        values = np.array([scores.get(f"f{i}", 0.0) for i in range(5)])
        np.testing.assert_allclose(imp, values / values.sum())
        with pytest.raises(ValueError, match="importance_type='split' is not a xgboost"):
            clone(clf).set_params(importance_type="split").fit(X, y)


@pytest.mark.parametrize("backend", BACKENDS)
def test_loss_keeps_the_alpha_of_the_full_training_labels(backend, monkeypatch):
    """clf.loss_.alpha_ is resolved once on all training labels; every objective boosts
    with exactly those weights (LightGBM: each output's booster, not its own 'balanced')."""
    pytest.importorskip(backend)
    from gbfocal import MulticlassFocalLoss, balanced_alpha

    X, y = synthetic(n=300, seed=12)
    w = np.random.default_rng(12).uniform(0.5, 2.0, size=len(y))
    expected = MultiOutputFocalLoss(3, 3, alpha="balanced").fit(y, w).alpha_
    seen = []
    spied = MulticlassFocalLoss if backend == "lightgbm" else MultiOutputFocalLoss
    original = spied.round_grad_hess

    def spy(self, margins, training):
        seen.append(np.array(training.class_weights))
        return original(self, margins, training)

    monkeypatch.setattr(spied, "round_grad_hess", spy)
    clf = FocalMultiOutputClassifier(backend=backend, alpha="balanced", n_estimators=3,
                                     n_jobs=1).fit(X, y, sample_weight=w)
    assert np.array_equal(clf.loss_.alpha_, expected) and np.array_equal(clf.alpha_, expected)
    assert len(seen) == (9 if backend == "lightgbm" else 3)  # rounds x boosters
    assert all(np.array_equal(weights, expected) for weights in seen)
    for a in range(3):  # the check has teeth: each output's own counts give other weights
        m = y[:, a] >= 0
        assert not np.allclose(balanced_alpha(y[m, a], 3, w[m]), expected)
    # The fitted loss keeps alpha_ for any new training set (e.g. a subset).
    subset = clf.loss_.training_set(clf.loss_.xgb_label(y[:40]))
    assert np.array_equal(subset.class_weights, expected)
    assert np.array_equal(clf.loss_.alpha_, expected)


def test_predict_passes_threads_and_best_rounds_to_every_call(monkeypatch):
    lgb = pytest.importorskip("lightgbm")
    xgb = pytest.importorskip("xgboost")
    X, y = noisy(n=200, seed=13)
    lgb_clf = FocalMultiOutputClassifier(n_estimators=30, learning_rate=0.3,
                                         early_stopping_rounds=2, n_jobs=1).fit(
        X[:150], y[:150], eval_set=[(X[150:], y[150:])])
    xgb_clf = FocalMultiOutputClassifier(backend="xgboost", n_estimators=5, n_jobs=1).fit(X, y)
    seen = []
    predict = lgb.Booster.predict

    def spy(self, *args, **kwargs):
        seen.append((kwargs.get("num_threads"), kwargs.get("num_iteration")))
        return predict(self, *args, **kwargs)

    monkeypatch.setattr(lgb.Booster, "predict", spy)
    lgb_clf.predict(X)
    assert seen == [(1, int(r)) for r in lgb_clf.best_iteration_]
    threads = []
    matrix = xgb.DMatrix.__init__

    def spy_matrix(self, *args, **kwargs):
        threads.append(kwargs.get("nthread"))
        matrix(self, *args, **kwargs)

    monkeypatch.setattr(xgb.DMatrix, "__init__", spy_matrix)
    xgb_clf.predict_proba(X)
    assert threads == [1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_sparse_input(backend):
    pytest.importorskip(backend)
    sparse = pytest.importorskip("scipy.sparse")
    X, y = synthetic(n=200, seed=14)
    X[np.abs(X) < 0.7] = 0.0
    dense = FocalMultiOutputClassifier(backend=backend, n_estimators=5, n_jobs=1).fit(X, y)
    for fmt in (sparse.csr_matrix, sparse.csc_matrix):
        fitted = clone(dense).fit(fmt(X), y)
        proba = fitted.predict_proba(fmt(X))
        assert proba.shape == (200, 3, 3)
        if backend == "lightgbm":  # XGBoost reads absent sparse entries as missing values
            np.testing.assert_allclose(proba, dense.predict_proba(X), rtol=1e-12)


def test_xgboost_integer_weights_equal_repeated_rows_to_float32_precision():
    """What check_sample_weight_equivalence checks (an expected failure there, see
    test_multioutput_sklearn.py). One round: XGBoost sums float32 gradients, so from the
    second round on a near-tie between two splits can go either way."""
    pytest.importorskip("xgboost")
    X, y = synthetic(n=120, seed=15)
    w = np.random.default_rng(15).integers(1, 4, size=len(y))
    clf = FocalMultiOutputClassifier(backend="xgboost", alpha="balanced", n_estimators=1,
                                     n_jobs=1, params={"max_depth": 3})
    weighted = clone(clf).fit(X, y, sample_weight=w)
    repeated = clone(clf).fit(np.repeat(X, w, axis=0), np.repeat(y, w, axis=0))
    np.testing.assert_allclose(weighted.init_score_, repeated.init_score_, rtol=1e-12)
    np.testing.assert_allclose(weighted.decision_function(X), repeated.decision_function(X),
                               rtol=1e-5, atol=1e-6)


def test_unfitted_estimator_raises_not_fitted():
    from sklearn.exceptions import NotFittedError

    clf = FocalMultiOutputClassifier()
    for method in (clf.predict, clf.predict_proba, clf.decision_function):
        with pytest.raises(NotFittedError):
            method(np.zeros((2, 3)))


def test_score_weights_and_errors():
    X, y = synthetic(n=150, seed=16)
    clf = FocalMultiOutputClassifier(n_estimators=5, n_jobs=1).fit(X, y)
    pred = clf.predict(X)
    w = np.random.default_rng(16).uniform(size=150)
    per = [np.average(pred[y[:, a] >= 0, a] == y[y[:, a] >= 0, a], weights=w[y[:, a] >= 0])
           for a in range(3)]
    assert clf.score(X, y, sample_weight=w) == pytest.approx(np.mean(per), rel=1e-12)
    with pytest.raises(ValueError, match="shape"):
        clf.score(X, y[:, :2])
    with pytest.raises(ValueError, match="nothing to score"):
        clf.score(X, np.full_like(y, -1))
