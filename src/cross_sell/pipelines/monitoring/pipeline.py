"""Drift monitoring's nodes, wired into two other modular pipelines:

- ``create_reference_node()``, in ``evaluation``: ``train_set`` + ``champion_model`` ->
  ``monitoring_reference`` (saved and logged to the training run, so each registered version
  carries the reference of its own training rows).
- ``create_drift_check_nodes()``, in ``inference``, between scoring and ranking::

      inference_valid_rows -> clean -> inference_features -+-> scored_batch -> drift_summary,
      batch_scores ----------------------------------------+        drift_metrics, drift_plot
      champion_reference (the reference of the scoring version) --> drift_report (Evidently)
      batch_scores + drift_summary + drift_report -> apply_drift_policy -> monitored_scores

  ``rank_predictions`` reads ``monitored_scores``: with ``monitoring.on_drift: stop`` a drifted
  batch ends the run there, before ``predictions`` is written.
"""

from __future__ import annotations

from kedro.pipeline import Node

from cross_sell.pipelines.data_engineering.nodes import clean_raw_table

from .nodes import apply_drift_policy, batch_profile, build_monitoring_reference, monitor_batch
from .report import drift_report

COLUMNS = "params:columns"
MONITORING = "params:monitoring"


def create_reference_node() -> Node:
    """``monitoring_reference``: a seeded sample of the training split and the champion's
    probability on it (a node of ``evaluation``)."""
    return Node(
        build_monitoring_reference,
        inputs=["train_set", "champion_model", COLUMNS, MONITORING],
        outputs="monitoring_reference",
        name="monitoring_reference_node",
    )


def create_drift_check_nodes(
    rows: str = "inference_valid_rows",
    scores: str = "batch_scores",
    checked: str = "monitored_scores",
) -> list[Node]:
    """The batch (valid raw ``rows``, cleaned as training cleans, and its ``scores``) compared
    with ``champion_reference``; ``checked`` is ``scores``, once the drift policy let them pass."""
    return [
        Node(
            clean_raw_table,
            inputs=rows,
            outputs="inference_features",
            name="clean_scored_rows_node",
        ),
        Node(
            batch_profile,
            inputs=["inference_features", scores, COLUMNS],
            outputs="scored_batch",
            name="profile_scored_batch_node",
        ),
        Node(
            monitor_batch,
            inputs=["champion_reference", "scored_batch", COLUMNS, MONITORING],
            outputs=["drift_summary", "drift_metrics", "drift_plot"],
            name="monitor_drift_node",
        ),
        Node(
            drift_report,
            inputs=["champion_reference", "scored_batch", COLUMNS, MONITORING],
            outputs="drift_report",
            name="drift_report_node",
        ),
        Node(
            apply_drift_policy,
            inputs=[scores, "drift_summary", "drift_report", MONITORING],
            outputs=checked,
            name="apply_drift_policy_node",
        ),
    ]
