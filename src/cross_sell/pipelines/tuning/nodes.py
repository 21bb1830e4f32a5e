"""Nodes of ``tuning``: one Optuna study per model family, scored on the validation split.

The objective is the validation ROC AUC of the family's model, trained exactly as the
``data_science`` template trains it (same preprocessing, same fit), so a trial's value is the
validation AUC its refit will get. The untuned kwargs are enqueued as the first trial of a new
study, so the best trial, and hence the ``<family>_tuned`` refit, is never worse than the untuned
model on the validation split (when tuning uses the whole training split).
"""

import hashlib
import json
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import mlflow
import optuna
import pandas as pd
from matplotlib.figure import Figure
from optuna.pruners import MedianPruner
from optuna.samplers import TPESampler
from optuna.visualization.matplotlib import plot_optimization_history, plot_param_importances
from optuna_integration import MLflowCallback
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sqlalchemy.exc import IntegrityError, OperationalError

from cross_sell.params import Columns, Family, Search, SearchParameter, Tuning
from cross_sell.pipelines.data_science.nodes import (
    PreparedData,
    build_estimator,
    fit_classifier,
    import_object,
    prepare_features,
)
from cross_sell.preflight import stops_allowed, stops_deferred

logger = logging.getLogger(__name__)

STUDY_OPEN_ATTEMPTS = 3
OBJECTIVE = "validation_roc_auc"


def open_study(storage: str, study_name: str, seed: int, pruner: dict[str, Any]) -> optuna.Study:
    """Open the study ``study_name`` in the Optuna RDB ``storage`` URL, creating it if needed.

    This is the pipeline's one deliberate exception to "no I/O in nodes": the study lives in a
    database that reruns extend (``load_if_exists=True``) and several processes may share,
    which a Kedro dataset (load all, save all) cannot express. All storage access stays here.
    """
    for attempt in range(STUDY_OPEN_ATTEMPTS):
        try:
            study = optuna.create_study(
                storage=storage,
                study_name=study_name,
                direction="maximize",
                pruner=MedianPruner(**pruner),
                load_if_exists=True,
            )
            break
        except (IntegrityError, OperationalError) as exc:
            # Workers starting together on an empty database race to create Optuna's tables
            # or the study: the loser's insert fails, and a second look finds what won.
            if attempt == STUDY_OPEN_ATTEMPTS - 1:
                raise
            logger.info("Opening study %s raced another worker (%s); retrying", study_name, exc)
            time.sleep(0.5 * (attempt + 1))
    # Seeded; offset by the trials already stored so that a rerun explores new points instead
    # of replaying the first run's draws. constant_liar: workers sharing the study avoid
    # suggesting points next to trials still running elsewhere.
    study.sampler = TPESampler(seed=seed + len(study.trials), constant_liar=True)
    return study


def study_fingerprint(
    train: pd.DataFrame, validation: pd.DataFrame, family: Family, train_fraction: float
) -> str:
    """A short hash of the data and the fixed settings the trials' values depend on.

    It is part of the study name: rerunning on the same data extends the same study, while new
    data (say the real Kaggle file after the synthetic one) or new fixed kwargs start a fresh
    study whose best trial is comparable with its refit.
    """
    digest = hashlib.sha256()
    for table in (train, validation):
        digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    digest.update(
        json.dumps([family.model_dump(), train_fraction], sort_keys=True, default=str).encode()
    )
    return digest.hexdigest()[:12]


def _suggest(trial: optuna.Trial, name: str, spec: SearchParameter) -> Any:
    """Draw parameter ``name`` from its YAML search-space entry."""
    if spec.type == "int":
        return trial.suggest_int(name, int(spec.low), int(spec.high), log=spec.log)
    if spec.type == "float":
        return trial.suggest_float(name, spec.low, spec.high, log=spec.log)
    return trial.suggest_categorical(name, spec.choices)


def _untuned_params(family_name: str, family: Family, space: dict[str, Any]) -> dict:
    """The untuned model's value of every searched parameter (the study's first trial)."""
    kwargs = family.kwargs
    missing = [name for name in space if name not in kwargs]
    if missing:
        raise ValueError(
            f"parameters_tuning.yml: tuning.{family_name}.search_space searches {missing}, which "
            f"{family_name}.kwargs in parameters_data_science.yml does not set: give each an "
            "explicit untuned value (it is enqueued as the study's first trial)"
        )
    return {name: kwargs[name] for name in space}


def _objective(trial: optuna.Trial, family: Family, search: Search, data: PreparedData) -> float:
    """Fit the family with the trial's parameters; return its validation ROC AUC."""
    params = {name: _suggest(trial, name, spec) for name, spec in search.search_space.items()}
    extra = {}
    pruning = search.pruning_callback
    if pruning:
        callback_class = import_object(pruning.class_, "parameters_tuning.yml")
        extra["callbacks"] = [callback_class(trial, **pruning.kwargs)]
    estimator = build_estimator(family, **params, **extra)
    fit_classifier(estimator, family, data)
    return float(roc_auc_score(data.validation_y, estimator.predict_proba(data.validation_x)[:, 1]))


