"""Project pipelines."""

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

# `kedro run` (no --pipelines) runs these, in this order of dependency.
DEFAULT_PIPELINES = ("data_engineering", "data_science", "evaluation")


def register_pipelines() -> dict[str, Pipeline]:
    """Register every pipeline under ``pipelines/`` plus ``__default__``.

    ``__default__`` is the training job on data already in ``data/01_raw``; the
    generator (``synthetic_data``) is run explicitly so it never runs over real files.
    """
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(
        (pipelines[name] for name in DEFAULT_PIPELINES if name in pipelines), Pipeline([])
    )
    return pipelines
