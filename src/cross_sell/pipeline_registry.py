"""Project pipelines."""

import importlib
from collections.abc import Collection
from importlib.resources import files

from kedro.framework.project import pipelines as project_pipelines
from kedro.pipeline import Pipeline

from cross_sell.pipelines.inference.serving import create_training_ml_pipeline

PIPELINES_PACKAGE = "cross_sell.pipelines"
# `kedro run` (no --pipelines) runs these, in this order of dependency.
DEFAULT_PIPELINES = ("data_engineering", "data_science", "evaluation")
# Packages that also register pipelines not named after a directory (`xgboost`,
# `random_forest_tuned`, ...) through a `create_named_pipelines()` function.
NAMED_PIPELINE_PACKAGES = ("data_science", "tuning")


def _packages_to_load(requested: Collection[str] | None) -> list[str]:
    """The pipeline packages (directories of ``pipelines/``) that serve ``requested`` names.

    Kedro 1.7 loads pipelines lazily: for ``kedro run --pipelines=X`` it asks the registry for
    X only (``find_pipelines`` then imports ``pipelines/X/`` alone and fails on a name with no
    directory, such as a model family). ``None`` or ``__default__`` means every package.
    """
    root = files(PIPELINES_PACKAGE)
    packages = sorted(
        entry.name
        for entry in root.iterdir()
        if entry.is_dir() and (entry / "__init__.py").is_file()
    )
    if requested is None or "__default__" in requested:
        return packages
    wanted = {name for name in requested if name in packages}
    if any(name not in packages for name in requested):
        wanted |= set(NAMED_PIPELINE_PACKAGES) & set(packages)
    return sorted(wanted)


def register_pipelines() -> dict[str, Pipeline]:
    """Register every pipeline package, the per-family pipelines and ``__default__``.

    ``__default__`` is the training job on data already in ``data/01_raw``; the
    generator (``synthetic_data``) is run explicitly so it never runs over real files.
    """
    # Set by `kedro run --pipelines` / KedroSession.run before this is called; no public getter.
    requested = getattr(project_pipelines, "_requested_pipelines", None)
    pipelines: dict[str, Pipeline] = {}
    for package in _packages_to_load(requested):
        module = importlib.import_module(f"{PIPELINES_PACKAGE}.{package}")
        if not hasattr(module, "create_pipeline"):
            raise ImportError(f"'{module.__name__}' has no create_pipeline() function")
        pipelines[package] = module.create_pipeline()
        if hasattr(module, "create_named_pipelines"):
            pipelines.update(module.create_named_pipelines())
    if requested is None or "__default__" in requested:
        training = sum(
            (pipelines[name] for name in DEFAULT_PIPELINES if name in pipelines), Pipeline([])
        )
        # A PipelineML: at the end of the run kedro-mlflow logs the servable raw-rows model.
        # It must be registered as is: summing it with other pipelines drops the binding.
        pipelines["__default__"] = create_training_ml_pipeline(training)
    return pipelines
