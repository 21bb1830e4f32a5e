"""Permutation importance of a model on a seeded test subsample."""

from __future__ import annotations

import pandas as pd

from cross_sell.params import FeatureImportance
from cross_sell.pipelines.evaluation.importance import permutation_feature_importance


def test_permutation_importance_is_seeded_and_finds_the_strong_columns(models, splits, columns):
    _, _, test = splits
    params = FeatureImportance(n_rows=400, n_repeats=2, scoring="roc_auc", seed=3)
    model = models["logistic_regression"]
    first = permutation_feature_importance(model, test, columns, params)
    again = permutation_feature_importance(model, test, columns, params)
    pd.testing.assert_frame_equal(first, again)
    assert first.columns.tolist() == ["feature", "importance_mean", "importance_std"]
    assert sorted(first["feature"]) == sorted(test.columns.drop(["id", "response"]))
    # The generated response is driven by previous insurance and vehicle damage above all.
    assert {"previously_insured", "vehicle_damage"} <= set(first["feature"].head(3))
    assert first["importance_mean"].is_monotonic_decreasing
    other_seed = permutation_feature_importance(
        model, test, columns, params.model_copy(update={"seed": 4})
    )
    assert not other_seed["importance_mean"].equals(first["importance_mean"])
