"""Quality checks that are valid: declared instructed items and repeats, Prolific's explicit
wording, anchors drawn by the models' own rendering path, gold scored with the study's tolerance,
and the answer timed from the scale's unlock so that the speed rule can fire."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from protopool.data import open_dataset
from protopool.explanations import step_settings
from protopool.inference import load_run, maps_for_pairs
from protopool.inference.maps import crop_region
from protopool.rendering import style_from_dict
from protopool.rendering.overlay import colour_table
from surveys.common.checks import SpecError
from surveys.models import Question, QuestionKind, QuestionSetItem, Response, Stimulus, Study
from surveys.participation.answers import do_record_answer
from surveys.participation.errors import BadAnswer
from surveys.participation.progress import do_show_question, next_item
from surveys.results.exclusions import apply_study_rules, check_exclusion_rules
from surveys.results.responses import responses_frame
from surveys.studies.gold import object_spot
from surveys.studies.inputs import image_id
from surveys.studies.lifecycle import do_save_study, do_start_build
from surveys.studies.rendering import _synthetic_pair
from surveys.studies.spec import check_study_spec
from tests.surveys.browsing import READY, agree, answer
from tests.surveys.factories import QuestionFactory
from tests.surveys.participation.fixtures import build_study, consented
from tests.surveys.studies.fixtures import spec_data

pytestmark = pytest.mark.django_db


def _save(**overrides: object) -> Study:
    return do_save_study(check_study_spec(spec_data(**overrides))).study


def test_the_spec_declares_instructed_items_and_repeats(catalogue):
    assert check_study_spec(spec_data()).quality_checks.to_dict() == {
        "instructed_items": 2,
        "repeats": 2,
    }
    spec = check_study_spec(spec_data(quality_checks={"instructed_items": 3, "repeats": 4}))
    assert (spec.quality_checks.instructed_items, spec.quality_checks.repeats) == (3, 4)


@pytest.mark.parametrize(
    ("checks", "field", "words"),
    [
        ({"repeats": 1}, "quality_checks.repeats", "2 to 4"),
        ({"repeats": 5}, "quality_checks.repeats", "2 to 4"),
        ({"instructed_items": -1}, "quality_checks.instructed_items", "at least 0"),
        ({"instructed_items": 11}, "quality_checks.instructed_items", "at most 10"),
        ({"attention": 2}, "quality_checks.attention", "unknown"),
    ],
)
def test_bad_quality_checks_are_refused_with_their_field(catalogue, checks, field, words):
    with pytest.raises(SpecError) as caught:
        do_save_study(check_study_spec(spec_data(quality_checks=checks)))
    assert any(p.field == field and words in p.message for p in caught.value.problems)
    assert not Study.objects.exists()


def test_the_spec_warns_when_anchors_or_too_few_checks_are_declared(catalogue):
    quiet = check_study_spec(spec_data())
    assert not any("max_anchor_failures" in note for note in quiet.notes)
    assert quiet.exclusion_rules["max_anchor_failures"] is None
    rules = {"max_gold_failures": 0, "max_anchor_failures": 0}
    loud = check_study_spec(
        spec_data(exclusion_rules=rules, quality_checks={"instructed_items": 1})
    )
    assert any("selects raters by how they read the construct" in n for n in loud.notes)
    assert any("Prolific asks for at least two" in n for n in loud.notes)


def test_every_set_holds_the_declared_items_with_explicit_instructions_and_distinct_repeats(
    catalogue,
):
    study = _save(quality_checks={"instructed_items": 3, "repeats": 4})
    assert study.quality_checks == {"instructed_items": 3, "repeats": 4}
    for cell in study.question_sets.all():
        questions = sorted(
            (item.question for item in QuestionSetItem.objects.filter(question_set=cell)),
            key=lambda q: q.pk,
        )
        instructed = [q for q in questions if q.kind == QuestionKind.INSTRUCTED]
        assert [(q.gold_expected, q.instruction) for q in instructed] == [
            (n, f"Please select {n} for this picture.") for n in (2, 4, 1)
        ]
        repeats = [q for q in questions if q.kind == QuestionKind.REPEAT]
        originals = [q.repeat_of for q in repeats]
        assert len(repeats) == 4 and len(set(originals)) == 4
        assert all(o in questions and o.kind == QuestionKind.REGULAR for o in originals)
        anchors = {q.kind: q.gold_expected for q in questions if q.stimulus.map_override}
        assert anchors == {QuestionKind.GOLD_OBJECT: 5, QuestionKind.GOLD_BACKGROUND: 1}


def test_changing_the_checks_redesigns_a_draft(catalogue):
    first = _save()
    again = do_save_study(check_study_spec(spec_data(quality_checks={"repeats": 3})))
    assert again.redesigned and again.study.pk == first.pk
    assert Question.objects.filter(study=first, kind=QuestionKind.REPEAT).count() == 3 * 3


def test_the_instruction_is_part_of_the_question_it_checks(media: Path, client):
    built = build_study(cells=1, gold=False, repeat=False)
    stimulus = built.regular[0].stimulus
    instructed = QuestionFactory(stimulus__condition=stimulus.condition,
                                 kind=QuestionKind.INSTRUCTED, gold_expected=4,
                                 instruction="Please select 4 for this picture.")  # fmt: skip
    QuestionSetItem.objects.create(question_set=built.sets[0], question=instructed)
    participant = consented(built.study)
    item = participant.items.get(question=instructed)
    page = client.get(f"/s/{built.study.code}/p/{participant.code}/q/{item.position}/")
    if page.status_code == 302:  # an earlier question comes first: answer up to it
        while (current := next_item(participant)) is not None and current.pk != item.pk:
            do_show_question(participant, current.position)
            do_record_answer(participant, current.position, "3", "2500")
        page = client.get(f"/s/{built.study.code}/p/{participant.code}/q/{item.position}/")
    html = page.content.decode()
    assert '<p class="instruction" id="instruction">Please select 4 for this picture.</p>' in html
    assert 'aria-describedby="instruction"' in html


@pytest.fixture
def built_study(catalogue, media: Path, eager: None, django_capture_on_commit_callbacks) -> Study:
    study = _save()
    with django_capture_on_commit_callbacks(execute=True):
        do_start_build(study)
    study.refresh_from_db()
    return study


def _expected_cold(original: np.ndarray, style_fields: dict[str, object]) -> np.ndarray:
    """The overlay's pixels where a map sits at its minimum, as the blend draws them."""
    style = style_from_dict(style_fields)
    image = original.astype(np.float32) * np.float32(style.image_weight / 255)
    cold = colour_table(style.colormap)[0] * np.float32(style.heat_weight)
    return np.rint(np.clip(image + cold, 0.0, 1.0) * np.float32(255)).astype(np.uint8)


