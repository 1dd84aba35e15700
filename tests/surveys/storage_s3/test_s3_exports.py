"""Exports on S3: every file of an export and its zip land in the bucket, in a folder of their own
per export, whole or not at all; ``export_results --to-storage`` does the same from a shell."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command

from surveys.results import stored_exports
from surveys.results.stored_exports import ARCHIVE_NAME, do_store_exports
from tests.surveys.results.fixtures import DeskStudy, build_desk_study
from tests.surveys.storage_s3.fixtures import S3Site

pytestmark = pytest.mark.django_db

TABLES = ("participants.csv", "responses.csv", "stimuli.csv")
REPORT = ("report.md", "report.json", "tables.tex", "figure10.png", "figure10.pdf")


@pytest.fixture
def desk_study(s3: S3Site) -> DeskStudy:
    """The results package's hand-built study (70 answers), its stimuli stored on S3."""
    return build_desk_study()


def test_an_export_writes_the_tables_the_report_and_their_zip_into_the_bucket(
    desk_study: DeskStudy, s3: S3Site, tmp_path: Path
):
    # when the study's exports are stored
    stored = do_store_exports(desk_study.study)
    # then they are objects of one new folder of the bucket, the zip beside them
    folder = stored.folder
    assert re.fullmatch(rf"exports/{desk_study.study.slug}/\d{{8}}T\d{{6}}Z-[a-z2-9]{{6}}", folder)
    in_bucket = s3.names(folder)
    assert in_bucket == sorted([*stored.names, stored.archive])
    assert stored.archive == f"{folder}/{ARCHIVE_NAME}"
    for name in TABLES:
        assert f"{folder}/{name}" in in_bucket, name
    for name in REPORT:
        assert f"{folder}/report/{name}" in in_bucket, name
    # and the responses are the long-format rows, pseudonymised
    responses = s3.read(f"{folder}/responses.csv").decode()
    assert len(list(csv.DictReader(io.StringIO(responses)))) == 70
    for raw in desk_study.external_ids():
        assert raw not in responses
    # and the zip in the bucket holds exactly the stored files, byte for byte
    with zipfile.ZipFile(io.BytesIO(s3.read(stored.archive))) as archive:
        members = sorted(archive.namelist())
        assert members == sorted(name.removeprefix(f"{folder}/") for name in stored.names)
        for member in members:
            assert archive.read(member) == s3.read(f"{folder}/{member}"), member
    # and nothing was written to local disk
    assert not [p for p in (tmp_path / "local-media").rglob("*") if p.is_file()]


def test_a_second_export_gets_a_folder_of_its_own(desk_study: DeskStudy, s3: S3Site):
    first = do_store_exports(desk_study.study)
    before = {name: s3.read(name) for name in s3.names(first.folder)}

    second = do_store_exports(desk_study.study)

    assert second.folder != first.folder
    assert {name: s3.read(name) for name in s3.names(first.folder)} == before
    assert len(s3.names(second.folder)) == len(before)


def test_an_upload_that_fails_half_way_leaves_no_object_behind(
    desk_study: DeskStudy, s3: S3Site, monkeypatch: pytest.MonkeyPatch
):
    # given a bucket that takes three files and then fails
    real_save = stored_exports._save
    calls = []

    def failing_save(path: Path, name: str) -> str:
        calls.append(name)
        if len(calls) > 3:
            raise OSError("the connection to the bucket dropped")
        return real_save(path, name)

    monkeypatch.setattr(stored_exports, "_save", failing_save)
    before = s3.names("exports")
    # when an export is stored
    with pytest.raises(OSError, match="dropped"):
        do_store_exports(desk_study.study)
    # then the three files it had stored are gone again
    assert len(calls) == 4
    assert s3.names("exports") == before


def test_the_command_stores_the_exports_and_names_the_zip(desk_study: DeskStudy, s3: S3Site):
    out = io.StringIO()

    call_command("export_results", desk_study.study.slug, "--to-storage", stdout=out)

    text = out.getvalue()
    assert "[1/4] responses.csv: 70 answers" in text
    done = re.search(r"Done: (\S+)", text)
    assert done, text
    assert done.group(1).endswith(f"/{ARCHIVE_NAME}")
    assert done.group(1) in s3.names("exports")
    assert s3.endpoint not in text and s3.bucket not in text
