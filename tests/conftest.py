"""Shared fixtures: throw-away copies of the project, and real `kedro` runs inside them.

End-to-end tests run the real CLI (`python -m kedro run ...`) in a copy of the project's `conf/` under a
temporary folder, with MLflow pointed at a temporary sqlite store, so the repository's own `data/` and
`mlflow.db` are never touched.

Session-scoped projects, each built once:

- ``generated_project``: small generated raw files; ``trained_project``: one ``kedro run`` on them.
  Tests only read these two.
- ``champion_sequence``: a clone of ``trained_project`` (MLflow store included) whose registry
  the tests change: ``evaluation`` alone with another champion metric, then batch ``inference``;
  ``served_champion`` serves its ``models:/cross_sell@champion`` with ``mlflow models serve``.
"""

from __future__ import annotations

import os

# One OpenMP thread for XGBoost and scikit-learn, in this process and every `kedro` it starts (set
# before either library loads): the suite's data are small and CI machines are shared, where
# spinning OpenMP threads made fits several times slower (docs/models.md). A developer's own
# setting wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import contextlib
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from kedro.pipeline import Pipeline
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cross_sell import settings as project_settings
from cross_sell.pipeline_registry import register_pipelines
from tests.pipelines.inference.serving_support import ServedModel, serve_model

REPO = Path(__file__).resolve().parents[1]
DATA_LAYERS = (
    "01_raw",
    "02_intermediate",
    "03_primary",
    "04_feature",
    "05_model_input",
    "06_models",
    "07_model_output",
    "08_reporting",
)
# Small but realistic: enough rows for every family to learn something, fast enough for the suite.
SMALL_DATA = "synthetic_data.n_train=6000,synthetic_data.n_test=1500"


def make_project_copy(dest: Path) -> Path:
    """Copy what a Kedro run needs (conf, pyproject, telemetry consent, src link) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "conf", dest / "conf", ignore=shutil.ignore_patterns("local"))
    (dest / "conf" / "local").mkdir()
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy2(REPO / name, dest / name)
    (dest / "src").mkdir()  # Kedro checks it exists; the package itself is installed
    for layer in DATA_LAYERS:
        (dest / "data" / layer).mkdir(parents=True)
    (dest / "logs").mkdir()
    return dest


def kedro_env(project: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MLFLOW_REGISTRY_URI", None)  # the registry follows the tracking store below
    env.update(
        MLFLOW_TRACKING_URI=f"sqlite:///{project / 'mlflow.db'}",
        DO_NOT_TRACK="1",
        KEDRO_DISABLE_TELEMETRY="1",
        PYTHONWARNINGS="ignore",
    )
    return env


def tracking_uri(project: Path) -> str:
    """The MLflow store of a project copy (``kedro_env`` points its runs there)."""
    return f"sqlite:///{project / 'mlflow.db'}"


@contextlib.contextmanager
def mlflow_uri(uri: str) -> Iterator[None]:
    """MLflow's tracking and registry URIs set to ``uri`` (a store or a server), then reset."""
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)
        mlflow.set_registry_uri(None)  # the registry follows the tracking URI again


def mlflow_store(project: Path) -> contextlib.AbstractContextManager[None]:
    """MLflow's tracking and registry URIs set to ``project``'s store, then reset."""
    return mlflow_uri(tracking_uri(project))


def latest_version(project: Path, versioned: str) -> Path:
    """The newest version of a versioned file, e.g. ``data/07_model_output/predictions.csv``."""
    folder = project / versioned
    return sorted(folder.iterdir())[-1] / folder.name


# Where an MLflow sqlite store records absolute paths (of artifacts and logged models).
STORE_PATH_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("model_versions", "storage_location"),
    ("logged_models", "artifact_location"),
)


def clone_project(source: Path, dest: Path) -> Path:
    """A copy of a project after its runs (data, ``mlflow.db``, ``mlruns/``) whose MLflow store
    points at the copy's own artifacts, so the copy can be changed and ``source`` is untouched."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("*.log", "build"))
    with contextlib.closing(sqlite3.connect(dest / "mlflow.db")) as db, db:
        for table, column in STORE_PATH_COLUMNS:
            db.execute(
                f"UPDATE {table} SET {column} = replace({column}, ?, ?)", (str(source), str(dest))
            )
    return dest


def output(result: subprocess.CompletedProcess) -> str:
    """Everything a `kedro` command printed (the log goes to stdout, errors to stderr)."""
    return result.stdout + result.stderr


LOG_RECORD = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) +", re.MULTILINE)


def log_records(text: str, level: str | None = None) -> list[str]:
    """The records of a run's console log (conf/logging.yml: "HH:MM:SS LEVEL message", a
    message may span lines), optionally only those of ``level``."""
    starts = list(LOG_RECORD.finditer(text))
    records = []
    for here, after in zip(starts, [*starts[1:], None], strict=True):
        end = after.start() if after else len(text)
        if level is None or here.group(1) == level:
            records.append(text[here.end() : end].rstrip())
    return records


def top_level_runs(project: Path) -> list[Any]:
    """The project's MLflow runs of pipelines (not nested trial runs), oldest first."""
    client = MlflowClient(tracking_uri=tracking_uri(project))
    experiment = client.get_experiment_by_name("cross_sell")
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    return [run for run in runs if "mlflow.parentRunId" not in run.data.tags]


