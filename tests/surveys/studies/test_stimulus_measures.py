"""Every stimulus carries the measures of the map it shows; the manifest and the responses
export carry them as ``m_`` columns beside its prototype's catalogue metrics; and a study can
ask for a number of distinct prototypes per condition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from protopool.data import BBox, PartLocation, Sample, open_dataset
from protopool.data.synth.masks import load_synth_truth
from protopool.explanations import step_settings
from protopool.inference import load_run, maps_for_pairs
from protopool.interpretability.map_measures import annotation_masks, map_measures, shown_map
from protopool.rendering import RenderStyle, style_from_dict
from surveys.common.checks import SpecError
from surveys.models import Prototype, QuestionKind, Stimulus, Study
from surveys.results.measure_columns import (
    ANALYSED_MEASURES,
    MEASURE_COLUMNS,
    present_measures,
)
from surveys.results.responses import RESPONSE_COLUMNS, responses_frame
from surveys.results.stimuli import STIMULUS_COLUMNS, iter_stimulus_rows
from surveys.studies.coverage import do_cover_prototypes, regular_stimuli
from surveys.studies.design import (
    ConditionInput,
    DatasetInput,
    DesignPlan,
    ImageInfo,
    StimulusPlan,
)
from surveys.studies.inputs import image_id
from surveys.studies.lifecycle import do_save_study, do_start_build
from surveys.studies.measures import MEASURE_DIGITS, measure_map
from surveys.studies.spec import check_study_spec
from tests.surveys.participation.fixtures import answer_all, build_study, consented
from tests.surveys.studies.fixtures import spec_data

MAP_KEYS = {"energy_in_part", "energy_in_object", "area_part", "area_object", "top5_share"}


def _build(django_capture_on_commit_callbacks, **overrides: object) -> Study:
    study = do_save_study(check_study_spec(spec_data(**overrides))).study
    with django_capture_on_commit_callbacks(execute=True):
        do_start_build(study)
    study.refresh_from_db()
    return study


# --- measured when rendered ------------------------------------------------------------------


@pytest.mark.django_db
def test_every_rendered_stimulus_stores_the_measures_of_the_map_it_shows(
    catalogue, media: Path, eager: None, django_capture_on_commit_callbacks
):
    study = _build(django_capture_on_commit_callbacks)
    stimuli = list(Stimulus.objects.filter(study=study).select_related("condition__run"))
    for stimulus in stimuli:
        measures = stimulus.measures
        # SynthBirds has part masks and object boxes: every measure is there, each a share
        assert MAP_KEYS | {"entropy"} <= set(measures)
        assert all(0.0 <= measures[k] <= 1.0 for k in MAP_KEYS | {"entropy"})
        if stimulus.map_override:
            # a synthetic map has no prototype activation to report
            assert "activation" not in measures
        else:
            assert measures["activation"] == pytest.approx(stimulus.score, abs=1e-6)
    # the anchors are measured like any map: one on the object, one on empty background
    on_object = next(s for s in stimuli if s.map_override == "object" and not s.practice)
    on_background = next(s for s in stimuli if s.map_override == "background" and not s.practice)
    assert on_object.measures["energy_in_object"] > on_object.measures["area_object"]
    assert on_background.measures["energy_in_object"] < on_background.measures["area_object"]


@pytest.mark.django_db
def test_the_stored_measures_are_those_of_the_run_map_as_the_style_draws_it(
    catalogue, media: Path, eager: None, django_capture_on_commit_callbacks
):
    # given a study drawn at twice the images' size
    study = _build(django_capture_on_commit_callbacks, style={"size": [96, 96]})
    stimulus = Stimulus.objects.filter(study=study, map_override="").first()
    run = stimulus.condition.run
    folder = Path(run.dataset_dir)
    # when the map is made again from the run and drawn with the study's style
    loaded = load_run(run.run_dir, "cpu")
    pair = maps_for_pairs(
        loaded.model,
        [(stimulus.prototype.index, folder / stimulus.image_id, stimulus.crop_box)],
        loaded.config.data,
        step_settings(loaded),
    )[0]
    shown = shown_map(pair.prepared.original, pair.activation, style_from_dict(study.style))
    sample = next(
        s for s in [*open_dataset(folder).test, *open_dataset(folder).train]
        if image_id(s, folder) == stimulus.image_id
    )  # fmt: skip
    labels = load_synth_truth(folder).part_labels(sample.image_id)
    masks = annotation_masks(sample, pair.prepared.original.size, shown.shape, labels)
    expected = map_measures(shown, masks, activation=pair.score).as_dict()
    # then the stored measures are that map's, at the picture's size the participant saw
    assert shown.shape == (96, 96)
    with Image.open(media / stimulus.overlay.name) as overlay:
        assert overlay.size == (96, 96)
    # (up to float32 noise: the worker fed the image in a batch of several)
    for name, value in expected.items():
        assert stimulus.measures[name] == pytest.approx(value, abs=1e-4)
    assert all(round(v, MEASURE_DIGITS) == v for v in stimulus.measures.values())


def test_a_map_on_the_box_puts_all_its_energy_in_the_object_at_any_shown_size():
    image = Image.new("RGB", (40, 20), (90, 90, 90))
    activation = np.zeros((20, 40), dtype=np.float32)
    activation[5:15, 10:20] = 1.0
    sample = Sample(
        "1", Path("img.png"), 0, bbox=BBox(10, 5, 10, 10), parts=(PartLocation(1, 30, 10, True),)
    )
    for size in (None, (80, 40)):
        style = RenderStyle(size=size, resample="nearest", pair="separate")
        measures = measure_map(image, activation, style, sample, score=2.5)
        assert measures["energy_in_object"] == pytest.approx(1.0)
        assert measures["area_object"] == pytest.approx(100 / 800)
        # the only keypoint lies outside the box: none of the energy is on the parts
        assert measures["energy_in_part"] == pytest.approx(0.0)
        assert measures["top5_share"] == pytest.approx(40 / 100)
        assert measures["activation"] == 2.5


def test_a_dataset_without_annotations_gets_the_concentration_measures_only():
    image = Image.new("RGB", (16, 16))
    activation = np.random.default_rng(0).random((16, 16))
    measures = measure_map(image, activation, RenderStyle(pair="separate"))
    assert set(measures) == {"top5_share", "entropy"}
    assert all(np.isfinite(list(measures.values())))


# --- in the manifest and the responses export ----------------------------------------------


@pytest.mark.django_db
def test_manifest_and_responses_carry_one_column_per_measure(media: Path):
    built = build_study(gold=False, repeat=False, cells=1, per_condition=2)
    first, second = built.regular[0].stimulus, built.regular[1].stimulus
    first.measures = {"energy_in_part": 0.61, "top5_share": 0.2, "entropy": 0.9, "activation": 3.0}
    first.save()
    Prototype.objects.filter(pk=first.prototype_id).update(
        metrics={
            "consistency": {"part": "beak", "hit_rate": 0.75, "consistent": True},
            "stability": 0.8,
            "purity": {"part": "beak", "purity": 0.66},
        }
    )
    # a second stimulus whose prototype's entry has no numbers: its cells stay empty
    Prototype.objects.filter(pk=second.prototype_id).update(
        metrics={"consistency": None, "stability": None, "purity": {"purity": "n/a"}}
    )
    answer_all(consented(built.study))

    columns = [f"m_{name}" for name in (
        "energy_in_part", "energy_in_object", "area_part", "area_object", "top5_share",
        "entropy", "activation", "consistency", "stability", "purity",
    )]  # fmt: skip
    assert list(MEASURE_COLUMNS) == columns
    assert list(STIMULUS_COLUMNS[-len(columns) :]) == columns
    assert list(RESPONSE_COLUMNS[-len(columns) :]) == columns
    manifest = pd.DataFrame(list(iter_stimulus_rows(built.study)), columns=list(STIMULUS_COLUMNS))
    row = manifest.set_index("stimulus").loc[first.pk]
    assert (row["m_energy_in_part"], row["m_top5_share"], row["m_activation"]) == (0.61, 0.2, 3.0)
    assert (row["m_consistency"], row["m_stability"], row["m_purity"]) == (0.75, 0.8, 0.66)
    assert row["m_energy_in_object"] is None  # not a measure this stimulus has
    other = manifest.set_index("stimulus").loc[second.pk]
    assert other[["m_consistency", "m_stability", "m_purity"]].isna().all()

    responses = responses_frame(built.study)
    answered = responses[responses["stimulus"] == first.pk]
    assert len(answered) == 1
    assert answered["m_energy_in_part"].iloc[0] == 0.61
    assert answered["m_purity"].iloc[0] == 0.66
    assert responses["m_energy_in_object"].dtype == np.float64
    assert responses.loc[responses["stimulus"] == second.pk, "m_purity"].isna().all()
    # the report analyses the measures some stimulus has, and never the chance areas
    assert present_measures(responses) == (
        "m_energy_in_part", "m_top5_share", "m_entropy", "m_activation",
        "m_consistency", "m_stability", "m_purity",
    )  # fmt: skip
    assert not any("area" in name for name in ANALYSED_MEASURES)


@pytest.mark.django_db
def test_a_study_rendered_before_measures_exports_empty_columns_and_no_section(
    media: Path, tmp_path: Path
):
    from surveys.results.exports import do_export_results

    rules = {"min_median_rt_ms": None, "straightline_share": None}
    built = build_study(gold=False, repeat=False, cells=1, per_condition=3, exclusion_rules=rules)
    for score in ("2", "3", "4"):
        answer_all(consented(built.study), score=score)
    summary = do_export_results(built.study, tmp_path)
    exported = pd.read_csv(tmp_path / "responses.csv")
    assert exported[list(MEASURE_COLUMNS)].isna().all().all()
    assert not summary.report_note
    assert "People versus metrics" not in (tmp_path / "report" / "report.md").read_text()


# --- at least N prototypes per condition ---------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("many", "must be a whole number"),
        (-1, "must be at least 0"),
        (7, "shows only 6 regular stimuli"),
    ],
)
def test_min_prototypes_per_condition_is_checked_with_the_spec(catalogue, value, message):
    with pytest.raises(SpecError, match=message) as raised:
        check_study_spec(spec_data(min_prototypes_per_condition=value))
    assert [p.field for p in raised.value.problems] == ["min_prototypes_per_condition"]


@pytest.mark.django_db
def test_min_prototypes_fixed_layout_counts_the_stimuli_each_condition_gets(catalogue):
    spec = spec_data(question_sets="fixed", min_prototypes_per_condition=3)
    with pytest.raises(SpecError, match="shows only 2 regular stimuli"):
        check_study_spec(spec)
    assert check_study_spec({**spec, "min_prototypes_per_condition": None})


def _plan(prototypes: list[int]) -> DesignPlan:
    plan = DesignPlan()
    for k, prototype in enumerate(prototypes):
        plan.add(StimulusPlan(0, prototype, f"img_{k}.png", None))
    plan.add(StimulusPlan(0, 1, "spare.png", None, "object"), QuestionKind.GOLD_OBJECT, 5)
    plan.sets = [list(range(len(plan.questions)))]
    return plan


CONDITION = ConditionInput("Method A", "Birds", candidates={0: [1, 2, 3, 4]})
DATASET = DatasetInput("Birds", [ImageInfo(f"img_{k}.png", 0) for k in range(6)])


def test_repeated_prototypes_are_re_drawn_until_the_condition_shows_enough():
    plan = _plan([1, 1, 1, 1, 2, 2])
    before = [(s.image_id, s.crop_box, s.map_override) for s in plan.stimuli]
    do_cover_prototypes(plan, [CONDITION], [DATASET], 4, seed=5)
    shown = [plan.stimuli[i].prototype for i in regular_stimuli(plan, 0)]
    assert set(shown) == {1, 2, 3, 4}
    # only the prototypes changed: images, crops, gold and questions stay where they were
    assert [(s.image_id, s.crop_box, s.map_override) for s in plan.stimuli] == before
    assert plan.stimuli[-1].prototype == 1 and len(plan.questions) == 7
    assert plan.notes == ["Method A: 2 stimuli re-drawn to show 4 distinct prototypes "
                          "(min_prototypes_per_condition 4)"]  # fmt: skip
    # and the same seed re-draws the same stimuli
    again = _plan([1, 1, 1, 1, 2, 2])
    do_cover_prototypes(again, [CONDITION], [DATASET], 4, seed=5)
    assert again.stimuli == plan.stimuli


def test_a_condition_already_showing_enough_is_left_as_drawn():
    plan = _plan([1, 2, 3, 4, 1, 2])
    drawn = list(plan.stimuli)
    do_cover_prototypes(plan, [CONDITION], [DATASET], 4, seed=5)
    do_cover_prototypes(plan, [CONDITION], [DATASET], 0, seed=5)
    assert plan.stimuli == drawn and plan.notes == []


def test_more_prototypes_than_the_rule_offers_is_refused_and_changes_nothing():
    plan = _plan([1, 1, 1, 1, 2, 2])
    drawn = list(plan.stimuli)
    with pytest.raises(SpecError, match="can show only 4 distinct .* its run offers 4") as raised:
        do_cover_prototypes(plan, [CONDITION], [DATASET], 5, seed=5)
    assert [p.field for p in raised.value.problems] == ["min_prototypes_per_condition"]
    assert plan.stimuli == drawn


@pytest.mark.django_db
def test_a_saved_study_shows_the_prototypes_it_asks_for(catalogue):
    data = spec_data(min_prototypes_per_condition=2, conditions=spec_data()["conditions"][:2])
    study = do_save_study(check_study_spec(data)).study
    regular = Stimulus.objects.filter(study=study, questions__kind="regular").distinct()
    for label in ("ProtoPool", "ProtoPNet-sim"):
        shown = regular.filter(condition__label=label).values("prototype").distinct().count()
        assert shown >= 2
    assert study.sampling["min_prototypes"] == 2


@pytest.mark.django_db
def test_a_study_the_catalogue_cannot_supply_is_refused_naming_the_condition(catalogue):
    # a depth-2 tree has two nodes below its root: no image can show a third
    data = spec_data(min_prototypes_per_condition=3)
    with pytest.raises(SpecError, match=r"condition 'ProtoTree' can show only \d") as raised:
        do_save_study(check_study_spec(data))
    assert "min_prototypes_per_condition" in str(raised.value)
    assert not Study.objects.filter(slug=data["slug"]).exists()
