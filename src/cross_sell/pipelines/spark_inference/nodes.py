"""Nodes of ``spark_inference``: batch scoring of raw Kaggle rows on Spark.

Nothing here re-implements a rule of the pandas path; Spark only moves rows:

- each partition is validated by ``inference.nodes.split_rejected_rows`` itself (``mapInPandas``),
  after the rows were hash-partitioned by ``id``, so the table-wide rule "``id`` must be unique"
  sees every copy of an id in one partition;
- each partition is parsed by the pandas path's reader (pandas' pyarrow CSV engine) before it is
  validated: Spark reads every value as text, so a value is judged and reported as the pandas path
  judges and reports it;
- the valid rows are scored by the registered model itself, ``models:/cross_sell@champion``,
  through ``mlflow.pyfunc.spark_udf``: the same pyfunc that ``kedro run --pipelines=inference``
  and ``mlflow models serve`` run (raw rows -> validate -> clean -> score). Its output columns come
  from the model's signature (``id, probability, contact, reason_1..3``).

``pyspark`` is imported inside the functions: the project imports without the ``spark`` extra.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from cross_sell.params import Inference
from cross_sell.pipelines.data_engineering.schema import (
    TARGET,
    RawDataValidationError,
    check_structure,
    raw_columns,
)
from cross_sell.pipelines.inference.nodes import (
    REJECT_COLUMNS,
    RejectShareExceededError,
    describe_violations,
    split_rejected_rows,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
else:  # resolvable at run time too (Kedro reads the nodes' type hints), without importing pyspark
    DataFrame = SparkSession = Any

logger = logging.getLogger(__name__)

FILE_COLUMN = "file"
"""Rejects name the input file of each row (a scoring input may be a folder of files)."""
SPARK_REJECT_COLUMNS: tuple[str, ...] = (*REJECT_COLUMNS, FILE_COLUMN)
_KIND, _ROW_KIND, _REJECT_KIND = "_kind", "row", "reject"
_POSITION = ("_file", "_block", "_part", "_pos")
"""Where a row was read: file, file block, Spark partition, ``monotonically_increasing_id``."""
SCORED_ON = "scored_on"
"""The date of scoring: ``spark_predictions`` holds one partition per day."""
MAX_EXAMPLES = 200
"""Rejects collected to the driver for the error message when the reject share is too high."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SparkSettings(_Strict):
    """``spark`` (``conf/spark/globals.yml``): where the session runs. ``remote`` (Spark Connect, e.g. ``sc://host:15002``,
    also read from ``SPARK_REMOTE``) wins over ``master`` (``local[2]``, ``yarn``,
    ``spark://host:7077``, ``k8s://...``)."""

    master: str = "local[2]"
    remote: str | None = None
    app_name: str = "cross_sell"
    conf: dict[str, str | int | float | bool] = {}


class SparkScoring(_Strict):
    """``spark_inference``: which registered model scores, and how finely rows are validated."""

    model_uri: str
    validation_partitions: int = Field(gt=0)


# ---------------------------------------------------------------------------- session
_started: dict[str, SparkSettings] = {}
_PANDAS3_WARNING = "ignore:PySpark does not yet fully support pandas:FutureWarning"
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)


def start_spark_session(settings: SparkSettings) -> SparkSession:
    """The run's Spark session, configured by ``settings`` (``conf/spark/globals.yml``).

    ``SparkSessionDataset``s call it before their first use, so the session is configured
    whichever dataset (or check) touches Spark first; later calls return it. A local master runs
    its Python workers with this interpreter (``PYSPARK_PYTHON``), where the project is installed.
    """
    from pyspark.sql import SparkSession  # noqa: PLC0415

    active = SparkSession.getActiveSession()
    if active is not None and _started.get("settings") == settings:
        return active
    if settings.remote:
        os.environ["SPARK_REMOTE"] = settings.remote  # kedro-datasets then connects there too
        builder = SparkSession.builder.remote(settings.remote)
    else:
        if settings.master.startswith("local"):
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            # The local Python workers inherit this: pyspark 4.3 warns on every import that
            # pandas 3 is "not fully supported"; the paths used here are tested with it.
            os.environ["PYTHONWARNINGS"] = ",".join(
                w for w in (os.environ.get("PYTHONWARNINGS"), _PANDAS3_WARNING) if w
            )
        builder = SparkSession.builder.master(settings.master)
    builder = builder.appName(settings.app_name)
    for key, value in settings.conf.items():
        builder = builder.config(key, str(value).lower() if isinstance(value, bool) else value)
    spark = builder.getOrCreate()
    _started["settings"] = settings
    logger.info(
        "Spark %s session: %s",
        spark.version,
        settings.remote or spark.conf.get("spark.master", settings.master),
    )
    return spark


