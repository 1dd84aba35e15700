"""SynthBirds species: classes defined by attribute values on parts.

Species come in genera. Members of a genus share most attributes (as real warblers share yellow
feathers) and differ from every other species in at least :data:`MIN_SALIENT_DIFFERENCES` of the
large, colour-bearing parts, so the classes stay separable by a small CNN at 64-128 px while a
model still has to look at the right part to tell sister species apart.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

# RGB of each CUB colour name the generator paints with; chosen far apart so that JPEG
# compression and per-image lighting jitter never turn one into another.
PALETTE: dict[str, tuple[int, int, int]] = {
    "blue": (40, 90, 215),
    "brown": (120, 70, 35),
    "grey": (140, 140, 145),
    "yellow": (245, 215, 40),
    "green": (45, 155, 60),
    "orange": (245, 125, 25),
    "black": (25, 25, 28),
    "white": (242, 242, 236),
    "red": (205, 30, 35),
    "purple": (125, 50, 165),
    "pink": (235, 150, 175),
}
BODY_COLOURS = (
    "blue", "brown", "grey", "yellow", "green", "orange", "black", "white", "red", "purple",
)  # fmt: skip
EYE_COLOURS = ("black", "red", "yellow", "white")
BILL_COLOURS = ("black", "grey", "orange", "yellow")
LEG_COLOURS = ("black", "grey", "pink", "orange")
WING_PATTERNS = ("solid", "striped", "spotted")
BEAK_SHAPES = ("cone", "needle", "hooked", "dagger")
TAIL_SHAPES = ("forked", "rounded", "pointed", "squared")

# Large regions a low-resolution CNN sees easily; every pair of species differs in this many.
SALIENT = ("crown", "back", "wing", "belly", "tail", "wing_pattern")
SMALL = ("beak", "tail_shape", "eye")
MIN_SALIENT_DIFFERENCES = 2
SPECIES_PER_GENUS = 4
MAX_MUTATION_TRIES = 200

GENUS_NAMES = (
    "Warbler", "Finch", "Tanager", "Vireo", "Bunting", "Sparrow", "Flycatcher", "Wren",
    "Oriole", "Grosbeak", "Kinglet", "Thrush", "Shrike", "Siskin", "Redstart", "Towhee",
    "Junco", "Phoebe", "Pipit", "Chat",
)  # fmt: skip


@dataclass(frozen=True)
class Species:
    """The attribute values that define one SynthBirds class (colours are CUB colour names)."""

    crown: str
    back: str
    wing: str
    belly: str
    tail: str
    wing_pattern: str
    beak: str
    tail_shape: str
    eye: str
    bill_colour: str
    leg_colour: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _choices(attribute: str) -> tuple[str, ...]:
    return {
        "wing_pattern": WING_PATTERNS,
        "beak": BEAK_SHAPES,
        "tail_shape": TAIL_SHAPES,
        "eye": EYE_COLOURS,
        "bill_colour": BILL_COLOURS,
        "leg_colour": LEG_COLOURS,
    }.get(attribute, BODY_COLOURS)


def _is_drawable(species: Species) -> bool:
    """Regions painted next to the back must differ from it, or they would vanish into it."""
    return species.back not in (species.crown, species.wing, species.belly)


def _random_species(rng: np.random.Generator) -> Species:
    while True:
        values = {f.name: str(rng.choice(_choices(f.name))) for f in fields(Species)}
        species = Species(**values)
        if _is_drawable(species):
            return species


def _mutate(template: Species, rng: np.random.Generator) -> Species:
    changes: dict[str, str] = {}
    for name in rng.choice(SALIENT, size=int(rng.integers(2, 4)), replace=False):
        options = [v for v in _choices(str(name)) if v != getattr(template, str(name))]
        changes[str(name)] = str(rng.choice(options))
    if rng.random() < 0.5:
        name = str(rng.choice(SMALL))
        options = [v for v in _choices(name) if v != getattr(template, name)]
        changes[name] = str(rng.choice(options))
    return replace(template, **changes)


def salient_differences(a: Species, b: Species) -> int:
    """How many of the large, class-defining regions differ between two species."""
    return sum(getattr(a, name) != getattr(b, name) for name in SALIENT)


def part_differences(a: Species, b: Species) -> int:
    """How many part attributes (salient regions plus beak, tail shape, eye) differ."""
    return sum(getattr(a, name) != getattr(b, name) for name in SALIENT + SMALL)


def make_species(count: int, rng: np.random.Generator) -> list[Species]:
    """Draw ``count`` species in genera of about :data:`SPECIES_PER_GENUS`.

    Raises:
        ValueError: ``count`` is below 1.
    """
    if count < 1:
        raise ValueError(f"need at least one class, got {count}")
    genera = math.ceil(count / SPECIES_PER_GENUS)
    templates = [_random_species(rng) for _ in range(genera)]
    species: list[Species] = []
    failures = 0
    while len(species) < count:
        template = templates[len(species) % genera]
        if len(species) < genera:
            candidate = template
        elif failures < MAX_MUTATION_TRIES:
            candidate = _mutate(template, rng)
        else:
            # A crowded genus has no room left; an unrelated species keeps the classes distinct.
            candidate = _random_species(rng)
        if _is_drawable(candidate) and all(
            salient_differences(candidate, s) >= MIN_SALIENT_DIFFERENCES for s in species
        ):
            species.append(candidate)
            failures = 0
        else:
            failures += 1
            if failures > 100 * MAX_MUTATION_TRIES:
                raise ValueError(f"cannot draw {count} distinct species; ask for fewer classes")
    return species


def _descriptors(species: Species, template: Species) -> list[str]:
    """Field-guide style epithets, the ones that set a species apart from its genus first."""
    words = {
        "crown": f"{species.crown.capitalize()}_crowned",
        "belly": f"{species.belly.capitalize()}_bellied",
        "wing": f"{species.wing.capitalize()}_winged",
        "back": f"{species.back.capitalize()}_backed",
        "tail": f"{species.tail.capitalize()}_tailed",
        "wing_pattern": f"{species.wing_pattern.capitalize()}_winged",
        "beak": f"{species.beak.capitalize()}_billed",
        "tail_shape": f"{species.tail_shape.capitalize()}_tailed",
        "eye": f"{species.eye.capitalize()}_eyed",
    }
    changed = [k for k in words if getattr(species, k) != getattr(template, k)]
    return [words[k] for k in changed] + [words[k] for k in words if k not in changed]


def species_names(species: list[Species]) -> list[str]:
    """Unique CUB-style class names without the numeric prefix, e.g. ``Red_crowned_Warbler``."""
    genera = math.ceil(len(species) / SPECIES_PER_GENUS)
    names: list[str] = []
    for index, member in enumerate(species):
        genus_index = index % genera
        genus = GENUS_NAMES[genus_index % len(GENUS_NAMES)]
        if genus_index >= len(GENUS_NAMES):
            genus += f"_{genus_index // len(GENUS_NAMES) + 1}"
        words = _descriptors(member, species[genus_index])
        for used in range(1, len(words) + 1):
            name = "_".join(words[:used] + [genus])
            if name not in names:
                break
        else:
            name = f"{name}_{index + 1}"
        names.append(name)
    return names
