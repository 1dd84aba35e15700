"""Time SynthBirds generation of the demo dataset: 20 classes x 30 images at 128 px.

The figure is the median of ``--repeats`` generations after ``--warmup`` untimed ones, with its
min-max, so that one slow run on a shared machine does not decide it. Target: < 60 s.

Usage: ``python bench/bench_synth.py [--classes N] [--images-per-class K] [--size S]
[--repeats R] [--warmup W]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from protopool.data import generate_synthbirds

TARGET_S = 60.0


def spread(values: Sequence[float], digits: int = 2) -> str:
    """``median (min–max)`` of ``values``, each with ``digits`` decimals."""
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"


def time_generation(args: argparse.Namespace) -> float:
    """Seconds for one generation into a fresh folder (removing it afterwards is not timed)."""
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        generate_synthbirds(
            Path(scratch) / "birds",
            classes=args.classes,
            images_per_class=args.images_per_class,
            size=args.size,
            seed=args.seed,
            progress=False,
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--images-per-class", type=int, default=30)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    args = parser.parse_args()
    if args.repeats < 1 or args.warmup < 0:
        parser.error("--repeats must be at least 1 and --warmup at least 0")
    for _ in range(args.warmup):
        time_generation(args)
    seconds = [time_generation(args) for _ in range(args.repeats)]
    images = args.classes * args.images_per_class
    print(
        f"synthbirds {args.classes}x{args.images_per_class} at {args.size} px, median of "
        f"{args.repeats} after {args.warmup} warm-up (min–max): {spread(seconds)} s, "
        f"{spread([images / s for s in seconds], digits=0)} images/s; target < {TARGET_S:.0f} s"
    )


if __name__ == "__main__":
    main()
