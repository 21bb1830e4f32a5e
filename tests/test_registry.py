"""The pipeline registry: fixed in code, public Kedro API only, environments honoured or refused,
and no import circle in ``src/``."""

from __future__ import annotations

import ast
import shutil
from collections import defaultdict
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest
from kedro_mlflow.pipeline.pipeline_ml import PipelineML

from cross_sell.pipelines.data_science.pipeline import FAMILIES
from cross_sell.pipelines.tuning.pipeline import TUNED_FAMILIES
from tests.conftest import REPO, make_project_copy, output, registered_pipelines, run_kedro

SRC = REPO / "src"
PACKAGE = "cross_sell"
PIPELINES = f"{PACKAGE}.pipelines"


# ---------------------------------------------------------------------------- the registry
def test_the_registry_reads_no_configuration(tmp_path: Path, monkeypatch) -> None:
    """Fixed in code: the same pipelines from a folder without conf/ and with KEDRO_ENV set."""
    expected = {name: {n.name for n in p.nodes} for name, p in registered_pipelines().items()}
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KEDRO_ENV", "nowhere")
    found = {name: {n.name for n in p.nodes} for name, p in registered_pipelines().items()}
    assert found == expected
    assert set(FAMILIES) <= set(found)
    assert {f"{family}_tuned" for family in TUNED_FAMILIES} <= set(found)


def test_every_pipeline_that_chooses_a_champion_registers_it() -> None:
    """A pipeline that selects a champion is a PipelineML (its run logs and registers the
    servable model); no other pipeline is, so nothing else is ever registered."""
    for name, pipeline in registered_pipelines().items():
        selects = any(n.name == "evaluation.select_champion_node" for n in pipeline.nodes)
        assert isinstance(pipeline, PipelineML) == selects, name
    pipelines = registered_pipelines()
    assert isinstance(pipelines["__default__"], PipelineML)
    assert isinstance(pipelines["evaluation"], PipelineML)


def test_the_default_pipeline_is_the_modular_pipelines_in_data_flow_order() -> None:
    pipelines = registered_pipelines()
    default = {node.name for node in pipelines["__default__"].nodes}
    parts = ("data_engineering", "data_science", "evaluation")
    assert default == {node.name for name in parts for node in pipelines[name].nodes}


def test_nodes_sit_in_their_pipelines_namespace() -> None:
    pipelines = registered_pipelines()
    for name in ("data_engineering", "data_science", "tuning", "evaluation", "inference"):
        namespaces = {node.namespace.split(".")[0] for node in pipelines[name].nodes}
        assert namespaces == {name}, name
    for family in FAMILIES:  # one family's run: the split and that family, nothing else
        nodes = {node.name for node in pipelines[family].nodes}
        assert nodes == {
            "data_science.split_model_input_node",
            f"data_science.{family}.fit_model_node",
        }


# ---------------------------------------------------------------------------- environments
@pytest.mark.slow  # a `kedro run` (it stops before any node)
def test_an_environment_that_lists_fewer_families_is_refused_naming_the_parameter(
    generated_project: Path, tmp_path: Path
) -> None:
    """The families are fixed in code: a conf that sets them stops the run before any node,
    naming the parameter, instead of being silently ignored."""
    project = make_project_copy(tmp_path / "project")
    shutil.copytree(
        generated_project / "data" / "01_raw", project / "data" / "01_raw", dirs_exist_ok=True
    )
    (project / "conf" / "fewer").mkdir()
    (project / "conf" / "fewer" / "parameters.yml").write_text(
        "data_science:\n  families: [xgboost]\n", encoding="utf-8"
    )

    result = run_kedro(project, "run", "--env=fewer", check=False)

    assert result.returncode != 0
    text = output(result)
    assert any("data_science.families" in line for line in text.splitlines()), text[-3000:]
    for layer in ("02_intermediate", "05_model_input", "06_models", "08_reporting"):
        assert not any((project / "data" / layer).iterdir()), f"a node wrote to data/{layer}"


# ---------------------------------------------------------------------------- source checks
def _sources() -> dict[str, Path]:
    """Module name -> file of every module of the package."""
    modules = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that module ``name`` imports (anywhere in it, not only on top)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from a import b` imports the module a.b when there is one, else a name of a
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        found |= {target for target in targets if target in modules and target != name}
    return found


def test_no_private_kedro_api_in_src() -> None:
    """(kedro-datasets' ``_typing`` preview types are its documented API for kedro-viz.)"""
    hits = [
        f"{path.relative_to(REPO)}:{number}"
        for path in (SRC / PACKAGE).rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if "_requested_pipelines" in line
    ]
    assert not hits, hits
    private = []
    for path in (SRC / PACKAGE).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            module = (node.module or "") if isinstance(node, ast.ImportFrom) else ""
            if module == "kedro" or module.startswith("kedro."):  # the framework itself
                names = [alias.name for alias in node.names]
                if any(part.startswith("_") for part in module.split(".")) or any(
                    n.startswith("_") for n in names
                ):
                    private.append(f"{path.relative_to(REPO)}:{node.lineno} {module} {names}")
    assert not private, private


def test_no_import_cycle_between_modules_of_src() -> None:
    modules = _sources()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as error:
        raise AssertionError(f"import cycle in src/: {' -> '.join(error.args[1])}") from None
    assert order.index(f"{PIPELINES}.data_science.nodes") < order.index(f"{PIPELINES}.tuning.nodes")


def test_no_import_cycle_between_pipeline_packages() -> None:
    """``data_science`` and ``tuning`` share a leaf module instead of importing each other."""
    modules = _sources()
    graph: dict[str, set[str]] = defaultdict(set)

    def pipeline_package(module: str) -> str | None:
        parts = module.split(".")
        return ".".join(parts[:3]) if module.startswith(f"{PIPELINES}.") else None

    for name, path in modules.items():
        own = pipeline_package(name)
        if own is None:
            continue
        graph[own] |= {
            other
            for other in map(pipeline_package, _imports(name, path, modules))
            if other and other != own
        }
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        raise AssertionError(
            f"pipeline packages import each other: {' -> '.join(error.args[1])}"
        ) from None
    assert f"{PIPELINES}.data_science" not in graph[f"{PIPELINES}.data_engineering"]
