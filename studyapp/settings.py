"""Settings for the study platform, read from the environment.

Defaults give the embedded deployment (SQLite file, a Celery broker on the local file system,
media on local disk); ``DATABASE_URL``, ``CELERY_BROKER_URL`` and ``STORAGE=s3`` move each to a
server without any code change.
"""

from __future__ import annotations

import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from studyapp.env import (
    env_bool,
    env_choice,
    env_header_pair,
    env_int,
    env_list,
    env_nonnegative_int,
    env_str,
)

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
    # Its system checks look at the cache the entry limits count in (see "entry limits" below).
    "django_ratelimit",
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
    # Last, so it sees a view's database error first: a participant's post gets a retry page.
    "surveys.platform.outage.DatabaseOutageMiddleware",
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
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # A deferred transaction that reads and then writes (consent: count the places,
            # take one) cannot wait for the write lock: SQLite refuses the upgrade at once to
            # avoid a deadlock, and a crowd arriving together got "database is locked" (500).
            # IMMEDIATE takes the lock at BEGIN, where the busy timeout makes others queue.
            "transaction_mode": "IMMEDIATE",
            # Seconds a writer waits for the lock (web threads, gunicorn processes and the
            # Celery worker all share the file) before giving up.
            "timeout": env_int("SQLITE_TIMEOUT_SECONDS", 20),
            # WAL: readers never wait for the writer nor block it; NORMAL sync is safe in WAL
            # mode (a power cut may lose the last commits, never corrupt the file).
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        }
    )

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
    # MinIO, Ceph and moto answer on one host name, so the bucket goes in the path ("path");
    # AWS takes either, and "auto" (or nothing) lets botocore choose.
    _addressing_style = (
        env_choice("AWS_S3_ADDRESSING_STYLE", "auto", ("auto", "path", "virtual"))
        if env_str("AWS_S3_ADDRESSING_STYLE", "").strip()
        else "auto"
    )
    # Seconds a signed link to a stored file works (staff pages only; see below).
    _signed_url_seconds = env_nonnegative_int("AWS_QUERYSTRING_EXPIRE", 600)
    if not _signed_url_seconds:
        raise ImproperlyConfigured(
            "AWS_QUERYSTRING_EXPIRE=0 would make every signed link expire at once; e.g. 600"
        )
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _bucket_name,
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL", "") or None,
            "region_name": env_str("AWS_S3_REGION_NAME", "") or None,
            # One bucket may hold several sites (or a test's), each under its own prefix.
            "location": env_str("AWS_LOCATION", "").strip("/"),
            "addressing_style": _addressing_style,
            # Every S3-compatible server verifies version 4 signatures; some refuse version 2.
            "signature_version": "s3v4",
            # Overlays must not be guessable or listable: private objects, signed URLs. Only
            # staff pages ever link to the bucket (participants' pictures stream through the
            # app), and a signed link they copy stops working after this many seconds.
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": _signed_url_seconds,
            # A build writes a stimulus under its reserved name and relies on a clash getting
            # a new name (one copy is kept); overwriting would hide a second writer.
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
# Training a run from the catalogue page goes to this queue (`celery -A studyapp worker -Q gpu`
# on a GPU machine), with the configs it may start from and the folder its run directories go
# in. Rendering later reads those run directories: every worker must see them at the same path.
SURVEYS_TRAIN_QUEUE = env_str("SURVEYS_TRAIN_QUEUE", "gpu") or "gpu"
SURVEYS_TRAIN_CONFIG_DIR = Path(env_str("SURVEYS_TRAIN_CONFIG_DIR", str(BASE_DIR / "configs")))
SURVEYS_TRAIN_RUNS_DIR = Path(env_str("SURVEYS_TRAIN_RUNS_DIR", str(VAR_DIR / "runs")))
# The same routes for a task sent from anywhere (the services also name the queue when they send).
_BUILD_TASKS = ("surveys.build_study", "surveys.render_stimuli")
CELERY_TASK_ROUTES: dict[str, dict[str, str]] = {
    "surveys.train": {"queue": SURVEYS_TRAIN_QUEUE},
    **{name: {"queue": SURVEYS_BUILD_QUEUE} for name in _BUILD_TASKS if SURVEYS_BUILD_QUEUE},
}
# The secret each study's pseudonym key is derived from (empty: SECRET_KEY). Keep it stable for
# the life of a study: a new secret gives every participant a new pseudonym.
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

