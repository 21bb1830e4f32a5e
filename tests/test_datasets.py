"""Project datasets, for real: ``RawCSVDataset`` (Kaggle-format load/save, clear load errors, the
overwrite guard) and ``OptionalModelRegistryDataset`` (on a temporary MLflow sqlite store)."""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog, DatasetError
from kedro.pipeline import Node, Pipeline
from kedro_viz.models.flowchart.node_metadata import DataNodeMetadata
from kedro_viz.models.flowchart.nodes import GraphNode
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LogisticRegression

from cross_sell.datasets import (
    MANIFEST_NAME,
    OptionalModelRegistryDataset,
    RawCSVDataset,
    RawFileFormatError,
    RawFileNotFoundError,
    RawFileOverwriteError,
)
from cross_sell.hooks import RawOverwriteGuardHook
from cross_sell.settings import CONFIG_LOADER_ARGS
from tests.robustness.support import new_mlflow_store, use_mlflow_store

# Invented rows in the Kaggle train.csv format, byte for byte (LF endings, floats written "28.0").
KAGGLE_TRAIN = (
    b"id,Gender,Age,Driving_License,Region_Code,Previously_Insured,Vehicle_Age,"
    b"Vehicle_Damage,Annual_Premium,Policy_Sales_Channel,Vintage,Response\n"
    b"1,Male,45,1,28.0,0,> 2 Years,Yes,41210.0,26.0,120,1\n"
    b"2,Male,71,1,3.0,0,1-2 Year,No,32871.0,26.0,88,0\n"
    b"3,Male,52,1,28.0,0,> 2 Years,Yes,37950.0,124.0,64,1\n"
    b"4,Male,23,1,11.0,1,< 1 Year,No,2630.0,152.0,250,0\n"
    b"5,Female,27,1,41.0,1,< 1 Year,No,26788.0,152.0,141,0\n"
)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def kaggle_file(tmp_path: Path) -> Path:
    return _write(tmp_path / "in" / "train.csv", KAGGLE_TRAIN)


# ---------------------------------------------------------------------------- load / save
def test_load_then_save_is_byte_exact(kaggle_file, tmp_path):
    frame = RawCSVDataset(filepath=str(kaggle_file)).load()
    assert frame.shape == (5, 12)
    assert frame["Region_Code"].tolist() == [28.0, 3.0, 28.0, 11.0, 41.0]
    assert frame["Vehicle_Age"].tolist()[:2] == ["> 2 Years", "1-2 Year"]

    out = tmp_path / "out" / "train.csv"
    RawCSVDataset(filepath=str(out)).save(frame)
    assert out.read_bytes() == KAGGLE_TRAIN
    assert not [p for p in out.parent.iterdir() if p.suffix == ".tmp"]


def test_load_stamps_the_source(kaggle_file):
    assert RawCSVDataset(filepath=str(kaggle_file)).load().attrs["source"] == str(kaggle_file)


def test_crlf_and_bom_load_like_lf(kaggle_file, tmp_path):
    expected = RawCSVDataset(filepath=str(kaggle_file)).load()
    crlf = _write(tmp_path / "crlf.csv", b"\xef\xbb\xbf" + KAGGLE_TRAIN.replace(b"\n", b"\r\n"))
    pd.testing.assert_frame_equal(RawCSVDataset(filepath=str(crlf)).load(), expected)


def test_header_only_loads_as_empty_frame(tmp_path):
    for name, text in {"nl.csv": b"id,Gender,Age\n", "no_nl.csv": b"id,Gender,Age"}.items():
        frame = RawCSVDataset(filepath=str(_write(tmp_path / name, text))).load()
        assert frame.empty
        assert list(frame.columns) == ["id", "Gender", "Age"]


def test_load_args_unsupported_by_pyarrow_fall_back(kaggle_file):
    frame = RawCSVDataset(filepath=str(kaggle_file), load_args={"nrows": 2}).load()
    assert frame["id"].tolist() == [1, 2]


