"""What one real `kedro run` (the training job) leaves in MLflow, read with MLflow's own client.

``trained_project`` (tests/conftest.py) ran the README's main job on small generated data, with
MLflow pointed at a sqlite store inside the project copy. These tests only read that store.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import joblib
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from cross_sell.pipelines.data_engineering.nodes import clean_raw_table
from cross_sell.pipelines.inference.nodes import SCORE_COLUMNS
from tests.conftest import mlflow_store, registered_pipelines, top_level_runs, tracking_uri

CORE_METRICS = ("roc_auc", "average_precision", "log_loss", "brier_score", "top_decile_lift")
CAMPAIGN_METRICS = ("precision", "recall", "contact_share", "expected_profit")
PLOTS = (
    "roc_curves",
    "precision_recall",
    "calibration",
    "gains_lift",
    "profit_curve",
    "feature_importance",
)

pytestmark = pytest.mark.slow  # reads trained_project (one `kedro run`)


def compared_models(pipeline_name: str = "__default__") -> set[str]:
    """The models a training pipeline compares: the ``<name>.model`` inputs of the selection."""
    pipeline = registered_pipelines()[pipeline_name]
    (select,) = [n for n in pipeline.nodes if n.name == "evaluation.select_champion_node"]
    return {name.removesuffix(".model") for name in select.inputs if name.endswith(".model")}


MODELS = compared_models()


@pytest.fixture(scope="module")
def client(trained_project: Path) -> MlflowClient:
    uri = tracking_uri(trained_project)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture(scope="module")
def training_run(trained_project: Path) -> Any:
    runs = top_level_runs(trained_project)
    assert len(runs) == 1, [run.info.run_name for run in runs]
    return runs[0]


def _artifacts(client: MlflowClient, run_id: str, folder: str) -> set[str]:
    return {item.path for item in client.list_artifacts(run_id, folder)}


def test_one_finished_run_with_flat_params(training_run) -> None:
    assert training_run.info.status == "FINISHED"
    params = training_run.data.params
    assert params["data_science.split.test_size"] == "0.2"
    assert params["xgboost.kwargs.tree_method"] == "hist"
    assert params["columns.target"] == "response"
    assert params["evaluation.champion.metric"] == "roc_auc"
    # one param per key: no block logged whole (a dict, or a typed parameter's repr)
    blocks = {"columns", "data_science", "xgboost", "evaluation.champion", "evaluation.campaign"}
    assert not blocks & set(params), sorted(blocks & set(params))
    assert not [key for key, value in params.items() if value.startswith("{")]


def test_every_model_has_its_test_metrics(training_run) -> None:
    metrics = training_run.data.metrics
    for model in MODELS:
        for name in CORE_METRICS + CAMPAIGN_METRICS:
            assert f"test.{model}.{name}" in metrics, f"test.{model}.{name}"
        assert 0.5 < metrics[f"test.{model}.roc_auc"] <= 1.0


def test_the_first_run_promoted_its_champion(training_run) -> None:
    metrics = training_run.data.metrics
    assert metrics["promotion.promoted"] == 1.0
    for name in CORE_METRICS + CAMPAIGN_METRICS:
        assert f"promotion.challenger.{name}" in metrics
    assert not [key for key in metrics if key.startswith("promotion.champion.")]  # none yet


def test_reports_plots_and_models_are_artifacts(client, training_run) -> None:
    run_id = training_run.info.run_id
    assert {f"evaluation/plots/{plot}.png" for plot in PLOTS} <= _artifacts(
        client, run_id, "evaluation/plots"
    )
    assert {
        "evaluation/model_comparison.csv",
        "evaluation/champion.json",
        "evaluation/promotion.json",
        "evaluation/champion_feature_importance.csv",
    } <= _artifacts(client, run_id, "evaluation")
    assert _artifacts(client, run_id, "models") == {f"models/{model}.pkl" for model in MODELS}


def test_the_champion_is_chosen_on_validation(client, training_run, tmp_path: Path) -> None:
    run_id = training_run.info.run_id
    folder = Path(client.download_artifacts(run_id, "evaluation", str(tmp_path)))
    champion = json.loads((folder / "champion.json").read_text())
    comparison = pd.read_csv(folder / "model_comparison.csv")
    assert champion["chosen_on"] == "validation split"
    assert set(comparison["model"]) == set(MODELS)
    assert {"validation.roc_auc", "test.roc_auc", "validation.threshold"} <= set(comparison)
    assert champion["name"] == comparison.loc[comparison["validation.roc_auc"].idxmax(), "model"]


def test_the_run_records_the_raw_data_it_read(training_run) -> None:
    inputs = {item.dataset.name: item for item in training_run.inputs.dataset_inputs}
    assert set(inputs) == {"raw_train"}
    raw_train = inputs["raw_train"]
    assert {tag.key: tag.value for tag in raw_train.tags}["mlflow.data.context"] == "training"
    assert json.loads(raw_train.dataset.profile)["num_rows"] == 6000
    schema = json.loads(raw_train.dataset.schema)["mlflow_colspec"]
    assert [(c["name"], c["type"]) for c in schema][:3] == [
        ("id", "long"),
        ("Gender", "string"),
        ("Age", "long"),
    ]
    assert json.loads(raw_train.dataset.source)["uri"].endswith("data/01_raw/train.csv")


def test_one_registered_version_holding_the_champion_with_its_threshold(
    client, training_run
) -> None:
    assert [model.name for model in client.search_registered_models()] == ["cross_sell"]
    (version,) = client.search_model_versions("name = 'cross_sell'")
    assert version.run_id == training_run.info.run_id
    assert version.tags["promotion"] == "promoted"
    champion = client.get_model_version_by_alias("cross_sell", "champion")
    assert str(champion.version) == str(version.version)


def test_the_registered_champion_scores_raw_rows(trained_project: Path) -> None:
    raw = pd.read_csv(trained_project / "data" / "01_raw" / "test.csv")
    rows = pd.concat([raw.head(50), raw[raw["Policy_Sales_Channel"].isin([141.0, 142.0])]])
    with mlflow_store(trained_project):
        model_dir = Path(mlflow.artifacts.download_artifacts("models:/cross_sell@champion"))
        served = mlflow.pyfunc.load_model("models:/cross_sell@champion").predict(rows)
    assert sorted(os.listdir(model_dir / "artifacts")) == ["champion_model.pkl"]

    assert served.columns.tolist() == list(SCORE_COLUMNS)
    assert served["id"].tolist() == rows["id"].tolist()
    champion = joblib.load(model_dir / "artifacts" / "champion_model.pkl")
    record = json.loads(
        (trained_project / "data/08_reporting/evaluation/champion.json").read_text()
    )
    assert champion.best_threshold_ == pytest.approx(record["threshold"])
    features = clean_raw_table(rows).drop(columns="id")
    probability = champion.predict_proba(features)[:, 1]
    np.testing.assert_array_equal(served["probability"], probability)
    assert served["contact"].tolist() == (probability >= record["threshold"]).tolist()
