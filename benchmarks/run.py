"""Benchmark: the default ``kedro run`` against data size, and against the common tutorial pipeline.

For each size (training rows), in a throw-away copy of the project (``conf/``, ``pyproject.toml``,
an empty ``src/``: the package is installed; MLflow and Optuna on sqlite files inside the copy):

1. ``kedro run --pipelines=synthetic_data`` writes ``train.csv`` with the project's generator
   (not timed; it also creates the MLflow store, whose one-off migration is then not timed);
2. ``kedro run`` (the default pipeline) is timed end to end: wall time and peak RSS of the
   process, time per pipeline from the node durations kedro-viz's run hook writes to
   ``.viz/kedro_pipeline_events.json``, the champion's test ROC AUC from the run's MLflow store;
3. at the baseline sizes, ``benchmarks/baseline_tutorial.py`` runs on the same ``train.csv``,
   timed the same way, and both models are compared on the test rows their splits share.

Writes ``results.csv`` (one row per run), ``comparison.csv``, ``summary.md`` and ``scaling.png``
to ``--out``, and each step's log to ``--out``/logs. See docs/performance.md.

    python benchmarks/run.py --publish  # 381,109 and 3M rows, baseline at 381,109; updates the doc
    python benchmarks/run.py --quick    # 3,000 rows: checks the harness end to end (about 1 min)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from sklearn.metrics import roc_auc_score

REPO = Path(__file__).resolve().parents[1]
SIZES = (381_109, 3_000_000)
BASELINE_SIZES = (381_109,)
QUICK_SIZES = (3_000,)
# Fewer Optuna trials in a quick run: it checks the harness, not the figures.
QUICK_PARAMS: tuple[str, ...] = ()
PIPELINES = ("data_engineering", "data_science", "evaluation")  # what `kedro run` runs
PACKAGES = ("kedro", "kedro-mlflow", "mlflow", "optuna", "xgboost", "scikit-learn", "pandas")
DOC = REPO / "docs" / "performance.md"
BEGIN, END = "<!-- results: begin (benchmarks/run.py --publish) -->", "<!-- results: end -->"
# The acceptance checks of docs/performance.md.
REFERENCE_ROWS, LARGEST_ROWS = 381_109, 3_000_000
MIN_SPEEDUP = 5.0
MIN_AUC_GAIN = 0.005
MAX_TIME_PER_ROW_GROWTH = 1.5
MAX_PEAK_GB = 6.0


def make_project_copy(dest: Path) -> Path:
    """What ``kedro run`` needs: the configuration, an empty ``src/`` and empty data folders."""
    shutil.copytree(REPO / "conf", dest / "conf", ignore=shutil.ignore_patterns("local"))
    (dest / "conf" / "local").mkdir()
    shutil.copy2(REPO / "pyproject.toml", dest)
    for folder in ("src", "logs", "data/01_raw", "data/05_model_input", "data/06_models"):
        (dest / folder).mkdir(parents=True, exist_ok=True)
    return dest


def project_env(project: Path) -> dict[str, str]:
    """Environment of every step: the stores inside the copy, no telemetry, default env."""
    env = {k: v for k, v in os.environ.items() if k not in ("KEDRO_ENV", "MLFLOW_REGISTRY_URI")}
    return env | {
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
        "CROSS_SELL_OPTUNA_STORAGE": f"sqlite:///{project / 'data' / '06_models' / 'optuna.db'}",
        "DO_NOT_TRACK": "1",
        "KEDRO_DISABLE_TELEMETRY": "1",
        "PYTHONWARNINGS": "ignore",
    }


def measure(command: list[str], project: Path, log: Path) -> dict[str, float]:
    """Run ``command`` in ``project``: its wall time (s) and peak RSS (MiB, from ``os.wait4``)."""
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=project, env=project_env(project), stdout=out, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if process.returncode:
        tail = log.read_text(errors="replace").splitlines()[-30:]
        sys.exit("\n".join([*tail, f"FAILED: {' '.join(command)} (log: {log})"]))
    return {"seconds": seconds, "peak_rss_mib": usage.ru_maxrss / 1024}  # Linux: KiB


def kedro_run(*args: str) -> list[str]:
    return [sys.executable, "-m", "kedro", "run", *args]


def pipeline_seconds(events: Path) -> dict[str, float]:
    """Node durations summed per pipeline (the node's namespace), from kedro-viz's run events."""
    seconds = dict.fromkeys(PIPELINES, 0.0)
    for event in json.loads(events.read_text()):
        if event["event"] == "after_node_run":
            pipeline = event["node"].split(".")[0]
            seconds[pipeline] = seconds.get(pipeline, 0.0) + event["duration"]
    return seconds


def champion(project: Path) -> dict[str, Any]:
    """The run's champion: its name, test ROC AUC (MLflow) and test scores by id."""
    name = json.loads((project / "data/08_reporting/evaluation/champion.json").read_text())["name"]
    client = MlflowClient(project_env(project)["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name("cross_sell")
    metric = f"test.{name}.roc_auc"
    (run,) = client.search_runs([experiment.experiment_id], f"metrics.`{metric}` > 0")
    auc = run.data.metrics[metric]
    model = joblib.load(project / "data/06_models/champion_model.pkl")
    test = pd.read_parquet(project / "data/05_model_input/test_set.parquet")
    scores = model.predict_proba(test.drop(columns=["id", "response"]))[:, 1]
    return {
        "model": name,
        "test_roc_auc": auc,
        "scores": pd.DataFrame({"id": test["id"], "score": scores}),
    }


def paired_auc(project: pd.DataFrame, baseline: pd.DataFrame, n_boot: int = 500) -> dict[str, Any]:
    """Project minus baseline ROC AUC on the test rows both splits hold out, bootstrap 95 % CI.

    Each system scores its own test split (different seeds), so each AUC has its own sampling
    noise; on the rows both held out, neither model saw them and the difference is paired.
    """
    both = project.merge(baseline, on="id", suffixes=("_project", "_baseline"))
    y = both["response"].to_numpy()
    a, b = both["score_project"].to_numpy(), both["score_baseline"].to_numpy()
    rng = np.random.default_rng(0)
    differences = []
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            differences.append(roc_auc_score(y[i], a[i]) - roc_auc_score(y[i], b[i]))
    low, high = np.quantile(differences, [0.025, 0.975])
    difference = roc_auc_score(y, a) - roc_auc_score(y, b)
    return {
        "shared_test_rows": len(both),
        "paired_auc_difference": difference,
        "ci95_low": low,
        "ci95_high": high,
    }


def run_size(
    rows: int, with_baseline: bool, quick: bool, workdir: Path, logs: Path
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Generate ``rows`` training rows; time ``kedro run`` (and the baseline) on them.

    Returns one result per run and, with the baseline, the paired AUC comparison.
    """
    project = make_project_copy(workdir / f"rows_{rows}")
    print(f"{rows:,} rows: generating ...", flush=True)
    generate = f"--params=synthetic_data.n_train={rows},synthetic_data.n_test=1000"
    measure(
        kedro_run("--pipelines=synthetic_data", generate), project, logs / f"generate_{rows}.log"
    )

    print(f"{rows:,} rows: kedro run ...", end=" ", flush=True)
    run = measure(
        kedro_run(*(QUICK_PARAMS if quick else ())), project, logs / f"project_{rows}.log"
    )
    best = champion(project)
    result = {"rows": rows, "system": "project", **run, "model": best["model"]}
    result["test_roc_auc"] = best["test_roc_auc"]
    events = project / ".viz" / "kedro_pipeline_events.json"
    if events.exists():  # written by kedro-viz's run hook (a default, sequential run)
        shutil.copy2(events, logs / f"project_{rows}_events.json")
        steps = pipeline_seconds(events)
        result |= steps | {"other": run["seconds"] - sum(steps.values())}
    results = [result]
    print(f"{run['seconds']:.0f} s, {run['peak_rss_mib']:.0f} MiB, {best['model']}")
    if not with_baseline:
        return results, None

    print(f"{rows:,} rows: baseline ...", end=" ", flush=True)
    out, scores = workdir / f"baseline_{rows}.json", workdir / f"baseline_{rows}.parquet"
    command = [sys.executable, str(REPO / "benchmarks" / "baseline_tutorial.py")]
    command += [str(project / "data/01_raw/train.csv"), "--json", str(out), "--scores", str(scores)]
    run = measure(command, project, logs / f"baseline_{rows}.log")
    baseline = json.loads(out.read_text())
    model = baseline["best_model"]
    result = {"rows": rows, "system": "baseline", **run, "model": model}
    result["test_roc_auc"] = baseline["metrics"][model]["roc_auc"]
    result |= {step: s for step, s in baseline["seconds"].items() if step != "total"}
    results.append(result)
    print(f"{run['seconds']:.0f} s, {run['peak_rss_mib']:.0f} MiB, {model}")
    return results, paired_auc(best["scores"], pd.read_parquet(scores))


def comparison_table(results: pd.DataFrame, paired: dict[int, dict[str, Any]]) -> pd.DataFrame:
    """Project against baseline at every size where both ran."""
    project = results[results["system"] == "project"].set_index("rows")
    baseline = results[results["system"] == "baseline"].set_index("rows")
    both = project.merge(
        baseline, left_index=True, right_index=True, suffixes=("_project", "_baseline")
    )
    table = pd.DataFrame(
        {
            "project_seconds": both["seconds_project"],
            "baseline_seconds": both["seconds_baseline"],
            "speedup": both["seconds_baseline"] / both["seconds_project"],
            "project_model": both["model_project"],
            "project_roc_auc": both["test_roc_auc_project"],
            "baseline_model": both["model_baseline"],
            "baseline_roc_auc": both["test_roc_auc_baseline"],
            "auc_difference": both["test_roc_auc_project"] - both["test_roc_auc_baseline"],
        }
    )
    return (
        table.join(pd.DataFrame.from_dict(paired, orient="index")).rename_axis("rows").reset_index()
    )


def acceptance(results: pd.DataFrame, comparison: pd.DataFrame) -> list[str]:
    """The checks of docs/performance.md that this run measured, one line each."""
    lines = []
    project = results[results["system"] == "project"].set_index("rows")
    reference = comparison.set_index("rows")
    if REFERENCE_ROWS in reference.index:
        r = reference.loc[REFERENCE_ROWS]
        lines.append(
            f"{REFERENCE_ROWS:,} rows, project at least {MIN_SPEEDUP:g}x faster than the baseline: "
            f"{r.speedup:.1f}x ({r.project_seconds:.0f} s vs {r.baseline_seconds:.0f} s)"
            f" - {'PASS' if r.speedup >= MIN_SPEEDUP else 'FAIL'}"
        )
        lines.append(
            f"{REFERENCE_ROWS:,} rows, champion's test ROC AUC at least {MIN_AUC_GAIN} above the "
            f"baseline's best: {r.auc_difference:+.4f} (paired {r.paired_auc_difference:+.4f}, "
            f"95 % CI [{r.ci95_low:+.4f}, {r.ci95_high:+.4f}])"
            f" - {'PASS' if r.auc_difference >= MIN_AUC_GAIN else 'FAIL'}"
        )
    if {REFERENCE_ROWS, LARGEST_ROWS} <= set(project.index):
        per_row = project["seconds"] / project.index
        growth = per_row[LARGEST_ROWS] / per_row[REFERENCE_ROWS]
        lines.append(
            f"time per row at {LARGEST_ROWS:,} within {MAX_TIME_PER_ROW_GROWTH}x of "
            f"{REFERENCE_ROWS:,}: {growth:.2f}x - {'PASS' if growth <= MAX_TIME_PER_ROW_GROWTH else 'FAIL'}"
        )
    if LARGEST_ROWS in project.index:
        peak = project.loc[LARGEST_ROWS, "peak_rss_mib"] * 2**20 / 1e9
        lines.append(
            f"peak memory at {LARGEST_ROWS:,} rows under {MAX_PEAK_GB:g} GB: {peak:.2f} GB"
            f" - {'PASS' if peak < MAX_PEAK_GB else 'FAIL'}"
        )
    return lines


def plot(results: pd.DataFrame, path: Path) -> None:
    """Wall time and peak RSS against training rows (log-log), project and baseline."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: PLC0415

    figure, (time_axes, memory_axes) = plt.subplots(1, 2, figsize=(10, 4))
    panels = (
        (time_axes, "seconds", "Wall time (s)"),
        (memory_axes, "peak_rss_mib", "Peak RSS (MiB)"),
    )
    for system, style in (("project", "o-"), ("baseline", "s--")):
        runs = results[results["system"] == system].sort_values("rows")
        label = "project: kedro run" if system == "project" else "baseline (tutorial)"
        for axes, column, _ in panels:
            axes.plot(runs["rows"], runs[column], style, label=label)
            for x, y in zip(runs["rows"], runs[column], strict=True):
                axes.annotate(f"{y:,.0f}", (x, y), textcoords="offset points", xytext=(5, 5))
    project = results[results["system"] == "project"].sort_values("rows")
    if len(project) > 1:  # linear in rows, through the smallest size
        xs = project["rows"].to_numpy()
        linear = project["seconds"].iloc[0] * xs / xs[0]
        time_axes.plot(xs, linear, ":", color="grey", label="linear in rows")
    for axes, _, title in panels:
        axes.set(xscale="log", yscale="log", xlabel="training rows", title=title)
        for axis in (axes.xaxis, axes.yaxis):
            axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
            axis.set_minor_formatter(NullFormatter())
        axes.margins(0.15)  # room for the labels
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def machine() -> str:
    """One paragraph: date, commit, CPU, cores, RAM, load, Python and package versions."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in PACKAGES)
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, git {commit or '?'}; {cpu}, "
        f"{len(os.sched_getaffinity(0))} usable cores, {ram:.0f} GiB RAM; Python "
        f"{platform.python_version()}, {versions}"
    )


def markdown(table: pd.DataFrame) -> str:
    """``table`` as markdown: AUCs to 4 decimals, other numbers to 1 below 10, else to 0."""

    def cell(value: Any, column: str) -> str:
        if isinstance(value, str):
            return value
        if pd.isna(value):
            return ""
        if "auc" in column or "ci95" in column:
            return f"{value:.4f}"
        return f"{value:,.1f}" if abs(value) < 10 else f"{value:,.0f}"

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(map(cell, row, table.columns)) + " |")
    return "\n".join(lines)


def summary(results: pd.DataFrame, comparison: pd.DataFrame, about: str, command: str) -> str:
    """The results as markdown: how and where they were measured, tables, acceptance checks."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    project = results[results["system"] == "project"].dropna(axis=1, how="all")
    baseline = results[results["system"] == "baseline"].dropna(axis=1, how="all")
    parts = [
        f"`{command}`: {about}; load average at the end {load}.",
        "**The project's default `kedro run`** (seconds: wall time of the whole command; "
        "`data_engineering` ... `evaluation`: node time per pipeline; `other`: start-up, dataset "
        "I/O, MLflow logging and the servable model):",
        markdown(project.drop(columns="system")),
    ]
    if len(baseline):
        parts += [
            "**The tutorial baseline** (seconds: wall time of the whole script; then its steps):",
            markdown(baseline.drop(columns="system")),
        ]
    if len(comparison):
        parts += [
            "**Project against baseline** (speed-up: baseline time / project time; AUC "
            "difference: each on its own test split; paired: on the test rows both splits hold "
            "out, with a bootstrap 95 % interval):",
            markdown(comparison),
        ]
    checks = acceptance(results, comparison)
    if checks:
        parts += ["**Acceptance checks**:", "\n".join(f"- {line}" for line in checks)]
    parts.append("![Wall time and peak memory against training rows](scaling.png)")
    return "\n\n".join(parts) + "\n"


def publish(text: str, out: Path, doc: Path = DOC) -> None:
    """Replace the results section of docs/performance.md (between its markers) with ``text``."""
    head, rest = doc.read_text().split(BEGIN)
    image = os.path.relpath(out / "scaling.png", doc.parent)
    text = text.replace("](scaling.png)", f"]({image})")
    doc.write_text(f"{head}{BEGIN}\n{text}{END}{rest.split(END, 1)[1]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="3,000 rows, 3 trials: check the harness"
    )
    parser.add_argument("--sizes", type=int, nargs="+", help=f"training rows (default {SIZES})")
    parser.add_argument("--baseline-sizes", type=int, nargs="*", help=f"default {BASELINE_SIZES}")
    parser.add_argument("--out", type=Path, help="results folder (default benchmarks/results)")
    parser.add_argument("--publish", action="store_true", help="write the summary into the doc")
    parser.add_argument("--keep", action="store_true", help="keep the project copies")
    args = parser.parse_args(argv)
    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    baseline_sizes = args.baseline_sizes
    if baseline_sizes is None:
        baseline_sizes = QUICK_SIZES if args.quick else BASELINE_SIZES
    out = args.out or REPO / "benchmarks" / "results" / ("quick" if args.quick else "")
    (out / "logs").mkdir(parents=True, exist_ok=True)
    about = machine()
    print(about, flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="cross-sell-benchmark-"))
    runs, paired = [], {}
    try:
        for rows in sizes:
            results, paired[rows] = run_size(
                rows, rows in baseline_sizes, args.quick, workdir, out / "logs"
            )
            runs += results
    finally:
        if args.keep:
            print(f"project copies kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results = pd.DataFrame(runs)
    comparison = comparison_table(results, {k: v for k, v in paired.items() if v})
    results.to_csv(out / "results.csv", index=False, float_format="%.4f")
    comparison.to_csv(out / "comparison.csv", index=False, float_format="%.4f")
    plot(results, out / "scaling.png")
    command = " ".join(["python benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)])
    text = summary(results, comparison, about, command)
    (out / "summary.md").write_text(text)
    print(text)
    if args.publish:
        publish(text, out)
        print(f"{DOC.relative_to(REPO)} updated")


if __name__ == "__main__":
    main()
