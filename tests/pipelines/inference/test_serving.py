"""The servable model: PipelineML wiring, signature, the hook, and the pyfunc scoring raw rows."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner
from kedro_mlflow.pipeline.pipeline_ml import KedroMlflowPipelineMLError, PipelineML
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cross_sell.pipelines.data_engineering.schema import raw_columns
from cross_sell.pipelines.inference import create_pipeline
from cross_sell.pipelines.inference.hooks import artifact_names
from cross_sell.pipelines.inference.serving import (
    DEFAULT_SERVING,
    KAGGLE_TYPES,
    create_training_ml_pipeline,
    serving_signature,
)

from .conftest import REPO, THRESHOLD, make_test_frame, write_csv
from .serving_support import log_servable_model, servable_pipeline

PARAMETERS = REPO / "conf" / "base" / "parameters_inference.yml"


def test_defaults_match_the_parameters_file():
    serving = yaml.safe_load(PARAMETERS.read_text())["inference"]["serving"]
    assert serving == DEFAULT_SERVING


def test_signature_is_the_raw_kaggle_columns_without_response():
    signature = serving_signature()
    assert signature.inputs.input_names() == list(raw_columns(include_target=False))
    assert set(KAGGLE_TYPES) == set(raw_columns(include_target=False))
    assert signature.outputs.input_names() == ["id", "probability", "contact"]


def test_training_is_bound_to_the_serving_pipeline():
    pipeline_ml = servable_pipeline()
    assert isinstance(pipeline_ml, PipelineML)
    assert pipeline_ml.input_name == "scoring_request"
    assert pipeline_ml.inference.outputs() == {"inference_scores"}
    assert artifact_names(pipeline_ml) == ["champion_model", "contact_threshold"]
    kwargs = pipeline_ml.log_model_kwargs
    assert kwargs["registered_model_name"] == "cross_sell"
    assert kwargs["name"] == "cross_sell_model"
    assert "scikit-learn==" in " ".join(kwargs["pip_requirements"])
    assert Path(kwargs["code_paths"][0]).name == "cross_sell"
    # Kedro adds the registered pipelines to an empty one: a PipelineML must survive that.
    assert isinstance(Pipeline([]) + pipeline_ml, PipelineML)


def test_training_that_does_not_write_the_artifacts_is_refused():
    with pytest.raises(KedroMlflowPipelineMLError, match="champion_model"):
        create_training_ml_pipeline(Pipeline([]))


@pytest.fixture
def registry(project, monkeypatch):
    """A real MLflow sqlite store in the temporary project."""
    uri = f"sqlite:///{project.path('mlflow.db')}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    yield uri
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


def test_a_run_registers_the_model_with_one_champion_file_and_moves_the_alias(
    project, registry, champion
):
    pipeline_ml = servable_pipeline()
    for _ in range(2):
        catalog = project.catalog()
        mlflow.start_run()
        run_id = mlflow.active_run().info.run_id
        log_servable_model(pipeline_ml, catalog, champion, THRESHOLD)

    client = MlflowClient()
    champion_version = client.get_model_version_by_alias("cross_sell", "champion")
    assert str(champion_version.version) == "2"
    assert champion_version.run_id == run_id
    model_dir = Path(mlflow.artifacts.download_artifacts("models:/cross_sell/2"))
    artifact = model_dir / "artifacts" / "champion_model.pkl"
    assert artifact.is_file(), "the logged model carries one champion file, not every version"
    # on disk: the fixture's version and one per run, in the versioned layout
    assert len(list(project.path("data/06_models/champion_model.pkl").iterdir())) == 3

    model = mlflow.pyfunc.load_model("models:/cross_sell@champion")
    raw = make_test_frame(30).assign(Policy_Sales_Channel=[141.0, 142.0, 26.0] * 10)
    served = model.predict(raw)

    write_csv(project.path("data/01_raw/test.csv"), raw)
    SequentialRunner().run(create_pipeline(), project.catalog())
    batch = pd.read_csv(project.latest("data/07_model_output/predictions.csv"))
    merged = served.merge(batch, on="id", suffixes=("_served", "_batch"))
    assert served.columns.tolist() == ["id", "probability", "contact"]
    assert len(merged) == 30
    np.testing.assert_array_equal(merged["probability_served"], merged["probability_batch"])
    assert (merged["contact_served"] == merged["contact_batch"]).all()

    with pytest.raises(MlflowException, match=r"Model is missing inputs \['Age'\]") as error:
        model.predict(raw.drop(columns="Age"))
    assert error.value.get_http_status_code() == 400
    bad = raw.astype({"Gender": object})
    bad.loc[2, "Gender"] = "F"
    with pytest.raises(MlflowException, match="column 'Gender': must be one of") as error:
        model.predict(bad)
    assert error.value.get_http_status_code() == 400
