"""``spark_inference``: the batch ``inference`` job on Spark, for customer bases beyond one machine.

Run it in the ``spark`` configuration environment, which declares its datasets (kedro-datasets'
Spark datasets) and the session they start (``conf/spark/globals.yml``: ``local[2]`` by default, a
cluster master, or ``SPARK_REMOTE`` for Spark Connect)::

    kedro run --env spark --pipelines=spark_inference

::

    spark_raw_scoring (CSV file(s), every value as text)
        -> split_rejected_rows_spark  (per partition: inference.nodes.split_rejected_rows)
        -> spark_inference_rejects (parquet, saved, then read back)
        -> check_reject_share_spark (inference.max_reject_share)
        -> score_with_registered_model_spark (mlflow.pyfunc.spark_udf of cross_sell@champion)
        -> spark_predictions (parquet: id, probability, contact, reason_1..3; a partition per day,
           scored_on=YYYY-MM-DD, which a rerun the same day replaces)

The rules (schema, cleaning, threshold) are the pandas path's functions and the registered
model itself: this pipeline only distributes them.
"""

from kedro.pipeline import Node, Pipeline

from cross_sell.pipelines import modular

from .nodes import (
    check_reject_share_spark,
    score_with_registered_model_spark,
    split_rejected_rows_spark,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Spark batch inference: ``spark_raw_scoring`` -> ``spark_predictions`` (+ rejects)."""
    nodes = [
        Node(
            func=split_rejected_rows_spark,
            inputs=["spark_raw_scoring", "params:spark_inference"],
            outputs=["spark_candidate_rows", "spark_inference_rejects"],
            name="split_rejected_rows_node",
        ),
        Node(
            func=check_reject_share_spark,
            inputs=["spark_inference_rejects", "spark_candidate_rows", "params:inference"],
            outputs="spark_valid_rows",
            name="check_reject_share_node",
        ),
        Node(
            func=score_with_registered_model_spark,
            inputs=["spark_valid_rows", "params:spark_inference"],
            outputs="spark_predictions",
            name="predict_node",
        ),
    ]
    return modular(Pipeline(nodes), "spark_inference")
