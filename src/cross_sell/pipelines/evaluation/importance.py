"""Which clean columns the champion leans on: permutation importance on a test subsample."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.inspection import permutation_importance

from cross_sell.params import Columns, FeatureImportance
from cross_sell.pipelines.data_science.nodes import features_and_target


def permutation_feature_importance(
    model: Any, test: pd.DataFrame, columns: Columns, params: FeatureImportance
) -> pd.DataFrame:
    """Mean drop of ``params["scoring"]`` when each clean column is shuffled (seeded subsample).

    Works on the pipeline's input columns (before any encoding), so every family is comparable.
    """
    sample = test.sample(n=min(params.n_rows, len(test)), random_state=params.seed)
    features, target = features_and_target(sample, columns)
    result = permutation_importance(
        model,
        features,
        target,
        scoring=params.scoring,
        n_repeats=params.n_repeats,
        random_state=params.seed,
        n_jobs=1,
    )
    table = pd.DataFrame(
        {
            "feature": features.columns,
            "importance_mean": result.importances_mean,
            "importance_std": result.importances_std,
        }
    )
    return table.sort_values("importance_mean", ascending=False, ignore_index=True)
