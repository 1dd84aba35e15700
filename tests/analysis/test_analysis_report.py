"""The full report, Figure 10 and the command line."""

from __future__ import annotations

import json

import matplotlib
import pandas as pd
import pytest

from analysis import (
    ReportConfig,
    plot_diverging,
    plot_score_distribution,
    run_report,
    score_distribution,
    simulate_ratings,
)
from analysis.cli import main
from analysis.io import validate_ratings

matplotlib.use("Agg")

EXPECTED_FILES = {"report.md", "report.json", "tables.tex"} | {
    f"{stem}.{ext}" for stem in ("figure10", "figure10_diverging") for ext in ("png", "svg", "pdf")
}


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory, messy_study):
    out = tmp_path_factory.mktemp("report")
    report = run_report(messy_study, out, ReportConfig(n_resamples=200))
    return out, report


def test_report_writes_every_file(report_dir):
    out, report = report_dir
    assert {p.name for p in report.files} == EXPECTED_FILES
    assert all((out / name).stat().st_size > 0 for name in EXPECTED_FILES)


def test_report_names_every_test_with_statistic_p_effect_and_interval(report_dir):
    out, report = report_dir
    tests = report.tests
    for name in (
        "Friedman",
        "Wilcoxon signed-rank",
        "Kruskal-Wallis",
        "Mann-Whitney U",
        "cumulative logit (clustered)",
        "headline: score ~ method + (1 | participant) + (1 | image)",
    ):
        assert name in set(tests["test"]), name
    # The headline test comes first and is the one marked as the primary test.
    assert tests["note"].iloc[0] == "primary test"
    assert (tests.loc[tests["note"] == "primary test", "statistic_name"] == "t").all()
    assert tests["p_value"].notna().all()
    assert tests["effect_size"].notna().all()
    # Degenerate rows (an effect size at its bound) say so instead of giving an interval.
    degenerate = tests["note"].str.contains("degenerate", regex=False)
    assert tests.loc[degenerate, ["ci_low", "ci_high"]].isna().all().all()
    with_ci = tests[(tests["test"] != "Kruskal-Wallis") & ~degenerate]
    assert with_ci[["ci_low", "ci_high"]].notna().all().all()
    markdown = (out / "report.md").read_text()
    assert "Kendall's W" in markdown and "Cliff's delta" in markdown
    assert "ignores repeated measures" in markdown


def test_report_json_is_valid_and_has_no_nan(report_dir):
    out, _ = report_dir
    text = (out / "report.json").read_text()
    assert "NaN" not in text
    data = json.loads(text)
    assert data["overview"]["answers_analysed"] < data["overview"]["answers_in_file"]
    assert {row["rule"] for row in data["exclusions"]} >= {"failed gold trials", "straight-lining"}


# Method names carrying every LaTeX special character, and how tables.tex must spell them.
# Paired dollar signs are avoided: matplotlib would read them as mathtext in Figure 10's legend.
SPECIAL_METHODS = {
    "A&B 50%": r"A\&B 50\%",
    "cost $5 #2_x": r"cost \$5 \#2\_x",
    "{set}~^\\end": r"\{set\}\textasciitilde{}\textasciicircum{}\textbackslash{}end",
}


@pytest.fixture(scope="module")
def special_names_tex(tmp_path_factory):
    # Effects 3 log-odds apart on 40 x 30 answers put the Kruskal-Wallis p-value many orders
    # below 0.001, so its "<0.001" cell does not hang on the seed.
    ratings = simulate_ratings(
        methods=tuple(SPECIAL_METHODS),
        effects=(3.0, 0.0, -3.0),
        participants=40,
        questions=30,
        seed=3,
    )
    out = tmp_path_factory.mktemp("special")
    report = run_report(ratings, out, ReportConfig(n_resamples=200, formats=("svg",)))
    return (out / "tables.tex").read_text(), report


def test_latex_tables_are_booktabs(special_names_tex):
    tex, _ = special_names_tex
    assert tex.count(r"\begin{tabular}") == 2
    assert tex.count(r"\toprule") == tex.count(r"\midrule") == tex.count(r"\bottomrule") == 2
    assert "Kendall's W" in tex


def test_latex_tables_escape_special_characters_in_method_names(special_names_tex):
    # Given method names with & % $ # _ { } ~ ^ and a backslash (the first is the reference),
    tex, _ = special_names_tex
    first, second, third = SPECIAL_METHODS.values()
    # then the table of means has a row for each under its escaped name,
    rows = tex.splitlines()
    for escaped in SPECIAL_METHODS.values():
        assert any(row.startswith(f"{escaped} & ") for row in rows), escaped
    # the pairwise comparisons and the model terms are escaped the same way,
    assert f"& {first} vs {second} &" in tex
    assert f"& {second} vs {third} &" in tex
    assert f"& method[{third}] vs {first} &" in tex
    # and no name is left in its raw form.
    for raw in SPECIAL_METHODS:
        assert raw not in tex


def test_latex_tables_write_tiny_p_values_as_less_than(special_names_tex):
    tex, report = special_names_tex
    kruskal = report.tests.loc[report.tests["test"] == "Kruskal-Wallis", "p_value"]
    assert kruskal.iloc[0] < 1e-10
    (row,) = [r for r in tex.splitlines() if r.startswith("Kruskal-Wallis (*) & ")]
    assert row.split(" & ")[3] == "$<$0.001"


