"""Drift monitoring's own numbers: the PSI on small arrays checked by hand, the buckets, the
summary, and the policy (warn or stop) with its one WARNING line."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cross_sell.params import Columns, Monitoring
from cross_sell.pipelines.data_engineering.nodes import clean_raw_table
from cross_sell.pipelines.monitoring.nodes import (
    OTHER,
    SUMMARY_COLUMNS,
    DriftDetectedError,
    apply_drift_policy,
    batch_profile,
    bucket_counts,
    build_monitoring_reference,
    category_counts,
    column_kind,
    compare_with_reference,
    drift_metrics,
    monitor_batch,
    population_stability_index,
    quantile_edges,
)
from tests.pipelines.data_engineering.conftest import make_raw_frame

COLUMNS = Columns(
    id="id",
    target="response",
    categorical=["region_code", "policy_sales_channel"],
    capped=["annual_premium"],
)
MONITORING = Monitoring()


# ---------------------------------------------------------------------------- the PSI itself
def test_psi_of_identical_distributions_is_zero():
    assert population_stability_index([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0


def test_psi_of_a_flag_gone_from_50_50_to_75_25():
    # (0.75 - 0.5) ln(0.75 / 0.5) + (0.25 - 0.5) ln(0.25 / 0.5) = 0.25 ln 1.5 + 0.25 ln 2
    expected = 0.25 * math.log(1.5) + 0.25 * math.log(2)
    assert expected == pytest.approx(0.274653, abs=1e-6)
    assert population_stability_index([0.5, 0.5], [0.75, 0.25]) == pytest.approx(expected)
    # counts are shares once normalised, and the index is symmetric
    assert population_stability_index([50, 50], [3, 1]) == pytest.approx(expected)
    assert population_stability_index([0.75, 0.25], [0.5, 0.5]) == pytest.approx(expected)


def test_psi_of_three_buckets_by_hand():
    # (0.3-0.2) ln(0.3/0.2) + (0.3-0.3) ln 1 + (0.4-0.5) ln(0.4/0.5)
    expected = 0.1 * math.log(1.5) + 0.1 * math.log(1.25)
    assert expected == pytest.approx(0.062861, abs=1e-6)
    assert population_stability_index([2, 3, 5], [3, 3, 4]) == pytest.approx(expected)


def test_an_empty_bucket_counts_as_a_share_of_one_in_ten_thousand():
    # reference [1, 0] -> [1, 1e-4]; batch [0.5, 0.5]
    expected = (0.5 - 1) * math.log(0.5 / 1) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    assert expected == pytest.approx(4.604, abs=1e-3)
    assert population_stability_index([10, 0], [5, 5]) == pytest.approx(expected)


def test_psi_refuses_buckets_that_do_not_match():
    with pytest.raises(ValueError, match="one length"):
        population_stability_index([0.5, 0.5], [1.0])
    with pytest.raises(ValueError, match="at least one value"):
        population_stability_index([0, 0], [1, 1])


# ---------------------------------------------------------------------------- buckets
def test_numeric_buckets_are_quantile_bins_of_the_reference_closed_on_the_right():
    edges = quantile_edges(np.arange(1, 101), bins=4)
    np.testing.assert_allclose(edges, [25.75, 50.5, 75.25])
    # 1 and 25.75 in the first bin, 26 in the second, none in the third, 100 and 1000 in the last
    assert bucket_counts(np.array([1, 25.75, 26, 100, 1000]), edges).tolist() == [2, 1, 0, 2]


def test_a_value_held_by_many_rows_is_one_bin():
    reference = np.array([2630.0] * 80 + list(range(30000, 30020)))  # the minimum premium
    edges = quantile_edges(reference, bins=10)
    assert len(edges) == len(np.unique(edges)) and edges[0] == 2630.0
    assert bucket_counts(reference, edges)[0] == 80


def test_rare_and_unseen_codes_share_the_other_bucket():
    reference = pd.Series([26] * 90 + [152] * 8 + [3, 4])  # 3 and 4: 1 % each
    current = pd.Series([26, 26, 152, 3, 999])  # 999: never seen in training
    ref, cur, labels = category_counts(reference, current, min_share=0.05)
    assert labels == [26, 152, OTHER]
    assert ref.tolist() == [90, 8, 2]
    assert cur.tolist() == [2, 1, 2]


def test_column_kinds():
    clean = clean_raw_table(make_raw_frame(200))
    kinds = {name: column_kind(clean[name], COLUMNS.categorical) for name in clean.columns}
    assert kinds == {
        "id": "numeric",
        "is_male": "categorical",
        "age": "numeric",
        "has_driving_license": "categorical",
        "region_code": "categorical",
        "previously_insured": "categorical",
        "vehicle_age": "categorical",  # three codes
        "vehicle_damage": "categorical",
        "annual_premium": "numeric",
        "policy_sales_channel": "categorical",
        "vintage": "numeric",
        "response": "categorical",
    }


# ---------------------------------------------------------------------------- the summary
def _reference_and_batch(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two independent samples of one population (clean columns and a probability)."""

    def sample(n: int, rng: np.random.Generator) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "id": np.arange(n),
                "age": rng.integers(20, 80, n).astype("int16"),
                "vehicle_damage": rng.random(n) < 0.5,
                "region_code": rng.choice([8, 28, 46, 41], n).astype("int16"),
                "annual_premium": rng.lognormal(10, 0.5, n),
                "probability": rng.beta(1, 6, n),
            }
        )

    rng = np.random.default_rng(seed)
    return sample(20_000, rng).drop(columns="id"), sample(5_000, rng)


