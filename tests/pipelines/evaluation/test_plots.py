"""Plot nodes return readable figures: a title per panel, labelled axes and legends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from cross_sell.pipelines.evaluation import nodes, plots
from tests.pipelines.evaluation.helpers import COLUMNS, MODELS

CAMPAIGN = {"contact_cost": 5.0, "conversion_value": 50.0}
IMPORTANCE = {"n_rows": 300, "n_repeats": 2, "scoring": "roc_auc", "seed": 0}
OPTUNA = {"direction": "maximize", "seed": 0}


@pytest.fixture(scope="module")
def test_scores(fitted_models, test_set) -> pd.DataFrame:
    probabilities = {
        name: nodes.score_test_set(model, test_set, COLUMNS)[0]
        for name, model in fitted_models.items()
    }
    return nodes.collect_test_scores(test_set, COLUMNS, **probabilities)


def legend_labels(fig: Figure) -> list[str]:
    return [text.get_text() for ax in fig.axes if ax.get_legend() for text in ax.get_legend().texts]


def assert_readable(fig: Figure, legend_entries: int) -> None:
    assert isinstance(fig, Figure)
    for ax in fig.axes:
        assert ax.get_title(), "every panel has a title"
        assert ax.get_ylabel(), "every panel labels its y axis"
    assert fig.axes[-1].get_xlabel(), "the x axis is labelled"
    assert len(legend_labels(fig)) >= legend_entries


def test_collect_test_scores(test_scores, test_set):
    assert list(test_scores.columns) == ["id", "response", *MODELS]
    assert test_scores["id"].tolist() == test_set["id"].tolist()


@pytest.mark.parametrize(
    "plot",
    [plots.plot_roc_curves, plots.plot_precision_recall_curves, plots.plot_gains_and_lift],
)
def test_all_model_curves_on_one_figure(test_scores, plot):
    fig = plot(test_scores, COLUMNS)
    assert_readable(fig, legend_entries=len(MODELS) + 1)
    assert all(any(name in label for label in legend_labels(fig)) for name in MODELS)


def test_calibration_plot(test_scores):
    fig = plots.plot_calibration(test_scores, COLUMNS, n_bins=5)
    assert_readable(fig, legend_entries=len(MODELS) + 1)
    assert "5 quantile bins" in fig.axes[0].get_title()


def test_profit_curve_marks_the_optimum(test_scores):
    champion = {"name": "xgboost"}
    fig = plots.plot_profit_curve(test_scores, champion, COLUMNS, CAMPAIGN)
    assert_readable(fig, legend_entries=3)
    point = nodes.profit_optimal_point(test_scores["response"], test_scores["xgboost"], **CAMPAIGN)
    assert any(f"{point['profit']:,.0f}" in label for label in legend_labels(fig))


def test_feature_importance_plot(fitted_models, test_set):
    importance = nodes.permutation_feature_importance(
        fitted_models["xgboost"], test_set, COLUMNS, IMPORTANCE
    )
    fig = plots.plot_feature_importance(importance, {"name": "xgboost"}, IMPORTANCE)
    assert_readable(fig, legend_entries=1)
    labels = [tick.get_text() for tick in fig.axes[0].get_yticklabels()]
    assert sorted(labels) == sorted(importance["feature"])


def test_optuna_plots(trials_table):
    history = plots.plot_optimisation_history(trials_table, "xgboost", OPTUNA)
    assert_readable(history, legend_entries=2)
    best_line = history.axes[0].lines[0].get_ydata()
    assert np.all(np.diff(best_line) >= 0)  # best so far only improves when maximising
    importances = nodes.optuna_param_importances(trials_table, OPTUNA)
    fig = plots.plot_param_importances(importances, "xgboost")
    assert_readable(fig, legend_entries=1)
    empty = plots.plot_param_importances(importances.head(0), "xgboost")
    assert "not enough" in empty.axes[0].texts[0].get_text()
