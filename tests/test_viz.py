"""Lineage in kedro-viz, for real: ``kedro viz run`` serves the trained project, ``kedro viz build``.

One server (``kedro viz run --host 127.0.0.1 --port <free> --no-browser``; autoreload is off
unless ``--autoreload``) is started for the module in a trained project copy, so dataset previews
have files to read. Its version check against PyPI is sent to a closed local port (it then
skips quietly), so the tests need no network. Expected values come from the project itself: its
registered pipelines, node namespaces and catalog, whatever pipelines are registered.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kedro.io import CatalogConfigResolver

from tests.conftest import (
    kedro_env,
    make_project_copy,
    project_config,
    registered_pipelines,
    run_kedro,
)

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 300  # seconds; the server imports the whole stack on a busy 2-core machine
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


def _free_port() -> int:
    """A free TCP port below 49152 (kedro-viz refuses higher ones)."""
    for port in random.sample(range(20000, 45000), 200):
        with socket.socket() as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port found")


def _viz_env(project: Path) -> dict[str, str]:
    """``kedro_env`` plus a dead proxy for HTTPS, so kedro-viz's PyPI version check fails fast."""
    env = kedro_env(project)
    dead_proxy = f"http://{HOST}:9"
    env.update(HTTPS_PROXY=dead_proxy, https_proxy=dead_proxy)
    env.update(NO_PROXY=f"{HOST},localhost", no_proxy=f"{HOST},localhost")
    return env


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


def _stop(process: subprocess.Popen) -> None:
    """Stop the server: the CLI process and its spawned server child share one process group."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def viz(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a ``kedro viz run`` server on the trained project."""
    log_path = tmp_path_factory.mktemp("viz") / "viz.log"
    command = [sys.executable, "-m", "kedro", "viz", "run", "--host", HOST]
    command += ["--port", str(_free_port()), "--no-browser"]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            cwd=trained_project,
            env=_viz_env(trained_project),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        # Printed once the server answers (it moves to the next port if the one given is taken).
        running = re.compile(rf"running at\s+(http://{re.escape(HOST)}:\d+)/")
        while not (found := running.search(log_path.read_text())):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"kedro viz run did not start:\n{log_path.read_text()[-6000:]}")
            time.sleep(1)
        yield found.group(1)
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def declared(trained_project: Path) -> SimpleNamespace:
    """What the project declares: registered pipelines, catalog resolver, parameters."""
    return SimpleNamespace(
        pipelines=registered_pipelines(trained_project),
        catalog=CatalogConfigResolver(project_config(trained_project, "catalog")),
        parameters=project_config(trained_project, "parameters"),
    )


def _namespaces(pipeline) -> set[str]:
    """Every namespace of ``pipeline``'s nodes, with its parents (``a.b`` gives ``a``, ``a.b``)."""
    found = set()
    for node in pipeline.nodes:
        parts = (node.namespace or "").split(".")
        found |= {".".join(parts[:depth]) for depth in range(1, len(parts) + 1) if parts[0]}
    return found


def _declared_layer(declared: SimpleNamespace, dataset: str) -> str | None:
    """The layer the catalog gives ``dataset`` (entries and factory patterns), or None."""
    config = declared.catalog.resolve_pattern(dataset)  # undeclared: the MemoryDataset default
    return ((config.get("metadata") or {}).get("kedro-viz") or {}).get("layer")


def test_viz_lists_every_registered_pipeline(viz: str, declared: SimpleNamespace) -> None:
    main = _get(f"{viz}/api/main")
    assert {p["id"] for p in main["pipelines"]} == set(declared.pipelines)
    assert main["selected_pipeline"] == "__default__"


def test_each_pipeline_shows_its_nodes_and_namespaces(viz: str, declared: SimpleNamespace) -> None:
    for name, pipeline in declared.pipelines.items():
        view = _get(f"{viz}/api/pipelines/{name}")
        tasks = {n["full_name"] for n in view["nodes"] if n["type"] == "task"}
        assert tasks == {node.name for node in pipeline.nodes}, name
        groups = set(view["modular_pipelines"]) - {"__root__"}
        assert groups == _namespaces(pipeline), name


