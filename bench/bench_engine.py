"""Engine benchmarks: what ProtoPool adds on top of the backbone's own cost.

Usage::

    python bench/bench_engine.py head        # 1. train-step time vs a plain linear head
    python bench/bench_engine.py loop        # 2. epoch wall time vs steps x bare step time
    python bench/bench_engine.py projection  # 3. projection vs one inference pass; peak memory
    python bench/bench_engine.py gpu         # 4. bf16 + channels-last images/s (CUDA only)
    python bench/bench_engine.py quality     # 5. synthbirds-cpu: accuracy and time
    python bench/bench_engine.py all

Each prints its figure; none of them is a test (timings are never asserted).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from protopool.config import Config, DataConfig, ModelConfig, TrainConfig, load_config
from protopool.execution import StepSettings
from protopool.models import build_model
from protopool.training.engine import train_one_epoch, train_step
from protopool.training.phases import build_phases, make_optimizer

REPO = Path(__file__).resolve().parents[1]
THREADS = 2


def cub_like(backbone: str, image_size: int, batch: int) -> Config:
    """The paper's head (202 prototypes, D=256, 10 slots) on a chosen backbone, no weights."""
    return Config(
        model=ModelConfig(backbone=backbone, weights="none"),
        data=DataConfig(image_size=image_size, batch_size=batch, num_workers=0),
        train=TrainConfig(device="cpu"),
    )


