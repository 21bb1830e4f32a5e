"""Project pipelines."""

from kedro.pipeline import Pipeline

from cross_sell.pipelines import (
    data_engineering,
    data_science,
    evaluation,
    inference,
    spark_inference,
    synthetic_data,
    tuning,
)
from cross_sell.pipelines.data_science.pipeline import FAMILIES, create_family_pipeline
from cross_sell.pipelines.inference.serving import create_training_ml_pipeline
from cross_sell.pipelines.tuning.pipeline import TUNED_FAMILIES, create_tuned_family_pipeline


def register_pipelines() -> dict[str, Pipeline]:
    """Every pipeline, one per model family (``xgboost``, ``xgboost_tuned``, ...), and ``__default__``.

    ``__default__`` (data_engineering + data_science + evaluation), ``tuned`` (the same with the
    Optuna study and the tuned refits in the comparison) and ``evaluation`` are kedro-mlflow
    ``PipelineML``s: at the end of a run the servable raw-rows model is logged and registered. They are registered as they are: summing
    a ``PipelineML`` with other pipelines drops the binding. The generator (``synthetic_data``)
    only runs when asked, so it never runs over real files.
    """
    pipelines = {
        "synthetic_data": synthetic_data.create_pipeline(),
        "data_engineering": data_engineering.create_pipeline(),
        "data_science": data_science.create_pipeline(),
        "tuning": tuning.create_pipeline(),
        "inference": inference.create_pipeline(),
        "spark_inference": spark_inference.create_pipeline(),  # kedro run --env spark
    }
    pipelines |= {family: create_family_pipeline(family) for family in FAMILIES}
    pipelines |= {f"{f}_tuned": create_tuned_family_pipeline(f) for f in TUNED_FAMILIES}
    training = pipelines["data_engineering"] + pipelines["data_science"]
    pipelines["evaluation"] = create_training_ml_pipeline(evaluation.create_pipeline())
    pipelines["__default__"] = create_training_ml_pipeline(training + evaluation.create_pipeline())
    pipelines["tuned"] = create_training_ml_pipeline(
        training + pipelines["tuning"] + evaluation.create_pipeline(tuned=True)
    )
    return pipelines
