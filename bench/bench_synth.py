"""Time SynthBirds generation of the demo dataset: 20 classes x 30 images at 128 px.

Usage: ``python bench/bench_synth.py [--classes N] [--images-per-class K] [--size S]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from protopool.data import generate_synthbirds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--images-per-class", type=int, default=30)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
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
        seconds = time.perf_counter() - start
    images = args.classes * args.images_per_class
    print(
        f"synthbirds {args.classes}x{args.images_per_class} at {args.size} px: "
        f"{seconds:.2f} s, {images / seconds:.0f} images/s"
    )


if __name__ == "__main__":
    main()
