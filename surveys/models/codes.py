"""Random public codes: what URLs and file names carry instead of primary keys."""

from __future__ import annotations

import secrets

CODE_LENGTH = 16
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l: codes are read aloud and typed


def new_code(length: int = CODE_LENGTH) -> str:
    """A random code of ``length`` characters (about 5 bits each)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))
