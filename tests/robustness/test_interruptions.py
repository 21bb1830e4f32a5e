"""Nothing lost: interrupted tuning runs, a failing training run, reruns.

On a copy of the session's ``trained_project`` (a finished ``kedro run``: models, splits,
``cross_sell`` version 1 as ``@champion``; no study: the default run does not tune), for real
(``python -m kedro run``), three runs of ``kedro run --pipelines=tuning`` with a long budget,
each stopped once the xgboost study holds two more completed trials:

1. by SIGTERM (``kill``, ``docker stop``): every completed trial survives, the trial in progress
   is marked FAIL, the MLflow run is FAILED (``preflight.TerminationHook``), the models and the
   registry are as they were;
2. by SIGINT (Ctrl-C, sent to the process group as a terminal does): the same, and the run
   continued the same study (new trials numbered after the old ones);
3. by SIGKILL: again no completed trial is lost (the trial in progress stays RUNNING: nothing
   can run on SIGKILL; samplers, pruners and the best trial ignore it).

Then a training run (``kedro run --pipelines=evaluation``, a PipelineML like ``kedro run``)
fails: the MLflow run is FAILED, no version is registered and ``@champion`` stays, and every
file of the earlier MLflow runs (their logged models, the registered model) is intact.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from kedro.io import CatalogConfigResolver
from mlflow.tracking import MlflowClient

from cross_sell import settings
from cross_sell.pipeline_registry import register_pipelines
from cross_sell.preflight import TerminationHook
from tests.conftest import kedro_env, project_config, run_kedro
from tests.robustness.support import REGISTERED_MODEL, REPO, clone_trained_project

pytestmark = pytest.mark.slow

# Quick trials (a quarter of the training rows), as many as it takes to be stopped.
LONG_STUDY = (
    "tuning.xgboost.n_trials=1000,tuning.xgboost.timeout=3600,tuning.xgboost.train_fraction=0.25"
)
Trial = tuple[int, str, float | None]  # number, state, value


def xgboost_trials(project: Path) -> tuple[str, list[Trial]]:
    """The xgboost study's name and its trials, read from the sqlite storage like a bystander
    (``""`` and no trials before the first tuning run)."""
    storage = project / "data" / "06_models" / "optuna.db"
    if not storage.exists():
        return "", []
    with sqlite3.connect(storage, timeout=30) as db:
        try:
            rows = db.execute(
                "SELECT s.study_name, t.number, t.state, v.value FROM trials t "
                "JOIN studies s USING (study_id) LEFT JOIN trial_values v USING (trial_id) "
                "WHERE s.study_name LIKE '%.xgboost.%' ORDER BY t.number"
            ).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            return "", []  # a tuning run is creating the tables right now
    names = {row[0] for row in rows}
    assert len(names) <= 1, names
    return (names.pop() if names else ""), [(n, state, value) for _, n, state, value in rows]


def completed(trials: list[Trial]) -> list[Trial]:
    return [trial for trial in trials if trial[1] == "COMPLETE"]


def runs(project: Path) -> list[tuple[str, str]]:
    """(run name, status) of the project's pipeline runs (not the nested trial runs), oldest
    first."""
    with sqlite3.connect(project / "mlflow.db") as db:
        return db.execute(
            "SELECT name, status FROM runs WHERE run_uuid NOT IN "
            "(SELECT run_uuid FROM tags WHERE key = 'mlflow.parentRunId') ORDER BY start_time"
        ).fetchall()


def trial_runs(project: Path, parent: str) -> list[tuple[str, str]]:
    """(run name, status) of the nested trial runs of the newest pipeline run named ``parent``."""
    with sqlite3.connect(project / "mlflow.db") as db:
        return db.execute(
            "SELECT r.name, r.status FROM runs r JOIN tags t USING (run_uuid) "
            "WHERE t.key = 'mlflow.parentRunId' AND t.value = "
            "(SELECT run_uuid FROM runs WHERE name = ? ORDER BY start_time DESC LIMIT 1)",
            (parent,),
        ).fetchall()


def registry(project: Path) -> tuple[str, list[str]]:
    """The version ``@champion`` points at, and every version of ``cross_sell``."""
    uri = f"sqlite:///{project / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias(REGISTERED_MODEL, "champion").version
    versions = client.search_model_versions(f"name = '{REGISTERED_MODEL}'")
    return str(champion), sorted(str(version.version) for version in versions)


def files(folder: Path, skip: Callable[[Path], bool] = lambda path: False) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not skip(path)
    }


def models(project: Path) -> dict[str, bytes]:
    """data/06_models but the Optuna study (which every tuning run extends, by design)."""
    return files(project / "data" / "06_models", lambda path: path.name == "optuna.db")


def start_kedro(project: Path, *args: str) -> subprocess.Popen:
    """``python -m kedro <args>`` in the background, in its own process group (as a shell job);
    its output goes to ``process.log_path``."""
    log_path = project / f"kedro-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kedro", *args],
            cwd=project,
            env=kedro_env(project),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    process.log_path = log_path
    return process


def output_of(process: subprocess.Popen) -> str:
    return " ".join(process.log_path.read_text(errors="replace").split())


def wait_until(condition: Callable[[], bool], process: subprocess.Popen, limit: float = 300):
    """Poll ``condition`` every 0.2 s while ``process`` runs; fail if it ends first."""
    deadline = time.monotonic() + limit
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"condition not reached; kedro output:\n{output_of(process)[-5000:]}")
        time.sleep(0.2)


@dataclass
class Stop:
    """One tuning run stopped by a signal: the study before, at the signal and after it, the
    run's output and exit code, and the state of the project right after."""

    before: list[Trial]
    at_signal: list[Trial]
    after: list[Trial]
    output: str
    returncode: int
    study: str
    runs: list[tuple[str, str]]  # every pipeline run of the store
    trial_runs: list[tuple[str, str]]  # the nested runs of the newest "tuning" run
    models: dict[str, bytes]
    registry: tuple[str, list[str]]


