"""Markdown (MyST) tables from the benchmark results in ``benchmarks/*.json``.

The documentation's performance pages include what :func:`render_all` writes, so the numbers
on the site are the numbers of the last benchmark run, never copied by hand. Each renderer
takes the parsed JSON file and returns Markdown starting at heading level 2 (``##``): the
pages include it right after their own title and introduction.

Plain functions of the JSON (no Sphinx, no gbfocal import), so they can be run on their own:
``python docs/_ext/benchmark_tables.py benchmarks`` prints every table.
"""

from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

LIB = {"lgb": "LightGBM", "lgb_reg": "LightGBM reg", "xgb": "XGBoost"}


# ------------------------------------------------------------------------------ helpers
def table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> list[str]:
    """A Markdown table; ``align`` is one letter per column (``l``/``r``), default left."""
    align = align or "l" * len(header)
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    lines = ["| " + " | ".join(header) + " |", rule]
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return lines + [""]


def num(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.{digits}f}"


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x"


def mean_by(records: list[dict[str, Any]], keys: Sequence[str],
            fields: Sequence[str]) -> dict[tuple, dict[str, float]]:
    """Means of ``fields`` over the records that share ``keys`` (e.g. the folds of one cell)."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[tuple(record.get(k) for k in keys)].append(record)
    return {group: {f: sum(r[f] for r in rs) / len(rs) for f in fields if f in rs[0]}
            for group, rs in groups.items()}


def unique(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def machine(meta: dict[str, Any]) -> str:
    """CPU, logical CPUs and Python of a result file's machine block (``meta`` of
    ``benchmarks/_common.py``'s ``machine()``; older files may lack some of them)."""
    cpus = f"{meta['logical_cpus']} logical CPUs" if meta.get("logical_cpus") else None
    python = f"Python {meta['python']}" if meta.get("python") else None
    return ", ".join(part for part in (meta.get("cpu"), cpus, python) if part)


# ------------------------------------------------------------------------ results.json
# (what issue 6 asked of the kernels and the training loops: ratio to the baseline)
TARGETS = (
    ("binary gradient and Hessian vs NumPy log loss", ("kernels", "binary"), 1.0),
    ("multiclass gradient and Hessian vs NumPy softmax cross-entropy",
     ("kernels", "multiclass"), 1.2),
    ("LightGBM binary training vs built-in", ("training", "lightgbm binary"), 1.15),
    ("XGBoost binary training vs built-in", ("training", "xgboost binary"), 1.15),
    ("LightGBM multiclass training vs built-in", ("training", "lightgbm multiclass"), 1.25),
    ("XGBoost multiclass training vs built-in", ("training", "xgboost multiclass"), 1.25),
)


def _seconds_table(block: dict[str, Any], scale: float, unit: str) -> list[str]:
    base = block["seconds"][block.get("baseline", next(iter(block["seconds"])))]
    return table(["objective", "median", "ratio"],
                 ([name, f"{s * scale:.2f} {unit}", ratio(s, base)]
                  for name, s in block["seconds"].items()), "lrr")


def _small_data(small: dict[str, Any] | None) -> list[str]:
    """Each fit's median and its ratio to the fit it is paired with (``pairs``)."""
    if not small:
        return ["Not measured in this run (an older `benchmarks/run.py`).", ""]
    if "skipped" in small:
        return [f"Not measured in this run: {small['skipped']}.", ""]
    lines: list[str] = []
    for name, block in small.items():
        seconds, pairs = block["seconds"], block["pairs"]
        lines += [f"**{name}** ({block['n']:,} rows), {block['rounds']} rounds, 1 thread", ""]
        lines += table(["fit", "median", "ratio", "to"],
                       ([fit, f"{s:.3f} s",
                         ratio(s, seconds[pairs[fit]]) if fit in pairs else "–",
                         pairs.get(fit, "")] for fit, s in seconds.items()), "lrrl")
    return lines


