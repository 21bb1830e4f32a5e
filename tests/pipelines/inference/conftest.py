"""Fixtures for inference: raw Kaggle test rows, small fitted champions with their contact
thresholds, a real MLflow registry holding them, and the project's real catalog in a temporary
project folder."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.validation.parameter_validator import ParameterValidator
from mlflow.tracking import MlflowClient

from cross_sell import settings
from cross_sell.params import Campaign, Columns, Family
from cross_sell.pipelines.data_engineering.nodes import clean_raw_table
from cross_sell.pipelines.data_science.nodes import fit_model
from cross_sell.pipelines.evaluation.champion import with_threshold
from cross_sell.pipelines.inference.pipeline import create_pipeline
from cross_sell.pipelines.inference.serving import REGISTERED_MODEL
from tests.pipelines.data_engineering.conftest import make_raw_frame

from .serving_support import log_servable_model

REPO = Path(__file__).resolve().parents[3]
CAMPAIGN = Campaign(contact_cost=5.0, conversion_value=50.0)


def make_test_frame(n_rows: int = 40, first_id: int = 500_001) -> pd.DataFrame:
    """Valid raw rows in the Kaggle ``test.csv`` format (no ``Response``)."""
    return make_raw_frame(n_rows, include_target=False, first_id=first_id)


def fit_champion(n_rows: int = 400, family: str = "logistic_regression", **kwargs: Any) -> Any:
    """A model of the project's ``family`` (its conf block, ``kwargs`` overriding the estimator's)
    fitted by ``data_science``'s node on small raw-like rows, then wrapped with its
    profit-optimal contact threshold on a validation table, as ``evaluation`` does."""
    parameters = _parameters()
    block = parameters[family]
    config = Family.model_validate({**block, "kwargs": {**block.get("kwargs", {}), **kwargs}})
    columns = Columns.model_validate(parameters["columns"])
    train = clean_raw_table(make_raw_frame(n_rows))
    validation = clean_raw_table(make_raw_frame(200, first_id=100_001))
    model = fit_model(train, validation, config, columns)
    return with_threshold(model, validation, columns, CAMPAIGN)


def _parameters() -> dict[str, Any]:
    loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(REPO / "conf"), **settings.CONFIG_LOADER_ARGS
    )
    return loader["parameters"]


@pytest.fixture(scope="session")
def champion() -> Any:
    return fit_champion()


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


class Project:
    """A temporary project folder with the repository's conf/ and the catalog it declares."""

    def __init__(self, root: Path, **runtime_params: Any) -> None:
        self.root = root
        if not (root / "conf").exists():
            shutil.copytree(REPO / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
            (root / "conf" / "local").mkdir()
        loader = settings.CONFIG_LOADER_CLASS(
            conf_source=str(root / "conf"),
            runtime_params=runtime_params or None,
            **settings.CONFIG_LOADER_ARGS,
        )
        self.conf_catalog = loader["catalog"]
        self.parameters = loader["parameters"]

    def catalog(self, **params: Any) -> DataCatalog:
        """A fresh catalog from conf (paths relative to the project), with the parameters
        (``params`` overriding ``inference``'s) typed as Kedro types them before a run."""
        catalog = DataCatalog.from_config(self.conf_catalog)
        raw = {**self.parameters, "inference": {**self.parameters["inference"], **params}}
        validated = ParameterValidator({"inference": create_pipeline()}).validate_raw_params(raw)

        def add(prefix: str, value: Any) -> None:  # as Kedro does: every level of nesting
            catalog[prefix] = value
            if isinstance(value, dict):
                for key, item in value.items():
                    add(f"{prefix}.{key}", item)

        for key, value in validated.items():
            add(f"params:{key}", value)
        return catalog

    def path(self, relative: str) -> Path:
        return self.root / relative

    def latest(self, versioned: str) -> Path:
        """The newest version of a versioned file, e.g. ``data/07_model_output/rejects.csv``."""
        versions = sorted(self.path(versioned).iterdir())
        return versions[-1] / self.path(versioned).name


@dataclass
class Registry:
    """A real MLflow sqlite store holding two versions of the registered model.

    Version 1 is ``@champion`` (``champion``); version 2 is ``@challenger`` (``challenger``,
    another classifier with another contact threshold).
    """

    uri: str
    champion: Any
    challenger: Any


@pytest.fixture(scope="session")
def registry(tmp_path_factory, champion) -> Registry:
    """Each version logged as a training run logs it (``log_servable_model``), then aliased."""
    root = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    challenger = fit_champion(n_rows=300, C=0.01)  # another model, another threshold
    assert challenger.best_threshold_ != champion.best_threshold_
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        mlflow.set_tracking_uri(uri)
        try:
            for model in (champion, challenger):
                with mlflow.start_run():
                    log_servable_model(Project(root).catalog(), model)
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            client.set_registered_model_alias(REGISTERED_MODEL, "champion", "1")
            client.set_registered_model_alias(REGISTERED_MODEL, "challenger", "2")
        finally:
            mlflow.set_tracking_uri(None)
    return Registry(uri=uri, champion=champion, challenger=challenger)


@pytest.fixture
def use_registry(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    """MLflow (tracking and registry) pointed at ``registry`` for one test."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.uri)
    mlflow.set_tracking_uri(registry.uri)
    mlflow.set_registry_uri(registry.uri)
    yield registry
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The real catalog in a temporary folder (the working directory)."""
    monkeypatch.chdir(tmp_path)
    return Project(tmp_path)
