"""The design of a study spec (``configs/studies/*.yaml``), read without the study platform.

Only the fields that shape the statistics are read: the conditions and their datasets, the
images per dataset, the gold share and the participants wanted. The platform's own checks of
the spec live with the platform; here a field that is missing or of the wrong type is a
``ValueError`` naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# A condition without a ``dataset`` field takes its run's dataset, which only the catalogue
# knows; such conditions are counted as one dataset.
UNNAMED_DATASET = "dataset"


def read_spec_design(path: Path) -> dict[str, Any]:
    """Fields of :class:`analysis.power.PowerDesign` that a study spec determines."""
    if not path.is_file():
        raise ValueError(f"Study spec {path} not found; pass a configs/studies/*.yaml file.")
    try:
        spec = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"Cannot parse {path}: {err}") from err
    if not isinstance(spec, dict):
        raise ValueError(f"{path} must hold a mapping of field: value.")
    conditions = spec.get("conditions")
    if not isinstance(conditions, list) or len(conditions) < 2:
        raise ValueError(f"{path}: 'conditions' must list at least two conditions.")
    methods: list[str] = []
    datasets: list[str] = []
    for i, condition in enumerate(conditions):
        if not isinstance(condition, dict) or not condition.get("label"):
            raise ValueError(f"{path}: conditions[{i}] needs a 'label'.")
        label, dataset = str(condition["label"]), str(condition.get("dataset", UNNAMED_DATASET))
        if label not in methods:
            methods.append(label)
        if dataset not in datasets:
            datasets.append(dataset)
    fields: dict[str, Any] = {
        "methods": tuple(methods),
        "datasets": tuple(datasets),
        "design": "latin_square",
        "images_per_dataset": _int(spec, "questions_per_dataset", path, 30),
        "participants": _int(spec, "participants_wanted", path, 40),
        "gold_share": float(spec.get("gold_share", 0.0) or 0.0),
    }
    return fields


def _int(spec: dict[str, Any], name: str, path: Path, default: int) -> int:
    value = spec.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{path}: '{name}' must be a positive whole number, not {value!r}.")
    return value
