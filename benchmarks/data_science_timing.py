"""Time the ``data_science`` pipeline (split, 3 families, tuning, tuned refits) on full-size data.

Not a test: a script. It builds a throw-away copy of the project (``pyproject.toml`` + ``conf/``
in a temporary directory, so the project's own ``data/`` is never touched), writes a
381,109-row model input table there, runs ``data_science`` through a ``KedroSession`` with
MLflow and the Optuna storage pointed at temporary stores, and prints per-node times, the total
and every model's validation metrics.

    MLFLOW_TRACKING_URI is set by the script. Run from the project root:
    DO_NOT_TRACK=1 KEDRO_DISABLE_TELEMETRY=1 /work/venv/bin/python benchmarks/data_science_timing.py

The table comes from the synthetic_data generator + data_engineering cleaning when both are
importable (``--source generator``), else from the test fixture's generator (``--source fixture``).
"""

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))  # for the test fixture's generator

from tests.pipelines.data_science.model_input import make_model_input_table  # noqa: E402

try:
    from cross_sell.pipelines.data_engineering.nodes import clean_raw_table
    from cross_sell.pipelines.synthetic_data.nodes import generate_train
except ImportError:  # not written yet: fall back on the fixture's generator
    clean_raw_table = generate_train = None


class NodeTimer:
    """Kedro hooks recording each node's run time (inputs loaded, outputs not yet saved)."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}

    @hook_impl
    def before_node_run(self, node) -> None:
        self.started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node) -> None:
        self.seconds[node.name] = time.perf_counter() - self.started[node.name]


def model_input_table(rows: int, seed: int, source: str):
    """The clean model input table, from the project's generator or the test fixture's."""
    if source == "generator" and generate_train is None:
        raise ImportError("synthetic_data / data_engineering nodes are not importable")
    if source != "fixture" and generate_train is not None:
        raw = generate_train({"n_train": rows, "n_test": 2, "seed": seed})
        return clean_raw_table(raw), "synthetic_data generator + data_engineering cleaning"
    return make_model_input_table(rows, seed), "test fixture generator"


def make_project() -> Path:
    """A throw-away project: the configuration copied, empty data folders, temporary stores."""
    workdir = Path(tempfile.mkdtemp(prefix="ds-timing-"))
    shutil.copy(PROJECT / "pyproject.toml", workdir)
    shutil.copytree(PROJECT / "conf", workdir / "conf")
    (workdir / "src").mkdir()  # the code is the installed (editable) cross_sell package
    (workdir / "conf" / "local").mkdir(exist_ok=True)
    for layer in ("05_model_input", "06_models", "08_reporting"):
        (workdir / "data" / layer).mkdir(parents=True)
    (workdir / "logs").mkdir()
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir}/mlflow.db"
    os.environ["CROSS_SELL_OPTUNA_STORAGE"] = f"sqlite:///{workdir}/optuna.db"
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    return workdir


def report_models(workdir: Path) -> None:
    """Print every model's validation metrics and the tuned parameters."""
    print(f"\n{'model':22s} {'roc_auc':>8s} {'avg_prec':>8s} {'log_loss':>8s} {'brier':>8s}")
    aucs = {}
    for path in sorted((workdir / "data/08_reporting").glob("*/validation_metrics.json")):
        metrics = json.loads(path.read_text())
        aucs[path.parent.name] = metrics["roc_auc"]
        print(
            f"{path.parent.name:22s} {metrics['roc_auc']:8.5f} {metrics['average_precision']:8.4f}"
            f" {metrics['log_loss']:8.4f} {metrics['brier']:8.4f}"
        )
    if {"xgboost", "xgboost_tuned"} <= set(aucs):
        print(f"xgboost_tuned AUC >= xgboost AUC: {aucs['xgboost_tuned'] >= aucs['xgboost']}")
    for path in sorted((workdir / "data/06_models").glob("*_best_params.json")):
        print(f"{path.name}: {path.read_text()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=381_109)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", choices=["auto", "generator", "fixture"], default="auto")
    parser.add_argument("--pipeline", default="data_science")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args()

    workdir = make_project()
    os.chdir(workdir)
    table, origin = model_input_table(args.rows, args.seed, args.source)
    table.to_parquet(workdir / "data/05_model_input/model_input_table.parquet")
    print(f"model input table: {len(table):,} rows from the {origin}; project copy in {workdir}")

    # Create the MLflow store now: its one-off schema migration is not part of a run.
    mlflow.MlflowClient(os.environ["MLFLOW_TRACKING_URI"]).search_experiments()
    timer = NodeTimer()
    bootstrap_project(workdir)
    load_before = os.getloadavg()[0]
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    with KedroSession.create(project_path=workdir) as session:
        session._hook_manager.register(timer)  # no public API to add a hook to a session
        session.run(pipeline_names=[args.pipeline])
    total = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)

    print(f"\n{'node':55s} {'seconds':>8s}")
    for name, seconds in sorted(timer.seconds.items(), key=lambda item: -item[1]):
        print(f"{name:55s} {seconds:8.1f}")
    print(f"{'sum of node times':55s} {sum(timer.seconds.values()):8.1f}")
    print(f"{'session.run total (with I/O, hooks, MLflow)':55s} {total:8.1f}")
    print(f"{'CPU time of the run (all threads)':55s} {cpu:8.1f}")
    print(f"1-min load average before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f}")
    report_models(workdir)

    while mlflow.active_run():  # before deleting its store
        mlflow.end_run()
    if args.keep:
        print(f"\nkept {workdir}")
    else:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
