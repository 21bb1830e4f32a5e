"""``kedro package`` for real: the wheel and the conf tarball run the project from a data-only folder.

The wheel is built in a copy of the project (``kedro package`` and setuptools write ``dist/`` and
``build/``; the repository's stay untouched) and installed, without its dependencies, into a fresh
venv. That venv reaches the dependencies through a ``.pth`` file naming the test environment's
site-packages: a plain path line, so the ``.pth`` files in there (among them the editable install
that points at ``src/``) are not processed and ``cross_sell`` can only come from the wheel.

A packaged batch inference reads two things: ``data/01_raw/test.csv`` in its working folder, and
``cross_sell@champion`` from the MLflow store (``MLFLOW_TRACKING_URI``), here a copy of the
session's trained project's store. Its configuration comes from the tarball only: a run with an
operator's edited tarball follows the edit (the pipelines read no conf when they are built, so
the conf a run is given is the one it uses).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace

import mlflow
import pandas as pd
import pytest
import yaml
from kedro.io import CatalogConfigResolver
from mlflow.tracking import MlflowClient

from cross_sell import __version__
from cross_sell.pipeline_registry import register_pipelines
from cross_sell.pipelines.inference.serving import SERVING_REQUIREMENTS
from tests.conftest import REPO, kedro_env, project_config, run_kedro
from tests.robustness import corpus
from tests.robustness.support import clone_mlflow_store, use_mlflow_store

pytestmark = pytest.mark.slow

PACKAGE = "cross_sell"
PIPELINE = "inference"
PIP = (sys.executable, "-m", "pip")  # the test environment's pip installs into the fresh venv
RAW_TEST = "data/01_raw/test.csv"


def _copy_project_sources(dest: Path) -> Path:
    """What ``kedro package`` reads: pyproject, README, src/ and conf/ (plus a local secret)."""
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", ".telemetry"):
        shutil.copy2(REPO / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(REPO / "src" / PACKAGE, dest / "src" / PACKAGE, ignore=ignore)
    shutil.copytree(REPO / "conf", dest / "conf", ignore=shutil.ignore_patterns("local"))
    (dest / "conf" / "local").mkdir()
    # Local configuration holds secrets: the tarball must leave it out.
    (dest / "conf" / "local" / "credentials.yml").write_text("secret: do-not-ship\n")
    return dest


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """``kedro package`` run in a copy of the project: its wheel and conf tarball."""
    project = _copy_project_sources(tmp_path_factory.mktemp("package") / "project")
    run_kedro(project, "package")
    wheels = sorted((project / "dist").glob("*.whl"))
    assert len(wheels) == 1, f"expected one wheel in dist/, found {wheels}"
    return SimpleNamespace(
        wheel=wheels[0], conf=project / "dist" / f"conf-{PACKAGE}.tar.gz", project=project
    )


@pytest.fixture(scope="module")
def fresh_venv(dist: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv holding only the wheel; dependencies reached through a plain-path ``.pth``."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()
    dependency_dirs = dict.fromkeys([ours["purelib"], ours["platlib"]])
    (Path(site_packages) / "_test_dependencies.pth").write_text("\n".join(dependency_dirs) + "\n")
    subprocess.run(
        [
            *PIP,
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(dist.wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return venv


def _fresh_env(venv: Path, tracking_uri: str) -> dict[str, str]:
    """The environment of a user who activated the fresh venv (no project on PYTHONPATH)."""
    env = kedro_env(venv)
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(name, None)
    env.update(
        VIRTUAL_ENV=str(venv),
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        MLFLOW_TRACKING_URI=tracking_uri,
    )
    return env


def _catalog_filepath(dataset: str) -> str:
    """The ``filepath`` (relative to the project) that the catalog gives ``dataset``."""
    config = CatalogConfigResolver(project_config(REPO, "catalog")).resolve_pattern(dataset)
    return config["filepath"]


def _latest_file(root: Path, filepath: str) -> Path:
    """The file a versioned dataset wrote last: <filepath>/<version>/<file name>."""
    path = root / filepath
    return sorted(path.glob(f"*/{path.name}"))[-1]


@pytest.fixture(scope="module")
def deployment(
    dist: SimpleNamespace,
    fresh_venv: Path,
    trained_project: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> SimpleNamespace:
    """What a packaged run needs: the venv, the tarball, and the MLflow store holding
    ``cross_sell@champion`` (a copy of the trained project's, so its runs change nothing there)."""
    assert "raw_test" in register_pipelines()[PIPELINE].inputs()
    assert _catalog_filepath("raw_test") == RAW_TEST
    return SimpleNamespace(
        venv=fresh_venv,
        conf=dist.conf,
        raw_test=pd.read_csv(trained_project / RAW_TEST),
        tracking_uri=clone_mlflow_store(trained_project, tmp_path_factory.mktemp("team-store")),
        predictions=_catalog_filepath("predictions"),
        rejects=_catalog_filepath("inference_rejects"),
    )


def _data_only_folder(root: Path, raw_test: pd.DataFrame) -> Path:
    """A folder holding only ``data/01_raw/test.csv``: no conf/, no src/, no pyproject."""
    (root / RAW_TEST).parent.mkdir(parents=True)
    raw_test.to_csv(root / RAW_TEST, index=False, lineterminator="\n")
    return root


def _run_inference(
    command: list[str], folder: Path, conf: Path, deployment: SimpleNamespace
) -> pd.DataFrame:
    """Run ``command --conf-source=<conf> --pipelines=inference`` in ``folder``; check it ran
    cleanly from the tarball alone; the predictions it wrote."""
    result = subprocess.run(
        [*command, f"--conf-source={conf}", f"--pipelines={PIPELINE}"],
        cwd=folder,
        env=_fresh_env(deployment.venv, deployment.tracking_uri),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{output[-8000:]}"
    assert "Logging error" not in output, output[-8000:]
    assert "Traceback" not in output, output[-8000:]
    assert not (folder / "conf").exists()  # the configuration came from the tarball only
    predictions = pd.read_csv(
        _latest_file(folder, deployment.predictions), float_precision="round_trip"
    )
    assert predictions.columns[:5].tolist() == ["id", "probability", "rank", "decile", "contact"]
    assert predictions["id"].is_unique
    assert predictions["probability"].between(0, 1).all()
    return predictions


def _latest_inference_params(tracking_uri: str) -> dict[str, str]:
    """The parameters kedro-mlflow logged for the newest inference run of the store."""
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name("cross_sell")
    runs = client.search_runs(
        [experiment.experiment_id],
        "attributes.run_name LIKE 'inference%'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0].data.params


def test_package_writes_wheel_and_conf_tarball(dist: SimpleNamespace) -> None:
    assert dist.wheel.name == f"{PACKAGE}-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(dist.wheel) as wheel:
        names = set(wheel.namelist())
        entry_points = wheel.read(f"{PACKAGE}-{__version__}.dist-info/entry_points.txt").decode()
    sources = {
        path.relative_to(REPO / "src").as_posix()
        for path in (REPO / "src" / PACKAGE).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert sources <= names, f"missing from the wheel: {sorted(sources - names)}"
    assert "cross-sell = cross_sell.__main__:main" in entry_points
    assert not any(name.startswith("conf/") for name in names)  # conf ships in the tarball

    with tarfile.open(dist.conf) as tarball:
        members = {m.name for m in tarball.getmembers() if m.isfile()}
    expected = {
        path.relative_to(REPO).as_posix() for path in (REPO / "conf" / "base").glob("*.yml")
    } | {"conf/logging.yml"}
    assert expected <= members, f"missing from the conf tarball: {sorted(expected - members)}"
    assert not any(name.startswith("conf/local/") for name in members)  # no secrets shipped


def test_wheel_is_what_the_fresh_venv_imports(fresh_venv: Path, tmp_path: Path) -> None:
    probe = (
        "import json, importlib.metadata as m, cross_sell;"
        "print(json.dumps({'module': cross_sell.__file__,"
        " 'dist': str(m.distribution('cross_sell').locate_file(''))}))"
    )
    result = subprocess.run(
        [str(fresh_venv / "bin" / "python"), "-c", probe],
        cwd=tmp_path,
        env=_fresh_env(fresh_venv, f"sqlite:///{tmp_path / 'unused.db'}"),
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(result.stdout)
    assert Path(found["module"]).is_relative_to(fresh_venv), found
    assert not Path(found["module"]).is_relative_to(REPO), found
    assert Path(found["dist"]).is_relative_to(fresh_venv), found
    assert (fresh_venv / "bin" / "cross-sell").is_file()


def test_python_m_scores_every_row_with_the_registered_champion(
    deployment: SimpleNamespace, tmp_path: Path
) -> None:
    folder = _data_only_folder(tmp_path / "scoring", deployment.raw_test)
    python_m = [str(deployment.venv / "bin" / "python"), "-m", PACKAGE]
    predictions = _run_inference(python_m, folder, deployment.conf, deployment)
    assert sorted(predictions["id"]) == sorted(deployment.raw_test["id"])  # all rows valid
    with use_mlflow_store(deployment.tracking_uri):  # the very model the registry serves
        served = mlflow.pyfunc.load_model("models:/cross_sell@champion").predict(
            deployment.raw_test
        )
    expected = served.set_index("id").loc[predictions["id"]]
    assert predictions["probability"].tolist() == expected["probability"].tolist()
    assert predictions["contact"].tolist() == expected["contact"].tolist()


def test_console_script_honours_an_edited_conf_tarball(
    dist: SimpleNamespace, deployment: SimpleNamespace, tmp_path: Path
) -> None:
    """An operator loosens ``inference.max_reject_share`` in the tarball: a file with 5 % bad
    rows, refused with the shipped 1 %, is scored, and the MLflow run records the edited value."""
    edited = tmp_path / "edited" / "conf-cross_sell.tar.gz"
    unpacked = tmp_path / "unpacked"
    with tarfile.open(dist.conf) as tarball:
        tarball.extractall(unpacked, filter="data")
    parameters = unpacked / "conf" / "base" / "parameters_inference.yml"
    values = yaml.safe_load(parameters.read_text())
    assert values["inference"]["max_reject_share"] == 0.01
    values["inference"]["max_reject_share"] = 0.08
    parameters.write_text(yaml.safe_dump(values))
    edited.parent.mkdir()
    with tarfile.open(edited, "w:gz") as tarball:
        tarball.add(unpacked / "conf", arcname="conf")

    raw = deployment.raw_test.head(200).astype({"Age": object})
    bad_ids = raw["id"].iloc[::20].tolist()  # 10 of 200 rows: 5 %
    raw.loc[raw["id"].isin(bad_ids), "Age"] = 150
    folder = _data_only_folder(tmp_path / "scoring", raw)
    console_script = [str(deployment.venv / "bin" / "cross-sell")]
    predictions = _run_inference(console_script, folder, edited, deployment)

    assert sorted(predictions["id"]) == sorted(set(raw["id"]) - set(bad_ids))
    rejects = pd.read_csv(_latest_file(folder, deployment.rejects))
    assert sorted(rejects["id"]) == sorted(bad_ids)
    assert set(rejects["rule"]) == {corpus.CELL_CASES["Age 150"].rule}
    params = _latest_inference_params(deployment.tracking_uri)
    assert float(params["inference.max_reject_share"]) == 0.08


def test_the_registered_model_carries_the_package_and_pinned_requirements(
    trained_project: Path, tmp_path: Path
) -> None:
    """``mlflow models serve`` needs no checkout: the model holds the project's code, and its
    requirements pin what the training environment ran."""
    with use_mlflow_store(f"sqlite:///{trained_project / 'mlflow.db'}"):
        local = Path(
            mlflow.artifacts.download_artifacts("models:/cross_sell@champion", dst_path=tmp_path)
        )
    assert (local / "code" / PACKAGE / "pipelines" / "inference" / "nodes.py").is_file()
    requirements = set((local / "requirements.txt").read_text().split())
    pins = {f"{package}=={version(package)}" for package in SERVING_REQUIREMENTS}
    assert pins <= requirements, sorted(pins - requirements)
