"""inference nodes: rejects split, reject-share check, strict request validation, scoring, ranking."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from pydantic import ValidationError

from cross_sell.params import Inference
from cross_sell.pipelines.data_engineering.nodes import clean_raw_table
from cross_sell.pipelines.data_engineering.schema import RawDataValidationError
from cross_sell.pipelines.inference.nodes import (
    PREDICTION_COLUMNS,
    REASON_COLUMNS,
    REJECT_COLUMNS,
    SCORE_COLUMNS,
    InvalidScoringRequestError,
    RejectShareExceededError,
    check_reject_share,
    predict_with_registered_model,
    rank_predictions,
    score_customers,
    split_rejected_rows,
    validate_scoring_request,
)

from .conftest import make_test_frame


def _bad_rows(n_rows: int = 20) -> pd.DataFrame:
    """Rows 3 and 7 (ids 500004, 500008) break rules; row 3 breaks two."""
    frame = make_test_frame(n_rows).astype(object)
    frame.loc[3, "Age"] = 150
    frame.loc[3, "Gender"] = "M"
    frame.loc[7, "Vehicle_Damage"] = None
    frame.attrs["source"] = "data/01_raw/test.csv"
    return frame


def _scores(probabilities, ids=None, contact=None) -> pd.DataFrame:
    """Scores as the served model returns them (a reason per driver, named by row here)."""
    probability = np.asarray(probabilities, dtype="float64")
    ids = np.asarray(ids if ids is not None else np.arange(1, len(probability) + 1))
    scores = pd.DataFrame(
        {
            "id": ids,
            "probability": probability,
            "contact": probability >= 0.5 if contact is None else contact,
        }
    )
    return scores.assign(**{r: [f"{r} of {i}" for i in ids] for r in REASON_COLUMNS})


# ------------------------------------------------------------------ split_rejected_rows
def test_split_keeps_valid_rows_and_lists_each_violation():
    raw = _bad_rows()
    valid, rejects = split_rejected_rows(raw)

    assert len(valid) == 18
    assert 500004 not in valid["id"].tolist() and 500008 not in valid["id"].tolist()
    assert valid.attrs["source"] == "data/01_raw/test.csv"
    assert tuple(rejects.columns) == REJECT_COLUMNS
    assert rejects[["id", "column", "value", "row"]].values.tolist() == [
        [500004, "Gender", "M", 4],
        [500004, "Age", 150, 4],
        [500008, "Vehicle_Damage", None, 8],
    ]
    assert rejects["rule"].tolist() == [
        "must be one of 'Male', 'Female'",
        "must be between 18 and 100",
        "must not be empty (missing value)",
    ]


def test_split_of_a_valid_file_has_an_empty_rejects_table():
    valid, rejects = split_rejected_rows(make_test_frame(10))
    assert len(valid) == 10
    assert rejects.empty and tuple(rejects.columns) == REJECT_COLUMNS


def test_split_logs_how_many_rows_are_rejected(caplog):
    with caplog.at_level("WARNING"):
        split_rejected_rows(_bad_rows())
    assert "data/01_raw/test.csv: 2 of 20 rows (10.00 %) fail validation" in caplog.text
    assert "column 'Age': must be between 18 and 100: 1 row, e.g. id 500004" in caplog.text


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda f: f.drop(columns="Vintage"), "missing required column(s) 'Vintage'"),
        (lambda f: f.iloc[:0], "the table has no rows"),
    ],
    ids=["missing column", "no rows"],
)
def test_structural_problems_still_stop_the_run(edit, message):
    with pytest.raises(RawDataValidationError, match=re.escape(message)):
        split_rejected_rows(edit(make_test_frame(5)))


def test_a_response_column_in_the_test_file_is_ignored():
    raw = make_test_frame(6).assign(Response=[0, 1, None, "x", 0, 1])
    valid, rejects = split_rejected_rows(raw)
    assert rejects.empty
    assert "Response" not in valid.columns
    assert "response" not in clean_raw_table(valid).columns


# ------------------------------------------------------------------ check_reject_share
def _checked(max_share: float, path: str = "data/07_model_output/rejects.csv/v/rejects.csv"):
    valid, rejects = split_rejected_rows(_bad_rows())
    rejects.attrs["source"] = path
    scores = valid[["id"]].assign(probability=0.5)
    return check_reject_share(rejects, valid, Inference(max_reject_share=max_share), scores), scores


def test_rejects_within_the_limit_pass_the_scores_on(caplog):
    with caplog.at_level("WARNING"):
        passed, scores = _checked(0.10)
    assert passed is scores
    assert "2 rejected rows (10.00 %, limit 10.00 %)" in caplog.text


def test_too_many_rejects_fail_with_file_count_share_limit_and_where():
    with pytest.raises(RejectShareExceededError) as error:
        _checked(0.05)
    message = str(error.value)
    for part in (
        "Inference input data/01_raw/test.csv",
        "2 of 20 rows (10.00%) fail validation",
        "above the limit inference.max_reject_share = 5.00%",
        "No predictions were written",
        "The 3 violations (id, column, rule, value, row) are written to "
        "data/07_model_output/rejects.csv/v/rejects.csv",
        "column 'Vehicle_Damage': must not be empty (missing value): 1 row, e.g. id 500008",
    ):
        assert part in message


def test_no_rejects_pass_even_with_a_zero_limit():
    valid, rejects = split_rejected_rows(make_test_frame(5))
    scores = valid[["id"]]
    assert check_reject_share(rejects, valid, Inference(max_reject_share=0.0), scores) is scores


@pytest.mark.parametrize("limit", [-0.1, 1.5])
def test_a_limit_outside_0_1_is_refused(limit):
    """By the typed parameter, which Kedro validates before any node runs."""
    with pytest.raises(ValidationError, match="max_reject_share"):
        Inference(max_reject_share=limit)


# ------------------------------------------------------------------ validate_scoring_request
def test_a_valid_request_is_passed_on_without_response():
    request = make_test_frame(4).assign(Response=1)
    rows = validate_scoring_request(request)
    assert "Response" not in rows.columns and len(rows) == 4
    assert "Response" in request.columns  # the caller's frame is not modified


def test_an_invalid_request_is_rejected_whole_with_ids_and_rules():
    with pytest.raises(InvalidScoringRequestError) as error:
        validate_scoring_request(_bad_rows())
    message = str(error.value)
    assert "2 of 20 rows break the raw Kaggle schema" in message
    assert "column 'Age': must be between 18 and 100: 1 row, e.g. id 500004 (value 150)" in message
    assert isinstance(error.value, MlflowException)
    assert error.value.get_http_status_code() == 400


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda f: f.drop(columns="Age"), "missing required column(s) 'Age'"),
        (lambda f: f.iloc[:0], "it has no rows to score"),
    ],
    ids=["missing column", "no rows"],
)
def test_a_structurally_broken_request_is_a_400(edit, message):
    with pytest.raises(InvalidScoringRequestError) as error:
        validate_scoring_request(edit(make_test_frame(3)))
    assert message in str(error.value)
    assert "the scoring request" in str(error.value) or "no rows" in str(error.value)
    assert error.value.get_http_status_code() == 400


# ------------------------------------------------------------------ score_customers
def test_scores_are_the_champion_probabilities_and_contact_uses_its_own_threshold(champion):
    features = clean_raw_table(make_test_frame(30))
    scored = score_customers(features, champion)

    expected = champion.predict_proba(features.drop(columns="id"))[:, 1]
    assert scored.columns.tolist() == list(SCORE_COLUMNS)
    assert scored["id"].tolist() == features["id"].tolist()
    np.testing.assert_allclose(scored["probability"], expected)
    assert 0 < champion.best_threshold_ < 1  # chosen on a validation table, not the default 0.5
    assert scored["contact"].tolist() == (expected >= champion.best_threshold_).tolist()


def test_unseen_channel_and_region_codes_are_scored(champion):
    raw = make_test_frame(4).assign(Policy_Sales_Channel=[141.0, 142.0, 26.0, 152.0])
    raw.loc[0, "Region_Code"] = 99.0
    valid, rejects = split_rejected_rows(raw)
    assert rejects.empty
    scored = score_customers(clean_raw_table(valid), champion)
    assert len(scored) == 4
    assert scored["probability"].between(0, 1).all()


def test_scoring_uses_the_column_order_the_model_was_fitted_on(champion):
    features = clean_raw_table(make_test_frame(10))
    shuffled = features[list(reversed(features.columns))]
    pd.testing.assert_frame_equal(
        score_customers(shuffled, champion), score_customers(features, champion)
    )


def test_no_rows_score_to_an_empty_table(champion):
    features = clean_raw_table(make_test_frame(3)).iloc[:0]
    scored = score_customers(features, champion)
    assert scored.empty and scored.columns.tolist() == list(SCORE_COLUMNS)


def test_a_missing_feature_column_names_it(champion):
    features = clean_raw_table(make_test_frame(3)).drop(columns="age")
    with pytest.raises(ValueError, match=r"expects feature column\(s\) \['age'\]"):
        score_customers(features, champion)


# ------------------------------------------------------------------ predict_with_registered_model
def test_batch_scoring_without_a_registered_champion_says_how_to_make_one():
    with pytest.raises(ValueError, match=r"no registered cross_sell model .*: run `kedro run`"):
        predict_with_registered_model(make_test_frame(3), None)


# ------------------------------------------------------------------ rank_predictions
def test_ranks_start_at_the_most_likely_and_ties_go_by_id():
    ranked = rank_predictions(_scores([0.2, 0.9, 0.5, 0.9], ids=[10, 30, 20, 5]))
    assert ranked.columns.tolist() == list(PREDICTION_COLUMNS)
    assert ranked["id"].tolist() == [5, 30, 20, 10]
    assert ranked["rank"].tolist() == [1, 2, 3, 4]


def test_deciles_split_twenty_rows_in_pairs_top_first():
    ranked = rank_predictions(_scores(np.linspace(1, 0, 20)))
    assert ranked["decile"].tolist() == [d for d in range(1, 11) for _ in range(2)]


@pytest.mark.parametrize("n_rows", [1, 5, 15, 101])
def test_decile_one_holds_the_top_ten_percent_rounded_up(n_rows):
    ranked = rank_predictions(_scores(np.random.default_rng(0).random(n_rows)))
    deciles = ranked["decile"]
    assert deciles.iloc[0] == 1 and deciles.is_monotonic_increasing
    assert deciles.between(1, 10).all()
    assert (deciles == 1).sum() == -(-n_rows // 10)


def test_contact_flags_and_reasons_are_kept_with_their_rows():
    scores = _scores([0.1, 0.8, 0.4], contact=[False, True, True])
    ranked = rank_predictions(scores)
    assert dict(zip(ranked["id"], ranked["contact"], strict=True)) == {1: False, 2: True, 3: True}
    assert ranked["reason_1"].tolist() == [f"reason_1 of {i}" for i in ranked["id"]]


def test_an_empty_batch_ranks_to_an_empty_table():
    ranked = rank_predictions(_scores([]))
    assert ranked.empty and ranked.columns.tolist() == list(PREDICTION_COLUMNS)
