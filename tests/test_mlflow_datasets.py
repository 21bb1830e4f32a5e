"""The custom MLflow datasets against a real temporary MLflow sqlite store."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError
from matplotlib.figure import Figure
from mlflow.models import Model
from mlflow.tracking import MlflowClient

from cross_sell.mlflow_datasets import (
    MatplotlibImageDataset,
    MlflowChampionModelDataset,
    MlflowOptunaTrialsDataset,
    MlflowSklearnModelDataset,
    pinned_requirements,
)
from tests.pipelines.evaluation.helpers import (
    make_clean_table,
    make_model,
    make_trials_table,
    mlflow_db_template,
    mlflow_store,
)

__all__ = ["mlflow_db_template", "mlflow_store"]


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    table = make_clean_table(800, seed=5)
    return table.drop(columns=["id", "response"]), table["response"]


@pytest.fixture(scope="module")
def trials_table() -> pd.DataFrame:
    return make_trials_table()


@pytest.fixture(scope="module")
def xgboost_model(data):
    return make_model("xgboost").fit(*data)


@pytest.fixture(scope="module")
def logistic_model(data):
    return make_model("logistic_regression").fit(*data)


def test_pinned_requirements_come_from_the_environment():
    pins = pinned_requirements()
    assert f"scikit-learn=={version('scikit-learn')}" in pins
    assert f"xgboost=={version('xgboost')}" in pins
    assert {pin.split("==")[0] for pin in pins} == {
        "scikit-learn",
        "xgboost",
        "pandas",
        "numpy",
        "cloudpickle",
    }


def test_model_dataset_logs_a_loadable_model_with_signature_and_example(
    mlflow_store, data, xgboost_model
):
    features, _ = data
    dataset = MlflowSklearnModelDataset(name="xgboost")
    with mlflow.start_run(experiment_id=mlflow_store.experiment_id) as run:
        dataset.save({"model": xgboost_model, "input_example": features.head(5)})
    assert dataset.model_uri.startswith("models:/")

    reloaded = dataset.load()
    np.testing.assert_allclose(
        reloaded.predict_proba(features), xgboost_model.predict_proba(features)
    )
    info = Model.load(dataset.model_uri)
    assert info.signature is not None
    assert info.signature.inputs.input_names() == list(features.columns)
    assert info.run_id == run.info.run_id
    assert info.flavors["sklearn"]["serialization_format"] == "cloudpickle"
    assert info.flavors["python_function"]["predict_fn"] == "predict_proba"
    local = Path(mlflow.artifacts.download_artifacts(dataset.model_uri))
    example = info.load_input_example(str(local))
    assert example.shape == (5, features.shape[1])
    requirements = (local / "requirements.txt").read_text()
    assert set(pinned_requirements()) <= set(requirements.split())
    # A fresh dataset pointed at the logged model loads it too.
    again = MlflowSklearnModelDataset(name="xgboost", model_uri=dataset.model_uri).load()
    np.testing.assert_allclose(again.predict_proba(features), xgboost_model.predict_proba(features))


def test_model_dataset_errors_are_clear(mlflow_store, data, xgboost_model):
    features, _ = data
    dataset = MlflowSklearnModelDataset(name="xgboost")
    with pytest.raises(DatasetError, match="nothing to load"):
        dataset.load()
    with pytest.raises(DatasetError, match="no active MLflow run"):
        dataset.save({"model": xgboost_model, "input_example": features.head(5)})
    with (
        mlflow.start_run(experiment_id=mlflow_store.experiment_id),
        pytest.raises(DatasetError, match="keys 'model'"),
    ):
        dataset.save(xgboost_model)
    dataset._logging_activated = False  # what kedro-mlflow does when tracking is disabled
    dataset.save({"model": xgboost_model, "input_example": features.head(5)})
    assert dataset.model_uri is None


def test_champion_dataset_registers_and_moves_the_alias(
    mlflow_store, data, xgboost_model, logistic_model
):
    features, _ = data
    dataset = MlflowChampionModelDataset(registered_model_name="cross_sell_test")
    client = MlflowClient()
    assert not dataset.exists()

    with mlflow.start_run(experiment_id=mlflow_store.experiment_id) as first_run:
        dataset.save(
            {
                "model": xgboost_model,
                "input_example": features.head(3),
                "model_name": "xgboost",
                "metrics": {"roc_auc": 0.9},
            }
        )
    version = client.get_model_version_by_alias("cross_sell_test", "champion")
    assert (str(version.version), version.run_id) == ("1", first_run.info.run_id)
    assert version.tags == {"model_name": "xgboost", "test.roc_auc": "0.9"}
    assert client.get_run(first_run.info.run_id).data.tags["champion.version"] == "1"
    assert dataset.exists()
    np.testing.assert_allclose(
        dataset.load().predict_proba(features), xgboost_model.predict_proba(features)
    )

    with mlflow.start_run(experiment_id=mlflow_store.experiment_id) as second_run:
        dataset.save(
            {"model": logistic_model, "input_example": features.head(3), "model_name": "lr"}
        )
    version = client.get_model_version_by_alias("cross_sell_test", "champion")
    assert (str(version.version), version.run_id) == ("2", second_run.info.run_id)
    np.testing.assert_allclose(
        dataset.load().predict_proba(features), logistic_model.predict_proba(features)
    )
    assert len(client.search_model_versions("name = 'cross_sell_test'")) == 2


def test_trials_dataset_logs_nested_runs_with_params_and_values(mlflow_store, trials_table):
    dataset = MlflowOptunaTrialsDataset(study_name="xgboost", objective_name="cv_roc_auc")
    with mlflow.start_run(experiment_id=mlflow_store.experiment_id) as parent:
        dataset.save(trials_table)
        loaded = dataset.load()
    client = MlflowClient()
    children = client.search_runs(
        [mlflow_store.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    assert len(children) == len(trials_table)
    by_number = {int(run.data.tags["optuna.trial_number"]): run for run in children}
    for trial in trials_table.itertuples():
        run = by_number[trial.number]
        assert run.info.run_name == f"xgboost-trial-{trial.number:03d}"
        assert run.data.params["max_depth"] == str(trial.params_max_depth)
        assert run.data.params["booster"] == trial.params_booster
        if trial.state == "COMPLETE":
            assert run.data.metrics["cv_roc_auc"] == pytest.approx(trial.value)
            assert run.info.status == "FINISHED"
        else:
            assert "cv_roc_auc" not in run.data.metrics
            assert run.info.status == "KILLED"  # pruned
    assert loaded["number"].tolist() == sorted(trials_table["number"])
    complete = trials_table["state"] == "COMPLETE"
    np.testing.assert_allclose(
        loaded.loc[complete.to_numpy(), "value"], trials_table.loc[complete, "value"]
    )
    # An explicit parent run id works without an active run.
    assert len(MlflowOptunaTrialsDataset("xgboost", "cv_roc_auc", parent.info.run_id).load()) == 12


def test_trials_dataset_errors_are_clear(mlflow_store, trials_table):
    dataset = MlflowOptunaTrialsDataset(study_name="rf")
    with pytest.raises(DatasetError, match="no active MLflow run"):
        dataset.save(trials_table)
    with pytest.raises(DatasetError, match="lacks columns \\['value'\\]"):
        dataset.save(trials_table.drop(columns="value"))


def test_matplotlib_image_dataset_saves_and_loads(tmp_path):
    fig = Figure()
    fig.subplots().plot([0, 1], [1, 0])
    dataset = MatplotlibImageDataset(filepath=str(tmp_path / "plots" / "line.png"))
    dataset.save(fig)
    image = dataset.load()
    assert image.ndim == 3 and image.shape[:2] == (480, 640)
