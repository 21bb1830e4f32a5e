"""Helpers: a project folder with the real conf/ and its catalog, cloned cheaply per test."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from kedro.io import DataCatalog

from cross_sell import settings

REPO = Path(__file__).resolve().parents[2]


class ProjectFolder:
    """A folder holding a copy of the repository's conf/; catalog paths are relative to it."""

    def __init__(self, root: Path, config: tuple[dict, dict] | None = None) -> None:
        self.root = root
        if not (root / "conf").exists():
            shutil.copytree(REPO / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
            (root / "conf" / "local").mkdir()
        if config is None:
            loader = settings.CONFIG_LOADER_CLASS(
                conf_source=str(root / "conf"), **settings.CONFIG_LOADER_ARGS
            )
            config = loader["catalog"], loader["parameters"]
        self.conf_catalog, self.parameters = config

    def clone(self, root: Path) -> ProjectFolder:
        """A copy of this folder (conf and data) at ``root``, sharing the loaded config."""
        shutil.copytree(self.root, root)
        return ProjectFolder(root, (self.conf_catalog, self.parameters))

    def catalog(self, *params: str, **overrides: Any) -> DataCatalog:
        """A fresh catalog from conf, with ``params:<name>`` for each dotted parameter name.

        ``overrides`` replace parameter values (keys use ``__`` for dots).
        """
        catalog = DataCatalog.from_config(self.conf_catalog)
        values = {name.replace("__", "."): value for name, value in overrides.items()}
        for name in params:
            value: Any = self.parameters
            for key in name.split("."):
                value = value[key]
            catalog[f"params:{name}"] = values.get(name, value)
        return catalog

    def path(self, relative: str) -> Path:
        return self.root / relative

    def versions(self, versioned: str) -> list[Path]:
        """The files of every version of a versioned dataset, oldest first."""
        folder = self.path(versioned)
        if not folder.exists():
            return []
        return [version / folder.name for version in sorted(folder.iterdir())]
