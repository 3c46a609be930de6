"""Command line: ``gbfocal tune | train | predict | demo`` (also ``python -m gbfocal``).

* ``gbfocal tune data.csv --target y`` runs :func:`gbfocal.tuning.tune_focal` (the focal
  and the log-loss arm, tuned alike, compared on a holdout neither search saw) and prints /
  writes the selected arm's parameters, the verdict and its interval, and both arms as JSON
  (stdout); a short summary (the scored class, each arm's search score, both arms' scores
  on the unseen rows with the 95 % interval of the difference, the verdict and the
  selected arm) goes to stderr. ``--model`` also writes the selected arm refit on all rows.
* ``gbfocal train data.csv --target y --output model.json`` fits one estimator, with the
  parameters of a ``tune`` result (``--params best.json``) or given ones, and saves it.
* ``gbfocal predict model.json data.csv --output predictions.csv`` writes one probability
  column per class (``proba_<label>``) and the predicted label (``predicted``): the argmax,
  or for a binary model with a decision threshold (``--threshold T``, or the one ``tune`` /
  ``train --threshold-metric f1`` chose on out-of-fold predictions and saved in the model
  file) the positive class where its probability is at least ``T``.
* ``gbfocal demo`` runs the breast-cancer demo (:mod:`gbfocal.demo`).

Binary targets score (average precision, F1, the threshold) and weight by a float alpha
the minority class unless ``--pos-label`` says otherwise; the choice is printed and saved
(the JSON's ``pos_label`` and ``pos_label_source``, the model file's metadata).
``--plots DIR`` writes the optimisation history (``tune``), precision-recall and
calibration curves of out-of-fold predictions (:mod:`gbfocal._plots`).

Tables are CSV (the separator is detected, or ``--sep``) or Parquet; every column but the
target is a feature, string columns become pandas ``category`` columns. User errors (bad
file, missing or duplicated column, one-class target, an existing output without
``--force``, bad option) end with a one-line message on stderr and exit status 1 (2 for
usage errors), never a traceback.

Output files are written all or nothing: into a temporary file beside the target
(``.NAME.XXXXXXXX.tmp``), flushed to disk, then renamed over it, so that a failure, Ctrl-C
(SIGINT, exit status 130) or SIGTERM (exit status 143) leaves either the old file or the
complete new one, and no temporary file.

The modules: :mod:`~gbfocal.cli._parser` (the options and help texts),
:mod:`~gbfocal.cli._values` (option values from text), :mod:`~gbfocal.cli._tables` (the
input tables), :mod:`~gbfocal.cli._files` (output files all or nothing, signals),
:mod:`~gbfocal.cli._labels` (the scored class), :mod:`~gbfocal.cli._models` (model
files), :mod:`~gbfocal.cli._out_of_fold` (thresholds and plots), one module per command
(:mod:`~gbfocal.cli._tune`, :mod:`~gbfocal.cli._train`, :mod:`~gbfocal.cli._predict`,
:mod:`~gbfocal.cli._demo`) and :mod:`~gbfocal.cli._messages` (errors and notes). This
package holds :func:`main` and the names other code uses.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from ._demo import command_demo
from ._files import Terminated, check_outputs, interrupt_handlers
from ._messages import CLIError
from ._parser import build_parser
from ._predict import command_predict
from ._tables import as_features, read_data, read_table, split_features
from ._train import command_train, read_params
from ._tune import command_tune, run_tune
from ._values import parse_spec

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_TERMINATED", "CLIError", "Terminated",
           "as_features", "build_parser", "check_outputs", "main", "parse_spec", "read_data",
           "read_params", "read_table", "run_tune", "split_features"]

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command ended by Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM

_COMMANDS: dict[str, Callable[..., int]] = {
    "tune": command_tune, "train": command_train, "predict": command_predict,
    "demo": command_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``gbfocal`` and ``python -m gbfocal``; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0, or :data:`EXIT_ERROR` after a one-line error on stderr (2 for usage errors,
        through ``SystemExit`` from argparse), :data:`EXIT_INTERRUPTED` after Ctrl-C,
        :data:`EXIT_TERMINATED` after SIGTERM.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # no command is a request for the overview, not a mistake
        parser.print_help()
        return 0
    # SIGTERM (kill, a job scheduler, a container stopping) ends a command as Ctrl-C does:
    # finally blocks run, no temporary file stays, no output file is left cut
    with interrupt_handlers():
        try:
            return _COMMANDS[args.command](args)
        except CLIError as exc:
            print(f"gbfocal: error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        except (ValueError, TypeError, ImportError, OSError, RuntimeError) as exc:
            # the estimators' and tune_focal's argument checks name the problem; the
            # traceback adds nothing for users
            print(f"gbfocal: error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        except Terminated:
            print("gbfocal: terminated (SIGTERM)", file=sys.stderr)
            return EXIT_TERMINATED
        except KeyboardInterrupt:
            print("gbfocal: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
