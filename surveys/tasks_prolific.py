"""Celery tasks of this recruiter (filled in as they land)."""
