"""The bad-input corpus on the inference side: the batch ``inference`` pipeline, for real.

Every case scores a raw ``test.csv`` broken in one way with the project's real catalog (conf/
in a temporary project folder), after a good run on the clean file wrote its predictions.
Per-row problems go to the rejects file (one line per violation: id, column, rule, value, row)
and the other rows are scored exactly as in the good run; whole-file problems stop the run with
the exact error and write nothing. Harmless differences (column order, an extra or a Response
column, Windows line endings, one row) score like the clean file, to the bit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from kedro.io import DatasetError
from kedro.runner import SequentialRunner

from cross_sell.datasets import RawFileFormatError
from cross_sell.pipelines.data_engineering.schema import RawDataValidationError
from cross_sell.pipelines.inference import create_pipeline
from tests.pipelines.inference.conftest import THRESHOLD, fit_champion
from tests.robustness import corpus
from tests.robustness.corpus import CELL_CASES, CellCase
from tests.robustness.support import ProjectFolder

RAW = "data/01_raw/test.csv"
PREDICTIONS = "data/07_model_output/predictions.csv"
REJECTS = "data/07_model_output/rejects.csv"
N_ROWS = 300  # one bad row is 0.33 %, two are 0.67 %: under the default 1 % reject limit
PIPELINE = create_pipeline()
ROW_CASES = {name: case for name, case in CELL_CASES.items() if case.column != "Response"}


def run(project: ProjectFolder, content: bytes) -> None:
    path = project.path(RAW)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    SequentialRunner().run(PIPELINE, project.catalog("inference.max_reject_share"))


def clean_file() -> pd.DataFrame:
    return corpus.raw_frame(N_ROWS, include_target=False)


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> ProjectFolder:
    """A project folder with a champion, after scoring the clean file once."""
    project = ProjectFolder(tmp_path_factory.mktemp("inference_input") / "project")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project.root)
        catalog = project.catalog()
        catalog.save("champion_model", fit_champion())
        catalog.save("contact_threshold", THRESHOLD)
        run(project, corpus.csv_bytes(clean_file()))
    return project


@pytest.fixture
def project(
    good_run: ProjectFolder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> ProjectFolder:
    project = good_run.clone(tmp_path / "project")
    monkeypatch.chdir(project.root)
    return project


def good_predictions(project: ProjectFolder) -> pd.DataFrame:
    return pd.read_csv(project.versions(PREDICTIONS)[0])


def latest(project: ProjectFolder, versioned: str, dtype=None) -> pd.DataFrame:
    versions = project.versions(versioned)
    assert len(versions) == 2, versions  # the good run's and this run's
    return pd.read_csv(versions[-1], dtype=dtype, keep_default_na=dtype is None)


# ---------------------------------------------------------------------------- works
@pytest.mark.parametrize(
    "edit",
    [
        corpus.reordered_columns,
        corpus.extra_column,
        corpus.crlf,
        lambda frame: corpus.csv_bytes(frame.assign(Response=1)),
        lambda frame: corpus.csv_bytes(frame.assign(Response=[7, 0, None] * (N_ROWS // 3))),
    ],
    ids=[
        "columns in another order",
        "extra column",
        "windows line endings",
        "a Response column, every row one class",
        "a Response column not in {0, 1}",
    ],
)
def test_harmless_differences_score_bit_identically(
    project: ProjectFolder, edit: Callable[[pd.DataFrame], bytes]
) -> None:
    run(project, edit(clean_file()))
    first, second = project.versions(PREDICTIONS)
    assert second.read_bytes() == first.read_bytes()
    assert latest(project, REJECTS).empty


def test_a_one_row_file_is_scored_rank_1_decile_1(project: ProjectFolder) -> None:
    run(project, corpus.csv_bytes(clean_file().iloc[[7]]))
    scored = latest(project, PREDICTIONS)
    good = good_predictions(project).set_index("id").loc[500_008]
    assert scored.to_dict("records") == [
        {
            "id": 500_008,
            "probability": good["probability"],
            "rank": 1,
            "decile": 1,
            "contact": good["contact"],
        }
    ]


# ---------------------------------------------------------------------------- per-row problems
def _rejected(project: ProjectFolder, ids: list[int]) -> pd.DataFrame:
    """The new rejects; assert the other rows were scored exactly as in the good run."""
    scored = latest(project, PREDICTIONS).set_index("id")
    good = good_predictions(project).set_index("id")
    assert sorted(scored.index) == sorted(set(good.index) - set(ids))
    pd.testing.assert_series_equal(
        scored["probability"], good.loc[scored.index, "probability"], check_exact=True
    )
    assert scored["rank"].tolist() == list(range(1, len(scored) + 1))
    return latest(project, REJECTS, dtype=str)


@pytest.mark.parametrize("case", list(ROW_CASES.values()), ids=list(ROW_CASES))
def test_a_bad_row_goes_to_the_rejects_and_the_rest_is_scored(
    project: ProjectFolder, case: CellCase
) -> None:
    frame = clean_file()
    run(project, corpus.with_cell(case)(frame))
    rejects = _rejected(project, [corpus.bad_id(frame)])
    shown_id = "" if case.column == "id" else str(corpus.bad_id(frame))  # a missing id is empty
    value = "" if case.value is None else str(case.value)
    assert rejects.values.tolist() == [[shown_id, case.column, case.rule, value, "5"]]


def test_duplicate_ids_reject_every_copy(project: ProjectFolder) -> None:
    run(project, corpus.duplicate_id(clean_file()))
    rejects = _rejected(project, [500_002, 500_005])  # both rows carrying id 500002
    rule = "must be unique (the same id appears on several rows)"
    assert rejects.values.tolist() == [
        ["500002", "id", rule, "500002", "2"],
        ["500002", "id", rule, "500002", "5"],
    ]


# ---------------------------------------------------------------------------- whole-file problems
FILE_CASES = {
    "empty file": (
        corpus.empty_file,
        RawFileFormatError,
        f"Raw data file {RAW} is empty (0 bytes, no header line). Replace it with the Kaggle "
        "file, or delete it and run `kedro run --pipelines=synthetic_data`.",
    ),
    "header only": (
        corpus.header_only,
        RawDataValidationError,
        f"Raw data validation failed for {RAW}: the table has no rows (only a header). Put the "
        "Kaggle file there, or regenerate a synthetic one with "
        "`kedro run --pipelines=synthetic_data`.",
    ),
    "missing column": (
        corpus.missing_column,
        RawDataValidationError,
        f"Raw data validation failed for {RAW}: missing required column(s) 'Gender'. Expected "
        "the Kaggle columns id, Gender, Age, Driving_License, Region_Code, Previously_Insured, "
        "Vehicle_Age, Vehicle_Damage, Annual_Premium, Policy_Sales_Channel, Vintage (in any "
        "order); found id, Age, Driving_License, Region_Code, Previously_Insured, Vehicle_Age, "
        "Vehicle_Damage, Annual_Premium, Policy_Sales_Channel, Vintage.",
    ),
    "semicolon-separated": (
        corpus.semicolons,
        RawFileFormatError,
        f"Raw data file {RAW} looks semicolon-separated: it parsed as one column named "
        "'id;Gender;Age;Driving_License;Region_Code;Previously_Insured;Vehicle_Age;Vehicle'. "
        "The Kaggle format is comma-separated: re-export it with ',' as the separator, or declare "
        "the separator in the catalog entry (`load_args: {sep: ';'}`).",
    ),
    "non-UTF-8 bytes": (
        corpus.latin1,
        RawFileFormatError,
        f"Raw data file {RAW} is not UTF-8 text: byte(s) 0xe2 at line 4, column 9 (invalid "
        "continuation byte). The Kaggle files are UTF-8: re-save the file as UTF-8 (e.g. "
        "`iconv -f latin1 -t utf-8 old.csv > new.csv`), or declare its encoding in the catalog "
        "entry (`load_args: {encoding: latin-1}`).",
    ),
}


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_a_broken_file_stops_the_run_and_writes_nothing(project: ProjectFolder, case: str) -> None:
    edit, error, message = FILE_CASES[case]
    with pytest.raises((error, DatasetError)) as info:
        run(project, edit(clean_file()))
    raised = info.value.__cause__ if isinstance(info.value, DatasetError) else info.value
    assert isinstance(raised, error), repr(info.value)
    assert str(raised) == message
    assert len(project.versions(PREDICTIONS)) == 1  # the good run's, untouched
    assert len(project.versions(REJECTS)) == 1
