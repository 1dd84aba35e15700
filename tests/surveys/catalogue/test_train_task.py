"""Training from the catalogue page: the ``surveys.train`` task trains the SynthBirds CPU config
into a run directory and imports it, writing its progress on the job row, which the page polls.

The task runs in this process (Celery's eager mode) except in the last test, where a real worker
on the file-system broker takes it from its queue, as a GPU worker would take it from ``gpu``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from surveys.catalogue import train_job
from surveys.catalogue.tasks import train
from surveys.catalogue.training import TrainingError, check_training_request, do_create_training
from surveys.models import Run, TrainingJob, TrainingStatus
from tests.conftest import REPO_ROOT, django_env
from tests.surveys.runs import TINY_TRAIN

CONFIG = "synthbirds-cpu.yaml"
LABEL = "ProtoPool trained here"
# The tiny schedule: warm-up 1, joint 2, projection, fine-tuning 1.
STEPS = 5
EPOCHS_WITH_LOSS = 4
OVERRIDES = "\n".join([*TINY_TRAIN, "train.num_threads=1"])
WORKER_TIMEOUT_S = 180


@pytest.fixture
def runs_dir(settings: Any, tmp_path: Path) -> Path:
    settings.SURVEYS_TRAIN_RUNS_DIR = tmp_path / "runs"
    return tmp_path / "runs"


def form(synth_data: Path, **fields: str) -> dict[str, str]:
    return {"config": CONFIG, "label": LABEL, "data_dir": str(synth_data),
            "overrides": OVERRIDES, **fields}  # fmt: skip


def start(client: Client, data: dict[str, str], capture: Callable) -> Any:
    with capture(execute=True):
        return client.post("/staff/runs/train/", data)


@pytest.mark.django_db
def test_a_training_started_on_the_page_is_trained_imported_and_shown_done(
    staff_client: Client,
    synth_data: Path,
    runs_dir: Path,
    media: Path,
    eager: None,
    django_capture_on_commit_callbacks,
    monkeypatch: pytest.MonkeyPatch,
):
    # given the training's progress as the row showed it at each line of its log
    seen: list[tuple[str, int, int]] = []
    log = train_job._Progress.log

    def watched(self: Any, *parts: object) -> None:
        log(self, *parts)
        job = TrainingJob.objects.get(pk=self.job_id)
        seen.append((job.status, job.steps_done, len(job.history)))

    monkeypatch.setattr(train_job._Progress, "log", watched)
    # when the researcher starts the SynthBirds CPU config from the catalogue page
    response = start(staff_client, form(synth_data), django_capture_on_commit_callbacks)
    # then the job was queued on the GPU queue, trained into its run directory and imported
    assert response.status_code == 302
    job = TrainingJob.objects.get()
    assert job.queue == "gpu"
    assert job.status == TrainingStatus.DONE, job.error
    assert (job.steps_done, job.steps_total, job.attempts) == (STEPS, STEPS, 1)
    run = Run.objects.get(label=LABEL)
    assert job.run == run and run.run_dir == job.run_dir
    assert Path(job.run_dir).parent == runs_dir.resolve()
    assert (Path(job.run_dir) / "done.json").is_file()
    assert run.prototypes.exists() and any(media.rglob("*.png"))
    # and the progress grew epoch by epoch while it trained, never past the schedule
    steps = [done for status, done, _ in seen if status == TrainingStatus.TRAINING]
    assert steps == sorted(steps) and steps[-1] == STEPS
    assert {1, 2, 3} <= set(steps), "the bar moved at each epoch, not only at the end"
    assert [(h["phase"], h["epoch"]) for h in job.history] == [
        ("warmup", 1), ("joint", 1), ("joint", 2), ("finetune", 1)
    ]  # fmt: skip
    assert all(h["loss"] > 0 for h in job.history)
    # and the catalogue page shows it done, with its full bar, its loss curve and the run
    page = staff_client.get("/staff/runs/").content.decode()
    assert f'data-job="{job.code}"' in page
    assert 'aria-valuenow="5"' in page and "width: 100.0%" in page
    assert re.search(r'<polyline points="(\d+\.\d,\d+\.\d ?){4}"', page)
    assert f"/staff/runs/{run.code}/" in page
    assert "hx-get" not in page, "nothing left to poll"


@pytest.mark.django_db
def test_the_page_polls_a_running_training_and_reloads_when_it_ends(
    staff_client: Client, synth_data: Path, runs_dir: Path
):
    # given a job half-way through, as a worker left it on the row
    job = do_create_training(
        check_training_request(CONFIG, LABEL, str(synth_data), OVERRIDES), None
    )
    history = [{"phase": "warmup", "epoch": 1, "loss": 2.5}, {"phase": "joint", "epoch": 1,
               "loss": 1.5}]  # fmt: skip
    TrainingJob.objects.filter(pk=job.pk).update(
        status=TrainingStatus.TRAINING, steps_done=2, history=history, message="joint 1/2"
    )
    # when the page polls
    fragment = staff_client.get("/staff/runs/training/", HTTP_HX_REQUEST="true")
    # then it shows two of five epochs, the curve, and keeps polling
    body = fragment.content.decode()
    assert 'aria-valuenow="2"' in body and "width: 40.0%" in body
    assert 'points="0.0,0.0 240.0,48.0"' in body, "the loss fell from the top to the bottom"
    assert 'hx-trigger="every 2s"' in body and "joint 1/2" in body
    assert "HX-Refresh" not in fragment.headers
    # when the job ends, the next poll reloads the page to show the imported run
    TrainingJob.objects.filter(pk=job.pk).update(status=TrainingStatus.FAILED, error="boom")
    fragment = staff_client.get("/staff/runs/training/", HTTP_HX_REQUEST="true")
    assert fragment.headers["HX-Refresh"] == "true"
    assert "boom" in fragment.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"config": "../settings.py"}, "choose one of the configs"),
        ({"config": "studies"}, "choose one of the configs"),
        ({"label": "  "}, "the label is empty"),
        ({"label": "x" * 201}, "201 characters long"),
        ({"overrides": "model.no_such_field=1"}, "unknown field(s) [&#x27;no_such_field&#x27;]"),
        ({"overrides": "train.lr"}, "must look like section.field=value"),
        ({"data_dir": ""}, "must be an absolute path"),
        ({"data_dir": "data/birds"}, "must be an absolute path"),
        ({"overrides": "train.warmup_epochs=0\ntrain.joint_epochs=0\ntrain.finetune_epochs=0"},
         "trains for no epoch"),
    ],
)  # fmt: skip
def test_a_bad_request_says_what_to_fix_and_stores_nothing(
    staff_client: Client,
    synth_data: Path,
    runs_dir: Path,
    eager: None,
    django_capture_on_commit_callbacks,
    fields: dict[str, str],
    message: str,
):
    response = start(staff_client, form(synth_data, **fields), django_capture_on_commit_callbacks)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not TrainingJob.objects.exists() and not runs_dir.exists()


@pytest.mark.django_db
def test_a_label_already_in_the_catalogue_is_refused(
    staff_client: Client, synth_data: Path, runs_dir: Path, django_capture_on_commit_callbacks
):
    from tests.surveys.factories import RunFactory

    RunFactory(label=LABEL)
    response = start(staff_client, form(synth_data), django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert "already labelled" in response.content.decode()
    assert not TrainingJob.objects.exists()


@pytest.mark.django_db
def test_the_database_keeps_one_unfinished_training_per_label(synth_data: Path, runs_dir: Path):
    # given two requests checked while the label was free
    first, second = (
        check_training_request(CONFIG, LABEL, str(synth_data), OVERRIDES) for _ in range(2)
    )
    job = do_create_training(first, None)
    # then the second is refused while the first is unfinished
    with pytest.raises(TrainingError, match="started just now"):
        do_create_training(second, None)
    assert TrainingJob.objects.count() == 1
    # and a failed training's label is free again
    TrainingJob.objects.filter(pk=job.pk).update(status=TrainingStatus.FAILED)
    assert do_create_training(second, None).label == LABEL


@pytest.mark.django_db
def test_a_dataset_the_worker_cannot_open_fails_the_job_with_the_reason(
    staff_client: Client,
    tmp_path: Path,
    runs_dir: Path,
    media: Path,
    eager: None,
    django_capture_on_commit_callbacks,
):
    missing = tmp_path / "no-such-dataset"
    start(staff_client, form(missing), django_capture_on_commit_callbacks)

    job = TrainingJob.objects.get()
    assert job.status == TrainingStatus.FAILED and job.finished_at is not None
    assert str(missing) in job.error
    assert not Run.objects.exists()
    page = staff_client.get("/staff/runs/").content.decode()
    assert 'role="alert"' in page and str(missing) in page


@pytest.mark.django_db
def test_deliveries_of_a_job_are_claimed_once_and_a_dead_workers_job_is_taken_over(
    synth_data: Path, runs_dir: Path, media: Path
):
    job = do_create_training(
        check_training_request(CONFIG, LABEL, str(synth_data), OVERRIDES), None
    )
    # given a worker that is on the job (its heartbeat is fresh)
    TrainingJob.objects.filter(pk=job.pk).update(
        status=TrainingStatus.TRAINING, claim="alive", heartbeat_at=timezone.now()
    )
    # then a second delivery leaves it alone
    assert train.apply(args=(job.pk,)).get() == "training"
    assert TrainingJob.objects.get(pk=job.pk).claim == "alive"
    # given the worker died (no heartbeat for longer than the stale limit)
    stale = timezone.now() - train_job.STALE_AFTER - timedelta(seconds=1)
    TrainingJob.objects.filter(pk=job.pk).update(heartbeat_at=stale)
    # then the next delivery takes it over and finishes it
    assert train.apply(args=(job.pk,)).get() == "done"
    job.refresh_from_db()
    assert job.status == TrainingStatus.DONE and job.attempts == 1 and job.claim != "alive"
    imported = Run.objects.get(label=LABEL)
    # and a delivery of the finished job changes nothing
    before = (imported.updated_at, sorted(p.name for p in media.rglob("*") if p.is_file()))
    assert train.apply(args=(job.pk,)).get() == "done"
    imported.refresh_from_db()
    assert (imported.updated_at, sorted(p.name for p in media.rglob("*") if p.is_file())) == before
    assert Run.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_working_delivery_keeps_its_heartbeat_fresh_from_a_thread_of_its_own(
    synth_data: Path, runs_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(train_job, "HEARTBEAT_EVERY_S", 0.05)
    job = TrainingJob.objects.create(
        label=LABEL, config_name=CONFIG, config={}, run_dir=str(runs_dir / "x"), queue="gpu"
    )
    token = train_job.claim_job(job.pk)
    assert token and train_job.claim_job(job.pk) is None, "claimed once"
    claimed_at = TrainingJob.objects.get(pk=job.pk).heartbeat_at
    # while the delivery works (here: sleeps), its thread touches the row
    with train_job._Heartbeat(job.pk, token):
        time.sleep(0.5)
    beat = TrainingJob.objects.get(pk=job.pk).heartbeat_at
    assert beat > claimed_at
    # and stops with the block
    time.sleep(0.2)
    assert TrainingJob.objects.get(pk=job.pk).heartbeat_at == beat


def test_the_celery_app_routes_training_to_the_training_queue(tmp_path: Path):
    script = (
        "import json; from studyapp.celery import app; "
        "route = lambda name: app.amqp.router.route({}, name)['queue'].name; "
        "print(json.dumps([route('surveys.train'), route('surveys.render_stimuli')]))"
    )
    env = django_env(tmp_path, SURVEYS_TRAIN_QUEUE="gpu-a100", SURVEYS_BUILD_QUEUE="render")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == ["gpu-a100", "render"]


@pytest.mark.parametrize("broker", ["filesystem"], indirect=True)
def test_a_worker_on_the_training_queue_trains_and_imports_the_run(
    shared_database: str,
    broker: dict[str, str],
    start_worker: Callable,
    synth_data: Path,
    runs_dir: Path,
    settings: Any,
    tmp_path: Path,
):
    # given a worker reading the training queue (a private one, as `-Q gpu` on a GPU machine)
    _, queue = start_worker(DATABASE_URL=shared_database, **broker)
    settings.SURVEYS_TRAIN_QUEUE = queue
    # when a training is started
    job = do_create_training(
        check_training_request(CONFIG, LABEL, str(synth_data), OVERRIDES), None
    )
    # then the worker trains and imports it
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    while job.active:
        assert time.monotonic() < deadline, (tmp_path / f"{queue}.log").read_text()
        time.sleep(0.2)
        job.refresh_from_db()
    assert job.status == TrainingStatus.DONE, job.error
    assert job.queue == queue and job.steps_done == STEPS
    assert Run.objects.get(label=LABEL).run_dir == job.run_dir
    log = (tmp_path / f"{queue}.log").read_text()
    assert re.search(r"Task surveys\.train\[[^]]+\] succeeded", log), log


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
# The job's message goes to a broker folder of the test's own, which no worker reads.
@pytest.mark.parametrize("broker", ["filesystem"], indirect=True)
def test_the_page_moves_the_bar_as_the_worker_writes_and_reloads_at_the_end(
    live_server: Any, page: Any, broker: dict[str, str], synth_data: Path, runs_dir: Path
):
    from tests.surveys.browsing import log_in

    # given a queued training, and the catalogue page open in a browser
    job = do_create_training(
        check_training_request(CONFIG, LABEL, str(synth_data), OVERRIDES), None
    )
    log_in(page, live_server)
    page.goto(f"{live_server.url}/staff/runs/")
    bar = page.locator(f'[data-job="{job.code}"] [role=progressbar]')
    assert bar.get_attribute("aria-valuenow") == "0"
    page.evaluate("window.sameDocument = true")  # gone once the page reloads
    # when the worker records three epochs, the bar follows without a reload
    TrainingJob.objects.filter(pk=job.pk).update(status=TrainingStatus.TRAINING, steps_done=3)
    page.wait_for_selector(f'[data-job="{job.code}"] [aria-valuenow="3"]', timeout=10_000)
    assert page.evaluate("window.sameDocument") is True
    # when the job fails, the page reloads once and stops polling, showing why
    TrainingJob.objects.filter(pk=job.pk).update(
        status=TrainingStatus.FAILED, error="DatasetError: no images"
    )
    page.wait_for_function("window.sameDocument === undefined", timeout=10_000)
    page.wait_for_selector("text=DatasetError: no images")
    assert page.locator("#trainings[hx-get]").count() == 0
