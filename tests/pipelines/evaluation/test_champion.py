"""Choosing the champion on validation, reporting on test, and the promotion gate's first run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import TunedThresholdClassifierCV
from sklearn.pipeline import Pipeline

from cross_sell.params import Campaign, Champion, Columns, Promotion
from cross_sell.pipelines.evaluation.champion import (
    THRESHOLDS,
    gate_promotion,
    rank_models,
    report_on_test,
    select_champion,
)
from cross_sell.pipelines.evaluation.metrics import classification_metrics, profit

COLUMNS = Columns(id="id", target="response", categorical=[], capped=[])
CAMPAIGN = Campaign(contact_cost=5.0, conversion_value=50.0)
BY_AUC = Champion(metric="roc_auc", tie_breaker="log_loss")


def table(n_rows: int, seed: int, weights: tuple[float, float], first_id: int = 1) -> pd.DataFrame:
    """Two features; the response follows ``weights[0] * x1 + weights[1] * x2``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_rows, 2))
    logit = -1.5 + 1.5 * (weights[0] * x[:, 0] + weights[1] * x[:, 1])
    return pd.DataFrame(
        {
            "id": np.arange(first_id, first_id + n_rows),
            "x1": x[:, 0],
            "x2": x[:, 1],
            "response": (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(np.int8),
        }
    )


def model_of(column: str, train: pd.DataFrame) -> Pipeline:
    """A logistic regression that looks at ``column`` only (fed every feature column)."""
    model = Pipeline(
        [
            ("select", ColumnTransformer([("x", "passthrough", [column])])),
            ("classifier", LogisticRegression()),
        ]
    )
    return model.fit(train[["x1", "x2"]], train["response"])


@pytest.fixture(scope="module")
def case():
    """``on_x1`` is the better model on validation (driven by x1), ``on_x2`` on test (by x2)."""
    train = table(2000, seed=1, weights=(1.0, 1.0))
    models = {"on_x2": model_of("x2", train), "on_x1": model_of("x1", train)}
    validation = table(1500, seed=2, weights=(1.0, 0.0), first_id=10_001)
    test = table(1500, seed=3, weights=(0.0, 1.0), first_id=20_001)
    return models, validation, test


@pytest.fixture(scope="module")
def selected(case):
    models, validation, _ = case
    return select_champion(validation, COLUMNS, BY_AUC, CAMPAIGN, **models)


def features(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[["x1", "x2"]]


def test_champion_is_chosen_on_validation_not_on_test(case, selected):
    models, _, test = case
    champion_model, comparison, record = selected
    assert record["name"] == "on_x1"
    assert record["chosen_on"] == "validation split" and record["selected_by"] == "roc_auc"
    assert record["ranking"] == ["on_x1", "on_x2"] == comparison["model"].tolist()
    # The test split would have chosen the other model.
    test_auc = {
        name: classification_metrics(
            test["response"],
            model.predict_proba(features(test))[:, 1],
            np.zeros(len(test)),
            CAMPAIGN,
        )["roc_auc"]
        for name, model in models.items()
    }
    assert test_auc["on_x2"] > test_auc["on_x1"] + 0.1
    assert isinstance(champion_model, TunedThresholdClassifierCV)
    assert champion_model.estimator is models["on_x1"]


def test_the_threshold_is_the_profit_optimum_on_validation_and_travels_with_the_model(
    case, selected
):
    models, validation, test = case
    champion_model, comparison, record = selected
    probability = models["on_x1"].predict_proba(features(validation))[:, 1]
    profits = np.array(
        [profit(validation["response"], probability >= t, 5.0, 50.0) for t in THRESHOLDS]
    )
    threshold = champion_model.best_threshold_
    assert threshold == THRESHOLDS[profits.argmax()]  # the first of the best on the grid
    assert profit(validation["response"], probability >= threshold, 5.0, 50.0) == profits.max()
    assert 0 < threshold < 1 and profits.max() > 0
    assert record["threshold"] == threshold
    assert comparison.set_index("model").loc["on_x1", "threshold"] == threshold
    for split in (validation, test):
        scores = champion_model.predict_proba(features(split))[:, 1]
        np.testing.assert_array_equal(champion_model.predict(features(split)), scores >= threshold)


def test_validation_comparison_holds_every_metric_of_every_model(case, selected):
    models, validation, _ = case
    _, comparison, record = selected
    rows = comparison.set_index("model")
    for name, model in models.items():
        probability = model.predict_proba(features(validation))[:, 1]
        threshold = rows.loc[name, "threshold"]
        expected = classification_metrics(
            validation["response"], probability, probability >= threshold, CAMPAIGN
        )
        assert rows.loc[name, list(expected)].to_dict() == pytest.approx(expected)
    assert record["validation"] == rows.loc["on_x1"].to_dict()


RANKED = pd.DataFrame(
    {
        "roc_auc": [0.80, 0.85, 0.85, 0.8499],
        "log_loss": [0.30, 0.29, 0.27, 0.20],
        "expected_profit": [10.0, 30.0, 20.0, 50.0],
    },
    index=["a", "b", "c", "d"],
)


def test_rank_models_breaks_ties_with_the_tie_breaker():
    assert rank_models(RANKED, BY_AUC).index.tolist() == ["c", "b", "d", "a"]
    by_profit = Champion(metric="roc_auc", tie_breaker="expected_profit")
    assert rank_models(RANKED, by_profit).index.tolist() == ["b", "c", "d", "a"]


def test_rank_models_tolerance_and_lower_is_better_metrics():
    # d is within 0.001 of the best AUC: tied with b and c, and has the lowest log loss.
    tolerant = Champion(metric="roc_auc", tie_breaker="log_loss", tolerance=0.001)
    assert rank_models(RANKED, tolerant).index.tolist() == ["d", "c", "b", "a"]
    by_log_loss = Champion(metric="log_loss", tie_breaker="roc_auc")
    assert rank_models(RANKED, by_log_loss).index.tolist() == ["d", "c", "b", "a"]


def test_report_on_test_scores_every_model_once_at_its_validation_threshold(case, selected):
    models, _, test = case
    _, comparison, _ = selected
    table_, scores, test_metrics = report_on_test(test, comparison, COLUMNS, CAMPAIGN, **models)
    # Validation ranking order; validation.* (selection) and test.* (report) side by side.
    assert table_["model"].tolist() == ["on_x1", "on_x2"]
    assert {c.split(".")[0] for c in table_.columns if c != "model"} == {"validation", "test"}
    assert {"validation.threshold", "validation.roc_auc", "test.roc_auc"} <= set(table_.columns)
    rows = table_.set_index("model")
    assert rows.loc["on_x2", "test.roc_auc"] > rows.loc["on_x1", "test.roc_auc"]
    # test_scores: the id, the target and one probability column per model.
    assert scores.columns.tolist() == ["id", "response", "on_x2", "on_x1"]
    assert scores["id"].tolist() == test["id"].tolist()
    for name, model in models.items():
        probability = model.predict_proba(features(test))[:, 1]
        np.testing.assert_array_equal(scores[name], probability)
        threshold = rows.loc[name, "validation.threshold"]
        expected = classification_metrics(
            test["response"], probability, probability >= threshold, CAMPAIGN
        )
        assert rows.loc[name, [f"test.{k}" for k in expected]].tolist() == pytest.approx(
            list(expected.values())
        )
        # For MLflow: <model>.<metric> (the catalog's `test` prefix makes it test.<model>.<metric>).
        assert {k: v["value"] for k, v in test_metrics.items() if k.startswith(f"{name}.")} == (
            pytest.approx({f"{name}.{k}": v for k, v in expected.items()})
        )
    assert len(test_metrics) == 2 * len(expected)


def test_gate_promotes_the_first_challenger(case, selected):
    models, _, test = case
    champion_model, comparison, record = selected
    _, test_scores, _ = report_on_test(test, comparison, COLUMNS, CAMPAIGN, **models)
    decision, metrics = gate_promotion(
        test_scores=test_scores,
        champion=record,
        raw_rows=pd.DataFrame(),  # read only to score a registered @champion
        current=None,
        columns=COLUMNS,
        promotion=Promotion(max_relative_drop={"roc_auc": 0.002}),
        campaign=CAMPAIGN,
    )
    expected = classification_metrics(
        test["response"],
        champion_model.predict_proba(features(test))[:, 1],
        champion_model.predict(features(test)),
        CAMPAIGN,
    )
    assert decision == {
        "challenger": "on_x1",
        "challenger_test": expected,
        "champion_test": None,
        "promoted": True,
        "reason": "no @champion yet: the first model is promoted",
    }
    assert metrics == {
        **{f"challenger.{k}": {"value": v, "step": 0} for k, v in expected.items()},
        "promoted": {"value": 1.0, "step": 0},
    }


def test_promotion_drops_must_be_shares():
    with pytest.raises(ValueError, match=r"must be in \[0, 1\), got \{'roc_auc': 1.5\}"):
        Promotion(max_relative_drop={"roc_auc": 1.5})
    with pytest.raises(ValueError, match="auc"):
        Promotion(max_relative_drop={"auc": 0.1})  # not a metric of classification_metrics