def test_missing_file_says_how_to_get_one(tmp_path):
    dataset = RawCSVDataset(filepath=str(tmp_path / "train.csv"))
    with pytest.raises(RawFileNotFoundError) as info:
        dataset.load()
    message = str(info.value)
    assert str(tmp_path / "train.csv") in message
    assert "kedro run --pipelines=synthetic_data" in message
    assert "Kaggle" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", ["is empty (0 bytes", "kedro run --pipelines=synthetic_data"]),
        (b"\n\r\n  \n", ["is empty (6 bytes"]),
        (
            b"id,Gender\n1,M\xe4le\n",
            ["is not UTF-8 text", "0xe4 at line 2, column 4", "re-save the file as UTF-8"],
        ),
        (
            b"id;Gender;Age\n1;Male;44\n",
            ["looks semicolon-separated", "'id;Gender;Age'", "comma-separated"],
        ),
        (b"id,Gender,Age\n1,Male,44\n2,Female,30,9\n", ["not a well-formed CSV"]),
    ],
    ids=["empty", "blank lines", "latin-1", "semicolons", "ragged"],
)
def test_unreadable_files_raise_clear_errors(tmp_path, content, expected):
    path = _write(tmp_path / "train.csv", content)
    with pytest.raises(RawFileFormatError) as info:
        RawCSVDataset(filepath=str(path)).load()
    message = str(info.value)
    assert str(path) in message
    for part in expected:
        assert part in message
    assert isinstance(info.value, ValueError | DatasetError)


def test_declared_encoding_and_separator_are_honoured(tmp_path):
    path = _write(tmp_path / "train.csv", b"id;Gender\n1;M\xe4le\n")
    dataset = RawCSVDataset(filepath=str(path), load_args={"sep": ";", "encoding": "latin-1"})
    assert dataset.load()["Gender"].tolist() == ["M\u00e4le"]


def test_catalog_keeps_the_clear_message(tmp_path):
    catalog = DataCatalog({"raw_train": RawCSVDataset(filepath=str(tmp_path / "train.csv"))})
    with pytest.raises(DatasetError, match="kedro run --pipelines=synthetic_data") as info:
        catalog.load("raw_train")
    assert isinstance(info.value.__cause__, RawFileNotFoundError)


def test_describe_and_preview(kaggle_file):
    dataset = RawCSVDataset(filepath=str(kaggle_file), metadata={"kedro-viz": {"layer": "raw"}})
    assert "train.csv" in str(dataset)
    assert dataset._describe()["overwrite"] is False
    preview = dataset.preview(nrows=2)
    assert preview["columns"][0] == "id"
    assert len(preview["data"]) == 2
    assert dataset.exists()


def test_kedro_viz_previews_the_raw_file_as_a_table(kaggle_file):
    """kedro-viz's own metadata model: it takes the preview type from the name of ``preview``'s
    return annotation, and renders a table only for ``TablePreview``."""
    dataset = RawCSVDataset(filepath=str(kaggle_file))
    node = GraphNode.create_data_node(
        dataset_id="raw_train",
        dataset_name="raw_train",
        layer="raw",
        tags=set(),
        dataset=dataset,
        modular_pipelines=set(),
    )
    DataNodeMetadata.set_is_all_previews_enabled(True)
    metadata = DataNodeMetadata(data_node=node)
    assert metadata.preview_type == "TablePreview"
    assert metadata.preview["columns"][:3] == ["id", "Gender", "Age"]
    assert len(metadata.preview["data"]) == 5


def test_rejects_remote_paths_and_bad_overwrite_values():
    with pytest.raises(ValueError, match="local files only"):
        RawCSVDataset(filepath="s3://bucket/train.csv")
    with pytest.raises(ValueError, match="`overwrite` must be true or false"):
        RawCSVDataset(filepath="train.csv", overwrite="maybe")
    assert RawCSVDataset(filepath="train.csv", overwrite="true")._overwrite is True
    assert RawCSVDataset(filepath="train.csv", overwrite="false")._overwrite is False


# ---------------------------------------------------------------------------- overwrite guard
@pytest.fixture
def frame(kaggle_file) -> pd.DataFrame:
    return RawCSVDataset(filepath=str(kaggle_file)).load()


