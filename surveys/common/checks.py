"""Field checks of a study spec: each reads one value, or records what is wrong with it and how to
fix it, so that one pass reports every problem of a spec instead of the first one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

T = TypeVar("T")
_SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")


@dataclass(frozen=True)
class SpecProblem:
    """One thing wrong with a spec: where (a dotted path such as ``conditions[1].run``) and why."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class SpecError(ValueError):
    """A study spec that cannot be used; ``problems`` lists every field at fault and its fix."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"the study spec has {len(problems)} problem(s):\n{lines}")


@dataclass
class Checker:
    """Reads the values of a mapping, collecting a :class:`SpecProblem` for each bad one.

    Attributes:
        data: The mapping read.
        prefix: Prepended to the field names in messages (``"sampling."``).
        problems: What was found wrong so far (shared with nested checkers).
    """

    data: Mapping[str, Any]
    prefix: str = ""
    problems: list[SpecProblem] = field(default_factory=list)

    def nested(self, key: str) -> Checker:
        """A checker of the mapping under ``key`` (empty when absent or not a mapping)."""
        value = self.data.get(key)
        if value is not None and not isinstance(value, Mapping):
            self.fail(key, f"must be a mapping of field: value, got {_kind(value)}")
            value = None
        return Checker(value or {}, f"{self.prefix}{key}.", self.problems)

    def fail(self, key: str, message: str) -> None:
        self.problems.append(SpecProblem(f"{self.prefix}{key}", message))

    def unknown_keys(self, known: tuple[str, ...]) -> None:
        """Typos are errors: a misspelt optional field would otherwise be silently ignored."""
        for key in sorted(set(self.data) - set(known), key=str):
            self.fail(str(key), f"unknown field; known fields are {', '.join(known)}")

    def text(self, key: str, *, max_length: int, default: str | None = None) -> str:
        """A non-empty string (surrounding blanks removed); required unless ``default``."""
        value = self.data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if default is None:
                self.fail(key, "is required; write it as text")
            return default or ""
        if not isinstance(value, str):
            self.fail(key, f"must be text, got {_kind(value)}")
            return default or ""
        text = value.strip()
        if len(text) > max_length:
            self.fail(key, f"is {len(text)} characters long; shorten it to {max_length} at most")
        return text

    def slug(self, key: str) -> str:
        value = self.text(key, max_length=80)
        if value and not _SLUG.match(value):
            self.fail(key, f"{value!r} may hold only letters, digits, '-' and '_' (e.g. cub-2026)")
        return value

    def integer(self, key: str, default: int, *, minimum: int = 0) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"must be a whole number, got {value!r}")
            return default
        if value < minimum:
            self.fail(key, f"must be at least {minimum}, got {value}")
            return default
        return value

    def number(self, key: str, default: float, *, low: float, high: float | None = None) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(key, f"must be a number, got {value!r}")
            return default
        if value < low or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            self.fail(key, f"must be {bounds}, got {value}")
            return default
        return float(value)

    def money(self, key: str, default: Decimal) -> Decimal:
        value = self.data.get(key, default)
        try:
            if isinstance(value, bool):
                raise InvalidOperation
            amount = Decimal(str(value))
        except (InvalidOperation, ValueError):
            self.fail(key, f"must be an amount such as 2.50, got {value!r}")
            return default
        if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
            self.fail(key, f"must be a non-negative amount with at most 2 decimals, got {value!r}")
            return default
        if amount >= Decimal("1000000"):
            self.fail(key, f"{amount} is too large; the largest reward is 999999.99")
            return default
        return amount

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.data.get(key, default)
        if value not in allowed:
            self.fail(key, f"must be one of {', '.join(allowed)}, got {value!r}")
            return default
        return str(value)


def _kind(value: object) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "text" if isinstance(value, str) else repr(value)


__all__ = ["Checker", "SpecError", "SpecProblem"]
