"""ProtoTree benchmarks: what the tree adds to the backbone's cost, and quality on SynthBirds.

Usage::

    python bench/bench_tree.py head      # train step, depth 9, vs a plain linear head
    python bench/bench_tree.py quality   # prototree-synthbirds-cpu: accuracy per mode, time
    python bench/bench_tree.py all

Each prints its figure; none of them is a test (timings are never asserted).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bench_engine import REPO, THREADS, PlainHead, _synth_data, cub_like, interleaved
from torch import nn

from protopool.config import TreeConfig, load_config
from protopool.execution import StepSettings
from protopool.models import build_model
from protopool.training.engine import train_step
from protopool.training.objectives import begin_epoch
from protopool.training.phases import build_phases, make_optimizer


def bench_head(repeats: int) -> dict[str, Any]:
    """ProtoTree train step (depth 9, 511 prototypes) / plain-head step, interleaved."""
    base = cub_like("resnet18", 224, 16)
    config = dataclasses.replace(
        base,
        model=dataclasses.replace(base.model, kind="prototree"),
        tree=TreeConfig(depth=9),
    )
    model = build_model(config, 200)
    plain = PlainHead(build_model(config, 200), 200)
    images, labels = torch.randn(16, 3, 224, 224), torch.randint(0, 200, (16,))
    optimizer = make_optimizer(model, build_phases(config)[1], 1e-3)
    plain_optimizer = torch.optim.Adam(plain.parameters(), 1e-3)
    settings = StepSettings(torch.device("cpu"))
    rng = np.random.default_rng(0)
    model.train()
    plain.train()
    begin_epoch(model)  # the leaf rule decays from the epoch's starting leaves

    def tree_step() -> None:
        train_step(model, images, labels, optimizer, None, config.loss, settings, rng, 100)

    def plain_step() -> None:
        loss = nn.functional.cross_entropy(plain(images), labels)
        plain_optimizer.zero_grad()
        loss.backward()
        plain_optimizer.step()

    timing = interleaved(tree_step, plain_step, repeats, warmup=2)
    return {
        "figure": "ProtoTree head overhead (depth 9, ResNet-18, batch 16, 224 px, CPU)",
        **timing,
        "target": 1.10,
    }


def bench_quality(data_root: Path, out: Path, seeds: list[int]) -> dict[str, Any]:
    """Train prototree-synthbirds-cpu end to end per seed; accuracy per mode, fidelity, time."""
    from protopool.data import open_dataset
    from protopool.training.runs import train_run

    index = open_dataset(_synth_data(data_root))
    runs = []
    for seed in seeds:
        config = load_config(
            REPO / "configs/prototree-synthbirds-cpu.yaml",
            [f"data.root={data_root}", f"train.seed={seed}"],
        )
        started = time.perf_counter()
        report = train_run(config, out / f"seed-{seed}", overwrite=True, index=index)
        runs.append(
            {
                "seed": seed,
                "train_minutes": (time.perf_counter() - started) / 60,
                "test_by_mode": report["test_by_mode"],
                "before_projection": report["test_by_stage"]["before_projection"]["accuracy"],
                "fidelity": report["fidelity"],
                "prototypes_after_pruning": report["prototypes_after_pruning"],
                "prototypes_before_pruning": report["prototypes_before_pruning"],
                "mean_path_length": report["mean_path_length"],
            }
        )
    return {
        "figure": "prototree-synthbirds-cpu quality (20 classes, 2 CPU threads)",
        "runs": runs,
        "targets": "accuracy >= 0.90, minutes <= 10",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=["head", "quality", "all"])
    parser.add_argument("--repeats", type=int, default=12, help="timed pairs (>= 5)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data", type=Path, default=REPO / "var/bench/synthbirds")
    parser.add_argument("--out", type=Path, default=REPO / "var/bench/runs-prototree")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    jobs = {
        "head": lambda: bench_head(args.repeats),
        "quality": lambda: bench_quality(args.data, args.out, args.seeds),
    }
    for name in ["head", "quality"] if args.which == "all" else [args.which]:
        print(json.dumps(jobs[name](), indent=2), flush=True)


if __name__ == "__main__":
    main()
