"""Nodes of the ``synthetic_data`` pipeline: a Kaggle-format cross-sell data generator.

The real Kaggle "Health Insurance Cross Sell Prediction" files may not be shipped, so the
project generates look-alikes. The constants below encode measured facts about the real
``train.csv`` (marginals, joint structure, response structure). Features are drawn in a causal
order, fully vectorised (no loop over rows):

1. ``Age`` from a bimodal table (a sharp young mode at 21-26, a broad one at 40-50);
2. from the age band: ``Vehicle_Age``, region 28 vs the others, ``Policy_Sales_Channel``,
   ``Gender``, ``Driving_License``;
3. ``Previously_Insured`` from band and vehicle age, shifted down in region 28 and channels
   156 / 122 and up in the young customers' channels 152 / 160; ``Vehicle_Damage`` from
   insurance and vehicle age;
4. ``Annual_Premium``: the regional 2630 floor (more often at 30+), else log-normal with a
   heavy right tail, rising with age and higher in region 28;
5. ``Vintage`` uniform on 10..299, independent of everything;
6. ``Response`` from the logistic model fitted on the real data, with per-code log-odds for
   every region and sales channel (so that each code's response rate is the real one), an age
   band x channel table, and non-linear interactions (age x damage, premium x age, ...) so
   that boosted trees beat a one-hot logistic regression as they do on the real data; the
   intercept is calibrated so that the expected response rate is 12.256 %.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from cross_sell.pipelines.data_engineering.schema import raw_columns

logger = logging.getLogger(__name__)

# The Kaggle format, as declared once by the raw schema.
TRAIN_COLUMNS = list(raw_columns(include_target=True))
TEST_COLUMNS = list(raw_columns(include_target=False))

RESPONSE_RATE = 0.12256
PREMIUM_FLOOR = 2630.0
PREMIUM_MAX = 540165.0
# Channel codes of the real test file that never occur in train; each gets this share of the
# test rows (at least one row).
TEST_ONLY_CHANNELS = (141, 142)
TEST_ONLY_CHANNEL_SHARE = 2e-5
# Region codes are 0..52, channel codes 1..163: per-code lookup arrays have these lengths.
N_REGION_CODES = 53
N_CHANNEL_CODES = 164

# ---------------------------------------------------------------- age
# Bands 20-29, 30-39, 40-49, 50-59, 60-69, 70-85 (index 0..5) and their shares of customers.
BAND_EDGES = np.array([30, 40, 50, 60, 70])
N_BANDS = 6
BAND_SHARES = np.array([0.4072, 0.1420, 0.2016, 0.1260, 0.0760, 0.0472])
# Relative frequency of each age inside its band (rescaled to BAND_SHARES by _age_pmf).
_AGE_SHAPE = np.concatenate(
    [
        [6232, 16457, 20964, 24256, 25960, 20636, 13535, 9715, 8166, 8012],  # 20-29
        4800 + 133 * np.arange(10),  # 30-39
        [7000, 7300, 7600, 7800, 7950, 8000, 7950, 7850, 7700, 7550],  # 40-49
        6100 - 290 * np.arange(10),  # 50-59
        3400 - 110 * np.arange(10),  # 60-69
        2200 - 140 * np.arange(10),  # 70-79
        [500, 300, 180, 100, 55, 30],  # 80-85
    ]
).astype(float)
AGES = np.arange(20, 86)

# ---------------------------------------------------------------- driven by the age band
VEHICLE_AGE_LABELS = np.array(["< 1 Year", "1-2 Year", "> 2 Years"], dtype=object)
# P(Vehicle_Age = `< 1 Year`, `1-2 Year`, `> 2 Years` | band).
VEHICLE_AGE_BY_BAND = np.array(
    [
        [0.958, 0.041, 0.001],
        [0.284, 0.698, 0.018],
        [0.004, 0.935, 0.061],
        [0.004, 0.896, 0.100],
        [0.003, 0.874, 0.123],
        [0.001, 0.891, 0.108],
    ]
)
MALE_BY_BAND = np.array([0.45, 0.54, 0.61, 0.67, 0.62, 0.56])
NO_LICENSE_BY_BAND = np.array([0.0, 0.0005, 0.0008, 0.0015, 0.009, 0.020])
REGION_28_BY_BAND = np.array([0.11, 0.284, 0.43, 0.43, 0.43, 0.43])

# ---------------------------------------------------------------- regions other than 28
# Real row counts per region code; region 28 is drawn by age band, the rest by these weights.
_REGION_COUNTS = {
    8: 33877, 46: 19749, 41: 18263, 15: 13308, 30: 12191, 29: 11065, 50: 10243, 3: 9251,
    11: 9232, 36: 8797, 33: 7654, 47: 7436, 35: 6942, 6: 6280, 45: 5605, 37: 5501, 18: 5153,
    48: 4681, 14: 4678, 39: 4644, 10: 4374, 21: 4266, 2: 4038, 13: 4036, 7: 3279, 12: 3198,
    9: 3101, 27: 2823, 32: 2787, 43: 2639, 17: 2617, 26: 2587, 25: 2503, 24: 2415, 38: 2026,
    0: 2021, 16: 2007, 31: 1960, 23: 1960, 20: 1935, 49: 1832, 4: 1801, 34: 1664, 19: 1535,
    22: 1309, 40: 1295, 5: 1279, 1: 1008, 44: 808, 42: 591, 52: 267, 51: 183,
}  # fmt: skip
OTHER_REGIONS = np.array(list(_REGION_COUNTS), dtype=np.int64)
OTHER_REGION_P = np.array(list(_REGION_COUNTS.values()), dtype=float)
OTHER_REGION_P /= OTHER_REGION_P.sum()

# ---------------------------------------------------------------- channels
MAIN_CHANNELS = np.array([152, 26, 124, 160, 156, 122, 157, 154, 151, 163], dtype=np.int64)
# P(channel | band) for MAIN_CHANNELS (columns in that order); the remainder is "other".
_MAIN_CHANNEL_BY_BAND = np.array(
    [
        [0.74, 0.03, 0.03, 0.130, 0.01, 0.005, 0.010, 0.005, 0.010, 0.008],
        [0.22, 0.18, 0.28, 0.020, 0.04, 0.020, 0.030, 0.025, 0.015, 0.010],
        [0.05, 0.34, 0.37, 0.003, 0.04, 0.035, 0.020, 0.020, 0.008, 0.008],
        [0.05, 0.41, 0.27, 0.003, 0.04, 0.040, 0.022, 0.026, 0.009, 0.007],
        [0.05, 0.41, 0.27, 0.003, 0.04, 0.060, 0.022, 0.026, 0.009, 0.007],
        [0.05, 0.41, 0.27, 0.003, 0.04, 0.080, 0.022, 0.026, 0.009, 0.007],
    ]
)
CHANNEL_BY_BAND = np.column_stack([_MAIN_CHANNEL_BY_BAND, 1.0 - _MAIN_CHANNEL_BY_BAND.sum(axis=1)])
# The "other" channels: 53 mid-sized codes, then a long tail of rare ones (about 92 codes
# under 100 rows in a full-size file); 6 codes of 1..163 never occur, 141 / 142 only in test.
_MID_CHANNELS = [
    55, 13, 30, 7, 31, 25, 8, 3, 1, 11, 12, 15, 14, 10, 19, 45, 60, 61, 21, 16, 9, 4, 18, 20,
    22, 23, 24, 29, 35, 36, 37, 42, 44, 47, 52, 86, 88, 109, 120, 128, 147, 153, 155, 158, 93,
    94, 91, 116, 113, 125, 64, 65, 66,
]  # fmt: skip
_NEVER_IN_TRAIN = {5, 57, 72, 77, 84, 85, *TEST_ONLY_CHANNELS}
_RARE_CHANNELS = [
    c
    for c in range(1, 164)
    if c not in _NEVER_IN_TRAIN and c not in _MID_CHANNELS and c not in MAIN_CHANNELS
]
OTHER_CHANNELS = np.array(_MID_CHANNELS + _RARE_CHANNELS, dtype=np.int64)
OTHER_CHANNEL_P = np.concatenate(
    [
        1900.0 * (130 / 1900) ** np.linspace(0.0, 1.0, len(_MID_CHANNELS)),
        90.0 * (2 / 90) ** np.linspace(0.0, 1.0, len(_RARE_CHANNELS)),
    ]
)
OTHER_CHANNEL_P /= OTHER_CHANNEL_P.sum()

# ---------------------------------------------------------------- insurance and damage
# P(Previously_Insured = 1 | band, vehicle age): additive on the logit scale, raked to both
# published margins (by vehicle age 0.663 / 0.325 / 0.004, by band 0.66 ... 0.40).
INSURED_BY_BAND_VA = np.array(
    [
        [0.670, 0.368, 0.004],
        [0.596, 0.297, 0.003],
        [0.580, 0.283, 0.003],
        [0.631, 0.329, 0.004],
        [0.694, 0.394, 0.005],
        [0.736, 0.444, 0.006],
    ]
)
# Logit shifts of P(Previously_Insured = 1): region 28, men and channels 156 / 122 are less
# often insured already, the young customers' channels more often (this is what makes channel
# 152 respond at 2.7 %, channel 156 at ~22 % and men at 14.0 % against 10.2 % for women).
# The (band, vehicle age) rates above still hold: see _insured_logit_offsets.
INSURED_LOGIT_REGION_28 = -0.75
INSURED_LOGIT_MALE = -0.2
INSURED_LOGIT_CHANNEL = {152: 2.2, 160: 1.0, 156: -2.5, 122: -0.6}
# P(Vehicle_Damage = Yes): 0.057 if insured; if not, 0.999 for `> 2 Years` vehicles and
# 0.8733 otherwise (so that the whole PI = 0 group is at 0.883).
DAMAGE_IF_INSURED = 0.057
DAMAGE_IF_NOT_INSURED = 0.8733
DAMAGE_IF_OLD_VEHICLE = 0.999

# ---------------------------------------------------------------- premium
# Share of rows at the 2630 floor by region; all other regions get the rate that brings the
# overall share to 17.02 %.
FLOOR_RATE_BY_REGION = np.full(53, 0.1683)
FLOOR_RATE_BY_REGION[[0, 1, 20, 31, 48]] = 0.995
FLOOR_RATE_BY_REGION[[7, 38, 51]] = 0.37
FLOOR_RATE_BY_REGION[28] = 0.09
FLOOR_RATE_BY_REGION[8] = 0.12
# Inside a region, customers aged 30+ are more often at the floor (this is what makes the floor
# group respond at 13.1 % against 12.1 % for the others); region rates still hold.
FLOOR_LOGIT_OVER_30 = 2.5
# Above the floor: log(premium) = centre + band shift + region-28 shift + noise, the noise
# a split normal (sd 0.235 left, 0.25 right) plus a cubic right tail.
LOG_PREMIUM_CENTRE = 10.34
LOG_PREMIUM_BY_BAND = np.array([0.0, 0.03, 0.05, 0.07, 0.085, 0.10])
LOG_PREMIUM_REGION_28 = 0.20
LOG_PREMIUM_SD_LEFT = 0.235
LOG_PREMIUM_SD_RIGHT = 0.25
LOG_PREMIUM_CUBIC = 0.014
PREMIUM_MIN_ABOVE_FLOOR = 10_000.0

# ---------------------------------------------------------------- response (log-odds)
# The logistic model fitted on the real data (its intercept, -5.136, is recalibrated).
LOGIT_BASE = {
    "previously_insured": -4.134,
    "damage": 2.002,
    "insured_and_damage": 0.904,
    "vehicle_age_lt1": 0.032,
    "vehicle_age_gt2": 0.231,
    "male": 0.097,
    "driving_license": 1.027,
    "premium_floor": -0.139,
    "log_premium": -0.056,
}
LOGIT_AGE_BAND = np.array([0.0, 0.586, 0.255, 0.007, -0.413, -0.900])
# Per-code log-odds of region and channel (base region 28, base channel 152): the real-data
# model's one-hot coefficients; codes missing here take the "rare" value.
LOGIT_REGION = {
    28: 0.0, 0: -1.27, 2: -0.33, 3: 0.10, 4: 0.07, 6: 0.07, 7: -0.11, 8: -0.24, 9: -0.35,
    10: 0.01, 11: 0.31, 12: -0.09, 13: -0.15, 14: -0.03, 15: -0.32, 16: -0.17, 17: -0.77,
    18: 0.28, 19: -0.11, 20: -0.57, 21: 0.00, 22: -0.90, 23: 0.12, 24: 0.07, 25: -0.76,
    26: -0.63, 27: -0.62, 29: 0.19, 30: -0.04, 31: -0.34, 32: -0.15, 33: -0.07, 34: -0.63,
    35: 0.17, 36: -0.09, 37: -0.11, 38: 0.28, 39: -0.12, 40: -0.14, 41: 0.13, 43: -0.43,
    45: -0.08, 46: -0.05, 47: -0.28, 48: -0.59, 49: -0.49, 50: -0.50,
}  # fmt: skip
LOGIT_REGION_RARE = -0.52
LOGIT_CHANNEL = {
    152: 0.0, 7: 1.22, 8: 0.91, 11: 0.62, 13: 0.80, 25: 1.19, 26: 1.12, 30: 0.56, 122: 0.93,
    124: 0.93, 151: -0.05, 154: 1.05, 156: 0.89, 157: 1.04, 160: -0.80, 163: 1.17,
}  # fmt: skip
LOGIT_CHANNEL_RARE = 0.82
# The coefficients above hold the customer mix fixed. The generator draws every region but 28
# (and every channel but those of the band x channel table below) with one common mix, so each
# code with a published response rate gets a calibrated shift that stands in for its own mix:
# its expected response rate is then the real one (calibrated on a 1,000,000-row sample).
LOGIT_REGION_MIX = {
    2: -0.45, 3: 0.14, 6: -0.62, 8: 0.03, 10: -0.62, 11: -0.32, 13: -0.21, 14: -0.13,
    15: -0.33, 18: 0.12, 21: -0.84, 29: -0.09, 30: -0.61, 33: 0.0, 35: -0.03, 36: -0.32,
    37: -0.25, 39: 0.41, 41: -0.04, 45: 0.02, 46: -0.03, 47: 0.0, 48: 0.70, 50: -0.25,
}  # fmt: skip
LOGIT_CHANNEL_MIX = {
    7: -0.73, 8: -0.83, 13: -0.16, 25: -0.19, 151: -1.0, 154: 0.46, 157: 0.55, 163: 0.65,
}  # fmt: skip
# Age band x channel log-odds (rows: bands 20-29 ... 70+; columns: BAND_CHANNELS), on top of
# LOGIT_CHANNEL: calibrated (same sample) so that inside PI = 0 and Damage = Yes the response
# rates by band x channel are the real ones (REAL_RATE_BAND_CHANNEL; cells without a real
# figure copy the neighbouring band). The young customers' 152 / 160 work badly at 30+.
BAND_CHANNELS = (26, 122, 124, 152, 156, 160)
LOGIT_BAND_CHANNEL = np.array(
    [
        [-0.28, 0.13, 0.30, -0.02, -0.31, -0.06],
        [-0.13, 0.13, 0.14, -0.09, -0.53, -0.38],
        [0.09, 0.07, -0.05, -0.56, -0.46, -0.38],
        [0.17, 0.05, -0.10, -0.56, -0.56, -0.38],
        [0.03, -0.02, 0.00, -0.56, -0.10, -0.38],
        [-0.04, -0.06, 0.03, -0.56, -0.10, -0.38],
    ]
)
REAL_RATE_BAND_CHANNEL = np.array(
    [
        [0.221, np.nan, 0.291, 0.115, 0.243, 0.054],
        [0.375, 0.388, 0.392, 0.179, 0.320, 0.068],
        [0.362, 0.313, 0.290, 0.097, 0.277, np.nan],
        [0.321, 0.259, 0.233, np.nan, 0.213, np.nan],
        [0.217, 0.178, 0.182, np.nan, 0.220, np.nan],
        [0.138, 0.115, 0.125, np.nan, np.nan, np.nan],
    ]
)
# Non-linear terms added on top (see interaction_log_odds), tuned so that the response rates
# by group stay at the published ones while trees gain ~0.008 AUC over logistic regression.
INTERACTION = {
    "young_damage_age_slope": 0.12,
    "channel_156_damage": 0.4,
    "premium_x_age": 1.3,
    "premium_squared": 1.0,
    "old_vehicle_under_50": 0.2,
    "young_region_28": 0.25,
}


def _per_code(table: dict[int, float], rare: float, n_codes: int) -> np.ndarray:
    """Lookup array of a per-code table: entry ``c`` is ``table[c]``, else ``rare``."""
    values = np.full(n_codes, rare)
    values[list(table)] = list(table.values())
    return values


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _band(age: np.ndarray) -> np.ndarray:
    """Age band index 0..5 (20-29, ..., 70+)."""
    return np.searchsorted(BAND_EDGES, age, side="right")


def _check_params(params: dict[str, Any]) -> tuple[int, int, int]:
    """Return (n_train, n_test, seed) from ``params:synthetic_data``, or raise a clear error."""
    missing = [k for k in ("n_train", "n_test", "seed") if k not in params]
    if missing:
        raise KeyError(
            f"params:synthetic_data (conf/base/parameters_synthetic_data.yml) lacks {missing}"
        )
    values = {k: params[k] for k in ("n_train", "n_test", "seed")}
    for key, low in (("n_train", 1), ("n_test", len(TEST_ONLY_CHANNELS)), ("seed", 0)):
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ValueError(
                f"params:synthetic_data.{key} must be an integer >= {low}, got {value!r}"
            )
    return int(values["n_train"]), int(values["n_test"]), int(values["seed"])


def _age_pmf() -> np.ndarray:
    """Probabilities of AGES: the age shape rescaled to the band shares."""
    band = _band(AGES)
    return _AGE_SHAPE / np.bincount(band, weights=_AGE_SHAPE)[band] * BAND_SHARES[band]


def _solve_logit_offsets(
    weights: np.ndarray, shifts: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """Offsets ``o`` with ``sum_g weights[i, g] * sigmoid(o[i] + shifts[g]) == targets[i]``.

    Gives sub-groups ``g`` of each row ``i`` extra logit shifts while the row's overall rate
    stays the published one (vectorised bisection, deterministic).
    """
    weights = weights / weights.sum(axis=1, keepdims=True)
    low, high = np.full(len(targets), -30.0), np.full(len(targets), 30.0)
    for _ in range(60):
        mid = (low + high) / 2
        too_low = (weights * _sigmoid(mid[:, None] + shifts[None, :])).sum(axis=1) < targets
        low, high = np.where(too_low, mid, low), np.where(too_low, high, mid)
    return (low + high) / 2


def _insured_logit_offsets() -> np.ndarray:
    """Logit offsets of P(Previously_Insured = 1) per (band, vehicle age), shape 6 x 3.

    Region, channel and gender are drawn independently given the band, so each (band, vehicle
    age) cell is a known mixture of (region 28 or not) x (channel 152, 160, other) x gender.
    """
    cols = [list(MAIN_CHANNELS).index(code) for code in INSURED_LOGIT_CHANNEL]
    channel_p = CHANNEL_BY_BAND[:, cols]
    # (P(sub-group | band) per band, logit shift per sub-group) for each independent grouping
    groups = [
        ([1.0 - REGION_28_BY_BAND, REGION_28_BY_BAND], [0.0, INSURED_LOGIT_REGION_28]),
        ([*channel_p.T, 1.0 - channel_p.sum(axis=1)], [*INSURED_LOGIT_CHANNEL.values(), 0.0]),
        ([1.0 - MALE_BY_BAND, MALE_BY_BAND], [0.0, INSURED_LOGIT_MALE]),
    ]
    weights, shifts = np.ones((N_BANDS, 1)), np.zeros(1)
    for group_p, group_shift in groups:  # outer product of the independent groupings
        weights = (weights[:, :, None] * np.column_stack(group_p)[:, None, :]).reshape(N_BANDS, -1)
        shifts = (shifts[:, None] + np.array(group_shift)[None, :]).ravel()
    n_va = INSURED_BY_BAND_VA.shape[1]
    offsets = _solve_logit_offsets(
        np.repeat(weights, n_va, axis=0), shifts, INSURED_BY_BAND_VA.ravel()
    )
    return offsets.reshape(N_BANDS, n_va)


def _floor_logit_offsets() -> np.ndarray:
    """Logit offsets of P(premium at the floor) per region code, given the 30+ shift."""
    over_30 = np.arange(N_BANDS) >= 1
    in_28 = BAND_SHARES * REGION_28_BY_BAND
    elsewhere = BAND_SHARES * (1.0 - REGION_28_BY_BAND)
    share_over_30 = np.full(53, elsewhere[over_30].sum() / elsewhere.sum())
    share_over_30[28] = in_28[over_30].sum() / in_28.sum()
    weights = np.column_stack([1.0 - share_over_30, share_over_30])
    shifts = np.array([0.0, FLOOR_LOGIT_OVER_30])
    return _solve_logit_offsets(weights, shifts, FLOOR_RATE_BY_REGION)


def _draw_categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category index per row from row-wise probabilities ``probs`` (n x k)."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cdf[:, -1]
    return np.minimum((u[:, None] >= cdf).sum(axis=1), probs.shape[1] - 1)


def draw_features(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Draw ``n`` customers: every Kaggle column but ``id`` and ``Response``."""
    age = rng.choice(AGES, size=n, p=_age_pmf())
    band = _band(age)
    vehicle_age = _draw_categorical(rng, VEHICLE_AGE_BY_BAND[band])
    region = np.where(
        rng.random(n) < REGION_28_BY_BAND[band],
        28,
        rng.choice(OTHER_REGIONS, size=n, p=OTHER_REGION_P),
    )
    channel_idx = _draw_categorical(rng, CHANNEL_BY_BAND[band])
    channel = np.where(
        channel_idx < len(MAIN_CHANNELS),
        MAIN_CHANNELS[np.minimum(channel_idx, len(MAIN_CHANNELS) - 1)],
        rng.choice(OTHER_CHANNELS, size=n, p=OTHER_CHANNEL_P),
    )
    male = rng.random(n) < MALE_BY_BAND[band]
    licensed = rng.random(n) >= NO_LICENSE_BY_BAND[band]

    insured_logit = (
        _insured_logit_offsets()[band, vehicle_age]
        + INSURED_LOGIT_REGION_28 * (region == 28)
        + INSURED_LOGIT_MALE * male
        + sum(shift * (channel == code) for code, shift in INSURED_LOGIT_CHANNEL.items())
    )
    insured = rng.random(n) < _sigmoid(insured_logit)
    p_damage = np.where(
        insured,
        DAMAGE_IF_INSURED,
        np.where(vehicle_age == 2, DAMAGE_IF_OLD_VEHICLE, DAMAGE_IF_NOT_INSURED),
    )
    damage = rng.random(n) < p_damage

    z = rng.standard_normal(n)
    log_premium = (
        LOG_PREMIUM_CENTRE
        + LOG_PREMIUM_BY_BAND[band]
        + LOG_PREMIUM_REGION_28 * (region == 28)
        + np.where(z < 0, LOG_PREMIUM_SD_LEFT, LOG_PREMIUM_SD_RIGHT) * z
        + LOG_PREMIUM_CUBIC * np.maximum(z, 0.0) ** 3
    )
    premium = np.clip(np.round(np.exp(log_premium)), PREMIUM_MIN_ABOVE_FLOOR, PREMIUM_MAX)
    floor_logit = _floor_logit_offsets()[region] + FLOOR_LOGIT_OVER_30 * (age >= 30)
    premium = np.where(rng.random(n) < _sigmoid(floor_logit), PREMIUM_FLOOR, premium)
    vintage = rng.integers(10, 300, size=n)

    return pd.DataFrame(
        {
            "Gender": np.where(male, "Male", "Female"),
            "Age": age.astype(np.int64),
            "Driving_License": licensed.astype(np.int64),
            "Region_Code": region.astype(np.float64),
            "Previously_Insured": insured.astype(np.int64),
            "Vehicle_Age": VEHICLE_AGE_LABELS[vehicle_age],
            "Vehicle_Damage": np.where(damage, "Yes", "No"),
            "Annual_Premium": premium.astype(np.float64),
            "Policy_Sales_Channel": channel.astype(np.float64),
            "Vintage": vintage.astype(np.int64),
        }
    )


