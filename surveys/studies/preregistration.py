"""The spec's ``preregistration`` section, and the plan a study freezes when it opens.

The section (``configs/studies/paper.yaml`` documents every field)::

    preregistration:
      hypotheses:            # at least one: a pair of condition labels and a direction
        - {id: H1, statement: ..., compare: [ProtoPool, ProtoTree], direction: greater}
      primary_test: {model: primary_model, reference: null, slopes: false}
      alpha: 0.05
      multiplicity: holm     # across every pair of conditions the primary model compares
      sample_size: {participants: 40, target_power: 0.8, effect_log_odds: 0.8,
                    justification: "python -m analysis power ... -> 37 participants"}
      stopping_rule: ...
      exclusions: ...        # in words; the numbers are the spec's exclusion_rules
      replacement: replace   # or no_replacement

The *plan* is that section with the design and the exclusion rules (:func:`plan_of_spec`); it is
stored on the study with every save and frozen, as canonical text with its SHA-256
(:mod:`analysis.preregistration`), when the study opens.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from analysis.preregistration import DIRECTIONS, MULTIPLICITY, PLAN_FORMAT, PRIMARY_MODEL
from surveys.common.checks import Checker

if TYPE_CHECKING:
    from surveys.studies.spec import StudySpec

PREREG_FIELDS = (
    "hypotheses",
    "primary_test",
    "alpha",
    "multiplicity",
    "sample_size",
    "stopping_rule",
    "exclusions",
    "replacement",
)
REPLACEMENT = ("replace", "no_replacement")
MAX_TEXT = 4000
MAX_ALPHA = 0.2


def check_preregistration(
    check: Checker, labels: list[str], participants_wanted: object
) -> dict[str, Any]:
    """The checked section as plain data; ``{}`` when the spec has none.

    Args:
        check: A checker of the section (``check.nested("preregistration")``).
        labels: The spec's condition labels, which hypotheses compare.
        participants_wanted: The spec's own value, if given: it must match the planned sample.
    """
    if not check.data:
        return {}
    check.unknown_keys(PREREG_FIELDS)
    primary = check.nested("primary_test")
    primary.unknown_keys(("model", "reference", "slopes"))
    model = primary.choice("model", PRIMARY_MODEL, (PRIMARY_MODEL,))
    reference = primary.data.get("reference")
    if reference is not None and reference not in labels:
        primary.fail("reference", f"{reference!r} is not a condition label ({', '.join(labels)})")
    slopes = primary.data.get("slopes", False)
    if not isinstance(slopes, bool):
        primary.fail("slopes", f"must be true or false, got {slopes!r}")
    section: dict[str, Any] = {
        "hypotheses": _hypotheses(check, labels),
        "primary_test": {"model": model, "reference": reference, "slopes": slopes is True},
        "alpha": check.number("alpha", 0.05, low=1e-6, high=MAX_ALPHA),
        "multiplicity": check.choice("multiplicity", "holm", MULTIPLICITY),
        "sample_size": _sample_size(check.nested("sample_size"), participants_wanted),
        "stopping_rule": check.text("stopping_rule", max_length=MAX_TEXT),
        "exclusions": check.text("exclusions", max_length=MAX_TEXT),
        "replacement": check.choice("replacement", "no_replacement", REPLACEMENT),
    }
    if "replacement" not in check.data:
        check.fail("replacement", f"say what happens to an excluded participant's place: "
                   f"{' or '.join(REPLACEMENT)}")  # fmt: skip
    return section


def _hypotheses(check: Checker, labels: list[str]) -> list[dict[str, Any]]:
    raw = check.data.get("hypotheses")
    if not isinstance(raw, list) or not raw:
        check.fail(
            "hypotheses",
            "list at least one: - {id: H1, statement: ..., compare: [A, B], direction: greater}",
        )
        return []
    out = []
    for position, item in enumerate(raw):
        if not isinstance(item, Mapping):
            check.fail(f"hypotheses[{position}]", "must be a mapping with id, statement, compare")
            continue
        one = Checker(item, f"{check.prefix}hypotheses[{position}].", check.problems)
        one.unknown_keys(("id", "statement", "compare", "direction"))
        compare = item.get("compare")
        pair_ok = (
            isinstance(compare, list)
            and len(compare) == 2
            and all(isinstance(c, str) and c in labels for c in compare)
            and compare[0] != compare[1]
        )
        if not pair_ok:
            one.fail(
                "compare",
                f"give two different condition labels, [A, B] (known: {', '.join(labels)}); "
                "the direction is of A against B",
            )
        out.append(
            {
                "id": one.text("id", max_length=40, default=f"H{position + 1}"),
                "statement": one.text("statement", max_length=MAX_TEXT),
                "compare": list(compare) if pair_ok and isinstance(compare, list) else [],
                "direction": one.choice("direction", "two_sided", DIRECTIONS),
            }
        )
    return out


def _sample_size(check: Checker, participants_wanted: object) -> dict[str, Any]:
    check.unknown_keys(("participants", "target_power", "effect_log_odds", "justification"))
    participants = check.integer("participants", 0, minimum=1)
    if "participants" not in check.data:
        check.fail("participants", "is required: the planned number of completed participants")
    if (
        isinstance(participants_wanted, int)
        and participants
        and participants != participants_wanted
    ):
        check.fail(
            "participants",
            f"plans {participants} participants but participants_wanted is "
            f"{participants_wanted}; make them agree (or leave participants_wanted out)",
        )
    return {
        "participants": participants,
        "target_power": check.number("target_power", 0.8, low=0.5, high=0.999),
        "effect_log_odds": check.number("effect_log_odds", 0.0, low=-20.0, high=20.0),
        "justification": check.text("justification", max_length=MAX_TEXT),
    }


def plan_of_spec(spec: StudySpec) -> dict[str, Any]:
    """The plan a study with this spec freezes when it opens, as plain JSON data."""
    plan = {
        "format": PLAN_FORMAT,
        "study": {"slug": spec.slug, "title": spec.title},
        "preregistration": spec.preregistration,
        "design": {
            "protocol": spec.protocol,
            "protocol_departures": list(spec.protocol_departures),
            "conditions": [
                {
                    "label": c.label,
                    "dataset": c.dataset,
                    "run": c.run.label,
                    "run_code": c.run.code,
                    "kind": c.run.kind,
                    "similarity": c.run.similarity,
                    "box": c.box,
                }
                for c in spec.conditions
            ],
            "questions_per_dataset": spec.questions_per_dataset,
            "question_sets": spec.question_sets,
            "prototype_rule": spec.prototype_rule,
            "split": spec.split,
            "seed": spec.seed,
            "gold_share": spec.gold_share,
            "min_seconds_per_question": spec.min_seconds_per_question,
            "question": spec.question_text,
            "scale": [spec.scale_low_label, spec.scale_high_label],
            "style": spec.style,
        },
        "exclusion_rules": spec.exclusion_rules,
        "participants_wanted": spec.participants_wanted,
        "recruiter": spec.recruiter,
    }
    # Through JSON once, so the stored copy and a fresh one compare equal (tuples, Decimals).
    normalised: dict[str, Any] = json.loads(json.dumps(plan, default=str))
    return normalised


__all__ = ["PREREG_FIELDS", "REPLACEMENT", "check_preregistration", "plan_of_spec"]
