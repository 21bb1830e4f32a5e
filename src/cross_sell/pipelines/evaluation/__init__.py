"""Evaluation of every trained model on the untouched test split; champion and campaign view."""

from cross_sell.pipelines.evaluation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
