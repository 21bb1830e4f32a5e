"""Fixtures: a small clean model input table (the data_engineering contract), its split, and one
fitted model per family, shared by the data_science, tuning and evaluation tests.

The tuning and evaluation conftests expose these same fixtures; pytest would build a session
fixture once per conftest that holds it, so the expensive ones (the split, the fitted families,
the migrated MLflow database) are cached per process here and built once.
"""

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from cross_sell.params import Columns, DataScience
from cross_sell.pipelines.data_science.nodes import fit_model, split_model_input
from cross_sell.pipelines.data_science.pipeline import FAMILIES

from .model_input import make_model_input_table
from .support import (
    columns_of,
    family_of,
    fast_parameters,
    mlflow_db_template,
    project_parameters,
    single_threaded,
    temporary_mlflow_store,
)

Splits = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]


@cache
def _model_input_table() -> pd.DataFrame:
    return make_model_input_table(n_rows=4000, seed=1)


@cache
def _splits() -> Splits:
    params = project_parameters()
    return split_model_input(
        _model_input_table(), columns_of(params), DataScience(**params["data_science"])
    )


@cache
def _family_models() -> dict[str, Pipeline]:
    params = project_parameters()
    train, validation, _ = _splits()
    with single_threaded():
        return {
            family: fit_model(train, validation, family_of(params, family), columns_of(params))
            for family in FAMILIES
        }


@pytest.fixture(scope="session")
def model_input_table() -> pd.DataFrame:
    return _model_input_table()


@pytest.fixture(scope="session")
def parameters(tmp_path_factory) -> dict:
    """conf/base parameters (plain dictionaries) with a small tuning budget."""
    storage = tmp_path_factory.mktemp("optuna") / "optuna.db"
    return fast_parameters(f"sqlite:///{storage}")


@pytest.fixture(scope="session")
def columns(parameters) -> Columns:
    return columns_of(parameters)


@pytest.fixture(scope="session")
def splits() -> Splits:
    """train / validation / test of ``model_input_table`` by the split node (conf/base split)."""
    return _splits()


@pytest.fixture(scope="session")
def family_models() -> dict[str, Pipeline]:
    """Every family fitted on the training split by the data_science template's node."""
    return _family_models()


@pytest.fixture(autouse=True)
def _single_threaded() -> Iterator[None]:
    """Every test here with one native thread (see ``support.single_threaded``)."""
    with single_threaded():
        yield


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory) -> Path:
    return mlflow_db_template(tmp_path_factory)


@pytest.fixture
def mlflow_store(tmp_path: Path, mlflow_template: Path) -> Iterator[SimpleNamespace]:
    """A real, empty MLflow sqlite store in ``tmp_path``, also the working directory."""
    with temporary_mlflow_store(tmp_path, mlflow_template) as store:
        yield store
