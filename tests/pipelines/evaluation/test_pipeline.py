"""The evaluation pipeline: its shape, and one run through the project's real catalog with a real
MLflow store whose registry holds no ``@champion`` yet (the first promotion)."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import mlflow
import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner
from mlflow.tracking import MlflowClient
from sklearn.model_selection import TunedThresholdClassifierCV

from cross_sell.pipelines.data_science.pipeline import FAMILIES
from cross_sell.pipelines.evaluation import create_pipeline
from cross_sell.pipelines.tuning.pipeline import TUNED_FAMILIES
from tests.pipelines.data_science.support import add_parameters, project_catalog

PLOTS = (
    "roc_curves",
    "precision_recall",
    "calibration",
    "gains_lift",
    "profit_curve",
    "feature_importance",
)
REPORTING = Path("data/08_reporting/evaluation")


INPUTS = {
    "validation_set",
    "test_set",
    "raw_train",
    "registered_champion",
    "params:columns",
    "params:evaluation.blend_members",
    "params:evaluation.champion",
    "params:evaluation.campaign",
    "params:evaluation.promotion",
    "params:evaluation.feature_importance",
    "params:evaluation.calibration_bins",
}


def compared_models(pipeline) -> set[str]:
    """The models ``select_champion`` compares (its ``<name>.model`` inputs)."""
    (select,) = pipeline.only_nodes("evaluation.select_champion_node").nodes
    return {name.removesuffix(".model") for name in select.inputs if name.endswith(".model")}


def test_evaluation_blends_then_compares_every_family_and_the_blend():
    pipeline = create_pipeline()
    names = {node.name for node in pipeline.nodes}
    assert {
        "evaluation.blend_models_node",
        "evaluation.select_champion_node",
        "evaluation.report_on_test_node",
        "evaluation.gate_promotion_node",
        "evaluation.champion_feature_importance_node",
        "evaluation.plot_roc_curves_node",
        "evaluation.plot_precision_recall_node",
        "evaluation.plot_calibration_node",
        "evaluation.plot_gains_and_lift_node",
        "evaluation.plot_profit_curve_node",
        "evaluation.plot_feature_importance_node",
    } <= names
    assert INPUTS | {f"{family}.model" for family in FAMILIES} <= pipeline.inputs()
    assert not {name for name in pipeline.inputs() if name.endswith("_tuned.model")}
    assert compared_models(pipeline) == {*FAMILIES, "blend"}
    assert {f"{plot}_plot" for plot in PLOTS} | {
        "champion_model",
        "champion",
        "blend.model",
        "model_comparison",
        "test_metrics",
        "promotion",
        "promotion_metrics",
        "champion_feature_importance",
    } <= pipeline.all_outputs()
    # The champion and its threshold are chosen without looking at the test split.
    (select,) = pipeline.only_nodes("evaluation.select_champion_node").nodes
    assert "test_set" not in select.inputs and "validation_set" in select.inputs


def test_a_tuning_run_also_compares_the_tuned_refits():
    pipeline = create_pipeline(tuned=True)
    tuned = {f"{family}_tuned" for family in TUNED_FAMILIES}
    assert tuned == {"xgboost_tuned"}
    assert INPUTS | {f"{name}.model" for name in (*FAMILIES, *tuned)} <= pipeline.inputs()
    assert compared_models(pipeline) == {*FAMILIES, *tuned, "blend"}


def _catalog(models, splits) -> DataCatalog:
    """The project's catalog (files under the working directory); the training outputs in memory."""
    catalog = DataCatalog.from_config(project_catalog())
    for name, split in zip(("train_set", "validation_set", "test_set"), splits, strict=True):
        catalog[name] = split
    catalog["raw_train"] = pd.DataFrame()  # read only to score a registered @champion: none yet
    for name, model in models.items():
        catalog[f"{name}.model"] = model
    return catalog


@pytest.fixture
def evaluation_run(mlflow_store, family_models, splits, parameters):
    """The default (untuned) evaluation of every family, inside an MLflow run."""
    pipeline = create_pipeline()
    catalog = _catalog(family_models, splits)
    evaluation = parameters["evaluation"]
    fast = {**evaluation["feature_importance"], "n_rows": 300, "n_repeats": 2}
    add_parameters(
        catalog, pipeline, {**parameters, "evaluation": {**evaluation, "feature_importance": fast}}
    )
    with mlflow.start_run() as run:
        SequentialRunner().run(pipeline, catalog)
    return MlflowClient().get_run(run.info.run_id)


def test_first_evaluation_run_chooses_reports_promotes_and_logs(evaluation_run, splits):
    run = evaluation_run
    comparison = pd.read_csv(REPORTING / "model_comparison.csv")
    champion = json.loads((REPORTING / "champion.json").read_text())
    promotion = json.loads((REPORTING / "promotion.json").read_text())

    # Chosen on validation: the comparison is in validation ranking order.
    assert set(comparison["model"]) == {*FAMILIES, "blend"}
    assert comparison["validation.roc_auc"].is_monotonic_decreasing
    assert champion["name"] == comparison["model"].iloc[0] == champion["ranking"][0]
    champion_model = joblib.load("data/06_models/champion_model.pkl")
    assert isinstance(champion_model, TunedThresholdClassifierCV)
    assert champion_model.best_threshold_ == champion["threshold"]
    _, _, test = splits
    features = test.drop(columns=["id", "response"])
    rows = comparison.set_index("model")
    assert (champion_model.predict(features) == 1).mean() == pytest.approx(
        rows.loc[champion["name"], "test.contact_share"]
    )

    # No @champion in the registry yet: the first challenger is promoted.
    assert promotion["promoted"] is True and promotion["champion_test"] is None
    assert promotion["challenger"] == champion["name"]
    assert promotion["challenger_test"]["roc_auc"] == pytest.approx(
        rows.loc[champion["name"], "test.roc_auc"]
    )

    # The MLflow run: test.<model>.<metric>, promotion.*, the reports and the plots.
    metrics = run.data.metrics
    for model in (*FAMILIES, "blend"):
        assert metrics[f"test.{model}.roc_auc"] == pytest.approx(rows.loc[model, "test.roc_auc"])
    assert metrics["promotion.promoted"] == 1.0
    assert metrics["promotion.challenger.expected_profit"] == pytest.approx(
        rows.loc[champion["name"], "test.expected_profit"]
    )
    assert not [name for name in metrics if name.startswith("promotion.champion.")]
    client = MlflowClient()
    # The blend is written and logged like the trained models.
    assert Path("data/06_models/blend.pkl").is_file()
    logged = [a.path for a in client.list_artifacts(run.info.run_id, "models")]
    assert logged == ["models/blend.pkl"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert {
        "evaluation/champion.json",
        "evaluation/model_comparison.csv",
        "evaluation/promotion.json",
        "evaluation/champion_feature_importance.csv",
        "evaluation/plots",
    } <= artifacts
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation/plots")}
    assert {f"evaluation/plots/{plot}.png" for plot in PLOTS} <= plots
    for plot in PLOTS:
        assert (REPORTING / f"{plot}.png").read_bytes()[:4] == b"\x89PNG"
