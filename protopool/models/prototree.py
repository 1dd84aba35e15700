"""ProtoTree: a soft binary decision tree with a prototype in every internal node.

Nauta et al., "Neural Prototype Trees for Interpretable Fine-Grained Image Recognition", CVPR
2021. Shapes: B images, C classes, D prototype depth, H x W the latent map, N = 2**depth - 1
internal nodes and L = 2**depth leaves of the full tree, P <= N prototypes (one per internal
node the tree still routes by; P = N until pruning).

Nodes live in breadth-first (heap) order, see :mod:`protopool.models.tree_ops`: node ``i`` sends
an image to child ``2i + 2`` (prototype present) with probability
``s_i = exp(-min_hw ||z_hw - p_i||)`` and to ``2i + 1`` (absent) otherwise. Pruning keeps the
layout and bypasses pruned parents, so ``leaf_logits`` always has L rows; ``prototypes`` shrinks
to the routed nodes and ``prototype_ids`` holds each one's heap position.

Leaves: the reference keeps per leaf a vector ``pi`` whose softmax is the leaf's class
distribution, and its derivative-free rule adds non-negative amounts to ``pi`` itself (the
softmax is never replaced by a normalisation unless ``--kontschieder_normalization`` is set).
``leaf_logits`` is that ``pi``, so it is a buffer updated by :meth:`ProtoTree.update_leaves`,
or a Parameter when ``tree.leaf_update`` is ``gradient``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from protopool import similarity as similarities
from protopool.backbones import build_backbone
from protopool.config import ModelConfig, TreeConfig
from protopool.models import tree_ops
from protopool.models.base import PrototypeNetwork

INFERENCE_MODES = ("distributed", "sample_max", "greedy")
# The reference adds this to the distance before log1mexp so that an exact match (s = 1) still
# has a finite log-probability of the absent branch.
LOG1MEXP_EPSILON = 1e-7


class ProtoTreeOutput(NamedTuple):
    """What :meth:`ProtoTree.forward` returns.

    Attributes:
        logits: Log of the class distribution the inference mode gives ``(B, C)``.
        min_distances: Smallest squared distance of each prototype to the image ``(B, P)``.
        leaf_probs: Soft path probability of every leaf of the full tree, 0 for pruned leaves,
            whatever the mode ``(B, L)``.
        distances: Squared distances at every location ``(B, P, H, W)``.
        log_leaf_probs: Log of ``leaf_probs``, computed in log space when
            ``tree.log_probabilities`` is set ``(B, L)``.
    """

    logits: torch.Tensor
    min_distances: torch.Tensor
    leaf_probs: torch.Tensor
    distances: torch.Tensor
    log_leaf_probs: torch.Tensor


class Routing(NamedTuple):
    """What :meth:`ProtoTree.route` returns: :class:`ProtoTreeOutput` less the distances."""

    logits: torch.Tensor
    leaf_probs: torch.Tensor
    log_leaf_probs: torch.Tensor


class ProtoTree(PrototypeNetwork):
    """Backbone, 1x1 add-on with sigmoid, one prototype per internal node, leaf distributions.

    Args:
        config: Architecture settings (backbone, weights, prototype depth; the similarity is
            always ProtoTree's, whatever ``config.similarity`` says).
        tree: Tree settings.
        num_classes: Number of classes C.
        image_size: Side of the square inputs the model accepts.
    """

    prototype_ids: torch.Tensor
    node_route: torch.Tensor
    leaf_logits: torch.Tensor
    epoch_start_leaf_logits: torch.Tensor | None

    def __init__(
        self, config: ModelConfig, tree: TreeConfig, num_classes: int, image_size: int
    ) -> None:
        super().__init__()
        self.config = config
        self.tree = tree
        self.num_classes = num_classes
        self.image_size = image_size
        self.similarity = similarities.get("prototree")
        self.features, channels = build_backbone(config.backbone, config.weights)
        projection = nn.Conv2d(channels, config.prototype_depth, kernel_size=1, bias=False)
        nn.init.xavier_normal_(projection.weight, gain=nn.init.calculate_gain("sigmoid"))
        self.add_on = nn.Sequential(projection, nn.Sigmoid())
        prototypes = torch.empty(tree.num_prototypes, config.prototype_depth)
        self.prototypes = nn.Parameter(nn.init.normal_(prototypes, mean=0.5, std=0.1))
        self.register_buffer("prototype_ids", torch.arange(tree.num_prototypes))
        self.register_buffer(
            "node_route", torch.full((tree.num_prototypes,), tree_ops.ROUTED, dtype=torch.long)
        )
        if tree.leaf_update == "gradient":
            # The reference starts gradient-trained leaves from N(0, 1) rather than zeros.
            self.leaf_logits = nn.Parameter(torch.randn(tree.num_leaves, num_classes))
        else:
            self.register_buffer("leaf_logits", torch.zeros(tree.num_leaves, num_classes))
        self.register_buffer("epoch_start_leaf_logits", None, persistent=False)

    # --- routing ------------------------------------------------------------------------------

    def branch_terms(self, min_distances: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Present and absent branch probabilities of every internal node.

        Args:
            min_distances: Smallest squared distances ``(B, P)``.

        Returns:
            ``(present, absent)``, each ``(B, N)``; logs when ``tree.log_probabilities``.
            Bypassed nodes are forced to their surviving child.
        """
        log_space = self.tree.log_probabilities
        distance = self.similarity.distance(min_distances)
        if log_space:
            # log of the exp activation, without the exp that would underflow.
            present = -distance
            absent = tree_ops.log1mexp(distance + LOG1MEXP_EPSILON)
        else:
            present = self.similarity.activation(distance)
            absent = 1 - present
        return tree_ops.scatter_to_heap(
            present, absent, self.prototype_ids, self.node_route, log_space
        )

    def route(self, min_distances: torch.Tensor, mode: str | None = None) -> Routing:
        """Class log-distribution and leaf probabilities from the prototypes' distances.

        Args:
            min_distances: Smallest squared distances ``(B, P)``.
            mode: One of :data:`INFERENCE_MODES`; None is ``tree.inference``.
        """
        mode = self._check_mode(mode)
        log_space = self.tree.log_probabilities
        present, absent = self.branch_terms(min_distances)
        paths = tree_ops.leaf_path_probabilities(present, absent, log_space)
        leaf_probs = paths.exp() if log_space else paths
        log_leaf_probs = paths if log_space else paths.log()
        log_distributions = F.log_softmax(self.leaf_logits, dim=1)
        if mode == "distributed":
            if log_space:
                mixed = log_leaf_probs.unsqueeze(2) + log_distributions.unsqueeze(0)
                logits = torch.logsumexp(mixed, dim=1)
            else:
                logits = torch.log(leaf_probs @ log_distributions.exp())
        elif mode == "sample_max":
            # On the logs: in log space every leaf's probability may underflow to 0.
            logits = log_distributions[self.max_leaves(log_leaf_probs)]
        else:
            leaves, _ = tree_ops.greedy_descent(present, self.node_route, log_space)
            logits = log_distributions[leaves]
        return Routing(logits, leaf_probs, log_leaf_probs)

    def forward(self, images: torch.Tensor, mode: str | None = None) -> ProtoTreeOutput:
        """Classify images.

        Args:
            images: Normalised images ``(B, 3, S, S)``.
            mode: ``distributed`` (every leaf weighted by its path probability), ``sample_max``
                (the most probable leaf), ``greedy`` (the present branch wherever ``s > 0.5``)
                or None for ``tree.inference``.

        Raises:
            ValueError: An unknown mode.
        """
        mode = self._check_mode(mode)
        sq_dist = self.distances(images)
        with torch.autocast(device_type=sq_dist.device.type, enabled=False):
            min_dist = sq_dist.flatten(2).amin(dim=2)
            routing = self.route(min_dist, mode)
        return ProtoTreeOutput(
            routing.logits, min_dist, routing.leaf_probs, sq_dist, routing.log_leaf_probs
        )

    def _check_mode(self, mode: str | None) -> str:
        mode = self.tree.inference if mode is None else mode
        if mode not in INFERENCE_MODES:
            raise ValueError(
                f"unknown inference mode {mode!r}; choose one of {', '.join(INFERENCE_MODES)}"
            )
        return mode

    def leaf_distributions(self) -> torch.Tensor:
        """Class distribution of every leaf of the full tree ``(L, C)``."""
        return F.softmax(self.leaf_logits, dim=1)

    def greedy_leaves(self, min_distances: torch.Tensor) -> torch.Tensor:
        """Leaf ``(B,)`` reached by taking the present branch wherever ``s > 0.5``."""
        present, _ = self.branch_terms(min_distances)
        leaves, _ = tree_ops.greedy_descent(present, self.node_route, self.tree.log_probabilities)
        return leaves

    def max_leaves(self, leaf_probs: torch.Tensor) -> torch.Tensor:
        """Leaf ``(B,)`` with the highest path probability, from ``leaf_probs`` ``(B, L)``
        (probabilities or their logs)."""
        return leaf_probs.argmax(dim=1)

    def greedy_path_lengths(self, min_distances: torch.Tensor) -> torch.Tensor:
        """Depth ``(B,)`` at which the greedy path ends: prototypes it consults, bypasses not."""
        present, _ = self.branch_terms(min_distances)
        _, lengths = tree_ops.greedy_descent(present, self.node_route, self.tree.log_probabilities)
        return lengths

    # --- derivative-free leaves ---------------------------------------------------------------

    @torch.no_grad()
    def begin_leaf_epoch(self) -> None:
        """Remember the leaf logits ``pi_0`` that :meth:`update_leaves` decays during an epoch.

        The reference copies the leaves once before an epoch's first batch; every batch then
        subtracts ``pi_0 / n``, so after n batches the epoch's updates have replaced ``pi_0``.
        """
        self.epoch_start_leaf_logits = self.leaf_logits.detach().clone()

    @torch.no_grad()
    def update_leaves(
        self,
        leaf_probs: torch.Tensor,
        targets_onehot: torch.Tensor,
        y_pred: torch.Tensor,
        num_batches: int,
        *,
        log_space: bool = False,
    ) -> None:
        """Apply the derivative-free rule for one batch (after the optimizer step, as the
        reference does); see :func:`tree_ops.derivative_free_update` for the formula.

        Args:
            leaf_probs: Path probabilities ``pa`` of the batch ``(B, L)`` (logs if
                ``log_space``), from the forward pass whose loss was just stepped.
            targets_onehot: One-hot labels ``(B, C)``.
            y_pred: The distributed class probabilities ``(B, C)`` (logs if ``log_space``).
            num_batches: Batches in the epoch.
            log_space: Inputs are logs: pass ``out.log_leaf_probs`` and ``out.logits`` of a
                ``distributed`` pass; exact in either routing space and safe from underflow.

        Raises:
            RuntimeError: The leaves are trained by gradient, or :meth:`begin_leaf_epoch` was
                not called.
        """
        if self.tree.leaf_update != "derivative_free":
            raise RuntimeError("tree.leaf_update is gradient: the optimizer trains the leaves")
        if self.epoch_start_leaf_logits is None:
            raise RuntimeError("call begin_leaf_epoch() before the first batch of each epoch")
        start, logits = self.epoch_start_leaf_logits, self.leaf_logits
        inputs = (leaf_probs.float(), targets_onehot.float(), y_pred.float())
        logits.copy_(
            tree_ops.derivative_free_update(logits, start, *inputs, num_batches, log_space)
        )

    # --- structure ----------------------------------------------------------------------------

    def kept_leaves(self) -> torch.Tensor:
        """Leaves ``(L,)`` bool that pruning left in the tree."""
        return self.leaf_depths() >= 0

    def leaf_depths(self) -> torch.Tensor:
        """Prototypes ``(L,)`` on the path to each leaf; -1 for pruned leaves."""
        reachable, depth = tree_ops.descend(self.node_route)
        leaves = slice(self.tree.num_prototypes, None)
        return depth[leaves].masked_fill(~reachable[leaves], -1)

    def tree_statistics(self) -> dict[str, float]:
        """``num_leaves`` and ``num_internal`` (kept), ``depth`` (deepest leaf) and
        ``mean_path_length`` (mean leaf depth, every kept leaf counted once)."""
        depths = self.leaf_depths()
        kept = depths[depths >= 0]
        return {
            "num_leaves": int(kept.numel()),
            "num_internal": self.num_prototypes,
            "depth": int(kept.max()),
            "mean_path_length": float(kept.float().mean()),
        }

    def node_classes(self) -> torch.Tensor:
        """``(C, P)`` bool: class c is the top class of some kept leaf under prototype p's node.

        This is the reference's class constraint for projection: a node may only move to patches
        of images whose label is among the argmax classes of its leaves.
        """
        top = F.one_hot(self.leaf_logits.argmax(dim=1), self.num_classes).bool()
        under = tree_ops.gather_up(top & self.kept_leaves().unsqueeze(1))
        return under[self.prototype_ids].T

    def prototype_classes(self) -> torch.Tensor:
        """The classes each prototype may be projected onto ``(C, P)``; see :meth:`node_classes`."""
        return self.node_classes()

    # --- surgery ------------------------------------------------------------------------------

    @torch.no_grad()
    def prune(self, threshold: float, *, spare_root_children: bool = False) -> int:
        """Remove every subtree whose leaves all have a top class probability ``<= threshold``.

        The pruned subtree's sibling takes the parent's place and the parent's prototype goes
        too. Optimizers must be rebuilt afterwards.

        Args:
            threshold: ``tree.pruning_threshold`` (0.01 in the reference).
            spare_root_children: Keep a weak child of the root, as the reference does (its
                relinking needs a grandparent); by default the sibling becomes the root.

        Returns:
            How many prototypes were removed.

        Raises:
            ValueError: Every leaf is weak, so nothing would be left.
        """
        weak = self.leaf_distributions().amax(dim=1) <= threshold
        if not bool((self.kept_leaves() & ~weak).any()):
            raise ValueError(
                f"every leaf's top class probability is at most {threshold}, so pruning would "
                "remove the whole tree; train the leaves longer or lower tree.pruning_threshold"
            )
        routes = tree_ops.prune_routes(self.node_route, weak, spare_root_children)
        self.node_route.copy_(routes)
        keep = routes[self.prototype_ids] == tree_ops.ROUTED
        removed = int((~keep).sum())
        self._select_prototypes(torch.nonzero(keep).flatten())
        return removed

    def _select_prototypes(self, index: torch.Tensor) -> None:
        index = index.to(self.prototypes.device)
        self.prototypes = nn.Parameter(self.prototypes[index].clone())
        self.prototype_ids = self.prototype_ids[index].clone()

    @torch.no_grad()
    def keep_prototypes(self, keep: torch.Tensor) -> None:
        """Reorder the prototypes to ``keep``, which must name every one of them.

        The projection code calls this to drop prototypes no class uses; in a tree every kept
        node has leaves, so nothing is dropped, and removing a routing node would need
        :meth:`prune`'s restructuring.

        Raises:
            ValueError: ``keep`` is not a permutation of the prototypes.
        """
        if sorted(keep.tolist()) != list(range(self.num_prototypes)):
            raise ValueError(
                "a tree's prototypes cannot be dropped one by one (their nodes route images); "
                "use prune() to remove subtrees"
            )
        self._select_prototypes(keep)

    def resize_pool(self, size: int) -> None:
        """Give the tree ``size`` prototype slots so a pruned state dict fits.

        Only shapes change: ``load_state_dict`` then fills in the prototypes, their node ids
        and the route codes.
        """
        if size != self.num_prototypes:
            depth = self.prototypes.shape[1]
            self.prototypes = nn.Parameter(self.prototypes.new_zeros(size, depth))
            self.prototype_ids = self.prototype_ids.new_zeros(size)

    def resize_for_state(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        """Shape this freshly built tree like the (possibly pruned) one ``state_dict`` came from.

        Raises:
            ValueError: The state dict is of a tree of another depth.
        """
        routes = state_dict["node_route"]
        if routes.shape != self.node_route.shape:
            raise ValueError(
                f"the state dict is of a tree with {routes.numel()} internal nodes; this one has "
                f"{self.node_route.numel()}: build it with the checkpoint's tree.depth"
            )
        self.resize_pool(state_dict["prototypes"].shape[0])
