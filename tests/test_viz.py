"""Lineage in kedro-viz, for real: ``kedro viz build`` in a copy of the trained project.

``kedro viz build --include-previews`` writes ``build/`` (the static site, and under ``build/api``
the JSON that ``kedro viz run`` serves: ``main`` is the default pipeline, ``pipelines/<name>``
each registered pipeline, ``nodes/<id>`` a node's details and preview). It runs once for the
module in a copy holding the trained project's data, so previews have files to read. Its
version check against PyPI is sent to a closed local port, so the tests need no network.
Expected values come from the project itself: its registered pipelines and its catalog.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kedro.io import CatalogConfigResolver

from cross_sell.pipelines.data_science.pipeline import FAMILIES
from cross_sell.pipelines.tuning.pipeline import TUNED_FAMILIES
from tests.conftest import (
    kedro_env,
    make_project_copy,
    output,
    project_config,
    registered_pipelines,
)

pytestmark = pytest.mark.slow  # `kedro viz build` after trained_project

HOST = "127.0.0.1"
# Kedro's data layer convention (the data/0X_<layer> folders): a layer never feeds an earlier one.
LAYER_ORDER = (
    "raw",
    "intermediate",
    "primary",
    "feature",
    "model_input",
    "models",
    "model_output",
    "reporting",
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# kedro_viz/services/layers.py, when the catalog's layers form a cycle (it then shows none)
LAYER_CYCLE_WARNING = "circular dependency detected among layers"


@dataclass
class Site:
    root: Path  # build/
    log: str  # what `kedro viz build` printed

    def api(self, path: str) -> Any:
        return json.loads((self.root / "api" / path).read_text())


def _viz_env(project: Path) -> dict[str, str]:
    """``kedro_env`` plus a dead proxy for HTTPS, so kedro-viz's PyPI version check fails fast."""
    env = kedro_env(project)
    dead_proxy = f"http://{HOST}:9"
    env.update(HTTPS_PROXY=dead_proxy, https_proxy=dead_proxy)
    env.update(NO_PROXY=f"{HOST},localhost", no_proxy=f"{HOST},localhost")
    return env


