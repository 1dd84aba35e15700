"""How pictures, methods and participants are arranged in a ratings table.

The right test depends on it. When every image is shown under one method only, images are
*nested* in methods: a method's mean rests on its few images, and the luck of which images
were drawn is part of any method difference, so the images' variance must enter the test.
When images are shown under several methods (a Latin square), images are *crossed* with
methods and each image is its own control: tests can run on per-image differences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

Structure = Literal["crossed", "nested", "mixed"]


@dataclass(frozen=True)
class Design:
    """The arrangement of one ratings table.

    Attributes
    ----------
    structure
        ``"crossed"`` when every image is shown under two or more methods, ``"nested"`` when
        every image is shown under one method only, ``"mixed"`` otherwise.
    n_participants, n_images, n_items
        Distinct participants, images and items (an item is one image under one method).
    items_differ_from_images
        Whether some image has several items, so that an item-level intercept can be told
        apart from the image-level one.
    """

    structure: Structure
    n_participants: int
    n_images: int
    n_items: int
    items_differ_from_images: bool


def describe_design(df: pd.DataFrame) -> Design:
    """Classify a validated ratings table (gold trials should be removed first).

    Parameters
    ----------
    df
        Validated ratings with ``image`` and ``item`` columns (``analysis.validate_ratings``
        adds them).
    """
    methods_per_image = df.groupby("image", observed=True)["method"].nunique()
    items_per_image = df.groupby("image", observed=True)["item"].nunique()
    if (methods_per_image >= 2).all():
        structure: Structure = "crossed"
    elif (methods_per_image == 1).all():
        structure = "nested"
    else:
        structure = "mixed"
    return Design(
        structure=structure,
        n_participants=int(df["participant"].nunique()),
        n_images=int(len(methods_per_image)),
        n_items=int(df["item"].nunique()),
        items_differ_from_images=bool((items_per_image > 1).any()),
    )