def kernels(results: dict[str, Any]) -> dict[str, str]:
    """``benchmarks/run.py``: kernels, adapters, end-to-end training, first-call cost."""
    m = results["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    start = ", ".join(f"{x:.2f}" for x in m["load_average_start"])
    end = ", ".join(f"{x:.2f}" for x in results["load_average_end"])
    out = {"run": [
        f"- mode: {'quick (small sizes)' if results['quick'] else 'full'}, {results['date']}",
        f"- machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, {m['memory']}; {m['os']}",
        f"- Python {m['python']}; {versions}; gbfocal {m['gbfocal']}",
        f"- gbfocal kernel threads: {m.get('gbfocal_threads', 1)}; load average at start "
        f"({start}), at end ({end}): other processes shared the machine when it is above 0",
        "- medians of repeated runs; ratio = time / the first row's time, measured side by "
        "side in this run", ""]}
    k = results["kernels"]
    for key in ("binary", "multiclass"):
        block = k[key]
        size = f"n = {block['n']:,}" + (f", K = {block['k']}" if "k" in block else "")
        base = block["seconds"][block["baseline"]]
        out[f"kernels_{key}"] = [f"{size}:", ""] + table(
            ["objective", "median", "ratio", "extra memory (output-sized float64 arrays)"],
            ([name, f"{s * 1e3:.2f} ms", ratio(s, base),
              f"{block['extra_memory_arrays'][name]:.2f}"]
             for name, s in block["seconds"].items()), "lrrr")
    skipped = [f"- {peer}: not measured ({why})" for peer, why in k.get("peers", {}).items()
               if why]
    out["kernels_binary"] += skipped + ([""] if skipped else [])
    adapters = results.get("adapters", {})
    out["adapters"] = ([f"n = {adapters['n']:,}:", ""]
                       + _seconds_table({**adapters, "baseline": "bare function"}, 1e3, "ms")
                       if "seconds" in adapters else ["Not measured in this run.", ""])
    training: list[str] = []
    features = results["config"]["n_features"]
    for name, block in results["training"].items():
        if "seconds" not in block:
            training += [f"- {name}: skipped ({block.get('skipped')})", ""]
            continue
        training += [f"**{name}**: {block['n']:,} rows x {features} features, "
                     f"{block['rounds']} rounds", ""] + _seconds_table(block, 1.0, "s")
        inside = block.get("objective_seconds", {})
        training += [f"- {name}: {s:.2f} s inside the Python objective, "
                     f"{block['seconds'][name] - s:.2f} s in the library (median fit)"
                     for name, s in inside.items()] + ([""] if inside else [])
    out["training"] = training
    out["small_data"] = _small_data(results.get("small_data"))
    gpu = results.get("gpu", {})
    if "seconds" in gpu:
        out["gpu"] = ([f"{gpu['device']}: {gpu['n']:,} rows x {gpu['features']} features, "
                       f"{gpu['rounds']} rounds, depth 6.", ""] + _seconds_table(gpu, 1.0, "s")
                      + [f"Identical trees (CuPy objective and `gbfocal.xgboost.train`): "
                         f"{gpu.get('identical_trees')}.", ""])
    else:
        out["gpu"] = [f"Not measured in this run: {gpu.get('skipped', 'no GPU section')}.", ""]
    out["first_call"] = table(
        ["numba cache", "import gbfocal", "first binary call", "first multiclass call"],
        ([label, f"{t['import gbfocal']:.2f} s", f"{t['first binary call']:.2f} s",
          f"{t['first multiclass call']:.2f} s"] for label, t in results["first_call"].items()),
        "lrrr")
    rows = []
    for what, path, target in TARGETS:
        block = results.get(path[0], {}).get(path[1], {})
        if "seconds" not in block:
            rows.append([what, f"<= {target:.2f}x", "not measured", "–"])
            continue
        seconds = block["seconds"]
        value = seconds["focal (gbfocal)"] / seconds[block["baseline"]]
        rows.append([what, f"<= {target:.2f}x", f"{value:.2f}x",
                     "met" if value <= target else "**missed**"])
    memory = max(k[key]["extra_memory_arrays"]["focal (gbfocal)"]
                 for key in ("binary", "multiclass"))
    rows.append(["extra memory per call (output-sized arrays)", "<= 3", f"{memory:.2f}",
                 "met" if memory <= 3 else "**missed**"])
    out["targets"] = table(["what", "target", "this run", ""], rows, "lrrl")
    return {name: "\n".join(lines) for name, lines in out.items()}


# ------------------------------------------------------------------- tuning_speed.json
def tuning_speed(rows: list[dict[str, Any]]) -> dict[str, str]:
    """``benchmarks/tuning_speed.py``: tune_focal against a hand-written Optuna loop."""
    def seconds(value: float | None) -> str:
        return "not reached" if value is None else f"{value:.1f}"

    per_trial = table(
        ["data", "rows", "library", "hand-written s/trial", "tune_focal s/trial", "ratio",
         "same trials and best", "hand: s to its best", "tune_focal: s to that score"],
        ([r["data"], f"{r['rows']:,}", r["backend"], f"{r['hand_s_per_trial']:.3f}",
          f"{r['gbfocal_s_per_trial']:.3f}", f"{r['ratio_per_trial']:.2f}x",
          "yes" if r["same_trials_and_best"] else "no", seconds(r["hand_to_best_s"]),
          seconds(r["gbfocal_to_hand_best_s"])] for r in rows),
        "lrlrrrlrr")
    parallel = table(
        ["data", "library", "n_jobs=2, worker starting", "n_jobs=2, worker running",
         "one fit, 1 thread (s)", "one fit, 2 threads (s)"],
        ([r["data"], r["backend"], f"{r['parallel_speedup_cold']:.2f}x",
          f"{r['parallel_speedup_warm']:.2f}x", f"{r['fit_s_1_thread']:.3f}",
          f"{r['fit_s_2_threads']:.3f}"] for r in rows),
        "llrrrr")
    builtin = table(
        ["data", "library", "built-in s/trial", "tune_focal s/trial", "ratio per trial",
         "ratio per fold", "folds built-in / tune_focal", "rounds built-in / tune_focal",
         "best AP built-in / tune_focal"],
        ([r["data"], r["backend"], f"{r['builtin_s_per_trial']:.3f}",
          f"{r['gbfocal_s_per_trial']:.3f}", f"{r['ratio_to_builtin_per_trial']:.2f}x",
          f"{r['ratio_to_builtin_per_fold']:.2f}x",
          f"{r['builtin_folds']} / {r['gbfocal_folds']}",
          f"{r['builtin_mean_best_rounds']:.0f} / {r['gbfocal_mean_best_rounds']:.0f}",
          f"{r['builtin_best']:.4f} / {r['gbfocal_best']:.4f}"] for r in rows),
        "llrrrrrrr")
    trials = ", ".join(str(t) for t in sorted({r["trials"] for r in rows}))
    return {"per_trial": "\n".join([f"{trials} trials on each side.", ""] + per_trial),
            "builtin": "\n".join(builtin), "parallel": "\n".join(parallel)}


# ------------------------------------------------------------------------ verdict.json
def verdict(data: dict[str, Any]) -> dict[str, str]:
    """``benchmarks/verdict.py``: the verdict on real data and its false-positive rate."""
    meta = data["meta"]
    lines = [f"Run of {meta['date']} ({machine(meta)}; gbfocal {meta['gbfocal']}, Optuna "
             f"{meta['versions']['optuna']}).", ""]
    lines += table(
        ["set (rows)", "library", "score", "focal", "log loss",
         "difference [95 % interval]", "verdict → selected", "in-sample difference",
         "time: two arms / focal alone"],
        ([f"{r['set']} ({r['rows']:,})", r["backend"], f"`{r['scoring']}`",
          f"{r['focal']:.4f}", f"{r['log_loss']:.4f}",
          f"{r['difference']:+.4f} [{r['interval'][0]:+.4f}, {r['interval'][1]:+.4f}]",
          f"{r['verdict']} → {r['selected']}", f"{r['in_sample_difference']:+.4f}",
          f"{r['time_ratio']:.2f}x"] for r in data["sets"]),
        "lllrrllrr")
    counts: dict[str, int] = defaultdict(int)
    for r in data["sets"]:
        counts[r["verdict"]] += 1
    summary = ", ".join(f"`{v}` {n}" for v, n in sorted(counts.items()))
    lines += [f"Verdicts: {summary} of {len(data['sets'])} searches.", ""]
    out = {"table": "\n".join(lines)}
    null = data.get("null")
    if null:
        def rate(part: dict[str, Any]) -> str:
            low, high = part["interval"]
            return (f"{part['count']} of {null['seeds']} ({part['rate']:.1%}, 95 % interval "
                    f"{low:.1%} to {high:.1%})")

        out["null"] = "\n".join(
            [f"Labels independent of the features, {null['seeds']} seeds:", ""]
            + table(["comparison", "says focal loss is better", "says log loss is better"],
                    [["the verdict (holdout)", rate(null["focal"]), rate(null["log_loss"])],
                     ["in-sample (`fold_differences`)", rate(null["in_sample_focal"]), "–"]]))
    return out


# -------------------------------------------------------------------- calibration.json
def calibration(data: dict[str, Any]) -> dict[str, str]:
    """``benchmarks/calibration.py``: plain link against the focal posterior."""
    cfg, meta, sections = data["cfg"], data["meta"], data["sections"]
    versions = meta["versions"]
    out = {"settings": "\n".join([
        f"- run of {meta['date']}; {machine(meta)}, numpy {versions['numpy']}, scikit-learn "
        f"{versions['scikit-learn']}, LightGBM {versions['lightgbm']}, XGBoost "
        f"{versions['xgboost']}",
        f"- {cfg['n_folds']}-fold stratified CV; {cfg['val_fraction']:.0%} of each training "
        f"fold for early stopping (patience {cfg['patience']}, at most {cfg['max_rounds']} "
        f"rounds, learning rate {cfg['learning_rate']}); gamma {cfg['gamma']}; ECE over "
        f"{cfg['ece_bins']} bins",
        "- *raw*: a focal model's plain sigmoid / softmax (`correct_proba=False`); "
        "*corrected*: the same fitted model's focal posterior; *built-in*: the library's own "
        "log-loss objective", ""])}
    binary = sections.get("binary", {}).get("records")
    if binary:
        out.update(_calibration_binary(binary))
    multiclass = sections.get("multiclass", {}).get("records")
    if multiclass:
        out["multiclass"] = "\n".join(_calibration_multiclass(multiclass))
    if sections.get("sim"):
        out["sim"] = "\n".join(_calibration_sim(sections["sim"]))
    return out


def _calibration_binary(records: list[dict[str, Any]]) -> dict[str, str]:
    fields = ("rounds", "log_loss", "brier", "ece", "mean_p", "pos_rate", "ap", "auc")
    agg = mean_by(records, ("set", "lib", "alpha", "variant"), fields)
    sets, alphas = unique(r["set"] for r in records), ("None", "balanced", "0.25")
    header = ["set (positives)"] + [f"{LIB[lib]} alpha {a}" for lib in ("lgb", "xgb")
                                    for a in alphas]
    rows = []
    for s in sets:
        row = [f"{s} ({agg[(s, 'lgb', '-', 'builtin')]['pos_rate']:.1%})"]
        for lib in ("lgb", "xgb"):
            base = agg[(s, lib, "-", "builtin")]["log_loss"]
            for a in alphas:
                row.append(f"{agg[(s, lib, a, 'raw')]['log_loss'] / base:.2f} → "
                           f"{agg[(s, lib, a, 'corrected')]['log_loss'] / base:.2f}")
        rows.append(row)
    detail: list[str] = []
    for s in sets:
        rows_s = []
        for lib in ("lgb", "xgb"):
            cells = [(lib, "-", "builtin")] + [(lib, a, v) for a in alphas
                                               for v in ("raw", "corrected")]
            for cell in cells:
                m = agg[(s,) + cell]
                rows_s.append([LIB[lib], "built-in" if cell[2] == "builtin" else "focal",
                               cell[1], cell[2], f"{m['rounds']:.0f}", num(m["log_loss"]),
                               num(m["brier"]), num(m["ece"]), num(m["mean_p"]),
                               num(m["pos_rate"]), num(m["ap"]), num(m["auc"])])
        detail += [f"**{s}**", ""] + table(
            ["library", "loss", "alpha", "probabilities", "rounds", "log loss", "Brier", "ECE",
             "mean p", "positive rate", "AP", "ROC AUC"], rows_s, "llllrrrrrrrr")
    return {"binary_overview": "\n".join(table(header, rows, "l" + "r" * 6)),
            "binary_detail": "\n".join(detail)}


def _calibration_multiclass(records: list[dict[str, Any]]) -> list[str]:
    fields = ("rounds", "log_loss", "brier", "ece", "accuracy", "auc", "mean_conf")
    agg = mean_by(records, ("set", "lib", "alpha", "es", "variant"), fields)
    lines: list[str] = []
    for s in unique(r["set"] for r in records):
        rows = [[LIB.get(lib, lib), "built-in" if variant == "builtin" else "focal", alpha,
                 f"`{es}`", variant, f"{m['rounds']:.0f}", num(m["log_loss"]),
                 num(m["brier"]), num(m["ece"]), num(m["accuracy"]), num(m["auc"])]
                for (set_, lib, alpha, es, variant), m in agg.items() if set_ == s]
        lines += [f"**{s}**", ""] + table(
            ["library", "loss", "alpha", "early stopping", "probabilities", "rounds",
             "log loss", "Brier", "ECE", "accuracy", "macro ROC AUC"], rows, "lllllrrrrrr")
    return lines


def _calibration_sim(sim: dict[str, Any]) -> list[str]:
    settings = sim.get("settings", {})
    lines = [f"A {settings.get('n_classes', '?')}-class problem with known class posteriors "
             f"({settings.get('n_train', 0):,} training rows); Bayes log loss "
             f"{sim['bayes_log_loss']:.4f}.", "",
             "**The math.** The exact minimiser of the focal risk, solved independently of "
             "gbfocal, and its focal posterior:", ""]
    lines += table(["alpha", "max error of the corrected posterior",
                    "log loss, plain softmax of the minimiser", "log loss, corrected"],
                   ([m["alpha"], f"{m['max_abs_err_corrected_vs_eta']:.1e}",
                     num(m["ll_raw_qstar"]), num(m["ll_corrected_qstar"])]
                    for m in sim.get("math", [])), "lrrr")
    if sim.get("models"):
        lines += ["**Boosted models** (test set; mean absolute error to the true posterior):",
                  ""]
        lines += table(["model", "early stopping", "probabilities", "rounds", "log loss",
                        "ECE", "accuracy", "mean error to the truth"],
                       ([m["model"], f"`{m['es']}`", m["variant"], m["rounds"],
                         num(m["log_loss"]), num(m["ece"]), num(m["accuracy"]),
                         num(m["mae_vs_eta"])] for m in sim["models"]),
                       "llllrrrr")
    return lines


# ------------------------------------------------------------------- many_classes.json
def many_classes(data: dict[str, Any]) -> dict[str, str]:
    """``benchmarks/many_classes.py``: peak memory of one fit with many classes."""
    def mib(value: float) -> str:
        return f"{value / 2**20:,.0f}"

    rows = [[r["library"], f"{r['classes']:,}", mib(r["library_extra_bytes"]),
             mib(r["floor_extra_bytes"]), mib(r["focal_extra_bytes"]), f"{r['ratio']:.2f}x",
             f"{r['floor_ratio']:.2f}x"] for r in data["results"]]
    rows_count = ", ".join(f"{n:,}" for n in sorted({r["rows"] for r in data["results"]}))
    head = (f"{rows_count} rows, {data['features']} features, {data['rounds']} rounds, one "
            f"thread, each fit in a fresh process, medians of {data['repeats']} runs; MiB of "
            "peak resident memory beyond what the process held before the fit.")
    return {"table": "\n".join([head, ""] + table(
        ["library", "K", "built-in MiB", "floor MiB", "gbfocal MiB", "gbfocal / built-in",
         "floor / built-in"], rows, "lrrrrrr"))}


# --------------------------------------------------------------------------- all files
RENDERERS: dict[str, Callable[[Any], dict[str, str]]] = {
    "results.json": kernels,
    "tuning_speed.json": tuning_speed,
    "verdict.json": verdict,
    "calibration.json": calibration,
    "many_classes.json": many_classes,
}
#: results a benchmark may not have written yet: their tables say so instead of failing
OPTIONAL = {"many_classes.json"}


def render_all(benchmarks: Path, out: Path) -> list[Path]:
    """Write ``out/<json stem>/<fragment>.md`` for every JSON file of :data:`RENDERERS`;
    return the files rewritten (a file whose text did not change is left alone, so Sphinx
    rebuilds only the pages whose numbers changed)."""
    written = []
    for name, render in RENDERERS.items():
        folder = out / Path(name).stem
        folder.mkdir(parents=True, exist_ok=True)
        if name in OPTIONAL and not (benchmarks / name).is_file():
            fragments = {"table": f"Not measured yet: `benchmarks/{name}` is missing."}
        else:
            fragments = render(json.loads((benchmarks / name).read_text(encoding="utf-8")))
        for fragment, body in fragments.items():
            text = (f"<!-- generated from benchmarks/{name} by docs/_ext/benchmark_tables.py;"
                    " do not edit -->\n\n" + body.rstrip() + "\n")
            target = folder / f"{fragment}.md"
            if not target.is_file() or target.read_text(encoding="utf-8") != text:
                target.write_text(text, encoding="utf-8")
                written.append(target)
    return written


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks")
    for name, render in RENDERERS.items():
        if not (source / name).is_file():
            continue
        for fragment, body in render(json.loads((source / name).read_text("utf-8"))).items():
            print(f"<!-- {name}: {fragment} -->\n{body}\n")
