"""Sample-size planning for the study as it will be run: participants and images.

Power is the share of simulated studies in which the report's headline test
(:func:`analysis.primary.primary_model`: crossed participant and image intercepts, Holm across
method pairs) rejects at ``alpha``. Each simulated study has the design of the real one -- the
number of conditions, images per dataset and datasets, the Latin square or the paper's nested
design, the participant, image and item variances and the share of careless raters -- so the
answer accounts for what a participant-level power analysis leaves out: with images as a
random sample, adding participants stops helping once the images' own variance dominates, and
only more images do. The full model is fitted in every simulated study (no approximation);
studies are spread over processes.

An analytic paired-t answer from statsmodels is kept as a quick cross-check.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from statsmodels.stats.power import TTestPower
from tqdm import tqdm

from analysis.io import validate_ratings
from analysis.primary import primary_model
from analysis.simulate import (
    DEFAULT_DATASETS,
    DEFAULT_EFFECTS,
    DEFAULT_METHODS,
    DEFAULT_THRESHOLDS,
    SimulationConfig,
    simulate_ratings,
)
from analysis.spec_reader import read_spec_design

POWER_COLUMNS = (
    "participants",
    "images_per_dataset",
    "contrast",
    "power",
    "ci_low",
    "ci_high",
    "n_sims",
)
MIN_PARTICIPANTS = 5


@dataclass(frozen=True)
class PowerDesign:
    """The study a power analysis simulates.

    Attributes
    ----------
    participants
        Participants; each answers every regular question of their set.
    images_per_dataset
        Images drawn per dataset.
    datasets
        Dataset labels.
    methods, effects
        Conditions (compared within each dataset) and their log-odds effects.
    design
        ``"latin_square"`` (the platform's: every image under every condition, one set per
        participant) or ``"nested"`` (the paper's: each image under one condition).
    participant_sd, image_sd, item_sd
        SDs of the random intercepts on the logit scale.
    careless_fraction
        Share of raters who answer at random or straight-line (kept in: exclusions are not
        simulated, so this is the pessimistic case).
    gold_share
        Share of gold trials in a set. They are left out of the model, so they cost the
        participants' time but do not change power; stated for the record.
    thresholds
        The four cut-points of the 1-5 scale.
    """

    participants: int = 40
    images_per_dataset: int = 30
    datasets: tuple[str, ...] = DEFAULT_DATASETS
    methods: tuple[str, ...] = DEFAULT_METHODS
    effects: tuple[float, ...] = DEFAULT_EFFECTS
    design: str = "nested"
    participant_sd: float = 0.8
    image_sd: float = 0.5
    item_sd: float = 0.0
    careless_fraction: float = 0.0
    gold_share: float = 0.0
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS

    def __post_init__(self) -> None:
        if self.participants < MIN_PARTICIPANTS:
            raise ValueError(
                f"Power for fewer than {MIN_PARTICIPANTS} participants is meaningless; use "
                f"{MIN_PARTICIPANTS} or more."
            )
        if self.images_per_dataset < len(self.methods):
            raise ValueError(
                f"{self.images_per_dataset} images per dataset cannot show each of "
                f"{len(self.methods)} conditions; use at least one image per condition."
            )

    def simulation(self, seed: int) -> SimulationConfig:
        """The generator's configuration for one simulated study."""
        return SimulationConfig(
            participants=self.participants,
            questions=self.images_per_dataset * len(self.datasets),
            methods=self.methods,
            effects=self.effects,
            thresholds=self.thresholds,
            participant_sd=self.participant_sd,
            question_sd=self.image_sd,
            item_sd=self.item_sd,
            design=self.design,
            careless_fraction=self.careless_fraction,
            datasets=self.datasets,
            seed=seed,
        )


def one_study_p_values(design: PowerDesign, seed: int) -> np.ndarray:
    """Holm-adjusted p-values of every method pair in one simulated study."""
    df = validate_ratings(simulate_ratings(design.simulation(seed)))
    return primary_model(df).contrasts["p_adjusted"].to_numpy(dtype=float)


def _run(args: tuple[dict[str, object], int]) -> np.ndarray:
    fields, seed = args
    return one_study_p_values(PowerDesign(**fields), seed)  # type: ignore[arg-type]


def simulate_p_values(
    design: PowerDesign,
    n_sims: int = 200,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Adjusted p-values, shape (n_sims, pairs), of ``n_sims`` simulated studies.

    Parameters
    ----------
    design
        The study to simulate.
    n_sims
        Simulated studies.
    seed
        Study ``i`` uses seed ``seed * 1_000_003 + i``, so results do not depend on
        ``workers``.
    workers
        Processes; all cores by default, 1 to stay in this process.
    progress
        Show a progress bar on the terminal.
    """
    jobs = [(asdict(design), seed * 1_000_003 + i) for i in range(n_sims)]
    workers = min(os.cpu_count() or 1, n_sims) if workers is None else workers
    bar = tqdm(total=n_sims, desc="simulated studies", disable=not progress, leave=False)
    rows = []
    if workers <= 1:
        for job in jobs:
            rows.append(_run(job))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for row in pool.map(_run, jobs, chunksize=max(1, n_sims // (8 * workers))):
                rows.append(row)
                bar.update()
    bar.close()
    return np.vstack(rows)


def pair_labels(methods: tuple[str, ...]) -> list[str]:
    """``"a vs b"`` for every pair, in the order of the contrasts table."""
    return [f"{a} vs {b}" for a, b in combinations(methods, 2)]


def simulated_power(
    design: PowerDesign,
    n_sims: int = 200,
    alpha: float = 0.05,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Power of the headline test for every method pair at one design.

    Returns
    -------
    pandas.DataFrame
        Columns in ``POWER_COLUMNS``, one row per pair; the interval is Wilson's.
    """
    p = simulate_p_values(design, n_sims, seed, workers, progress)
    rows = []
    for label, column in zip(pair_labels(design.methods), p.T, strict=True):
        # A study whose fit gave no p-value counts as a miss.
        power = float(np.mean(np.nan_to_num(column, nan=1.0) < alpha))
        low, high = wilson_interval(power, n_sims)
        rows.append(
            (design.participants, design.images_per_dataset, label, power, low, high, n_sims)
        )
    return pd.DataFrame(rows, columns=list(POWER_COLUMNS))


def power_curve(
    design: PowerDesign,
    participants: tuple[int, ...] | None = None,
    images_per_dataset: tuple[int, ...] | None = None,
    n_sims: int = 200,
    alpha: float = 0.05,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Power of every pair over a grid of participants and images per dataset."""
    rows = []
    for n_p in participants or (design.participants,):
        for n_i in images_per_dataset or (design.images_per_dataset,):
            point = replace(design, participants=n_p, images_per_dataset=n_i)
            rows.append(simulated_power(point, n_sims, alpha, seed, workers, progress))
    return pd.concat(rows, ignore_index=True)


def required_size(
    design: PowerDesign,
    what: str = "participants",
    target_power: float = 0.8,
    contrast: int = 0,
    n_sims: int = 200,
    alpha: float = 0.05,
    maximum: int = 1000,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = False,
) -> int:
    """Smallest number of participants (or images per dataset) reaching ``target_power``.

    Doubles the size until the target is reached, then bisects; ``contrast`` indexes the pair
    (0: the first two methods). Simulation noise leaves the answer uncertain by a few units;
    raise ``n_sims`` for a final plan.

    Raises
    ------
    ValueError
        When even ``maximum`` does not reach the target -- with images as a random sample,
        more participants cannot make up for too few images.
    """
    if what not in ("participants", "images_per_dataset"):
        raise ValueError("what must be 'participants' or 'images_per_dataset'.")
    if not 0 < target_power < 1:
        raise ValueError("target_power must be between 0 and 1, e.g. 0.8.")

    def power_at(size: int) -> float:
        if what == "participants":
            point = replace(design, participants=size)
        else:
            point = replace(design, images_per_dataset=size)
        table = simulated_power(point, n_sims, alpha, seed, workers, progress)
        return float(table["power"].iloc[contrast])

    low = MIN_PARTICIPANTS - 1 if what == "participants" else len(design.methods) - 1
    current = design.participants if what == "participants" else design.images_per_dataset
    high = max(low + 1, current // 2)
    while power_at(high) < target_power:
        low, high = high, high * 2
        if high > maximum:
            other = "images" if what == "participants" else "participants"
            raise ValueError(
                f"Even {maximum} {what.replace('_', ' ')} do not reach power {target_power}; "
                f"the effect is too small for this design (add {other} as well)."
            )
    while high - low > 1:
        mid = (low + high) // 2
        if power_at(mid) >= target_power:
            high = mid
        else:
            low = mid
    return high


def paired_t_participants(dz: float, target_power: float = 0.8, alpha: float = 0.05) -> int:
    """Participants for a paired t-test with standardised mean difference ``dz`` (statsmodels).

    This treats the pictures as fixed: a quick cross-check, never the plan.
    """
    if dz <= 0:
        raise ValueError("dz must be a positive standardised difference, e.g. 0.5.")
    n = TTestPower().solve_power(
        effect_size=dz, alpha=alpha, power=target_power, alternative="two-sided"
    )
    return int(np.ceil(n))


def wilson_interval(p: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson's 95 % interval of a proportion ``p`` observed in ``n`` trials."""
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def design_from_spec(path: str | Path, **overrides: object) -> PowerDesign:
    """The power design of a study spec (``configs/studies/*.yaml``).

    The spec gives the conditions (grouped by their ``dataset`` field), the images per dataset,
    the gold share and the participants wanted; the platform always builds a Latin square.
    Variances, effects and the careless share are assumptions, passed as ``overrides``.
    """
    fields = read_spec_design(Path(path))
    fields.update(overrides)
    return PowerDesign(**fields)