def _signals_inside(objective: Callable[[optuna.Trial], float]) -> Callable[[optuna.Trial], float]:
    """``objective`` with SIGINT / SIGTERM stopping it at once (deferred everywhere else).

    A stop that lands while Optuna creates or records a trial would leave that trial RUNNING
    forever: ``tune_hyperparameters`` defers stops around ``study.optimize``, and they act inside
    the next objective call (Optuna then marks the trial FAIL) or when optimisation ends.
    """

    def run(trial: optuna.Trial) -> float:
        with stops_allowed():
            return objective(trial)

    return run


class TrialLogger:
    """One log line per trial this run finishes: "trial k/N", its value, the best so far."""

    def __init__(self, family_name: str, n_trials: int) -> None:
        self.family_name, self.n_trials, self.done = family_name, n_trials, 0

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        self.done += 1
        try:
            best = study.best_trial  # one query, not a reload of every trial of a shared study
        except ValueError:  # no completed trial yet
            best = None
        logger.info(
            "%s trial %d/%d (#%d) %s: validation AUC %s, params %s; best so far %s",
            self.family_name,
            self.done,
            self.n_trials,
            trial.number,
            trial.state.name,
            f"{trial.value:.5f}" if trial.value is not None else "-",
            {k: round(v, 4) if isinstance(v, float) else v for k, v in trial.params.items()},
            f"{best.value:.5f} (#{best.number})" if best else "-",
        )


def tune_hyperparameters(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    family: Family,
    columns: Columns,
    tuning: Tuning,
    *,
    family_name: str,
) -> tuple[dict[str, Any], optuna.Study]:
    """Run (or extend) the family's Optuna study; return its best parameters and the study.

    Each trial this run finishes is logged once, as a nested MLflow run of the active run
    (``optuna_integration.MLflowCallback``).

    ``tuning[family_name]`` holds ``search_space``, ``n_trials``, ``timeout`` (seconds or
    null), ``train_fraction`` (tune on a stratified subsample of train when < 1) and an
    optional ``pruning_callback``. ``tuning["study"]`` holds ``storage`` (an Optuna RDB URL),
    ``study_name`` (a prefix: the study is ``<prefix>.<family>.<fingerprint>``),
    ``sampler_seed`` and the ``pruner`` (MedianPruner) arguments. Preprocessing is fitted once,
    on the (possibly subsampled) training split, exactly as the refit will fit it.
    """
    search, study_settings = getattr(tuning, family_name), tuning.study
    space = search.search_space
    first_trial = _untuned_params(family_name, family, space)
    train_fraction = search.train_fraction
    if train_fraction < 1:
        train, _ = train_test_split(
            train,
            train_size=train_fraction,
            stratify=train[columns.target],
            random_state=study_settings.sampler_seed,
        )
    _, data = prepare_features(train, validation, family, columns)
    name = ".".join(
        [
            study_settings.study_name,
            family_name,
            study_fingerprint(train, validation, family, train_fraction),
        ]
    )
    study = open_study(
        study_settings.storage, name, study_settings.sampler_seed, study_settings.pruner
    )
    if not study.trials:
        study.enqueue_trial(first_trial, user_attrs={"origin": "untuned defaults"})
    logger.info(
        "Study %s: %d trials stored, running up to %d more (timeout %s s) on %d training rows",
        name,
        len(study.trials),
        search.n_trials,
        search.timeout,
        len(train),
    )
    objective = partial(_objective, family=family, search=search, data=data)
    callbacks = [TrialLogger(family_name, search.n_trials)]
    if mlflow.active_run() is not None:  # kedro-mlflow's run: trials become its child runs
        callbacks.append(
            MLflowCallback(
                metric_name=OBJECTIVE, create_experiment=False, mlflow_kwargs={"nested": True}
            )
        )
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # TrialLogger says it once
    with stops_deferred():
        study.optimize(
            _signals_inside(objective),
            n_trials=search.n_trials,
            timeout=search.timeout,
            callbacks=callbacks,
        )
    if not any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
        raise ValueError(
            f"Study {name} has no completed trial (tuning.{family_name}.n_trials = "
            f"{search.n_trials}, timeout {search.timeout}): give it at least one trial"
        )
    logger.info(
        "Study %s: best validation AUC %.5f with %s", name, study.best_value, study.best_params
    )
    return dict(study.best_params), study


def plot_study(study: optuna.Study, tuning: Tuning) -> tuple[Figure, Figure]:
    """The study's optimisation history and its fANOVA parameter importances (seeded).

    Drawn by ``optuna.visualization.matplotlib`` from the study itself, so the importances use
    the real search space (bounds, log scales).
    """
    history = plot_optimization_history(study, target_name=OBJECTIVE).figure
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=tuning.study.sampler_seed)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) >= 2:
        importances = plot_param_importances(study, evaluator=evaluator).figure
    else:
        importances = Figure(figsize=(6, 2))
        importances.text(0.5, 0.5, "fewer than 2 complete trials: no importances", ha="center")
    for figure in (history, importances):
        figure.set_size_inches(8, 5)
        figure.tight_layout()
    return history, importances
