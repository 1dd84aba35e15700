"""Writing a SynthBirds dataset as an exact CUB-200-2011 tree.

The dataset is built in a hidden temporary folder beside ``out`` and renamed into place at the
end, so an interrupted run never leaves a half-written dataset behind.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from protopool.data.base import DatasetError
from protopool.data.cub_vocab import CERTAINTY_NAMES, PART_NAMES, attribute_names
from protopool.data.synth.annotate import image_attributes, species_attribute_vector
from protopool.data.synth.draw import Rendered, render
from protopool.data.synth.species import Species, make_species, species_names

GENERATOR_VERSION = 1
JPEG_QUALITY = 90
METADATA_FILE = "synthbirds.json"
# Real CUB has a few attribute lines with a sixth field; one is written to keep loaders honest.
EXTRA_FIELD_LINE = (1, 2)


@dataclass(frozen=True)
class SynthConfig:
    """What to generate; the defaults make the demo dataset."""

    classes: int = 20
    images_per_class: int = 30
    size: int = 128
    seed: int = 0
    train_fraction: float = 0.5

    def check(self) -> None:
        """Raise :class:`DatasetError` with a fix-it message for impossible settings."""
        if self.classes < 1:
            raise DatasetError(f"--classes must be at least 1, got {self.classes}")
        if self.images_per_class < 2:
            raise DatasetError(
                f"--images-per-class must be at least 2 (one train, one test), "
                f"got {self.images_per_class}"
            )
        if self.size < 32:
            raise DatasetError(f"--size must be at least 32 pixels, got {self.size}")
        if not 0.0 < self.train_fraction < 1.0:
            raise DatasetError(f"train fraction must be in (0, 1), got {self.train_fraction}")


@dataclass
class _Tables:
    """The text files' lines, accumulated image by image."""

    images: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    split: list[str] = field(default_factory=list)
    boxes: list[str] = field(default_factory=list)
    part_locs: list[str] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)
    poses: dict[str, dict[str, object]] = field(default_factory=dict)


def _train_members(config: SynthConfig, class_index: int) -> set[int]:
    rng = np.random.default_rng([config.seed, 2, class_index])
    count = min(
        max(round(config.images_per_class * config.train_fraction), 1), config.images_per_class - 1
    )
    return {int(i) for i in rng.permutation(config.images_per_class)[:count]}


def _record(
    tables: _Tables,
    image_id: int,
    rendered: Rendered,
    present: np.ndarray,
    certainty: np.ndarray,
    times: np.ndarray,
) -> None:
    x, y, w, h = rendered.bbox
    tables.boxes.append(f"{image_id} {x:.1f} {y:.1f} {w:.1f} {h:.1f}")
    for part_id, name in enumerate(PART_NAMES, start=1):
        px, py, visible = rendered.parts[name]
        tables.part_locs.append(f"{image_id} {part_id} {px:.1f} {py:.1f} {int(visible)}")
    for index in range(present.shape[0]):
        line = f"{image_id} {index + 1} {present[index]} {certainty[index]} {times[index]:.3f}"
        if (image_id, index + 1) == EXTRA_FIELD_LINE:
            line += " 0"
        tables.attributes.append(line)
    tables.poses[str(image_id)] = {
        "flipped": rendered.pose.flipped,
        "rotation": round(rendered.pose.rotation, 2),
        "occluders": rendered.occluders,
    }


