"""``data_engineering``: validate the raw Kaggle table, then clean it into the model input table."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
