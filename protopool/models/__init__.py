"""Prototype-part models."""

from protopool.config import Config
from protopool.models.protopool import (
    InputShapeError,
    ProtoPool,
    ProtoPoolOutput,
    gumbel_scale,
)


def build_model(config: Config, num_classes: int) -> ProtoPool:
    """The model a run configuration describes, for ``num_classes`` classes."""
    return ProtoPool(config.model, num_classes, config.data.image_size)


__all__ = ["InputShapeError", "ProtoPool", "ProtoPoolOutput", "build_model", "gumbel_scale"]
