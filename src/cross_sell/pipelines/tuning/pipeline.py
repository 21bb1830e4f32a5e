"""``tuning``: an Optuna study per tuned family, its plots, and the ``<family>_tuned`` refit.

The study node sits in the family's namespace (``xgboost.tune_hyperparameters_node``) and writes
``<family>.best_params``; the refit is the ``data_science`` training template under the namespace
``<family>_tuned``, with ``<family>.best_params`` overriding the family's kwargs, so tuned and
untuned models sit side by side.
"""

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from cross_sell.pipelines import modular
from cross_sell.pipelines.data_science.pipeline import (
    create_split_pipeline,
    create_training_pipeline,
)

from .nodes import plot_study, tune_hyperparameters

TUNED_FAMILIES = ("xgboost",)
"""The families with a study (a block under ``tuning`` in parameters_tuning.yml each)."""


def create_study_pipeline(family: str) -> Pipeline:
    """Tune ``family`` (search space under ``tuning.<family>``) and plot its study."""
    tune = update_wrapper(partial(tune_hyperparameters, family_name=family), tune_hyperparameters)
    return Pipeline(
        [
            Node(
                func=tune,
                inputs=[
                    "train_set",
                    "validation_set",
                    "params:family",
                    "params:columns",
                    "params:tuning",
                ],
                outputs=["best_params", "study"],
                name="tune_hyperparameters_node",
            ),
            Node(
                func=plot_study,
                inputs=["study", "params:tuning"],
                outputs=["optuna_history_plot", "optuna_importances_plot"],
                name="plot_study_node",
            ),
        ],
        namespace=family,
        inputs={"train_set", "validation_set"},
        parameters={
            "params:family": f"params:{family}",
            "params:columns": "params:columns",
            "params:tuning": "params:tuning",
        },
    )


def create_tuned_pipeline(family: str) -> Pipeline:
    """The study of ``family`` and the refit ``<family>_tuned`` with its best parameters."""
    return create_study_pipeline(family) + create_training_pipeline(
        f"{family}_tuned", family=family, best_params=f"{family}.best_params"
    )


def create_tuned_family_pipeline(family: str) -> Pipeline:
    """``kedro run --pipelines=<family>_tuned``: the split, the study and the refit."""
    return modular(create_split_pipeline(), "data_science") + modular(
        create_tuned_pipeline(family), "tuning"
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Every tuned family's study and refit (after ``data_science``'s split)."""
    return modular(sum((create_tuned_pipeline(f) for f in TUNED_FAMILIES), Pipeline([])), "tuning")
