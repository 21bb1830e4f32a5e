"""The benchmark (benchmarks/run.py): its quick run end to end, and the pieces it is built on.

The quick run (3,000 rows) proves the harness works, not the figures: no timing is asserted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from benchmarks import baseline_tutorial, run
from cross_sell.pipelines.synthetic_data.nodes import generate_train


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``benchmarks/run.py --quick``, run once: its results folder."""
    out = tmp_path_factory.mktemp("benchmark")
    run.main(["--quick", "--out", str(out)])
    return out


def test_quick_run_times_the_project_and_the_baseline(quick: Path) -> None:
    results = pd.read_csv(quick / "results.csv").set_index("system")

    assert list(results.index) == ["project", "baseline"]
    assert (results["rows"] == 3000).all()
    assert (results["seconds"] > 0).all() and (results["peak_rss_mib"] > 100).all()
    project, baseline = results.loc["project"], results.loc["baseline"]
    assert project["model"] in {"xgboost", "random_forest", "logistic_regression", "xgboost_tuned"}
    assert baseline["model"] in baseline_tutorial.MODELS
    assert 0.6 < project["test_roc_auc"] < 1 and 0.6 < baseline["test_roc_auc"] < 1
    # Every node's time lands in one of the four pipelines; the rest is start-up, I/O, MLflow.
    pipelines = project[list(run.PIPELINES)]
    assert (pipelines > 0).all() and project["other"] > 0
    assert pipelines.sum() + project["other"] == pytest.approx(project["seconds"], abs=1e-3)
    assert baseline[["preprocess", "xgboost", "random_forest_optuna"]].notna().all()


def test_quick_run_compares_both_on_their_shared_test_rows(quick: Path) -> None:
    results = pd.read_csv(quick / "results.csv").set_index("system")
    row = pd.read_csv(quick / "comparison.csv").iloc[0]

    assert row["speedup"] == pytest.approx(
        results.loc["baseline", "seconds"] / results.loc["project", "seconds"], rel=1e-3
    )
    assert row["project_roc_auc"] == pytest.approx(results.loc["project", "test_roc_auc"])
    # 20 % test rows each, drawn independently: about 4 % of the 3,000 rows are in both.
    assert 60 < row["shared_test_rows"] < 200
    assert row["ci95_low"] < row["paired_auc_difference"] < row["ci95_high"]


def test_quick_run_writes_the_summary_plot_and_logs(quick: Path) -> None:
    summary = (quick / "summary.md").read_text()

    assert "**The project's default `kedro run`**" in summary
    assert "**Project against baseline**" in summary
    assert "![Wall time and peak memory against training rows](scaling.png)" in summary
    assert (quick / "scaling.png").read_bytes().startswith(b"\x89PNG")
    logs = {path.name for path in (quick / "logs").iterdir()}
    assert {"generate_3000.log", "project_3000.log", "baseline_3000.log"} <= logs
    assert "project_3000_events.json" in logs  # kedro-viz's node timings


def test_paired_auc_is_measured_on_the_shared_rows_only() -> None:
    rng = np.random.default_rng(0)
    target = (rng.random(4000) < 0.3).astype(int)
    good = target + rng.normal(0, 0.5, 4000)
    poor = target + rng.normal(0, 2.0, 4000)
    project = pd.DataFrame({"id": np.arange(3000), "score": good[:3000]})
    baseline = pd.DataFrame(
        {"id": np.arange(1000, 4000), "response": target[1000:], "score": poor[1000:]}
    )

    paired = run.paired_auc(project, baseline, n_boot=200)

    shared = slice(1000, 3000)
    expected = roc_auc_score(target[shared], good[shared]) - roc_auc_score(
        target[shared], poor[shared]
    )
    assert paired["shared_test_rows"] == 2000
    assert paired["paired_auc_difference"] == pytest.approx(expected)
    assert 0 < paired["ci95_low"] < expected < paired["ci95_high"]


def test_acceptance_checks_at_the_reference_and_largest_sizes() -> None:
    results = pd.DataFrame(
        {
            "rows": [381_109, 381_109, 3_000_000],
            "system": ["project", "baseline", "project"],
            "seconds": [60.0, 420.0, 400.0],
            "peak_rss_mib": [800.0, 2000.0, 7000.0],
            "model": ["xgboost", "xgboost", "xgboost"],
            "test_roc_auc": [0.862, 0.855, 0.861],
        }
    )
    paired = {381_109: {"paired_auc_difference": 0.003, "ci95_low": 0.001, "ci95_high": 0.005}}
    comparison = run.comparison_table(results, paired)

    checks = run.acceptance(results, comparison)

    assert comparison["speedup"].tolist() == [7.0]
    assert [line.rsplit(" - ", 1)[1] for line in checks] == ["PASS", "PASS", "PASS", "FAIL"]
    assert "7.0x (60 s vs 420 s)" in checks[0] and "7.34 GB" in checks[3]


def test_publish_replaces_only_the_results_section(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text(f"# Performance\n\nintro\n\n{run.BEGIN}\nold\n{run.END}\n\nfindings\n")

    run.publish("new table\n\n![plot](scaling.png)\n", tmp_path / "results", doc)

    text = doc.read_text()
    assert "old" not in text and "intro" in text and "findings" in text
    assert f"{run.BEGIN}\nnew table\n\n![plot](results/scaling.png)\n{run.END}" in text


def test_tutorial_preprocessing_is_the_tutorials() -> None:
    raw = generate_train({"n_train": 3000, "n_test": 2, "seed": 11})

    clean = baseline_tutorial.preprocess(raw)

    assert clean["Gender"].dtype == bool and clean["Vehicle_Damage"].dtype == bool
    assert set(clean["Vehicle_Age"]) <= {1, 2, 3}
    assert "id" in clean.columns  # kept as a feature, as in the tutorial
    regions = [c for c in clean.columns if c.startswith("Region_Code_")]
    assert len(regions) == raw["Region_Code"].nunique()
    # Clipping bounds come from the whole file's quantiles (fitted before the split).
    q05, q25, q75, q95 = raw["Annual_Premium"].quantile([0.05, 0.25, 0.75, 0.95])
    assert clean["Annual_Premium"].between(q05 - 3 * (q75 - q25), q95 + 3 * (q75 - q25)).all()
