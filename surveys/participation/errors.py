"""What the participation services refuse, as errors that carry the participant's page.

Each error holds the message the participant reads, the HTTP status the page is served with and
its title; the views turn any of them into the polite problem page, so no refusal is a 500.
"""

from __future__ import annotations

from surveys.models import Study, StudyStatus


class ParticipationError(Exception):
    """A request the survey cannot honour; ``message`` tells the participant what to do.

    Attributes:
        status: The HTTP status the page is served with.
        step: For out-of-order requests, the participant's status, so the page can point them
            back to where they belong.
    """

    status = 400
    title = "This did not work"
    # The participant template that shows it (under surveys/participant/).
    page = "problem.html"

    def __init__(self, message: str, *, status: int | None = None, step: str = "") -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.step = step


class NotFound(ParticipationError):
    status = 404
    title = "Page not found"


class StudyClosed(ParticipationError):
    status = 410
    title = "This study is closed"


class StudyFull(ParticipationError):
    # Not an error of the visitor's: the page is a normal, polite answer.
    status = 200
    title = "This study is full"

    def __init__(self) -> None:
        super().__init__(
            "Enough people have already taken part in this study. Thank you for your interest; "
            "you do not need to do anything else."
        )


class AlreadyStarted(ParticipationError):
    """A recruiter ID that has started, arriving without the proof of that session.

    Nothing is started and nothing changes; the page says how the person who started can go on,
    and nothing about that participation (its code, its progress) is shown.
    """

    status = 409
    title = "You have already started this study"
    page = "already_started.html"

    def __init__(self, how_to_resume: str) -> None:
        super().__init__(
            "This participant ID has already started this study elsewhere. " + how_to_resume
        )


class TooManyEntries(ParticipationError):
    """More new participants than the study's entry limits allow; try again later."""

    status = 429
    title = "Please try again in a few minutes"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            "Many people are starting this study right now. Please open the same link again in "
            "a few minutes; nothing was saved for you yet."
        )
        self.retry_after_s = retry_after_s


class OutOfOrder(ParticipationError):
    status = 409
    title = "Not this page"


class BadAnswer(ParticipationError):
    status = 400
    title = "Please check your answer"


def check_open(study: Study) -> None:
    """Raise :class:`StudyClosed` unless ``study`` takes new participants.

    Only entry asks this: closing a study stops newcomers, while everyone who entered before
    may still consent, answer, see their completion and be paid.
    """
    if study.status == StudyStatus.CLOSED:
        raise StudyClosed("This study has closed. Thank you for your interest.")
    if study.status != StudyStatus.OPEN:
        raise StudyClosed("This study is not open yet. Please try again later.", status=403)
