"""Prototype-part models: ProtoPool and ProtoTree, chosen by ``model.kind``."""

from protopool.config import Config
from protopool.models.base import InputShapeError, PrototypeNetwork
from protopool.models.protopool import ProtoPool, ProtoPoolOutput, gumbel_scale
from protopool.models.prototree import ProtoTree, ProtoTreeOutput

PrototypeModel = ProtoPool | ProtoTree
"""Either model; the training engine, projection and checkpoints take both."""


def build_model(config: Config, num_classes: int) -> PrototypeModel:
    """The model a run configuration describes, for ``num_classes`` classes."""
    if config.model.kind == "prototree":
        return ProtoTree(config.model, config.tree, num_classes, config.data.image_size)
    return ProtoPool(config.model, num_classes, config.data.image_size)


__all__ = [
    "InputShapeError",
    "PrototypeModel",
    "PrototypeNetwork",
    "ProtoPool",
    "ProtoPoolOutput",
    "ProtoTree",
    "ProtoTreeOutput",
    "build_model",
    "gumbel_scale",
]