class PlainHead(nn.Module):
    """The same backbone and add-on with global pooling and a linear classifier."""

    def __init__(self, protopool_model: nn.Module, classes: int) -> None:
        super().__init__()
        self.features = protopool_model.features
        self.add_on = protopool_model.add_on
        self.fc = nn.Linear(self.add_on[0].out_channels, classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.fc(self.add_on(self.features(images)).mean(dim=(2, 3)))


def _seconds(step: Callable[[], object]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def interleaved(
    ours: Callable[[], object],
    baseline: Callable[[], object],
    repeats: int,
    warmup: int = 1,
) -> dict[str, Any]:
    """Time two steps as A, B, A, B, ... after a warm-up of each; the ratio of the medians.

    Interleaving lets both see the same load on a shared machine; the min-max of the ratios of
    each pair shows how much that load moved them.
    """
    for _ in range(warmup):
        ours()
        baseline()
    a, b = [], []
    for _ in range(repeats):
        a.append(_seconds(ours))
        b.append(_seconds(baseline))
    pairs = [x / y for x, y in zip(a, b, strict=True)]
    return {
        "ours_s": statistics.median(a),
        "baseline_s": statistics.median(b),
        "ratio": statistics.median(a) / statistics.median(b),
        "ratio_min": min(pairs),
        "ratio_max": max(pairs),
        "repeats": repeats,
    }


def bench_head(repeats: int) -> dict[str, Any]:
    """1. ProtoPool train step / plain-head train step, interleaved to share machine load."""
    config = cub_like("resnet18", 224, 16)
    model = build_model(config, 200)
    plain = PlainHead(build_model(config, 200), 200)
    images, labels = torch.randn(16, 3, 224, 224), torch.randint(0, 200, (16,))
    joint = build_phases(config)[1]
    optimizer = make_optimizer(model, joint, 1e-3)
    plain_optimizer = torch.optim.Adam(plain.parameters(), 1e-3)
    settings = StepSettings(torch.device("cpu"))
    rng = np.random.default_rng(0)

    def protopool_step() -> None:
        train_step(model, images, labels, optimizer, 100.0, config.loss, settings, rng)

    def plain_step() -> None:
        loss = nn.functional.cross_entropy(plain(images), labels)
        plain_optimizer.zero_grad()
        loss.backward()
        plain_optimizer.step()

    model.train()
    plain.train()
    timing = interleaved(protopool_step, plain_step, repeats, warmup=2)
    return {
        "figure": "head overhead (ResNet-18, batch 16, 224 px, CPU): ProtoPool step / plain step",
        **timing,
        "target": 1.05,
    }


def _synth_data(root: Path) -> Path:
    if not (root / "images.txt").is_file():
        from protopool.data import generate_synthbirds

        generate_synthbirds(root, classes=20, images_per_class=60, size=128, seed=0, progress=False)
    return root


def bench_loop(data_root: Path, repeats: int) -> dict[str, Any]:
    """2. A real epoch (loading, schedule, logging, checkpoint) vs steps x bare step time."""
    from protopool.checkpoint import Progress, save_checkpoint
    from protopool.data import open_dataset
    from protopool.training.data import build_run_data

    config = load_config(REPO / "configs/synthbirds-cpu.yaml", [f"data.root={data_root}"])
    index = open_dataset(_synth_data(data_root))
    data = build_run_data(index, config.data, 0)
    model = build_model(config, index.num_classes)
    optimizer = make_optimizer(model, build_phases(config)[1], config.train.lr)
    settings = StepSettings(
        torch.device("cpu"),
        mixup_alpha=config.loss.mixup_alpha if config.loss.mixup else None,
        augment=config.data.augment,
    )
    rng = np.random.default_rng(0)
    batches = list(data.train_loader)  # also fills the in-memory image cache
    model.train()
    for images, labels in batches[:3]:
        train_step(model, images, labels, optimizer, 50.0, config.loss, settings, rng)

    def bare_epoch() -> None:
        for images, labels in batches:
            train_step(model, images, labels, optimizer, 50.0, config.loss, settings, rng)

    def full_epoch(run: Path) -> None:
        stats = train_one_epoch(
            model, data.train_loader, optimizer, 50.0, config.loss, settings, rng
        )
        with (run / "metrics.jsonl").open("a") as file:
            file.write(json.dumps(stats) + "\n")
        save_checkpoint(run / "last.pt", model, config, index.class_names, Progress(), optimizer)

    with tempfile.TemporaryDirectory() as run:
        timing = interleaved(lambda: full_epoch(Path(run)), bare_epoch, repeats, warmup=0)
    return {
        "figure": "loop overhead (synthbirds-cpu config, 64 px, 2 threads): epoch / bare steps",
        "steps": len(batches),
        **timing,
        "target": 1.10,
    }


class NoiseImages(torch.utils.data.Dataset):
    """Deterministic random images generated per index: memory independent of length."""

    def __init__(self, length: int, size: int) -> None:
        self.length, self.size = length, size

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        generator = torch.Generator().manual_seed(index)
        return torch.randn(3, self.size, self.size, generator=generator), index % 200


def _projection_child(images: int, size: int, repeats: int) -> dict[str, Any]:
    from protopool.data.base import Sample
    from protopool.projection import project_prototypes

    config = cub_like("resnet18", size, 32)
    model = build_model(config, 200).eval()
    loader = torch.utils.data.DataLoader(NoiseImages(images, size), batch_size=32)
    samples = [Sample(str(i), Path(f"{i}.png"), i % 200) for i in range(images)]
    settings = StepSettings(torch.device("cpu"))
    state = {key: value.clone() for key, value in model.state_dict().items()}

    @torch.no_grad()
    def inference() -> None:
        for batch, _ in loader:
            model(batch)

    def projection() -> None:
        # Every repetition projects the same untouched model (projection prunes in place).
        model.resize_pool(state["prototypes"].shape[0])
        model.load_state_dict(state)
        project_prototypes(model, loader, samples, [str(c) for c in range(200)], settings)

    timing = interleaved(projection, inference, repeats, warmup=1 if repeats > 1 else 0)
    return {
        "images": images,
        **timing,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def bench_projection(repeats: int, size: int = 112, base: int = 256) -> dict[str, Any]:
    """3. Projection vs inference over the same images; peak RSS at 1x and 4x the set.

    Timing comes from the larger set; the smaller one runs once, for its peak memory.
    """
    runs = []
    for images, count in ((base, 1), (4 * base, repeats)):
        output = subprocess.run(
            [sys.executable, __file__, "_projection_child", str(images), str(size), str(count)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        runs.append(json.loads(output.strip().splitlines()[-1]))
    large = runs[-1]
    return {
        "figure": f"projection / inference (ResNet-18, {size} px, 202 prototypes, CPU)",
        "runs": runs,
        "ratio": large["ratio"],
        "ratio_min": large["ratio_min"],
        "ratio_max": large["ratio_max"],
        "target": 1.2,
        "peak_rss_growth_4x": runs[1]["peak_rss_mib"] / runs[0]["peak_rss_mib"],
    }


def bench_gpu(steps: int = 20) -> dict[str, Any]:
    """4. bf16 autocast + channels-last training throughput of ResNet-50 at 224 px, batch 80."""
    if not torch.cuda.is_available():
        return {"figure": "GPU throughput", "skipped": "no CUDA device available"}
    device = torch.device("cuda")
    config = cub_like("resnet50", 224, 80)
    model = build_model(config, 200).to(device).to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, build_phases(config)[1], 1e-3)
    settings = StepSettings(device, amp="bf16", channels_last=True)
    images, labels = torch.randn(80, 3, 224, 224), torch.randint(0, 200, (80,))
    rng = np.random.default_rng(0)
    model.train()
    for _ in range(3):
        train_step(model, images, labels, optimizer, 100.0, config.loss, settings, rng)
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        train_step(model, images, labels, optimizer, 100.0, config.loss, settings, rng)
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - started
    return {
        "figure": "GPU train throughput (ResNet-50, 224 px, batch 80, bf16, channels-last)",
        "device": torch.cuda.get_device_name(0),
        "images_per_s": steps * 80 / elapsed,
    }


def bench_quality(data_root: Path, out: Path, seeds: list[int]) -> dict[str, Any]:
    """5. Train synthbirds-cpu end to end on 2 threads per seed; accuracy, slots and time."""
    from protopool.data import open_dataset
    from protopool.training.runs import train_run

    index = open_dataset(_synth_data(data_root))
    runs = []
    for seed in seeds:
        config = load_config(
            REPO / "configs/synthbirds-cpu.yaml", [f"data.root={data_root}", f"train.seed={seed}"]
        )
        started = time.perf_counter()
        report = train_run(config, out / f"seed-{seed}", overwrite=True, index=index)
        stages = report["test_by_stage"]
        runs.append(
            {
                "seed": seed,
                "train_minutes": (time.perf_counter() - started) / 60,
                "test_accuracy": report["test"]["accuracy"],
                "before_projection": stages["before_projection"]["accuracy"],
                "after_projection": stages["after_projection"]["accuracy"],
                "mean_max_slot_probability": report["mean_max_slot_probability"],
                "classes_with_repeated_prototype": report["classes_with_repeated_prototype"],
                "empty_slots": report["empty_slots"],
                "prototypes_used": report["prototypes_used"],
            }
        )
    return {
        "figure": "synthbirds-cpu quality (20 classes, 2 CPU threads, orthogonality weight 1)",
        "runs": runs,
        "targets": "accuracy >= 0.95, minutes < 10, slot prob >= 0.99, no repeats",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "which",
        choices=["head", "loop", "projection", "gpu", "quality", "all", "_projection_child"],
    )
    parser.add_argument("args", nargs="*")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions (>= 5)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data", type=Path, default=REPO / "var/bench/synthbirds")
    parser.add_argument("--out", type=Path, default=REPO / "var/bench/runs-synthbirds-cpu")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    if args.which == "_projection_child":
        print(json.dumps(_projection_child(*(int(arg) for arg in args.args[:3]))))
        return
    jobs = {
        "head": lambda: bench_head(max(args.repeats, 12)),
        "loop": lambda: bench_loop(args.data, args.repeats),
        "projection": lambda: bench_projection(args.repeats),
        "gpu": bench_gpu,
        "quality": lambda: bench_quality(args.data, args.out, args.seeds),
    }
    names = ["head", "loop", "projection", "gpu"] if args.which == "all" else [args.which]
    for name in names:
        print(json.dumps(jobs[name](), indent=2), flush=True)


if __name__ == "__main__":
    main()
