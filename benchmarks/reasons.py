"""Scoring with reason codes against scoring without them (issue 13: at most 3x).

    python -m benchmarks.reasons --project PATH [--repeats 3]

``PATH`` is a trained project (``kedro run`` ran there: ``data/06_models/champion_model.pkl``, the
champion with its threshold, and ``data/01_raw/test.csv``, 127,037 rows by default). Its valid rows
are scored as the served model scores a request (``validate_scoring_request`` -> ``clean_raw_table``
-> ``score_customers``, the nodes of its pipeline, in process): with reason codes (probability,
contact and ``reason_1..3``) and without (``score_customers`` without the raw rows: probability and
contact only), alternately, ``--repeats`` times each; the best time of each counts. Appends one line
to ``benchmarks/results/reasons.csv`` and prints it.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import joblib

from cross_sell.datasets import RawCSVDataset
from cross_sell.pipelines.data_engineering.nodes import clean_raw_table
from cross_sell.pipelines.inference.nodes import (
    score_customers,
    split_rejected_rows,
    validate_scoring_request,
)

RESULTS = Path(__file__).resolve().parent / "results" / "reasons.csv"
FIELDS = ("date", "git", "rows", "model", "without_s", "with_s", "ratio", "machine_load")
MAX_RATIO = 3.0


def measure(project: Path, repeats: int) -> dict[str, object]:
    """Best-of-``repeats`` wall times of scoring with and without reasons."""
    model = joblib.load(project / "data" / "06_models" / "champion_model.pkl")
    rows, _rejects = split_rejected_rows(
        RawCSVDataset(filepath=project / "data" / "01_raw" / "test.csv").load()
    )
    times: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(repeats):
        for kind, spent in times.items():
            start = time.perf_counter()
            request = validate_scoring_request(rows)
            features = clean_raw_table(request)
            scored = score_customers(features, model, request if kind == "with" else None)
            spent.append(time.perf_counter() - start)
            assert (scored["reason_1"] != "").all() == (kind == "with")
    without, with_ = min(times["without"]), min(times["with"])
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "git": git,
        "rows": len(rows),
        "model": type(model.estimator).__name__,
        "without_s": round(without, 2),
        "with_s": round(with_, 2),
        "ratio": round(with_ / without, 2),
        "machine_load": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True, help="a trained project")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    result = measure(args.project.resolve(), args.repeats)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    new = not RESULTS.exists()
    with RESULTS.open("a", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(result)
    verdict = "PASS" if result["ratio"] <= MAX_RATIO else "FAIL"
    print(
        f"{result['rows']:,} rows, {result['model']}: {result['without_s']} s without reasons, "
        f"{result['with_s']} s with: {result['ratio']}x (at most {MAX_RATIO}x: {verdict})"
    )


if __name__ == "__main__":
    main()
