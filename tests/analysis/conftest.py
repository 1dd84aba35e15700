"""Fixtures for the analysis tests: published data sets typed in, and small simulated studies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.simulate import simulate_ratings

# Randall (1989) wine bitterness data as distributed with R's ordinal package (`wine`):
# nine judges each rated eight bottles; bottles 1-2 cold/no contact, 3-4 cold/contact,
# 5-6 warm/no contact, 7-8 warm/contact. Ratings per judge in bottle order.
WINE_RATINGS = {
    1: (2, 3, 3, 4, 4, 4, 5, 5),
    2: (1, 2, 1, 3, 2, 3, 5, 4),
    3: (2, 3, 3, 2, 5, 5, 4, 4),
    4: (3, 2, 3, 2, 3, 2, 5, 3),
    5: (2, 3, 4, 3, 3, 3, 3, 3),
    6: (3, 2, 3, 2, 2, 4, 5, 4),
    7: (1, 1, 2, 2, 2, 3, 2, 3),
    8: (2, 2, 2, 3, 3, 3, 3, 4),
    9: (1, 2, 3, 2, 3, 2, 4, 4),
}


@pytest.fixture(scope="session")
def wine() -> pd.DataFrame:
    """The 72-row wine data with 0/1 indicators for warm and contact."""
    rows = []
    for judge, ratings in WINE_RATINGS.items():
        for bottle, rating in enumerate(ratings, start=1):
            rows.append(
                {
                    "judge": judge,
                    "bottle": bottle,
                    "rating": rating,
                    "warm": int(bottle >= 5),
                    "contact": int(bottle in (3, 4, 7, 8)),
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def ucla() -> pd.DataFrame:
    """UCLA ordered-logit example shipped with statsmodels (400 rows)."""
    import statsmodels

    path = Path(statsmodels.__file__).parent / "miscmodels/tests/results/ologit_ucla.csv"
    data = pd.read_csv(path)
    levels = {"unlikely": 0, "somewhat likely": 1, "very likely": 2}
    data["apply_code"] = data["apply"].map(levels)
    return data


@pytest.fixture(scope="session")
def study() -> pd.DataFrame:
    """A paper-sized simulated study (40 participants x 60 questions, 3 methods)."""
    return simulate_ratings(seed=11)


@pytest.fixture(scope="session")
def messy_study() -> pd.DataFrame:
    """A smaller study with careless raters and gold trials, for exclusions and the report."""
    return simulate_ratings(
        participants=24, questions=30, careless_fraction=0.2, gold_questions=3, seed=5
    )


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
