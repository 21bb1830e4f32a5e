"""One servable MLflow model from raw rows: training bound to the serving pipeline.

``create_training_ml_pipeline(training)`` wraps the training pipeline with kedro-mlflow's
``pipeline_ml_factory``. At the end of every run of it, kedro-mlflow's hook logs a
``KedroPipelineModel`` (pyfunc) whose pipeline is ``create_serving_pipeline()`` (raw rows ->
validate -> clean -> score) and whose artifacts are the training outputs it reads
(``champion_model``, ``contact_threshold``). The model is registered as
``inference.serving.registered_model_name``; ``ServableModelHook`` (``hooks.py``) then points
the alias ``inference.serving.alias`` at the new version, so
``mlflow models serve -m models:/cross_sell@champion`` serves the latest champion.

The model is self-contained: the project package is copied into it (``code_paths``) and its
requirements are pinned from the running environment (no slow inference of requirements).
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.pipeline import Pipeline
from kedro_mlflow.pipeline import pipeline_ml_factory
from kedro_mlflow.pipeline.pipeline_ml import PipelineML
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, Schema

import cross_sell
from cross_sell.pipelines.data_engineering.schema import raw_columns
from cross_sell.project_conf import configured_parameters

from .pipeline import SCORING_REQUEST, create_serving_pipeline

logger = logging.getLogger(__name__)

DEFAULT_SERVING: dict[str, str] = {
    "registered_model_name": "cross_sell",
    "alias": "champion",
    "artifact_name": "cross_sell_model",
}
"""Used when conf/ has no ``inference.serving`` (tests check they match the YAML)."""

SERVING_REQUIREMENTS: tuple[str, ...] = (
    "kedro",
    "kedro-datasets",
    "kedro-mlflow",
    "pandas",
    "numpy",
    "pyarrow",
    "pandera",
    "scikit-learn",
    "xgboost",
    "cloudpickle",
)
"""What the served model imports (mlflow itself is added by mlflow)."""
KAGGLE_TYPES: dict[str, str] = {
    "id": "long",
    "Gender": "string",
    "Age": "long",
    "Driving_License": "long",
    "Region_Code": "double",
    "Previously_Insured": "long",
    "Vehicle_Age": "string",
    "Vehicle_Damage": "string",
    "Annual_Premium": "double",
    "Policy_Sales_Channel": "double",
    "Vintage": "long",
}
"""MLflow type of each raw column, as the Kaggle files write them (``Region_Code`` ``28.0``)."""


def input_example() -> pd.DataFrame:
    """Two raw Kaggle test rows (the second with a sales channel absent from train.csv).

    Logged with the model (the MLflow UI shows it; ``serving_input_example.json`` is a ready
    request body), and MLflow scores it once while logging: a model that cannot score raw rows
    is noticed at the end of training, not by its first client.
    """
    return pd.DataFrame(
        {
            "id": [381110, 381111],
            "Gender": ["Male", "Female"],
            "Age": [25, 40],
            "Driving_License": [1, 1],
            "Region_Code": [11.0, 28.0],
            "Previously_Insured": [1, 0],
            "Vehicle_Age": ["< 1 Year", "1-2 Year"],
            "Vehicle_Damage": ["No", "Yes"],
            "Annual_Premium": [35786.0, 33762.0],
            "Policy_Sales_Channel": [152.0, 141.0],
            "Vintage": [53, 111],
        }
    )


def pinned_requirements(packages: tuple[str, ...] = SERVING_REQUIREMENTS) -> list[str]:
    """``name==version`` of each installed package, read from the environment."""
    pins = []
    for package in packages:
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            logger.warning("%s is not installed: left out of the model requirements", package)
    return pins


def serving_signature() -> ModelSignature:
    """Input: the raw Kaggle columns (no ``Response``) typed as in the Kaggle CSV; output: id,
    probability, contact.

    With the Kaggle types, ``pd.read_csv`` of a Kaggle file can be passed to ``predict`` as is,
    and the scoring server accepts JSON (``dataframe_split``, ``dataframe_records``) and CSV
    (``text/csv``: lines of a Kaggle file). MLflow answers HTTP 400 for a missing column (named)
    or a value of the wrong type (e.g. ``Age`` "forty" or empty) and drops extra columns; the values
    are then checked by the project's schema (``validate_scoring_request``).
    """
    inputs = Schema([ColSpec(KAGGLE_TYPES[name], name) for name in raw_columns(False)])
    outputs = Schema(
        [ColSpec("long", "id"), ColSpec("double", "probability"), ColSpec("boolean", "contact")]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


def configured_serving(conf_source: str | Path | None = None) -> dict[str, Any]:
    """``inference.serving`` of the project's conf (base + run env), over the defaults.

    Read with the project's config loader, so this works before a Kedro session exists (when the
    pipelines are registered, or in a test).
    """
    inference = configured_parameters(conf_source).get("inference") or {}
    return DEFAULT_SERVING | dict(inference.get("serving") or {})


def create_training_ml_pipeline(
    training: Pipeline,
    registered_model_name: str | None = None,
    artifact_name: str | None = None,
) -> PipelineML:
    """Bind ``training`` to the serving pipeline: one servable model per training run.

    ``training`` must output ``champion_model`` and ``contact_threshold`` (persisted in the
    catalog). Register the result as is (e.g. ``pipelines["__default__"]``): adding pipelines to
    a ``PipelineML`` turns it back into a plain ``Pipeline`` and nothing is logged.

    Args:
        training: The training pipeline (e.g. data_engineering + data_science + evaluation).
        registered_model_name: Registry name; default ``inference.serving`` in conf/.
        artifact_name: Name of the logged model in the run; default from conf/ as well.
    """
    conf = configured_serving()
    return pipeline_ml_factory(
        training=training,
        inference=create_serving_pipeline(),
        input_name=SCORING_REQUEST,
        log_model_kwargs={
            "name": artifact_name or conf["artifact_name"],
            "registered_model_name": registered_model_name or conf["registered_model_name"],
            "signature": serving_signature(),
            "input_example": input_example(),
            "pip_requirements": pinned_requirements(),
            "code_paths": [str(Path(cross_sell.__file__).parent)],
        },
    )
