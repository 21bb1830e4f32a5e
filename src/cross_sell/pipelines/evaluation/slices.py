"""Slice report: how the champion ranks and contacts customers per segment, on the test split.

Report only: nothing is chosen from these figures (the champion and its threshold were chosen on
the validation split). Per ``Gender``, age band, ``Vehicle_Age`` and the largest regions and
sales channels (the rest grouped as ``other``), the champion's ROC AUC and average precision
(ranking inside the segment) and, at its contact threshold (``predict`` applies it), the share
of the segment contacted and the precision of those contacts. Segments carry the raw Kaggle
names and values (``Vehicle_Age=> 2 Years``), not the clean table's codes.

The per-segment figures come from pandas groups and scikit-learn's metrics, with
the same scikit-learn definitions as ``classification_metrics``; the ``all`` row equals
``classification_metrics`` on the whole split.
"""

from __future__ import annotations

import itertools
import logging
import re
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import average_precision_score, roc_auc_score

from cross_sell.params import Columns, Slices
from cross_sell.pipelines.data_engineering.schema import VEHICLE_AGE_CODES

from .metrics import as_mlflow_metrics

logger = logging.getLogger(__name__)

VARIABLES = ("Gender", "Age", "Vehicle_Age", "Region_Code", "Policy_Sales_Channel")
"""The slicing variables, by raw Kaggle column name (``Age``: bands of ``evaluation.slices``)."""

METRICS = ("roc_auc", "average_precision", "contact_share", "precision")
"""The figures per segment: threshold-free ranking, then the contact decisions."""

OTHER = "other"
ALL = "all"


def _largest(codes: pd.Series, top_n: int) -> pd.Categorical:
    """The ``top_n`` most frequent codes (ties: the smaller code), every other code ``other``."""
    counts = codes.value_counts()
    order = sorted(counts.index, key=lambda code: (-counts[code], code))[:top_n]
    labels = [str(code) for code in order] + ([OTHER] if len(counts) > top_n else [])
    named = codes.astype(str).where(codes.isin(order), OTHER)
    return pd.Categorical(named, categories=labels, ordered=True)


def _age_bands(age: pd.Series, edges: list[int]) -> pd.Categorical:
    """Bands ``<20``, ``20-29``, ..., ``70+`` for ``edges`` [20, 30, ..., 70]."""
    labels = [f"<{edges[0]}"] + [f"{a}-{b - 1}" for a, b in itertools.pairwise(edges)]
    bands = pd.cut(age, [-np.inf, *edges, np.inf], right=False, labels=[*labels, f"{edges[-1]}+"])
    present = [label for label in bands.cat.categories if (bands == label).any()]
    return pd.Categorical(bands.astype(str), categories=present, ordered=True)


def slice_labels(table: pd.DataFrame, params: Slices) -> pd.DataFrame:
    """Each row's segment per slicing variable, in the raw Kaggle wording, segments in order.

    Reads the clean table's columns (``is_male``, ``age``, ``vehicle_age`` (ordinal code),
    ``region_code``, ``policy_sales_channel``; the contract of docs/architecture.md).
    """
    vehicle_age = {code: label for label, code in VEHICLE_AGE_CODES.items()}
    return pd.DataFrame(
        {
            "Gender": pd.Categorical(
                np.where(table["is_male"], "Male", "Female"), categories=["Female", "Male"]
            ),
            "Age": _age_bands(table["age"], params.age_edges),
            "Vehicle_Age": pd.Categorical(
                table["vehicle_age"].map(vehicle_age), categories=list(VEHICLE_AGE_CODES)
            ),
            "Region_Code": _largest(table["region_code"], params.top_n),
            "Policy_Sales_Channel": _largest(table["policy_sales_channel"], params.top_n),
        },
        index=table.index,
    )


def _segment_metrics(y: np.ndarray, scores: np.ndarray, flags: np.ndarray) -> dict[str, float]:
    """METRICS of one segment; a segment of one class has no ROC AUC or average precision."""
    hits, contacts = int(np.sum(flags & (y == 1))), int(flags.sum())
    both = 0 < y.sum() < len(y)
    return {
        "roc_auc": roc_auc_score(y, scores) if both else np.nan,
        "average_precision": average_precision_score(y, scores) if both else np.nan,
        "contact_share": contacts / len(y) if len(y) else np.nan,
        "precision": hits / contacts if contacts else 0.0,
    }


def metrics_by_slice(
    y_true: Any, probability: Any, contact: Any, labels: pd.DataFrame
) -> pd.DataFrame:
    """One row per segment of each column of ``labels``, after an ``all`` row for every customer.

    Columns: ``variable``, ``slice``, ``n``, ``response_rate`` and ``METRICS``. A segment of one
    class has no ROC AUC or average precision (NaN); a segment nobody is contacted in has
    precision 0 (as in ``classification_metrics``). (fairlearn's ``MetricFrame`` computes the
    same table but took 12x longer on a 76k-row test split: pandas groups do it here.)
    """
    y = np.asarray(y_true).astype("int64")
    scores = np.asarray(probability, dtype="float64")
    flags = np.asarray(contact).astype(bool)
    rows = [
        {"variable": ALL, "slice": ALL, "n": len(y), "response_rate": y.mean()}
        | _segment_metrics(y, scores, flags)
    ]
    for variable in labels.columns:
        segment = labels[variable]
        for value, positions in segment.groupby(segment, observed=True).indices.items():
            rows.append(
                {
                    "variable": variable,
                    "slice": str(value),
                    "n": len(positions),
                    "response_rate": y[positions].mean(),
                }
                | _segment_metrics(y[positions], scores[positions], flags[positions])
            )
    report = pd.DataFrame(rows)
    return report[["variable", "slice", "n", "response_rate", *METRICS]].astype(
        {"n": "int64"} | dict.fromkeys(["response_rate", *METRICS], "float64")
    )


