"""``inference``: score raw Kaggle rows with the registered ``cross_sell@champion``.

Two pipelines:

- ``create_serving_pipeline()``: the servable model's own pipeline (``serving.py`` logs it with
  every training run): a request of raw rows -> strict validation -> clean -> score with
  ``champion_model`` (the champion with its contact threshold) -> ``inference_scores``
  (id, probability, contact).
- ``create_pipeline()`` (registered as ``inference``), the batch job on ``raw_test``: invalid rows
  are split off, and the valid ones are scored by the registered model itself
  (``registered_champion``), so batch scoring and ``mlflow models serve`` are one model::

      raw_test -> split_rejected_rows -> found_rejects --------------------+
                        |                                                  v
               inference_candidate_rows -> registered_champion.predict -> drift check
               -> inference_rejects (saved, then read back) -> check_reject_share -> rank
               -> predictions

  Two gates stand before ``data/07_model_output``: the drift check (``monitoring``,
  docs/monitoring.md) compares the batch with the reference of the scoring version
  (``champion_reference``), and ``monitoring.on_drift: stop`` ends the run before anything is
  written there; the reject-share check runs once the rejects file is written, so a refused file
  leaves its list of bad rows, and no predictions.
"""

from kedro.pipeline import Node, Pipeline

from cross_sell.pipelines import modular
from cross_sell.pipelines.data_engineering.nodes import clean_raw_table
from cross_sell.pipelines.monitoring import create_drift_check_nodes

from .nodes import (
    check_reject_share,
    predict_with_registered_model,
    rank_predictions,
    score_customers,
    split_rejected_rows,
    validate_scoring_request,
)

SCORING_REQUEST = "scoring_request"
"""The free input of the served model: a DataFrame of raw Kaggle rows (no ``Response``)."""


def create_serving_pipeline() -> Pipeline:
    """The served model: ``scoring_request`` (raw rows) -> ``inference_scores``.

    Any invalid row rejects the whole request with a clear error (HTTP 400 when served).
    """
    return Pipeline(
        [
            Node(
                func=validate_scoring_request,
                inputs=SCORING_REQUEST,
                outputs="request_rows",
                name="validate_scoring_request_node",
            ),
            Node(
                func=clean_raw_table,
                inputs="request_rows",
                outputs="request_features",
                name="clean_request_rows_node",
            ),
            Node(
                func=score_customers,
                inputs=["request_features", "champion_model", "request_rows"],
                outputs="inference_scores",
                name="score_customers_node",
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Batch inference: ``raw_test`` -> ``predictions`` (+ ``inference_rejects``)."""
    nodes = [
        Node(
            func=split_rejected_rows,
            inputs="raw_test",
            outputs=["inference_candidate_rows", "found_rejects"],
            name="split_rejected_rows_node",
        ),
        Node(
            func=predict_with_registered_model,
            inputs=["inference_candidate_rows", "registered_champion"],
            outputs="batch_scores",
            name="predict_node",
        ),
        *create_drift_check_nodes(),
        Node(
            func=check_reject_share,
            inputs=[
                "inference_rejects",
                "inference_candidate_rows",
                "params:inference",
                "monitored_scores",
            ],
            outputs="accepted_scores",
            name="check_reject_share_node",
        ),
        Node(
            func=rank_predictions,
            inputs="accepted_scores",
            outputs="predictions",
            name="rank_predictions_node",
        ),
    ]
    return modular(Pipeline(nodes), "inference")
