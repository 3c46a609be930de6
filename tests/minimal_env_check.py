"""``import gbfocal`` with only its required dependencies (NumPy, SciPy, numba).

Run by CI in a fresh environment made with ``pip install .`` (no extras), and by
``tests/test_design.py`` with every optional package blocked: the core functions, the loss
objects and their adapters work, and the estimators say what to install.
"""

import numpy as np


def main() -> None:
    import gbfocal

    y = np.array([0, 1, 1, 0])
    z = np.array([-2.0, 0.5, 3.0, 1.0])
    y3 = np.array([0, 1, 2, 0])
    assert gbfocal.binary_focal_loss(y, z).shape == (4,)
    g, h = gbfocal.binary_focal_grad_hess(y, z, alpha=0.25)
    assert (h > 0).all()
    Z = np.stack([z, -z, 0 * z], axis=1)
    g, h = gbfocal.multiclass_focal_grad_hess(y3, Z, alpha="balanced")
    assert g.shape == (4, 3)
    p = gbfocal.focal_posterior(Z, alpha=[1.0, 2.0, 3.0])
    assert np.allclose(p.sum(axis=1), 1.0)
    loss = gbfocal.BinaryFocalLoss(alpha="balanced")
    assert np.isfinite(loss.init_score(y))

    class Data:  # what an objective reads from a LightGBM Dataset
        def get_label(self) -> np.ndarray:
            return y.astype(float)

        def get_weight(self) -> None:
            return None

    grad, hess = loss.lgb_objective(z, Data())
    assert grad.dtype == np.float32 and loss.lgb_metric(z, Data())[0] == "focal_loss"
    assert loss.predict_proba(z).shape == (4, 2)
    try:
        getattr(gbfocal, "FocalLGBMClassifier")  # noqa: B009 - the lazy import is the test
    except ImportError as exc:
        assert "pip install gbfocal[" in str(exc), exc
    else:
        raise AssertionError("the estimators need scikit-learn: it should be missing")
    print("core ok")


if __name__ == "__main__":
    main()
