"""The blind desk: while data collection is open the desk shows data-quality figures only;
outcomes by condition (means, Figure 10, the answer downloads) appear once the study is closed
or the researcher unblinds it, which is recorded and reported as a deviation."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from django.http import FileResponse
from django.test import Client
from django.urls import reverse

from analysis.preregistration import read_plan
from surveys.models import Study, StudyStatus
from surveys.results.desk import BlindError, figure_png, study_status
from surveys.results.exports import do_export_results
from surveys.studies.lifecycle import do_close_study, do_open_study
from tests.surveys.results.fixtures import LABELS, RULES, DeskStudy

SECTIONS = (
    "## Pre-registration",
    "## Design",
    "## Participant flow",
    "## Platform, dates and pay",
    "## Quality checks and reliability",
    "## Primary analysis",
    "## Secondary analyses",
    "## Deviations from the plan",
)


def url(name: str, **query: str) -> str:
    path = reverse(f"surveys:{name}", args=["saliency-pilot"])
    return path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def _plan() -> dict[str, object]:
    """A plan as a spec would declare it for the desk study (4 participants, its rules)."""
    return {
        "format": "protopool-study-plan/1",
        "study": {"slug": "saliency-pilot", "title": "Saliency pilot"},
        "preregistration": {
            "hypotheses": [
                {"id": "H1", "statement": "Focal beats the tree.", "direction": "greater",
                 "compare": [LABELS[0], LABELS[2]]},
            ],
            "primary_test": {"model": "primary_model", "reference": None, "slopes": False},
            "alpha": 0.05,
            "multiplicity": "holm",
            "sample_size": {"participants": 4, "target_power": 0.8, "effect_log_odds": 0.8,
                            "justification": "a pilot"},
            "stopping_rule": "Stop at 4 completed participants.",
            "exclusions": "By the declared rules.",
            "replacement": "no_replacement",
        },
        "design": {"conditions": [{"label": label, "dataset": "SynthBirds"} for label in LABELS],
                   "question_sets": "latin_square", "prototype_rule": "random"},
        "exclusion_rules": RULES,
        "participants_wanted": 4,
    }  # fmt: skip


@pytest.fixture
def open_study(desk_study: DeskStudy) -> Study:
    study = desk_study.study
    Study.objects.filter(pk=study.pk).update(status=StudyStatus.READY, preregistration=_plan())
    study.refresh_from_db()
    do_open_study(study)
    return study


def test_an_open_study_shows_data_quality_but_no_outcomes(open_study: Study) -> None:
    status = study_status(open_study)

    assert status.blind
    # data quality: counts, times, gold and attention pass rates, test-retest, exclusions
    assert (status.participants.started, status.answers) == (8, 70)
    assert status.median_client_rt_ms == 2500
    assert {row.kind for row in status.gold_rates} == {
        "gold_object", "gold_background", "instructed", "repeat"
    }  # fmt: skip
    assert [row.measure for row in status.reliability] == [
        "weighted kappa (quadratic)",
        "ICC(A,1)",
    ]
    assert status.exclusions and status.answers_analysed == 23
    # outcomes: no mean score, no chart
    assert [row.mean_score for row in status.conditions] == [None, None, None]
    with pytest.raises(BlindError, match="desk is blind"):
        figure_png(open_study)


def test_the_blind_desk_over_http(open_study: Study, staff_client: Client) -> None:
    page = staff_client.get(url("desk")).content.decode()
    live = staff_client.get(url("desk_live")).content.decode()

    assert 'data-blind="desk"' in page and url("desk_unblind") in page
    assert 'data-blind="figure"' in live and "desk/figure.png" not in live
    assert live.count(">hidden<") == 3
    # the condition means (3.89 for the first) appear nowhere
    assert not re.search(r">\s*3\.89\s*<", page + live)
    assert 'data-gold="instructed"' in live and 'data-reliability="ICC(A,1)"' in live
    figure = staff_client.get(url("desk_figure"))
    assert figure.status_code == 403 and b"desk is blind" in figure.content
    for what in ("responses", "report"):
        refused = staff_client.get(url("desk_export", what=what))
        assert refused.status_code == 409 and b"until the study is closed" in refused.content
    # tables without scores stay available
    assert staff_client.get(url("desk_export", what="participants")).status_code == 200


def test_unblinding_is_recorded_with_who_and_when(open_study: Study, staff_client: Client) -> None:
    response = staff_client.post(url("desk_unblind"))

    assert response.status_code == 302 and response["Location"] == url("desk")
    open_study.refresh_from_db()
    assert open_study.unblinded_at is not None
    assert open_study.unblinded_by.username == "researcher"
    [event] = open_study.protocol_events
    assert event["kind"] == "unblinded" and event["by"] == "researcher"
    status = study_status(open_study)
    assert not status.blind and status.conditions[0].mean_score == pytest.approx(70 / 18)
    assert staff_client.get(url("desk_figure")).status_code == 200
    page = staff_client.get(url("desk")).content.decode()
    assert 'data-blind="unblinded"' in page and "by researcher" in page
    # unblinding again records nothing more
    staff_client.post(url("desk_unblind"))
    open_study.refresh_from_db()
    assert len(open_study.protocol_events) == 1


def test_closing_ends_the_blindness_without_a_deviation(open_study: Study) -> None:
    do_close_study(open_study)

    assert not study_status(open_study).blind
    assert figure_png(open_study) is not None
    assert open_study.protocol_events == [] and open_study.unblinded_at is None


def test_only_staff_may_unblind_and_only_by_post(
    open_study: Study, non_staff_client: Client, staff_client: Client
) -> None:
    for client in (Client(), non_staff_client):
        assert client.post(url("desk_unblind")).status_code == 302
    assert staff_client.get(url("desk_unblind")).status_code == 405
    open_study.refresh_from_db()
    assert open_study.unblinded_at is None


def test_the_export_opens_with_the_frozen_plan_and_lists_the_unblinding(
    open_study: Study, staff_client: Client, tmp_path: Path
) -> None:
    # given a study unblinded while open, then closed
    staff_client.post(url("desk_unblind"))
    open_study.refresh_from_db()
    do_close_study(open_study)

    summary = do_export_results(open_study, tmp_path)

    assert summary.report_note == ""
    markdown = (tmp_path / "report" / "report.md").read_text()
    positions = [markdown.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    assert markdown.index("## Pre-registration") < markdown.index("## Design")
    assert open_study.preregistration_sha256 in markdown
    deviations = markdown[markdown.index("## Deviations from the plan") :]
    assert "| unblinded |" in deviations and "by researcher" in deviations
    # 5 completed where 4 were planned
    assert "| different sample size | participants | 4 | 5 |" in deviations
    assert (tmp_path / "report" / "participant_flow.png").stat().st_size > 5000
    frozen = read_plan(tmp_path / "preregistration.json")
    assert frozen.sha256 == open_study.preregistration_sha256
    assert json.loads((tmp_path / "preregistration.json").read_text())["platform"]["currency"]
    assert "Frozen plan SHA-256" in (tmp_path / "preregistration.txt").read_text()
    # the one-click zip holds them too
    archive = staff_client.get(url("desk_export", what="report"))
    with zipfile.ZipFile(_spooled(archive)) as zipped:
        names = set(zipped.namelist())
    assert {"preregistration.json", "preregistration.txt", "report/report.md"} <= names


def _spooled(response: FileResponse) -> io.BytesIO:
    return io.BytesIO(b"".join(response.streaming_content))
