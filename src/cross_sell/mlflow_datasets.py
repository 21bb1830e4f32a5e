"""Kedro datasets that write to MLflow where kedro-mlflow has none.

- ``MlflowSklearnModelDataset``: logs a fitted scikit-learn pipeline as an MLflow model (signature,
  input example, pinned pip requirements; cloudpickle, because skops refuses XGBoost objects).
- ``MlflowChampionModelDataset``: logs the champion the same way, registers it in the Model Registry
  and points an alias (``champion``) at the new version; loads ``models:/<name>@<alias>``.
- ``MlflowOptunaTrialsDataset``: logs an Optuna trials table as nested child runs of the active run.
- ``MatplotlibImageDataset``: a ``MatplotlibDataset`` that can also be loaded (as an image array),
  so a node can depend on a plot having been written and logged.

Every ``Mlflow*`` dataset has a ``_logging_activated`` switch, as kedro-mlflow's own datasets do: the
kedro-mlflow hook turns it off for pipelines with tracking disabled, and saving is then a no-op.
"""

from __future__ import annotations

import logging
import time
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import matplotlib.image
import mlflow
import numpy as np
import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from kedro.io.core import get_filepath_str
from kedro_datasets.matplotlib import MatplotlibDataset
from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

logger = logging.getLogger(__name__)

# What a logged model needs to be loaded elsewhere (mlflow itself is added by mlflow).
MODEL_REQUIREMENTS = ("scikit-learn", "xgboost", "pandas", "numpy", "cloudpickle")
TRIAL_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED", "RUNNING": "RUNNING"}


def pinned_requirements(packages: tuple[str, ...] = MODEL_REQUIREMENTS) -> list[str]:
    """``name==version`` for each installed package (read from the environment, no inference)."""
    pins = []
    for package in packages:
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            logger.warning(
                "Package %s is not installed: left out of the model requirements", package
            )
    return pins


def _check_bundle(bundle: Any, dataset: str) -> tuple[Any, pd.DataFrame]:
    if not isinstance(bundle, dict) or "model" not in bundle or "input_example" not in bundle:
        raise DatasetError(
            f"{dataset} saves a dict with keys 'model' (a fitted scikit-learn estimator) and "
            f"'input_example' (a few rows of its input), got {type(bundle).__name__}"
            + (f" with keys {sorted(bundle)}" if isinstance(bundle, dict) else "")
        )
    model, example = bundle["model"], bundle["input_example"]
    if not hasattr(model, "predict_proba"):
        raise DatasetError(f"{dataset}: the model {type(model).__name__} has no predict_proba")
    if not isinstance(example, pd.DataFrame) or example.empty:
        raise DatasetError(f"{dataset}: 'input_example' must be a non-empty DataFrame")
    return model, example


def log_sklearn_model(
    bundle: dict[str, Any],
    name: str,
    *,
    registered_model_name: str | None = None,
    pyfunc_predict_fn: str = "predict_proba",
    dataset: str = "MlflowSklearnModelDataset",
) -> mlflow.models.model.ModelInfo:
    """Log ``bundle["model"]`` to the active run with a signature and an input example."""
    if mlflow.active_run() is None:
        raise DatasetError(f"{dataset}: no active MLflow run to log the model '{name}' into")
    model, example = _check_bundle(bundle, dataset)
    signature = infer_signature(example, model.predict_proba(example))
    return mlflow.sklearn.log_model(
        model,
        name=name,
        signature=signature,
        input_example=example,
        pip_requirements=pinned_requirements(),
        serialization_format="cloudpickle",
        pyfunc_predict_fn=pyfunc_predict_fn,
        registered_model_name=registered_model_name,
    )


class _LoggingSwitch:
    """The ``_logging_activated`` flag that kedro-mlflow's hook flips on ``Mlflow*`` datasets."""

    @property
    def _logging_activated(self) -> bool:
        return self._logging_flag

    @_logging_activated.setter
    def _logging_activated(self, flag: bool) -> None:
        if not isinstance(flag, bool):
            raise ValueError(f"_logging_activated must be a boolean, got {type(flag)}")
        self._logging_flag = flag


