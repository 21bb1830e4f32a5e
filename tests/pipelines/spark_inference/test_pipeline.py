"""Spark scoring (``kedro run --env spark --pipelines=spark_inference``) against the pandas path.

- In-process, on the session's local[2] Spark (``spark`` fixture): rows of several files, each
  read by several partitions, are validated by the pandas path's ``split_rejected_rows``; the
  rejects name the same (id, column, rule, value) with each row's file and 1-based row, and a
  duplicate id across two files is caught; table-level errors and the reject-share limit stop.
- End to end, in a copy of the session's ``trained_project``: on ``test.csv`` with a few planted
  bad rows, ``kedro run --pipelines=inference`` (pandas) and the Spark run give the same ids,
  contact flags and probabilities (to 1e-9), and the same rejects.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cross_sell.datasets import RawCSVDataset
from cross_sell.params import Inference
from cross_sell.pipelines.data_engineering.schema import RawDataValidationError
from cross_sell.pipelines.inference.nodes import (
    REJECT_COLUMNS,
    RejectShareExceededError,
    split_rejected_rows,
)
from cross_sell.pipelines.spark_inference.datasets import SparkSessionDataset
from cross_sell.pipelines.spark_inference.nodes import (
    SPARK_REJECT_COLUMNS,
    SparkScoring,
    check_reject_share_spark,
    read_like_pandas,
    split_rejected_rows_spark,
)
from cross_sell.pipelines.synthetic_data.nodes import generate_test
from tests.conftest import latest_version, output, run_kedro
from tests.robustness.support import clone_trained_project

from .conftest import LOCAL

pytestmark = [
    pytest.mark.slow,  # Spark starts in about 10 s (more on a busy machine)
    # pyspark 4.3 on pandas 3: a warning on import, and a deprecated argument it still passes.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

SETTINGS = SparkScoring(model_uri="models:/cross_sell@champion", validation_partitions=3)


def plant_bad_rows(frame: pd.DataFrame, first: int = 0) -> pd.DataFrame:
    """``frame`` (text values) with one bad value of each kind, from row ``first`` on."""
    bad = frame.copy()
    bad.loc[first + 3, "Age"] = "abc"  # not a number: the column becomes text in pandas
    bad.loc[first + 10, "Annual_Premium"] = "-100"  # read as the float -100.0
    bad.loc[first + 20, "Gender"] = ""  # empty
    bad.loc[first + 40, "Vehicle_Age"] = "new"
    bad.loc[first + 50, "Region_Code"] = "11.5"
    bad.loc[first + 60, "Age"] = "17"
    return bad


def text_frame(n_rows: int, seed: int) -> pd.DataFrame:
    """Generated raw test rows as the text a CSV file holds."""
    generated = generate_test({"n_train": 10, "n_test": n_rows, "seed": seed})
    return pd.read_csv(
        pd.io.common.StringIO(generated.to_csv(index=False)), dtype=str, keep_default_na=False
    )


def as_text(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Rejects compared as the text a file shows (empty for a missing value)."""
    shown = frame.loc[:, list(columns)].astype("object").where(frame.notna(), "")
    shown = shown.astype(str).sort_values(list(columns)).reset_index(drop=True)
    return shown


def spark_rejects(frame: Any) -> pd.DataFrame:
    rejects = frame.toPandas()
    rejects["file"] = rejects["file"].str.removeprefix("file:")
    return rejects


# ---------------------------------------------------------------------------- in-process
def test_read_like_pandas_parses_text_as_the_raw_dataset_does(tmp_path: Path) -> None:
    text = plant_bad_rows(text_frame(200, seed=3))
    text.to_csv(tmp_path / "raw.csv", index=False)
    expected = RawCSVDataset(filepath=tmp_path / "raw.csv").load()
    parsed = read_like_pandas(text)
    pd.testing.assert_frame_equal(parsed, expected, check_dtype=False, check_exact=True)
    assert list(parsed.dtypes.astype(str)) == list(expected.dtypes.astype(str))


def test_partitions_of_several_files_are_validated_by_the_pandas_function(
    spark: Any, tmp_path: Path
) -> None:
    """Two files read by several partitions each; one id appears in both files."""
    folder = tmp_path / "scoring"
    folder.mkdir()
    first = plant_bad_rows(text_frame(1200, seed=5), first=0)
    second = plant_bad_rows(text_frame(800, seed=6), first=500)
    second["id"] = (second["id"].astype(int) + 10_000).astype(str)
    second.loc[700, "id"] = first.loc[5, "id"]  # the same customer in both files
    files = {"a.csv": first, "b.csv": second}
    for name, frame in files.items():
        frame.to_csv(folder / name, index=False)

    # The pandas path's verdict on the union of the files, with each row's file and row.
    raw = pd.concat(
        [RawCSVDataset(filepath=folder / name).load() for name in files], ignore_index=True
    )
    where = pd.concat(
        [
            pd.DataFrame({"file": str(folder / n), "row": np.arange(1, len(f) + 1)})
            for n, f in files.items()
        ],
        ignore_index=True,
    )
    valid, rejects = split_rejected_rows(raw)
    located = where.iloc[rejects["row"].to_numpy() - 1].reset_index(drop=True)
    expected = rejects.drop(columns="row").join(located)

    dataset = SparkSessionDataset(
        spark=LOCAL.model_dump(),
        filepath=str(folder),
        file_format="csv",
        load_args={"header": True},
    )
    scoring = dataset.load()
    assert scoring.rdd.getNumPartitions() > 2  # each file is read in several blocks
    rows, found = split_rejected_rows_spark(scoring, SETTINGS)

    got = spark_rejects(found)
    assert list(got.columns) == list(SPARK_REJECT_COLUMNS)
    assert set(expected["rule"]) >= {"must be a whole number", "must be greater than 0"}
    assert (expected["column"] == "id").sum() == 2  # both copies of the duplicated id
    pd.testing.assert_frame_equal(
        as_text(got, SPARK_REJECT_COLUMNS), as_text(expected, SPARK_REJECT_COLUMNS)
    )
    valid_ids = sorted(rows.select("id").toPandas()["id"].astype(int))
    assert valid_ids == sorted(valid["id"].astype(int))


