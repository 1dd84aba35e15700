"""Load and validate long-format rating tables.

One row is one answer: ``participant, question, method, dataset, score`` with ``score`` an
integer from 1 to 5. Optional columns (``stimulus, prototype, position, rt_ms, is_gold``,
plus ``gold_expected`` or ``gold_passed`` for gold trials) pass through untouched.

Two optional columns say which picture was rated, so that pictures can be modelled as a random
sample: ``image`` (the dataset image, shared by every condition that shows it) and ``item``
(the stimulus: one image under one condition). A table without them is still read; ``item``
then falls back to ``stimulus`` or ``question`` and ``image`` to ``item``, with a warning that
an image shown under several methods cannot be recognised as one picture.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from pathlib import Path

import numpy as np
import pandas as pd

REQUIRED_COLUMNS: tuple[str, ...] = ("participant", "question", "method", "dataset", "score")
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "stimulus",
    "prototype",
    "position",
    "rt_ms",
    "is_gold",
    "gold_expected",
    "gold_passed",
    "image",
    "item",
)
SCORE_LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)
_KEY_COLUMNS = ("participant", "question", "method", "dataset")
# Read as text, like the keys, so that image "007" and "7" stay distinct pictures.
_TEXT_COLUMNS = (*_KEY_COLUMNS, "image", "item", "stimulus")


def load_ratings(
    source: str | Path | pd.DataFrame, methods: list[str] | None = None
) -> pd.DataFrame:
    """Read a ratings table from a CSV path or a DataFrame and validate it.

    Parameters
    ----------
    source
        Path to a CSV file in long format, or a DataFrame already in memory.
    methods
        Methods the study is expected to contain; a listed method without answers is an error.

    Returns
    -------
    pandas.DataFrame
        The validated table (see :func:`validate_ratings`).
    """
    if isinstance(source, pd.DataFrame):
        frame = source
    else:
        path = Path(source)
        if not path.exists():
            raise ValueError(f"Ratings file {path} does not exist; pass the path of a CSV export.")
        # Identifiers are read as strings so that "007" and "7" stay distinct participants.
        dtypes: dict[Hashable, str] = {name: "string" for name in _TEXT_COLUMNS}
        frame = pd.read_csv(path, dtype=dtypes)
    return validate_ratings(frame, methods=methods)


def validate_ratings(df: pd.DataFrame, methods: list[str] | None = None) -> pd.DataFrame:
    """Check a long-format ratings table and return a clean copy.

    Parameters
    ----------
    df
        One row per answer with at least the columns in ``REQUIRED_COLUMNS``.
    methods
        Methods the study is expected to contain. When omitted and ``method`` is categorical,
        its categories are the expected methods.

    Returns
    -------
    pandas.DataFrame
        A copy with ``participant``, ``question``, ``method`` and ``dataset`` as categoricals
        (method categories in first-seen order unless already categorical), ``score`` as int8
        and a fresh RangeIndex.

    Raises
    ------
    ValueError
        On missing columns, missing or non-integer scores, scores outside 1-5, duplicate
        (participant, question) rows, or an expected method with no answers.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError("Ratings must be a pandas DataFrame; load a CSV with load_ratings(path).")
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"Ratings table is missing column(s) {missing}; expected long format with columns "
            f"{list(REQUIRED_COLUMNS)} (one row per answer). Rename your columns to match."
        )
    if df.empty:
        raise ValueError("Ratings table has no rows; export the study after answers arrive.")
    expected = _expected_methods(df, methods)
    out = df.copy()
    out["score"] = _checked_scores(out["score"])
    for column in _KEY_COLUMNS:
        if out[column].isna().any():
            bad = int(out[column].isna().sum())
            raise ValueError(f"{bad} row(s) have an empty '{column}'; fill or drop them first.")
    _check_duplicates(out)
    _fill_picture_columns(out)
    for column in ("participant", "question", "dataset", "image", "item"):
        out[column] = _as_category(out[column])
    out["method"] = _method_category(out["method"], expected)
    counts = out["method"].value_counts()
    empty = [str(m) for m in counts.index if counts[m] == 0]
    if empty:
        raise ValueError(
            f"Method(s) {empty} have no answers; remove them from the study's method list or "
            "check that their questions were exported."
        )
    if out["method"].nunique() < 1:
        raise ValueError("No method has answers; check the export.")
    return out.reset_index(drop=True)


