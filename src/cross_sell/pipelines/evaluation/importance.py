"""Which columns the champion leans on: its global drivers on a test subsample (report only).

The mean absolute contribution of each raw column to the log-odds (the per-customer reason codes
of ``data_science/explain.py``, averaged); for a model without additive contributions, the
permutation importance of each column (``sklearn.inspection.permutation_importance``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.inspection import permutation_importance

from cross_sell.params import Columns, FeatureImportance
from cross_sell.pipelines.data_engineering.nodes import RAW_COLUMN_OF
from cross_sell.pipelines.data_science.explain import BASE, contributions
from cross_sell.pipelines.data_science.nodes import features_and_target


def champion_drivers(
    model: Any, test: pd.DataFrame, columns: Columns, params: FeatureImportance
) -> pd.DataFrame:
    """Global drivers: ``feature`` (raw column), ``importance_mean``, ``importance_std``,
    ``method`` (``mean |contribution|`` or ``permutation``), largest first."""
    sample = test.sample(n=min(params.n_rows, len(test)), random_state=params.seed)
    features, target = features_and_target(sample, columns)
    try:
        parts = contributions(model, features).drop(columns=BASE).abs()
        table = pd.DataFrame(
            {
                "feature": parts.columns,
                "importance_mean": parts.mean().to_numpy(),
                "importance_std": parts.std().to_numpy(),
                "method": "mean |contribution to log-odds|",
            }
        )
    except NotImplementedError:
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
                "method": f"drop in {params.scoring} when shuffled",
            }
        )
    table["feature"] = table["feature"].map(RAW_COLUMN_OF).fillna(table["feature"])
    return table.sort_values("importance_mean", ascending=False, ignore_index=True)
