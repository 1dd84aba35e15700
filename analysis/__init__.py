"""Statistics of prototype-saliency ratings on a long-format table (no web dependencies).

The functions below are the public interface; the study platform calls them for its exports
and researcher pages, and ``python -m analysis`` wraps them on the command line.
"""

from analysis.agreement import agreement_summary, intraclass_correlations, krippendorff_alpha
from analysis.bootstrap import bootstrap_mean_differences, bootstrap_means
from analysis.design import Design, describe_design
from analysis.distributions import participant_method_means, score_distribution, summary_statistics
from analysis.exclusions import ExclusionRules, Exclusions, apply_exclusions
from analysis.human_vs_objective import (
    HumanVsObjective,
    human_vs_objective,
    write_markdown_section,
)
from analysis.io import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, load_ratings, validate_ratings
from analysis.mixed import linear_mixed
from analysis.ordinal import ordinal_logit, ordinal_mixed
from analysis.plots import figure10, plot_diverging, plot_score_distribution
from analysis.power import (
    PowerDesign,
    design_from_spec,
    paired_t_participants,
    power_curve,
    required_size,
    simulated_power,
)
from analysis.primary import PrimaryFit, primary_model
from analysis.rank_tests import (
    friedman_test,
    kruskal_raw,
    pairwise_mannwhitney,
    pairwise_wilcoxon,
)
from analysis.report import ReportConfig, analyse, run_report
from analysis.report_types import Report
from analysis.report_writers import report_dict
from analysis.simulate import SimulationConfig, simulate_ratings
from analysis.simulate_measures import simulate_ratings_from_measures

__all__ = [
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "ExclusionRules",
    "Exclusions",
    "Design",
    "HumanVsObjective",
    "PowerDesign",
    "PrimaryFit",
    "Report",
    "ReportConfig",
    "SimulationConfig",
    "agreement_summary",
    "analyse",
    "apply_exclusions",
    "bootstrap_mean_differences",
    "describe_design",
    "design_from_spec",
    "bootstrap_means",
    "figure10",
    "friedman_test",
    "human_vs_objective",
    "intraclass_correlations",
    "krippendorff_alpha",
    "kruskal_raw",
    "linear_mixed",
    "load_ratings",
    "ordinal_logit",
    "ordinal_mixed",
    "paired_t_participants",
    "pairwise_mannwhitney",
    "pairwise_wilcoxon",
    "participant_method_means",
    "plot_diverging",
    "plot_score_distribution",
    "power_curve",
    "primary_model",
    "report_dict",
    "required_size",
    "run_report",
    "score_distribution",
    "simulate_ratings",
    "simulate_ratings_from_measures",
    "simulated_power",
    "summary_statistics",
    "validate_ratings",
    "write_markdown_section",
]
