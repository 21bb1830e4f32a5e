"""Builders shared by the evaluation tests and tests/test_mlflow_datasets.py: a small clean table,
small fitted sklearn pipelines, and a real temporary MLflow sqlite store."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import mlflow
import numpy as np
import optuna
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from xgboost import XGBClassifier

CATEGORICAL = ["region_code", "policy_sales_channel"]
NUMERIC = ["age", "vehicle_age", "annual_premium", "vintage"]
FLAGS = ["is_male", "has_driving_license", "previously_insured", "vehicle_damage"]
COLUMNS = {"id_column": "id", "target": "response", "input_example_rows": 5}
MODELS = ("xgboost", "random_forest", "logistic_regression")


def make_clean_table(n_rows: int, seed: int, first_id: int = 1) -> pd.DataFrame:
    """Rows of the clean model-input contract with a response that depends on the features."""
    rng = np.random.default_rng(seed)
    age = rng.integers(20, 86, n_rows).astype(np.int16)
    insured = rng.random(n_rows) < 0.45
    damage = rng.random(n_rows) < np.where(insured, 0.06, 0.88)
    channel = rng.choice([152, 26, 124, 160], n_rows).astype(np.int16)
    logit = (
        -2.2
        - 3.0 * insured
        + 1.6 * damage
        + 0.6 * ((age > 30) & (age < 50))
        - 0.7 * (channel == 152)
    )
    return pd.DataFrame(
        {
            "id": np.arange(first_id, first_id + n_rows, dtype=np.int64),
            "is_male": rng.random(n_rows) < 0.54,
            "age": age,
            "has_driving_license": rng.random(n_rows) < 0.99,
            "region_code": rng.integers(0, 53, n_rows).astype(np.int16),
            "previously_insured": insured,
            "vehicle_age": rng.integers(0, 3, n_rows).astype(np.int8),
            "vehicle_damage": damage,
            "annual_premium": np.round(np.exp(rng.normal(10.4, 0.3, n_rows))),
            "policy_sales_channel": channel,
            "vintage": rng.integers(10, 300, n_rows).astype(np.int16),
            "response": (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(np.int8),
        }
    )


def make_model(kind: str) -> Pipeline:
    """A preprocessing + classifier pipeline over the clean feature columns."""
    encode = ColumnTransformer(
        [
            ("codes", OneHotEncoder(handle_unknown="ignore", min_frequency=5), CATEGORICAL),
            ("numbers", StandardScaler(), NUMERIC),
            ("flags", "passthrough", FLAGS),
        ]
    )
    classifier = {
        "xgboost": XGBClassifier(n_estimators=30, max_depth=3, n_jobs=1, random_state=0),
        "random_forest": RandomForestClassifier(
            n_estimators=30, min_samples_leaf=20, n_jobs=1, random_state=0
        ),
        "logistic_regression": LogisticRegression(max_iter=500),
    }[kind]
    return Pipeline([("encode", encode), ("classifier", classifier)])


def make_trials_table() -> pd.DataFrame:
    """A real Optuna ``trials_dataframe()``: 12 trials over int, float, log-float and categorical."""

    def objective(trial: optuna.Trial) -> float:
        depth = trial.suggest_int("max_depth", 2, 8)
        rate = trial.suggest_float("learning_rate", 1e-3, 0.3, log=True)
        subsample = trial.suggest_float("subsample", 0.5, 1.0)
        booster = trial.suggest_categorical("booster", ["gbtree", "dart"])
        if depth == 8:
            raise optuna.TrialPruned()
        return (
            0.8
            + 0.01 * depth
            - (np.log10(rate) + 1) ** 2 / 100
            + 0.001 * subsample
            - 0.002 * (booster == "dart")
        )

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=12)
    return study.trials_dataframe()


@pytest.fixture(scope="session")
def mlflow_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated MLflow sqlite database, created once (migrations take seconds)."""
    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{path}")
    MlflowClient().search_experiments()  # creates and migrates the tables
    mlflow.set_tracking_uri(previous)
    return path


@contextmanager
def temporary_mlflow_store(directory: Path, db_template: Path) -> Iterator[SimpleNamespace]:
    """Point MLflow (tracking + registry) at a fresh sqlite store in ``directory``, and work there.

    Yields ``uri`` and ``experiment_id`` (start runs with ``experiment_id=``). The working
    directory is ``directory`` too, so the catalog's relative ``data/`` paths land there. All is
    restored on exit.
    """
    previous_tracking = mlflow.get_tracking_uri()
    previous_cwd = Path.cwd()
    os.chdir(directory)
    shutil.copy(db_template, directory / "mlflow.db")
    uri = f"sqlite:///{directory / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        experiment_id = mlflow.create_experiment(
            "evaluation-tests", artifact_location=(directory / "artifacts").as_uri()
        )
        yield SimpleNamespace(uri=uri, experiment_id=experiment_id)
    finally:
        while mlflow.active_run():
            mlflow.end_run()
        mlflow.set_tracking_uri(previous_tracking)
        mlflow.set_registry_uri(None)  # the registry follows the tracking URI again
        os.chdir(previous_cwd)


@pytest.fixture
def mlflow_store(tmp_path: Path, mlflow_db_template: Path) -> Iterator[SimpleNamespace]:
    """A real, empty MLflow sqlite store in ``tmp_path`` (see ``temporary_mlflow_store``)."""
    with temporary_mlflow_store(tmp_path, mlflow_db_template) as store:
        yield store
