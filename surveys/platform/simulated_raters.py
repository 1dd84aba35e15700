"""How the demo's simulated participants rate a picture: a stated model of its measures.

One answer of participant ``p`` to the picture of stimulus ``s`` (image ``i`` under method
``m``) is drawn from the model of :mod:`analysis.simulate_measures`::

    eta = beta * z(measure_s) + a_m + u_p + w_s + v_i
    P(score <= j) = logistic(theta_j - eta),   j = 1..4

``z`` is the stimulus's measure (by default the share of its map's energy on the annotated
parts) in SDs over the study's regular stimuli, each counted once; ``a_m`` the method effects
(none by default: the methods differ only as far as their maps do); ``u_p ~ N(0,
participant_sd^2)``, the stimulus's own appeal beyond its measure ``w_s ~ N(0, item_sd^2)``
and the image's ``v_i ~ N(0, image_sd^2)``; ``theta`` the cut-points of :mod:`analysis.simulate`.
Gold pictures are rated by the same model from their own measures, on the same scale; an
attentive rater gives an instructed item the answer it asks for.

A share ``careless_fraction`` of the raters ignore the picture and the instruction and answer
uniformly at random, quickly: ``careless_think_s`` after the scale unlocks against the attentive
raters' ``attentive_think_s`` (log-normal, median as given). The times are real: the
participant waits them and reports what it waited, so the study's own speed rule decides
whether a careless rater's answers are analysed.

A rater recognises a stimulus only by its two pictures as the survey served them
(:func:`picture_key`); the researcher's side builds the table of every picture's ``eta`` part
from the stored files and measures. Every draw is seeded by the rater, the picture and how
often the rater has seen it, so a study gives the same answers whatever order its questions
come in.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.simulate import DEFAULT_THRESHOLDS, draw_cumulative_logit

# Streams of the seeded generator, so that the study's effects, each rater's own draws and
# each answer never share random numbers.
_STIMULUS_STREAM, _RATER_STREAM, _ANSWER_STREAM = 1, 2, 3
_KEY_DIGITS = 15


@dataclass(frozen=True)
class RaterModel:
    """The generative model's settings (see the module docstring).

    Attributes:
        measure: The stored measure that drives the ratings.
        beta: Log-odds change of a higher rating per SD of the measure.
        method_effects: Log-odds effect of each method label (0 for one not named).
        participant_sd, item_sd, image_sd: SDs of the random intercepts.
        careless_fraction: Share of the raters who answer at random, fast.
        attentive_think_s, careless_think_s: Median seconds from the unlock to the answer.
        think_sdlog: SD of the log think time.
        thresholds: Four increasing cut-points.
        seed: Seed of every draw.
    """

    measure: str = "energy_in_part"
    beta: float = 1.0
    method_effects: Mapping[str, float] = field(default_factory=dict)
    participant_sd: float = 0.8
    item_sd: float = 0.3
    image_sd: float = 0.3
    careless_fraction: float = 0.15
    attentive_think_s: float = 1.8
    careless_think_s: float = 0.4
    think_sdlog: float = 0.25
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    seed: int = 0


@dataclass(frozen=True)
class Picture:
    """What a rater sees of one question: both pictures and the instruction, if any."""

    original: bytes
    overlay: bytes
    instructed: int | None = None


@dataclass(frozen=True)
class Rating:
    """A rater's answer and the seconds it takes after the scale unlocks."""

    score: int
    think_s: float


def picture_key(original: bytes, overlay: bytes) -> str:
    """The stimulus a pair of pictures shows, as a rater can tell it: their content's hash."""
    digest = hashlib.sha256()
    for data in (original, overlay):
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


