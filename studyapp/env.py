"""Typed readers for settings that come from the environment.

Every deployment difference (SQLite or PostgreSQL, serverless broker or Redis, local media or
S3) is an environment variable; nothing in the code branches on "demo mode".
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1/0, true/false or yes/no")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of: {', '.join(choices)}")
    return value


def env_nonnegative_int(name: str, default: int) -> int:
    value = env_int(name, default)
    if value < 0:
        raise ImproperlyConfigured(f"{name}={value} must be 0 or more")
    return value


def env_header_pair(name: str, default: tuple[str, str] | None) -> tuple[str, str] | None:
    """A request header and the value that marks it, as ``HTTP_X_HEADER,value`` (unset or
    empty: ``default``).

    Django reads headers from ``request.META``, where they are upper case with an ``HTTP_``
    prefix; a name written as it travels (``X-Forwarded-Proto``) would never match.
    """
    raw = os.environ.get(name, "")
    if not raw.strip():
        return default
    parts = [item.strip() for item in raw.split(",")]
    if len(parts) != 2 or not parts[0].startswith("HTTP_") or not parts[1]:
        raise ImproperlyConfigured(
            f"{name}={raw!r} must be HTTP_<HEADER>,<value>, e.g. HTTP_X_FORWARDED_PROTO,https"
        )
    if parts[0] != parts[0].upper() or "-" in parts[0]:
        raise ImproperlyConfigured(
            f"{name}={raw!r}: write the header as Django sees it, upper case with underscores "
            f"({parts[0].upper().replace('-', '_')})"
        )
    return parts[0], parts[1]
