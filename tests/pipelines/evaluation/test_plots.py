"""Plot nodes return readable figures: a title per panel, labelled axes, a legend entry per model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from cross_sell.params import FeatureImportance
from cross_sell.pipelines.evaluation import plots
from cross_sell.pipelines.evaluation.importance import champion_drivers
from cross_sell.pipelines.evaluation.metrics import profit

IMPORTANCE = FeatureImportance(n_rows=300, n_repeats=2, scoring="roc_auc", seed=0)


def legend_labels(fig: Figure) -> list[str]:
    return [text.get_text() for ax in fig.axes if ax.get_legend() for text in ax.get_legend().texts]


def assert_readable(fig: Figure, png: Path) -> None:
    """Titled, labelled panels; saved as a PNG (as the catalog's MatplotlibDataset does)."""
    assert isinstance(fig, Figure)
    for ax in fig.axes:
        assert ax.get_title(), "every panel has a title"
        assert ax.get_xlabel(), "every panel labels its x axis"
        assert ax.get_ylabel(), "every panel labels its y axis"
    fig.savefig(png, dpi=60)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_model_styles_pair_a_tuned_model_with_its_family():
    styles = plots.model_styles(["xgboost", "random_forest", "xgboost_tuned", "logistic"])
    assert styles["xgboost_tuned"]["color"] == styles["xgboost"]["color"]
    assert (styles["xgboost"]["ls"], styles["xgboost_tuned"]["ls"]) == ("-", "--")
    assert [styles[name]["color"] for name in ("xgboost", "random_forest", "logistic")] == [
        "C0",
        "C1",
        "C2",
    ]


def test_roc_curves(evaluated, models, columns, tmp_path):
    fig = plots.plot_roc_curves(evaluated.test_scores, columns)
    assert_readable(fig, tmp_path / "roc_curves.png")
    labels = legend_labels(fig)
    rows = evaluated.comparison.set_index("model")
    for name in models:  # each model with its test AUC
        (label,) = [label for label in labels if label.startswith(f"{name} (")]
        assert f"AUC = {rows.loc[name, 'test.roc_auc']:.2f}" in label
    assert "random (AUC 0.5)" in labels
    assert fig.axes[0].get_title().startswith("ROC curves (test split: 800 customers")


def test_precision_recall_curves(evaluated, models, columns, tmp_path):
    fig = plots.plot_precision_recall_curves(evaluated.test_scores, columns)
    assert_readable(fig, tmp_path / "precision_recall.png")
    labels = legend_labels(fig)
    assert all(any(label.startswith(f"{name} (AP = ") for label in labels) for name in models)
    rate = evaluated.test_scores["response"].mean()
    assert f"random (base rate {rate:.3f})" in labels


def test_calibration(evaluated, models, columns, tmp_path):
    fig = plots.plot_calibration(evaluated.test_scores, columns, n_bins=5)
    assert_readable(fig, tmp_path / "calibration.png")
    top, bottom = fig.axes
    assert "5 quantile bins per model" in top.get_title()
    assert set(legend_labels(fig)) == {*models, "perfectly calibrated"}
    assert bottom.get_yscale() == "log"
    assert len(bottom.patches) == len(models)  # one step histogram per model


def test_gains_and_lift(evaluated, models, columns, tmp_path):
    fig = plots.plot_gains_and_lift(evaluated.test_scores, columns)
    assert_readable(fig, tmp_path / "gains_lift.png")
    gains, lift = fig.axes
    gains_labels = [t.get_text() for t in gains.get_legend().texts]
    assert all(
        any(label.startswith(f"{name} (top 10 %: ") for label in gains_labels) for name in models
    )
    assert {"random", "perfect"} <= set(gains_labels)
    assert set(t.get_text() for t in lift.get_legend().texts) == {
        *models,
        "random (lift 1)",
        "top decile",
    }


def test_profit_curve_marks_the_validation_threshold(evaluated, columns, campaign, tmp_path):
    champion = evaluated.champion
    fig = plots.plot_profit_curve(evaluated.test_scores, champion, columns, campaign)
    assert_readable(fig, tmp_path / "profit_curve.png")
    assert champion["name"] in fig.axes[0].get_title()
    scores = evaluated.test_scores
    y, probability = scores["response"], scores[champion["name"]]
    at_threshold = profit(y, probability >= champion["threshold"], 5.0, 50.0)
    everyone = profit(y, np.ones(len(y)), 5.0, 50.0)
    labels = legend_labels(fig)
    (marked,) = [label for label in labels if label.startswith("threshold ")]
    assert f"threshold {champion['threshold']:.3f} (chosen on validation)" in marked
    assert marked.endswith(f"profit {at_threshold:,.0f}")
    assert f"contact everyone: {everyone:,.0f}" in labels
    # The point drawn is that profit (not the test optimum).
    point = fig.axes[0].lines[-1]
    assert point.get_ydata()[0] == pytest.approx(at_threshold)
    share = (probability >= champion["threshold"]).mean()
    assert point.get_xdata()[0] == pytest.approx(100 * share)


def test_feature_importance(evaluated, splits, columns, tmp_path):
    _, _, test = splits
    importance = champion_drivers(evaluated.champion_model, test, columns, IMPORTANCE)
    fig = plots.plot_feature_importance(importance, evaluated.champion, IMPORTANCE)
    assert_readable(fig, tmp_path / "feature_importance.png")
    ax = fig.axes[0]
    assert evaluated.champion["name"] in ax.get_title()
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert labels[::-1] == importance["feature"].tolist()  # largest on top
    assert ax.get_xlabel() == "Mean |contribution to log-odds|, on 300 sampled test rows"
    assert legend_labels(fig) == ["mean |contribution to log-odds| (line: +/- 1 sd)"]
