"""The ``evaluation`` pipeline: every trained model on the untouched test split, then the champion.

Built from parameters: one scoring template per model in ``evaluation.models`` (namespace = the model
name, reading ``<model>.model``) and one Optuna report per family in ``evaluation.tuned_families``
(reading ``<family>.<trials dataset>``). The lists are read from ``conf/`` when the pipeline is
registered, so change them there (a ``--params`` override cannot reshape a pipeline; the
comparison node stops with a clear error when one tries).

Registration of the champion in the MLflow Model Registry is the last node: it takes every other
output as input, so an earlier failure leaves the registry's ``champion`` alias where it was.
"""

from __future__ import annotations

import logging
from functools import partial, update_wrapper
from pathlib import Path
from typing import Any

from kedro.pipeline import Node, Pipeline

from cross_sell.pipelines.evaluation import nodes, plots
from cross_sell.project_conf import configured_parameters

logger = logging.getLogger(__name__)

# Used only when the project's conf/ cannot be read (e.g. the package imported on its own);
# tests check they match conf/base/parameters_evaluation.yml.
DEFAULT_MODELS = (
    "xgboost",
    "random_forest",
    "logistic_regression",
    "xgboost_tuned",
    "random_forest_tuned",
)
DEFAULT_TUNED_FAMILIES = ("xgboost", "random_forest")
TRIALS_DATASET = "optuna_trials"  # <family>.optuna_trials: the trials table written by tuning

TUNING_PLOTS = ("optuna_history_plot", "optuna_param_importances_plot")
PLOTS = (
    "test_roc_curves_plot",
    "test_precision_recall_plot",
    "test_calibration_plot",
    "test_gains_lift_plot",
    "profit_curve_plot",
    "champion_feature_importance_plot",
)

COLUMNS = "params:evaluation.columns"
CAMPAIGN = "params:evaluation.campaign"


def configured_evaluation(conf_source: str | Path | None = None) -> dict[str, Any]:
    """The ``evaluation`` parameters of the project's configuration (base + run environment)."""
    return dict(configured_parameters(conf_source).get("evaluation") or {})


def _bind(func: Any, **kwargs: Any) -> Any:
    """``partial(func, **kwargs)`` that keeps ``func``'s name (for Kedro's logs)."""
    return update_wrapper(partial(func, **kwargs), func)


def _namespaced(nodes_: list[Node], namespace: str, **kwargs: Any) -> Pipeline:
    """``nodes_`` under ``namespace``, sharing the (un-namespaced) ``evaluation`` parameters."""
    shared = {name for node in nodes_ for name in node.inputs if name.startswith("params:")}
    return Pipeline(nodes_, namespace=namespace, parameters=shared, **kwargs)


def _model_pipeline(model: str) -> Pipeline:
    """Score one model on the test split, log it to MLflow and compute its metrics."""
    return _namespaced(
        [
            Node(
                nodes.score_test_set,
                inputs=["model", "test_set", COLUMNS],
                outputs=["test_probabilities", "mlflow_model"],
                name="score_test_set_node",
            ),
            Node(
                nodes.compute_test_metrics,
                inputs=[
                    "test_probabilities",
                    "test_set",
                    COLUMNS,
                    "params:evaluation.metrics",
                    CAMPAIGN,
                ],
                outputs=["metrics", "test_metrics"],
                name="compute_test_metrics_node",
            ),
        ],
        namespace=model,
        inputs={"test_set"},
    )


def _tuning_report(family: str) -> Pipeline:
    """Log one family's Optuna trials as nested runs; plot its history and importances."""
    return _namespaced(
        [
            Node(
                nodes.prepare_trials,
                inputs=TRIALS_DATASET,
                outputs=["optuna_trials_checked", "optuna_trial_runs"],
                name="log_optuna_trials_node",
            ),
            Node(
                _bind(plots.plot_optimisation_history, study_name=family),
                inputs={"trials": "optuna_trials_checked", "params": "params:evaluation.optuna"},
                outputs="optuna_history_plot",
                name="plot_optuna_history_node",
            ),
            Node(
                nodes.optuna_param_importances,
                inputs=["optuna_trials_checked", "params:evaluation.optuna"],
                outputs="optuna_param_importances",
                name="optuna_param_importances_node",
            ),
            Node(
                _bind(plots.plot_param_importances, study_name=family),
                inputs={"importances": "optuna_param_importances"},
                outputs="optuna_param_importances_plot",
                name="plot_optuna_param_importances_node",
            ),
        ],
        namespace=family,
    )


