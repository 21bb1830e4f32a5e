"""The commands a user types, run for real (`python -m kedro ...`) in throw-away project copies."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cross_sell.pipelines.data_engineering.schema import raw_columns
from tests.conftest import SMALL_DATA, run_kedro

KAGGLE_COLUMNS = list(raw_columns(include_target=True))


def test_synthetic_data_writes_kaggle_format_files(generated_project: Path) -> None:
    raw = generated_project / "data" / "01_raw"
    train = pd.read_csv(raw / "train.csv")
    test = pd.read_csv(raw / "test.csv")
    assert list(train.columns) == KAGGLE_COLUMNS
    assert list(test.columns) == KAGGLE_COLUMNS[:-1]
    assert len(train) == 6000 and len(test) == 1500
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


def test_synthetic_data_rerun_over_its_own_files_and_forced_overwrite(project: Path) -> None:
    run_kedro(project, "run", "--pipelines=synthetic_data", f"--params={SMALL_DATA}")
    train = project / "data" / "01_raw" / "train.csv"
    first = train.read_bytes()
    run_kedro(project, "run", "--pipelines=synthetic_data", f"--params={SMALL_DATA}")
    assert (
        train.read_bytes() == first
    )  # same seed, byte-identical, and its own file may be replaced

    train.write_bytes(first.replace(b"Male", b"Female", 1))  # the user edits it
    run_kedro(
        project,
        "run",
        "--pipelines=synthetic_data",
        f"--params={SMALL_DATA},overwrite_raw=true",
    )
    assert train.read_bytes() == first
