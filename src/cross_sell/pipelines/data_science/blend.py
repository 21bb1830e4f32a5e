"""A blend of fitted models: the weighted mean of their log-odds, as one scikit-learn classifier.

Averaging diverse strong models ranks customers better than any one of them (measured on real
data for issue 12: a blend of three gradient-boosting variants beat a single XGBoost in every
split). Its members are ``evaluation.blend_members``. The mean is taken in log-odds, so a blend's
per-customer explanation is its members' contributions combined with the same weights; its output
is then calibrated on the validation split (Platt scaling, which keeps the ranking).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

from cross_sell.params import Columns

from .nodes import features_and_target

EPSILON = 1e-7


class WeightedBlend(ClassifierMixin, BaseEstimator):
    """``sigmoid(sum_i w_i * logit(p_i))`` of already fitted ``members`` (``fit`` fits nothing).

    Args:
        members: name -> fitted classifier with ``predict_proba`` (same input columns).
        weights: name -> weight (normalised to sum to 1); ``None``: equal weights.
    """

    def __init__(self, members: dict[str, Any], weights: dict[str, float] | None = None):
        self.members = members
        self.weights = weights

    def fit(self, X: pd.DataFrame, y: Any = None) -> WeightedBlend:
        """Check the members and weights; the members stay as they were fitted."""
        weights = self.weights or dict.fromkeys(self.members, 1.0)
        if set(weights) != set(self.members) or min(weights.values()) < 0:
            raise ValueError(
                f"blend weights {weights} must be >= 0, one per member {list(self.members)}"
            )
        total = sum(weights.values())
        self.weights_ = {name: weights[name] / total for name in self.members}
        self.classes_ = np.array([0, 1])
        return self

    def member_log_odds(self, X: pd.DataFrame) -> pd.DataFrame:
        """Each member's log-odds of response (one column per member)."""
        return pd.DataFrame(
            {
                name: logit(np.clip(member.predict_proba(X)[:, 1], EPSILON, 1 - EPSILON))
                for name, member in self.members.items()
            },
            index=X.index,
        )

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """The weighted mean of the members' log-odds."""
        return self.member_log_odds(X).to_numpy() @ np.array(list(self.weights_.values()))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """``[1 - p, p]`` with ``p`` the sigmoid of ``decision_function``."""
        p = expit(self.decision_function(X))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where the blended probability is at least 0.5."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def blend_models(
    validation: pd.DataFrame, columns: Columns, members: list[str], **models: Any
) -> CalibratedClassifierCV:
    """The equal-weight blend of ``members``, Platt-calibrated on the validation split."""
    unknown = sorted(set(members) - set(models))
    if unknown:
        raise ValueError(f"evaluation.blend_members: {unknown} are not models of {sorted(models)}")
    features, target = features_and_target(validation, columns)
    blend = WeightedBlend({name: models[name] for name in members}).fit(features, target)
    return CalibratedClassifierCV(FrozenEstimator(blend), method="sigmoid").fit(features, target)
