"""Evaluation plots: one matplotlib figure per concern, returned to the catalog (never shown).

Figures are built with the object-oriented API (``Figure``, not ``pyplot``), so nodes keep no global
state; the catalog's matplotlib dataset writes the PNG and kedro-mlflow logs it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter
from sklearn.calibration import CalibrationDisplay
from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay

from cross_sell.params import Campaign, Columns, FeatureImportance

from .metrics import captured_share, ranking_curve

GRID = np.linspace(0.0, 1.0, 501)  # shares of customers contacted, for gains / lift / profit
FIGSIZE = (8.0, 6.0)
MAX_POINTS = 2000  # per drawn curve: more is invisible at this size and slows the PNG down


def model_columns(test_scores: pd.DataFrame, columns: Columns) -> list[str]:
    """The score columns of ``test_scores`` (everything but the id and the target)."""
    return [c for c in test_scores.columns if c not in (columns.id, columns.target)]


def model_styles(names: list[str]) -> dict[str, dict[str, Any]]:
    """One colour per family; a tuned model (``<family>_tuned``) dashed in its family's colour."""
    families = list(dict.fromkeys(name.removesuffix("_tuned") for name in names))
    return {
        name: {
            "color": f"C{families.index(name.removesuffix('_tuned')) % 10}",
            "ls": "--" if name.endswith("_tuned") else "-",
        }
        for name in names
    }


def _thin(*curves: np.ndarray, points: int = MAX_POINTS) -> tuple[np.ndarray, ...]:
    """At most ``points`` evenly spaced points of equally long curves (keeps both ends)."""
    if len(curves[0]) <= points:
        return curves
    keep = np.unique(np.linspace(0, len(curves[0]) - 1, points).round().astype(int))
    return tuple(curve[keep] for curve in curves)


def _split_note(y: np.ndarray) -> str:
    return f"test split: {len(y):,} customers, {np.mean(y):.1%} responders"


def _legend(ax: Any, **kwargs: Any) -> None:
    ax.legend(frameon=True, framealpha=0.9, fontsize=9, **kwargs)


