"""Nothing lost: interrupted tuning runs, a failing training run, versioned outputs.

On a copy of the session's ``trained_project`` (a finished ``kedro run``: models, both registry
aliases, Optuna studies), for real (``python -m kedro run``):

1. ``kedro run --pipelines=tuning`` with a long study, stopped by SIGTERM once the xgboost study
   holds two more completed trials: every completed trial survives, the trial in progress is
   marked FAIL and the MLflow run FAILED (``preflight.TerminationHook``);
2. the same command again continues that study (new trials numbered after the old ones), and is
   stopped by SIGKILL: again no completed trial is lost (the trial in progress stays RUNNING:
   nothing can run on SIGKILL; samplers, pruners and the best trial ignore it);
3. a training run (``kedro run``, one more xgboost trial) that fails in ``evaluation``: the
   study grew by one trial from where SIGKILL left it, the MLflow run is FAILED, both aliases
   (``cross_sell_classifier`` and ``cross_sell``) still point at the previous versions, and
   every earlier model file in ``data/06_models`` is intact (the models fitted before the
   failure are new versions next to them).
"""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from cross_sell import settings
from cross_sell.preflight import TerminationHook
from tests.conftest import kedro_env, run_kedro
from tests.robustness.support import ProjectFolder

LONG_STUDY = (
    "tuning.xgboost.n_trials=1000,tuning.xgboost.timeout=3600,tuning.random_forest.n_trials=0"
)
REGISTERED_MODELS = ("cross_sell_classifier", "cross_sell")
MODELS = ("xgboost", "random_forest", "logistic_regression", "xgboost_tuned", "random_forest_tuned")
Trial = tuple[int, str, float | None]  # number, state, value


def clone_trained_project(source: Path, dest: Path) -> Path:
    """Copy a trained project; point its MLflow store's artifact locations at the copy."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("*.log"))
    with sqlite3.connect(dest / "mlflow.db") as db:
        for table, column in [
            ("experiments", "artifact_location"),
            ("runs", "artifact_uri"),
            ("model_versions", "storage_location"),
            ("logged_models", "artifact_location"),
        ]:
            db.execute(
                f"UPDATE {table} SET {column} = replace({column}, ?, ?)",
                (str(source), str(dest)),
            )
    return dest


def xgboost_trials(project: Path) -> tuple[str, list[Trial]]:
    """The xgboost study's name and its trials, read from the sqlite storage like a bystander."""
    with sqlite3.connect(project / "data" / "06_models" / "optuna.db", timeout=30) as db:
        rows = db.execute(
            "SELECT s.study_name, t.number, t.state, v.value FROM trials t "
            "JOIN studies s USING (study_id) LEFT JOIN trial_values v USING (trial_id) "
            "WHERE s.study_name LIKE '%.xgboost.%' ORDER BY t.number"
        ).fetchall()
    names = {row[0] for row in rows}
    assert len(names) == 1, names
    return names.pop(), [(number, state, value) for _, number, state, value in rows]


def completed(trials: list[Trial]) -> list[Trial]:
    return [trial for trial in trials if trial[1] == "COMPLETE"]


def start_kedro(project: Path, *args: str) -> subprocess.Popen:
    """``python -m kedro <args>`` in the background; its output goes to ``process.log_path``."""
    log_path = project / f"kedro-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kedro", *args],
            cwd=project,
            env=kedro_env(project),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    process.log_path = log_path
    return process


def output_of(process: subprocess.Popen) -> str:
    return process.log_path.read_text(errors="replace")


def wait_until(condition: Callable[[], bool], process: subprocess.Popen, limit: float = 300):
    """Poll ``condition`` every 0.2 s while ``process`` runs; fail if it ends first."""
    deadline = time.monotonic() + limit
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"condition not reached; kedro output:\n{output_of(process)[-5000:]}")
        time.sleep(0.2)


def interrupt(project: Path, sig: signal.Signals) -> tuple[list[Trial], list[Trial], str, int]:
    """Run the long study until two more trials complete, send ``sig``; trials before/after."""
    _, before = xgboost_trials(project)
    target = len(completed(before)) + 2
    process = start_kedro(project, "run", "--pipelines=tuning", f"--params={LONG_STUDY}")
    wait_until(lambda: len(completed(xgboost_trials(project)[1])) >= target, process)
    at_signal = xgboost_trials(project)[1]
    process.send_signal(sig)
    returncode = process.wait(timeout=120)
    return at_signal, xgboost_trials(project)[1], output_of(process), returncode


def runs(project: Path) -> list[tuple[str, str]]:
    """(run name, status) of every MLflow run of the project's store, oldest first."""
    with sqlite3.connect(project / "mlflow.db") as db:
        return db.execute("SELECT name, status FROM runs ORDER BY start_time").fetchall()


