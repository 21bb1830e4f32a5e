"""The model card: a short markdown page that travels with each registered version.

``build_model_card`` is a pure function of the run's outputs (no MLflow, no files): the catalog
writes it to ``data/08_reporting/model_card.md`` and the run's artifacts, and ``PromotionHook``
sets it as the description of the version this run registered. The MLflow UI renders it as
markdown on the version's page. MLflow stores a version's description in a 5,000-character
column (``model_versions.description``), so the card is kept below ``MAX_CHARS``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd

from cross_sell.params import Campaign, Columns, DataScience

from .slices import ALL

MAX_CHARS = 5000
"""MLflow's limit for a model version's description (``String(5000)`` in its SQL store)."""

TITLE = "# Model card: cross_sell"

TEST_METRICS = (
    ("roc_auc", "ROC AUC", "{:.4f}"),
    ("average_precision", "average precision", "{:.4f}"),
    ("log_loss", "log loss", "{:.4f}"),
    ("brier_score", "Brier score", "{:.4f}"),
    ("top_decile_lift", "top-decile lift", "{:.2f}"),
    ("precision", "precision of contacts", "{:.1%}"),
    ("recall", "responders contacted (recall)", "{:.1%}"),
    ("contact_share", "customers contacted", "{:.1%}"),
    ("expected_profit", "expected profit", "{:,.0f}"),
)
"""The champion's test metrics shown, in this order, with their labels and formats."""

TOP_DRIVERS = 5

INTENDED_USE = """\
## Intended use and limits
- Ranks existing health-insurance customers by their probability of buying vehicle insurance, \
and flags whom a campaign should contact (contact when probability >= threshold).
- Trained on the Kaggle health-insurance cross-sell data (or the project's synthetic copy): \
scores customers described by the same 10 columns, from a similar population.
- Not for pricing, underwriting or any decision about a customer's cover; a probability is not \
a reason (per-customer reasons are separate).
- The threshold is only optimal for the campaign values above; change them and re-evaluate.
- Segment figures are for review only: small segments (a few hundred customers) are noisy, and \
nothing was tuned per segment.
"""


def data_digest(table: pd.DataFrame) -> str:
    """A fingerprint of ``table``'s rows (values and column order; 16 hex digits of a sha256)."""
    rows = pd.util.hash_pandas_object(table, index=False).to_numpy()
    header = "\x1f".join(map(str, table.columns)).encode()
    return hashlib.sha256(header + rows.tobytes()).hexdigest()[:16]


def _number(value: float, pattern: str) -> str:
    return "n/a" if pd.isna(value) else pattern.format(value)


def slice_table(report: pd.DataFrame) -> str:
    """The slice report as a markdown table (segments in the report's order)."""
    lines = [
        "| segment | customers | response rate | ROC AUC | avg precision | contacted | precision |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for row in report.itertuples(index=False):
        name = "all customers" if row.variable == ALL else f"`{row.variable}={row.slice}`"
        lines.append(
            f"| {name} | {row.n:,} | "
            f"{row.response_rate:.1%} | {_number(row.roc_auc, '{:.3f}')} | "
            f"{_number(row.average_precision, '{:.3f}')} | {row.contact_share:.1%} | "
            f"{row.precision:.1%} |"
        )
    return "\n".join(lines)


def drivers_section(drivers: pd.DataFrame) -> str:
    """Top global drivers of the champion (``champion_feature_importance``, largest first)."""
    top = drivers.head(TOP_DRIVERS)
    method = str(top["method"].iloc[0]) if "method" in top and len(top) else "importance"
    items = [
        f"{rank}. `{row.feature}`: {row.importance_mean:.4f}"
        for rank, row in enumerate(top.itertuples(index=False), start=1)
    ]
    return "\n".join([f"## Top global drivers ({method})", *items])


def build_model_card(
    *,
    champion: dict[str, Any],
    model_comparison: pd.DataFrame,
    slice_report: pd.DataFrame,
    drivers: pd.DataFrame,
    reference: pd.DataFrame,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    test: pd.DataFrame,
    columns: Columns,
    data_science: DataScience,
    campaign: Campaign,
) -> str:
    """The markdown card of this run's champion (at most ``MAX_CHARS`` characters).

    Training data (digest and size), the split, the champion's test metrics, its threshold and
    campaign values, the slice table, the top global drivers (``drivers``), where the drift
    reference (``reference``, the monitoring sample of the training rows) is, and the intended
    use and limits. If the card would be too long for the registry (many segments),
    the slice table is left to ``evaluation/slice_report.csv`` in the run's artifacts.
    """
    name = champion["name"]
    test_row = model_comparison.set_index("model").loc[name]
    responders = float(train[columns.target].mean())
    split = data_science.split
    train_share = 1 - split.validation_size - split.test_size
    metrics = "\n".join(
        f"| {label} | {_number(test_row[f'test.{key}'], pattern)} |"
        for key, label, pattern in TEST_METRICS
    )
    head = f"""{TITLE}
Champion **{name}**, chosen on the validation split by {champion["selected_by"]} \
({champion["validation"][champion["selected_by"]]:.4f}) among {", ".join(champion["ranking"])}.

## Training data
- training split: {len(train):,} rows, {responders:.1%} responders; digest `{data_digest(train)}` \
(sha256 of the rows)
- split: stratified on `{columns.target}`, train {train_share:.0%} / validation \
{split.validation_size:.0%} ({len(validation):,} rows: model and threshold chosen) / test \
{split.test_size:.0%} ({len(test):,} rows: report only), random_state {split.random_state}

## Metrics on the test split
| metric | value |
|---|--:|
{metrics}

## Threshold and campaign
Contact when the probability >= **{champion["threshold"]:.3f}**, the threshold that maximises \
profit on the validation split with contact cost {campaign.contact_cost:g} and conversion value \
{campaign.conversion_value:g} per responder (break-even probability \
{campaign.contact_cost / campaign.conversion_value:.3f}).
"""
    tail = f"""
{drivers_section(drivers)}

## Drift reference
The monitoring reference ({len(reference):,} training rows) is logged with this version's run under \
`monitoring/`.

{INTENDED_USE}"""
    slices = f"\n## Segments (test split, report only)\n{slice_table(slice_report)}\n"
    card = head + slices + tail
    if len(card) > MAX_CHARS:
        slices = (
            "\n## Segments (test split, report only)\n"
            f"{len(slice_report) - 1} segments: too many for this card, see "
            "`evaluation/slice_report.csv` and `evaluation/plots/slices.png` in the run.\n"
        )
        card = head + slices + tail
    if len(card) > MAX_CHARS:
        raise ValueError(f"the model card has {len(card)} characters, above {MAX_CHARS}")
    return card
