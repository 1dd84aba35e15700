"""The data a report run produces, shared by :mod:`analysis.report` and its writers.

Kept apart from both so the writers can name the report's types without importing the module
that runs the analysis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import pandas as pd

from analysis.report_context import StudySections


class Overview(TypedDict):
    """Counts and settings stated at the head of every report.

    Attributes
    ----------
    answers_in_file
        Rows of the ratings table before exclusions.
    answers_analysed
        Rows left after exclusions.
    participants
        Distinct participants analysed.
    questions
        Distinct questions analysed.
    methods
        Methods in their analysis order.
    datasets
        Datasets, sorted by name.
    confidence_level
        Coverage of every interval.
    bootstrap_resamples
        Cluster-bootstrap replicates.
    p_adjust
        Multiple-comparison correction of the pairwise tests.
    seed
        Seed of every random step.
    exclusion_rules
        The pre-declared exclusion rules as plain data.
    images, items
        Distinct images and items (an item is one image under one method) analysed.
    design
        ``"nested"`` (each image under one method), ``"crossed"`` (a Latin square) or
        ``"mixed"``.
    primary_model
        The headline model in lme4 notation (empty when it could not be fitted).
    """

    answers_in_file: int
    answers_analysed: int
    participants: int
    questions: int
    methods: list[str]
    datasets: list[str]
    confidence_level: float
    bootstrap_resamples: int
    p_adjust: str
    seed: int
    exclusion_rules: dict[str, object]
    images: int
    items: int
    design: str
    primary_model: str


@dataclass
class Report:
    """Every table of the analysis; all are tidy DataFrames with fixed columns."""

    overview: Overview
    exclusions: pd.DataFrame
    distribution: pd.DataFrame
    summary: pd.DataFrame
    primary: dict[str, pd.DataFrame]
    mean_differences: pd.DataFrame
    tests: pd.DataFrame
    models: dict[str, pd.DataFrame]
    model_fits: pd.DataFrame
    agreement: pd.DataFrame
    dataset_distribution: pd.DataFrame
    dataset_summary: pd.DataFrame
    dataset_tests: pd.DataFrame
    notes: list[str]
    files: list[Path] = field(default_factory=list)
    # The study around the answers: pre-registration, design, flow, platform, quality checks,
    # the pre-registered hypotheses and the deviations (:mod:`analysis.report_context`).
    study: StudySections = field(default_factory=StudySections)
