"""The ``synthetic_data`` pipeline: writes Kaggle-format ``raw_train`` and ``raw_test``.

Run it explicitly (``kedro run --pipelines synthetic_data``); it is not part of ``__default__``.
"""

from kedro.pipeline import Node, Pipeline

from .nodes import generate_test, generate_train


def create_pipeline(**kwargs) -> Pipeline:
    """Two independent nodes: the train file (with ``Response``) and the test file."""
    return Pipeline(
        [
            Node(
                generate_train,
                inputs="params:synthetic_data",
                outputs="raw_train",
                name="generate_raw_train_node",
            ),
            Node(
                generate_test,
                inputs="params:synthetic_data",
                outputs="raw_test",
                name="generate_raw_test_node",
            ),
        ]
    )
