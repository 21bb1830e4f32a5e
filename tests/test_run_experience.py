"""A run a person can read and recover from (issue 11): parameters checked up front, pipelines run
out of order, storage faults, a quiet log ending with a summary, and MLflow runs that read at a
glance. Real `kedro run` subprocesses in project copies; a failed start must leave no MLflow run."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from cross_sell import settings as project_settings

from .conftest import (
    FAST_TRAINING,
    REPO,
    kedro_env,
    make_project_copy,
    output,
    run_kedro,
    tracking_uri,
)

pytestmark = pytest.mark.slow  # a `kedro run` subprocess per case (the config test is fast)


def last_line(result: subprocess.CompletedProcess) -> str:
    return output(result).strip().splitlines()[-1]


def runs_in(project: Path) -> list:
    if not (project / "mlflow.db").exists():
        return []
    client = MlflowClient(tracking_uri=tracking_uri(project))
    experiment = client.get_experiment_by_name("cross_sell")
    return client.search_runs([experiment.experiment_id]) if experiment else []


# ---------------------------------------------------------------------------- parameters
def test_conf_local_overrides_single_keys_and_params_still_apply(project: Path):
    """Soft merge: a conf/local file keeps every other key of a block (Kedro's default replaces
    whole top-level blocks: `KeyError: 'study'` with any conf/local/parameters.yml)."""
    (project / "conf" / "local" / "parameters.yml").write_text(
        "foo: 1\ntuning:\n  xgboost:\n    n_trials: 2\n"
    )
    loader = project_settings.CONFIG_LOADER_CLASS(
        conf_source=str(project / "conf"),
        env="local",
        runtime_params={"xgboost": {"kwargs": {"max_depth": 3}}},
        **project_settings.CONFIG_LOADER_ARGS,
    )
    parameters = loader["parameters"]
    assert parameters["foo"] == 1
    assert parameters["tuning"]["xgboost"]["n_trials"] == 2
    assert parameters["tuning"]["study"]["study_name"] == "cross_sell"  # kept from conf/base
    assert parameters["xgboost"]["kwargs"]["max_depth"] == 3
    base = yaml.safe_load((REPO / "conf/base/parameters_data_science.yml").read_text())
    kept = base["xgboost"]["kwargs"]["learning_rate"]
    assert parameters["xgboost"]["kwargs"]["learning_rate"] == kept  # kept from conf/base


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ("data_science.split.test_size=0.95", "validation_size + test_size = 1.05"),
        ("tuning.xgboost.n_trials=-1", "Parameter tuning.xgboost.n_trials"),
        ("evaluation.champion.metric=accuracy", "Parameter evaluation.champion.metric"),
    ],
)
def test_a_bad_parameter_stops_the_run_before_anything_runs(project: Path, params, named):
    result = run_kedro(project, "run", "--pipelines=tuned", f"--params={params}", check=False)
    assert result.returncode != 0
    assert last_line(result).startswith("Error: Parameter"), output(result)[-2000:]
    assert named in last_line(result)
    assert "Traceback" not in result.stderr
    assert runs_in(project) == []


def test_an_environment_cannot_change_the_families(project: Path):
    (project / "conf" / "fewer").mkdir()
    (project / "conf" / "fewer" / "parameters.yml").write_text(
        "data_science:\n  families: [xgboost]\n"
    )
    result = run_kedro(project, "run", "--env=fewer", check=False)
    assert result.returncode != 0
    assert "data_science.families" in last_line(result)
    assert "FAMILIES" in last_line(result)
    assert runs_in(project) == []


# ---------------------------------------------------------------------------- out of order
@pytest.mark.parametrize(
    ("pipeline", "missing", "command"),
    [
        ("data_engineering", "raw_train", "kedro run --pipelines=synthetic_data"),
        ("tuning", "train_set", "kedro run --pipelines=data_science"),
        ("evaluation", "'hist_gradient_boosting.model'", "kedro run --pipelines=data_science"),
    ],
)
def test_a_pipeline_run_out_of_order_says_what_to_run_first(project, pipeline, missing, command):
    result = run_kedro(project, "run", f"--pipelines={pipeline}", check=False)
    assert result.returncode != 0
    line = last_line(result)
    assert line.startswith("Error: Cannot run"), output(result)[-2000:]
    assert missing in line
    assert command in line
    assert runs_in(project) == []  # no FAILED run left behind
    assert not any((project / "data" / "07_model_output").iterdir())  # no empty outputs


def test_scoring_before_any_training_says_to_train_first(generated_project: Path, tmp_path: Path):
    project = make_project_copy(tmp_path / "project")
    shutil.copytree(
        generated_project / "data" / "01_raw", project / "data" / "01_raw", dirs_exist_ok=True
    )
    result = run_kedro(project, "run", "--pipelines=inference", check=False)
    assert result.returncode != 0
    assert "run `kedro run` first" in last_line(result)
    assert runs_in(project) == []
    assert not any((project / "data" / "07_model_output").iterdir())


# ---------------------------------------------------------------------------- storage faults
def test_a_model_folder_that_cannot_be_written_is_named_before_training(
    generated_project: Path, tmp_path: Path
):
    project = make_project_copy(tmp_path / "project")
    shutil.copytree(
        generated_project / "data" / "01_raw", project / "data" / "01_raw", dirs_exist_ok=True
    )
    models = project / "data" / "06_models"
    models.rmdir()
    models.write_text("a file where the models folder should be\n")  # root ignores chmod
    result = run_kedro(project, "run", check=False)
    assert result.returncode != 0
    line = last_line(result)
    assert str(models) in line and "not a folder" in line, output(result)[-2000:]
    assert runs_in(project) == []


def test_a_corrupt_optuna_database_is_named(generated_project: Path, tmp_path: Path):
    project = make_project_copy(tmp_path / "project")
    shutil.copytree(
        generated_project / "data" / "01_raw", project / "data" / "01_raw", dirs_exist_ok=True
    )
    database = project / "data" / "06_models" / "optuna.db"
    database.write_bytes(b"this is not a database" * 100)
    result = run_kedro(project, "run", "--pipelines=tuned", check=False)
    assert result.returncode != 0
    line = last_line(result)
    assert str(database) in line and "not a readable SQLite database" in line, line


def test_a_corrupt_mlflow_database_is_named(project: Path):
    (project / "mlflow.db").write_bytes(b"garbage" * 500)
    result = run_kedro(project, "run", "--pipelines=data_engineering", check=False)
    assert result.returncode != 0
    line = last_line(result)
    assert str(project / "mlflow.db") in line and "not a readable SQLite database" in line, line


@pytest.fixture
def html_server() -> Iterator[str]:
    """A web server on 127.0.0.1 that answers HTML (a proxy page, not MLflow)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_an_mlflow_uri_that_answers_html_is_named(project: Path, html_server: str):
    env = kedro_env(project) | {"MLFLOW_TRACKING_URI": html_server}
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipelines=data_engineering"],
        check=False,
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert result.returncode != 0
    line = last_line(result)
    assert html_server in line and "not MLflow's JSON API" in line, line


