"""Nodes of ``data_engineering``: validate the raw table, clean it row by row.

Cleaning is stateless (each output row depends only on its input row, nothing is fitted), so
``clean_raw_table`` serves training and inference alike.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .schema import (
    GENDER_LABELS,
    TARGET,
    VEHICLE_AGE_CODES,
    VEHICLE_DAMAGE_LABELS,
    RawDataValidationError,
    validate_raw_table,
)

logger = logging.getLogger(__name__)

__all__ = ["RawDataValidationError", "clean_raw_table", "validate_raw_train"]


def validate_raw_train(raw_train: pd.DataFrame, max_examples: int) -> pd.DataFrame:
    """Validate the raw training table (``Response`` required); any violation fails the run.

    Columns may come in any order; extra columns are accepted (logged, then dropped by
    cleaning), since they cannot change the model input table.

    Raises:
        RawDataValidationError: naming the file, and per violated (column, rule) the row count
            and up to ``max_examples`` example ids with their values; also when every row is
            of one class (a single row included): nothing could be trained on it.
    """
    validated = validate_raw_table(raw_train, include_target=True, max_examples=max_examples)
    _check_both_classes(validated, max_examples)
    logger.info("Raw training table is valid: %d rows", len(validated))
    return validated


def _check_both_classes(raw_train: pd.DataFrame, max_examples: int) -> None:
    """A training file whose rows are all one class (or a single row) cannot train a classifier."""
    classes = pd.to_numeric(raw_train[TARGET]).astype("int64")
    if classes.nunique() > 1:
        return
    ids = ", ".join(str(i) for i in raw_train["id"].head(max_examples))
    more = ", ..." if len(raw_train) > max_examples else ""
    raise RawDataValidationError(
        f"Raw data validation failed for "
        f"{raw_train.attrs.get('source', '<in-memory data: no source file>')}: column "
        f"{TARGET!r}: a training file needs rows of both classes 0 and 1, but all "
        f"{len(raw_train)} row(s) are {classes.iloc[0]}, e.g. id {ids}{more}. Use the Kaggle "
        "train.csv (12 % responders), or regenerate a synthetic one with "
        "`kedro run --pipelines=synthetic_data`."
    )


def _integers(values: pd.Series, dtype: str, column: str) -> pd.Series:
    """Whole numbers (possibly written as ``28.0``) as ``dtype``; fail clearly on anything else."""
    num = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    info = np.iinfo(dtype)
    ok = np.isfinite(num) & (num == np.floor(num)) & (num >= info.min) & (num <= info.max)
    if not ok.all():
        raise ValueError(
            f"Cannot clean column {column!r}: value {values[~ok].iloc[0]!r} is not a whole "
            f"number fitting {dtype}. Validate the raw table first (validate_raw_table)."
        )
    return pd.Series(num.astype(dtype), index=values.index)


def _flag(values: pd.Series, true_label: str, labels: tuple[str, ...], column: str) -> pd.Series:
    unknown = ~values.isin(labels)
    if unknown.any():
        raise ValueError(
            f"Cannot clean column {column!r}: unknown label {values[unknown].iloc[0]!r} "
            f"(expected one of {labels}). Validate the raw table first (validate_raw_table)."
        )
    return values.eq(true_label).astype(bool)


RAW_COLUMN_OF = {
    "is_male": "Gender",
    "age": "Age",
    "has_driving_license": "Driving_License",
    "region_code": "Region_Code",
    "previously_insured": "Previously_Insured",
    "vehicle_age": "Vehicle_Age",
    "vehicle_damage": "Vehicle_Damage",
    "annual_premium": "Annual_Premium",
    "policy_sales_channel": "Policy_Sales_Channel",
    "vintage": "Vintage",
}
"""The raw Kaggle column each clean feature column is made from (``clean_raw_table``)."""


def clean_raw_table(raw: pd.DataFrame) -> pd.DataFrame:
    """Turn validated raw Kaggle rows into the model input table of docs/architecture.md.

    Tidy snake_case names; booleans for the yes/no columns; ``vehicle_age`` as an ordinal code
    (``< 1 Year`` 0, ``1-2 Year`` 1, ``> 2 Years`` 2); integer codes for region and channel.
    ``response`` (int8) is kept only when ``Response`` is present. Extra columns are dropped.
    """
    vehicle_age = raw["Vehicle_Age"].map(VEHICLE_AGE_CODES)
    if vehicle_age.isna().any():
        raise ValueError(
            f"Cannot clean column 'Vehicle_Age': unknown label "
            f"{raw['Vehicle_Age'][vehicle_age.isna()].iloc[0]!r} (expected one of "
            f"{tuple(VEHICLE_AGE_CODES)}). Validate the raw table first (validate_raw_table)."
        )
    clean = pd.DataFrame(
        {
            "id": _integers(raw["id"], "int64", "id"),
            "is_male": _flag(raw["Gender"], "Male", GENDER_LABELS, "Gender"),
            "age": _integers(raw["Age"], "int16", "Age"),
            "has_driving_license": _integers(
                raw["Driving_License"], "int8", "Driving_License"
            ).astype(bool),
            "region_code": _integers(raw["Region_Code"], "int16", "Region_Code"),
            "previously_insured": _integers(
                raw["Previously_Insured"], "int8", "Previously_Insured"
            ).astype(bool),
            "vehicle_age": vehicle_age.astype("int8"),
            "vehicle_damage": _flag(
                raw["Vehicle_Damage"], "Yes", VEHICLE_DAMAGE_LABELS, "Vehicle_Damage"
            ),
            "annual_premium": pd.to_numeric(raw["Annual_Premium"]).astype("float64"),
            "policy_sales_channel": _integers(
                raw["Policy_Sales_Channel"], "int16", "Policy_Sales_Channel"
            ),
            "vintage": _integers(raw["Vintage"], "int16", "Vintage"),
        }
    )
    if TARGET in raw.columns:
        clean["response"] = _integers(raw[TARGET], "int8", TARGET)
    clean = clean.reset_index(drop=True)
    logger.info("Cleaned %d rows into %d columns", len(clean), clean.shape[1])
    return clean
