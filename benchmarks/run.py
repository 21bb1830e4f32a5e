"""Benchmark harness: the project's default pipeline (and the tutorial baseline) against data size.

For each size (training rows), in a throw-away copy of the project (``conf/``, ``pyproject.toml``,
``.telemetry``, an empty ``src/``; MLflow and Optuna on sqlite files inside the copy):

1. a subprocess generates ``data/01_raw/train.csv`` with the project's generator
   (``kedro run --pipelines=synthetic_data`` through a ``KedroSession``);
2. a subprocess runs the project's default pipeline (``kedro run``: data_engineering +
   data_science + evaluation) through a ``KedroSession``; it reports the wall time of
   ``session.run``, the node times the project's ``NodeTimingHooks`` logged to the MLflow run,
   and every model's test metrics (``model_comparison.csv``, ``champion.json``);
3. where asked (``--baseline-sizes``), a subprocess runs ``baseline_tutorial.py`` on the same
   ``train.csv``.

Each subprocess's peak resident memory is read by the parent from ``os.wait4`` (the child's
``ru_maxrss``), so each step is measured on its own. Results go to ``--out`` (CSV tables, a
markdown summary, a PNG plot) and, for a full run, into ``docs/performance.md``.

    python benchmarks/run.py            # 100k, 381,109, 1M, 3M rows; baseline at 100k and 381k
    python benchmarks/run.py --quick    # 100k rows, project and baseline (a few minutes)

Internal sub-commands (run in the subprocesses): ``_generate`` and ``_project``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from kedro.framework.hooks import hook_impl  # noqa: E402

from benchmarks import report  # noqa: E402

FULL_SIZES = (100_000, 381_109, 1_000_000, 3_000_000)
FULL_BASELINE_SIZES = (100_000, 381_109)
QUICK_SIZES = (100_000,)
DATA_LAYERS = ("01_raw", "05_model_input", "06_models", "07_model_output", "08_reporting")
PACKAGES = (
    "kedro",
    "kedro-datasets",
    "kedro-mlflow",
    "mlflow",
    "optuna",
    "xgboost",
    "scikit-learn",
    "pandas",
    "numpy",
    "pyarrow",
    "pandera",
)
# Groups of the default pipeline's nodes, reported as "per pipeline" times.
GROUPS = ("data_engineering", "data_science", "tuning", "evaluation")


# ------------------------------------------------------------------------------ project copy
def make_project_copy(dest: Path) -> Path:
    """Copy what a Kedro run needs into ``dest`` (the package itself is installed)."""
    dest.mkdir(parents=True)
    shutil.copytree(REPO / "conf", dest / "conf", ignore=shutil.ignore_patterns("local"))
    (dest / "conf" / "local").mkdir()
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy2(REPO / name, dest / name)
    (dest / "src").mkdir()
    for layer in DATA_LAYERS:
        (dest / "data" / layer).mkdir(parents=True)
    (dest / "logs").mkdir()
    return dest


def project_env(project: Path) -> dict[str, str]:
    """The environment of every subprocess: stores inside the copy, no telemetry."""
    env = dict(os.environ)
    env.update(
        MLFLOW_TRACKING_URI=f"sqlite:///{project / 'mlflow.db'}",
        CROSS_SELL_OPTUNA_STORAGE=f"sqlite:///{project / 'data' / '06_models' / 'optuna.db'}",
        DO_NOT_TRACK="1",
        KEDRO_DISABLE_TELEMETRY="1",
        PYTHONWARNINGS="ignore",
        COLUMNS="200",  # wide console logs (rich wraps at 80 columns without a terminal)
    )
    env.pop("KEDRO_ENV", None)
    return env


def run_measured(
    command: list[str], cwd: Path, env: dict[str, str], log: Path, timeout: float | None
) -> dict[str, Any]:
    """Run ``command``; return its exit code, wall time and peak RSS (``os.wait4``, bytes)."""
    started = time.perf_counter()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = None if timeout is None else started + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.2)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen.wait
    timed_out = deadline is not None and time.perf_counter() > deadline
    return {
        "returncode": process.returncode,
        "timed_out": timed_out,
        "process_seconds": time.perf_counter() - started,
        "peak_rss_bytes": usage.ru_maxrss * 1024,  # Linux reports KiB
    }


# ------------------------------------------------------------------------------ sub-commands
def _bootstrap(project: Path) -> None:
    from kedro.framework.startup import bootstrap_project  # noqa: PLC0415

    os.chdir(project)
    bootstrap_project(project)


def generate_command(project: Path, rows: int, out: Path) -> None:
    """Write ``train.csv`` with the project's generator; report its size on disk and in memory."""
    import mlflow  # noqa: PLC0415
    from kedro.framework.session import KedroSession  # noqa: PLC0415

    from cross_sell.datasets import RawCSVDataset  # noqa: PLC0415

    _bootstrap(project)
    started = time.perf_counter()
    params = {"synthetic_data": {"n_train": rows, "n_test": 1000, "seed": 42}}
    with KedroSession.create(project_path=project, runtime_params=params) as session:
        session.run(pipeline_names=["synthetic_data"])
    seconds = time.perf_counter() - started
    train_csv = project / "data" / "01_raw" / "train.csv"
    raw = RawCSVDataset(filepath=train_csv).load()
    # Create the MLflow store now: its one-off schema migration is not part of the run timed.
    mlflow.MlflowClient(os.environ["MLFLOW_TRACKING_URI"]).search_experiments()
    result = {
        "rows": len(raw),
        "generate_seconds": seconds,
        "raw_file_bytes": train_csv.stat().st_size,
        "raw_memory_bytes": int(raw.memory_usage(deep=True).sum()),
    }
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")


