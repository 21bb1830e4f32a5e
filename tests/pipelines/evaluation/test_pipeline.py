"""The evaluation pipeline end to end: the project's real catalog, a real MLflow sqlite store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner
from mlflow.tracking import MlflowClient

from cross_sell import settings
from cross_sell.pipelines.evaluation.pipeline import (
    DEFAULT_MODELS,
    DEFAULT_TUNED_FAMILIES,
    configured_evaluation,
    create_pipeline,
)
from tests.pipelines.evaluation.helpers import MODELS, temporary_mlflow_store

REPO = Path(__file__).resolve().parents[3]
FAMILIES = ("xgboost",)


def add_params(catalog: DataCatalog, params: dict[str, Any], prefix: str = "params:") -> None:
    """Register ``params`` (and every nested key) the way a Kedro session does."""
    for key, value in params.items():
        catalog[f"{prefix}{key}"] = value
        if isinstance(value, dict):
            add_params(catalog, value, f"{prefix}{key}.")


def project_catalog(
    models: dict[str, Any], test_set: pd.DataFrame, trials: pd.DataFrame
) -> tuple[DataCatalog, dict[str, Any]]:
    """The repository's catalog and parameters, with the data_science outputs given in memory."""
    loader = OmegaConfigLoader(conf_source=str(REPO / "conf"), **settings.CONFIG_LOADER_ARGS)
    catalog = DataCatalog.from_config(loader["catalog"])
    params = loader["parameters"]
    params["evaluation"]["models"] = list(models)
    params["evaluation"]["feature_importance"]["n_rows"] = 500
    params["evaluation"]["feature_importance"]["n_repeats"] = 2
    add_params(catalog, params)
    catalog["test_set"] = test_set
    for name, model in models.items():
        catalog[f"{name}.model"] = model
    for family in FAMILIES:
        catalog[f"{family}.optuna_trials"] = trials
    return catalog, params


def run_evaluation(
    catalog: DataCatalog, models: dict[str, Any], experiment_id: str
) -> mlflow.entities.Run:
    pipeline = create_pipeline(models=list(models), tuned_families=list(FAMILIES))
    with mlflow.start_run(experiment_id=experiment_id) as run:
        SequentialRunner().run(pipeline, catalog)
    return MlflowClient().get_run(run.info.run_id)


def test_default_lists_match_the_parameters_file():
    conf = configured_evaluation(REPO / "conf")
    assert tuple(conf["models"]) == DEFAULT_MODELS
    assert tuple(conf["tuned_families"]) == DEFAULT_TUNED_FAMILIES


def test_pipeline_is_built_from_the_model_list():
    pipeline = create_pipeline(models=["a", "b"], tuned_families=["a"])
    names = {node.name for node in pipeline.nodes}
    assert {"a.score_test_set_node", "b.compute_test_metrics_node"} <= names
    assert "a.log_optuna_trials_node" in names and "b.log_optuna_trials_node" not in names
    assert {"test_set", "a.model", "b.model", "a.optuna_trials"} <= pipeline.inputs()
    # Registration is the last node and every other node is upstream of it.
    last = pipeline.nodes[-1]
    assert last.name == "register_champion_node"
    assert set(pipeline.to_nodes("register_champion_node").nodes) == set(pipeline.nodes)
    assert pipeline.only_nodes_with_outputs("champion_model_registry").nodes == [last]
    assert set(pipeline.outputs()) == {"champion_model_registry"} | {
        name for name in pipeline.all_outputs() if name.endswith(("test_metrics", "mlflow_model"))
    } | {"champion_test_metrics", "campaign_metrics", "a.optuna_trial_runs"}


@pytest.fixture(scope="module")
def evaluated(
    tmp_path_factory, mlflow_db_template, fitted_models, test_set, trials_table
) -> Iterator[SimpleNamespace]:
    """One successful evaluation run of every test model in a fresh store (shared by the module).

    The working directory is the store's folder while the module's tests run.
    """
    directory = tmp_path_factory.mktemp("evaluation-run")
    with temporary_mlflow_store(directory, mlflow_db_template) as store:
        catalog, _ = project_catalog(fitted_models, test_set, trials_table.head(5))
        run = run_evaluation(catalog, fitted_models, store.experiment_id)
        yield SimpleNamespace(store=store, run=run)


