"""Per-customer explanations: additive, exact, folded onto raw columns, sensible on the data."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit

from cross_sell.params import DataScience
from cross_sell.pipelines.data_engineering.nodes import RAW_COLUMN_OF, clean_raw_table
from cross_sell.pipelines.data_science.blend import blend_models
from cross_sell.pipelines.data_science.explain import BASE, contributions, top_reasons
from cross_sell.pipelines.data_science.nodes import (
    features_and_target,
    fit_model,
    split_model_input,
)
from cross_sell.pipelines.synthetic_data.nodes import generate_train

from .support import columns_of, family_of, project_parameters


def _log_odds(model, features: pd.DataFrame) -> np.ndarray:
    return logit(np.clip(model.predict_proba(features)[:, 1], 1e-7, 1 - 1e-7))


@pytest.mark.parametrize("family", ["xgboost", "xgboost_native", "logistic_regression"])
def test_contributions_plus_base_are_the_models_log_odds(family, family_models, splits, columns):
    _, _, test = splits
    features, _ = features_and_target(test.head(500), columns)
    parts = contributions(family_models[family], features)
    assert list(parts.columns) == [*features.columns, BASE]  # one column per clean column
    np.testing.assert_allclose(
        parts.sum(axis=1), _log_odds(family_models[family], features), atol=1e-4
    )


def test_a_calibrated_blend_is_explained_through_its_members_and_calibration(
    family_models, splits, columns
):
    _, validation, test = splits
    blend = blend_models(validation, columns, ["xgboost", "xgboost_native"], **family_models)
    features, _ = features_and_target(test.head(500), columns)
    np.testing.assert_allclose(
        contributions(blend, features).sum(axis=1), _log_odds(blend, features), atol=1e-4
    )


def test_histogram_gradient_boosting_has_no_additive_explanation(family_models, splits, columns):
    features, _ = features_and_target(splits[2].head(5), columns)
    with pytest.raises(NotImplementedError, match="HistGradientBoostingClassifier"):
        contributions(family_models["hist_gradient_boosting"], features)


@pytest.fixture(scope="module")
def built_in() -> SimpleNamespace:
    """XGBoost (conf/base recipe) fitted on 40,000 rows of the built-in generator, and its test rows."""
    raw = generate_train({"n_train": 40_000, "n_test": 2, "seed": 42})
    params = project_parameters()
    columns = columns_of(params)
    train, validation, test = split_model_input(
        clean_raw_table(raw), columns, DataScience(**params["data_science"])
    )
    model = fit_model(train, validation, family_of(params, "xgboost"), columns)
    return SimpleNamespace(model=model, raw=raw.set_index("id"), test=test, columns=columns)


def test_previously_insured_customers_are_explained_by_it_negatively(built_in):
    """The dominant effect of dataset-facts.md: previously insured customers rarely respond."""
    insured = built_in.test[built_in.test["previously_insured"]]
    features, _ = features_and_target(insured, built_in.columns)
    raw = built_in.raw.loc[insured["id"]].reset_index()
    reasons = top_reasons(contributions(built_in.model, features), raw, RAW_COLUMN_OF)
    assert list(reasons.columns) == ["reason_1", "reason_2", "reason_3"]
    assert (reasons["reason_1"] == "Previously_Insured=1 (-)").mean() > 0.95


def test_top_reasons_rank_by_size_and_show_raw_names_values_and_signs():
    parts = pd.DataFrame({"age": [0.2, -3.0], "vehicle_damage": [-1.0, 0.5], BASE: [-2.0, -2.0]})
    raw = pd.DataFrame({"Age": [25, 61], "Vehicle_Damage": ["No", "Yes"]})
    reasons = top_reasons(parts, raw, RAW_COLUMN_OF, n=2)
    assert reasons.to_dict("list") == {
        "reason_1": ["Vehicle_Damage=No (-)", "Age=61 (-)"],
        "reason_2": ["Age=25 (+)", "Vehicle_Damage=Yes (+)"],
    }
