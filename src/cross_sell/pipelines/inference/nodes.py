"""Nodes of ``inference``: split off invalid rows, score customers, rank them.

Validation and cleaning are the ``data_engineering`` ones (``find_violations``,
``clean_raw_table``): inference accepts exactly what training accepts, minus ``Response``.

- Batch (``raw_test``): rows that violate the schema are split off into a rejects table (one
  line per violation) instead of failing the run; ``check_reject_share`` then fails the run when
  their share is above the configured limit (after the rejects file has been written, and
  before any prediction is).
- Serving (one request of raw rows): any violation rejects the whole request with a clear
  ``InvalidScoringRequestError`` (an HTTP 400 from MLflow's scoring server).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from cross_sell.params import Inference
from cross_sell.pipelines.data_engineering.nodes import RAW_COLUMN_OF
from cross_sell.pipelines.data_engineering.schema import (
    TARGET,
    RawDataValidationError,
    find_violations,
    raw_columns,
    valid_row_mask,
)
from cross_sell.pipelines.data_science.explain import contributions, top_reasons

logger = logging.getLogger(__name__)

ID_COLUMN = "id"
CLEAN_TARGET = "response"
REJECT_COLUMNS: tuple[str, ...] = ("id", "column", "rule", "value", "row")
"""Columns of the rejects table; ``row`` is the 1-based data row of the file (line ``row + 1``)."""
REASON_COLUMNS: tuple[str, ...] = ("reason_1", "reason_2", "reason_3")
SCORE_COLUMNS: tuple[str, ...] = ("id", "probability", "contact", *REASON_COLUMNS)
PREDICTION_COLUMNS: tuple[str, ...] = (
    "id",
    "probability",
    "rank",
    "decile",
    "contact",
    *REASON_COLUMNS,
)
REQUEST_SOURCE = "the scoring request"


class RejectShareExceededError(RawDataValidationError):
    """Too many rows of the inference file failed validation (``inference.max_reject_share``)."""


class InvalidScoringRequestError(RawDataValidationError, MlflowException):
    """A scoring request (raw rows sent to the served model) does not satisfy the schema.

    An ``MlflowException`` with ``INVALID_PARAMETER_VALUE``, so MLflow's scoring server answers
    HTTP 400 with this message instead of a generic "unexpected error".
    """

    def __init__(self, message: str) -> None:
        MlflowException.__init__(self, message, error_code=INVALID_PARAMETER_VALUE)


def _source(frame: pd.DataFrame) -> str:
    return str(frame.attrs.get("source", "<in-memory data: no source file>"))


def _show(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "empty"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 30 else text[:27] + "..."


def describe_violations(violations: pd.DataFrame, max_examples: int = 3) -> str:
    """One line per violated (column, rule): the row count and a few example ids and values."""
    lines = []
    for (column, rule), group in violations.groupby(["column", "rule"], sort=False):
        rows = group["row"].nunique()
        examples = ", ".join(
            f"id {_show(r.id)} (value {_show(r.value)})"
            for r in group.head(max_examples).itertuples()
        )
        more = ", ..." if len(group) > max_examples else ""
        lines.append(
            f"  - column {column!r}: {rule}: {rows} row{'s' if rows != 1 else ''}, "
            f"e.g. {examples}{more}"
        )
    return "\n".join(lines)


def _without_target(raw: pd.DataFrame) -> pd.DataFrame:
    """``raw`` without a ``Response`` column: inference never reads a target, even if present."""
    if TARGET not in raw.columns:
        return raw
    logger.warning("%s: ignoring its %r column (inference scores rows)", _source(raw), TARGET)
    return raw.drop(columns=TARGET)


def split_rejected_rows(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split raw rows into valid rows and a rejects table (one line per violation).

    Table-level problems (no rows, a missing column) still raise ``RawDataValidationError``:
    there is nothing sensible to score.

    Returns:
        The valid rows (``attrs["source"]`` kept) and the rejects: ``id, column, rule, value,
        row`` sorted by row (``row`` is the 1-based data row, so line ``row + 1`` of the file).
    """
    raw = _without_target(raw)
    violations = find_violations(raw, include_target=False)
    valid = raw.loc[valid_row_mask(len(raw), violations)]
    valid.attrs = dict(raw.attrs)
    rejects = (
        violations.sort_values("row", kind="stable")
        .assign(row=lambda v: v["row"].astype("int64") + 1)
        .loc[:, list(REJECT_COLUMNS)]
        .reset_index(drop=True)
    )
    n_rejected = len(raw) - len(valid)
    if n_rejected:
        logger.warning(
            "%s: %d of %d rows (%.2f %%) fail validation and are rejected (%d violations):\n%s",
            _source(raw),
            n_rejected,
            len(raw),
            100 * n_rejected / len(raw),
            len(rejects),
            describe_violations(violations),
        )
    else:
        logger.info("%s: all %d rows are valid", _source(raw), len(raw))
    return valid, rejects


