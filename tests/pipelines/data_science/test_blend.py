"""The blend: a weighted mean of fitted models' log-odds, calibrated on the validation split."""

import numpy as np
import pytest
from scipy.special import expit, logit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import roc_auc_score

from cross_sell.pipelines.data_science.blend import WeightedBlend, blend_models
from cross_sell.pipelines.data_science.nodes import features_and_target

MEMBERS = ("xgboost", "logistic_regression")


def test_weighted_blend_is_the_weighted_mean_of_log_odds(family_models, splits, columns):
    _, validation, _ = splits
    features, target = features_and_target(validation, columns)
    members = {name: family_models[name] for name in MEMBERS}
    blend = WeightedBlend(members, weights={"xgboost": 3.0, "logistic_regression": 1.0})
    blend.fit(features, target)
    assert blend.weights_ == {"xgboost": 0.75, "logistic_regression": 0.25}
    log_odds = {name: logit(m.predict_proba(features)[:, 1]) for name, m in members.items()}
    expected = expit(0.75 * log_odds["xgboost"] + 0.25 * log_odds["logistic_regression"])
    np.testing.assert_allclose(blend.predict_proba(features)[:, 1], expected, rtol=1e-6)
    np.testing.assert_array_equal(blend.predict(features), expected >= 0.5)
    equal = WeightedBlend(members).fit(features, target)
    assert equal.weights_ == {"xgboost": 0.5, "logistic_regression": 0.5}


def test_blend_weights_must_match_the_members_and_be_non_negative(family_models):
    members = {name: family_models[name] for name in MEMBERS}
    for weights in ({"xgboost": 1.0}, {"xgboost": 1.0, "logistic_regression": -1.0}):
        with pytest.raises(ValueError, match="must be >= 0, one per member"):
            WeightedBlend(members, weights=weights).fit(None)


def test_blend_models_calibrates_without_changing_the_ranking(family_models, splits, columns):
    _, validation, test = splits
    blended = blend_models(validation, columns, list(MEMBERS), **family_models)
    assert isinstance(blended, CalibratedClassifierCV)
    features, target = features_and_target(test, columns)
    raw = WeightedBlend({name: family_models[name] for name in MEMBERS}).fit(features)
    calibrated = blended.predict_proba(features)[:, 1]
    assert ((calibrated > 0) & (calibrated < 1)).all()
    # Platt scaling is monotone: the test AUC is the uncalibrated blend's.
    assert roc_auc_score(target, calibrated) == pytest.approx(
        roc_auc_score(target, raw.predict_proba(features)[:, 1])
    )
    # Calibrated on validation: the mean probability is close to the validation response rate.
    validation_x, validation_y = features_and_target(validation, columns)
    assert blended.predict_proba(validation_x)[:, 1].mean() == pytest.approx(
        validation_y.mean(), abs=0.01
    )


def test_blend_members_must_be_trained_models(family_models, splits, columns):
    _, validation, _ = splits
    with pytest.raises(ValueError, match=r"evaluation.blend_members: \['svm'\] are not models"):
        blend_models(validation, columns, ["xgboost", "svm"], **family_models)