def _render_class(
    config: SynthConfig,
    root: Path,
    class_index: int,
    folder: str,
    species: Species,
    tables: _Tables,
    bar: tqdm,
) -> np.ndarray:
    """Draw and record one class's images; returns their is_present rows ``(K, 312)``."""
    vector = species_attribute_vector(species)
    train = _train_members(config, class_index)
    stem = folder.split(".", 1)[1]
    (root / "images" / folder).mkdir(parents=True)
    rows = []
    for k in range(config.images_per_class):
        image_id = class_index * config.images_per_class + k + 1
        rendered = render(
            species, config.size, np.random.default_rng([config.seed, class_index, k])
        )
        name = f"{folder}/{stem}_{k + 1:04d}_{image_id}.jpg"
        rendered.image.save(root / "images" / name, "JPEG", quality=JPEG_QUALITY)
        visible = {part for part, (_, _, shown) in rendered.parts.items() if shown}
        notes = np.random.default_rng([config.seed, class_index, k, 1])
        present, certainty = image_attributes(vector, visible, notes)
        times = notes.uniform(1.0, 20.0, size=len(present))
        tables.images.append(f"{image_id} {name}")
        tables.labels.append(f"{image_id} {class_index + 1}")
        tables.split.append(f"{image_id} {int(k in train)}")
        _record(tables, image_id, rendered, present, certainty, times)
        rows.append(present)
        bar.update(1)
    return np.stack(rows)


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def _write_tree(config: SynthConfig, root: Path, progress: bool) -> None:
    species = make_species(config.classes, np.random.default_rng([config.seed, 1]))
    folders = [f"{i + 1:03d}.{name}" for i, name in enumerate(species_names(species))]
    tables = _Tables()
    percentages = []
    show = progress and sys.stderr.isatty()
    total = config.classes * config.images_per_class
    with tqdm(total=total, desc="synthbirds", unit="img", disable=not show) as bar:
        for index, (member, folder) in enumerate(zip(species, folders, strict=True)):
            rows = _render_class(config, root, index, folder, member, tables, bar)
            percentages.append(rows.mean(axis=0) * 100.0)
    _write(root / "images.txt", tables.images)
    _write(root / "classes.txt", [f"{i + 1} {f}" for i, f in enumerate(folders)])
    _write(root / "image_class_labels.txt", tables.labels)
    _write(root / "train_test_split.txt", tables.split)
    _write(root / "bounding_boxes.txt", tables.boxes)
    _write(root / "parts" / "parts.txt", [f"{i + 1} {n}" for i, n in enumerate(PART_NAMES)])
    _write(root / "parts" / "part_locs.txt", tables.part_locs)
    _write(
        root / "attributes" / "attributes.txt",
        [f"{i + 1} {n}" for i, n in enumerate(attribute_names())],
    )
    _write(
        root / "attributes" / "certainties.txt",
        [f"{i + 1} {n}" for i, n in enumerate(CERTAINTY_NAMES)],
    )
    _write(root / "attributes" / "image_attribute_labels.txt", tables.attributes)
    _write(
        root / "attributes" / "class_attribute_labels_continuous.txt",
        [" ".join(f"{v:.6f}" for v in row) for row in percentages],
    )
    metadata = {
        "generator": "synthbirds",
        "version": GENERATOR_VERSION,
        "config": asdict(config),
        "species": [
            {"class_id": i + 1, "name": folder, "attributes": member.to_dict()}
            for i, (member, folder) in enumerate(zip(species, folders, strict=True))
        ],
        "images": tables.poses,
    }
    (root / METADATA_FILE).write_text(json.dumps(metadata, indent=1, sort_keys=True) + "\n")


def _prepare_destination(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise DatasetError(f"{out} exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise DatasetError(
            f"{out} exists and is not empty; choose another --out or pass --force to replace it"
        )
    out.parent.mkdir(parents=True, exist_ok=True)


def generate_synthbirds(
    out: Path,
    classes: int = 20,
    images_per_class: int = 30,
    size: int = 128,
    seed: int = 0,
    progress: bool = True,
    *,
    train_fraction: float = 0.5,
    force: bool = False,
) -> Path:
    """Generate a SynthBirds dataset in CUB-200-2011 format.

    The same arguments always give byte-identical files.

    Args:
        out: Dataset root to create (it receives ``images.txt``, ``images/``, ``parts/``...).
        classes: Number of species.
        images_per_class: Images drawn per species, split into train and test.
        size: Side of the square images in pixels.
        seed: Seed of every random choice.
        progress: Show a progress bar when stderr is a terminal.
        train_fraction: Share of each class's images marked as training images.
        force: Replace ``out`` even when it already holds files.

    Returns:
        ``out``, resolved.

    Raises:
        DatasetError: Invalid settings, or ``out`` is not empty and ``force`` is false.
    """
    config = SynthConfig(classes, images_per_class, size, seed, train_fraction)
    config.check()
    out = Path(out).resolve()
    _prepare_destination(out, force)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        _write_tree(config, staging, progress)
        staging.chmod(0o755)
        if out.exists():
            # Move the old tree aside first so the new one appears in a single rename.
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            out.rename(retired / "tree")
            staging.rename(out)
            shutil.rmtree(retired)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out
