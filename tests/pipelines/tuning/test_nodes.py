"""Tests of the tuning nodes: real Optuna studies in sqlite storage, trials logged to a real MLflow
sqlite store as nested runs of the active run."""

import logging
import re

import mlflow
import numpy as np
import optuna
import pytest
from matplotlib.figure import Figure
from mlflow.tracking import MlflowClient
from sklearn.metrics import roc_auc_score

from cross_sell.params import Tuning
from cross_sell.pipelines.data_science.nodes import apply_best_params, fit_model
from cross_sell.pipelines.tuning.nodes import OBJECTIVE, plot_study, tune_hyperparameters
from tests.pipelines.data_science.support import family_of, temporary_mlflow_store


def tuning_params(parameters: dict, storage: str, n_trials: int) -> Tuning:
    block = parameters["tuning"]
    return Tuning(
        **{
            **block,
            "study": {**block["study"], "storage": storage},
            "xgboost": {**block["xgboost"], "n_trials": n_trials},
        }
    )


def tune(splits, parameters, columns, storage: str, *, n_trials: int, family=None):
    train, validation, _ = splits
    return tune_hyperparameters(
        train,
        validation,
        family or family_of(parameters, "xgboost"),
        columns,
        tuning_params(parameters, storage, n_trials),
        family_name="xgboost",
    )


def child_runs(parent: mlflow.entities.Run) -> list[mlflow.entities.Run]:
    """The nested runs of ``parent`` (in any experiment), by trial number."""
    client = MlflowClient()
    experiments = [e.experiment_id for e in client.search_experiments()]
    children = client.search_runs(
        experiments, f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    return sorted(children, key=lambda run: int(run.info.run_name))


@pytest.mark.usefixtures("mlflow_store")
def test_each_trial_is_one_nested_run_and_a_rerun_extends_the_study(
    tmp_path, splits, parameters, columns, caplog
):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    caplog.set_level(logging.INFO, logger="cross_sell.pipelines.tuning.nodes")
    with mlflow.start_run() as first:
        best, study = tune(splits, parameters, columns, storage, n_trials=2)
    assert best == study.best_params and len(study.trials) == 2
    with mlflow.start_run() as second:
        _, again = tune(splits, parameters, columns, storage, n_trials=2)

    # One study in the storage, extended by the second call.
    (summary,) = optuna.get_all_study_summaries(storage)
    assert summary.study_name == study.study_name == again.study_name
    assert summary.study_name.startswith("cross_sell.xgboost.")
    assert [trial.number for trial in again.trials] == [0, 1, 2, 3]
    # The second call explored new points rather than replaying the first call's draws.
    assert len({tuple(sorted(t.params.items())) for t in again.trials}) == 4

    # Each call logged exactly its own trials, once each, as children of its active run.
    for parent, numbers in ((first, [0, 1]), (second, [2, 3])):
        children = child_runs(parent)
        assert [int(run.info.run_name) for run in children] == numbers
        for run in children:
            trial = again.trials[int(run.info.run_name)]
            assert run.info.experiment_id == parent.info.experiment_id
            assert run.data.metrics[OBJECTIVE] == pytest.approx(trial.value)
            assert run.data.params["learning_rate"] == str(trial.params["learning_rate"])
    client = MlflowClient()
    all_runs = client.search_runs([first.info.experiment_id])
    assert len(all_runs) == 2 + 4  # two parents, four trials: nothing logged twice

    # One log line per trial, counting this call's trials.
    lines = [r.getMessage() for r in caplog.records if " trial " in r.getMessage()]
    assert [line.split(" (")[0] for line in lines] == [
        "xgboost trial 1/2",
        "xgboost trial 2/2",
        "xgboost trial 1/2",
        "xgboost trial 2/2",
    ]
    assert re.fullmatch(
        r"xgboost trial 2/2 \(#3\) (COMPLETE|PRUNED): validation AUC 0\.\d{5}, "
        r"params \{'learning_rate': .*\}; best so far 0\.\d{5} \(#\d\)",
        lines[-1],
    ), lines[-1]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory, mlflow_template, splits, parameters, columns):
    """A fresh study of three trials, tuned with an MLflow store but no active run: its best
    parameters, the study, and the store's experiment id."""
    directory = tmp_path_factory.mktemp("study")
    with temporary_mlflow_store(directory, mlflow_template) as store:
        best, study = tune(
            splits, parameters, columns, f"sqlite:///{directory / 'optuna.db'}", n_trials=3
        )
        runs = MlflowClient().search_runs([store.experiment_id])
    return best, study, runs


