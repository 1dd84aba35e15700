"""Backbones build offline, load local weights (BBN iNat layout included) and fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from protopool.backbones import BackboneError, build_backbone, remap_state_dict


def test_tiny_cnn_has_stride_eight() -> None:
    body, channels = build_backbone("tiny")
    assert body(torch.randn(1, 3, 32, 32)).shape == (1, channels, 4, 4)


@pytest.mark.parametrize(
    "name",
    [
        "resnet18",
        # Building these initialises ~100M parameters: tens of seconds on a busy CPU.
        pytest.param("vgg19", marks=pytest.mark.slow),
        pytest.param("densenet121", marks=pytest.mark.slow),
    ],
)
def test_torchvision_backbones_are_cut_before_pooling(name: str) -> None:
    body, channels = build_backbone(name)
    assert body(torch.randn(1, 3, 64, 64)).shape == (1, channels, 2, 2)


def test_missing_weights_file_says_where_to_put_it(tmp_path: Path) -> None:
    with pytest.raises(BackboneError, match=r"weights file not found: .*--weights none"):
        build_backbone("resnet18", str(tmp_path / "r18.pth"))


def test_imagenet_weights_come_only_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(BackboneError, match=str(tmp_path / "checkpoints")):
        build_backbone("resnet18", "imagenet")


def test_bbn_inaturalist_layout_is_remapped() -> None:
    state = {
        "module.backbone.conv1.weight": 1,
        "module.backbone.layer4.1.bn1.bias": 2,
        "module.backbone.cb_block.conv2.weight": 3,
        "module.backbone.rb_block.conv2.weight": 4,
        "module.classifier.weight": 5,
    }
    assert remap_state_dict(state) == {
        "conv1.weight": 1,
        "layer4.1.bn1.bias": 2,
        "layer4.2.conv2.weight": 3,
    }


def test_local_weights_file_loads_and_a_foreign_one_is_refused(tmp_path: Path) -> None:
    body, _ = build_backbone("resnet18")
    path = tmp_path / "r18.pth"
    torch.save({"module.backbone." + k: v for k, v in body.state_dict().items()}, path)
    loaded, _ = build_backbone("resnet18", str(path))
    assert torch.equal(loaded.conv1.weight, body.conv1.weight)
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(BackboneError, match="does not fit"):
        build_backbone("resnet18", str(tmp_path / "bad.pth"))


def test_unknown_backbone_lists_choices() -> None:
    with pytest.raises(BackboneError, match="resnet50"):
        build_backbone("alexnet")
