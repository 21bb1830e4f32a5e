"""Generator of synthetic Kaggle-format cross-sell data (``raw_train`` / ``raw_test``)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
