"""``tuning``: Optuna studies per model family, then the ``<family>_tuned`` refits."""

from .pipeline import create_named_pipelines, create_pipeline

__all__ = ["create_named_pipelines", "create_pipeline"]
