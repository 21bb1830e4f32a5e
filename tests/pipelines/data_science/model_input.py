"""A small, clean model-input table (the data_engineering contract) for data_science tests.

Rough marginals of the Kaggle cross-sell data and a logistic response model with a couple of
interactions, so AUCs are meaningful (~0.85) and trees gain a little over logistic regression.
Used until data_engineering / synthetic_data outputs can be generated instead.
"""

import numpy as np
import pandas as pd

_REGIONS = np.arange(53)
_CHANNELS = np.array([152, 26, 124, 160, 156, 122, 157, 154, 151, 163, *range(1, 121, 3)])


def _long_tail(size: int, head: dict[int, float], codes: np.ndarray) -> np.ndarray:
    """Probabilities over ``codes``: ``head`` shares, the rest spread as a geometric tail."""
    probs = np.array([head.get(int(code), 0.0) for code in codes])
    tail = np.array([code not in head for code in codes])
    weights = 0.93 ** np.arange(tail.sum())
    probs[tail] = (1 - probs.sum()) * weights / weights.sum()
    return probs


def make_model_input_table(n_rows: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Return ``n_rows`` clean rows with the contract's columns and dtypes."""
    rng = np.random.default_rng(seed)
    young = rng.random(n_rows) < 0.45
    age = np.where(young, rng.normal(24, 2.5, n_rows), rng.normal(46, 12, n_rows))
    age = np.clip(np.round(age), 20, 85).astype(np.int16)
    vehicle_age = np.where(
        age < 30,
        (rng.random(n_rows) < 0.05).astype(int),
        np.where(rng.random(n_rows) < 0.1, 2, (rng.random(n_rows) < 0.85).astype(int)),
    ).astype(np.int8)
    previously_insured = rng.random(n_rows) < np.array([0.66, 0.32, 0.01])[vehicle_age]
    vehicle_damage = rng.random(n_rows) < np.where(previously_insured, 0.06, 0.88)
    channel_head = {152: 0.35, 26: 0.21, 124: 0.19, 160: 0.06, 156: 0.03, 122: 0.03}
    channel = rng.choice(_CHANNELS, n_rows, p=_long_tail(n_rows, channel_head, _CHANNELS))
    # Young customers mostly come through channels 152 / 160.
    channel = np.where(young & (rng.random(n_rows) < 0.6), rng.choice([152, 160], n_rows), channel)
    region = rng.choice(_REGIONS, n_rows, p=_long_tail(n_rows, {28: 0.28, 8: 0.09}, _REGIONS))
    floor = rng.random(n_rows) < 0.17
    premium = np.where(floor, 2630.0, np.round(np.exp(rng.normal(10.45, 0.3, n_rows))))
    is_male = rng.random(n_rows) < 0.54
    licence = rng.random(n_rows) < 0.998

    band = np.clip((age - 20) // 10, 0, 5)
    logit = (
        -5.1
        - 4.1 * previously_insured
        + 2.0 * vehicle_damage
        + 0.9 * (previously_insured & vehicle_damage)
        + np.array([0.0, 0.6, 0.25, 0.0, -0.4, -0.9])[band]
        + 0.23 * (vehicle_age == 2)
        + np.select(
            [channel == 152, channel == 160, np.isin(channel, [26, 124, 156])],
            [0.0, -0.77, 1.0],
            0.86,
        )
        + 0.12 * (region == 28)
        + 0.1 * is_male
        + 1.0 * licence
        # Non-linear structure that trees can find and a linear model cannot.
        + 0.5 * (vehicle_damage & (age >= 30) & (age < 50))
        - 0.6 * ((channel == 152) & (age >= 40))
    )
    response = rng.random(n_rows) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "id": np.arange(1, n_rows + 1, dtype=np.int64),
            "is_male": is_male,
            "age": age,
            "has_driving_license": licence,
            "region_code": region.astype(np.int16),
            "previously_insured": previously_insured,
            "vehicle_age": vehicle_age,
            "vehicle_damage": vehicle_damage,
            "annual_premium": premium.astype(np.float64),
            "policy_sales_channel": channel.astype(np.int16),
            "vintage": rng.integers(10, 300, n_rows).astype(np.int16),
            "response": response.astype(np.int8),
        }
    )
