"""Pruning callbacks for the Optuna studies."""

from typing import Any

import optuna
from optuna_integration import XGBoostPruningCallback


class IntervalXGBoostPruningCallback(XGBoostPruningCallback):
    """optuna_integration's ``XGBoostPruningCallback``, reporting every ``interval`` rounds.

    Each report writes to the study's RDB storage and each pruning check reads every finished
    trial back: done at every boosting round, that costs more than the round itself
    (measured: ~20 s of a 26 s study on 3,500 rows). Every 10th round prunes just as well.
    """

    def __init__(self, trial: optuna.Trial, observation_key: str, interval: int = 10) -> None:
        super().__init__(trial, observation_key)
        self._interval = interval

    def after_iteration(self, model: Any, epoch: int, evals_log: dict) -> bool:
        """Report (and maybe prune) on rounds 0, interval, 2 * interval, ..."""
        if epoch % self._interval:
            return False
        return super().after_iteration(model, epoch, evals_log)
