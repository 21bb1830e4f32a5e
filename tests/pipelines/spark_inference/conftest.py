"""Fixtures of the Spark scoring tests: one local[2] Spark session for the test session."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("pyspark", reason="the `spark` extra: pip install -e '.[spark]'")

from cross_sell.pipelines.spark_inference.nodes import (
    SparkSettings,
    start_spark_session,
)

LOCAL = SparkSettings(
    master="local[2]",
    app_name="cross_sell_tests",
    conf={
        "spark.ui.enabled": False,
        "spark.ui.showConsoleProgress": False,
        "spark.sql.shuffle.partitions": 4,
        # Small file blocks: a file of a few hundred kB is read by several partitions.
        "spark.sql.files.maxPartitionBytes": 16384,
        "spark.sql.files.openCostInBytes": 0,
    },
)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local[2] Spark session, started once (about 10 s) through the pipeline's own starter."""
    session = start_spark_session(LOCAL)
    yield session
    session.stop()
    # py4j logs "Closing down clientserver connection" when the interpreter exits, after pytest
    # closed the stream its handler writes to ("--- Logging error ---" at the end of the run).
    logging.getLogger("py4j").setLevel(logging.WARNING)
