"""Smoke tests of the benchmark scripts (benchmarks/): they run, on tiny data. No timing here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import baseline_tutorial, report
from cross_sell.pipelines.synthetic_data.nodes import generate_train


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return generate_train({"n_train": 3000, "n_test": 2, "seed": 11})


def test_tutorial_preprocessing_is_the_tutorials(raw: pd.DataFrame) -> None:
    clean = baseline_tutorial.preprocess(raw)

    assert clean["Gender"].dtype == bool and clean["Vehicle_Damage"].dtype == bool
    assert set(clean["Vehicle_Age"]) <= {1, 2, 3}
    assert "id" in clean.columns  # kept as a feature, as in the tutorial
    regions = [c for c in clean.columns if c.startswith("Region_Code_")]
    assert len(regions) == raw["Region_Code"].nunique()
    assert "Region_Code" not in clean.columns and "Policy_Sales_Channel" not in clean.columns
    # Clipping bounds come from the whole file's quantiles.
    q05, q25, q75, q95 = raw["Annual_Premium"].quantile([0.05, 0.25, 0.75, 0.95])
    assert clean["Annual_Premium"].max() <= q95 + 3 * (q75 - q25)
    assert clean["Annual_Premium"].min() >= q05 - 3 * (q75 - q25)
    assert not clean.select_dtypes(include=["object", "string"]).columns.size


def test_baseline_runs_on_3k_rows(raw: pd.DataFrame) -> None:
    result = baseline_tutorial.run_baseline(raw, n_trials=2)

    assert set(result["metrics"]) == set(baseline_tutorial.MODELS)
    assert result["best_model"] == max(
        result["metrics"], key=lambda name: result["metrics"][name]["roc_auc"]
    )
    assert result["metrics"][result["best_model"]]["roc_auc"] > 0.75
    assert len(result["test_ids"]) == len(result["test_scores"]) == 600  # the 20 % split
    assert set(result["best_params"]) == {"max_depth", "min_samples_split", "ccp_alpha"}


def _scores(path: Path, ids: np.ndarray, target: np.ndarray, noise: float, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    scores = target + rng.normal(0, noise, len(ids))
    pd.DataFrame({"id": ids, "response": target, "score": scores}).to_parquet(path)
    return path


def test_paired_comparison_uses_the_shared_test_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    target = (rng.random(4000) < 0.3).astype("int8")
    ids = np.arange(4000)
    better = _scores(tmp_path / "a.parquet", ids[:3000], target[:3000], 0.5, 1)
    worse = _scores(tmp_path / "b.parquet", ids[1000:], target[1000:], 2.0, 2)

    paired = report.paired_comparison(better, worse, n_boot=50)

    assert paired["rows"] == 2000
    assert paired["difference"] > 0
    assert paired["ci95"][0] < paired["difference"] < paired["ci95"][1]


def test_report_writes_tables_plot_and_acceptance(tmp_path: Path) -> None:
    def project(rows: int, seconds: float) -> dict:
        return {
            "seconds": seconds,
            "process_seconds": seconds + 5,
            "peak_rss_bytes": rows * 1000,
            "nodes": {"clean_raw_table_node": seconds / 10, "xgboost.fit_model_node": seconds / 2},
            "node_groups": {
                "clean_raw_table_node": "data_engineering",
                "xgboost.fit_model_node": "data_science",
            },
            "models": [{"model": "xgboost", "roc_auc": 0.86, "average_precision": 0.37}],
            "champion": "xgboost",
        }

    baseline = {
        "seconds": dict.fromkeys(report.BASELINE_STEPS, 10.0) | {"total": 400.0},
        "process_seconds": 405.0,
        "peak_rss_bytes": 10**9,
        "metrics": {"xgboost": {"roc_auc": 0.85, "average_precision": 0.35}},
        "best_model": "xgboost",
    }
    data = {"raw_file_bytes": 10**6, "raw_memory_bytes": 10**7}
    results = [
        {"rows": 381_109, "data": data, "project": project(381_109, 80.0), "baseline": baseline},
        {"rows": 3_000_000, "data": data, "project": project(3_000_000, 500.0)},
    ]
    machine = {
        "date": "today",
        "cpu": "test CPU",
        "cores": 2,
        "usable_cores": 2,
        "ram_bytes": 2**34,
        "os": "Linux",
        "python": "3.11",
        "packages": {"kedro": "1.7.0"},
        "load_average_start": [0.1, 0, 0],
        "load_average_end": [0.2, 0, 0],
    }

    summary = report.write_results(results, machine, tmp_path)

    for name in ("sizes.csv", "models.csv", "nodes.csv", "comparison.csv", "scaling.png"):
        assert (tmp_path / name).stat().st_size > 0
    checks = {check: passed for check, _, passed in report.acceptance(report.tables(results))}
    assert list(checks.values()) == [True, True, True, True]  # 5.0x, +0.01, 0.82x, 3 GB
    assert "**5.0x**" in summary and "test CPU" in summary

    doc = tmp_path / "performance.md"
    doc.write_text(f"# Performance\n\nintro\n\n{report.BEGIN}\nold\n{report.END}\n\nafter\n")
    report.publish(summary, tmp_path, doc)
    text = doc.read_text()
    assert "old" not in text and "intro" in text and "after" in text and "**5.0x**" in text
