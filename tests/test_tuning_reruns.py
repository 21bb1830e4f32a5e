"""`kedro run --pipelines=tuning`, twice: the second run extends the study the first one made,
and each run's MLflow run holds one nested run per trial that run ran, never the trials the study
stored before; its plots are artifacts of that run.

The runs happen in a copy of ``trained_project``'s data (its split), with a fresh MLflow store.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import (
    make_project_copy,
    output,
    project_config,
    run_kedro,
    top_level_runs,
    tracking_uri,
)

pytestmark = pytest.mark.slow  # two `kedro run --pipelines=tuning` after trained_project

N_TRIALS = 2
TRIAL_LINE = re.compile(r"xgboost trial (\d+)/(\d+) \(#(\d+)\)")


@dataclass
class TuningRun:
    run_id: str
    trials: list[int]  # the study's trial numbers this run's log names ("trial k/N (#number)")
    children: list  # the MLflow runs nested in it
    artifacts: set[str]  # its artifacts under tuning/


@pytest.fixture(scope="module")
def tuning_runs(trained_project: Path, tmp_path_factory: pytest.TempPathFactory):
    project = make_project_copy(tmp_path_factory.mktemp("tuning") / "project")
    shutil.copytree(trained_project / "data", project / "data", dirs_exist_ok=True)
    stored_before = len(_study(project).trials) if _storage(project).exists() else 0
    client = MlflowClient(tracking_uri=tracking_uri(project))
    runs = []
    for _ in range(2):
        log = output(
            run_kedro(
                project, "run", "--pipelines=tuning", f"--params=tuning.xgboost.n_trials={N_TRIALS}"
            )
        )
        lines = TRIAL_LINE.findall(log)
        assert [(int(k), int(n)) for k, n, _ in lines] == [
            (k, N_TRIALS) for k in range(1, N_TRIALS + 1)
        ], log[-3000:]
        run = top_level_runs(project)[-1]
        children = client.search_runs(
            [run.info.experiment_id],
            filter_string=f"tags.`mlflow.parentRunId` = '{run.info.run_id}'",
        )
        artifacts = {item.path for item in client.list_artifacts(run.info.run_id, "tuning")}
        trials = [int(n) for _, _, n in lines]
        runs.append(TuningRun(run.info.run_id, trials, children, artifacts))
    return project, stored_before, runs


def _storage(project: Path) -> Path:
    return project / "data" / "06_models" / "optuna.db"  # conf/base: tuning.study.storage


def _study(project: Path) -> optuna.Study:
    storage = f"sqlite:///{_storage(project)}"
    (name,) = [
        n for n in optuna.get_all_study_names(storage) if n.startswith("cross_sell.xgboost.")
    ]
    return optuna.load_study(study_name=name, storage=storage)


def test_each_run_holds_only_the_trials_it_ran(tuning_runs) -> None:
    project, stored_before, (first, second) = tuning_runs
    assert first.run_id != second.run_id
    for run in (first, second):
        assert len(run.children) == len(run.trials) == N_TRIALS
        # MLflowCallback names each nested run after its trial number
        assert sorted(int(child.info.run_name) for child in run.children) == sorted(run.trials)
        for child in run.children:
            assert "validation_roc_auc" in child.data.metrics
            assert set(child.data.params) >= {"learning_rate", "max_depth"}
    # the second run extended the same study: its trials come after the first run's
    assert min(second.trials) > max(first.trials) >= stored_before
    study = _study(project)
    assert len(study.trials) == stored_before + 2 * N_TRIALS > len(second.children)


def test_each_run_logs_the_plots_of_its_study(tuning_runs) -> None:
    _, _, runs = tuning_runs
    for run in runs:
        assert run.artifacts == {
            "tuning/xgboost_optuna_history.png",
            "tuning/xgboost_optuna_importances.png",
        }


def test_the_study_keeps_its_real_search_space(tuning_runs) -> None:
    """What the fANOVA importances plot is computed on: the declared bounds and log scales."""
    project, _, _ = tuning_runs
    declared = project_config(project, "parameters")["tuning"]["xgboost"]["search_space"]
    distributions = _study(project).trials[-1].distributions
    assert set(distributions) == set(declared)
    kinds = {
        "float": optuna.distributions.FloatDistribution,
        "int": optuna.distributions.IntDistribution,
    }
    for name, spec in declared.items():
        distribution = distributions[name]
        assert isinstance(distribution, kinds[spec["type"]]), name
        assert (distribution.low, distribution.high) == (spec["low"], spec["high"]), name
        assert distribution.log == spec.get("log", False), name
