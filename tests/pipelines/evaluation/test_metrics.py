"""The one metrics function and the ranking curves, against values counted by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier

from cross_sell.params import Campaign
from cross_sell.pipelines.evaluation.metrics import (
    LOWER_IS_BETTER,
    as_mlflow_metrics,
    captured_share,
    classification_metrics,
    profit,
    profit_scorer,
    ranking_curve,
)

# Ten customers by decreasing score; responders at ranks 1, 3 and 6.
Y = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 0])
SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
CAMPAIGN = Campaign(contact_cost=1.0, conversion_value=4.0)


def test_contact_metrics_by_hand():
    # Contact the top 6 (scores >= 0.35): 6 contacts, all 3 responders.
    metrics = classification_metrics(Y, SCORES, SCORES >= 0.35, CAMPAIGN)
    assert metrics["precision"] == 3 / 6
    assert metrics["recall"] == 1.0
    assert metrics["contact_share"] == 0.6
    assert metrics["expected_profit"] == 4 * 3 - 1 * 6
    # Contact the top 2: 1 responder of 3, 2 contacts.
    metrics = classification_metrics(Y, SCORES, SCORES >= 0.75, CAMPAIGN)
    assert (metrics["precision"], metrics["recall"]) == (1 / 2, pytest.approx(1 / 3))
    assert (metrics["contact_share"], metrics["expected_profit"]) == (0.2, 4 * 1 - 1 * 2)
    # Nobody contacted: precision 0 by convention, no profit.
    metrics = classification_metrics(Y, SCORES, np.zeros(10, bool), CAMPAIGN)
    assert (metrics["precision"], metrics["recall"], metrics["expected_profit"]) == (0, 0, 0)


def test_threshold_free_metrics_by_hand():
    metrics = classification_metrics(Y, SCORES, SCORES >= 0.35, CAMPAIGN)
    # Pairs (responder, non-responder) ranked right: 7 + 6 + 4 of 3 x 7.
    assert metrics["roc_auc"] == pytest.approx(17 / 21)
    # Precision at each responder's rank: 1/1, 2/3, 3/6.
    assert metrics["average_precision"] == pytest.approx((1 + 2 / 3 + 3 / 6) / 3)
    assert metrics["brier_score"] == pytest.approx(np.mean((SCORES - Y) ** 2))
    assert metrics["log_loss"] == pytest.approx(
        -np.mean(Y * np.log(SCORES) + (1 - Y) * np.log(1 - SCORES))
    )
    # The top customer (10 %) holds 1 of the 3 responders: lift (1/3) / 0.1.
    assert metrics["top_decile_lift"] == pytest.approx(10 / 3)
    assert set(metrics) == {
        "roc_auc",
        "average_precision",
        "log_loss",
        "brier_score",
        "top_decile_lift",
        "precision",
        "recall",
        "contact_share",
        "expected_profit",
    }
    assert all(type(value) is float for value in metrics.values())
    assert {"log_loss", "brier_score"} == LOWER_IS_BETTER


@pytest.mark.parametrize(
    ("y", "probability", "contact"),
    [
        (Y, SCORES[:9], SCORES >= 0.35),  # one probability short
        (Y, SCORES, (SCORES >= 0.35)[:9]),  # one contact decision short
        (Y.reshape(2, 5), SCORES.reshape(2, 5), (SCORES >= 0.35).reshape(2, 5)),  # not 1-D
        ([], [], []),
    ],
)
def test_mismatched_shapes_are_rejected(y, probability, contact):
    with pytest.raises(ValueError, match="need three equal 1-D arrays"):
        classification_metrics(y, probability, contact, CAMPAIGN)


def test_a_single_class_is_rejected():
    with pytest.raises(ValueError, match="single class"):
        classification_metrics(np.zeros(10), SCORES, SCORES >= 0.35, CAMPAIGN)
    with pytest.raises(ValueError, match="single class"):
        classification_metrics(np.ones(10), SCORES, SCORES >= 0.35, CAMPAIGN)


def test_ranking_curve_groups_ties_and_starts_with_contacting_nobody():
    curve = ranking_curve([1, 0, 0, 1, 0], [0.9, 0.5, 0.5, 0.5, 0.1])
    assert curve.thresholds.tolist() == [np.inf, 0.9, 0.5, 0.1]
    assert curve.contacts.tolist() == [0, 1, 4, 5]
    assert curve.true_positives.tolist() == [0, 1, 2, 2]
    assert (curve.n, curve.positives) == (5, 2)


def test_captured_shares_by_hand_and_ties_spread_evenly():
    curve = ranking_curve(Y, SCORES)
    # Top 1, 2, 3 customers hold 1, 1, 2 of the 3 responders.
    np.testing.assert_allclose(captured_share(curve, [0.1, 0.2, 0.3]), [1 / 3, 1 / 3, 2 / 3])
    # Two tied customers, one responder: the top 25 % (one customer) reaches half a responder.
    tied = ranking_curve([1, 0, 0, 1], [0.9, 0.9, 0.1, 0.1])
    assert captured_share(tied, 0.25) == pytest.approx(0.25)
    assert captured_share(tied, 0.5) == pytest.approx(0.5)


def test_profit_and_its_scorer_agree():
    contact = SCORES >= 0.35
    assert profit(Y, contact, contact_cost=1.0, conversion_value=4.0) == 6.0
    assert profit(Y, contact, contact_cost=5.0, conversion_value=50.0) == 50 * 3 - 5 * 6

    # A classifier that contacts exactly the top 6: the scorer scores its predict().
    features = SCORES.reshape(-1, 1)
    classifier = DecisionTreeClassifier().fit(features, contact)
    assert (classifier.predict(features) == contact).all()
    assert profit_scorer(CAMPAIGN)(classifier, features, Y) == 6.0


def test_as_mlflow_metrics():
    assert as_mlflow_metrics({"a.roc_auc": np.float64(0.5)}) == {
        "a.roc_auc": {"value": 0.5, "step": 0}
    }
