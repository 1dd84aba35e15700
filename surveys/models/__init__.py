"""Database models of the study app, one module per room.

* :mod:`.catalogue`: trained runs, their classes and prototypes, proposed names and reviews.
* :mod:`.studies`: studies, conditions, stimuli, questions and balanced question sets.
* :mod:`.people`: participants, the order they see questions in, and their responses.
* :mod:`.payments`: recruiters' submissions, the payment ledger, webhook deliveries.
* :mod:`.training`: configs trained by a GPU worker and imported into the catalogue.
"""

from surveys.models.catalogue import (
    NameDecision,
    NameReview,
    ProposedName,
    Prototype,
    PrototypeImage,
    Run,
    RunClass,
    RunKind,
)
from surveys.models.payments import (
    HookEvent,
    HookResolution,
    HookSecret,
    LedgerEntry,
    LedgerStatus,
    Submission,
    SubmissionStatus,
)
from surveys.models.people import (
    Participant,
    ParticipantItem,
    ParticipantStatus,
    Response,
)
from surveys.models.studies import (
    Condition,
    Question,
    QuestionKind,
    QuestionSet,
    QuestionSetItem,
    RecruiterKind,
    Stimulus,
    StimulusStatus,
    Study,
    StudyStatus,
)
from surveys.models.training import TrainingJob, TrainingStatus

__all__ = [
    "Condition",
    "HookEvent",
    "HookResolution",
    "HookSecret",
    "LedgerEntry",
    "LedgerStatus",
    "NameDecision",
    "NameReview",
    "Participant",
    "ParticipantItem",
    "ParticipantStatus",
    "ProposedName",
    "Prototype",
    "PrototypeImage",
    "Question",
    "QuestionKind",
    "QuestionSet",
    "QuestionSetItem",
    "RecruiterKind",
    "Response",
    "Run",
    "RunClass",
    "RunKind",
    "Stimulus",
    "Submission",
    "SubmissionStatus",
    "StimulusStatus",
    "Study",
    "StudyStatus",
    "TrainingJob",
    "TrainingStatus",
]