class MlflowSklearnModelDataset(_LoggingSwitch, AbstractDataset[dict[str, Any], Any]):
    """Logs a fitted scikit-learn pipeline as an MLflow model of the active run.

    Saves ``{"model": fitted_pipeline, "input_example": DataFrame}``; loads the model back (the
    last one this instance logged, or ``model_uri`` when given).

    ```yaml
    "{model}.mlflow_model":
      type: cross_sell.mlflow_datasets.MlflowSklearnModelDataset
      name: "{model}"
    ```
    """

    def __init__(
        self,
        name: str,
        model_uri: str | None = None,
        pyfunc_predict_fn: str = "predict_proba",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._name = name
        self._model_uri = model_uri
        self._pyfunc_predict_fn = pyfunc_predict_fn
        self._logging_activated = True
        self.metadata = metadata

    @property
    def model_uri(self) -> str | None:
        """URI of the model to load: the given one, else the last one logged by this instance."""
        return self._model_uri

    def load(self) -> Any:
        if self._model_uri is None:
            raise DatasetError(
                f"MlflowSklearnModelDataset '{self._name}': nothing to load (no model_uri given "
                "and no model logged by this dataset yet)"
            )
        return mlflow.sklearn.load_model(self._model_uri)

    def save(self, data: dict[str, Any]) -> None:
        if not self._logging_activated:
            return
        info = log_sklearn_model(
            data, self._name, pyfunc_predict_fn=self._pyfunc_predict_fn, dataset=repr(self)
        )
        self._model_uri = info.model_uri
        logger.info("Logged model '%s' to MLflow as %s", self._name, info.model_uri)

    def _describe(self) -> dict[str, Any]:
        return {"name": self._name, "model_uri": self._model_uri}


class MlflowChampionModelDataset(_LoggingSwitch, AbstractDataset[dict[str, Any], Any]):
    """Registers the champion model and points an alias at the new version.

    Saves ``{"model", "input_example"}`` plus optional ``"model_name"`` (which family won) and
    ``"metrics"`` (dict of floats, written as version tags). The model is logged to the active run,
    registered as a new version of ``registered_model_name`` and ``alias`` is moved to it, so it
    should be the last save of a run. Loads ``models:/<registered_model_name>@<alias>``.
    """

    def __init__(
        self,
        registered_model_name: str = "cross_sell",
        alias: str = "champion",
        name: str = "champion_model",
        pyfunc_predict_fn: str = "predict_proba",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._registered_model_name = registered_model_name
        self._alias = alias
        self._name = name
        self._pyfunc_predict_fn = pyfunc_predict_fn
        self._logging_activated = True
        self.metadata = metadata

    @property
    def model_uri(self) -> str:
        return f"models:/{self._registered_model_name}@{self._alias}"

    def load(self) -> Any:
        return mlflow.sklearn.load_model(self.model_uri)

    def save(self, data: dict[str, Any]) -> None:
        if not self._logging_activated:
            return
        info = log_sklearn_model(
            data,
            self._name,
            registered_model_name=self._registered_model_name,
            pyfunc_predict_fn=self._pyfunc_predict_fn,
            dataset=repr(self),
        )
        model_version = str(info.registered_model_version)
        client = MlflowClient()
        tags = {"model_name": data.get("model_name")} | {
            f"test.{key}": value for key, value in (data.get("metrics") or {}).items()
        }
        for key, value in tags.items():
            if value is not None:
                client.set_model_version_tag(
                    self._registered_model_name, model_version, key, str(value)
                )
        client.set_registered_model_alias(self._registered_model_name, self._alias, model_version)
        run_id = mlflow.active_run().info.run_id
        client.log_batch(
            run_id,
            tags=[
                RunTag("champion.model_name", str(data.get("model_name"))),
                RunTag("champion.registered_model", self._registered_model_name),
                RunTag("champion.version", model_version),
            ],
        )
        logger.info(
            "Registered %s version %s (%s); alias '%s' now points at it",
            self._registered_model_name,
            model_version,
            data.get("model_name"),
            self._alias,
        )

    def _exists(self) -> bool:
        try:
            MlflowClient().get_model_version_by_alias(self._registered_model_name, self._alias)
        except mlflow.exceptions.MlflowException:
            return False
        return True

    def _describe(self) -> dict[str, Any]:
        return {
            "registered_model_name": self._registered_model_name,
            "alias": self._alias,
            "name": self._name,
        }


class MlflowOptunaTrialsDataset(_LoggingSwitch, AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """Logs an Optuna trials table as nested child runs of a parent run (default: the active one).

    The table is Optuna's ``study.trials_dataframe()`` shape: ``number``, ``state``, ``value`` and
    ``params_<name>`` columns (``datetime_start`` / ``datetime_complete`` are used when present).
    Each trial becomes a child run named ``<study_name>-trial-<number>`` with its parameters, its
    objective value as the metric ``objective_name`` and tags ``optuna.study``,
    ``optuna.trial_number`` and ``optuna.state``. Loading returns the child runs of the parent for
    this study as a table of the same shape (parameters come back as strings, as MLflow stores them).
    """

    REQUIRED = ("number", "state", "value")

    def __init__(
        self,
        study_name: str,
        objective_name: str = "objective",
        run_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._study_name = study_name
        self._objective_name = objective_name
        self._run_id = run_id
        self._logging_activated = True
        self.metadata = metadata

    def _parent_run(self, client: MlflowClient) -> mlflow.entities.Run:
        if self._run_id is not None:
            return client.get_run(self._run_id)
        active = mlflow.active_run()
        if active is None:
            raise DatasetError(
                f"MlflowOptunaTrialsDataset '{self._study_name}': no run_id given and no active "
                "MLflow run to nest the trials under"
            )
        return client.get_run(active.info.run_id)

    def save(self, data: pd.DataFrame) -> None:
        missing = [column for column in self.REQUIRED if column not in data.columns]
        if missing:
            raise DatasetError(
                f"MlflowOptunaTrialsDataset '{self._study_name}': the trials table lacks columns "
                f"{missing} (has {list(data.columns)})"
            )
        if not self._logging_activated:
            return
        client = MlflowClient()
        parent = self._parent_run(client)
        param_columns = [c for c in data.columns if c.startswith("params_")]
        for row in data.to_dict(orient="records"):
            number = int(row["number"])
            state = str(row["state"]).removeprefix("TrialState.")
            run = client.create_run(
                parent.info.experiment_id,
                start_time=_millis(row.get("datetime_start")),
                run_name=f"{self._study_name}-trial-{number:03d}",
                tags={
                    MLFLOW_PARENT_RUN_ID: parent.info.run_id,
                    "optuna.study": self._study_name,
                    "optuna.trial_number": str(number),
                    "optuna.state": state,
                },
            )
            params = [
                Param(column.removeprefix("params_"), str(row[column]))
                for column in param_columns
                if not _is_missing(row[column])
            ]
            metrics = (
                []
                if _is_missing(row["value"])
                else [Metric(self._objective_name, float(row["value"]), int(time.time() * 1000), 0)]
            )
            client.log_batch(run.info.run_id, metrics=metrics, params=params)
            client.set_terminated(
                run.info.run_id,
                status=TRIAL_STATUS.get(state, RunStatus.to_string(RunStatus.FINISHED)),
                end_time=_millis(row.get("datetime_complete")),
            )
        logger.info(
            "Logged %d Optuna trials of '%s' as child runs of %s",
            len(data),
            self._study_name,
            parent.info.run_id,
        )

    def load(self) -> pd.DataFrame:
        client = MlflowClient()
        parent = self._parent_run(client)
        runs = client.search_runs(
            [parent.info.experiment_id],
            filter_string=(
                f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{parent.info.run_id}' "
                f"and tags.`optuna.study` = '{self._study_name}'"
            ),
            max_results=50_000,
        )
        rows = [
            {
                "number": int(run.data.tags["optuna.trial_number"]),
                "state": run.data.tags["optuna.state"],
                "value": run.data.metrics.get(self._objective_name, np.nan),
                "run_id": run.info.run_id,
            }
            | {f"params_{key}": value for key, value in run.data.params.items()}
            for run in runs
        ]
        table = pd.DataFrame(rows, columns=None if rows else [*self.REQUIRED, "run_id"])
        return table.sort_values("number", ignore_index=True)

    def _describe(self) -> dict[str, Any]:
        return {
            "study_name": self._study_name,
            "objective_name": self._objective_name,
            "run_id": self._run_id,
        }


class MatplotlibImageDataset(MatplotlibDataset):
    """``MatplotlibDataset`` (one figure per file) whose ``load`` returns the saved image array.

    Wrapped in kedro-mlflow's ``MlflowArtifactDataset`` it writes the PNG and logs it; being
    loadable lets the champion registration node take plots as inputs, so it runs after them.
    """

    def load(self) -> np.ndarray:
        load_path = get_filepath_str(self._get_load_path(), self._protocol)
        with self._fs.open(load_path, mode="rb") as handle:
            return matplotlib.image.imread(handle)


def _is_missing(value: Any) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def _millis(value: Any) -> int | None:
    if _is_missing(value):
        return None
    return int(pd.Timestamp(value).timestamp() * 1000)
