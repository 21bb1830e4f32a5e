"""The default champion against the previous design's champion, paired on the same test rows.

Issue 12's acceptance, per seed of the generator and the split: generate the built-in data with
this checkout's generator, run the default ``kedro run`` of this checkout and of the previous
design (commit 93d3d59: a git worktree, its package first on PYTHONPATH) on the same raw files
with the split seeded alike, check that both hold out the same test ids, score both champions on
them and bootstrap the paired AUC difference. Prints a Markdown table (figures: results.csv).

    git worktree add /tmp/oldmain 93d3d59
    .venv/bin/python benchmarks/champion_vs_previous.py /tmp/oldmain [--seeds 1 2 3]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

REPO = Path(__file__).resolve().parents[1]
FAMILIES = ("xgboost", "xgboost_native", "hist_gradient_boosting", "logistic_regression")
LAYERS = ("01_raw", "02_intermediate", "03_primary", "04_feature", "05_model_input", "06_models",
          "07_model_output", "08_reporting")  # fmt: skip
KEDRO_RUN = [sys.executable, "-m", "kedro", "run"]
# Run with the previous design's package on PYTHONPATH: its champion scores its test split.
OLD_SCORER = """
import pathlib, sys, joblib, pandas as pd
project = pathlib.Path(sys.argv[1])
path = sorted((project / "data/06_models/champion_model.pkl").glob("*/champion_model.pkl"))[-1]
test = pd.read_parquet(project / "data/05_model_input/test_set.parquet")
scores = joblib.load(path).predict_proba(test.drop(columns=["id", "response"]))[:, 1]
pd.DataFrame({"id": test["id"], "probability": scores}).to_parquet(sys.argv[2])
"""


def project_copy(source: Path, dest: Path) -> Path:
    """What ``kedro run`` needs: conf (no local), pyproject.toml, an empty src/ and data layers."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(source / "conf", dest / "conf", ignore=shutil.ignore_patterns("local"))
    (dest / "conf" / "local").mkdir()
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy2(source / name, dest)
    for folder in ("src", "logs", *(f"data/{layer}" for layer in LAYERS)):
        (dest / folder).mkdir(parents=True)
    return dest


def run(command: list[str], project: Path, pythonpath: Path | None = None) -> None:
    """Run ``command`` in ``project`` with its own MLflow and Optuna stores, no telemetry."""
    env = {k: v for k, v in os.environ.items() if k not in ("KEDRO_ENV", "MLFLOW_REGISTRY_URI")}
    env |= {
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
        "CROSS_SELL_OPTUNA_STORAGE": f"sqlite:///{project / 'data/06_models/optuna.db'}",
        "KEDRO_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1", "PYTHONWARNINGS": "ignore",
    }  # fmt: skip
    if pythonpath:  # the previous design's package wins over the editable install of this one
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    log = project / "logs" / "benchmark.log"
    with log.open("a") as out:
        done = subprocess.run(command, cwd=project, env=env, stdout=out, stderr=out, check=False)
        if done.returncode:
            sys.exit(f"FAILED in {project}: {' '.join(command)} (log: {log})")


def paired_bootstrap(y: np.ndarray, new: np.ndarray, old: np.ndarray, n: int = 1000) -> list:
    """ROC AUC difference new - old and its 95 % interval, resampling test rows (paired)."""
    rng, differences = np.random.default_rng(0), []  # seeded: the same intervals on a rerun
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        differences.append(roc_auc_score(y[i], new[i]) - roc_auc_score(y[i], old[i]))
    point = roc_auc_score(y, new) - roc_auc_score(y, old)
    return [point, *np.quantile(differences, [0.025, 0.975])]


def one_seed(seed: int, rows: int, old_repo: Path, workdir: Path) -> dict:
    new = project_copy(REPO, workdir / f"new_{seed}")
    old = project_copy(old_repo, workdir / f"old_{seed}")
    generate = f"--params=synthetic_data.seed={seed},synthetic_data.n_train={rows}"
    run([*KEDRO_RUN, "--pipelines=synthetic_data", generate], new)  # this checkout's generator
    shutil.copytree(new / "data/01_raw", old / "data/01_raw", dirs_exist_ok=True)  # same rows
    split = f"--params=data_science.split.random_state={seed}"  # same name in both designs
    run([*KEDRO_RUN, split], new)
    run([*KEDRO_RUN, split], old, pythonpath=old_repo / "src")
    old_scores = workdir / f"old_{seed}.parquet"
    run([sys.executable, "-c", OLD_SCORER, str(old), str(old_scores)], old, old_repo / "src")

    test = pd.read_parquet(new / "data/05_model_input/test_set.parquet")
    champion = joblib.load(new / "data/06_models/champion_model.pkl")  # TunedThresholdClassifierCV
    test["new"] = champion.predict_proba(test.drop(columns=["id", "response"]))[:, 1]
    old_scores = pd.read_parquet(old_scores).rename(columns={"probability": "old"})
    if set(old_scores["id"]) != set(test["id"]):
        sys.exit(f"seed {seed}: the two designs hold out different test rows")
    both = test.merge(old_scores, on="id", validate="one_to_one")
    y, p_new, p_old = both["response"].to_numpy(), both["new"].to_numpy(), both["old"].to_numpy()
    difference, low, high = paired_bootstrap(y, p_new, p_old)

    # The new run's test report: log loss and Brier, the champion's and the best family's.
    reports = new / "data/08_reporting/evaluation"
    report = pd.read_csv(reports / "model_comparison.csv").set_index("model")
    families = report.loc[[f for f in FAMILIES if f in report.index]]
    name = json.loads((reports / "champion.json").read_text())["name"]
    old_name = json.loads((old / "data/06_models/champion.json").read_text())["name"]
    return {
        "seed": seed, "test_rows": len(both), "new_champion": name, "old_champion": old_name,
        "new_auc": roc_auc_score(y, p_new), "old_auc": roc_auc_score(y, p_old),
        "difference": difference, "ci_low": low, "ci_high": high,
        "new_log_loss": log_loss(y, p_new), "old_log_loss": log_loss(y, p_old),
        "new_brier": brier_score_loss(y, p_new), "old_brier": brier_score_loss(y, p_old),
        "champion_in_report": report.loc[name, ["test.log_loss", "test.brier_score"]].tolist(),
        "best_family": families[["test.log_loss", "test.brier_score"]].min().tolist(),
    }  # fmt: skip


def markdown(rows: pd.DataFrame) -> str:
    lines = [
        "| seed | new champion | new AUC | previous champion | previous AUC | difference [95 % CI] "
        "| log loss new / previous | Brier new / previous |\n|---:|---|---:|---|---:|---|---:|---:|"
    ]
    for r in rows.itertuples():
        lines.append(
            f"| {r.seed} | {r.new_champion} | {r.new_auc:.4f} | {r.old_champion} | {r.old_auc:.4f} "
            f"| {r.difference:+.5f} [{r.ci_low:+.5f}, {r.ci_high:+.5f}] "
            f"| {r.new_log_loss:.4f} / {r.old_log_loss:.4f} | {r.new_brier:.4f} / {r.old_brier:.4f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old_repo", type=Path, help="a worktree of the previous design (93d3d59)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rows", type=int, default=381_109, help="generated training rows")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/champion_vs_previous"))
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:  # sequential: each default run uses the whole machine
        rows.append(one_seed(seed, args.rows, args.old_repo.resolve(), args.workdir.resolve()))
        pd.DataFrame(rows).to_csv(args.workdir / "results.csv", index=False)  # after each seed
    print(markdown(pd.DataFrame(rows)))


if __name__ == "__main__":
    main()
