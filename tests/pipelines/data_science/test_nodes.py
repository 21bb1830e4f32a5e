"""Tests of the data_science nodes on a small generated model input table."""

import re

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import FunctionTransformer

from cross_sell.params import DataScience, Family, Split
from cross_sell.pipelines.data_science.nodes import (
    apply_best_params,
    features_and_target,
    fit_model,
    predict_deterministically,
    split_model_input,
)
from cross_sell.pipelines.data_science.pipeline import FAMILIES

from .support import family_of


def test_split_is_stratified_disjoint_and_complete(model_input_table, splits):
    train, validation, test = splits
    ids = [set(part["id"]) for part in splits]
    assert not ids[0] & ids[1] and not ids[0] & ids[2] and not ids[1] & ids[2]
    assert set().union(*ids) == set(model_input_table["id"])
    assert sum(len(part) for part in splits) == len(model_input_table)
    n = len(model_input_table)
    assert (len(train), len(validation), len(test)) == pytest.approx(
        (0.7 * n, 0.1 * n, 0.2 * n), abs=2
    )
    rate = model_input_table["response"].mean()
    for part in splits:
        assert part["response"].mean() == pytest.approx(rate, abs=0.005)
        assert list(part.columns) == list(model_input_table.columns)


def test_split_is_seeded(model_input_table, parameters, columns, splits):
    again = split_model_input(model_input_table, columns, DataScience(**parameters["data_science"]))
    for first, second in zip(splits, again, strict=True):
        pd.testing.assert_frame_equal(first, second)


def test_split_rejects_a_non_binary_target(model_input_table, parameters, columns):
    bad = model_input_table.copy()
    bad.loc[[3, 7], "response"] = 2
    with pytest.raises(
        ValueError, match=r"model_input_table: column 'response' must be 0/1.*\[4, 8\]"
    ):
        split_model_input(bad, columns, DataScience(**parameters["data_science"]))


def test_split_of_too_few_rows_of_a_class_says_so(model_input_table, parameters, columns):
    # Two responders cannot be spread over three stratified parts.
    table = pd.concat(
        [
            model_input_table[model_input_table["response"] == 0].head(200),
            model_input_table[model_input_table["response"] == 1].head(2),
        ]
    )
    with pytest.raises(ValueError, match=r"cannot split 202 rows.*Class 1 has only 2 row\(s\)"):
        split_model_input(table, columns, DataScience(**parameters["data_science"]))


def test_shares_leaving_no_training_rows_are_refused_by_the_parameter_model():
    with pytest.raises(ValidationError, match=re.escape("validation_size + test_size = 1.1")):
        Split(validation_size=0.5, test_size=0.6, random_state=1)
    with pytest.raises(ValidationError, match="must be below 1"):
        Split(validation_size=0.5, test_size=0.5, random_state=1)
    with pytest.raises(ValidationError, match="test_size"):
        Split(validation_size=0.1, test_size=0.0, random_state=1)
    assert Split(validation_size=0.3, test_size=0.6, random_state=1).test_size == 0.6


def test_families_are_not_a_setting(parameters):
    with pytest.raises(ValidationError, match="model families are fixed in code"):
        DataScience(**parameters["data_science"], families=["xgboost"])


@pytest.mark.parametrize("family", FAMILIES)
def test_model_is_one_pipeline_scoring_the_clean_feature_columns(family_models, splits, family):
    _, validation, _ = splits
    model = family_models[family]
    features = validation.drop(columns=["id", "response"])
    assert list(model.named_steps) == ["preprocess", "classifier"]
    assert list(model.feature_names_in_) == list(features.columns)
    probabilities = model.predict_proba(features)
    assert probabilities.shape == (len(validation), 2)
    assert np.allclose(probabilities.sum(axis=1), 1)
    # The generated data has signal, and every family finds it.
    assert roc_auc_score(validation["response"], probabilities[:, 1]) > 0.75


def test_capping_bounds_are_learned_on_the_training_split_only(family_models, splits, parameters):
    train, validation, _ = splits
    premium = train["annual_premium"]
    for family in FAMILIES:
        quantiles = parameters[family]["recipe"]["kwargs"]["cap_quantiles"]
        capped = family_models[family].named_steps["preprocess"].named_transformers_["capped"]
        capper = capped.steps[0][1] if hasattr(capped, "steps") else capped
        assert capper.lower_ == pytest.approx([premium.quantile(quantiles[0])])
        assert capper.upper_ == pytest.approx([premium.quantile(quantiles[1])])
        both = pd.concat([train, validation])["annual_premium"]
        assert capper.upper_[0] != pytest.approx(both.quantile(quantiles[1]))


