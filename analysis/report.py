"""The full analysis of a ratings table, written as Markdown, JSON, LaTeX and Figure 10.

``run_report`` is the one call the study platform and the command line share. The report reads
as a reviewer expects: the frozen pre-registration, the design, the participant flow per
question set (a CONSORT-style figure), platform, dates and pay, quality checks and reliability,
the primary analysis (:mod:`analysis.primary`: a cumulative logit mixed model with participants
and images as random samples, then each pre-registered hypothesis), the secondary analyses
(two-way bootstrap CIs, rank tests and models, per dataset), and every deviation from the plan.
The study around the answers comes in a :class:`analysis.report_context.StudyContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import agreement, bootstrap, distributions, mixed, ordinal, plots, primary, rank_tests
from analysis.design import describe_design
from analysis.exclusions import ExclusionRules, Exclusions, apply_exclusions
from analysis.flow_figure import flow_figure
from analysis.io import load_ratings, method_order
from analysis.preregistration import planned_rules, planned_settings
from analysis.report_context import StudyContext, study_sections
from analysis.report_measures import append_measure_section
from analysis.report_types import Overview, Report
from analysis.report_writers import write_json, write_latex, write_markdown
from analysis.tables import mark_degenerate, test_frame, test_row

__all__ = ["Report", "ReportConfig", "StudyContext", "analyse", "config_from_plan", "run_report"]


@dataclass(frozen=True)
class ReportConfig:
    """Settings of a report run.

    Attributes
    ----------
    rules
        Pre-declared exclusion rules.
    n_resamples
        Cluster-bootstrap replicates.
    confidence_level
        Coverage of every interval.
    p_adjust
        Multiple-comparison correction of the pairwise tests (statsmodels name).
    reference
        Baseline method of the models; the first method when omitted.
    slopes
        Add by-participant method slopes to the headline model.
    scale_labels
        The names of the scale's ends as the participants saw them, for the figures.
    seed
        Seed of every random step, so a report can be reproduced.
    formats
        Figure file formats.
    measures
        Per-stimulus objective measure columns (the platform's ``m_...``) to relate the
        ratings to in a "People versus metrics" section (:mod:`analysis.report_measures`);
        none when empty.
    """

    rules: ExclusionRules = field(default_factory=ExclusionRules)
    n_resamples: int = 2000
    confidence_level: float = 0.95
    p_adjust: str = "holm"
    reference: str | None = None
    slopes: bool = False
    scale_labels: tuple[str, str] = plots.SCALE_LABELS
    seed: int = 0
    formats: tuple[str, ...] = plots.FORMATS
    measures: tuple[str, ...] = ()


def analyse(data: pd.DataFrame | str | Path, config: ReportConfig | None = None) -> Report:
    """Run the whole analysis without writing files.

    Parameters
    ----------
    data
        Ratings (any long-format table or CSV path accepted by :func:`analysis.load_ratings`).
    config
        Report settings.
    """
    return _analyse(data, config or ReportConfig())[0]


def config_from_plan(plan: Mapping[str, Any], **overrides: Any) -> ReportConfig:
    """The report settings a frozen plan fixes (its rules, multiplicity, alpha, reference and
    slopes), with ``overrides`` on top (the command line's flags)."""
    fields: dict[str, Any] = {"rules": planned_rules(plan), **planned_settings(plan)}
    fields.update(overrides)
    return ReportConfig(**fields)


def _analyse(
    data: pd.DataFrame | str | Path,
    cfg: ReportConfig,
    exclusions: Exclusions | None = None,
    context: StudyContext | None = None,
) -> tuple[Report, pd.DataFrame]:
    raw = load_ratings(data)
    # A caller that has applied the rules already (the study platform's export) hands over the
    # outcome, so the participants table and the report name the same people without a replay.
    outcome = exclusions if exclusions is not None else apply_exclusions(raw, cfg.rules)
    df, exclusion_log = outcome
    notes: list[str] = []
    summary = _summary_with_ci(df, "method", cfg)
    headline = _primary(df, cfg, notes)
    tests, model_tables, fits = _method_tests(df, cfg, notes)
    if headline is not None:
        tests = pd.concat([_primary_rows(headline), tests], ignore_index=True)
    tests = mark_degenerate(tests)
    design = headline.design if headline else describe_design(primary.regular_answers(df))
    dataset_summary, dataset_tests = _by_dataset(df, cfg, notes)
    dataset_tests = mark_degenerate(dataset_tests)
    overview: Overview = {
        "answers_in_file": len(raw),
        "answers_analysed": len(df),
        "participants": int(df["participant"].nunique()),
        "questions": int(df["question"].nunique()),
        "methods": method_order(df),
        "datasets": sorted(df["dataset"].astype(str).unique().tolist()),
        "confidence_level": cfg.confidence_level,
        "bootstrap_resamples": cfg.n_resamples,
        "p_adjust": cfg.p_adjust,
        "seed": cfg.seed,
        "exclusion_rules": cfg.rules.to_dict(),
        "images": int(df["image"].nunique()),
        "items": int(df["item"].nunique()),
        "design": design.structure,
        "primary_model": headline.formula if headline is not None else "",
    }
    report = Report(
        overview=overview,
        exclusions=exclusion_log,
        distribution=distributions.score_distribution(df, "method"),
        summary=summary,
        primary=_primary_tables(headline),
        mean_differences=bootstrap.bootstrap_mean_differences(
            df, cfg.n_resamples, cfg.confidence_level, cfg.seed
        ),
        tests=tests,
        models=model_tables,
        model_fits=fits,
        agreement=agreement.agreement_summary(df, cfg.confidence_level),
        dataset_distribution=distributions.score_distribution(df, ["dataset", "method"]),
        dataset_summary=dataset_summary,
        dataset_tests=dataset_tests,
        notes=notes,
    )
    settings = {
        "p_adjust": cfg.p_adjust,
        "confidence_level": cfg.confidence_level,
        "reference": cfg.reference,
        "slopes": cfg.slopes,
    }
    contrasts = headline.contrasts if headline is not None else None
    report.study = study_sections(
        raw, df, outcome.removed, contrasts, cfg.rules, settings, context or StudyContext()
    )
    return report, df


def run_report(
    data: pd.DataFrame | str | Path,
    out_dir: str | Path,
    config: ReportConfig | None = None,
    exclusions: Exclusions | None = None,
    context: StudyContext | None = None,
) -> Report:
    """Analyse ratings and write report.md, report.json, tables.tex and Figure 10 (and the
    participant flow figure when the context holds the participants).

    Parameters
    ----------
    data
        Ratings table or CSV path.
    out_dir
        Folder for the outputs; created when missing.
    config
        Report settings.
    exclusions
        The outcome of ``apply_exclusions(load_ratings(data), config.rules)`` when the caller
        has it already; the rules are applied here when omitted.
    context
        The study around the answers: the frozen plan, the participants, platform and pay, and
        the command-line flags that overrode the plan.

    Returns
    -------
    Report
        The tables, with ``files`` listing everything written.
    """
    cfg = config or ReportConfig()
    report, df = _analyse(data, cfg, exclusions, context)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    means = report.summary[["method", "mean", "ci_low", "ci_high"]]
    report.files = plots.figure10(
        df, out, means=means, formats=cfg.formats, scale_labels=cfg.scale_labels
    )
    if len(report.study.flow):
        report.files += flow_figure(report.study.flow, out, cfg.formats)
    report.files += [
        write_markdown(report, out / "report.md"),
        write_json(report, out / "report.json"),
        write_latex(report, out / "tables.tex"),
    ]
    if cfg.measures:
        report.files += append_measure_section(
            df, out / "report.md", cfg.measures, cfg.reference, cfg.n_resamples,
            cfg.confidence_level, cfg.seed,
        )  # fmt: skip
    return report


def _summary_with_ci(df: pd.DataFrame, by: str, cfg: ReportConfig) -> pd.DataFrame:
    stats_table = distributions.summary_statistics(df, by)
    cis = bootstrap.bootstrap_means(df, by, cfg.n_resamples, cfg.confidence_level, cfg.seed)
    return stats_table.merge(cis[[by, "ci_low", "ci_high"]], on=by, how="left")


def _method_tests(
    df: pd.DataFrame, cfg: ReportConfig, notes: list[str]
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], pd.DataFrame]:
    frames = []
    if df["method"].nunique() < 2:
        notes.append("Only one method has answers: no comparisons were run.")
        return test_frame([]), {}, pd.DataFrame()
    for name, call in _bootstrap_tests(df, cfg):
        try:
            frames.append(call())
        except ValueError as err:
            notes.append(f"{name} skipped: {err}")
    frames.append(rank_tests.kruskal_raw(df))
    frames.append(rank_tests.pairwise_mannwhitney(df, cfg.p_adjust, cfg.confidence_level))
    clm = ordinal.ordinal_logit(df, cfg.reference, cfg.confidence_level)
    lmm = mixed.linear_mixed(df, cfg.reference, confidence_level=cfg.confidence_level)
    notes.append(
        "The clustered cumulative logit treats the pictures as fixed; it is a sensitivity "
        "check of the headline model, not a test of the methods."
    )
    notes += [f"{clm.model}: {n}" for n in clm.notes]
    frames.append(_model_rows(clm.model, clm.table, "log odds ratio", clm.n_obs))
    notes += [f"{lmm.model}: {n}" for n in lmm.notes]
    frames.append(
        _model_rows(
            lmm.model,
            lmm.table.assign(
                kind=np.where(lmm.table["term"] == "intercept", "intercept", "location")
            ),
            "mean difference",
            lmm.n_obs,
        )
    )
    models = {"cumulative_logit": clm.table, "lmm": lmm.table}
    fits = _fit_table(clm, lmm, df["participant"].nunique())
    return pd.concat(frames, ignore_index=True), models, fits


def _primary(df: pd.DataFrame, cfg: ReportConfig, notes: list[str]) -> primary.PrimaryFit | None:
    if df["method"].nunique() < 2:
        return None
    try:
        fit = primary.primary_model(
            df,
            cfg.reference,
            slopes=cfg.slopes,
            p_adjust=cfg.p_adjust,
            confidence_level=cfg.confidence_level,
        )
    except ValueError as err:
        notes.append(f"The headline model could not be fitted: {err}")
        return None
    notes += [f"Headline model: {n}" for n in fit.notes]
    return fit


def _primary_rows(fit: primary.PrimaryFit) -> pd.DataFrame:
    name = f"headline: {fit.formula}"
    rows = [
        test_row(
            name,
            f"{r.method_a} vs {r.method_b}",
            statistic_name="t",
            statistic=r.t,
            df=r.df,
            p_value=r.p_value,
            p_adjusted=r.p_adjusted,
            effect_size_name="log odds ratio",
            effect_size=r.log_odds_ratio,
            ci_low=r.ci_low,
            ci_high=r.ci_high,
            n=fit.n_obs,
            unit="answers (participants and images random)",
            note="primary test",
        )
        for r in fit.contrasts.itertuples()
    ]
    return test_frame(rows)


def _primary_tables(fit: primary.PrimaryFit | None) -> dict[str, pd.DataFrame]:
    if fit is None:
        return {}
    return {
        "contrasts": fit.contrasts,
        "coefficients": fit.coefficients,
        "variances": fit.variances,
    }


def _bootstrap_tests(
    df: pd.DataFrame, cfg: ReportConfig
) -> list[tuple[str, Callable[[], pd.DataFrame]]]:
    # Deferred calls, so that a test refusing its input becomes a note instead of an error.
    return [
        (
            "Friedman",
            partial(
                rank_tests.friedman_test,
                df,
                n_resamples=cfg.n_resamples,
                confidence_level=cfg.confidence_level,
                seed=cfg.seed,
            ),
        ),
        (
            "Wilcoxon",
            partial(
                rank_tests.pairwise_wilcoxon,
                df,
                cfg.p_adjust,
                n_resamples=cfg.n_resamples,
                confidence_level=cfg.confidence_level,
                seed=cfg.seed,
            ),
        ),
    ]


def _fit_table(clm: ordinal.OrdinalFit, lmm: mixed.LmmFit, n_participants: int) -> pd.DataFrame:
    variances = "; ".join(f"{k} variance {v:.4g}" for k, v in lmm.variances.items())
    rows = [
        (clm.model, clm.engine, clm.loglik, clm.aic, clm.n_obs, clm.n_groups, ""),
        (lmm.model, "REML", lmm.loglik, np.nan, lmm.n_obs, n_participants, variances),
    ]
    columns = ["model", "engine", "loglik", "aic", "n_obs", "n_groups", "detail"]
    return pd.DataFrame(rows, columns=columns)


def _model_rows(model: str, table: pd.DataFrame, effect_name: str, n: int) -> pd.DataFrame:
    rows = [
        test_row(
            model,
            str(r.term),
            statistic_name="z",
            statistic=r.z,
            p_value=r.p_value,
            effect_size_name=effect_name,
            effect_size=r.estimate,
            ci_low=r.ci_low,
            ci_high=r.ci_high,
            n=n,
            unit="answers",
        )
        for r in table[table["kind"] == "location"].itertuples()
    ]
    return test_frame(rows)


def _by_dataset(
    df: pd.DataFrame, cfg: ReportConfig, notes: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    summaries, tests = [], []
    for name, part in df.groupby(df["dataset"].astype(str), observed=True):
        part = part.copy()
        part["method"] = part["method"].cat.remove_unused_categories()
        summaries.append(_summary_with_ci(part, "method", cfg).assign(dataset=name))
        if part["method"].nunique() < 2:
            notes.append(f"Dataset {name}: one method only, no tests.")
            continue
        calls = [call for _, call in _bootstrap_tests(part, cfg)]
        calls.append(partial(rank_tests.kruskal_raw, part))
        for call in calls:
            try:
                tests.append(call().assign(dataset=name))
            except ValueError as err:
                notes.append(f"Dataset {name}: {err}")
    summary = pd.concat(summaries, ignore_index=True) if summaries else pd.DataFrame()
    if len(summary):
        summary = summary[["dataset"] + [c for c in summary.columns if c != "dataset"]]
    tests_frame = pd.concat(tests, ignore_index=True) if tests else test_frame([])
    if "dataset" in tests_frame.columns:
        tests_frame = tests_frame[["dataset"] + [c for c in tests_frame.columns if c != "dataset"]]
    return summary, tests_frame
