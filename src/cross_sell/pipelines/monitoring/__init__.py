"""``monitoring``: drift of each scoring batch against the champion's training reference.

Its nodes run inside ``evaluation`` (the reference) and ``inference`` (the check): see
``pipeline.py`` and docs/monitoring.md.
"""

from .pipeline import create_drift_check_nodes, create_reference_node

__all__ = ["create_drift_check_nodes", "create_reference_node"]
