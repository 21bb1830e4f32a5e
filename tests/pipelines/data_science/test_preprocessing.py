"""Tests of the preprocessing transformers and recipes."""

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.compose import ColumnTransformer

from cross_sell.params import Recipe
from cross_sell.pipelines.data_science.preprocessing import (
    CategoryCodes,
    CategoryDtype,
    QuantileCapper,
    make_preprocessor,
)


def test_quantile_capper_clips_to_bounds_learned_in_fit():
    train = pd.DataFrame({"premium": np.arange(1.0, 101.0)})
    capper = QuantileCapper(0.1, 0.9).fit(train)
    assert capper.lower_ == pytest.approx([np.quantile(train["premium"], 0.1)])
    assert capper.upper_ == pytest.approx([np.quantile(train["premium"], 0.9)])
    scored = capper.transform(pd.DataFrame({"premium": [-5.0, 50.0, 1e6]}))
    assert scored[:, 0] == pytest.approx([capper.lower_[0], 50.0, capper.upper_[0]])
    assert list(capper.get_feature_names_out()) == ["premium"]


def test_category_codes_rank_frequent_codes_and_bucket_rare_and_unseen_ones():
    # Code 7: 40 rows, rate 0.5; code 3: 40 rows, rate 0.1; codes 90 and 91: 2 rows each.
    codes = [7] * 40 + [3] * 40 + [90, 90, 91, 91]
    target = [1] * 20 + [0] * 20 + [1] * 4 + [0] * 36 + [1, 1, 1, 0]
    encoder = CategoryCodes(min_frequency=10).fit(pd.DataFrame({"channel": codes}), target)
    assert list(encoder.categories_[0]) == [3, 7]
    scored = encoder.transform(pd.DataFrame({"channel": [3, 7, 90, 91, 141]}))[:, 0]
    # Ranked by training response rate: 3 (0.1) < 7 (0.5) < other (0.75).
    assert list(scored) == [0, 1, 2, 2, 2]
    assert encoder.other_code_ == [2]


def test_category_codes_without_rare_codes_rank_unseen_ones_at_the_overall_rate():
    encoder = CategoryCodes(min_frequency=1).fit(
        pd.DataFrame({"region": [1, 1, 2, 2]}), [0, 0, 1, 1]
    )
    # Overall rate 0.5 sits between region 1 (0.0) and region 2 (1.0).
    assert list(encoder.transform(pd.DataFrame({"region": [1, 2, 53]}))[:, 0]) == [0, 2, 1]


def test_recipe_is_built_from_its_block_and_unknown_names_are_refused():
    dtypes = pd.Series({"age": "int16", "region_code": "int16", "is_male": "bool"})
    recipe = Recipe(name="linear", kwargs={"min_frequency": 3, "spline_columns": ["age"]})
    built = make_preprocessor(recipe, dtypes, ["region_code"], [])
    assert isinstance(built, ColumnTransformer)
    steps = {name: columns for name, _, columns in built.transformers}
    assert steps == {
        "one_hot": ["region_code"],
        "capped": [],
        "scaled": ["age"],  # booleans pass through as 0/1
        "splines": ["age"],
    }
    assert built.transformers[0][1].min_frequency == 3
    with pytest.raises(ValidationError, match="'trees' or 'linear'"):
        Recipe(name="boosted")


def test_category_dtype_keeps_frequent_codes_and_leaves_the_others_missing():
    codes = pd.DataFrame({"channel": [7] * 12 + [3] * 10 + [90, 91]})
    encoder = CategoryDtype(min_frequency=10).fit(codes)
    assert list(encoder.categories_[0]) == [3, 7]
    scored = encoder.transform(pd.DataFrame({"channel": [3, 7, 90, 141]}, index=[5, 6, 7, 8]))
    assert isinstance(scored["channel"].dtype, pd.CategoricalDtype)
    assert list(scored["channel"].cat.categories) == [3, 7]
    assert scored["channel"].tolist()[:2] == [3, 7]
    assert scored["channel"].isna().tolist() == [False, False, True, True]  # rare, unseen
    assert scored.index.tolist() == [5, 6, 7, 8]


@pytest.mark.parametrize(
    ("codes", "encoder"), [("ranked", CategoryCodes), ("native", CategoryDtype)]
)
def test_trees_recipe_encodes_codes_as_asked(codes, encoder):
    dtypes = pd.Series({"region_code": "int16", "annual_premium": "float64"})
    built = make_preprocessor(
        Recipe(name="trees", kwargs={"codes": codes}), dtypes, ["region_code"], ["annual_premium"]
    )
    assert isinstance(built.transformers[0][1], encoder)
    integer = make_preprocessor(
        Recipe(name="trees", kwargs={"codes": "integer"}), dtypes, ["region_code"], []
    )
    assert integer.transformers[0][1] == "passthrough"
    with pytest.raises(ValueError, match="codes='onehot' is not one of"):
        make_preprocessor(Recipe(name="trees", kwargs={"codes": "onehot"}), dtypes, [], [])
