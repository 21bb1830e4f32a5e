"""``champion_reference``: each registered version is compared with the reference logged by its
own training run (a real MLflow sqlite store, the project's catalog entry)."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from kedro.io import DataCatalog
from mlflow.tracking import MlflowClient

from cross_sell.datasets import ModelVersionReferenceDataset
from tests.conftest import REPO, project_config
from tests.robustness.support import new_mlflow_store, use_mlflow_store

MODEL = "cross_sell"


def _version_of_a_run(client: MlflowClient, folder: Path, reference: pd.DataFrame | None) -> str:
    """A registered version whose run logged ``reference`` under monitoring/ (or nothing)."""
    with mlflow.start_run() as run:
        if reference is not None:
            path = folder / run.info.run_id / "monitoring_reference.parquet"
            path.parent.mkdir(parents=True)
            reference.to_parquet(path)
            mlflow.log_artifact(str(path), artifact_path="monitoring")
    version = client.create_model_version(MODEL, f"runs:/{run.info.run_id}/model", run.info.run_id)
    return version.version


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Versions 1 and 2 with references of 3 and 5 rows; version 3 trained before monitoring."""
    folder = tmp_path_factory.mktemp("reference_store")
    uri = new_mlflow_store(folder, tmp_path_factory)
    with use_mlflow_store(uri):
        client = MlflowClient()
        client.create_registered_model(MODEL)
        for alias, reference in (
            ("old", pd.DataFrame({"age": [20, 30, 40], "probability": [0.1, 0.2, 0.3]})),
            ("champion", pd.DataFrame({"age": range(50, 55), "probability": [0.5] * 5})),
            ("ancient", None),
        ):
            client.set_registered_model_alias(
                MODEL, alias, _version_of_a_run(client, folder, reference)
            )
    return uri


def _dataset(alias: str) -> ModelVersionReferenceDataset:
    return ModelVersionReferenceDataset(
        model_name=MODEL, alias=alias, artifact_path="monitoring/monitoring_reference.parquet"
    )


def test_each_version_loads_the_reference_of_its_own_run(store):
    with use_mlflow_store(store):
        assert _dataset("champion").load()["age"].tolist() == [50, 51, 52, 53, 54]
        assert _dataset("old").load()["age"].tolist() == [20, 30, 40]


def test_a_version_trained_before_monitoring_loads_none(store):
    with use_mlflow_store(store):
        assert _dataset("ancient").exists()
        assert _dataset("ancient").load() is None


def test_no_registered_model_means_no_reference(tmp_path, tmp_path_factory):
    with use_mlflow_store(new_mlflow_store(tmp_path, tmp_path_factory)):
        assert not _dataset("champion").exists()


def test_the_catalog_entry_follows_the_model_alias_parameter(store):
    """``champion_reference`` takes the alias of ``registered_champion`` (model_alias)."""
    entry = project_config(REPO, "catalog")["champion_reference"]
    assert entry["alias"] == "champion"
    assert (entry["model_name"], entry["artifact_path"]) == (
        MODEL,
        "monitoring/monitoring_reference.parquet",
    )
    raw = (REPO / "conf" / "base" / "catalog_monitoring.yml").read_text()
    assert "alias: ${runtime_params:model_alias, champion}" in raw
    with use_mlflow_store(store):
        dataset = DataCatalog.from_config({"champion_reference": {**entry, "alias": "old"}})
        assert len(dataset.load("champion_reference")) == 3


def test_it_is_read_only():
    with pytest.raises(Exception, match="read only"):
        _dataset("champion").save(pd.DataFrame({"age": [1]}))
