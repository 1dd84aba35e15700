"""Exports of a study, all read from the live database.

* ``responses.csv``: one row per answer, in exactly the long format ``python -m analysis
  report`` reads, with pseudonymised participants and the gold-trial outcomes
  (:mod:`.responses` documents every column and the gold rules);
* ``participants.csv``: one row per participant (:mod:`.people`);
* ``stimuli.csv``: the manifest linking every rendered file to its run, prototype, image and
  style (:mod:`.stimuli`);
* ``report/``: the full analysis (``analysis.run_report``: Markdown, JSON, LaTeX, Figure 10 and
  the participant flow as PNG, SVG and PDF) under the study's pre-declared exclusion rules,
  opening with the frozen plan and closing with every deviation from it;
* ``preregistration.json`` and ``preregistration.txt``: the frozen plan (its canonical text,
  SHA-256, time and the deviations recorded since; ``python -m analysis report --plan`` reads
  it) and the same as AsPredicted-style text, once the study has opened.

No export ever contains a recruiter's participant ID. Files are written atomically
(:mod:`surveys.common.files`), and the CSV downloads stream in chunks.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import pandas as pd

from analysis import ExclusionRules, Exclusions, ReportConfig, run_report
from analysis.preregistration import FrozenPlan, aspredicted_text
from analysis.report import StudyContext, config_from_plan
from surveys.common.files import (
    build_folder_atomic,
    csv_chunks,
    write_atomic,
    write_csv_atomic,
    zip_folder,
)
from surveys.models import Study
from surveys.results.exclusions import ExclusionOutcome, apply_study_rules, check_exclusion_rules
from surveys.results.measure_columns import present_measures
from surveys.results.people import PARTICIPANT_COLUMNS, iter_participant_rows
from surveys.results.responses import (
    RESPONSE_COLUMNS,
    frame_of_rows,
    iter_response_rows,
    responses_frame,
)
from surveys.results.stimuli import STIMULUS_COLUMNS, iter_stimulus_rows
from surveys.studies.protocol import frozen_plan

NO_ANSWERS = "The study has no answers yet: the report was skipped; the CSVs have headers only."
SKIPPED_NOTE = "REPORT-SKIPPED.txt"
Progress = Callable[[str], None]


class ExportKind(StrEnum):
    RESPONSES = "responses"
    PARTICIPANTS = "participants"
    STIMULI = "stimuli"
    REPORT = "report"


class ExportError(ValueError):
    """An export cannot be made as asked; the message says why and what to do."""


@dataclass
class ExportSummary:
    """What an export wrote."""

    out_dir: Path
    responses: int = 0
    participants: int = 0
    stimuli: int = 0
    report_files: list[Path] = field(default_factory=list)
    report_note: str = ""


def check_export_kind(value: str) -> ExportKind:
    """Parse the ``what`` of a download request.

    Raises:
        ExportError: ``value`` names no export.
    """
    try:
        return ExportKind(value)
    except ValueError:
        known = ", ".join(kind.value for kind in ExportKind)
        raise ExportError(f"Unknown export {value!r}; ask for one of: {known}.") from None


def csv_download(study: Study, kind: ExportKind) -> tuple[str, Iterator[str]]:
    """The file name and the streamed CSV text of one table of the study."""
    name = f"{study.slug}-{kind.value}.csv"
    if kind is ExportKind.RESPONSES:
        return name, csv_chunks(RESPONSE_COLUMNS, iter_response_rows(study))
    if kind is ExportKind.STIMULI:
        return name, csv_chunks(STIMULUS_COLUMNS, iter_stimulus_rows(study))
    if kind is ExportKind.PARTICIPANTS:
        rules = check_exclusion_rules(study)
        responses = responses_frame(study)
        removed = apply_study_rules(responses, rules).removed
        return name, csv_chunks(
            PARTICIPANT_COLUMNS, iter_participant_rows(study, responses, removed)
        )
    raise ExportError(f"{kind.value} is not a CSV table; it is the zip of everything.")


def do_export_results(
    study: Study, out_dir: Path, progress: Progress | None = None
) -> ExportSummary:
    """Write responses.csv, participants.csv, stimuli.csv and report/ into ``out_dir``.

    The answers are read once: the responses file, the participants table and the report are
    made from the same rows, so the three agree even while answers keep arriving, and the
    rules are applied once: the participants table and the report share the outcome.

    Raises:
        RulesError: The study's exclusion rules cannot be read (nothing is written).
    """
    say = progress or (lambda _line: None)
    rules = check_exclusion_rules(study)
    summary = ExportSummary(out_dir=out_dir)
    rows = list(iter_response_rows(study))
    summary.responses = write_csv_atomic(out_dir / "responses.csv", RESPONSE_COLUMNS, rows)
    say(f"[1/4] responses.csv: {summary.responses} answers")
    responses = frame_of_rows(rows)
    outcome = apply_study_rules(responses, rules)
    people = list(iter_participant_rows(study, responses, outcome.removed))
    summary.participants = write_csv_atomic(
        out_dir / "participants.csv", PARTICIPANT_COLUMNS, people
    )
    say(f"[2/4] participants.csv: {summary.participants} participants")
    summary.stimuli = write_csv_atomic(
        out_dir / "stimuli.csv", STIMULUS_COLUMNS, iter_stimulus_rows(study)
    )
    say(f"[3/4] stimuli.csv: {summary.stimuli} stimuli")
    frozen = frozen_plan(study)
    if frozen is not None:
        _write_plan(study, frozen, out_dir)
    participants = pd.DataFrame(people, columns=list(PARTICIPANT_COLUMNS))
    context = StudyContext(frozen, participants, platform_of(study))
    _write_report(study, responses, rules, outcome, summary, context)
    if summary.report_note:
        say("[4/4] report/: skipped")
    else:
        say(f"[4/4] report/: {len(summary.report_files)} files (Markdown, JSON, LaTeX, Figure 10)")
    return summary


def _write_report(
    study: Study,
    responses: pd.DataFrame,
    rules: ExclusionRules,
    outcome: ExclusionOutcome,
    summary: ExportSummary,
    context: StudyContext,
) -> None:
    if summary.responses == 0:
        summary.report_note = NO_ANSWERS
        return
    if outcome.note:
        # The rules left nothing to analyse (or the answers cannot be read); the tables are
        # still worth having, so that is a note, not a failure.
        summary.report_note = f"the analysis refused the answers: {outcome.note}"
        return
    fields: dict[str, Any] = {
        "rules": rules,
        "seed": study.seed,
        "scale_labels": (study.scale_low_label, study.scale_high_label),
        # People versus metrics, on the measures this study's stimuli have.
        "measures": present_measures(responses),
    }
    # The frozen plan fixes the multiplicity, alpha, reference and slopes of the analysis.
    plan = context.plan.plan if context.plan is not None else None
    config = config_from_plan(plan, **fields) if plan is not None else ReportConfig(**fields)
    written: list[str] = []

    def build(folder: Path) -> None:
        exclusions = Exclusions(outcome.kept, outcome.log, dict(outcome.removed))
        report = run_report(responses, folder, config, exclusions, context)
        written.extend(Path(p).name for p in report.files)

    try:
        target = build_folder_atomic(summary.out_dir / "report", build)
    except ValueError as err:
        # The analysis refuses data it cannot analyse (e.g. every answer excluded) with a
        # fix-it message; the tables are still worth having, so that is a note, not a failure.
        summary.report_note = f"the analysis refused the answers: {err}"
        return
    summary.report_files = [target / name for name in written]


def platform_of(study: Study) -> dict[str, object]:
    """Recruiter and pay as the study states them now (pay is not frozen: it may be raised)."""
    return {
        "recruiter": study.get_recruiter_display(),
        "reward": str(study.reward),
        "currency": study.currency,
        "estimated_minutes": study.estimated_minutes,
    }


def _write_plan(study: Study, frozen: FrozenPlan, out_dir: Path) -> None:
    """preregistration.json (with the platform beside the plan, outside its hash) and .txt."""

    data = {**frozen.to_dict(), "platform": platform_of(study)}
    plan = json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")
    write_atomic(out_dir / "preregistration.json", lambda handle: handle.write(plan))
    text = aspredicted_text(frozen).encode("utf-8")
    write_atomic(out_dir / "preregistration.txt", lambda handle: handle.write(text))


@dataclass(frozen=True)
class Download:
    """One download: a streamed CSV (``chunks``) or a finished file (``file``, caller closes)."""

    filename: str
    content_type: str
    chunks: Iterator[str] | None = None
    file: IO[bytes] | None = None


def access_download(study: Study, what: str) -> Download:
    """The download a researcher asked for with ``?what=``.

    Raises:
        ExportError: ``what`` names no export.
        RulesError: The participants table or the report needs the study's exclusion rules and
            they cannot be read.
    """
    kind = check_export_kind(what)
    if kind is ExportKind.REPORT:
        name, archive = export_archive(study)
        return Download(name, "application/zip", file=archive)
    name, chunks = csv_download(study, kind)
    return Download(name, "text/csv; charset=utf-8", chunks=chunks)


def export_archive(study: Study) -> tuple[str, IO[bytes]]:
    """A zip of every export (the one-click download), in an anonymous temporary file.

    The caller owns the returned file and must close it; nothing is left on disk.
    """
    with tempfile.TemporaryDirectory(prefix="export-") as folder:
        out = Path(folder) / "results"
        summary = do_export_results(study, out)
        if summary.report_note:
            write_atomic(out / SKIPPED_NOTE, lambda f: f.write(summary.report_note.encode()))
        # Returned open: the response streams it and closes it, and it vanishes on close.
        archive = tempfile.TemporaryFile(suffix=".zip")  # noqa: SIM115
        zip_folder(out, archive)
    archive.seek(0)
    return f"{study.slug}-results.zip", archive
