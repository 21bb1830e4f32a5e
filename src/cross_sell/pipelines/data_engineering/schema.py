"""The declared schema of the raw Kaggle table, and its violations as a per-row table.

Types are declared as per-value checks ("a whole number", "one of these labels") on columns of
any dtype, not as column dtypes: one bad value in 381k rows is then reported with its id and
value (instead of failing the whole column), and inference can reject just that row.

Structure:

- ``raw_schema(include_target)``: the pandera schema (``Response`` in or out).
- ``check_structure(df, ...)``: table-level problems (no rows, missing columns) raise at once.
- ``find_violations(df, ...)``: every per-row violation as a table ``row, id, column, rule,
  value`` (``row`` is the 0-based position of the row in ``df``). Training fails on any row;
  inference can keep the rows absent from it (``valid_row_mask``).
- ``format_violations(...)``: the message of ``RawDataValidationError``.

Extra columns (not in the Kaggle format) are accepted and ignored: validation logs them, and
cleaning keeps only the contract's columns, so e.g. a ``Response`` column in ``test.csv`` or
a user's own annotation column does not stop a run. Column order does not matter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

logger = logging.getLogger(__name__)

TARGET = "Response"
FEATURE_COLUMNS: tuple[str, ...] = (
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
GENDER_LABELS: tuple[str, ...] = ("Male", "Female")
VEHICLE_DAMAGE_LABELS: tuple[str, ...] = ("Yes", "No")
VEHICLE_AGE_CODES: dict[str, int] = {"< 1 Year": 0, "1-2 Year": 1, "> 2 Years": 2}
AGE_RANGE = (18, 100)
INT16_MAX = int(np.iinfo(np.int16).max)
VIOLATION_COLUMNS: tuple[str, ...] = ("row", "id", "column", "rule", "value")

# pandera's names for its built-in checks, in plain words.
_BUILTIN_RULES = {
    "not_nullable": "must not be empty (missing value)",
    "field_uniqueness": "must be unique (the same id appears on several rows)",
    "column_in_dataframe": "required column is missing",
}
_FIX_HINT = (
    "Fix these rows in the file, or regenerate a synthetic file with "
    "`kedro run --pipelines=synthetic_data`."
)


class RawDataValidationError(ValueError):
    """The raw Kaggle table does not satisfy the declared schema."""


def raw_columns(include_target: bool = True) -> tuple[str, ...]:
    """The Kaggle columns, in Kaggle's order (``Response`` last, when included)."""
    return (*FEATURE_COLUMNS, TARGET) if include_target else FEATURE_COLUMNS


# ---------------------------------------------------------------------------- value checks
def _numbers(values: pd.Series) -> pd.Series:
    """Values as float64; anything that is not a number (text, booleans) becomes NaN."""
    if pd.api.types.is_bool_dtype(values):
        return pd.Series(np.nan, index=values.index)
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    return pd.to_numeric(values.astype("object"), errors="coerce").astype("float64")


def _whole_number(values: pd.Series) -> pd.Series:
    num = _numbers(values)
    return pd.Series(np.isfinite(num) & (num == np.floor(num)), index=values.index)


def _finite_number(values: pd.Series) -> pd.Series:
    return pd.Series(np.isfinite(_numbers(values)), index=values.index)


def _between(low: float, high: float) -> Callable[[pd.Series], pd.Series]:
    def check(values: pd.Series) -> pd.Series:
        num = _numbers(values)
        return num.isna() | num.between(low, high)  # non-numbers fail the type rule only

    return check


def _positive(values: pd.Series) -> pd.Series:
    num = _numbers(values)
    return num.isna() | (num > 0)


def _zero_or_one(values: pd.Series) -> pd.Series:
    return _numbers(values).isin([0.0, 1.0])


def _one_of(labels: Sequence[str]) -> Callable[[pd.Series], pd.Series]:
    allowed = list(labels)
    return lambda values: values.isin(allowed)


def _check(fn: Callable[[pd.Series], pd.Series], rule: str) -> pa.Check:
    return pa.Check(fn, error=rule)


def _integer_column(low: int, high: int) -> pa.Column:
    return pa.Column(
        None,
        nullable=False,
        checks=[
            _check(_whole_number, "must be a whole number"),
            _check(_between(low, high), f"must be between {low} and {high}"),
        ],
    )


def _binary_column() -> pa.Column:
    return pa.Column(None, nullable=False, checks=[_check(_zero_or_one, "must be 0 or 1")])


def _label_column(labels: Sequence[str]) -> pa.Column:
    rule = "must be one of " + ", ".join(repr(label) for label in labels)
    return pa.Column(None, nullable=False, checks=[_check(_one_of(labels), rule)])


def raw_schema(include_target: bool = True) -> pa.DataFrameSchema:
    """The declared schema of the raw Kaggle table (``Response`` only if ``include_target``).

    Every column is required and non-null; extra columns are allowed (``strict=False``) and
    column order is free.
    """
    columns: dict[str, pa.Column] = {
        "id": pa.Column(
            None,
            nullable=False,
            unique=True,
            checks=[_check(_whole_number, "must be a whole number")],
        ),
        "Gender": _label_column(GENDER_LABELS),
        "Age": _integer_column(*AGE_RANGE),
        "Driving_License": _binary_column(),
        "Region_Code": _integer_column(0, INT16_MAX),
        "Previously_Insured": _binary_column(),
        "Vehicle_Age": _label_column(tuple(VEHICLE_AGE_CODES)),
        "Vehicle_Damage": _label_column(VEHICLE_DAMAGE_LABELS),
        "Annual_Premium": pa.Column(
            None,
            nullable=False,
            checks=[
                _check(_finite_number, "must be a number"),
                _check(_positive, "must be greater than 0"),
            ],
        ),
        "Policy_Sales_Channel": _integer_column(0, INT16_MAX),
        "Vintage": _integer_column(0, INT16_MAX),
    }
    if include_target:
        columns[TARGET] = _binary_column()
    return pa.DataFrameSchema(
        columns,
        strict=False,
        ordered=False,
        name="raw Kaggle table" + ("" if include_target else " (no target)"),
    )


