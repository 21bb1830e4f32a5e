"""The project's parameters read from ``conf/`` outside a Kedro session.

Some pipelines are *shaped* by parameters (which model families exist, which are tuned, which models
are evaluated): they read them here when the pipelines are registered, with the project's own config
loader (base + ``KEDRO_ENV``), so a change in ``conf/`` is all it takes to add a family.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kedro.framework.project import settings

from cross_sell import settings as project_settings


def configured_parameters(conf_source: str | Path | None = None) -> dict[str, Any]:
    """All parameters of ``conf_source`` (default: ``conf/`` in the working directory), or ``{}``."""
    source = Path(conf_source) if conf_source else Path.cwd() / settings.CONF_SOURCE
    if not (source / "base").is_dir():
        return {}
    args = project_settings.CONFIG_LOADER_ARGS
    env = os.environ.get("KEDRO_ENV") or args["default_run_env"]
    if not (source / env).is_dir():  # e.g. a fresh clone's conf/ without conf/local/
        env = args["base_env"]
    loader = project_settings.CONFIG_LOADER_CLASS(conf_source=str(source), env=env, **args)
    return dict(loader["parameters"])


def configured_list(section: str, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """``<section>.<key>`` of the configured parameters as a tuple of names, else ``default``."""
    value = (configured_parameters().get(section) or {}).get(key)
    return tuple(value) if value else default
