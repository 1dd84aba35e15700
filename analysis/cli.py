"""Command line: ``python -m analysis {report,simulate,power} ...``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from analysis.exclusions import ExclusionRules
from analysis.power import PowerDesign, required_size, simulated_power
from analysis.report import ReportConfig, run_report
from analysis.simulate import DEFAULT_EFFECTS, DEFAULT_METHODS, SimulationConfig, simulate_ratings
from analysis.spec_reader import read_spec_design


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
        "--slopes", action="store_true", help="add by-participant method slopes to the headline"
    )
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
    sim.add_argument("--item-sd", type=float, default=0.0)
    sim.add_argument("--layout", choices=("nested", "latin_square"), default="nested")
    sim.add_argument("--careless", type=float, default=0.0, help="share of careless raters")
    sim.add_argument("--gold", type=int, default=0, help="gold trials per participant")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--out", type=Path, required=True)

    pw = sub.add_parser(
        "power",
        help="participants and images needed, by simulating the study and its headline test",
    )
    pw.add_argument("--design", type=Path, default=None, help="study spec YAML to read")
    pw.add_argument(
        "--effect",
        type=float,
        default=None,
        help="log-odds advantage of the first method over the others (default: the paper's)",
    )
    pw.add_argument("--participants", type=int, default=None)
    pw.add_argument("--images", type=int, default=None, help="images per dataset")
    pw.add_argument("--layout", choices=("nested", "latin_square"), default=None)
    pw.add_argument("--participant-sd", type=float, default=0.8)
    pw.add_argument("--image-sd", type=float, default=0.5)
    pw.add_argument("--item-sd", type=float, default=0.0)
    pw.add_argument("--careless", type=float, default=0.0, help="share of careless raters")
    pw.add_argument(
        "--solve",
        choices=("participants", "images", "both", "none"),
        default="participants",
        help="what to size for the target power",
    )
    pw.add_argument("--power", type=float, default=0.8)
    pw.add_argument("--alpha", type=float, default=0.05)
    pw.add_argument("--sims", type=int, default=200)
    pw.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
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
        rules=rules,
        n_resamples=args.resamples,
        seed=args.seed,
        reference=args.reference,
        slopes=args.slopes,
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
        item_sd=args.item_sd,
        design=args.layout,
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
    design = _power_design(args)
    print(
        f"design: {design.design}, {len(design.methods)} conditions x "
        f"{len(design.datasets)} dataset(s), {design.images_per_dataset} images per dataset, "
        f"{design.participants} participants; SDs participant {design.participant_sd}, "
        f"image {design.image_sd}, item {design.item_sd}; careless {design.careless_fraction}"
    )
    options = {"n_sims": args.sims, "alpha": args.alpha, "seed": args.seed}
    table = simulated_power(design, workers=args.workers, progress=True, **options)
    print(table.to_string(index=False))
    targets = {"both": ("participants", "images_per_dataset"), "none": ()}.get(
        args.solve, ("images_per_dataset" if args.solve == "images" else "participants",)
    )
    for what in targets:
        needed = required_size(
            design, what, args.power, workers=args.workers, progress=True, **options
        )
        print(f"{what.replace('_', ' ')} needed for power {args.power:.0%}: {needed}")
    return 0


def _power_design(args: argparse.Namespace) -> PowerDesign:
    fields: dict[str, object] = {}
    if args.design is not None:
        fields.update(read_spec_design(args.design))
    if args.layout is not None:
        fields["design"] = args.layout
    if args.participants is not None:
        fields["participants"] = args.participants
    if args.images is not None:
        fields["images_per_dataset"] = args.images
    methods = fields.get("methods", DEFAULT_METHODS)
    assert isinstance(methods, tuple)
    if args.effect is not None:
        fields["effects"] = (args.effect,) + (0.0,) * (len(methods) - 1)
    elif len(methods) != len(DEFAULT_EFFECTS):
        raise ValueError(
            f"The design has {len(methods)} conditions; give --effect (the paper's effects are "
            f"for {len(DEFAULT_EFFECTS)})."
        )
    fields.update(
        participant_sd=args.participant_sd,
        image_sd=args.image_sd,
        item_sd=args.item_sd,
        careless_fraction=args.careless,
    )
    return PowerDesign(**fields)  # type: ignore[arg-type]
