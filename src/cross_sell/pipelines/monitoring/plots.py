"""The drift plot: one bar per feature column and one for the prediction, against its threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

FLOOR = 1e-3
"""The left end of the log axis: smaller PSI values are drawn there (their label is exact)."""


def plot_drift(summary: pd.DataFrame, n_reference: int, n_batch: int) -> Figure:
    """Horizontal bars of the PSI per feature (prediction last, below a line), on a log axis;
    red when above its threshold (the black tick on each bar), each labelled with its value."""
    fig = Figure(figsize=(8.0, 0.45 * max(len(summary), 4) + 1.6), layout="constrained")
    ax = fig.subplots()
    if summary.empty or summary["value"].isna().all():
        why = "No monitoring reference for this model version" if summary.empty else "Empty batch"
        ax.text(0.5, 0.5, f"{why}:\nnothing compared", ha="center", va="center", fontsize=12,
                transform=ax.transAxes)  # fmt: skip
        ax.set_axis_off()
        return fig
    table = summary.iloc[::-1].reset_index(drop=True)  # first feature on top
    y = np.arange(len(table))
    value = table["value"].to_numpy(dtype="float64")
    colors = np.where(table["drifted"], "tab:red", "tab:blue")
    ax.barh(y, np.maximum(value, FLOOR), color=colors, height=0.6)
    for row, (v, t) in enumerate(zip(value, table["threshold"], strict=True)):
        ax.plot([t, t], [row - 0.4, row + 0.4], color="black", lw=2)
        ax.text(max(v, FLOOR) * 1.08, row, f"{v:.3f}", va="center", fontsize=9)
    ax.set_xscale("log")
    ax.set_xlim(FLOOR, max(value.max(), table["threshold"].max()) * 4)
    ax.set_yticks(y, table["feature"])
    ax.axhline(0.5, color="grey", lw=0.8)  # the prediction (row 0) below, features above
    ax.grid(axis="x", alpha=0.3, which="both")
    drifted = int(table["drifted"].sum())
    ax.set(
        title=f"Drift against the champion's training reference: {drifted} of {len(table)} "
        f"drifted\n(batch {n_batch:,} rows, reference {n_reference:,} training rows)",
        xlabel="Population stability index (log scale); black tick: threshold; red: above it",
        ylabel="Clean column / prediction",
    )
    return fig
