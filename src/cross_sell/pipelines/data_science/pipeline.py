"""``data_science``: split, then one training template instantiated per model family.

Each family is a namespace (``xgboost``, ``random_forest``, ``logistic_regression``) whose
estimator, kwargs and preprocessing recipe live under the same key in
``parameters_data_science.yml``. Adding a family (say LightGBM) = a block in that file + its
name in ``data_science.families`` (+ a recipe in ``preprocessing.py`` if no existing one fits).
"""

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from cross_sell.project_conf import configured_list

from .nodes import apply_best_params, fit_model, split_model_input, validate_model

MODEL_FAMILIES = ("xgboost", "random_forest", "logistic_regression")
"""Default of ``data_science.families`` (used when conf/ cannot be read; a test keeps them equal)."""


def model_families() -> tuple[str, ...]:
    """The families to train: ``data_science.families`` in conf/, read at registration."""
    return configured_list("data_science", "families", MODEL_FAMILIES)


def create_split_pipeline() -> Pipeline:
    """``model_input_table`` -> stratified ``train_set`` / ``validation_set`` / ``test_set``."""
    return Pipeline(
        [
            Node(
                func=split_model_input,
                inputs=[
                    "model_input_table",
                    "params:data_science.columns",
                    "params:data_science.split",
                ],
                outputs=["train_set", "validation_set", "test_set"],
                name="split_model_input_node",
            )
        ]
    )


def create_training_pipeline(
    namespace: str, family: str | None = None, best_params: str | None = None
) -> Pipeline:
    """The training template: fit one family on ``train_set``, score it on ``validation_set``.

    Args:
        namespace: prefix of the outputs ``<namespace>.model``, ``<namespace>.validation_metrics``
            and ``<namespace>.roc_curve``, and of the node names.
        family: key of the family's block in the parameters (default: ``namespace``).
        best_params: name of a dataset of tuned hyperparameters that override the family's
            kwargs (the ``<family>_tuned`` refits), or ``None``.
    """
    family = family or namespace
    label_metrics = update_wrapper(partial(validate_model, label=namespace), validate_model)
    nodes = [
        Node(
            func=fit_model,
            inputs=[
                "train_set",
                "validation_set",
                "family_config" if best_params else "params:family",
                "params:columns",
            ],
            outputs="model",
            name="fit_model_node",
        ),
        Node(
            func=label_metrics,
            inputs=["model", "validation_set", "params:columns"],
            outputs=["validation_metrics", "roc_curve"],
            name="validate_model_node",
        ),
    ]
    inputs = {"train_set": "train_set", "validation_set": "validation_set"}
    if best_params:
        nodes.insert(
            0,
            Node(
                func=apply_best_params,
                inputs=["params:family", "best_params"],
                outputs="family_config",
                name="apply_best_params_node",
            ),
        )
        inputs["best_params"] = best_params
    return Pipeline(
        nodes,
        namespace=namespace,
        inputs=inputs,
        parameters={
            "params:family": f"params:{family}",
            "params:columns": "params:data_science.columns",
        },
    )


def create_named_pipelines() -> dict[str, Pipeline]:
    """One pipeline per family (``kedro run --pipelines=xgboost``): the split + its training."""
    return {
        family: create_split_pipeline() + create_training_pipeline(family)
        for family in model_families()
    }


def create_pipeline(**kwargs) -> Pipeline:
    """The whole modelling job: split, every family, Optuna tuning and the tuned refits."""
    # Imported here: the tuning package builds on this module's template.
    from cross_sell.pipelines.tuning.pipeline import (  # noqa: PLC0415
        create_pipeline as create_tuning_pipeline,
    )

    return (
        sum(
            (create_training_pipeline(family) for family in model_families()),
            create_split_pipeline(),
        )
        + create_tuning_pipeline()
    )
