"""What a dataset holds, and which of its images cannot be decoded."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from protopool.data.base import DatasetError, DatasetIndex, load_rgb
from protopool.data.synth import METADATA_FILE


@dataclass(frozen=True)
class ImageProblem:
    """An image that could not be read, with the reader's explanation."""

    image_id: str
    path: Path
    message: str


def verify_images(index: DatasetIndex, progress: bool = False) -> list[ImageProblem]:
    """Decode every image of ``index`` fully and report the ones that fail.

    Decoding (not just opening) is needed: a truncated JPEG opens fine and fails only when its
    pixels are read.
    """
    samples = index.train + index.test
    problems = []
    show = progress and sys.stderr.isatty()
    for sample in tqdm(samples, desc="verify", unit="img", disable=not show):
        try:
            load_rgb(sample.path)
        except DatasetError as exc:
            problems.append(ImageProblem(sample.image_id, sample.path, str(exc)))
    return problems


def _generator(root: Path) -> dict[str, object] | None:
    metadata = root / METADATA_FILE
    if not metadata.is_file():
        return None
    try:
        data = json.loads(metadata.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{metadata}: not valid JSON ({exc})") from exc
    return {key: data.get(key) for key in ("generator", "version", "config")}


def summarize(index: DatasetIndex) -> dict[str, object]:
    """A JSON-ready description: format, counts, vocabularies."""
    samples = index.train + index.test
    summary: dict[str, object] = {
        "format": index.format,
        "root": str(index.root),
        "images": len(samples),
        "classes": index.num_classes,
        "train": len(index.train),
        "test": len(index.test),
        "parts": len(index.part_names),
        "attributes": len(index.attribute_names),
        "bounding_boxes": sum(sample.bbox is not None for sample in samples),
        "class_names": list(index.class_names),
        "part_names": list(index.part_names),
    }
    generator = _generator(index.root)
    if generator is not None:
        summary["generator"] = generator
    return summary
