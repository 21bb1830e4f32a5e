"""The registered champion behind MLflow's real scoring server (``mlflow models serve``).

One server per test session: ``served_champion`` (tests/conftest.py) serves
``models:/cross_sell@champion`` of a project where ``kedro run`` trained and registered it and
``kedro run --pipelines=inference`` scored its ``test.csv``; answers are compared with that
batch job's ``predictions.csv``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import pytest

from cross_sell.pipelines.inference.nodes import REASON_COLUMNS, SCORE_COLUMNS
from tests.pipelines.inference.serving_support import ServedModel, dataframe_split, invoke

pytestmark = pytest.mark.slow  # serves the champion of tests/conftest.py's champion_sequence

JSON = "application/json"


@pytest.fixture(scope="module")
def served_model(served_champion: ServedModel) -> ServedModel:
    return served_champion


def _assert_same_as_batch(answer: dict, served: ServedModel, ids: list[int]) -> None:
    scores = pd.DataFrame(answer["predictions"])
    assert scores.columns.tolist() == list(SCORE_COLUMNS)
    assert scores["id"].tolist() == ids
    batch = served.batch_predictions.set_index("id").loc[ids]
    np.testing.assert_array_equal(scores["probability"], batch["probability"])
    assert scores["contact"].tolist() == batch["contact"].tolist()
    for reason in REASON_COLUMNS:
        assert scores[reason].fillna("").tolist() == batch[reason].fillna("").tolist()


def test_raw_rows_as_json_score_like_the_batch_pipeline(served_model):
    raw = served_model.raw_rows
    unseen = raw[raw["Policy_Sales_Channel"].isin([141.0, 142.0])]  # channels absent from train
    assert len(unseen) >= 2
    rows = pd.concat([raw.head(3), unseen.head(3)])
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
    assert "missing required column(s) 'Annual_Premium'" in answer["message"]


def test_an_invalid_value_is_a_400_naming_the_id_and_rule(served_model):
    rows = served_model.raw_rows.head(3).copy()
    rows.loc[1, "Vehicle_Age"] = "2+ Years"
    status, answer = invoke(served_model.url, dataframe_split(rows), JSON)
    assert status == 400
    assert "1 of 3 rows break the raw Kaggle schema" in answer["message"]
    assert "column 'Vehicle_Age': must be one of" in answer["message"]
    assert f"id {rows['id'].iloc[1]} (value '2+ Years')" in answer["message"]


# ---------------------------------------------------------------------------- malformed requests
# Each bad request gets a 4xx with a message, and the server goes on scoring (docs/guarantees.md).
# The model declares no input schema: every value is checked by the project's raw schema, which
# names the column, the rule and the row's id.
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
        "INVALID_PARAMETER_VALUE",
        "  - column 'Age': must be a whole number: 1 row, e.g. id {first_id} (value 'forty')",
    ),
    "a fraction in an integer column": (
        lambda served: _with(served, "Age", 35.5),
        JSON,
        "INVALID_PARAMETER_VALUE",
        "  - column 'Age': must be a whole number: 1 row, e.g. id {first_id} (value 35.5)",
    ),
    "null in an integer column": (
        lambda served: _with(served, "Age", None),
        JSON,
        "INVALID_PARAMETER_VALUE",
        "  - column 'Age': must not be empty (missing value): 1 row, e.g. id {first_id} "
        "(value empty)",
    ),
    "text in a number column": (
        lambda served: _with(served, "Annual_Premium", "lots"),
        JSON,
        "INVALID_PARAMETER_VALUE",
        "  - column 'Annual_Premium': must be a number: 1 row, e.g. id {first_id} (value 'lots')",
    ),
    "null in a number column": (
        lambda served: _with(served, "Annual_Premium", None),
        JSON,
        "INVALID_PARAMETER_VALUE",
        "Invalid scoring request: 1 of 2 rows break the raw Kaggle schema (expected columns "
        f"{', '.join(COLUMNS)}); nothing was scored. Fix or remove these rows:\n  - column "
        "'Annual_Premium': must not be empty (missing value): 1 row, e.g. id {first_id} "
        "(value empty)",
    ),
    "a number in a label column": (
        lambda served: _with(served, "Gender", 1),
        JSON,
        "INVALID_PARAMETER_VALUE",
        "  - column 'Gender': must be one of 'Male', 'Female': 1 row, e.g. id {first_id} (value 1)",
    ),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_a_malformed_request_is_a_4xx_and_the_server_keeps_scoring(served_model, case):
    body, content_type, error_code, message = BAD_REQUESTS[case]
    status, answer = invoke(served_model.url, body(served_model), content_type)
    assert status == 400, answer
    assert answer["error_code"] == error_code
    first_id = str(served_model.raw_rows["id"].iloc[0])  # the row _with() edits
    assert message.replace("{first_id}", first_id) in answer["message"]

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
