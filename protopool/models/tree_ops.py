"""Tensor operations on a complete binary tree stored in breadth-first (heap) order.

Positions: internal nodes ``0 .. N-1`` with ``N = 2**depth - 1``, then the leaves, leaf ``j`` at
position ``N + j`` (left to right), ``M = 2N + 1`` positions in all. Position ``i`` has children
``2i + 1`` (the *absent* branch: the node's prototype is not in the image) and ``2i + 2`` (the
*present* branch). Every function works on one whole level at a time, so its Python loop runs
``depth`` times, never once per node.

Pruning never moves a node. Each internal node carries a route code (``node_route``, ``(N,)``):

* :data:`ROUTED`: the node routes by its own prototype;
* :data:`TO_ABSENT` / :data:`TO_PRESENT`: the node was pruned and its surviving child replaced
  it, so every image is sent to that child (similarity forced to 0 or 1);
* :data:`REMOVED`: the node lies inside a pruned subtree and is never reached.

A bypassed node passes its path probability on unchanged, so the heap layout routes exactly like
the smaller tree in which the sibling has taken the parent's place, and a node's leaves in the
pruned tree are simply the reachable leaves of its heap subtree.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

ROUTED = 0
TO_ABSENT = 1
TO_PRESENT = 2
REMOVED = 3

LOG_HALF = math.log(0.5)
_LOG_TWO = math.log(2.0)


def depth_of(num_nodes: int) -> int:
    """Depth of a complete tree with ``num_nodes`` internal nodes (``2**depth - 1``)."""
    depth = (num_nodes + 1).bit_length() - 1
    if 2**depth - 1 != num_nodes or depth < 1:
        raise ValueError(f"{num_nodes} internal nodes do not form a complete binary tree")
    return depth


def level_slice(level: int) -> slice:
    """Heap positions of the nodes at ``level`` (the root is level 0)."""
    return slice(2**level - 1, 2 ** (level + 1) - 1)


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """``log(1 - exp(-x))`` for ``x > 0``, accurate at both ends (Maechler, 2012); any shape.

    Each branch only sees inputs from its own side of ``log 2``: ``torch.where`` differentiates
    both, and an infinite gradient in the branch it discards would still turn into NaN.
    """
    small = x.clamp(max=_LOG_TWO)
    large = x.clamp(min=_LOG_TWO)
    return torch.where(
        x < _LOG_TWO, torch.log(-torch.expm1(-small)), torch.log1p(-torch.exp(-large))
    )


def scatter_to_heap(
    present: torch.Tensor,
    absent: torch.Tensor,
    prototype_ids: torch.Tensor,
    node_route: torch.Tensor,
    log_space: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Branch probabilities of every internal node, forced where a node was pruned.

    Args:
        present: Probability (or log) of the present branch per prototype ``(B, P)``.
        absent: Probability (or log) of the absent branch per prototype ``(B, P)``.
        prototype_ids: Heap position of each prototype's node ``(P,)``.
        node_route: Route code of each internal node ``(N,)``.
        log_space: The inputs, and so the outputs, are log-probabilities.

    Returns:
        ``(present, absent)``, each ``(B, N)``.
    """
    one, zero = (0.0, -math.inf) if log_space else (1.0, 0.0)
    forced_present = node_route == TO_PRESENT
    base_present = torch.full(node_route.shape, zero, dtype=present.dtype, device=present.device)
    base_present[forced_present] = one
    base_absent = torch.full_like(base_present, one)
    base_absent[forced_present] = zero
    batch = present.shape[0]
    heap_present = base_present.unsqueeze(0).repeat(batch, 1).index_copy(1, prototype_ids, present)
    heap_absent = base_absent.unsqueeze(0).repeat(batch, 1).index_copy(1, prototype_ids, absent)
    return heap_present, heap_absent


