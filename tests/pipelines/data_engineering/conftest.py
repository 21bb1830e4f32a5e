"""Fixtures for data_engineering: tiny, valid, Kaggle-format raw tables built by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

KAGGLE_COLUMNS = [
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
    "Response",
]


def make_raw_frame(
    n_rows: int = 12, include_target: bool = True, first_id: int = 1
) -> pd.DataFrame:
    """A valid raw Kaggle-format table of ``n_rows`` rows (floats where Kaggle writes ``28.0``)."""
    i = np.arange(n_rows)
    frame = pd.DataFrame(
        {
            "id": first_id + i,
            "Gender": np.where(i % 2 == 0, "Male", "Female"),
            "Age": 18 + (i * 7) % 83,
            "Driving_License": (i % 5 != 0).astype(int),
            "Region_Code": ((i * 11) % 53).astype(float),
            "Previously_Insured": (i % 3 == 0).astype(int),
            "Vehicle_Age": np.array(["< 1 Year", "1-2 Year", "> 2 Years"])[i % 3],
            "Vehicle_Damage": np.where(i % 4 < 2, "Yes", "No"),
            "Annual_Premium": np.where(i % 6 == 0, 2630.0, 20000.0 + 1000.0 * i),
            "Policy_Sales_Channel": np.array([152.0, 26.0, 124.0, 160.0])[i % 4],
            "Vintage": 10 + (i * 37) % 290,
            "Response": (i % 4 == 1).astype(int),
        }
    )
    return frame if include_target else frame.drop(columns="Response")


@pytest.fixture
def raw_frame() -> pd.DataFrame:
    return make_raw_frame()
