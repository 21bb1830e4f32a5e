"""Fixtures for inference: raw Kaggle test rows, a tiny fitted champion, and the project's real
catalog in a temporary project folder."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from kedro.io import DataCatalog
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from cross_sell import settings
from cross_sell.pipelines.data_engineering.nodes import clean_raw_table
from tests.pipelines.data_engineering.conftest import make_raw_frame

REPO = Path(__file__).resolve().parents[3]
CODES = ["region_code", "policy_sales_channel"]
THRESHOLD = {"threshold": 0.3, "rule": "contact when probability >= threshold"}


def make_test_frame(n_rows: int = 40, first_id: int = 500_001) -> pd.DataFrame:
    """Valid raw rows in the Kaggle ``test.csv`` format (no ``Response``)."""
    return make_raw_frame(n_rows, include_target=False, first_id=first_id)


def fit_champion(n_rows: int = 400) -> Pipeline:
    """A small sklearn pipeline on the clean feature columns; unknown codes are ignored."""
    clean = clean_raw_table(make_raw_frame(n_rows))
    features = clean.drop(columns=["id", "response"])
    model = make_pipeline(
        ColumnTransformer(
            [("codes", OneHotEncoder(handle_unknown="ignore"), CODES)],
            remainder=StandardScaler(),
        ),
        LogisticRegression(max_iter=500),
    )
    return model.fit(features, clean["response"])


@pytest.fixture(scope="session")
def champion() -> Pipeline:
    return fit_champion()


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


class Project:
    """A temporary project folder with the repository's conf/ and the catalog it declares."""

    def __init__(self, root: Path) -> None:
        self.root = root
        shutil.copytree(REPO / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
        (root / "conf" / "local").mkdir()
        loader = settings.CONFIG_LOADER_CLASS(
            conf_source=str(root / "conf"), **settings.CONFIG_LOADER_ARGS
        )
        self.conf_catalog = loader["catalog"]
        self.parameters = loader["parameters"]

    def catalog(self, **params: Any) -> DataCatalog:
        """A fresh catalog from conf (paths relative to the project), parameters added."""
        catalog = DataCatalog.from_config(self.conf_catalog)

        def add(prefix: str, value: Any) -> None:  # as Kedro does: every level of nesting
            catalog[prefix] = value
            if isinstance(value, dict):
                for key, item in value.items():
                    add(f"{prefix}.{key}", item)

        add("params:inference", {**self.parameters["inference"], **params})
        return catalog

    def path(self, relative: str) -> Path:
        return self.root / relative

    def latest(self, versioned: str) -> Path:
        """The newest version of a versioned file, e.g. ``data/07_model_output/rejects.csv``."""
        versions = sorted(self.path(versioned).iterdir())
        return versions[-1] / self.path(versioned).name


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, champion: Pipeline) -> Project:
    """The real catalog in a temporary folder, with a saved champion and contact threshold."""
    monkeypatch.chdir(tmp_path)
    project = Project(tmp_path)
    catalog = project.catalog()
    catalog.save("champion_model", champion)
    catalog.save("contact_threshold", THRESHOLD)
    return project
