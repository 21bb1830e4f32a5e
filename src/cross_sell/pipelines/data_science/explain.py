"""Per-customer explanations: each clean column's additive contribution to the log-odds.

Contributions plus the base value add up to the model's log-odds of response, row by row:
XGBoost's own per-tree path attributions for its trees (``pred_contribs`` with
``approx_contribs``, Saabas' method: exact TreeSHAP took ~80x longer, far over the 3x budget of
scoring with reasons), coefficient x value for a logistic
regression (encoded columns folded back onto the clean column they came from), and for the blend
its members' contributions combined with its weights, then its Platt scaling (a linear map of the
log-odds). ``TunedThresholdClassifierCV`` and ``CalibratedClassifierCV`` wrappers are looked
through with their public fitted attributes. Other models (scikit-learn's histogram gradient
boosting: ``shap`` reconstructs its categorical splits wrongly and takes minutes) raise
``NotImplementedError``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xgboost
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import TunedThresholdClassifierCV
from sklearn.pipeline import Pipeline

from .blend import WeightedBlend

BASE = "base"
"""The column of the base value (log-odds with every contribution zero)."""


def _fold(values: np.ndarray, outputs: list[str], inputs: list[str], index: Any) -> pd.DataFrame:
    """Sum output-feature columns onto the input column each came from (longest name prefix)."""
    owners = []
    for out in outputs:
        matches = [c for c in inputs if out == c or out.startswith(f"{c}_")]
        if not matches:
            raise NotImplementedError(f"encoded column {out!r} comes from no input column")
        owners.append(max(matches, key=len))
    frame = pd.DataFrame(values, columns=outputs, index=index)
    return frame.T.groupby(owners, sort=False).sum().T.reindex(columns=inputs, fill_value=0.0)


def _pipeline(model: Pipeline, X: pd.DataFrame) -> pd.DataFrame:
    preprocess, classifier = model[:-1], model[-1]
    encoded = preprocess.transform(X)
    outputs = list(preprocess.get_feature_names_out())
    inputs = list(X.columns)
    if isinstance(classifier, xgboost.XGBClassifier):
        best = getattr(classifier, "best_iteration", None)
        matrix = xgboost.DMatrix(encoded, enable_categorical=True)
        values = classifier.get_booster().predict(
            matrix,
            pred_contribs=True,
            approx_contribs=True,
            iteration_range=(0, best + 1) if best is not None else (0, 0),
        )
        frame = _fold(values[:, :-1], outputs, inputs, X.index)
        frame[BASE] = values[:, -1]
        return frame
    if isinstance(classifier, LogisticRegression):
        dense = encoded.toarray() if hasattr(encoded, "toarray") else np.asarray(encoded)
        values = dense.astype("float64") * classifier.coef_[0]
        frame = _fold(values, outputs, inputs, X.index)
        frame[BASE] = classifier.intercept_[0]
        return frame
    raise NotImplementedError(f"no additive explanation for {type(classifier).__name__}")


def contributions(model: Any, X: pd.DataFrame) -> pd.DataFrame:
    """Contributions of each column of ``X`` to ``model``'s log-odds, and the ``base`` column."""
    if isinstance(model, TunedThresholdClassifierCV):
        return contributions(model.estimator_, X)
    if isinstance(model, CalibratedClassifierCV) and model.method == "sigmoid":
        (calibrated,) = model.calibrated_classifiers_
        inner = contributions(calibrated.estimator.estimator, X)  # FrozenEstimator -> model
        (sigmoid,) = calibrated.calibrators  # p = expit(-(a * z + b))
        scaled = -sigmoid.a_ * inner
        scaled[BASE] -= sigmoid.b_
        return scaled
    if isinstance(model, WeightedBlend):
        return sum(w * contributions(model.members[n], X) for n, w in model.weights_.items())
    if isinstance(model, Pipeline):
        return _pipeline(model, X)
    raise NotImplementedError(f"no additive explanation for {type(model).__name__}")


def top_reasons(
    contribution: pd.DataFrame, raw: pd.DataFrame, raw_names: dict[str, str], n: int = 3
) -> pd.DataFrame:
    """The ``n`` largest contributions of each row as ``Column=value (+)`` / ``(-)`` strings.

    ``raw_names`` maps each clean column to the raw Kaggle column shown (its value is taken from
    ``raw``, aligned by position).
    """
    columns = [c for c in contribution.columns if c != BASE]
    values = contribution[columns].to_numpy()
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :n]
    rows = np.arange(len(values))[:, None]
    names = np.array([raw_names[c] for c in columns], dtype=object)
    shown = np.column_stack([raw[raw_names[c]].astype(str).to_numpy() for c in columns])
    signs = np.where(values[rows, order] >= 0, "(+)", "(-)")
    text = names[order] + "=" + shown[rows, order].astype(object) + " " + signs.astype(object)
    return pd.DataFrame(
        text, columns=[f"reason_{i + 1}" for i in range(n)], index=contribution.index
    )
