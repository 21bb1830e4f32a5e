"""``data_science``: the stratified split, then one training template instantiated per family.

``FAMILIES`` is the one list of model families. Each is a namespace (``xgboost``, ...) whose
estimator, kwargs and preprocessing recipe live under the same key in
``parameters_data_science.yml``. Adding a family (say LightGBM) = its name here + its block there
(+ a recipe in ``preprocessing.py`` if no existing one fits).
"""

from kedro.pipeline import Node, Pipeline

from cross_sell.pipelines import modular

from .nodes import apply_best_params, fit_model, split_model_input

FAMILIES = ("xgboost", "xgboost_native", "hist_gradient_boosting", "logistic_regression")
"""The model families, each trained by ``create_training_pipeline`` under its own namespace."""


def create_split_pipeline() -> Pipeline:
    """``model_input_table`` -> stratified ``train_set`` / ``validation_set`` / ``test_set``."""
    return Pipeline(
        [
            Node(
                func=split_model_input,
                inputs=["model_input_table", "params:columns", "params:data_science"],
                outputs=["train_set", "validation_set", "test_set"],
                name="split_model_input_node",
            )
        ]
    )


def create_training_pipeline(
    namespace: str, family: str | None = None, best_params: str | None = None
) -> Pipeline:
    """The training template: fit one family on ``train_set`` into ``<namespace>.model``.

    Args:
        namespace: prefix of the output ``<namespace>.model`` and of the node names.
        family: key of the family's block in the parameters (default: ``namespace``).
        best_params: name of a dataset of tuned hyperparameters that override the family's
            kwargs (the ``<family>_tuned`` refits), or ``None``.
    """
    family = family or namespace
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
        )
    ]
    inputs = {"train_set", "validation_set"}
    if best_params:
        nodes.insert(
            0,
            Node(
                func=apply_best_params,
                inputs=["params:family", best_params],
                outputs="family_config",
                name="apply_best_params_node",
            ),
        )
        inputs.add(best_params)
    return Pipeline(
        nodes,
        namespace=namespace,
        inputs=inputs,
        parameters={
            "params:family": f"params:{family}",
            "params:columns": "params:columns",
        },
    )


def create_family_pipeline(family: str) -> Pipeline:
    """``kedro run --pipelines=<family>``: the split and that family's training."""
    return modular(create_split_pipeline() + create_training_pipeline(family), "data_science")


def create_pipeline(**kwargs) -> Pipeline:
    """The split and every family's training."""
    return modular(
        sum((create_training_pipeline(f) for f in FAMILIES), create_split_pipeline()),
        "data_science",
    )
