"""Tables, plot and markdown of a benchmark run (``benchmarks/run.py``), and its publication.

Everything here works on the plain result dicts ``run.py`` collects, so a summary can be rebuilt
from a saved ``results.json``:

    python benchmarks/report.py benchmarks/results/results.json [--publish]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MIB = 2**20
GROUPS = ("data_engineering", "data_science", "tuning", "evaluation")
BASELINE_STEPS = (
    "read_csv",
    "preprocess",
    "xgboost",
    "random_forest",
    "logistic_regression",
    "random_forest_optuna",
    "evaluate",
)
BEGIN = "<!-- benchmark results: begin (written by benchmarks/run.py; do not edit) -->"
END = "<!-- benchmark results: end -->"
# The acceptance thresholds.
REFERENCE_ROWS = 381_109
LARGEST_ROWS = 3_000_000
MIN_SPEEDUP = 4.0
MIN_AUC_GAIN = 0.005
MAX_TIME_PER_ROW_GROWTH = 1.5
MAX_PEAK_BYTES = 6 * 10**9


# ------------------------------------------------------------------------------ statistics
def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """Hanley & McNeil (1982) standard error of a ROC AUC."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
    ) / (positives * negatives)
    return float(np.sqrt(max(variance, 0.0)))


def paired_comparison(
    project_scores: str | Path, baseline_scores: str | Path, n_boot: int = 300, seed: int = 0
) -> dict[str, Any]:
    """Both models' ROC AUC on the test rows they share (held out by both), with a bootstrap CI.

    The two test splits differ (the project's is stratified, seed 42; the baseline's random,
    seed 3), so their AUCs carry independent sampling noise. On the rows in both test splits,
    neither model was fitted, so the difference there is paired and far less noisy.
    """
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415

    project = pd.read_parquet(project_scores)
    baseline = pd.read_parquet(baseline_scores)
    both = project.merge(baseline, on="id", suffixes=("_project", "_baseline"))
    if both.empty or both["response_project"].nunique() < 2:
        return {"rows": len(both)}
    if not (both["response_project"] == both["response_baseline"]).all():
        raise ValueError("project and baseline disagree on the target of a shared test row")
    y = both["response_project"].to_numpy()
    a, b = both["score_project"].to_numpy(), both["score_baseline"].to_numpy()
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n_boot):
        index = rng.integers(0, len(y), len(y))
        if y[index].min() == y[index].max():
            continue
        diffs.append(roc_auc_score(y[index], a[index]) - roc_auc_score(y[index], b[index]))
    auc_a, auc_b = roc_auc_score(y, a), roc_auc_score(y, b)
    low, high = np.quantile(diffs, [0.025, 0.975])
    return {
        "rows": len(both),
        "project_roc_auc": float(auc_a),
        "baseline_roc_auc": float(auc_b),
        "difference": float(auc_a - auc_b),
        "ci95": [float(low), float(high)],
    }


# ------------------------------------------------------------------------------ tables
def peak_node(project: dict[str, Any]) -> str | None:
    """The node after which the process's peak RSS grew most (where the peak was reached)."""
    peaks = list(project.get("peak_rss_after_node") or [])
    if not peaks:
        return None
    peaks.append(("(after the last node)", project.get("peak_rss_run_bytes", peaks[-1][1])))
    steps = [(name, after - before) for (_, before), (name, after) in itertools.pairwise(peaks)]
    return max(steps, key=lambda step: step[1])[0]


def start_rss(project: dict[str, Any]) -> float:
    """RSS when the pipeline started (imports, catalog, MLflow set up), in bytes; 0 if unknown."""
    peaks = project.get("peak_rss_after_node") or [("(start)", 0)]
    return float(peaks[0][1])


