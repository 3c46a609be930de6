"""Calibration of focal-loss boosters, every question at once: the full calibration report.

Runs the sections of ``calibration_binary.py`` (binary sets), ``calibration_multiclass.py``
(multiclass sets, and why the correction can hurt) and ``calibration_known_posterior.py``
(simulated data with known posteriors); their docstrings say what each measures, and
``_calibration.py`` the protocol they share.

Run ``python benchmarks/calibration.py [DATA_DIR] [--sections binary multiclass sim]
[--quick] [--out DIR]`` (about 7 minutes on 2 cores; ``--quick``: 2 folds, 60 rounds, small
simulations, about 3 minutes, prints only). Missing data files are skipped. A full run
writes ``benchmarks/calibration.json`` (results of earlier runs of the other sections are
kept) and ``benchmarks/calibration.md`` (the text between its ``conclusions`` markers is
kept); the documentation's calibration page is rendered from the JSON file.
"""

from __future__ import annotations

import sys

import _calibration as cal

if __name__ == "__main__":
    cal.main(__doc__, list(cal.SECTIONS), sys.argv[1:])
