"""Fixtures for evaluation: the data_science split and fitted families (plus a tuned refit), the
project's evaluation parameters as typed models, and a real MLflow store."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sklearn.pipeline import Pipeline

from cross_sell.params import Campaign, Champion
from cross_sell.pipelines.data_science.nodes import apply_best_params, fit_model
from cross_sell.pipelines.evaluation.champion import report_on_test, select_champion
from tests.pipelines.data_science import conftest as data_science
from tests.pipelines.data_science.support import family_of

# The data_science fixtures, shared (found by pytest under these names).
_single_threaded = data_science._single_threaded  # autouse
columns = data_science.columns
family_models = data_science.family_models
mlflow_store = data_science.mlflow_store
mlflow_template = data_science.mlflow_template
model_input_table = data_science.model_input_table
parameters = data_science.parameters
splits = data_science.splits


@pytest.fixture(scope="session")
def models(family_models, splits, parameters, columns) -> dict[str, Pipeline]:
    """Every trained model: each family, and the tuned refit (here with other kwargs)."""
    train, validation, _ = splits
    tuned = apply_best_params(family_of(parameters, "xgboost"), {"max_depth": 3})
    return family_models | {"xgboost_tuned": fit_model(train, validation, tuned, columns)}


@pytest.fixture(scope="session")
def campaign(parameters) -> Campaign:
    return Campaign(**parameters["evaluation"]["campaign"])


@pytest.fixture(scope="session")
def champion_params(parameters) -> Champion:
    return Champion(**parameters["evaluation"]["champion"])


@pytest.fixture(scope="session")
def evaluated(models, splits, columns, champion_params, campaign) -> SimpleNamespace:
    """``select_champion`` on validation, then ``report_on_test``, over every model."""
    _, validation, test = splits
    champion_model, validation_comparison, champion = select_champion(
        validation, columns, champion_params, campaign, **models
    )
    comparison, test_scores, test_metrics = report_on_test(
        test, validation_comparison, columns, campaign, **models
    )
    return SimpleNamespace(
        champion_model=champion_model,
        validation_comparison=validation_comparison,
        champion=champion,
        comparison=comparison,
        test_scores=test_scores,
        test_metrics=test_metrics,
    )