def _metric_key(text: str) -> str:
    """A segment's value as a piece of an MLflow metric name (``> 2 Years`` -> ``gt_2_Years``)."""
    text = text.replace("<", "lt_").replace(">", "gt_").replace("+", "_plus")
    return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9-]", "_", text)).strip("_")


def slice_report(
    test_scores: pd.DataFrame,
    champion: dict[str, Any],
    test: pd.DataFrame,
    columns: Columns,
    params: Slices,
) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    """The champion's metrics per segment of the test split, as a table and as MLflow metrics.

    The champion's probabilities are ``report_on_test``'s (``test_scores``, in the order of
    ``test``), contacted at its validation threshold. The MLflow metrics are
    ``<variable>.<value>.<metric>`` (``slice.`` is the catalog's prefix; ``all.<metric>`` for
    every customer); a metric a segment does not define (one class) is left out.
    """
    probability = test_scores[champion["name"]].to_numpy()
    report = metrics_by_slice(
        test_scores[columns.target],
        probability,
        probability >= champion["threshold"],
        slice_labels(test, params),
    )
    flat = {}
    for row in report.itertuples(index=False):
        key = f"{row.variable}.{_metric_key(row.slice)}" if row.variable != ALL else ALL
        for metric in METRICS:
            value = getattr(row, metric)
            if np.isfinite(value):
                flat[f"{key}.{metric}"] = value
    segments = report[report["variable"] != ALL].dropna(subset=["roc_auc"])
    lowest, highest = (
        segments.loc[segments["roc_auc"].idxmin()],
        segments.loc[segments["roc_auc"].idxmax()],
    )
    logger.info(
        "Slice report (test split, report only): ROC AUC %.4f overall, lowest %s=%s %.4f "
        "(%d customers), highest %s=%s %.4f (%d customers)",
        report.loc[0, "roc_auc"],
        lowest["variable"],
        lowest["slice"],
        lowest["roc_auc"],
        lowest["n"],
        highest["variable"],
        highest["slice"],
        highest["roc_auc"],
        highest["n"],
    )
    return report, as_mlflow_metrics(flat)


DECISION_BARS = (
    ("contact_share", "contact share", "tab:orange"),
    ("precision", "precision of contacts", "tab:green"),
    ("average_precision", "average precision", "tab:purple"),
)


def plot_slices(report: pd.DataFrame, champion: dict[str, Any]) -> Figure:
    """One row of panels per slicing variable: ROC AUC per segment (left, with its customers and
    response rate), contact share, precision and average precision per segment (right)."""
    overall = report[report["variable"] == ALL].iloc[0]
    variables = [v for v in report["variable"].unique() if v != ALL]
    heights = [int((report["variable"] == v).sum()) + 1 for v in variables]
    fig = Figure(figsize=(15.0, 1.2 + 0.42 * sum(heights)))
    fig.subplots_adjust(
        left=0.15, right=0.98, wspace=0.18, top=1 - 0.9 / fig.get_figheight(), bottom=0.04
    )
    axes = fig.subplots(len(variables), 2, height_ratios=heights, squeeze=False)
    fig.suptitle(
        f"Champion ({champion['name']}) by segment on the test split: contact threshold "
        f"{champion['threshold']:.3f} (chosen on validation); report only",
        fontsize=13,
    )
    for (auc_ax, rate_ax), variable in zip(axes, variables, strict=True):
        rows = report[report["variable"] == variable].iloc[::-1]
        y = np.arange(len(rows))
        names = [
            f"{variable}={s}\n{n:,} customers, {r:.1%} respond"
            for s, n, r in zip(rows["slice"], rows["n"], rows["response_rate"], strict=True)
        ]
        auc = rows["roc_auc"].to_numpy()
        auc_ax.barh(y, np.nan_to_num(auc - 0.5), left=0.5, height=0.6, color="tab:blue")
        for position, value in zip(y, auc, strict=True):
            if not np.isfinite(value):
                auc_ax.text(0.505, position, "undefined (one class)", va="center")
            elif value < 0.57:  # too short a bar to hold its value
                auc_ax.text(value + 0.004, position, f"{value:.3f}", va="center")
            else:
                auc_ax.text(
                    value - 0.004,
                    position,
                    f"{value:.3f}",
                    va="center",
                    ha="right",
                    color="white",
                    fontweight="bold",
                )
        auc_ax.axvline(overall["roc_auc"], ls="--", color="black", lw=1)
        auc_ax.set_yticks(y, names, fontsize=9)
        auc_ax.set_xlim(0.5, 1.0)
        auc_ax.grid(axis="x", alpha=0.3)
        width = 0.8 / len(DECISION_BARS)
        for k, (metric, label, color) in enumerate(DECISION_BARS):
            rate_ax.barh(y + (1 - k) * width, rows[metric], height=width, color=color, label=label)
        rate_ax.set_yticks(y, rows["slice"], fontsize=9)
        rate_ax.set_ylabel(variable)
        rate_ax.set_xlim(0, 1)
        rate_ax.xaxis.set_major_formatter("{x:.0%}")
        rate_ax.grid(axis="x", alpha=0.3)
    axes[0, 0].set_title(
        f"ROC AUC (bar from 0.5 = random; dashed: all customers {overall['roc_auc']:.3f})"
    )
    axes[0, 1].set_title("At the contact threshold, and average precision")
    axes[0, 1].legend(loc="upper right", fontsize=9, framealpha=0.9)
    axes[-1, 0].set_xlabel("ROC AUC inside the segment")
    axes[-1, 1].set_xlabel("Share of the segment's customers")
    return fig