def stop_tuning(project: Path, sig: signal.Signals) -> Stop:
    """Run the long study until two more trials complete, then send ``sig`` (to the process
    group for SIGINT, as Ctrl-C in a terminal does; to the process otherwise)."""
    _, before = xgboost_trials(project)
    target = len(completed(before)) + 2
    process = start_kedro(project, "run", "--pipelines=tuning", f"--params={LONG_STUDY}")
    wait_until(lambda: len(completed(xgboost_trials(project)[1])) >= target, process)
    at_signal = xgboost_trials(project)[1]
    if sig == signal.SIGINT:
        os.killpg(process.pid, sig)
    else:
        process.send_signal(sig)
    returncode = process.wait(timeout=120)
    study, after = xgboost_trials(project)
    return Stop(
        before,
        at_signal,
        after,
        output_of(process),
        returncode,
        study,
        runs(project),
        trial_runs(project, "tuning"),
        models(project),
        registry(project),
    )


@dataclass
class Interrupted:
    """A copy of the trained project, its state before, and three tuning runs of the same
    study stopped one after the other: by SIGTERM, by SIGINT, by SIGKILL."""

    project: Path
    models: dict[str, bytes]
    registry: tuple[str, list[str]]
    sigterm: Stop
    sigint: Stop
    sigkill: Stop


