"""Celery beat syncs the recruiters: the settings' schedule names their registered tasks."""

from __future__ import annotations

from django.conf import settings

from studyapp.celery import app
from surveys.recruiting.mturk.tasks import BEAT_SCHEDULE as MTURK
from surveys.recruiting.prolific.tasks import BEAT_SCHEDULE as PROLIFIC


def test_the_beat_schedule_runs_every_recruiters_sync_task():
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert {entry["task"] for entry in schedule.values()} == {
        entry["task"] for entry in (*MTURK.values(), *PROLIFIC.values())
    }
    for entry in schedule.values():
        assert entry["task"] in app.tasks, f"{entry['task']} is not a registered task"
        assert entry["schedule"] > 0