def test_refuses_to_overwrite_a_hand_placed_file(tmp_path, frame):
    users = _write(tmp_path / "raw" / "train.csv", b"id,Gender\n7,Male\n")
    with pytest.raises(RawFileOverwriteError) as info:
        RawCSVDataset(filepath=str(users)).save(frame.head(2))
    message = str(info.value)
    assert f"Refusing to overwrite {users}" in message
    assert "not written by this project's generator" in message
    assert "--params=overwrite_raw=true" in message
    assert users.read_bytes() == b"id,Gender\n7,Male\n"
    assert sorted(p.name for p in users.parent.iterdir()) == ["train.csv"]  # no manifest, no temp


def test_overwrites_its_own_file_and_records_it(tmp_path, frame):
    path = tmp_path / "raw" / "train.csv"
    dataset = RawCSVDataset(filepath=str(path))
    dataset.save(frame)
    dataset.save(frame.head(2))  # its own file: allowed
    assert path.read_bytes() == b"".join(KAGGLE_TRAIN.splitlines(keepends=True)[:3])
    manifest = json.loads((path.parent / MANIFEST_NAME).read_text())
    assert set(manifest) == {"train.csv"}
    assert len(manifest["train.csv"]) == 64
    path.unlink()  # a deleted file may be written again
    dataset.save(frame)
    assert path.read_bytes() == KAGGLE_TRAIN


def test_refuses_a_file_edited_after_it_was_written(tmp_path, frame):
    path = tmp_path / "raw" / "train.csv"
    dataset = RawCSVDataset(filepath=str(path))
    dataset.save(frame)
    edited = path.read_bytes().replace(b"Male", b"Female", 1)
    path.write_bytes(edited)
    with pytest.raises(RawFileOverwriteError, match="changed after the generator wrote it"):
        dataset.save(frame)
    assert path.read_bytes() == edited


def test_overwrite_true_forces_and_then_owns_the_file(tmp_path, frame):
    users = _write(tmp_path / "raw" / "train.csv", b"id,Gender\n7,Male\n")
    RawCSVDataset(filepath=str(users), overwrite=True).save(frame)
    assert users.read_bytes() == KAGGLE_TRAIN
    RawCSVDataset(filepath=str(users)).save(frame)  # now recorded: no force needed


def test_manifest_keeps_one_entry_per_file(tmp_path, frame):
    for name in ("train.csv", "test.csv"):
        RawCSVDataset(filepath=str(tmp_path / name)).save(frame)
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert sorted(manifest) == ["test.csv", "train.csv"]


def test_guard_hook_refuses_before_any_raw_file_is_written(tmp_path, frame):
    """A run writing train.csv and test.csv stops up front if test.csv is the user's."""
    users_test = _write(tmp_path / "test.csv", b"id\n1\n")
    catalog = DataCatalog(
        {
            "raw_train": RawCSVDataset(filepath=str(tmp_path / "train.csv")),
            "raw_test": RawCSVDataset(filepath=str(tmp_path / "test.csv")),
        }
    )
    pipeline = Pipeline(
        [Node(lambda: (frame, frame), None, ["raw_train", "raw_test"], name="generate_node")]
    )
    with pytest.raises(RawFileOverwriteError, match=r"test\.csv"):
        RawOverwriteGuardHook().before_pipeline_run(pipeline=pipeline, catalog=catalog)
    assert not (tmp_path / "train.csv").exists()
    assert users_test.read_bytes() == b"id\n1\n"

    forced = DataCatalog({"raw_test": RawCSVDataset(filepath=str(users_test), overwrite=True)})
    RawOverwriteGuardHook().before_pipeline_run(pipeline=pipeline, catalog=forced)  # no error


def test_project_catalog_wires_overwrite_to_a_runtime_param():
    """`kedro run --params=overwrite_raw=true` reaches both raw datasets; default is false."""
    conf = Path(__file__).parents[1] / "conf"
    for runtime_params, expected in [(None, False), ({"overwrite_raw": True}, True)]:
        config = OmegaConfigLoader(str(conf), runtime_params=runtime_params, **CONFIG_LOADER_ARGS)
        entries = {name: config["catalog"][name] for name in ("raw_train", "raw_test")}
        catalog = DataCatalog.from_config(entries)
        assert catalog["raw_train"]._overwrite is expected
        assert catalog["raw_test"]._overwrite is expected


