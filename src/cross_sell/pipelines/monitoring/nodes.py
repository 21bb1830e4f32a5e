"""Drift monitoring: the champion's training reference, and each scoring batch compared with it.

The numbers the project acts on are computed here, by small functions with hand-checked tests:
the population stability index (PSI) of every clean feature column and of the predicted
probability, each with its threshold. Evidently's HTML report (``report.py``) is a second,
visual opinion; nothing is decided from it.

PSI of a column over ``k`` buckets, with ``r_i`` and ``c_i`` the reference's and the batch's
shares of bucket ``i``: ``sum_i (c_i - r_i) * ln(c_i / r_i)`` (shares floored at ``SHARE_FLOOR``
so an empty bucket counts as nearly empty, not infinite). Buckets:

- numeric columns (many distinct values: age, annual_premium, vintage; the probability): the
  ``bins`` quantile bins of the reference (edges deduplicated, so a value held by many rows is
  one bin), open at both ends so every batch value falls in one;
- categorical columns (``columns.categorical``, booleans, and integer columns with at most
  ``FEW_VALUES`` distinct values, e.g. ``vehicle_age``): one bucket per value; values rarer than
  ``min_category_share`` in the reference, and values the reference never saw, share one
  ``other`` bucket (a code held by 3 customers must not decide alone).

Evidently 0.7 computes a PSI too (``evidently.legacy.calculations.stattests.psi``), but with
Sturges bins of reference and batch pooled together, in a legacy module of an optional extra;
the project's own 20 lines keep the decision in the core package, with its own binning, tested.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
import pandas as pd

from cross_sell.params import Columns, Monitoring

from .plots import plot_drift

logger = logging.getLogger(__name__)

PROBABILITY = "probability"
"""The reference's and the scores' column of the predicted probability of response."""
PREDICTION = "prediction"
"""The summary's name for the distribution of the predicted probability."""
STATISTIC = "psi"
SUMMARY_COLUMNS: tuple[str, ...] = ("feature", "statistic", "value", "threshold", "drifted")
SHARE_FLOOR = 1e-4
"""Bucket shares below this count as this (the usual PSI convention: no infinite terms)."""
FEW_VALUES = 10
"""Integer columns with at most this many distinct reference values are compared per value."""
OTHER = "other"

Kind = Literal["numeric", "categorical"]


class DriftDetectedError(RuntimeError):
    """The batch drifted from the champion's reference and ``monitoring.on_drift`` is ``stop``."""