@dataclass
class Interrupted:
    """What the two interrupted tuning runs left behind."""

    project: Path
    study: str
    initial: list[Trial]
    sigterm: tuple[list[Trial], list[Trial], str, int]
    sigkill: tuple[list[Trial], list[Trial], str, int]
    runs: list[tuple[str, str]] = field(default_factory=list)


@pytest.fixture(scope="module")
def interrupted(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Interrupted:
    project = clone_trained_project(
        trained_project, tmp_path_factory.mktemp("interrupted") / "project"
    )
    study, initial = xgboost_trials(project)
    sigterm = interrupt(project, signal.SIGTERM)
    sigkill = interrupt(project, signal.SIGKILL)
    return Interrupted(project, study, initial, sigterm, sigkill, runs(project))


def test_sigterm_keeps_every_completed_trial_and_fails_the_run_cleanly(
    interrupted: Interrupted,
) -> None:
    at_signal, after, output, returncode = interrupted.sigterm
    assert TerminationHook in {type(hook) for hook in settings.HOOKS}, (
        "register TerminationHook() (cross_sell.preflight) in settings.HOOKS"
    )
    assert len(completed(at_signal)) >= len(completed(interrupted.initial)) + 2
    assert set(completed(at_signal)) <= set(completed(after))  # none lost
    assert after[: len(interrupted.initial)] == interrupted.initial
    assert returncode == 1
    assert "RunTerminatedError: The run received SIGTERM and stopped" in " ".join(output.split())
    assert "RUNNING" not in {state for _, state, _ in after}  # the trial in progress: FAIL
    assert interrupted.runs[-2] == ("tuning", "FAILED")


def test_the_rerun_continues_the_study_and_sigkill_loses_no_completed_trial(
    interrupted: Interrupted,
) -> None:
    _, after_sigterm, _, _ = interrupted.sigterm
    at_signal, after, _, returncode = interrupted.sigkill
    assert returncode == -signal.SIGKILL
    assert xgboost_trials(interrupted.project)[0] == interrupted.study  # the same study
    assert after[: len(after_sigterm)] == after_sigterm  # continued, numbering after them
    assert len(completed(after)) >= len(completed(after_sigterm)) + 2
    assert set(completed(at_signal)) <= set(completed(after))
    assert [state for _, state, _ in after].count("RUNNING") <= 1  # the one SIGKILL cut short


def _models(project: Path) -> dict[str, bytes]:
    """Every file of data/06_models but the study and its current best parameters (rewritten
    by each tuning run by design: the study holds every trial)."""
    folder = project / "data" / "06_models"
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != "optuna.db" and "best_params" not in path.name
    }


def test_a_failing_training_run_keeps_the_models_the_aliases_and_the_study(
    interrupted: Interrupted,
) -> None:
    project = interrupted.project
    uri = f"sqlite:///{project / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    aliases = {
        name: client.get_model_version_by_alias(name, "champion").version
        for name in REGISTERED_MODELS
    }
    versions = {
        name: len(client.search_model_versions(f"name = '{name}'")) for name in REGISTERED_MODELS
    }
    models_before = _models(project)
    _, trials_before = xgboost_trials(project)

    result = run_kedro(  # the training job; its first evaluation node fails
        project,
        "run",
        "--params=tuning.xgboost.n_trials=1,tuning.random_forest.n_trials=0,"
        "evaluation.columns.target=no_such_column",
        check=False,
    )

    assert result.returncode == 1
    assert "no_such_column" in result.stdout + result.stderr
    _, trials_after = xgboost_trials(project)
    assert trials_after[:-1] == trials_before  # the study went on from where SIGKILL left it
    assert trials_after[-1][0] == trials_before[-1][0] + 1
    assert runs(project)[-1] == ("__default__", "FAILED")
    for name in REGISTERED_MODELS:
        assert client.get_model_version_by_alias(name, "champion").version == aliases[name]
        assert len(client.search_model_versions(f"name = '{name}'")) == versions[name]
    models_after = _models(project)
    assert {k: v for k, v in models_after.items() if k in models_before} == models_before
    # The models fitted before the failure were saved as new versions, next to the old ones.
    new = {Path(name).parts[0] for name in set(models_after) - set(models_before)}
    assert new and new <= {f"{model}.pkl" for model in MODELS}, new
    assert len(ProjectFolder(project).versions("data/06_models/champion_model.pkl")) == 1


def test_models_and_predictions_are_versioned_datasets() -> None:
    """A rerun adds a version next to the earlier ones instead of replacing them."""
    config = ProjectFolder(Path(__file__).resolve().parents[2]).conf_catalog
    pickles = [name for name, entry in config.items() if entry.get("filepath", "").endswith(".pkl")]
    assert sorted(pickles) == ["champion_model", "{namespace}.model"]
    for name in [*pickles, "predictions", "inference_rejects"]:
        assert config[name].get("versioned") is True, name
