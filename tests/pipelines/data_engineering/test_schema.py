"""The declared raw schema: per-row violations and the error message built from them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cross_sell.pipelines.data_engineering.schema import (
    VIOLATION_COLUMNS,
    RawDataValidationError,
    find_violations,
    raw_schema,
    valid_row_mask,
    validate_raw_table,
)

from .conftest import make_raw_frame


def _violations(frame: pd.DataFrame, include_target: bool = True) -> set[tuple]:
    table = find_violations(frame, include_target)
    return set(zip(table["id"], table["column"], table["rule"], strict=True))


def test_valid_frame_has_no_violations(raw_frame):
    table = find_violations(raw_frame)
    assert table.empty
    assert list(table.columns) == list(VIOLATION_COLUMNS)
    assert validate_raw_table(raw_frame) is raw_frame


def test_schema_with_and_without_target():
    assert "Response" in raw_schema(include_target=True).columns
    assert "Response" not in raw_schema(include_target=False).columns
    test_like = make_raw_frame(include_target=False)
    assert find_violations(test_like, include_target=False).empty
    with pytest.raises(RawDataValidationError, match="missing required column\\(s\\) 'Response'"):
        find_violations(test_like, include_target=True)


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("Age", 17, "must be between 18 and 100"),
        ("Age", 101, "must be between 18 and 100"),
        ("Age", 30.5, "must be a whole number"),
        ("Age", "abc", "must be a whole number"),
        ("Annual_Premium", 0.0, "must be greater than 0"),
        ("Annual_Premium", -5.0, "must be greater than 0"),
        ("Annual_Premium", np.inf, "must be a number"),
        ("Annual_Premium", None, "must not be empty (missing value)"),
        ("Vintage", -1, "must be between 0 and 32767"),
        ("Region_Code", 28.5, "must be a whole number"),
        ("Region_Code", -1.0, "must be between 0 and 32767"),
        ("Policy_Sales_Channel", 40000.0, "must be between 0 and 32767"),
        ("Driving_License", 2, "must be 0 or 1"),
        ("Previously_Insured", "yes", "must be 0 or 1"),
        ("Response", 2, "must be 0 or 1"),
        ("Gender", "male", "must be one of 'Male', 'Female'"),
        ("Vehicle_Age", "< 1 year", "must be one of '< 1 Year', '1-2 Year', '> 2 Years'"),
        ("Vehicle_Damage", "Y", "must be one of 'Yes', 'No'"),
    ],
)
def test_each_rule_flags_only_the_bad_row(raw_frame, column, value, rule):
    frame = raw_frame.astype({column: object})
    frame.loc[4, column] = value
    table = find_violations(frame)
    assert list(zip(table["row"], table["id"], table["column"], table["rule"], strict=True)) == [
        (4, 5, column, rule)
    ]


def test_boundaries_are_accepted(raw_frame):
    frame = raw_frame.copy()
    frame.loc[0, "Age"], frame.loc[1, "Age"] = 18, 100
    frame.loc[2, "Vintage"], frame.loc[3, "Region_Code"] = 0, 0.0
    frame.loc[4, "Annual_Premium"] = 0.01
    assert find_violations(frame).empty


def test_duplicate_ids_report_every_copy(raw_frame):
    frame = raw_frame.copy()
    frame.loc[7, "id"] = 3
    table = find_violations(frame)
    assert table["row"].tolist() == [2, 7]
    assert set(table["rule"]) == {"must be unique (the same id appears on several rows)"}


def test_violation_table_splits_valid_rows_from_rejects():
    """What inference needs: keep valid rows of a test-like table, reject the others."""
    frame = make_raw_frame(10, include_target=False, first_id=500).astype({"Age": object})
    frame.loc[2, "Age"] = "forty"
    frame.loc[5, "Gender"] = None
    frame.loc[5, "Vintage"] = -3
    frame.index = frame.index + 100  # labels are irrelevant: rows are positions
    table = find_violations(frame, include_target=False)
    assert _violations(frame, include_target=False) == {
        (502, "Age", "must be a whole number"),
        (505, "Gender", "must not be empty (missing value)"),
        (505, "Vintage", "must be between 0 and 32767"),
    }
    mask = valid_row_mask(len(frame), table)
    assert mask.sum() == 8
    assert frame[~mask]["id"].tolist() == [502, 505]


def test_extra_columns_and_any_order_are_accepted(raw_frame):
    frame = raw_frame[list(reversed(raw_frame.columns))].assign(note="x")
    assert find_violations(frame).empty


def test_missing_column_message_names_it_and_hints_at_case(raw_frame):
    frame = raw_frame.rename(columns={"Age": "age"}).drop(columns="Vintage")
    frame.attrs["source"] = "data/01_raw/train.csv"
    with pytest.raises(RawDataValidationError) as info:
        validate_raw_table(frame)
    message = str(info.value)
    assert "data/01_raw/train.csv" in message
    assert "missing required column(s) 'Age', 'Vintage'" in message
    assert "found 'age' for 'Age'" in message
    assert "case-sensitive" in message


def test_empty_table_message(raw_frame):
    with pytest.raises(RawDataValidationError, match="the table has no rows"):
        validate_raw_table(raw_frame.iloc[0:0])


def test_message_counts_rows_and_truncates_examples():
    frame = make_raw_frame(20)
    frame.loc[3:12, "Response"] = 7
    frame.loc[0, "id"] = None
    frame.attrs["source"] = "/somewhere/train.csv"
    with pytest.raises(RawDataValidationError) as info:
        validate_raw_table(frame, max_examples=2)
    message = str(info.value)
    assert message.startswith("Raw data validation failed for /somewhere/train.csv")
    assert "2 rule(s) violated, in 11 of 20 rows" in message
    expected = (
        "column 'Response': must be 0 or 1: 10 rows, e.g. id 4 (value 7), id 5 (value 7), ..."
    )
    assert expected in message
    assert "column 'id': must not be empty (missing value): 1 row, e.g. id empty (row 1)" in message