# ---------------------------------------------------------------------------- the statistic
def population_stability_index(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI of two distributions over the same buckets (counts or shares; each is normalised).

    ``sum((c - r) * ln(c / r))`` over the buckets, shares floored at ``SHARE_FLOOR``. 0 for
    identical distributions, symmetric, and ~0.27 for a 50/50 flag that became 75/25.
    """
    r = np.asarray(reference, dtype="float64")
    c = np.asarray(current, dtype="float64")
    if r.shape != c.shape or r.ndim != 1 or r.size == 0:
        raise ValueError(f"PSI needs two share vectors of one length, got {r.shape} and {c.shape}")
    if r.sum() <= 0 or c.sum() <= 0:
        raise ValueError("PSI needs at least one value on each side")
    r = np.maximum(r / r.sum(), SHARE_FLOOR)
    c = np.maximum(c / c.sum(), SHARE_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """The inner edges of ``bins`` quantile bins of ``reference`` (duplicates dropped)."""
    values = np.asarray(reference, dtype="float64")
    values = values[np.isfinite(values)]
    return np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))


def bucket_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin ``(-inf, e1], (e1, e2], ..., (ek, inf)`` of ``len(edges) + 1`` bins."""
    index = np.searchsorted(edges, np.asarray(values, dtype="float64"), side="left")
    return np.bincount(index, minlength=len(edges) + 1)


def _sorted(values: list[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:  # mixed types
        return sorted(values, key=str)


def category_counts(
    reference: pd.Series, current: pd.Series, min_share: float
) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """Counts per category on both sides: the reference's categories held by at least
    ``min_share`` of its rows, then ``other`` (rarer and unseen values) when either side has one.

    Returns:
        reference counts, current counts, the bucket labels.
    """
    shares = reference.value_counts(normalize=True, dropna=False)
    kept = _sorted(shares.index[shares >= min_share].tolist())
    ref_counts = reference.value_counts(dropna=False).reindex(kept, fill_value=0)
    cur_counts = current.value_counts(dropna=False).reindex(kept, fill_value=0)
    ref = ref_counts.to_numpy(dtype="int64")
    cur = cur_counts.to_numpy(dtype="int64")
    ref_other, cur_other = len(reference) - ref.sum(), len(current) - cur.sum()
    if ref_other or cur_other:
        return np.append(ref, ref_other), np.append(cur, cur_other), [*kept, OTHER]
    return ref, cur, kept


def column_kind(values: pd.Series, categorical: list[str]) -> Kind:
    """``categorical`` for declared codes, booleans and integers with few values; else numeric."""
    if values.name in categorical or pd.api.types.is_bool_dtype(values):
        return "categorical"
    if pd.api.types.is_integer_dtype(values) and values.nunique() <= FEW_VALUES:
        return "categorical"
    return "numeric"


def column_psi(
    reference: pd.Series, current: pd.Series, kind: Kind, monitoring: Monitoring
) -> float:
    """PSI of one column of the batch against the reference, bucketed as its ``kind`` says
    (NaN for an empty batch: nothing to compare)."""
    if current.empty:
        return float("nan")
    if kind == "categorical":
        ref, cur, _ = category_counts(reference, current, monitoring.min_category_share)
    else:
        edges = quantile_edges(reference.to_numpy(), monitoring.bins)
        ref = bucket_counts(reference.to_numpy(), edges)
        cur = bucket_counts(current.to_numpy(), edges)
    return population_stability_index(ref, cur)


# ---------------------------------------------------------------------------- training side
def build_monitoring_reference(
    train: pd.DataFrame, champion_model: Any, columns: Columns, monitoring: Monitoring
) -> pd.DataFrame:
    """The champion's reference profile: a seeded sample of the training split's clean feature
    columns (``monitoring.reference_rows`` rows, or all of them) with the champion's predicted
    ``probability`` on each row. Logged with the run, so every model version carries its own."""
    sample = train.sample(
        n=min(monitoring.reference_rows, len(train)), random_state=monitoring.seed
    ).reset_index(drop=True)
    features = sample.drop(columns=[columns.id, columns.target])
    probability = np.asarray(champion_model.predict_proba(features), dtype="float64")[:, 1]
    reference = features.assign(**{PROBABILITY: probability})
    logger.info(
        "Monitoring reference: %d of %d training rows, %d feature columns and the champion's "
        "probability",
        len(reference),
        len(train),
        features.shape[1],
    )
    return reference


# ---------------------------------------------------------------------------- scoring side
def batch_profile(features: pd.DataFrame, scores: pd.DataFrame, columns: Columns) -> pd.DataFrame:
    """The scored batch as the reference holds it: clean feature columns and ``probability``."""
    probability = scores.set_index(columns.id)[PROBABILITY]
    if len(probability) != len(features) or not features[columns.id].isin(probability.index).all():
        raise ValueError(
            f"The scores ({len(probability)} rows) do not match the clean batch "
            f"({len(features)} rows) id for id"
        )
    return features.assign(**{PROBABILITY: probability.loc[features[columns.id]].to_numpy()})


def compare_with_reference(
    reference: pd.DataFrame | None,
    batch: pd.DataFrame,
    columns: Columns,
    monitoring: Monitoring,
) -> pd.DataFrame:
    """One row per feature column of the reference, then ``prediction``: the PSI of the batch
    against the reference, its threshold, and whether it is above (``drifted``).

    No reference (a model version trained before monitoring): an empty summary. An empty batch
    (every row rejected, under a lenient ``max_reject_share``): NaN values, nothing drifted.
    """
    if reference is None:
        return pd.DataFrame({name: [] for name in SUMMARY_COLUMNS}).astype(
            {"feature": "object", "statistic": "object", "value": "float64",
             "threshold": "float64", "drifted": "bool"}
        )  # fmt: skip
    features = [c for c in reference.columns if c != PROBABILITY]
    missing = [c for c in features if c not in batch.columns]
    if missing:
        raise ValueError(f"The batch lacks the reference's feature column(s) {missing}")
    rows = []
    for name in features:
        kind = column_kind(reference[name], columns.categorical)
        value = column_psi(reference[name], batch[name], kind, monitoring)
        rows.append((name, STATISTIC, value, monitoring.threshold))
    value = column_psi(reference[PROBABILITY], batch[PROBABILITY], "numeric", monitoring)
    rows.append((PREDICTION, STATISTIC, value, monitoring.prediction_threshold))
    summary = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS[:-1]))
    summary["drifted"] = summary["value"] > summary["threshold"]
    return summary


def drift_metrics(summary: pd.DataFrame) -> dict[str, dict[str, float]]:
    """MLflow metrics (kedro-mlflow's format): ``<feature>.psi`` per row, ``drifted_count``."""
    metrics = {
        f"{row.feature}.{row.statistic}": {"value": float(row.value), "step": 0}
        for row in summary.itertuples()
    }
    metrics["drifted_count"] = {"value": float(summary["drifted"].sum()), "step": 0}
    return metrics


def describe_drift(summary: pd.DataFrame) -> str:
    """``age (psi 2.41 > 0.20), prediction (psi 0.31 > 0.20)``: the drifted rows, in order."""
    drifted = summary[summary["drifted"]]
    return ", ".join(
        f"{row.feature} ({row.statistic} {row.value:.2f} > {row.threshold:.2f})"
        for row in drifted.itertuples()
    )


def apply_drift_policy(
    summary: pd.DataFrame,
    report: str,
    monitoring: Monitoring,
    scores: pd.DataFrame,
    rejects: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pass the batch's ``scores`` and ``rejects`` on, after one WARNING naming the drifted
    features (if any); with ``on_drift: stop``, raise instead, so that nothing of the batch
    (predictions or rejects) is written to ``data/07_model_output``.

    ``report`` (the HTML report) is read only so that this runs once every monitoring output
    is written: a stopped run still leaves the summary, the plot, the report and the metrics.

    Raises:
        DriftDetectedError: drift (or no reference to compare with) and ``on_drift: stop``.
    """
    del report
    where = "data/08_reporting/monitoring/ (drift_summary.csv, drift.png, drift_report.html)"
    if summary.empty:
        message = (
            "Drift not monitored: the scoring model version carries no monitoring reference "
            "(it was trained before monitoring existed); retrain with `kedro run`"
        )
    elif summary["value"].isna().all():
        logger.info("Drift not monitored: the batch has no valid row to compare")
        return scores, rejects
    elif summary["drifted"].any():
        message = (
            f"Drift against the champion's training reference in {describe_drift(summary)}; "
            f"policy monitoring.on_drift={monitoring.on_drift}; see {where}"
        )
    else:
        logger.info(
            "No drift: %d feature columns and the prediction within their PSI thresholds (%s)",
            len(summary) - 1,
            where,
        )
        return scores, rejects
    logger.warning(message)
    if monitoring.on_drift == "stop":
        raise DriftDetectedError(
            f"{message}. Scoring stopped: nothing was written to data/07_model_output (no "
            "predictions, no rejects). Check the batch, or score it anyway with "
            "--params=monitoring.on_drift=warn."
        )
    return scores, rejects


def monitor_batch(
    reference: pd.DataFrame | None,
    batch: pd.DataFrame,
    columns: Columns,
    monitoring: Monitoring,
) -> tuple[pd.DataFrame, dict[str, dict[str, float]], Any]:
    """The drift summary, its MLflow metrics and its plot, in one node: all three are written
    before ``apply_drift_policy`` may stop the run."""
    summary = compare_with_reference(reference, batch, columns, monitoring)
    n_reference = 0 if reference is None else len(reference)
    return summary, drift_metrics(summary), plot_drift(summary, n_reference, len(batch))
