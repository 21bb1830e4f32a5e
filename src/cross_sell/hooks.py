"""Project hooks: what no library does for this project.

- ``PromotionHook``: kedro-mlflow registers a new version of the servable model at the end of
  every training run; this moves the ``@champion`` alias to it when the run's promotion gate
  passed it (MLflow cannot set an alias while logging, and a gate is this project's policy).
- ``InputDataHook``: records each raw file a run reads as the MLflow run's input dataset
  (``mlflow.data`` + ``log_input``), so the UI shows which data a run read.
- ``RawOverwriteGuardHook``: refuses a run up front if it would overwrite a raw file a user made.
- ``FlatParamsHook``: kedro-mlflow logs dict parameters as one MLflow param per key, but a typed
  (pydantic) parameter as one long string: this hands kedro-mlflow's hook plain dicts.

kedro-mlflow's hooks are registered after the project's, so (pluggy calls the last registered
first) its ``before_pipeline_run`` has opened the run when ours runs, and its
``after_pipeline_run`` has logged and registered the model when ours runs.
"""

from __future__ import annotations

import logging
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro_mlflow.pipeline.pipeline_ml import PipelineML
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.pandas_dataset import PandasDataset
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from mlflow.types import Schema
from pydantic import BaseModel

from cross_sell.datasets import RawCSVDataset

logger = logging.getLogger(__name__)

RAW_INPUTS = {"raw_train": ("Response", "training"), "raw_test": (None, "scoring")}
"""Raw datasets logged as MLflow run inputs: their target column and MLflow context."""
SCHEMA_ROWS = 10_000


class PromotionHook:
    """After a training run, point ``@champion`` at its new model version if the gate passed it,
    then log the run's summary: champion, figures, promotion decision, where to look."""

    alias = "champion"

    def __init__(self) -> None:
        self._run_id: str | None = None

    @hook_impl
    def before_pipeline_run(self, pipeline: Any) -> None:
        active = mlflow.active_run()
        self._run_id = active.info.run_id if active and isinstance(pipeline, PipelineML) else None

    @hook_impl
    def after_pipeline_run(self, pipeline: Any, catalog: Any) -> None:
        if self._run_id is None or not isinstance(pipeline, PipelineML):
            return  # (kedro-mlflow runs the served pipeline once while logging it: not that run)
        run_id, self._run_id = self._run_id, None
        name = pipeline.log_model_kwargs["registered_model_name"]
        client = MlflowClient()
        versions = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
        if not versions:
            logger.warning(
                "No version of '%s' comes from run %s: @%s not moved", name, run_id, self.alias
            )
            return
        version = max(int(v.version) for v in versions)
        # The version's page in the MLflow UI shows its model card (evaluation/card.py).
        client.update_model_version(name, str(version), description=catalog.load("model_card"))
        decision, champion = catalog.load("promotion"), catalog.load("champion")
        verdict = "promoted" if decision["promoted"] else "kept out"
        client.set_model_version_tag(name, str(version), "promotion", verdict)
        if decision["promoted"]:
            client.set_registered_model_alias(name, self.alias, str(version))
            outcome = f"version {version} is now @{self.alias} ({decision['reason']})"
        else:
            outcome = (
                f"version {version} registered WITHOUT @{self.alias}: {decision['reason'].splitlines()[0]} "
                f"(promote it by hand: MlflowClient().set_registered_model_alias('{name}', "
                f"'{self.alias}', '{version}'))"
            )
        test = decision["challenger_test"]
        logger.log(
            logging.INFO if decision["promoted"] else logging.WARNING,
            "Run summary:\n"
            "  champion   %s: validation ROC AUC %.4f, contact threshold %.3f (chosen on validation)\n"
            "  test split ROC AUC %.4f, average precision %.4f, expected profit %s at %.1f %% contacted\n"
            "  promotion  %s %s\n"
            "  look       mlflow ui --backend-store-uri %s, then http://127.0.0.1:5000/#/experiments/"
            "%s/runs/%s?workflowType=machine_learning ; data/08_reporting/evaluation/",
            champion["name"],
            champion["validation"]["roc_auc"],
            champion["threshold"],
            test["roc_auc"],
            test["average_precision"],
            f"{test['expected_profit']:,.0f}",
            100 * test["contact_share"],
            name,
            outcome,
            mlflow.get_tracking_uri(),
            client.get_run(run_id).info.experiment_id,
            run_id,
        )
        client.set_tag(
            run_id,
            "mlflow.runName",
            f"train: {champion['name']} val AUC {champion['validation']['roc_auc']:.4f}, "
            f"v{version} {verdict}",
        )

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._run_id = None


class FlatParamsHook:
    """Shows kedro-mlflow's ``before_node_run`` typed parameters as dicts, so it flattens them.

    Kedro gives the ``before_node_run`` hooks one shallow copy of a node's inputs (the node itself
    gets the originals): running first, this replaces the pydantic models in that copy only.
    """

    @hook_impl(tryfirst=True)
    def before_node_run(self, inputs: dict[str, Any]) -> None:
        for name, value in inputs.items():
            if isinstance(value, BaseModel):
                inputs[name] = value.model_dump(by_alias=True)


class SampledSchemaDataset(PandasDataset):
    """MLflow's pandas dataset (digest and profile of every row) with the schema inferred from
    the first rows: MLflow infers it value by value, 5 s for 381k raw rows."""

    @property
    def schema(self) -> Schema:
        return infer_signature(self.df.head(SCHEMA_ROWS)).inputs


class InputDataHook:
    """Logs each raw file a run reads as an input dataset of the MLflow run, and names the run
    after what it did (``inference: 127,037 rows``); training runs are named by ``PromotionHook``."""

    def __init__(self) -> None:
        self._run: tuple[str, str] | None = None
        self._rows: dict[str, int] = {}

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any) -> None:
        active = mlflow.active_run()
        names = run_params.get("pipeline_names") or ["__default__"]
        self._rows = {}
        self._run = (
            (active.info.run_id, ",".join(names))
            if active and not isinstance(pipeline, PipelineML)
            else None
        )

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any) -> None:
        # once per run: a training run reads raw_train twice
        if dataset_name not in RAW_INPUTS or dataset_name in self._rows or not mlflow.active_run():
            return
        target, context = RAW_INPUTS[dataset_name]
        dataset = SampledSchemaDataset(
            df=data,
            source=resolve_dataset_source(data.attrs.get("source", dataset_name)),
            name=dataset_name,
            targets=target if target in data.columns else None,
        )
        mlflow.log_input(dataset, context=context)
        self._rows[dataset_name] = len(data)

    @hook_impl
    def after_pipeline_run(self) -> None:
        if self._run is None:
            return
        (run_id, name), self._run = self._run, None
        rows = ", ".join(f"{n:,} rows of {d}" for d, n in self._rows.items())
        MlflowClient().set_tag(run_id, "mlflow.runName", f"{name}: {rows}" if rows else name)


class RawOverwriteGuardHook:
    """Refuse a run up front if any ``RawCSVDataset`` it writes would be refused at save time.

    ``RawCSVDataset.save`` checks each file when it is written; this hook checks all of them
    before the first node runs, so a run that would replace a user's ``test.csv`` does not first
    write ``train.csv``.
    """

    @hook_impl
    def before_pipeline_run(self, pipeline: Any, catalog: Any) -> None:
        for name in sorted(pipeline.all_outputs()):
            dataset = catalog.get(name)
            if isinstance(dataset, RawCSVDataset):
                dataset.ensure_writable()
