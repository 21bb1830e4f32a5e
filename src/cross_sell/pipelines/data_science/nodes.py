"""Nodes of ``data_science``: the stratified split and the steps of the training template.

A model family is a ``Family`` (``cross_sell.params``) from ``parameters_data_science.yml``::

    estimator: xgboost.XGBClassifier      # import path of an sklearn-compatible classifier
    kwargs: {...}                         # its constructor arguments
    validation_eval_set: true             # pass the validation split to fit() as eval_set
    fit_kwargs: {verbose: false}          # other fit() arguments
    recipe: {name: trees, kwargs: {...}}  # preprocessing recipe (see preprocessing.py)
"""

import importlib
import logging
from typing import Any, NamedTuple

import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import BaseEnsemble
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from cross_sell.params import Columns, DataScience, Family, Split

from .preprocessing import make_preprocessor

logger = logging.getLogger(__name__)


def _check_target(table: pd.DataFrame, columns: Columns) -> None:
    """Fail clearly when the target column is missing or not 0/1."""
    target, id_column = columns.target, columns.id
    missing = [name for name in (id_column, target) if name not in table.columns]
    if missing:
        raise ValueError(
            f"model_input_table: column(s) {missing} missing; columns present: {list(table.columns)}"
        )
    bad = ~table[target].isin([0, 1])
    if bad.any():
        examples = table.loc[bad, id_column].head(5).tolist()
        raise ValueError(
            f"model_input_table: column {target!r} must be 0/1; {int(bad.sum())} rows are not, "
            f"e.g. ids {examples}"
        )
    if table[target].nunique() < 2:
        raise ValueError(
            f"model_input_table: column {target!r} holds a single class (all {len(table)} rows "
            f"are {table[target].iloc[0] if len(table) else 'missing'}): a classifier needs "
            "rows of both classes 0 and 1"
        )


def _too_few_rows_message(table: pd.DataFrame, columns: Columns, split: Split, problem: str) -> str:
    """Why the stratified split cannot give every part both classes, and what to do."""
    target, id_column = columns.target, columns.id
    counts = table[target].value_counts()
    rare = counts.idxmin()
    examples = table.loc[table[target] == rare, id_column].head(5).tolist()
    return (
        f"model_input_table: cannot split {len(table)} rows into train / validation / test "
        f"(data_science.split: validation_size {split.validation_size}, test_size "
        f"{split.test_size}, stratified on {target!r}): every part needs rows of both "
        f"classes, and {problem}. Class {rare} has only {int(counts[rare])} row(s) (e.g. ids "
        f"{examples}), class {counts.idxmax()} {int(counts.max())}. Train on more rows (the "
        "Kaggle train.csv has 381,109), or change data_science.split."
    )


