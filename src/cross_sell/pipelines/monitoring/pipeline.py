"""Drift monitoring's nodes, wired into two other modular pipelines:

- ``create_reference_node()``, in ``evaluation``: ``train_set`` + ``champion_model`` ->
  ``monitoring_reference`` (saved and logged to the training run, so each registered version
  carries the reference of its own training rows).
- ``create_drift_check_nodes()``, in ``inference``, between scoring and ranking::

      inference_candidate_rows -> clean -> inference_features -+-> scored_batch -> drift_summary,
      batch_scores --------------------------------------------+     drift_metrics, drift_plot
      champion_reference (the reference of the scoring version) --> drift_report (Evidently)
      drift_summary + drift_report + batch_scores + found_rejects
          -> apply_drift_policy -> monitored_scores, inference_rejects

  With ``monitoring.on_drift: stop`` a drifted batch ends the run there, before anything of it
  (``inference_rejects``, ``predictions``) is written to ``data/07_model_output``.
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


def create_drift_check_nodes() -> list[Node]:
    """The batch (the valid raw rows, cleaned as training cleans, and their scores) compared
    with ``champion_reference``; the drift policy then lets the scores and the rejects pass."""
    return [
        Node(
            clean_raw_table,
            inputs="inference_candidate_rows",
            outputs="inference_features",
            name="clean_scored_rows_node",
        ),
        Node(
            batch_profile,
            inputs=["inference_features", "batch_scores", COLUMNS],
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
            inputs=["drift_summary", "drift_report", MONITORING, "batch_scores", "found_rejects"],
            outputs=["monitored_scores", "inference_rejects"],
            name="apply_drift_policy_node",
        ),
    ]
