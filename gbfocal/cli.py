"""Command line: ``gbfocal tune data.csv --target y`` (also ``python -m gbfocal``).

Reads a CSV or Parquet table, runs :func:`gbfocal.tuning.tune_focal` and prints / writes the
best parameters as JSON (stdout); a short summary (the scored class, the best score, the
log-loss baseline and the per-fold differences) goes to stderr. User errors (bad file, missing
column, one-class target, bad option) end with a one-line message on stderr and a non-zero
exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from ._optional import import_optional, install_hint
from ._spec import BOOSTER_BACKENDS

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
_CSV_SUFFIXES = (".csv", ".txt", ".tsv")
_PARQUET_SUFFIXES = (".parquet", ".pq")

_SPEC_HELP = (
    "LOW:HIGH searches a range (LOW:HIGH:log on a log scale; integers when both are ints), "
    "A,B,C is a choice (none and balanced allowed), a single value is fixed"
)


class CLIError(Exception):
    """A user error reported as one line, without a traceback."""


# ---------------------------------------------------------------------- value parsing
def _scalar(text: str) -> Any:
    """'none' -> None, '3' -> 3, '0.5' -> 0.5, 'true'/'false' -> bool, else the string."""
    lowered = text.strip().lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip()


def _range(text: str) -> tuple:
    parts = text.split(":")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2].strip().lower() != "log"):
        raise CLIError(f"bad range {text!r}: use LOW:HIGH or LOW:HIGH:log")
    low, high = _scalar(parts[0]), _scalar(parts[1])
    if not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in (low, high)):
        raise CLIError(f"bad range {text!r}: LOW and HIGH must be numbers")
    return (low, high, "log") if len(parts) == 3 else (low, high)


def parse_spec(text: str) -> Any:
    """A search-space spec from text: ``0:5`` range, ``a,b`` choices, ``x`` fixed value.

    In a list of choices an item may be a range (used for ``--alpha 0.05:0.95,balanced,none``).
    """
    if "," in text:
        return [_range(item) if ":" in item else _scalar(item) for item in text.split(",")]
    if ":" in text:
        return _range(text)
    return _scalar(text)


def _spec_argument(text: str) -> Any:
    """``parse_spec`` for argparse, which reports ArgumentTypeError as a usage error."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return parse_spec(text)
    except CLIError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _parse_param(text: str) -> tuple[str, Any]:
    name, sep, spec = text.partition("=")
    if not sep or not name.strip() or not spec.strip():
        raise CLIError(f"bad --param {text!r}: use NAME=SPEC, e.g. learning_rate=0.01:0.3:log")
    return name.strip(), parse_spec(spec)


# -------------------------------------------------------------------------- the data
def read_table(path: str) -> Any:
    """Read a CSV (also .txt/.tsv, tab-separated for .tsv) or Parquet file into a DataFrame."""
    try:
        pd = import_optional("pandas", needed_by="reading data")
    except ImportError as exc:
        raise CLIError(str(exc)) from exc
    file = Path(path)
    if not file.is_file():
        raise CLIError(f"no such file: {path}")
    suffix = file.suffix.lower()
    try:
        if suffix in _PARQUET_SUFFIXES:
            return pd.read_parquet(file)
        if suffix in _CSV_SUFFIXES:
            return pd.read_csv(file, sep="\t" if suffix == ".tsv" else ",")
    except ImportError as exc:  # parquet without pyarrow / fastparquet
        raise CLIError(f"cannot read {path}: {exc} ({install_hint('pyarrow', 'Parquet')})") from exc
    except Exception as exc:  # pandas raises many parser error types
        raise CLIError(f"cannot read {path}: {type(exc).__name__}: {exc}") from exc
    raise CLIError(
        f"unsupported file type {suffix or '(none)'!r} for {path}: use .csv, .tsv or .parquet"
    )