def _fill_picture_columns(df: pd.DataFrame) -> None:
    # Gold trials and old exports may leave the picture columns empty; each such answer's
    # question then stands for its own picture.
    fallback = "stimulus" if "stimulus" in df.columns else "question"
    if "item" not in df.columns:
        warnings.warn(
            f"The ratings have no 'item' column; each {fallback!r} is taken as one picture. "
            "Export again to get the 'image' and 'item' columns.",
            UserWarning,
            stacklevel=3,
        )
        df["item"] = df[fallback]
    if "image" not in df.columns:
        warnings.warn(
            "The ratings have no 'image' column; an image shown under several methods cannot "
            "be modelled as one picture, so each item is taken as its own image.",
            UserWarning,
            stacklevel=3,
        )
        df["image"] = df["item"]
    for column, backup in (("item", "question"), ("image", "item")):
        values = df[column].astype(object)
        empty = values.isna() | (values.astype(str) == "")
        df[column] = values.where(~empty, df[backup].astype(object)).astype(str)


def _expected_methods(df: pd.DataFrame, methods: list[str] | None) -> list[str] | None:
    if methods is not None:
        return [str(m) for m in methods]
    if isinstance(df["method"].dtype, pd.CategoricalDtype):
        return [str(m) for m in df["method"].cat.categories]
    return None


def _checked_scores(score: pd.Series) -> pd.Series:
    numeric = pd.to_numeric(score, errors="coerce")
    if numeric.isna().any():
        rows = list(numeric.index[numeric.isna()][:5])
        raise ValueError(
            f"Column 'score' has missing or non-numeric values (first rows {rows}); "
            "drop unanswered questions before the analysis."
        )
    values = numeric.to_numpy(dtype=float)
    outside = (values < 1) | (values > 5) | (values != np.round(values))
    if outside.any():
        bad = sorted(set(values[outside].tolist()))[:5]
        raise ValueError(
            f"{int(outside.sum())} score(s) are not integers from 1 to 5 (e.g. {bad}); "
            "recode the answers to the 1-5 scale (a 0-4 scale needs +1)."
        )
    return pd.Series(values.astype(np.int8), index=score.index)


def _check_duplicates(df: pd.DataFrame) -> None:
    dup = df.duplicated(["participant", "question"], keep=False)
    if dup.any():
        example = df.loc[dup, ["participant", "question"]].iloc[0].tolist()
        raise ValueError(
            f"{int(dup.sum())} rows repeat a (participant, question) pair, e.g. {example}; "
            "keep one answer per participant and question (the first submitted)."
        )


def _as_category(column: pd.Series) -> pd.Series:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.remove_unused_categories().cat.rename_categories(str)
    return column.astype(str).astype("category")


def _method_category(column: pd.Series, expected: list[str] | None) -> pd.Categorical:
    as_text = column.astype(str)
    seen = list(pd.unique(as_text))
    if expected is None:
        return pd.Categorical(as_text, categories=seen)
    unknown = [m for m in seen if m not in expected]
    if unknown:
        raise ValueError(
            f"Method(s) {unknown} are not in the expected list {expected}; "
            "add them to `methods` or fix the labels."
        )
    return pd.Categorical(as_text, categories=expected)


def method_order(df: pd.DataFrame) -> list[str]:
    """Return the methods in their analysis order (the categorical order)."""
    column = df["method"]
    if isinstance(column.dtype, pd.CategoricalDtype):
        return [str(m) for m in column.cat.categories]
    return [str(m) for m in pd.unique(column.astype(str))]
