"""data_engineering end to end: a real catalog (RawCSVDataset -> ParquetDataset) and runner."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, DatasetError, MemoryDataset
from kedro.runner import SequentialRunner
from kedro_datasets.pandas import ParquetDataset

from cross_sell.datasets import RawCSVDataset, RawFileFormatError
from cross_sell.pipelines.data_engineering import create_pipeline
from cross_sell.pipelines.data_engineering.schema import RawDataValidationError

from .conftest import make_raw_frame

PARAMETERS = Path(__file__).parents[3] / "conf" / "base" / "parameters_data_engineering.yml"


def _catalog(tmp_path: Path) -> DataCatalog:
    params = yaml.safe_load(PARAMETERS.read_text())["data_engineering"]
    return DataCatalog(
        {
            "raw_train": RawCSVDataset(filepath=str(tmp_path / "01_raw" / "train.csv")),
            "model_input_table": ParquetDataset(
                filepath=str(tmp_path / "05_model_input" / "model_input_table.parquet")
            ),
            "params:data_engineering.max_error_examples": MemoryDataset(
                params["max_error_examples"]
            ),
        }
    )


def _run(tmp_path: Path, raw_text: str | bytes) -> Path:
    raw = tmp_path / "01_raw" / "train.csv"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_bytes(raw_text.encode() if isinstance(raw_text, str) else raw_text)
    SequentialRunner().run(create_pipeline(), _catalog(tmp_path))
    return tmp_path / "05_model_input" / "model_input_table.parquet"


def _csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n")


def test_pipeline_reads_raw_train_and_writes_model_input_table():
    pipeline = create_pipeline()
    assert pipeline.inputs() == {"raw_train", "params:data_engineering.max_error_examples"}
    assert pipeline.outputs() == {"model_input_table"}
    # A modular pipeline: node names take the namespace, datasets keep their catalog names.
    assert [node.name for node in pipeline.nodes] == [
        "data_engineering.validate_raw_train_node",
        "data_engineering.clean_raw_table_node",
    ]


def test_valid_raw_file_becomes_the_model_input_table(tmp_path):
    raw = make_raw_frame(25)
    table = pd.read_parquet(_run(tmp_path, _csv(raw)))
    assert list(table.columns) == [
        "id",
        "is_male",
        "age",
        "has_driving_license",
        "region_code",
        "previously_insured",
        "vehicle_age",
        "vehicle_damage",
        "annual_premium",
        "policy_sales_channel",
        "vintage",
        "response",
    ]
    assert table["id"].tolist() == raw["id"].tolist()
    assert str(table["vehicle_age"].dtype) == "int8"
    assert table["is_male"].tolist() == (raw["Gender"] == "Male").tolist()


def test_crlf_reordered_file_with_extra_column_runs(tmp_path):
    raw = make_raw_frame(10)
    reordered = raw[list(reversed(raw.columns))].assign(comment="hand-made")
    text = _csv(reordered).replace("\n", "\r\n")
    table = pd.read_parquet(_run(tmp_path, text))
    assert "comment" not in table.columns
    pd.testing.assert_frame_equal(
        table, pd.read_parquet(_run(tmp_path / "lf", _csv(raw))), check_like=False
    )


def _bad(edit) -> str:
    frame = make_raw_frame(12).astype(object)
    return _csv(edit(frame))


def _set(row: int, column: str, value):
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row, column] = value
        return frame

    return edit


BAD_FILES = {
    "missing column": (
        _bad(lambda f: f.drop(columns="Vintage")),
        ["missing required column(s) 'Vintage'", "Expected the Kaggle columns"],
    ),
    "text in Age": (
        _bad(_set(2, "Age", "forty")),
        ["column 'Age': must be a whole number: 1 row, e.g. id 3 (value 'forty')"],
    ),
    "null premium": (
        _bad(_set(4, "Annual_Premium", None)),
        ["column 'Annual_Premium': must not be empty (missing value): 1 row, e.g. id 5"],
    ),
    "unknown Vehicle_Age": (
        _bad(_set(6, "Vehicle_Age", "2+ Years")),
        [
            "column 'Vehicle_Age': must be one of '< 1 Year', '1-2 Year', '> 2 Years': "
            "1 row, e.g. id 7 (value '2+ Years')"
        ],
    ),
    "duplicate ids": (
        _bad(_set(8, "id", 4)),
        ["column 'id': must be unique", "2 rows, e.g. id 4 (rows 4, 9)"],
    ),
    "Response 2": (
        _bad(_set(10, "Response", 2)),
        ["column 'Response': must be 0 or 1: 1 row, e.g. id 11 (value 2)"],
    ),
    "empty file": ("", ["is empty (0 bytes", "kedro run --pipelines=synthetic_data"]),
    "header only": (
        _csv(make_raw_frame(0)),
        ["the table has no rows (only a header)"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_raw_file_stops_the_run_and_keeps_the_previous_table(tmp_path, case):
    previous = _run(tmp_path, _csv(make_raw_frame(8)))
    before = previous.read_bytes()
    text, expected = BAD_FILES[case]

    with pytest.raises((RawDataValidationError, DatasetError)) as info:
        _run(tmp_path, text)

    if case == "empty file":  # a load error: the catalog prefixes the dataset name
        assert isinstance(info.value.__cause__, RawFileFormatError)
    else:
        assert isinstance(info.value, RawDataValidationError)
    message = str(info.value)
    assert str(tmp_path / "01_raw" / "train.csv") in message
    for part in expected:
        assert part in message
    assert previous.read_bytes() == before
