"""The Django project of the study platform; loads the Celery app with Django."""

from studyapp.celery import app as celery_app

__all__ = ("celery_app",)
