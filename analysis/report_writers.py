"""Serialise a :class:`analysis.report_types.Report` as Markdown, JSON and LaTeX.

The writers format tables themselves rather than through optional pandas back-ends
(tabulate, jinja2), so the report needs nothing beyond the analysis dependencies.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.report_study import (
    design_markdown,
    deviations_markdown,
    flow_markdown,
    hypotheses_markdown,
    platform_markdown,
    preregistration_markdown,
    quality_markdown,
)
from analysis.report_types import Report
from analysis.tables import TEST_COLUMNS

# The Markdown table of tests shows every test-table column except `df` and `unit`.
TEST_TABLE_COLUMNS = tuple(c for c in TEST_COLUMNS if c not in ("df", "unit"))


def format_value(value: object, column: str = "") -> str:
    """Format one cell: p-values to three significant digits, other floats to three decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return f"{int(value):d}"
    if isinstance(value, float | np.floating):
        v = float(value)
        if column in ("n", "df") and v.is_integer():
            return f"{int(v):d}"
        if column.startswith("p_"):
            return "<0.001" if v < 0.001 else f"{v:.3f}"
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
            return f"{v:.3g}"
        return f"{v:.3f}"
    return str(value)


def markdown_table(frame: pd.DataFrame, columns: tuple[str, ...] | None = None) -> str:
    """A GitHub-flavoured Markdown table of ``frame``."""
    cols = [c for c in (columns or tuple(frame.columns)) if c in frame.columns]
    if frame.empty:
        return "_(none)_\n"
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame[cols].itertuples(index=False):
        cells = [format_value(v, c).replace("|", "\\|") for v, c in zip(row, cols, strict=True)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_markdown(report: Report, path: Path) -> Path:
    """Write the human-readable report, in the order a reviewer reads one: the pre-registration,
    design, participant flow, platform, quality checks, primary analysis, secondary analyses,
    deviations."""
    o = report.overview
    parts = [
        "# Saliency ratings: analysis report\n",
        *preregistration_markdown(report.study, markdown_table),
        *design_markdown(report.study, markdown_table),
        *flow_markdown(report.study, markdown_table),
        *platform_markdown(report.study),
        "## Quality checks and reliability\n",
        "### Exclusions (pre-declared, applied in this order)\n",
        markdown_table(report.exclusions),
        *quality_markdown(report.study, markdown_table),
        "### Agreement (questions rated by participants)\n",
        markdown_table(report.agreement),
        "## Primary analysis\n",
        f"{o['answers_analysed']:,} answers analysed ({o['answers_in_file']:,} in the file) from "
        f"{o['participants']} participants on {o['questions']} questions; methods: "
        f"{', '.join(o['methods'])}; {o['images']} images ({o['items']} items), images "
        f"{_DESIGN_WORDS.get(o['design'], o['design'])}. Intervals are "
        f"{o['confidence_level']:.0%}; bootstrap intervals resample participants and images "
        f"({o['bootstrap_resamples']} replicates, seed {o['seed']}); pairwise p-values are "
        f"{o['p_adjust']}-adjusted.\n",
        "### Scores per method\n",
        markdown_table(report.summary),
        "\nDistribution of scores (counts and proportions):\n",
        markdown_table(_wide_distribution(report.distribution)),
        *_primary_markdown(report),
        *hypotheses_markdown(report.study, markdown_table),
        "## Secondary analyses\n",
        "Differences in mean score (two-way bootstrap over participants and images):\n",
        markdown_table(report.mean_differences),
        "### Secondary tests and models\n",
        "The first rows repeat the headline test. Rows whose note says 'ignores' leave out a "
        "source of variance and are sensitivity checks or descriptions only, never a test of "
        "the methods.\n",
        markdown_table(report.tests, TEST_TABLE_COLUMNS),
        "\nModel fits:\n",
        markdown_table(report.model_fits),
    ]
    for name, table in report.models.items():
        parts += [f"\n#### Model: {name}\n", markdown_table(table)]
    parts += [
        "### Per dataset\n",
        markdown_table(report.dataset_summary),
        "\n",
        markdown_table(report.dataset_tests, ("dataset",) + TEST_TABLE_COLUMNS),
    ]
    for dataset, part in report.dataset_distribution.groupby("dataset", observed=True):
        parts += [
            f"\nDistribution of scores, {dataset}:\n",
            markdown_table(_wide_distribution(part)),
        ]
    parts += deviations_markdown(report.study, markdown_table)
    if report.notes:
        parts += ["## Notes\n", "\n".join(f"- {n}" for n in report.notes) + "\n"]
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


_DESIGN_WORDS = {
    "nested": "nested in methods (each image shown under one method)",
    "crossed": "crossed with methods (each image shown under every method)",
    "mixed": "partly crossed with methods",
}


def _primary_markdown(report: Report) -> list[str]:
    o = report.overview
    if not report.primary:
        return ["### Headline test\n", "The headline model could not be fitted (see Notes).\n"]
    return [
        "### Headline test\n",
        f"Cumulative logit mixed model `{o['primary_model']}` (Laplace approximation, as R's "
        "`ordinal::clmm`): participants and images are random samples, so a method "
        "difference must stand out from the variation between images as well as between "
        "participants. Each pair of methods is a Wald test of the log odds ratio of scoring "
        "higher against a t distribution with between-within degrees of freedom (the images "
        f"the comparison rests on), {o['p_adjust']}-adjusted across pairs. This is the "
        "primary test of the report; the tests further down are secondary.\n",
        markdown_table(report.primary["contrasts"]),
        "\nVariance components (logit scale):\n",
        markdown_table(report.primary["variances"]),
        "\nCoefficients against the reference method:\n",
        markdown_table(report.primary["coefficients"]),
    ]


def _wide_distribution(dist: pd.DataFrame) -> pd.DataFrame:
    wide = dist.pivot_table(
        index="method", columns="score", values=["count", "proportion"], observed=True, sort=False
    )
    out = pd.DataFrame({"method": wide.index.astype(str)})
    for score in sorted(dist["score"].unique()):
        out[f"n({score})"] = wide[("count", score)].to_numpy().astype(int)
        out[f"p({score})"] = wide[("proportion", score)].to_numpy()
    return out


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    # Missing cells of every kind (NaN, NA, NaT) become NaN here and None in `_plain`.
    clean = frame.astype(object).where(frame.notna())
    return [{str(k): _plain(v) for k, v in row.items()} for row in clean.to_dict("records")]


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def report_dict(report: Report) -> dict[str, object]:
    """The report as JSON-ready data (NaN becomes null)."""
    return {
        "overview": report.overview,
        "exclusions": _records(report.exclusions),
        "summary": _records(report.summary),
        "primary": {k: _records(v) for k, v in report.primary.items()},
        "distribution": _records(report.distribution),
        "mean_differences": _records(report.mean_differences),
        "tests": _records(report.tests),
        "models": {k: _records(v) for k, v in report.models.items()},
        "model_fits": _records(report.model_fits),
        "agreement": _records(report.agreement),
        "dataset_summary": _records(report.dataset_summary),
        "dataset_distribution": _records(report.dataset_distribution),
        "dataset_tests": _records(report.dataset_tests),
        "notes": list(report.notes),
        "preregistration": report.study.preregistration,
        "design": {
            "conditions": _records(report.study.design),
            "facts": {k: _plain(v) for k, v in report.study.design_facts.items()},
        },
        "participant_flow": _records(report.study.flow),
        "platform": {k: _plain(v) for k, v in report.study.platform.items()},
        "quality": {k: _records(v) for k, v in report.study.quality.items()},
        "hypotheses": _records(report.study.hypotheses),
        "deviations": _records(report.study.deviations),
    }


def write_json(report: Report, path: Path) -> Path:
    """Write the machine-readable report."""
    path.write_text(json.dumps(report_dict(report), indent=2, default=_plain), encoding="utf-8")
    return path


_LATEX_SPECIALS = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
    "<": r"$<$",
    ">": r"$>$",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX special characters."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)


def latex_table(
    frame: pd.DataFrame, columns: dict[str, str], caption: str, label: str, footnote: str = ""
) -> str:
    """A booktabs table of the given columns (name -> header); cells are escaped, the
    footnote is raw LaTeX."""
    names = [c for c in columns if c in frame.columns]
    spec = "l" * 2 + "r" * (len(names) - 2) if len(names) > 2 else "l" * len(names)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{latex_escape(caption)}}}",
        rf"\label{{{label}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(latex_escape(columns[c]) for c in names) + r" \\",
        r"\midrule",
    ]
    for row in frame[names].itertuples(index=False):
        cells = [latex_escape(format_value(v, c)) for v, c in zip(row, names, strict=True)]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if footnote:
        lines.append(rf"\par\smallskip\footnotesize {footnote}")
    lines += [r"\end{table}", ""]
    return "\n".join(lines)


