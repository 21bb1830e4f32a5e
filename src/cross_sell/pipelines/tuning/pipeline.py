"""``tuning``: an Optuna study per tuned family, then its ``<family>_tuned`` refit.

The study node sits in the family's namespace (``xgboost.tune_hyperparameters_node``) and writes
``<family>.best_params`` and ``<family>.optuna_trials``; the refit is the ``data_science``
training template under the namespace ``<family>_tuned``, with ``<family>.best_params``
overriding the family's kwargs, so tuned and untuned models sit side by side.
"""

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from cross_sell.pipelines.data_science.pipeline import (
    create_split_pipeline,
    create_training_pipeline,
)
from cross_sell.project_conf import configured_list

from .nodes import tune_hyperparameters

TUNED_FAMILIES = ("xgboost", "random_forest")
"""Default of ``tuning.families`` (used when conf/ cannot be read; a test keeps them equal)."""


def tuned_families() -> tuple[str, ...]:
    """The families to tune: ``tuning.families`` in conf/, read at registration."""
    return configured_list("tuning", "families", TUNED_FAMILIES)


def create_study_pipeline(family: str) -> Pipeline:
    """Tune ``family`` (search space under ``tuning.<family>`` in parameters_tuning.yml)."""
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
                outputs=["best_params", "optuna_trials"],
                name="tune_hyperparameters_node",
            )
        ],
        namespace=family,
        inputs={"train_set", "validation_set"},
        parameters={
            "params:family": f"params:{family}",
            "params:columns": "params:data_science.columns",
            "params:tuning": "params:tuning",
        },
    )


def create_tuned_pipeline(family: str) -> Pipeline:
    """The study of ``family`` and the refit ``<family>_tuned`` with its best parameters."""
    return create_study_pipeline(family) + create_training_pipeline(
        f"{family}_tuned", family=family, best_params=f"{family}.best_params"
    )


def create_named_pipelines() -> dict[str, Pipeline]:
    """``kedro run --pipelines=xgboost_tuned``: the split, the study and the refit."""
    return {
        f"{family}_tuned": create_split_pipeline() + create_tuned_pipeline(family)
        for family in tuned_families()
    }


def create_pipeline(**kwargs) -> Pipeline:
    """The split, then every tuned family's study and refit."""
    return sum(
        (create_tuned_pipeline(family) for family in tuned_families()), create_split_pipeline()
    )
