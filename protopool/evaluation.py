"""What a trained ProtoPool's slots look like: the data of the paper's Figure 9 and Table 4."""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch

from protopool.models import ProtoPool

# Keep uniform draws off 0 and 1, where the Gumbel transform -log(-log(u)) is infinite.
UNIFORM_FLOOR = 1e-10
UNIFORM_CEILING_GAP = 1e-7


@torch.no_grad()
def mean_max_slot_probability(model: ProtoPool, draws: int = 16, seed: int = 0) -> float:
    """Mean over slots of the largest probability in the training-time slot distribution.

    For Gumbel assignment this is the Gumbel-softmax at the end of the schedule, noise
    included (averaged over ``draws`` seeded draws), so it measures whether each slot's winner
    beats the noise, not just the sign of a logit difference; for the softmax ablation it is
    the plain softmax.
    """
    logits = model.slot_logits.detach().float()
    if model.config.assignment == "softmax":
        return float(logits.softmax(dim=1).amax(dim=1).mean())
    generator = torch.Generator(device=logits.device).manual_seed(seed)
    scaled = logits * model.config.gumbel_scale_max
    total = 0.0
    for _ in range(draws):
        uniform = torch.rand(scaled.shape, generator=generator, device=logits.device)
        gumbel = -torch.log(-torch.log(uniform.clamp(UNIFORM_FLOOR, 1 - UNIFORM_CEILING_GAP)))
        sample = ((scaled + gumbel) / model.config.gumbel_tau).softmax(dim=1)
        total += float(sample.amax(dim=1).mean())
    return total / draws


@torch.no_grad()
def slot_statistics(model: ProtoPool) -> dict[str, Any]:
    """Summarise the assignment of prototypes to slots.

    Returns:
        A JSON-ready mapping:

        * ``prototypes_in_pool``: P.
        * ``prototypes_used``: prototypes at least one slot uses (hard assignment).
        * ``slots_per_class``: K.
        * ``filled_slots_per_class``: mean number of slots holding a prototype (a thresholded
          slot can be empty).
        * ``empty_slots``: slots holding no prototype, over all classes (an error condition:
          see :func:`slot_errors`).
        * ``distinct_prototypes_per_class``: mean number of different prototypes per class.
        * ``classes_with_repeated_prototype``: classes using one prototype in two slots.
        * ``mean_max_slot_probability``: see :func:`mean_max_slot_probability`.
        * ``sharing_histogram``: ``{n: prototypes used by exactly n classes}`` (Figure 9).
        * ``mean_classes_per_prototype``: over used prototypes.
    """
    hard = model.hard_slots()
    filled = hard.amax(dim=1) > 0
    winners = model.slot_prototypes()
    per_class = hard.amax(dim=2) > 0
    repeated = 0
    for c in range(model.num_classes):
        chosen = winners[c][filled[c]].tolist()
        repeated += len(chosen) != len(set(chosen))
    sharing = per_class.sum(dim=0)
    used = sharing > 0
    histogram = Counter(int(n) for n in sharing[used].tolist())
    return {
        "prototypes_in_pool": model.num_prototypes,
        "prototypes_used": int(used.sum()),
        "slots_per_class": model.slots_per_class,
        "filled_slots_per_class": float(filled.sum(dim=1).float().mean()),
        "empty_slots": int((~filled).sum()),
        "distinct_prototypes_per_class": float(per_class.sum(dim=1).float().mean()),
        "classes_with_repeated_prototype": repeated,
        "mean_max_slot_probability": mean_max_slot_probability(model),
        "sharing_histogram": {str(n): histogram[n] for n in sorted(histogram)},
        "mean_classes_per_prototype": float(sharing[used].float().mean()) if used.any() else 0.0,
    }


def slot_errors(statistics: dict[str, Any], test_assignment: str) -> list[str]:
    """What is wrong with a model's test-time slots, as messages that say how to fix it.

    Args:
        statistics: The output of :func:`slot_statistics`.
        test_assignment: The rule the slots were read with (``threshold`` or ``argmax``).
    """
    empty = int(statistics["empty_slots"])
    if not empty:
        return []
    return [
        f"{empty} slots hold no prototype under the {test_assignment} test-time "
        "assignment, so the model is scored without them; train until every slot "
        "distribution has a winner above 0.5, or set model.test_assignment=argmax"
    ]
