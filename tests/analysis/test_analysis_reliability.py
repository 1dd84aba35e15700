"""Test-retest reliability of the repeats: quadratically weighted kappa and ICC(A,1) with their
intervals, each checked against an independent computation."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.inter_rater import cohens_kappa

from analysis.reliability import (
    RELIABILITY_COLUMNS,
    retest_pairs,
    retest_reliability,
    weighted_kappa,
)
from tests.conftest import require_tool


def _pairs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """First answers on 1-5 and second answers that drift by a point now and then."""
    rng = np.random.default_rng(seed)
    first = rng.integers(1, 6, n)
    second = np.clip(first + rng.choice([-1, 0, 0, 0, 1], n), 1, 5)
    return first, second


def _table(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    table = np.zeros((5, 5))
    np.add.at(table, (first - 1, second - 1), 1)
    return table


def test_kappa_and_its_standard_error_match_statsmodels():
    # statsmodels' cohens_kappa implements Fleiss, Cohen & Everitt's (1969) large-sample
    # variance as SAS PROC FREQ documents it, independently of this code.
    for seed in range(5):
        first, second = _pairs(80, seed)
        kappa, se, low, high = weighted_kappa(first, second)
        reference = cohens_kappa(_table(first, second), wt="quadratic")
        assert kappa == pytest.approx(reference.kappa, abs=1e-12)
        assert se == pytest.approx(reference.std_kappa, rel=1e-9)
        assert (low, high) == pytest.approx((kappa - 1.959964 * se, kappa + 1.959964 * se))


def test_quadratic_kappa_is_the_moment_ratio_of_schuster_2004():
    # Quadratically weighted kappa equals 2 s_xy / (s_x^2 + s_y^2 + (mean_x - mean_y)^2) with
    # population moments (Schuster 2004; Fleiss & Cohen 1973), whichever levels are used.
    first, second = _pairs(57, 11)
    second = np.clip(second + 1, 1, 5)  # a systematic shift lowers agreement, not correlation
    x, y = first.astype(float), second.astype(float)
    ratio = 2 * np.cov(x, y, bias=True)[0, 1] / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)
    assert weighted_kappa(first, second)[0] == pytest.approx(ratio, abs=1e-12)


def test_kappa_edge_cases():
    same = np.array([1, 2, 3, 4, 5, 3])
    assert weighted_kappa(same, same)[0] == pytest.approx(1.0)
    assert np.isnan(weighted_kappa(np.full(4, 3), np.full(4, 3))[0])
    with pytest.raises(ValueError, match="not on the scale"):
        weighted_kappa(np.array([1, 6]), np.array([1, 2]))
    with pytest.raises(ValueError, match="equally long"):
        weighted_kappa(np.array([1, 2]), np.array([1]))


def test_the_standard_error_matches_the_spread_of_kappa_over_repeated_samples():
    # The asymptotic SE against a Monte Carlo from a fixed joint distribution of 200 pairs.
    rng = np.random.default_rng(3)
    first, second = _pairs(200, 5)
    estimates, errors = [], []
    for _ in range(2000):
        pick = rng.integers(0, 200, 200)
        kappa, se, _, _ = weighted_kappa(first[pick], second[pick])
        estimates.append(kappa)
        errors.append(se)
    assert np.mean(errors) == pytest.approx(np.std(estimates), rel=0.1)


def _long(first: np.ndarray, second: np.ndarray, people: int) -> pd.DataFrame:
    """A long table with each pair as a regular answer and its repeat (gold_expected = first)."""
    rows = []
    for i, (a, b) in enumerate(zip(first, second, strict=True)):
        person = f"p{i % people}"
        rows.append((person, f"q{i}", "m", "d", int(a), False, np.nan, "regular"))
        rows.append((person, f"r{i}", "m", "d", int(b), True, float(a), "repeat"))
    rows.append(("p0", "g", "gold", "d", 5, True, 5.0, "gold_object"))
    columns = ["participant", "question", "method", "dataset", "score", "is_gold",
               "gold_expected", "question_kind"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def test_retest_reliability_is_a_tidy_table_of_kappa_and_icc():
    first, second = _pairs(60, 2)
    table = retest_reliability(_long(first, second, people=20))
    assert list(table.columns) == list(RELIABILITY_COLUMNS)
    rows = table.set_index("measure")
    assert list(rows.index) == ["weighted kappa (quadratic)", "ICC(A,1)"]
    assert rows["n_pairs"].tolist() == [60, 60] and rows["n_participants"].tolist() == [20, 20]
    assert rows.loc["weighted kappa (quadratic)", "value"] == pytest.approx(
        weighted_kappa(first, second)[0]
    )
    for measure in rows.index:
        low, value, high = rows.loc[measure, ["ci_low", "value", "ci_high"]]
        assert low < value < high <= 1


def test_no_pairs_gives_an_empty_table():
    frame = _long(*_pairs(5, 1), people=2)
    assert retest_reliability(frame[frame["question_kind"] != "repeat"]).empty
    assert len(retest_pairs(frame)) == 5


def test_icc_matches_base_r_anova():
    # R's aov gives the two-way mean squares independently; ICC(A,1) is McGraw & Wong's (1996)
    # Case 2A from them (the Shrout-Fleiss table test covers the interval's formula).
    rscript = shutil.which("Rscript")
    if rscript is None:
        require_tool("r", "Rscript not found; install r-base-core")
    first, second = _pairs(40, 8)
    script = f"""
x <- c({",".join(map(str, first))}); y <- c({",".join(map(str, second))})
n <- length(x); k <- 2
d <- data.frame(s = c(x, y), t = factor(rep(seq_len(n), 2)), o = factor(rep(1:2, each = n)))
ms <- summary(aov(s ~ t + o, data = d))[[1]][["Mean Sq"]]
cat(sprintf("%.15f", (ms[1] - ms[3]) / (ms[1] + (k - 1) * ms[3] + k * (ms[2] - ms[3]) / n)))
"""
    out = subprocess.run([str(rscript), "-e", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    table = retest_reliability(_long(first, second, people=10)).set_index("measure")
    assert table.loc["ICC(A,1)", "value"] == pytest.approx(float(out.stdout.strip()), abs=1e-9)
