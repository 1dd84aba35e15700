"""SynthBirds: deterministic synthetic birds written in exact CUB-200-2011 format.

Classes are defined by attribute values on parts, so the generator's ground truth (which part
carries which colour or shape) lets prototype naming and saliency be measured objectively.
"""

from protopool.data.synth.species import Species, make_species, species_names
from protopool.data.synth.writer import METADATA_FILE, SynthConfig, generate_synthbirds

__all__ = [
    "METADATA_FILE",
    "Species",
    "SynthConfig",
    "generate_synthbirds",
    "make_species",
    "species_names",
]