def interaction_log_odds(features: pd.DataFrame) -> np.ndarray:
    """Non-linear log-odds terms a one-hot logistic model cannot express (trees can)."""
    k = INTERACTION
    age = features["Age"].to_numpy()
    band = _band(age)
    damage = features["Vehicle_Damage"].to_numpy() == "Yes"
    channel = features["Policy_Sales_Channel"].to_numpy()
    region_28 = features["Region_Code"].to_numpy() == 28
    premium = features["Annual_Premium"].to_numpy()
    young = age < 30
    old_vehicle = features["Vehicle_Age"].to_numpy() == "> 2 Years"
    # log premium relative to what is typical for the customer's band and region (0 at floor)
    typical = LOG_PREMIUM_CENTRE + LOG_PREMIUM_BY_BAND[band] + LOG_PREMIUM_REGION_28 * region_28
    log_dev = np.where(premium == PREMIUM_FLOOR, 0.0, np.log(premium) - typical)
    # each channel works best at its own ages (e.g. the young customers' 152 / 160 badly at 30+)
    band_channel = np.zeros((N_BANDS, N_CHANNEL_CODES))
    band_channel[:, BAND_CHANNELS] = LOGIT_BAND_CHANNEL
    terms = [
        band_channel[band, channel.astype(np.int64)],
        # damaged young customers: interest rises steeply from 20 to 29
        k["young_damage_age_slope"] * np.where(young & damage, age - 25.0, 0.0),
        k["channel_156_damage"] * ((channel == 156) & damage),
        # a high premium means interest for the young, reluctance for the old; and a U-shape
        k["premium_x_age"] * log_dev * np.clip((45.0 - age) / 15.0, -1.0, 1.0),
        k["premium_squared"] * (log_dev**2 - 0.07),
        k["old_vehicle_under_50"] * (old_vehicle & (age < 50)),
        k["young_region_28"] * (young & region_28),
    ]
    return np.sum(terms, axis=0)