def stimulus_effects(stimuli: pd.DataFrame, model: RaterModel) -> dict[str, float]:
    """Each picture's part of ``eta`` that does not depend on the rater.

    Args:
        stimuli: One row per stimulus: ``key`` (:func:`picture_key`), ``method``, ``image``,
            ``regular`` (shown by regular questions) and the model's measure (NaN where the
            stimulus has none: such a picture is rated at the measure's mean).
        model: The generative model.

    Raises:
        ValueError: A missing column, or a measure that does not vary over the regular stimuli.
    """
    missing = [c for c in ("key", "method", "image", "regular", model.measure) if c not in stimuli]
    if missing:
        raise ValueError(f"the stimuli table lacks {missing}")
    frame = stimuli.sort_values("key", kind="stable").reset_index(drop=True)
    values = pd.to_numeric(frame[model.measure], errors="coerce").to_numpy(dtype=float)
    regular = values[frame["regular"].to_numpy(dtype=bool) & np.isfinite(values)]
    spread = float(np.std(regular, ddof=1)) if len(regular) > 1 else 0.0
    if not spread > 0:
        raise ValueError(
            f"measure {model.measure!r} does not vary over the regular stimuli; the model "
            "cannot rate pictures by it"
        )
    z = np.nan_to_num((values - float(regular.mean())) / spread, nan=0.0)
    rng = np.random.default_rng([model.seed, _STIMULUS_STREAM])
    item = rng.normal(0.0, model.item_sd, len(frame))
    images, n_images = pd.factorize(frame["image"].astype(str))[0], frame["image"].nunique()
    image = rng.normal(0.0, model.image_sd, n_images)[images]
    method = frame["method"].astype(str).map(lambda m: model.method_effects.get(m, 0.0))
    eta = model.beta * z + method.to_numpy(dtype=float) + item + image
    return dict(zip(frame["key"].astype(str), eta.tolist(), strict=True))


class SimulatedRater:
    """One participant of the model: their intercept, whether careless, and their answers."""

    def __init__(
        self, number: int, careless: bool, model: RaterModel, effects: Mapping[str, float]
    ) -> None:
        self.number, self.careless, self.model, self.effects = number, careless, model, effects
        rng = np.random.default_rng([model.seed, _RATER_STREAM, number])
        self.intercept = float(rng.normal(0.0, model.participant_sd))
        self._seen: Counter[str] = Counter()

    def rate(self, picture: Picture) -> Rating:
        """The answer to a question showing ``picture``.

        Raises:
            KeyError: A picture the effects table does not hold (not one of the study's).
        """
        key = picture_key(picture.original, picture.overlay)
        if key not in self.effects:
            raise KeyError(f"a picture of no known stimulus (key {key[:12]}...)")
        occurrence = self._seen[key]
        self._seen[key] += 1
        seed = [self.model.seed, _ANSWER_STREAM, self.number, int(key[:_KEY_DIGITS], 16)]
        rng = np.random.default_rng([*seed, occurrence])
        median = self.model.careless_think_s if self.careless else self.model.attentive_think_s
        think = float(rng.lognormal(math.log(median), self.model.think_sdlog))
        if self.careless:
            return Rating(int(rng.integers(1, 6)), think)
        if picture.instructed is not None:
            return Rating(picture.instructed, think)
        eta = np.array([self.effects[key] + self.intercept])
        score = draw_cumulative_logit(eta, np.asarray(self.model.thresholds), rng)[0]
        return Rating(int(score), think)


def simulated_raters(
    numbers: Sequence[int], total: int, model: RaterModel, effects: Mapping[str, float]
) -> list[SimulatedRater]:
    """Raters ``numbers`` of a study of ``total``: ``round(careless_fraction * total)`` of the
    ``total`` are careless, chosen with the seed, so a study topped up later keeps its share."""
    if not 0.0 <= model.careless_fraction <= 1.0:
        raise ValueError("careless_fraction must lie between 0 and 1")
    rng = np.random.default_rng([model.seed, _RATER_STREAM])
    count = round(model.careless_fraction * total)
    careless = set(rng.permutation(total)[:count].tolist())
    return [SimulatedRater(n, n in careless, model, effects) for n in numbers]


__all__ = [
    "Picture",
    "RaterModel",
    "Rating",
    "SimulatedRater",
    "picture_key",
    "simulated_raters",
    "stimulus_effects",
]
