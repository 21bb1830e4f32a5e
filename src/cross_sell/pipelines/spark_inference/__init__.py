"""``spark_inference`` pipeline: batch scoring on Spark (``kedro run --env spark``)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
