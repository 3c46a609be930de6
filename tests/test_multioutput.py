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
    with pytest.raises(ValueError, match=r"outputs \[1\]"):
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
