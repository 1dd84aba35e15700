"""Django's default storage in a private folder of one test."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def private_media(settings: Any, tmp_path: Path, root: Path | None = None) -> Path:
    """Send the files a test stores to ``root`` (default ``tmp_path/media``); returns it.

    ``settings`` is pytest-django's fixture, so everything is restored after the test.
    """
    root = root or tmp_path / "media"
    root.mkdir(parents=True, exist_ok=True)
    settings.MEDIA_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": "/media/"},
        },
    }
    return root