# ---------------------------------------------------------------------------- the log, MLflow
@pytest.fixture(scope="module")
def loud_run(generated_project: Path, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A clean default `kedro run`, with Python warnings shown as a user sees them."""
    project = make_project_copy(tmp_path_factory.mktemp("loud") / "project")
    shutil.copytree(
        generated_project / "data" / "01_raw", project / "data" / "01_raw", dirs_exist_ok=True
    )
    env = kedro_env(project)
    env.pop("PYTHONWARNINGS")
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "run", f"--params={FAST_TRAINING}"],
        check=False,
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=900,
    )
    assert result.returncode == 0, output(result)[-3000:]
    return project, result


@pytest.mark.slow
def test_a_clean_run_prints_a_short_quiet_log_ending_with_its_summary(loud_run):
    _, result = loud_run
    lines = output(result).splitlines()
    assert len(lines) < 400
    warnings = [line for line in lines if "WARNING" in line or "Warning:" in line]
    assert len(warnings) <= 2, "\n".join(warnings)
    assert max(len(line) for line in lines) > 100  # not wrapped at 80 columns
    summary = "\n".join(result.stdout.splitlines()[-5:])  # the log; stderr has MLflow's prints
    assert "Run summary:" in summary and "champion" in summary and "promotion" in summary
    assert "mlflow ui --backend-store-uri" in summary


@pytest.mark.slow
def test_mlflow_reads_at_a_glance(loud_run):
    project, _ = loud_run
    client = MlflowClient(tracking_uri=tracking_uri(project))
    experiment = client.get_experiment_by_name("cross_sell")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    (run,) = [r for r in runs_in(project) if "mlflow.parentRunId" not in r.data.tags]
    assert run.data.tags["mlflow.runName"].startswith("train: ")
    assert "val AUC" in run.data.tags["mlflow.runName"]
    inputs = {(d.dataset.name, d.tags[0].value) for d in run.inputs.dataset_inputs}
    assert ("raw_train", "training") in inputs
