"""Team setups on PostgreSQL (docs/deployment.md): a shared Optuna study, an MLflow server.

Needs a PostgreSQL server whose user may create databases. The URL comes from
``CROSS_SELL_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/test``); without a
reachable server (or without psycopg2) every test here is skipped, saying why. Each test session
creates fresh databases and drops them at the end.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import joblib
import mlflow
import optuna
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from cross_sell.datasets import RawCSVDataset
from cross_sell.params import Columns, DataScience
from cross_sell.pipelines.data_engineering.nodes import clean_raw_table
from cross_sell.pipelines.data_science.nodes import split_model_input
from cross_sell.pipelines.synthetic_data.nodes import generate_train
from tests.conftest import (
    FAST_TRAINING,
    kedro_env,
    make_project_copy,
    mlflow_uri,
    project_config,
)

pytestmark = pytest.mark.slow  # concurrent tuning workers and a training run on PostgreSQL

# libpq form (psycopg2.connect); SQLAlchemy (Optuna, MLflow) gets `postgresql+psycopg2://`:
# SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3, which the project does not install.
ADMIN_URL = os.environ.get(
    "CROSS_SELL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
).replace("postgresql+psycopg2://", "postgresql://")

N_ROWS = 4000
TRIALS_PER_WORKER = 3
TUNING_PARAMS = f"tuning.xgboost.n_trials={TRIALS_PER_WORKER}"  # small and fast
# tuning's line per trial: "xgboost trial 2/3 (#5) COMPLETE: ..." (k/N of this run, #study number)
TRIAL_LOG = re.compile(r"(\w+) trial \d+/\d+ \(#(\d+)\) (COMPLETE|PRUNED|FAIL)")


def _connect(url: str):
    """A psycopg2 connection to ``url`` (libpq or SQLAlchemy form)."""
    psycopg2 = pytest.importorskip(
        "psycopg2", reason="psycopg2 is not installed (pip install -e '.[postgres]')"
    )
    return psycopg2.connect(
        url.replace("postgresql+psycopg2://", "postgresql://"), connect_timeout=3
    )


def _database_url(name: str) -> str:
    """The SQLAlchemy URL of database ``name`` on the test server."""
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}".replace("postgresql://", "postgresql+psycopg2://", 1)


@pytest.fixture(scope="session")
def create_database() -> Iterator:
    """A factory of fresh, empty databases (``cross_sell_test_<random>``), dropped at the end."""
    try:
        admin = _connect(ADMIN_URL)
    except Exception as exc:  # psycopg2.OperationalError, without importing psycopg2 here
        pytest.skip(f"no PostgreSQL reachable at {ADMIN_URL} ({' '.join(str(exc).split())})")
    admin.autocommit = True
    created: list[str] = []

    def create(purpose: str) -> str:
        name = f"cross_sell_test_{purpose}_{uuid.uuid4().hex[:8]}"
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return _database_url(name)

    yield create
    with admin.cursor() as cursor:
        for name in created:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="module")
def raw_train() -> pd.DataFrame:
    """A small raw training table from the project's generator."""
    return generate_train({"n_train": N_ROWS, "n_test": 2, "seed": 7})


def _project_with(dest: Path, raw_train: pd.DataFrame, split: bool = False) -> Path:
    """A project copy holding ``raw_train`` as its raw file and (``split``) its model input
    table and the splits that ``tuning`` reads, made by ``data_science``'s split node."""
    project = make_project_copy(dest)
    RawCSVDataset(filepath=project / "data" / "01_raw" / "train.csv").save(raw_train)
    if split:
        parameters = project_config(project, "parameters")
        table = clean_raw_table(raw_train)
        table.to_parquet(project / "data" / "05_model_input" / "model_input_table.parquet")
        parts = split_model_input(
            table,
            Columns(**parameters["columns"]),
            DataScience(**parameters["data_science"]),
        )
        for name, part in zip(("train_set", "validation_set", "test_set"), parts, strict=True):
            part.to_parquet(project / "data" / "05_model_input" / f"{name}.parquet")
    return project


