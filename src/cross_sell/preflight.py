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

import contextlib
import itertools
import logging
import os
import re
import signal
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import click
import mlflow
import requests
import sqlalchemy
from kedro.config import MissingConfigException
from kedro.framework.hooks import hook_impl
from kedro.framework.project import pipelines as project_pipelines
from kedro.validation import ParameterValidationError
from kedro_mlflow.pipeline.pipeline_ml import PipelineML
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)

TUNING_PARAMS = "params:tuning"
MAIN_PIPELINES = ("synthetic_data", "data_engineering", "data_science", "tuning", "evaluation")
"""Preferred in the advice on what to run first (over the per-family pipelines)."""
DEFAULT_OPTUNA_STORAGE = "sqlite:///data/06_models/optuna.db"
DEFAULT_MLFLOW_STORE = "sqlite:///mlflow.db"


class PreflightError(click.ClickException):
    """The run cannot start (bad parameter, missing input, unusable storage); nothing was run.

    A ``ClickException``: ``kedro run`` prints its one-line message, without a traceback.
    """


class RunTerminatedError(RuntimeError):
    """The run received SIGINT or SIGTERM and stopped."""


# ---------------------------------------------------------------------------- helpers
def hide_password(uri: str) -> str:
    """``uri`` with the password of its ``user:password@`` part replaced by ``***``."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def _existing_sqlite_problem(path: Path) -> str | None:
    """Why an existing sqlite file cannot be used, or None."""
    if path.is_dir():
        return f"{path} is a folder, not a database file"
    if not os.access(path, os.R_OK | os.W_OK):
        return f"the database file {path} is not writable (make it writable: chmod u+rw)"
    try:
        with contextlib.closing(sqlite3.connect(path)) as connection:
            connection.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        return (
            f"{path} is not a readable SQLite database ({exc}): move it away (a new one is "
            "created) or restore it from a backup"
        )
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return f"the folder {path.parent} is not writable (SQLite writes its journal there)"
    return None


def _sqlite_problem(database: str | None) -> str | None:
    """Why a sqlite database file cannot be created or written there, or None."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database).expanduser().absolute()
    if path.exists():
        return _existing_sqlite_problem(path)
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
    api = f"{uri.rstrip('/')}/api/2.0/mlflow/experiments/search?max_results=1"
    problem = None
    try:
        answer = requests.get(api, timeout=(timeout, timeout))
    except requests.exceptions.SSLError:
        return None  # reachable; certificates are MLflow's business (MLFLOW_TRACKING_*)
    except requests.exceptions.ConnectionError as exc:
        reason = str(exc)
        known = [k for k in ("Connection refused", "Name or service not known") if k in reason]
        problem = f"unreachable ({known[0].lower() if known else _first_line(exc)[:200]})"
    except requests.exceptions.Timeout:
        problem = f"unreachable (no answer within {timeout:.0f} s)"
    else:
        kind = answer.headers.get("content-type", "no content type").split(";")[0]
        if answer.status_code not in (401, 403) and "json" not in kind:
            problem = (
                f"it answers {api} with HTTP {answer.status_code} and {kind}, not MLflow's JSON "
                "API (is it the address of an MLflow tracking server?)"
            )
    return problem


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
        else "as said, or point the URI at another file"
    )
    raise PreflightError(
        f"MLflow {role} store {shown} cannot be used: {problem}. It is set by {origin}. "
        f"Checked before the run started; nothing was run. Fix: {fix}; or unset "
        f"MLFLOW_TRACKING_URI to log to the project's local store {DEFAULT_MLFLOW_STORE}."
    )


def _maker(name: str) -> str:
    """The command that makes dataset ``name``: the smallest registered pipeline writing it."""
    if name in ("registered_champion", "champion_reference"):
        return "no model is registered under that alias yet: run `kedro run` first"
    makers = [key for key, pipeline in project_pipelines.items() if name in pipeline.all_outputs()]
    main = [key for key in MAIN_PIPELINES if key in makers]
    if not makers:
        return "it is an input of the project: put the file in place"
    return f"run `kedro run --pipelines={(main or makers)[0]}` first"


def check_inputs_exist(pipeline: Any, catalog: Any) -> None:
    """Raise ``PreflightError`` naming the first missing input of ``pipeline`` and its maker.

    The registered champion is optional for a training run (its gate promotes the first model).
    """
    optional = {"registered_champion"} if isinstance(pipeline, PipelineML) else set()
    for name in sorted(pipeline.inputs() - optional):
        if name.startswith("params:") or not _has_file(catalog, name):
            continue
        if not catalog.exists(name):
            raise PreflightError(
                f"Cannot run: its input {name!r} does not exist yet; {_maker(name)}. "
                "Nothing was run."
            )


def _has_file(catalog: Any, name: str) -> bool:
    """Whether ``name`` is persisted (a file or a registered model), not kept in memory."""
    config = catalog.config_resolver.resolve_pattern(name) or {}
    return bool(config) and config.get("type") != "MemoryDataset"


def _file_paths(config: Any) -> list[Path]:
    """Every ``filepath`` in a dataset's resolved configuration (wrapped datasets included)."""
    if not isinstance(config, dict):
        return []
    own = [Path(str(config["filepath"]))] if "filepath" in config else []
    return own + [path for value in config.values() for path in _file_paths(value)]


