"""Evaluation nodes: test-split scores, metrics, the campaign view and the champion.

Everything here is pure: inputs in, values out. Metrics, tables and models reach MLflow through the
catalog (see ``conf/base/catalog.yml``). Curves over thresholds are computed once from the scores
sorted in decreasing order (``ranking_curve``), never with a loop over thresholds.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import numpy as np
import optuna
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)

logger = logging.getLogger(__name__)

# Metrics where a lower value is better; every other metric is "higher is better".
LOWER_IS_BETTER = frozenset({"log_loss", "brier_score"})


# ---------------------------------------------------------------------------- scoring
def feature_frame(test_set: pd.DataFrame, columns: dict[str, Any]) -> pd.DataFrame:
    """The model features: every clean column except the id and the target."""
    wanted = [columns["id_column"], columns["target"]]
    missing = [column for column in wanted if column not in test_set.columns]
    if missing:
        raise ValueError(
            f"test_set lacks the column(s) {missing} named by evaluation.columns "
            f"(parameters_evaluation.yml); it has {list(test_set.columns)}"
        )
    return test_set.drop(columns=wanted)


def score_test_set(
    model: Any, test_set: pd.DataFrame, columns: dict[str, Any]
) -> tuple[pd.Series, dict[str, Any]]:
    """Score the test split with one fitted pipeline.

    Returns the positive-class probabilities (indexed like ``test_set``) and the bundle that the
    MLflow model dataset logs: ``{"model", "input_example"}``.
    """
    features = feature_frame(test_set, columns)
    probabilities = np.asarray(model.predict_proba(features))[:, 1].astype("float64")
    bundle = {"model": model, "input_example": features.head(columns["input_example_rows"])}
    return pd.Series(probabilities, index=test_set.index, name="probability"), bundle


def collect_test_scores(
    test_set: pd.DataFrame, columns: dict[str, Any], **probabilities: pd.Series
) -> pd.DataFrame:
    """One table: the test split's id and target, then one probability column per model."""
    scores = test_set[[columns["id_column"], columns["target"]]].copy()
    for name, values in probabilities.items():
        scores[name] = values.to_numpy()
    return scores.reset_index(drop=True)


# ---------------------------------------------------------------------------- curves
class RankingCurve(NamedTuple):
    """Cumulative outcomes of contacting customers by decreasing score.

    Point ``i`` is the rule "contact every customer with score >= ``thresholds[i]``"; point 0 is
    "contact nobody" (threshold +inf). Tied scores form one point, so the curve never splits a tie.
    """

    thresholds: np.ndarray
    contacts: np.ndarray
    true_positives: np.ndarray
    n: int
    positives: int


def _check_scores(y_true: Any, y_score: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    scores = np.asarray(y_score, dtype="float64")
    if y.shape != scores.shape or y.ndim != 1 or len(y) == 0:
        raise ValueError(f"y_true {y.shape} and y_score {scores.shape}: need two equal 1-D arrays")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"y_true must be 0/1, found values {np.unique(y)[:10].tolist()}")
    bad = ~np.isfinite(scores) | (scores < 0) | (scores > 1)
    if bad.any():
        raise ValueError(
            f"y_score must be probabilities in [0, 1]: {int(bad.sum())} are not "
            f"(first at positions {np.flatnonzero(bad)[:5].tolist()})"
        )
    return y.astype("int64"), scores


def ranking_curve(y_true: Any, y_score: Any) -> RankingCurve:
    """Contacts and responders reached at every distinct score threshold, vectorised."""
    y, scores = _check_scores(y_true, y_score)
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_y = scores[order], y[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(sorted_scores) != 0), len(y) - 1]
    return RankingCurve(
        thresholds=np.r_[np.inf, sorted_scores[last_of_group]],
        contacts=np.r_[0, last_of_group + 1],
        true_positives=np.r_[0, np.cumsum(sorted_y)[last_of_group]],
        n=len(y),
        positives=int(y.sum()),
    )


