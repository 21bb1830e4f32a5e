"""Fail early on environment faults (``cross_sell.preflight``), through the real CLI.

Without the checks, ``kedro run`` with an unreachable MLflow server retried for over 4 minutes
(MLflow's HTTP backoff) before a long traceback, and an unreachable Optuna storage was found by
the tuning node, after the split and the training of every family. With them, the run stops
before any node with one line (``Error: ...``, no traceback) naming the URI (password hidden),
the problem and the fix; no MLflow run is left behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline

from cross_sell import settings
from cross_sell.pipelines.inference import create_pipeline as create_inference_pipeline
from cross_sell.pipelines.tuning import create_pipeline as create_tuning_pipeline
from cross_sell.preflight import (
    STOP_SIGNALS,
    PreflightError,
    PreflightHook,
    TerminationHook,
    check_mlflow_store,
    check_optuna_storage,
    hide_password,
)
from tests.conftest import kedro_env
from tests.robustness import corpus
from tests.robustness.support import ProjectFolder, free_port, new_mlflow_store, use_mlflow_store


def kedro(project: Path, *args: str, **env: str) -> tuple[int, str]:
    """Run ``python -m kedro <args>`` with extra environment variables; exit code and output
    (whitespace collapsed: the console wraps long lines)."""
    result = subprocess.run(
        [sys.executable, "-m", "kedro", *args],
        cwd=project,
        env={**kedro_env(project), "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,  # unchecked, an unreachable MLflow server took over 4 minutes
        check=False,
    )
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def _require_registered() -> None:
    kinds = {type(hook) for hook in settings.HOOKS}
    if not {PreflightHook, TerminationHook} <= kinds:
        pytest.fail(
            "register PreflightHook() and TerminationHook() (cross_sell.preflight) in "
            "settings.HOOKS"
        )


def test_both_hooks_are_registered() -> None:
    _require_registered()


def test_an_unreachable_mlflow_server_stops_the_run_before_anything_runs(project: Path) -> None:
    _require_registered()  # else the run retries for minutes
    port = free_port()  # nothing listens there
    code, output = kedro(
        project,
        "run",
        "--pipelines=data_engineering",
        MLFLOW_TRACKING_URI=f"http://127.0.0.1:{port}",
    )
    assert code == 1
    assert (
        f"Error: MLflow tracking store http://127.0.0.1:{port} cannot be used: "
        "unreachable (connection refused). It is set by the environment variable "
        "MLFLOW_TRACKING_URI. Checked before the run started; nothing was run. Fix: start the "
        f"server (e.g. `mlflow server --host 127.0.0.1 --port {port}`) or correct the URI; or "
        "unset MLFLOW_TRACKING_URI to log to the project's local store sqlite:///mlflow.db."
    ) in output
    assert "Running node" not in output and "Max retries exceeded" not in output
    assert "Traceback" not in output


def test_an_unreachable_optuna_database_stops_a_tuning_run_before_anything_runs(
    project: Path, generated_project: Path
) -> None:
    """``kedro run --pipelines=tuned`` (the training job with the study) on raw files."""
    _require_registered()
    shutil.copytree(
        generated_project / "data" / "01_raw", project / "data" / "01_raw", dirs_exist_ok=True
    )
    port = free_port()
    code, output = kedro(
        project,
        "run",
        "--pipelines=tuned",
        CROSS_SELL_OPTUNA_STORAGE=f"postgresql+psycopg2://tuner:pa55word@127.0.0.1:{port}/optuna",
    )
    assert code == 1
    assert (
        f"Error: Optuna storage postgresql+psycopg2://tuner:***@127.0.0.1:{port}/optuna "
        f'cannot be used: cannot connect (connection to server at "127.0.0.1", port {port} '
        "failed: Connection refused). It is set by the environment variable "
        "CROSS_SELL_OPTUNA_STORAGE. Checked before the run started; nothing was run."
    ) in output
    assert "pa55word" not in output
    assert "Running node" not in output and "Traceback" not in output
    assert not (project / "data" / "05_model_input" / "model_input_table.parquet").exists()
    # The check ran before kedro-mlflow opened a run: no run was left behind.
    with sqlite3.connect(project / "mlflow.db") as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (0,)


# ---------------------------------------------------------------------------- in-process
def test_an_unusable_sqlite_storage_is_refused_by_the_hook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `kedro run --pipelines=tuning` checks, on the real tuning pipeline and catalog."""
    (tmp_path / "a_file").write_text("")
    url = f"sqlite:///{tmp_path}/a_file/optuna.db"
    project = ProjectFolder(tmp_path / "project")
    monkeypatch.chdir(project.root)
    for split in ("train_set", "validation_set"):  # its inputs exist (a split ran before)
        path = project.path(f"data/05_model_input/{split}.parquet")
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"id": [1]}).to_parquet(path)
    pipeline = create_tuning_pipeline()
    catalog = project.catalog(pipeline, tuning__study__storage=url)
    with pytest.raises(PreflightError) as info:
        PreflightHook().before_pipeline_run(pipeline, catalog)
    assert str(info.value).startswith(
        f"Optuna storage {url} cannot be used: the database file cannot be created in "
        f"{tmp_path}/a_file ({tmp_path}/a_file is a file, not a folder). It is set by "
        "tuning.study.storage (conf/base/parameters_tuning.yml or --params)."
    )
    untuned = Pipeline([Node(len, "rows", "n_rows", name="count_node")])
    # A run without a tuning node does not check the Optuna storage.
    PreflightHook().before_pipeline_run(untuned, DataCatalog({"rows": MemoryDataset([1])}))


