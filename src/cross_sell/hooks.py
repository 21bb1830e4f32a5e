"""Project hooks: lineage tags and node timings on the MLflow run that kedro-mlflow opens.

kedro-mlflow's hooks are registered after the project's, so (pluggy calls the last registered first)
its ``before_pipeline_run`` has opened the run when ours runs, and its ``after_pipeline_run`` has
closed it when ours runs: after the run ends we write through an ``MlflowClient`` by run id.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import time
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from mlflow.tracking import MlflowClient

from cross_sell.datasets import RawCSVDataset

logger = logging.getLogger(__name__)

RAW_DATASETS = ("raw_train", "raw_test")


def file_sha256(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def git_commit(project_path: str | Path) -> str | None:
    """The project's git commit (with ``-dirty`` when the work tree has changes), or None."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=project_path,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=project_path,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha


class LineageHooks:
    """Tags the MLflow run with the git commit and each raw file's row count and hash."""

    def __init__(self) -> None:
        self._run_id: str | None = None

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        active = mlflow.active_run()
        self._run_id = active.info.run_id if active else None
        if self._run_id is None:
            return
        commit = git_commit(run_params.get("project_path") or Path.cwd())
        if commit:
            mlflow.set_tag("git.commit", commit)

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any) -> None:
        if self._run_id is None or dataset_name not in RAW_DATASETS:
            return
        tags = {f"data.{dataset_name}.rows": len(data)}
        source = getattr(data, "attrs", {}).get("source")
        if source and Path(source).is_file():
            tags[f"data.{dataset_name}.file"] = str(source)
            tags[f"data.{dataset_name}.sha256"] = file_sha256(source)
        MlflowClient().log_batch(
            self._run_id, tags=[mlflow.entities.RunTag(k, str(v)) for k, v in tags.items()]
        )


class NodeTimingHooks:
    """Times every node and the whole pipeline; logs them as MLflow metrics ``time.*`` (seconds)."""

    def __init__(self) -> None:
        self._run_id: str | None = None
        self._started: dict[str, float] = {}
        self._durations: dict[str, float] = {}
        self._pipeline_start = 0.0

    @hook_impl
    def before_pipeline_run(self) -> None:
        active = mlflow.active_run()
        self._run_id = active.info.run_id if active else None
        self._started.clear()
        self._durations.clear()
        self._pipeline_start = time.perf_counter()

    @hook_impl
    def before_node_run(self, node) -> None:
        self._started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node) -> None:
        self._durations[node.name] = time.perf_counter() - self._started.pop(node.name)

    @hook_impl
    def after_pipeline_run(self) -> None:
        total = time.perf_counter() - self._pipeline_start
        slowest = sorted(self._durations.items(), key=lambda item: -item[1])[:5]
        logger.info(
            "Pipeline took %.1f s; slowest nodes: %s",
            total,
            ", ".join(f"{name} {seconds:.1f} s" for name, seconds in slowest),
        )
        if self._run_id is None:
            return
        metrics = {"time.pipeline": total} | {
            f"time.node.{name}": seconds for name, seconds in self._durations.items()
        }
        now = int(time.time() * 1000)
        MlflowClient().log_batch(
            self._run_id,
            metrics=[mlflow.entities.Metric(k, v, now, 0) for k, v in metrics.items()],
        )


class RawOverwriteGuardHook:
    """Refuse a run up front if any ``RawCSVDataset`` it writes would be refused at save time.

    ``RawCSVDataset.save`` checks each file when it is written; registered in ``settings.HOOKS``,
    this hook checks all of them before the first node runs, so a run that would replace a
    user's ``test.csv`` does not first write ``train.csv``.
    """

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        for name in sorted(pipeline.all_outputs()):
            dataset = catalog.get(name)
            if isinstance(dataset, RawCSVDataset):
                dataset.ensure_writable()
