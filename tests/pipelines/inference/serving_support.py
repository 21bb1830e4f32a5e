"""Helpers for the serving tests: start ``mlflow models serve``, call it, build a servable model.

``serve_model(model_uri)`` starts the real MLflow scoring server (``mlflow models serve
--env-manager local``) on a free localhost port, waits for ``/ping`` and stops the server (its
whole process group) on exit; ``tests/conftest.py``'s ``served_champion`` runs one per session.
``log_servable_model`` builds, in-process, the model a training run logs and registers.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from kedro.io import DataCatalog
from kedro.pipeline import Node, Pipeline
from kedro_mlflow.mlflow import KedroPipelineModel
from kedro_mlflow.pipeline.pipeline_ml import PipelineML

from cross_sell.pipelines.inference.serving import create_training_ml_pipeline

SERVER_START_TIMEOUT = 240  # seconds; the server imports mlflow, kedro and sklearn on 2 busy cores


@dataclass
class ServedModel:
    """A running scoring server and what the batch pipeline scored for the same raw rows."""

    url: str
    raw_rows: pd.DataFrame  # raw Kaggle rows (test.csv format)
    batch_predictions: pd.DataFrame  # the batch job's predictions.csv for those rows


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ping(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def serve_model(
    model_uri: str,
    tracking_uri: str | None = None,
    log_path: Path | None = None,
    timeout: float = SERVER_START_TIMEOUT,
) -> Iterator[str]:
    """Run ``mlflow models serve -m model_uri`` on a free port; yield its base URL.

    ``tracking_uri`` is needed for ``models:/<name>@<alias>`` URIs. The server's output goes to
    ``log_path`` (a temporary file by default) and is shown if it does not come up.
    """
    port = free_port()
    env = dict(os.environ)
    # the server execs `uvicorn` from PATH: the one of this interpreter's environment
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
        env.pop("MLFLOW_REGISTRY_URI", None)  # the registry lives in that tracking store
    log_path = log_path or Path(tempfile.mkstemp(prefix="mlflow-serve-", suffix=".log")[1])
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        model_uri,
        "--env-manager",
        "local",
        "-p",
        str(port),
        "-h",
        "127.0.0.1",
    ]
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + timeout
        while not _ping(url):
            if process.poll() is not None or time.monotonic() > deadline:
                state = "exited" if process.poll() is not None else f"not up after {timeout} s"
                raise RuntimeError(
                    f"mlflow models serve -m {model_uri} {state}:\n"
                    + log_path.read_text(errors="replace")[-4000:]
                )
            time.sleep(0.5)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # the server and its uvicorn child
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def invoke(url: str, body: str | bytes, content_type: str) -> tuple[int, Any]:
    """POST ``body`` to ``/invocations``; return the HTTP status and the decoded JSON answer."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(
        f"{url}/invocations", data=data, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def dataframe_split(frame: pd.DataFrame) -> str:
    """The ``dataframe_split`` JSON payload of ``frame`` (what a client posts)."""
    return json.dumps({"dataframe_split": json.loads(frame.to_json(orient="split", index=False))})


def stand_in_training() -> Pipeline:
    """A training pipeline's shape only: it outputs what the served pipeline reads."""

    def train() -> Any:  # never run: the tests save the champion themselves
        raise NotImplementedError

    return Pipeline([Node(train, None, "champion_model", name="stand_in_train_node")])


def servable_pipeline() -> PipelineML:
    """``create_training_ml_pipeline`` around the stand-in training."""
    return create_training_ml_pipeline(stand_in_training())


def log_servable_model(catalog: DataCatalog, champion: Any, save_to: Path | None = None) -> None:
    """What kedro-mlflow does at the end of a ``kedro run`` of a training ``PipelineML``.

    "Training" saves ``champion`` (a classifier with its contact threshold) as
    ``champion_model``; then a ``KedroPipelineModel`` of the served pipeline, with that file as
    its artifact, is logged with the pipeline's ``log_model_kwargs`` to the active run (and
    registered as a new version of ``cross_sell``), or saved to the folder ``save_to``.
    """
    pipeline_ml = servable_pipeline()
    catalog.save("champion_model", champion)
    model = KedroPipelineModel(
        pipeline=pipeline_ml.inference,
        catalog=catalog,
        input_name=pipeline_ml.input_name,
        **pipeline_ml.kpm_kwargs,
    )
    with tempfile.TemporaryDirectory() as params_folder:
        artifacts = model.extract_pipeline_artifacts(parameters_saving_folder=Path(params_folder))
        kwargs = dict(pipeline_ml.log_model_kwargs)
        if save_to is None:
            mlflow.pyfunc.log_model(python_model=model, artifacts=artifacts, **kwargs)
        else:
            for key in ("name", "registered_model_name"):
                kwargs.pop(key)
            mlflow.pyfunc.save_model(save_to, python_model=model, artifacts=artifacts, **kwargs)
