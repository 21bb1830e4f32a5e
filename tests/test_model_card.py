"""After the training run of ``trained_project``: the registered version carries the run's model
card as its description, and the run holds the slice report (table, plot, metrics)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from cross_sell.pipelines.evaluation.card import TITLE
from tests.conftest import tracking_uri

pytestmark = pytest.mark.slow  # reads trained_project (one `kedro run`)


def test_the_registered_version_carries_the_model_card_and_the_run_the_slices(
    trained_project: Path,
) -> None:
    uri = tracking_uri(trained_project)
    client = MlflowClient(
        tracking_uri=uri, registry_uri=uri
    )  # not a registry URI another test left
    # The newest version comes from the last training run in this project, which also wrote the
    # card file (other tests may train again in it).
    version = max(client.search_model_versions("name = 'cross_sell'"), key=lambda v: int(v.version))
    run = client.get_run(version.run_id)
    card = (trained_project / "data" / "08_reporting" / "model_card.md").read_text()
    assert card.startswith(TITLE + "\n")
    assert version.description.startswith(card.splitlines()[0])
    assert version.description == card

    report = pd.read_csv(trained_project / "data/08_reporting/evaluation/slice_report.csv")
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation/plots")}
    assert {"evaluation/slice_report.csv", "evaluation/model_card.md"} <= logged
    assert "evaluation/plots/slices.png" in plots
    assert run.data.metrics["slice.all.roc_auc"] == pytest.approx(report.loc[0, "roc_auc"])
    assert any(name.startswith("slice.Vehicle_Age.gt_2_Years.") for name in run.data.metrics)