def _node_groups() -> dict[str, str]:
    """Node name -> group (``GROUPS``) of the default pipeline.

    The split node is part of ``tuning`` too (so that ``--pipelines=tuning`` runs on its own):
    it counts as ``data_science``.
    """
    from kedro.framework.project import pipelines  # noqa: PLC0415

    def names(pipeline_name: str, skip_split: bool = False) -> set[str]:
        return {
            node.name
            for node in pipelines[pipeline_name].nodes
            if not (skip_split and "train_set" in node.outputs)
        }

    groups = dict.fromkeys(names("data_engineering"), "data_engineering")
    groups |= dict.fromkeys(names("data_science"), "data_science")
    groups |= dict.fromkeys(names("tuning", skip_split=True), "tuning")
    groups |= dict.fromkeys(names("evaluation"), "evaluation")
    return groups


def _pipeline_run_metrics() -> dict[str, float]:
    """The metrics of the latest MLflow run that holds the project's ``time.pipeline``."""
    from mlflow.tracking import MlflowClient  # noqa: PLC0415

    client = MlflowClient()
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, order_by=["attributes.start_time DESC"], max_results=500)
    for run in runs:
        if "time.pipeline" in run.data.metrics:
            return dict(run.data.metrics) | {"run_id": run.info.run_id}
    raise RuntimeError("no MLflow run holds `time.pipeline`: is NodeTimingHooks registered?")


def _max_rss() -> int:
    """Peak resident memory of this process so far, in bytes (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class MemoryHook:
    """Records the process's peak RSS after each node (and its outputs' saving), in run order.

    The node after which the peak grows most is where the run's peak memory is reached.
    """

    def __init__(self) -> None:
        self.peaks: list[tuple[str, int]] = []
        self._node = "(start)"

    @hook_impl
    def before_pipeline_run(self) -> None:
        self.peaks.append(("(start)", _max_rss()))

    @hook_impl
    def before_node_run(self, node) -> None:
        self._node = node.name

    @hook_impl
    def after_node_run(self, node) -> None:
        self.peaks.append((node.name, _max_rss()))

    @hook_impl
    def after_dataset_saved(self) -> None:
        if self.peaks and self.peaks[-1][0] == self._node:
            self.peaks[-1] = (self._node, _max_rss())


def project_command(project: Path, out: Path) -> None:
    """Run the default pipeline; report times, node times, test metrics and the champion's scores."""
    import pandas as pd  # noqa: PLC0415
    from kedro.framework.session import KedroSession  # noqa: PLC0415

    _bootstrap(project)
    memory = MemoryHook()
    started = time.perf_counter()
    with KedroSession.create(project_path=project) as session:
        session._hook_manager.register(memory)  # no public API adds a hook to one session
        session.run()
    seconds = time.perf_counter() - started
    peak_rss_run = _max_rss()

    metrics = _pipeline_run_metrics()
    nodes = {
        k.removeprefix("time.node."): v for k, v in metrics.items() if k.startswith("time.node.")
    }
    groups = _node_groups()
    unknown = sorted(set(nodes) - set(groups))
    comparison = pd.read_csv(project / "data/08_reporting/evaluation/model_comparison.csv")
    champion = json.loads((project / "data/06_models/champion.json").read_text())

    # The champion's test scores by id, for a paired comparison with the baseline (not timed).
    with KedroSession.create(project_path=project) as session:
        catalog = session.load_context().catalog
        model, test_set = catalog.load("champion_model"), catalog.load("test_set")
    scores = model.predict_proba(test_set.drop(columns=["id", "response"]))[:, 1]
    pd.DataFrame(
        {"id": test_set["id"], "response": test_set["response"], "score": scores}
    ).to_parquet(out.with_suffix(".scores.parquet"), index=False)

    result = {
        "seconds": seconds,
        "pipeline_seconds": metrics["time.pipeline"],
        "peak_rss_run_bytes": peak_rss_run,
        "peak_rss_after_node": memory.peaks,
        "nodes": nodes,
        "node_groups": {name: groups.get(name, "other") for name in nodes},
        "unknown_nodes": unknown,
        "models": comparison[["model", "roc_auc", "average_precision"]].to_dict("records"),
        "champion": champion["name"],
        "mlflow_run_id": metrics["run_id"],
    }
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")


