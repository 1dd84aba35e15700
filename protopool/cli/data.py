"""``protopool synth`` and ``protopool inspect``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from protopool.data.detect import open_dataset
from protopool.data.summary import summarize, verify_images
from protopool.data.synth import SynthConfig, generate_synthbirds

TEXT_LIST_LIMIT = 5


def run_synth(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    out = generate_synthbirds(
        Path(args.out),
        classes=args.classes,
        images_per_class=args.images_per_class,
        size=args.size,
        seed=args.seed,
        progress=not args.quiet,
        train_fraction=args.train_fraction,
        force=args.force,
    )
    seconds = time.perf_counter() - start
    count = args.classes * args.images_per_class
    print(f"wrote {count} SynthBirds images ({args.classes} classes) to {out} in {seconds:.1f} s")
    return 0


def _print_text(summary: dict[str, object]) -> None:
    for key, value in summary.items():
        if isinstance(value, list):
            shown = ", ".join(map(str, value[:TEXT_LIST_LIMIT]))
            more = f", ... ({len(value)} in all)" if len(value) > TEXT_LIST_LIMIT else ""
            print(f"{key}: {shown}{more}")
        elif key != "problems":
            print(f"{key}: {value}")


def run_inspect(args: argparse.Namespace) -> int:
    index = open_dataset(Path(args.dir))
    summary = summarize(index)
    problems = []
    if args.verify:
        problems = verify_images(index, progress=not args.json)
        summary["problems"] = [
            {"image_id": p.image_id, "path": str(p.path), "message": p.message} for p in problems
        ]
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_text(summary)
        if args.verify:
            print(f"unreadable images: {len(problems)}")
            for problem in problems:
                print(f"  {problem.message}")
    # A corrupt image is a failure of the dataset, so scripts can stop on it.
    return 1 if problems else 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``synth`` and ``inspect`` to the ``protopool`` command."""
    defaults = SynthConfig()
    synth = subparsers.add_parser(
        "synth", help="generate SynthBirds, a synthetic CUB-200-2011-format dataset"
    )
    synth.add_argument("--out", required=True, help="dataset folder to create")
    synth.add_argument("--classes", type=int, default=defaults.classes)
    synth.add_argument("--images-per-class", type=int, default=defaults.images_per_class)
    synth.add_argument("--size", type=int, default=defaults.size, help="image side in pixels")
    synth.add_argument("--seed", type=int, default=defaults.seed)
    synth.add_argument("--train-fraction", type=float, default=defaults.train_fraction)
    synth.add_argument("--force", action="store_true", help="replace a non-empty --out")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(run=run_synth)

    inspect = subparsers.add_parser("inspect", help="describe the dataset in a folder")
    inspect.add_argument("dir", help="dataset folder (CUB, Stanford Cars or image folder)")
    inspect.add_argument("--json", action="store_true", help="print JSON")
    inspect.add_argument("--verify", action="store_true", help="decode every image")
    inspect.set_defaults(run=run_inspect)
