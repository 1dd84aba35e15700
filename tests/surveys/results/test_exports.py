"""Exports: the responses table the analysis reads, participants, the stimuli manifest, files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest

import analysis
from surveys import models as m
from surveys.common.files import write_atomic, write_csv_atomic
from surveys.common.pseudonyms import pseudonym, pseudonym_key, secret_key
from surveys.results.exports import ExportKind, csv_download, do_export_results
from surveys.results.responses import RESPONSE_COLUMNS, gold_outcome
from surveys.results.stimuli import STIMULUS_COLUMNS
from tests.surveys.results.fixtures import (
    LABELS,
    DeskStudy,
)


def read_csv_text(chunks) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO("".join(chunks))))


def assert_no_raw_ids(built: DeskStudy, folder: Path) -> None:
    raw = built.external_ids()
    assert raw, "the study has participants"
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            leaked = [r for r in raw if r.encode() in data]
            assert not leaked, f"{path.name} contains raw participant IDs {leaked}"


@pytest.mark.parametrize(
    ("kind", "score", "expected", "passed"),
    [
        (m.QuestionKind.INSTRUCTED, 5, 5, True),
        (m.QuestionKind.INSTRUCTED, 4, 5, False),
        # The design's anchors expect 5 and 1; the default tolerance of 1 passes 4 and 2.
        (m.QuestionKind.GOLD_OBJECT, 4, 5, True),
        (m.QuestionKind.GOLD_OBJECT, 3, 5, False),
        (m.QuestionKind.GOLD_BACKGROUND, 2, 1, True),
        (m.QuestionKind.GOLD_BACKGROUND, 3, 1, False),
        (m.QuestionKind.REPEAT, 3, 4, True),
        (m.QuestionKind.REPEAT, 2, 4, False),
        (m.QuestionKind.REPEAT, 2, None, None),
        (m.QuestionKind.REGULAR, 2, None, None),
    ],
)
def test_gold_outcome_rules(kind, score, expected, passed) -> None:
    assert gold_outcome(kind, score, expected) is passed


def test_pseudonyms_are_stable_keyed_and_never_the_raw_id(settings) -> None:
    settings.SECRET_KEY = "key-one"
    first = pseudonym("A1B2C3", secret_key())
    assert first == pseudonym("A1B2C3", secret_key())
    assert first != pseudonym("A1B2C4", secret_key())
    assert "A1B2C3" not in first and first.startswith("p-")
    settings.PSEUDONYM_KEY = "key-two"
    assert pseudonym("A1B2C3", secret_key()) != first, "a PSEUDONYM_KEY replaces SECRET_KEY"
    settings.PSEUDONYM_KEY = ""
    assert pseudonym("A1B2C3", secret_key()) == first, "an empty PSEUDONYM_KEY: SECRET_KEY"


def test_responses_csv_is_the_long_format_the_analysis_reads(
    desk_study: DeskStudy, tmp_path
) -> None:
    _, chunks = csv_download(desk_study.study, ExportKind.RESPONSES)
    path = tmp_path / "responses.csv"
    path.write_text("".join(chunks))

    ratings = analysis.load_ratings(path)

    assert list(pd.read_csv(path).columns) == list(RESPONSE_COLUMNS)
    assert len(ratings) == 70
    assert set(ratings["method"].astype(str)) == set(LABELS)
    assert set(ratings["dataset"].astype(str)) == {"SynthBirds"}
    assert ratings["participant"].nunique() == 6
    assert set(ratings["question"].astype(str)) == {
        q.code for q in desk_study.regular + desk_study.gold
    }
    assert int(ratings["is_gold"].sum()) == 20


def test_gold_columns_carry_each_outcome(desk_study: DeskStudy) -> None:
    _, chunks = csv_download(desk_study.study, ExportKind.RESPONSES)
    rows = read_csv_text(chunks)
    obj, background, instructed, repeat = (q.code for q in desk_study.gold)
    key = pseudonym_key(desk_study.study)

    def row(person: str, question: str) -> dict[str, str]:
        name = pseudonym(desk_study.people[person].external_id, key)
        return next(r for r in rows if r["participant"] == name and r["question"] == question)

    failed = row("gold-fail", background)
    assert (failed["score"], failed["gold_expected"], failed["gold_passed"]) == ("5", "2", "False")
    assert failed["method"] == LABELS[1] and failed["is_gold"] == "True"
    assert row("careful-1", obj)["gold_passed"] == "True"
    assert row("careful-1", instructed)["gold_expected"] == "5"
    # The repeat expects the participant's own earlier answer (4) and allows 1 point of drift.
    again = row("careful-1", repeat)
    assert (again["score"], again["gold_expected"], again["gold_passed"]) == ("5", "4", "True")
    regular = row("careful-1", desk_study.regular[0].code)
    assert (regular["is_gold"], regular["gold_expected"], regular["gold_passed"]) == (
        "False",
        "",
        "",
    )
    assert regular["rt_ms"] == "3000" and regular["server_rt_ms"] == "3150"
    stimulus = desk_study.regular[0].stimulus
    assert regular["stimulus"] == str(stimulus.pk)
    assert regular["prototype"] == f"{stimulus.prototype.run.label} #{stimulus.prototype.index}"


def test_participants_csv(desk_study: DeskStudy) -> None:
    _, chunks = csv_download(desk_study.study, ExportKind.PARTICIPANTS)
    rows = {r["participant"]: r for r in read_csv_text(chunks)}

    assert len(rows) == 8
    key = pseudonym_key(desk_study.study)
    people = {name: rows[pseudonym(p.external_id, key)] for name, p in desk_study.people.items()}
    assert people["gold-fail"]["excluded_by_rule"] == "failed anchors"
    assert (people["gold-fail"]["gold_passed"], people["gold-fail"]["gold_failed"]) == ("3", "1")
    assert people["straight"]["excluded_by_rule"] == "straight-lining"
    assert people["speeder"]["excluded_by_rule"] == "too fast (participant median)"
    assert people["speeder"]["status"] == "excluded"
    assert people["speeder"]["exclusion_reason"] == "answered too fast"
    assert people["careful-1"]["excluded_by_rule"] == ""
    assert people["careful-1"]["answers"] == "13" and people["halfway"]["answers"] == "5"
    assert people["halfway"]["completed_at"] == "" and people["halfway"]["question_set"] == "1"
    assert people["declined"]["status"] == "declined" and people["declined"]["answers"] == "0"
    assert people["careful-1"]["started_at"].endswith("+00:00")


def test_stimuli_manifest_links_every_file(desk_study: DeskStudy) -> None:
    _, chunks = csv_download(desk_study.study, ExportKind.STIMULI)
    rows = read_csv_text(chunks)

    stimuli = m.Stimulus.objects.filter(study=desk_study.study).select_related("prototype__run")
    assert len(rows) == stimuli.count() == 14
    assert list(rows[0]) == list(STIMULUS_COLUMNS)
    by_id = {r["stimulus"]: r for r in rows}
    for stimulus in stimuli:
        row = by_id[str(stimulus.pk)]
        assert row["overlay_file"] == (stimulus.overlay.name or "")
        assert row["original_file"] == stimulus.original.name
        assert row["condition"] == stimulus.condition.label
        assert row["run_code"] == stimulus.prototype.run.code
        assert row["prototype_index"] == str(stimulus.prototype.index)
        assert row["image_id"] == stimulus.image_id
        assert row["status"] == stimulus.status
    first = by_id[str(desk_study.regular[0].stimulus.pk)]
    assert json.loads(first["crop_box"]) == [2, 3, 40, 40]
    assert first["questions"] == "2", "the regular question and its repeat"
    assert json.loads(first["style_json"])["heat_weight"] == 0.3
    assert len(first["style_hash"]) == 16 and len({r["style_hash"] for r in rows}) == 1
    background = by_id[str(desk_study.gold[1].stimulus.pk)]
    assert background["map_override"] == "background"


def test_full_export_runs_the_analysis_end_to_end(desk_study: DeskStudy, tmp_path: Path) -> None:
    lines: list[str] = []

    summary = do_export_results(desk_study.study, tmp_path / "out", progress=lines.append)

    out = tmp_path / "out"
    assert (summary.responses, summary.participants, summary.stimuli) == (70, 8, 14)
    assert summary.report_note == ""
    for name in ("responses.csv", "participants.csv", "stimuli.csv"):
        assert (out / name).stat().st_size > 0
    for name in ("report.md", "report.json", "tables.tex", "figure10.png", "figure10.pdf"):
        assert (out / "report" / name).stat().st_size > 0, name
    assert [line[:5] for line in lines] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    report = json.loads((out / "report" / "report.json").read_text())
    removed = [row["participants_removed"] for row in report["exclusions"]]
    assert removed == [0, 0, 1, 1, 1, 0, 0], "the study's own rules, not the analysis defaults"
    assert set(report["overview"]["methods"]) == set(LABELS)
    assert_no_raw_ids(desk_study, out)
    assert not list(out.glob(".*")), "no temporary files left behind"


def test_a_second_export_replaces_the_report_folder(desk_study: DeskStudy, tmp_path: Path) -> None:
    out = tmp_path / "out"
    do_export_results(desk_study.study, out)
    (out / "report" / "stale.txt").write_text("from an older export")

    do_export_results(desk_study.study, out)

    assert not (out / "report" / "stale.txt").exists()
    assert (out / "report" / "report.md").exists()
    assert sorted(p.name for p in out.iterdir()) == [
        "participants.csv",
        "report",
        "responses.csv",
        "stimuli.csv",
    ]


def test_an_interrupted_write_leaves_the_old_file_and_no_part_file(tmp_path: Path) -> None:
    path = tmp_path / "responses.csv"
    write_csv_atomic(path, ["a"], [[1], [2]])

    def rows():
        yield [3]
        raise KeyboardInterrupt  # Ctrl-C half-way through the rows

    with pytest.raises(KeyboardInterrupt):
        write_csv_atomic(path, ["a"], rows())
    with pytest.raises(OSError):
        write_atomic(tmp_path / "x.bin", lambda f: (f.write(b"half"), _raise_disk_full()))

    assert path.read_text() == "a\n1\n2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["responses.csv"]


def _raise_disk_full() -> None:
    raise OSError(28, "No space left on device")
