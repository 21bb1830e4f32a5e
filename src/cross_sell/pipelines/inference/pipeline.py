"""``inference``: raw Kaggle rows -> validate -> clean -> score with the champion.

Two pipelines share one scoring core (``create_scoring_pipeline``: clean -> score):

- ``create_pipeline()`` (registered as ``inference``), the batch job on ``raw_test``::

      raw_test -> split_rejected_rows -> inference_rejects (saved: rejects.csv)
                          |                      |  (read back)
                          v                      v
                 inference_candidate_rows -> check_reject_share -> inference_valid_rows
                 -> clean -> score (champion_model, contact_threshold) -> rank -> predictions

  The check reads the rejects back from their file, so a run that fails on too many invalid rows
  has written them first; predictions are written only when the check passes.

- ``create_serving_pipeline()``, the model served by MLflow (see ``serving.py``): a request of
  raw rows -> strict validation -> the same core -> ``inference_scores`` (id, probability,
  contact). Its only free input is ``scoring_request``; ``champion_model`` and
  ``contact_threshold`` are training outputs, logged with it as artifacts.
"""

from kedro.pipeline import Node, Pipeline

from cross_sell.pipelines.data_engineering.nodes import clean_raw_table

from .nodes import (
    check_reject_share,
    rank_predictions,
    score_customers,
    split_rejected_rows,
    validate_scoring_request,
)

SCORING_REQUEST = "scoring_request"
"""The free input of the served model: a DataFrame of raw Kaggle rows (no ``Response``)."""
SCORES = "inference_scores"
"""The served model's output: ``id``, ``probability``, ``contact``."""


def create_scoring_pipeline() -> Pipeline:
    """The core shared by batch and serving: valid raw rows -> clean -> scored rows."""
    return Pipeline(
        [
            Node(
                func=clean_raw_table,
                inputs="inference_valid_rows",
                outputs="inference_features",
                name="clean_inference_rows_node",
            ),
            Node(
                func=score_customers,
                inputs=["inference_features", "champion_model", "contact_threshold"],
                outputs=SCORES,
                name="score_customers_node",
            ),
        ]
    )


def create_serving_pipeline() -> Pipeline:
    """The served model: ``scoring_request`` (raw rows) -> ``inference_scores``.

    Any invalid row rejects the whole request with a clear error (HTTP 400 when served).
    """
    validate = Pipeline(
        [
            Node(
                func=validate_scoring_request,
                inputs=SCORING_REQUEST,
                outputs="inference_valid_rows",
                name="validate_scoring_request_node",
            )
        ]
    )
    return validate + create_scoring_pipeline()


def create_pipeline(**kwargs) -> Pipeline:
    """Batch inference: ``raw_test`` -> ``predictions`` (+ ``inference_rejects``)."""
    split = Pipeline(
        [
            Node(
                func=split_rejected_rows,
                inputs="raw_test",
                outputs=["inference_candidate_rows", "inference_rejects"],
                name="split_rejected_rows_node",
            ),
            Node(
                func=check_reject_share,
                inputs=[
                    "inference_rejects",
                    "inference_candidate_rows",
                    "params:inference.max_reject_share",
                ],
                outputs="inference_valid_rows",
                name="check_reject_share_node",
            ),
        ]
    )
    rank = Pipeline(
        [
            Node(
                func=rank_predictions,
                inputs=SCORES,
                outputs="predictions",
                name="rank_predictions_node",
            )
        ]
    )
    return split + create_scoring_pipeline() + rank
