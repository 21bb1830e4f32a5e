"""The bad-input corpus: raw Kaggle-format files, each broken in one way, built by the tests.

``raw_file(n_rows, include_target, edit)`` writes a valid table of ``n_rows`` (ids 1.. for
training, 500001.. for inference) with one change applied: a cell set to a value, a column
dropped, the bytes re-encoded... ``CELL_CASES`` are the per-row problems (a bad value in row
``BAD_ROW``), the same for training and inference; ``FILE_CASES`` are whole-file problems.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tests.pipelines.data_engineering.conftest import make_raw_frame

BAD_ROW = 4  # 0-based position of the broken row: id 5 (training) / 500005 (inference), row 5
TRAIN_FIRST_ID, TEST_FIRST_ID = 1, 500_001
FEATURES = (
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
)
EMPTY = "must not be empty (missing value)"


@dataclass(frozen=True)
class CellCase:
    """One bad value in one column of row ``BAD_ROW``, and the rule it breaks."""

    column: str
    value: Any  # what the CSV cell holds (None: an empty cell)
    rule: str
    shown: str  # how messages show the value (`value 'M'`, `value empty`)


CELL_CASES: dict[str, CellCase] = {
    **{
        f"null {column}": CellCase(column, None, EMPTY, "empty")
        for column in (*FEATURES, "Response")
    },
    "text in Annual_Premium": CellCase("Annual_Premium", "lots", "must be a number", "'lots'"),
    "text in Region_Code": CellCase("Region_Code", "north", "must be a whole number", "'north'"),
    "text in Vintage": CellCase("Vintage", "old", "must be a whole number", "'old'"),
    "zero premium": CellCase("Annual_Premium", 0.0, "must be greater than 0", "0"),
    "negative premium": CellCase("Annual_Premium", -2630.0, "must be greater than 0", "-2630"),
    "Age 17": CellCase("Age", 17, "must be between 18 and 100", "17"),
    "Age 101": CellCase("Age", 101, "must be between 18 and 100", "101"),
    "Age 150": CellCase("Age", 150, "must be between 18 and 100", "150"),
    "unknown Gender": CellCase("Gender", "M", "must be one of 'Male', 'Female'", "'M'"),
    "unknown Vehicle_Age": CellCase(
        "Vehicle_Age",
        "> 2 years",
        "must be one of '< 1 Year', '1-2 Year', '> 2 Years'",
        "'> 2 years'",
    ),
    "unknown Vehicle_Damage": CellCase("Vehicle_Damage", "Y", "must be one of 'Yes', 'No'", "'Y'"),
}
"""Per-row problems shared by training and inference (``null Response`` is training only)."""


def raw_frame(n_rows: int, include_target: bool) -> pd.DataFrame:
    """A valid raw table: ids from 1 (training) or 500001 (inference)."""
    first_id = TRAIN_FIRST_ID if include_target else TEST_FIRST_ID
    return make_raw_frame(n_rows, include_target=include_target, first_id=first_id)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The Kaggle way of writing a table: comma-separated, LF line endings, UTF-8."""
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def with_cell(case: CellCase) -> Callable[[pd.DataFrame], bytes]:
    def edit(frame: pd.DataFrame) -> bytes:
        frame = frame.astype({case.column: object})
        frame.loc[BAD_ROW, case.column] = case.value
        return csv_bytes(frame)

    return edit


def bad_id(frame: pd.DataFrame) -> int:
    return int(frame["id"].iloc[BAD_ROW])


# Whole-file edits: frame -> the bytes of the file.
def empty_file(frame: pd.DataFrame) -> bytes:
    return b""


def header_only(frame: pd.DataFrame) -> bytes:
    return csv_bytes(frame.iloc[0:0])


def missing_column(frame: pd.DataFrame) -> bytes:
    return csv_bytes(frame.drop(columns="Gender"))


def extra_column(frame: pd.DataFrame) -> bytes:
    return csv_bytes(frame.assign(agent_note="called twice"))


def reordered_columns(frame: pd.DataFrame) -> bytes:
    return csv_bytes(frame[list(reversed(frame.columns))])


def semicolons(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, sep=";", lineterminator="\n").encode("utf-8")


def latin1(frame: pd.DataFrame) -> bytes:
    """A file re-saved as Latin-1 by a spreadsheet: one non-ASCII label on row 3."""
    edited = frame.astype({"Gender": object})
    edited.loc[2, "Gender"] = "Mâle"
    return edited.to_csv(index=False, lineterminator="\n").encode("latin-1")


def crlf(frame: pd.DataFrame) -> bytes:
    return csv_bytes(frame).replace(b"\n", b"\r\n")


def duplicate_id(frame: pd.DataFrame) -> bytes:
    frame = frame.copy()
    frame.loc[BAD_ROW, "id"] = frame["id"].iloc[1]
    return csv_bytes(frame)
