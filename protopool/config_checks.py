"""The error every configuration check raises, and the field checks the sections share."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message says which field and why."""


def check_choice(section: str, name: str, value: str, allowed: tuple[str, ...]) -> None:
    """Raise :class:`ConfigError` unless ``section.name`` is one of ``allowed``."""
    if value not in allowed:
        raise ConfigError(f"{section}.{name} must be one of {', '.join(allowed)}; got {value!r}")


def check_positive(section: str, name: str, value: float) -> None:
    """Raise :class:`ConfigError` unless ``section.name`` is above zero."""
    if value <= 0:
        raise ConfigError(f"{section}.{name} must be positive; got {value!r}")


__all__ = ["ConfigError", "check_choice", "check_positive"]
