"""Architecture sections of a run's configuration: ProtoPool's ``model`` and ProtoTree's ``tree``.

Where the paper and the official code differ, the default follows the paper and the official
behaviour is an option named for what it does (``model.slot_mixing: distances``,
``model.test_assignment: argmax``).
"""

from __future__ import annotations

from dataclasses import dataclass

from protopool.config_checks import ConfigError, check_choice, check_positive


@dataclass(frozen=True)
class ModelConfig:
    """Architecture.

    Attributes:
        kind: ``protopool`` or ``prototree`` (whose own settings are the ``tree`` section;
            the slot and Gumbel fields below are ProtoPool's).
        backbone: ``resnet18|34|50|101|152``, ``densenet121|161``, ``vgg19`` or ``tiny``.
        weights: ``imagenet`` (torchvision's cache only, never downloaded), ``none`` (train from
            scratch) or a path to a state dict (an iNaturalist ResNet-50 in the BBN layout is
            recognised and remapped).
        num_prototypes: Pool size M (202 for CUB, 195 for Cars).
        prototype_depth: Channels D of the add-on output and of each prototype.
        slots_per_class: Slots K per class.
        similarity: A name from :mod:`protopool.similarity`.
        slot_mixing: ``similarities`` mixes per-prototype similarities with the slot
            distributions (paper, ``g_k = sum_i q_k^i g_{p_i}``); ``distances`` mixes pooled
            distances before the activation (official code).
        assignment: ``gumbel`` (paper) or ``softmax`` (Table 4 ablation).
        gumbel_tau: Gumbel-softmax temperature.
        gumbel_scale_max: Logit scale reached at the end of the schedule.
        gumbel_scale_epochs: Epochs over which the scale grows as ``max * sqrt(e / epochs)``.
        test_assignment: ``threshold`` sets slot probabilities above 0.5 to 1 and the rest to 0
            (paper); ``argmax`` takes the most likely prototype of every slot (official code,
            whose Gumbel scale of 1e4 amounts to an argmax); ``auto`` is ``threshold`` for the
            paper's model and ``argmax`` wherever a threshold would empty slots (see
            :attr:`test_time_assignment`).
    """

    kind: str = "protopool"
    backbone: str = "resnet50"
    weights: str = "imagenet"
    num_prototypes: int = 202
    prototype_depth: int = 256
    slots_per_class: int = 10
    similarity: str = "focal"
    slot_mixing: str = "similarities"
    assignment: str = "gumbel"
    gumbel_tau: float = 0.5
    gumbel_scale_max: float = 1000.0
    gumbel_scale_epochs: int = 30
    test_assignment: str = "auto"

    def __post_init__(self) -> None:
        from protopool import similarity

        similarity.get(self.similarity)
        check_choice("model", "kind", self.kind, ("protopool", "prototree"))
        check_choice("model", "slot_mixing", self.slot_mixing, ("similarities", "distances"))
        check_choice("model", "assignment", self.assignment, ("gumbel", "softmax"))
        check_choice(
            "model", "test_assignment", self.test_assignment, ("auto", "threshold", "argmax")
        )
        if self.slot_mixing == "distances" and self.test_assignment == "threshold":
            # An empty slot mixes the distances with all-zero weights: distance 0, the maximal
            # similarity, for every image, so every class would score that slot alike.
            raise ConfigError(
                "model.slot_mixing=distances cannot be combined with "
                "model.test_assignment=threshold (an empty slot would get distance 0, the "
                "highest similarity, for every image); use model.test_assignment=argmax or auto"
            )
        for name in ("num_prototypes", "prototype_depth", "slots_per_class", "gumbel_tau"):
            check_positive("model", name, getattr(self, name))
        if self.slots_per_class > self.num_prototypes:
            raise ConfigError(
                "model.slots_per_class cannot exceed model.num_prototypes: a class could not "
                "fill its slots with distinct prototypes"
            )

    @property
    def test_time_assignment(self) -> str:
        """The test-time rule ``auto`` stands for: ``threshold`` or ``argmax``.

        The threshold is the paper's rule for Gumbel slots, which end training almost one-hot.
        The softmax ablation (Table 4) ends with flat distributions that a 0.5 threshold would
        leave mostly empty, and the official code evaluates every variant with a near-argmax
        (a Gumbel scale of 1e4), so it gets the argmax; so does distance mixing (see above).
        """
        if self.test_assignment != "auto":
            return self.test_assignment
        if self.assignment == "softmax" or self.slot_mixing == "distances":
            return "argmax"
        return "threshold"


@dataclass(frozen=True)
class TreeConfig:
    """ProtoTree (Nauta et al., 2021), used when ``model.kind`` is ``prototree``.

    The tree shares ``model.backbone``, ``model.weights`` and ``model.prototype_depth`` with
    ProtoPool; it has one prototype per internal node, so ``2**depth - 1`` prototypes.

    Attributes:
        depth: Levels of internal nodes (9 in the reference: 511 prototypes, 512 leaves).
        log_probabilities: Route in log space (the reference's ``--log_probabilities``):
            similarity ``-min distance`` and log1mexp for the absent branch.
        leaf_update: ``derivative_free`` (the reference's rule, once per batch) or ``gradient``.
        inference: The run's default inference mode: ``distributed`` (every leaf weighted by
            its path probability), ``sample_max`` (the most probable leaf) or ``greedy``
            (follow each node's more probable branch).
        pruning_threshold: Subtrees whose leaves all have a top class probability at most
            this are pruned after training; the sibling replaces the parent.
    """

    depth: int = 9
    log_probabilities: bool = False
    leaf_update: str = "derivative_free"
    inference: str = "distributed"
    pruning_threshold: float = 0.01

    def __post_init__(self) -> None:
        if self.depth < 1:
            raise ConfigError(f"tree.depth must be at least 1; got {self.depth}")
        check_choice("tree", "leaf_update", self.leaf_update, ("derivative_free", "gradient"))
        check_choice("tree", "inference", self.inference, ("distributed", "sample_max", "greedy"))
        if not 0 <= self.pruning_threshold < 1:
            raise ConfigError("tree.pruning_threshold must be in [0, 1)")

    @property
    def num_prototypes(self) -> int:
        return int(2**self.depth) - 1

    @property
    def num_leaves(self) -> int:
        return int(2**self.depth)


__all__ = ["ModelConfig", "TreeConfig"]
