"""The commands a user types, run for real (`python -m kedro ...`) in throw-away project copies."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cross_sell.pipelines.data_engineering.schema import raw_columns
from tests.conftest import SMALL_DATA, run_kedro

KAGGLE_COLUMNS = list(raw_columns(include_target=True))
SIZES = dict(item.removeprefix("synthetic_data.").split("=") for item in SMALL_DATA.split(","))


def test_synthetic_data_writes_kaggle_format_files(generated_project: Path) -> None:
    raw = generated_project / "data" / "01_raw"
    train = pd.read_csv(raw / "train.csv")
    test = pd.read_csv(raw / "test.csv")
    assert list(train.columns) == KAGGLE_COLUMNS
    assert list(test.columns) == KAGGLE_COLUMNS[:-1]
    assert (len(train), len(test)) == (int(SIZES["n_train"]), int(SIZES["n_test"]))
    assert test["id"].min() == train["id"].max() + 1
    first_line = (raw / "train.csv").read_text().splitlines()[1].split(",")
    assert first_line[4].endswith(".0") and first_line[8].endswith(".0")


def test_synthetic_data_refuses_to_overwrite_a_hand_placed_file(project: Path) -> None:
    hand_placed = project / "data" / "01_raw" / "train.csv"
    original = b"id,Gender\n1,Male\n"  # what a user dropped in; not even valid
    hand_placed.write_bytes(original)

    result = run_kedro(
        project, "run", "--pipelines=synthetic_data", f"--params={SMALL_DATA}", check=False
    )

    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Refusing to overwrite" in output and "train.csv" in output
    assert "overwrite_raw=true" in output  # the documented way to force it
    assert hand_placed.read_bytes() == original
    assert not (project / "data" / "01_raw" / "test.csv").exists()  # refused before writing any


def test_forced_overwrite_replaces_an_edited_file_with_the_same_generated_bytes(
    project: Path, generated_project: Path
) -> None:
    """`--params=overwrite_raw=true` replaces a file the user edited; the same seed and sizes
    give the session's generated file byte for byte."""
    generated = generated_project / "data" / "01_raw" / "train.csv"
    train = project / "data" / "01_raw" / "train.csv"
    train.write_bytes(generated.read_bytes().replace(b"Male", b"Female", 1))  # the user edits

    run_kedro(
        project, "run", "--pipelines=synthetic_data", f"--params={SMALL_DATA},overwrite_raw=true"
    )

    assert train.read_bytes() == generated.read_bytes()
    test = generated_project / "data" / "01_raw" / "test.csv"
    assert (project / "data" / "01_raw" / "test.csv").read_bytes() == test.read_bytes()
