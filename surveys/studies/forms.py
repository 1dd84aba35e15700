"""Forms of the researcher's pages.

The "new study" form is a study spec in HTML: :meth:`StudyForm.spec` builds the same mapping a
``build_study`` YAML file holds, so both go through one check
(:func:`surveys.studies.spec.check_study_spec`), and the spec's problems come back onto
the fields they concern.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import yaml
from django import forms
from django.forms import BaseFormSet, formset_factory

from surveys.models import RecruiterKind, Run
from surveys.models.studies import PAPER_QUESTION
from surveys.studies.spec import PUBLIC_TITLE, SPLITS, SpecProblem

DEFAULT_STYLE = "configs/styles/study-default.yaml"
DEFAULT_CONSENT = (
    "This study is part of research on how people perceive pictures that explain an AI "
    "system's decisions. You will rate pictures; it takes about 10 minutes. Taking part is "
    "voluntary and you may stop at any time without giving a reason. Your answers and response "
    "times are stored under a random code, never with your name."
)
DEFAULT_INSTRUCTIONS = (
    "Each page shows a photograph and, beside it, the same photograph with a coloured overlay: "
    "the overlay marks the feature an AI system points at (warm colours and the box). Rate how "
    "salient that feature is, from 1 (least salient) to 5 (most salient). There are no right "
    "or wrong answers, except where a question tells you what to answer."
)
DEFAULT_DEBRIEF = (
    "Thank you for taking part. The pictures came from several AI systems; your ratings help "
    "compare how clearly their explanations point at a feature."
)
DEFAULT_RULES = "max_gold_failures: 0\nstraightline_share: 1.0\nmin_median_rt_ms: 1500\n"
# A spec's field path (``texts.consent``, ``conditions[2].run``) to the form field it came from.
_FIELD_OF = {
    "texts.consent": "consent",
    "texts.instructions": "instructions",
    "texts.debrief": "debrief",
    "texts.question": "question",
    "sampling.seed": "seed",
    "sampling.split": "split",
}
_CONDITION = re.compile(r"^conditions\[(\d+)\]\.(\w+)$")


def _textarea(rows: int) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


class StudyForm(forms.Form):
    """Everything of a spec but its conditions (see :data:`ConditionFormSet`)."""

    title = forms.CharField(max_length=200, help_text="For researchers only.")
    slug = forms.SlugField(max_length=80, help_text="The study's handle in URLs and exports.")
    public_title = forms.CharField(
        max_length=200,
        required=False,
        help_text="What participants see (blank: the default).",
        widget=forms.TextInput(attrs={"placeholder": PUBLIC_TITLE}),
    )
    questions_per_dataset = forms.IntegerField(min_value=1, initial=30)
    seed = forms.IntegerField(min_value=0, initial=0, help_text="Sampling seed.")
    split = forms.ChoiceField(choices=[(s, s) for s in SPLITS], initial="test")
    style = forms.CharField(
        required=False,
        initial=DEFAULT_STYLE,
        widget=_textarea(3),
        help_text="A style file's path, or style fields in YAML (one style for every condition).",
    )
    gold_share = forms.FloatField(min_value=0, max_value=0.5, initial=0.1)
    participants_wanted = forms.IntegerField(min_value=1, initial=40)
    min_seconds_per_question = forms.FloatField(min_value=0, initial=2.0)
    estimated_minutes = forms.IntegerField(min_value=1, initial=10)
    reward = forms.DecimalField(min_value=0, max_digits=8, decimal_places=2, initial=0)
    currency = forms.CharField(max_length=3, initial="USD")
    recruiter = forms.ChoiceField(choices=RecruiterKind.choices, initial=RecruiterKind.LINK)
    recruiter_config = forms.CharField(
        required=False,
        widget=_textarea(3),
        help_text=(
            "The recruiter's settings in YAML (see configs/studies/example.yaml), e.g. "
            "Prolific: {study_id: ...}; panel: {id_parameter: id, completion_url: https://...}."
        ),
    )
    consent = forms.CharField(widget=_textarea(4), initial=DEFAULT_CONSENT)
    instructions = forms.CharField(widget=_textarea(4), initial=DEFAULT_INSTRUCTIONS)
    debrief = forms.CharField(widget=_textarea(3), initial=DEFAULT_DEBRIEF)
    question = forms.CharField(
        max_length=300,
        required=False,
        help_text="Blank: the paper's question.",
        widget=forms.TextInput(attrs={"placeholder": PAPER_QUESTION}),
    )
    exclusion_rules = forms.CharField(
        required=False,
        initial=DEFAULT_RULES,
        widget=_textarea(4),
        help_text="analysis.ExclusionRules fields in YAML; null switches a rule off.",
    )

    def clean_style(self) -> Any:
        return _yaml(self.cleaned_data["style"], "style")

    def clean_exclusion_rules(self) -> Any:
        return _yaml(self.cleaned_data["exclusion_rules"], "exclusion rules")

    def clean_recruiter_config(self) -> Any:
        return _yaml(self.cleaned_data["recruiter_config"], "recruiter settings")

    def spec(self, conditions: list[dict[str, str]]) -> dict[str, Any]:
        """The spec mapping of the cleaned form."""
        data = self.cleaned_data
        texts = {key: data[key] for key in ("consent", "instructions", "debrief")}
        if data["question"]:
            texts["question"] = data["question"]
        spec: dict[str, Any] = {
            key: data[key]
            for key in (
                "slug",
                "title",
                "questions_per_dataset",
                "gold_share",
                "participants_wanted",
                "min_seconds_per_question",
                "estimated_minutes",
                "currency",
                "recruiter",
            )
        }
        spec.update(
            conditions=conditions,
            sampling={"seed": data["seed"], "split": data["split"]},
            texts=texts,
            reward=str(data["reward"]),
        )
        for key in ("public_title", "style", "exclusion_rules", "recruiter_config"):
            if data[key] not in (None, ""):
                spec[key] = data[key]
        return spec


def _yaml(text: str, what: str) -> Any:
    if not text.strip():
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise forms.ValidationError(f"The {what} are not valid YAML: {exc}") from None


class ConditionForm(forms.Form):
    run = forms.ModelChoiceField(
        queryset=Run.objects.order_by("label"), required=False, to_field_name="code"
    )
    label = forms.CharField(
        max_length=200, required=False, help_text="The method's name in the exports; never shown."
    )
    dataset = forms.CharField(max_length=200, required=False, help_text="Blank: the run's.")


if TYPE_CHECKING:
    _FormSet = BaseFormSet[ConditionForm]
else:  # Django's classes take no type parameters at run time.
    _FormSet = BaseFormSet


class BaseConditionFormSet(_FormSet):
    def conditions(self) -> list[dict[str, str]]:
        """The filled rows as spec conditions (blank rows are skipped)."""
        rows = []
        for form in self.forms:
            data = form.cleaned_data
            if not data.get("run") and not data.get("label"):
                continue
            row = {"run": data["run"].code if data.get("run") else "", "label": data["label"]}
            if data.get("dataset"):
                row["dataset"] = data["dataset"]
            rows.append(row)
        return rows


ConditionFormSet = formset_factory(
    ConditionForm, formset=BaseConditionFormSet, extra=3, max_num=12, validate_max=True
)


def show_problems(
    form: StudyForm, formset: BaseConditionFormSet, problems: list[SpecProblem]
) -> None:
    """Put each spec problem on the field it concerns (the form's top when none fits)."""
    filled = [
        i
        for i, f in enumerate(formset.forms)
        if f.cleaned_data.get("run") or f.cleaned_data.get("label")
    ]
    for problem in problems:
        match = _CONDITION.match(problem.field)
        if match and int(match.group(1)) < len(filled):
            target = formset.forms[filled[int(match.group(1))]]
            name = match.group(2) if match.group(2) in target.fields else None
            target.add_error(name, problem.message)
            continue
        name = _FIELD_OF.get(problem.field, problem.field.split(".")[0])
        if name in form.fields and not form.has_error(name):
            form.add_error(name, problem.message)
        else:
            form.add_error(None, str(problem))


__all__ = ["ConditionFormSet", "StudyForm", "show_problems"]
