"""Test overrides: a throwaway key and fast password hashing; everything else as deployed."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")

from studyapp.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
