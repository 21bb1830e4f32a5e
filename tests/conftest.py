"""Shared fixtures: throw-away copies of the project, and real `kedro` runs inside them.

End-to-end tests run the real CLI (`python -m kedro run ...`) in a copy of the project's `conf/` under a
temporary folder, with MLflow pointed at a temporary sqlite store, so the repository's own `data/` and
`mlflow.db` are never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kedro.framework.project import pipelines as kedro_pipelines
from kedro.pipeline import Pipeline

from cross_sell import settings as project_settings
from cross_sell.pipeline_registry import register_pipelines

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


# Fewer Optuna trials than conf/base: the tests need trained models of every family, not good ones.
FAST_TRAINING = "tuning.xgboost.n_trials=3,tuning.random_forest.n_trials=2"


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


def registered_pipelines(project: Path) -> dict[str, Pipeline]:
    """Every pipeline the project registers, with ``project`` as the working directory."""
    cwd = Path.cwd()
    os.chdir(project)  # the registry reads conf/ from the working directory
    kedro_pipelines.set_requested(None)  # all, whatever a run in this process asked before
    try:
        return register_pipelines()
    finally:
        os.chdir(cwd)


def project_config(project: Path, key: str) -> dict[str, Any]:
    """``catalog``, ``parameters``... of ``project/conf`` through the project's config loader."""
    loader = project_settings.CONFIG_LOADER_CLASS(
        conf_source=str(project / "conf"), **project_settings.CONFIG_LOADER_ARGS
    )
    return loader[key]