def response_log_odds(features: pd.DataFrame) -> np.ndarray:
    """Log-odds of ``Response`` without intercept: the real-data logistic model + interactions.

    Region and channel enter code by code (plus each code's calibrated mix shift).
    """
    b = LOGIT_BASE
    insured = features["Previously_Insured"].to_numpy() == 1
    damage = features["Vehicle_Damage"].to_numpy() == "Yes"
    vehicle_age = features["Vehicle_Age"].to_numpy()
    premium = features["Annual_Premium"].to_numpy()
    at_floor = premium == PREMIUM_FLOOR
    region = features["Region_Code"].to_numpy().astype(np.int64)
    channel = features["Policy_Sales_Channel"].to_numpy().astype(np.int64)
    base = (
        b["previously_insured"] * insured
        + b["damage"] * damage
        + b["insured_and_damage"] * (insured & damage)
        + b["vehicle_age_lt1"] * (vehicle_age == "< 1 Year")
        + b["vehicle_age_gt2"] * (vehicle_age == "> 2 Years")
        + LOGIT_AGE_BAND[_band(features["Age"].to_numpy())]
        + _per_code(LOGIT_REGION, LOGIT_REGION_RARE, N_REGION_CODES)[region]
        + _per_code(LOGIT_CHANNEL, LOGIT_CHANNEL_RARE, N_CHANNEL_CODES)[channel]
        + _per_code(LOGIT_REGION_MIX, 0.0, N_REGION_CODES)[region]
        + _per_code(LOGIT_CHANNEL_MIX, 0.0, N_CHANNEL_CODES)[channel]
        + b["male"] * (features["Gender"].to_numpy() == "Male")
        + b["driving_license"] * (features["Driving_License"].to_numpy() == 1)
        + b["premium_floor"] * at_floor
        + b["log_premium"] * np.where(at_floor, 0.0, np.log(premium) - 10.45)
    )
    return base + interaction_log_odds(features)


