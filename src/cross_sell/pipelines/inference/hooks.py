"""``ServableModelHook``: the two things kedro-mlflow's ``PipelineML`` logging does not do.

At the end of a ``PipelineML`` run (``serving.create_training_ml_pipeline``), kedro-mlflow's
``after_pipeline_run`` logs the servable model with the files of its artifact datasets
(``champion_model``, ``contact_threshold``) and registers it. This hook, registered in
``settings.HOOKS``, completes it:

1. Before the run, it pins every *versioned* artifact dataset to the version this run saves.
   kedro-mlflow logs ``dataset._filepath``, which for a versioned dataset is the folder of all
   its versions: without pinning, each logged model would carry a copy of every champion ever
   trained. Pinned, the run writes the same file (``champion_model.pkl/<version>/
   champion_model.pkl``) and the model carries only that one.
2. After the run, it points the registry alias (``inference.serving.alias``, default
   ``champion``) at the version registered from this run: MLflow cannot set an alias while
   logging. Project hooks run after kedro-mlflow's (pluggy calls the plugins, registered last,
   first), so the version exists by then.

Runs of other pipelines are left alone.
"""

from __future__ import annotations

import logging
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset
from kedro_mlflow.pipeline.pipeline_ml import PipelineML
from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)

ALIAS_PARAM = "params:inference.serving.alias"


def artifact_names(pipeline: PipelineML) -> list[str]:
    """The inputs of the served pipeline that kedro-mlflow logs as artifacts."""
    return sorted(
        name
        for name in pipeline.inference.inputs() - {pipeline.input_name}
        if not name.startswith("params:")
    )


def pin_to_save_version(dataset: AbstractVersionedDataset) -> None:
    """Make a versioned ``dataset`` read and write exactly the version this run saves.

    The catalog is built anew for every run, so changing its dataset in place affects this run
    only; files land where the versioned dataset would have put them.
    """
    path = dataset._get_versioned_path(dataset.resolve_save_version())
    dataset._filepath = path
    dataset._version = None


class ServableModelHook:
    """Pins versioned model artifacts to the run's version; moves the registry alias."""

    def __init__(self, default_alias: str = "champion") -> None:
        self._default_alias = default_alias
        self._reset()

    def _reset(self) -> None:
        self._run_id: str | None = None
        self._model_name: str | None = None
        self._alias = self._default_alias

    @hook_impl
    def before_pipeline_run(self, pipeline: Any, catalog: Any) -> None:
        self._reset()
        if not isinstance(pipeline, PipelineML):
            return
        for name in artifact_names(pipeline):
            dataset = catalog.get(name) if name in catalog else None
            if isinstance(dataset, AbstractVersionedDataset) and dataset._version:
                pin_to_save_version(dataset)
                logger.info("Servable model artifact %s: %s", name, dataset._filepath)
        self._model_name = pipeline.log_model_kwargs.get("registered_model_name")
        active = mlflow.active_run()
        self._run_id = active.info.run_id if active else None
        alias = catalog.load(ALIAS_PARAM) if ALIAS_PARAM in catalog else None
        self._alias = alias or self._default_alias

    @hook_impl
    def after_pipeline_run(self) -> None:
        if not (self._run_id and self._model_name):
            return
        name, alias, run_id = self._model_name, self._alias, self._run_id
        self._reset()
        client = MlflowClient()
        versions = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
        if not versions:
            logger.warning(
                "No version of registered model '%s' comes from run %s: alias '%s' not moved",
                name,
                run_id,
                alias,
            )
            return
        latest = max(versions, key=lambda v: int(v.version))
        client.set_registered_model_alias(name, alias, latest.version)
        logger.info(
            "Registered model '%s' version %s is now '%s': serve it with "
            'mlflow models serve -m "models:/%s@%s"',
            name,
            latest.version,
            alias,
            name,
            alias,
        )

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._reset()
