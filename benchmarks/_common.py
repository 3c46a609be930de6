"""What the benchmark scripts share: data sets, folds, the machine block, timing, tables, output.

The scripts run as ``python benchmarks/NAME.py``, so this folder is on ``sys.path`` and they
``import _common as common``. Conventions every script follows:

* ``--quick``: small sizes, a smoke run that only prints (``--out DIR`` makes it write its
  files to ``DIR`` as well, never to ``benchmarks/`` unless asked);
* a full run writes ``benchmarks/NAME.json`` (results plus the :func:`machine` block under
  ``"meta"``, or where the documentation's renderer expects it) and ``benchmarks/NAME.md``;
* the real data sets are ``../shared/data/*.npz`` next to the repository (:data:`DATA`); a
  missing one is skipped with a line saying so.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent  # benchmarks/
REPO = HERE.parent
DATA = REPO.parent / "shared" / "data"
#: the libraries whose versions the machine block records (distribution names)
VERSIONS = ("numpy", "scipy", "scikit-learn", "numba", "lightgbm", "xgboost", "optuna")
CONCLUSIONS = ("<!-- conclusions -->", "<!-- /conclusions -->")


# --------------------------------------------------------------------------- tables
def rendered(stem: str, data: Any) -> dict[str, str]:
    """The documentation's Markdown fragments of ``benchmarks/<stem>.json`` holding ``data``
    (docs/_ext/benchmark_tables.py), so that a script's Markdown and the site show the same
    tables from one renderer."""
    import importlib.util

    path = REPO / "docs" / "_ext" / "benchmark_tables.py"
    spec = importlib.util.spec_from_file_location("benchmark_tables", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fragments: dict[str, str] = module.RENDERERS[f"{stem}.json"](data)
    return fragments


# --------------------------------------------------------------------------- data
def load_set(name: str, data_dir: Path | str = DATA,
             dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray] | None:
    """``X`` (as ``dtype``) and ``y`` (int64) of ``data_dir/name.npz``; None (and a line
    saying so) when the file is missing."""
    path = Path(data_dir) / f"{name}.npz"
    if not path.is_file():
        print(f"[skip] {path} not found", flush=True)
        return None
    with np.load(path, allow_pickle=False) as data:
        return np.asarray(data["X"], dtype=dtype), np.asarray(data["y"], dtype=np.int64)


def subsample(X: np.ndarray, y: np.ndarray, n_rows: int, seed: int, *, whole_below: int = 0,
              at_least: int = 2, share: str = "rest") -> tuple[np.ndarray, np.ndarray]:
    """A stratified subsample of about ``n_rows`` rows, in the original row order.

    Classes under ``whole_below`` rows are kept whole; every other class keeps at least
    ``at_least`` rows and otherwise its share. ``share="rest"``: the kept-whole rows count in
    ``n_rows`` and the other classes share the rest in proportion (the calibration scripts);
    ``share="all"``: every class keeps ``n_rows / len(y)`` of its rows, the kept-whole ones
    drawn through the generator too (``verdict.py``'s rule, kept for its results).
    """
    if len(y) <= n_rows:
        return X, y
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    whole = counts < whole_below
    if share == "rest":
        frac = (n_rows - counts[whole].sum()) / counts[~whole].sum()
    else:
        frac = n_rows / len(y)
    keep = []
    for c, count, is_whole in zip(classes, counts, whole, strict=True):
        rows = np.flatnonzero(y == c)
        if is_whole and share == "rest":
            keep.append(rows)
            continue
        take = count if is_whole else max(at_least, int(round(count * frac)))
        keep.append(rng.choice(rows, min(take, count), replace=False))
    index = np.sort(np.concatenate(keep))
    return X[index], y[index]


def holdout_folds(y: np.ndarray, n_folds: int = 3, seed: int = 0,
                  val_fraction: float = 0.15
                  ) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """``(k, fit, val, test)`` row indices: stratified ``n_folds``-fold CV (shuffled,
    ``seed``); ``val_fraction`` of each training fold (scikit-learn's stratified split,
    seed ``k``, rows in its shuffled order) held out for early stopping."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (train, test) in enumerate(splitter.split(np.zeros(len(y)), y)):
        fit, val = train_test_split(train, test_size=val_fraction, stratify=y[train],
                                    random_state=k)
        yield k, fit, val, test


# --------------------------------------------------------------------------- machine
def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                              check=False).stdout.strip()

    try:
        commit, dirty = git("rev-parse", "--short", "HEAD"), bool(git("status", "--porcelain"))
    except OSError:
        return ""
    return commit + (" (working tree modified)" if dirty else "")


def version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    """The machine block of every result file: date, CPU, memory, OS, Python, library
    versions, gbfocal (where it was imported from when not from this checkout; the
    ``GBFOCAL_SNAPSHOT`` variable may describe such a copy), its kernel threads, the git
    commit and the load average at the start."""
    import gbfocal

    memory = ""
    try:
        memory = f"{int(Path('/proc/meminfo').read_text().split()[1]) / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    where = Path(gbfocal.__file__).resolve().parent
    origin = "" if where.is_relative_to(REPO) else f", imported from {where}"
    if origin and os.environ.get("GBFOCAL_SNAPSHOT"):
        origin += f" ({os.environ['GBFOCAL_SNAPSHOT']})"
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": _cpu(), "logical_cpus": os.cpu_count(), "memory": memory,
        "os": platform.platform(), "python": platform.python_version(),
        "versions": {name: version(name) for name in VERSIONS},
        "gbfocal": gbfocal.__version__ + origin, "gbfocal_threads": gbfocal.get_num_threads(),
        "git": _git(), "load_average_start": list(os.getloadavg()),
    }