def calibrate_intercept(log_odds: np.ndarray, target: float = RESPONSE_RATE) -> float:
    """Intercept ``c`` with ``mean(sigmoid(c + log_odds)) == target`` (bisection, deterministic)."""
    return float(_solve_logit_offsets(np.ones((1, len(log_odds))), log_odds, np.array([target]))[0])


def _generators(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent generators for train and test (test rows do not depend on n_train)."""
    train_seq, test_seq = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(train_seq), np.random.default_rng(test_seq)


def generate_train(params: dict[str, Any]) -> pd.DataFrame:
    """Generate the Kaggle-format ``train.csv`` table: ids 1..n_train, with ``Response``."""
    n_train, _, seed = _check_params(params)
    rng, _ = _generators(seed)
    df = draw_features(n_train, rng)
    log_odds = response_log_odds(df)
    intercept = calibrate_intercept(log_odds)
    p_response = _sigmoid(intercept + log_odds)
    df["Response"] = (rng.random(n_train) < p_response).astype(np.int64)
    df.insert(0, "id", np.arange(1, n_train + 1, dtype=np.int64))
    logger.info(
        "Generated %d train rows (seed %d): response rate %.4f (intercept %.3f)",
        n_train,
        seed,
        df["Response"].mean(),
        intercept,
    )
    return df[TRAIN_COLUMNS]


def generate_test(params: dict[str, Any]) -> pd.DataFrame:
    """Generate the Kaggle-format ``test.csv`` table: ids after train's, no ``Response``.

    Drawn like train; a few rows get channel codes 141 / 142, which never occur in train (as in
    the real files).
    """
    n_train, n_test, seed = _check_params(params)
    _, rng = _generators(seed)
    df = draw_features(n_test, rng)
    per_code = max(1, round(n_test * TEST_ONLY_CHANNEL_SHARE))
    rows = rng.choice(n_test, size=per_code * len(TEST_ONLY_CHANNELS), replace=False)
    df.loc[rows, "Policy_Sales_Channel"] = np.repeat(
        np.array(TEST_ONLY_CHANNELS, dtype=np.float64), per_code
    )
    df.insert(0, "id", np.arange(n_train + 1, n_train + n_test + 1, dtype=np.int64))
    logger.info("Generated %d test rows (seed %d), ids from %d", n_test, seed, n_train + 1)
    return df[TEST_COLUMNS]
