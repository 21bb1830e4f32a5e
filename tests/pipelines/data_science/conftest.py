"""Fixtures: a small clean model input table (the data_engineering contract) and its split."""

import pandas as pd
import pytest

from cross_sell.pipelines.data_science.nodes import split_model_input

from .model_input import make_model_input_table
from .support import fast_parameters


@pytest.fixture(scope="session")
def model_input_table() -> pd.DataFrame:
    return make_model_input_table(n_rows=4000, seed=1)


@pytest.fixture(scope="session")
def parameters(tmp_path_factory) -> dict:
    storage = tmp_path_factory.mktemp("optuna") / "optuna.db"
    return fast_parameters(f"sqlite:///{storage}")


@pytest.fixture(scope="session")
def columns(parameters) -> dict:
    return parameters["data_science"]["columns"]


@pytest.fixture(scope="session")
def splits(model_input_table, parameters) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    data_science = parameters["data_science"]
    return split_model_input(model_input_table, data_science["columns"], data_science["split"])
