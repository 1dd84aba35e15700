"""Simulate ratings from a stated model of the stimuli's objective measures.

The generative model, one answer of participant ``p`` on stimulus ``s`` (an image ``i`` under
a method ``m``)::

    eta = beta * z(measure_s) + a_m + u_p + w_s + v_i + c_k
    P(score <= j) = logistic(theta_j - eta),   j = 1..4

with ``z`` the measure standardised over the stimuli (mean 0, SD 1, each stimulus once),
``a_m`` the method effects, participant effects ``u_p ~ N(0, participant_sd^2)``, the
stimulus's own appeal beyond its measure ``w_s ~ N(0, item_sd^2)``, image effects
``v_i ~ N(0, image_sd^2)`` (only distinguishable from ``w`` when an image is shown under
several methods), prototype effects ``c_k ~ N(0, prototype_sd^2)`` for the prototype ``k``
a stimulus shows (where the stimuli name one), and the logistic answer noise of the
cumulative logit itself; ``theta`` are the cut-points of :mod:`analysis.simulate`. For a
prototype's own metric (one value per prototype) ``z`` is taken over the prototypes
(:func:`analysis.measure_models.standardised`). A share ``careless_fraction`` of the
participants ignore the picture and answer uniformly at random from 1-5, fast (about 0.9 s an
answer against about 6 s): unless excluded, they pull the fitted slope towards zero.

This is the model :func:`analysis.measure_models.measure_slopes` fits, so a simulated study
tests that the analysis recovers its own generating ``beta``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis.measure_models import standardised
from analysis.simulate import DEFAULT_THRESHOLDS, draw_cumulative_logit
from analysis.stimulus_units import prototype_keys

ATTENTIVE_RT_MS = 6000.0
CARELESS_RT_MS = 900.0


def simulate_ratings_from_measures(
    stimuli: pd.DataFrame,
    n_participants: int,
    beta: float,
    measure: str = "energy_in_part",
    method_effects: Mapping[str, float] | None = None,
    participant_sd: float = 0.8,
    item_sd: float = 0.3,
    image_sd: float = 0.0,
    prototype_sd: float = 0.0,
    careless_fraction: float = 0.0,
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS,
    seed: int = 0,
) -> pd.DataFrame:
    """Simulate every participant's answers to the stimuli under the module's model.

    Parameters
    ----------
    stimuli
        One row per stimulus: ``item`` and ``method`` and the ``measure`` column; optional
        ``image`` (default: the item), ``question`` (default: the item), ``dataset``,
        ``prototype`` (the prototype shown; pool indices may repeat across methods), and
        ``question_set`` (participant ``p`` then answers set ``p mod sets``, as in a Latin
        square; otherwise every participant answers every stimulus). Other columns (further
        measures) are copied onto each answer.
    n_participants
        Number of simulated raters.
    beta
        Log-odds change of a higher rating per SD of the measure.
    measure
        The column that drives the ratings.
    method_effects
        Log-odds effect of each method (0 for a method not named).
    participant_sd, item_sd, image_sd, prototype_sd
        SDs of the random intercepts (``prototype_sd`` needs a ``prototype`` column).
    careless_fraction
        Share of participants answering uniformly at random.
    thresholds
        Four increasing cut-points.
    seed
        Seed of the random generator.

    Returns
    -------
    pandas.DataFrame
        The long responses table (``participant, question, method, dataset, score, position,
        rt_ms, is_gold, image, item``, a ``careless`` flag, the stimuli's other columns).
    """
    frame = _checked_stimuli(stimuli, measure, n_participants, careless_fraction, thresholds)
    rng = np.random.default_rng(seed)
    z = standardised(frame, measure)
    effects = dict(method_effects or {})
    unknown = sorted(set(effects) - set(frame["method"]))
    if unknown:
        raise ValueError(f"method_effects names method(s) {unknown} that no stimulus has.")
    image_codes, n_images = pd.factorize(frame["image"])[0], frame["image"].nunique()
    a = frame["method"].map(lambda m: effects.get(m, 0.0)).to_numpy(dtype=float)
    u = rng.normal(0.0, participant_sd, n_participants)
    w = rng.normal(0.0, item_sd, len(frame))
    v = rng.normal(0.0, image_sd, n_images)
    keys = prototype_keys(frame)
    if keys is None and prototype_sd > 0:
        raise ValueError("prototype_sd needs a 'prototype' column in the stimuli table.")
    prototype_codes = (
        pd.factorize(keys)[0] if keys is not None else np.zeros(len(frame), dtype=np.int64)
    )
    n_prototypes = int(prototype_codes.max()) + 1
    # Drawn only when asked for, so that a seed without prototype effects gives the same study.
    c = rng.normal(0.0, prototype_sd, n_prototypes) if prototype_sd > 0 else np.zeros(n_prototypes)
    careless = rng.random(n_participants) < careless_fraction
    sets = frame["question_set"].to_numpy() if "question_set" in frame.columns else None
    set_labels = np.unique(sets) if sets is not None else None
    parts = []
    for p in range(n_participants):
        rows = np.arange(len(frame))
        if sets is not None and set_labels is not None:
            rows = np.flatnonzero(sets == set_labels[p % len(set_labels)])
        eta = beta * z[rows] + a[rows] + u[p] + w[rows] + v[image_codes[rows]]
        eta = eta + c[prototype_codes[rows]]
        if careless[p]:
            scores = rng.integers(1, 6, size=len(rows)).astype(np.int8)
            rt = rng.lognormal(np.log(CARELESS_RT_MS), 0.3, len(rows))
        else:
            scores = draw_cumulative_logit(eta, np.asarray(thresholds), rng)
            rt = rng.lognormal(np.log(ATTENTIVE_RT_MS), 0.5, len(rows))
        answers = frame.iloc[rows].copy()
        answers.insert(0, "participant", f"P{p + 1:0{len(str(n_participants))}d}")
        answers["score"] = scores
        answers["position"] = rng.permutation(len(rows))
        answers["rt_ms"] = np.round(rt).astype(np.int64)
        answers["careless"] = bool(careless[p])
        parts.append(answers)
    out = pd.concat(parts, ignore_index=True)
    out["is_gold"] = False
    return out


def _checked_stimuli(
    stimuli: pd.DataFrame,
    measure: str,
    n_participants: int,
    careless_fraction: float,
    thresholds: tuple[float, ...],
) -> pd.DataFrame:
    missing = [c for c in ("item", "method", measure) if c not in stimuli.columns]
    if missing:
        raise ValueError(
            f"The stimuli table lacks column(s) {missing}; give one row per stimulus with "
            "item, method and the measure."
        )
    if stimuli["item"].duplicated().any():
        raise ValueError("The stimuli table repeats an item; give one row per stimulus.")
    if stimuli[measure].isna().any():
        raise ValueError(f"Measure {measure!r} is missing on some stimuli; drop or fill them.")
    if n_participants < 1:
        raise ValueError("Simulate at least one participant.")
    if not 0.0 <= careless_fraction <= 1.0:
        raise ValueError("careless_fraction must lie between 0 and 1.")
    if len(thresholds) != 4 or np.any(np.diff(thresholds) <= 0):
        raise ValueError("thresholds must be four strictly increasing cut-points for 1-5.")
    frame = stimuli.reset_index(drop=True).copy()
    frame["item"] = frame["item"].astype(str)
    frame["method"] = frame["method"].astype(str)
    for column, default in (("image", frame["item"]), ("question", frame["item"])):
        if column not in frame.columns:
            frame[column] = default
        frame[column] = frame[column].astype(str)
    if "dataset" not in frame.columns:
        frame["dataset"] = "simulated"
    return frame


__all__ = ["simulate_ratings_from_measures"]
