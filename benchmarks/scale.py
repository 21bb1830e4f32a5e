"""Scoring at scale: the pandas path and the Spark path (local[2]) on generated customer bases.

    python -m benchmarks.scale --project PATH --sizes 1000000,3000000

``PATH`` is a trained project (``kedro run`` ran there: ``mlflow.db`` holds ``cross_sell@champion``).
For each size, a Kaggle-format ``test.csv`` of that many rows is generated (the project's generator,
in chunks of 1M rows), then each path scores it in a fresh process while the parent samples the
resident memory of that process and all its children (Spark's JVM and Python workers) every 0.2 s:

- pandas: ``RawCSVDataset`` -> ``split_rejected_rows`` -> the registered pyfunc's ``predict``
  -> ``rank_predictions`` -> CSV (the ``inference`` pipeline's nodes, without its drift report);
- spark: ``SparkSessionDataset`` -> ``split_rejected_rows_spark`` -> rejects parquet ->
  ``check_reject_share_spark`` -> ``score_with_registered_model_spark`` -> parquet (the
  ``spark_inference`` pipeline's nodes), with the session of ``conf/spark/globals.yml``.

Wall time includes starting the process (and Spark); rows/s = rows / wall time. Peak memory is the
largest sum of RSS over the process tree (shared pages counted once per process: an upper bound).
Results: ``benchmarks/results/scale.csv`` (one line per path and size, appended), printed as a table.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "scale.csv"
CHUNK = 1_000_000
FIELDS = ("path", "rows", "wall_s", "rows_per_s", "peak_rss_gib", "scored", "machine_load")


# ---------------------------------------------------------------------------- data
def generate(path: Path, rows: int) -> None:
    """A Kaggle-format test.csv of ``rows`` rows (distinct ids), written chunk by chunk."""
    from cross_sell.pipelines.synthetic_data.nodes import generate_test  # noqa: PLC0415

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            chunk = generate_test({"n_train": 1 + start, "n_test": max(n, 10), "seed": start})
            chunk.head(n).to_csv(out, index=False, header=start == 0, lineterminator="\n")


# ---------------------------------------------------------------------------- workers
def score_pandas(source: Path, out: Path) -> int:
    import mlflow  # noqa: PLC0415

    from cross_sell.datasets import RawCSVDataset  # noqa: PLC0415
    from cross_sell.pipelines.inference.nodes import (  # noqa: PLC0415
        predict_with_registered_model,
        rank_predictions,
        split_rejected_rows,
    )

    raw = RawCSVDataset(filepath=source).load()
    valid, _rejects = split_rejected_rows(raw)
    del raw
    model = mlflow.pyfunc.load_model("models:/cross_sell@champion")
    predictions = rank_predictions(predict_with_registered_model(valid, model))
    predictions.to_csv(out, index=False)
    return len(predictions)


def score_spark(source: Path, out: Path, project: Path) -> int:
    from kedro.config import OmegaConfigLoader  # noqa: PLC0415
    from omegaconf.resolvers import oc  # noqa: PLC0415

    from cross_sell.params import Inference  # noqa: PLC0415
    from cross_sell.pipelines.spark_inference.datasets import SparkSessionDataset  # noqa: PLC0415
    from cross_sell.pipelines.spark_inference.nodes import (  # noqa: PLC0415
        SparkScoring,
        check_reject_share_spark,
        score_with_registered_model_spark,
        split_rejected_rows_spark,
    )

    loader = OmegaConfigLoader(
        conf_source=str(project / "conf"),
        base_env="base",
        default_run_env="spark",
        custom_resolvers={"oc.env": oc.env},
        config_patterns={"globals": ["globals.yml"]},
    )
    spark = loader["globals"]["spark"]
    settings = SparkScoring(
        model_uri="models:/cross_sell@champion",
        validation_partitions=max(4, 2 * (source.stat().st_size // 100_000_000 + 1)),
    )
    raw = SparkSessionDataset(
        spark=spark, filepath=str(source), file_format="csv", load_args={"header": True}
    ).load()
    rows, rejects = split_rejected_rows_spark(raw, settings)
    rejects.write.mode("overwrite").parquet(str(out.with_suffix(".rejects")))
    valid = check_reject_share_spark(rejects, rows, Inference(max_reject_share=0.01))
    scores = score_with_registered_model_spark(valid, settings)
    scores.write.mode("overwrite").partitionBy("scored_on").parquet(str(out))
    return valid.count()


# ---------------------------------------------------------------------------- measuring
def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        child = int(entry.name)
        children.setdefault(int(fields["PPid"]), []).append(child)
        rss[child] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += rss.get(current, 0)
        stack.extend(children.get(current, []))
    return total


def measure(path: str, source: Path, out: Path, project: Path, rows: int) -> dict[str, object]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        path,
        "--input",
        str(source),
    ]
    command += ["--output", str(out), "--project", str(project)]
    env = dict(
        os.environ,
        PYTHONWARNINGS="ignore",
        MLFLOW_TRACKING_URI=f"sqlite:///{project / 'mlflow.db'}",
    )
    peak = [0]
    load = os.getloadavg()[0]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.PIPE, text=True)

    def sample() -> None:
        while process.poll() is None:
            peak[0] = max(peak[0], _tree_rss(process.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = process.communicate()
    wall = time.perf_counter() - start
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{path} worker failed on {rows} rows ({process.returncode})")
    scored = int(stdout.strip().splitlines()[-1])
    return {
        "path": path,
        "rows": rows,
        "wall_s": round(wall, 1),
        "rows_per_s": round(rows / wall),
        "peak_rss_gib": round(peak[0] / 2**30, 2),
        "scored": scored,
        "machine_load": round((load + os.getloadavg()[0]) / 2, 1),
    }


def plot(results: Path = RESULTS) -> Path:
    """``scale.png`` next to the CSV: peak memory and wall time against rows, per path."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415

    runs = pd.read_csv(results)
    fig, (memory, wall) = plt.subplots(1, 2, figsize=(10, 4))
    for path, color in (("pandas", "tab:blue"), ("spark", "tab:orange")):
        done = runs[runs["path"] == path]
        memory.scatter(done["rows"] / 1e6, done["peak_rss_gib"], color=color, label=path)
        wall.scatter(done["rows"] / 1e6, done["wall_s"], color=color, label=path)
    pandas = runs[runs["path"] == "pandas"]
    if pandas["rows"].nunique() > 1:  # the pandas path's memory, extended to the machine's size
        slope, intercept = np.polyfit(pandas["rows"] / 1e6, pandas["peak_rss_gib"], 1)
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        reach = (total - intercept) / slope
        memory.plot(
            [0, reach],
            [intercept, total],
            "--",
            color="tab:blue",
            label=f"pandas: {intercept:.2f} + {slope:.2f} GiB per M rows",
        )
        memory.axhline(total, color="grey", lw=1)
        memory.text(reach / 2, total * 1.02, f"machine: {total:.1f} GiB", color="grey")
        memory.set_ylim(0, total * 1.12)
    memory.set(
        xlabel="rows scored (millions)",
        ylabel="peak RSS, process tree (GiB)",
        title="Peak memory",
        ylim=(0, None),
    )
    memory.legend(loc="upper left", fontsize=8)
    wall.set(
        xlabel="rows scored (millions)", ylabel="wall time (s)", title="Wall time", ylim=(0, None)
    )
    wall.legend(fontsize=8)
    fig.tight_layout()
    out = results.with_suffix(".png")
    fig.savefig(out, dpi=100)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True, help="a trained project")
    parser.add_argument("--sizes", default="1000000,3000000", help="rows, comma-separated")
    parser.add_argument("--paths", default="pandas,spark")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/cross_sell_scale"))
    parser.add_argument("--worker", choices=("pandas", "spark"), help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    project = args.project.resolve()

    if args.worker:  # one measured scoring, in its own process
        score = score_pandas if args.worker == "pandas" else score_spark
        extra = () if args.worker == "pandas" else (project,)
        print(score(args.input, args.output, *extra), flush=True)
        return

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    new_file = not RESULTS.exists()
    with RESULTS.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        if new_file:
            writer.writeheader()
        for rows in (int(s) for s in args.sizes.split(",")):
            source = args.workdir / f"test_{rows}.csv"
            if not source.exists():
                generate(source, rows)
            for path in args.paths.split(","):
                out = args.workdir / f"scores_{path}_{rows}"
                result = measure(path, source, out, project, rows)
                writer.writerow(result)
                handle.flush()
                print(result, flush=True)
    print(f"plot: {plot()}")


if __name__ == "__main__":
    main()
