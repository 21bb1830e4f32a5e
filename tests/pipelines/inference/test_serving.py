"""The servable model: PipelineML wiring, signature, and the registered pyfunc scoring raw rows.

The model is built in-process the way a training run builds it (``log_servable_model``) and read
back from a real MLflow registry (``registry``). ``test_serving_http.py`` serves it for real.
"""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import numpy as np
import pytest
from kedro.pipeline import Pipeline
from kedro_mlflow.pipeline.pipeline_ml import KedroMlflowPipelineMLError, PipelineML
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cross_sell.pipelines.data_engineering.nodes import clean_raw_table
from cross_sell.pipelines.inference.nodes import SCORE_COLUMNS
from cross_sell.pipelines.inference.serving import (
    REGISTERED_MODEL,
    create_training_ml_pipeline,
    serving_signature,
)

from .conftest import make_test_frame
from .serving_support import servable_pipeline


def test_signature_declares_the_output_and_leaves_inputs_to_the_raw_schema():
    """No input schema: the project's raw schema checks every value (MLflow would cast first)."""
    signature = serving_signature()
    assert signature.inputs is None
    assert signature.outputs.input_names() == list(SCORE_COLUMNS)


def test_training_is_bound_to_the_serving_pipeline_with_one_artifact():
    pipeline_ml = servable_pipeline()
    assert isinstance(pipeline_ml, PipelineML)
    assert pipeline_ml.input_name == "scoring_request"
    assert pipeline_ml.inference.outputs() == {"inference_scores"}
    # the champion carries its threshold: nothing else is packed into the model
    assert pipeline_ml.inference.inputs() - {pipeline_ml.input_name} == {"champion_model"}
    kwargs = pipeline_ml.log_model_kwargs
    assert kwargs["registered_model_name"] == REGISTERED_MODEL == "cross_sell"
    assert kwargs["name"] == "cross_sell_model"
    assert "scikit-learn==" in " ".join(kwargs["pip_requirements"])
    assert Path(kwargs["code_paths"][0]).name == "cross_sell"
    # Kedro adds the registered pipelines to an empty one: a PipelineML must survive that.
    assert isinstance(Pipeline([]) + pipeline_ml, PipelineML)


def test_training_that_does_not_write_the_champion_is_refused():
    with pytest.raises(KedroMlflowPipelineMLError, match="champion_model"):
        create_training_ml_pipeline(Pipeline([]))


def test_each_version_holds_one_artifact_the_champion_with_its_threshold(use_registry):
    client = MlflowClient()
    versions = client.search_model_versions(f"name = '{REGISTERED_MODEL}'")
    assert sorted(int(v.version) for v in versions) == [1, 2]
    assert [m.name for m in client.search_registered_models()] == [REGISTERED_MODEL]
    for version in (1, 2):
        folder = Path(mlflow.artifacts.download_artifacts(f"models:/cross_sell/{version}"))
        assert sorted(os.listdir(folder / "artifacts")) == ["champion_model.pkl"]


def test_the_registered_model_scores_raw_rows_with_its_own_threshold(use_registry):
    model = mlflow.pyfunc.load_model("models:/cross_sell@champion")
    raw = make_test_frame(30).assign(Policy_Sales_Channel=[141.0, 142.0, 26.0] * 10)
    served = model.predict(raw)

    assert served.columns.tolist() == list(SCORE_COLUMNS)
    assert served["id"].tolist() == raw["id"].tolist()
    champion = use_registry.champion
    features = clean_raw_table(raw).drop(columns="id")
    probability = champion.predict_proba(features)[:, 1]
    np.testing.assert_array_equal(served["probability"], probability)
    assert served["contact"].tolist() == (probability >= champion.best_threshold_).tolist()


def test_the_registered_model_refuses_invalid_raw_rows_with_a_400(use_registry):
    model = mlflow.pyfunc.load_model("models:/cross_sell@champion")
    raw = make_test_frame(5)
    with pytest.raises(MlflowException, match=r"missing required column\(s\) 'Age'") as error:
        model.predict(raw.drop(columns="Age"))
    assert error.value.get_http_status_code() == 400
    bad = raw.astype({"Gender": object})
    bad.loc[2, "Gender"] = "F"
    with pytest.raises(MlflowException, match="column 'Gender': must be one of") as error:
        model.predict(bad)
    assert error.value.get_http_status_code() == 400