def test_anchors_and_practice_pictures_are_drawn_by_the_models_own_path(built_study: Study):
    stimuli = Stimulus.objects.filter(study=built_study).select_related("condition__run")
    assert {s.map_override for s in stimuli} == {"", "object", "background"}
    for stimulus in stimuli:
        folder = Path(stimulus.condition.run.dataset_dir)
        with (
            Image.open(stimulus.overlay.path) as overlay,
            Image.open(stimulus.original.path) as original,
            Image.open(folder / stimulus.image_id) as source,
        ):
            # the same format, size and colour mode as a model's picture, and no metadata
            assert (overlay.format, overlay.mode, overlay.size) == ("PNG", "RGB", source.size)
            assert original.size == source.size and not overlay.info and not original.info
            pixels, heat = np.asarray(original), np.asarray(overlay)
        # heat only where the run's network looks: outside its crop the map is at its minimum,
        # for a model's map and a synthetic one alike, and the box lies inside the crop
        left, top, right, bottom = crop_region(source.size, stimulus.crop_box)
        outside = np.ones(pixels.shape[:2], bool)
        outside[top:bottom, left:right] = False
        assert outside.any(), "the tiny runs crop to the object box"
        cold = _expected_cold(pixels, built_study.style)
        assert np.abs(heat[outside].astype(int) - cold[outside].astype(int)).max() <= 1
        box_left, box_top, box_right, box_bottom = stimulus.box
        assert left <= box_left < box_right <= right and top <= box_top < box_bottom <= bottom
    # a background anchor of a run that crops to the box is cropped to the background beside it
    background = Stimulus.objects.get(study=built_study, map_override="background", practice=False)
    folder = Path(background.condition.run.dataset_dir)
    index = open_dataset(folder)
    bbox = {image_id(s, folder): s.bbox for s in [*index.train, *index.test]}[background.image_id]
    with Image.open(folder / background.image_id) as source:
        left, top, right, bottom = crop_region(source.size, background.crop_box)
    # (the crop's pixel edges are rounded, so it may reach one pixel into the box)
    assert (
        right <= bbox.x + 1
        or left >= bbox.x + bbox.width - 1
        or bottom <= bbox.y + 1
        or top >= bbox.y + bbox.height - 1
    )