def create_pipeline(
    models: list[str] | None = None, tuned_families: list[str] | None = None, **kwargs: Any
) -> Pipeline:
    """The evaluation pipeline for ``models`` and ``tuned_families`` (default: from conf/)."""
    conf = configured_evaluation() if models is None or tuned_families is None else {}
    models = list(models if models is not None else conf.get("models", DEFAULT_MODELS))
    families = list(
        tuned_families
        if tuned_families is not None
        else conf.get("tuned_families", DEFAULT_TUNED_FAMILIES)
    )
    if not models:
        raise ValueError("parameters_evaluation.yml: evaluation.models is empty")

    per_model = sum((_model_pipeline(model) for model in models), Pipeline([]))
    tuning = sum((_tuning_report(family) for family in families), Pipeline([]))
    summary = Pipeline(
        [
            Node(
                nodes.collect_test_scores,
                inputs={"test_set": "test_set", "columns": COLUMNS}
                | {model: f"{model}.test_probabilities" for model in models},
                outputs="test_scores",
                name="collect_test_scores_node",
            ),
            Node(
                nodes.compare_models,
                inputs={
                    "models": "params:evaluation.models",
                    "champion_params": "params:evaluation.champion",
                }
                | {model: f"{model}.metrics" for model in models},
                outputs=["model_comparison", "model_comparison_markdown"],
                name="compare_models_node",
            ),
            Node(
                nodes.select_champion,
                inputs=["model_comparison", "params:evaluation.champion"],
                outputs=["champion", "champion_test_metrics"],
                name="select_champion_node",
            ),
            Node(
                nodes.champion_estimator,
                inputs={"champion": "champion"} | {model: f"{model}.model" for model in models},
                outputs="champion_model",
                name="champion_model_node",
            ),
            Node(
                nodes.campaign_view,
                inputs=["test_scores", "champion", COLUMNS, CAMPAIGN],
                outputs=["contact_threshold", "campaign_summary", "campaign_metrics"],
                name="campaign_view_node",
            ),
            Node(
                nodes.permutation_feature_importance,
                inputs=[
                    "champion_model",
                    "test_set",
                    COLUMNS,
                    "params:evaluation.feature_importance",
                ],
                outputs="champion_feature_importance",
                name="champion_feature_importance_node",
            ),
            Node(
                plots.plot_roc_curves,
                inputs=["test_scores", COLUMNS],
                outputs="test_roc_curves_plot",
                name="plot_roc_curves_node",
            ),
            Node(
                plots.plot_precision_recall_curves,
                inputs=["test_scores", COLUMNS],
                outputs="test_precision_recall_plot",
                name="plot_precision_recall_curves_node",
            ),
            Node(
                plots.plot_calibration,
                inputs=["test_scores", COLUMNS, "params:evaluation.calibration_bins"],
                outputs="test_calibration_plot",
                name="plot_calibration_node",
            ),
            Node(
                plots.plot_gains_and_lift,
                inputs=["test_scores", COLUMNS],
                outputs="test_gains_lift_plot",
                name="plot_gains_and_lift_node",
            ),
            Node(
                plots.plot_profit_curve,
                inputs=["test_scores", "champion", COLUMNS, CAMPAIGN],
                outputs="profit_curve_plot",
                name="plot_profit_curve_node",
            ),
            Node(
                plots.plot_feature_importance,
                inputs=[
                    "champion_feature_importance",
                    "champion",
                    "params:evaluation.feature_importance",
                ],
                outputs="champion_feature_importance_plot",
                name="plot_feature_importance_node",
            ),
        ]
    )
    # Every file output is an input of the registration; the MLflow-only outputs (metrics, logged
    # models, trial runs) come from nodes whose other outputs lead here: so every node precedes it.
    before_registration = [
        "model_comparison",
        "model_comparison_markdown",
        "contact_threshold",
        "campaign_summary",
        "champion_feature_importance",
        *PLOTS,
        *(f"{family}.{name}" for family in families for name in TUNING_PLOTS),
    ]
    register = Pipeline(
        [
            Node(
                nodes.champion_for_registry,
                inputs={
                    "estimator": "champion_model",
                    "champion": "champion",
                    "test_set": "test_set",
                    "columns": COLUMNS,
                }
                | {name.replace(".", "__"): name for name in before_registration},
                outputs="champion_model_registry",
                name="register_champion_node",
            )
        ]
    )
    return per_model + tuning + summary + register