def check_outputs_writable(pipeline: Any, catalog: Any) -> None:
    """Raise ``PreflightError`` if a local file the run writes cannot be written (folder first)."""
    for name in sorted(pipeline.all_outputs()):
        for path in _file_paths(catalog.config_resolver.resolve_pattern(name)):
            if "://" in str(path):
                continue  # remote storage: its own credentials and errors
            folder = path.parent
            while not folder.exists() and folder != folder.parent:
                folder = folder.parent
            if not folder.is_dir():
                problem = f"{folder} is a file, not a folder"
            elif (path.exists() and not os.access(path, os.W_OK)) or not os.access(
                folder, os.W_OK | os.X_OK
            ):
                problem = f"{path if path.exists() else folder} is not writable (chmod u+w)"
            else:
                continue
            raise PreflightError(
                f"Cannot write {path} (dataset {name!r}): {problem}. Checked before the run "
                "started; nothing was run."
            )


def parameter_problems(message: str) -> str:
    """Kedro's (multi-line, pydantic) parameter validation message, one line per problem:
    ``Parameter <key>: <rule> (got <value>)``."""
    problems = []
    for block in message.split("\n- Parameter '")[1:]:
        key = block.split("'", 1)[0]
        lines = block.splitlines()
        for where, what in itertools.pairwise(lines):
            found = re.match(r"\s+(.*?) \[type=[^,]+, input_value=(.*), input_type=\w+\]$", what)
            if found and not where.startswith(" "):
                rule, value = found.groups()
                field = "" if "validation error for" in where else f".{where.strip()}"
                problems.append(f"Parameter {key}{field}: {rule} (got {value})")
        if not any(p.startswith(f"Parameter {key}") for p in problems):
            problems.append(f"Parameter {key}: {' '.join(lines[0].split(': ')[1:])}")
    return "\n".join(problems) or message


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
        try:
            context.params  # Kedro validates the typed parameters here  # noqa: B018
        except ParameterValidationError as exc:
            raise PreflightError(parameter_problems(str(exc))) from None
        if mlflow.active_run():  # an orchestrator opened the run: kedro-mlflow reuses it
            return
        for role, uri in _mlflow_uris(context).items():
            check_mlflow_store(uri, self._timeout, role)

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, pipeline: Any, catalog: Any) -> None:
        check_inputs_exist(pipeline, catalog)
        check_outputs_writable(pipeline, catalog)
        if not any(TUNING_PARAMS in node.inputs for node in pipeline.nodes):
            return
        storage = catalog.load(TUNING_PARAMS).study.storage
        check_optuna_storage(str(storage), self._timeout)
        logger.info("Optuna storage %s is usable", hide_password(str(storage)))


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""Ctrl-C and ``kill`` / ``docker stop`` / a cancelled CI job."""
_STOP_STATE: dict[str, Any] = {"deferred": False, "pending": None}
"""Whether a stop signal must wait (bookkeeping that must not be cut), and the one waiting."""


def _stop(signum: int) -> None:
    raise RunTerminatedError(
        f"The run received {signal.Signals(signum).name} and stopped: the node running was "
        "interrupted (an Optuna trial in progress is marked FAIL; completed trials stay in the "
        "study, and the next run continues it), and the MLflow run is marked FAILED. Outputs "
        "written before stay; rerun the same command to continue."
    )


def _stop_pending() -> None:
    signum, _STOP_STATE["pending"] = _STOP_STATE["pending"], None
    if signum:
        _stop(signum)


@contextmanager
def _stops(deferred: bool) -> Iterator[None]:
    previous, _STOP_STATE["deferred"] = _STOP_STATE["deferred"], deferred
    try:
        if not deferred:
            _stop_pending()
        yield
    finally:
        _STOP_STATE["deferred"] = previous
        if not previous:
            _stop_pending()


def stops_deferred() -> contextlib.AbstractContextManager[None]:
    """SIGINT / SIGTERM received inside wait until it ends (or until ``stops_allowed``)."""
    return _stops(deferred=True)


def stops_allowed() -> contextlib.AbstractContextManager[None]:
    """SIGINT / SIGTERM stop at once inside (a waiting one first), even within ``stops_deferred``."""
    return _stops(deferred=False)


class TerminationHook:
    """During a run, SIGINT or SIGTERM raises ``RunTerminatedError`` (a clean, recorded failure)."""

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}

    def _on_signal(self, signum: int, frame: Any) -> None:
        for number in STOP_SIGNALS:  # a second signal stops at once
            signal.signal(
                number, signal.default_int_handler if number == signal.SIGINT else signal.SIG_DFL
            )
        if _STOP_STATE["deferred"]:
            _STOP_STATE["pending"] = signum
            logger.warning("%s received: stopping after this step", signal.Signals(signum).name)
            return
        _stop(signum)

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = {n: signal.signal(n, self._on_signal) for n in STOP_SIGNALS}

    def _restore(self) -> None:
        if self._previous and threading.current_thread() is threading.main_thread():
            for number, handler in self._previous.items():
                signal.signal(number, handler)
            self._previous = {}

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._restore()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._restore()
