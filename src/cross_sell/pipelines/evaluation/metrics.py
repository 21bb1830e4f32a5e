"""The one metrics function of the project, and the ranking curves the campaign view needs.

``classification_metrics`` scores a model's probabilities and its contact decisions; validation
(selection), the test report and the promotion gate all call it, so a metric has one name and
one definition everywhere. Cumulative gains and profit by share contacted have no scikit-learn
function: ``ranking_curve`` computes them once from the sorted scores, vectorised.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    make_scorer,
    roc_auc_score,
)

from cross_sell.params import Campaign

LOWER_IS_BETTER = frozenset({"log_loss", "brier_score"})
"""Metrics where a lower value is better; every other metric is "higher is better"."""


class RankingCurve(NamedTuple):
    """Cumulative outcomes of contacting customers by decreasing score.

    Point ``i`` is the rule "contact every customer with score >= ``thresholds[i]``"; point 0 is
    "contact nobody" (threshold +inf). Tied scores form one point, so the curve never splits a tie.
    """

    thresholds: np.ndarray
    contacts: np.ndarray
    true_positives: np.ndarray
    n: int
    positives: int


def ranking_curve(y_true: Any, y_score: Any) -> RankingCurve:
    """Contacts and responders reached at every distinct score threshold, vectorised."""
    y = np.asarray(y_true).astype("int64")
    scores = np.asarray(y_score, dtype="float64")
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_y = scores[order], y[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(sorted_scores) != 0), len(y) - 1]
    return RankingCurve(
        thresholds=np.r_[np.inf, sorted_scores[last_of_group]],
        contacts=np.r_[0, last_of_group + 1],
        true_positives=np.r_[0, np.cumsum(sorted_y)[last_of_group]],
        n=len(y),
        positives=int(y.sum()),
    )


def captured_share(curve: RankingCurve, share: float | np.ndarray) -> float | np.ndarray:
    """Share of all responders among the top ``share`` of customers by score (ties spread evenly)."""
    reached = np.interp(np.asarray(share) * curve.n, curve.contacts, curve.true_positives)
    return reached / curve.positives if curve.positives else np.zeros_like(reached)


def profit(y_true: Any, contact: Any, contact_cost: float, conversion_value: float) -> float:
    """Campaign profit of contact decisions: value of the responders reached minus contact costs."""
    y, flags = np.asarray(y_true).astype(bool), np.asarray(contact).astype(bool)
    return float(conversion_value * np.sum(y & flags) - contact_cost * np.sum(flags))


def profit_scorer(campaign: Campaign):
    """``profit`` as a scikit-learn scorer (for ``TunedThresholdClassifierCV``)."""
    return make_scorer(
        profit,
        contact_cost=campaign.contact_cost,
        conversion_value=campaign.conversion_value,
    )


def classification_metrics(
    y_true: Any, probability: Any, contact: Any, campaign: Campaign
) -> dict[str, float]:
    """Every metric of one model on one split.

    Threshold-free: ``roc_auc``, ``average_precision``, ``log_loss``, ``brier_score`` and
    ``top_decile_lift``. Of the contact decisions (``contact``, the model's threshold applied):
    ``precision``, ``recall``, ``contact_share`` and ``expected_profit`` (``campaign``'s
    ``conversion_value`` per responder contacted minus ``contact_cost`` per contact).
    """
    y = np.asarray(y_true).astype("int64")
    p = np.asarray(probability, dtype="float64")
    flags = np.asarray(contact).astype(bool)
    if y.shape != p.shape or y.shape != flags.shape or y.ndim != 1 or y.size == 0:
        raise ValueError(f"need three equal 1-D arrays, got {y.shape}, {p.shape}, {flags.shape}")
    if y.min() == y.max():
        raise ValueError("the split holds a single class: ROC AUC is undefined")
    hits = int(np.sum(flags & (y == 1)))
    metrics = {
        "roc_auc": roc_auc_score(y, p),
        "average_precision": average_precision_score(y, p),
        "log_loss": log_loss(y, p, labels=[0, 1]),
        "brier_score": brier_score_loss(y, p),
        "top_decile_lift": float(captured_share(ranking_curve(y, p), 0.1)) / 0.1,
        "precision": hits / flags.sum() if flags.any() else 0.0,
        "recall": hits / y.sum(),
        "contact_share": flags.mean(),
        "expected_profit": profit(y, flags, campaign.contact_cost, campaign.conversion_value),
    }
    return {name: float(value) for name, value in metrics.items()}


def as_mlflow_metrics(metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """``{name: value}`` in the shape kedro-mlflow's ``MlflowMetricsHistoryDataset`` saves."""
    return {name: {"value": float(value), "step": 0} for name, value in metrics.items()}