def _best(models: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(m for m in models if m["model"] == name)


def tables(results: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """``sizes`` (one row per size and system), ``models``, ``nodes`` and ``comparison``."""
    sizes, models, nodes, comparison = [], [], [], []
    for result in results:
        rows, data = result["rows"], result.get("data") or {}
        raw_memory = data.get("raw_memory_bytes")
        project, baseline = result.get("project"), result.get("baseline")
        if project:
            node_seconds = project["nodes"]
            groups = {g: 0.0 for g in GROUPS}
            for name, seconds in node_seconds.items():
                group = project["node_groups"].get(name, "other")
                groups[group] = groups.get(group, 0.0) + seconds
                nodes.append({"rows": rows, "node": name, "group": group, "seconds": seconds})
            champion = _best(project["models"], project["champion"])
            sizes.append(
                {
                    "rows": rows,
                    "system": "project",
                    "seconds": project["seconds"],
                    "seconds_per_100k_rows": project["seconds"] / rows * 1e5,
                    **{f"{g}_seconds": groups[g] for g in groups},
                    "io_hooks_mlflow_seconds": project["seconds"] - sum(node_seconds.values()),
                    "process_seconds": project["process_seconds"],
                    "peak_rss_mib": project["peak_rss_bytes"] / MIB,
                    "raw_file_mib": data.get("raw_file_bytes", np.nan) / MIB,
                    "raw_memory_mib": (raw_memory or np.nan) / MIB,
                    "start_rss_mib": start_rss(project) / MIB,
                    "peak_over_raw": (project["peak_rss_bytes"] - start_rss(project)) / raw_memory
                    if raw_memory
                    else None,
                    "peak_reached_in": peak_node(project),
                    "best_model": project["champion"],
                    "test_roc_auc": champion["roc_auc"],
                    "test_average_precision": champion["average_precision"],
                }
            )
            models += [{"rows": rows, "system": "project", **m} for m in project["models"]]
        if baseline:
            best = baseline["metrics"][baseline["best_model"]]
            sizes.append(
                {
                    "rows": rows,
                    "system": "baseline",
                    "seconds": baseline["seconds"]["total"],
                    "seconds_per_100k_rows": baseline["seconds"]["total"] / rows * 1e5,
                    **{f"{s}_seconds": baseline["seconds"].get(s) for s in BASELINE_STEPS},
                    "process_seconds": baseline["process_seconds"],
                    "peak_rss_mib": baseline["peak_rss_bytes"] / MIB,
                    "raw_file_mib": data.get("raw_file_bytes", np.nan) / MIB,
                    "raw_memory_mib": (raw_memory or np.nan) / MIB,
                    "peak_over_raw": baseline["peak_rss_bytes"] / raw_memory
                    if raw_memory
                    else None,
                    "best_model": baseline["best_model"],
                    "test_roc_auc": best["roc_auc"],
                    "test_average_precision": best["average_precision"],
                }
            )
            models += [
                {"rows": rows, "system": "baseline", "model": name, **values}
                for name, values in baseline["metrics"].items()
            ]
        if project and baseline:
            champion = _best(project["models"], project["champion"])
            best = baseline["metrics"][baseline["best_model"]]
            # Unpaired: two test splits of 20 % each, ~12 % positives.
            n_test = round(0.2 * rows)
            positives = round(0.12256 * n_test)
            se = np.hypot(
                auc_standard_error(champion["roc_auc"], positives, n_test - positives),
                auc_standard_error(best["roc_auc"], positives, n_test - positives),
            )
            paired = result.get("paired") or {}
            comparison.append(
                {
                    "rows": rows,
                    "project_seconds": project["seconds"],
                    "baseline_seconds": baseline["seconds"]["total"],
                    "speedup": baseline["seconds"]["total"] / project["seconds"],
                    "project_champion": project["champion"],
                    "project_roc_auc": champion["roc_auc"],
                    "baseline_best": baseline["best_model"],
                    "baseline_roc_auc": best["roc_auc"],
                    "auc_difference": champion["roc_auc"] - best["roc_auc"],
                    "auc_difference_se": se,
                    "paired_rows": paired.get("rows"),
                    "paired_difference": paired.get("difference"),
                    "paired_ci95_low": (paired.get("ci95") or [None])[0],
                    "paired_ci95_high": (paired.get("ci95") or [None, None])[1],
                }
            )
    return {
        "sizes": pd.DataFrame(sizes),
        "models": pd.DataFrame(models),
        "nodes": pd.DataFrame(nodes),
        "comparison": pd.DataFrame(comparison),
    }


def _markdown(rows: list[list[Any]], header: list[str], align: str) -> str:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---:" if a == "r" else "---" for a in align) + "|")
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _f(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


# ------------------------------------------------------------------------------ acceptance
def acceptance(frames: dict[str, pd.DataFrame]) -> list[tuple[str, str, bool | None]]:
    """The issue's acceptance checks: (check, measured value, passed or None if not measured)."""
    sizes, comparison = frames["sizes"], frames["comparison"]
    checks: list[tuple[str, str, bool | None]] = []
    at_ref = comparison[comparison["rows"] == REFERENCE_ROWS] if len(comparison) else comparison
    if len(at_ref):
        row = at_ref.iloc[0]
        checks.append(
            (
                f"{REFERENCE_ROWS:,} rows: project at least {MIN_SPEEDUP:g}x faster than baseline",
                f"{row['speedup']:.1f}x ({row['project_seconds']:.0f} s vs {row['baseline_seconds']:.0f} s)",
                bool(row["speedup"] >= MIN_SPEEDUP),
            )
        )
        checks.append(
            (
                f"{REFERENCE_ROWS:,} rows: champion test ROC AUC at least {MIN_AUC_GAIN} above baseline's best",
                f"{row['auc_difference']:+.4f} ({row['project_roc_auc']:.4f} vs {row['baseline_roc_auc']:.4f})",
                bool(row["auc_difference"] >= MIN_AUC_GAIN),
            )
        )
    else:
        checks.append((f"project vs baseline at {REFERENCE_ROWS:,} rows", "not run", None))
    project = sizes[sizes["system"] == "project"].set_index("rows") if len(sizes) else sizes
    if REFERENCE_ROWS in project.index and LARGEST_ROWS in project.index:
        growth = (
            project.loc[LARGEST_ROWS, "seconds_per_100k_rows"]
            / project.loc[REFERENCE_ROWS, "seconds_per_100k_rows"]
        )
        checks.append(
            (
                f"time per row at {LARGEST_ROWS:,} within {MAX_TIME_PER_ROW_GROWTH}x of {REFERENCE_ROWS:,}",
                f"{growth:.2f}x",
                bool(growth <= MAX_TIME_PER_ROW_GROWTH),
            )
        )
    else:
        checks.append(("time per row, 381k to 3M", "not run", None))
    if LARGEST_ROWS in project.index:
        peak = project.loc[LARGEST_ROWS, "peak_rss_mib"] * MIB
        checks.append(
            (
                f"peak memory at {LARGEST_ROWS:,} rows under {MAX_PEAK_BYTES / 1e9:g} GB",
                f"{peak / 1e9:.2f} GB (above the start: "
                f"{project.loc[LARGEST_ROWS, 'peak_over_raw']:.1f}x the raw table in memory)",
                bool(peak < MAX_PEAK_BYTES),
            )
        )
    else:
        checks.append(("peak memory at 3M rows", "not run", None))
    return checks


# ------------------------------------------------------------------------------ plot
def plot(frames: dict[str, pd.DataFrame], path: Path) -> None:
    """Wall time and peak memory against training rows (log-log), as a PNG."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    from matplotlib.figure import Figure  # noqa: PLC0415

    sizes = frames["sizes"]
    project = sizes[sizes["system"] == "project"].sort_values("rows")
    baseline = sizes[sizes["system"] == "baseline"].sort_values("rows")
    figure = Figure(figsize=(11, 4.6))
    time_axes, memory_axes = figure.subplots(1, 2)
    time_axes.plot(project["rows"], project["seconds"], "o-", lw=2, label="project: kedro run")
    for group, style in zip(GROUPS, (":", "--", "-.", (0, (1, 3))), strict=True):
        time_axes.plot(
            project["rows"], project[f"{group}_seconds"], ls=style, lw=1, label=f"  {group} nodes"
        )
    if len(baseline):
        time_axes.plot(
            baseline["rows"], baseline["seconds"], "s-", lw=2, label="baseline (tutorial)"
        )
    if len(project) > 1:
        ref = project.iloc[(project["rows"] - REFERENCE_ROWS).abs().argmin()]
        xs = np.array([project["rows"].min(), project["rows"].max()])
        time_axes.plot(
            xs, ref["seconds"] * xs / ref["rows"], color="grey", lw=0.8, label="linear in rows"
        )
    time_axes.set(
        xscale="log", yscale="log", xlabel="training rows", ylabel="wall time (s)", title="Time"
    )
    time_axes.legend(fontsize=7)
    memory_axes.plot(
        project["rows"], project["peak_rss_mib"], "o-", lw=2, label="project: peak RSS"
    )
    if len(baseline):
        memory_axes.plot(
            baseline["rows"], baseline["peak_rss_mib"], "s-", lw=2, label="baseline: peak RSS"
        )
    memory_axes.plot(
        project["rows"], project["raw_memory_mib"], "^--", lw=1, label="raw table in memory"
    )
    memory_axes.axhline(MAX_PEAK_BYTES / MIB, color="red", lw=0.8, ls=":", label="6 GB")
    memory_axes.set(
        xscale="log",
        yscale="log",
        xlabel="training rows",
        ylabel="MiB",
        title="Peak resident memory",
    )
    memory_axes.legend(fontsize=7)
    for axes in (time_axes, memory_axes):
        axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


# ------------------------------------------------------------------------------ markdown
def summary_markdown(
    frames: dict[str, pd.DataFrame], machine: dict[str, Any], image: str, quick: bool = False
) -> str:
    """The results as markdown: machine, tables, acceptance checks, plot."""
    sizes, models, nodes, comparison = (
        frames["sizes"],
        frames["models"],
        frames["nodes"],
        frames["comparison"],
    )
    packages = ", ".join(f"{k} {v}" for k, v in machine["packages"].items())
    load = machine.get("load_average_start", [None])[0], machine.get("load_average_end", [None])[0]
    out = [
        f"Run {machine['date']} (git {machine.get('git_commit') or '?'}), in "
        f"{machine.get('benchmark_seconds', 0) / 60:.0f} min, with "
        f"`{machine.get('command') or 'python benchmarks/run.py' + (' --quick' if quick else '')}`.",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores ({machine['usable_cores']} usable), "
        f"{(machine['ram_bytes'] or 0) / 2**30:.0f} GiB RAM, {machine['os']}; 1-minute load "
        f"average {_f(load[0], 1)} at the start, {_f(load[1], 1)} at the end (above the core "
        "count means other work shared the CPU and times are inflated). "
        f"Python {machine['python']}; {packages}.",
        "",
    ]
    project = sizes[sizes["system"] == "project"] if len(sizes) else sizes
    if len(project):
        out += [
            "**The project's default pipeline** (`kedro run`: data_engineering + data_science "
            "+ evaluation, tuning included). Time is the wall time of `session.run` (catalog, "
            "hooks, MLflow logging included); the group columns sum the node times of "
            "`NodeTimingHooks` (inputs loaded, outputs not yet saved), the rest is dataset I/O, "
            "the servable model kedro-mlflow logs at the end, "
            "other hooks and MLflow. Peak RSS is the process's `ru_maxrss`; RSS at start is the "
            "process's size when the first node starts (Python, the libraries, the session); "
            "(peak - start) / raw compares what the data adds with the raw table's size in "
            "memory (`memory_usage(deep=True)` of the loaded `train.csv`); the node after which "
            "the peak grew most is where it was reached (a node's step includes loading its "
            "inputs: `validate_raw_train_node` is where `train.csv` is read).",
            "",
            _markdown(
                [
                    [
                        f"{r.rows:,}",
                        _f(r.seconds),
                        _f(r.seconds_per_100k_rows, 1),
                        _f(r.data_engineering_seconds, 1),
                        _f(r.data_science_seconds, 1),
                        _f(r.tuning_seconds, 1),
                        _f(r.evaluation_seconds, 1),
                        _f(r.io_hooks_mlflow_seconds),
                        _f(r.peak_rss_mib),
                        _f(r.start_rss_mib),
                        _f(r.raw_memory_mib),
                        _f(r.peak_over_raw, 1),
                        f"`{r.peak_reached_in}`" if isinstance(r.peak_reached_in, str) else "-",
                        r.best_model,
                        _f(r.test_roc_auc, 4),
                        _f(r.test_average_precision, 4),
                    ]
                    for r in project.itertuples()
                ],
                [
                    "training rows",
                    "time (s)",
                    "s per 100k rows",
                    "data_engineering",
                    "data_science",
                    "tuning",
                    "evaluation",
                    "I/O, hooks, MLflow",
                    "peak RSS (MiB)",
                    "RSS at start (MiB)",
                    "raw table in memory (MiB)",
                    "(peak - start) / raw",
                    "peak reached in",
                    "champion",
                    "test ROC AUC",
                    "test AP",
                ],
                "rrrrrrrrrrrrllrr",
            ),
            "",
        ]
    baseline = sizes[sizes["system"] == "baseline"] if len(sizes) else sizes
    if len(baseline):
        out += [
            "**The tutorial baseline** (`benchmarks/baseline_tutorial.py`) on the same files. "
            "Time is from reading the CSV to the last test score.",
            "",
            _markdown(
                [
                    [
                        f"{r.rows:,}",
                        _f(r.seconds),
                        _f(r.read_csv_seconds + r.preprocess_seconds),
                        _f(r.xgboost_seconds),
                        _f(r.random_forest_seconds),
                        _f(r.logistic_regression_seconds),
                        _f(r.random_forest_optuna_seconds),
                        _f(r.evaluate_seconds),
                        _f(r.peak_rss_mib),
                        r.best_model,
                        _f(r.test_roc_auc, 4),
                        _f(r.test_average_precision, 4),
                    ]
                    for r in baseline.itertuples()
                ],
                [
                    "training rows",
                    "time (s)",
                    "read + preprocess",
                    "xgboost",
                    "random_forest",
                    "logistic_regression",
                    "random_forest_optuna (5 trials + refit)",
                    "evaluate",
                    "peak RSS (MiB)",
                    "best model (by test AUC)",
                    "test ROC AUC",
                    "test AP",
                ],
                "rrrrrrrrrlrr",
            ),
            "",
        ]
        skipped = sorted(set(project["rows"]) - set(baseline["rows"])) if len(project) else []
        if skipped:
            largest = baseline.loc[baseline["rows"].idxmax()]
            out += [
                "Baseline not run at "
                + ", ".join(f"{r:,}" for r in skipped)
                + f" rows, to keep the run short: it took {largest['seconds']:.0f} s at "
                f"{largest['rows']:,} rows, and its single-threaded forests (100 deep trees on "
                "~220 dense one-hot columns, 7 fits) grow faster than the data (at 3M rows, "
                "an hour or more). `--baseline-sizes` runs it there.",
                "",
            ]
    if len(comparison):
        out += [
            "**Project vs baseline, same data, same run.** Speed-up = baseline time / project "
            "time. AUC difference = project champion's test ROC AUC - baseline's best model's "
            "test ROC AUC, each on its own 20 % test split (± 2 standard errors, Hanley-McNeil, "
            "as the splits differ). Paired: both models on the test rows the two splits share "
            "(unseen by both), with a bootstrap 95 % interval.",
            "",
            _markdown(
                [
                    [
                        f"{r.rows:,}",
                        _f(r.project_seconds),
                        _f(r.baseline_seconds),
                        f"**{r.speedup:.1f}x**",
                        f"{r.project_champion} {r.project_roc_auc:.4f}",
                        f"{r.baseline_best} {r.baseline_roc_auc:.4f}",
                        f"**{r.auc_difference:+.4f}** ± {2 * r.auc_difference_se:.4f}",
                        "-"
                        if r.paired_difference is None or np.isnan(r.paired_difference)
                        else f"{r.paired_difference:+.4f} [{r.paired_ci95_low:+.4f}, "
                        f"{r.paired_ci95_high:+.4f}] on {r.paired_rows:,} rows",
                    ]
                    for r in comparison.itertuples()
                ],
                [
                    "training rows",
                    "project (s)",
                    "baseline (s)",
                    "speed-up",
                    "project champion AUC",
                    "baseline best AUC",
                    "AUC difference",
                    "paired AUC difference",
                ],
                "rrrrllrl",
            ),
            "",
        ]
    checks = acceptance(frames)
    out += ["**Acceptance checks** (the issue's):", ""]
    for check, value, passed in checks:
        verdict = "not measured" if passed is None else ("PASS" if passed else "FAIL")
        out.append(f"- {check}: {value} - **{verdict}**")
    out.append("")
    if len(models):
        pivot = models.pivot_table(
            index=["system", "model"], columns="rows", values="roc_auc", aggfunc="first"
        )
        out += [
            "**Every model's test ROC AUC** (average precision in `models.csv`):",
            "",
            _markdown(
                [
                    [system, model, *(_f(v, 4) for v in values)]
                    for (system, model), values in zip(pivot.index, pivot.to_numpy(), strict=True)
                ],
                ["system", "model", *(f"{c:,} rows" for c in pivot.columns)],
                "ll" + "r" * len(pivot.columns),
            ),
            "",
        ]
    if len(nodes):
        largest = nodes["rows"].max()
        top = nodes[nodes["rows"] == largest].nlargest(10, "seconds")
        out += [
            f"**Slowest nodes at {largest:,} rows** (all sizes in `nodes.csv`):",
            "",
            _markdown(
                [[r.node, r.group, _f(r.seconds, 1)] for r in top.itertuples()],
                ["node", "group", "seconds"],
                "llr",
            ),
            "",
        ]
    out += [f"![time and memory against training rows]({image})", ""]
    return "\n".join(out)


def write_results(
    results: list[dict[str, Any]], machine: dict[str, Any], out: Path, quick: bool = False
) -> str:
    """Write ``results.json``, the CSV tables, ``scaling.png`` and ``summary.md`` to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps({"machine": machine, "results": results, "quick": quick}, indent=2, default=str),
        encoding="utf-8",
    )
    frames = tables(results)
    for name, frame in frames.items():
        frame.to_csv(out / f"{name}.csv", index=False)
    if len(frames["sizes"]):
        plot(frames, out / "scaling.png")
    summary = summary_markdown(frames, machine, "scaling.png", quick)
    (out / "summary.md").write_text(summary, encoding="utf-8")
    return summary


def publish(summary: str, out: Path, doc: Path) -> None:
    """Put ``summary`` between the markers of ``doc``, the plot linked relative to ``doc``."""
    image = Path(os.path.relpath(out / "scaling.png", doc.parent)).as_posix()
    body = summary.replace("](scaling.png)", f"]({image})")
    text = doc.read_text(encoding="utf-8") if doc.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """Rebuild the tables, plot and summary from a saved ``results.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_json", type=Path)
    parser.add_argument("--publish", action="store_true", help="update docs/performance.md")
    args = parser.parse_args(argv)
    saved = json.loads(args.results_json.read_text(encoding="utf-8"))
    out = args.results_json.parent
    summary = write_results(saved["results"], saved["machine"], out, saved.get("quick", False))
    sys.stdout.write(summary + "\n")
    if args.publish:
        publish(summary, out, Path(__file__).resolve().parents[1] / "docs" / "performance.md")


if __name__ == "__main__":
    main()
