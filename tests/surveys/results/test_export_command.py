"""``manage.py export_results STUDY --out DIR``: every file, progress, and clear refusals."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.surveys.factories import ConditionFactory, StudyFactory
from tests.surveys.results.fixtures import (
    DeskStudy,
    build_desk_study,
)
from tests.surveys.storage import private_media


def export(*args: str) -> str:
    out = io.StringIO()
    call_command("export_results", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("handle", ["slug", "code"])
def test_writes_every_file_with_a_progress_line_per_step(
    desk_study: DeskStudy, tmp_path: Path, handle: str
) -> None:
    out = tmp_path / "results"

    text = export(getattr(desk_study.study, handle), "--out", str(out))

    for name in ("responses.csv", "participants.csv", "stimuli.csv"):
        assert (out / name).is_file(), name
    for name in ("report.md", "report.json", "tables.tex", "figure10.png", "figure10.pdf"):
        assert (out / "report" / name).is_file(), name
    assert "[1/4] responses.csv: 70 answers" in text
    assert "[2/4] participants.csv: 8 participants" in text
    assert "[3/4] stimuli.csv: 14 stimuli" in text
    assert "[4/4] report/:" in text and f"Done: {out}" in text
    for raw in desk_study.external_ids():
        assert raw not in text


def test_refuses_an_unknown_study_and_names_the_known_ones(
    desk_study: DeskStudy, tmp_path: Path
) -> None:
    with pytest.raises(CommandError, match="No study has the slug or code 'nope'.*saliency-pilot"):
        export("nope", "--out", str(tmp_path / "x"))
    assert not (tmp_path / "x").exists()


def test_a_study_without_answers_gets_headers_and_no_report(db, tmp_path: Path) -> None:
    study = StudyFactory(slug="empty-study")
    ConditionFactory(study=study)

    text = export("empty-study", "--out", str(tmp_path))

    assert "The study has no answers yet: the report was skipped" in text
    assert (tmp_path / "responses.csv").read_text().startswith("participant,question,method,")
    assert len((tmp_path / "responses.csv").read_text().splitlines()) == 1
    assert len((tmp_path / "participants.csv").read_text().splitlines()) == 1
    assert not (tmp_path / "report").exists()


def test_unreadable_rules_stop_the_export_before_any_file(db, tmp_path: Path) -> None:
    StudyFactory(slug="bad-rules", exclusion_rules={"straightline": 0.9})

    with pytest.raises(CommandError, match=r"unknown field\(s\) \['straightline'\]"):
        export("bad-rules", "--out", str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_refuses_an_out_path_that_is_a_file(desk_study: DeskStudy, tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("keep me")

    with pytest.raises(CommandError, match="is a file; give a folder"):
        export("saliency-pilot", "--out", str(target))
    assert target.read_text() == "keep me"


def test_a_report_the_analysis_refuses_is_a_note_not_a_failure(
    db: None, settings: Any, tmp_path: Path
) -> None:
    private_media(settings, tmp_path)
    build_desk_study(rules={"min_median_rt_ms": 60_000})  # everyone is "too fast"

    text = export("saliency-pilot", "--out", str(tmp_path / "out"))

    assert "[4/4] report/: skipped" in text
    assert "the analysis refused the answers: The exclusion rules removed every answer" in text
    assert (tmp_path / "out" / "responses.csv").is_file()
    assert not (tmp_path / "out" / "report").exists()
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]