def test_evaluation_run_writes_logs_and_registers(evaluated, fitted_models, test_set):
    run, store = evaluated.run, evaluated.store
    client = MlflowClient()

    # Files in data/ (the working directory is the run's folder) ...
    reporting = Path("data/08_reporting/evaluation")
    comparison = pd.read_csv(reporting / "model_comparison.csv")
    assert set(comparison["model"]) == set(MODELS)
    assert comparison["roc_auc"].is_monotonic_decreasing
    assert (reporting / "model_comparison.md").read_text().startswith("| model | roc_auc |")
    champion = json.loads(Path("data/06_models/champion.json").read_text())
    assert len(list(Path("data/06_models/champion_model.pkl").glob("*/champion_model.pkl"))) == 1
    assert champion["name"] == comparison["model"].iloc[0]
    threshold = json.loads(Path("data/06_models/contact_threshold.json").read_text())
    assert threshold["model"] == champion["name"] and 0 <= threshold["threshold"] <= 1
    summary = pd.read_csv(reporting / "campaign_summary.csv")
    assert summary["profit"].iloc[0] >= summary["profit"].iloc[1:].max()
    pngs = {path.name for path in reporting.glob("*.png")}
    assert {
        "roc_curves.png",
        "precision_recall_curves.png",
        "calibration.png",
        "gains_and_lift.png",
        "profit_curve.png",
        "champion_feature_importance.png",
        "xgboost_optuna_history.png",
        "xgboost_optuna_param_importances.png",
    } <= pngs

    # ... and in the MLflow run: metrics, artifacts, logged models, trial runs, the registry.
    metrics = run.data.metrics
    for model in MODELS:
        assert metrics[f"{model}.test.roc_auc"] == pytest.approx(
            comparison.set_index("model").loc[model, "roc_auc"]
        )
    assert metrics["champion.test.roc_auc"] == comparison["roc_auc"].max()
    assert metrics["campaign.threshold"] == pytest.approx(threshold["threshold"])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert {"evaluation/model_comparison.csv", "evaluation/champion.json", "evaluation/plots"} <= (
        artifacts
    )
    logged = mlflow.search_logged_models(
        experiment_ids=[store.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
        output_format="list",
    )
    assert {model.name for model in logged} == {*MODELS, "champion_model"}
    children = client.search_runs(
        [store.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'"
    )
    assert len(children) == 5
    version = client.get_model_version_by_alias("cross_sell_classifier", "champion")
    assert version.run_id == run.info.run_id
    assert version.tags["model_name"] == champion["name"]
    reloaded = mlflow.sklearn.load_model("models:/cross_sell_classifier@champion")
    features = test_set.drop(columns=["id", "response"])
    np.testing.assert_allclose(
        reloaded.predict_proba(features), fitted_models[champion["name"]].predict_proba(features)
    )


@pytest.fixture
def separate_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Write data/ elsewhere than the shared run (the MLflow store stays the same)."""
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("separate_data_folder")
def test_a_failing_node_leaves_the_champion_alias_alone(
    evaluated, fitted_models, test_set, trials_table
):
    client = MlflowClient()
    before = client.get_model_version_by_alias("cross_sell_classifier", "champion")
    assert before.run_id == evaluated.run.info.run_id
    # A late node fails: after the models are scored and logged and the champion is chosen.
    models = {"logistic_regression": fitted_models["logistic_regression"]}
    catalog, _ = project_catalog(models, test_set, trials_table.head(3))
    catalog["params:evaluation.feature_importance"] = {
        "n_rows": 100,
        "n_repeats": 1,
        "scoring": "no_such_scorer",
        "seed": 0,
    }
    with pytest.raises(ValueError, match="no_such_scorer"):
        run_evaluation(catalog, models, evaluated.store.experiment_id)
    after = client.get_model_version_by_alias("cross_sell_classifier", "champion")
    assert (after.version, after.run_id) == (before.version, before.run_id)
    versions = client.search_model_versions("name = 'cross_sell_classifier'")
    assert [version.run_id for version in versions] == [evaluated.run.info.run_id]


@pytest.mark.usefixtures("separate_data_folder")
def test_runtime_model_list_must_match_the_built_pipeline(
    evaluated, fitted_models, test_set, trials_table
):
    models = {"logistic_regression": fitted_models["logistic_regression"]}
    catalog, _ = project_catalog(models, test_set, trials_table.head(3))
    catalog["params:evaluation.models"] = ["xgboost"]
    with pytest.raises(ValueError, match=r"evaluation.models is \['xgboost'\] at run time"):
        run_evaluation(catalog, models, evaluated.store.experiment_id)
