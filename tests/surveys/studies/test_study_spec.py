"""Study specs: every invalid field named with its fix and nothing stored; re-runs that update a
draft, keep an unchanged design, and never touch a study with participants; the command."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import CommandError, call_command

from surveys.models import (
    Condition,
    Question,
    QuestionSet,
    Stimulus,
    StimulusStatus,
    Study,
    StudyStatus,
)
from surveys.studies.lifecycle import do_save_study
from surveys.studies.spec import SpecError, check_study_spec
from tests.surveys.factories import ParticipantFactory
from tests.surveys.studies.fixtures import LABELS, spec_data

pytestmark = pytest.mark.django_db
EXAMPLE = Path(__file__).resolve().parents[3] / "configs" / "studies" / "example.yaml"


def _nothing_stored() -> None:
    for model in (Study, Condition, Stimulus, Question, QuestionSet):
        assert not model.objects.exists(), model.__name__


def _save(data: dict[str, Any]):
    return do_save_study(check_study_spec(data))


def test_a_valid_spec_stores_a_draft_with_its_whole_design(catalogue):
    result = _save(spec_data())
    study = result.study
    assert result.created and result.redesigned
    assert study.status == StudyStatus.DRAFT
    assert (study.slug, study.title, study.currency) == ("tiny-study", "Tiny saliency study", "GBP")
    assert study.reward == Decimal("1.50") and study.estimated_minutes == 5
    assert study.sampling == {
        "seed": 7,
        "split": "test",
        "prototype_rule": "random",
        "question_sets": "latin_square",
        "protocol": "",
    }
    assert study.seed == 7
    assert study.consent_text.startswith("You agree")
    # the one style is stored whole, with the two-picture pair the survey shows
    assert study.style["pair"] == "separate" and study.style["colormap"] == "jet"
    # the exclusion rules are stored whole: the declared ones and the defaults of the rest
    assert study.exclusion_rules["max_gold_failures"] == 1
    assert study.exclusion_rules["min_median_rt_ms"] is None
    assert study.exclusion_rules["straightline_share"] == 1.0
    assert list(study.conditions.values_list("label", "dataset")) == [
        ("ProtoPool", "SynthBirds"),
        ("ProtoPNet-sim", "SynthBirds"),
        ("ProtoTree", "SynthBirds"),
    ]
    assert set(study.stimuli.values_list("status", flat=True)) == {StimulusStatus.PENDING}
    assert any("Latin square" in note for note in result.notes)


def test_runs_are_found_by_label_code_or_directory(catalogue):
    conditions = [
        {"run": LABELS["pool"], "label": "A"},
        {"run": catalogue["pnet"].code, "label": "B"},
        {"run": catalogue["tree"].run_dir, "label": "C", "dataset": "Birds"},
    ]
    spec = check_study_spec(spec_data(conditions=conditions))
    assert [c.run for c in spec.conditions] == [catalogue[k] for k in ("pool", "pnet", "tree")]
    assert [c.dataset for c in spec.conditions] == ["SynthBirds", "SynthBirds", "Birds"]


BAD_SPECS = [
    ({"slug": None}, "slug", "is required"),
    ({"slug": "has space"}, "slug", "only letters, digits"),
    ({"slug": "new"}, "slug", "reserved"),
    ({"title": ""}, "title", "is required"),
    ({"questoins_per_dataset": 6}, "questoins_per_dataset", "unknown field"),
    ({"conditions": []}, "conditions", "at least one condition"),
    ({"conditions": [{"run": "No such run", "label": "X"}]}, "conditions[0].run", "import_run"),
    ({"conditions": [{"run": LABELS["pool"]}]}, "conditions[0].label", "is required"),
    (
        {
            "conditions": [
                {"run": LABELS["pool"], "label": "A"},
                {"run": LABELS["pool"], "label": "B"},
            ]
        },
        "conditions[1].run",
        "already a condition",
    ),
    (
        {
            "conditions": [
                {"run": LABELS["pool"], "label": "A"},
                {"run": LABELS["tree"], "label": "A"},
            ]
        },
        "conditions[1].label",
        "its own label",
    ),
    ({"questions_per_dataset": 0}, "questions_per_dataset", "at least 1"),
    ({"questions_per_dataset": "six"}, "questions_per_dataset", "whole number"),
    ({"questions_per_dataset": 40}, "questions_per_dataset", "lower questions_per_dataset"),
    ({"sampling": {"split": "validation"}}, "sampling.split", "one of test, train"),
    ({"sampling": {"seed": -1}}, "sampling.seed", "at least 0"),
    ({"style": {"colour_map": "jet"}}, "style", "unknown style field"),
    ({"style": {"heat_weight": 2}}, "style", "heat_weight must be in [0, 1]"),
    ({"style": "styles/missing.yaml"}, "style", "not found"),
    ({"gold_share": 0.9}, "gold_share", "between 0.0 and 0.5"),
    ({"participants_wanted": 0}, "participants_wanted", "at least 1"),
    ({"min_seconds_per_question": -1}, "min_seconds_per_question", "at least 0"),
    ({"texts": {"consent": ""}}, "texts.consent", "is required"),
    ({"texts": "agree"}, "texts", "must be a mapping"),
    ({"reward": "lots"}, "reward", "amount such as 2.50"),
    ({"reward": 1.234}, "reward", "at most 2 decimals"),
    ({"reward": -1}, "reward", "non-negative"),
    ({"currency": "usd"}, "currency", "3-letter ISO code"),
    ({"estimated_minutes": 0}, "estimated_minutes", "at least 1"),
    ({"exclusion_rules": {"max_gold_fails": 1}}, "exclusion_rules.max_gold_fails", "unknown"),
    (
        {"exclusion_rules": {"straightline_share": 2}},
        "exclusion_rules.straightline_share",
        "between",
    ),
    ({"exclusion_rules": {"max_gold_failures": 0.5}}, "exclusion_rules.max_gold_failures", "whole"),
    ({"recruiter": "qualtrics"}, "recruiter", "one of link"),
    ({"recruiter_config": {"x": 1}}, "recruiter_config", "takes no settings"),
    ({"recruiter_config": [1]}, "recruiter_config", "mapping"),
]


@pytest.mark.parametrize(("change", "field", "fix"), BAD_SPECS)
def test_each_invalid_field_is_named_with_its_fix_and_nothing_is_stored(
    catalogue,
    change: dict[str, Any],
    field: str,
    fix: str,
):
    data = spec_data(**change)
    if data.get("slug") is None:
        del data["slug"]
    with pytest.raises(SpecError) as caught:
        _save(data)
    problems = {problem.field: problem.message for problem in caught.value.problems}
    assert field in problems, problems
    assert fix in problems[field]
    _nothing_stored()


def test_every_problem_is_reported_at_once(catalogue):
    with pytest.raises(SpecError) as caught:
        _save(spec_data(slug="bad slug", gold_share=2, currency="pounds", reward="x"))
    assert {p.field for p in caught.value.problems} == {"slug", "gold_share", "currency", "reward"}
    assert "4 problem(s)" in str(caught.value)
    _nothing_stored()


def test_a_spec_that_is_not_a_mapping_is_refused(db):
    with pytest.raises(SpecError, match="mapping of field: value"):
        check_study_spec(["slug: x"])


def test_saving_the_same_spec_again_keeps_the_design_and_updates_the_rest(catalogue):
    first = _save(spec_data())
    stimuli = set(Stimulus.objects.values_list("id", flat=True))
    # when the same design is saved with new texts and pay
    texts = {**spec_data()["texts"], "debrief": "Thanks a lot."}
    again = _save(spec_data(texts=texts, reward="2.00"))
    # then the design's rows are the same, and the rest is updated
    assert not again.created and not again.redesigned
    assert again.study.pk == first.study.pk
    assert set(Stimulus.objects.values_list("id", flat=True)) == stimuli
    again.study.refresh_from_db()
    assert again.study.debrief_text == "Thanks a lot." and again.study.reward == Decimal("2.00")
    assert any("Latin square" in note for note in again.notes)


def test_a_changed_design_replaces_the_drafts(catalogue):
    _save(spec_data())
    old = set(Stimulus.objects.values_list("id", flat=True))
    result = _save(spec_data(sampling={"seed": 8}, questions_per_dataset=3))
    assert result.redesigned and Study.objects.count() == 1
    assert not old & set(Stimulus.objects.values_list("id", flat=True))
    assert Stimulus.objects.filter(questions__kind="regular").distinct().count() == 3 * 3


def test_a_study_with_participants_is_never_changed(catalogue):
    study = _save(spec_data()).study
    ParticipantFactory(study=study)
    stimuli = set(Stimulus.objects.values_list("id", flat=True))
    for change in ({"title": "Renamed"}, {"sampling": {"seed": 99}}):
        with pytest.raises(SpecError, match="already has participants"):
            _save(spec_data(**change))
    study.refresh_from_db()
    assert study.title == "Tiny saliency study"
    assert set(Stimulus.objects.values_list("id", flat=True)) == stimuli


def test_an_open_study_keeps_its_design(catalogue):
    study = _save(spec_data()).study
    Study.objects.filter(pk=study.pk).update(status=StudyStatus.OPEN)
    with pytest.raises(SpecError, match="close it before changing its design"):
        _save(spec_data(sampling={"seed": 99}))


def test_a_side_by_side_style_is_rendered_as_two_files_with_a_note(catalogue):
    result = _save(spec_data(style={"pair": "side_by_side", "colormap": "turbo"}))
    assert result.study.style["pair"] == "separate"
    assert result.study.style["colormap"] == "turbo"
    assert any("side_by_side is rendered as separate files" in note for note in result.notes)


def test_the_documented_example_is_a_valid_spec(catalogue):
    # the example names the demo's runs by the labels the catalogue fixture uses
    data = yaml.safe_load(EXAMPLE.read_text())
    data["questions_per_dataset"] = 6  # the tiny dataset's test split holds 18 images
    spec = check_study_spec(data, base_dir=EXAMPLE.parent)
    assert [c.run for c in spec.conditions] == [catalogue[k] for k in ("pool", "pnet", "tree")]
    assert spec.style["pair"] == "separate" and spec.exclusion_rules["max_gold_failures"] == 1


def _write_spec(tmp_path: Path, **changes: Any) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(spec_data(**changes)))
    return path


def test_the_command_stores_the_design_and_prints_the_build_log(
    catalogue,
    tmp_path: Path,
    capsys,
):
    (tmp_path / "look.yaml").write_text("colormap: viridis\n")
    path = _write_spec(tmp_path, questions_per_dataset=5, style="look.yaml")
    call_command("build_study", str(path), "--no-render")
    out = capsys.readouterr().out
    assert "study tiny-study" in out and "created: new design" in out
    assert "do not divide evenly among 3 conditions" in out
    study = Study.objects.get(slug="tiny-study")
    # a style path is read relative to the spec file
    assert study.style["colormap"] == "viridis" and study.status == StudyStatus.DRAFT


def test_the_command_reports_every_problem_and_stores_nothing(
    catalogue,
    tmp_path: Path,
):
    path = _write_spec(tmp_path, gold_share=0.7, conditions=[{"run": "ghost", "label": "A"}])
    with pytest.raises(CommandError) as caught:
        call_command("build_study", str(path), "--no-render")
    message = str(caught.value)
    assert "gold_share: must be between" in message and "conditions[0].run" in message
    _nothing_stored()


@pytest.mark.parametrize(
    ("content", "fix"), [(None, "no such file"), ("slug: [unclosed", "not valid YAML")]
)
def test_the_command_refuses_a_missing_or_broken_file(db, tmp_path: Path, content, fix):
    path = tmp_path / "study.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(CommandError, match=fix):
        call_command("build_study", str(path))
    _nothing_stored()


@pytest.mark.django_db(transaction=True)
def test_the_command_builds_and_waits_until_ready(
    catalogue,
    tmp_path: Path,
    media: Path,
    eager: None,
    capsys,
):
    # the tasks run in this process the moment the committed build queues them
    call_command("build_study", str(_write_spec(tmp_path)), "--wait", "--timeout", "60")
    out = capsys.readouterr().out
    assert "24 stimulus/stimuli queued for rendering" in out and "status: Ready" in out
    assert Study.objects.get().status == StudyStatus.READY
    # run again, it renders nothing
    call_command("build_study", str(_write_spec(tmp_path)), "--wait")
    out = capsys.readouterr().out
    assert "design unchanged, nothing re-rendered" in out
    assert "0 stimulus/stimuli queued" in out and "status: Ready" in out
