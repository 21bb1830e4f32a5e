"""The servable model: every training run logs the raw-rows scoring pipeline as one MLflow model.

``create_training_ml_pipeline(training)`` wraps a training pipeline with kedro-mlflow's
``pipeline_ml_factory``. At the end of every run of it, kedro-mlflow logs a ``KedroPipelineModel``
(pyfunc) whose pipeline is ``create_serving_pipeline()`` (raw rows -> validate -> clean -> score)
and whose one artifact is ``champion_model`` (the champion with its contact threshold), and
registers it as a new version of ``REGISTERED_MODEL``. ``PromotionHook`` then moves the alias
``@champion`` to it if the promotion gate passed it.

The model is self-contained: the project package is copied into it (``code_paths``) and its
requirements are pinned from the running environment (no slow inference of requirements).
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd
from kedro.pipeline import Pipeline
from kedro_mlflow.pipeline import pipeline_ml_factory
from kedro_mlflow.pipeline.pipeline_ml import PipelineML
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, Schema

import cross_sell

from .pipeline import SCORING_REQUEST, create_serving_pipeline

logger = logging.getLogger(__name__)

REGISTERED_MODEL = "cross_sell"
"""The one registered model (``registered_champion`` in catalog.yml names it too)."""
ARTIFACT_NAME = "cross_sell_model"
"""The logged model's name in each training run."""

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
    """Output: id, probability, contact, reason_1..3. No input schema, on purpose: MLflow's scoring server would
    cast each column to a declared type itself (``Age`` "forty" fails inside pandas with no column
    named, 35.5 becomes 35); without one, the project's raw schema (``validate_scoring_request``)
    checks every value and names the column, the rule and the rows (HTTP 400)."""
    outputs = Schema(
        [ColSpec("long", "id"), ColSpec("double", "probability"), ColSpec("boolean", "contact")]
        + [ColSpec("string", name) for name in ("reason_1", "reason_2", "reason_3")]
    )
    return ModelSignature(inputs=None, outputs=outputs)


def create_training_ml_pipeline(training: Pipeline) -> PipelineML:
    """Bind ``training`` to the serving pipeline: one servable model version per training run.

    ``training`` must output ``champion_model`` (persisted in the catalog). Register the result
    as is (e.g. ``pipelines["__default__"]``): adding pipelines to a ``PipelineML`` turns it back
    into a plain ``Pipeline`` and nothing is logged.
    """
    return pipeline_ml_factory(
        training=training,
        inference=create_serving_pipeline(),
        input_name=SCORING_REQUEST,
        log_model_kwargs={
            "name": ARTIFACT_NAME,
            "registered_model_name": REGISTERED_MODEL,
            "signature": serving_signature(),
            "input_example": input_example(),
            "pip_requirements": pinned_requirements(),
            "code_paths": [str(Path(cross_sell.__file__).parent)],
        },
    )
