"""Two full training runs agree to the bit; secrets stay in conf/local; servers bind to localhost.

``second_run`` repeats the session's ``trained_project`` job (``kedro run`` with the same
parameters, in a fresh project copy holding the same raw files, with its own MLflow store), with
a password planted in ``conf/local/credentials.yml``: as MLflow credentials
(``server.credentials`` in mlflow.yml, exported as environment variables by kedro-mlflow) and as
the credentials of a dataset the run writes. Then it scores its ``test.csv`` (``kedro run
--pipelines=inference``) with its registered ``cross_sell@champion``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from cross_sell import settings
from tests.conftest import FAST_TRAINING, make_project_copy, run_kedro
from tests.robustness.support import use_mlflow_store

REPO = Path(__file__).resolve().parents[2]
SECRET = f"robust-{uuid.uuid4().hex}"
COMPARED = (  # the champion, the gate's decision, every model's validation and test metrics
    "data/08_reporting/evaluation/champion.json",
    "data/08_reporting/evaluation/promotion.json",
    "data/08_reporting/evaluation/model_comparison.csv",
)


def plant_secrets(project: Path) -> None:
    """conf/local as a team would write it (docs/deployment.md), holding ``SECRET``."""
    local = project / "conf" / "local"
    credentials = {
        "team_services": {
            "MLFLOW_TRACKING_USERNAME": "robust",
            "MLFLOW_TRACKING_PASSWORD": SECRET,
            "PGPASSWORD": SECRET,
        },
        "model_input_store": {"key": "robust", "secret": SECRET},
    }
    (local / "credentials.yml").write_text(yaml.safe_dump(credentials))
    base_mlflow = yaml.safe_load((project / "conf" / "base" / "mlflow.yml").read_text())
    server = {**base_mlflow["server"], "credentials": "team_services"}
    (local / "mlflow.yml").write_text(yaml.safe_dump({"server": server}))
    base_catalog = yaml.safe_load((project / "conf" / "base" / "catalog.yml").read_text())
    entry = {**base_catalog["model_input_table"], "credentials": "model_input_store"}
    (local / "catalog.yml").write_text(yaml.safe_dump({"model_input_table": entry}))


def latest_predictions(project: Path) -> pd.DataFrame:
    folder = project / "data" / "07_model_output" / "predictions.csv"
    newest = sorted(folder.iterdir())[-1] / "predictions.csv"
    return pd.read_csv(newest, float_precision="round_trip")


def registered_champion(project: Path) -> mlflow.pyfunc.PyFuncModel:
    with use_mlflow_store(f"sqlite:///{project / 'mlflow.db'}"):
        return mlflow.pyfunc.load_model("models:/cross_sell@champion")


def training_run_metrics(project: Path) -> dict[str, float]:
    """The metrics of the project's one training run (named ``train: <champion> ...``)."""
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("cross_sell")
    (run,) = client.search_runs([experiment.experiment_id], "attributes.run_name LIKE 'train:%'")
    return run.data.metrics


@pytest.fixture(scope="module")
def second_run(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The training job again on the same raw files (secrets planted), then its inference."""
    project = make_project_copy(tmp_path_factory.mktemp("second") / "project")
    for name in ("train.csv", "test.csv"):
        shutil.copy2(trained_project / "data" / "01_raw" / name, project / "data" / "01_raw")
    plant_secrets(project)
    training = run_kedro(project, "run", f"--params={FAST_TRAINING}")
    inference = run_kedro(project, "run", "--pipelines=inference")
    return {
        "project": project,
        "console": training.stdout + training.stderr + inference.stdout + inference.stderr,
    }


@pytest.mark.slow
def test_two_full_runs_give_bit_identical_predictions(
    second_run: dict, trained_project: Path
) -> None:
    project = second_run["project"]
    raw_test = pd.read_csv(trained_project / "data" / "01_raw" / "test.csv")
    first = registered_champion(trained_project).predict(raw_test)
    second = registered_champion(project).predict(raw_test)
    pd.testing.assert_frame_equal(second, first, check_exact=True)
    assert 0 < first["contact"].sum() < len(first)
    # The batch job of the second project scored with it: the same probabilities, to the bit.
    batch = latest_predictions(project).set_index("id")
    expected = first.set_index("id").loc[batch.index]
    pd.testing.assert_series_equal(batch["probability"], expected["probability"], check_exact=True)
    assert batch["contact"].tolist() == expected["contact"].tolist()
    for name in COMPARED:
        assert (project / name).read_bytes() == (trained_project / name).read_bytes(), name
    assert training_run_metrics(project) == training_run_metrics(trained_project)


@pytest.mark.slow
def test_no_secret_reaches_mlflow_the_logs_or_any_output(second_run: dict) -> None:
    project = second_run["project"]
    # The planted credentials are in effect (conf/local is the run's default environment).
    loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(project / "conf"), **settings.CONFIG_LOADER_ARGS
    )
    assert loader["mlflow"]["server"]["credentials"] == "team_services"
    assert loader["catalog"]["model_input_table"]["credentials"] == "model_input_store"
    assert loader["credentials"]["team_services"]["MLFLOW_TRACKING_PASSWORD"] == SECRET
    assert (project / "logs" / "info.log").stat().st_size > 0
    leaks = [
        str(path.relative_to(project))
        for path in project.rglob("*")
        if path.is_file()
        and not path.is_relative_to(project / "conf" / "local")
        and SECRET.encode() in path.read_bytes()
    ]
    assert leaks == []  # mlflow.db, mlruns/ (models, artifacts), logs/, data/
    assert SECRET not in second_run["console"]
    uri = f"sqlite:///{project / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert {run.info.run_name.split(":")[0] for run in runs} >= {"train", "inference"}
    for run in runs:  # the pipeline runs and their nested runs
        for key, value in {**run.data.params, **run.data.tags}.items():
            assert SECRET not in value, key
    for model in client.search_registered_models():
        assert SECRET not in f"{model.description} {model.tags}"
        for version in client.search_model_versions(f"name = '{model.name}'"):
            assert SECRET not in f"{version.description} {version.tags}"


def test_credentials_files_are_git_ignored() -> None:
    for path in ("conf/local/credentials.yml", "conf/base/credentials.yml", "conf/local/x.yml"):
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", path], cwd=REPO, check=False, timeout=30
        )
        assert ignored.returncode == 0, f"{path} is not git-ignored"
    assert not list((REPO / "conf" / "base").glob("*credentials*"))


SERVER_COMMAND = re.compile(r"(mlflow (server|ui|models serve)|kedro viz|uvicorn|gunicorn)\b")
HOST = re.compile(r"(?:--host|-h)[ =](\S+)")


def test_documented_servers_bind_to_localhost() -> None:
    """Every server command in the docs binds to 127.0.0.1 (or relies on that default)."""
    checked = 0
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = doc.read_text().replace("\\\n", " ")  # join continued shell lines
        for line in text.splitlines():
            if not SERVER_COMMAND.search(line) or "pip install" in line:
                continue
            checked += 1
            assert "0.0.0.0" not in line, f"{doc.name}: {line}"
            for host in HOST.findall(line):
                assert host.strip("`'\",") in {"127.0.0.1", "localhost"}, f"{doc.name}: {line}"
    assert checked >= 5
    mlflow_yml = yaml.safe_load((REPO / "conf" / "base" / "mlflow.yml").read_text())
    assert mlflow_yml["ui"]["host"] == "127.0.0.1"
