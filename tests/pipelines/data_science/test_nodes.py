"""Tests of the data_science nodes on a small generated model input table."""

import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from cross_sell.pipelines.data_science.nodes import (
    apply_best_params,
    fit_model,
    split_model_input,
    validate_model,
)
from cross_sell.pipelines.data_science.pipeline import MODEL_FAMILIES


@pytest.fixture(scope="module")
def models(splits, parameters, columns) -> dict:
    train, validation, _ = splits
    return {
        family: fit_model(train, validation, parameters[family], columns)
        for family in MODEL_FAMILIES
    }


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


def test_split_is_seeded(model_input_table, parameters, splits):
    again = split_model_input(
        model_input_table,
        parameters["data_science"]["columns"],
        parameters["data_science"]["split"],
    )
    for first, second in zip(splits, again, strict=True):
        pd.testing.assert_frame_equal(first, second)


def test_split_rejects_a_non_binary_target(model_input_table, parameters):
    bad = model_input_table.copy()
    bad.loc[[3, 7], "response"] = 2
    with pytest.raises(
        ValueError, match=r"model_input_table: column 'response' must be 0/1.*\[4, 8\]"
    ):
        split_model_input(
            bad, parameters["data_science"]["columns"], parameters["data_science"]["split"]
        )


@pytest.mark.parametrize("family", MODEL_FAMILIES)
def test_model_is_one_pipeline_scoring_the_clean_feature_columns(models, splits, columns, family):
    _, validation, _ = splits
    model = models[family]
    features = validation.drop(columns=["id", "response"])
    assert list(model.named_steps) == ["preprocess", "classifier"]
    assert list(model.feature_names_in_) == list(features.columns)
    probabilities = model.predict_proba(features)
    assert probabilities.shape == (len(validation), 2)
    assert np.allclose(probabilities.sum(axis=1), 1)


def test_capping_bounds_are_learned_on_the_training_split_only(models, splits, parameters):
    train, validation, _ = splits
    premium = train["annual_premium"]
    for family in MODEL_FAMILIES:
        quantiles = parameters[family]["recipe"]["kwargs"]["cap_quantiles"]
        capped = models[family].named_steps["preprocess"].named_transformers_["capped"]
        capper = capped.steps[0][1] if hasattr(capped, "steps") else capped
        assert capper.lower_ == pytest.approx([premium.quantile(quantiles[0])])
        assert capper.upper_ == pytest.approx([premium.quantile(quantiles[1])])
        both = pd.concat([train, validation])["annual_premium"]
        assert capper.upper_[0] != pytest.approx(both.quantile(quantiles[1]))


def test_scaler_and_one_hot_are_learned_on_the_training_split_only(models, splits, parameters):
    train, validation, _ = splits
    preprocess = models["logistic_regression"].named_steps["preprocess"]
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


def test_tree_category_codes_are_learned_on_the_training_split_only(models, splits, parameters):
    train, _, _ = splits
    min_frequency = parameters["xgboost"]["recipe"]["kwargs"]["min_frequency"]
    codes = models["xgboost"].named_steps["preprocess"].named_transformers_["categories"]
    for column, frequent in zip(codes.feature_names_in_, codes.categories_, strict=True):
        counts = train[column].value_counts()
        assert list(frequent) == sorted(counts.index[counts >= min_frequency])


@pytest.mark.parametrize("family", MODEL_FAMILIES)
def test_unseen_region_and_channel_codes_are_scored(models, splits, family):
    _, validation, _ = splits
    features = validation.drop(columns=["id", "response"]).head(50).copy()
    features["region_code"] = np.int16(99)  # never seen in training
    features["policy_sales_channel"] = np.int16(141)  # absent from train, present in test.csv
    probabilities = models[family].predict_proba(features)[:, 1]
    assert np.isfinite(probabilities).all()
    assert ((probabilities > 0) & (probabilities < 1)).all()


@pytest.mark.parametrize("family", MODEL_FAMILIES)
def test_same_seed_and_data_give_identical_validation_metrics(
    models, splits, parameters, columns, family
):
    train, validation, _ = splits
    refit = fit_model(train, validation, parameters[family], columns)
    first, _ = validate_model(models[family], validation, columns, label=family)
    second, _ = validate_model(refit, validation, columns, label=family)
    # Identical models; the random forest averages its trees' votes in whichever order its
    # threads finish, hence equality to float rounding rather than bit for bit.
    assert first == pytest.approx(second, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("family", MODEL_FAMILIES)
def test_validation_metrics_and_roc_figure(models, splits, columns, family):
    _, validation, _ = splits
    metrics, figure = validate_model(models[family], validation, columns, label=family)
    assert set(metrics) == {"roc_auc", "average_precision", "log_loss", "brier"}
    assert all(type(value) is float for value in metrics.values())
    assert metrics["roc_auc"] > 0.75  # the generated data has signal
    assert 0 < metrics["brier"] < 0.15 and 0 < metrics["log_loss"] < 0.4
    assert isinstance(figure, Figure)
    axes = figure.axes[0]
    assert family in axes.get_title()
    assert axes.get_xlabel() == "False positive rate" and axes.get_ylabel() == "True positive rate"
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert f"AUC = {metrics['roc_auc']:.4f}" in legend[0]


def test_xgboost_early_stops_on_the_validation_split(models):
    classifier = models["xgboost"].named_steps["classifier"]
    assert classifier.best_iteration < classifier.n_estimators - 1
    assert classifier.get_params()["scale_pos_weight"] is None  # probabilities stay calibrated


def test_apply_best_params_overrides_only_the_tuned_kwargs(parameters):
    family = parameters["xgboost"]
    tuned = apply_best_params(family, {"max_depth": 3, "learning_rate": 0.2})
    assert tuned["kwargs"]["max_depth"] == 3 and tuned["kwargs"]["learning_rate"] == 0.2
    assert tuned["kwargs"]["tree_method"] == family["kwargs"]["tree_method"]
    assert tuned["recipe"] == family["recipe"]
    assert family["kwargs"]["max_depth"] != 3  # the parameters themselves are untouched


def test_unknown_estimator_or_recipe_is_a_clear_error(splits, parameters, columns):
    train, validation, _ = splits
    family = {**parameters["random_forest"], "estimator": "sklearn.ensemble.NoSuchForest"}
    with pytest.raises(
        ValueError, match=re.escape("parameters_data_science.yml: 'sklearn.ensemble.NoSuchForest'")
    ):
        fit_model(train, validation, family, columns)
    family = {**parameters["random_forest"], "recipe": {"name": "nope"}}
    with pytest.raises(ValueError, match="recipe name 'nope' is unknown"):
        fit_model(train, validation, family, columns)
