"""Interpretability of the three conditions on SynthBirds, side by side.

Usage::

    python bench/bench_interpretability.py                 # seed 0, data var/exp/synthbirds
    python bench/bench_interpretability.py --seeds 0 1 2   # mean (min-max) over seeds

Trains ProtoPool with focal similarity (``configs/synthbirds-cpu.yaml``), the same with
ProtoPNet's similarity (``model.similarity=protopnet``) and ProtoTree
(``configs/prototree-synthbirds-cpu.yaml``) alike, with ``reuse`` so reruns only re-measure,
then prints EvalProtoPNet's consistency and stability, PIP-Net's purity, the pointing game's
energy on the parts (beside the parts' share of the area, the chance level) and the naming
accuracy against the generator's ground truth. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from bench_engine import REPO, THREADS

from protopool.config import load_config
from protopool.data import open_dataset
from protopool.interpretability import NamingConfig, RegionRuleConfig, open_run
from protopool.interpretability.report import interpretability_report, write_report
from protopool.training.runs import train_run

CONDITIONS: dict[str, tuple[str, list[str]]] = {
    "ProtoPool focal": ("configs/synthbirds-cpu.yaml", []),
    "ProtoPool protopnet": ("configs/synthbirds-cpu.yaml", ["model.similarity=protopnet"]),
    "ProtoTree": ("configs/prototree-synthbirds-cpu.yaml", []),
}
ROWS = (
    ("test accuracy", "accuracy", 3),
    ("prototypes evaluated", "prototypes", 0),
    ("consistency (%)", "consistency", 1),
    ("stability (%)", "stability", 1),
    ("purity", "purity", 3),
    ("part-related share", "part_related", 3),
    ("pointing energy on parts", "pointing_energy", 3),
    ("  parts' area (chance)", "pointing_area", 3),
    ("naming accuracy", "naming_accuracy", 3),
    ("  at the peak pixel", "naming_accuracy_pixel", 3),
    ("named prototypes", "named_prototypes", 0),
    ("naming accuracy, purity >= 0.8", "accuracy_pure", 3),
    ("  named at purity >= 0.8", "named_pure", 0),
    ("metrics seconds", "seconds", 1),
)
COLUMN = 22
STRICT_PURITY = 0.8  # the reference's stricter acceptance threshold


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def measure(
    name: str, data: Path, out: Path, seed: int, naming: NamingConfig, index: Any
) -> dict[str, Any]:
    """Train (or reuse) one condition's run and compute its interpretability summary."""
    config_file, overrides = CONDITIONS[name]
    config = load_config(
        REPO / config_file, [f"data.root={json.dumps(str(data))}", f"train.seed={seed}", *overrides]
    )
    slug = name.lower().replace(" ", "-")
    run_dir = out / slug / f"seed-{seed}"
    evaluation = train_run(config, run_dir, reuse=True, index=index, log=_log)
    started = time.perf_counter()
    report = interpretability_report(open_run(run_dir, str(data)), naming, progress=False)
    seconds = time.perf_counter() - started
    write_report(run_dir, report)
    pure = [
        entry["name_check"]["correct"]
        for entry in report["prototypes"]
        if entry["name_check"]["counted"] and entry["purity"]["purity"] >= STRICT_PURITY
    ]
    return {
        "accuracy": evaluation["test"]["accuracy"],
        "seconds": seconds,
        **report["summary"],
        "accuracy_pure": sum(pure) / len(pure) if pure else None,
        "named_pure": len(pure),
    }


def _cell(values: list[Any], digits: int) -> str:
    present = [float(v) for v in values if v is not None]
    if not present:
        return "n/a"
    middle = statistics.mean(present)
    if len(present) == 1:
        return f"{middle:.{digits}f}"
    return f"{middle:.{digits}f} ({min(present):.{digits}f}-{max(present):.{digits}f})"


def table(results: dict[str, list[dict[str, Any]]]) -> str:
    """The conditions side by side, one metric per row."""
    lines = ["".ljust(COLUMN + 10) + "".join(name.ljust(COLUMN) for name in results)]
    for label, key, digits in ROWS:
        cells = [_cell([run[key] for run in runs], digits) for runs in results.values()]
        lines.append(label.ljust(COLUMN + 10) + "".join(cell.ljust(COLUMN) for cell in cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "var/exp/synthbirds")
    parser.add_argument("--out", type=Path, default=REPO / "var/bench/runs-interpretability")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--region", choices=["percentile", "fixed"], default="percentile")
    parser.add_argument("--json", action="store_true", help="also print every run's summary")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    data = args.data.resolve()
    index = open_dataset(data)
    naming = NamingConfig(region=RegionRuleConfig(rule=args.region))
    results = {
        name: [measure(name, data, args.out, seed, naming, index) for seed in args.seeds]
        for name in CONDITIONS
    }
    print(
        f"SynthBirds ({index.num_classes} classes, {len(index.test)} test images), "
        f"seeds {args.seeds}, naming region {args.region}; "
        "consistency and stability on each prototype's classes' test images"
    )
    print(table(results))
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
