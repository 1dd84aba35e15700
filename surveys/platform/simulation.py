"""The demo's simulated study: participants of a stated model take it over HTTP, then the export.

The researcher's side knows what the simulation is about: every rendered stimulus's pictures
(read back from storage, to recognise them as a rater sees them) and its measures, from which
:func:`~surveys.platform.simulated_raters.stimulus_effects` makes the model's per-picture part.
The participants know only their URLs (:mod:`.simulated_participant`). They enter one after
another, so the balanced allocation deals them into the question sets in a fixed order, and
then answer side by side, each waiting the study's minimum time and their own think time on
every question, as people taking it at the same time would.

A study that already has simulated participants is topped up to the number asked for, so
running the demo again analyses the same study instead of adding a second crowd.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from django.core.files.storage import default_storage

from surveys.common.pseudonyms import pseudonym, pseudonym_key
from surveys.models import (
    Participant,
    ParticipantStatus,
    Question,
    QuestionKind,
    Stimulus,
    StimulusStatus,
    Study,
)
from surveys.platform.simulated_participant import Page, Walk, answer_study, enter_study
from surveys.platform.simulated_raters import (
    RaterModel,
    SimulatedRater,
    picture_key,
    simulated_raters,
    stimulus_effects,
)
from surveys.results.measure_columns import PREFIX

SIMULATED_PREFIX = "sim-"
PROGRESS_EVERY = 10

Say = Callable[[str], None]


@dataclass(frozen=True)
class SimulationSummary:
    """What a simulation run did.

    Attributes:
        walked: Participants who took the study in this run.
        completed: Simulated participants who have completed it, earlier runs included.
        careless: Careless raters among those who walked in this run.
        seconds: Wall time of the walks.
        careless_ids: Recruiter IDs of every careless rater of this run.
    """

    walked: int
    completed: int
    careless: int
    seconds: float
    careless_ids: tuple[str, ...] = ()


def _read(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        data: bytes = handle.read()
        return data


def picture_table(study: Study) -> pd.DataFrame:
    """One row per rendered stimulus (practice pictures aside): its pictures' ``key``, method,
    image, whether a regular question shows it, and its stored measures."""
    regular = set(
        Question.objects.filter(study=study, kind=QuestionKind.REGULAR).values_list(
            "stimulus_id", flat=True
        )
    )
    stimuli = Stimulus.objects.filter(
        study=study, status=StimulusStatus.DONE, practice=False
    ).select_related("condition")
    rows = [
        {
            "key": picture_key(_read(s.original.name), _read(s.overlay.name)),
            "method": s.condition.label,
            "image": s.image_id,
            "regular": s.pk in regular,
            **(s.measures or {}),
        }
        for s in stimuli.order_by("id")
    ]
    # Two stimuli with identical pictures look the same to anyone; a rater rates them alike.
    return pd.DataFrame(rows).drop_duplicates("key").reset_index(drop=True)


def pid(number: int) -> str:
    """The recruiter ID of simulated participant ``number`` (0-based)."""
    return f"{SIMULATED_PREFIX}{number + 1:04d}"


def do_simulate_participants(
    base_url: str,
    study: Study,
    total: int,
    model: RaterModel,
    say: Say,
    workers: int | None = None,
) -> SimulationSummary:
    """Let simulated participants take ``study`` at ``base_url`` until ``total`` have completed,
    ``workers`` of them at a time (all at once by default).

    Raises:
        WalkError: The survey did not lead a participant where it should have.
        ValueError: The model's measure cannot rate the study's pictures.
    """
    simulated = Participant.objects.filter(study=study, external_id__startswith=SIMULATED_PREFIX)
    started = simulated.count()
    completed = simulated.filter(status=ParticipantStatus.COMPLETED).count()
    wanted = max(0, total - completed)
    if wanted == 0:
        say(f"{completed} simulated participants have already completed the study")
        return SimulationSummary(0, completed, 0, 0.0)
    effects = stimulus_effects(picture_table(study), model)
    numbers = range(started, started + wanted)
    raters = simulated_raters(numbers, total, model, effects)
    careless = sum(r.careless for r in raters)
    say(
        f"{wanted} simulated participants ({careless} careless) take the study over HTTP; "
        f"each waits {study.min_seconds_per_question:g} s per question and its think time"
    )
    began = time.monotonic()
    # One after another, so the allocation deals the question sets in a fixed order.
    pages = [enter_study(base_url, study.code, pid(r.number)) for r in raters]
    walks = _answer_all(pages, raters, study.min_seconds_per_question, say, workers)
    seconds = time.monotonic() - began
    codes_shown = sum(study.completion_code in walk.completion_page for walk in walks)
    if codes_shown != len(walks):
        raise RuntimeError(
            f"{len(walks) - codes_shown} simulated participants finished without the "
            "completion code"
        )
    ids = tuple(pid(r.number) for r in raters if r.careless)
    done = simulated.filter(status=ParticipantStatus.COMPLETED).count()
    return SimulationSummary(len(walks), done, careless, seconds, ids)


def _answer_all(
    pages: list[Page],
    raters: list[SimulatedRater],
    min_seconds: float,
    say: Say,
    workers: int | None,
) -> list[Walk]:
    finished: list[Walk] = []

    def walk(index: int) -> Walk:
        result = answer_study(pages[index], min_seconds, raters[index])
        finished.append(result)
        if len(finished) % PROGRESS_EVERY == 0 or len(finished) == len(raters):
            say(f"{len(finished)}/{len(raters)} simulated participants completed")
        return result

    with ThreadPoolExecutor(max_workers=workers or len(raters)) as pool:
        return list(pool.map(walk, range(len(raters))))


def careless_excluded(study: Study, participants_csv: Path, careless_ids: tuple[str, ...]) -> str:
    """Which rule the export's participants table names for each careless rater, in words."""
    table = pd.read_csv(participants_csv, dtype=str, keep_default_na=False)
    key = pseudonym_key(study)
    rules = dict(zip(table["participant"], table["excluded_by_rule"], strict=True))
    found = [rules.get(pseudonym(careless, key), "") for careless in careless_ids]
    removed = [rule for rule in found if rule]
    kept = table[table["excluded_by_rule"] == ""]
    by_rule = ", ".join(f"{n} by {rule!r}" for rule, n in pd.Series(removed).value_counts().items())
    return (
        f"careless raters excluded: {len(removed)} of {len(found)}"
        + (f" ({by_rule})" if by_rule else "")
        + f"; participants analysed: {len(kept)} of {len(table)}"
    )


def slope_recovery(report_dir: Path, model: RaterModel) -> str:
    """The report's within-method slope of the model's measure against the simulated ``beta``."""
    path = report_dir / "human_vs_objective_slopes.csv"
    measure = PREFIX + model.measure
    if not path.exists():
        return f"the report has no People versus metrics tables ({path.name} is missing)"
    slopes = pd.read_csv(path)
    row = slopes[slopes["measure"] == measure]
    if row.empty:
        return f"the report did not analyse {measure}"
    estimate, low, high = (float(row.iloc[0][c]) for c in ("estimate", "ci_low", "ci_high"))
    verdict = "recovered" if low <= model.beta <= high else "NOT inside the interval"
    return (
        f"simulated slope {model.beta:g} log-odds per SD of {measure}; estimated "
        f"{estimate:.2f} [{low:.2f}, {high:.2f}]: {verdict}"
    )


__all__ = [
    "SIMULATED_PREFIX",
    "SimulationSummary",
    "careless_excluded",
    "do_simulate_participants",
    "picture_table",
    "pid",
    "slope_recovery",
]
