"""Tests of the tuning nodes: Optuna studies in RDB storage on the validation split."""

import copy

import optuna
import pytest

from cross_sell.pipelines.data_science.nodes import apply_best_params, fit_model, validate_model
from cross_sell.pipelines.tuning.nodes import tune_hyperparameters


def _tune(splits, parameters, family: str, storage: str, n_trials: int = 3):
    train, validation, _ = splits
    tuning = copy.deepcopy(parameters["tuning"])
    tuning["study"]["storage"] = storage
    tuning[family]["n_trials"] = n_trials
    return tune_hyperparameters(
        train,
        validation,
        parameters[family],
        parameters["data_science"]["columns"],
        tuning,
        family_name=family,
    )


def test_rerunning_extends_one_study_in_the_storage(tmp_path, splits, parameters):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    _, first = _tune(splits, parameters, "xgboost", storage)
    _, second = _tune(splits, parameters, "xgboost", storage)
    summaries = optuna.get_all_study_summaries(storage)
    assert len(summaries) == 1
    assert summaries[0].study_name.startswith("cross_sell.xgboost.")
    assert summaries[0].n_trials == 6
    assert len(first) == 3
    assert list(second["number"]) == list(range(6))
    # The second run explored new points rather than replaying the first run's draws.
    params = [c for c in second.columns if c.startswith("params_")]
    assert len(second[params].drop_duplicates()) == 6


def test_first_trial_is_the_untuned_model_and_best_is_never_worse(
    tmp_path, splits, parameters, columns
):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    best, trials = _tune(splits, parameters, "xgboost", storage, n_trials=4)
    kwargs = parameters["xgboost"]["kwargs"]
    first = trials.iloc[0]
    assert all(first[f"params_{name}"] == pytest.approx(kwargs[name]) for name in best)
    assert set(trials["state"]) <= {"COMPLETE", "PRUNED"}
    assert trials["value"].max() >= first["value"]
    # XGBoost's pruning callback reported the validation AUC every 10th boosting round.
    (summary,) = optuna.get_all_study_summaries(storage)
    reported = optuna.load_study(study_name=summary.study_name, storage=storage).trials[0]
    steps = sorted(reported.intermediate_values)
    assert steps[:3] == [0, 10, 20]
    assert all(step % 10 == 0 for step in steps)

    train, validation, _ = splits
    untuned = fit_model(train, validation, parameters["xgboost"], columns)
    tuned = fit_model(train, validation, apply_best_params(parameters["xgboost"], best), columns)
    untuned_auc = validate_model(untuned, validation, columns, "xgboost")[0]["roc_auc"]
    tuned_auc = validate_model(tuned, validation, columns, "xgboost_tuned")[0]["roc_auc"]
    assert untuned_auc == pytest.approx(first["value"])  # a trial's value is its refit's AUC
    assert tuned_auc == pytest.approx(trials["value"].max())
    assert tuned_auc >= untuned_auc


def test_random_forest_is_tuned_without_a_pruning_callback(tmp_path, splits, parameters):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    best, trials = _tune(splits, parameters, "random_forest", storage, n_trials=2)
    assert set(best) == set(parameters["tuning"]["random_forest"]["search_space"])
    assert list(trials["state"]) == ["COMPLETE", "COMPLETE"]


def test_new_data_starts_a_new_study(tmp_path, splits, parameters):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    train, validation, test = splits
    _tune(splits, parameters, "random_forest", storage, n_trials=1)
    _tune((train.iloc[:-10], validation, test), parameters, "random_forest", storage, n_trials=1)
    assert len(optuna.get_all_study_summaries(storage)) == 2


def test_a_searched_parameter_without_an_untuned_value_is_a_clear_error(
    tmp_path, splits, parameters
):
    parameters = copy.deepcopy(parameters)
    del parameters["random_forest"]["kwargs"]["max_features"]
    with pytest.raises(ValueError, match=r"searches \['max_features'\].*random_forest.kwargs"):
        _tune(splits, parameters, "random_forest", f"sqlite:///{tmp_path / 'optuna.db'}")