# ------------------------------------------------------------------------------ orchestration
def machine_info() -> dict[str, Any]:
    """Cores, RAM, CPU model, OS, Python and package versions, git commit, load average."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "ram_bytes": ram,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": versions,
        "git_commit": commit,
        "load_average_start": os.getloadavg(),
    }


def _step(
    name: str,
    command: list[str],
    project: Path,
    *,
    logs: Path,
    out: Path,
    timeout: float | None,
) -> dict[str, Any] | None:
    """Run one measured subprocess that writes JSON to ``out``; None (and a message) on failure."""
    print(f"  {name} ...", end=" ", flush=True)
    log = logs / f"{out.stem}.log"
    measured = run_measured(command, project, project_env(project), log, timeout)
    if measured["returncode"] != 0 or not out.exists():
        why = "timed out" if measured["timed_out"] else f"exit code {measured['returncode']}"
        print(f"FAILED ({why}; log: {log})")
        return None
    result = json.loads(out.read_text()) | measured
    print(
        f"{measured['process_seconds']:.0f} s, peak RSS {measured['peak_rss_bytes'] / 2**20:.0f} MiB"
    )
    return result


def run_size(
    rows: int, baseline: bool, workdir: Path, logs: Path, timeout: float | None
) -> dict[str, Any]:
    """Generate data, run the project (and the baseline) at ``rows`` training rows."""
    project = make_project_copy(workdir / f"rows_{rows}")
    me = [sys.executable, str(Path(__file__).resolve())]
    print(f"{rows:,} rows (project copy {project})", flush=True)
    results: dict[str, Any] = {"rows": rows}
    gen_out = workdir / f"generate_{rows}.json"
    results["data"] = _step(
        "generate",
        [*me, "_generate", str(project), str(rows), str(gen_out)],
        project,
        logs=logs,
        out=gen_out,
        timeout=timeout,
    )
    if results["data"] is None:
        return results
    project_out = workdir / f"project_{rows}.json"
    results["project"] = _step(
        "project (kedro run)",
        [*me, "_project", str(project), str(project_out)],
        project,
        logs=logs,
        out=project_out,
        timeout=timeout,
    )
    if results["project"]:
        results["project"]["scores"] = str(project_out.with_suffix(".scores.parquet"))
    if baseline:
        base_out = workdir / f"baseline_{rows}.json"
        scores = base_out.with_suffix(".scores.parquet")
        command = [
            sys.executable,
            str(REPO / "benchmarks" / "baseline_tutorial.py"),
            str(project / "data" / "01_raw" / "train.csv"),
            "--json",
            str(base_out),
            "--scores",
            str(scores),
        ]
        results["baseline"] = _step(
            "baseline", command, project, logs=logs, out=base_out, timeout=timeout
        )
        if results["baseline"]:
            results["baseline"]["scores"] = str(scores)
    if results.get("project") and results.get("baseline"):
        results["paired"] = report.paired_comparison(
            results["project"]["scores"], results["baseline"]["scores"]
        )
    return results


def main(argv: list[str] | None = None) -> None:
    """Parse arguments; dispatch the internal sub-commands or run the benchmark."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_generate":
        generate_command(Path(argv[1]), int(argv[2]), Path(argv[3]))
        return
    if argv and argv[0] == "_project":
        project_command(Path(argv[1]), Path(argv[2]))
        return

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k rows only (a few minutes)")
    parser.add_argument("--sizes", type=int, nargs="+", help="training rows per size")
    parser.add_argument(
        "--baseline-sizes", type=int, nargs="*", help="sizes at which the baseline also runs"
    )
    parser.add_argument("--out", type=Path, help="results folder (default benchmarks/results)")
    parser.add_argument("--timeout", type=float, default=3 * 3600, help="seconds per step")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project copies")
    parser.add_argument(
        "--publish",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write the results into docs/performance.md (default: only for a full run)",
    )
    args = parser.parse_args(argv)
    custom = args.sizes is not None or args.baseline_sizes is not None
    sizes = tuple(args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES))
    baseline_sizes = set(
        args.baseline_sizes
        if args.baseline_sizes is not None
        else (QUICK_SIZES if args.quick else FULL_BASELINE_SIZES)
    )
    out = args.out or REPO / "benchmarks" / "results" / ("quick" if args.quick else "")
    publish = args.publish if args.publish is not None else not (args.quick or custom)
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    logs.mkdir(exist_ok=True)

    machine = machine_info()
    machine["command"] = " ".join(["python benchmarks/run.py", *argv])
    print(f"Machine: {machine['cpu']}, {machine['usable_cores']} cores; results in {out}")
    workdir = Path(tempfile.mkdtemp(prefix="cross-sell-bench-"))
    started = time.perf_counter()
    results = []
    try:
        for rows in sizes:
            results.append(run_size(rows, rows in baseline_sizes, workdir, logs, args.timeout))
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    machine["load_average_end"] = os.getloadavg()
    machine["benchmark_seconds"] = time.perf_counter() - started
    summary = report.write_results(results, machine, out, quick=args.quick)
    print(summary)
    if publish:
        report.publish(summary, out, REPO / "docs" / "performance.md")
        print("docs/performance.md updated")


if __name__ == "__main__":
    main()