def test_plots_return_axes_and_accept_given_axes(study):
    from matplotlib.figure import Figure

    df = validate_ratings(study)
    ax = plot_score_distribution(df)
    assert ax.get_xlabel() == "Saliency score"
    assert len(ax.get_legend().get_texts()) == 4
    fig = Figure()
    given = fig.add_subplot()
    assert plot_diverging(df, ax=given) is given


def test_cli_simulate_then_report(tmp_path, capsys):
    csv = tmp_path / "ratings.csv"
    assert main(["simulate", "--participants", "12", "--questions", "18", "--out", str(csv)]) == 0
    assert len(pd.read_csv(csv)) == 12 * 18
    assert main(["report", str(csv), "--out", str(tmp_path / "out"), "--resamples", "200"]) == 0
    assert (tmp_path / "out" / "figure10.pdf").exists()


def test_cli_reports_bad_input_as_an_error(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"participant": [1], "question": [1], "score": [9]}).to_csv(bad, index=False)
    assert main(["report", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "missing column" in capsys.readouterr().err


def test_diverging_bars_centre_the_neutral_score(study):
    df = validate_ratings(study)
    ax = plot_diverging(df)
    dist = score_distribution(df)
    share = dist.pivot_table(index="method", columns="score", values="proportion", observed=True)
    share.index = share.index.astype(str)
    # Bars are drawn score by score, methods bottom-up (reversed study order); the first
    # segment (score 1) starts at -(p1 + p2 + p3 / 2).
    first_segments = ax.patches[: len(share)]
    methods = list(dict.fromkeys(df["method"].astype(str)))[::-1]
    for patch, method in zip(first_segments, methods, strict=True):
        p = share.loc[method]
        assert patch.get_x() == pytest.approx(-(p[1] + p[2] + p[3] / 2))


def test_large_tables_use_the_compressed_fit_with_identical_results(study, monkeypatch):
    from analysis import ordinal

    df = validate_ratings(study)
    reference = ordinal.ordinal_logit(df)
    monkeypatch.setattr(ordinal, "STATSMODELS_MAX_ROWS", 100)
    fast = ordinal.ordinal_logit(df)
    assert fast.engine == "analysis.clmm" and fast.notes
    assert fast.table["estimate"].to_numpy() == pytest.approx(
        reference.table["estimate"].to_numpy(), abs=1e-5
    )
    assert fast.table["se"].to_numpy() == pytest.approx(reference.table["se"].to_numpy(), rel=1e-3)


def test_cli_power_prints_the_design_and_the_needed_participants(capsys, monkeypatch):
    # The search itself is tested in test_analysis_power; here one small design is simulated
    # for real and the sizing answered from a stand-in power curve.
    import analysis.cli

    monkeypatch.setattr(analysis.cli, "required_size", lambda *a, **k: 17)
    argv = ["power", "--effect", "1.0", "--images", "6", "--participants", "8", "--sims", "4"]
    assert main([*argv, "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "design: nested, 3 conditions x 2 dataset(s), 6 images per dataset" in out
    assert "protopool vs protopool-protopnet-sim" in out
    assert "participants needed for power 80%: 17" in out


def test_report_states_the_headline_model_and_its_variance_components(report_dir):
    out, report = report_dir
    markdown = (out / "report.md").read_text()
    assert "## Headline test" in markdown
    assert "primary test of the report" in markdown
    assert set(report.primary["variances"]["group"]) == {"participant", "image"}
    assert report.overview["design"] == "nested"


def test_degenerate_results_are_reported_as_such():
    # Every participant rates every picture of method a 5 and of method b 1: the rank-biserial
    # r is 1 in every bootstrap replicate, which is no interval at all.
    from analysis.tables import DEGENERATE_NOTE, mark_degenerate, test_frame, test_row

    rows = [
        test_row("Wilcoxon signed-rank", "a vs b", effect_size_name="rank-biserial r",
                 effect_size=1.0, ci_low=1.0, ci_high=1.0, p_value=0.001),
        test_row("Wilcoxon signed-rank", "a vs c", effect_size_name="rank-biserial r",
                 effect_size=0.4, ci_low=0.1, ci_high=0.7, p_value=0.01),
    ]  # fmt: skip
    marked = mark_degenerate(test_frame(rows))
    assert marked.loc[0, ["ci_low", "ci_high"]].isna().all()
    assert DEGENERATE_NOTE in marked.loc[0, "note"]
    assert marked.loc[1, "ci_low"] == 0.1 and marked.loc[1, "note"] == ""


def test_figure_names_the_scale_ends_as_the_survey_did(study):
    from analysis import plot_diverging, plot_score_distribution, validate_ratings

    df = validate_ratings(study)
    ticks = [t.get_text() for t in plot_score_distribution(df).get_xticklabels()]
    assert ticks[0] == "1 (least salient)" and ticks[-1] == "5 (most salient)"
    custom = plot_diverging(df, scale_labels=("not at all", "extremely"))
    legend = [t.get_text() for t in custom.get_legend().get_texts()]
    assert legend[0] == "1 (not at all)" and legend[-1] == "5 (extremely)"
