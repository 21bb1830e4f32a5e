"""One model, one truth: the registered ``cross_sell@champion``, its promotion gate, for real.

``champion_sequence`` (tests/conftest.py) is a clone of ``trained_project`` (after its default
``kedro run``) in which ``kedro run --pipelines=evaluation
--params=evaluation.champion.metric=expected_profit`` (another champion, promoted or kept out by
the gate), then ``kedro run --pipelines=inference`` ran. ``served_champion`` serves
``models:/cross_sell@champion`` with ``mlflow models serve``. The gate tests then train on a
3,000-row sample of the same 6,000-row ``train.csv``: the champion (trained on 4,200 of its rows,
a boosted model or their blend with FAST_TRAINING) beats a model of the sample by a wide margin on
the sample's test rows, which it partly trained on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from cross_sell.pipelines.inference.nodes import REASON_COLUMNS
from tests.conftest import (
    FAST_TRAINING,
    ChampionSequence,
    log_records,
    output,
    run_kedro,
    top_level_runs,
    tracking_uri,
)
from tests.pipelines.inference.serving_support import ServedModel, invoke

# A project of its own: four training and inference runs, and a scoring server.
pytestmark = pytest.mark.slow

MODEL = "cross_sell"
SAMPLE_ROWS = 3000


def _client(project: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=tracking_uri(project), registry_uri=tracking_uri(project))


def _version_of_run(client: MlflowClient, run_id: str) -> Any:
    (version,) = client.search_model_versions(f"name = '{MODEL}' and run_id = '{run_id}'")
    return version


# ---------------------------------------------------------------------------- served == batch
def test_served_champion_and_batch_inference_agree_on_every_test_row(
    served_champion: ServedModel,
) -> None:
    """The whole test.csv, posted as the Kaggle file's CSV lines, against predictions.csv."""
    raw = served_champion.raw_rows
    body = raw.to_csv(index=False, lineterminator="\n")
    status, answer = invoke(served_champion.url, body, "text/csv")
    assert status == 200, answer
    served = pd.DataFrame(answer["predictions"])
    batch = served_champion.batch_predictions.set_index("id")

    assert served["id"].tolist() == raw["id"].tolist()
    assert sorted(batch.index) == sorted(raw["id"])  # the batch job scored every row too
    batch = batch.loc[served["id"]]
    np.testing.assert_array_equal(served["probability"].to_numpy(), batch["probability"].to_numpy())
    assert served["contact"].tolist() == batch["contact"].tolist()
    assert 0 < served["contact"].sum() < len(served)  # a real threshold, not all or nothing
    for reason in REASON_COLUMNS:  # the customer's drivers, the same from both
        assert served[reason].fillna("").tolist() == batch[reason].fillna("").tolist()


def test_one_registered_model_with_the_champion_alias(champion_sequence: ChampionSequence) -> None:
    client = _client(champion_sequence.project)
    registered = client.search_registered_models()
    assert [model.name for model in registered] == [MODEL]
    assert set(registered[0].aliases) == {"champion"}
    # one version per training PipelineML run (the default one, then evaluation alone); none
    # from batch inference
    runs = champion_sequence.run_id
    by_run = {v.run_id: v for v in client.search_model_versions(f"name = '{MODEL}'")}
    assert {runs["train"], runs["evaluation"]} <= set(by_run)
    assert runs["inference"] not in by_run
    # the evaluation run's version carries its gate's decision; the alias follows it
    evaluated = by_run[runs["evaluation"]]
    promoted = client.get_run(runs["evaluation"]).data.metrics["promotion.promoted"] == 1.0
    assert evaluated.tags["promotion"] == ("promoted" if promoted else "kept out")
    champion = client.get_model_version_by_alias(MODEL, "champion")
    expected = evaluated.version if promoted else by_run[runs["train"]].version
    assert str(champion.version) == str(expected)


def test_the_first_run_promoted_its_model(
    champion_sequence: ChampionSequence, tmp_path: Path
) -> None:
    client = _client(champion_sequence.project)
    run_id = champion_sequence.run_id["train"]
    version = _version_of_run(client, run_id)
    assert str(version.version) == "1"
    assert version.tags["promotion"] == "promoted"
    assert client.get_run(run_id).data.metrics["promotion.promoted"] == 1.0
    decision = json.loads(
        Path(
            client.download_artifacts(run_id, "evaluation/promotion.json", str(tmp_path))
        ).read_text()
    )
    assert decision["promoted"] is True
    assert decision["reason"].startswith("no @champion yet")
    assert decision["champion_test"] is None


# ---------------------------------------------------------------------------- the gate
@dataclass
class GatedRun:
    """The registry before and after a training run on a 3,000-row sample of train.csv."""

    champion_before: str
    champion_after: str
    new_version: Any
    metrics: dict[str, float]
    decision: dict[str, Any]
    log: str


@pytest.fixture(scope="module")
def gated_run(champion_sequence: ChampionSequence) -> GatedRun:
    """After the sequence's full runs: the default run on a 3,000-row sample of its train.csv."""
    project = champion_sequence.project
    client = _client(project)
    before = client.get_model_version_by_alias(MODEL, "champion").version
    train = project / "data" / "01_raw" / "train.csv"
    sample = pd.read_csv(train).sample(n=SAMPLE_ROWS, random_state=0).sort_values("id")
    sample.to_csv(train, index=False, lineterminator="\n")

    log = output(run_kedro(project, "run", f"--params={FAST_TRAINING}"))

    run = top_level_runs(project)[-1]
    assert run.info.run_id not in champion_sequence.run_id.values()
    return GatedRun(
        champion_before=before,
        champion_after=client.get_model_version_by_alias(MODEL, "champion").version,
        new_version=_version_of_run(client, run.info.run_id),
        metrics=run.data.metrics,
        decision=json.loads((project / "data/08_reporting/evaluation/promotion.json").read_text()),
        log=log,
    )


def test_a_worse_challenger_leaves_the_champion_where_it_was(gated_run: GatedRun) -> None:
    assert str(gated_run.champion_after) == str(gated_run.champion_before)
    assert int(gated_run.new_version.version) > int(gated_run.champion_before)
    assert "champion" not in gated_run.new_version.aliases
    assert gated_run.new_version.tags["promotion"] == "kept out"
    assert gated_run.metrics["promotion.promoted"] == 0.0


def test_the_decision_is_recorded_with_both_models_figures(gated_run: GatedRun) -> None:
    decision = gated_run.decision
    assert decision["promoted"] is False
    assert "threshold check failed" in decision["reason"]
    mine, theirs = decision["challenger_test"], decision["champion_test"]
    assert (
        mine["roc_auc"] < theirs["roc_auc"] or mine["expected_profit"] < theirs["expected_profit"]
    )
    for metric in ("roc_auc", "expected_profit"):
        assert gated_run.metrics[f"promotion.challenger.{metric}"] == pytest.approx(mine[metric])
        assert gated_run.metrics[f"promotion.champion.{metric}"] == pytest.approx(theirs[metric])


def test_the_log_warns_why_naming_the_version_kept_out(gated_run: GatedRun) -> None:
    version = gated_run.new_version.version
    warnings = [
        record
        for record in log_records(gated_run.log, "WARNING")
        if f"version {version}" in record and "WITHOUT @champion" in record
    ]
    assert len(warnings) == 1, gated_run.log[-4000:]
    assert "threshold check failed" in warnings[0]  # the gate's reason
    assert f"set_registered_model_alias('{MODEL}', 'champion', '{version}')" in warnings[0]
