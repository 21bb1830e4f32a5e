"""The slice report: segments in the raw Kaggle wording, metrics per segment that agree with the
project's one metrics function, MLflow metric names MLflow accepts, and a readable plot."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog
from mlflow.tracking import MlflowClient
from pydantic import ValidationError
from sklearn.metrics import roc_auc_score

from cross_sell.params import Campaign, Slices
from cross_sell.pipelines.evaluation.metrics import classification_metrics
from cross_sell.pipelines.evaluation.slices import (
    METRICS,
    metrics_by_slice,
    plot_slices,
    slice_labels,
    slice_report,
)
from tests.pipelines.data_science.support import project_catalog, project_parameters

PARAMS = Slices(top_n=2, age_edges=[20, 30, 40, 50, 60, 70])


def clean_rows(**columns) -> pd.DataFrame:
    """Rows of the clean table holding only the columns the slices read (defaults elsewhere)."""
    n = len(next(iter(columns.values())))
    defaults = {
        "is_male": [True] * n,
        "age": [35] * n,
        "vehicle_age": [1] * n,
        "region_code": [28] * n,
        "policy_sales_channel": [152] * n,
    }
    return pd.DataFrame(defaults | columns)


def test_segments_carry_the_raw_kaggle_names_and_values():
    rows = clean_rows(
        is_male=[True, False, True, False, True, False, True],
        age=[19, 20, 29, 30, 69, 70, 85],
        vehicle_age=[0, 1, 2, 0, 1, 2, 0],
        # 8 and 28 are the two largest regions; 3 and 41 (one row each) go to "other"
        region_code=[28, 8, 28, 8, 28, 3, 41],
        policy_sales_channel=[26, 26, 26, 152, 152, 152, 160],
    )
    labels = slice_labels(rows, PARAMS)
    assert list(labels.columns) == [
        "Gender",
        "Age",
        "Vehicle_Age",
        "Region_Code",
        "Policy_Sales_Channel",
    ]
    assert labels["Gender"].tolist() == [
        "Male",
        "Female",
        "Male",
        "Female",
        "Male",
        "Female",
        "Male",
    ]
    assert labels["Age"].tolist() == ["<20", "20-29", "20-29", "30-39", "60-69", "70+", "70+"]
    assert labels["Vehicle_Age"].tolist()[:3] == ["< 1 Year", "1-2 Year", "> 2 Years"]
    assert labels["Region_Code"].tolist() == ["28", "8", "28", "8", "28", "other", "other"]
    # Segments are ordered: bands by age, codes by size (a tie: the smaller code), "other" last.
    assert list(labels["Age"].cat.categories) == ["<20", "20-29", "30-39", "60-69", "70+"]
    assert list(labels["Region_Code"].cat.categories) == ["28", "8", "other"]
    assert list(labels["Policy_Sales_Channel"].cat.categories) == ["26", "152", "other"]
    # With no more codes than top_n, there is no "other" segment (a tie: the smaller code first).
    assert list(slice_labels(rows.head(2), PARAMS)["Region_Code"].cat.categories) == ["8", "28"]


def test_slice_parameters_are_checked():
    assert Slices(**project_parameters()["evaluation"]["slices"]).top_n >= 1
    with pytest.raises(ValidationError, match="strictly increasing"):
        Slices(top_n=5, age_edges=[20, 40, 30])
    with pytest.raises(ValidationError):
        Slices(top_n=0, age_edges=[20])


@pytest.fixture(scope="module")
def scored() -> pd.DataFrame:
    """2,000 synthetic customers: a noisy score, a contact rule, two segment variables."""
    rng = np.random.default_rng(7)
    n = 2000
    y = rng.random(n) < 0.15
    probability = np.clip(0.15 + 0.25 * y + rng.normal(0, 0.15, n), 0, 1)
    return pd.DataFrame(
        {
            "y": y.astype(int),
            "probability": probability,
            "contact": probability >= 0.3,
            "Gender": pd.Categorical(rng.choice(["Female", "Male"], n)),
            "Age": pd.Categorical(rng.choice(["20-29", "30-39"], n)),
        }
    )


def test_metrics_per_segment_are_the_project_metrics_on_that_segment(scored):
    labels = scored[["Gender", "Age"]]
    report = metrics_by_slice(scored["y"], scored["probability"], scored["contact"], labels)
    assert report[["variable", "slice"]].values.tolist() == [
        ["all", "all"],
        ["Gender", "Female"],
        ["Gender", "Male"],
        ["Age", "20-29"],
        ["Age", "30-39"],
    ]
    rows = report.set_index(["variable", "slice"])
    campaign = Campaign(contact_cost=5.0, conversion_value=50.0)
    overall = classification_metrics(
        scored["y"], scored["probability"], scored["contact"], campaign
    )
    assert rows.loc[("all", "all"), list(METRICS)].to_dict() == pytest.approx(
        {m: overall[m] for m in METRICS}
    )
    male = scored[scored["Gender"] == "Male"]
    expected = classification_metrics(male["y"], male["probability"], male["contact"], campaign)
    assert rows.loc[("Gender", "Male"), list(METRICS)].to_dict() == pytest.approx(
        {m: expected[m] for m in METRICS}
    )
    assert rows.loc[("Gender", "Male"), "n"] == len(male)
    assert rows.loc[("Gender", "Male"), "response_rate"] == pytest.approx(male["y"].mean())
    assert rows.loc[[("Gender", "Female"), ("Gender", "Male")], "n"].sum() == len(scored)


def test_a_segment_of_one_class_has_no_ranking_metrics_and_one_without_contacts_no_precision():
    labels = pd.DataFrame({"Vehicle_Age": pd.Categorical(["a", "a", "b", "b", "b", "b"])})
    y = [0, 0, 0, 1, 0, 1]
    probability = [0.1, 0.2, 0.1, 0.9, 0.3, 0.4]
    contact = [False, False, False, True, False, True]
    rows = metrics_by_slice(y, probability, contact, labels).set_index("slice")
    assert np.isnan(rows.loc["a", "roc_auc"]) and np.isnan(rows.loc["a", "average_precision"])
    assert rows.loc["a", ["contact_share", "precision"]].tolist() == [0.0, 0.0]
    assert rows.loc["b", ["roc_auc", "contact_share", "precision"]].tolist() == [1.0, 0.5, 1.0]


def test_slice_report_of_the_champion_and_its_mlflow_metrics(
    evaluated, splits, columns, mlflow_store
):
    _, _, test = splits
    model = evaluated.champion_model
    report, metrics = slice_report(evaluated.test_scores, evaluated.champion, test, columns, PARAMS)

    features = test.drop(columns=[columns.id, columns.target])
    contact_share = float(np.mean(model.predict(features)))  # the champion's own contacts
    assert report.loc[0, "contact_share"] == pytest.approx(contact_share)
    assert report.loc[0, "roc_auc"] == pytest.approx(
        roc_auc_score(test[columns.target], model.predict_proba(features)[:, 1])
    )
    assert report.loc[0, "n"] == len(test)
    assert set(report["variable"]) == {
        "all",
        "Gender",
        "Age",
        "Vehicle_Age",
        "Region_Code",
        "Policy_Sales_Channel",
    }
    assert (report[report["variable"] == "Region_Code"]["slice"].tolist())[-1] == "other"

    # Saved through the project's catalog entry into a real MLflow run: names MLflow accepts.
    catalog = DataCatalog.from_config({"slice_metrics": project_catalog()["slice_metrics"]})
    with mlflow.start_run() as run:
        catalog.save("slice_metrics", metrics)
    logged = MlflowClient().get_run(run.info.run_id).data.metrics
    assert len(logged) == len(metrics) == report[list(METRICS)].notna().sum().sum()
    assert logged["slice.all.roc_auc"] == pytest.approx(report.loc[0, "roc_auc"])
    over_2_years = report.set_index(["variable", "slice"]).loc[("Vehicle_Age", "> 2 Years")]
    assert logged["slice.Vehicle_Age.gt_2_Years.precision"] == pytest.approx(
        over_2_years["precision"]
    )
    assert logged["slice.Vehicle_Age.lt_1_Year.contact_share"] >= 0
    assert "slice.Age.20-29.roc_auc" in logged


def test_the_plot_has_one_row_of_panels_per_variable_and_names_every_segment(tmp_path):
    report = pd.DataFrame(
        {
            "variable": ["all", "Gender", "Gender", "Vehicle_Age", "Vehicle_Age", "Vehicle_Age"],
            "slice": ["all", "Female", "Male", "< 1 Year", "1-2 Year", "> 2 Years"],
            "n": [600, 280, 320, 250, 300, 50],
            "response_rate": [0.12, 0.1, 0.14, 0.04, 0.16, 0.0],
            "roc_auc": [0.84, 0.83, 0.85, 0.9, 0.77, np.nan],
            "average_precision": [0.33, 0.3, 0.36, 0.4, 0.32, np.nan],
            "contact_share": [0.45, 0.4, 0.5, 0.2, 0.6, 1.0],
            "precision": [0.24, 0.22, 0.26, 0.15, 0.25, 0.0],
        }
    )
    fig = plot_slices(report, {"name": "xgboost", "threshold": 0.31})
    axes = fig.axes
    assert len(axes) == 4  # two variables x (ROC AUC, decisions)
    ticks = [t.get_text() for ax in axes for t in ax.get_yticklabels()]
    assert any(t.startswith("Vehicle_Age=> 2 Years\n50 customers") for t in ticks)
    texts = [t.get_text() for ax in axes for t in ax.texts]
    assert "undefined (one class)" in texts and "0.900" in texts
    assert "threshold 0.310" in fig.get_suptitle()
    assert {t.get_text() for t in axes[1].get_legend().texts} == {
        "contact share",
        "precision of contacts",
        "average precision",
    }
    png = tmp_path / "slices.png"
    fig.savefig(png, dpi=60)
    assert png.read_bytes()[:4] == b"\x89PNG"