def test_a_missing_column_fails_on_the_driver_naming_it(spark: Any, tmp_path: Path) -> None:
    text_frame(50, seed=1).drop(columns="Vintage").to_csv(tmp_path / "raw.csv", index=False)
    scoring = spark.read.csv(str(tmp_path / "raw.csv"), header=True)
    with pytest.raises(RawDataValidationError, match=r"missing required column.*'Vintage'"):
        split_rejected_rows_spark(scoring, SETTINGS)


def test_too_many_rejected_rows_stop_before_scoring(spark: Any, tmp_path: Path) -> None:
    plant_bad_rows(text_frame(200, seed=2)).to_csv(tmp_path / "raw.csv", index=False)
    scoring = spark.read.csv(str(tmp_path / "raw.csv"), header=True)
    rows, rejects = split_rejected_rows_spark(scoring, SETTINGS)
    assert check_reject_share_spark(rejects, rows, Inference(max_reject_share=0.05)) is rows
    with pytest.raises(RejectShareExceededError, match=r"6 of 200 rows \(3.00%\)") as failure:
        check_reject_share_spark(rejects, rows, Inference(max_reject_share=0.01))
    assert "column 'Vehicle_Age'" in str(failure.value)


# ---------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def both_paths(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ``trained_project`` whose ``test.csv`` has planted bad rows, scored by both
    paths: ``kedro run --pipelines=inference`` and ``kedro run --env spark --pipelines=spark_inference``."""
    project = clone_trained_project(trained_project, tmp_path_factory.mktemp("spark") / "project")
    shutil.rmtree(project / "data" / "07_model_output", ignore_errors=True)
    raw = project / "data" / "01_raw" / "test.csv"
    text = pd.read_csv(raw, dtype=str, keep_default_na=False)
    planted = plant_bad_rows(text)
    planted.loc[31, "id"] = planted.loc[30, "id"]  # a duplicated id
    planted.to_csv(raw, index=False)
    run_kedro(project, "run", "--pipelines=inference")
    result = run_kedro(project, "run", "--env", "spark", "--pipelines=spark_inference")
    assert "Scoring 1492 rows; 8 rejected rows" in output(result), output(result)[-3000:]
    return project


def test_spark_and_pandas_paths_give_the_same_scores(both_paths: Path) -> None:
    pandas_scores = pd.read_csv(
        latest_version(both_paths, "data/07_model_output/predictions.csv"),
        float_precision="round_trip",
    )
    table = both_paths / "data" / "07_model_output" / "spark_predictions.parquet"
    (partition,) = table.glob("scored_on=*")
    spark_scores = pd.read_parquet(partition)
    # The served model's output columns (its signature): id, probability, contact (and reason
    # codes once the signature declares them), each also in the pandas path's predictions.
    assert {"id", "probability", "contact"} <= set(spark_scores.columns) <= set(pandas_scores)
    assert len(spark_scores) == len(pandas_scores) == 1492
    merged = pandas_scores.merge(spark_scores, on="id", suffixes=("_pandas", "_spark"))
    assert len(merged) == len(pandas_scores)  # the same ids
    assert (merged["contact_pandas"] == merged["contact_spark"]).all()
    assert np.abs(merged["probability_pandas"] - merged["probability_spark"]).max() <= 1e-9
    assert 0 < merged["contact_spark"].sum() < len(merged)
    for column in set(spark_scores.columns) - {"id", "probability", "contact"}:
        assert (merged[f"{column}_pandas"] == merged[f"{column}_spark"]).all(), column


def test_spark_and_pandas_paths_reject_the_same_rows(both_paths: Path) -> None:
    pandas_rejects = pd.read_csv(
        latest_version(both_paths, "data/07_model_output/rejects.csv"),
        dtype=str,
        keep_default_na=False,
    )
    folder = latest_version(both_paths, "data/07_model_output/spark_rejects.parquet")
    got = pd.read_parquet(folder)
    assert set(got["file"]) == {f"file:{both_paths / 'data' / '01_raw' / 'test.csv'}"}
    assert len(pandas_rejects) == 8
    pd.testing.assert_frame_equal(
        as_text(got, REJECT_COLUMNS), as_text(pandas_rejects, REJECT_COLUMNS)
    )