def captured_share(curve: RankingCurve, share: float | np.ndarray) -> float | np.ndarray:
    """Share of all responders among the top ``share`` of customers by score.

    Within a group of tied scores the responders are spread evenly (linear interpolation), which
    is the expected value under a random order of the ties.
    """
    reached = np.interp(np.asarray(share) * curve.n, curve.contacts, curve.true_positives)
    return reached / curve.positives if curve.positives else np.zeros_like(reached)


def profit_curve(curve: RankingCurve, contact_cost: float, conversion_value: float) -> np.ndarray:
    """Profit of each point of ``curve``: value of the responders reached minus contact costs."""
    return conversion_value * curve.true_positives - contact_cost * curve.contacts


def _operating_threshold(curve: RankingCurve, best: int) -> float:
    """A threshold that contacts exactly the customers of point ``best`` on this split.

    Halfway to the next lower score, so new customers scoring between the two are treated by the
    nearer one; 0.0 when contacting everyone, just above the top score when contacting nobody.
    """
    if best == len(curve.thresholds) - 1:
        return 0.0
    if best == 0:
        return float(np.nextafter(max(1.0, curve.thresholds[1]), np.inf))
    upper, lower = curve.thresholds[best], curve.thresholds[best + 1]
    middle = (upper + lower) / 2
    return float(middle if lower < middle <= upper else upper)


def profit_optimal_point(
    y_true: Any, y_score: Any, contact_cost: float, conversion_value: float
) -> dict[str, float]:
    """The contact rule ``score >= threshold`` that maximises profit, and its confusion counts.

    Profit = ``conversion_value`` x responders contacted - ``contact_cost`` x contacts. On ties of
    profit the rule with fewer contacts wins.
    """
    curve = ranking_curve(y_true, y_score)
    profits = profit_curve(curve, contact_cost, conversion_value)
    best = int(np.argmax(profits))
    contacts = int(curve.contacts[best])
    true_positives = int(curve.true_positives[best])
    return {
        "threshold": _operating_threshold(curve, best),
        "contacts": contacts,
        "true_positives": true_positives,
        "false_positives": contacts - true_positives,
        "false_negatives": curve.positives - true_positives,
        "true_negatives": curve.n - curve.positives - (contacts - true_positives),
        "profit": float(profits[best]),
        "n": curve.n,
        "positives": curve.positives,
    }


# ---------------------------------------------------------------------------- metrics
def classification_metrics(
    y_true: Any,
    y_score: Any,
    lift_shares: list[float],
    contact_cost: float,
    conversion_value: float,
) -> dict[str, float]:
    """Every test metric of one model.

    Threshold-free: ``roc_auc``, ``average_precision``, ``log_loss``, ``brier_score``, the
    ``top_decile_lift`` and ``captured_top_<k>`` (share of responders in the top k % by score).
    At the model's profit-optimal operating threshold (``threshold``): ``precision``, ``recall``,
    ``balanced_accuracy``, ``contact_share`` and ``expected_profit``.
    """
    y, scores = _check_scores(y_true, y_score)
    if y.min() == y.max():
        raise ValueError("the test split holds a single class: ROC AUC is undefined")
    curve = ranking_curve(y, scores)
    point = profit_optimal_point(y, scores, contact_cost, conversion_value)
    negatives = point["n"] - point["positives"]
    recall = point["true_positives"] / point["positives"]
    specificity = point["true_negatives"] / negatives
    metrics = {
        "roc_auc": roc_auc_score(y, scores),
        "average_precision": average_precision_score(y, scores),
        "log_loss": log_loss(y, scores, labels=[0, 1]),
        "brier_score": brier_score_loss(y, scores),
        "threshold": point["threshold"],
        "precision": point["true_positives"] / point["contacts"] if point["contacts"] else 0.0,
        "recall": recall,
        "balanced_accuracy": (recall + specificity) / 2,
        "contact_share": point["contacts"] / point["n"],
        "expected_profit": point["profit"],
        "top_decile_lift": float(captured_share(curve, 0.1)) / 0.1,
    }
    for share in lift_shares:
        metrics[f"captured_top_{round(share * 100)}"] = float(captured_share(curve, share))
    return {key: float(value) for key, value in metrics.items()}