def split_features(table: Any, target: str) -> tuple[Any, Any]:
    """Features (every other column, numeric or bool) and the target column, checked."""
    if target not in table.columns:
        columns = ", ".join(map(str, table.columns[:20]))
        raise CLIError(f"target column {target!r} not found; columns are: {columns}")
    y = table[target]
    if y.isna().any():
        raise CLIError(f"target column {target!r} has {int(y.isna().sum())} missing values")
    if y.nunique() < 2:
        raise CLIError(
            f"target column {target!r} has a single class ({y.iloc[0]!r}): nothing to classify"
        )
    X = table.drop(columns=[target])
    if X.shape[1] == 0:
        raise CLIError("no feature columns: the table has only the target column")
    non_numeric = [str(c) for c in X.columns if X[c].dtype.kind not in "biuf"]
    if non_numeric:
        raise CLIError(
            f"non-numeric feature columns {non_numeric[:10]}: encode them as numbers first "
            "(or drop them)"
        )
    return X, y.to_numpy()


# ----------------------------------------------------------------------- the parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gbfocal",
        description="Focal loss for LightGBM and XGBoost: tune alpha/gamma from the shell.",
    )
    parser.add_argument("--version", action="version", version=f"gbfocal {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    tune = commands.add_parser(
        "tune",
        help="tune the focal-loss alpha and gamma with Optuna cross-validation",
        description=(
            "Cross-validated Optuna search over the focal-loss alpha and gamma (and booster "
            "parameters given with --param). Prints the best parameters as JSON."
        ),
        epilog=(
            "example: gbfocal tune data.csv --target label --trials 30 "
            "--param learning_rate=0.02:0.3:log --param num_leaves=8:64 --output best.json"
        ),
    )
    tune.add_argument("data", help="CSV (.csv, .tsv) or Parquet (.parquet) file")
    tune.add_argument("--target", required=True, help="name of the label column")
    tune.add_argument("--backend", choices=BOOSTER_BACKENDS, default="lightgbm")
    tune.add_argument("--trials", type=int, default=50, help="number of trials (default 50)")
    tune.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    tune.add_argument("--cv", type=int, default=5, help="stratified folds (default 5)")
    tune.add_argument(
        "--scoring", default="average_precision",
        help="scikit-learn scorer name: average_precision (default), roc_auc, neg_log_loss, ...",
    )
    tune.add_argument(
        "--pos-label", default=None, metavar="LABEL",
        help="binary targets: the class scored as positive and weighted by a float alpha "
             "(default: the larger label, e.g. 'yes' of no/yes; printed and saved in the JSON)",
    )
    tune.add_argument("--seed", type=int, default=None, help="random seed (reproducible search)")
    tune.add_argument(
        "--alpha", type=_spec_argument, default="auto",
        help=f"alpha search space (default auto = 0.05:0.95,balanced,none); {_SPEC_HELP}",
    )
    tune.add_argument("--gamma", type=_spec_argument, default=(0.0, 5.0),
                      help=f"gamma search space (default 0:5); {_SPEC_HELP}")
    tune.add_argument(
        "--param", action="append", default=[], metavar="NAME=SPEC",
        help=f"booster parameter, repeatable, e.g. num_leaves=8:64, n_estimators=500; {_SPEC_HELP}",
    )
    tune.add_argument("--early-stopping-rounds", type=int, default=50,
                      help="early-stopping patience inside each fold (default 50; 0 disables)")
    tune.add_argument("--n-jobs", type=int, default=None, help="booster threads")
    tune.add_argument(
        "--no-baseline", action="store_true",
        help="skip the plain log-loss baseline (gamma=0, alpha=none) on the same folds",
    )
    tune.add_argument("--storage", default=None,
                      help="Optuna storage URL to save/resume the study, e.g. sqlite:///study.db")
    tune.add_argument("--study-name", default=None, help="study name inside --storage")
    tune.add_argument("--output", "-o", default=None, help="write the result JSON to this file")
    tune.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def _to_json(value: Any) -> Any:
    """Plain JSON types (NumPy scalars and arrays included)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    return value


def _match_label(text: str, labels: Sequence[Any]) -> Any:
    """The label of ``y`` that ``--pos-label`` names (labels read from a file may be numbers).

    Unmatched text is returned as is, for tune_focal to reject with the list of labels.
    """
    for candidates in ([c for c in labels if str(c) == text],
                       [c for c in labels if c == _scalar(text)]):
        if len(candidates) == 1:
            return candidates[0]
    return text


def run_tune(args: argparse.Namespace) -> dict[str, Any]:
    params = dict(_parse_param(text) for text in args.param)
    if args.n_jobs is not None:
        params["n_jobs"] = args.n_jobs
    X, y = split_features(read_table(args.data), args.target)
    classes = sorted(set(y.tolist()), key=str)
    pos_label = None if args.pos_label is None else _match_label(args.pos_label, classes)
    try:
        optuna = import_optional("optuna", needed_by="tuning")
    except ImportError as exc:
        raise CLIError(str(exc)) from exc
    from .tuning import tune_focal

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress bar says enough
    result = tune_focal(
        X, y, backend=args.backend, n_trials=args.trials, cv=args.cv, scoring=args.scoring,
        pos_label=pos_label, alpha=args.alpha, gamma=args.gamma, params=params or None,
        early_stopping_rounds=args.early_stopping_rounds or None, timeout=args.timeout,
        random_state=args.seed, storage=args.storage, study_name=args.study_name,
        refit=False, baseline=not args.no_baseline, show_progress_bar=not args.no_progress,
    )
    states = [t.state.name for t in result.study.trials]
    return _to_json({
        "best_params": result.best_params,
        "best_score": result.best_score,
        "scoring": result.scoring,
        "pos_label": result.pos_label,
        "best_fold_scores": result.best_fold_scores,
        "baseline_score": result.baseline_score,
        "baseline_fold_scores": result.baseline_fold_scores,
        "fold_differences": result.fold_differences,
        "backend": result.backend,
        "cv": args.cv,
        "seed": args.seed,
        "n_trials": len(states),
        "n_complete": states.count("COMPLETE"),
        "n_pruned": states.count("PRUNED"),
        "data": str(args.data),
        "target": args.target,
        "classes": classes,
        "gbfocal_version": __version__,
    })


def _summary_lines(summary: dict[str, Any]) -> list[str]:
    """The human-readable part of the result, printed on stderr (stdout stays pure JSON)."""
    scoring = summary["scoring"]
    lines: list[str] = []
    if summary.get("pos_label") is not None:
        lines.append(f"positive (scored) class: {summary['pos_label']!r}")
    lines.append(
        f"best {scoring}: {summary['best_score']:.4f} (mean of {summary['cv']} folds; "
        f"{summary['n_complete']} trials complete, {summary['n_pruned']} pruned)"
    )
    if summary.get("baseline_score") is not None:
        lines.append(
            f"baseline {scoring} (log loss: gamma=0, alpha=none): "
            f"{summary['baseline_score']:.4f}"
        )
    differences = summary.get("fold_differences")
    if differences:
        per_fold = ", ".join(f"{d:+.4f}" for d in differences)
        mean = sum(differences) / len(differences)
        lines.append(f"best - baseline per fold: {per_fold} (mean {mean:+.4f})")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``gbfocal`` and ``python -m gbfocal``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    try:
        summary = run_tune(args)
        text = json.dumps(summary, indent=2)
        if args.output:
            Path(args.output).write_text(text + "\n", encoding="utf-8")
    except CLIError as exc:
        print(f"gbfocal: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (ValueError, TypeError, ImportError, OSError, RuntimeError) as exc:
        # tune_focal's argument checks name the problem; the traceback adds nothing for users
        print(f"gbfocal: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("gbfocal: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(text)
    for line in _summary_lines(summary):
        print(f"gbfocal: {line}", file=sys.stderr)
    if args.output:
        print(f"wrote {args.output}", file=sys.stderr)
    return 0
