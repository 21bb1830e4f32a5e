"""What one real `kedro run` (the training job) leaves behind, read the way users read it.

``trained_project`` (tests/conftest.py) ran the README's main job on small generated data, with MLflow
pointed at a sqlite store inside the project copy. These tests read that store through MLflow's own
client, over HTTP from a real `mlflow server`, and serve the registered model for real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import run_kedro
from tests.pipelines.inference.serving_support import (
    dataframe_split,
    free_port,
    invoke,
    serve_model,
)

MODELS = ("xgboost", "random_forest", "logistic_regression", "xgboost_tuned", "random_forest_tuned")
FAMILIES = ("xgboost", "random_forest", "logistic_regression")
CORE_METRICS = ("roc_auc", "average_precision", "log_loss", "brier_score", "top_decile_lift")


def tracking_uri(project: Path) -> str:
    return f"sqlite:///{project / 'mlflow.db'}"


@pytest.fixture(scope="module")
def client(trained_project: Path) -> Iterator[MlflowClient]:
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracking_uri(trained_project))
    mlflow.set_registry_uri(tracking_uri(trained_project))
    yield MlflowClient()
    mlflow.set_tracking_uri(previous)
    mlflow.set_registry_uri(None)  # the registry follows the tracking URI again


@pytest.fixture(scope="module")
def training_run(client: MlflowClient) -> mlflow.entities.Run:
    experiment = client.get_experiment_by_name("cross_sell")
    runs = client.search_runs(
        [experiment.experiment_id], filter_string="tags.`mlflow.runName` = '__default__'"
    )
    assert len(runs) == 1, [run.info.run_name for run in runs]
    return runs[0]


def test_one_finished_run_with_flat_params_and_lineage_tags(training_run) -> None:
    assert training_run.info.status == "FINISHED"
    params = training_run.data.params
    assert params["data_science.split.test_size"] == "0.2"
    assert params["xgboost.kwargs.tree_method"] == "hist"
    assert not [key for key, value in params.items() if value.startswith("{")]  # flat
    tags = training_run.data.tags
    assert tags["data.raw_train.rows"] == "6000"
    assert len(tags["data.raw_train.sha256"]) == 64
    metrics = training_run.data.metrics
    assert metrics["time.pipeline"] > 0
    assert metrics["time.node.split_model_input_node"] >= 0


def test_every_model_has_its_test_metrics(training_run) -> None:
    metrics = training_run.data.metrics
    for model in MODELS:
        for name in CORE_METRICS:
            assert f"{model}.test.{name}" in metrics, f"{model}.test.{name}"
        assert 0.5 < metrics[f"{model}.test.roc_auc"] <= 1.0


def test_plots_and_comparison_table_are_artifacts(client, training_run) -> None:
    run_id = training_run.info.run_id
    listed = {item.path for item in client.list_artifacts(run_id, "evaluation")}
    plots = {item.path for item in client.list_artifacts(run_id, "evaluation/plots")}
    assert any(path.endswith(".csv") for path in listed)
    assert any(path.endswith(".md") for path in listed)
    assert len([path for path in plots if path.endswith(".png")]) >= 6


def test_one_logged_model_per_family_and_nested_trial_runs(client, training_run) -> None:
    run_id = training_run.info.run_id
    logged = client.search_logged_models(
        experiment_ids=[training_run.info.experiment_id],
        filter_string=f"source_run_id = '{run_id}'",
    )
    names = {model.name for model in logged}
    for family in FAMILIES:
        assert any(name.startswith(family) for name in names), names
    children = client.search_runs(
        [training_run.info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{run_id}'",
    )
    assert len(children) >= 5  # 3 xgboost + 2 random forest trials (FAST_TRAINING)
    assert all(child.data.params for child in children)
    assert all(child.data.metrics for child in children)


def test_champion_alias_loads_and_predicts_on_cleaned_rows(
    client, training_run, trained_project: Path
) -> None:
    version = client.get_model_version_by_alias("cross_sell_classifier", "champion")
    assert version.run_id == training_run.info.run_id
    model = mlflow.sklearn.load_model("models:/cross_sell_classifier@champion")
    test_set = pd.read_parquet(trained_project / "data" / "05_model_input" / "test_set.parquet")
    probabilities = model.predict_proba(test_set.drop(columns=["id", "response"]))[:, 1]
    assert probabilities.shape == (len(test_set),)
    assert ((probabilities > 0) & (probabilities < 1)).all()


@pytest.fixture(scope="module")
def tracking_server(trained_project: Path) -> Iterator[str]:
    """`mlflow server` on a free localhost port over the trained project's store."""
    port = free_port()
    log = (trained_project / "mlflow-server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            tracking_uri(trained_project),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=trained_project,
        # no background job workers (huey consumers): a read-only test server does not need them
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail((trained_project / "mlflow-server.log").read_text()[-3000:])
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def test_tracking_server_serves_the_run_over_rest(tracking_server: str, training_run) -> None:
    run_id = training_run.info.run_id
    answer = _get_json(f"{tracking_server}/api/2.0/mlflow/runs/get?run_id={run_id}")
    run = answer["run"]
    assert run["info"]["status"] == "FINISHED"
    metrics = {metric["key"]: metric["value"] for metric in run["data"]["metrics"]}
    assert metrics["xgboost.test.roc_auc"] == pytest.approx(
        training_run.data.metrics["xgboost.test.roc_auc"]
    )
    history = _get_json(
        f"{tracking_server}/api/2.0/mlflow/metrics/get-history"
        f"?run_id={run_id}&metric_key=champion.test.roc_auc"
    )
    assert len(history["metrics"]) == 1


@pytest.fixture(scope="module")
def batch_predictions(trained_project: Path) -> pd.DataFrame:
    run_kedro(trained_project, "run", "--pipelines=inference")
    folder = trained_project / "data" / "07_model_output" / "predictions.csv"
    latest = sorted(folder.iterdir())[-1] / "predictions.csv"
    return pd.read_csv(latest)


def test_batch_inference_scores_every_valid_test_row(
    batch_predictions: pd.DataFrame, trained_project: Path
) -> None:
    raw = pd.read_csv(trained_project / "data" / "01_raw" / "test.csv")
    assert sorted(batch_predictions["id"]) == sorted(raw["id"])
    unseen = raw.loc[raw["Policy_Sales_Channel"].isin([141.0, 142.0]), "id"]
    assert len(unseen) >= 2
    scored = batch_predictions.set_index("id").loc[unseen, "probability"]
    assert ((scored > 0) & (scored < 1)).all()
    assert sorted(batch_predictions["decile"].unique()) == list(range(1, 11))


def test_served_champion_scores_raw_rows_like_the_batch_pipeline(
    trained_project: Path, batch_predictions: pd.DataFrame
) -> None:
    raw = pd.read_csv(trained_project / "data" / "01_raw" / "test.csv")
    unseen = raw[raw["Policy_Sales_Channel"].isin([141.0, 142.0])]
    rows = pd.concat([raw.head(20), unseen])
    with serve_model(
        "models:/cross_sell@champion",
        tracking_uri=tracking_uri(trained_project),
        log_path=trained_project / "serve.log",
    ) as url:
        status, answer = invoke(url, dataframe_split(rows), "application/json")
        assert status == 200, answer
        scores = pd.DataFrame(answer["predictions"]).set_index("id")
        batch = batch_predictions.set_index("id").loc[rows["id"]]
        np.testing.assert_allclose(scores.loc[rows["id"], "probability"], batch["probability"])

        status, answer = invoke(
            url, dataframe_split(rows.drop(columns=["Age"])), "application/json"
        )
        assert 400 <= status < 500
        assert "Age" in json.dumps(answer)
