"""notebooks/explore_cross_sell.ipynb runs top to bottom on a trained project, so it cannot rot.

It is executed with nbclient (the ``python3`` kernel: jupyter_client starts it with this test's
interpreter) from the ``notebooks/`` folder of a copy of the session's trained project (its data
and its MLflow store), where ``%load_ext kedro.ipython`` finds the project by walking up to its
pyproject.toml and kedro-mlflow points MLflow at the copy's store.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO
from tests.robustness.support import clone_trained_project

NOTEBOOK = REPO / "notebooks" / "explore_cross_sell.ipynb"


def _text(cell: nbformat.NotebookNode) -> str:
    """Everything a code cell printed or displayed as text."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output["text"])
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


def test_notebook_is_stored_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, cell.source[:80]


def test_notebook_runs_on_a_trained_project(
    trained_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = clone_trained_project(trained_project, tmp_path / "project")
    (project / "notebooks").mkdir()
    shutil.copy2(NOTEBOOK, project / "notebooks" / NOTEBOOK.name)
    # The kernel inherits this environment: the copy's MLflow store, no telemetry.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{project / 'mlflow.db'}")
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.setenv("KEDRO_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("PYTHONWARNINGS", "ignore")

    notebook = nbformat.read(project / "notebooks" / NOTEBOOK.name, as_version=4)
    NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(project / "notebooks")}},
    ).execute()  # raises CellExecutionError, with the cell and its traceback, if a cell fails

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2  # response rate by feature, by age band
    output = "\n".join(_text(c) for c in code)
    champion = json.loads(
        (project / "data" / "08_reporting" / "evaluation" / "champion.json").read_text()
    )
    assert f"champion: {champion['name']} (selected by validation roc_auc)" in output
    assert f"contact threshold {champion['threshold']:.3f}" in output
    models = pd.read_csv(project / "data" / "08_reporting" / "evaluation" / "model_comparison.csv")
    table = next(_text(c) for c in code if "test.roc_auc" in _text(c))
    assert all(name in table for name in models["model"]), table
    # The first run was promoted: the registered @champion is this run's champion_model, and
    # the notebook checked that both give the same probabilities for raw test rows.
    assert "this run's champion promoted: True" in output
    assert "registered @champion scores like champion_model: True" in output
