"""The Celery application shared by the web process and every worker."""

from __future__ import annotations

import os

from celery import Celery

from surveys.apps import TASK_PACKAGES
from surveys.studies.worker_steps import ResumeBuildsOnConnect

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyapp.settings")

app = Celery("studyapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The study app keeps its tasks in its rooms (``surveys/studies/tasks.py``, one per recruiter):
# each room is discovered as a package of its own.
app.autodiscover_tasks(list(TASK_PACKAGES))
# Each (re)connection to the broker resumes unfinished builds (a broker restart may drop them).
app.steps["consumer"].add(ResumeBuildsOnConnect)


@app.on_after_configure.connect
def prepare_broker_folders(sender: Celery | None = None, **_: object) -> None:
    """Create the file-system broker's folders, which kombu expects to exist."""
    from django.conf import settings

    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        folder = options.get(key)
        if isinstance(folder, str):
            os.makedirs(folder, exist_ok=True)
    backend = settings.CELERY_RESULT_BACKEND
    if backend.startswith("file://"):
        os.makedirs(backend.removeprefix("file://"), exist_ok=True)
