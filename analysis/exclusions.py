"""Pre-declared exclusion rules, applied in a fixed order before any analysis.

Rules are data (a frozen dataclass) so a study can declare them before collecting answers and
the report can print exactly what was applied. Each rule removes whole participants except
the per-answer speed rule; gold trials themselves never enter the analysis.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

# A rule returns the rows it drops and a description of what it checked.
RuleResult = tuple[np.ndarray, str]
EXCLUSION_COLUMNS = (
    "rule",
    "description",
    "participants_removed",
    "answers_removed",
    "answers_left",
)


@dataclass(frozen=True)
class ExclusionRules:
    """Thresholds of the pre-declared exclusion rules; ``None`` switches a rule off.

    Attributes
    ----------
    max_gold_failures
        Remove participants who failed more than this many gold trials. A gold trial fails
        when ``gold_passed`` is False, or when the score is more than ``gold_tolerance`` away
        from ``gold_expected``.
    gold_tolerance
        Allowed distance from the expected gold answer.
    straightline_share
        Remove participants whose most frequent score covers at least this share of their
        answers (1.0: every answer identical), given ``straightline_min_answers`` answers.
    straightline_min_answers
        Fewer answers than this are too few to call straight-lining.
    min_median_rt_ms
        Remove participants whose median response time is below this.
    min_answer_rt_ms
        Remove single answers given faster than this.
    """

    max_gold_failures: int | None = 0
    gold_tolerance: float = 1.0
    straightline_share: float | None = 1.0
    straightline_min_answers: int = 10
    min_median_rt_ms: float | None = 1500.0
    min_answer_rt_ms: float | None = None

    def to_dict(self) -> dict[str, object]:
        """The rules as plain data for the JSON report."""
        return asdict(self)


@dataclass(frozen=True)
class Exclusions:
    """What the rules did: the answers kept, the log, and who was removed by which rule.

    Unpacks as ``kept, log`` (its first two fields).

    Attributes
    ----------
    kept
        The answers kept (gold trials removed).
    log
        One row per rule in the order applied, with the columns in ``EXCLUSION_COLUMNS``.
    removed
        Each participant removed by a participant-level rule, mapped to that rule's name.
    """

    kept: pd.DataFrame
    log: pd.DataFrame
    removed: dict[str, str]

    def __iter__(self) -> Iterator[pd.DataFrame]:
        yield self.kept
        yield self.log


class EverythingExcluded(ValueError):
    """The rules removed every answer; ``removed`` still says which rule removed whom."""

    def __init__(self, message: str, removed: dict[str, str]) -> None:
        super().__init__(message)
        self.removed = removed


def apply_exclusions(df: pd.DataFrame, rules: ExclusionRules | None = None) -> Exclusions:
    """Apply the rules in order and report what each removed, and whom.

    Parameters
    ----------
    df
        Validated ratings, gold trials included (``is_gold``).
    rules
        The pre-declared rules; the defaults when omitted.

    Returns
    -------
    Exclusions
        The answers kept (gold trials removed), a log with the columns in
        ``EXCLUSION_COLUMNS``, one row per rule in the order applied (rules whose columns are
        absent are logged as skipped), and the rule that removed each removed participant.

    Raises
    ------
    EverythingExcluded
        The rules removed every answer.
    """
    rules = rules or ExclusionRules()
    log: list[tuple[str, str, int, int, int]] = []
    removed_by: dict[str, str] = {}
    data = df
    gold = _gold_mask(data)
    for name, step in (
        ("failed gold trials", _gold_rule),
        ("straight-lining", _straightline_rule),
        ("too fast (participant median)", _median_rt_rule),
    ):
        drop, description = step(data, gold, rules)
        gone = set(data["participant"][drop & ~gold].astype(str)) if drop.any() else set()
        removed_by.update(dict.fromkeys(gone, name))
        removed = len(gone)
        answers = int((drop & ~gold).sum())
        data, gold = data[~drop], gold[~drop]
        log.append((name, description, int(removed), answers, int((~gold).sum())))
    drop, description = _answer_rt_rule(data, rules)
    data, gold = data[~drop], gold[~drop]
    log.append(("too fast (single answer)", description, 0, int(drop.sum()), int((~gold).sum())))
    answers = int(gold.sum())
    log.append(
        (
            "gold trials",
            "gold trials are checks, not study questions",
            0,
            answers,
            int((~gold).sum()),
        )
    )
    kept = data[~gold].copy()
    # A label used only by gold trials (e.g. method "gold") must not look like an empty method.
    for column in ("participant", "question", "dataset", "method"):
        if isinstance(kept[column].dtype, pd.CategoricalDtype):
            kept[column] = kept[column].cat.remove_unused_categories()
    if kept.empty:
        raise EverythingExcluded(
            "The exclusion rules removed every answer; relax the thresholds.", removed_by
        )
    log_frame = pd.DataFrame(log, columns=list(EXCLUSION_COLUMNS))
    return Exclusions(kept.reset_index(drop=True), log_frame, removed_by)


def _gold_mask(df: pd.DataFrame) -> pd.Series:
    if "is_gold" not in df.columns:
        return pd.Series(False, index=df.index)
    flag = df["is_gold"]
    if flag.dtype == object:
        flag = flag.astype(str).str.lower().isin(["true", "1", "yes"])
    return flag.fillna(False).astype(bool)


def _participants(df: pd.DataFrame, bad: pd.Series) -> np.ndarray:
    flagged = set(bad.index[bad.to_numpy()])
    return df["participant"].isin(flagged).to_numpy()


def _gold_rule(df: pd.DataFrame, gold: pd.Series, rules: ExclusionRules) -> RuleResult:
    if rules.max_gold_failures is None:
        return np.zeros(len(df), bool), "switched off"
    if not gold.any():
        return np.zeros(len(df), bool), "skipped: no gold trials"
    trials = df[gold]
    if "gold_passed" in trials.columns and trials["gold_passed"].notna().any():
        failed = ~trials["gold_passed"].astype(bool)
    elif "gold_expected" in trials.columns:
        failed = (trials["score"] - trials["gold_expected"]).abs() > rules.gold_tolerance
    else:
        return np.zeros(len(df), bool), "skipped: no gold_passed or gold_expected column"
    per = failed.astype(int).groupby(trials["participant"], observed=True).sum()
    text = f"more than {rules.max_gold_failures} failed gold trial(s)"
    return _participants(df, per > rules.max_gold_failures), text


def _straightline_rule(df: pd.DataFrame, gold: pd.Series, rules: ExclusionRules) -> RuleResult:
    if rules.straightline_share is None:
        return np.zeros(len(df), bool), "switched off"
    real = df[~gold]
    counts = real.groupby(["participant", "score"], observed=True).size()
    per = counts.groupby(level=0, observed=True)
    share = per.max() / per.sum()
    bad = (share >= rules.straightline_share) & (per.sum() >= rules.straightline_min_answers)
    text = (
        f"one score in at least {rules.straightline_share:.0%} of answers "
        f"(given {rules.straightline_min_answers}+ answers)"
    )
    return _participants(df, bad), text


def _median_rt_rule(df: pd.DataFrame, gold: pd.Series, rules: ExclusionRules) -> RuleResult:
    if rules.min_median_rt_ms is None:
        return np.zeros(len(df), bool), "switched off"
    if "rt_ms" not in df.columns:
        return np.zeros(len(df), bool), "skipped: no rt_ms column"
    median = df[~gold].groupby("participant", observed=True)["rt_ms"].median()
    return _participants(df, median < rules.min_median_rt_ms), (
        f"median response time below {rules.min_median_rt_ms:g} ms"
    )


def _answer_rt_rule(df: pd.DataFrame, rules: ExclusionRules) -> RuleResult:
    if rules.min_answer_rt_ms is None:
        return np.zeros(len(df), bool), "switched off"
    if "rt_ms" not in df.columns:
        return np.zeros(len(df), bool), "skipped: no rt_ms column"
    return (df["rt_ms"] < rules.min_answer_rt_ms).to_numpy(), (
        f"answer faster than {rules.min_answer_rt_ms:g} ms"
    )