@pytest.fixture(scope="module")
def interrupted(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Interrupted:
    project = clone_trained_project(
        trained_project, tmp_path_factory.mktemp("interrupted") / "project"
    )
    models_before, registry_before = models(project), registry(project)
    return Interrupted(
        project,
        models_before,
        registry_before,
        *(stop_tuning(project, sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL)),
    )


def _assert_stopped_cleanly(stop: Stop, name: str, interrupted: Interrupted) -> None:
    assert TerminationHook in {type(hook) for hook in settings.HOOKS}, (
        "register TerminationHook() (cross_sell.preflight) in settings.HOOKS"
    )
    assert len(completed(stop.at_signal)) >= len(completed(stop.before)) + 2
    assert set(completed(stop.at_signal)) <= set(completed(stop.after))  # none lost
    assert stop.after[: len(stop.before)] == stop.before  # the same study, continued
    assert stop.returncode == 1, stop.output[-3000:]
    assert f"The run received {name} and stopped" in stop.output
    assert "RUNNING" not in {state for _, state, _ in stop.after}  # in progress: FAIL
    assert stop.after[-1][1] == "FAIL", stop.after[-3:]
    # MLflow: the run FAILED; one finished nested run per trial it finished (complete or
    # pruned), none for the one it failed, none RUNNING.
    assert stop.runs[-1] == ("tuning", "FAILED")
    finished = [number for number, _, _ in stop.after[len(stop.before) : -1]]
    assert sorted(stop.trial_runs) == sorted((str(number), "FINISHED") for number in finished)
    # Nothing else changed: the models (the interrupted node wrote nothing) and the registry.
    assert stop.models == interrupted.models
    assert stop.registry == interrupted.registry


def test_sigterm_keeps_every_completed_trial_and_fails_the_run_cleanly(
    interrupted: Interrupted,
) -> None:
    assert interrupted.sigterm.before == []  # a new study (the default run does not tune)
    _assert_stopped_cleanly(interrupted.sigterm, "SIGTERM", interrupted)


def test_sigint_keeps_every_completed_trial_and_fails_the_run_cleanly(
    interrupted: Interrupted,
) -> None:
    """Ctrl-C in the terminal: the same clean stop; the run continued the SIGTERM'd study."""
    assert interrupted.sigint.before == interrupted.sigterm.after
    assert interrupted.sigint.study == interrupted.sigterm.study
    _assert_stopped_cleanly(interrupted.sigint, "SIGINT", interrupted)


def test_the_rerun_continues_the_study_and_sigkill_loses_no_completed_trial(
    interrupted: Interrupted,
) -> None:
    sigkill, previous = interrupted.sigkill, interrupted.sigint.after
    assert sigkill.returncode == -signal.SIGKILL
    assert sigkill.study == interrupted.sigterm.study  # the same study
    assert sigkill.after[: len(previous)] == previous  # continued, numbered after
    assert len(completed(sigkill.after)) >= len(completed(previous)) + 2
    assert set(completed(sigkill.at_signal)) <= set(completed(sigkill.after))
    assert [state for _, state, _ in sigkill.after].count("RUNNING") <= 1  # the one cut short
    assert sigkill.runs[-1] == ("tuning", "RUNNING")  # nothing runs on SIGKILL
    assert sigkill.registry == interrupted.registry


def test_a_failing_training_run_keeps_the_registry_and_the_logged_models(
    interrupted: Interrupted,
) -> None:
    """``evaluation`` is a training run too (a PipelineML: it registers a model version when
    it ends); this one fails at its first node."""
    project = interrupted.project
    registry_before = registry(project)
    mlruns_before = files(project / "mlruns")

    result = run_kedro(
        project,
        "run",
        "--pipelines=evaluation",
        "--params=columns.target=no_such_column",
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "no_such_column" in output
    assert runs(project)[-1] == ("evaluation", "FAILED")
    assert registry(project) == registry_before  # no new version, @champion unchanged
    mlruns_after = files(project / "mlruns")  # every earlier run's artifacts, byte for byte
    assert {k: v for k, v in mlruns_after.items() if k in mlruns_before} == mlruns_before
    assert models(project) == interrupted.models
    assert xgboost_trials(project)[1] == interrupted.sigkill.after  # the study as it was


def test_earlier_models_and_predictions_are_never_replaced() -> None:
    """Predictions and rejects are versioned files; models live in MLflow: each pickled model
    is logged with its run (``MlflowArtifactDataset``) or, ``champion_model``, is the artifact
    of the model version every training run registers."""
    catalog = project_config(REPO, "catalog")
    resolver = CatalogConfigResolver(catalog)
    for name in ("predictions", "inference_rejects"):
        assert catalog[name].get("versioned") is True, name
    pickled = {
        name: entry
        for name, entry in catalog.items()
        if str(entry.get("filepath") or entry.get("dataset", {}).get("filepath")).endswith(".pkl")
    }
    assert sorted(pickled) == ["champion_model", "{namespace}.model"]
    logged = resolver.resolve_pattern("xgboost.model")
    assert logged["type"] == "kedro_mlflow.io.artifacts.MlflowArtifactDataset", logged
    training = register_pipelines()["__default__"]
    assert training.inference.inputs() - {training.input_name} == {"champion_model"}
    assert training.log_model_kwargs["registered_model_name"] == REGISTERED_MODEL
