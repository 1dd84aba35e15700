"""CLI verbs: ``protopool name`` and ``protopool interpretability``."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from protopool.interpretability.inputs import open_run
from protopool.interpretability.metrics import MetricsConfig
from protopool.interpretability.naming import NamingConfig, names_document, write_names
from protopool.interpretability.parts import REGION_RULES, RegionRuleConfig
from protopool.interpretability.report import interpretability_report, name_run, write_report

NAME_WIDTH = 36


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN")
    parser.add_argument("--data", help="dataset directory (default: the run's data.root)")
    parser.add_argument("--device", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--region",
        choices=REGION_RULES,
        default="percentile",
        help="activation region: ProtoPNet's 95th-percentile box (default) or EvalProtoPNet's "
        "72x72-at-224 square",
    )
    parser.add_argument("--top-k", type=int, default=10, help="training images per prototype")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    name = subparsers.add_parser(
        "name",
        help="name each prototype from CUB part and attribute annotations (RUN/names.json)",
        description=(
            "Name prototypes from their top-k activating training images: the purest part "
            "under the activation regions (left and right merged), then that part's most "
            "present attribute values, e.g. 'black striped wing'. Needs part annotations "
            "(CUB-200-2011 or SynthBirds)."
        ),
    )
    _common(name)
    name.add_argument("--purity-threshold", type=float, default=0.5)
    name.add_argument("--attribute-threshold", type=float, default=0.5)
    name.add_argument(
        "--certainty-weighted", action="store_true", help="weight labels by CUB certainties"
    )
    name.add_argument(
        "--own-classes", action="store_true", help="rank only images of the prototype's classes"
    )
    name.add_argument(
        "--part-free-names",
        action="store_true",
        help="name a prototype without a part by its strongest size/shape/primary colour",
    )
    name.set_defaults(run=run_name)

    metrics = subparsers.add_parser(
        "interpretability",
        help="consistency, stability, purity, pointing game (RUN/interpretability.json)",
        description=(
            "EvalProtoPNet's consistency and stability, PIP-Net's purity, the energy pointing "
            "game, and on SynthBirds the naming accuracy against the generator's ground truth. "
            "Needs part annotations (CUB-200-2011 or SynthBirds)."
        ),
    )
    _common(metrics)
    metrics.add_argument("--noise-seed", type=int, default=0, help="seed of stability's noise")
    metrics.set_defaults(run=run_interpretability)


def _naming_config(args: argparse.Namespace) -> NamingConfig:
    return NamingConfig(
        top_k=args.top_k,
        region=RegionRuleConfig(rule=args.region),
        purity_threshold=getattr(args, "purity_threshold", 0.5),
        attribute_threshold=getattr(args, "attribute_threshold", 0.5),
        certainty_weighted=getattr(args, "certainty_weighted", False),
        own_classes=getattr(args, "own_classes", False),
        part_free_names=getattr(args, "part_free_names", False),
    )


def run_name(args: argparse.Namespace) -> int:
    config = _naming_config(args)
    inputs = open_run(args.run_dir, args.data, args.device, what="naming")
    names, _ = name_run(inputs, config)
    document = names_document(names, args.run_dir, inputs.index.root, config)
    path = write_names(args.run_dir, document)
    if args.json:
        print(json.dumps(document, indent=2))
        return 0
    for entry in names:
        print(
            f"{entry.prototype:4d}  {entry.name:<{NAME_WIDTH}}  confidence {entry.confidence:.2f}"
        )
    named = sum(entry.part is not None for entry in names)
    print(f"{named} of {len(names)} prototypes named after a part; written to {path}")
    return 0


def _shown(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def run_interpretability(args: argparse.Namespace) -> int:
    config = _naming_config(args)
    inputs = open_run(args.run_dir, args.data, args.device, what="the interpretability metrics")
    report = interpretability_report(
        inputs, config, MetricsConfig(noise_seed=args.noise_seed), progress=not args.json
    )
    path = write_report(args.run_dir, report)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    summary = report["summary"]
    print(f"prototypes evaluated: {summary['prototypes']} ({report['evaluated_on']})")
    print(
        f"consistency {_shown(summary['consistency'], 1)}  "
        f"stability {_shown(summary['stability'], 1)}"
    )
    print(f"purity {_shown(summary['purity'])}  part-related {_shown(summary['part_related'])}")
    print(
        f"pointing game: energy on parts {_shown(summary['pointing_energy'])}, "
        f"their area {_shown(summary['pointing_area'])} ({report['part_regions']})"
    )
    if summary["naming_accuracy"] is not None:
        print(
            f"naming accuracy {_shown(summary['naming_accuracy'])} over "
            f"{summary['named_prototypes']} named prototypes"
        )
    print(f"written to {path}")
    return 0
