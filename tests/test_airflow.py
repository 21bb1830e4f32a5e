"""Airflow, for real: the README's ``kedro airflow create`` command generates the training and
scoring DAGs, and the scoring DAG runs end to end with ``airflow dags test`` (no scheduler, a
SQLite metadata database in a temporary ``AIRFLOW_HOME``) in a copy of the session's
``trained_project``: ``predictions.csv`` scores every customer of ``test.csv``, and the DAG run's
tasks logged into one MLflow run.

The training DAG is checked as Airflow parses it (tasks, order, schedule), not run: a run is a
full training (minutes); docs/deployment.md says how it was run by hand.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO, kedro_env, latest_version, run_kedro, top_level_runs
from tests.robustness.support import clone_trained_project

pytest.importorskip("airflow", reason="the `airflow` extra: pip install -e '.[airflow]'")
pytest.importorskip("kedro_airflow", reason="the `airflow` extra: pip install -e '.[airflow]'")

pytestmark = pytest.mark.slow

DAG_FILES = {
    "cross_sell_training": "cross_sell_dag.py",
    "cross_sell_scoring": "cross_sell_inference_dag.py",
}
AIRFLOW = Path(sys.executable).with_name("airflow")


def readme_commands() -> list[str]:
    """The README's ``kedro airflow create`` command(s), as a user would copy them."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^(kedro airflow create .+?)\s*(?:#.*)?$", text, re.MULTILINE)


def airflow_env(project: Path, home: Path) -> dict[str, str]:
    env = kedro_env(project)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(project / "airflow_dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
    )
    return env


def airflow(
    project: Path, home: Path, *args: str, timeout: int = 300
) -> subprocess.CompletedProcess:
    """``airflow <args>`` in ``project``; fails the test with its output unless it succeeds."""
    result = subprocess.run(
        [str(AIRFLOW), *args],
        cwd=project,
        env=airflow_env(project, home),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"airflow {' '.join(args)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-4000:]}"
        )
    return result


@pytest.fixture(scope="module")
def dag_project(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ``trained_project`` in which the README's command generated the DAGs."""
    project = clone_trained_project(trained_project, tmp_path_factory.mktemp("airflow") / "project")
    commands = readme_commands()
    assert commands, "README.md shows no `kedro airflow create` command"
    for command in commands:
        run_kedro(project, *shlex.split(command)[1:])
    return project


@pytest.fixture(scope="module")
def airflow_home(dag_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary ``AIRFLOW_HOME`` with a migrated SQLite metadata database."""
    home = tmp_path_factory.mktemp("airflow_home")
    airflow(dag_project, home, "db", "migrate")
    return home


PARSE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])  # examples: off (AIRFLOW__CORE__LOAD_EXAMPLES)
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": {
        dag_id: {
            "schedule": str(dag.schedule),
            "tasks": {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},
        }
        for dag_id, dag in bag.dags.items()
    },
}))
"""


def test_the_readme_command_generates_the_training_and_scoring_dags(
    dag_project: Path, airflow_home: Path
) -> None:
    folder = dag_project / "airflow_dags"
    assert sorted(p.name for p in folder.glob("*.py")) == sorted(DAG_FILES.values())
    parsed = subprocess.run(
        [sys.executable, "-c", PARSE, str(folder)],
        cwd=dag_project,
        env=airflow_env(dag_project, airflow_home),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert parsed.returncode == 0, parsed.stderr[-4000:]
    found = json.loads(parsed.stdout.strip().splitlines()[-1])
    assert found["errors"] == {}
    assert set(found["dags"]) == set(DAG_FILES)
    training = found["dags"]["cross_sell_training"]
    assert training["schedule"] == "@weekly"
    # One task per namespace of __default__, in order, after the task that opens the MLflow run.
    assert training["tasks"] == {
        "mlflow-run": [],
        "data-engineering": ["mlflow-run"],
        "data-science": ["data-engineering", "mlflow-run"],
        "evaluation": ["data-science", "mlflow-run"],
    }
    scoring = found["dags"]["cross_sell_scoring"]
    assert scoring["schedule"] == "@daily"
    assert scoring["tasks"] == {"mlflow-run": [], "inference": ["mlflow-run"]}


def test_the_scoring_dag_scores_every_customer_in_one_mlflow_run(
    dag_project: Path, airflow_home: Path
) -> None:
    runs_before = {run.info.run_id for run in top_level_runs(dag_project)}
    result = airflow(dag_project, airflow_home, "dags", "test", "cross_sell_scoring")
    assert "DagRun Finished" in result.stdout + result.stderr

    predictions = pd.read_csv(latest_version(dag_project, "data/07_model_output/predictions.csv"))
    raw = pd.read_csv(dag_project / "data" / "01_raw" / "test.csv")
    assert {"id", "probability", "rank", "decile", "contact"} <= set(predictions.columns)
    assert sorted(predictions["id"]) == sorted(raw["id"])
    assert predictions["probability"].between(0, 1).all()

    new = [run for run in top_level_runs(dag_project) if run.info.run_id not in runs_before]
    assert len(new) == 1, [run.data.tags.get("mlflow.runName") for run in new]
    (run,) = new
    assert run.info.status == "FINISHED"
    assert run.data.tags["airflow.dag_id"] == "cross_sell_scoring"
    assert run.data.tags["airflow.run_id"].startswith("manual__")
    # ... and the Kedro task's logging landed in it: its parameters and its input dataset.
    assert "inference.max_reject_share" in run.data.params
    assert [i.dataset.name for i in run.inputs.dataset_inputs] == ["raw_test"]