def split_model_input(
    table: pd.DataFrame, columns: Columns, params: DataScience
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split the model input table into stratified, disjoint train / validation / test sets.

    ``params.split`` holds ``validation_size`` and ``test_size`` (shares of all rows) and
    ``random_state``. The test split is written for the evaluation pipeline only: nothing in
    ``data_science`` or ``tuning`` reads it.
    """
    split = params.split
    _check_target(table, columns)
    target, seed = columns.target, split.random_state
    try:
        rest, test = train_test_split(
            table, test_size=split.test_size, stratify=table[target], random_state=seed
        )
        train, validation = train_test_split(
            rest,
            test_size=split.validation_size / (1 - split.test_size),
            stratify=rest[target],
            random_state=seed,
        )
    except ValueError as exc:  # sklearn: too few rows of a class to stratify
        problem = f"scikit-learn cannot stratify it ({exc})"
        raise ValueError(_too_few_rows_message(table, columns, split, problem)) from None
    for part_name, part in (("train", train), ("validation", validation), ("test", test)):
        if part[target].nunique() < 2:
            held = f"only class {part[target].iloc[0]}" if len(part) else "no row"
            raise ValueError(
                _too_few_rows_message(
                    table, columns, split, f"its {part_name} part ({len(part)} rows) holds {held}"
                )
            )
    logger.info(
        "Split %d rows into train %d / validation %d / test %d (response rate %.4f)",
        len(table),
        len(train),
        len(validation),
        len(test),
        table[target].mean(),
    )
    return tuple(part.reset_index(drop=True) for part in (train, validation, test))


def features_and_target(table: pd.DataFrame, columns: Columns) -> tuple[pd.DataFrame, pd.Series]:
    """The model features (every column but id and target) and the target."""
    return table.drop(columns=[columns.id, columns.target]), table[columns.target]


def import_object(path: str, source: str) -> Any:
    """The object at import path ``path`` (``package.module.Name``), declared in ``source``."""
    module_name, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(f"{source}: {path!r} cannot be imported") from exc


def build_estimator(family: Family, **overrides: Any) -> BaseEstimator:
    """Instantiate the family's classifier from its import path and kwargs (plus ``overrides``)."""
    estimator_class = import_object(family.estimator, "parameters_data_science.yml")
    return estimator_class(**{**family.kwargs, **overrides})


class PreparedData(NamedTuple):
    """Preprocessed features and targets of the training and validation splits."""

    train_x: Any
    train_y: pd.Series
    validation_x: Any
    validation_y: pd.Series


def prepare_features(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    family: Family,
    columns: Columns,
) -> tuple[ColumnTransformer, PreparedData]:
    """Fit the family's preprocessing on the training split; transform train and validation."""
    train_x, train_y = features_and_target(train, columns)
    validation_x, validation_y = features_and_target(validation, columns)
    preprocessor = make_preprocessor(
        family.recipe, train_x.dtypes, columns.categorical, columns.capped
    )
    preprocessor.fit(train_x, train_y)
    data = PreparedData(
        preprocessor.transform(train_x), train_y, preprocessor.transform(validation_x), validation_y
    )
    return preprocessor, data


def fit_classifier(estimator: BaseEstimator, family: Family, data: PreparedData) -> BaseEstimator:
    """Fit ``estimator``; the validation split is its ``eval_set`` (early stopping) if asked."""
    fit_kwargs = dict(family.fit_kwargs)
    if family.validation_eval_set:
        fit_kwargs["eval_set"] = [(data.validation_x, data.validation_y)]
    return predict_deterministically(estimator.fit(data.train_x, data.train_y, **fit_kwargs))


def predict_deterministically(estimator: BaseEstimator) -> BaseEstimator:
    """Make a fitted sklearn ensemble predict single-threaded, so its scores are bit-identical.

    A random forest with ``n_jobs != 1`` adds its trees' probabilities into one array from
    several threads, in whichever order they finish: ``predict_proba`` then differs in the last
    bits from call to call, which can flip tied ranks, AUCs, the tuned parameters and the
    champion. Fitting stays parallel (each tree has its own seed); prediction is serial.
    """
    if isinstance(estimator, BaseEnsemble) and estimator.get_params().get("n_jobs") not in (
        None,
        1,
    ):
        estimator.set_params(n_jobs=1)
    return estimator


def fit_model(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    family: Family,
    columns: Columns,
) -> Pipeline:
    """Fit one model family: preprocessing (on train only) + classifier, as one sklearn Pipeline.

    The returned pipeline takes the clean feature columns of the model input table (all but
    id and target) and scores them with ``predict_proba``.
    """
    preprocessor, data = prepare_features(train, validation, family, columns)
    classifier = fit_classifier(build_estimator(family), family, data)
    best_iteration = getattr(classifier, "best_iteration", None)
    auc = roc_auc_score(data.validation_y, classifier.predict_proba(data.validation_x)[:, 1])
    logger.info(
        "Fitted %s on %d rows x %d features%s: validation ROC AUC %.4f",
        family.estimator,
        data.train_x.shape[0],
        data.train_x.shape[1],
        f" (early stopping: best iteration {best_iteration})" if best_iteration is not None else "",
        auc,
    )
    return Pipeline([("preprocess", preprocessor), ("classifier", classifier)])


def apply_best_params(family: Family, best_params: dict[str, Any]) -> Family:
    """The family's configuration with the tuned hyperparameters replacing its kwargs."""
    logger.info("Refitting %s with tuned parameters %s", family.estimator, best_params)
    return family.model_copy(update={"kwargs": {**family.kwargs, **best_params}})
