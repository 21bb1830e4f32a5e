"""The model card: what it says, that it is valid markdown, and that it fits MLflow's registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
from markdown_it import MarkdownIt

from cross_sell.params import Campaign, Columns, DataScience, Split
from cross_sell.pipelines.evaluation.card import MAX_CHARS, TITLE, build_model_card, data_digest

COLUMNS = Columns(id="id", target="response", categorical=[], capped=[])
SPLIT = Split(validation_size=0.1, test_size=0.2, random_state=42)
CAMPAIGN = Campaign(contact_cost=5.0, conversion_value=50.0)
METRICS = {
    "roc_auc": 0.8571,
    "average_precision": 0.3612,
    "log_loss": 0.2654,
    "brier_score": 0.0861,
    "top_decile_lift": 3.21,
    "precision": 0.2843,
    "recall": 0.8912,
    "contact_share": 0.3777,
    "expected_profit": 123456.0,
}


def table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"id": np.arange(n), "age": rng.integers(20, 80, n), "response": rng.random(n) < 0.12}
    )


def slice_rows(segments: int) -> pd.DataFrame:
    names = [("all", "all"), ("Vehicle_Age", "> 2 Years")] + [
        ("Region_Code", str(code)) for code in range(segments - 1)
    ]
    return pd.DataFrame(
        {
            "variable": [v for v, _ in names],
            "slice": [s for _, s in names],
            "n": [76_222, 3_210] + [1_000] * (segments - 1),
            "response_rate": 0.12,
            "roc_auc": [0.857, np.nan] + [0.84] * (segments - 1),
            "average_precision": 0.36,
            "contact_share": 0.38,
            "precision": 0.28,
        }
    )


def card_inputs(segments: int = 6) -> dict:
    drivers = pd.DataFrame(
        {
            "feature": [f"feature_{k}" for k in range(7)],
            "importance_mean": np.linspace(0.2, 0.0, 7),
            "importance_std": 0.001,
        }
    )
    return {
        "champion": {
            "name": "blend",
            "selected_by": "roc_auc",
            "threshold": 0.3124,
            "validation": {"roc_auc": 0.8601},
            "ranking": ["blend", "xgboost", "logistic_regression"],
        },
        "model_comparison": pd.DataFrame(
            [
                {"model": "blend"} | {f"test.{k}": v for k, v in METRICS.items()},
                {"model": "xgboost"} | {f"test.{k}": 0.1 for k in METRICS},
            ]
        ),
        "slice_report": slice_rows(segments),
        "drivers": drivers,
        "reference": table(300, 4),
        "train": table(700, 1),
        "validation": table(100, 2),
        "test": table(200, 3),
        "columns": COLUMNS,
        "data_science": DataScience(split=SPLIT),
        "campaign": CAMPAIGN,
    }


def test_the_card_says_what_a_reviewer_needs_in_valid_markdown():
    inputs = card_inputs()
    card = build_model_card(**inputs)
    assert card.startswith(TITLE + "\n")
    assert len(card) <= MAX_CHARS

    tokens = MarkdownIt("commonmark").enable("table").parse(card)
    headings = [
        tokens[i + 1].content for i, token in enumerate(tokens) if token.type == "heading_open"
    ]
    assert [heading.split(" (")[0] for heading in headings] == [
        "Model card: cross_sell",
        "Training data",
        "Metrics on the test split",
        "Threshold and campaign",
        "Segments",
        "Top global drivers",  # (how they were measured)
        "Drift reference",
        "Intended use and limits",
    ]
    rows_per_table = []
    for token in tokens:
        if token.type == "table_open":
            rows_per_table.append(0)
        elif token.type == "tr_open":
            rows_per_table[-1] += 1
    # header + 9 test metrics; header + every row of the slice report
    assert rows_per_table == [10, 1 + len(inputs["slice_report"])]

    assert "Champion **blend**" in card and "roc_auc (0.8601)" in card
    assert f"digest `{data_digest(inputs['train'])}`" in card
    assert "training split: 700 rows" in card
    assert "validation 10% (100 rows" in card and "test 20% (200 rows" in card
    assert "| ROC AUC | 0.8571 |" in card and "| expected profit | 123,456 |" in card
    assert "probability >= **0.312**" in card
    assert "contact cost 5 and conversion value 50" in card
    assert "| `Vehicle_Age=> 2 Years` | 3,210 | 12.0% | n/a |" in card
    assert "1. `feature_0`" in card and "5. `feature_4`" in card and "feature_5" not in card
    assert (
        "The monitoring reference (300 training rows) is logged with this version's run under "
        "`monitoring/`." in card
    )


def test_a_card_with_too_many_segments_for_the_registry_points_to_the_slice_report():
    card = build_model_card(**card_inputs(segments=120))
    assert len(card) <= MAX_CHARS
    assert "120 segments: too many for this card" in card
    assert "`evaluation/slice_report.csv`" in card
    assert card.rstrip().endswith("nothing was tuned per segment.")  # the rest is all there
    # ... while the six segments of the default run fit in the card itself
    assert "too many" not in build_model_card(**card_inputs())


def test_data_digest_follows_the_rows_not_the_index():
    train = table(500, 1)
    assert data_digest(train) == data_digest(train.set_axis(np.arange(500) + 7))
    changed = train.copy()
    changed.loc[3, "age"] += 1
    assert data_digest(changed) != data_digest(train)
    assert data_digest(train[["age", "id", "response"]]) != data_digest(train)
    assert len(data_digest(train)) == 16
