"""Project settings: configuration loading, hooks, and the third-party warnings a run filters."""

import logging
import os
import warnings

from kedro.config import OmegaConfigLoader
from omegaconf.resolvers import oc

from cross_sell.hooks import FlatParamsHook, InputDataHook, PromotionHook, RawOverwriteGuardHook
from cross_sell.preflight import PreflightHook, TerminationHook

HOOKS = (
    PreflightHook(),  # unreachable MLflow store / Optuna storage: fail at the start, with the fix
    TerminationHook(),  # SIGTERM: a normal failure (trial FAIL, MLflow run FAILED), not a hard kill
    RawOverwriteGuardHook(),
    FlatParamsHook(),  # before kedro-mlflow's hook logs the parameters
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

# Known third-party warnings that a user of this project cannot act on, filtered precisely (by
# message and module, never globally) so that a clean run's log shows only what matters.
for message, module in (
    ("register_new_resolver", r"kedro\.config|kedro_mlflow"),  # Kedro/kedro-mlflow internals
    ("One or more dataset names contain '.'", r"kedro\.pipeline"),  # Kedro's own namespacing
    ("Add type hints to the `predict` method", r"mlflow\.pyfunc"),  # kedro-mlflow's model class
    ("The specified dataset source can be interpreted", r"mlflow\.data"),  # a local CSV path
    ("Hint: Inferred schema contains integer", r"mlflow\.types"),  # ids and ages are integers
    ("MLflowCallback has been deprecated", r"cross_sell\.pipelines\.tuning"),  # still in 5.x
    (r"optuna\.visualization\.matplotlib.* is experimental", r"cross_sell\.pipelines\.tuning"),
    # pandera imports pyspark.pandas whenever pyspark is installed (the spark extra); this project
    # runs pyspark only on the paths its Spark tests check.
    ("PySpark does not yet fully support pandas", r"pyspark"),
):
    warnings.filterwarnings("ignore", message=f".*{message}", module=module)

# No progress bars from MLflow's artifact downloads in a run's log.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

# MLflow gives its logger a handler of its own (another format) when it is first imported: let its
# records reach conf/logging.yml's handlers instead (level there: WARNING).
logging.getLogger("mlflow").handlers.clear()
logging.getLogger("mlflow").propagate = True
logging.getLogger("mlflow.pyfunc").addFilter(
    lambda record: "serialized using CloudPickle" not in record.getMessage()
)  # kedro-mlflow logs its model as a Python object by design
