"""A logging filter that keeps participants' codes and recruiter IDs out of request logs.

Django's request loggers write the path of every failed request (``django.request``) and the
request line of every request (``django.server``). A participant's path carries the random
code that opens their survey (``/s/<study>/p/<code>/``) and their entry link the recruiter's
IDs (``?PROLIFIC_PID=…&SESSION_ID=…``, ``?workerId=…``): anyone reading the logs could resume
someone's participation or tie a log line to a person. The study code stays (it is the public
link); the participant's part of the path and every query value are masked.
"""

from __future__ import annotations

import logging
import re

MASK = "[redacted]"
# The segment after /p/ in a participant URL, whatever follows it.
_PARTICIPANT_PATH = re.compile(r"(/s/[^/?#\s\"']+/p/)[^/?#\s\"']+")
# The value of each parameter of a query string (the name stays, for debugging).
_QUERY_VALUE = re.compile(r"([?&][^=&?#\s\"']+=)[^&#\s\"']*")


def redact(text: str) -> str:
    """``text`` with participant codes and query values replaced by :data:`MASK`."""
    text = _PARTICIPANT_PATH.sub(rf"\g<1>{MASK}", text)
    return _QUERY_VALUE.sub(rf"\g<1>{MASK}", text)


class RedactParticipantCodes(logging.Filter):
    """Rewrites each record's message with :func:`redact`; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # A malformed record is logging's problem to report; only its text can be redacted.
            message = str(record.msg)
        cleaned = redact(message)
        if cleaned != message:
            # The merged text replaces the template and its arguments, which held the codes.
            record.msg, record.args = cleaned, None
        return True