def _kedro(project: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
    """Start ``python -m kedro <args>`` in ``project``; its output goes to ``console.txt``.

    A file, not a pipe: a worker whose unread pipe filled up would stall until the test read it,
    and the two workers would no longer run at the same time.
    """
    with open(project / "console.txt", "wb") as console:
        return subprocess.Popen(
            [sys.executable, "-m", "kedro", *args],
            cwd=project,
            env=env,
            stdout=console,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def _finish(process: subprocess.Popen, project: Path, what: str) -> None:
    """Wait for ``process``; fail with the end of its output if it failed."""
    if process.wait(timeout=600) != 0:
        output = (project / "console.txt").read_text(errors="replace")
        pytest.fail(f"{what} failed ({process.returncode}):\n{output[-6000:]}")


def _logged_trials(project: Path, family: str) -> set[int]:
    """Numbers of the trials of ``family`` this worker ran, from its ``logs/info.log``."""
    text = (project / "logs" / "info.log").read_text(encoding="utf-8")
    return {int(number) for name, number, _ in TRIAL_LOG.findall(text) if name == family}


# ---------------------------------------------------------------------------- shared Optuna study
def test_tuning_workers_share_one_study_on_postgres(
    create_database, raw_train: pd.DataFrame, tmp_path: Path
) -> None:
    """Two concurrent `kedro run --pipelines=tuning` fill ONE study; the refit uses its best."""
    storage = create_database("optuna")
    # Two workers, as on two machines: own project copies, same data and configuration.
    workers = [_project_with(tmp_path / f"worker_{i}", raw_train, split=True) for i in (1, 2)]
    # The two documented ways to name the storage: worker 1 by environment variable, worker 2
    # by conf/local/credentials.yml (exported by kedro-mlflow's `server.credentials`).
    env = {worker: kedro_env(worker) for worker in workers}
    for worker in workers:
        env[worker].pop("CROSS_SELL_OPTUNA_STORAGE", None)
    env[workers[0]]["CROSS_SELL_OPTUNA_STORAGE"] = storage
    local = workers[1] / "conf" / "local"
    (local / "credentials.yml").write_text(
        f"team_services:\n  CROSS_SELL_OPTUNA_STORAGE: {storage}\n", encoding="utf-8"
    )
    (local / "mlflow.yml").write_text(
        "server:\n"
        "  mlflow_tracking_uri: ${oc.env:MLFLOW_TRACKING_URI,sqlite:///mlflow.db}\n"
        "  mlflow_registry_uri: null\n"
        "  credentials: team_services\n",
        encoding="utf-8",
    )
    # Create the schema once before the workers start (docs/deployment.md): two processes
    # creating it at the same moment collide (duplicate `CREATE TYPE studydirection`).
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import optuna, sys; optuna.storages.RDBStorage(sys.argv[1])",
            storage,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )

    running = [
        _kedro(
            worker,
            env[worker],
            "run",
            "--pipelines=tuning",
            f"--params={TUNING_PARAMS},tuning.study.sampler_seed={seed}",
        )
        for seed, worker in enumerate(workers, start=1)
    ]
    for i, (process, worker) in enumerate(zip(running, workers, strict=True), start=1):
        _finish(process, worker, f"tuning worker {i}")

    names = optuna.study.get_all_study_names(storage)
    xgboost_names = [name for name in names if name.startswith("cross_sell.xgboost.")]
    assert len(xgboost_names) == 1, f"one shared xgboost study expected, found {names}"
    study = optuna.load_study(study_name=xgboost_names[0], storage=storage)
    finished = {
        trial.number
        for trial in study.trials
        if trial.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    }
    by_worker = [_logged_trials(worker, "xgboost") for worker in workers]
    assert all(len(trials) == TRIALS_PER_WORKER for trials in by_worker), by_worker
    assert not by_worker[0] & by_worker[1], "the same trial was run by both workers"
    assert finished == by_worker[0] | by_worker[1], "a trial is missing from the shared study"
    for worker in workers:
        assert not (worker / "data/06_models/optuna.db").exists(), "a worker used local sqlite"

    # The refit after the workers: no new trial, the study's best parameters.
    refit = workers[0]
    command = ("run", "--pipelines=xgboost_tuned", "--params=tuning.xgboost.n_trials=0")
    _finish(_kedro(refit, env[refit], *command), refit, "xgboost_tuned refit")
    assert len(optuna.load_study(study_name=xgboost_names[0], storage=storage).trials) == len(
        study.trials
    )
    best = study.best_params
    written = json.loads((refit / "data/06_models/xgboost_best_params.json").read_text())
    assert written == pytest.approx(best)
    classifier = joblib.load(refit / "data/06_models/xgboost_tuned.pkl").steps[-1][1]
    assert {name: classifier.get_params()[name] for name in best} == pytest.approx(best)


# ---------------------------------------------------------------------------- MLflow server
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def mlflow_server(create_database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """``mlflow server`` on 127.0.0.1 and a free port, its backend store in PostgreSQL."""
    backend = create_database("mlflow")
    root = tmp_path_factory.mktemp("mlflow_server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(root / "server.log", "wb")  # noqa: SIM115 (closed after the server stops)
    server = subprocess.Popen(
        [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", backend,
            "--artifacts-destination", str(root / "artifacts"),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ],
        cwd=root,
        # No background job workers (huey consumers): kedro runs do not need them; faster start.
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: stopped with its workers below
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(
                    "mlflow server did not start:\n"
                    + (root / "server.log").read_text(errors="replace")[-4000:]
                )
            time.sleep(0.5)
        yield {"url": url, "backend": backend}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def test_the_training_job_logs_and_registers_on_an_mlflow_server_on_postgres(
    mlflow_server: dict, raw_train: pd.DataFrame, tmp_path: Path
) -> None:
    """`kedro run` with MLFLOW_TRACKING_URI=http://...: the run, its artifacts and the registered
    ``cross_sell@champion`` are read back from the server."""
    project = _project_with(tmp_path / "project", raw_train)
    env = kedro_env(project) | {"MLFLOW_TRACKING_URI": mlflow_server["url"]}
    _finish(_kedro(project, env, "run", f"--params={FAST_TRAINING}"), project, "kedro run")
    assert not (project / "mlflow.db").exists(), "the run went to a local store"

    client = MlflowClient(tracking_uri=mlflow_server["url"], registry_uri=mlflow_server["url"])
    experiment = client.get_experiment_by_name("cross_sell")
    assert experiment is not None, "the run did not reach the server"
    runs = client.search_runs([experiment.experiment_id])
    (run,) = runs
    assert run.info.status == "FINISHED"
    assert run.data.params["data_science.split.test_size"] == "0.2"  # kedro-mlflow, flattened
    assert run.data.metrics["promotion.promoted"] == 1.0
    assert [d.dataset.name for d in run.inputs.dataset_inputs] == ["raw_train"]  # mlflow.data
    # artifacts go through the server (proxied to its --artifacts-destination)
    assert "evaluation/plots/roc_curves.png" in {
        a.path for a in client.list_artifacts(run.info.run_id, "evaluation/plots")
    }
    version = client.get_model_version_by_alias("cross_sell", "champion")
    assert (version.version, version.run_id) == ("1", run.info.run_id)
    with closing(_connect(mlflow_server["backend"])) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT status FROM runs WHERE run_uuid = %s", (run.info.run_id,))
        assert cursor.fetchone() == ("FINISHED",)
        cursor.execute("SELECT name, version FROM model_versions")
        assert cursor.fetchall() == [("cross_sell", 1)]
    # the registered model, downloaded through the server, scores raw rows
    with mlflow_uri(mlflow_server["url"]):
        scores = mlflow.pyfunc.load_model("models:/cross_sell@champion").predict(
            raw_train.drop(columns="Response").head(5)
        )
    assert scores.columns.tolist()[:3] == ["id", "probability", "contact"]
    assert len(scores) == 5
