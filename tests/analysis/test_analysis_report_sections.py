"""The report a reviewer expects: the frozen plan first, then design, participant flow,
platform, quality checks, the primary and the secondary analyses, and every deviation; and the
command line's ``--plan``, which warns about flags that differ from the plan."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from analysis import simulate_ratings
from analysis.cli import main
from analysis.exclusions import ExclusionRules
from analysis.preregistration import (
    FrozenPlan,
    aspredicted_text,
    canonical_text,
    deviations,
    read_plan,
    write_plan,
)
from analysis.report import StudyContext, config_from_plan, run_report
from analysis.simulate import SimulationConfig

matplotlib.use("Agg")

SECTIONS = (
    "## Pre-registration",
    "## Design",
    "## Participant flow",
    "## Platform, dates and pay",
    "## Quality checks and reliability",
    "## Primary analysis",
    "### Headline test",
    "### Pre-registered hypotheses",
    "## Secondary analyses",
    "## Deviations from the plan",
)
RULES = {
    "max_gold_failures": 0,
    "gold_tolerance": 1.0,
    "straightline_share": 1.0,
    "straightline_min_answers": 10,
    "min_median_rt_ms": 1500.0,
    "min_answer_rt_ms": None,
}
PLAN = {
    "format": "protopool-study-plan/1",
    "study": {"slug": "sim", "title": "Simulated saliency study"},
    "preregistration": {
        "hypotheses": [
            {"id": "H1", "statement": "Focal wins.", "compare": ["protopool", "prototree"],
             "direction": "greater"},
            {"id": "H2", "statement": "Focal loses.", "compare": ["protopool", "prototree"],
             "direction": "less"},
        ],
        "primary_test": {"model": "primary_model", "reference": None, "slopes": False},
        "alpha": 0.05,
        "multiplicity": "holm",
        "sample_size": {"participants": 30, "target_power": 0.8, "effect_log_odds": 0.8,
                        "justification": "simulated"},
        "stopping_rule": "30 completed participants.",
        "exclusions": "By the rules.",
        "replacement": "replace",
    },
    "design": {
        "conditions": [{"label": m, "dataset": "synthetic", "run": m, "kind": "", "similarity": ""}
                       for m in ("protopool", "protopool-protopnet-sim", "prototree")],
        "questions_per_dataset": 18, "question_sets": "fixed", "prototype_rule": "random",
        "split": "train", "seed": 3, "gold_share": 0.1, "protocol": "paper",
        "protocol_departures": ["question_sets is 'fixed' (here for the test)"],
        "question": "How salient is the feature pointed out by the AI system?",
        "scale": ["Least salient", "Most salient"], "style": {"box": False},
    },
    "exclusion_rules": RULES,
    "participants_wanted": 30,
}  # fmt: skip


def _frozen(plan: dict[str, object] = PLAN, events: tuple[dict[str, str], ...] = ()) -> FrozenPlan:
    text = canonical_text(plan)
    return FrozenPlan(text, hashlib.sha256(text.encode()).hexdigest(), "2026-12-01T10:00:00+00:00",
                      events)  # fmt: skip


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    config = SimulationConfig(participants=24, questions=18, gold_questions=2, seed=3,
                              careless_fraction=0.15)  # fmt: skip
    return simulate_ratings(config)


@pytest.fixture(scope="module")
def participants(ratings: pd.DataFrame) -> pd.DataFrame:
    """24 who answered (two sets), one who declined and one who never consented."""
    people = sorted(ratings["participant"].astype(str).unique())
    rows = [
        {"participant": p, "status": "completed", "question_set": i % 2,
         "started_at": f"2026-12-0{1 + i % 3}T09:00:00+00:00", "consented_at": "x",
         "completed_at": f"2026-12-0{1 + i % 3}T09:{10 + i:02d}:00+00:00"}
        for i, p in enumerate(people)
    ]  # fmt: skip
    rows += [
        {"participant": "D", "status": "declined", "question_set": "", "started_at": "",
         "consented_at": "", "completed_at": ""},
        {"participant": "O", "status": "started", "question_set": "", "started_at": "",
         "consented_at": "", "completed_at": ""},
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_the_canonical_text_and_hash_follow_the_definition() -> None:
    frozen = _frozen()
    # sorted keys at every level, no whitespace between tokens, UTF-8
    expected = json.dumps(PLAN, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert frozen.text == expected and " " not in expected.replace("Least salient", "")[:20]
    assert frozen.sha256 == hashlib.sha256(expected.encode("utf-8")).hexdigest()
    frozen.verify()
    with pytest.raises(ValueError, match="cannot be written as canonical JSON"):
        canonical_text({"alpha": float("nan")})


def test_the_report_reads_in_the_order_a_reviewer_expects(
    ratings: pd.DataFrame, participants: pd.DataFrame, tmp_path: Path
) -> None:
    # given the frozen plan, an unblinding recorded after it, and a rule changed at analysis
    event = {"kind": "unblinded", "at": "2026-12-02T12:00:00+00:00", "by": "researcher",
             "detail": "the desk was unblinded while data collection was open"}  # fmt: skip
    frozen = _frozen(events=(event,))
    config = config_from_plan(frozen.plan, n_resamples=200, rules=ExclusionRules(
        **{**RULES, "min_median_rt_ms": None}))  # fmt: skip
    context = StudyContext(frozen, participants, {"recruiter": "Prolific", "reward": "3.00",
                                                  "currency": "GBP"})  # fmt: skip

    report = run_report(ratings, tmp_path, config, context=context)

    markdown = (tmp_path / "report.md").read_text()
    positions = [markdown.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    head = markdown[: markdown.index("## Design")]
    assert frozen.sha256 in head and "2026-12-01T10:00:00+00:00" in head
    assert "Focal wins." in head and "question_sets is 'fixed'" in head
    # participant flow per set, as a table and a figure
    flow = report.study.flow
    entered = flow[(flow["question_set"] == "all") & (flow["stage"] == "entered")]
    assert int(entered["participants"].iloc[0]) == 26
    assert set(flow["question_set"]) == {"all", "set 1", "set 2"}
    analysed = flow[flow["stage"] == "analysed"]["participants"].sum()
    assert analysed == report.overview["participants"]
    assert (tmp_path / "participant_flow.png").stat().st_size > 5000
    # platform, dates and pay
    assert "**effective pay per hour**" in markdown and "GBP" in markdown
    assert "**first entry**: 2026-12-01T09:00:00+00:00" in markdown
    # quality checks: the exclusion log, gold pass rates by kind, agreement
    quality = markdown[markdown.index("## Quality checks") : markdown.index("## Primary")]
    assert "failed gold trials" in quality and "pass rates by kind" in quality
    assert "Krippendorff alpha" in quality
    # the hypotheses against the headline contrast: opposite directions cannot both hold
    outcomes = report.study.hypotheses
    assert list(outcomes["hypothesis"]) == ["H1", "H2"]
    assert not outcomes["supported"].all()
    # every deviation: the changed rule, the sample size, the recorded unblinding
    kinds = list(report.study.deviations["kind"])
    assert "exclusion rule changed at analysis" in kinds
    assert "different sample size" in kinds and "unblinded" in kinds
    tail = markdown[markdown.index("## Deviations") :]
    assert "| min_median_rt_ms | 1500 | off |" in tail
    assert "planned 30 completed participants; 24 completed" in tail
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["preregistration"]["sha256"] == frozen.sha256
    assert {row["kind"] for row in data["deviations"]} >= {"unblinded"}


def test_a_report_without_a_plan_says_nothing_was_pre_registered(
    ratings: pd.DataFrame, tmp_path: Path
) -> None:
    from analysis.report import ReportConfig

    report = run_report(ratings, tmp_path, ReportConfig(n_resamples=200))

    markdown = (tmp_path / "report.md").read_text()
    assert "No frozen plan was given" in markdown
    assert list(report.study.deviations["kind"]) == ["no frozen plan"]
    assert "participant_flow.png" not in {p.name for p in report.files}


def test_the_command_line_reads_the_plan_and_warns_about_differing_flags(
    ratings: pd.DataFrame, participants: pd.DataFrame, tmp_path: Path, capsys
) -> None:
    csv, people, plan = tmp_path / "r.csv", tmp_path / "p.csv", tmp_path / "plan.json"
    ratings.to_csv(csv, index=False)
    participants.to_csv(people, index=False)
    write_plan(_frozen(), plan)
    out = tmp_path / "out"

    argv = ["report", str(csv), "--out", str(out), "--plan", str(plan), "--participants",
            str(people), "--resamples", "200", "--min-median-rt-ms", "-1",
            "--max-gold-failures", "0"]  # fmt: skip
    assert main(argv) == 0

    err = capsys.readouterr().err
    # a flag that differs warns; one that repeats the plan's value does not
    assert (
        "warning: --min-median-rt-ms None differs from the pre-registered min_median_rt_ms" in err
    )
    assert "--max-gold-failures" not in err
    tail = (out / "report.md").read_text().split("## Deviations from the plan")[1]
    assert "command-line flag differs from the plan" in tail and "--min-median-rt-ms" in tail
    assert "max_gold_failures" not in tail
    assert (out / "participant_flow.pdf").exists()


def test_the_command_line_refuses_an_edited_plan(tmp_path: Path, ratings, capsys) -> None:
    csv, plan = tmp_path / "r.csv", tmp_path / "plan.json"
    ratings.to_csv(csv, index=False)
    write_plan(_frozen(), plan)
    data = json.loads(plan.read_text())
    data["text"] = data["text"].replace('"alpha":0.05', '"alpha":0.1')
    plan.write_text(json.dumps(data))

    assert main(["report", str(csv), "--out", str(tmp_path / "o"), "--plan", str(plan)]) == 2
    assert "edited after freezing" in capsys.readouterr().err
    with pytest.raises(ValueError, match="not found"):
        read_plan(tmp_path / "missing.json")


def test_without_a_plan_the_command_line_says_its_rules_are_its_own(
    ratings: pd.DataFrame, tmp_path: Path, capsys
) -> None:
    csv = tmp_path / "r.csv"
    ratings.to_csv(csv, index=False)
    assert main(["report", str(csv), "--out", str(tmp_path / "o"), "--resamples", "200"]) == 0
    assert "no --plan given" in capsys.readouterr().err


def test_aspredicted_text_answers_the_nine_questions() -> None:
    text = aspredicted_text(_frozen())
    for number in range(1, 10):
        assert f"{number}) " in text
    assert "H1: Focal wins. [protopool vs prototree, greater]" in text
    assert "min_median_rt_ms=1500" in text and "place is offered again" in text
    assert "one fixed set of questions for every participant" in text


def test_settings_that_differ_from_the_plan_are_deviations() -> None:
    rows = deviations(
        _frozen(),
        ExclusionRules(**RULES),
        {"p_adjust": "bonferroni", "confidence_level": 0.95, "reference": None, "slopes": True},
        flags={"slopes": "--slopes"},
        participants_completed=30,
        participants_analysed=28,
    )
    table = {(r.kind, r.setting) for r in rows.itertuples()}
    assert table == {
        ("analysis setting changed at analysis", "p_adjust"),
        ("command-line flag differs from the plan", "slopes"),
        ("fewer analysed than planned", "participants"),
    }
