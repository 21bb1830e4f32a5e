"""The project's pipelines, one package each, and the one helper they share."""

from kedro.pipeline import Pipeline


def modular(pipeline: Pipeline, namespace: str) -> Pipeline:
    """``pipeline`` as the modular pipeline ``namespace`` (kedro-viz collapses it into one box).

    Only node names take the namespace: datasets keep their catalog names.
    """
    return Pipeline(pipeline, namespace=namespace, prefix_datasets_with_namespace=False)
