"""Reading an exported responses file back with the types the in-memory frame has."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path

import numpy as np
import pandas as pd


def read_responses_csv(path: Path) -> pd.DataFrame:
    """Read a responses export back with the types ``responses_frame`` gives."""
    # Identifiers stay text, as analysis.load_ratings reads them ("007" is not 7); so do the
    # picture columns, whose values are image paths and stimulus ids written as text.
    text_columns: dict[Hashable, type[str]] = {
        name: str for name in ("participant", "question", "method", "dataset", "image", "item")
    }
    frame = pd.read_csv(path, dtype=text_columns, keep_default_na=False, na_values=[""])
    passed = frame["gold_passed"].astype(object)
    frame["gold_passed"] = passed.where(passed.notna(), np.nan)
    return frame
