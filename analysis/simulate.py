"""Simulate Likert ratings from a cumulative-logit model with crossed random effects.

Each answer is drawn as ``P(Y <= j) = F(theta_j - eta)`` with
``eta = effect[method] + u[participant] + v[image] + w[item]`` and ``F`` the logistic CDF, which
is the same sign convention as :mod:`analysis.ordinal` and R's ``clm``/``clmm``.

Two designs are simulated. In the paper's (``"nested"``), each image is shown under one method
only and every participant rates every image, so a method's images are a small random sample of
its own. In the ``"latin_square"`` design every image is shown under every method, in as many
question sets as there are methods; a participant is given one set and sees each image once.
An item is one image under one method (a stimulus); ``item_sd`` adds its own intercept.
Careless raters either straight-line or answer uniformly at random, quickly. The generator
feeds the power analysis and the recovery test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DEFAULT_METHODS: tuple[str, ...] = ("protopool", "protopool-protopnet-sim", "prototree")
# Method effects and cut-points chosen so that, with the default variances, the expected means
# are close to the paper's 3.66 / 2.87 / 2.85.
DEFAULT_EFFECTS: tuple[float, ...] = (1.4, -0.1, -0.14)
DEFAULT_THRESHOLDS: tuple[float, ...] = (-2.2, -0.55, 0.85, 2.6)
DEFAULT_DATASETS: tuple[str, ...] = ("CUB-200-2011", "Stanford Cars")


@dataclass(frozen=True)
class SimulationConfig:
    """Design and generating parameters of a simulated study.

    Attributes
    ----------
    participants, questions
        Number of raters, and of questions each participant answers (all of them).
    methods, effects
        Method labels and their location effects on the log-odds scale.
    thresholds
        Four increasing cut-points of the cumulative logit.
    participant_sd, question_sd
        Standard deviations of the participant and image random intercepts (``question_sd``
        keeps its historical name: in the nested design an image is a question).
    item_sd
        Standard deviation of an extra intercept per item (image under one method); only
        distinguishable from the image's in the Latin-square design.
    design
        ``"nested"`` (the paper's: each image under one method) or ``"latin_square"``.
    careless_fraction
        Share of participants who straight-line or answer at random, fast.
    datasets
        Dataset labels, assigned to questions in turn.
    gold_questions
        Extra gold trials per participant, with an expected score of 5.
    seed
        Seed of the random generator.
    """

    participants: int = 40
    questions: int = 60
    methods: tuple[str, ...] = DEFAULT_METHODS
    effects: tuple[float, ...] = DEFAULT_EFFECTS
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    participant_sd: float = 0.8
    question_sd: float = 0.5
    item_sd: float = 0.0
    design: str = "nested"
    careless_fraction: float = 0.0
    datasets: tuple[str, ...] = DEFAULT_DATASETS
    gold_questions: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        if len(self.methods) != len(self.effects):
            raise ValueError(
                f"{len(self.methods)} methods but {len(self.effects)} effects; give one effect "
                "per method."
            )
        if len(self.thresholds) != 4 or np.any(np.diff(self.thresholds) <= 0):
            raise ValueError("thresholds must be four strictly increasing cut-points for 1-5.")
        if self.participants < 1 or self.questions < len(self.methods):
            raise ValueError("Need at least one participant and one question per method.")
        if self.design not in ("nested", "latin_square"):
            raise ValueError(f"design must be 'nested' or 'latin_square', not {self.design!r}.")
        if not 0.0 <= self.careless_fraction <= 1.0:
            raise ValueError("careless_fraction must lie between 0 and 1.")


def draw_cumulative_logit(
    eta: np.ndarray, thresholds: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draw scores 1..J+1 with ``P(Y <= j) = logistic(theta_j - eta)``.

    Parameters
    ----------
    eta
        Linear predictor, any shape.
    thresholds
        Increasing cut-points, shape (J,).
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        int8 scores with the shape of ``eta``.
    """
    # Y <= j exactly when the latent eta + logistic noise falls below theta_j.
    latent = eta + rng.logistic(size=np.shape(eta))
    return (1 + np.searchsorted(np.asarray(thresholds), latent)).astype(np.int8)


def simulate_ratings(config: SimulationConfig | None = None, **overrides: object) -> pd.DataFrame:
    """Simulate a long-format ratings table.

    Parameters
    ----------
    config
        Design and parameters; defaults reproduce the paper's study size.
    **overrides
        Fields of :class:`SimulationConfig` to replace.

    Returns
    -------
    pandas.DataFrame
        Columns ``participant, question, method, dataset, score, position, rt_ms, is_gold,
        gold_expected, image, item``, one row per answer.
    """
    cfg = config or SimulationConfig()
    if overrides:
        cfg = SimulationConfig(**{**cfg.__dict__, **overrides})
    rng = np.random.default_rng(cfg.seed)
    n_p, n_q, n_m = cfg.participants, cfg.questions, len(cfg.methods)
    image = np.tile(np.arange(n_q), (n_p, 1))
    if cfg.design == "latin_square":
        # Participant p is in set p mod M, where image i is shown under method (i + set) mod M.
        method = (image + (np.arange(n_p) % n_m)[:, None]) % n_m
    else:
        method = image % n_m
    q_dataset = (np.arange(n_q) // n_m) % len(cfg.datasets)
    u = rng.normal(0.0, cfg.participant_sd, n_p)
    v = rng.normal(0.0, cfg.question_sd, n_q)
    # Drawn only when asked for, so that earlier seeds still give the same studies.
    w = rng.normal(0.0, cfg.item_sd, (n_q, n_m)) if cfg.item_sd > 0 else np.zeros((n_q, n_m))
    eta = np.asarray(cfg.effects)[method] + u[:, None] + v[image] + w[image, method]
    scores = draw_cumulative_logit(eta, np.asarray(cfg.thresholds), rng)
    rt = rng.lognormal(np.log(6000.0), 0.5, size=(n_p, n_q))
    careless = rng.random(n_p) < cfg.careless_fraction
    if careless.any():
        scores, rt = _careless_answers(scores, rt, careless, rng)
    # Each participant sees the questions in their own random order.
    position = rng.permuted(np.tile(np.arange(n_q), (n_p, 1)), axis=1)
    width = len(str(n_q + 99))
    image_label = "I" + pd.Series(image.ravel()).astype(str).str.zfill(width)
    item_label = image_label + "-" + pd.Series(method.ravel()).astype(str)
    # A question is one stimulus: in the nested design that is one image.
    question = item_label if cfg.design == "latin_square" else "Q" + image_label.str[1:]
    frame = pd.DataFrame(
        {
            "participant": np.repeat(np.arange(n_p), n_q),
            "question": question.to_numpy(),
            "method": np.asarray(cfg.methods, dtype=object)[method.ravel()],
            "dataset": np.asarray(cfg.datasets, dtype=object)[q_dataset[image.ravel()]],
            "score": scores.ravel(),
            "position": position.ravel(),
            "rt_ms": np.round(rt.ravel()).astype(np.int64),
            "is_gold": False,
            "gold_expected": np.nan,
            "image": image_label.to_numpy(),
            "item": item_label.to_numpy(),
        }
    )
    if cfg.gold_questions:
        frame = pd.concat([frame, _gold_rows(cfg, careless, n_q, rng)], ignore_index=True)
    frame["participant"] = "P" + frame["participant"].astype(str).str.zfill(len(str(n_p)))
    return frame


def _careless_answers(
    scores: np.ndarray, rt: np.ndarray, careless: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    scores, rt = scores.copy(), rt.copy()
    idx = np.flatnonzero(careless)
    straight = rng.random(idx.size) < 0.5
    for row, is_straight in zip(idx, straight, strict=True):
        if is_straight:
            scores[row] = rng.integers(1, 6)
        else:
            scores[row] = rng.integers(1, 6, size=scores.shape[1])
        rt[row] = rng.lognormal(np.log(900.0), 0.3, size=scores.shape[1])
    return scores, rt


def _gold_rows(
    cfg: SimulationConfig, careless: np.ndarray, n_q: int, rng: np.random.Generator
) -> pd.DataFrame:
    n_g = cfg.gold_questions
    # Attentive raters give the obvious answer almost always; careless ones guess.
    attentive = rng.choice([5, 4], p=[0.95, 0.05], size=(cfg.participants, n_g))
    guessed = rng.integers(1, 6, size=(cfg.participants, n_g))
    scores = np.where(careless[:, None], guessed, attentive).astype(np.int8)
    question = "Q" + pd.Series(n_q + np.arange(n_g)).astype(str).str.zfill(len(str(n_q + 99)))
    return pd.DataFrame(
        {
            "participant": np.repeat(np.arange(cfg.participants), n_g),
            "question": np.tile(question.to_numpy(), cfg.participants),
            "method": "gold",
            "dataset": cfg.datasets[0],
            "score": scores.ravel(),
            "position": -1,
            "rt_ms": np.round(rng.lognormal(np.log(5000.0), 0.4, cfg.participants * n_g)),
            "is_gold": True,
            "gold_expected": 5.0,
            "image": np.tile(question.to_numpy(), cfg.participants),
            "item": np.tile(question.to_numpy(), cfg.participants),
        }
    )
