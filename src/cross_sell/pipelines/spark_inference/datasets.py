"""Datasets of ``spark_inference``.

- ``SparkSessionDataset``: kedro-datasets' ``spark.SparkDatasetV2`` that first starts the run's
  Spark session from its ``spark`` settings (``conf/spark/globals.yml``: master or Spark Connect
  URL, Spark options). kedro-datasets' Spark datasets take whatever session is active, or start a
  default one (``local[*]``, default options); with this, whichever dataset or check touches Spark
  first (the preflight's "does the input exist?" comes before any node) starts the configured
  session. Loading and saving are kedro-datasets' own.
"""

from __future__ import annotations

from typing import Any

from kedro_datasets.spark import SparkDatasetV2

from .nodes import SparkSettings, start_spark_session


class SparkSessionDataset(SparkDatasetV2):
    """``spark.SparkDatasetV2`` with a ``spark`` argument: the session it starts before use.

    Example catalog entry::

        spark_raw_scoring:
          type: cross_sell.pipelines.spark_inference.datasets.SparkSessionDataset
          spark: ${globals:spark}
          filepath: data/01_raw/test.csv
          file_format: csv
          load_args: {header: true}
    """

    def __init__(self, *, spark: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self._spark_settings = SparkSettings.model_validate(spark or {})
        super().__init__(**kwargs)

    def _load(self) -> Any:
        start_spark_session(self._spark_settings)
        return super()._load()

    def _save(self, data: Any) -> None:
        start_spark_session(self._spark_settings)
        super()._save(data)

    def _exists(self) -> bool:
        start_spark_session(self._spark_settings)
        return super()._exists()