def plot_roc_curves(test_scores: pd.DataFrame, columns: Columns) -> Figure:
    """Every model's ROC curve on the test split, with its AUC in the legend."""
    y = test_scores[columns.target].to_numpy()
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    for name, style in model_styles(model_columns(test_scores, columns)).items():
        RocCurveDisplay.from_predictions(
            y, test_scores[name], name=name, ax=ax, curve_kwargs={"lw": 1.6, **style}
        )
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="random (AUC 0.5)")
    ax.set(
        title=f"ROC curves ({_split_note(y)})",
        xlabel="False positive rate (share of non-responders flagged)",
        ylabel="True positive rate (share of responders flagged)",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    ax.grid(alpha=0.3)
    _legend(ax, loc="lower right")
    return fig


def plot_precision_recall_curves(test_scores: pd.DataFrame, columns: Columns) -> Figure:
    """Every model's precision-recall curve, with its average precision and the base rate."""
    y = test_scores[columns.target].to_numpy()
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    for name, style in model_styles(model_columns(test_scores, columns)).items():
        PrecisionRecallDisplay.from_predictions(
            y,
            test_scores[name],
            name=name,
            ax=ax,
            curve_kwargs={"lw": 1.6, "drawstyle": "default", **style},
        )
    ax.axhline(y.mean(), ls="--", color="grey", lw=1, label=f"random (base rate {y.mean():.3f})")
    ax.set(
        title=f"Precision-recall curves ({_split_note(y)})",
        xlabel="Recall (share of responders flagged)",
        ylabel="Precision (share of flagged who respond)",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    ax.grid(alpha=0.3)
    _legend(ax, loc="upper right")
    return fig


def plot_calibration(test_scores: pd.DataFrame, columns: Columns, n_bins: int) -> Figure:
    """Reliability diagram (quantile bins) above the distribution of predicted probabilities."""
    y = test_scores[columns.target].to_numpy()
    names = model_columns(test_scores, columns)
    # Zoom on the probabilities the models actually give (the diagonal stays at 45 degrees).
    upper = min(1.0, 1.1 * max(float(test_scores[name].quantile(0.999)) for name in names))
    upper = max(upper, 1.1 * float(np.mean(y)))
    # Fixed margins: a layout engine would redraw this two-panel figure (slow on big data).
    fig = Figure(figsize=(8.0, 7.5))
    fig.subplots_adjust(left=0.1, right=0.97, top=0.95, bottom=0.08, hspace=0.25)
    top, bottom = fig.subplots(2, 1, height_ratios=[3, 1.3], sharex=True)
    for name, style in model_styles(names).items():
        CalibrationDisplay.from_predictions(
            y,
            test_scores[name],
            n_bins=n_bins,
            strategy="quantile",
            name=name,
            ax=top,
            ref_line=False,
            marker="o",
            ms=4,
            lw=1.4,
            **style,
        )
        bottom.hist(
            test_scores[name],
            bins=60,
            range=(0, upper),
            histtype="step",
            color=style["color"],
            ls=style["ls"],
            lw=1.3,
        )
    top.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfectly calibrated")
    top.set(
        title=f"Calibration: {n_bins} quantile bins per model ({_split_note(y)})",
        ylabel="Observed response rate in the bin",
        xlim=(0, upper),
        ylim=(0, upper),
    )
    top.grid(alpha=0.3)
    _legend(top, loc="upper left")
    bottom.set(
        xlabel="Predicted probability of responding",
        ylabel="Customers (log scale)",
        yscale="log",
        title="Distribution of predicted probabilities",
    )
    bottom.grid(alpha=0.3)
    return fig


def plot_gains_and_lift(test_scores: pd.DataFrame, columns: Columns) -> Figure:
    """Cumulative gains (left) and cumulative lift (right) when contacting by decreasing score."""
    y = test_scores[columns.target].to_numpy()
    fig = Figure(figsize=(13.0, 5.5))
    fig.subplots_adjust(left=0.06, right=0.98, top=0.92, bottom=0.1, wspace=0.15)
    gains_ax, lift_ax = fig.subplots(1, 2)
    shares = GRID[1:]
    for name, style in model_styles(model_columns(test_scores, columns)).items():
        captured = captured_share(ranking_curve(y, test_scores[name]), GRID)
        label = f"{name} (top 10 %: {captured[50]:.1%} of responders)"
        gains_ax.plot(100 * GRID, 100 * captured, lw=1.6, **style, label=label)
        lift_ax.plot(100 * shares, captured[1:] / shares, lw=1.6, **style, label=name)
    base_rate = y.mean()
    gains_ax.plot([0, 100], [0, 100], ls="--", color="grey", lw=1, label="random")
    gains_ax.plot(
        [0, 100 * base_rate, 100], [0, 100, 100], ls=":", color="black", lw=1, label="perfect"
    )
    gains_ax.set(
        title=f"Cumulative gains ({_split_note(y)})",
        xlabel="Customers contacted, by decreasing score (%)",
        ylabel="Responders reached (%)",
        xlim=(0, 100),
        ylim=(0, 101),
    )
    lift_ax.axhline(1.0, ls="--", color="grey", lw=1, label="random (lift 1)")
    lift_ax.axvline(10, ls=":", color="black", lw=1, label="top decile")
    lift_ax.set(
        title="Cumulative lift (response rate among contacted / base rate)",
        xlabel="Customers contacted, by decreasing score (%)",
        ylabel="Lift (response rate / base rate)",
        xlim=(0, 100),
        ylim=(0, None),
    )
    for ax in (gains_ax, lift_ax):
        ax.grid(alpha=0.3)
    _legend(gains_ax, loc="lower right")
    _legend(lift_ax, loc="upper right")
    return fig


def plot_profit_curve(
    test_scores: pd.DataFrame,
    champion: dict[str, Any],
    columns: Columns,
    campaign: Campaign,
) -> Figure:
    """The champion's campaign profit on test by share contacted, its validation threshold marked."""
    name, cost, value = champion["name"], campaign.contact_cost, campaign.conversion_value
    y, scores = test_scores[columns.target], test_scores[name]
    curve = ranking_curve(y, scores)
    profits = value * curve.true_positives - cost * curve.contacts
    share = 100 * curve.contacts / curve.n
    chosen = int(np.searchsorted(-curve.thresholds, -champion["threshold"], side="right")) - 1
    fig = Figure(figsize=(8.0, 6.5), layout="constrained")
    ax = fig.subplots()
    ax.plot(*_thin(share, profits), lw=1.8, color="tab:blue", label=f"contact by {name} score")
    ax.axhline(
        profits[-1], ls="--", color="tab:red", lw=1, label=f"contact everyone: {profits[-1]:,.0f}"
    )
    ax.axhline(0, color="grey", lw=0.8)
    ax.plot(
        [share[chosen]],
        [profits[chosen]],
        "o",
        color="black",
        label=(
            f"threshold {champion['threshold']:.3f} (chosen on validation): contact "
            f"{share[chosen]:.1f} %, profit {profits[chosen]:,.0f}"
        ),
    )
    ax.set(
        title=f"Campaign profit of the champion ({name}) on the test split",
        xlabel="Customers contacted, by decreasing score (%)",
        ylabel=f"Profit = {value:g} x conversions - {cost:g} x contacts",
        xlim=(0, 100),
    )
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1, fontsize=9)
    return fig


def plot_feature_importance(
    importance: pd.DataFrame, champion: dict[str, Any], params: FeatureImportance
) -> Figure:
    """The champion's global drivers per raw column, largest on top (bar: mean, line: +/- 1 sd)."""
    table = importance.sort_values("importance_mean")
    method = str(table["method"].iloc[0]) if len(table) else ""
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    ax.barh(
        table["feature"],
        table["importance_mean"],
        xerr=table["importance_std"],
        color="tab:blue",
        ecolor="black",
        capsize=3,
        label=f"{method} (line: +/- 1 sd)",
    )
    ax.axvline(0, color="grey", lw=0.8)
    ax.set(
        title=f"Global drivers of the champion ({champion['name']})",
        xlabel=f"{method.capitalize()}, on {params.n_rows:,} sampled test rows",
        ylabel="Raw column",
    )
    ax.grid(axis="x", alpha=0.3)
    _legend(ax, loc="lower right")
    return fig
