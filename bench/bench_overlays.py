"""Rendering benchmark: stimuli per second, and their cost against plain image decode + encode.

Usage::

    python bench/bench_overlays.py                       # ProtoPool run, study-default style
    python bench/bench_overlays.py --run var/bench/runs-prototree/seed-0
    python bench/bench_overlays.py --style configs/styles/study-default.yaml --pair separate

256 (prototype, image) pairs, each a distinct SynthBirds image resized to 224 x 224 and saved as
a JPEG, are rendered into memory on the CPU with 2 threads: decoding, one forward pass per batch
of 32 images, the maps (of the run's 64 px model, upsampled to the 224 px images), boxes,
blending and encoding. Two figures:

- ``overlays``: the overlay file of each pair (``maps_for_pairs``, ``pair_box``,
  ``render_overlay``), the figure with a target of at most 2;
- ``stimuli``: ``render_pairs`` with the style's pair layout, which also encodes the original
  (side by side: twice the pixels in one file; separate: a second file).

The baseline decodes the same 256 files and encodes each image once in the style's format with
the same encoder settings. Ours and the baseline are timed as A, B, A, B, ... after a warm-up
(``bench_engine.interleaved``); each figure is the ratio of the medians with the min-max of the
per-repetition ratios. Timings are never asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from bench_engine import REPO, THREADS, interleaved
from PIL import Image

from protopool.data.base import load_rgb
from protopool.execution import StepSettings
from protopool.inference import load_run, maps_for_pairs
from protopool.rendering import RenderStyle, load_style, pair_box, render_overlay, render_pairs
from protopool.rendering.overlay import encode

PAIRS = 256
SIZE = 224
IMAGES = REPO / "var/exp/synthbirds/images"


def resized_images(out: Path, count: int, size: int) -> list[Path]:
    """The first ``count`` SynthBirds images (sorted by path), resized to ``size`` px squares."""
    sources = sorted(IMAGES.glob("*/*.jpg"))[:count]
    if len(sources) < count:
        raise SystemExit(f"{IMAGES} has {len(sources)} images; {count} needed")
    paths = []
    for number, source in enumerate(sources):
        path = out / f"{number:04d}.jpg"
        load_rgb(source).resize((size, size), Image.Resampling.BICUBIC).save(path, quality=95)
        paths.append(path)
    return paths


def bench(
    run_dir: Path, style: RenderStyle, repeats: int, threads: int = THREADS
) -> list[dict[str, Any]]:
    torch.set_num_threads(threads)
    run = load_run(run_dir)
    settings = StepSettings(torch.device("cpu"))
    with tempfile.TemporaryDirectory() as folder:
        images = resized_images(Path(folder), PAIRS, SIZE)
        pairs = [(n % run.model.num_prototypes, path, None) for n, path in enumerate(images)]
        sizes: dict[str, list[int]] = {"overlays": [], "stimuli": []}

        split: dict[str, list[float]] = {"maps_s": [], "render_s": []}

        def overlays() -> None:
            """What each pair costs for its overlay alone: maps, box, blend, one encode."""
            sizes["overlays"].clear()
            started = time.perf_counter()
            maps = maps_for_pairs(run.model, pairs, run.config.data, settings)
            mapped = time.perf_counter()
            for pair in maps:
                box = pair_box(pair, style)
                data = render_overlay(pair.prepared.original, pair.activation, style, box)
                sizes["overlays"].append(len(data))
            split["maps_s"].append(mapped - started)
            split["render_s"].append(time.perf_counter() - mapped)

        def stimuli() -> None:
            """The whole stimulus: the overlay and the original (side by side or separate)."""
            sizes["stimuli"].clear()
            render_pairs(
                run.model,
                pairs,
                run.config.data,
                settings,
                style,
                lambda record, files: sizes["stimuli"].append(
                    sum(len(f.data) for f in files.files)
                ),
            )

        def baseline() -> None:
            for path in images:
                encode(load_rgb(path), style)

        results = []
        for name, ours in (("overlays", overlays), ("stimuli", stimuli)):
            timing = interleaved(ours, baseline, repeats, warmup=1)
            # Where an overlay's time goes: maps_for_pairs (decode, network, upsampling) and
            # the rest (box, blend, encode), medians over the same repetitions.
            parts = {k: statistics.median(v[1:]) for k, v in split.items() if v}
            what = "overlay" if name == "overlays" else f"{style.pair} stimulus"
            results.append(
                {
                    "figure": (
                        f"{PAIRS} pairs at {SIZE} px on CPU ({threads} threads), {style.format} "
                        f"{what} / decode + encode of the same images"
                    ),
                    "run": str(
                        run_dir.relative_to(REPO) if run_dir.is_relative_to(REPO) else run_dir
                    ),
                    "model": f"{type(run.model).__name__}, {run.config.data.image_size} px input",
                    f"{name}_per_s": PAIRS / timing["ours_s"],
                    "baseline_images_per_s": PAIRS / timing["baseline_s"],
                    "mean_file_bytes": sum(sizes[name]) / len(sizes[name]),
                    **timing,
                    **(parts if name == "overlays" else {}),
                    "target": 2.0,
                }
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=REPO / "var/bench/runs-synthbirds-cpu/seed-0")
    parser.add_argument("--style", type=Path, default=REPO / "configs/styles/study-default.yaml")
    parser.add_argument("--pair", choices=("separate", "side_by_side"), help="override the style")
    parser.add_argument("--format", choices=("png", "jpeg", "webp"), help="override the style")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions (>= 5)")
    parser.add_argument("--threads", type=int, default=THREADS, help="torch CPU threads")
    args = parser.parse_args()
    style = load_style(args.style)
    changes = {k: v for k, v in (("pair", args.pair), ("format", args.format)) if v}
    style = dataclasses.replace(style, **changes)
    for result in bench(args.run.resolve(), style, max(args.repeats, 5), args.threads):
        print(json.dumps(result, indent=2), flush=True)


if __name__ == "__main__":
    main()
