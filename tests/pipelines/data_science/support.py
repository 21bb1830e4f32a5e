"""Helpers shared by the data_science and tuning tests: the project's real configuration."""

import copy
import warnings
from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader
from omegaconf.resolvers import oc

PROJECT = Path(__file__).resolve().parents[3]


def _load_config(key: str) -> dict[str, Any]:
    """``conf/base`` configuration ``key`` (parameters, catalog), as ``kedro run`` sees it."""
    with warnings.catch_warnings():  # omegaconf's register_new_resolver deprecation notice
        warnings.simplefilter("ignore", UserWarning)
        loader = OmegaConfigLoader(
            str(PROJECT / "conf"),
            base_env="base",
            default_run_env="base",
            custom_resolvers={"oc.env": oc.env},
        )
        return loader[key]


def project_parameters() -> dict[str, Any]:
    """``conf/base`` parameters."""
    return _load_config("parameters")


def project_catalog() -> dict[str, Any]:
    """``conf/base/catalog.yml``."""
    return _load_config("catalog")


def fast_parameters(storage: str) -> dict[str, Any]:
    """The project parameters with small trial budgets and the Optuna study in ``storage``."""
    params = copy.deepcopy(project_parameters())
    params["tuning"]["study"]["storage"] = storage
    params["tuning"]["xgboost"].update(n_trials=4, timeout=None)
    params["tuning"]["random_forest"].update(n_trials=2, timeout=None)
    params["random_forest"]["kwargs"]["n_estimators"] = 30
    return params
