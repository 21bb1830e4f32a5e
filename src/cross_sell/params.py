"""Typed parameters: Kedro validates every ``params:`` input of a node against its type hint
before the first node runs, so a bad value stops the run with the parameter's name and rule.

Each model mirrors a block of ``conf/base/parameters_*.yml``; unknown keys are refused (a typo,
or a setting the project does not have, such as a list of families: they are fixed in code).
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Metric = Literal[
    "roc_auc",
    "average_precision",
    "log_loss",
    "brier_score",
    "top_decile_lift",
    "precision",
    "recall",
    "contact_share",
    "expected_profit",
]
Share = Field(gt=0, lt=1)


class Strict(BaseModel):
    """A parameter block: unknown keys are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Columns(Strict):
    """``columns``: the model input table's id, target and special columns."""

    id: str
    target: str
    categorical: list[str]
    capped: list[str]


class Split(Strict):
    """``data_science.split``: shares of all rows; the rest is the training split."""

    validation_size: float = Share
    test_size: float = Share
    random_state: int

    @model_validator(mode="after")
    def _leaves_training_rows(self) -> Split:
        if self.validation_size + self.test_size >= 1:
            raise ValueError(
                f"validation_size + test_size = {self.validation_size + self.test_size:g} "
                "must be below 1 (the rest is the training split)"
            )
        return self


class DataScience(Strict):
    """``data_science``: the split (the families are fixed in code, not set here)."""

    split: Split

    @model_validator(mode="before")
    @classmethod
    def _no_families(cls, values: Any) -> Any:
        if isinstance(values, dict) and "families" in values:
            raise ValueError(
                "the model families are fixed in code (FAMILIES in "
                "src/cross_sell/pipelines/data_science/pipeline.py), not set in conf: remove "
                "data_science.families, or edit FAMILIES"
            )
        return values


class Recipe(Strict):
    """A family's preprocessing recipe (``data_science/preprocessing.py``)."""

    name: Literal["trees", "linear"]
    kwargs: dict[str, Any] = {}


class Family(Strict):
    """A model family's block: estimator import path, its kwargs, fit options and recipe."""

    estimator: str
    kwargs: dict[str, Any] = {}
    validation_eval_set: bool = False
    fit_kwargs: dict[str, Any] = {}
    recipe: Recipe


class SearchParameter(Strict):
    """One entry of a search space: ``suggest_int`` / ``suggest_float`` / ``suggest_categorical``."""

    type: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: list[Any] | None = None


class PruningCallback(Strict):
    """Import path and kwargs of an XGBoost pruning callback."""

    class_: str = Field(alias="class")
    kwargs: dict[str, Any] = {}


class Search(Strict):
    """``tuning.<family>``: the budget and search space of one family's study."""

    n_trials: int = Field(ge=0)
    timeout: float | None = Field(default=None, ge=0)
    train_fraction: float = Field(default=1.0, gt=0, le=1)
    pruning_callback: PruningCallback | None = None
    search_space: dict[str, SearchParameter]


class Study(Strict):
    """``tuning.study``: where the studies live and how they sample and prune."""

    storage: str
    study_name: str
    sampler_seed: int
    pruner: dict[str, Any] = {}


class Tuning(Strict):
    """``tuning``: the study settings and one search per tuned family."""

    study: Study
    xgboost: Search


class Champion(Strict):
    """``evaluation.champion``: how the champion is chosen on the validation split."""

    metric: Metric
    tie_breaker: Metric
    tolerance: float = Field(default=0.0, ge=0)


class Campaign(Strict):
    """``evaluation.campaign``: money per contact and per converted responder."""

    contact_cost: float = Field(gt=0)
    conversion_value: float = Field(gt=0)


class Promotion(Strict):
    """``evaluation.promotion``: how much worse than ``@champion`` a challenger may be."""

    max_relative_drop: dict[Metric, float] = Field(min_length=1)

    @model_validator(mode="after")
    def _shares(self) -> Promotion:
        bad = {k: v for k, v in self.max_relative_drop.items() if not 0 <= v < 1}
        if bad:
            raise ValueError(f"max_relative_drop values must be in [0, 1), got {bad}")
        return self


class Inference(Strict):
    """``inference``: batch scoring settings."""

    max_reject_share: float = Field(ge=0, le=1)


class FeatureImportance(Strict):
    """``evaluation.feature_importance``: permutation importance settings."""

    n_rows: int = Field(gt=0)
    n_repeats: int = Field(gt=0)
    scoring: str
    seed: int


class Slices(Strict):
    """``evaluation.slices``: the segments of the champion's slice report on the test split."""

    top_n: int = Field(ge=1)
    age_edges: list[int] = Field(min_length=1)

    @model_validator(mode="after")
    def _increasing(self) -> Slices:
        if any(b <= a for a, b in itertools.pairwise(self.age_edges)):
            raise ValueError(f"age_edges must be strictly increasing, got {self.age_edges}")
        return self


class Monitoring(Strict):
    """``monitoring``: the drift check of every batch inference run (docs/monitoring.md)."""

    on_drift: Literal["warn", "stop"] = "warn"
    reference_rows: int = Field(default=20_000, gt=0)
    seed: int = 42
    bins: int = Field(default=10, ge=2)
    min_category_share: float = Field(default=0.01, ge=0, lt=1)
    threshold: float = Field(default=0.2, gt=0)
    prediction_threshold: float = Field(default=0.2, gt=0)
