"""Helpers of the robustness tests (and of the packaging and notebook tests).

- ``ProjectFolder``: a folder holding a copy of the real conf/, and its catalog, for in-process
  runs of a pipeline with ``SequentialRunner``: the parameters are validated into the project's
  typed models by Kedro's own ``ParameterValidator``, as ``kedro run`` does.
- ``clone_trained_project``: a copy of a trained project whose MLflow store points at the copy.
- ``use_mlflow_store`` and ``register_servable_model``: a real MLflow sqlite store holding
  ``cross_sell@champion``, logged exactly as kedro-mlflow logs it at the end of ``kedro run``.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline
from kedro.validation.parameter_validator import ParameterValidator
from kedro_datasets.pickle import PickleDataset
from kedro_mlflow.mlflow import KedroPipelineModel
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from cross_sell import settings
from cross_sell.params import Campaign, Champion, Columns
from cross_sell.pipeline_registry import register_pipelines
from cross_sell.pipelines.data_engineering.nodes import clean_raw_table
from cross_sell.pipelines.evaluation.champion import select_champion
from tests.pipelines.data_engineering.conftest import make_raw_frame

REPO = Path(__file__).resolve().parents[2]
REGISTERED_MODEL, ALIAS = "cross_sell", "champion"


class ProjectFolder:
    """A folder holding a copy of the repository's conf/; catalog paths are relative to it."""

    def __init__(self, root: Path, config: tuple[dict, dict] | None = None) -> None:
        self.root = root
        if not (root / "conf").exists():
            shutil.copytree(REPO / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
            (root / "conf" / "local").mkdir()
        if config is None:
            loader = settings.CONFIG_LOADER_CLASS(
                conf_source=str(root / "conf"), **settings.CONFIG_LOADER_ARGS
            )
            config = loader["catalog"], loader["parameters"]
        self.conf_catalog, self.parameters = config

    def clone(self, root: Path) -> ProjectFolder:
        """A copy of this folder (conf and data) at ``root``, sharing the loaded config."""
        shutil.copytree(self.root, root)
        return ProjectFolder(root, (self.conf_catalog, self.parameters))

    def catalog(self, pipeline: Pipeline, **overrides: Any) -> DataCatalog:
        """A fresh catalog from conf, holding every ``params:`` input of ``pipeline``.

        The parameters are validated into the typed models of ``cross_sell.params`` by Kedro's
        ``ParameterValidator`` (what ``kedro run`` does); ``overrides`` replace single values
        first (keys use ``__`` for dots, like ``--params=inference.max_reject_share=0.5``).
        """
        raw = _deep_copy(self.parameters)
        for dotted, value in overrides.items():
            *parents, leaf = dotted.split("__")
            block = raw
            for key in parents:
                block = block[key]
            block[leaf] = value
        validated = ParameterValidator({"run": pipeline}).validate_raw_params(raw)
        catalog = DataCatalog.from_config(self.conf_catalog)
        for name in sorted(pipeline.inputs()):
            if name.startswith("params:"):
                value: Any = validated
                for key in name.removeprefix("params:").split("."):
                    value = value[key] if isinstance(value, dict) else getattr(value, key)
                catalog[name] = value
        return catalog

    def path(self, relative: str) -> Path:
        return self.root / relative

    def versions(self, versioned: str) -> list[Path]:
        """The files of every version of a versioned dataset, oldest first."""
        folder = self.path(versioned)
        if not folder.exists():
            return []
        return [version / folder.name for version in sorted(folder.iterdir())]


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _deep_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_deep_copy(item) for item in value]
    return value


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (nothing listens there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------- MLflow stores
STORE_PATH_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("model_versions", "storage_location"),
    ("logged_models", "artifact_location"),
)


def _repoint_store(db_path: Path, source: Path, dest: Path) -> None:
    """Artifact locations under ``source`` now under ``dest`` (the store was copied there)."""
    with sqlite3.connect(db_path) as db:
        for table, column in STORE_PATH_COLUMNS:
            db.execute(
                f"UPDATE {table} SET {column} = replace({column}, ?, ?)", (str(source), str(dest))
            )


def clone_trained_project(source: Path, dest: Path) -> Path:
    """Copy a trained project (data, ``mlflow.db``, ``mlruns/``); its MLflow store's artifact
    locations point at the copy, so the copy can be changed without touching ``source``."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("*.log"))
    _repoint_store(dest / "mlflow.db", source, dest)
    return dest


def clone_mlflow_store(project: Path, dest: Path) -> str:
    """Copy only the MLflow store of a trained project (``mlflow.db``, ``mlruns/``) to ``dest``,
    e.g. a team's store that a deployment reads the registered model from; its URI."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(project / "mlflow.db", dest / "mlflow.db")
    shutil.copytree(project / "mlruns", dest / "mlruns")
    _repoint_store(dest / "mlflow.db", project, dest)
    return f"sqlite:///{dest / 'mlflow.db'}"