def test_two_samples_of_one_population_do_not_drift():
    reference, batch = _reference_and_batch()
    summary = compare_with_reference(reference, batch, COLUMNS, MONITORING)
    assert summary.columns.tolist() == list(SUMMARY_COLUMNS)
    assert summary["feature"].tolist() == [
        "age",
        "vehicle_damage",
        "region_code",
        "annual_premium",
        "prediction",
    ]
    assert set(summary["statistic"]) == {"psi"}
    assert not summary["drifted"].any()
    assert summary["value"].max() < 0.01


def test_older_customers_and_damage_flags_drift_and_only_they():
    reference, batch = _reference_and_batch()
    half = batch.index[: len(batch) // 2]
    batch = batch.assign(age=batch["age"] + 20)
    batch.loc[half, "vehicle_damage"] = True  # half the rows report damage: 50 % -> 75 %
    summary = compare_with_reference(reference, batch, COLUMNS, MONITORING).set_index("feature")
    assert summary.index[summary["drifted"]].tolist() == ["age", "vehicle_damage"]
    assert summary.loc["vehicle_damage", "value"] == pytest.approx(0.2747, abs=0.02)
    assert summary.loc["age", "value"] > 2


def test_a_random_half_of_a_balanced_flag_flipped_keeps_its_distribution():
    """The limit of any per-column statistic: flipping a random half of a 50/50 flag leaves it
    50/50 (only its link with other columns changes), so no PSI can see it."""
    reference, batch = _reference_and_batch()
    flip = np.random.default_rng(1).permutation(len(batch))[: len(batch) // 2]
    batch.loc[flip, "vehicle_damage"] = ~batch.loc[flip, "vehicle_damage"]
    summary = compare_with_reference(reference, batch, COLUMNS, MONITORING).set_index("feature")
    assert summary.loc["vehicle_damage", "value"] < 0.01


def test_prediction_drift_has_its_own_threshold():
    reference, batch = _reference_and_batch()
    batch = batch.assign(probability=np.clip(batch["probability"] * 2, 0, 1))
    monitoring = Monitoring(prediction_threshold=5.0)
    summary = compare_with_reference(reference, batch, COLUMNS, monitoring).set_index("feature")
    assert summary.loc["prediction", "threshold"] == 5.0
    assert summary.loc["age", "threshold"] == 0.2
    assert not summary.loc["prediction", "drifted"]
    assert compare_with_reference(reference, batch, COLUMNS, MONITORING)["drifted"].iloc[-1]


def test_no_reference_gives_an_empty_summary():
    _, batch = _reference_and_batch()
    summary = compare_with_reference(None, batch, COLUMNS, MONITORING)
    assert summary.empty and summary.columns.tolist() == list(SUMMARY_COLUMNS)


def test_metrics_one_per_row_and_the_drifted_count():
    reference, batch = _reference_and_batch()
    summary, metrics, figure = monitor_batch(
        reference, batch.assign(age=batch["age"] + 20), COLUMNS, MONITORING
    )
    assert metrics == drift_metrics(summary)
    assert set(metrics) == {f"{f}.psi" for f in summary["feature"]} | {"drifted_count"}
    assert metrics["drifted_count"] == {"value": 1.0, "step": 0}
    assert metrics["age.psi"]["value"] == pytest.approx(summary["value"].iloc[0])
    (ax,) = figure.axes
    red = [
        p
        for p in ax.patches
        if p.get_facecolor()[:3] == pytest.approx((0.839, 0.153, 0.157), abs=1e-3)
    ]
    assert len(ax.patches) == len(summary) and len(red) == 1
    assert "1 of 5 drifted" in ax.get_title()


# ---------------------------------------------------------------------------- the policy
def _summary(drifted: dict[str, bool]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "feature": list(drifted),
            "statistic": "psi",
            "value": [2.5 if d else 0.01 for d in drifted.values()],
            "threshold": 0.2,
            "drifted": list(drifted.values()),
        }
    )


SCORES = pd.DataFrame({"id": [1, 2], "probability": [0.1, 0.7], "contact": [False, True]})
REJECTS = pd.DataFrame(columns=["id", "column", "rule", "value", "row"])


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_warn_passes_the_scores_on_after_one_warning_naming_the_drifted(caplog):
    summary = _summary({"age": True, "vintage": False, "vehicle_damage": True, "prediction": True})
    with caplog.at_level(logging.INFO):
        scores, rejects = apply_drift_policy(
            summary, "<html/>", Monitoring(on_drift="warn"), SCORES, REJECTS
        )
    assert scores is SCORES and rejects is REJECTS
    (warning,) = _warnings(caplog)
    assert "age (psi 2.50 > 0.20), vehicle_damage (psi 2.50 > 0.20), prediction (psi" in warning
    assert "vintage" not in warning
    assert "on_drift=warn" in warning


def test_stop_raises_after_the_same_warning(caplog):
    summary = _summary({"age": True, "vintage": False})
    with pytest.raises(DriftDetectedError, match=r"age \(psi 2.50 > 0.20\).*Scoring stopped"):
        apply_drift_policy(summary, "<html/>", Monitoring(on_drift="stop"), SCORES, REJECTS)
    (warning,) = _warnings(caplog)
    assert "age" in warning and "vintage" not in warning


def test_no_drift_logs_no_warning_under_either_policy(caplog):
    summary = _summary({"age": False, "prediction": False})
    for policy in ("warn", "stop"):
        passed = apply_drift_policy(summary, "", Monitoring(on_drift=policy), SCORES, REJECTS)
        assert passed == (SCORES, REJECTS)
    assert _warnings(caplog) == []


def test_a_version_without_reference_warns_or_stops():
    empty = compare_with_reference(None, SCORES, COLUMNS, MONITORING)
    passed = apply_drift_policy(empty, "", Monitoring(on_drift="warn"), SCORES, REJECTS)
    assert passed == (SCORES, REJECTS)
    with pytest.raises(DriftDetectedError, match="no monitoring reference"):
        apply_drift_policy(empty, "", Monitoring(on_drift="stop"), SCORES, REJECTS)


def test_an_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="on_drift"):
        Monitoring(on_drift="ignore")


