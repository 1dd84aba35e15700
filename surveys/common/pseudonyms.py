"""Pseudonyms: what every export writes instead of a recruiter's participant ID.

A pseudonym is a keyed hash (HMAC-SHA256) of the external ID under a key of the study's own.
The study's key is derived from ``PSEUDONYM_KEY`` when the deployment sets one, else
``SECRET_KEY``, and the study's code. Without the secret a pseudonym cannot be reversed by
hashing candidate IDs (Prolific and MTurk IDs are short and guessable). Within a study the same
person always gets the same pseudonym, so exports made on different days still join; across
studies the same worker gets unrelated pseudonyms, so the exports of two studies cannot be
joined to follow one person (a study's data shared with others tells nothing about another's).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from surveys.models import Study

PREFIX = "p-"
# 20 hex digits = 80 bits: no collision among any realistic number of participants.
DIGEST_CHARS = 20
# Separates the study keys from any other use of the same secret.
SCOPE = "surveys.pseudonym.study:"


def secret_key() -> bytes:
    """The deployment's secret: ``settings.PSEUDONYM_KEY`` if set and non-empty, else
    SECRET_KEY."""
    key = getattr(settings, "PSEUDONYM_KEY", "") or settings.SECRET_KEY
    return str(key).encode()


def pseudonym_key(study: Study, secret: bytes | None = None) -> bytes:
    """The key of ``study``'s pseudonyms (derived from ``secret``, default :func:`secret_key`).

    The study's code names it, not its row number, so the key survives a dump and reload.
    """
    scope = f"{SCOPE}{study.code}".encode()
    return hmac.new(secret or secret_key(), scope, hashlib.sha256).digest()


def pseudonym(external_id: str, key: bytes) -> str:
    """The pseudonym of one recruiter ID (e.g. ``p-3f9a…``) under a study's ``key``."""
    digest = hmac.new(key, external_id.encode(), hashlib.sha256).hexdigest()
    return PREFIX + digest[:DIGEST_CHARS]