_TEMPLATES: dict[Path, Path] = {}


def new_mlflow_store(folder: Path, factory: pytest.TempPathFactory) -> str:
    """The URI of a new, empty MLflow sqlite store in ``folder`` (artifacts in folder/mlruns).

    Creating a store runs MLflow's database migrations (several seconds): they run once per
    session, in a template that is then copied.
    """
    base = factory.getbasetemp()
    if base not in _TEMPLATES:
        template = factory.mktemp("mlflow-template")
        with use_mlflow_store(f"sqlite:///{template / 'mlflow.db'}"):
            MlflowClient().search_experiments()  # creates the tables and the Default experiment
        _TEMPLATES[base] = template
    template = _TEMPLATES[base]
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(template / "mlflow.db", folder / "mlflow.db")
    with sqlite3.connect(folder / "mlflow.db") as db:
        db.execute(  # the Default experiment's artifacts: folder/mlruns/0, as if made there
            "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
            (str(folder / "mlruns" / "0"),),
        )
    return f"sqlite:///{folder / 'mlflow.db'}"


@contextmanager
def use_mlflow_store(uri: str) -> Iterator[str]:
    """Point MLflow's tracking and registry at ``uri`` for the block, then back.

    (tests/conftest.py restores the environment variables mlflow exports; this restores the
    in-process settings.)
    """
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield uri
    finally:
        while mlflow.active_run():
            with contextlib.suppress(MlflowException):
                mlflow.end_run()  # pops first: a run left by another store cannot block this
        mlflow.set_tracking_uri(previous)
        mlflow.set_registry_uri(None)  # the registry follows the tracking URI again


def fit_small_champion(n_rows: int = 600) -> Any:
    """A champion as ``evaluation.select_champion_node`` makes it, from a small real fit.

    A logistic regression on the clean columns of generated raw rows, given its contact
    threshold on the last third (the validation split) by the project's ``select_champion``:
    a scikit-learn ``TunedThresholdClassifierCV``.
    """
    clean = clean_raw_table(make_raw_frame(n_rows))
    train, validation = clean.iloc[: 2 * n_rows // 3], clean.iloc[2 * n_rows // 3 :]
    columns = Columns(
        id="id",
        target="response",
        categorical=["region_code", "policy_sales_channel"],
        capped=["annual_premium"],
    )
    model = make_pipeline(
        ColumnTransformer(
            [("codes", OneHotEncoder(handle_unknown="ignore"), columns.categorical)],
            remainder=StandardScaler(),
        ),
        LogisticRegression(max_iter=500),
    ).fit(train.drop(columns=["id", "response"]), train["response"])
    champion, _, _ = select_champion(
        validation,
        columns,
        Champion(metric="roc_auc", tie_breaker="log_loss"),
        Campaign(contact_cost=5.0, conversion_value=50.0),
        logistic_regression=model,
    )
    return champion


def register_servable_model(champion_model: Any, alias: str | None = ALIAS) -> ModelVersion:
    """Log and register the servable model of ``champion_model`` in the current MLflow store.

    What kedro-mlflow does at the end of a ``kedro run`` of the ``__default__`` PipelineML
    (``MlflowHook.after_pipeline_run``): the serving pipeline as a ``KedroPipelineModel`` whose
    artifact is ``champion_model``, with the project's ``log_model_kwargs`` (signature, input
    example, pinned requirements, the package as code), registered as a new version of
    ``cross_sell``; then ``alias`` is set on it, as ``PromotionHook`` does for a promoted model.
    """
    training = register_pipelines()["__default__"]
    with tempfile.TemporaryDirectory() as folder:
        catalog = DataCatalog(
            {
                "champion_model": PickleDataset(
                    filepath=str(Path(folder) / "champion_model.pkl"), backend="joblib"
                )
            }
        )
        catalog.save("champion_model", champion_model)
        model = KedroPipelineModel(
            pipeline=training.inference,
            catalog=catalog,
            input_name=training.input_name,
            **training.kpm_kwargs,
        )
        kwargs = dict(training.log_model_kwargs)
        signature = kwargs.pop("signature")
        with mlflow.start_run(run_name="__default__"):
            info = mlflow.pyfunc.log_model(
                python_model=model,
                artifacts=model.extract_pipeline_artifacts(Path(folder)),
                signature=signature,
                **kwargs,
            )
    client = MlflowClient()
    version = client.get_model_version(REGISTERED_MODEL, str(info.registered_model_version))
    if alias:
        client.set_registered_model_alias(REGISTERED_MODEL, alias, version.version)
    return version


def raw_rows(n_rows: int, first_id: int = 500_001) -> pd.DataFrame:
    """Valid raw rows in the Kaggle ``test.csv`` format (no ``Response``)."""
    return make_raw_frame(n_rows, include_target=False, first_id=first_id)
