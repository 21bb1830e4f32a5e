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
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from cross_sell.pipelines.evaluation.nodes import (
    captured_share,
    check_trials,
    profit_curve,
    profit_optimal_point,
    ranking_curve,
)

GRID = np.linspace(0.0, 1.0, 501)  # shares of customers contacted, for gains / lift / profit
FIGSIZE = (8.0, 6.0)
MAX_POINTS = 2000  # per drawn curve: more is invisible at this size and slows the PNG down


def model_columns(test_scores: pd.DataFrame, columns: dict[str, Any]) -> list[str]:
    """The score columns of ``test_scores`` (everything but the id and the target)."""
    return [c for c in test_scores.columns if c not in (columns["id_column"], columns["target"])]


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


def plot_roc_curves(test_scores: pd.DataFrame, columns: dict[str, Any]) -> Figure:
    """Every model's ROC curve on the test split, with its AUC in the legend."""
    y = test_scores[columns["target"]].to_numpy()
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    styles = model_styles(model_columns(test_scores, columns))
    for name, style in styles.items():
        fpr, tpr, _ = roc_curve(y, test_scores[name])
        fpr, tpr = _thin(fpr, tpr)
        ax.plot(
            fpr,
            tpr,
            lw=1.6,
            **style,
            label=f"{name} (AUC {roc_auc_score(y, test_scores[name]):.4f})",
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


def plot_precision_recall_curves(test_scores: pd.DataFrame, columns: dict[str, Any]) -> Figure:
    """Every model's precision-recall curve, with its average precision and the base rate."""
    y = test_scores[columns["target"]].to_numpy()
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    styles = model_styles(model_columns(test_scores, columns))
    for name, style in styles.items():
        precision, recall, _ = precision_recall_curve(y, test_scores[name])
        precision, recall = _thin(precision, recall)
        ap = average_precision_score(y, test_scores[name])
        ax.plot(recall, precision, lw=1.6, **style, label=f"{name} (AP {ap:.4f})")
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


def plot_calibration(test_scores: pd.DataFrame, columns: dict[str, Any], n_bins: int) -> Figure:
    """Reliability diagram (quantile bins) above the distribution of predicted probabilities."""
    y = test_scores[columns["target"]].to_numpy()
    names = model_columns(test_scores, columns)
    # Zoom on the probabilities the models actually give (the diagonal stays at 45 degrees).
    upper = min(1.0, 1.1 * max(float(test_scores[name].quantile(0.999)) for name in names))
    upper = max(upper, 1.1 * float(np.mean(y)))
    # Fixed margins: a layout engine would redraw this two-panel figure (slow on big data).
    fig = Figure(figsize=(8.0, 7.5))
    fig.subplots_adjust(left=0.1, right=0.97, top=0.95, bottom=0.08, hspace=0.25)
    top, bottom = fig.subplots(2, 1, height_ratios=[3, 1.3], sharex=True)
    for name, style in model_styles(names).items():
        observed, predicted = calibration_curve(
            y, test_scores[name], n_bins=n_bins, strategy="quantile"
        )
        top.plot(predicted, observed, marker="o", ms=4, lw=1.4, **style, label=name)
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


def plot_gains_and_lift(test_scores: pd.DataFrame, columns: dict[str, Any]) -> Figure:
    """Cumulative gains (left) and cumulative lift (right) when contacting by decreasing score."""
    y = test_scores[columns["target"]].to_numpy()
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
    columns: dict[str, Any],
    campaign: dict[str, Any],
) -> Figure:
    """The champion's campaign profit against the share of customers contacted."""
    name, cost, value = champion["name"], campaign["contact_cost"], campaign["conversion_value"]
    y, scores = test_scores[columns["target"]], test_scores[name]
    curve = ranking_curve(y, scores)
    profits = profit_curve(curve, cost, value)
    best = profit_optimal_point(y, scores, cost, value)
    best_share = 100 * best["contacts"] / curve.n
    share = 100 * curve.contacts / curve.n
    fig = Figure(figsize=(8.0, 6.5), layout="constrained")
    ax = fig.subplots()
    ax.plot(*_thin(share, profits), lw=1.8, color="tab:blue", label=f"contact by {name} score")
    ax.axhline(
        profits[-1], ls="--", color="tab:red", lw=1, label=f"contact everyone: {profits[-1]:,.0f}"
    )
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(best_share, ls=":", color="black", lw=1)
    ax.plot(
        [best_share],
        [best["profit"]],
        "o",
        color="black",
        label=(
            f"best: contact {best_share:.1f} % (probability >= {best['threshold']:.3f}): "
            f"{best['profit']:,.0f}"
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
    importance: pd.DataFrame, champion: dict[str, Any], params: dict[str, Any]
) -> Figure:
    """The champion's permutation importance per clean column, largest on top, with its spread."""
    table = importance.sort_values("importance_mean")
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    ax.barh(
        table["feature"],
        table["importance_mean"],
        xerr=table["importance_std"],
        color="tab:blue",
        ecolor="black",
        capsize=3,
        label="mean drop over repeats (bar: +/- 1 sd)",
    )
    ax.axvline(0, color="grey", lw=0.8)
    ax.set(
        title=f"Permutation importance of the champion ({champion['name']})",
        xlabel=f"Drop in test {params['scoring']} when the column is shuffled "
        f"({params['n_repeats']} repeats on {params['n_rows']:,} sampled rows)",
        ylabel="Clean column",
    )
    ax.grid(axis="x", alpha=0.3)
    _legend(ax, loc="lower right")
    return fig


def plot_optimisation_history(
    trials: pd.DataFrame, study_name: str, params: dict[str, Any]
) -> Figure:
    """Objective value of each complete trial and the best value so far."""
    table = check_trials(trials)
    complete = table[(table["state"] == "COMPLETE") & table["value"].notna()]
    best = (
        complete["value"].cummax()
        if params["direction"] == "maximize"
        else complete["value"].cummin()
    )
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    ax.scatter(complete["number"], complete["value"], s=18, color="tab:blue", label="trial")
    ax.step(complete["number"], best, where="post", color="tab:red", lw=1.6, label="best so far")
    skipped = len(table) - len(complete)
    ax.set(
        title=f"Optuna optimisation history: {study_name} ({len(complete)} complete trials"
        + (f", {skipped} pruned or failed)" if skipped else ")"),
        xlabel="Trial number",
        ylabel=f"Objective ({params['direction']})",
    )
    ax.grid(alpha=0.3)
    _legend(ax, loc="lower right" if params["direction"] == "maximize" else "upper right")
    return fig


def plot_param_importances(importances: pd.DataFrame, study_name: str) -> Figure:
    """fANOVA importance of each tuned hyperparameter (shares summing to 1)."""
    table = importances.sort_values("importance")
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    if table.empty:
        ax.text(0.5, 0.5, "not enough complete trials", ha="center", va="center")
    else:
        ax.barh(
            table["parameter"], table["importance"], color="tab:green", label="fANOVA importance"
        )
        _legend(ax, loc="lower right")
    ax.set(
        title=f"Optuna hyperparameter importances: {study_name}",
        xlabel="Share of the objective's variance explained",
        ylabel="Hyperparameter",
    )
    ax.grid(axis="x", alpha=0.3)
    return fig