@pytest.fixture(scope="module")
def site(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Site:
    """``kedro viz build --include-previews`` (it writes ``build/`` in the working directory)."""
    project = make_project_copy(tmp_path_factory.mktemp("viz") / "project")
    shutil.copytree(trained_project / "data", project / "data", dirs_exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "viz", "build", "--include-previews"],
        check=False,
        cwd=project,
        env=_viz_env(project),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    if result.returncode != 0:
        pytest.fail(f"kedro viz build failed:\n{output(result)[-6000:]}")
    return Site(root=project / "build", log=output(result))


@pytest.fixture(scope="module")
def catalog(trained_project: Path) -> CatalogConfigResolver:
    return CatalogConfigResolver(project_config(trained_project, "catalog"))


def _declared_layer(catalog: CatalogConfigResolver, dataset: str) -> str | None:
    """The layer the catalog gives ``dataset`` (entries and factory patterns), or None."""
    config = catalog.resolve_pattern(dataset)  # undeclared: the MemoryDataset default
    return ((config.get("metadata") or {}).get("kedro-viz") or {}).get("layer")


def _namespaces(pipeline) -> set[str]:
    """Every namespace of ``pipeline``'s nodes, with its parents (``a.b`` gives ``a``, ``a.b``)."""
    found = set()
    for node in pipeline.nodes:
        parts = (node.namespace or "").split(".")
        found |= {".".join(parts[:depth]) for depth in range(1, len(parts) + 1) if parts[0]}
    return found


# ---------------------------------------------------------------------------- the default view
def test_the_site_lists_every_registered_pipeline(site: Site) -> None:
    assert (site.root / "index.html").is_file()
    main = site.api("main")
    assert {p["id"] for p in main["pipelines"]} == set(registered_pipelines())
    assert main["selected_pipeline"] == "__default__"


def test_the_default_pipeline_opens_on_a_handful_of_modular_pipelines(site: Site) -> None:
    main = site.api("main")
    assert {"data_engineering", "data_science", "evaluation"} <= set(main["modular_pipelines"])
    top = {child["id"] for child in main["modular_pipelines"]["__root__"]["children"]}
    boxes = {n["id"] for n in main["nodes"] if n["type"] == "modularPipeline" and n["id"] in top}
    default = registered_pipelines()["__default__"]
    assert boxes == {node.namespace.split(".")[0] for node in default.nodes if node.namespace}
    assert len(boxes) <= 5
    loose = [
        n["full_name"] for n in main["nodes"] if n["type"] == "task" and not n["modular_pipelines"]
    ]
    assert len(loose) <= 10, loose


def test_model_families_are_nested_inside_data_science(site: Site) -> None:
    """Each family is its own box inside ``data_science``, each tuned refit inside ``tuning``."""
    modular = site.api("main")["modular_pipelines"]
    inside = {child["id"] for child in modular["data_science"]["children"]}
    assert {f"data_science.{family}" for family in FAMILIES} <= inside
    modular = site.api("pipelines/tuning")["modular_pipelines"]
    inside = {child["id"] for child in modular["tuning"]["children"]}
    assert {f"tuning.{family}_tuned" for family in TUNED_FAMILIES} <= inside


def test_each_pipeline_shows_its_nodes_and_namespaces(site: Site) -> None:
    for name, pipeline in registered_pipelines().items():
        view = site.api(f"pipelines/{name}")
        tasks = {n["full_name"] for n in view["nodes"] if n["type"] == "task"}
        assert tasks == {node.name for node in pipeline.nodes}, name
        groups = set(view["modular_pipelines"]) - {"__root__"}
        assert groups == _namespaces(pipeline), name


# ---------------------------------------------------------------------------- layers
def test_no_layer_cycle_and_layers_in_data_flow_order(site: Site) -> None:
    assert LAYER_CYCLE_WARNING not in site.log.lower(), site.log[-3000:]
    layers = site.api("main")["layers"]
    assert {"raw", "model_input", "models", "reporting"} <= set(layers) <= set(LAYER_ORDER)
    shown = [layer for layer in layers if layer in ("raw", "model_input", "models", "reporting")]
    assert shown == ["raw", "model_input", "models", "reporting"]


def test_datasets_sit_in_their_data_layers(site: Site, catalog: CatalogConfigResolver) -> None:
    """Every dataset saved to disk has a layer (catalog ``metadata: kedro-viz: layer``)."""
    data_nodes = [n for n in site.api("main")["nodes"] if n["type"] == "data"]
    for node in data_nodes:
        assert node["layer"] == _declared_layer(catalog, node["name"]), node["name"]
    persisted = [n for n in data_nodes if "MemoryDataset" not in (n["dataset_type"] or "")]
    unlayered = sorted(n["name"] for n in persisted if n["layer"] is None)
    assert not unlayered, f"datasets without a kedro-viz layer in the catalog: {unlayered}"


def test_layers_follow_the_data_flow(catalog: CatalogConfigResolver) -> None:
    """No dataset is made from a dataset of a later layer, in any registered pipeline.

    So the layers form no cycle (kedro-viz would drop them all) and read left to right in
    Kedro's order; kedro-viz itself may list layers that no edge relates in any order.
    """
    later = []
    for name, pipeline in registered_pipelines().items():
        latest: dict[str, int | None] = {}  # dataset -> latest layer of itself and its ancestors
        for node in pipeline.nodes:  # topologically sorted
            upstream = [latest[i] for i in node.inputs if latest.get(i) is not None]
            before = max(upstream, default=None)
            for output_name in node.outputs:
                layer = _declared_layer(catalog, output_name)
                own = LAYER_ORDER.index(layer) if layer else None
                if own is not None and before is not None and own < before:
                    later.append(f"{name}: {output_name} ({layer}) from {LAYER_ORDER[before]}")
                latest[output_name] = max((x for x in (before, own) if x is not None), default=None)
    assert not later, "\n".join(sorted(set(later)))


# ---------------------------------------------------------------------------- previews
def test_plots_and_tables_have_previews(site: Site) -> None:
    main = site.api("main")
    plots = [n for n in main["nodes"] if "Matplotlib" in (n.get("dataset_type") or "")]
    assert "roc_curves_plot" in {n["name"] for n in plots}
    for node in plots:
        details = site.api(f"nodes/{node['id']}")
        assert details.get("preview_type") == "ImagePreview", node["name"]
        assert base64.b64decode(details["preview"]).startswith(PNG_SIGNATURE), node["name"]
    table = next(n for n in main["nodes"] if n["name"] == "model_input_table")
    details = site.api(f"nodes/{table['id']}")
    assert details["preview_type"] == "TablePreview"
    assert "response" in details["preview"]["columns"]
