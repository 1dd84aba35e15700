"""Naming prototypes from part annotations, and objective interpretability metrics.

Example:
    >>> inputs = open_run("runs/synthbirds-cpu", data="data/synthbirds")
    >>> names, _ = name_run(inputs, NamingConfig())
    >>> names[0].name, names[0].confidence
    ('black striped wing', 0.81)
    >>> interpretability_report(inputs)["summary"]["consistency"]

Modules: :mod:`.topk` (streamed top-k images), :mod:`.parts` (regions and part hits),
:mod:`.naming` (names and the ``names.json`` schema), :mod:`.metrics` (consistency, stability,
purity, pointing game), :mod:`.regions` (part masks), :mod:`.synth_accuracy` (naming accuracy on
SynthBirds), :mod:`.report` (the services). The CLI verbs are in
:mod:`protopool.cli.interpretability`.
"""

from protopool.interpretability.inputs import PartsRequiredError, RunInputs, open_run
from protopool.interpretability.metrics import (
    MetricsConfig,
    energy_share,
    is_consistent,
    part_hit_rates,
    stability,
)
from protopool.interpretability.naming import (
    NAMES_FILE,
    NamingConfig,
    PrototypeName,
    name_prototype,
    names_document,
    write_names,
)
from protopool.interpretability.parts import PartSpace, RegionRuleConfig, fixed_box
from protopool.interpretability.report import interpretability_report, name_run, write_report
from protopool.interpretability.synth_accuracy import NameCheck, check_name, naming_accuracy
from protopool.interpretability.topk import TopActivations, TopImage, stream_top_k, top_k_images

__all__ = [
    "NAMES_FILE",
    "MetricsConfig",
    "NameCheck",
    "NamingConfig",
    "PartSpace",
    "PartsRequiredError",
    "PrototypeName",
    "RegionRuleConfig",
    "RunInputs",
    "TopActivations",
    "TopImage",
    "check_name",
    "energy_share",
    "fixed_box",
    "interpretability_report",
    "is_consistent",
    "name_prototype",
    "name_run",
    "names_document",
    "naming_accuracy",
    "open_run",
    "part_hit_rates",
    "stability",
    "stream_top_k",
    "top_k_images",
    "write_names",
    "write_report",
]
