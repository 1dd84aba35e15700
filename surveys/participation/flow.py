"""A participant's way through a study: entry, consent, one answer at a time, completion.

Every mutation is one transaction and every repeat of it is harmless: a second start with the
same external ID and proof of its session finds the same participant (the database's
one-participation constraint), a second consent changes nothing, and a second submit of an
answer returns the stored one (the one-response-per-question constraint). Answers come in
order: a question can only be answered once it has been shown, and it is shown only when it is
the first unanswered one, so a reload, the back button or a second device with the resume link
all land on the same place.

The steps live in their own rooms, and this module gathers their public names for the views
and the recruiters:

* :mod:`.errors`: the refusals, each with its page's status and message;
* :mod:`.entry`: who is entering (identity, proof of a session, the newcomer's admission);
* :mod:`.ratelimits`: how fast newcomers may enter;
* :mod:`.verification`: which participants the recruiter vouches for;
* :mod:`.consent`: the consent decision and the allocation it triggers;
* :mod:`.progress`: the next question, its showing, its pictures, the completion;
* :mod:`.answers`: checking and storing one answer.
"""

from __future__ import annotations

from surveys.participation.answers import (
    Answer,
    check_client_rt,
    check_score,
    check_time_spent,
    do_record_answer,
)
from surveys.participation.consent import do_consent
from surveys.participation.entry import access_participant, access_study, do_start
from surveys.participation.errors import (
    AlreadyStarted,
    BadAnswer,
    NotFound,
    OutOfOrder,
    ParticipationError,
    StudyClosed,
    StudyFull,
    TooManyEntries,
    check_open,
)
from surveys.participation.progress import (
    PICTURES,
    access_picture,
    count_items,
    do_complete,
    do_complete_if_answered,
    do_show_question,
    next_item,
)

__all__ = [
    "PICTURES",
    "AlreadyStarted",
    "Answer",
    "BadAnswer",
    "NotFound",
    "OutOfOrder",
    "ParticipationError",
    "StudyClosed",
    "StudyFull",
    "TooManyEntries",
    "access_participant",
    "access_picture",
    "access_study",
    "check_client_rt",
    "check_open",
    "check_score",
    "check_time_spent",
    "count_items",
    "do_complete",
    "do_complete_if_answered",
    "do_consent",
    "do_record_answer",
    "do_show_question",
    "do_start",
    "next_item",
]
