"""The bad-input corpus on the training side: ``data_engineering`` then the split, for real.

Every case runs ``data_engineering`` + the split (``split_model_input``) with the project's real catalog
(conf/ in a temporary project folder) over a raw ``train.csv`` broken in one way, after a good
run wrote its outputs. A case either works (the same model input table as the clean file) or
stops with the exact error naming the file, the column, the rule and example ids, and leaves the
good run's outputs byte for byte. Cases already covered by
tests/pipelines/data_engineering/test_pipeline.py (missing column, text in Age, null premium,
unknown Vehicle_Age, duplicate ids, Response 2, empty file, header only) are not repeated.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError
from kedro.runner import SequentialRunner
from sklearn.ensemble import RandomForestClassifier

from cross_sell.datasets import RawFileFormatError
from cross_sell.params import Columns, DataScience, Family
from cross_sell.pipelines import data_engineering
from cross_sell.pipelines.data_engineering.schema import RawDataValidationError
from cross_sell.pipelines.data_science.nodes import (
    fit_model,
    predict_deterministically,
    split_model_input,
)
from cross_sell.pipelines.data_science.pipeline import create_split_pipeline
from tests.pipelines.data_science.model_input import make_model_input_table
from tests.robustness import corpus
from tests.robustness.corpus import CELL_CASES, CellCase
from tests.robustness.support import ProjectFolder

RAW = "data/01_raw/train.csv"
OUTPUTS = (
    "data/05_model_input/model_input_table.parquet",
    "data/05_model_input/train_set.parquet",
    "data/05_model_input/validation_set.parquet",
    "data/05_model_input/test_set.parquet",
)
N_ROWS = 200  # 25 % responders: every split part holds both classes
HINT = (
    "Fix these rows in the file, or regenerate a synthetic file with "
    "`kedro run --pipelines=synthetic_data`."
)
PIPELINE = data_engineering.create_pipeline() + create_split_pipeline()


def run(project: ProjectFolder, content: bytes) -> None:
    path = project.path(RAW)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    SequentialRunner().run(PIPELINE, project.catalog(PIPELINE))


def outputs(project: ProjectFolder) -> dict[str, bytes]:
    return {name: project.path(name).read_bytes() for name in OUTPUTS}


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> ProjectFolder:
    """A project folder after one good run on a valid raw training file."""
    project = ProjectFolder(tmp_path_factory.mktemp("training_input") / "project")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project.root)
        run(project, corpus.csv_bytes(corpus.raw_frame(N_ROWS, include_target=True)))
    return project


@pytest.fixture
def project(
    good_run: ProjectFolder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> ProjectFolder:
    """A copy of ``good_run`` for one case; the working directory is its root."""
    project = good_run.clone(tmp_path / "project")
    monkeypatch.chdir(project.root)
    return project


def _stops(project: ProjectFolder, content: bytes, error: type[Exception]) -> str:
    """Run on ``content``; assert it raises ``error`` and changes no output; the message."""
    before = outputs(project)
    with pytest.raises((error, DatasetError)) as info:
        run(project, content)
    raised = info.value.__cause__ if isinstance(info.value, DatasetError) else info.value
    assert isinstance(raised, error), repr(info.value)
    assert outputs(project) == before
    return str(raised)


# ---------------------------------------------------------------------------- works
@pytest.mark.parametrize(
    "edit",
    [corpus.reordered_columns, corpus.extra_column, corpus.crlf],
    ids=["columns in another order", "extra column", "windows line endings"],
)
def test_harmless_format_differences_give_the_same_model_input_table(
    project: ProjectFolder, edit: Callable[[pd.DataFrame], bytes]
) -> None:
    expected = {name: pd.read_parquet(project.path(name)) for name in OUTPUTS}
    run(project, edit(corpus.raw_frame(N_ROWS, include_target=True)))
    for name in OUTPUTS:
        pd.testing.assert_frame_equal(pd.read_parquet(project.path(name)), expected[name])


# ---------------------------------------------------------------------------- per-row problems
@pytest.mark.parametrize("case", list(CELL_CASES.values()), ids=list(CELL_CASES))
def test_one_bad_value_stops_the_run_naming_file_column_rule_and_id(
    project: ProjectFolder, case: CellCase
) -> None:
    frame = corpus.raw_frame(N_ROWS, include_target=True)
    message = _stops(project, corpus.with_cell(case)(frame), RawDataValidationError)
    if case.column == "id":  # the id itself is missing: the row number locates it
        example = "id empty (row 5)\n  (row N is the N-th data row of the file, i.e. line N+1.)"
    else:
        example = f"id {corpus.bad_id(frame)} (value {case.shown})"
    assert message == (
        f"Raw data validation failed for {RAW}: 1 rule(s) violated, in 1 of {N_ROWS} rows. "
        f"{HINT}\n  - column {case.column!r}: {case.rule}: 1 row, e.g. {example}"
    )


def test_a_fractional_response_breaks_the_binary_rule(project: ProjectFolder) -> None:
    frame = corpus.raw_frame(N_ROWS, include_target=True).astype({"Response": object})
    frame.loc[[4, 9], "Response"] = [0.5, -1]
    message = _stops(project, corpus.csv_bytes(frame), RawDataValidationError)
    assert message.endswith(
        "  - column 'Response': must be 0 or 1: 2 rows, e.g. id 5 (value 0.5), id 10 (value -1)"
    )


# ---------------------------------------------------------------------------- whole-file problems
def test_semicolon_separated_file_is_refused_with_the_separator_fix(project: ProjectFolder) -> None:
    message = _stops(project, corpus.semicolons(corpus.raw_frame(N_ROWS, True)), RawFileFormatError)
    assert message.startswith(
        f"Raw data file {RAW} looks semicolon-separated: it parsed as one column named "
        "'id;Gender;Age;Driving_License;"
    )
    assert "re-export it with ',' as the separator" in message
    assert "(`load_args: {sep: ';'}`)" in message


def test_non_utf8_file_is_refused_naming_the_byte_and_line(project: ProjectFolder) -> None:
    message = _stops(project, corpus.latin1(corpus.raw_frame(N_ROWS, True)), RawFileFormatError)
    assert message.startswith(
        f"Raw data file {RAW} is not UTF-8 text: byte(s) 0xe2 at line 4, column 4 "
    )
    assert "re-save the file as UTF-8" in message


@pytest.mark.parametrize(
    ("n_rows", "response", "expected"),
    [
        (1, 0, "all 1 row(s) are 0, e.g. id 1."),
        (N_ROWS, 0, "all 200 row(s) are 0, e.g. id 1, 2, 3, 4, 5, ...."),
        (N_ROWS, 1, "all 200 row(s) are 1, e.g. id 1, 2, 3, 4, 5, ...."),
    ],
    ids=["1-row file", "every row class 0", "every row class 1"],
)
def test_a_training_file_of_one_class_stops_before_the_model_input_table(
    project: ProjectFolder, n_rows: int, response: int, expected: str
) -> None:
    frame = corpus.raw_frame(n_rows, include_target=True).assign(Response=response)
    message = _stops(project, corpus.csv_bytes(frame), RawDataValidationError)
    assert message.startswith(
        f"Raw data validation failed for {RAW}: column 'Response': a training file needs rows "
        f"of both classes 0 and 1, but {expected}"
    )


def test_too_few_rows_of_a_class_stop_at_the_split_naming_the_rule(project: ProjectFolder) -> None:
    """12 rows, 3 responders: valid raw data, but no stratified 70/10/20 split of it holds both
    classes in every part. The split refuses; the earlier splits stay."""
    splits_before = {name: project.path(name).read_bytes() for name in OUTPUTS[1:]}
    frame = corpus.raw_frame(12, include_target=True)
    with pytest.raises(ValueError) as info:
        run(project, corpus.csv_bytes(frame))
    assert str(info.value) == (
        "model_input_table: cannot split 12 rows into train / validation / test "
        "(data_science.split: validation_size 0.1, test_size 0.2, stratified on 'response'): "
        "every part needs rows of both classes, and its validation part (2 rows) holds only "
        "class 0. Class 1 has only 3 row(s) (e.g. ids [2, 6, 10]), class 0 9. Train on more "
        "rows (the Kaggle train.csv has 381,109), or change data_science.split."
    )
    assert {name: project.path(name).read_bytes() for name in OUTPUTS[1:]} == splits_before
    # model_input_table mirrors the (valid) raw file; the splits of the last good run stay.
    assert len(pd.read_parquet(project.path(OUTPUTS[0]))) == 12


COLUMNS = Columns(
    id="id",
    target="response",
    categorical=["region_code", "policy_sales_channel"],
    capped=["annual_premium"],
)
SPLIT = DataScience(split={"validation_size": 0.1, "test_size": 0.2, "random_state": 42})


def test_a_split_sklearn_cannot_stratify_is_explained_too() -> None:
    table = make_model_input_table(5, seed=0).assign(response=np.array([1, 1, 0, 0, 0], "int8"))
    with pytest.raises(ValueError, match=r"^model_input_table: cannot split 5 rows") as info:
        split_model_input(table, COLUMNS, SPLIT)
    assert "scikit-learn cannot stratify it (The test_size = 1 should be greater" in str(info.value)


# ---------------------------------------------------------------------------- fitted forests
def test_fitted_forests_predict_bit_identically_call_after_call() -> None:
    """A forest fitted with n_jobs=-1 predicts single-threaded: thread order cannot change the
    sums of its trees' probabilities (it did in the last bits before the fix)."""
    table = make_model_input_table(3000, seed=3)
    train, validation, _ = split_model_input(table, COLUMNS, SPLIT)
    family = Family(
        estimator="sklearn.ensemble.RandomForestClassifier",
        kwargs={"n_estimators": 40, "min_samples_leaf": 5, "n_jobs": -1, "random_state": 0},
        recipe={"name": "trees", "kwargs": {"min_frequency": 50}},
    )
    model = fit_model(train, validation, family, COLUMNS)
    assert model.named_steps["classifier"].n_jobs == 1
    features = validation.drop(columns=["id", "response"])
    first = model.predict_proba(features)
    for _ in range(5):
        np.testing.assert_array_equal(model.predict_proba(features), first)
    other = RandomForestClassifier(n_jobs=2)
    assert predict_deterministically(other).n_jobs == 1
