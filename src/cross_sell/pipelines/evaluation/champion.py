"""Choosing the champion on the validation split, reporting on test, and the promotion gate.

- ``select_champion``: each model's contact threshold is tuned on the validation split
  (scikit-learn's ``TunedThresholdClassifierCV``, profit as the objective); the best model by the
  configured validation metric, wrapped with its threshold, is the challenger: one object that
  carries both, so a threshold can never be paired with another model.
- ``report_on_test``: every model scored once on the untouched test split, for the report.
- ``gate_promotion``: the challenger against the registered ``@champion`` on this run's test rows,
  through MLflow's ``validate_evaluation_results``.
"""

from __future__ import annotations

import logging
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import EvaluationResult, MetricThreshold
from mlflow.models.evaluation.validation import ModelValidationFailedException
from sklearn.model_selection import TunedThresholdClassifierCV

from cross_sell.params import Campaign, Champion, Columns, Promotion
from cross_sell.pipelines.data_science.nodes import features_and_target

from .metrics import LOWER_IS_BETTER, as_mlflow_metrics, classification_metrics, profit_scorer

logger = logging.getLogger(__name__)

THRESHOLDS = np.linspace(0.0, 1.0, 1001)
"""Contact thresholds tried on the validation split."""


def with_threshold(
    model: Any, validation: pd.DataFrame, columns: Columns, campaign: Campaign
) -> Any:
    """``model`` wrapped with its profit-optimal contact threshold on the validation split."""
    features, target = features_and_target(validation, columns)
    return TunedThresholdClassifierCV(
        model, scoring=profit_scorer(campaign), cv="prefit", refit=False, thresholds=THRESHOLDS
    ).fit(features, target)


def score(
    model: Any, table: pd.DataFrame, columns: Columns, campaign: Campaign
) -> dict[str, float]:
    """``classification_metrics`` of a thresholded model on a split."""
    features, target = features_and_target(table, columns)
    probability = model.predict_proba(features)[:, 1]
    threshold = float(model.best_threshold_)  # predict() is probability >= threshold
    return classification_metrics(target, probability, probability >= threshold, campaign) | {
        "threshold": threshold
    }


def rank_models(table: pd.DataFrame, champion: Champion) -> pd.DataFrame:
    """Sort models best first by ``champion.metric``, then by ``champion.tie_breaker``.

    Models within ``champion["tolerance"]`` of the best metric value count as tied.
    """
    metric, tie_breaker = champion.metric, champion.tie_breaker
    scaled = (1 if metric in LOWER_IS_BETTER else -1) * table[metric]
    tied = (scaled - scaled.min()) <= champion.tolerance
    key = pd.DataFrame(
        {
            "not_tied": ~tied,
            "metric": scaled.where(~tied, scaled.min()),
            "tie_breaker": (1 if tie_breaker in LOWER_IS_BETTER else -1) * table[tie_breaker],
        },
        index=table.index,
    )
    return table.loc[key.sort_values(["not_tied", "metric", "tie_breaker"], kind="stable").index]


def select_champion(
    validation: pd.DataFrame,
    columns: Columns,
    champion: Champion,
    campaign: Campaign,
    **models: Any,
) -> tuple[Any, pd.DataFrame, dict[str, Any]]:
    """The best model on the validation split, with its threshold; the validation comparison."""
    thresholded = {
        name: with_threshold(m, validation, columns, campaign) for name, m in models.items()
    }
    table = pd.DataFrame.from_dict(
        {name: score(m, validation, columns, campaign) for name, m in thresholded.items()},
        orient="index",
    )
    ranked = rank_models(table, champion)
    name = str(ranked.index[0])
    record = {
        "name": name,
        "chosen_on": "validation split",
        "selected_by": champion.metric,
        "threshold": float(ranked.loc[name, "threshold"]),
        "validation": ranked.loc[name].to_dict(),
        "ranking": [str(model) for model in ranked.index],
    }
    logger.info(
        "Champion on validation: %s (%s %.4f, contact threshold %.3f); ranking %s",
        name,
        champion.metric,
        ranked.loc[name, champion.metric],
        record["threshold"],
        ", ".join(ranked.index),
    )
    ranked.index.name = "model"
    return thresholded[name], ranked.reset_index(), record


