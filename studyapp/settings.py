"""Settings for the study platform, read from the environment.

Defaults give the embedded deployment (SQLite file, a Celery broker on the local file system,
media on local disk); ``DATABASE_URL``, ``CELERY_BROKER_URL`` and ``STORAGE=s3`` move each to a
server without any code change.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from studyapp.env import env_bool, env_choice, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
# Everything the embedded default writes (database, broker queue, media) lives under one folder.
VAR_DIR = Path(env_str("PROTOPOOL_VAR_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DEBUG", False)
_INSECURE_KEY = "insecure-development-key-do-not-use-in-production"
SECRET_KEY = env_str("SECRET_KEY", _INSECURE_KEY if DEBUG else "")
if not SECRET_KEY:
    # A missing key in production would silently weaken every signed cookie and pseudonym.
    raise ImproperlyConfigured(
        "SECRET_KEY is not set: export SECRET_KEY=<random string> or DEBUG=1"
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "surveys",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "studyapp.urls"
WSGI_APPLICATION = "studyapp.wsgi.application"
ASGI_APPLICATION = "studyapp.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("CONN_MAX_AGE", 0))
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The Celery worker and the web process share the file; wait for a lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- static files and media -----------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
MEDIA_URL = env_str("MEDIA_URL", "/media/")
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

STORAGE = env_choice("STORAGE", "local", ("local", "s3"))
# Storage options are keyword arguments of the backend's constructor, so their values vary.
_default_storage: dict[str, str | dict[str, object]]
if STORAGE == "s3":
    _bucket_name = env_str("AWS_STORAGE_BUCKET_NAME", "")
    if not _bucket_name:
        raise ImproperlyConfigured("STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME")
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _bucket_name,
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL", "") or None,
            "region_name": env_str("AWS_S3_REGION_NAME", "") or None,
            # Overlays must not be guessable or listable: private objects, signed URLs.
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": MEDIA_URL},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedStaticFilesStorage"
        )
    },
}

# --- Celery ---------------------------------------------------------------------------------
# The default broker is kombu's file-system transport: a real queue between real processes that
# needs no server. Redis takes over when CELERY_BROKER_URL points at it.
CELERY_BROKER_DIR = Path(env_str("CELERY_BROKER_DIR", str(VAR_DIR / "broker")))
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://localhost//")
CELERY_RESULT_BACKEND = env_str(
    "CELERY_RESULT_BACKEND",
    f"file://{CELERY_BROKER_DIR / 'results'}"
    if CELERY_BROKER_URL.startswith("filesystem")
    else CELERY_BROKER_URL,
)
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, str | bool | int] = (
    {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        # Without this kombu keeps its exchange tables in ./control of whatever the cwd is.
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# --- the study app ----------------------------------------------------------------------------
# The queue stimulus rendering goes to (empty: Celery's default), e.g. one only GPU workers read,
# and the device those workers render on.
SURVEYS_BUILD_QUEUE = env_str("SURVEYS_BUILD_QUEUE", "")
SURVEYS_RENDER_DEVICE = env_str("SURVEYS_RENDER_DEVICE", "cpu")
# The key of the participant pseudonyms in every export (empty: SECRET_KEY). Keep it stable for
# the life of a study: a new key gives every participant a new pseudonym.
PSEUDONYM_KEY = env_str("PSEUDONYM_KEY", "")
# The site's public HTTPS address, which recruiters send participants to (MTurk's
# ExternalQuestion, Prolific's study URL); the staff pages use the request's own address.
SURVEYS_SITE_URL = env_str("SURVEYS_SITE_URL", "")
# Celery beat syncs every open study with its recruiter (MTurk assignments, Prolific
# submissions) this often; SURVEYS_RECRUITER_SYNC=0 turns it off for all (a study can turn its
# own off with recruiter_config.auto_sync: false). Run beat with `celery -A studyapp beat`.
SURVEYS_RECRUITER_SYNC = env_bool("SURVEYS_RECRUITER_SYNC", True)
_SYNC_EVERY_S = env_int("SURVEYS_RECRUITER_SYNC_SECONDS", 600)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, str | int]] = (
    {
        "surveys-mturk-sync": {
            "task": "surveys.mturk.sync_open_studies",
            "schedule": _SYNC_EVERY_S,
        },
        "prolific-sync-open-studies": {
            "task": "surveys.prolific.sync_studies",
            "schedule": _SYNC_EVERY_S,
        },
    }
    if SURVEYS_RECRUITER_SYNC
    else {}
)

# --- security for deployments ---------------------------------------------------------------
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
