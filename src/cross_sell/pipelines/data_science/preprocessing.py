"""Preprocessing recipes: one per kind of model, always fitted on the training split only.

A recipe is a function ``(feature_dtypes, categorical, capped, **kwargs) -> ColumnTransformer``
registered in ``RECIPES``; a model family names its recipe and the recipe's keyword arguments in
``parameters_data_science.yml``. The transformer returned is unfitted: ``nodes.fit_model`` fits it
on the training split and ships it with the classifier as one sklearn ``Pipeline``.
"""

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, SplineTransformer, StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from cross_sell.params import Recipe


class QuantileCapper(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Clip each column to quantile bounds learned in ``fit`` (``lower_``, ``upper_``).

    Tames a heavy right tail (the annual premium) without dropping rows; values outside the
    training range at scoring time are clipped to the same bounds.
    """

    def __init__(self, lower_quantile: float = 0.001, upper_quantile: float = 0.999):
        self.lower_quantile = lower_quantile
        self.upper_quantile = upper_quantile

    def fit(self, X, y=None):
        """Learn the per-column bounds from ``X``."""
        values = validate_data(self, X, dtype=np.float64)
        self.lower_ = np.quantile(values, self.lower_quantile, axis=0)
        self.upper_ = np.quantile(values, self.upper_quantile, axis=0)
        return self

    def transform(self, X):
        """Return ``X`` clipped to the learned bounds."""
        check_is_fitted(self)
        values = validate_data(self, X, dtype=np.float64, reset=False)
        return np.clip(values, self.lower_, self.upper_)


class CategoryCodes(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Integer codes for code-valued categoricals (region, sales channel), for tree models.

    Codes with at least ``min_frequency`` training rows keep a code of their own; rarer codes
    and codes never seen in training (the real ``test.csv`` has sales channels absent from
    ``train.csv``) share one "other" bucket, so new codes are scored, not rejected. The codes
    are ranked by their training response rate (the "other" bucket included), so a tree can
    separate good from bad channels with one split instead of many. Fitted attributes, per
    column: ``categories_`` (the frequent codes, sorted), ``codes_`` (their integer codes) and
    ``other_code_`` (the code of the "other" bucket).
    """

    def __init__(self, min_frequency: int = 50):
        self.min_frequency = min_frequency

    def fit(self, X, y):
        """Learn the frequent codes of each column and rank them by response rate in ``y``."""
        values = validate_data(self, X, dtype=np.int64)
        target = np.asarray(y, dtype=np.float64)
        self.categories_, self.codes_, self.other_code_ = [], [], []
        for column in values.T:
            categories, inverse, counts = np.unique(column, return_inverse=True, return_counts=True)
            rates = np.bincount(inverse, weights=target) / counts
            frequent = counts >= self.min_frequency
            rare = ~frequent[inverse]
            other_rate = target[rare].mean() if rare.any() else target.mean()
            # Rank the frequent codes and the "other" bucket (last) by response rate.
            order = np.argsort(np.append(rates[frequent], other_rate), kind="stable")
            ranks = np.empty_like(order)
            ranks[order] = np.arange(order.size)
            self.categories_.append(categories[frequent])
            self.codes_.append(ranks[:-1])
            self.other_code_.append(int(ranks[-1]))
        return self

    def transform(self, X):
        """Map each code to its rank; rare and unseen codes to the "other" bucket."""
        check_is_fitted(self)
        values = validate_data(self, X, dtype=np.int64, reset=False)
        out = np.empty(values.shape, dtype=np.float64)
        for j, column in enumerate(values.T):
            categories, codes = self.categories_[j], self.codes_[j]
            out[:, j] = self.other_code_[j]
            if categories.size:
                position = np.minimum(np.searchsorted(categories, column), categories.size - 1)
                known = categories[position] == column
                out[known, j] = codes[position[known]]
        return out


class CategoryDtype(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Code-valued columns as pandas ``category`` columns, for models with native categoricals.

    The categories are the codes with at least ``min_frequency`` training rows; rarer and unseen
    codes become missing, which XGBoost and ``HistGradientBoostingClassifier`` route on their own.
    """

    def __init__(self, min_frequency: int = 50):
        self.min_frequency = min_frequency

    def fit(self, X, y=None):
        """Learn the frequent codes of each column."""
        frame = pd.DataFrame(X)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        counts = {name: frame[name].value_counts() for name in frame.columns}
        self.categories_ = [
            np.sort(c.index[c >= self.min_frequency].to_numpy()) for c in counts.values()
        ]
        return self

    def transform(self, X):
        """Each column as a ``category`` of the frequent codes (others missing)."""
        check_is_fitted(self)
        frame = pd.DataFrame(X)
        return pd.DataFrame(
            {
                name: pd.Categorical(
                    frame[name].where(frame[name].isin(categories)), categories=categories
                )
                for name, categories in zip(frame.columns, self.categories_, strict=True)
            },
            index=frame.index,
        )


def _numeric(feature_dtypes: pd.Series, exclude: Sequence[str]) -> list[str]:
    """Non-boolean columns not in ``exclude`` (booleans pass through as 0/1)."""
    return [
        name
        for name, dtype in feature_dtypes.items()
        if name not in exclude and not pd.api.types.is_bool_dtype(dtype)
    ]


CODE_ENCODINGS = ("ranked", "integer", "native")


def trees(
    feature_dtypes: pd.Series,
    categorical: Sequence[str],
    capped: Sequence[str],
    *,
    codes: str = "ranked",
    min_frequency: int = 50,
    cap_quantiles: Sequence[float] = (0.001, 0.999),
) -> ColumnTransformer:
    """Recipe for tree ensembles: encoded category codes, capped premium, the rest as is.

    ``codes``: ``ranked`` (codes renumbered by training response rate, rare and unseen codes in
    one bucket), ``integer`` (the codes as they are) or ``native`` (pandas ``category`` columns
    for a model's own categorical splits: XGBoost ``enable_categorical``, scikit-learn's
    ``HistGradientBoostingClassifier``).
    """
    if codes not in CODE_ENCODINGS:
        raise ValueError(f"trees recipe: codes={codes!r} is not one of {CODE_ENCODINGS}")
    encoder = {
        "ranked": CategoryCodes(min_frequency),
        "integer": "passthrough",
        "native": CategoryDtype(min_frequency),
    }[codes]
    transformer = ColumnTransformer(
        [
            ("categories", encoder, list(categorical)),
            ("capped", QuantileCapper(*cap_quantiles), list(capped)),
        ],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    return transformer.set_output(transform="pandas") if codes == "native" else transformer


def linear(
    feature_dtypes: pd.Series,
    categorical: Sequence[str],
    capped: Sequence[str],
    *,
    min_frequency: int = 100,
    cap_quantiles: Sequence[float] = (0.001, 0.999),
    spline_columns: Sequence[str] = (),
    n_knots: int = 6,
) -> ColumnTransformer:
    """Recipe for linear models: one-hot categories, capped and scaled numbers, age splines.

    Codes with fewer than ``min_frequency`` training rows and unseen codes share the one-hot
    "infrequent" column. ``spline_columns`` (e.g. age, whose effect on response is far from
    linear) get a B-spline basis on top of their scaled value.
    """
    steps = [
        (
            "one_hot",
            OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=min_frequency),
            list(categorical),
        ),
        ("capped", make_pipeline(QuantileCapper(*cap_quantiles), StandardScaler()), list(capped)),
        ("scaled", StandardScaler(), _numeric(feature_dtypes, [*categorical, *capped])),
    ]
    if spline_columns:
        steps.append(("splines", SplineTransformer(n_knots=n_knots), list(spline_columns)))
    return ColumnTransformer(steps, remainder="passthrough", verbose_feature_names_out=False)


RECIPES: dict[str, Callable[..., ColumnTransformer]] = {"trees": trees, "linear": linear}


def make_preprocessor(
    recipe: Recipe, feature_dtypes: pd.Series, categorical: Sequence[str], capped: Sequence[str]
) -> ColumnTransformer:
    """Build the (unfitted) transformer a family's ``recipe`` block declares."""
    return RECIPES[recipe.name](feature_dtypes, categorical, capped, **recipe.kwargs)
