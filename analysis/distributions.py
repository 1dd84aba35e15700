"""Score distributions per method (and per dataset): counts, proportions, mean, median, SD."""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd

from analysis.io import SCORE_LEVELS, method_order


def _group_keys(by: str | list[str]) -> list[str]:
    keys = [by] if isinstance(by, str) else list(by)
    if not keys:
        raise ValueError("Pass at least one grouping column, e.g. by='method'.")
    return keys


def score_distribution(df: pd.DataFrame, by: str | list[str] = "method") -> pd.DataFrame:
    """Count each score 1-5 within each group.

    Parameters
    ----------
    df
        Validated long-format ratings.
    by
        Grouping column(s), e.g. ``"method"`` or ``["dataset", "method"]``.

    Returns
    -------
    pandas.DataFrame
        Columns ``*by, score, count, proportion``; every score 1-5 appears for every group,
        with zero counts where no one chose it.
    """
    keys = _group_keys(by)
    missing = [k for k in keys if k not in df.columns]
    if missing:
        raise ValueError(f"Cannot group by missing column(s) {missing}; choose from {list(df)}.")
    counts = df.groupby(keys + ["score"], observed=True).size()
    wide = counts.unstack("score").reindex(columns=list(SCORE_LEVELS), fill_value=0).fillna(0)
    wide = _ordered(wide, keys, df)
    totals = wide.sum(axis=1)
    # One level of columns, so stacking gives a Series.
    stacked = cast("pd.Series[float]", wide.stack())
    long = stacked.rename("count").astype(np.int64).reset_index()
    long["proportion"] = long["count"] / totals.reindex(long.set_index(keys).index).to_numpy()
    long["score"] = long["score"].astype(int)
    return long[keys + ["score", "count", "proportion"]]


def summary_statistics(df: pd.DataFrame, by: str | list[str] = "method") -> pd.DataFrame:
    """Mean, median and SD of scores within each group.

    Parameters
    ----------
    df
        Validated long-format ratings.
    by
        Grouping column(s).

    Returns
    -------
    pandas.DataFrame
        Columns ``*by, n_answers, n_participants, mean, median, sd`` (SD with ddof=1).
    """
    keys = _group_keys(by)
    grouped = df.groupby(keys, observed=True)
    out = pd.DataFrame(
        {
            "n_answers": grouped["score"].size(),
            "n_participants": grouped["participant"].nunique(),
            "mean": grouped["score"].mean(),
            "median": grouped["score"].median(),
            "sd": grouped["score"].std(ddof=1),
        }
    )
    return _ordered(out, keys, df).reset_index()


def _ordered(frame: pd.DataFrame, keys: list[str], df: pd.DataFrame) -> pd.DataFrame:
    # Keep the study's method order rather than the alphabetical order groupby gives.
    if "method" not in keys:
        return frame.sort_index()
    order = {m: i for i, m in enumerate(method_order(df))}
    index = frame.index.to_frame(index=False)
    index["_m"] = index["method"].astype(str).map(order)
    sort_cols = [k for k in keys if k != "method"] + ["_m"]
    positions = index.sort_values(sort_cols, kind="stable").index
    return frame.iloc[positions]


def participant_method_means(df: pd.DataFrame) -> pd.DataFrame:
    """Mean score of each participant for each method, as a participant x method table.

    Parameters
    ----------
    df
        Validated long-format ratings.

    Returns
    -------
    pandas.DataFrame
        Index ``participant``, one column per method in study order; NaN where a participant
        answered no question of that method.
    """
    table = df.pivot_table(
        index="participant", columns="method", values="score", aggfunc="mean", observed=True
    )
    table.columns = table.columns.astype(str)
    return table.reindex(columns=method_order(df))
