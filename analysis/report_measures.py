"""The report's "People versus metrics" section, for ratings that carry stimulus measures.

:func:`analysis.run_report` calls :func:`write_measure_section` when its config names measure
columns (``ReportConfig.measures``). The section is :func:`analysis.human_vs_objective`'s, on the
answers the pre-declared rules kept; its tables go beside the report as
``human_vs_objective_<table>.csv`` and its figures as ``human_vs_objective_<measure>.png``.

A named measure the ratings lack, or one that takes a single value on every stimulus (a dataset
without part annotations has no part energy, a catalogue without metrics no purity), is left
out with a note instead of failing the report; so is the whole section, with its reason, when
the models cannot be fitted.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis.human_vs_objective import (
    SECTION_TITLE,
    HumanVsObjective,
    human_vs_objective,
    write_markdown_section,
)
from analysis.primary import regular_answers

TABLES = ("slopes", "method_slopes", "interactions", "correlations", "noise_ceiling", "stimuli")
TABLE_STEM = "human_vs_objective_"


def usable_measures(df: pd.DataFrame, measures: Sequence[str]) -> tuple[list[str], list[str]]:
    """The measures that can be related to the ratings, and a note for each one left out.

    Parameters
    ----------
    df
        Validated ratings (gold trials are ignored here).
    measures
        Candidate measure columns.
    """
    regular = regular_answers(df)
    kept, notes = [], []
    for measure in dict.fromkeys(measures):
        if measure not in regular.columns:
            notes.append(f"{measure}: not in the ratings, left out")
            continue
        values = pd.to_numeric(regular[measure], errors="coerce")
        distinct = values.groupby(regular["item"], observed=True).first().nunique()
        if distinct < 2:
            why = "empty on every stimulus" if values.notna().sum() == 0 else "one value only"
            notes.append(f"{measure}: {why}, left out")
            continue
        kept.append(measure)
    return kept, notes


def write_measure_section(
    df: pd.DataFrame,
    out_dir: Path,
    measures: Sequence[str],
    reference: str | None = None,
    n_resamples: int = 2000,
    confidence_level: float = 0.95,
    seed: int = 0,
) -> tuple[str, list[Path]]:
    """Analyse the kept answers against ``measures`` and write the tables and figures.

    Parameters
    ----------
    df
        The answers the exclusion rules kept.
    out_dir
        The report's folder.
    measures
        Candidate measure columns (see :func:`usable_measures`).
    reference, n_resamples, confidence_level, seed
        As the rest of the report.

    Returns
    -------
    tuple of str and list of pathlib.Path
        The section's Markdown and the files written.
    """
    names, notes = usable_measures(df, measures)
    if not names:
        return _skipped("no measure varies across the stimuli", notes), []
    try:
        result = human_vs_objective(
            df,
            names,
            out_dir=out_dir,
            reference=reference,
            n_resamples=n_resamples,
            confidence_level=confidence_level,
            seed=seed,
        )
    except ValueError as err:
        return _skipped(str(err), notes), []
    files = [*result.figures, *_write_tables(result, out_dir)]
    section = write_markdown_section(result)
    if notes:
        section += "\nMeasures left out:\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    return section, files


def _write_tables(result: HumanVsObjective, out_dir: Path) -> list[Path]:
    paths = []
    for name in TABLES:
        path = out_dir / f"{TABLE_STEM}{name}.csv"
        getattr(result, name).to_csv(path, index=False)
        paths.append(path)
    return paths


def _skipped(reason: str, notes: Sequence[str]) -> str:
    lines = [f"{SECTION_TITLE}\n", f"Not analysed: {reason}.\n"]
    if notes:
        lines.append("\n".join(f"- {n}" for n in notes) + "\n")
    return "\n".join(lines)


def append_measure_section(
    df: pd.DataFrame,
    report_md: Path,
    measures: Sequence[str],
    reference: str | None = None,
    n_resamples: int = 2000,
    confidence_level: float = 0.95,
    seed: int = 0,
) -> list[Path]:
    """:func:`write_measure_section` into ``report_md``'s folder, its Markdown appended to
    ``report_md``; the figures and tables written."""
    section, files = write_measure_section(
        df, report_md.parent, measures, reference, n_resamples, confidence_level, seed
    )
    with report_md.open("a", encoding="utf-8") as handle:
        handle.write("\n" + section)
    return files


__all__ = ["append_measure_section", "usable_measures", "write_measure_section"]
