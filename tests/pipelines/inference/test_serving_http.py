"""The servable model behind MLflow's real scoring server (``mlflow models serve``).

One server per test session (``served_model``). Its default builds the model in-process, the way
``kedro run`` does (``serving_support.log_servable_model``), and serves the saved folder; an
end-to-end fixture can instead serve ``models:/cross_sell@champion`` of a trained project with
``serving_support.serve_model`` and that project's ``predictions.csv``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from kedro.runner import SequentialRunner

from cross_sell.pipelines.inference import create_pipeline

from .conftest import THRESHOLD, Project, make_test_frame, write_csv
from .serving_support import (
    ServedModel,
    dataframe_split,
    invoke,
    log_servable_model,
    servable_pipeline,
    serve_model,
)

JSON = "application/json"


@pytest.fixture(scope="session")
def served_model(tmp_path_factory, champion) -> Iterator[ServedModel]:
    root = tmp_path_factory.mktemp("serving")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        project = Project(root)
        log_servable_model(
            servable_pipeline(), project.catalog(), champion, THRESHOLD, save_to=root / "model"
        )
        raw = make_test_frame(60).assign(Policy_Sales_Channel=[152.0, 26.0, 141.0, 142.0] * 15)
        write_csv(project.path("data/01_raw/test.csv"), raw)
        SequentialRunner().run(create_pipeline(), project.catalog())
        batch = pd.read_csv(project.latest("data/07_model_output/predictions.csv"))
    with serve_model(str(root / "model"), log_path=root / "serve.log") as url:
        yield ServedModel(url=url, raw_rows=raw, batch_predictions=batch)


def _assert_same_as_batch(answer: dict, served: ServedModel, ids: list[int]) -> None:
    scores = pd.DataFrame(answer["predictions"])
    assert scores.columns.tolist() == ["id", "probability", "contact"]
    assert scores["id"].tolist() == ids
    batch = served.batch_predictions.set_index("id").loc[ids]
    np.testing.assert_array_equal(scores["probability"], batch["probability"])
    assert scores["contact"].tolist() == batch["contact"].tolist()


def test_raw_rows_as_json_score_like_the_batch_pipeline(served_model):
    rows = served_model.raw_rows.iloc[[0, 2, 3, 7]]  # channels 152, 141, 142 (unseen), 142
    status, answer = invoke(served_model.url, dataframe_split(rows), JSON)
    assert status == 200, answer
    _assert_same_as_batch(answer, served_model, rows["id"].tolist())


def test_raw_kaggle_csv_lines_score_like_the_batch_pipeline(served_model):
    body = served_model.raw_rows.to_csv(index=False, lineterminator="\n")
    status, answer = invoke(served_model.url, body, "text/csv")
    assert status == 200, answer
    _assert_same_as_batch(answer, served_model, served_model.raw_rows["id"].tolist())


def test_a_missing_column_is_a_400_naming_it(served_model):
    rows = served_model.raw_rows.head(3).drop(columns="Annual_Premium")
    status, answer = invoke(served_model.url, dataframe_split(rows), JSON)
    assert status == 400
    assert answer["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "Model is missing inputs ['Annual_Premium']" in answer["message"]


def test_an_invalid_value_is_a_400_naming_the_id_and_rule(served_model):
    rows = served_model.raw_rows.head(3).copy()
    rows.loc[1, "Vehicle_Age"] = "2+ Years"
    status, answer = invoke(served_model.url, dataframe_split(rows), JSON)
    assert status == 400
    assert "1 of 3 rows break the raw Kaggle schema" in answer["message"]
    assert "column 'Vehicle_Age': must be one of" in answer["message"]
    assert "id 500002 (value '2+ Years')" in answer["message"]