def check_reject_share(
    rejects: pd.DataFrame, valid_rows: pd.DataFrame, params: Inference, scores: pd.DataFrame
) -> pd.DataFrame:
    """Pass the ``scores`` of ``valid_rows`` on if the share of rejected rows is within
    ``max_reject_share``.

    ``rejects`` is read back from the saved rejects file, so this node runs once the file is
    written: when the run fails here, the user can open the rejects.

    Raises:
        RejectShareExceededError: naming the input file, the count, the share, the limit and
            the rejects file.
    """
    max_reject_share = params.max_reject_share
    n_rejected = int(rejects["row"].nunique()) if len(rejects) else 0
    n_rows = len(valid_rows) + n_rejected
    share = n_rejected / n_rows if n_rows else 0.0
    where = rejects.attrs.get("source", "the `inference_rejects` dataset")
    if share > max_reject_share:
        raise RejectShareExceededError(
            f"Inference input {_source(valid_rows)}: {n_rejected} of {n_rows} rows "
            f"({share:.2%}) fail validation, above the limit inference.max_reject_share = "
            f"{max_reject_share:.2%}. No predictions were written. The {len(rejects)} "
            f"violations (id, column, rule, value, row) are written to {where}. Fix or remove "
            "those rows, or raise the limit (e.g. --params=inference.max_reject_share=0.05).\n"
            f"{describe_violations(rejects)}"
        )
    if n_rejected:
        logger.warning(
            "Scored %d rows; %d rejected rows (%.2f %%, limit %.2f %%) are listed in %s",
            len(valid_rows),
            n_rejected,
            100 * share,
            100 * max_reject_share,
            where,
        )
    return scores


def validate_scoring_request(request: pd.DataFrame) -> pd.DataFrame:
    """Return the raw rows of a scoring request if every row satisfies the schema.

    Raises:
        InvalidScoringRequestError: for a missing column, no rows, or any invalid value (per
            violated column and rule: the row count and example ids with their values).
    """
    rows = _without_target(request.copy(deep=False))
    rows.attrs["source"] = REQUEST_SOURCE
    if len(rows) == 0 and set(raw_columns(include_target=False)) <= set(rows.columns):
        raise InvalidScoringRequestError("Invalid scoring request: it has no rows to score.")
    try:
        violations = find_violations(rows, include_target=False)
    except RawDataValidationError as exc:
        raise InvalidScoringRequestError(str(exc)) from None
    if not violations.empty:
        n_bad = violations["row"].nunique()
        raise InvalidScoringRequestError(
            f"Invalid scoring request: {n_bad} of {len(rows)} rows break the raw Kaggle schema "
            f"(expected columns {', '.join(raw_columns(include_target=False))}); nothing was "
            f"scored. Fix or remove these rows:\n{describe_violations(violations, 5)}"
        )
    return rows