def test_saved_file_has_a_plain_file_mode(tmp_path: Path) -> None:
    dataset = RawCSVDataset(filepath=str(tmp_path / "train.csv"))
    dataset.save(pd.read_csv(io.BytesIO(KAGGLE_TRAIN)))
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "train.csv").stat().st_mode & 0o777 == 0o666 & ~umask


# ---------------------------------------------------------------------------- registered model
FEATURES = pd.DataFrame({"age": [22.0, 35.0, 41.0, 58.0, 63.0, 29.0]})


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A real MLflow sqlite store holding small fitted sklearn models, registered as:

    - ``cross_sell``: version 1 (``first``) is ``@champion``; version 2 (``second``, predicting
      the opposite) has no alias;
    - ``kept_out``: version 1, no alias (the alias was never set, or removed by hand);
    - ``broken``: version 1 is ``@champion``, but its artifacts are gone (a wiped store).
    """
    root = tmp_path_factory.mktemp("registry")
    uri = new_mlflow_store(root, tmp_path_factory)
    first = LogisticRegression().fit(FEATURES, [0, 0, 1, 1, 1, 0])
    second = LogisticRegression().fit(FEATURES, [1, 1, 0, 0, 0, 1])
    with use_mlflow_store(uri):
        client = MlflowClient()
        uris = {}
        for name, model in {"first": first, "second": second, "broken": first}.items():
            with mlflow.start_run():
                uris[name] = mlflow.sklearn.log_model(
                    model, name=name, pip_requirements=["scikit-learn"]
                ).model_uri
        for registered, logged in [
            ("cross_sell", "first"),
            ("cross_sell", "second"),
            ("kept_out", "first"),
            ("broken", "broken"),
        ]:
            mlflow.register_model(uris[logged], registered)
        client.set_registered_model_alias("cross_sell", "champion", "1")
        client.set_registered_model_alias("broken", "champion", "1")
        broken = client.get_logged_model(uris["broken"].removeprefix("models:/"))
        shutil.rmtree(broken.artifact_location.removeprefix("file://"))
    return SimpleNamespace(uri=uri, first=first, second=second)


@pytest.fixture
def store(registry: SimpleNamespace) -> Iterator[SimpleNamespace]:
    with use_mlflow_store(registry.uri):
        yield registry


def test_optional_registry_dataset_loads_none_when_no_such_model_is_registered(store):
    dataset = OptionalModelRegistryDataset(model_name="not_yet_trained", alias="champion")
    assert dataset.load() is None
    assert dataset.exists() is False


def test_optional_registry_dataset_loads_none_when_the_alias_is_missing(store):
    dataset = OptionalModelRegistryDataset(model_name="kept_out", alias="champion")
    assert dataset.exists() is False
    assert dataset.load() is None


def test_optional_registry_dataset_loads_the_model_the_alias_points_at(store):
    dataset = OptionalModelRegistryDataset(model_name="cross_sell", alias="champion")
    assert dataset.exists() is True
    loaded = dataset.load()
    assert isinstance(loaded, mlflow.pyfunc.PyFuncModel)
    expected = store.first.predict(FEATURES)
    assert (expected != store.second.predict(FEATURES)).all()  # version 2 would differ
    np.testing.assert_array_equal(loaded.predict(FEATURES), expected)


def test_a_registered_model_whose_artifacts_are_gone_is_an_error_not_none(store):
    dataset = OptionalModelRegistryDataset(model_name="broken", alias="champion")
    # None would tell the promotion gate "no @champion yet" and promote any challenger.
    with pytest.raises(DatasetError):
        dataset.load()


def test_project_catalog_reads_the_champion_alias_or_the_one_given_at_run_time():
    """`registered_champion` is cross_sell@champion; `--params=model_alias=<alias>` changes it."""
    conf = Path(__file__).parents[1] / "conf"
    for runtime_params, expected in [(None, "champion"), ({"model_alias": "challenger"}, None)]:
        config = OmegaConfigLoader(str(conf), runtime_params=runtime_params, **CONFIG_LOADER_ARGS)
        entry = config["catalog"]["registered_champion"]
        dataset = DataCatalog.from_config({"registered_champion": entry})["registered_champion"]
        assert isinstance(dataset, OptionalModelRegistryDataset)
        assert dataset.model_uri == f"models:/cross_sell@{expected or 'challenger'}"