def test_a_synthetic_map_keeps_the_models_latent_grid_and_range(pool_run: Path, synth_data: Path):
    run = load_run(pool_run, "cpu")
    image = next((synth_data / "images").rglob("*.jpg"))
    [pair] = maps_for_pairs(run.model, [(0, image, None)], run.config.data, step_settings(run))
    with Image.open(image) as opened:
        width, height = opened.size
    # a box whose centre sits off every cell boundary of small grids
    spot = object_spot((width * 0.1, height * 0.1, width * 0.4, height * 0.4))
    synthetic = _synthetic_pair(pair, spot)
    # the model's own grid, in the model's own range
    assert synthetic.latent.shape == pair.latent.shape
    low, high = float(pair.latent.min()), float(pair.latent.max())
    assert (
        low - 1e-6 <= float(synthetic.latent.min()) <= float(synthetic.latent.max()) <= high + 1e-6
    )
    assert synthetic.activation.shape == pair.activation.shape
    row, column = np.unravel_index(int(torch.argmax(synthetic.latent)), synthetic.latent.shape)
    rows, columns = synthetic.latent.shape
    assert int(spot.y * rows / height) == row and int(spot.x * columns / width) == column


def _answer_everything(participant, unlocked: str, client_rt: str = "2600") -> None:
    while (item := next_item(participant)) is not None:
        do_show_question(participant, item.position)
        do_record_answer(
            participant, item.position, str(1 + item.position % 5), client_rt,
            unlocked_rt_ms=unlocked,
        )  # fmt: skip


def test_the_speed_rule_fires_on_the_time_from_the_unlock(media: Path):
    built = build_study(per_condition=6, cells=1, exclusion_rules={"straightline_share": None})
    clicker, reader = consented(built.study, "clicker"), consented(built.study, "reader")
    # both answered 2.6 s after the pictures loaded: past the 2 s the scale waits
    _answer_everything(clicker, unlocked="300")
    _answer_everything(reader, unlocked="2400")
    assert set(Response.objects.values_list("unlocked_rt_ms", flat=True)) == {300, 2400}
    frame = responses_frame(built.study)
    assert set(frame["unlocked_rt_ms"]) == {300.0, 2400.0}
    outcome = apply_study_rules(frame, check_exclusion_rules(built.study))
    fast = frame.loc[frame["unlocked_rt_ms"] == 300, "participant"].iloc[0]
    assert outcome.removed == {fast: "too fast (participant median)"}


def test_a_garbled_unlock_time_is_refused_and_stores_nothing(media: Path):
    built = build_study(cells=1)
    participant = consented(built.study)
    item = next_item(participant)
    assert item is not None
    do_show_question(participant, item.position)
    with pytest.raises(BadAnswer, match="milliseconds"):
        do_record_answer(participant, item.position, "3", "2500", unlocked_rt_ms="soon")
    assert not Response.objects.exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("media")
def test_the_browser_times_the_answer_from_the_unlock(live_server, page):
    built = build_study(min_seconds_per_question=0.8)
    agree(page, f"{live_server.url}/s/{built.study.code}/")
    page.wait_for_selector(READY, timeout=5000)
    answer(page, 3)
    stored = Response.objects.get()
    assert stored.client_rt_ms is not None and stored.unlocked_rt_ms is not None
    # the scale waited 0.8 s after the pictures loaded; the unlock time starts there
    assert stored.client_rt_ms - stored.unlocked_rt_ms >= 750
    assert stored.unlocked_rt_ms < stored.client_rt_ms