def test_scaler_and_one_hot_are_learned_on_the_training_split_only(
    family_models, splits, parameters
):
    train, validation, _ = splits
    preprocess = family_models["logistic_regression"].named_steps["preprocess"]
    scaler = preprocess.named_transformers_["scaled"]
    scaled = list(scaler.feature_names_in_)
    assert scaled == ["age", "vehicle_age", "vintage"]
    assert scaler.mean_ == pytest.approx(train[scaled].mean().to_numpy())
    assert scaler.mean_ != pytest.approx(pd.concat([train, validation])[scaled].mean().to_numpy())
    min_frequency = parameters["logistic_regression"]["recipe"]["kwargs"]["min_frequency"]
    one_hot = preprocess.named_transformers_["one_hot"]
    for column, categories, infrequent in zip(
        one_hot.feature_names_in_, one_hot.categories_, one_hot.infrequent_categories_, strict=True
    ):
        counts = train[column].value_counts()
        assert sorted(categories) == sorted(counts.index)
        expected_rare = sorted(counts.index[counts < min_frequency])
        assert sorted(infrequent if infrequent is not None else []) == expected_rare


def test_tree_category_codes_are_learned_on_the_training_split_only(
    family_models, splits, parameters
):
    train, _, _ = splits
    encoders = {}
    for family in FAMILIES:
        recipe = parameters[family]["recipe"]
        if recipe["name"] != "trees":
            continue
        codes = recipe["kwargs"].get("codes", "ranked")
        encoder = family_models[family].named_steps["preprocess"].named_transformers_["categories"]
        encoders[codes] = encoder
        if codes == "integer":  # the codes as they are: nothing learned
            assert isinstance(encoder, FunctionTransformer) and encoder.func is None
            continue
        min_frequency = recipe["kwargs"]["min_frequency"]
        for column, frequent in zip(encoder.feature_names_in_, encoder.categories_, strict=True):
            counts = train[column].value_counts()
            assert list(frequent) == sorted(counts.index[counts >= min_frequency])
    assert {"integer", "native"} <= set(encoders)  # xgboost and xgboost_native


@pytest.mark.parametrize("family", FAMILIES)
def test_unseen_region_and_channel_codes_are_scored(family_models, splits, family):
    _, validation, _ = splits
    features = validation.drop(columns=["id", "response"]).head(50).copy()
    features["region_code"] = np.int16(99)  # never seen in training
    features["policy_sales_channel"] = np.int16(141)  # absent from train, present in test.csv
    probabilities = family_models[family].predict_proba(features)[:, 1]
    assert np.isfinite(probabilities).all()
    assert ((probabilities > 0) & (probabilities < 1)).all()


def test_forests_fit_in_parallel_but_predict_single_threaded(splits, columns):
    train, _, _ = splits
    features, target = features_and_target(train, columns)
    forest = RandomForestClassifier(n_estimators=5, n_jobs=-1, random_state=0)
    assert predict_deterministically(forest.fit(features, target)) is forest
    assert forest.n_jobs == 1
    logistic = LogisticRegression(n_jobs=2)  # not an ensemble: left alone
    assert predict_deterministically(logistic).n_jobs == 2


def test_xgboost_early_stops_on_the_validation_split(family_models):
    classifier = family_models["xgboost"].named_steps["classifier"]
    assert classifier.best_iteration < classifier.n_estimators - 1
    assert classifier.get_params()["scale_pos_weight"] is None  # probabilities stay calibrated


def test_apply_best_params_overrides_only_the_tuned_kwargs(parameters):
    family = family_of(parameters, "xgboost")
    tuned = apply_best_params(family, {"max_depth": 3, "learning_rate": 0.2})
    assert isinstance(tuned, Family)
    assert tuned.kwargs["max_depth"] == 3 and tuned.kwargs["learning_rate"] == 0.2
    assert tuned.kwargs["tree_method"] == family.kwargs["tree_method"]
    assert tuned.recipe == family.recipe
    assert family.kwargs["max_depth"] != 3  # the parameters themselves are untouched


def test_unknown_estimator_or_recipe_is_a_clear_error(splits, parameters, columns):
    train, validation, _ = splits
    block = parameters["logistic_regression"]
    family = Family(**{**block, "estimator": "sklearn.ensemble.NoSuchForest"})
    with pytest.raises(
        ValueError, match=re.escape("parameters_data_science.yml: 'sklearn.ensemble.NoSuchForest'")
    ):
        fit_model(train, validation, family, columns)
    with pytest.raises(ValidationError, match=r"recipe\.name\n.*'trees' or 'linear'"):
        Family(**{**block, "recipe": {"name": "nope"}})
    with pytest.raises(ValidationError, match="n_trees"):
        Family(**{**block, "n_trees": 10})  # a typo of a key is refused, not ignored
