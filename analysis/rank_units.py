"""Which unit the within-block rank tests run on, and the block x method tables they use.

Where images are crossed with methods, each image is a block: its mean rating under each
method, averaged over the participants who saw it, so that the image's own appeal cancels from
the comparison. Where images are nested in methods (each under one method) no image can be its
own control; the participant-level tables still serve a descriptive test, whose rows must say
that it ignores the images' variance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from analysis.design import describe_design
from analysis.distributions import participant_method_means
from analysis.io import method_order

Unit = Literal["auto", "participants", "images"]
IMAGE_VARIANCE_NOTE = (
    "participant-level test ignores image variance ({how}): "
    "descriptive only, not a test of the methods"
)
_HOW_NESTED = {
    "nested": "images nested in methods",
    "mixed": "some images shown under one method only",
}


def complete_participant_means(df: pd.DataFrame) -> pd.DataFrame:
    """Participant x method means, keeping participants who answered every method.

    Raises
    ------
    ValueError
        When fewer than two methods or fewer than two complete participants remain.
    """
    table = participant_method_means(df)
    if table.shape[1] < 2:
        raise ValueError("Need at least two methods to compare; the table has only one.")
    complete = table.dropna()
    if len(complete) < 2:
        raise ValueError(
            "Fewer than two participants rated every method; the within-participant tests "
            "need each participant to see all methods (use the raw-answer tests instead)."
        )
    return complete


def image_method_means(df: pd.DataFrame) -> pd.DataFrame:
    """Mean score of each image under each method, over the participants who saw it.

    Parameters
    ----------
    df
        Validated long-format ratings (without gold trials).

    Returns
    -------
    pandas.DataFrame
        Index ``image``, one column per method in study order; NaN where the image was not
        shown under that method.
    """
    table = _with_pictures(df).pivot_table(
        index="image", columns="method", values="score", aggfunc="mean", observed=True
    )
    table.columns = table.columns.astype(str)
    return table.reindex(columns=method_order(df))


@dataclass(frozen=True)
class Blocks:
    """The blocks of a within-block test.

    Attributes
    ----------
    table
        Block x method means, complete blocks only (every method present).
    unit
        ``"images"`` or ``"participants"``.
    note
        What the test's rows must say about it (empty when nothing).
    """

    table: pd.DataFrame
    unit: str
    note: str


def block_table(df: pd.DataFrame, unit: str = "auto") -> Blocks:
    """The blocks the Friedman and Wilcoxon tests run on (see :func:`resolve_unit`).

    Raises
    ------
    ValueError
        When fewer than two methods, or fewer than two complete blocks, remain.
    """
    resolved, note = resolve_unit(df, unit)
    if resolved == "participants":
        return Blocks(complete_participant_means(df), resolved, note)
    table = image_method_means(df)
    if table.shape[1] < 2:
        raise ValueError("Need at least two methods to compare; the table has only one.")
    complete = table.dropna()
    if len(complete) < 2:
        raise ValueError(
            "Fewer than two images were rated under every method, so there are no per-image "
            "blocks to compare; use unit='participants' (descriptive only) or the mixed model."
        )
    if len(complete) < len(table):
        note = f"{len(complete)} of {len(table)} images rated under every method"
    return Blocks(complete, resolved, note)


def resolve_unit(df: pd.DataFrame, unit: str = "auto") -> tuple[str, str]:
    """The unit the within-block tests use on ``df``, and the caveat their rows carry.

    Parameters
    ----------
    df
        Validated long-format ratings.
    unit
        ``"auto"``, ``"participants"`` or ``"images"`` (see
        :func:`analysis.rank_tests.friedman_test`).

    Returns
    -------
    tuple of str
        ``("images" | "participants", note)``; the note is empty unless a participant-level
        test would ignore the images' variance.

    Raises
    ------
    ValueError
        On an unknown unit, or ``"images"`` when no image was shown under two methods.
    """
    if unit not in ("auto", "participants", "images"):
        raise ValueError(f"unit must be 'auto', 'participants' or 'images', not {unit!r}.")
    structure = describe_design(_with_pictures(df)).structure
    if unit == "auto":
        unit = "participants" if structure == "nested" else "images"
    if unit == "images" and structure == "nested":
        raise ValueError(
            "No image was rated under two methods (images are nested in methods), so per-image "
            "tests cannot compare methods; use unit='participants' (descriptive only) or the "
            "crossed mixed model."
        )
    if unit == "participants" and structure != "crossed":
        return unit, IMAGE_VARIANCE_NOTE.format(how=_HOW_NESTED[structure])
    return unit, ""


def _with_pictures(df: pd.DataFrame) -> pd.DataFrame:
    # Tables that skipped analysis.validate_ratings get its fallback: each stimulus (or
    # question) is its own item and its own image.
    if "image" in df.columns and "item" in df.columns:
        return df
    item = df["item"] if "item" in df.columns else df.get("stimulus", df["question"])
    return df.assign(item=item, image=df["image"] if "image" in df.columns else item)


__all__ = [
    "IMAGE_VARIANCE_NOTE",
    "Blocks",
    "Unit",
    "block_table",
    "complete_participant_means",
    "image_method_means",
    "resolve_unit",
]
