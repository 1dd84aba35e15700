"""Production settings come from the environment, and ``check --deploy`` is clean with them.

Before: HSTS and the HTTPS redirect could not be set at all, and the session and CSRF cookies
were sent over plain http unless told otherwise, so ``check --deploy`` gave four warnings
(W004, W008, W012, W016). Local development (DEBUG=1, ``make demo``) stays on plain http.
"""

from __future__ import annotations

import json
import logging
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from studyapp.log_redaction import MASK, redact
from tests.conftest import REPO_ROOT, django_env
from tests.studyapp.fixtures import media  # noqa: F401

# What a deployment behind a TLS proxy sets (docker-compose's services, a real domain).
PRODUCTION = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "study.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://study.example.org",
    "SURVEYS_SITE_URL": "https://study.example.org",
    "BEHIND_TLS_PROXY": "1",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "DATABASE_URL": "postgres://study@db.internal:5432/study",
    "CELERY_BROKER_URL": "redis://cache.internal:6379/0",
    "RATELIMIT_CACHE_URL": "redis://cache.internal:6379/2",
}
PRINT_SECURITY = (
    "import json, django; from django.conf import settings; django.setup(); "
    "names = ['DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT', "
    "'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_HSTS_PRELOAD', "
    "'SECURE_PROXY_SSL_HEADER', 'CSRF_TRUSTED_ORIGINS']; "
    "print(json.dumps({n: getattr(settings, n) for n in names}))"
)


def _run(tmp_path: Path, argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    child = django_env(tmp_path, **{"SECRET_KEY": secrets.token_urlsafe(50), **env})
    # The suite's own switch for Playwright; a deployment never sets it (check: async.E001).
    child.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.run(
        [sys.executable, *argv],
        cwd=REPO_ROOT,
        env=child,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _security(tmp_path: Path, **env: str) -> dict[str, object]:
    result = _run(tmp_path, ["-c", PRINT_SECURITY], **env)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_check_deploy_with_production_variables_has_no_issues(tmp_path: Path) -> None:
    result = _run(
        tmp_path, ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "security." not in result.stdout + result.stderr


def test_debug_off_makes_the_cookies_secure_without_being_told(tmp_path: Path) -> None:
    values = _security(tmp_path, DEBUG="0", ALLOWED_HOSTS="study.example.org")
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    # HSTS and the redirect stay opt-in: a DEBUG=0 server on plain http keeps working
    assert values["SECURE_SSL_REDIRECT"] is False and values["SECURE_HSTS_SECONDS"] == 0


def test_local_development_stays_on_plain_http(tmp_path: Path) -> None:
    values = _security(tmp_path, DEBUG="1")
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["CSRF_COOKIE_SECURE"] is False
    assert values["SECURE_SSL_REDIRECT"] is False and values["SECURE_PROXY_SSL_HEADER"] is None


def test_every_security_setting_is_read_from_the_environment(tmp_path: Path) -> None:
    values = _security(
        tmp_path,
        **{
            **PRODUCTION,
            "SESSION_COOKIE_SECURE": "1",
            "CSRF_COOKIE_SECURE": "1",
            "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_SCHEME,https",
            "CSRF_TRUSTED_ORIGINS": "https://study.example.org, https://www.study.example.org",
        },
    )
    assert values == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_SCHEME", "https"],
        "CSRF_TRUSTED_ORIGINS": ["https://study.example.org", "https://www.study.example.org"],
    }
    assert _security(tmp_path, DEBUG="0", BEHIND_TLS_PROXY="1")["SECURE_PROXY_SSL_HEADER"] == [
        "HTTP_X_FORWARDED_PROTO",
        "https",
    ]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SECURE_HSTS_SECONDS": "-1"}, "SECURE_HSTS_SECONDS=-1 must be 0 or more"),
        ({"SECURE_HSTS_SECONDS": "a year"}, "is not an integer"),
        ({"SECURE_SSL_REDIRECT": "sometimes"}, "is not a boolean"),
        ({"SECURE_PROXY_SSL_HEADER": "https"}, "must be HTTP_<HEADER>,<value>"),
        ({"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto,https"}, "must be HTTP_<HEADER>"),
        ({"SECURE_PROXY_SSL_HEADER": "HTTP_X-Forwarded-Proto,https"}, "HTTP_X_FORWARDED_PROTO"),
    ],
)
def test_a_bad_security_variable_is_a_clear_error(tmp_path: Path, env, message) -> None:
    result = _run(tmp_path, ["-c", PRINT_SECURITY], DEBUG="0", **env)
    assert result.returncode != 0
    assert message in result.stderr