def test_model_families_are_collapsible_groups(viz: str, declared: SimpleNamespace) -> None:
    """Each model family (a parameters block naming an ``estimator``) is a modular pipeline."""
    families = {
        key
        for key, value in declared.parameters.items()
        if isinstance(value, dict) and "estimator" in value
    }
    assert families, "no model family found in the parameters"
    main = _get(f"{viz}/api/main")
    default_groups = _namespaces(declared.pipelines["__default__"])
    shown = {n["id"] for n in main["nodes"] if n["type"] == "modularPipeline"}
    assert families <= default_groups, "every family is trained by the default pipeline"
    assert default_groups <= shown
    for group in default_groups:
        children = main["modular_pipelines"][group]["children"]
        assert any(child["type"] == "task" for child in children), group


def test_datasets_sit_in_their_data_layers(viz: str, declared: SimpleNamespace) -> None:
    """Every dataset saved to disk has a layer (catalog ``metadata: kedro-viz: layer``)."""
    main = _get(f"{viz}/api/main")
    data_nodes = [n for n in main["nodes"] if n["type"] == "data"]
    for node in data_nodes:
        assert node["layer"] == _declared_layer(declared, node["name"]), node["name"]
    persisted = [n for n in data_nodes if "MemoryDataset" not in (n["dataset_type"] or "")]
    unlayered = sorted(n["name"] for n in persisted if n["layer"] is None)
    assert not unlayered, f"datasets without a kedro-viz layer in the catalog: {unlayered}"
    # kedro-viz shows no layers at all when they form a cycle (it logs a warning).
    assert {"raw", "model_input", "models", "reporting"} <= set(main["layers"]) <= set(LAYER_ORDER)


def test_layers_follow_the_data_flow(declared: SimpleNamespace) -> None:
    """No dataset is made from a dataset of a later layer, in any registered pipeline.

    So the layers form no cycle (kedro-viz would drop them all) and read left to right in
    Kedro's order; kedro-viz itself may list layers that no edge relates in any order.
    """
    later = []
    for name, pipeline in declared.pipelines.items():
        latest: dict[str, int] = {}  # dataset -> latest layer among itself and its ancestors
        for node in pipeline.nodes:  # topologically sorted
            upstream = [latest[i] for i in node.inputs if latest.get(i) is not None]
            before = max(upstream, default=None)
            for output in node.outputs:
                layer = _declared_layer(declared, output)
                own = LAYER_ORDER.index(layer) if layer else None
                if own is not None and before is not None and own < before:
                    later.append(f"{name}: {output} ({layer}) from {LAYER_ORDER[before]} data")
                latest[output] = max((x for x in (before, own) if x is not None), default=None)
    assert not later, "\n".join(sorted(set(later)))


def test_plots_and_tables_have_previews(viz: str) -> None:
    main = _get(f"{viz}/api/main")
    plots = [n for n in main["nodes"] if "Matplotlib" in (n.get("dataset_type") or "")]
    assert plots, "no matplotlib dataset in the default pipeline"
    for node in plots:
        details = _get(f"{viz}/api/nodes/{node['id']}")
        assert details.get("preview_type") == "ImagePreview", node["name"]
        assert base64.b64decode(details["preview"]).startswith(PNG_SIGNATURE), node["name"]
    table = next(n for n in main["nodes"] if n["name"] == "model_input_table")
    details = _get(f"{viz}/api/nodes/{table['id']}")
    assert details["preview_type"] == "TablePreview"
    assert "response" in details["preview"]["columns"]


def test_viz_build_writes_a_static_site(trained_project: Path, tmp_path: Path) -> None:
    """``kedro viz build`` writes ``build/`` in the working directory (no option to move it)."""
    copy = make_project_copy(tmp_path / "project")
    shutil.copytree(trained_project / "data", copy / "data", dirs_exist_ok=True)
    run_kedro(copy, "viz", "build", "--include-previews")
    site = copy / "build"
    assert (site / "index.html").is_file()
    main = json.loads((site / "api" / "main").read_text())
    assert {p["id"] for p in main["pipelines"]} == set(registered_pipelines(copy))
    plot = next(n for n in main["nodes"] if "Matplotlib" in (n.get("dataset_type") or ""))
    details = json.loads((site / "api" / "nodes" / plot["id"]).read_text())
    assert details["preview_type"] == "ImagePreview"