def test_without_an_active_run_nothing_is_logged(tuned):
    _, study, runs = tuned
    assert len(study.trials) == 3
    assert runs == []


def test_first_trial_is_the_untuned_model_and_the_best_is_never_worse(
    tuned, splits, parameters, columns, family_models
):
    best, study, _ = tuned
    family = family_of(parameters, "xgboost")
    first = study.trials[0]
    assert first.user_attrs == {"origin": "untuned defaults"}
    assert first.params == {name: family.kwargs[name] for name in first.params}
    assert set(first.params) == set(parameters["tuning"]["xgboost"]["search_space"])
    assert {trial.state for trial in study.trials} <= {
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.PRUNED,
    }
    assert study.best_value >= first.value
    # XGBoost's pruning callback reported the validation AUC every 10th boosting round.
    steps = sorted(first.intermediate_values)
    assert steps[:3] == [0, 10, 20]
    assert all(step % 10 == 0 for step in steps)

    # A trial's value is the validation AUC its refit gets.
    train, validation, _ = splits
    features, target = validation.drop(columns=["id", "response"]), validation["response"]
    untuned_auc = roc_auc_score(target, family_models["xgboost"].predict_proba(features)[:, 1])
    refit = fit_model(train, validation, apply_best_params(family, best), columns)
    tuned_auc = roc_auc_score(target, refit.predict_proba(features)[:, 1])
    assert untuned_auc == pytest.approx(first.value)
    assert tuned_auc == pytest.approx(study.best_value)
    assert tuned_auc >= untuned_auc


def test_new_data_starts_a_new_study(tmp_path, splits, parameters, columns):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    train, validation, test = splits
    tune(splits, parameters, columns, storage, n_trials=1)
    tune((train.iloc[:-10], validation, test), parameters, columns, storage, n_trials=1)
    assert len(optuna.get_all_study_summaries(storage)) == 2


def test_a_searched_parameter_without_an_untuned_value_is_a_clear_error(
    tmp_path, splits, parameters, columns
):
    family = family_of(parameters, "xgboost")
    kwargs = {k: v for k, v in family.kwargs.items() if k != "reg_lambda"}
    with pytest.raises(ValueError, match=r"searches \['reg_lambda'\].*xgboost.kwargs"):
        tune(
            splits,
            parameters,
            columns,
            f"sqlite:///{tmp_path / 'optuna.db'}",
            n_trials=1,
            family=family.model_copy(update={"kwargs": kwargs}),
        )
    assert not (tmp_path / "optuna.db").exists()  # refused before any storage access


def test_plot_study_draws_history_and_importances_from_the_real_study(tuned, parameters):
    _, study, _ = tuned
    # The study keeps the search space's real distributions (bounds, log scales).
    distributions = study.trials[0].distributions
    learning_rate = distributions["learning_rate"]
    assert isinstance(learning_rate, optuna.distributions.FloatDistribution)
    space = parameters["tuning"]["xgboost"]["search_space"]["learning_rate"]
    assert space["log"] is True
    assert (learning_rate.low, learning_rate.high, learning_rate.log) == (
        space["low"],
        space["high"],
        True,
    )
    assert isinstance(distributions["max_depth"], optuna.distributions.IntDistribution)
    assert distributions["subsample"].log is False

    tuning = tuning_params(parameters, "unused", 3)
    history, importances = plot_study(study, tuning)
    assert isinstance(history, Figure) and isinstance(importances, Figure)
    assert history.axes[0].get_title() == "Optimization History Plot"
    assert history.axes[0].get_ylabel() == OBJECTIVE
    values = [t.value for t in study.trials if t.value is not None]
    plotted = np.concatenate([c.get_offsets()[:, 1] for c in history.axes[0].collections])
    assert set(np.round(values, 12)) <= set(np.round(plotted, 12))
    axes = importances.axes[0]
    assert axes.get_title(loc="left") == "Hyperparameter Importances"
    labels = {tick.get_text() for tick in axes.get_yticklabels()}
    assert labels == set(parameters["tuning"]["xgboost"]["search_space"])
    # fANOVA is seeded by tuning.study.sampler_seed: the same study gives the same figure.
    _, again = plot_study(study, tuning)
    widths = [[bar.get_width() for bar in fig.axes[0].patches] for fig in (importances, again)]
    assert widths[0] == widths[1]


def test_plot_study_with_fewer_than_two_complete_trials_says_so(parameters):
    study = optuna.create_study(direction="maximize")
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    history, importances = plot_study(study, tuning_params(parameters, "unused", 1))
    assert isinstance(history, Figure)
    assert "fewer than 2 complete trials" in importances.texts[0].get_text()