# --- HTTPS in front, plain http for probes ----------------------------------------------------


@pytest.mark.django_db
def test_the_https_redirect_spares_the_health_probe(settings) -> None:
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    page = client.get("/")
    assert page.status_code == 301 and page["Location"].startswith("https://")
    assert client.get("/healthz").status_code in (200, 503)


# --- the embedded database takes a crowd ------------------------------------------------------


def test_sqlite_writes_take_the_lock_at_begin_and_wait_for_it(tmp_path: Path) -> None:
    probe = (
        "import django; django.setup(); from django.db import connection; "
        "o = connection.settings_dict['OPTIONS']; print(o['transaction_mode'], o['timeout']); "
        "c = connection.cursor(); c.execute('PRAGMA journal_mode'); print(c.fetchone()[0]); "
        "c.execute('PRAGMA synchronous'); print(c.fetchone()[0])"
    )
    result = _run(tmp_path, ["-c", probe], DATABASE_URL=f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    assert result.returncode == 0, result.stderr
    # IMMEDIATE: a write transaction queues for the lock at BEGIN (for up to 20 s) instead of
    # failing when it upgrades; WAL: readers and the writer do not block each other; sync 1
    # is NORMAL
    assert result.stdout.split()[-4:] == ["IMMEDIATE", "20", "wal", "1"]


# --- no participant codes in the request logs -------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "Not Found: /s/studycode1/p/k3y5ecr3tc0de/img/9/overlay",
            f"Not Found: /s/studycode1/p/{MASK}/img/9/overlay",
        ),
        (
            '"GET /s/studycode1/?PROLIFIC_PID=5f1e2d3c&STUDY_ID=abc&SESSION_ID=s3ss '
            'HTTP/1.1" 302 0',
            f'"GET /s/studycode1/?PROLIFIC_PID={MASK}&STUDY_ID={MASK}&SESSION_ID={MASK} '
            'HTTP/1.1" 302 0',
        ),
        (
            '"POST /s/studycode1/p/k3y5ecr3tc0de/mturk/submit/?assignmentId=A1&workerId=W9 '
            'HTTP/1.1" 200 10',
            f'"POST /s/studycode1/p/{MASK}/mturk/submit/?assignmentId={MASK}&workerId={MASK} '
            'HTTP/1.1" 200 10',
        ),
        ("Not Found: /staff/studies/pilot/", "Not Found: /staff/studies/pilot/"),
    ],
)
def test_codes_and_ids_are_masked_in_request_lines(line: str, expected: str) -> None:
    assert redact(line) == expected


@pytest.mark.django_db
def test_a_participant_404_is_logged_without_the_participant_code(
    media: Path,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tests.surveys.participation.fixtures import build_study, consented

    participant = consented(build_study(per_condition=1, cells=1).study, "WORKER-LOGGED")
    url = f"/s/{participant.study.code}/p/{participant.code}/img/99/overlay"

    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = Client().get(url)

    assert response.status_code == 404
    logged = [r for r in caplog.records if r.name == "django.request"]
    assert logged, "the 404 is still logged"
    assert participant.code not in caplog.text and "WORKER-LOGGED" not in caplog.text
    assert f"/p/{MASK}/img/99/overlay" in caplog.text


def test_the_dev_server_request_line_is_logged_without_ids(caplog) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    server = logging.getLogger("django.server")
    keep = Keep()
    server.addHandler(keep)
    try:
        server.info('"%s" %s %s', "GET /s/abc/?pid=PERSONAL-ID-7 HTTP/1.1", "302", "0")
    finally:
        server.removeHandler(keep)
    assert [r.getMessage() for r in records] == [f'"GET /s/abc/?pid={MASK} HTTP/1.1" 302 0']