def test_inference_before_any_training_says_to_train_first(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kedro run --pipelines=inference` with a raw test.csv but an empty registry: the hook
    stops it up front, naming the missing input and the command that makes it."""
    project = ProjectFolder(tmp_path / "project")
    monkeypatch.chdir(project.root)
    raw = project.path("data/01_raw/test.csv")
    raw.parent.mkdir(parents=True)
    raw.write_bytes(corpus.csv_bytes(corpus.raw_frame(10, include_target=False)))
    pipeline = create_inference_pipeline()
    with use_mlflow_store(new_mlflow_store(tmp_path / "store", tmp_path_factory)):
        catalog = project.catalog(pipeline)
        with pytest.raises(PreflightError) as info:
            PreflightHook().before_pipeline_run(pipeline, catalog)
    message = info.value.message
    assert message.startswith("Cannot run: its input ")
    assert message.endswith("yet: run `kedro run` first. Nothing was run."), message
    assert not project.path("data/07_model_output").exists()  # nothing was run


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (
            "sqlite:///{tmp}/missing/folder/optuna.db",
            "the database file cannot be created in {tmp}/missing/folder "
            "({tmp}/missing does not exist)",
        ),
        ("sqlite:///{tmp}", "{tmp} is a folder, not a database file"),
        (
            "postgresql://tuner@127.0.0.1:1/optuna",
            "its database driver is not installed (No module named 'psycopg'; a bare "
            "postgresql:// means psycopg 3 to SQLAlchemy, which this project does not "
            "install: write postgresql+psycopg2:// and `pip install -e '.[postgres]'`)",
        ),
        ("not a url", "it is not a database URL (Could not parse SQLAlchemy URL"),
    ],
    ids=["missing folder", "a folder", "bare postgresql://", "not a URL"],
)
def test_optuna_storage_problems_are_named(tmp_path: Path, url: str, problem: str) -> None:
    url = url.format(tmp=tmp_path)
    with pytest.raises(PreflightError) as info:
        check_optuna_storage(url)
    assert str(info.value).startswith(
        f"Optuna storage {url} cannot be used: {problem.format(tmp=tmp_path)}"
    )
    assert "Fix: start the database or correct the URL" in str(info.value)


def test_usable_stores_pass(tmp_path: Path) -> None:
    check_optuna_storage(f"sqlite:///{tmp_path}/optuna.db")
    check_mlflow_store(f"sqlite:///{tmp_path}/mlflow.db")
    check_mlflow_store("databricks")  # other schemes are left to MLflow
    assert not (tmp_path / "optuna.db").exists()  # a check creates nothing


def test_mlflow_problems_are_named_with_the_password_hidden(tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(PreflightError) as info:
        check_mlflow_store(f"http://alice:s3cret@127.0.0.1:{port}/mlflow", role="registry")
    assert str(info.value).startswith(
        f"MLflow registry store http://alice:***@127.0.0.1:{port}/mlflow cannot be used: "
        "unreachable (connection refused). It is set by server.mlflow_registry_uri in "
        "conf/<env>/mlflow.yml."
    )
    assert "s3cret" not in str(info.value)
    with pytest.raises(PreflightError, match="does not exist"):
        check_mlflow_store(f"sqlite:///{tmp_path}/no/mlflow.db")
    assert hide_password("https://u@h/x") == "https://u@h/x"


@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=lambda sig: sig.name)
def test_a_stop_signal_becomes_a_clean_failure_only_during_a_run(sig: signal.Signals) -> None:
    before = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    hook = TerminationHook()
    hook.before_pipeline_run()
    assert signal.getsignal(sig) == hook._on_signal
    try:
        with pytest.raises(Exception, match=f"received {sig.name}") as info:
            os.kill(os.getpid(), sig)
        assert type(info.value).__name__ == "RunTerminatedError"
    finally:
        hook.on_pipeline_error()
    assert {number: signal.getsignal(number) for number in STOP_SIGNALS} == before  # restored