def leaf_path_probabilities(
    present: torch.Tensor, absent: torch.Tensor, log_space: bool
) -> torch.Tensor:
    """Probability of reaching each leaf, one level of the tree per step.

    Args:
        present: Present-branch probability (or log) of every internal node ``(B, N)``.
        absent: Absent-branch probability (or log) ``(B, N)``.
        log_space: Multiply by adding logs.

    Returns:
        Path probabilities (or their logs) of the leaves ``(B, L)``, left to right.
    """
    batch, num_nodes = present.shape
    reach = present.new_full((batch, 1), 0.0 if log_space else 1.0)
    for level in range(depth_of(num_nodes)):
        nodes = level_slice(level)
        if log_space:
            children = torch.stack([reach + absent[:, nodes], reach + present[:, nodes]], dim=2)
        else:
            children = torch.stack([reach * absent[:, nodes], reach * present[:, nodes]], dim=2)
        # (B, 2**level, 2) flattened interleaves [absent, present] per node: heap order.
        reach = children.flatten(1)
    return reach


def greedy_descent(
    present: torch.Tensor, node_route: torch.Tensor, log_space: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Follow the present branch wherever its probability exceeds 0.5 (the reference's rule).

    Args:
        present: Present-branch probability (or log) of every internal node ``(B, N)``.
        node_route: Route code of each internal node ``(N,)``.
        log_space: ``present`` holds logs, compared with ``log 0.5``.

    Returns:
        ``(leaf (B,), length (B,))``: the leaf reached and how many prototypes decided on the
        way (bypassed nodes do not count).
    """
    threshold = LOG_HALF if log_space else 0.5
    batch, num_nodes = present.shape
    node = torch.zeros(batch, dtype=torch.long, device=present.device)
    length = torch.zeros_like(node)
    routed = (node_route == ROUTED).to(present.device)
    for _ in range(depth_of(num_nodes)):
        length += routed[node].long()
        go_present = present.gather(1, node.unsqueeze(1)).squeeze(1) > threshold
        node = 2 * node + 1 + go_present.long()
    return node - num_nodes, length


def descend(node_route: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Which positions the pruned tree still reaches, and how deep they sit in it.

    Args:
        node_route: Route code of each internal node ``(N,)``.

    Returns:
        ``(reachable (M,) bool, depth (M,))`` where depth counts the routed (prototype) nodes
        above a position.
    """
    num_nodes = node_route.numel()
    reachable = torch.zeros(2 * num_nodes + 1, dtype=torch.bool, device=node_route.device)
    reachable[0] = True
    depth = torch.zeros(2 * num_nodes + 1, dtype=torch.long, device=node_route.device)
    for level in range(depth_of(num_nodes)):
        nodes, children = level_slice(level), level_slice(level + 1)
        route, here = node_route[nodes], reachable[nodes]
        to_absent = here & ((route == ROUTED) | (route == TO_ABSENT))
        to_present = here & ((route == ROUTED) | (route == TO_PRESENT))
        reachable[children] = torch.stack([to_absent, to_present], dim=1).flatten()
        depth[children] = (depth[nodes] + (route == ROUTED).long()).repeat_interleave(2)
    return reachable, depth


def gather_up(leaf_flags: torch.Tensor) -> torch.Tensor:
    """Whether any leaf under each position is flagged.

    Args:
        leaf_flags: Flags of the leaves ``(L, ...)`` (bool).

    Returns:
        ``(M, ...)``: for every position, the OR over the leaves of its subtree.
    """
    levels = [leaf_flags]
    current = leaf_flags
    while current.shape[0] > 1:
        current = current.view(current.shape[0] // 2, 2, *current.shape[1:]).any(dim=1)
        levels.append(current)
    return torch.cat(levels[::-1], dim=0)


def spread_down(flags: torch.Tensor) -> torch.Tensor:
    """Flag every position that is flagged or lies under a flagged one; ``(M,)`` to ``(M,)``."""
    spread = flags.clone()
    for level in range(depth_of(flags.numel() // 2)):
        spread[level_slice(level + 1)] |= spread[level_slice(level)].repeat_interleave(2)
    return spread


def prune_routes(
    node_route: torch.Tensor, weak_leaves: torch.Tensor, spare_root_children: bool
) -> torch.Tensor:
    """Route codes after removing every subtree whose reachable leaves are all weak.

    A routed node with exactly one weak child subtree is bypassed towards the other child, and
    the weak subtree is removed. A routed node whose two subtrees are both weak is itself inside
    a larger weak subtree, removed from above.

    Args:
        node_route: Current route code of each internal node ``(N,)``.
        weak_leaves: Leaves whose top class probability is at most the threshold ``(L,)``.
        spare_root_children: Never bypass the (current) root, as the reference does.

    Returns:
        The new route codes ``(N,)``. The caller checks that some reachable leaf is strong.
    """
    num_nodes = node_route.numel()
    reachable, depth = descend(node_route)
    strong = gather_up(reachable[num_nodes:] & ~weak_leaves)
    nodes = torch.arange(num_nodes, device=node_route.device)
    routed = (node_route == ROUTED) & reachable[:num_nodes]
    if spare_root_children:
        routed &= depth[:num_nodes] > 0
    absent_strong, present_strong = strong[2 * nodes + 1], strong[2 * nodes + 2]
    cut_absent = routed & ~absent_strong & present_strong
    cut_present = routed & absent_strong & ~present_strong
    cut = torch.zeros_like(strong)
    cut[2 * nodes[cut_absent] + 1] = True
    cut[2 * nodes[cut_present] + 2] = True
    routes = node_route.clone()
    routes[cut_absent] = TO_PRESENT
    routes[cut_present] = TO_ABSENT
    routes[spread_down(cut)[:num_nodes]] = REMOVED
    return routes


def derivative_free_update(
    leaf_logits: torch.Tensor,
    epoch_start_logits: torch.Tensor,
    leaf_probs: torch.Tensor,
    targets_onehot: torch.Tensor,
    y_pred: torch.Tensor,
    num_batches: int,
    log_space: bool,
) -> torch.Tensor:
    """One batch of the reference's derivative-free leaf rule (its ``train_epoch``).

    ``pi <- relu(pi - pi_0 / n) + sum_b pa_bl * softmax(pi_l)_c * t_bc / y_bc``, where ``pi``
    are the leaf logits now, ``pi_0`` those at the start of the epoch, ``n`` the number of
    batches in the epoch, ``pa_bl`` the probability that image ``b`` reaches leaf ``l``, ``t``
    the one-hot labels and ``y_bc`` the tree's (distributed) probability of class ``c``.

    Args:
        leaf_logits: ``pi`` ``(L, C)``.
        epoch_start_logits: ``pi_0`` ``(L, C)``.
        leaf_probs: ``pa`` ``(B, L)``, or its log when ``log_space``.
        targets_onehot: ``t`` ``(B, C)``.
        y_pred: ``y`` ``(B, C)``, or its log when ``log_space``.
        num_batches: ``n``.
        log_space: Sum in log space (the reference's ``--log_probabilities`` form).

    Returns:
        The new leaf logits ``(L, C)``.
    """
    is_target = targets_onehot > 0
    if log_space:
        # Non-target classes are set to -inf rather than computed, so -inf - (-inf) never occurs.
        minus_inf = torch.full_like(y_pred, -math.inf)
        log_ratio = torch.where(is_target, targets_onehot.log() - y_pred, minus_inf)
        terms = (
            leaf_probs.unsqueeze(2)
            + F.log_softmax(leaf_logits, dim=1).unsqueeze(0)
            + log_ratio.unsqueeze(1)
        )
        update = torch.logsumexp(terms, dim=0).exp()
    else:
        ratio = torch.where(is_target, targets_onehot / y_pred, torch.zeros_like(y_pred))
        update = torch.einsum("bl,lc,bc->lc", leaf_probs, F.softmax(leaf_logits, dim=1), ratio)
    # relu: the reference's guard against small negative values from rounding.
    return F.relu(leaf_logits - epoch_start_logits / num_batches) + update
