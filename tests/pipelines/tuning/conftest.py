"""Fixtures for the tuning tests: the same small model input table, split, fitted families and
MLflow store as data_science (found by pytest under these names)."""

from tests.pipelines.data_science import conftest as data_science

_single_threaded = data_science._single_threaded  # autouse
columns = data_science.columns
family_models = data_science.family_models
mlflow_store = data_science.mlflow_store
mlflow_template = data_science.mlflow_template
model_input_table = data_science.model_input_table
parameters = data_science.parameters
splits = data_science.splits
