"""Drift monitoring for real: ``kedro run --pipelines=inference`` in a copy of ``trained_project``
(whose training run logged the champion's reference), first on its built-in ``test.csv``, then
on a drifted copy of it with ``--params=monitoring.on_drift=stop``.

The drifted copy: every customer 20 years older, and ``Vehicle_Damage`` set to ``Yes`` on a
seeded random half of the rows (so the half's ``No`` rows flip: 50 % -> 75 % ``Yes``). Flipping
a random half of a 50/50 column both ways would leave its distribution unchanged, which no
per-column statistic can see (test_nodes.py shows it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import log_records, mlflow_store, output, run_kedro, top_level_runs
from tests.robustness.support import clone_trained_project

pytestmark = pytest.mark.slow

MONITORING = Path("data/08_reporting/monitoring")
SUMMARY = MONITORING / "drift_summary.csv"
MODEL_OUTPUT = Path("data/07_model_output")
FEATURES = {
    "is_male",
    "age",
    "has_driving_license",
    "region_code",
    "previously_insured",
    "vehicle_age",
    "vehicle_damage",
    "annual_premium",
    "policy_sales_channel",
    "vintage",
}


@dataclass
class Run:
    log: str
    returncode: int
    summary: pd.DataFrame
    new_outputs: set[Path]  # files the run added under data/07_model_output
    report: str
    run_id: str


def _files(project: Path) -> set[Path]:
    return {p.relative_to(project) for p in (project / MODEL_OUTPUT).rglob("*") if p.is_file()}


def _inference(project: Path, *params: str) -> Run:
    before = _files(project)
    result = run_kedro(project, "run", "--pipelines=inference", *params, check=False)
    return Run(
        log=output(result),
        returncode=result.returncode,
        summary=pd.read_csv(project / SUMMARY),
        new_outputs=_files(project) - before,
        report=(project / MONITORING / "drift_report.html").read_text(encoding="utf-8"),
        run_id=top_level_runs(project)[-1].info.run_id,
    )


def drift(raw: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Every customer 20 years older; a seeded random half of the rows report vehicle damage."""
    drifted = raw.assign(Age=raw["Age"] + 20)
    half = np.random.default_rng(seed).permutation(len(raw))[: len(raw) // 2]
    drifted.loc[drifted.index[half], "Vehicle_Damage"] = "Yes"
    return drifted


@dataclass
class Monitored:
    project: Path
    clean: Run
    drifted: Run


@pytest.fixture(scope="module")
def monitored(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Monitored:
    project = clone_trained_project(
        trained_project, tmp_path_factory.mktemp("monitoring") / "project"
    )
    clean = _inference(project)
    assert clean.returncode == 0, clean.log[-4000:]
    test_csv = project / "data" / "01_raw" / "test.csv"
    drift(pd.read_csv(test_csv)).to_csv(test_csv, index=False, lineterminator="\n")
    drifted = _inference(project, "--params=monitoring.on_drift=stop")
    return Monitored(project=project, clean=clean, drifted=drifted)


def _drift_warnings(log: str) -> list[str]:
    return [r for r in log_records(log, "WARNING") if "Drift" in r]


def test_the_built_in_test_file_flags_nothing(monitored):
    summary = monitored.clean.summary
    assert summary.columns.tolist() == ["feature", "statistic", "value", "threshold", "drifted"]
    assert set(summary["feature"]) == FEATURES | {"prediction"}
    assert summary["feature"].iloc[-1] == "prediction"
    assert not summary["drifted"].any(), summary
    assert _drift_warnings(monitored.clean.log) == []
    assert "No drift: 10 feature columns and the prediction" in monitored.clean.log
    assert any(p.name == "predictions.csv" for p in monitored.clean.new_outputs)


def test_older_customers_with_damage_flag_exactly_those_and_the_prediction(monitored):
    summary = monitored.drifted.summary.set_index("feature")
    assert summary.index[summary["drifted"]].tolist() == ["age", "vehicle_damage", "prediction"]
    assert (summary["value"] > summary["threshold"]).equals(summary["drifted"])


def test_one_warning_names_the_drifted_features(monitored):
    (warning,) = _drift_warnings(monitored.drifted.log)
    named = {f for f in FEATURES | {"prediction"} if f"{f} (psi " in warning}
    assert named == {"age", "vehicle_damage", "prediction"}
    assert "on_drift=stop" in warning


def test_the_stop_policy_writes_nothing_to_model_output(monitored):
    """Neither predictions nor rejects (the drifted file has some: customers now aged over 85)."""
    run = monitored.drifted
    assert run.returncode != 0
    assert "DriftDetectedError" in run.log and "Scoring stopped" in run.log
    assert "rejected" in run.log  # the batch had rejects, and they were not written
    assert run.new_outputs == set()
    assert {p.parts[2] for p in monitored.clean.new_outputs} == {"predictions.csv", "rejects.csv"}


def test_the_reports_are_written_and_logged_before_the_stop(monitored):
    report = monitored.drifted.report  # Evidently's page, with the PSI and our thresholds
    assert "<title>Drift of the scoring batch" in report and "PSI" in report
    assert (monitored.project / MONITORING / "drift.png").stat().st_size > 10_000
    with mlflow_store(monitored.project):
        client = MlflowClient()
        logged = {a.path for a in client.list_artifacts(monitored.drifted.run_id, "monitoring")}
        run = client.get_run(monitored.drifted.run_id)
    assert logged == {
        "monitoring/drift_summary.csv",
        "monitoring/drift.png",
        "monitoring/drift_report.html",
    }
    assert run.data.metrics["drift.drifted_count"] == 3


def test_drift_metrics_build_a_history_across_runs(monitored):
    with mlflow_store(monitored.project):
        client = MlflowClient()
        history = [
            client.get_run(run.run_id).data.metrics for run in (monitored.clean, monitored.drifted)
        ]
    for metrics, run in zip(history, (monitored.clean, monitored.drifted), strict=True):
        expected = run.summary.set_index("feature")["value"]
        assert {f"drift.{f}.psi": metrics[f"drift.{f}.psi"] for f in expected.index} == (
            pytest.approx({f"drift.{f}.psi": v for f, v in expected.items()})
        )
    assert history[0]["drift.age.psi"] < 0.2 < history[1]["drift.age.psi"]


def test_the_champion_version_carries_its_training_reference(monitored):
    project = monitored.project
    local = pd.read_parquet(project / "data" / "06_models" / "monitoring_reference.parquet")
    train = pd.read_parquet(project / "data" / "05_model_input" / "train_set.parquet")
    assert len(local) == min(20_000, len(train))
    assert set(local.columns) == FEATURES | {"probability"}
    with mlflow_store(project):
        version = MlflowClient().get_model_version_by_alias("cross_sell", "champion")
        logged = {a.path for a in MlflowClient().list_artifacts(version.run_id, "monitoring")}
    assert "monitoring/monitoring_reference.parquet" in logged
