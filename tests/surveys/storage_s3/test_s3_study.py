"""``STORAGE=s3`` for real: a run imported, a study built and its pictures served through moto's
S3 server, with nothing on local disk and nothing of the bucket in front of a participant."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
from django.test import Client

from surveys.catalogue.importing import do_import_run
from surveys.catalogue.storage import run_files
from surveys.models import Participant, Stimulus, Study, StudyStatus
from surveys.studies.lifecycle import do_open_study, do_save_study, do_start_build
from surveys.studies.spec import check_study_spec
from tests.surveys.storage_s3.fixtures import S3Site, take_part
from tests.surveys.studies.fixtures import LABELS, register_run, spec_data

pytestmark = pytest.mark.django_db

OPAQUE_NAME = re.compile(r"^stimuli/[a-z2-9]{16}\.png$")
PNG = b"\x89PNG\r\n\x1a\n"
_IMG_SRC = re.compile(r'<img[^>]+src="([^"]+)"')


@pytest.fixture
def built(
    s3: S3Site,
    pool_run: Path,
    protopnet_run: Path,
    tree_run: Path,
    eager: None,
    django_capture_on_commit_callbacks,
) -> Study:
    """The ProtoPool run imported (its pictures in the bucket), the other two registered, and
    the spec's study built by the render task in this process, on S3."""
    do_import_run(pool_run, LABELS["pool"], top_k=2)
    register_run(protopnet_run, LABELS["pnet"])
    register_run(tree_run, LABELS["tree"])
    study = do_save_study(check_study_spec(spec_data())).study
    with django_capture_on_commit_callbacks(execute=True):
        do_start_build(study)
    study.refresh_from_db()
    return study


def local_files(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "local-media").rglob("*") if p.is_file()]


def test_the_import_and_the_build_store_every_file_in_the_bucket_under_opaque_names(
    built: Study, s3: S3Site, tmp_path: Path
):
    # then the study is ready, and every stimulus file is an object of the bucket, once
    assert built.status == StudyStatus.READY
    stimuli = list(Stimulus.objects.filter(study=built))
    names = sorted(n for s in stimuli for n in (s.original.name, s.overlay.name))
    assert len(set(names)) == 2 * len(stimuli) > 0
    assert s3.names("stimuli") == names
    for name in names:
        assert OPAQUE_NAME.match(name), name
        assert s3.read(name).startswith(PNG)
    # and the catalogue's pictures are there too, under the run's folder
    run = built.conditions.get(run__label=LABELS["pool"]).run
    catalogue = sorted(run_files(run))
    assert catalogue and s3.names(f"catalogue/{run.code}") == catalogue
    # and nothing went to local disk instead
    assert local_files(tmp_path) == []


def test_participants_get_the_bucket_pictures_through_the_app_and_never_the_bucket(
    built: Study, s3: S3Site
):
    # given the built study open to participants
    do_open_study(built)
    # when a participant takes part
    walk = take_part(built.code)
    participant = Participant.objects.get(study=built)
    # then every picture of every question arrived, byte for byte the bucket's object
    items = participant.items.select_related("question__stimulus")
    assert items.count() > 0
    prefix = f"/s/{built.code}/p/{participant.code}"
    for item in items:
        for which in ("original", "overlay"):
            url = f"{prefix}/img/{item.position}/{which}"
            stored = getattr(item.question.stimulus, which).name
            assert walk.pictures[url] == s3.read(stored), url
            headers = walk.picture_headers[url]
            assert headers["Content-Type"] == "image/png"
            assert "Content-Disposition" not in headers and "ETag" not in headers
    # and no page, URL or header names the server, the bucket, the prefix or a stored key
    corpus = walk.everything()
    keys = s3.keys()
    leaked = [secret for secret in [*s3.secrets(), *keys] if secret in corpus]
    assert not leaked, f"leaked to the participant: {leaked}"
    stored_names = {n for s in built.stimuli.all() for n in (s.original.name, s.overlay.name)}
    assert not [name for name in stored_names if name in corpus]


def test_staff_pages_link_to_signed_urls_that_the_server_honours(
    built: Study, s3: S3Site, staff_client: Client
):
    # given the imported run's page
    run = built.conditions.get(run__label=LABELS["pool"]).run
    page = staff_client.get(f"/staff/runs/{run.code}/").content.decode()
    sources = [src.replace("&amp;", "&") for src in _IMG_SRC.findall(page)]
    signed = [src for src in sources if src.startswith(s3.endpoint)]
    # then its pictures are signed, expiring links to private objects...
    assert signed, sources
    assert all("X-Amz-Signature=" in src and "X-Amz-Expires=600" in src for src in signed)
    # ...which the S3 server serves, and refuses once the signature is taken off
    with urllib.request.urlopen(signed[0], timeout=10) as response:
        assert response.read().startswith(PNG)
    unsigned = signed[0].split("?", 1)[0]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=10)
    assert refused.value.code == 403
