"""Pseudonyms: what every export writes instead of a recruiter's participant ID.

A pseudonym is a keyed hash (HMAC-SHA256) of the external ID. The key is ``PSEUDONYM_KEY``
when the deployment sets one, else ``SECRET_KEY``: without the key a pseudonym cannot be
reversed by hashing candidate IDs (Prolific and MTurk IDs are short and guessable), and with
the same key the same person gets the same pseudonym in every export, so exports made on
different days still join.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

PREFIX = "p-"
# 20 hex digits = 80 bits: no collision among any realistic number of participants.
DIGEST_CHARS = 20


def pseudonym_key() -> bytes:
    """The key of the hash: ``settings.PSEUDONYM_KEY`` if set and non-empty, else SECRET_KEY."""
    key = getattr(settings, "PSEUDONYM_KEY", "") or settings.SECRET_KEY
    return str(key).encode()


def pseudonym(external_id: str, key: bytes | None = None) -> str:
    """The pseudonym of one recruiter ID (e.g. ``p-3f9a…``); stable for a given key."""
    digest = hmac.new(key or pseudonym_key(), external_id.encode(), hashlib.sha256).hexdigest()
    return PREFIX + digest[:DIGEST_CHARS]