def report_on_test(
    test: pd.DataFrame,
    validation_comparison: pd.DataFrame,
    columns: Columns,
    campaign: Campaign,
    **models: Any,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, dict[str, float]]]:
    """Every model scored once on the test split, each at its validation threshold.

    Returns the comparison table (``validation.*`` and ``test.*`` columns, validation ranking
    order), the test scores (id, target, one probability column per model) and the test metrics
    as ``<model>.<metric>`` for MLflow (``test.<model>.<metric>`` there).
    """
    features, target = features_and_target(test, columns)
    thresholds = validation_comparison.set_index("model")["threshold"]
    scores = test[[columns.id, columns.target]].reset_index(drop=True)
    rows = {}
    for name, model in models.items():
        probability = np.asarray(model.predict_proba(features))[:, 1]
        scores[name] = probability
        rows[name] = classification_metrics(
            target, probability, probability >= thresholds[name], campaign
        )
    tests = pd.DataFrame.from_dict(rows, orient="index").add_prefix("test.")
    table = validation_comparison.set_index("model").add_prefix("validation.")
    table = table.join(tests).reset_index()
    flat = {
        f"{model}.{metric}": value for model, row in rows.items() for metric, value in row.items()
    }
    return table, scores, as_mlflow_metrics(flat)


def gate_promotion(
    *,
    test_scores: pd.DataFrame,
    champion: dict[str, Any],
    raw_rows: pd.DataFrame,
    current: Any,
    columns: Columns,
    promotion: Promotion,
    campaign: Campaign,
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """Should this run's challenger become ``@champion``? Decided on this run's test split.

    The challenger's test probabilities are ``report_on_test``'s (the test split is scored once),
    contacted at its validation threshold. ``current`` is the registered ``@champion`` (a
    servable model of raw rows), or ``None`` before the first promotion: it scores the same
    customers from the raw rows of the test ids, at its own threshold. The challenger passes
    unless a metric of ``promotion.max_relative_drop`` is worse than the current champion's by
    more than that share of it (``mlflow.validate_evaluation_results``).
    """
    target = test_scores[columns.target].to_numpy()
    probability = test_scores[champion["name"]].to_numpy()
    mine = classification_metrics(
        target, probability, probability >= champion["threshold"], campaign
    )
    decision = {"challenger": champion["name"], "challenger_test": mine, "champion_test": None}
    if current is None:
        decision |= {"promoted": True, "reason": "no @champion yet: the first model is promoted"}
    else:
        ids = test_scores[columns.id]
        rows = raw_rows[raw_rows[columns.id].isin(ids)].drop(columns="Response")
        served = current.predict(rows).set_index("id").loc[ids]
        theirs = classification_metrics(
            target, served["probability"].to_numpy(), served["contact"].to_numpy(), campaign
        )
        thresholds = {
            name: MetricThreshold(
                threshold=theirs[name]
                + (1 if name in LOWER_IS_BETTER else -1) * drop * abs(theirs[name]),
                greater_is_better=name not in LOWER_IS_BETTER,
            )
            for name, drop in promotion.max_relative_drop.items()
        }
        try:
            mlflow.validate_evaluation_results(
                thresholds, EvaluationResult(metrics=mine, artifacts={}, run_id="")
            )
            decision |= {"promoted": True, "reason": "not worse than @champion beyond tolerance"}
        except ModelValidationFailedException as exc:
            decision |= {"promoted": False, "reason": str(exc).strip()}
        decision["champion_test"] = theirs
    logger.info(
        "Promotion: %s %s (test ROC AUC %.4f vs @champion %s): %s",
        champion["name"],
        "PROMOTED to @champion" if decision["promoted"] else "KEPT OUT (@champion unchanged)",
        mine["roc_auc"],
        f"{decision['champion_test']['roc_auc']:.4f}" if decision["champion_test"] else "none",
        decision["reason"].splitlines()[0],
    )
    metrics = {f"challenger.{k}": v for k, v in mine.items()}
    if decision["champion_test"]:
        metrics |= {f"champion.{k}": v for k, v in decision["champion_test"].items()}
    metrics["promoted"] = float(decision["promoted"])
    return decision, as_mlflow_metrics(metrics)
