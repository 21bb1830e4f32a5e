"""``inference``: validate, clean and score new customers; the servable MLflow model."""

from .pipeline import create_pipeline, create_scoring_pipeline, create_serving_pipeline

__all__ = ["create_pipeline", "create_scoring_pipeline", "create_serving_pipeline"]
