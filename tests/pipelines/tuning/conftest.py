"""Fixtures for the tuning tests: the same small model input table and split as data_science."""

from tests.pipelines.data_science.conftest import (  # noqa: F401 (fixtures, used by name)
    columns,
    model_input_table,
    parameters,
    splits,
)
