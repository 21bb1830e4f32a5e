"""notebooks/explore_cross_sell.ipynb runs top to bottom on a trained project, so it cannot rot.

It is executed with nbclient (the ``python3`` kernel: jupyter_client starts it with this test's
interpreter) from the ``notebooks/`` folder of a trained project copy, where
``%load_ext kedro.ipython`` finds the project by walking up to its pyproject.toml. One model is
removed first: the notebook must list only the models that exist.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO, make_project_copy

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
    project = make_project_copy(tmp_path / "project")
    shutil.copytree(trained_project / "data", project / "data", dirs_exist_ok=True)
    models = project / "data" / "06_models"
    champion = json.loads((models / "champion.json").read_text())["name"]
    trained = sorted(p.name.removesuffix(".pkl") for p in models.glob("*.pkl") if p.is_dir())
    removed = next(name for name in trained if name not in {champion, "champion_model"})
    shutil.rmtree(models / f"{removed}.pkl")
    (project / "notebooks").mkdir()
    shutil.copy2(NOTEBOOK, project / "notebooks" / NOTEBOOK.name)
    # The kernel inherits this environment: a throw-away MLflow store, no telemetry.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{project / 'mlflow.db'}")
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
    assert len(images) >= 2  # response rate by feature, by age band
    output = "\n".join(_text(c) for c in code)
    listed_line = next(line for line in output.splitlines() if "trained models:" in line)
    listed = set(listed_line.split("trained models:")[1].strip().split(", "))
    still_trained = {name for name in trained if name not in {removed, "champion_model"}}
    assert listed == still_trained, listed_line
    scores = next(text for text in map(_text, code) if "mean_probability" in text)
    assert all(name in scores for name in still_trained), scores
    assert f"champion: {champion}" in output
