"""``data_science``: stratified split, then one training template per model family."""

from .pipeline import create_named_pipelines, create_pipeline

__all__ = ["create_named_pipelines", "create_pipeline"]
