"""Project settings: configuration loading and hooks."""

from kedro.config import OmegaConfigLoader
from omegaconf.resolvers import oc

from cross_sell.hooks import InputDataHook, PromotionHook, RawOverwriteGuardHook
from cross_sell.preflight import PreflightHook, TerminationHook

HOOKS = (
    PreflightHook(),  # unreachable MLflow store / Optuna storage: fail at the start, with the fix
    TerminationHook(),  # SIGTERM: a normal failure (trial FAIL, MLflow run FAILED), not a hard kill
    RawOverwriteGuardHook(),
    InputDataHook(),
    PromotionHook(),
)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # conf/local (or --env) overrides single keys, not whole top-level blocks.
    "merge_strategy": {"parameters": "soft"},
    # `oc.env` lets mlflow.yml and catalog entries take environment overrides,
    # e.g. MLFLOW_TRACKING_URI for a test or a team's tracking server.
    "custom_resolvers": {"oc.env": oc.env},
    "config_patterns": {
        "parameters": ["parameters*", "parameters*/**", "**/parameters*"],
        "mlflow": ["mlflow*", "mlflow*/**", "**/mlflow*"],
    },
}
