"""Project settings: configuration loading, hooks and the catalog class."""

from kedro.config import OmegaConfigLoader
from omegaconf.resolvers import oc

from cross_sell.hooks import LineageHooks, NodeTimingHooks, RawOverwriteGuardHook
from cross_sell.pipelines.inference.hooks import ServableModelHook
from cross_sell.preflight import PreflightHook, TerminationHook

HOOKS = (
    PreflightHook(),  # unreachable MLflow store / Optuna storage: fail at the start, with the fix
    TerminationHook(),  # SIGTERM: a normal failure (trial FAIL, MLflow run FAILED), not a hard kill
    RawOverwriteGuardHook(),
    LineageHooks(),
    NodeTimingHooks(),
    ServableModelHook(),
)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # `oc.env` lets mlflow.yml and catalog entries take environment overrides,
    # e.g. MLFLOW_TRACKING_URI for a test or a team's tracking server.
    "custom_resolvers": {"oc.env": oc.env},
    "config_patterns": {
        "parameters": ["parameters*", "parameters*/**", "**/parameters*"],
        "mlflow": ["mlflow*", "mlflow*/**", "**/mlflow*"],
    },
}
