"""factory-boy factories for the study app's models.

Stimuli get real (tiny) PNG files through Django storage, so views and exports can serve and
read them like rendered ones.
"""

from __future__ import annotations

import io

import factory
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from PIL import Image

from surveys import models as m


def png_bytes(colour: tuple[int, int, int] = (120, 160, 200), size: int = 16) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("pw-for-tests")


class StaffFactory(UserFactory):
    is_staff = True


class RunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Run

    label = factory.Sequence(lambda n: f"Method {n}")
    kind = m.RunKind.PROTOPOOL
    similarity = "focal"
    run_dir = factory.Sequence(lambda n: f"/runs/run-{n}")
    dataset_name = "SynthBirds"
    fingerprint = factory.Sequence(lambda n: f"fp{n}")
    num_classes = 2
    num_prototypes = 4


class RunClassFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.RunClass

    run = factory.SubFactory(RunFactory)
    index = factory.Sequence(lambda n: n)
    name = factory.Sequence(lambda n: f"{n:03d}.Bird_{n}")


class PrototypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Prototype

    run = factory.SubFactory(RunFactory)
    index = factory.Sequence(lambda n: n)
    original_index = factory.LazyAttribute(lambda p: p.index)
    provenance = factory.LazyAttribute(lambda p: {"prototype": p.index, "image": "a/b.png"})


class ProposedNameFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.ProposedName

    prototype = factory.SubFactory(PrototypeFactory)
    name = "black striped wing"
    kind = "part"
    part = "wing"
    confidence = 0.8
    purity = 0.9
    evidence = factory.LazyFunction(lambda: {"part_purity": {"wing": 0.9}, "images": []})


class StudyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Study

    slug = factory.Sequence(lambda n: f"study-{n}")
    title = factory.Sequence(lambda n: f"Study {n}")
    questions_per_dataset = 4
    participants_wanted = 4
    min_seconds_per_question = 0
    consent_text = "You agree to take part; you may stop at any time."
    instructions_text = "Rate how salient the highlighted feature is."
    debrief_text = "Thank you. The study compares pictures of AI attention."


class ConditionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Condition

    study = factory.SubFactory(StudyFactory)
    run = factory.SubFactory(RunFactory)
    label = factory.LazyAttribute(lambda c: c.run.label)
    dataset = factory.LazyAttribute(lambda c: c.run.dataset_name)


class StimulusFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Stimulus

    condition = factory.SubFactory(ConditionFactory)
    study = factory.LazyAttribute(lambda s: s.condition.study)
    prototype = factory.SubFactory(PrototypeFactory, run=factory.SelfAttribute("..condition.run"))
    image_id = factory.Sequence(lambda n: f"001.Bird/img_{n}.png")
    status = m.StimulusStatus.DONE
    original = factory.LazyFunction(lambda: ContentFile(png_bytes((90, 90, 90)), name="o.png"))
    overlay = factory.LazyFunction(lambda: ContentFile(png_bytes((250, 60, 30)), name="v.png"))
    score = 1.0


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Question

    stimulus = factory.SubFactory(StimulusFactory)
    study = factory.LazyAttribute(lambda q: q.stimulus.study)
    kind = m.QuestionKind.REGULAR


class QuestionSetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.QuestionSet

    study = factory.SubFactory(StudyFactory)
    index = factory.Sequence(lambda n: n)


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Participant

    study = factory.SubFactory(StudyFactory)
    external_id = factory.Sequence(lambda n: f"P{n:05d}")
    recruiter = "link"


class ResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Response

    participant = factory.SubFactory(ParticipantFactory)
    question = factory.SubFactory(
        QuestionFactory, stimulus__condition__study=factory.SelfAttribute("...participant.study")
    )
    position = factory.Sequence(lambda n: n)
    score = 3
