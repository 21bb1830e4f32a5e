"""Pipeline-level tests: the split and the training template as modular pipelines, run through the
project's real catalog with a real MLflow store."""

import subprocess
import sys
from pathlib import Path

import joblib
import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner
from kedro.validation import ParameterValidationError
from mlflow.tracking import MlflowClient
from sklearn.pipeline import Pipeline as SklearnPipeline

from cross_sell.pipelines.data_science.pipeline import (
    FAMILIES,
    create_family_pipeline,
    create_pipeline,
    create_split_pipeline,
    create_training_pipeline,
)

from .support import add_parameters, project_catalog

SPLITS = ("train_set", "validation_set", "test_set")


def node_names(pipeline) -> set[str]:
    return {node.name for node in pipeline.nodes}


def test_the_template_names_its_nodes_and_output_after_its_namespace():
    pipeline = create_training_pipeline("xgboost")
    assert node_names(pipeline) == {"xgboost.fit_model_node"}
    assert pipeline.inputs() == {"train_set", "validation_set", "params:xgboost", "params:columns"}
    assert pipeline.outputs() == {"xgboost.model"}


def test_the_tuned_template_refits_a_family_with_its_best_parameters():
    pipeline = create_training_pipeline(
        "xgboost_tuned", family="xgboost", best_params="xgboost.best_params"
    )
    assert node_names(pipeline) == {
        "xgboost_tuned.apply_best_params_node",
        "xgboost_tuned.fit_model_node",
    }
    assert pipeline.inputs() == {
        "train_set",
        "validation_set",
        "xgboost.best_params",
        "params:xgboost",
        "params:columns",
    }
    assert pipeline.outputs() == {"xgboost_tuned.model"}


def test_data_science_is_a_modular_pipeline_of_the_split_and_every_family():
    pipeline = create_pipeline()
    assert node_names(pipeline) == {
        "data_science.split_model_input_node",
        *(f"data_science.{family}.fit_model_node" for family in FAMILIES),
    }
    assert {node.namespace for node in pipeline.nodes} == {
        "data_science",
        *(f"data_science.{family}" for family in FAMILIES),
    }
    # Only node names take the namespace: datasets keep their catalog names.
    assert pipeline.inputs() == {
        "model_input_table",
        "params:columns",
        "params:data_science",
        *(f"params:{family}" for family in FAMILIES),
    }
    assert pipeline.outputs() == {"test_set", *(f"{family}.model" for family in FAMILIES)}


def test_nothing_in_data_science_reads_the_test_split():
    assert "test_set" in create_split_pipeline().outputs()
    assert all("test_set" not in node.inputs for node in create_pipeline().nodes)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_pipeline_is_the_split_and_that_family(family):
    pipeline = create_family_pipeline(family)
    assert node_names(pipeline) == {
        "data_science.split_model_input_node",
        f"data_science.{family}.fit_model_node",
    }
    assert pipeline.inputs() == {
        "model_input_table",
        "params:columns",
        "params:data_science",
        f"params:{family}",
    }
    assert pipeline.outputs() == {"test_set", f"{family}.model"}


NO_CYCLE = """
import sys
import cross_sell.pipelines.data_science.pipeline
loaded = sorted(m for m in sys.modules if m.startswith("cross_sell.pipelines.tuning"))
assert not loaded, f"data_science imports {loaded}"
import cross_sell.pipelines.tuning.pipeline
print("ok")
"""


def test_no_import_cycle_between_data_science_and_tuning():
    """In a fresh interpreter: data_science loads no tuning module; tuning, built on it, imports."""
    result = subprocess.run(
        [sys.executable, "-c", NO_CYCLE], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1] == "ok"


def test_a_conf_listing_families_is_refused(parameters):
    params = {
        **parameters,
        "data_science": {**parameters["data_science"], "families": ["xgboost"]},
    }
    with pytest.raises(
        ParameterValidationError,
        match=r"(?s)Parameter 'data_science'.*model families are fixed in code",
    ):
        add_parameters(DataCatalog(), create_pipeline(), params)


@pytest.fixture
def run_outputs(mlflow_store, model_input_table, parameters):
    """``data_science`` run once through the catalog, inside an MLflow run (as kedro-mlflow does)."""
    pipeline = create_pipeline()
    catalog = DataCatalog.from_config(project_catalog())  # files under the working directory
    catalog["model_input_table"] = model_input_table
    add_parameters(catalog, pipeline, parameters)
    with mlflow.start_run() as run:
        SequentialRunner().run(pipeline, catalog)
    return catalog, run


def test_data_science_writes_every_output_through_the_catalog(run_outputs, splits, family_models):
    catalog, run = run_outputs
    for name, split in zip(SPLITS, splits, strict=True):
        assert Path(f"data/05_model_input/{name}.parquet").is_file()
        pd.testing.assert_frame_equal(catalog.load(name), split)
    logged = {
        artifact.path for artifact in MlflowClient().list_artifacts(run.info.run_id, "models")
    }
    assert logged == {f"models/{family}.pkl" for family in FAMILIES}
    features = splits[1].drop(columns=["id", "response"])  # the validation split
    for family in FAMILIES:
        path = Path(f"data/06_models/{family}.pkl")
        assert path.is_file()  # one file, not a versioned folder
        model = catalog.load(f"{family}.model")
        assert isinstance(model, SklearnPipeline)
        assert isinstance(joblib.load(path), SklearnPipeline)
        # Same data and seeds as the session's fitted families: the same scores, bit for bit.
        np.testing.assert_array_equal(
            model.predict_proba(features), family_models[family].predict_proba(features)
        )
