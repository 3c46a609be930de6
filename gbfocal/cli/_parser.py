"""The ``gbfocal`` argument parser: its commands, options and help texts.

:func:`build_parser` describes ``tune``, ``train``, ``predict`` and ``demo`` (the demo's
options come from :func:`gbfocal.demo.add_arguments`); the values' rules are in
:mod:`gbfocal.cli._values`, what the commands do in their own modules. Separate because the
help texts are most of its lines and change for other reasons than the code they describe.
"""

from __future__ import annotations

import argparse
from typing import Any

from .. import __version__
from .._spec import BOOSTER_BACKENDS
from ._values import fixed_alpha, positive_int, separator, spec_argument, threshold_argument

__all__ = ["build_parser"]

_UNSEEN_CATEGORY_CHOICES = ("missing", "error")
# a missing option, distinct from an explicit "none" (alpha None)
_UNSET: Any = argparse.SUPPRESS

_SPEC_HELP = (
    "LOW:HIGH searches a range (LOW:HIGH:log on a log scale; integers when both are ints), "
    "A,B,C is a choice, a single value is fixed"
)


def _add_data_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data", help="CSV (.csv, .txt, .tsv; UTF-8) or Parquet (.parquet) file"
    )


def _add_sep_and_force(parser: argparse.ArgumentParser, outputs: str) -> None:
    parser.add_argument(
        "--sep", type=separator, default=None, metavar="CHAR",
        help="CSV separator (default: tab for .tsv, otherwise detected among , ; tab |)",
    )
    parser.add_argument("--force", action="store_true", help=f"overwrite existing {outputs}")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``gbfocal`` and ``python -m gbfocal``.

    Returns
    -------
    argparse.ArgumentParser
        The ``tune``, ``train``, ``predict`` and ``demo`` commands (``args.command``; None
        without one) with their options.
    """
    parser = argparse.ArgumentParser(
        prog="gbfocal",
        description=(
            "Focal loss for LightGBM and XGBoost: tune alpha/gamma, train a model and predict "
            "from the shell; gbfocal demo shows it on the breast-cancer data."
        ),
        epilog=(
            "example: gbfocal tune data.csv --target label --output best.json; gbfocal train "
            "data.csv --target label --params best.json --threshold-metric f1 --output "
            "model.json; gbfocal predict model.json new.csv --output predictions.csv"
        ),
    )
    parser.add_argument("--version", action="version", version=f"gbfocal {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    tune = commands.add_parser(
        "tune",
        help="tune the focal-loss alpha and gamma with Optuna cross-validation",
        description=(
            "Cross-validated Optuna search over the focal-loss alpha and gamma (and booster "
            "parameters given with --param), against log loss searched alike; both compared "
            "on rows neither search saw (the verdict). Prints the result as JSON on stdout, "
            "what runs and a summary on stderr."
        ),
        epilog=(
            "example: gbfocal tune data.csv --target label --trials 30 "
            "--param learning_rate=0.02:0.3:log --param num_leaves=8:64 --output best.json"
        ),
    )
    _add_data_argument(tune)
    tune.add_argument("--target", required=True, help="name of the label column")
    tune.add_argument(
        "--backend", choices=BOOSTER_BACKENDS, default="lightgbm",
        help="booster library: lightgbm (default, FocalLGBMClassifier) or xgboost "
             "(FocalXGBClassifier, pip install gbfocal[xgboost])",
    )
    tune.add_argument("--trials", type=int, default=50,
                      help="trials of each arm (default 50)")
    tune.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                      help="stop starting new trials of an arm after this many seconds")
    tune.add_argument("--cv", type=int, default=5,
                      help="stratified folds of each search, and of the out-of-fold "
                           "predictions of --threshold-metric and --plots (default 5)")
    tune.add_argument(
        "--scoring", default="average_precision",
        help="scikit-learn scorer name: average_precision (default), roc_auc, neg_log_loss, ...",
    )
    tune.add_argument(
        "--pos-label", default=None, metavar="LABEL",
        help="binary targets: the class scored as positive (average precision, F1, the "
             "threshold) and weighted by a float alpha (default: the minority class; printed "
             "and saved in the JSON and the model file)",
    )
    tune.add_argument("--seed", type=int, default=None,
                      help="random seed: the holdout, the folds, the samplers and the "
                           "boosters (the same seed gives the same result)")
    tune.add_argument(
        "--alpha", type=spec_argument, default="auto",
        help=f"alpha search space (default auto = 0.05:0.95,balanced,none); {_SPEC_HELP}; "
             "none (no class weights) and balanced may be the value or among the choices, a "
             "float is the weight of --pos-label",
    )
    tune.add_argument("--gamma", type=spec_argument, default=(0.0, 5.0),
                      help=f"gamma search space, each value >= 0 (default 0:5); {_SPEC_HELP}")
    tune.add_argument(
        "--param", action="append", default=[], metavar="NAME=SPEC",
        help=f"booster parameter, repeatable, e.g. num_leaves=8:64, n_estimators=500; "
             f"{_SPEC_HELP}",
    )
    tune.add_argument("--early-stopping-rounds", type=int, default=50,
                      help="early-stopping patience inside each fold (default 50; 0 disables)")
    tune.add_argument("--n-jobs", type=int, default=None,
                      help="booster threads per fit (default 1: the cores go to --parallel "
                           "trials)")
    tune.add_argument("--parallel", type=int, default=1, metavar="N",
                      help="trials run at once (default 1, reproducible with --seed; -1: one "
                           "per core)")
    tune.add_argument(
        "--no-baseline", action="store_true",
        help="skip the log-loss arm (gamma=0, alpha=none, tuned alike): no verdict, the focal "
             "arm is returned",
    )
    tune.add_argument(
        "--compare", choices=("holdout", "nested", "none"), default="holdout",
        help="where the two arms are compared for the verdict: a stratified holdout that "
             "neither search sees (default), nested outer folds (small data), or none",
    )
    tune.add_argument("--holdout-size", type=float, default=None, metavar="SHARE",
                      help="share of the rows held out with --compare holdout (default 0.2)")
    tune.add_argument("--outer-cv", type=int, default=None, metavar="K",
                      help="outer folds with --compare nested (default 3)")
    tune.add_argument(
        "--select", choices=("auto", "focal", "log_loss"), default="auto",
        help="the model returned (best_params, --model): auto = the arm the verdict favours, "
             "log loss unless focal loss is better beyond noise (default); focal; log_loss",
    )
    tune.add_argument("--storage", default=None,
                      help="Optuna storage URL to save/resume the study, e.g. sqlite:///study.db")
    tune.add_argument("--study-name", default=None, help="study name inside --storage")
    tune.add_argument("--output", "-o", default=None, help="write the result JSON to this file")
    tune.add_argument("--model", default=None, metavar="MODEL.json",
                      help="also refit the selected arm on all rows and save it to this file "
                           "(with the scored class and the --threshold-metric threshold)")
    _add_threshold_metric(tune, "the selected arm's parameters")
    _add_plots(tune, "the optimisation history of both arms, precision-recall and calibration "
                     "curves of each arm's out-of-fold predictions")
    tune.add_argument("--no-progress", action="store_true",
                      help="hide Optuna's progress bar (the notes on what runs stay)")
    _add_sep_and_force(tune, "--output, --model and --plots files")

    train = commands.add_parser(
        "train",
        help="train one focal-loss model and save it",
        description=(
            "Fit a focal-loss model on every row of the data and save it as one JSON file. "
            "Parameters: --params (the JSON of gbfocal tune --output, or a JSON object of "
            "estimator parameters), then --param, then --alpha / --gamma / --seed / --n-jobs."
        ),
        epilog=(
            "example: gbfocal train data.csv --target label --params best.json "
            "--output model.json"
        ),
    )
    _add_data_argument(train)
    train.add_argument("--target", required=True, help="name of the label column")
    train.add_argument(
        "--backend", choices=BOOSTER_BACKENDS, default=None,
        help="default: the backend of a tune result given with --params, else lightgbm",
    )
    train.add_argument(
        "--params", default=None, metavar="PARAMS.json",
        help="the JSON that gbfocal tune --output writes (its best_params are used), or a "
             "JSON object of estimator parameters",
    )
    train.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE",
        help="estimator parameter, repeatable, e.g. n_estimators=300 (overrides --params)",
    )
    train.add_argument(
        "--alpha", type=fixed_alpha, default=_UNSET,
        help="class weights: none, balanced, a float in [0, 1] (binary: the weight of "
             "--pos-label) or one weight per class in sorted label order, e.g. 1,3",
    )
    train.add_argument("--gamma", type=float, default=_UNSET, help="focusing parameter >= 0")
    train.add_argument(
        "--pos-label", default=None, metavar="LABEL",
        help="binary targets: the class a float alpha weights and --threshold-metric scores "
             "(default: the pos_label of a tune result given with --params, else the minority "
             "class; saved in the model file)",
    )
    train.add_argument("--seed", type=int, default=None,
                       help="random seed of the booster (and of the --threshold-metric folds)")
    train.add_argument("--n-jobs", type=int, default=None,
                       help="booster threads (default: the library's, every core)")
    train.add_argument("--output", "-o", required=True, metavar="MODEL.json",
                       help="the model file to write")
    _add_threshold_metric(train, "these parameters")
    train.add_argument("--threshold-cv", type=positive_int, default=5, metavar="K",
                       help="stratified folds of the out-of-fold predictions of "
                            "--threshold-metric and --plots (default 5)")
    _add_plots(train, "precision-recall and calibration curves of out-of-fold predictions")
    _add_sep_and_force(train, "--output and --plots files")

    predict = commands.add_parser(
        "predict",
        help="predict class probabilities and labels with a saved model",
        description=(
            "Write one probability column per class (proba_<label>, in the model's class "
            "order) and the predicted label (column 'predicted'), one row per input row: the "
            "argmax of the probabilities, or, with a decision threshold (--threshold, or the "
            "one saved in the model file), the positive class where its probability is at "
            "least the threshold (column 'threshold' says which). The columns the model was "
            "trained on are read by name; any other column (the target too) is ignored unless "
            "copied with --keep."
        ),
        epilog="example: gbfocal predict model.json new.csv --keep id --output predictions.csv",
    )
    predict.add_argument("model", help="a model file written by gbfocal train or tune --model")
    _add_data_argument(predict)
    predict.add_argument(
        "--keep", action="append", default=[], metavar="COLUMN",
        help="copy this input column (an id, the true label) in front of the predictions; "
             "repeatable",
    )
    predict.add_argument("--n-jobs", type=int, default=None,
                         help="booster threads (default: the model's n_jobs)")
    predict.add_argument(
        "--threshold", type=threshold_argument, default=None, metavar="T",
        help="binary models: predict the positive class where its probability is >= T "
             "(0..1; default: the threshold saved in the model file by --threshold-metric, "
             "else the argmax); none: the argmax",
    )
    predict.add_argument(
        "--pos-label", default=None, metavar="LABEL",
        help="binary models: the positive class of --threshold (default: the one saved in the "
             "model file, else the larger label)",
    )
    predict.add_argument(
        "--unseen-category", choices=_UNSEEN_CATEGORY_CHOICES, default=None,
        help="a value of a text (category) column that the model did not see in training: "
             "missing (the default, unless the model was trained with "
             "unseen_category=error) predicts it as a missing value and says so on stderr, "
             "one line per column; error refuses the file",
    )
    predict.add_argument(
        "--output", "-o", default=None, metavar="PREDICTIONS.csv",
        help="CSV (.csv, .txt, .tsv) or Parquet (.parquet) file; default: CSV on stdout",
    )
    _add_sep_and_force(predict, "--output file")

    from ..demo import add_arguments as add_demo_arguments  # NumPy only until the demo runs

    add_demo_arguments(commands.add_parser(
        "demo",
        help="run the breast-cancer demo (pip install gbfocal[examples])",
        description=(
            "Tune focal loss on scikit-learn's breast-cancer data, compare it with log loss "
            "tuned alike, train LightGBM and XGBoost both ways and compare them on a test "
            "split, show three classic mistakes, and write four plots."
        ),
        epilog="example: gbfocal demo --trials 10 --output demo_plots",
    ))
    return parser


def _add_threshold_metric(parser: argparse.ArgumentParser, whose: str) -> None:
    from .._threshold import METRICS

    parser.add_argument(
        "--threshold-metric", choices=tuple(METRICS), default=None,
        help="binary targets: choose the decision threshold that maximises this metric of "
             f"out-of-fold predictions of {whose} (stratified, seeded folds); saved in the "
             "JSON and the model file, used by gbfocal predict. "
             + "; ".join(f"{name}: {what}" for name, what in METRICS.items()),
    )


def _add_plots(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--plots", default=None, metavar="DIR",
        help=f"write PNG plots into this folder (created if missing): {what} (needs "
             "matplotlib: pip install gbfocal[plots])",
    )
