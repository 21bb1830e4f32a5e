"""Pipeline-level tests: data_science (with tuning) through the real catalog, and the registry."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from kedro.framework.project import pipelines as project_pipelines
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner
from matplotlib.figure import Figure
from sklearn.pipeline import Pipeline as SklearnPipeline

from cross_sell.pipeline_registry import _packages_to_load, register_pipelines
from cross_sell.pipelines.data_science.pipeline import (
    MODEL_FAMILIES,
    create_named_pipelines,
    create_pipeline,
)
from cross_sell.pipelines.tuning.pipeline import TUNED_FAMILIES
from cross_sell.project_conf import configured_parameters

from .support import project_catalog

TRAINED = (*MODEL_FAMILIES, *(f"{family}_tuned" for family in TUNED_FAMILIES))


def _catalog(tmp_path, model_input_table: pd.DataFrame, parameters: dict) -> DataCatalog:
    """The project's data_science catalog entries with their files moved under ``tmp_path``."""
    config = {}
    for name, entry in project_catalog().items():
        if name in ("train_set", "validation_set", "test_set") or name.startswith("{namespace}."):
            filepath = entry["filepath"]
            assert filepath.startswith("data/")
            config[name] = {**entry, "filepath": str(tmp_path / filepath)}
    catalog = DataCatalog.from_config(config)
    catalog["model_input_table"] = model_input_table

    def add(name: str, value) -> None:  # as KedroContext does: params:a, params:a.b, ...
        catalog[f"params:{name}"] = value
        if isinstance(value, dict):
            for key, inner in value.items():
                add(f"{name}.{key}", inner)

    for name, value in parameters.items():
        add(name, value)
    return catalog


@pytest.fixture(scope="module")
def run_outputs(tmp_path_factory, model_input_table, parameters):
    tmp_path = tmp_path_factory.mktemp("project")
    catalog = _catalog(tmp_path, model_input_table, parameters)
    SequentialRunner().run(create_pipeline(), catalog)
    return tmp_path, catalog


def test_data_science_writes_every_output_through_the_catalog(run_outputs, model_input_table):
    tmp_path, catalog = run_outputs
    splits = [catalog.load(name) for name in ("train_set", "validation_set", "test_set")]
    assert sum(len(part) for part in splits) == len(model_input_table)
    assert (tmp_path / "data/05_model_input/test_set.parquet").is_file()
    for namespace in TRAINED:
        model = catalog.load(f"{namespace}.model")
        assert isinstance(model, SklearnPipeline)
        assert len(list((tmp_path / f"data/06_models/{namespace}.pkl").iterdir())) == 1  # versioned
        metrics = json.loads(
            (tmp_path / f"data/08_reporting/{namespace}/validation_metrics.json").read_text()
        )
        assert metrics == catalog.load(f"{namespace}.validation_metrics")
        assert metrics["roc_auc"] > 0.75
        assert (tmp_path / f"data/08_reporting/{namespace}/validation_roc_curve.png").is_dir()
    for family in TUNED_FAMILIES:
        best = catalog.load(f"{family}.best_params")
        assert set(best) == set(catalog.load("params:tuning")[family]["search_space"])
        trials = catalog.load(f"{family}.optuna_trials")
        assert list(trials.columns[:3]) == ["number", "state", "value"]
        assert all(column.startswith("params_") for column in trials.columns[3:])


def test_tuned_xgboost_is_not_worse_than_untuned_on_validation(run_outputs):
    _, catalog = run_outputs
    tuned = catalog.load("xgboost_tuned.validation_metrics")["roc_auc"]
    assert tuned >= catalog.load("xgboost.validation_metrics")["roc_auc"]
    trials = catalog.load("xgboost.optuna_trials")
    assert tuned == pytest.approx(trials["value"].max())


def test_nothing_in_data_science_or_tuning_reads_the_test_split():
    assert "test_set" in create_pipeline().outputs()
    assert all("test_set" not in node.inputs for node in create_pipeline().nodes)


def test_each_family_pipeline_needs_only_the_model_input_table():
    named = create_named_pipelines()
    assert set(named) == set(MODEL_FAMILIES)
    for family, pipeline in named.items():
        assert pipeline.inputs() == {
            "model_input_table",
            f"params:{family}",
            "params:data_science.columns",
            "params:data_science.split",
        }
        assert {f"{family}.model", f"{family}.validation_metrics", f"{family}.roc_curve"} <= (
            pipeline.all_outputs()
        )


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (None, {"data_science", "tuning", "xgboost", "random_forest_tuned", "__default__"}),
        (["xgboost"], {"xgboost", "logistic_regression", "xgboost_tuned", "data_science"}),
        (["tuning"], {"tuning", "xgboost_tuned", "random_forest_tuned"}),
        (["data_science"], {"data_science", "xgboost", "random_forest", "logistic_regression"}),
    ],
)
def test_registry_serves_directory_and_family_pipelines(requested, expected):
    """Kedro 1.7 asks the registry for the ``--pipelines`` names only (lazy loading)."""
    if requested is None:
        packages = _packages_to_load(None)
        assert {"data_science", "tuning"} <= set(packages)
        assert _packages_to_load(["__default__"]) == packages
        return
    project_pipelines.set_requested(requested)
    try:
        registered = register_pipelines()
    finally:
        project_pipelines.set_requested(None)
    assert expected <= set(registered)
    assert "synthetic_data" not in registered


def test_data_science_pipeline_holds_split_families_tuning_and_refits():
    names = {node.name for node in create_pipeline().nodes}
    assert "split_model_input_node" in names
    for namespace in TRAINED:
        assert f"{namespace}.fit_model_node" in names
        assert f"{namespace}.validate_model_node" in names
    for family in TUNED_FAMILIES:
        assert f"{family}.tune_hyperparameters_node" in names


def test_roc_curve_is_a_figure_saved_as_png(run_outputs):
    tmp_path, _ = run_outputs
    versions = list((tmp_path / "data/08_reporting/xgboost/validation_roc_curve.png").iterdir())
    assert len(versions) == 1
    assert (versions[0] / "validation_roc_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert Figure  # the dataset saved the Figure returned by validate_model_node


REPO_CONF = Path(__file__).resolve().parents[3] / "conf"


def test_configured_families_match_the_defaults_and_the_evaluated_models() -> None:
    params = configured_parameters(REPO_CONF)
    assert tuple(params["data_science"]["families"]) == MODEL_FAMILIES
    assert tuple(params["tuning"]["families"]) == TUNED_FAMILIES
    evaluated = params["evaluation"]["models"]
    assert set(evaluated) == {*MODEL_FAMILIES, *(f"{family}_tuned" for family in TUNED_FAMILIES)}


def test_families_come_from_conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(REPO_CONF, tmp_path / "conf", ignore=shutil.ignore_patterns("local"))
    path = tmp_path / "conf" / "base" / "parameters_data_science.yml"
    path.write_text(
        path.read_text().replace(
            "families: [xgboost, random_forest, logistic_regression]", "families: [xgboost]"
        )
    )
    monkeypatch.chdir(tmp_path)
    assert set(create_named_pipelines()) == {"xgboost"}
    namespaces = {node.namespace for node in create_pipeline().nodes}
    assert "logistic_regression" not in namespaces and "xgboost" in namespaces
