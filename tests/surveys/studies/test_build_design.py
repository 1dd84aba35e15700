"""The design a spec gets: Latin-square question sets, one stimulus per image and condition,
prototypes of the image's class, and gold trials in every set."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from protopool.data import open_dataset
from surveys.models import Question, QuestionKind, QuestionSet, Run, Stimulus, Study
from surveys.studies.design import gold_count, gold_kinds
from surveys.studies.gold import background_spot
from surveys.studies.inputs import image_id
from surveys.studies.lifecycle import do_save_study
from surveys.studies.spec import check_study_spec
from tests.surveys.studies.fixtures import LABELS, spec_data

pytestmark = pytest.mark.django_db


def _save(**overrides: object) -> Study:
    return do_save_study(check_study_spec(spec_data(**overrides))).study


def _cells(study: Study) -> list[list[Question]]:
    return [
        [item.question for item in cell.items.select_related("question__stimulus__condition")]
        for cell in QuestionSet.objects.filter(study=study).order_by("index")
    ]


def _labels(dataset_dir: Path) -> dict[str, int]:
    index = open_dataset(dataset_dir)
    return {image_id(s, dataset_dir): s.label for s in [*index.train, *index.test]}


def test_every_cell_shows_each_condition_equally_often_and_each_image_once(catalogue):
    # given three conditions on one dataset and 6 images
    study = _save(questions_per_dataset=6)
    cells = _cells(study)
    # then there are K = 3 cells
    assert len(cells) == 3
    stimuli_seen: Counter[int] = Counter()
    for cell in cells:
        regular = [q for q in cell if q.kind == QuestionKind.REGULAR]
        # each condition twice, each image once
        assert Counter(q.stimulus.condition.label for q in regular) == {
            "ProtoPool": 2,
            "ProtoPNet-sim": 2,
            "ProtoTree": 2,
        }
        without_repeats = [q for q in cell if q.kind != QuestionKind.REPEAT]
        images = [q.stimulus.image_id for q in without_repeats]
        assert len(images) == len(set(images))
        stimuli_seen.update(q.stimulus_id for q in regular)
    # and every regular stimulus is shown in exactly one cell: image i under (i + c) mod K
    regular_stimuli = Stimulus.objects.filter(study=study, map_override="").exclude(
        questions__kind=QuestionKind.INSTRUCTED
    )
    assert regular_stimuli.count() == 6 * 3
    assert set(stimuli_seen.values()) == {1}
    assert set(stimuli_seen) == set(regular_stimuli.values_list("id", flat=True))


def test_each_image_has_one_stimulus_per_condition_of_its_class(catalogue):
    study = _save()
    labels = _labels(Path(catalogue["pool"].dataset_dir))
    regular = Stimulus.objects.filter(study=study, questions__kind=QuestionKind.REGULAR)
    per_image = Counter(regular.values_list("image_id", flat=True))
    assert len(per_image) == 6 and set(per_image.values()) == {3}
    for stimulus in regular.select_related("prototype", "condition__run"):
        classes = set(stimulus.prototype.classes.values_list("index", flat=True))
        # the prototype is one the run uses for the image's class; a tree's is a node on the
        # image's own path and never the root (test_prototype_rule.py checks the path)
        if stimulus.condition.run.kind == "prototree":
            root = stimulus.condition.run.prototypes.order_by("original_index").first()
            assert stimulus.prototype != root
        else:
            assert labels[stimulus.image_id] in classes
        # runs that crop to the object box get the image's box as the crop
        assert stimulus.crop_box is not None and len(stimulus.crop_box) == 4


def test_two_datasets_with_different_condition_counts_get_lcm_cells(catalogue):
    # given two conditions on one dataset label and one on another
    conditions = [
        {"run": LABELS["pool"], "label": "ProtoPool", "dataset": "Birds-A"},
        {"run": LABELS["pnet"], "label": "ProtoPNet-sim", "dataset": "Birds-A"},
        {"run": LABELS["tree"], "label": "ProtoTree", "dataset": "Birds-B"},
    ]
    study = _save(conditions=conditions, questions_per_dataset=4)
    cells = _cells(study)
    assert len(cells) == 2
    for cell in cells:
        regular = Counter(
            q.stimulus.condition.label for q in cell if q.kind == QuestionKind.REGULAR
        )
        assert regular == {"ProtoPool": 2, "ProtoPNet-sim": 2, "ProtoTree": 4}


def test_indivisible_counts_are_as_close_as_possible_and_logged(catalogue):
    result = do_save_study(check_study_spec(spec_data(questions_per_dataset=5)))
    assert any("do not divide evenly" in note for note in result.notes)
    for cell in _cells(result.study):
        counts = Counter(q.stimulus.condition.label for q in cell if q.kind == QuestionKind.REGULAR)
        assert sum(counts.values()) == 5 and max(counts.values()) - min(counts.values()) <= 1


def test_gold_items_are_in_every_cell_with_expected_answers(catalogue):
    study = _save(gold_share=0.1)
    cells = _cells(study)
    regular_images = set(
        Stimulus.objects.filter(study=study, questions__kind=QuestionKind.REGULAR).values_list(
            "image_id", flat=True
        )
    )
    for cell in cells:
        gold = {q.kind: q for q in cell if q.kind != QuestionKind.REGULAR}
        assert set(gold) == {
            QuestionKind.GOLD_OBJECT,
            QuestionKind.GOLD_BACKGROUND,
            QuestionKind.INSTRUCTED,
            QuestionKind.REPEAT,
        }
        assert gold[QuestionKind.GOLD_OBJECT].gold_expected == 5
        assert gold[QuestionKind.GOLD_OBJECT].stimulus.map_override == "object"
        assert gold[QuestionKind.GOLD_BACKGROUND].gold_expected == 1
        assert gold[QuestionKind.GOLD_BACKGROUND].stimulus.map_override == "background"
        # two instructed items, each asking explicitly for its own answer
        instructed = sorted(
            (q for q in cell if q.kind == QuestionKind.INSTRUCTED), key=lambda q: q.pk
        )
        assert [(q.gold_expected, q.instruction) for q in instructed] == [
            (2, "Please select 2 for this picture."),
            (4, "Please select 4 for this picture."),
        ]
        # the repeat repeats a regular question of the same cell, with the same stimulus
        repeat = gold[QuestionKind.REPEAT]
        assert repeat.repeat_of in cell and repeat.repeat_of.kind == QuestionKind.REGULAR
        assert repeat.stimulus_id == repeat.repeat_of.stimulus_id
        # gold maps sit on images no cell shows as a regular question
        for kind in (QuestionKind.GOLD_OBJECT, QuestionKind.GOLD_BACKGROUND):
            assert gold[kind].stimulus.image_id not in regular_images
    # the same object, background and instructed items in every cell; the repeats differ
    shared = [{q.pk for q in cell if q.kind not in ("regular", "repeat")} for cell in cells]
    assert all(s == shared[0] for s in shared)


def test_background_gold_images_have_an_empty_corner(catalogue):
    from PIL import Image

    study = _save()
    folder = Path(catalogue["pool"].dataset_dir)
    samples = {
        image_id(s, folder): s for s in open_dataset(folder).test + open_dataset(folder).train
    }
    stimulus = Stimulus.objects.get(study=study, map_override="background", practice=False)
    sample = samples[stimulus.image_id]
    with Image.open(folder / stimulus.image_id) as image:
        box = sample.bbox
        assert background_spot(image.size, (box.x, box.y, box.width, box.height)) is not None


@pytest.mark.parametrize(
    ("regular", "share", "expected"), [(60, 0.1, 7), (18, 0.1, 6), (18, 0.0, 0), (60, 0.5, 60)]
)
def test_gold_count_is_about_the_share_of_a_set(regular: int, share: float, expected: int):
    # 60 regular + 7 gold: 7 / 67 = 10.4 %; at least two anchors, two instructed items and two
    # repeats (the default quality checks)
    assert gold_count(regular, share) == expected
    kinds = gold_kinds(expected)
    assert len(kinds) == expected
    if expected:
        assert kinds.count(QuestionKind.INSTRUCTED) == 2 and kinds.count(QuestionKind.REPEAT) == 2


def test_no_gold_trials_when_the_share_is_zero(catalogue):
    study = _save(gold_share=0)
    assert not Question.objects.filter(study=study).exclude(kind=QuestionKind.REGULAR).exists()


def test_the_seed_fixes_the_design(catalogue):
    def design(slug: str, seed: int) -> list[tuple[str, str, int]]:
        study = _save(slug=slug, sampling={"seed": seed})
        return sorted(
            Stimulus.objects.filter(study=study).values_list(
                "condition__label", "image_id", "prototype__index"
            )
        )

    assert design("a", 3) == design("b", 3)
    assert design("c", 3) != design("d", 4)


def test_runs_of_one_dataset_label_must_share_their_folder(catalogue, tmp_path):
    from surveys.common.checks import SpecError

    other = Run.objects.get(label=LABELS["tree"])
    other.dataset_dir = str(tmp_path / "elsewhere")
    other.save()
    with pytest.raises(SpecError) as caught:
        do_save_study(check_study_spec(spec_data()))
    assert "conditions[2].run" in str(caught.value)
    assert "different dataset labels" in str(caught.value)
    assert not Study.objects.exists()


def test_registered_runs_mirror_their_directories(catalogue: dict[str, Run]) -> None:
    # given the three runs registered from their files
    for run in catalogue.values():
        # then every prototype of projection.json is a row with at least one class
        records = json.loads((Path(run.run_dir) / "projection.json").read_text())["prototypes"]
        assert run.prototypes.count() == len(records)
        assert run.classes.count() == run.num_classes
    assert catalogue["tree"].kind == "prototree"