# ---------------------------------------------------------------------------- reference, batch
def test_the_reference_is_a_seeded_sample_with_the_champions_probability():
    train = clean_raw_table(make_raw_frame(300))
    features = train.drop(columns=["id", "response"])
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(features, train["response"])
    monitoring = Monitoring(reference_rows=100, seed=7)
    reference = build_monitoring_reference(train, model, COLUMNS, monitoring)
    assert len(reference) == 100
    assert reference.columns.tolist() == [*features.columns, "probability"]
    np.testing.assert_allclose(
        reference["probability"], model.predict_proba(reference.drop(columns="probability"))[:, 1]
    )
    again = build_monitoring_reference(train, model, COLUMNS, monitoring)
    pd.testing.assert_frame_equal(reference, again)
    everything = build_monitoring_reference(train, model, COLUMNS, Monitoring())
    assert len(everything) == 300  # fewer training rows than reference_rows: all of them


def test_the_batch_profile_joins_scores_by_id():
    features = clean_raw_table(make_raw_frame(4)).drop(columns="response")
    scores = pd.DataFrame({"id": [4, 3, 2, 1], "probability": [0.4, 0.3, 0.2, 0.1]})
    profile = batch_profile(features, scores, COLUMNS)
    assert profile["probability"].tolist() == [0.1, 0.2, 0.3, 0.4]
    with pytest.raises(ValueError, match="do not match"):
        batch_profile(features, scores.iloc[:3], COLUMNS)


def test_an_empty_batch_is_not_compared_and_not_flagged(caplog):
    reference, batch = _reference_and_batch()
    summary, _, figure = monitor_batch(reference, batch.iloc[:0], COLUMNS, MONITORING)
    assert summary["value"].isna().all() and not summary["drifted"].any()
    assert "Empty batch" in figure.axes[0].texts[0].get_text()
    with caplog.at_level(logging.INFO):
        apply_drift_policy(summary, "", Monitoring(on_drift="stop"), SCORES.iloc[:0], REJECTS)
    assert "no valid row" in caplog.text and _warnings(caplog) == []
