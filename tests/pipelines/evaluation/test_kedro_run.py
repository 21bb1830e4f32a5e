"""``kedro run --pipelines=evaluation`` for real: kedro-mlflow's hook marks a failed run FAILED and
the registry alias stays on the previous champion."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog
from mlflow.tracking import MlflowClient

from cross_sell import settings
from cross_sell.mlflow_datasets import MlflowChampionModelDataset
from cross_sell.pipelines.evaluation.pipeline import DEFAULT_MODELS
from tests.conftest import run_kedro


def write_training_outputs(project: Path, models, test_set, trials_table) -> None:
    """What data_science and tuning leave on disk, written through the project's own catalog
    (the working directory is ``project``, so its relative paths land there)."""
    loader = OmegaConfigLoader(conf_source=str(project / "conf"), **settings.CONFIG_LOADER_ARGS)
    catalog = DataCatalog.from_config(loader["catalog"])
    catalog.save("test_set", test_set)
    for name, model in models.items():
        catalog.save(f"{name}.model", model)
    for family in ("xgboost", "random_forest"):
        catalog.save(f"{family}.optuna_trials", trials_table.head(3))


@pytest.fixture
def trained_project(project, monkeypatch, fitted_models, test_set, trials_table) -> Path:
    """A project copy holding a training run's outputs (every default model name, tuned ones
    being copies of their family's test model); the working directory is the project."""
    monkeypatch.chdir(project)
    models = {name: fitted_models[name.removesuffix("_tuned")] for name in DEFAULT_MODELS}
    write_training_outputs(project, models, test_set, trials_table)
    return project


def test_failed_run_is_marked_failed_and_keeps_the_alias(
    trained_project, mlflow_db_template, fitted_models, test_set
):
    project = trained_project
    # A champion registered by an earlier training run.
    shutil.copy(mlflow_db_template, project / "mlflow.db")
    uri, previous = f"sqlite:///{project / 'mlflow.db'}", mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        experiment = mlflow.create_experiment(
            "earlier", artifact_location=(project / "mlruns").as_uri()
        )
        with mlflow.start_run(experiment_id=experiment) as earlier:
            features = test_set.drop(columns=["id", "response"])
            MlflowChampionModelDataset(registered_model_name="cross_sell_classifier").save(
                {"model": fitted_models["xgboost"], "input_example": features.head(3)}
            )

        result = run_kedro(
            project,
            "run",
            "--pipelines=evaluation",
            "--params=evaluation.columns.target=no_such_column",  # the first node fails
            check=False,
        )
        assert result.returncode != 0
        assert "no_such_column" in result.stdout + result.stderr

        client = MlflowClient()
        failed = client.search_runs(
            [client.get_experiment_by_name("cross_sell").experiment_id],
            filter_string="tags.`mlflow.runName` = 'evaluation'",
        )
        assert [run.info.status for run in failed] == ["FAILED"]
        champion = client.get_model_version_by_alias("cross_sell_classifier", "champion")
        assert champion.run_id == earlier.info.run_id
        assert len(client.search_model_versions("name = 'cross_sell_classifier'")) == 1
    finally:
        mlflow.set_tracking_uri(previous)
