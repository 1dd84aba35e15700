"""Krippendorff's alpha and intraclass correlations against published worked examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import agreement_summary, intraclass_correlations, krippendorff_alpha
from analysis.io import validate_ratings

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", worked example C:
# four coders, twelve units, values 1-5, NaN where a coder did not code the unit.
NAN = np.nan
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]
# Shrout & Fleiss (1979), Table 2: six targets rated by four judges.
SHROUT_FLEISS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]],
    dtype=float,
)


def _krippendorff_frame() -> pd.DataFrame:
    rows = [
        (f"c{c}", f"u{u}", v)
        for c, coder in enumerate(KRIPPENDORFF_2011)
        for u, v in enumerate(coder)
        if not np.isnan(v)
    ]
    return pd.DataFrame(rows, columns=["participant", "question", "score"])


@pytest.mark.parametrize(
    ("level", "expected"),
    # Published values: nominal 0.743, ordinal 0.815, interval 0.849, ratio 0.797.
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_alpha_matches_krippendorff_2011(level, expected):
    assert krippendorff_alpha(_krippendorff_frame(), level=level) == pytest.approx(
        expected, abs=5e-4
    )


def test_alpha_is_one_for_perfect_agreement_and_rejects_unknown_levels():
    frame = pd.DataFrame(
        {
            "participant": ["a", "b", "a", "b"],
            "question": ["x", "x", "y", "y"],
            "score": [1, 1, 4, 4],
        }
    )
    assert krippendorff_alpha(frame) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="Unknown level"):
        krippendorff_alpha(frame, level="cardinal")


def test_icc_matches_shrout_fleiss():
    # Shrout & Fleiss (1979): ICC(1,1) .17, ICC(2,1) .29, ICC(3,1) .71, ICC(1,4) .44,
    # ICC(2,4) .62, ICC(3,4) .91. The three-decimal values and the intervals are those of
    # pingouin's intraclass_corr documentation for the same data.
    table = intraclass_correlations(SHROUT_FLEISS).set_index("type")
    expected = {
        "ICC1": 0.166,
        "ICC2": 0.290,
        "ICC3": 0.715,
        "ICC1k": 0.443,
        "ICC2k": 0.620,
        "ICC3k": 0.909,
    }
    for kind, value in expected.items():
        assert table.loc[kind, "icc"] == pytest.approx(value, abs=1.5e-3), kind
    assert table.loc["ICC1", "f"] == pytest.approx(1.795, abs=1e-3)
    assert table.loc["ICC3", "f"] == pytest.approx(11.027, abs=1e-3)
    intervals = {
        "ICC1": (-0.13, 0.72),
        "ICC2": (0.02, 0.76),
        "ICC3": (0.34, 0.95),
        "ICC1k": (-0.88, 0.91),
        "ICC2k": (0.07, 0.93),
        "ICC3k": (0.67, 0.99),
    }
    for kind, (low, high) in intervals.items():
        assert table.loc[kind, "ci_low"] == pytest.approx(low, abs=6e-3), kind
        assert table.loc[kind, "ci_high"] == pytest.approx(high, abs=6e-3), kind


def test_icc_needs_a_complete_table():
    with pytest.raises(ValueError, match="complete table"):
        intraclass_correlations(np.array([[1.0, np.nan], [2.0, 3.0]]))


def test_agreement_summary_on_a_study(study):
    summary = agreement_summary(validate_ratings(study))
    assert list(summary["measure"])[:2] == ["Krippendorff alpha (ordinal)", "ICC1"]
    assert summary["value"].between(-1, 1).all()


def test_alpha_bootstrap_interval_brackets_alpha():
    from analysis.agreement import alpha_from_counts, bootstrap_alpha, unit_value_counts

    counts, values = unit_value_counts(_krippendorff_frame())
    alpha = alpha_from_counts(counts, values, "ordinal")
    low, high = bootstrap_alpha(counts, values, "ordinal", n_resamples=500, seed=1)
    assert low <= alpha <= high
    assert -1 <= low < high <= 1
