"""Command line: ``python -m analysis {report,simulate,power} ...``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from analysis.exclusions import ExclusionRules
from analysis.power import power_curve, required_participants
from analysis.report import ReportConfig, run_report
from analysis.simulate import DEFAULT_METHODS, SimulationConfig, simulate_ratings


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(",") if v.strip())


def _optional(value: float) -> float | None:
    return None if value < 0 else value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    rep = sub.add_parser("report", help="analyse a ratings CSV and write the report")
    rep.add_argument("responses", type=Path, help="long-format CSV, one row per answer")
    rep.add_argument("--out", type=Path, required=True, help="output folder")
    rep.add_argument("--resamples", type=int, default=2000, help="bootstrap replicates")
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--reference", default=None, help="baseline method of the models")
    rep.add_argument(
        "--max-gold-failures",
        type=int,
        default=0,
        help="exclude participants failing more gold trials (-1: off)",
    )
    rep.add_argument(
        "--straightline-share",
        type=float,
        default=1.0,
        help="exclude if one score covers this share of answers (-1: off)",
    )
    rep.add_argument(
        "--min-median-rt-ms",
        type=float,
        default=1500.0,
        help="exclude participants with a lower median response time (-1: off)",
    )
    rep.add_argument(
        "--min-answer-rt-ms",
        type=float,
        default=-1.0,
        help="drop single answers faster than this (-1: off)",
    )

    sim = sub.add_parser("simulate", help="write a simulated ratings CSV")
    sim.add_argument("--participants", type=int, default=40)
    sim.add_argument("--questions", type=int, default=60)
    sim.add_argument("--methods", default=",".join(DEFAULT_METHODS))
    sim.add_argument(
        "--effects",
        type=_floats,
        default=None,
        help="comma-separated log-odds effects, one per method",
    )
    sim.add_argument("--participant-sd", type=float, default=0.8)
    sim.add_argument("--question-sd", type=float, default=0.5)
    sim.add_argument("--careless", type=float, default=0.0, help="share of careless raters")
    sim.add_argument("--gold", type=int, default=0, help="gold trials per participant")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--out", type=Path, required=True)

    pw = sub.add_parser("power", help="participants needed for a method difference")
    pw.add_argument("--effect", type=float, required=True, help="log-odds difference")
    pw.add_argument("--questions", type=int, default=60)
    pw.add_argument("--power", type=float, default=0.8)
    pw.add_argument("--alpha", type=float, default=0.05)
    pw.add_argument("--sims", type=int, default=500)
    pw.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "report":
            return _report(args)
        if args.command == "simulate":
            return _simulate(args)
        return _power(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _report(args: argparse.Namespace) -> int:
    rules = ExclusionRules(
        max_gold_failures=None if args.max_gold_failures < 0 else args.max_gold_failures,
        straightline_share=_optional(args.straightline_share),
        min_median_rt_ms=_optional(args.min_median_rt_ms),
        min_answer_rt_ms=_optional(args.min_answer_rt_ms),
    )
    config = ReportConfig(
        rules=rules, n_resamples=args.resamples, seed=args.seed, reference=args.reference
    )
    report = run_report(args.responses, args.out, config)
    for path in report.files:
        print(path)
    return 0


def _simulate(args: argparse.Namespace) -> int:
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    base = SimulationConfig()
    effects = args.effects
    if effects is None:
        effects = base.effects if methods == base.methods else (0.0,) * len(methods)
    config = SimulationConfig(
        participants=args.participants,
        questions=args.questions,
        methods=methods,
        effects=tuple(effects),
        participant_sd=args.participant_sd,
        question_sd=args.question_sd,
        careless_fraction=args.careless,
        gold_questions=args.gold,
        seed=args.seed,
    )
    frame = simulate_ratings(config)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    print(f"{len(frame)} answers written to {args.out}")
    return 0


def _power(args: argparse.Namespace) -> int:
    config = SimulationConfig(questions=args.questions)
    needed = required_participants(
        args.effect, args.power, config, args.sims, args.alpha, seed=args.seed
    )
    sizes = sorted({max(5, needed // 2), needed, needed * 2})
    curve = power_curve(args.effect, sizes, config, args.sims, args.alpha, args.seed)
    print(curve.to_string(index=False))
    print(f"participants needed for power {args.power:.0%}: {needed}")
    return 0
