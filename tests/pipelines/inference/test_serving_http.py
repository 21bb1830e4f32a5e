"""The servable model behind MLflow's real scoring server (``mlflow models serve``).

One server per test session (``served_model``). Its default builds the model in-process, the way
``kedro run`` does (``serving_support.log_servable_model``), and serves the saved folder; an
end-to-end fixture can instead serve ``models:/cross_sell@champion`` of a trained project with
``serving_support.serve_model`` and that project's ``predictions.csv``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
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


# ---------------------------------------------------------------------------- malformed requests
# Each bad request gets a 4xx with a message, and the server goes on scoring (docs/guarantees.md).
COLUMNS = [
    "id",
    "Gender",
    "Age",
    "Driving_License",
    "Region_Code",
    "Previously_Insured",
    "Vehicle_Age",
    "Vehicle_Damage",
    "Annual_Premium",
    "Policy_Sales_Channel",
    "Vintage",
]


def _with(served: ServedModel, column: str, value) -> str:
    rows = served.raw_rows.head(2).astype({column: object})
    rows.loc[0, column] = value
    return dataframe_split(rows)


BAD_REQUESTS = {
    "malformed JSON": (
        lambda served: '{"dataframe_split": {',
        JSON,
        "BAD_REQUEST",
        "Invalid input. Ensure that input is a valid JSON formatted string. Error: "
        "'JSONDecodeError('Expecting property name enclosed in double quotes",
    ),
    "empty JSON body": (
        lambda served: "",
        JSON,
        "BAD_REQUEST",
        "Invalid input. Ensure that input is a valid JSON formatted string. Error: "
        "'JSONDecodeError('Expecting value: line 1 column 1 (char 0)')'",
    ),
    "JSON without rows field": (
        lambda served: "{}",
        JSON,
        "BAD_REQUEST",
        "The input must be a JSON dictionary with exactly one of the input fields",
    ),
    "no rows": (
        lambda served: json.dumps({"dataframe_split": {"columns": COLUMNS, "data": []}}),
        JSON,
        "INVALID_PARAMETER_VALUE",
        "Invalid scoring request: it has no rows to score.",
    ),
    "empty CSV body": (
        lambda served: "",
        "text/csv",
        "BAD_REQUEST",
        "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid "
        "CSV-formatted Pandas DataFrame",
    ),
    "text in an integer column": (
        lambda served: _with(served, "Age", "forty"),
        JSON,
        "BAD_REQUEST",
        "Invalid input. Data is not compatible with model signature. Failed to convert column "
        "Age to type 'int64'.",
    ),
    "null in an integer column": (
        lambda served: _with(served, "Age", None),
        JSON,
        "BAD_REQUEST",
        "Invalid input. Data is not compatible with model signature. Failed to convert column "
        "Age to type 'int64'.",
    ),
    "text in a number column": (
        lambda served: _with(served, "Annual_Premium", "lots"),
        JSON,
        "BAD_REQUEST",
        "Failed to convert column Annual_Premium to type 'float64'.",
    ),
    "null in a number column": (
        lambda served: _with(served, "Annual_Premium", None),
        JSON,
        "INVALID_PARAMETER_VALUE",
        "Invalid scoring request: 1 of 2 rows break the raw Kaggle schema (expected columns "
        f"{', '.join(COLUMNS)}); nothing was scored. Fix or remove these rows:\n  - column "
        "'Annual_Premium': must not be empty (missing value): 1 row, e.g. id 500001 (value empty)",
    ),
    "a number in a label column": (
        lambda served: _with(served, "Gender", 1),
        JSON,
        "INVALID_PARAMETER_VALUE",
        "  - column 'Gender': must be one of 'Male', 'Female': 1 row, e.g. id 500001 (value 1)",
    ),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_a_malformed_request_is_a_4xx_and_the_server_keeps_scoring(served_model, case):
    body, content_type, error_code, message = BAD_REQUESTS[case]
    status, answer = invoke(served_model.url, body(served_model), content_type)
    assert status == 400, answer
    assert answer["error_code"] == error_code
    assert message in answer["message"]

    rows = served_model.raw_rows.iloc[[5, 6]]
    status, answer = invoke(served_model.url, dataframe_split(rows), JSON)
    assert status == 200, answer
    _assert_same_as_batch(answer, served_model, rows["id"].tolist())


def test_an_unsupported_content_type_is_a_415_naming_the_supported_ones(served_model):
    request = urllib.request.Request(
        f"{served_model.url}/invocations", data=b"hello", headers={"Content-Type": "text/plain"}
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=60)
    assert info.value.code == 415
    assert "This predictor only supports the following content types" in info.value.read().decode()


def test_known_limitation_a_fractional_integer_is_truncated_by_the_json_parser(served_model):
    """MLflow's scoring server casts JSON values to the signature's int64 with pandas ``astype``
    before the model sees them: ``Age`` 35.5 is scored as 35 (the batch job and in-process
    ``pyfunc.predict`` refuse it). Pinned here so a change of MLflow's behaviour is noticed."""
    rows = served_model.raw_rows.head(1).astype({"Age": object})
    rows.loc[0, "Age"] = 35
    status, whole = invoke(served_model.url, dataframe_split(rows), JSON)
    rows.loc[0, "Age"] = 35.5
    status_fraction, fraction = invoke(served_model.url, dataframe_split(rows), JSON)
    assert (status, status_fraction) == (200, 200)
    assert fraction == whole
