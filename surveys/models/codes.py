"""Random public codes: what URLs and file names carry instead of primary keys."""

from __future__ import annotations

import secrets

CODE_LENGTH = 16
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l: codes are read aloud and typed


def new_code(length: int = CODE_LENGTH) -> str:
    """A random code of ``length`` characters (about 5 bits each)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def is_code(text: str, max_length: int = 64) -> bool:
    """Whether ``text`` could be a code: only the codes' letters and digits, never too long.

    Lookups check this first, so a made-up code in an address (a NUL byte, which PostgreSQL
    refuses in text, or megabytes of text) is simply not found instead of reaching the database.
    """
    return 0 < len(text) <= max_length and all(c in _ALPHABET for c in text)
