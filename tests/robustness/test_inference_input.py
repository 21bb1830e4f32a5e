"""The bad-input corpus on the inference side: the batch ``inference`` pipeline, for real.

A real MLflow sqlite store holds ``cross_sell@champion``: the servable model logged as
``kedro run`` logs it (``support.register_servable_model``). Every case scores a raw ``test.csv``
broken in one way with the project's real catalog (conf/ in a temporary project folder: the
model is read through ``registered_champion``), after a good run on the clean file wrote its
predictions. Per-row problems go to the rejects file (one line per violation: id, column, rule,
value, row) and the other rows are scored exactly as in the good run; whole-file problems stop
the run with the exact error and write nothing. Harmless differences (column order, an extra or
a Response column, Windows line endings, one row) score like the clean file, to the bit.

The same per-row corpus sent to the registered model itself (what ``mlflow models serve`` runs
for a ``text/csv`` request: ``pd.read_csv`` of the body, then ``predict``) rejects the whole
request, naming the column, the rule and the id.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import mlflow
import pandas as pd
import pytest
from kedro.io import DatasetError
from kedro.runner import SequentialRunner

from cross_sell.datasets import RawFileFormatError
from cross_sell.pipelines.data_engineering.schema import RawDataValidationError
from cross_sell.pipelines.inference import create_pipeline
from cross_sell.pipelines.inference.nodes import InvalidScoringRequestError
from tests.robustness import corpus
from tests.robustness.corpus import CELL_CASES, CellCase
from tests.robustness.support import (
    ProjectFolder,
    fit_small_champion,
    new_mlflow_store,
    register_servable_model,
    use_mlflow_store,
)

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
    SequentialRunner().run(PIPELINE, project.catalog(PIPELINE))


def clean_file() -> pd.DataFrame:
    return corpus.raw_frame(N_ROWS, include_target=False)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A real MLflow store whose ``cross_sell@champion`` is a small, real servable model."""
    uri = new_mlflow_store(tmp_path_factory.mktemp("inference_store"), tmp_path_factory)
    with use_mlflow_store(uri):
        version = register_servable_model(fit_small_champion())
        model = mlflow.pyfunc.load_model("models:/cross_sell@champion")
    return SimpleNamespace(uri=uri, version=version, model=model)


@pytest.fixture(scope="module")
def good_run(store: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> ProjectFolder:
    """A project folder after scoring the clean file once with ``cross_sell@champion``."""
    project = ProjectFolder(tmp_path_factory.mktemp("inference_input") / "project")
    with pytest.MonkeyPatch.context() as patch, use_mlflow_store(store.uri):
        patch.chdir(project.root)
        run(project, corpus.csv_bytes(clean_file()))
    return project


@pytest.fixture
def project(
    good_run: ProjectFolder,
    store: SimpleNamespace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[ProjectFolder]:
    project = good_run.clone(tmp_path / "project")
    monkeypatch.chdir(project.root)
    with use_mlflow_store(store.uri):
        yield project


def good_predictions(project: ProjectFolder) -> pd.DataFrame:
    return pd.read_csv(project.versions(PREDICTIONS)[0])


def latest(project: ProjectFolder, versioned: str, dtype=None) -> pd.DataFrame:
    versions = project.versions(versioned)
    assert len(versions) == 2, versions  # the good run's and this run's
    return pd.read_csv(versions[-1], dtype=dtype, keep_default_na=dtype is None)


# ---------------------------------------------------------------------------- works
def test_the_good_run_scored_every_row_with_the_registered_champion(
    good_run: ProjectFolder, store: SimpleNamespace
) -> None:
    predictions = good_predictions(good_run)
    assert predictions.columns[:5].tolist() == ["id", "probability", "rank", "decile", "contact"]
    assert sorted(predictions["id"]) == clean_file()["id"].tolist()
    served = store.model.predict(clean_file()).set_index("id").loc[predictions["id"]]
    pd.testing.assert_series_equal(
        predictions.set_index("id")["probability"], served["probability"], check_exact=True
    )
    assert predictions["contact"].tolist() == served["contact"].tolist()
    assert 0 < predictions["contact"].sum() < N_ROWS  # the model's own threshold decides


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
    good = good_predictions(project)
    expected = good[good["id"] == 500_008].assign(rank=1, decile=1).reset_index(drop=True)
    pd.testing.assert_frame_equal(scored, expected, check_exact=True)


# ---------------------------------------------------------------------------- per-row problems
def _rejected(project: ProjectFolder, ids: list[int]) -> pd.DataFrame:
    """The new rejects; assert the other rows were scored exactly as in the good run."""
    scored = latest(project, PREDICTIONS).set_index("id")
    good = good_predictions(project).set_index("id")
    assert sorted(scored.index) == sorted(set(good.index) - set(ids))
    pd.testing.assert_series_equal(
        scored["probability"], good.loc[scored.index, "probability"], check_exact=True
    )
    assert scored["contact"].tolist() == good.loc[scored.index, "contact"].tolist()
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


# ---------------------------------------------------------------------------- the served model
@pytest.mark.parametrize("case", list(ROW_CASES.values()), ids=list(ROW_CASES))
def test_the_registered_model_rejects_a_request_with_a_bad_row_naming_the_column(
    store: SimpleNamespace, case: CellCase
) -> None:
    """A ``text/csv`` request of 20 rows, one bad: nothing scored, an HTTP 400 naming the
    column, the rule, the id and the value."""
    frame = corpus.raw_frame(20, include_target=False)
    request = pd.read_csv(io.BytesIO(corpus.with_cell(case)(frame)))
    with pytest.raises(InvalidScoringRequestError) as info:
        store.model.predict(request)
    assert info.value.get_http_status_code() == 400
    shown_id = "empty" if case.column == "id" else corpus.bad_id(frame)
    example = f"id {shown_id} (value "
    assert info.value.message.startswith(
        "Invalid scoring request: 1 of 20 rows break the raw Kaggle schema"
    )
    assert f"  - column {case.column!r}: {case.rule}: 1 row, e.g. {example}" in info.value.message
    assert store.model.predict(frame)["id"].tolist() == frame["id"].tolist()  # still serves
