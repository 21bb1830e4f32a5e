"""Format, determinism and wiring of the ``synthetic_data`` generator (small samples, fast)."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from cross_sell.pipelines.synthetic_data import create_pipeline
from cross_sell.pipelines.synthetic_data.nodes import (
    TEST_COLUMNS,
    TRAIN_COLUMNS,
    calibrate_intercept,
    generate_test,
    generate_train,
)

PARAMS = {"n_train": 4000, "n_test": 1500, "seed": 7}
PARAMETERS_FILE = Path(__file__).parents[3] / "conf/base/parameters_synthetic_data.yml"

INT_COLUMNS = ["id", "Age", "Driving_License", "Previously_Insured", "Vintage"]
FLOAT_COLUMNS = ["Region_Code", "Annual_Premium", "Policy_Sales_Channel"]
SPELLINGS = {
    "Gender": {"Male", "Female"},
    "Vehicle_Age": {"< 1 Year", "1-2 Year", "> 2 Years"},
    "Vehicle_Damage": {"Yes", "No"},
}
# One data line of the Kaggle train.csv, e.g. `1,Male,44,1,28.0,0,> 2 Years,Yes,40454.0,26.0,217,1`.
TRAIN_LINE = re.compile(
    r"\d+,(Male|Female),\d+,[01],\d+\.0,[01],(< 1 Year|1-2 Year|> 2 Years),(Yes|No),"
    r"\d+\.0,\d+\.0,\d+,[01]"
)


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return generate_train(PARAMS)


@pytest.fixture(scope="module")
def test_df() -> pd.DataFrame:
    return generate_test(PARAMS)


def _csv_bytes(df: pd.DataFrame, path: Path) -> bytes:
    df.to_csv(path, index=False)
    return path.read_bytes()


def test_train_has_kaggle_columns_dtypes_and_spellings(train):
    assert list(train.columns) == TRAIN_COLUMNS
    assert len(train) == PARAMS["n_train"]
    for column in [*INT_COLUMNS, "Response"]:
        assert train[column].dtype == np.int64, column
    for column in FLOAT_COLUMNS:
        assert train[column].dtype == np.float64, column
        assert (train[column] == train[column].round()).all(), column
    for column, values in SPELLINGS.items():
        assert set(train[column]) == values, column
    assert not train.isna().any().any()


def test_test_has_same_format_without_response(test_df, train):
    assert list(test_df.columns) == TEST_COLUMNS
    assert len(test_df) == PARAMS["n_test"]
    pd.testing.assert_series_equal(test_df.dtypes, train.dtypes.drop("Response"))
    for column, values in SPELLINGS.items():
        assert set(test_df[column]) == values, column
    assert not test_df.isna().any().any()


def test_values_stay_in_the_real_ranges(train, test_df):
    for df in (train, test_df):
        assert df["Age"].between(20, 85).all()
        assert df["Vintage"].between(10, 299).all()
        assert set(df["Driving_License"]) <= {0, 1}
        assert set(df["Previously_Insured"]) == {0, 1}
        assert df["Region_Code"].between(0, 52).all()
        assert df["Policy_Sales_Channel"].between(1, 163).all()
        premium = df["Annual_Premium"]
        assert premium.between(2630, 540165).all()
        # the 2630 floor, then nothing until about 10,000
        assert (premium == 2630).any()
        assert not premium.between(2631, 9999).any()
    assert set(train["Response"]) == {0, 1}


def test_ids_are_consecutive_and_test_continues_after_train(train, test_df):
    n_train, n_test = PARAMS["n_train"], PARAMS["n_test"]
    assert train["id"].tolist() == list(range(1, n_train + 1))
    assert test_df["id"].tolist() == list(range(n_train + 1, n_train + n_test + 1))


def test_channels_141_and_142_occur_in_test_only(train, test_df):
    unseen = [141.0, 142.0]
    assert not train["Policy_Sales_Channel"].isin(unseen).any()
    assert set(unseen) <= set(test_df["Policy_Sales_Channel"])
    # "a few" rows, not a real share of the file
    assert test_df["Policy_Sales_Channel"].isin(unseen).sum() <= 10
    bigger = generate_train({**PARAMS, "n_train": 50_000})
    assert not bigger["Policy_Sales_Channel"].isin(unseen).any()


def test_written_csv_has_the_kaggle_style(train, test_df, tmp_path):
    lines = _csv_bytes(train, tmp_path / "train.csv").decode().splitlines()
    assert lines[0] == ",".join(TRAIN_COLUMNS)
    assert all(TRAIN_LINE.fullmatch(line) for line in lines[1:]), next(
        line for line in lines[1:] if not TRAIN_LINE.fullmatch(line)
    )
    test_lines = _csv_bytes(test_df, tmp_path / "test.csv").decode().splitlines()
    assert test_lines[0] == ",".join(TEST_COLUMNS)
    test_line = re.compile(TRAIN_LINE.pattern.removesuffix(",[01]"))
    assert all(test_line.fullmatch(line) for line in test_lines[1:])


def test_same_seed_gives_identical_bytes_and_another_seed_differs(train, test_df, tmp_path):
    again_train, again_test = generate_train(dict(PARAMS)), generate_test(dict(PARAMS))
    assert _csv_bytes(again_train, tmp_path / "a.csv") == _csv_bytes(train, tmp_path / "b.csv")
    assert _csv_bytes(again_test, tmp_path / "c.csv") == _csv_bytes(test_df, tmp_path / "d.csv")
    other = {**PARAMS, "seed": PARAMS["seed"] + 1}
    assert _csv_bytes(generate_train(other), tmp_path / "e.csv") != _csv_bytes(
        train, tmp_path / "b.csv"
    )
    assert _csv_bytes(generate_test(other), tmp_path / "f.csv") != _csv_bytes(
        test_df, tmp_path / "d.csv"
    )


def test_test_rows_do_not_depend_on_n_train(test_df):
    shifted = generate_test({**PARAMS, "n_train": 10})
    assert shifted["id"].iloc[0] == 11
    pd.testing.assert_frame_equal(shifted.drop(columns="id"), test_df.drop(columns="id"))


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"n_train": 10, "seed": 1}, KeyError, "n_test"),
        ({"n_train": 0, "n_test": 10, "seed": 1}, ValueError, "n_train"),
        ({"n_train": 10, "n_test": 1, "seed": 1}, ValueError, "n_test"),
        ({"n_train": 10, "n_test": 10, "seed": -1}, ValueError, "seed"),
        ({"n_train": 10.5, "n_test": 10, "seed": 1}, ValueError, "n_train"),
        ({"n_train": 10, "n_test": 10, "seed": True}, ValueError, "seed"),
    ],
)
def test_bad_parameters_are_refused_clearly(params, error, message):
    with pytest.raises(error, match=message):
        generate_train(params)


def test_calibrated_intercept_hits_the_target_rate():
    log_odds = np.random.default_rng(0).normal(-1.0, 2.0, size=10_000)
    intercept = calibrate_intercept(log_odds, 0.12256)
    assert np.mean(1 / (1 + np.exp(-(intercept + log_odds)))) == pytest.approx(0.12256, abs=1e-9)


def test_pipeline_writes_raw_train_and_raw_test():
    pipeline = create_pipeline()
    assert pipeline.inputs() == {"params:synthetic_data"}
    assert pipeline.outputs() == {"raw_train", "raw_test"}
    assert all(node.name.endswith("_node") for node in pipeline.nodes)
    catalog = DataCatalog(
        {
            "params:synthetic_data": MemoryDataset({"n_train": 300, "n_test": 100, "seed": 3}),
            "raw_train": MemoryDataset(),
            "raw_test": MemoryDataset(),
        }
    )
    SequentialRunner().run(pipeline, catalog)
    assert catalog.load("raw_train").shape == (300, 12)
    assert catalog.load("raw_test")["id"].iloc[0] == 301


def test_default_parameters_are_the_real_file_sizes():
    params = yaml.safe_load(PARAMETERS_FILE.read_text())["synthetic_data"]
    assert params["n_train"] == 381_109
    assert params["n_test"] == 127_037
    assert isinstance(params["seed"], int)
