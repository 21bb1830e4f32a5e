"""Fail-early checks of the run's environment, and a clean stop on SIGTERM.

``PreflightHook`` checks, before anything runs, the two services a run writes to:

- the MLflow tracking (and registry) store, in ``after_context_created``, before kedro-mlflow
  contacts it: unreachable, kedro-mlflow would retry for minutes (MLflow's HTTP backoff: over
  4 minutes for a closed port) and end in a long traceback;
- the Optuna RDB storage (``tuning.study.storage``), in ``before_pipeline_run``, when the run
  contains a tuning node: otherwise only the tuning node opens it, after the split and
  possibly after several models were trained.

Each check takes at most a few seconds (``timeout``) and raises ``PreflightError`` naming the
URI (passwords hidden), the problem and the fix. Both hook implementations are ``tryfirst``: they
run before kedro-mlflow's, so a failed check leaves no MLflow run behind.

``TerminationHook`` turns SIGTERM (``kill``, ``docker stop``, a cancelled CI job) during a run
into an exception, ``RunTerminatedError``: the run then ends like any failed run (the Optuna
trial in progress is marked FAIL, kedro-mlflow marks the MLflow run FAILED) instead of dying
with the trial and the MLflow run left RUNNING forever. A second SIGTERM kills at once.

Register both in ``settings.HOOKS``.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import mlflow
import requests
import sqlalchemy
from kedro.config import MissingConfigException
from kedro.framework.hooks import hook_impl
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)

TUNING_PARAMS = "params:tuning"
DEFAULT_OPTUNA_STORAGE = "sqlite:///data/06_models/optuna.db"
DEFAULT_MLFLOW_STORE = "sqlite:///mlflow.db"


class PreflightError(RuntimeError):
    """A service the run needs is unreachable or unusable; nothing was run."""


class RunTerminatedError(RuntimeError):
    """The run received SIGTERM and stopped."""


# ---------------------------------------------------------------------------- helpers
def hide_password(uri: str) -> str:
    """``uri`` with the password of its ``user:password@`` part replaced by ``***``."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def _sqlite_problem(database: str | None) -> str | None:
    """Why a sqlite database file cannot be created or written there, or None."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database).expanduser().absolute()
    if path.exists():
        if path.is_dir():
            return f"{path} is a folder, not a database file"
        usable = os.access(path, os.R_OK | os.W_OK)
        return None if usable else f"the database file {path} is not readable and writable"
    folder = path.parent
    if not folder.is_dir():
        blocker = folder
        while not blocker.parent.is_dir():
            blocker = blocker.parent
        what = "is a file, not a folder" if blocker.exists() else "does not exist"
        return f"the database file cannot be created in {folder} ({blocker} {what})"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} is not writable"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _connect(url: str, timeout: float) -> str | None:
    """Open and close one SQLAlchemy connection to ``url``; the problem, or None."""
    parsed = sqlalchemy.engine.make_url(url)
    connect_args = (
        {"connect_timeout": max(1, int(timeout))}
        if parsed.get_backend_name() in {"postgresql", "mysql", "mariadb"}
        else {}
    )
    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            engine = sqlalchemy.create_engine(parsed, poolclass=NullPool, connect_args=connect_args)
            try:
                with engine.connect():
                    pass
            finally:
                engine.dispose()
        except (ImportError, sqlalchemy.exc.NoSuchModuleError) as exc:
            hint = (
                "; a bare postgresql:// means psycopg 3 to SQLAlchemy, which this project does "
                "not install: write postgresql+psycopg2:// and `pip install -e '.[postgres]'`"
                if parsed.drivername == "postgresql"
                else ""
            )
            outcome.append(f"its database driver is not installed ({_first_line(exc)}{hint})")
        except Exception as exc:  # any failure to connect is the answer
            outcome.append(f"cannot connect ({_first_line(exc)})")
        else:
            outcome.append(None)

    worker = threading.Thread(target=attempt, name="preflight-connect", daemon=True)
    worker.start()
    worker.join(timeout + 2)
    if not outcome:
        return f"no answer within {timeout + 2:.0f} s"
    return outcome[0]


# ---------------------------------------------------------------------------- checks
def check_optuna_storage(url: str, timeout: float = 5.0, source: str = "") -> None:
    """Raise ``PreflightError`` if the Optuna RDB storage ``url`` cannot be used.

    sqlite: the database file must be creatable (its folder exists and is writable) or, if it
    exists, readable and writable. Other URLs: one connection must open within ``timeout``.
    """
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except sqlalchemy.exc.ArgumentError as exc:
        problem = f"it is not a database URL ({exc})"
    else:
        if parsed.get_backend_name() == "sqlite":
            problem = _sqlite_problem(parsed.database)
        else:
            problem = _connect(url, timeout)
    if problem is None:
        return
    shown = hide_password(url)
    origin = source or (
        "the environment variable CROSS_SELL_OPTUNA_STORAGE"
        if os.environ.get("CROSS_SELL_OPTUNA_STORAGE") == url
        else "tuning.study.storage (conf/base/parameters_tuning.yml or --params)"
    )
    raise PreflightError(
        f"Optuna storage {shown} cannot be used: {problem}. It is set by {origin}. Checked "
        "before the run started; nothing was run. Fix: start the database or correct the URL "
        f"(e.g. `export CROSS_SELL_OPTUNA_STORAGE=postgresql+psycopg2://user@host:5432/optuna`), "
        f"or unset CROSS_SELL_OPTUNA_STORAGE to use the local {DEFAULT_OPTUNA_STORAGE}."
    )


def _http_problem(uri: str, timeout: float) -> str | None:
    try:
        requests.get(f"{uri.rstrip('/')}/health", timeout=(timeout, timeout))
    except requests.exceptions.SSLError:
        return None  # reachable; certificates are MLflow's business (MLFLOW_TRACKING_*)
    except requests.exceptions.ConnectionError as exc:
        reason = str(exc)
        for known in ("Connection refused", "Name or service not known", "No route to host"):
            if known in reason:
                return f"unreachable ({known.lower()})"
        return f"unreachable ({_first_line(exc)[:200]})"
    except requests.exceptions.Timeout:
        return f"unreachable (no answer within {timeout:.0f} s)"
    return None  # any HTTP answer, even 401 or 404, means the server is there


def check_mlflow_store(uri: str, timeout: float = 5.0, role: str = "tracking") -> None:
    """Raise ``PreflightError`` if the MLflow ``role`` store at ``uri`` cannot be reached.

    http(s): one request to ``<uri>/health`` must get an HTTP answer within ``timeout``.
    sqlite: the database file must be creatable or writable. Other schemes are left to MLflow.
    """
    scheme = urlsplit(uri).scheme.lower()
    if scheme in {"http", "https"}:
        problem = _http_problem(uri, timeout)
    elif scheme == "sqlite":
        problem = _sqlite_problem(uri.split(":///", 1)[1] if ":///" in uri else None)
    else:
        return
    if problem is None:
        return
    shown = hide_password(uri)
    from_env = os.environ.get("MLFLOW_TRACKING_URI") == uri
    origin = (
        "the environment variable MLFLOW_TRACKING_URI"
        if from_env
        else f"server.mlflow_{role}_uri in conf/<env>/mlflow.yml"
    )
    fix = (
        f"start the server (e.g. `mlflow server --host 127.0.0.1 --port "
        f"{urlsplit(uri).port or 5000}`) or correct the URI"
        if scheme.startswith("http")
        else "create the folder or correct the URI"
    )
    raise PreflightError(
        f"MLflow {role} store {shown} cannot be used: {problem}. It is set by {origin}. "
        f"Checked before the run started; nothing was run. Fix: {fix}; or unset "
        f"MLFLOW_TRACKING_URI to log to the project's local store {DEFAULT_MLFLOW_STORE}."
    )


# ---------------------------------------------------------------------------- hooks
def _mlflow_uris(context: Any) -> dict[str, str]:
    """The tracking and registry URIs kedro-mlflow will use, from mlflow.yml as resolved."""
    try:
        server = (context.config_loader["mlflow"] or {}).get("server") or {}
    except (MissingConfigException, KeyError):  # no mlflow.yml: kedro-mlflow's defaults
        server = {}
    tracking = server.get("mlflow_tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI")
    uris = {"tracking": str(tracking)} if tracking else {}
    if server.get("mlflow_registry_uri"):
        uris["registry"] = str(server["mlflow_registry_uri"])
    return uris


class PreflightHook:
    """Checks the MLflow store and, for runs that tune, the Optuna storage, before anything runs."""

    def __init__(self, timeout: float = 5.0) -> None:
        self._timeout = timeout

    @hook_impl(tryfirst=True)
    def after_context_created(self, context: Any) -> None:
        if mlflow.active_run():  # an orchestrator opened the run: kedro-mlflow reuses it
            return
        for role, uri in _mlflow_uris(context).items():
            check_mlflow_store(uri, self._timeout, role)

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, pipeline: Any, catalog: Any) -> None:
        if not any(TUNING_PARAMS in node.inputs for node in pipeline.nodes):
            return
        storage = catalog.load(TUNING_PARAMS).study.storage
        check_optuna_storage(str(storage), self._timeout)
        logger.info("Optuna storage %s is usable", hide_password(str(storage)))


class TerminationHook:
    """During a run, SIGTERM raises ``RunTerminatedError`` (a clean, recorded failure)."""

    def __init__(self) -> None:
        self._previous: Any = None

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM kills at once
        raise RunTerminatedError(
            "The run received SIGTERM and stopped: the node running was interrupted (an Optuna "
            "trial in progress is marked FAIL; completed trials stay in the study, and the "
            "next run continues it), and the MLflow run is marked FAILED. Outputs written "
            "before stay; rerun the same command to continue."
        )

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)

    def _restore(self) -> None:
        if self._previous is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._restore()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._restore()
