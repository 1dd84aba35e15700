"""Pre-declared exclusion rules, applied in a fixed order before any analysis.

Rules are data (a frozen dataclass) so a study can declare them before collecting answers and
the report can print exactly what was applied. Each rule removes whole participants except
the per-answer speed rule; gold trials themselves never enter the analysis.

Only the instructed-response items exclude by default (:mod:`analysis.quality` scores every
gold answer). The map anchors stay off the exclusion path unless ``max_anchor_failures`` is set:
whether a map on the object reads as salient is the construct under study, so excluding by it
selects raters by how they read the construct. Test-retest repeats are reliability
(:func:`analysis.reliability.retest_reliability`) and never exclude anyone.

The first rule, "unverified participants", removes by default everyone whose ``verified``
column is False: a recruiter ID nobody vouched for is not known to be a person at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from analysis.quality import ANCHOR_KINDS, INSTRUCTED, gold_mask, score_gold, trial_kinds

# A rule returns the rows it drops and a description of what it checked.
RuleResult = tuple[np.ndarray, str]
EXCLUSION_COLUMNS = (
    "rule",
    "description",
    "participants_removed",
    "answers_removed",
    "answers_left",
)
# The browser's time from the scale's unlock to the answer. The scale unlocks only once the
# pictures are in and the minimum time has passed, so time from the pictures' load (``rt_ms``)
# can never fall below that minimum and a speed rule on it cannot fire.
UNLOCKED_RT_COLUMN = "unlocked_rt_ms"
# Whether the study's recruiter vouches for the participant (the platform's exports carry it).
VERIFIED_COLUMN = "verified"
UNVERIFIED_RULE = "unverified participants"


@dataclass(frozen=True)
class ExclusionRules:
    """Thresholds of the pre-declared exclusion rules; ``None`` switches a rule off.

    Attributes
    ----------
    max_gold_failures
        Remove participants who failed more than this many instructed-response items
        (``question_kind`` ``instructed``: passed only by the instructed answer). In a table
        without ``question_kind`` every gold trial counts, scored within ``gold_tolerance``.
    max_anchor_failures
        Remove participants who failed more than this many map anchors (``gold_object``,
        ``gold_background``); None (the default) keeps the anchors off the exclusion path.
    gold_tolerance
        How far an anchor (towards the middle of the scale) or a repeat may sit from
        ``gold_expected`` and still pass: with 1, a map on the object (expected 5) passes at 4
        or 5 and one on background (expected 1) at 1 or 2 (:func:`analysis.quality.gold_passed`).
    straightline_share
        Remove participants whose most frequent score covers at least this share of their
        answers (1.0: every answer identical), given ``straightline_min_answers`` answers.
    straightline_min_answers
        Fewer answers than this are too few to call straight-lining.
    min_median_rt_ms
        Remove participants whose median response time is below this, timed from the
        scale's unlock (``unlocked_rt_ms``) where the table has those times, else ``rt_ms``.
    min_answer_rt_ms
        Remove single answers given faster than this, timed as ``min_median_rt_ms``.
    exclude_unverified
        Remove participants whose ``verified`` column is False: IDs the recruiter never
        vouched for (no Prolific submission or MTurk assignment matched to them), such as
        scripted entries. Applied first, so the other rules count real participants only;
        None or False switches it off. A table without the column skips the rule.
    """

    max_gold_failures: int | None = 0
    max_anchor_failures: int | None = None
    gold_tolerance: float = 1.0
    straightline_share: float | None = 1.0
    straightline_min_answers: int = 10
    min_median_rt_ms: float | None = 1500.0
    min_answer_rt_ms: float | None = None
    exclude_unverified: bool | None = True

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
    gold = gold_mask(data)
    for name, step in (
        (UNVERIFIED_RULE, _unverified_rule),
        ("failed gold trials", _gold_rule),
        ("failed anchors", _anchor_rule),
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


def _participants(df: pd.DataFrame, bad: pd.Series) -> np.ndarray:
    flagged = set(bad.index[bad.to_numpy()])
    return df["participant"].isin(flagged).to_numpy()


def _gold_rule(df: pd.DataFrame, gold: pd.Series, rules: ExclusionRules) -> RuleResult:
    if rules.max_gold_failures is None:
        return np.zeros(len(df), bool), "switched off"
    kinds = trial_kinds(df)
    named = (kinds[gold] != "").any()
    # A table that names no kinds is read as before: every gold trial is a check.
    checks = gold & (kinds == INSTRUCTED) if named else gold
    what = "instructed-response item(s)" if named else "gold trial(s)"
    return _failures_rule(df, checks, rules.max_gold_failures, rules.gold_tolerance, what)


def _anchor_rule(df: pd.DataFrame, gold: pd.Series, rules: ExclusionRules) -> RuleResult:
    if rules.max_anchor_failures is None:
        return np.zeros(len(df), bool), "switched off"
    anchors = gold & trial_kinds(df).isin(ANCHOR_KINDS)
    what = "map anchor(s)"
    return _failures_rule(df, anchors, rules.max_anchor_failures, rules.gold_tolerance, what)


def _failures_rule(
    df: pd.DataFrame, checks: pd.Series, most: int, tolerance: float, what: str
) -> RuleResult:
    """Participants with more than ``most`` failed trials among ``checks``."""
    if not checks.any():
        return np.zeros(len(df), bool), f"skipped: no {what.replace('(s)', 's')}"
    outcome = score_gold(df[checks], tolerance)
    if outcome.isna().all():
        return np.zeros(len(df), bool), "skipped: no gold_passed or gold_expected column"
    failed = outcome.eq(False)
    trials = df[checks]
    per = failed.astype(int).groupby(trials["participant"], observed=True).sum()
    text = f"more than {most} failed {what} (tolerance {tolerance:g})"
    return _participants(df, per > most), text


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


def _speed_times(df: pd.DataFrame) -> tuple[pd.Series | None, str]:
    """The times the speed rules read, and from when they run."""
    if UNLOCKED_RT_COLUMN in df.columns:
        unlocked = pd.to_numeric(df[UNLOCKED_RT_COLUMN], errors="coerce")
        if unlocked.notna().any():
            return unlocked, "from the scale's unlock"
    if "rt_ms" in df.columns:
        return pd.to_numeric(df["rt_ms"], errors="coerce"), "from rt_ms"
    return None, ""


def _median_rt_rule(df: pd.DataFrame, gold: pd.Series, rules: ExclusionRules) -> RuleResult:
    if rules.min_median_rt_ms is None:
        return np.zeros(len(df), bool), "switched off"
    times, since = _speed_times(df)
    if times is None:
        return np.zeros(len(df), bool), "skipped: no rt_ms column"
    median = times[~gold].groupby(df["participant"][~gold], observed=True).median()
    return _participants(df, median < rules.min_median_rt_ms), (
        f"median response time below {rules.min_median_rt_ms:g} ms ({since})"
    )


def _unverified_rule(df: pd.DataFrame, gold: pd.Series, rules: ExclusionRules) -> RuleResult:
    if not rules.exclude_unverified:
        return np.zeros(len(df), bool), "switched off"
    if VERIFIED_COLUMN not in df.columns:
        return np.zeros(len(df), bool), f"skipped: no {VERIFIED_COLUMN} column"
    # Only an explicit False is unverified: a missing value says nothing either way.
    text = df[VERIFIED_COLUMN].astype("string").str.strip().str.lower()
    unverified = text.isin(["false", "0", "no"]).fillna(False).astype(bool)
    per = unverified.groupby(df["participant"], observed=True).any()
    return _participants(df, per), (
        "not vouched for by the recruiter (no submission or assignment matched to them)"
    )


def _answer_rt_rule(df: pd.DataFrame, rules: ExclusionRules) -> RuleResult:
    if rules.min_answer_rt_ms is None:
        return np.zeros(len(df), bool), "switched off"
    times, since = _speed_times(df)
    if times is None:
        return np.zeros(len(df), bool), "skipped: no rt_ms column"
    return (times < rules.min_answer_rt_ms).to_numpy(), (
        f"answer faster than {rules.min_answer_rt_ms:g} ms ({since})"
    )
