"""Fixtures for evaluation: a small clean table, fitted pipelines, Optuna trials, an MLflow store."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from tests.pipelines.evaluation.helpers import (
    MODELS,
    make_clean_table,
    make_model,
    make_trials_table,
    mlflow_db_template,
    mlflow_store,
)

__all__ = ["mlflow_db_template", "mlflow_store"]


@pytest.fixture(scope="session")
def train_set() -> pd.DataFrame:
    return make_clean_table(3000, seed=1)


@pytest.fixture(scope="session")
def test_set() -> pd.DataFrame:
    """The evaluation split: rows no model was fitted on."""
    return make_clean_table(1500, seed=2, first_id=100_001)


@pytest.fixture(scope="session")
def fitted_models(train_set: pd.DataFrame) -> dict[str, Pipeline]:
    features = train_set.drop(columns=["id", "response"])
    return {kind: make_model(kind).fit(features, train_set["response"]) for kind in MODELS}


@pytest.fixture(scope="session")
def trials_table() -> pd.DataFrame:
    return make_trials_table()
