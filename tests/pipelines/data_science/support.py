"""Helpers shared by the data_science, tuning and evaluation tests: the project's real configuration,
as plain dictionaries and as the typed parameter models the nodes receive."""

from __future__ import annotations

import copy
import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import mlflow
import pytest
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline
from kedro.validation import ParameterValidator
from mlflow.tracking import MlflowClient
from threadpoolctl import threadpool_limits

from cross_sell import settings
from cross_sell.params import Columns, Family

PROJECT = Path(__file__).resolve().parents[3]


def _load_config(key: str) -> dict[str, Any]:
    """``conf/base`` configuration ``key`` (parameters, catalog) through the project's loader."""
    with warnings.catch_warnings():  # omegaconf's register_new_resolver deprecation notice
        warnings.simplefilter("ignore", UserWarning)
        loader = settings.CONFIG_LOADER_CLASS(
            conf_source=str(PROJECT / "conf"), **settings.CONFIG_LOADER_ARGS
        )
        return loader[key]


def project_parameters() -> dict[str, Any]:
    """``conf/base`` parameters, as plain dictionaries (what the config loader gives Kedro)."""
    return _load_config("parameters")


def project_catalog() -> dict[str, Any]:
    """``conf/base/catalog.yml``."""
    return _load_config("catalog")


def fast_parameters(storage: str) -> dict[str, Any]:
    """The project parameters with a small trial budget and the Optuna study in ``storage``."""
    params = copy.deepcopy(project_parameters())
    params["tuning"]["study"]["storage"] = storage
    params["tuning"]["xgboost"].update(n_trials=3, timeout=None)
    return params


def single_threaded() -> threadpool_limits:
    """Native thread pools (OpenMP, BLAS) limited to one thread while the block runs.

    scikit-learn's ``HistGradientBoostingClassifier`` has no ``n_jobs``: it takes every core.
    On a busy 2-core machine its spinning OpenMP threads made one fit on 2,800 rows take
    11-31 s instead of 2.3 s (measured); the results are the same.
    """
    return threadpool_limits(limits=1)


def columns_of(params: dict[str, Any]) -> Columns:
    """The ``columns`` block as the nodes receive it."""
    return Columns(**params["columns"])


def family_of(params: dict[str, Any], name: str) -> Family:
    """A family's block (``xgboost``, ...) as the nodes receive it."""
    return Family(**params[name])


def add_parameters(catalog: DataCatalog, pipeline: Pipeline, params: dict[str, Any]) -> None:
    """Give ``catalog`` the ``params:`` entries of ``params`` as a Kedro session does: validated
    against the type hints of ``pipeline``'s nodes (Kedro's own ``ParameterValidator``), then
    one entry per key and per nested key of the blocks left as dictionaries."""
    validated = ParameterValidator({"under_test": pipeline}).validate_raw_params(params)

    def add(name: str, value: Any) -> None:
        catalog[f"params:{name}"] = value
        if isinstance(value, dict):
            for key, inner in value.items():
                add(f"{name}.{key}", inner)

    for name, value in validated.items():
        add(name, value)


_MLFLOW_TEMPLATE: list[Path] = []
MLFLOW_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID")


@contextmanager
def _uri_variables_restored() -> Iterator[None]:
    """``mlflow.set_tracking_uri`` / ``set_registry_uri`` export their variables and never unset
    them; put these back as they were (tests/conftest.py does it for the URIs per test; this also
    covers the session and module fixtures, which outlive a test)."""
    saved = {name: os.environ.get(name) for name in MLFLOW_VARIABLES}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def mlflow_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated MLflow sqlite database, created once per test process.

    MLflow's migrations take seconds; every store of these tests is a copy of this one. (A
    module-level cache, not a fixture: the data_science, tuning and evaluation conftests each
    have a session fixture calling it, and would otherwise migrate once each.)
    """
    if not _MLFLOW_TEMPLATE:
        path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
        with _uri_variables_restored():
            previous = mlflow.get_tracking_uri()
            mlflow.set_tracking_uri(f"sqlite:///{path}")
            try:
                MlflowClient().search_experiments()  # creates and migrates the tables
            finally:
                mlflow.set_tracking_uri(previous)
        _MLFLOW_TEMPLATE.append(path)
    return _MLFLOW_TEMPLATE[0]


@contextmanager
def temporary_mlflow_store(
    directory: Path, db_template: Path, experiment: str = "tests"
) -> Iterator[SimpleNamespace]:
    """Point MLflow (tracking and registry) at a fresh sqlite store in ``directory``; work there.

    The store is a copy of ``db_template``. ``experiment`` is created and is the default
    experiment of runs started without one (``MLFLOW_EXPERIMENT_ID``), so runs and their nested
    runs land in it, as in a kedro-mlflow run. The working directory is ``directory`` too, so the
    catalog's relative ``data/`` paths land there. Yields ``uri`` and ``experiment_id``;
    everything (URIs, their environment variables, the working directory) is restored on exit.
    """
    previous_tracking, previous_cwd = mlflow.get_tracking_uri(), Path.cwd()
    with _uri_variables_restored():
        os.chdir(directory)
        shutil.copy(db_template, directory / "mlflow.db")
        uri = f"sqlite:///{directory / 'mlflow.db'}"
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        try:
            experiment_id = mlflow.create_experiment(
                experiment, artifact_location=(directory / "artifacts").as_uri()
            )
            os.environ["MLFLOW_EXPERIMENT_ID"] = experiment_id
            yield SimpleNamespace(uri=uri, experiment_id=experiment_id)
        finally:
            while mlflow.active_run():
                mlflow.end_run()
            mlflow.set_tracking_uri(previous_tracking)
            mlflow.set_registry_uri(None)  # the registry follows the tracking URI again
            os.chdir(previous_cwd)
