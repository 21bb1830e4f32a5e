"""Nodes of data_engineering: validation pass-through and the stateless cleaning contract."""

from __future__ import annotations

import pandas as pd
import pytest

from cross_sell.pipelines.data_engineering.nodes import (
    RawDataValidationError,
    clean_raw_table,
    validate_raw_train,
)

from .conftest import make_raw_frame

# The model input table of docs/architecture.md: names, order and dtypes.
CONTRACT = {
    "id": "int64",
    "is_male": "bool",
    "age": "int16",
    "has_driving_license": "bool",
    "region_code": "int16",
    "previously_insured": "bool",
    "vehicle_age": "int8",
    "vehicle_damage": "bool",
    "annual_premium": "float64",
    "policy_sales_channel": "int16",
    "vintage": "int16",
    "response": "int8",
}


def test_validate_raw_train_passes_valid_data_through(raw_frame):
    assert validate_raw_train(raw_frame, max_examples=5) is raw_frame


def test_validate_raw_train_requires_the_target(raw_frame):
    with pytest.raises(RawDataValidationError, match="'Response'"):
        validate_raw_train(raw_frame.drop(columns="Response"), max_examples=5)


def test_clean_produces_exactly_the_contract(raw_frame):
    clean = clean_raw_table(raw_frame)
    assert {c: str(t) for c, t in clean.dtypes.items()} == CONTRACT
    assert len(clean) == len(raw_frame)
    assert isinstance(clean.index, pd.RangeIndex)


def test_clean_maps_values():
    raw = pd.DataFrame(
        {
            "id": [381110, 2],
            "Gender": ["Male", "Female"],
            "Age": [44, 76],
            "Driving_License": [1, 0],
            "Region_Code": [28.0, 3.0],
            "Previously_Insured": [0, 1],
            "Vehicle_Age": ["> 2 Years", "< 1 Year"],
            "Vehicle_Damage": ["Yes", "No"],
            "Annual_Premium": [40454.0, 2630.0],
            "Policy_Sales_Channel": [26.0, 152.0],
            "Vintage": [217, 10],
            "Response": [1, 0],
        }
    )
    clean = clean_raw_table(raw)
    assert clean.to_dict(orient="records") == [
        {
            "id": 381110,
            "is_male": True,
            "age": 44,
            "has_driving_license": True,
            "region_code": 28,
            "previously_insured": False,
            "vehicle_age": 2,
            "vehicle_damage": True,
            "annual_premium": 40454.0,
            "policy_sales_channel": 26,
            "vintage": 217,
            "response": 1,
        },
        {
            "id": 2,
            "is_male": False,
            "age": 76,
            "has_driving_license": False,
            "region_code": 3,
            "previously_insured": True,
            "vehicle_age": 0,
            "vehicle_damage": False,
            "annual_premium": 2630.0,
            "policy_sales_channel": 152,
            "vintage": 10,
            "response": 0,
        },
    ]
    middle = raw.assign(Vehicle_Age="1-2 Year")
    assert clean_raw_table(middle)["vehicle_age"].tolist() == [1, 1]


def test_clean_without_target_drops_extras_and_ignores_order():
    raw = make_raw_frame(include_target=False)
    shuffled = raw[list(reversed(raw.columns))].assign(Response_guess=1, note="x")
    clean = clean_raw_table(shuffled)
    assert list(clean.columns) == [c for c in CONTRACT if c != "response"]
    pd.testing.assert_frame_equal(clean, clean_raw_table(raw))


def test_clean_is_row_by_row():
    """Each output row depends only on its input row: cleaning rows one at a time is the same."""
    raw = make_raw_frame(30)
    one_by_one = pd.concat(
        [clean_raw_table(raw.iloc[[i]]) for i in range(len(raw))], ignore_index=True
    )
    pd.testing.assert_frame_equal(one_by_one, clean_raw_table(raw))
    pd.testing.assert_frame_equal(
        clean_raw_table(raw.iloc[10:20]), clean_raw_table(raw).iloc[10:20].reset_index(drop=True)
    )


def test_clean_refuses_unvalidated_values(raw_frame):
    with pytest.raises(ValueError, match="Vehicle_Age"):
        clean_raw_table(raw_frame.assign(Vehicle_Age="new"))
    with pytest.raises(ValueError, match="'Age'"):
        clean_raw_table(raw_frame.assign(Age=30.5))
