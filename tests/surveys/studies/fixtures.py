"""Catalogue rows for the real tiny runs, and study specs, shared by the build and study tests.

The catalogue rows are read straight from each run directory's ``class_names.json``,
``projection.json``, ``config.yaml`` and ``done.json``, the files ``import_run`` reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from surveys.models import Prototype, Run, RunClass

LABELS = {
    "pool": "ProtoPool (focal)",
    "pnet": "ProtoPool (ProtoPNet similarity)",
    "tree": "ProtoTree",
}


def register_run(run_dir: Path, label: str, dataset_name: str = "SynthBirds") -> Run:
    """A catalogue Run with its classes and prototypes, as the run directory describes them."""
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    class_names = json.loads((run_dir / "class_names.json").read_text())
    records = json.loads((run_dir / "projection.json").read_text())["prototypes"]
    done = json.loads((run_dir / "done.json").read_text())
    run = Run.objects.create(
        label=label,
        kind=config["model"]["kind"],
        similarity=config["model"].get("similarity", ""),
        run_dir=str(run_dir),
        dataset_dir=str(config["data"]["root"]),
        dataset_name=dataset_name,
        fingerprint=json.dumps(done["fingerprint"], sort_keys=True),
        num_classes=len(class_names),
        num_prototypes=len(records),
        config=config,
    )
    classes = {
        i: RunClass.objects.create(run=run, index=i, name=n) for i, n in enumerate(class_names)
    }
    for record in records:
        prototype = Prototype.objects.create(
            run=run,
            index=record["prototype"],
            original_index=record["original_index"],
            provenance=record,
        )
        prototype.classes.set([classes[c] for c in record["classes"]])
    return run


def make_catalogue(pool_run: Path, protopnet_run: Path, tree_run: Path) -> dict[str, Run]:
    """The three real tiny runs in the catalogue, by short name."""
    return {
        "pool": register_run(pool_run, LABELS["pool"]),
        "pnet": register_run(protopnet_run, LABELS["pnet"]),
        "tree": register_run(tree_run, LABELS["tree"]),
    }


def spec_data(**overrides: Any) -> dict[str, Any]:
    """A valid spec over the three runs (6 images per dataset, so 3 divides it)."""
    data: dict[str, Any] = {
        "slug": "tiny-study",
        "title": "Tiny saliency study",
        "conditions": [
            {"run": LABELS["pool"], "label": "ProtoPool"},
            {"run": LABELS["pnet"], "label": "ProtoPNet-sim"},
            {"run": LABELS["tree"], "label": "ProtoTree"},
        ],
        "questions_per_dataset": 6,
        "sampling": {"seed": 7},
        "gold_share": 0.1,
        "participants_wanted": 6,
        "min_seconds_per_question": 0,
        "texts": {
            "consent": "You agree to take part and may stop at any time.",
            "instructions": "Rate how salient the highlighted feature is.",
            "debrief": "Thank you for taking part.",
        },
        "reward": "1.50",
        "currency": "GBP",
        "estimated_minutes": 5,
        "exclusion_rules": {"max_gold_failures": 1, "min_median_rt_ms": None},
    }
    data.update(overrides)
    return data