# --- entry limits (django-ratelimit) --------------------------------------------------------
# New participants per study and client address, and per study, as django-ratelimit rates
# ("60/10m": 60 in ten minutes; empty: off). Resuming never counts. Per address is generous
# enough for a lab whose computers share one address.
SURVEYS_ENTRY_RATE_PER_ADDRESS = env_str("SURVEYS_ENTRY_RATE_PER_ADDRESS", "60/10m")
SURVEYS_ENTRY_RATE_PER_STUDY = env_str("SURVEYS_ENTRY_RATE_PER_STUDY", "600/h")
for _rate_name in ("SURVEYS_ENTRY_RATE_PER_ADDRESS", "SURVEYS_ENTRY_RATE_PER_STUDY"):
    if globals()[_rate_name] and not re.fullmatch(r"[1-9]\d*/\d*[smhd]", globals()[_rate_name]):
        raise ImproperlyConfigured(
            f"{_rate_name}={globals()[_rate_name]!r} is not a rate; write e.g. 60/10m or 600/h"
        )
# Behind a proxy, the request header with the client's address (e.g. HTTP_X_FORWARDED_FOR, whose
# last address the proxy adds); REMOTE_ADDR otherwise.
RATELIMIT_IP_META_KEY = env_str("RATELIMIT_IP_META_KEY", "") or None
# The counters need a cache every web process shares, with an atomic increment: Redis at scale
# (RATELIMIT_CACHE_URL=redis://host:6379/2). The embedded default serves from one process, whose
# own memory is then shared by every request and increments under a lock.
RATELIMIT_CACHE_URL = env_str("RATELIMIT_CACHE_URL", "")
RATELIMIT_USE_CACHE = "ratelimit"
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    RATELIMIT_USE_CACHE: (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": RATELIMIT_CACHE_URL}
        if RATELIMIT_CACHE_URL
        else {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "entry-limits",
        }
    ),
}
# Django's own RedisCache increments with Redis' atomic INCR, but django-ratelimit's list of
# supported backends predates it (jsocol/django-ratelimit#283): W001. Process memory is "not a
# shared cache" (E003, W001) across processes, and the embedded default is one process.
SILENCED_SYSTEM_CHECKS = (
    ["django_ratelimit.W001"]
    if RATELIMIT_CACHE_URL
    else ["django_ratelimit.E003", "django_ratelimit.W001"]
)

# --- security for deployments ---------------------------------------------------------------
# Cookies travel over HTTPS only unless DEBUG is on (`make demo` serves plain http).
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
# Redirecting to HTTPS and HSTS are opt-in: a DEBUG=0 server on plain http (docker-compose on
# localhost) must keep working, and an HSTS header, once sent, binds browsers for its lifetime.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# A load balancer's or container's probe asks over plain http and would follow no redirect.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_nonnegative_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Behind a TLS-terminating proxy: BEHIND_TLS_PROXY=1 trusts X-Forwarded-Proto: https, or
# SECURE_PROXY_SSL_HEADER=HTTP_<HEADER>,<value> names another header. Only set either when the
# proxy always sets (and overwrites) that header, or a client could claim HTTPS.
SECURE_PROXY_SSL_HEADER = env_header_pair(
    "SECURE_PROXY_SSL_HEADER",
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None,
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"no_participant_codes": {"()": "studyapp.log_redaction.RedactParticipantCodes"}},
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server"},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # The request loggers write each request's path (and the dev server its query): participant
    # codes and recruiter IDs are masked before any handler sees them. A logger's filters see
    # only its own records, and configuring a logger drops its handlers, so django.server gets
    # Django's own handler back.
    "loggers": {
        "django.request": {"filters": ["no_participant_codes"]},
        "django.server": {
            "handlers": ["django.server"],
            "filters": ["no_participant_codes"],
            "level": "INFO",
            "propagate": False,
        },
    },
}