# ---------------------------------------------------------------------------- validation
def read_like_pandas(text_rows: pd.DataFrame) -> pd.DataFrame:
    """Rows that Spark read as text, parsed as the pandas path parses the file.

    ``RawCSVDataset`` reads the raw CSV with pandas' pyarrow engine (types inferred per column);
    the partition goes through the same reader, so e.g. ``-100`` in ``Annual_Premium`` is the
    float ``-100.0`` here as there. (Types are inferred per partition: a column is text in the
    partitions that hold a non-number and numeric in the others; values and rules are the same.)
    """
    buffer = io.BytesIO(text_rows.to_csv(index=False, lineterminator="\n").encode("utf-8"))
    return pd.read_csv(buffer, engine="pyarrow")


def _as_text(values: pd.Series) -> pd.Series:
    """Offending values as the pandas path's rejects.csv writes them (``None`` for empty)."""
    return values.map(lambda v: None if pd.isna(v) else str(v)).astype("object")


def validate_partition(
    batches: Iterator[pd.DataFrame], columns: list[str]
) -> Iterator[pd.DataFrame]:
    """``mapInPandas`` body: one partition (all its batches) through ``split_rejected_rows``.

    Yields the valid rows (their text values, ``_kind`` = ``row``) and the violations (one line
    each, ``_kind`` = ``reject``, with where the row was read); one frame, the union schema.
    """
    frame = pd.concat(list(batches), ignore_index=True)
    if frame.empty:
        return
    raw = read_like_pandas(frame[columns])
    raw.attrs["source"] = "a Spark partition"
    logging.getLogger("cross_sell").setLevel(logging.ERROR)  # one log per partition is noise
    valid, rejects = split_rejected_rows(raw)
    kept = frame.loc[valid.index]
    rows = kept[columns].assign(**{_KIND: _ROW_KIND})
    positions = frame.loc[rejects["row"].to_numpy() - 1, list(_POSITION)].reset_index(drop=True)
    violations = pd.DataFrame(
        {
            _KIND: _REJECT_KIND,
            "id": _as_text(rejects["id"]),
            "column": rejects["column"].astype("object"),
            "rule": rejects["rule"].astype("object"),
            "value": _as_text(rejects["value"]),
        }
    ).join(positions)
    out = pd.concat([rows, violations], ignore_index=True)
    # pandas 3 keeps text as Arrow-backed ``str`` columns, which pyspark 4.3 cannot hand to Arrow
    # (a ChunkedArray): plain Python objects instead.
    text = [c for c in out.columns if c not in ("_block", "_part", "_pos")]
    yield out.astype(dict.fromkeys(text, "object"))


def _union_schema(columns: list[str]) -> str:
    text = ", ".join(f"`{c}` string" for c in columns)
    return (
        f"{text}, {_KIND} string, `column` string, rule string, value string, "
        "_file string, _block long, _part int, _pos long"
    )