def run_kedro(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m kedro <args>`` in ``project``; on an unexpected outcome show its output."""
    result = subprocess.run(
        [sys.executable, "-m", "kedro", *args],
        check=False,
        cwd=project,
        env=kedro_env(project),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=900,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"kedro {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
        )
    return result


MLFLOW_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@pytest.fixture(autouse=True)
def _no_active_mlflow_run() -> Iterator[None]:
    """MLflow keeps one process-wide stack of active runs: a run a test left open (its store
    already gone) must not be ended by the next test against another store."""
    yield
    while mlflow.active_run():
        with contextlib.suppress(MlflowException):
            mlflow.end_run()  # pops the run first, then marks it ended where it lives


@pytest.fixture(autouse=True)
def _restore_mlflow_uri_variables() -> Iterator[None]:
    """mlflow.set_tracking_uri / set_registry_uri also export these variables (for subprocesses)
    and never unset them: restore them after each test so no store leaks into the next one."""
    saved = {name: os.environ.get(name) for name in MLFLOW_URI_VARIABLES}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh, empty copy of the project (no data) for one test."""
    return make_project_copy(tmp_path / "project")


@pytest.fixture(scope="session")
def generated_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy holding small generated raw files (run once per test session)."""
    path = make_project_copy(tmp_path_factory.mktemp("generated") / "project")
    run_kedro(path, "run", "--pipelines=synthetic_data", f"--params={SMALL_DATA}")
    return path


# The tests need trained models of every family, not good ones: boosting with a higher learning
# rate and less patience, permutation importance on fewer rows (conf/base keys, overridden one by
# one: parameters merge softly).
FAST_TRAINING = ",".join(
    [
        "xgboost.kwargs.learning_rate=0.1",
        "xgboost.kwargs.early_stopping_rounds=20",
        "xgboost_native.kwargs.learning_rate=0.1",
        "xgboost_native.kwargs.early_stopping_rounds=20",
        "hist_gradient_boosting.kwargs.learning_rate=0.2",
        "hist_gradient_boosting.kwargs.n_iter_no_change=10",
        "evaluation.feature_importance.n_rows=1000",
        "evaluation.feature_importance.n_repeats=1",
    ]
)


@pytest.fixture(scope="session")
def trained_project(generated_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy with small raw data on which the training job (``kedro run``) ran once.

    It copies the raw files of ``generated_project`` and leaves that project untouched.
    """
    path = make_project_copy(tmp_path_factory.mktemp("trained") / "project")
    shutil.copytree(
        generated_project / "data" / "01_raw", path / "data" / "01_raw", dirs_exist_ok=True
    )
    run_kedro(path, "run", f"--params={FAST_TRAINING}")
    return path


def registered_pipelines(project: Path | None = None) -> dict[str, Pipeline]:
    """Every pipeline the project registers.

    The registry is fixed in code (it reads no conf/), so every project copy registers the same
    pipelines; ``project`` is accepted for the callers that name the copy they look at.
    """
    return register_pipelines()


def project_config(project: Path, key: str) -> dict[str, Any]:
    """``catalog``, ``parameters``... of ``project/conf`` through the project's config loader."""
    loader = project_settings.CONFIG_LOADER_CLASS(
        conf_source=str(project / "conf"), **project_settings.CONFIG_LOADER_ARGS
    )
    return loader[key]


# ------------------------------------------------------------------ a registry that tests change
# After trained_project's default run, the sequence: evaluation alone with another
# champion metric, then batch inference.
SEQUENCE_STEPS = {
    "evaluation": (
        "run",
        "--pipelines=evaluation",
        "--params=evaluation.champion.metric=expected_profit",
    ),
    "inference": ("run", "--pipelines=inference"),
}


@dataclass
class ChampionSequence:
    """A clone of ``trained_project`` after the runs of ``SEQUENCE_STEPS``: each step's MLflow
    run id (``train``: the clone's default run) and what each step printed."""

    project: Path
    output: dict[str, str]
    run_id: dict[str, str]


@pytest.fixture(scope="session")
def champion_sequence(
    trained_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> ChampionSequence:
    """The tests that change a registry (new versions, the alias) use this clone of
    ``trained_project`` (its MLflow store included), never ``trained_project`` itself."""
    path = clone_project(trained_project, tmp_path_factory.mktemp("sequence") / "project")
    (trained,) = top_level_runs(path)
    outputs, run_ids = {}, {"train": trained.info.run_id}
    for step, args in SEQUENCE_STEPS.items():
        outputs[step] = output(run_kedro(path, *args))
        run_ids[step] = top_level_runs(path)[-1].info.run_id
    assert len(set(run_ids.values())) == len(run_ids), "a run is missing from the store"
    return ChampionSequence(project=path, output=outputs, run_id=run_ids)


@pytest.fixture(scope="session")
def served_champion(champion_sequence: ChampionSequence) -> Iterator[ServedModel]:
    """``mlflow models serve -m models:/cross_sell@champion`` of the sequence project (one
    server per session), with the raw test rows and the batch job's predictions for them."""
    project = champion_sequence.project
    raw = pd.read_csv(project / "data" / "01_raw" / "test.csv")
    batch = pd.read_csv(
        latest_version(project, "data/07_model_output/predictions.csv"),
        float_precision="round_trip",
    )
    with serve_model(
        "models:/cross_sell@champion",
        tracking_uri=tracking_uri(project),
        log_path=project / "serve.log",
    ) as url:
        yield ServedModel(url=url, raw_rows=raw, batch_predictions=batch)