def compute_test_metrics(
    probabilities: pd.Series,
    test_set: pd.DataFrame,
    columns: dict[str, Any],
    metrics_params: dict[str, Any],
    campaign: dict[str, Any],
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """A model's test metrics, plain and in kedro-mlflow's ``{name: {"value", "step"}}`` form."""
    metrics = classification_metrics(
        test_set[columns["target"]].to_numpy(),
        probabilities.to_numpy(),
        metrics_params["lift_shares"],
        campaign["contact_cost"],
        campaign["conversion_value"],
    )
    return metrics, to_mlflow_metrics(metrics)


def to_mlflow_metrics(metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """``{name: value}`` to the shape ``MlflowMetricsHistoryDataset`` saves."""
    return {name: {"value": float(value), "step": 0} for name, value in metrics.items()}


# ---------------------------------------------------------------------------- comparison
def compare_models(
    models: list[str], champion_params: dict[str, Any], **metrics: dict[str, float]
) -> tuple[pd.DataFrame, str]:
    """All models' metrics, best first by the champion metric: a table and its markdown.

    ``models`` is ``evaluation.models`` at run time; it must name the models the pipeline was
    built for (the keys of ``metrics``).
    """
    if list(models) != list(metrics):
        raise ValueError(
            f"evaluation.models is {list(models)} at run time but the pipeline was built for "
            f"{list(metrics)}: change the list in conf/<env>/parameters_evaluation.yml, not "
            "with --params (the pipeline's shape is fixed when it is registered)"
        )
    table = rank_models(pd.DataFrame.from_dict(metrics, orient="index"), champion_params)
    table.index.name = "model"
    return table.reset_index(), to_markdown(table.reset_index())


def rank_models(table: pd.DataFrame, champion: dict[str, Any]) -> pd.DataFrame:
    """Sort models best first by ``champion["metric"]``, then by ``champion["tie_breaker"]``.

    Models within ``champion["tolerance"]`` of the best metric value count as tied.
    """
    metric, tie_breaker = champion["metric"], champion["tie_breaker"]
    for name in (metric, tie_breaker):
        if name not in table.columns:
            raise ValueError(
                f"parameters_evaluation.yml: evaluation.champion names the metric '{name}', "
                f"which is not one of {sorted(table.columns)}"
            )
    # Every metric on a "lower is better" scale.
    scaled = (1 if metric in LOWER_IS_BETTER else -1) * table[metric]
    best = scaled.min()
    tied = (scaled - best) <= champion.get("tolerance", 0.0)
    key = pd.DataFrame(
        {
            "not_tied": ~tied,
            "metric": scaled.where(~tied, best),
            "tie_breaker": (1 if tie_breaker in LOWER_IS_BETTER else -1) * table[tie_breaker],
        },
        index=table.index,
    )
    # Tied models (within tolerance of the best) come first, ordered by the tie breaker.
    order = key.sort_values(["not_tied", "metric", "tie_breaker"], kind="stable").index
    return table.loc[order]


def to_markdown(table: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub-flavoured markdown table (no ``tabulate`` dependency); money-sized numbers as
    whole thousands-separated numbers, the rest with ``digits`` decimals."""

    def cell(value: Any) -> str:
        if isinstance(value, float | np.floating):
            return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}f}"
        return str(value)

    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "|".join("---" if i == 0 else "---:" for i in range(table.shape[1])) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *rows]) + "\n"


def select_champion(
    comparison: pd.DataFrame, champion: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """The best model of the ranked comparison table, and its metrics for MLflow."""
    ranked = rank_models(comparison.set_index("model"), champion)
    name = str(ranked.index[0])
    metrics = {key: float(value) for key, value in ranked.iloc[0].items()}
    logger.info(
        "Champion: %s (%s = %.4f; ranking %s)",
        name,
        champion["metric"],
        metrics[champion["metric"]],
        ", ".join(ranked.index),
    )
    record = {
        "name": name,
        "selected_by": champion["metric"],
        "tie_breaker": champion["tie_breaker"],
        "metrics": metrics,
        "ranking": [str(model) for model in ranked.index],
    }
    return record, to_mlflow_metrics(metrics)


def champion_estimator(champion: dict[str, Any], **models: Any) -> Any:
    """The fitted pipeline of the champion, among all evaluated models."""
    if champion["name"] not in models:
        raise ValueError(f"the champion '{champion['name']}' is not among {sorted(models)}")
    return models[champion["name"]]


# ---------------------------------------------------------------------------- campaign
def campaign_view(
    test_scores: pd.DataFrame,
    champion: dict[str, Any],
    columns: dict[str, Any],
    campaign: dict[str, Any],
) -> tuple[dict[str, Any], pd.DataFrame, dict[str, dict[str, float]]]:
    """The champion's profit-optimal contact threshold against contacting everyone.

    Returns the threshold record (used by inference to flag customers), a summary table of the
    strategies and the same figures as MLflow metrics.
    """
    name, cost, value = champion["name"], campaign["contact_cost"], campaign["conversion_value"]
    y = test_scores[columns["target"]].to_numpy()
    point = profit_optimal_point(y, test_scores[name].to_numpy(), cost, value)
    n, positives = point["n"], point["positives"]

    def strategy(label: str, threshold: float, contacts: int, conversions: int) -> dict[str, Any]:
        return {
            "strategy": label,
            "threshold": threshold,
            "contacts": contacts,
            "contact_share": contacts / n,
            "expected_conversions": conversions,
            "share_of_responders": conversions / positives if positives else 0.0,
            "contact_cost": cost * contacts,
            "conversion_value": value * conversions,
            "profit": value * conversions - cost * contacts,
        }

    rows = [
        strategy("profit-optimal", point["threshold"], point["contacts"], point["true_positives"]),
        strategy("contact everyone", 0.0, n, positives),
        strategy("contact nobody", float("nan"), 0, 0),
    ]
    summary = pd.DataFrame(rows)
    optimal, everyone = rows[0], rows[1]
    record = {
        "model": name,
        "threshold": point["threshold"],
        "rule": "contact a customer when the champion's probability >= threshold",
        "contact_cost": cost,
        "conversion_value": value,
        "chosen_on": "test split",
        "test_contacts": optimal["contacts"],
        "test_contact_share": optimal["contact_share"],
        "test_expected_conversions": optimal["expected_conversions"],
        "test_profit": optimal["profit"],
        "test_profit_contact_everyone": everyone["profit"],
    }
    logger.info(
        "Campaign: contact %d of %d (%.1f %%) at threshold %.4f: profit %.0f vs %.0f contacting everyone",
        optimal["contacts"],
        n,
        100 * optimal["contact_share"],
        point["threshold"],
        optimal["profit"],
        everyone["profit"],
    )
    metrics = {
        "threshold": point["threshold"],
        "contacts": optimal["contacts"],
        "contact_share": optimal["contact_share"],
        "expected_conversions": optimal["expected_conversions"],
        "share_of_responders": optimal["share_of_responders"],
        "profit": optimal["profit"],
        "profit_contact_everyone": everyone["profit"],
        "profit_gain_over_everyone": optimal["profit"] - everyone["profit"],
    }
    return record, summary, to_mlflow_metrics(metrics)


# ---------------------------------------------------------------------------- importance
def permutation_feature_importance(
    model: Any, test_set: pd.DataFrame, columns: dict[str, Any], params: dict[str, Any]
) -> pd.DataFrame:
    """Permutation importance of each clean column for the champion, on a seeded subsample.

    Works on the pipeline's input columns (before any encoding), so every family is comparable.
    Importance = mean drop of ``params["scoring"]`` when the column is shuffled.
    """
    sample = test_set.sample(
        n=min(params["n_rows"], len(test_set)), random_state=params["seed"]
    ).reset_index(drop=True)
    result = permutation_importance(
        model,
        feature_frame(sample, columns),
        sample[columns["target"]],
        scoring=params["scoring"],
        n_repeats=params["n_repeats"],
        random_state=params["seed"],
        n_jobs=1,
    )
    table = pd.DataFrame(
        {
            "feature": feature_frame(sample, columns).columns,
            "importance_mean": result.importances_mean,
            "importance_std": result.importances_std,
        }
    )
    return table.sort_values("importance_mean", ascending=False, ignore_index=True)


# ---------------------------------------------------------------------------- optuna
def check_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials table with the columns the plots and the trial runs need, ordered by number."""
    missing = [column for column in ("number", "state", "value") if column not in trials.columns]
    if missing:
        raise ValueError(
            f"the Optuna trials table lacks columns {missing}; it has {list(trials.columns)}"
        )
    params = [column for column in trials.columns if column.startswith("params_")]
    keep = ["number", "state", "value"] + [
        c for c in ("datetime_start", "datetime_complete") if c in trials.columns
    ]
    table = trials[keep + params].copy()
    table["state"] = table["state"].astype(str).str.removeprefix("TrialState.")
    return table.sort_values("number", ignore_index=True)


def prepare_trials(trials: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The checked trials table twice: for the plots and for the nested MLflow trial runs.

    One node writes both, so whatever depends on the plots also runs after the trial runs.
    """
    table = check_trials(trials)
    return table, table.copy()


def _distribution(values: pd.Series) -> optuna.distributions.BaseDistribution:
    """The search space a parameter column was sampled from, inferred from its values."""
    present = values.dropna()
    if pd.api.types.is_bool_dtype(present) or not pd.api.types.is_numeric_dtype(present):
        return optuna.distributions.CategoricalDistribution(sorted(present.unique().tolist()))
    low, high = present.min(), present.max()
    if pd.api.types.is_integer_dtype(present):
        return optuna.distributions.IntDistribution(int(low), int(high))
    return optuna.distributions.FloatDistribution(float(low), float(high))


def study_from_trials(trials: pd.DataFrame, direction: str) -> optuna.Study:
    """An in-memory study holding the table's complete trials (no storage I/O)."""
    table = check_trials(trials)
    complete = table[(table["state"] == "COMPLETE") & table["value"].notna()]
    params = [column for column in complete.columns if column.startswith("params_")]
    distributions = {column: _distribution(complete[column]) for column in params}
    study = optuna.create_study(direction=direction)
    study.add_trials(
        [
            optuna.trial.create_trial(
                params={
                    column.removeprefix("params_"): _python(row[column])
                    for column in params
                    if not pd.isna(row[column])
                },
                distributions={
                    column.removeprefix("params_"): distributions[column]
                    for column in params
                    if not pd.isna(row[column])
                },
                value=float(row["value"]),
            )
            for row in complete.to_dict(orient="records")
        ]
    )
    return study


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def optuna_param_importances(trials: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """fANOVA importance of each tuned hyperparameter (seeded), from the trials table."""
    study = study_from_trials(trials, params["direction"])
    varying = {
        name
        for trial in study.trials
        for name, distribution in trial.distributions.items()
        if not distribution.single()
    }
    if len(study.trials) < 2 or not varying:
        logger.warning("Too few complete trials or varying parameters for importances")
        return pd.DataFrame({"parameter": [], "importance": []})
    importances = optuna.importance.get_param_importances(
        study,
        evaluator=optuna.importance.FanovaImportanceEvaluator(seed=params["seed"]),
        params=sorted(varying),
    )
    return pd.DataFrame({"parameter": list(importances), "importance": list(importances.values())})


def champion_for_registry(
    estimator: Any,
    champion: dict[str, Any],
    test_set: pd.DataFrame,
    columns: dict[str, Any],
    **evaluation_outputs: Any,
) -> dict[str, Any]:
    """The bundle the champion registry dataset saves (model, input example, name, metrics).

    ``evaluation_outputs`` are not used: they are every other output of the evaluation, inputs
    here only so that Kedro runs the registration last, after everything else was written.
    """
    logger.info(
        "Registering the champion %s after %d other evaluation outputs",
        champion["name"],
        len(evaluation_outputs),
    )
    return {
        "model": estimator,
        "input_example": feature_frame(test_set, columns).head(columns["input_example_rows"]),
        "model_name": champion["name"],
        "metrics": champion["metrics"],
    }