def _with_positions(raw: DataFrame) -> DataFrame:
    """``raw`` with where each row was read (file, file block, partition, position)."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    return raw.select(
        "*",
        F.col("_metadata.file_path").alias("_file"),
        F.col("_metadata.file_block_start").alias("_block"),
        F.spark_partition_id().alias("_part"),
        F.monotonically_increasing_id().alias("_pos"),
    )


def _file_rows(positioned: DataFrame, rejects: DataFrame) -> DataFrame:
    """``rejects`` with ``row``: the 1-based data row of its file (line ``row + 1``).

    A file is read in blocks, each by one partition in file order: a row's number is the rows of
    the file's earlier blocks plus its position in its block (one count per block, no sort).
    """
    from pyspark.sql import Window  # noqa: PLC0415
    from pyspark.sql import functions as F  # noqa: PLC0415

    blocks = positioned.groupBy("_file", "_block", "_part").agg(
        F.min("_pos").alias("_first"), F.count(F.lit(1)).alias("_n")
    )
    earlier = Window.partitionBy("_file").orderBy("_block", "_part")
    blocks = blocks.withColumn("_offset", F.sum("_n").over(earlier) - F.col("_n"))
    column_order = F.array_position(
        F.array(*[F.lit(c) for c in raw_columns(include_target=False)]), F.col("column")
    )
    return (
        rejects.join(F.broadcast(blocks), on=["_file", "_block", "_part"])
        .withColumn("row", F.col("_offset") + F.col("_pos") - F.col("_first") + 1)
        .withColumn(FILE_COLUMN, F.col("_file"))
        .orderBy(FILE_COLUMN, "row", column_order, "rule")
        .select(*SPARK_REJECT_COLUMNS)
    )


def split_rejected_rows_spark(
    raw: DataFrame, settings: SparkScoring
) -> tuple[DataFrame, DataFrame]:
    """Spark's ``split_rejected_rows``: valid raw rows, and a rejects table (one line per violation:
    ``id, column, rule, value, row, file``).

    Table-level problems (a missing column, no rows) raise ``RawDataValidationError`` on the
    driver, as in the pandas path. The validated rows are cached: the rejects, the reject share
    and the scores are all read from one validation pass.
    """
    from pyspark import StorageLevel  # noqa: PLC0415
    from pyspark.sql import functions as F  # noqa: PLC0415

    head = raw.limit(1).toPandas()
    if TARGET in head.columns:
        logger.warning("spark_raw_scoring: ignoring its %r column (inference scores rows)", TARGET)
        head = head.drop(columns=TARGET)
    head.attrs["source"] = "the Spark scoring input (spark_raw_scoring)"
    check_structure(head, include_target=False)
    columns = list(raw_columns(include_target=False))
    positioned = _with_positions(raw.select(*[F.col(f"`{c}`") for c in columns]))
    key = F.coalesce(F.col("id").cast("double").cast("string"), F.col("id"))
    validated = (
        positioned.repartition(settings.validation_partitions, key)
        .mapInPandas(lambda batches: validate_partition(batches, columns), _union_schema(columns))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    rows = validated.where(F.col(_KIND) == _ROW_KIND).select(*columns)
    rejects = validated.where(F.col(_KIND) == _REJECT_KIND).select(
        "id", "column", "rule", "value", *_POSITION
    )
    if rejects.isEmpty():
        empty = rejects.withColumn("row", F.lit(None).cast("long"))
        return rows, empty.withColumn(FILE_COLUMN, F.col("_file")).select(*SPARK_REJECT_COLUMNS)
    return rows, _file_rows(positioned, rejects)


def check_reject_share_spark(
    rejects: DataFrame, valid_rows: DataFrame, params: Inference
) -> DataFrame:
    """Pass ``valid_rows`` on if the share of rejected rows is within
    ``inference.max_reject_share`` (the pandas path's limit); else raise, after the rejects were
    written, with the same message as the pandas path."""
    n_rejected = rejects.select(FILE_COLUMN, "row").distinct().count()
    n_valid = valid_rows.count()
    n_rows = n_valid + n_rejected
    share = n_rejected / n_rows if n_rows else 0.0
    limit = params.max_reject_share
    if share > limit:
        examples = rejects.limit(MAX_EXAMPLES).toPandas()
        raise RejectShareExceededError(
            f"Spark scoring input: {n_rejected} of {n_rows} rows ({share:.2%}) fail validation, "
            f"above the limit inference.max_reject_share = {limit:.2%}. No predictions were "
            "written. The violations (id, column, rule, value, row, file) are written to the "
            "`spark_inference_rejects` dataset. Fix or remove those rows, or raise the limit "
            "(e.g. --params=inference.max_reject_share=0.05).\n"
            f"{describe_violations(examples)}"
        )
    if n_rejected:
        logger.warning(
            "Scoring %d rows; %d rejected rows (%.2f %%, limit %.2f %%) are in "
            "spark_inference_rejects",
            n_valid,
            n_rejected,
            100 * share,
            100 * limit,
        )
    else:
        logger.info("All %d rows are valid", n_valid)
    return valid_rows


# ---------------------------------------------------------------------------- scoring
def score_with_registered_model_spark(valid_rows: DataFrame, settings: SparkScoring) -> DataFrame:
    """Score valid raw rows with the registered model through ``mlflow.pyfunc.spark_udf``.

    The UDF receives the raw columns by name and returns the model's output columns (from its
    signature: ``id, probability, contact, reason_1..3``), plus
    ``scored_on`` (today's date), the partition column of the ``spark_predictions`` table.
    """
    import mlflow  # noqa: PLC0415
    from pyspark.sql import functions as F  # noqa: PLC0415

    try:
        predict = mlflow.pyfunc.spark_udf(
            valid_rows.sparkSession, settings.model_uri, env_manager="local"
        )
    except mlflow.exceptions.MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise ValueError(
                f"no registered model at {settings.model_uri} yet: run `kedro run` first (it "
                "trains, registers and promotes the first champion)"
            ) from None
        raise
    columns = list(raw_columns(include_target=False))
    scored = valid_rows.select(predict(F.struct(*[F.col(f"`{c}`") for c in columns])).alias("s"))
    return scored.select("s.*").withColumn(SCORED_ON, F.lit(date.today()))


__all__ = [
    "SPARK_REJECT_COLUMNS",
    "RawDataValidationError",
    "SparkScoring",
    "SparkSettings",
    "check_reject_share_spark",
    "read_like_pandas",
    "score_with_registered_model_spark",
    "split_rejected_rows_spark",
    "start_spark_session",
    "validate_partition",
]