def write_latex(report: Report, path: Path) -> Path:
    """Write the table of means and the table of tests (booktabs)."""
    means = latex_table(
        report.summary,
        {
            "method": "Method",
            "n_answers": "Answers",
            "mean": "Mean",
            "ci_low": "CI low",
            "ci_high": "CI high",
            "median": "Median",
            "sd": "SD",
        },
        "Saliency scores per method (participant-bootstrap CIs of the mean).",
        "tab:saliency-means",
    )
    marked = report.tests["note"].str.contains("ignores repeated", regex=False)
    tests = report.tests.assign(
        test=[f"{t} (*)" if m else t for t, m in zip(report.tests["test"], marked, strict=True)],
        statistic_text=[
            f"{n} = {format_value(v)}"
            for n, v in zip(report.tests["statistic_name"], report.tests["statistic"], strict=True)
        ],
        effect_text=[
            f"{n} = {format_value(v)}"
            for n, v in zip(
                report.tests["effect_size_name"], report.tests["effect_size"], strict=True
            )
        ],
        p_text=[
            format_value(a if not pd.isna(a) else p, "p_")
            for p, a in zip(report.tests["p_value"], report.tests["p_adjusted"], strict=True)
        ],
    )
    table = latex_table(
        tests,
        {
            "test": "Test",
            "comparison": "Comparison",
            "statistic_text": "Statistic",
            "p_text": "p",
            "effect_text": "Effect size",
            "ci_low": "CI low",
            "ci_high": "CI high",
        },
        "Tests of method differences (p adjusted where pairwise).",
        "tab:saliency-tests",
        footnote="(*) answers treated as independent, ignoring repeated measures; "
        "a sensitivity check only.",
    )
    path.write_text("% Requires \\usepackage{booktabs}.\n" + means + "\n" + table, encoding="utf-8")
    return path
