"""Sample-size planning: participants needed to detect a method difference at a given power.

Power is estimated by simulating whole studies from :mod:`analysis.simulate` and running the
primary test (Wilcoxon signed-rank on per-participant method means), so participant and
question variance, the 1-5 coarsening and careless raters all count. An analytic paired-t
answer from statsmodels is offered as a quick cross-check.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.power import TTestPower

from analysis.simulate import SimulationConfig, draw_cumulative_logit

POWER_COLUMNS = ("participants", "power", "ci_low", "ci_high", "n_sims")


def simulated_power(
    participants: int,
    effect: float,
    config: SimulationConfig | None = None,
    n_sims: int = 500,
    alpha: float = 0.05,
    seed: int = 0,
) -> float:
    """Share of simulated studies in which the Wilcoxon test of two methods is significant.

    Parameters
    ----------
    participants
        Participants per simulated study; each answers every question.
    effect
        Difference in log-odds between the two compared methods.
    config
        Thresholds, variances, number of questions and careless share; its methods and
        effects are replaced by two methods separated by ``effect``.
    n_sims
        Simulated studies.
    alpha
        Significance level (divide by the number of comparisons for a Bonferroni plan).
    seed
        Seed of the random generator.
    """
    cfg = config or SimulationConfig()
    if participants < 5:
        raise ValueError("Power for fewer than 5 participants is meaningless; use 5 or more.")
    rng = np.random.default_rng(seed)
    n_q = cfg.questions
    method = np.arange(n_q) % 2
    u = rng.normal(0.0, cfg.participant_sd, (n_sims, participants, 1))
    v = rng.normal(0.0, cfg.question_sd, (n_sims, 1, n_q))
    eta = np.where(method == 0, effect, 0.0)[None, None, :] + u + v
    scores = draw_cumulative_logit(eta, np.asarray(cfg.thresholds), rng).astype(float)
    careless = rng.random((n_sims, participants)) < cfg.careless_fraction
    noise = rng.integers(1, 6, size=scores.shape).astype(float)
    scores = np.where(careless[..., None], noise, scores)
    mean_a = scores[..., method == 0].mean(axis=2)
    mean_b = scores[..., method == 1].mean(axis=2)
    diff = mean_a - mean_b
    # A simulated study with no non-zero difference cannot be tested and counts as a miss.
    testable = (diff != 0).any(axis=1)
    p = np.ones(n_sims)
    if testable.any():
        # scipy switches to a permutation test for small samples with ties, which is slow when
        # repeated thousands of times; the normal approximation is used throughout instead.
        p[testable] = stats.wilcoxon(
            mean_a[testable], mean_b[testable], axis=1, method="asymptotic"
        ).pvalue
    return float((p < alpha).mean())


def power_curve(
    effect: float,
    participants: list[int] | tuple[int, ...] = (10, 20, 30, 40, 60, 80),
    config: SimulationConfig | None = None,
    n_sims: int = 500,
    alpha: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """Simulated power at several study sizes.

    Returns
    -------
    pandas.DataFrame
        Columns in ``POWER_COLUMNS``; the interval is the Wilson interval of the simulated
        proportion.
    """
    rows = []
    for i, n in enumerate(participants):
        power = simulated_power(n, effect, config, n_sims, alpha, seed + i)
        low, high = _wilson(power, n_sims)
        rows.append((int(n), power, low, high, n_sims))
    return pd.DataFrame(rows, columns=list(POWER_COLUMNS))


def required_participants(
    effect: float,
    target_power: float = 0.8,
    config: SimulationConfig | None = None,
    n_sims: int = 500,
    alpha: float = 0.05,
    max_participants: int = 2000,
    seed: int = 0,
) -> int:
    """Smallest number of participants whose simulated power reaches ``target_power``.

    Doubles the study until the target is reached, then bisects. Simulation noise makes the
    answer uncertain by a few participants; raise ``n_sims`` for a final plan.

    Raises
    ------
    ValueError
        When even ``max_participants`` does not reach the target.
    """
    if not 0 < target_power < 1:
        raise ValueError("target_power must be between 0 and 1, e.g. 0.8.")
    low, high = 4, 5
    while simulated_power(high, effect, config, n_sims, alpha, seed) < target_power:
        low, high = high, high * 2
        if high > max_participants:
            raise ValueError(
                f"Even {max_participants} participants do not reach power {target_power}; "
                "the effect is too small for this design (add questions or participants)."
            )
    while high - low > 1:
        mid = (low + high) // 2
        if simulated_power(mid, effect, config, n_sims, alpha, seed) >= target_power:
            high = mid
        else:
            low = mid
    return high


def paired_t_participants(dz: float, target_power: float = 0.8, alpha: float = 0.05) -> int:
    """Participants for a paired t-test with standardised mean difference ``dz`` (statsmodels).

    Dividing by 0.955 (the Wilcoxon test's asymptotic relative efficiency under normality)
    gives a rough signed-rank figure.
    """
    if dz <= 0:
        raise ValueError("dz must be a positive standardised difference, e.g. 0.5.")
    n = TTestPower().solve_power(
        effect_size=dz, alpha=alpha, power=target_power, alternative="two-sided"
    )
    return int(np.ceil(n))


def _wilson(p: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)
