"""Focal loss on scikit-learn's breast-cancer data: tune, compare, plot, and avoid 3 mistakes.

    python examples/breast_cancer.py [--trials 30] [--backend lightgbm] [--seed 0]
                                     [--output gbfocal_output]

The demo lives in the package, :mod:`gbfocal.demo`, so that it also runs after a plain
``pip install gbfocal[examples]`` as ``gbfocal demo`` (or ``python -m gbfocal demo``), with
the same options; this script runs it from a checkout. What it does is in that module's
docstring and in the documentation (``docs/getting_started.md``, "The demo").
"""

from __future__ import annotations

import sys

from gbfocal.demo import main

if __name__ == "__main__":
    sys.exit(main())
