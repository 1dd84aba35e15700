"""The desk's pages over HTTP: staff only, the numbers, the live fragment, chart and downloads."""

from __future__ import annotations

import csv
import io
import zipfile

import pandas as pd
import pytest
from django.test import Client
from django.urls import reverse

import analysis
from surveys.results.views import NO_FIGURE
from tests.surveys.factories import ConditionFactory, StudyFactory
from tests.surveys.results.fixtures import (
    LABELS,
    DeskStudy,
)

DESK_PAGES = ["desk", "desk_live", "desk_figure", "desk_export"]


def url(name: str, slug: str = "saliency-pilot", **query: str) -> str:
    path = reverse(f"surveys:{name}", args=[slug])
    return path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


@pytest.mark.parametrize("name", DESK_PAGES)
def test_anonymous_and_non_staff_are_sent_to_the_login(
    desk_study: DeskStudy, non_staff_client: Client, name: str
) -> None:
    login = reverse("admin:login")
    for client in (Client(), non_staff_client):
        response = client.get(url(name, what="responses"))
        assert response.status_code == 302
        assert response["Location"].startswith(login)


def test_desk_page_shows_the_numbers_and_polls_the_live_fragment(
    desk_study: DeskStudy, staff_client: Client
) -> None:
    response = staff_client.get(url("desk"))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-stat="started">8<' in html and 'data-stat="completed">5<' in html
    assert 'data-stat="answers">70<' in html and "8.0 min" in html and "2500 ms" in html
    assert f'hx-get="{url("desk_live")}"' in html and 'hx-trigger="every 5s"' in html
    assert "htmx-2.0.11.min.js" in html
    for label in LABELS:
        assert label in html
    assert "straight-lining" in html and "12 of 14 stimuli rendered" in html
    assert f'src="{url("desk_figure")}?n=70"' in html
    for what in ("report", "responses", "participants", "stimuli"):
        assert url("desk_export", what=what) in html
    for raw in desk_study.external_ids():
        assert raw not in html


def test_live_fragment_is_only_the_fragment(desk_study: DeskStudy, staff_client: Client) -> None:
    response = staff_client.get(url("desk_live"), HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200 and "no-cache" in response["Cache-Control"]
    assert html.lstrip().startswith('<div id="desk-live"') and "<html" not in html
    assert 'data-stat="answers">70<' in html


def test_figure_is_a_png_and_says_so_without_answers(
    desk_study: DeskStudy, staff_client: Client
) -> None:
    response = staff_client.get(url("desk_figure"))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")

    StudyFactory(slug="quiet")
    empty = staff_client.get(url("desk_figure", slug="quiet"))
    assert empty.status_code == 404 and empty.content.decode() == NO_FIGURE
    page = staff_client.get(url("desk", slug="quiet")).content.decode()
    assert "No answers yet: the chart appears once answers arrive." in page
    assert "desk/figure.png" not in page


def test_responses_download_streams_the_analysis_csv(
    desk_study: DeskStudy, staff_client: Client
) -> None:
    response = staff_client.get(url("desk_export", what="responses"))

    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="saliency-pilot-responses.csv"'
    text = b"".join(response.streaming_content).decode()
    ratings = analysis.load_ratings(pd.read_csv(io.StringIO(text), dtype={"participant": str}))
    assert len(ratings) == 70


@pytest.mark.parametrize(("what", "rows"), [("participants", 8), ("stimuli", 14)])
def test_table_downloads(desk_study: DeskStudy, staff_client: Client, what: str, rows: int) -> None:
    response = staff_client.get(url("desk_export", what=what))

    text = b"".join(response.streaming_content).decode()
    assert len(list(csv.DictReader(io.StringIO(text)))) == rows
    assert not any(raw in text for raw in desk_study.external_ids())


def test_one_click_zip_holds_every_export_and_the_report(
    desk_study: DeskStudy, staff_client: Client
) -> None:
    response = staff_client.get(url("desk_export", what="report"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = set(archive.namelist())
    assert {"responses.csv", "participants.csv", "stimuli.csv"} <= names
    assert {"report/report.md", "report/report.json", "report/tables.tex"} <= names
    assert {"report/figure10.png", "report/figure10.pdf"} <= names
    for name in names:
        data = archive.read(name)
        assert not any(raw.encode() in data for raw in desk_study.external_ids()), name


def test_zip_of_a_study_without_answers_explains_the_missing_report(
    db, staff_client: Client
) -> None:
    ConditionFactory(study=StudyFactory(slug="quiet"))

    response = staff_client.get(url("desk_export", slug="quiet", what="report"))

    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert sorted(archive.namelist()) == [
        "REPORT-SKIPPED.txt",
        "participants.csv",
        "responses.csv",
        "stimuli.csv",
    ]
    assert b"no answers yet" in archive.read("REPORT-SKIPPED.txt")


@pytest.mark.parametrize("what", ["", "everything", "responses.csv"])
def test_unknown_download_is_a_clear_400(desk_study: DeskStudy, staff_client: Client, what) -> None:
    response = staff_client.get(url("desk_export", what=what))

    assert response.status_code == 400
    assert "ask for one of: responses, participants, stimuli, report" in response.content.decode()


def test_unreadable_rules_are_a_400_for_downloads_that_need_them(db, staff_client: Client) -> None:
    StudyFactory(slug="bad-rules", exclusion_rules={"max_gold_failures": "two"})

    for what in ("participants", "report"):
        response = staff_client.get(url("desk_export", slug="bad-rules", what=what))
        assert response.status_code == 400
        assert "'max_gold_failures' must be a number or null" in response.content.decode()
    page = staff_client.get(url("desk", slug="bad-rules"))
    assert page.status_code == 200 and "must be a number or null" in page.content.decode()


def test_unknown_study_is_404_for_staff(db, staff_client: Client) -> None:
    for name in DESK_PAGES:
        assert (
            staff_client.get(url(name, slug="no-such-study", what="responses")).status_code == 404
        )


def test_desk_pages_refuse_posts(desk_study: DeskStudy, staff_client: Client) -> None:
    assert staff_client.post(url("desk")).status_code == 405