# ---------------------------------------------------------------------------- validation
def _source(df: pd.DataFrame) -> str:
    return str(df.attrs.get("source", "<in-memory data: no source file>"))


def check_structure(df: pd.DataFrame, include_target: bool = True) -> None:
    """Raise ``RawDataValidationError`` for a table with no rows or missing columns."""
    source = _source(df)
    expected = raw_columns(include_target)
    found = [str(c) for c in df.columns]
    missing = [c for c in expected if c not in found]
    if missing:
        by_lower = {c.strip().lower(): c for c in found}
        near = [
            f"found {by_lower[c.lower()]!r} for {c!r}" for c in missing if c.lower() in by_lower
        ]
        hint = f" ({'; '.join(near)}: column names are case-sensitive)" if near else ""
        raise RawDataValidationError(
            f"Raw data validation failed for {source}: missing required column(s) "
            f"{', '.join(repr(c) for c in missing)}{hint}. Expected the Kaggle columns "
            f"{', '.join(expected)} (in any order); found {', '.join(found) or 'none'}."
        )
    if df.empty:
        raise RawDataValidationError(
            f"Raw data validation failed for {source}: the table has no rows (only a header). "
            "Put the Kaggle file there, or regenerate a synthetic one with "
            "`kedro run --pipelines=synthetic_data`."
        )
    extra = [c for c in found if c not in expected]
    if extra:
        logger.warning("%s: ignoring extra column(s) %s", source, ", ".join(extra))


def _no_violations() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype="object") for name in VIOLATION_COLUMNS})


def find_violations(df: pd.DataFrame, include_target: bool = True) -> pd.DataFrame:
    """Every per-row violation of the schema, one row per (row, column, rule).

    Raises ``RawDataValidationError`` first for table-level problems (``check_structure``).

    Returns:
        A frame with columns ``row`` (0-based position in ``df``), ``id``, ``column``, ``rule``
        (plain words) and ``value`` (the offending raw value), sorted by column then row;
        empty when every row is valid.
    """
    check_structure(df, include_target)
    table = df.reset_index(drop=True)
    try:
        raw_schema(include_target).validate(table, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return _no_violations()

    cases = cases[cases["index"].notna()]  # table-level cases are handled by check_structure
    ids = table["id"].astype("object").to_numpy()
    parts = []
    for column, group in cases.groupby("column", sort=False):
        rows = group["index"].astype("int64").to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "row": rows,
                    "id": ids[rows],
                    "column": str(column),
                    "rule": [_BUILTIN_RULES.get(c, c) for c in group["check"]],
                    "value": table[column].astype("object").to_numpy()[rows],
                }
            )
        )
    if not parts:
        return _no_violations()
    violations = pd.concat(parts, ignore_index=True)
    order = {name: i for i, name in enumerate(raw_columns(include_target))}
    violations["_order"] = violations["column"].map(order)
    return (
        violations.sort_values(["_order", "rule", "row"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def valid_row_mask(n_rows: int, violations: pd.DataFrame) -> np.ndarray:
    """Boolean mask over the ``n_rows`` rows of the validated frame: True where no violation."""
    mask = np.ones(n_rows, dtype=bool)
    mask[violations["row"].to_numpy(dtype="int64")] = False
    return mask


def _show(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "empty"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = repr(value) if isinstance(value, str | bytes) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _rows(rows: pd.Series, limit: int = 3) -> str:
    shown = ", ".join(str(r + 1) for r in rows.head(limit))
    return f"row{'s' if len(rows) > 1 else ''} {shown}{', ...' if len(rows) > limit else ''}"


def format_violations(
    violations: pd.DataFrame, source: str, n_rows: int, max_examples: int = 5
) -> str:
    """One message: per violated (column, rule), the row count and up to ``max_examples`` ids."""
    n_bad = violations["row"].nunique()
    groups = violations.groupby(["column", "rule"], sort=False)
    lines = [
        f"Raw data validation failed for {source}: {groups.ngroups} rule(s) violated, "
        f"in {n_bad} of {n_rows} rows. {_FIX_HINT}"
    ]
    for (column, rule), group in groups:
        if column == "id":  # the id itself is the bad value: show where it is
            shown = group.groupby("value", sort=False, dropna=False)["row"]
            items = [
                f"id {_show(value)} ({_rows(rows)})" for value, rows in list(shown)[:max_examples]
            ]
            more = ", ..." if shown.ngroups > max_examples else ""
        else:
            items = [
                f"id {_show(r.id)} (value {_show(r.value)})"
                for r in group.head(max_examples).itertuples()
            ]
            more = ", ..." if len(group) > max_examples else ""
        count = f"{len(group)} row{'s' if len(group) != 1 else ''}"
        lines.append(f"  - column {column!r}: {rule}: {count}, e.g. {', '.join(items)}{more}")
    if (violations["column"] == "id").any():
        lines.append("  (row N is the N-th data row of the file, i.e. line N+1.)")
    return "\n".join(lines)


def validate_raw_table(
    df: pd.DataFrame, include_target: bool = True, max_examples: int = 5
) -> pd.DataFrame:
    """Return ``df`` unchanged if it satisfies the schema, else raise one clear error."""
    violations = find_violations(df, include_target)
    if not violations.empty:
        raise RawDataValidationError(
            format_violations(violations, _source(df), len(df), max_examples)
        )
    return df