def _feature_frame(features: pd.DataFrame, model: Any) -> pd.DataFrame:
    """The model's input columns, in the order it was fitted on."""
    expected = getattr(model, "feature_names_in_", None)
    if expected is None:
        return features.drop(columns=[ID_COLUMN, CLEAN_TARGET], errors="ignore")
    missing = [column for column in expected if column not in features.columns]
    if missing:
        raise ValueError(
            f"The champion model expects feature column(s) {missing} that the clean inference "
            f"table lacks (it has {list(features.columns)}). Retrain the champion on the "
            "current model input table contract (docs/architecture.md)."
        )
    return features.loc[:, list(expected)]


def score_customers(
    features: pd.DataFrame, champion_model: Any, rows: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Score clean rows: ``id``, ``probability`` (of response), ``contact`` and three reasons.

    ``champion_model`` carries its contact threshold (chosen on the validation split):
    ``contact`` is its ``predict``, True when ``probability >= threshold``. ``reason_1..3`` are
    the customer's three largest drivers of the model's log-odds, named by raw column with the
    raw value (``rows``) and the direction, e.g. ``Vehicle_Damage=Yes (+)`` (``explain.py``);
    without ``rows`` (models registered before reason codes existed) there are no reasons.
    Channel or region codes never seen in training are scored: encoding them is the fitted
    pipeline's job.
    """
    columns = _feature_frame(features, champion_model)
    scored = pd.DataFrame({"id": features[ID_COLUMN].to_numpy(dtype="int64")})
    if features.empty:
        scored["probability"], scored["contact"] = np.empty(0), np.empty(0, dtype=bool)
        return scored.assign(**dict.fromkeys(REASON_COLUMNS, ""))
    scored["probability"] = np.asarray(champion_model.predict_proba(columns), dtype="float64")[:, 1]
    # TunedThresholdClassifierCV.predict(), without scoring the rows a second time
    scored["contact"] = scored["probability"] >= champion_model.best_threshold_
    if rows is None:
        return scored.assign(**dict.fromkeys(REASON_COLUMNS, ""))
    try:
        reasons = top_reasons(contributions(champion_model, columns), rows, RAW_COLUMN_OF)
    except NotImplementedError as exc:
        logger.warning("No reason codes: %s", exc)
        return scored.assign(**dict.fromkeys(REASON_COLUMNS, ""))
    return pd.concat([scored, reasons.reset_index(drop=True)], axis=1)


def predict_with_registered_model(rows: pd.DataFrame, model: Any) -> pd.DataFrame:
    """Score valid raw rows with the registered model (the same one ``mlflow models serve`` serves)."""
    if model is None:
        raise ValueError(
            "no registered cross_sell model under the requested alias (default @champion): run "
            "`kedro run` first (it trains, registers and promotes the first champion)"
        )
    scores = model.predict(rows) if len(rows) else pd.DataFrame(columns=list(SCORE_COLUMNS))
    logger.info("Scored %d customers; %d to contact", len(scores), int(scores["contact"].sum()))
    return scores


def rank_predictions(scores: pd.DataFrame) -> pd.DataFrame:
    """Add ``rank`` (1 = most likely to respond) and ``decile`` (1 = top 10 %); sort by rank.

    Ranks are unique: equal probabilities are ordered by ``id``. Of ``n`` rows, decile ``d``
    holds the ranks ``r`` with ``(r - 1) / n`` in ``[(d - 1) / 10, d / 10)``: decile 1 is the
    top 10 % (rounded up, so rank 1 is always in decile 1), decile 10 the bottom.
    """
    ordered = scores.sort_values(
        ["probability", "id"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)
    n_rows = len(ordered)
    rank = np.arange(1, n_rows + 1, dtype="int64")
    ordered["rank"] = rank
    ordered["decile"] = (rank - 1) * 10 // max(n_rows, 1) + 1
    return ordered.loc[:, [c for c in PREDICTION_COLUMNS if c in ordered.columns]]
