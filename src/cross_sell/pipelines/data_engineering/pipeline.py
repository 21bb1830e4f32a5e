"""``data_engineering``: ``raw_train`` -> validate -> clean -> ``model_input_table``."""

from kedro.pipeline import Node, Pipeline

from cross_sell.pipelines import modular

from .nodes import clean_raw_table, validate_raw_train


def create_pipeline(**kwargs) -> Pipeline:
    """Validate the raw training file against the declared schema, then clean it row by row.

    Validation fails the run before ``model_input_table`` is written, so a bad raw file leaves
    the previous model input table untouched.
    """
    nodes = [
        Node(
            func=validate_raw_train,
            inputs=["raw_train", "params:data_engineering.max_error_examples"],
            outputs="validated_raw_train",
            name="validate_raw_train_node",
        ),
        Node(
            func=clean_raw_table,
            inputs="validated_raw_train",
            outputs="model_input_table",
            name="clean_raw_table_node",
        ),
    ]
    return modular(Pipeline(nodes), "data_engineering")
