"""Command line: ``python -m analysis {report,simulate,power,human-vs-objective} ...``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd

from analysis.exclusions import ExclusionRules, apply_exclusions
from analysis.human_vs_objective import human_vs_objective, write_markdown_section
from analysis.io import load_ratings
from analysis.power import PowerDesign, required_size, simulated_power
from analysis.preregistration import planned_rules, planned_settings, read_plan
from analysis.report import ReportConfig, StudyContext, config_from_plan, run_report
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
    rep.add_argument(
        "--plan",
        type=Path,
        default=None,
        help="the study's frozen plan (the export's preregistration.json): its rules and "
        "settings are the defaults, and the report opens with it and lists every deviation",
    )
    rep.add_argument(
        "--participants",
        type=Path,
        default=None,
        help="the export's participants.csv, for the participant flow per question set",
    )
    # Rule and setting flags default to None, so a flag given by hand is told apart from the
    # plan's value it overrides (which warns and is reported as a deviation).
    rep.add_argument("--reference", default=None, help="baseline method of the models")
    rep.add_argument(
        "--slopes",
        action="store_true",
        default=None,
        help="add by-participant method slopes to the headline",
    )
    rep.add_argument(
        "--max-gold-failures",
        type=int,
        default=None,
        help="exclude participants failing more gold trials (-1: off; default 0 or the plan's)",
    )
    rep.add_argument(
        "--straightline-share",
        type=float,
        default=None,
        help="exclude if one score covers this share of answers (-1: off; default 1)",
    )
    rep.add_argument(
        "--min-median-rt-ms",
        type=float,
        default=None,
        help="exclude participants with a lower median response time (-1: off; default 1500)",
    )
    rep.add_argument(
        "--min-answer-rt-ms",
        type=float,
        default=None,
        help="drop single answers faster than this (-1: off, the default)",
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
    _add_human_vs_objective(sub)
    return parser


def _add_human_vs_objective(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    hvo = sub.add_parser(
        "human-vs-objective",
        help="relate ratings to per-stimulus objective measures (mixed model, rho, ceiling)",
    )
    hvo.add_argument("responses", type=Path, help="long-format CSV with the measure columns")
    hvo.add_argument(
        "--measures", required=True, help="comma-separated measure columns, e.g. energy_in_part"
    )
    hvo.add_argument("--out", type=Path, required=True, help="output folder")
    hvo.add_argument("--resamples", type=int, default=2000, help="bootstrap replicates")
    hvo.add_argument("--splits", type=int, default=200, help="random split halves")
    hvo.add_argument("--seed", type=int, default=0)
    hvo.add_argument("--reference", default=None, help="baseline method of the models")
    hvo.add_argument(
        "--no-exclusions",
        action="store_true",
        help="keep every participant (default: the report's pre-declared exclusion rules)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "report":
            return _report(args)
        if args.command == "simulate":
            return _simulate(args)
        if args.command == "human-vs-objective":
            return _human_vs_objective(args)
        return _power(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


RULE_FLAGS = {
    "max_gold_failures": "--max-gold-failures",
    "straightline_share": "--straightline-share",
    "min_median_rt_ms": "--min-median-rt-ms",
    "min_answer_rt_ms": "--min-answer-rt-ms",
}
SETTING_FLAGS = {"reference": "--reference", "slopes": "--slopes"}


def _report(args: argparse.Namespace) -> int:
    frozen = read_plan(args.plan) if args.plan is not None else None
    plan = frozen.plan if frozen is not None else {}
    rules = planned_rules(plan) if frozen is not None else ExclusionRules()
    given = {name: getattr(args, name) for name in RULE_FLAGS if getattr(args, name) is not None}
    overrides: dict[str, object] = {name: _optional(float(v)) for name, v in given.items()}
    if overrides.get("max_gold_failures") is not None:
        overrides["max_gold_failures"] = int(given["max_gold_failures"])
    rules = replace(rules, **overrides)  # type: ignore[arg-type]
    settings = {n: getattr(args, n) for n in SETTING_FLAGS if getattr(args, n) is not None}
    flags = {name: RULE_FLAGS[name] for name in given}
    flags.update({name: SETTING_FLAGS[name] for name in settings})
    fields = {"rules": rules, "n_resamples": args.resamples, "seed": args.seed, **settings}
    config = config_from_plan(plan, **fields) if frozen is not None else ReportConfig(**fields)
    if frozen is None:
        print(
            "note: no --plan given: the exclusion rules are the command line's defaults, not "
            "the study's declared ones, and the report lists no pre-registration",
            file=sys.stderr,
        )
    else:
        _warn_differing(plan, config, flags)
    participants = _read_participants(args.participants)
    context = StudyContext(frozen, participants, _plan_platform(args.plan), flags)
    report = run_report(args.responses, args.out, config, context=context)
    for path in report.files:
        print(path)
    return 0


def _warn_differing(plan: dict[str, object], config: ReportConfig, flags: dict[str, str]) -> None:
    """A warning on the terminal for every flag whose value differs from the frozen plan's."""
    planned = {**asdict(planned_rules(plan)), **planned_settings(plan)}
    used = {**asdict(config.rules), "reference": config.reference, "slopes": config.slopes}
    for name, flag in flags.items():
        if planned.get(name) != used.get(name):
            print(
                f"warning: {flag} {used.get(name)} differs from the pre-registered {name} = "
                f"{planned.get(name)}; the report lists it as a deviation",
                file=sys.stderr,
            )


def _read_participants(path: Path | None) -> pd.DataFrame | None:
    if path is None:
        return None
    if not path.is_file():
        raise ValueError(
            f"Participants table {path} not found; pass the export's participants.csv."
        )
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _plan_platform(path: Path | None) -> dict[str, object]:
    """The platform and pay the export wrote beside the frozen plan (not part of it)."""
    if path is None:
        return {}
    platform = json.loads(path.read_text(encoding="utf-8")).get("platform") or {}
    return dict(platform) if isinstance(platform, dict) else {}


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


def _human_vs_objective(args: argparse.Namespace) -> int:
    ratings = load_ratings(args.responses)
    if not args.no_exclusions:
        ratings = apply_exclusions(ratings, ExclusionRules()).kept
    result = human_vs_objective(
        ratings,
        args.measures.split(","),
        out_dir=args.out,
        reference=args.reference,
        n_resamples=args.resamples,
        n_splits=args.splits,
        seed=args.seed,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    section = args.out / "human_vs_objective.md"
    section.write_text(write_markdown_section(result), encoding="utf-8")
    paths = [section, *result.figures]
    for name in ("slopes", "method_slopes", "interactions", "correlations", "noise_ceiling",
                 "stimuli"):  # fmt: skip
        path = args.out / f"human_vs_objective_{name}.csv"
        getattr(result, name).to_csv(path, index=False)
        paths.append(path)
    for path in paths:
        print(path)
    return 0
