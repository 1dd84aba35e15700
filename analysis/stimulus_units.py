"""What a measure describes: one stimulus, or a prototype shown on several stimuli.

A map measure (energy on the parts, concentration, activation) belongs to one stimulus. A
prototype's own metric (consistency, stability, purity) is the same on every stimulus that
shows the prototype, so those stimuli are not independent evidence about it: its analysis
counts prototypes, not stimuli (a random prototype intercept in the model, prototypes as the
units of the correlation and its bootstrap). Prototypes are keyed by method as well, since
pool indices restart in every model.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

Unit = Literal["item", "prototype"]


def prototype_keys(df: pd.DataFrame) -> pd.Series | None:
    """``method:prototype`` of every answer, or None without a filled ``prototype`` column."""
    if "prototype" not in df.columns or df["prototype"].isna().all():
        return None
    prototype = df["prototype"].astype(object)
    if prototype.isna().any():
        raise ValueError(
            "Some answers have a prototype and others none; fill the 'prototype' column for "
            "every stimulus or for none."
        )
    keys: pd.Series = df["method"].astype(str) + ":" + prototype.astype(str)
    return keys


def shares_prototypes(df: pd.DataFrame) -> bool:
    """Whether some prototype is shown on two or more stimuli (its intercept is identifiable)."""
    keys = prototype_keys(df)
    if keys is None:
        return False
    return bool((df["item"].astype(str).groupby(keys.to_numpy()).nunique() > 1).any())


def measure_unit(df: pd.DataFrame, measure: str) -> Unit:
    """``"prototype"`` when the measure is one value per shared prototype, else ``"item"``."""
    if not shares_prototypes(df):
        return "item"
    keys = prototype_keys(df)
    assert keys is not None
    present = df[measure].notna().to_numpy()
    spread = df.loc[present, measure].groupby(keys.to_numpy()[present]).nunique()
    return "prototype" if bool((spread <= 1).all()) else "item"


def unit_keys(df: pd.DataFrame, unit: Unit) -> np.ndarray:
    """The unit of every answer as text: its item, or its ``method:prototype``."""
    if unit == "item":
        return df["item"].astype(str).to_numpy()
    keys = prototype_keys(df)
    if keys is None:
        raise ValueError("Prototype units need a 'prototype' column.")
    return keys.to_numpy(dtype=str)


__all__ = ["Unit", "measure_unit", "prototype_keys", "shares_prototypes", "unit_keys"]
