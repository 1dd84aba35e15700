"""``protocol: paper``: the paper's study as a preset, and ``configs/studies/paper.yaml`` built
against CUB- and Cars-format datasets written here."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from protopool.data import generate_synthbirds, open_dataset
from surveys.common.checks import SpecError
from surveys.models import Condition, QuestionKind, QuestionSet, Stimulus, StimulusStatus
from surveys.studies.inputs import image_id
from surveys.studies.lifecycle import do_save_study, do_start_build
from surveys.studies.presets import PAPER_QUESTION, PAPER_SCALE
from surveys.studies.spec import check_study_spec, read_study_spec
from tests.surveys.studies.fixtures import LABELS, spec_data
from tests.surveys.studies.paper_fixtures import (
    PAPER_SPEC,
    register_paper_runs,
    write_cars_copy,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def paper_datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """SynthBirds (CUB format) with 45 training images, and its pictures as a Cars devkit."""
    folder = tmp_path_factory.mktemp("paper-data")
    cub = generate_synthbirds(folder / "cub", classes=3, images_per_class=30, size=48, seed=0,
                              progress=False)  # fmt: skip
    return {"CUB": cub, "Cars": write_cars_copy(cub, folder / "cars")}


def test_the_preset_fills_in_the_papers_protocol(catalogue):
    # given a spec that names the protocol and leaves its fields out
    data = spec_data(protocol="paper")
    del data["questions_per_dataset"]

    spec = check_study_spec(data)

    # the one departure: the tiny catalogue has one dataset, the paper two
    assert spec.protocol == "paper"
    assert [d.split(";")[0] for d in spec.protocol_departures] == [
        "the conditions cover 1 dataset label(s)"
    ]
    assert spec.questions_per_dataset == 30 and spec.question_sets == "fixed"
    assert spec.split == "train" and spec.style["box"] is False
    assert spec.question_text == PAPER_QUESTION
    assert (spec.scale_low_label, spec.scale_high_label) == PAPER_SCALE


def test_a_field_that_departs_from_the_protocol_is_kept_and_recorded(catalogue):
    data = spec_data(protocol="paper", question_sets="latin_square", style={"box": True})

    spec = check_study_spec(data)

    # questions_per_dataset: 6 in spec_data, latin_square and the box depart from the paper
    assert spec.question_sets == "latin_square" and spec.style["box"] is True
    departures = " | ".join(spec.protocol_departures)
    assert "questions_per_dataset is 6" in departures
    assert "question_sets is 'latin_square'" in departures
    assert "style.box is True" in departures


def test_an_unknown_protocol_is_a_clear_error(catalogue):
    with pytest.raises(SpecError, match="protocol: must be one of , paper, got 'papers'"):
        check_study_spec(spec_data(protocol="papers"))


def test_the_box_is_a_style_choice_without_the_preset(catalogue):
    spec = check_study_spec(spec_data(style={"box": False}))
    assert spec.style["box"] is False and spec.protocol_departures == ()


def test_the_box_can_itself_be_a_condition(
    catalogue, media: Path, eager: None, django_capture_on_commit_callbacks
):
    # given one run shown with and without the box, the study's style drawing none
    conditions = [
        {"run": LABELS["pool"], "label": "ProtoPool, box", "box": True},
        {"run": LABELS["pool"], "label": "ProtoPool, no box", "box": False},
    ]
    spec = check_study_spec(
        spec_data(conditions=conditions, style={"box": False}, questions_per_dataset=4)
    )
    study = do_save_study(spec).study
    assert list(Condition.objects.filter(study=study).values_list("box", flat=True)) == [
        "on",
        "off",
    ]
    with django_capture_on_commit_callbacks(execute=True):
        do_start_build(study)

    # then only the boxed condition's overlays carry a box
    stimuli = Stimulus.objects.filter(study=study, questions__kind=QuestionKind.REGULAR)
    assert {s.status for s in stimuli} == {StimulusStatus.DONE}
    for stimulus in stimuli.select_related("condition"):
        assert (stimulus.box is not None) == (stimulus.condition.box == "on")
    assert study.preregistration["design"]["conditions"][0]["box"] is True


def test_one_run_twice_needs_two_different_boxes(catalogue):
    twice = [{"run": LABELS["pool"], "label": "A"}, {"run": LABELS["pool"], "label": "B"}]
    with pytest.raises(SpecError, match="or two with box: true and box: false"):
        check_study_spec(spec_data(conditions=twice))
    with pytest.raises(SpecError, match=r"conditions\[0\]\.box: must be true or false"):
        check_study_spec(spec_data(conditions=[{"run": LABELS["pool"], "label": "A", "box": 1}]))


def test_one_fixed_set_shows_each_image_once_under_one_condition(catalogue):
    study = do_save_study(check_study_spec(spec_data(question_sets="fixed"))).study

    [cell] = QuestionSet.objects.filter(study=study)
    regular = [q for q in cell.questions.select_related("stimulus__condition")
               if q.kind == QuestionKind.REGULAR]  # fmt: skip
    assert Counter(q.stimulus.condition.label for q in regular) == {
        "ProtoPool": 2,
        "ProtoPNet-sim": 2,
        "ProtoTree": 2,
    }
    assert len({q.stimulus.image_id for q in regular}) == 6
    # a fixed set renders only the stimuli it shows
    assert Stimulus.objects.filter(study=study, questions__kind=QuestionKind.REGULAR).count() == 6


def _paper_spec(runs: dict[str, Any]) -> dict[str, Any]:
    data = yaml.safe_load(PAPER_SPEC.read_text())
    assert {c["run"] for c in data["conditions"]} == set(runs)
    return data


def test_the_paper_config_builds_on_cub_and_cars_format_datasets(
    db, pool_run: Path, protopnet_run: Path, tree_run: Path, paper_datasets, tmp_path: Path
):
    # given the six runs of paper.yaml, three on each dataset
    runs = register_paper_runs(
        {"pool": pool_run, "pnet": protopnet_run, "tree": tree_run}, paper_datasets, tmp_path
    )
    spec = read_study_spec(PAPER_SPEC)
    assert _paper_spec(runs)["protocol"] == "paper"

    result = do_save_study(spec)

    # then it is the paper's protocol with no departure
    study = result.study
    assert spec.protocol_departures == () and spec.style["box"] is False
    assert (study.scale_low_label, study.scale_high_label) == PAPER_SCALE
    assert study.question_text == PAPER_QUESTION
    # one fixed set: 30 questions per dataset, 10 per method, every image once
    [cell] = QuestionSet.objects.filter(study=study)
    regular = [q for q in cell.questions.select_related("stimulus__condition")
               if q.kind == QuestionKind.REGULAR]  # fmt: skip
    per = Counter((q.stimulus.condition.dataset, q.stimulus.condition.label) for q in regular)
    assert len(regular) == 60 and set(per.values()) == {10} and len(per) == 6
    images = Counter((q.stimulus.condition.dataset, q.stimulus.image_id) for q in regular)
    assert set(images.values()) == {1}
    # the images are training images of each dataset's own folder
    for name, tag in (("CUB-200-2011", "CUB"), ("Stanford Cars", "Cars")):
        folder = paper_datasets[tag]
        train = {image_id(s, folder) for s in open_dataset(folder).train}
        shown = {i for (d, i) in images if d == name}
        assert shown <= train, name
    # and the plan it will freeze holds the pre-registration
    prereg = study.preregistration["preregistration"]
    assert [h["id"] for h in prereg["hypotheses"]] == ["H1", "H2"]
    assert prereg["sample_size"]["participants"] == study.participants_wanted == 40
    assert study.preregistration["design"]["question_sets"] == "fixed"
