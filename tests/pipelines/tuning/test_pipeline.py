"""The tuning pipeline: a modular pipeline run through the project's real catalog, with a real Optuna
sqlite storage and a real MLflow store."""

import json
from pathlib import Path

import mlflow
import optuna
import pytest
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner
from mlflow.tracking import MlflowClient
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline as SklearnPipeline

from cross_sell.pipelines.tuning import create_pipeline
from cross_sell.pipelines.tuning.pipeline import TUNED_FAMILIES, create_tuned_family_pipeline
from tests.pipelines.data_science.support import add_parameters, project_catalog


def test_tuning_is_a_modular_pipeline_of_the_studies_and_refits():
    pipeline = create_pipeline()
    assert TUNED_FAMILIES == ("xgboost",)
    assert {node.name for node in pipeline.nodes} == {
        "tuning.xgboost.tune_hyperparameters_node",
        "tuning.xgboost.plot_study_node",
        "tuning.xgboost_tuned.apply_best_params_node",
        "tuning.xgboost_tuned.fit_model_node",
    }
    assert pipeline.inputs() == {
        "train_set",
        "validation_set",
        "params:xgboost",
        "params:columns",
        "params:tuning",
    }
    assert pipeline.outputs() == {
        "xgboost_tuned.model",
        "xgboost.optuna_history_plot",
        "xgboost.optuna_importances_plot",
    }
    assert all("test_set" not in node.inputs for node in pipeline.nodes)


def test_the_tuned_family_pipeline_adds_the_split():
    pipeline = create_tuned_family_pipeline("xgboost")
    names = {node.name for node in pipeline.nodes}
    assert names == {node.name for node in create_pipeline().nodes} | {
        "data_science.split_model_input_node"
    }
    assert "model_input_table" in pipeline.inputs()


@pytest.fixture
def tuned(mlflow_store, tmp_path, splits, parameters):
    """``tuning`` run once through the project's catalog inside an MLflow run."""
    train, validation, _ = splits
    pipeline = create_pipeline()
    catalog = DataCatalog.from_config(project_catalog())  # files under the working directory
    catalog["train_set"], catalog["validation_set"] = train, validation
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    params = {
        **parameters,
        "tuning": {
            **parameters["tuning"],
            "study": {**parameters["tuning"]["study"], "storage": storage},
        },
    }
    add_parameters(catalog, pipeline, params)
    with mlflow.start_run() as run:
        SequentialRunner().run(pipeline, catalog)
    return catalog, run, storage


def test_tuning_writes_and_logs_its_outputs_and_the_refit_matches_the_best_trial(
    tuned, splits, parameters, family_models
):
    catalog, run, storage = tuned
    (summary,) = optuna.get_all_study_summaries(storage)
    n_trials = parameters["tuning"]["xgboost"]["n_trials"]
    assert summary.n_trials == n_trials
    best = json.loads(Path("data/06_models/xgboost_best_params.json").read_text())
    assert best == summary.best_trial.params
    for plot in ("history", "importances"):
        png = Path(f"data/08_reporting/tuning/xgboost_optuna_{plot}.png")
        assert png.read_bytes()[:4] == b"\x89PNG"
    client = MlflowClient()
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "tuning")}
    assert artifacts == {
        "tuning/xgboost_optuna_history.png",
        "tuning/xgboost_optuna_importances.png",
    }
    assert [a.path for a in client.list_artifacts(run.info.run_id, "models")] == [
        "models/xgboost_tuned.pkl"
    ]
    children = client.search_runs(
        [run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'"
    )
    assert len(children) == n_trials

    # The refit scores the validation split as its best trial did, never below the untuned model.
    _, validation, _ = splits
    features, target = validation.drop(columns=["id", "response"]), validation["response"]
    tuned_model = catalog.load("xgboost_tuned.model")
    assert isinstance(tuned_model, SklearnPipeline)
    tuned_auc = roc_auc_score(target, tuned_model.predict_proba(features)[:, 1])
    untuned_auc = roc_auc_score(target, family_models["xgboost"].predict_proba(features)[:, 1])
    assert tuned_auc == pytest.approx(summary.best_trial.value)
    assert tuned_auc >= untuned_auc
