"""Evidently's data drift report of a scoring batch against the champion's reference (HTML).

The page to look at: per column, both distributions side by side. It runs Evidently's
``DataDriftPreset`` with the PSI and the project's thresholds, so it flags what the project's
summary flags; its values differ a little (Evidently bins numeric columns on both samples
pooled, and keeps every code apart), and the project decides from its own summary
(``nodes.py``). Left to choose per column type, Evidently would use e.g. the Jensen-Shannon
distance at 0.1, which flags the many rare sales channels of a clean batch of 1,500 rows.
Evidently is an optional dependency (extra ``monitoring``, part of ``dev``), imported here only
when a report is made, so the core package and the served model import without it.
"""

from __future__ import annotations

import html
import warnings
from typing import Any

import pandas as pd

from cross_sell.params import Columns, Monitoring

from .nodes import PROBABILITY, column_kind


def _pandas_compat() -> None:
    """Evidently 0.7.23 imports ``infer_dtype_from_object`` from a private pandas module that
    pandas 3 removed (used only by a legacy column-type test this report does not run): give
    the old name back, as pandas 2 defined it, before the first import of evidently."""
    from pandas.core.dtypes import common  # noqa: PLC0415

    if not hasattr(common, "infer_dtype_from_object"):
        common.infer_dtype_from_object = lambda dtype: pd.api.types.pandas_dtype(dtype).type


def _import_evidently() -> Any:
    _pandas_compat()
    try:
        import evidently  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError(
            "The drift report needs Evidently: pip install -e '.[monitoring]' (part of '.[dev]')"
        ) from exc
    return evidently


NO_REFERENCE = (
    "The scoring model version carries no monitoring reference (it was trained before "
    "monitoring existed): nothing was compared. Retrain with <code>kedro run</code>."
)
EMPTY_BATCH = "The batch has no valid row: nothing was compared."


def message_page(message: str) -> str:
    """A minimal page in place of the report, saying why there is none."""
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Drift report</title></head>"
        f"<body><h1>Drift report</h1><p>{message}</p></body></html>"
    )


def drift_report(
    reference: pd.DataFrame | None,
    batch: pd.DataFrame,
    columns: Columns,
    monitoring: Monitoring,
) -> str:
    """The standalone HTML page of Evidently's ``DataDriftPreset`` (batch vs reference), with
    the PSI and the thresholds of ``monitoring``."""
    if reference is None or batch.empty:
        return message_page(NO_REFERENCE if reference is None else EMPTY_BATCH)
    _import_evidently()
    from evidently import DataDefinition, Dataset, Report  # noqa: PLC0415
    from evidently.presets import DataDriftPreset  # noqa: PLC0415

    kinds = {
        name: column_kind(reference[name], columns.categorical)
        for name in reference.columns
        if name != PROBABILITY
    }
    definition = DataDefinition(
        numerical_columns=[n for n, k in kinds.items() if k == "numeric"] + [PROBABILITY],
        categorical_columns=[n for n, k in kinds.items() if k == "categorical"],
    )
    names = list(reference.columns)

    def dataset(frame: pd.DataFrame) -> Any:
        table = frame.loc[:, names].copy()
        for name, kind in kinds.items():
            if kind == "categorical":  # codes and flags as labels, not numbers
                table[name] = table[name].astype(str)
        return Dataset.from_pandas(table, data_definition=definition)

    preset = DataDriftPreset(
        drift_share=1 / len(names),  # its headline: any drifted column, as the project's policy
        method="psi",
        threshold=monitoring.threshold,
        per_column_threshold={PROBABILITY: monitoring.prediction_threshold},
    )
    with warnings.catch_warnings():  # numpy, on Evidently's correlations of near-constant flags
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
        snapshot = Report([preset]).run(
            current_data=dataset(batch), reference_data=dataset(reference)
        )
    page = snapshot.get_html_str(as_iframe=False)
    title = html.escape("Drift of the scoring batch against the champion's training reference")
    return page.replace("<head>", f"<head><title>{title}</title>", 1)  # Evidently sets none
