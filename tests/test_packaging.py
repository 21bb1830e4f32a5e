"""``kedro package`` for real: the wheel and the conf tarball run the project from an empty folder.

The wheel is built in a copy of the project (``kedro package`` and setuptools write ``dist/`` and
``build/``; the repository's stay untouched) and installed, without its dependencies, into a fresh
venv. That venv reaches the dependencies through a ``.pth`` file naming the test environment's
site-packages: a plain path line, so the ``.pth`` files in there (among them the editable install
that points at ``src/``) are not processed and ``cross_sell`` can only come from the wheel.
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
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from kedro.io import CatalogConfigResolver

from cross_sell import __version__
from tests.conftest import REPO, kedro_env, project_config, registered_pipelines, run_kedro

PACKAGE = "cross_sell"
PIPELINE = "inference"
PIP = (sys.executable, "-m", "pip")  # the test environment's pip installs into the fresh venv


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


def _fresh_env(venv: Path, mlflow_db: Path) -> dict[str, str]:
    """The environment of a user who activated the fresh venv (no project on PYTHONPATH)."""
    env = kedro_env(mlflow_db.parent)
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(name, None)
    env.update(
        VIRTUAL_ENV=str(venv),
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        MLFLOW_TRACKING_URI=f"sqlite:///{mlflow_db}",
    )
    return env


def _catalog_filepath(project: Path, dataset: str) -> str:
    """The ``filepath`` (relative to the project) that the catalog gives ``dataset``."""
    config = CatalogConfigResolver(project_config(project, "catalog")).resolve_pattern(dataset)
    inner = config.get("dataset")
    filepath = config.get("filepath") or (
        inner.get("filepath") if isinstance(inner, dict) else None
    )
    assert filepath, f"catalog entry of {dataset!r} has no filepath to copy: {config}"
    return filepath


def _latest_file(root: Path, filepath: str) -> Path:
    """The file a (possibly versioned) dataset wrote last."""
    path = root / filepath
    if path.is_dir():  # versioned: <filepath>/<version>/<file name>
        return sorted(path.glob(f"*/{path.name}"))[-1]
    return path


@pytest.fixture(scope="module")
def deployment(
    dist: SimpleNamespace,
    fresh_venv: Path,
    trained_project: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> SimpleNamespace:
    """What a packaged run needs: the venv, the tarball, the data it reads, where it writes.

    ``inputs``: each free input of the inference pipeline (raw file, model artifacts) and its
    catalog filepath; ``trained``: the project whose real training run produced them.
    """
    pipeline = registered_pipelines(trained_project)[PIPELINE]
    names = sorted(
        n for n in pipeline.inputs() if not n.startswith("params:") and n != "parameters"
    )
    return SimpleNamespace(
        venv=fresh_venv,
        conf=dist.conf,
        trained=trained_project,
        inputs={name: _catalog_filepath(trained_project, name) for name in names},
        predictions=_catalog_filepath(trained_project, "predictions"),
        # One temporary MLflow store for the packaged runs, outside their folders.
        mlflow_db=tmp_path_factory.mktemp("packaged-mlflow") / "mlflow.db",
    )


@pytest.fixture
def data_only_folder(tmp_path: Path, deployment: SimpleNamespace) -> Path:
    """An empty folder holding only ``data/``: the inputs inference needs, from a real training."""
    folder = tmp_path / "scoring"
    for filepath in deployment.inputs.values():
        source, target = deployment.trained / filepath, folder / filepath
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():  # versioned dataset: the folder of its versions
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    return folder


def _run_inference(command: list[str], folder: Path, deployment: SimpleNamespace) -> None:
    """Run ``command --conf-source=<tarball> --pipelines=inference`` in ``folder``; check it."""
    result = subprocess.run(
        [*command, f"--conf-source={deployment.conf}", f"--pipelines={PIPELINE}"],
        cwd=folder,
        env=_fresh_env(deployment.venv, deployment.mlflow_db),
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

    raw = pd.read_csv(folder / deployment.inputs["raw_test"])
    predictions = pd.read_csv(_latest_file(folder, deployment.predictions))
    assert {"id", "probability"} <= set(predictions.columns)
    assert predictions["id"].is_unique
    assert set(predictions["id"]) == set(raw["id"])  # generated rows are all valid
    assert predictions["probability"].between(0, 1).all()


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
        env=_fresh_env(fresh_venv, tmp_path / "unused.db"),
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(result.stdout)
    assert Path(found["module"]).is_relative_to(fresh_venv), found
    assert not Path(found["module"]).is_relative_to(REPO), found
    assert Path(found["dist"]).is_relative_to(fresh_venv), found
    assert (fresh_venv / "bin" / "cross-sell").is_file()


def test_python_m_runs_inference_from_a_data_only_folder(
    deployment: SimpleNamespace, data_only_folder: Path
) -> None:
    _run_inference(
        [str(deployment.venv / "bin" / "python"), "-m", PACKAGE], data_only_folder, deployment
    )


def test_console_script_runs_inference_from_a_data_only_folder(
    deployment: SimpleNamespace, data_only_folder: Path
) -> None:
    _run_inference([str(deployment.venv / "bin" / "cross-sell")], data_only_folder, deployment)
