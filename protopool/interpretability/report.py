"""The two services behind the verbs: name a run's prototypes, and score its interpretability.

``RUN/interpretability.json`` holds what :func:`interpretability_report` returns::

    {
      "schema": 1, "run": "...", "dataset": "...",
      "part_regions": "SynthBirds ground-truth part masks",   # or segmentations, discs
      "evaluated_on": "<which test images each prototype is scored on>",
      "summary": {
        "prototypes": 34,            # evaluated (used by some class)
        "consistency": 20.6,         # 100 x share of consistent prototypes
        "stability": 84.0,           # 100 x mean share of unchanged hit vectors
        "purity": 0.72,              # mean PIP-Net purity
        "part_related": 0.71,        # share with purity > 0.5
        "pointing_energy": 0.46,     # mean energy share on the part regions
        "pointing_area": 0.35,       # mean area share of those regions (chance level)
        "naming_accuracy": 0.66,     # SynthBirds only, else null: peak within half a cell
        "naming_accuracy_pixel": 0.52,  # the same, reading only the peak's own pixel
        "named_prototypes": 29       # counted for naming_accuracy (purity >= 0.5)
      },
      "prototypes": [{"prototype": 0, "original_index": 3, "classes": [0, 5],
                      "test_images": 60, "consistency": {"part": "right wing",
                      "hit_rate": 0.9, "consistent": true}, "stability": 0.85,
                      "purity": {"part": "wing", "purity": 0.9}, "pointing":
                      {"energy": 0.8, "area": 0.5}, "name": "black striped wing",
                      "name_check": {...} or null}]
    }

Values that cannot be computed (a prototype no test image reaches) are null.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from protopool.data.synth.masks import load_synth_truth
from protopool.interpretability.inputs import RunInputs
from protopool.interpretability.metrics import (
    MetricsConfig,
    is_consistent,
    mean_or_nan,
    part_hit_rates,
    stability,
)
from protopool.interpretability.naming import NamingConfig, PrototypeName, name_prototype
from protopool.interpretability.observe import Observations, observe_test_images
from protopool.interpretability.regions import part_regions_for
from protopool.interpretability.synth_accuracy import NameCheck, check_name, naming_accuracy
from protopool.interpretability.topk import TopImage, locate_top_k, top_k_images
from protopool.rundir import write_json

REPORT_FILE = "interpretability.json"
SCHEMA_VERSION = 1
EVALUATED_ON = (
    "each prototype on the test images of the classes that use it (model.prototype_classes())"
)


def name_run(
    inputs: RunInputs, config: NamingConfig
) -> tuple[list[PrototypeName], list[list[TopImage]]]:
    """Name every prototype of a run; also returns the top images the names rest on."""
    samples = inputs.training_images()
    model, data = inputs.model, inputs.config.data
    top = top_k_images(model, samples, data, inputs.settings, config.top_k, config.own_classes)
    located = locate_top_k(top, samples, data, config.region)
    space = inputs.part_space(config.merge_left_right)
    table = inputs.attribute_table(config.certainty_weighted)
    used = inputs.used_prototypes()
    original = inputs.model.prototype_ids.tolist()
    names = [
        name_prototype(
            p,
            located[p],
            space,
            table,
            config,
            original_index=int(original[p]),
            classes=[int(c) for c in torch.nonzero(used[:, p]).flatten()],
        )
        for p in range(model.num_prototypes)
    ]
    return names, located


def _finite(value: float, digits: int = 4) -> float | None:
    return round(value, digits) if math.isfinite(value) else None


def _prototype_entry(
    name: PrototypeName,
    seen: Observations,
    part_names: Sequence[str],
    check: NameCheck | None,
    config: MetricsConfig,
) -> dict[str, Any]:
    hits, noisy, visible = seen.arrays(len(part_names))
    rates = part_hit_rates(hits, visible) if len(hits) else np.zeros(len(part_names))
    best = int(np.argmax(rates))
    return {
        "prototype": name.prototype,
        "original_index": name.original_index,
        "classes": name.classes,
        "test_images": len(hits),
        "consistency": {
            "part": part_names[best],
            "hit_rate": round(float(rates[best]), 4),
            "consistent": is_consistent(hits, visible, config.consistency_threshold),
        }
        if len(hits)
        else None,
        "stability": _finite(stability(hits, noisy)),
        "purity": {"part": name.part or max(name.part_purity, key=name.part_purity.__getitem__,
                                            default=None),
                   "purity": name.purity},
        "pointing": {"energy": _finite(mean_or_nan(seen.energy)),
                     "area": _finite(mean_or_nan(seen.area))},
        "name": name.name,
        "name_check": check.to_dict() if check else None,
    }  # fmt: skip


def _summary(
    entries: Sequence[dict[str, Any]],
    checks: Sequence[NameCheck] | None,
    strict: Sequence[NameCheck] | None,
    config: MetricsConfig,
) -> dict[str, Any]:
    scored = [e for e in entries if e["test_images"]]
    consistent = [float(e["consistency"]["consistent"]) for e in scored]
    purity = [e["purity"]["purity"] for e in entries if e["classes"]]
    accuracy, named = naming_accuracy(checks) if checks is not None else (float("nan"), 0)
    pixel, _ = naming_accuracy(strict) if strict is not None else (float("nan"), 0)
    return {
        "prototypes": len(scored),
        "consistency": _finite(100 * mean_or_nan(consistent), 2),
        "stability": _finite(100 * mean_or_nan([e["stability"] for e in scored]), 2),
        "purity": _finite(mean_or_nan(purity)),
        "part_related": _finite(mean_or_nan([float(p > config.part_related) for p in purity])),
        "pointing_energy": _finite(mean_or_nan([e["pointing"]["energy"] for e in scored])),
        "pointing_area": _finite(mean_or_nan([e["pointing"]["area"] for e in scored])),
        "naming_accuracy": _finite(accuracy) if checks is not None else None,
        "naming_accuracy_pixel": _finite(pixel) if strict is not None else None,
        "named_prototypes": named,
    }


def interpretability_report(
    inputs: RunInputs,
    naming: NamingConfig | None = None,
    config: MetricsConfig | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Consistency, stability, purity, the pointing game and (SynthBirds) naming accuracy.

    Purity and names come from the top-k training images (``naming``); the other metrics from
    the test images of each prototype's classes.
    """
    naming = naming or NamingConfig()
    config = config or MetricsConfig()
    names, located = name_run(inputs, naming)
    regions = part_regions_for(inputs.index)
    seen = observe_test_images(inputs, regions, config, progress=progress)
    truth = load_synth_truth(inputs.index.root)
    checks, strict = None, None
    if truth is not None:
        pairs = list(zip(names, located, strict=True))
        checks = [check_name(name, images, truth) for name, images in pairs]
        strict = [check_name(name, images, truth, tolerance=0.0) for name, images in pairs]
    entries = [
        _prototype_entry(
            name, seen[name.prototype], inputs.index.part_names, checks[i] if checks else None,
            config,
        )
        for i, name in enumerate(names)
    ]  # fmt: skip
    return {
        "schema": SCHEMA_VERSION,
        "run": str(inputs.run_dir),
        "dataset": str(inputs.index.root),
        "part_regions": regions.description,
        "evaluated_on": EVALUATED_ON,
        "summary": _summary(entries, checks, strict, config),
        "prototypes": entries,
    }


def write_report(run_dir: Path, report: dict[str, Any]) -> Path:
    """Write ``RUN/interpretability.json`` atomically; returns its path."""
    path = Path(run_dir) / REPORT_FILE
    write_json(path, report)
    return path
