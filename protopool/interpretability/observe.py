"""One pass over the test images for consistency, stability and the pointing game.

Each batch runs twice through the network, clean and with stability's noise on the normalised
input; every prototype is then read on the images of the classes that use it (see
:mod:`protopool.interpretability.metrics` for why). Memory stays at one batch of images plus a
few numbers per (prototype, image) pair.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from protopool.data.base import Sample
from protopool.inference.maps import Box, latent_maps, prepare_image
from protopool.interpretability.inputs import RunInputs
from protopool.interpretability.metrics import MetricsConfig, energy_share
from protopool.interpretability.parts import PartSpace, fixed_box, peak_of, view_map
from protopool.interpretability.regions import PartRegions
from protopool.interpretability.topk import crop_box


@dataclass
class Observations:
    """What the test pass saw of one prototype, image by image.

    Attributes:
        hits: Per image, the 15-part hit vector of the clean region.
        noisy_hits: The same under noise.
        visible: Per image, which parts are visible.
        energy: Per image, the map's energy share on the part regions.
        area: Per image, the part regions' share of the view.
    """

    hits: list[np.ndarray] = field(default_factory=list)
    noisy_hits: list[np.ndarray] = field(default_factory=list)
    visible: list[np.ndarray] = field(default_factory=list)
    energy: list[float] = field(default_factory=list)
    area: list[float] = field(default_factory=list)

    def arrays(self, parts: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(hits, noisy hits, visible)`` as ``(images, parts)`` bool arrays."""
        empty = np.zeros((0, parts), dtype=bool)
        stack = [np.stack(rows) if rows else empty for rows in (self.hits, self.noisy_hits)]
        visible = np.stack(self.visible) if self.visible else empty
        return stack[0], stack[1], visible


def _region_hits(
    latent: torch.Tensor, crop: Box, sample: Sample, space: PartSpace
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    view = view_map(latent, crop)
    hit, visible = space.hits(fixed_box(peak_of(view, crop), crop), sample.parts)
    return view, hit, visible


def observe_test_images(
    inputs: RunInputs,
    regions: PartRegions,
    config: MetricsConfig,
    samples: Sequence[Sample] | None = None,
    progress: bool = True,
) -> list[Observations]:
    """Stream the test images (or ``samples``) and record every prototype on its classes'.

    Returns:
        One record per prototype, in pool order.
    """
    model, data, settings = inputs.model, inputs.config.data, inputs.settings
    samples = list(inputs.index.test if samples is None else samples)
    used = inputs.used_prototypes()
    space = inputs.part_space(merge=False)
    records = [Observations() for _ in range(model.num_prototypes)]
    generator = torch.Generator().manual_seed(config.noise_seed)
    batch = data.eval_batch_size
    for start in tqdm(
        range(0, len(samples), batch),
        desc="test pass",
        disable=not (progress and sys.stderr.isatty()),
    ):
        chunk = samples[start : start + batch]
        prepared = [prepare_image(s.path, data, crop_box(s, data)) for s in chunk]
        images = torch.stack([p.tensor for p in prepared])
        noise = torch.randn(images.shape, generator=generator) * config.noise_std
        clean = latent_maps(model, images, settings).cpu()
        noisy = latent_maps(
            model, images + noise.clamp(-config.noise_clip, config.noise_clip), settings
        ).cpu()
        for row, (sample, image) in enumerate(zip(chunk, prepared, strict=True)):
            left, top, right, bottom = image.crop
            mask = regions.mask(sample)[top:bottom, left:right]
            for prototype in torch.nonzero(used[sample.label]).flatten().tolist():
                record = records[prototype]
                view, hit, visible = _region_hits(clean[row, prototype], image.crop, sample, space)
                _, noisy_hit, _ = _region_hits(noisy[row, prototype], image.crop, sample, space)
                energy, area = energy_share(view, mask)
                record.hits.append(hit)
                record.noisy_hits.append(noisy_hit)
                record.visible.append(visible)
                record.energy.append(energy)
                record.area.append(area)
    return records
