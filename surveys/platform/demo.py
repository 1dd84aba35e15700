"""The demo's study: the demo runs in the catalogue, a small study built by the Celery worker.

Everything goes through the same services a researcher uses (``import_run``, the study spec,
the build); the study is the documented example spec (``configs/studies/example.yaml``) with a
smaller size, so the demo also proves that file works. ``--simulate`` builds a study of its own
for simulated participants (:func:`simulated_spec`): the example's design at full size, with
enough distinct prototypes per condition for the People versus metrics analysis.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

from surveys.catalogue.importing import do_import_run
from surveys.models import Study, StudyStatus
from surveys.studies.lifecycle import do_open_study, do_save_study, do_start_build
from surveys.studies.progress import build_progress
from surveys.studies.spec import check_study_spec

EXAMPLE_SPEC = Path("configs/studies/example.yaml")
DEMO_SLUG = "demo-synthbirds"
SIMULATED_SLUG = "demo-synthbirds-simulated"
BUILD_POLL_S = 0.5


@dataclass(frozen=True)
class DemoRun:
    """One trained run of the demo and the label it has in the catalogue and the spec."""

    run_dir: Path
    label: str


Say = Callable[[str], None]


def do_import_demo_runs(
    runs: list[DemoRun], data_dir: Path, say: Say, metrics: bool = False
) -> None:
    """Import (or find unchanged) every demo run, naming its prototypes from SynthBirds' parts
    and, with ``metrics``, measuring their consistency, stability and purity."""
    for run in runs:
        say(f"importing {run.label} from {run.run_dir}")
        result = do_import_run(
            run.run_dir, run.label, dataset_dir=data_dir, metrics=metrics, progress=say
        )
        named = result.run.prototypes.filter(proposed_name__isnull=False).count()
        say(f"{run.label}: {result.run.num_prototypes} prototypes, {named} named")


def demo_spec(runs: list[DemoRun], questions: int, min_seconds: float) -> dict[str, Any]:
    """The example spec, resized for the demo and pointed at the demo runs."""
    path = Path(settings.BASE_DIR) / EXAMPLE_SPEC
    spec: dict[str, Any] = yaml.safe_load(path.read_text())
    methods = {condition["run"]: condition["label"] for condition in spec["conditions"]}
    spec.update(
        slug=DEMO_SLUG,
        conditions=[{"run": run.label, "label": methods.get(run.label, run.label)} for run in runs],
        questions_per_dataset=questions,
        min_seconds_per_question=min_seconds,
        participants_wanted=50,
    )
    return spec


def simulated_spec(
    runs: list[DemoRun], questions: int, min_seconds: float, participants: int, prototypes: int
) -> dict[str, Any]:
    """The study the simulated participants take: the example's design, ``questions`` images,
    ``participants`` wanted and at least ``prototypes`` distinct prototypes per condition.

    Its slug names the number of participants, so asking for another number builds another
    study rather than crowding an open one past its places."""
    spec = demo_spec(runs, questions, min_seconds)
    spec.update(
        slug=f"{SIMULATED_SLUG}-{participants}",
        title=f"{spec['title']}, simulated participants",
        participants_wanted=participants,
        min_prototypes_per_condition=prototypes,
    )
    return spec


def do_demo_study(spec_data: dict[str, Any], say: Say, timeout_s: float) -> Study:
    """Save, build (on the worker) and open a demo study; an open one is reused as it is."""
    slug = spec_data["slug"]
    existing = Study.objects.filter(slug=slug).first()
    if existing is not None and existing.status == StudyStatus.OPEN:
        say(f"study {slug} is already open; reusing it")
        return existing
    spec = check_study_spec(spec_data, EXAMPLE_SPEC.parent)
    saved = do_save_study(spec)
    for note in saved.notes:
        say(f"design: {note}")
    study = saved.study
    start = do_start_build(study)
    say(f"rendering {start.pending} stimuli on the Celery worker")
    wait_for_build(study, say, timeout_s)
    do_open_study(study)
    return study


def wait_for_build(study: Study, say: Say, timeout_s: float) -> None:
    """Show the build's progress until every stimulus is rendered.

    Raises:
        RuntimeError: A stimulus failed for good, or the build did not finish in time.
    """
    deadline = time.monotonic() + timeout_s
    shown = -1
    while True:
        progress = build_progress(study)
        if progress.done != shown:
            shown = progress.done
            say(f"rendered {progress.done}/{progress.total} ({progress.percent:.0f} %)")
        if progress.failed:
            raise RuntimeError(
                f"{progress.failed} stimuli failed to render; see the study's page and the "
                "worker's log (var/demo/worker.log)"
            )
        study.refresh_from_db(fields=["status"])
        if progress.finished and study.status == StudyStatus.READY:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the build did not finish in {timeout_s:.0f} s ({progress.done}/{progress.total}"
                " rendered); is the worker running? see var/demo/worker.log"
            )
        time.sleep(BUILD_POLL_S)
