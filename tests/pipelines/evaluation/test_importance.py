"""The champion's global drivers on a seeded test subsample."""

from __future__ import annotations

import pandas as pd

from cross_sell.params import FeatureImportance
from cross_sell.pipelines.evaluation.importance import champion_drivers

PARAMS = FeatureImportance(n_rows=400, n_repeats=2, scoring="roc_auc", seed=3)


def test_drivers_are_mean_absolute_contributions_by_raw_column(models, splits, columns):
    _, _, test = splits
    first = champion_drivers(models["xgboost"], test, columns, PARAMS)
    pd.testing.assert_frame_equal(first, champion_drivers(models["xgboost"], test, columns, PARAMS))
    assert first.columns.tolist() == ["feature", "importance_mean", "importance_std", "method"]
    assert set(first["method"]) == {"mean |contribution to log-odds|"}
    assert "Previously_Insured" in set(first["feature"].head(3))  # raw names, strongest first
    assert first["importance_mean"].is_monotonic_decreasing


def test_models_without_contributions_fall_back_to_permutation_importance(models, splits, columns):
    _, _, test = splits
    table = champion_drivers(models["hist_gradient_boosting"], test, columns, PARAMS)
    assert set(table["method"]) == {"drop in roc_auc when shuffled"}
    assert {"Previously_Insured", "Vehicle_Damage"} & set(table["feature"].head(3))
