"""Convolutional feature extractors cut before global pooling.

Weights are only ever read from disk: torchvision's cache directory for ``imagenet`` or an
explicit file. Nothing here opens a network connection, so a missing file is an error that
says where to put it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torch import nn


class BackboneError(ValueError):
    """Unknown backbone or unusable weights; the message says how to fix it."""


def tiny_cnn() -> tuple[nn.Module, int]:
    """A four-block CNN (stride 8) for tests and CPU runs on small synthetic images."""
    layers: list[nn.Module] = []
    channels = (3, 32, 64, 128, 128)
    for index, (c_in, c_out) in enumerate(zip(channels[:-1], channels[1:], strict=True)):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out)]
        layers.append(nn.ReLU(inplace=True))
        if index < 3:
            layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers), channels[-1]


def _child(net: nn.Module, name: str) -> nn.Module:
    """A named submodule of a torchvision network (attributes of a Module are untyped)."""
    child = getattr(net, name)
    if not isinstance(child, nn.Module):
        raise BackboneError(f"torchvision network has no submodule {name!r}")
    return child


def _in_features(net: nn.Module, name: str) -> int:
    """Input width of the network's classifier: the channels its body ends with."""
    head = _child(net, name)
    if isinstance(head, nn.Sequential):
        head = next(m for m in head if isinstance(m, nn.Linear))
    if not isinstance(head, nn.Linear):
        raise BackboneError(f"torchvision network's {name!r} is not a linear classifier")
    return head.in_features


def _resnet(factory: Callable[..., nn.Module]) -> Callable[[], tuple[nn.Module, int]]:
    def build() -> tuple[nn.Module, int]:
        net = factory(weights=None)
        body = nn.Sequential()
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            body.add_module(name, _child(net, name))
        return body, _in_features(net, "fc")

    return build


def _densenet(factory: Callable[..., nn.Module]) -> Callable[[], tuple[nn.Module, int]]:
    def build() -> tuple[nn.Module, int]:
        net = factory(weights=None)
        # torchvision applies this ReLU in DenseNet.forward, after `features`; keep it.
        body = nn.Sequential()
        body.add_module("features", _child(net, "features"))
        body.add_module("relu", nn.ReLU(inplace=True))
        return body, _in_features(net, "classifier")

    return build


def _vgg19() -> tuple[nn.Module, int]:
    body = nn.Sequential()
    body.add_module("features", torchvision.models.vgg19(weights=None).features)
    return body, 512


_BUILDERS: dict[str, Callable[[], tuple[nn.Module, int]]] = {
    "tiny": tiny_cnn,
    "resnet18": _resnet(torchvision.models.resnet18),
    "resnet34": _resnet(torchvision.models.resnet34),
    "resnet50": _resnet(torchvision.models.resnet50),
    "resnet101": _resnet(torchvision.models.resnet101),
    "resnet152": _resnet(torchvision.models.resnet152),
    "densenet121": _densenet(torchvision.models.densenet121),
    "densenet161": _densenet(torchvision.models.densenet161),
    "vgg19": _vgg19,
}

_IMAGENET_WEIGHTS = {
    "resnet18": "ResNet18_Weights",
    "resnet34": "ResNet34_Weights",
    "resnet50": "ResNet50_Weights",
    "resnet101": "ResNet101_Weights",
    "resnet152": "ResNet152_Weights",
    "densenet121": "DenseNet121_Weights",
    "densenet161": "DenseNet161_Weights",
    "vgg19": "VGG19_Weights",
}


_OLD_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\."
    r"((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def backbone_names() -> list[str]:
    return sorted(_BUILDERS)


def imagenet_weights_path(name: str) -> Path:
    """Where torchvision's cache keeps the ImageNet weights of ``name``."""
    enum = getattr(torchvision.models, _IMAGENET_WEIGHTS[name])
    filename = str(enum.IMAGENET1K_V1.url).rsplit("/", 1)[-1]
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def remap_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Normalise key layouts to torchvision's.

    Strips ``module.`` / ``backbone.`` prefixes, maps the BBN iNaturalist layout (whose
    ``cb_block`` is the third block of ``layer4``) and drops BBN's re-balancing branch and
    classifier, which have no place in a feature extractor. DenseNet checkpoints from before
    torchvision renamed ``norm.1`` to ``norm1`` are fixed as well.
    """
    remapped = {}
    for key, value in state.items():
        for prefix in ("module.", "backbone."):
            if key.startswith(prefix):
                key = key[len(prefix) :]
        if key.startswith(("rb_block", "classifier")):
            continue
        if key.startswith("cb_block"):
            key = "layer4.2" + key[len("cb_block") :]
        key = _OLD_DENSENET_KEY.sub(r"\1\2", key)
        remapped[key] = value
    return remapped


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or foreign files
        raise BackboneError(f"cannot read weights file {path}: {exc}") from exc
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise BackboneError(f"{path} does not hold a state dict")
    return remap_state_dict(state)


def _load_into(name: str, body: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    target = _child(body, "features") if name.startswith(("densenet", "vgg")) else body
    if name.startswith(("densenet", "vgg")):
        state = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
    try:
        result = target.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise BackboneError(f"weights file {path} does not fit backbone {name}: {exc}") from exc
    if result.missing_keys:
        shown = ", ".join(result.missing_keys[:5])
        raise BackboneError(
            f"weights file {path} does not fit backbone {name}: "
            f"{len(result.missing_keys)} missing tensors ({shown}, ...)"
        )


def build_backbone(name: str, weights: str = "none") -> tuple[nn.Module, int]:
    """Build a feature extractor and load its weights from disk.

    Args:
        name: One of :func:`backbone_names`.
        weights: ``none``, ``imagenet`` (torchvision's cache) or a path to a state dict.

    Returns:
        ``(module, out_channels)``; the module maps ``(B, 3, H, W)`` to ``(B, C, H/s, W/s)``.

    Raises:
        BackboneError: Unknown name, or a weights file that is missing or does not fit.
    """
    if name not in _BUILDERS:
        raise BackboneError(f"unknown backbone {name!r}; choose one of {backbone_names()}")
    body, channels = _BUILDERS[name]()
    if weights in ("none", "", None):
        return body, channels
    if weights == "imagenet":
        if name not in _IMAGENET_WEIGHTS:
            raise BackboneError(f"backbone {name!r} has no ImageNet weights; use weights=none")
        path = imagenet_weights_path(name)
        if not path.is_file():
            raise BackboneError(
                f"ImageNet weights for {name} are not in torchvision's cache: put the file at "
                f"{path} (download it once elsewhere), pass a path with model.weights=FILE, "
                f"or train from scratch with --weights none"
            )
    else:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise BackboneError(
                f"weights file not found: {path}; put the file there or use --weights none"
            )
    _load_into(name, body, _read_state_dict(path), path)
    return body, channels
