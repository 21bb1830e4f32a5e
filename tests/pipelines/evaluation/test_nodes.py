"""Evaluation nodes against values computed by hand on tiny inputs."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from cross_sell.pipelines.evaluation import nodes
from tests.pipelines.evaluation.helpers import COLUMNS

# Ten customers by decreasing score; responders at ranks 1, 3 and 6.
Y = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 0])
SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
CHAMPION = {"metric": "roc_auc", "tie_breaker": "log_loss", "tolerance": 0.0}


def test_ranking_curve_groups_ties_and_starts_with_contacting_nobody():
    curve = nodes.ranking_curve([1, 0, 0, 1, 0], [0.9, 0.5, 0.5, 0.5, 0.1])
    assert curve.thresholds.tolist() == [np.inf, 0.9, 0.5, 0.1]
    assert curve.contacts.tolist() == [0, 1, 4, 5]
    assert curve.true_positives.tolist() == [0, 1, 2, 2]
    assert (curve.n, curve.positives) == (5, 2)


def test_captured_shares_and_top_decile_lift_by_hand():
    curve = nodes.ranking_curve(Y, SCORES)
    # Top 1, 2, 3 customers hold 1, 1, 2 of the 3 responders.
    np.testing.assert_allclose(nodes.captured_share(curve, [0.1, 0.2, 0.3]), [1 / 3, 1 / 3, 2 / 3])
    metrics = nodes.classification_metrics(Y, SCORES, [0.1, 0.2, 0.3], 1.0, 4.0)
    assert metrics["top_decile_lift"] == pytest.approx((1 / 3) / 0.1)
    assert metrics["captured_top_10"] == pytest.approx(1 / 3)
    assert metrics["captured_top_20"] == pytest.approx(1 / 3)
    assert metrics["captured_top_30"] == pytest.approx(2 / 3)


def test_captured_share_spreads_responders_evenly_within_ties():
    # Two tied customers, one responder: the top 25 % (one customer) reaches half a responder.
    curve = nodes.ranking_curve([1, 0, 0, 1], [0.9, 0.9, 0.1, 0.1])
    assert nodes.captured_share(curve, 0.25) == pytest.approx(0.25)
    assert nodes.captured_share(curve, 0.5) == pytest.approx(0.5)


def test_profit_optimal_threshold_by_hand():
    # Profit = 4 x responders reached - 1 x contacts: 3, 2, 5, 4, 3, 6, 5, 4, 3, 2 for 1..10
    # contacts, so the best is 6 contacts (down to score 0.4), threshold halfway to 0.3.
    point = nodes.profit_optimal_point(Y, SCORES, contact_cost=1.0, conversion_value=4.0)
    assert point["profit"] == 6.0
    assert point["contacts"] == 6 and point["true_positives"] == 3
    assert point["threshold"] == pytest.approx(0.35)
    contacted = np.greater_equal(SCORES, point["threshold"])
    assert (contacted.sum(), Y[contacted].sum()) == (6, 3)
    metrics = nodes.classification_metrics(Y, SCORES, [0.1], 1.0, 4.0)
    assert metrics["precision"] == pytest.approx(3 / 6)
    assert metrics["recall"] == pytest.approx(1.0)
    assert metrics["balanced_accuracy"] == pytest.approx((1 + 4 / 7) / 2)
    assert metrics["contact_share"] == pytest.approx(0.6)
    assert metrics["expected_profit"] == 6.0
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(Y, SCORES))


def test_profit_ties_pick_fewer_contacts_and_the_extremes_are_handled():
    # Free contacts: every rule reaching all 3 responders ties; the one with fewest contacts wins.
    free = nodes.profit_optimal_point(Y, SCORES, contact_cost=0.0, conversion_value=1.0)
    assert (free["contacts"], free["threshold"]) == (6, pytest.approx(0.35))
    # Contacts cost more than any conversion is worth: contact nobody (threshold above 1).
    nobody = nodes.profit_optimal_point(Y, SCORES, contact_cost=10.0, conversion_value=1.0)
    assert (nobody["contacts"], nobody["profit"]) == (0, 0.0)
    assert nobody["threshold"] > 1.0
    # Everyone responds: contact everyone, threshold 0.
    everyone = nodes.profit_optimal_point(np.ones(4), [0.9, 0.5, 0.2, 0.1], 1.0, 4.0)
    assert (everyone["contacts"], everyone["threshold"]) == (4, 0.0)


def test_scores_are_checked():
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]: 1 are not"):
        nodes.ranking_curve([0, 1], [0.2, np.nan])
    with pytest.raises(ValueError, match="must be 0/1"):
        nodes.ranking_curve([0, 2], [0.2, 0.3])
    with pytest.raises(ValueError, match="single class"):
        nodes.classification_metrics([0, 0], [0.2, 0.3], [0.1], 1.0, 4.0)


def test_score_test_set_returns_probabilities_and_the_mlflow_bundle(fitted_models, test_set):
    model = fitted_models["xgboost"]
    probabilities, bundle = nodes.score_test_set(model, test_set, COLUMNS)
    features = test_set.drop(columns=["id", "response"])
    np.testing.assert_allclose(probabilities, model.predict_proba(features)[:, 1])
    assert probabilities.index.equals(test_set.index)
    assert bundle["model"] is model
    pd.testing.assert_frame_equal(bundle["input_example"], features.head(5))
    with pytest.raises(ValueError, match="lacks the column\\(s\\) \\['target'\\]"):
        nodes.score_test_set(model, test_set, COLUMNS | {"target": "target"})


def test_compute_test_metrics_gives_plain_and_mlflow_forms(fitted_models, test_set):
    probabilities, _ = nodes.score_test_set(fitted_models["xgboost"], test_set, COLUMNS)
    plain, for_mlflow = nodes.compute_test_metrics(
        probabilities,
        test_set,
        COLUMNS,
        {"lift_shares": [0.1, 0.2]},
        {"contact_cost": 5.0, "conversion_value": 50.0},
    )
    assert plain["roc_auc"] > 0.75
    assert for_mlflow == {name: {"value": value, "step": 0} for name, value in plain.items()}
    assert {"captured_top_10", "captured_top_20", "log_loss", "brier_score"} <= set(plain)


def comparison_input() -> dict[str, dict[str, float]]:
    return {
        "a": {"roc_auc": 0.80, "log_loss": 0.30},
        "b": {"roc_auc": 0.85, "log_loss": 0.29},
        "c": {"roc_auc": 0.85, "log_loss": 0.27},
        "d": {"roc_auc": 0.8499, "log_loss": 0.20},
    }


def test_champion_by_metric_with_ties_broken_by_log_loss():
    table, markdown = nodes.compare_models(["a", "b", "c", "d"], CHAMPION, **comparison_input())
    assert table["model"].tolist() == ["c", "b", "d", "a"]
    assert markdown.splitlines()[0] == "| model | roc_auc | log_loss |"
    assert markdown.splitlines()[2] == "| c | 0.8500 | 0.2700 |"
    champion, for_mlflow = nodes.select_champion(table, CHAMPION)
    assert champion["name"] == "c"
    assert champion["metrics"] == {"roc_auc": 0.85, "log_loss": 0.27}
    assert champion["ranking"] == ["c", "b", "d", "a"]
    assert for_mlflow["roc_auc"] == {"value": 0.85, "step": 0}


def test_champion_tolerance_and_lower_is_better_metrics():
    table, _ = nodes.compare_models(
        ["a", "b", "c", "d"], CHAMPION | {"tolerance": 0.001}, **comparison_input()
    )
    assert table["model"].iloc[0] == "d"  # within 0.001 of the best AUC, lowest log loss
    by_log_loss = {"metric": "log_loss", "tie_breaker": "roc_auc"}
    table, _ = nodes.compare_models(["a", "b", "c", "d"], by_log_loss, **comparison_input())
    assert table["model"].tolist() == ["d", "c", "b", "a"]


def test_champion_metric_must_exist_and_model_lists_must_match():
    with pytest.raises(ValueError, match="names the metric 'auc'"):
        nodes.compare_models(["a"], CHAMPION | {"metric": "auc"}, a={"roc_auc": 1, "log_loss": 1})
    with pytest.raises(ValueError, match="pipeline was built for \\['a'\\]"):
        nodes.compare_models(["a", "b"], CHAMPION, a={"roc_auc": 1, "log_loss": 1})


def test_campaign_view_against_contacting_everyone():
    scores = pd.DataFrame({"id": range(10), "response": Y, "m": SCORES})
    campaign = {"contact_cost": 1.0, "conversion_value": 4.0}
    record, summary, for_mlflow = nodes.campaign_view(scores, {"name": "m"}, COLUMNS, campaign)
    assert record["model"] == "m" and record["threshold"] == pytest.approx(0.35)
    assert (record["test_contacts"], record["test_profit"]) == (6, 6.0)
    assert record["test_profit_contact_everyone"] == 4 * 3 - 10
    rows = summary.set_index("strategy")
    assert rows.loc["profit-optimal", "expected_conversions"] == 3
    assert rows.loc["contact everyone", "contacts"] == 10
    assert rows.loc["contact nobody", "profit"] == 0
    assert for_mlflow["profit_gain_over_everyone"]["value"] == 6.0 - 2.0


def test_champion_estimator_and_registry_bundle(fitted_models, test_set):
    champion = {"name": "random_forest", "metrics": {"roc_auc": 0.8}}
    estimator = nodes.champion_estimator(champion, **fitted_models)
    assert estimator is fitted_models["random_forest"]
    bundle = nodes.champion_for_registry(estimator, champion, test_set, COLUMNS, plot=np.zeros(1))
    assert bundle["model_name"] == "random_forest" and bundle["metrics"] == {"roc_auc": 0.8}
    assert list(bundle["input_example"].columns) == list(test_set.columns[1:-1])
    with pytest.raises(ValueError, match="'svm' is not among"):
        nodes.champion_estimator({"name": "svm"}, **fitted_models)


def test_permutation_importance_is_seeded_and_finds_the_strong_columns(fitted_models, test_set):
    params = {"n_rows": 400, "n_repeats": 2, "scoring": "roc_auc", "seed": 3}
    first = nodes.permutation_feature_importance(
        fitted_models["logistic_regression"], test_set, COLUMNS, params
    )
    again = nodes.permutation_feature_importance(
        fitted_models["logistic_regression"], test_set, COLUMNS, params
    )
    pd.testing.assert_frame_equal(first, again)
    assert len(first) == test_set.shape[1] - 2
    assert set(first["feature"].head(2)) == {"previously_insured", "vehicle_damage"}
    assert first["importance_mean"].is_monotonic_decreasing


def test_trials_table_is_checked_and_builds_an_in_memory_study(trials_table):
    checked, copy = nodes.prepare_trials(trials_table)
    pd.testing.assert_frame_equal(checked, copy)
    assert checked["state"].isin(["COMPLETE", "PRUNED"]).all()
    study = nodes.study_from_trials(trials_table, "maximize")
    complete = trials_table[trials_table["state"] == "COMPLETE"]
    assert len(study.trials) == len(complete)
    assert study.best_value == complete["value"].max()
    distributions = study.trials[0].distributions
    assert isinstance(distributions["max_depth"], optuna.distributions.IntDistribution)
    assert isinstance(distributions["subsample"], optuna.distributions.FloatDistribution)
    assert isinstance(distributions["booster"], optuna.distributions.CategoricalDistribution)
    with pytest.raises(ValueError, match="lacks columns \\['state'\\]"):
        nodes.check_trials(trials_table.drop(columns="state"))


def test_optuna_param_importances(trials_table):
    importances = nodes.optuna_param_importances(trials_table, {"direction": "maximize", "seed": 0})
    assert set(importances["parameter"]) == {"max_depth", "learning_rate", "subsample", "booster"}
    assert importances["importance"].sum() == pytest.approx(1.0)
    too_few = nodes.optuna_param_importances(
        trials_table.head(1), {"direction": "maximize", "seed": 0}
    )
    assert too_few.empty