def describe(meta: dict[str, Any]) -> str:
    """The machine block as one sentence (result files of older runs may lack some keys)."""
    hardware = [meta.get("cpu"), f"{meta['logical_cpus']} logical CPUs"
                if meta.get("logical_cpus") else None, meta.get("memory"), meta.get("os")]
    software = [f"Python {meta['python']}" if meta.get("python") else None]
    software += [f"{k} {v}" for k, v in meta.get("versions", {}).items() if v != "not installed"]
    gbfocal = f"gbfocal {meta['gbfocal']}" if meta.get("gbfocal") else None
    if gbfocal and meta.get("git"):
        gbfocal += f" (git {meta['git']})"
    parts = [", ".join(p for p in hardware if p), ", ".join(p for p in software if p), gbfocal]
    return "; ".join(p for p in parts if p)


# --------------------------------------------------------------------------- timing
def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """``(seconds, result)`` of one call."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def rounds(calls: dict[str, Callable[[], Any]], repeats: int,
           rotate: bool = True) -> dict[str, list[Any]]:
    """The results of ``repeats`` rounds that call each callable once, interleaved so that a
    change of load on the machine hits every side alike; ``rotate``: round r starts at the
    r-th name (else the same order every round)."""
    names = list(calls)
    out: dict[str, list[Any]] = {name: [] for name in names}
    for r in range(repeats):
        shift = r % len(names) if rotate else 0
        for name in names[shift:] + names[:shift]:
            out[name].append(calls[name]())
    return out


def medians(calls: dict[str, Callable[[], Any]], repeats: int, *, warmup: bool = True,
            rotate: bool = True) -> dict[str, float]:
    """Median seconds per call over :func:`rounds` (after one warm-up call each: caches,
    page faults, lazy imports, compiling)."""
    for call in calls.values() if warmup else ():
        call()
    seconds = rounds({name: lambda c=call: timed(c)[0] for name, call in calls.items()},
                     repeats, rotate)
    return {name: statistics.median(values) for name, values in seconds.items()}


def numpy_path(fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` on gbfocal's NumPy reference path (``GBFOCAL_DISABLE_NUMBA=1`` while it runs)."""
    def call() -> Any:
        os.environ["GBFOCAL_DISABLE_NUMBA"] = "1"
        try:
            return fn()
        finally:
            del os.environ["GBFOCAL_DISABLE_NUMBA"]

    return call


# --------------------------------------------------------------------------- tables
def table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> list[str]:
    """A Markdown table; ``align`` has one letter per column, ``l`` (default) or ``r``."""
    align = align or "l" * len(header)
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def fmt(x: float, digits: int = 4) -> str:
    """A number for a table: 4 decimals, fewer from 100 on."""
    if x != x:
        return "nan"
    if abs(x) >= 1000:
        return f"{x:.0f}"
    if abs(x) >= 100:
        return f"{x:.1f}"
    return f"{x:.{digits}f}"


def mean_by(records: list[dict[str, Any]], keys: Sequence[str],
            fields: Sequence[str]) -> dict[tuple, dict[str, float]]:
    """Means of ``fields`` over the records sharing ``keys`` (the folds of one cell)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(tuple(record[k] for k in keys), []).append(record)
    return {group: {f: float(np.mean([r[f] for r in rs])) for f in fields if f in rs[0]}
            for group, rs in groups.items()}


def conclusions(path: Path | None) -> str:
    """The text between the conclusions markers of an existing report (kept by a rerun)."""
    start, end = CONCLUSIONS
    old = path.read_text() if path is not None and path.is_file() else ""
    if start in old and end in old:
        return old[old.index(start):old.index(end) + len(end)]
    return f"{start}\n(conclusions: to be written after reading the tables)\n{end}"


def splice(text: str, tag: str, body: list[str]) -> str:
    """``text`` with the block between ``<!-- section:tag -->`` markers replaced by ``body``
    (appended when absent): a report whose sections can be rerun one at a time."""
    start, end = f"<!-- section:{tag} -->", f"<!-- /section:{tag} -->"
    block = "\n".join([start, *body, end])
    if start in text and end in text:
        return text[:text.index(start)] + block + text[text.index(end) + len(end):]
    return text.rstrip("\n") + "\n\n" + block + "\n"


# --------------------------------------------------------------------------- output
def arguments(doc: str, quick: str) -> argparse.ArgumentParser:
    """The command line every script starts from: ``--quick`` and ``--out``."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{quick}; prints only")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the result files (default: benchmarks/ for a full "
                             "run; a --quick or partial run writes only where this says)")
    return parser


def out_dir(args: argparse.Namespace, partial: bool = False) -> Path | None:
    """Where this run writes: ``--out``, else ``benchmarks/`` for a full run, else nowhere."""
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        return args.out
    return None if args.quick or partial else HERE


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    return str(value)


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, default=_plain) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def publish(folder: Path | None, stem: str, markdown: str, data: Any = None) -> None:
    """Print ``markdown``; with a folder, write ``stem.md`` (and ``stem.json``) there."""
    print(markdown, flush=True)
    if folder is None:
        return
    (folder / f"{stem}.md").write_text(markdown)
    if data is not None:
        write_json(folder / f"{stem}.json", data)
    print(f"written: {folder / stem}.md" + (", .json" if data is not None else ""))
