"""inference end to end on the project's real catalog (conf/) in a temporary folder, scoring with
models registered in a real MLflow store (``registry``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from kedro.runner import SequentialRunner

from cross_sell.pipelines.data_engineering.nodes import clean_raw_table
from cross_sell.pipelines.data_engineering.schema import RawDataValidationError
from cross_sell.pipelines.inference.nodes import PREDICTION_COLUMNS, RejectShareExceededError
from cross_sell.pipelines.inference.pipeline import create_pipeline, create_serving_pipeline

from .conftest import Project, make_test_frame, write_csv

PREDICTIONS = "data/07_model_output/predictions.csv"
REJECTS = "data/07_model_output/rejects.csv"


def _run(project: Project, raw: pd.DataFrame, **params) -> None:
    write_csv(project.path("data/01_raw/test.csv"), raw)
    SequentialRunner().run(create_pipeline(), project.catalog(**params))


def _with_bad_rows(n_rows: int, n_bad: int) -> pd.DataFrame:
    raw = make_test_frame(n_rows).astype(object)
    raw.loc[: n_bad - 1, "Vehicle_Age"] = "2+ Years"
    raw.loc[0, "Age"] = 17
    return raw


def _expected(model, raw: pd.DataFrame, ids) -> tuple[np.ndarray, np.ndarray]:
    """What ``model`` (a classifier with its threshold) gives the raw rows ``ids``."""
    features = clean_raw_table(raw).set_index("id").loc[ids]
    return model.predict_proba(features)[:, 1], model.predict(features).astype(bool)


def test_pipeline_shape():
    pipeline = create_pipeline()
    data_inputs = {name for name in pipeline.inputs() if not name.startswith("params:")}
    # the raw file and the registry: never the local champion_model.pkl
    assert {"raw_test", "registered_champion"} <= data_inputs
    assert "champion_model" not in data_inputs
    assert "params:inference" in pipeline.inputs()
    assert "predictions" in pipeline.outputs()
    assert all(node.name.startswith("inference.") for node in pipeline.nodes)
    assert all(node.name.endswith("_node") for node in pipeline.nodes)
    serving = create_serving_pipeline()
    assert serving.inputs() == {"scoring_request", "champion_model"}
    assert serving.outputs() == {"inference_scores"}


def test_the_default_limit_is_one_percent(project):
    assert project.parameters["inference"]["max_reject_share"] == 0.01


def test_raw_test_is_scored_by_the_registered_champion_ranked_and_flagged(project, use_registry):
    raw = make_test_frame(50).assign(Policy_Sales_Channel=lambda f: [141.0, 142.0] * 25)
    _run(project, raw)

    predictions = pd.read_csv(project.latest(PREDICTIONS))
    assert predictions.columns.tolist() == list(PREDICTION_COLUMNS)
    assert sorted(predictions["id"]) == raw["id"].tolist()
    assert predictions["rank"].tolist() == list(range(1, 51))
    assert predictions["probability"].is_monotonic_decreasing
    assert predictions["decile"].value_counts().sort_index().tolist() == [5] * 10

    probability, contact = _expected(use_registry.champion, raw, predictions["id"])
    np.testing.assert_allclose(predictions["probability"], probability)
    assert predictions["contact"].tolist() == contact.tolist()
    assert pd.read_csv(project.latest(REJECTS)).empty


def test_another_alias_scores_with_that_version_and_its_own_threshold(project, use_registry):
    """``--params=model_alias=<alias>``: another version comes with its own threshold."""
    project = Project(project.root, model_alias="challenger")
    raw = make_test_frame(40)
    _run(project, raw)

    predictions = pd.read_csv(project.latest(PREDICTIONS))
    probability, contact = _expected(use_registry.challenger, raw, predictions["id"])
    np.testing.assert_allclose(predictions["probability"], probability)
    assert predictions["contact"].tolist() == contact.tolist()
    champion_probability, _ = _expected(use_registry.champion, raw, predictions["id"])
    assert not np.allclose(probability, champion_probability)


def test_a_rerun_keeps_earlier_predictions(project, use_registry):
    _run(project, make_test_frame(10))
    _run(project, make_test_frame(12))
    versions = sorted(project.path(PREDICTIONS).iterdir())
    assert len(versions) == 2
    assert [len(pd.read_csv(v / "predictions.csv")) for v in versions] == [10, 12]


def test_bad_rows_within_the_limit_go_to_the_rejects_file(project, use_registry):
    _run(project, _with_bad_rows(100, 2), max_reject_share=0.05)

    rejects = pd.read_csv(project.latest(REJECTS))
    assert rejects.columns.tolist() == ["id", "column", "rule", "value", "row"]
    assert rejects[["id", "column", "value", "row"]].values.tolist() == [
        [500001, "Age", "17", 1],
        [500001, "Vehicle_Age", "2+ Years", 1],
        [500002, "Vehicle_Age", "2+ Years", 2],
    ]
    predictions = pd.read_csv(project.latest(PREDICTIONS))
    assert len(predictions) == 98
    assert not predictions["id"].isin([500001, 500002]).any()


def test_too_many_bad_rows_fail_after_writing_the_rejects(project, use_registry):
    with pytest.raises(RejectShareExceededError) as error:
        _run(project, _with_bad_rows(100, 3))

    rejects_file = project.latest(REJECTS)  # catalog paths are relative to the project folder
    assert len(pd.read_csv(rejects_file)) == 4
    message = str(error.value)
    assert "Inference input data/01_raw/test.csv: 3 of 100 rows (3.00%)" in message
    assert "above the limit inference.max_reject_share = 1.00%" in message
    assert f"written to {rejects_file.relative_to(project.root)}" in message
    assert not project.path(PREDICTIONS).exists()


def test_a_missing_column_stops_the_run_before_any_output(project, use_registry):
    with pytest.raises(RawDataValidationError, match=r"missing required column\(s\) 'Vintage'"):
        _run(project, make_test_frame(5).drop(columns="Vintage"))
    assert not project.path(REJECTS).exists()
    assert not project.path(PREDICTIONS).exists()


def test_an_alias_no_version_holds_stops_the_run_saying_to_train_first(project, use_registry):
    """As before the first training run: ``registered_champion`` loads None, nothing is written."""
    project = Project(project.root, model_alias="nobody")
    with pytest.raises(ValueError, match=r"no registered cross_sell model .*run `kedro run` first"):
        _run(project, make_test_frame(5))
    assert not project.path(PREDICTIONS).exists()
