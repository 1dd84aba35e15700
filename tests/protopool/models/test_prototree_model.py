"""ProtoTree model: routing by hand, leaf updates, pruning, class constraints, state, precision."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from protopool.config import ModelConfig, TreeConfig
from protopool.data.base import Sample
from protopool.execution import StepSettings
from protopool.models import InputShapeError, tree_ops
from protopool.models.prototree import INFERENCE_MODES, ProtoTree
from protopool.projection import project_prototypes

SIZE = 32
SPACES = [pytest.param(False, id="prob"), pytest.param(True, id="log")]


def make_tree(depth: int = 2, num_classes: int = 3, **tree_fields: object) -> ProtoTree:
    model = ModelConfig(kind="prototree", backbone="tiny", weights="none", prototype_depth=8)
    tree = TreeConfig(depth=depth, **tree_fields)  # type: ignore[arg-type]
    return ProtoTree(model, tree, num_classes, image_size=SIZE)


def squared_for(similarities: list[list[float]]) -> torch.Tensor:
    """Squared distances whose ProtoTree similarity exp(-sqrt(d)) is the given value."""
    return torch.tensor(similarities).log().pow(2)


def set_leaves(model: ProtoTree, logits: torch.Tensor) -> None:
    with torch.no_grad():
        model.leaf_logits.copy_(logits)


def peaked(classes: list[int | None], num_classes: int) -> torch.Tensor:
    """Leaf logits: 5 on the given class (max probability ~0.98), all zero (uniform) for None."""
    logits = torch.zeros(len(classes), num_classes)
    for leaf, c in enumerate(classes):
        if c is not None:
            logits[leaf, c] = 5.0
    return logits


# --- routing ----------------------------------------------------------------------------------

# Two images, similarities of nodes (0, 1, 2) of a depth-2 tree.
S = [[0.8, 0.3, 0.6], [0.55, 0.9, 0.52]]
# pa(leaf) = product of s (present) and 1 - s (absent) along the path, by hand.
LEAF_PROBS = torch.tensor(
    [[0.2 * 0.7, 0.2 * 0.3, 0.8 * 0.4, 0.8 * 0.6], [0.045, 0.405, 0.264, 0.286]]
)
GREEDY = [3, 3]  # s0 > 0.5 then s2 > 0.5 for both images
SAMPLE_MAX = [3, 1]  # the largest entry of each row above
LEAF_LOGITS = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0], [0.5, 0.5, -1.0]])


@pytest.mark.parametrize("log_space", SPACES)
@pytest.mark.parametrize("mode", INFERENCE_MODES)
def test_depth_two_routing_matches_hand_values(mode: str, log_space: bool) -> None:
    model = make_tree(depth=2, log_probabilities=log_space)
    set_leaves(model, LEAF_LOGITS)
    distributions = LEAF_LOGITS.softmax(dim=1)

    routing = model.route(squared_for(S), mode)

    assert torch.allclose(routing.leaf_probs, LEAF_PROBS, atol=1e-5)
    assert torch.allclose(routing.log_leaf_probs, LEAF_PROBS.log(), atol=1e-4)
    if mode == "distributed":
        expected = (LEAF_PROBS @ distributions).log()
    else:
        expected = distributions[GREEDY if mode == "greedy" else SAMPLE_MAX].log()
    assert torch.allclose(routing.logits, expected, atol=1e-5)


@pytest.mark.parametrize("log_space", SPACES)
def test_leaf_helpers_pick_the_greedy_and_the_most_probable_leaf(log_space: bool) -> None:
    model = make_tree(depth=2, log_probabilities=log_space)
    assert model.greedy_leaves(squared_for(S)).tolist() == GREEDY
    assert model.max_leaves(LEAF_PROBS).tolist() == SAMPLE_MAX
    assert model.greedy_path_lengths(squared_for(S)).tolist() == [2, 2]


def recursive_leaf_probs(
    s: torch.Tensor, node: int, depth: int, reach: torch.Tensor
) -> list[torch.Tensor]:
    """The reference's recursion, one node at a time: left (absent) before right (present)."""
    if depth == 0:
        return [reach]
    return recursive_leaf_probs(s, 2 * node + 1, depth - 1, reach * (1 - s[:, node])) + (
        recursive_leaf_probs(s, 2 * node + 2, depth - 1, reach * s[:, node])
    )


@pytest.mark.parametrize("log_space", SPACES)
def test_forward_matches_a_recursive_tree_on_explicit_distances(log_space: bool) -> None:
    model = make_tree(depth=3, num_classes=4, log_probabilities=log_space).eval()
    set_leaves(model, torch.randn(8, 4))
    images = torch.randn(3, 3, SIZE, SIZE)
    with torch.no_grad():
        out = model(images, "distributed")
        latent = model.latent(images)
        diff = latent[:, None] - model.prototypes[None, :, :, None, None]  # (B, P, D, H, W)
        dist = diff.pow(2).sum(dim=2).flatten(2).amin(dim=2).sqrt()  # non-squared, (B, P)
    leaf_probs = torch.stack(recursive_leaf_probs(torch.exp(-dist), 0, 3, torch.ones(3)), dim=1)
    expected = (leaf_probs @ model.leaf_distributions()).log()
    assert torch.allclose(out.leaf_probs, leaf_probs, rtol=1e-4, atol=1e-6)
    assert torch.allclose(out.logits, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("log_space", SPACES)
@pytest.mark.parametrize("mode", INFERENCE_MODES)
def test_forward_shapes_finite_and_leaf_probabilities_sum_to_one(
    mode: str, log_space: bool
) -> None:
    model = make_tree(depth=3, num_classes=5, log_probabilities=log_space)
    out = model(torch.randn(4, 3, SIZE, SIZE), mode)
    assert out.logits.shape == (4, 5)
    assert out.min_distances.shape == (4, 7)
    assert out.leaf_probs.shape == out.log_leaf_probs.shape == (4, 8)
    assert out.distances.shape == (4, 7, 4, 4)
    for tensor in out:
        assert not torch.isnan(tensor).any()
    assert torch.isfinite(out.logits).all()
    assert torch.allclose(out.leaf_probs.sum(dim=1), torch.ones(4), atol=1e-5)
    assert torch.allclose(out.logits.exp().sum(dim=1), torch.ones(4), atol=1e-5)


def test_initialisation_follows_the_reference() -> None:
    torch.manual_seed(0)
    model = make_tree(depth=6)
    assert model.prototypes.shape == (63, 8)
    assert model.prototypes.mean().item() == pytest.approx(0.5, abs=0.01)
    assert model.prototypes.std().item() == pytest.approx(0.1, abs=0.01)
    assert torch.equal(model.leaf_logits, torch.zeros(64, 3))
    assert model.prototype_ids.tolist() == list(range(63))
    assert model.add_on[0].bias is None


def test_log1mexp_is_accurate_on_both_sides_of_log_two() -> None:
    x = torch.tensor([1e-6, 0.1, 0.69, 0.7, 5.0, 40.0], dtype=torch.float64)
    assert torch.allclose(tree_ops.log1mexp(x), torch.log(1 - torch.exp(-x)), rtol=1e-9)


# --- gradients and precision -----------------------------------------------------------------


@pytest.mark.parametrize("log_space", SPACES)
@pytest.mark.parametrize("leaf_update", ["derivative_free", "gradient"])
def test_every_trainable_parameter_receives_a_gradient(leaf_update: str, log_space: bool) -> None:
    model = make_tree(depth=3, leaf_update=leaf_update, log_probabilities=log_space)
    out = model(torch.randn(4, 3, SIZE, SIZE), "distributed")
    (out.logits.sum() + out.min_distances.sum()).backward()
    names = [n for n, _ in model.named_parameters()]
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert missing == []
    assert ("leaf_logits" in names) == (leaf_update == "gradient")
    if leaf_update == "derivative_free":
        assert not model.leaf_logits.requires_grad and model.leaf_logits.grad is None


def test_bf16_autocast_leaves_latent_distances_and_logits_in_fp32() -> None:
    model = make_tree(depth=2)
    images = torch.randn(2, 3, SIZE, SIZE)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        latent = model.latent(images)
        out = model(images)
    assert latent.dtype == torch.float32
    for tensor in out:
        assert tensor.dtype == torch.float32


def test_an_unknown_mode_or_image_size_is_a_clear_error() -> None:
    model = make_tree(depth=2)
    with pytest.raises(ValueError, match="distributed, sample_max, greedy"):
        model(torch.randn(1, 3, SIZE, SIZE), mode="soft")
    with pytest.raises(ValueError, match="'soft'"):
        model.route(squared_for(S), "soft")
    with pytest.raises(InputShapeError, match="32x32"):
        model(torch.randn(1, 3, 48, 48))


# --- derivative-free leaves -------------------------------------------------------------------


def test_one_leaf_update_on_a_toy_batch_matches_the_hand_computation() -> None:
    model = make_tree(depth=1, num_classes=2)
    model.begin_leaf_epoch()
    leaf_probs = torch.tensor([[0.25, 0.75], [1.0, 0.0]])
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # Uniform leaves predict (0.5, 0.5) for both images, so the update term is sum_b pa * t.
    y_pred = torch.full((2, 2), 0.5)
    model.update_leaves(leaf_probs, targets, y_pred, num_batches=10)
    assert torch.allclose(model.leaf_logits, torch.tensor([[0.25, 1.0], [0.75, 0.0]]))


def loop_update(
    pi: torch.Tensor, pi0: torch.Tensor, pa: torch.Tensor, t: torch.Tensor, y: torch.Tensor, n: int
) -> torch.Tensor:
    """The reference's rule, leaf by leaf and class by class."""
    new = torch.zeros_like(pi)
    for leaf in range(pi.shape[0]):
        dist = pi[leaf].softmax(dim=0)
        for c in range(pi.shape[1]):
            update = 0.0
            for b in range(pa.shape[0]):
                update += float(pa[b, leaf] * dist[c] * t[b, c] / y[b, c])
            new[leaf, c] = max(float(pi[leaf, c] - pi0[leaf, c] / n), 0.0) + update
    return new


@pytest.mark.parametrize("log_space", SPACES)
def test_leaf_updates_decay_by_the_epoch_start_values(log_space: bool) -> None:
    model = make_tree(depth=2, num_classes=3)
    pi0 = torch.tensor([[2.0, 0.0, 1.0], [0.0, 0.5, 0.0], [0.1, 0.2, 3.0], [1.0, 1.0, 1.0]])
    set_leaves(model, pi0)
    model.begin_leaf_epoch()
    pa = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1], [0.0, 0.5, 0.25, 0.25]])
    t = torch.eye(3)[[0, 2, 1]]
    expected = pi0
    for _ in range(2):  # the second batch still subtracts pi0 / n, not the updated values
        y = pa @ model.leaf_distributions()
        expected = loop_update(expected, pi0, pa, t, y, n=4)
        args = (pa.log(), t, y.log()) if log_space else (pa, t, y)
        model.update_leaves(*args, num_batches=4, log_space=log_space)
        assert torch.allclose(model.leaf_logits, expected, atol=1e-5)


def test_leaf_updates_need_an_epoch_start_and_derivative_free_leaves() -> None:
    pa, t = torch.full((1, 4), 0.25), torch.eye(3)[:1]
    with pytest.raises(RuntimeError, match="begin_leaf_epoch"):
        make_tree(depth=2).update_leaves(pa, t, torch.full((1, 3), 1 / 3), 1)
    with pytest.raises(RuntimeError, match="gradient"):
        make_tree(depth=2, leaf_update="gradient").update_leaves(pa, t, t, 1)


# --- pruning ----------------------------------------------------------------------------------

# Depth 3, 4 classes, threshold 0.3: uniform leaves (None, max 0.25) are weak.
# Leaves 0 and 1 (node 3's subtree) go, so node 1 is bypassed to node 4; leaf 5 goes, so node 5
# is bypassed to leaf 4.
PRUNED_LEAVES: list[int | None] = [None, None, 1, 2, 3, None, 1, 2]


def pruned_tree(log_space: bool = False) -> tuple[ProtoTree, torch.Tensor, int]:
    model = make_tree(depth=3, num_classes=4, log_probabilities=log_space)
    set_leaves(model, peaked(PRUNED_LEAVES, 4))
    before = model.prototypes.detach().clone()
    removed = model.prune(0.3)
    return model, before, removed


def test_pruning_removes_exactly_the_weak_subtrees() -> None:
    model, before, removed = pruned_tree()
    assert removed == 3
    assert model.prototype_ids.tolist() == [0, 2, 4, 6]
    assert torch.equal(model.prototypes.detach(), before[[0, 2, 4, 6]])
    routed, absent, present, gone = (
        tree_ops.ROUTED,
        tree_ops.TO_ABSENT,
        tree_ops.TO_PRESENT,
        tree_ops.REMOVED,
    )
    assert model.node_route.tolist() == [routed, present, routed, gone, routed, absent, routed]
    assert model.kept_leaves().tolist() == [False, False, True, True, True, False, True, True]
    assert model.leaf_depths().tolist() == [-1, -1, 2, 2, 2, -1, 3, 3]
    assert model.tree_statistics() == {
        "num_leaves": 5,
        "num_internal": 4,
        "depth": 3,
        "mean_path_length": pytest.approx(2.4),
    }
    assert model.prune(0.3) == 0


def test_pruning_removes_the_internal_nodes_of_a_deep_weak_subtree() -> None:
    model = make_tree(depth=4, num_classes=4)
    # Leaves 0-3 lie under node 3 (whose children 7 and 8 are internal): all four nodes of that
    # subtree and the bypassed node 1 lose their prototypes.
    set_leaves(model, peaked([None] * 4 + [1] * 12, 4))
    assert model.prune(0.3) == 4
    gone = {1, 3, 7, 8}
    assert model.prototype_ids.tolist() == [n for n in range(15) if n not in gone]
    removed = [n for n, r in enumerate(model.node_route.tolist()) if r == tree_ops.REMOVED]
    assert removed == [3, 7, 8]
    assert model.tree_statistics()["num_leaves"] == 12


@pytest.mark.parametrize("log_space", SPACES)
def test_the_sibling_replaces_the_pruned_parent_in_routing(log_space: bool) -> None:
    model, _, _ = pruned_tree(log_space)
    # Similarities of the kept nodes 0, 2, 4, 6 for two images.
    s = torch.tensor([[0.3, 0.9, 0.7, 0.2], [0.6, 0.8, 0.1, 0.55]])
    s0, s2, s4, s6 = s.unbind(dim=1)
    expected = torch.zeros(2, 8)
    expected[:, 2], expected[:, 3] = (1 - s0) * (1 - s4), (1 - s0) * s4
    expected[:, 4] = s0 * (1 - s2)
    expected[:, 6], expected[:, 7] = s0 * s2 * (1 - s6), s0 * s2 * s6
    routing = model.route(squared_for(s.tolist()), "distributed")
    assert torch.allclose(routing.leaf_probs, expected, atol=1e-5)
    assert torch.allclose(routing.leaf_probs.sum(dim=1), torch.ones(2), atol=1e-5)
    # Image 0 goes absent at the root, straight through bypassed node 1 to node 4, then present.
    assert model.greedy_leaves(squared_for(s.tolist())).tolist() == [3, 7]
    assert model.greedy_path_lengths(squared_for(s.tolist())).tolist() == [2, 3]


@pytest.mark.parametrize("log_space", SPACES)
def test_a_pruned_tree_routes_like_the_equivalent_smaller_tree(log_space: bool) -> None:
    big = make_tree(depth=2, num_classes=4, log_probabilities=log_space).eval()
    set_leaves(big, peaked([None, None, 1, 3], 4))
    leaves = big.leaf_logits[2:].clone()
    assert big.prune(0.3) == 2  # node 1's leaves are weak, so the root and node 1 go
    small = make_tree(depth=1, num_classes=4, log_probabilities=log_space).eval()
    small.features.load_state_dict(big.features.state_dict())
    small.add_on.load_state_dict(big.add_on.state_dict())
    with torch.no_grad():
        small.prototypes.copy_(big.prototypes)
    set_leaves(small, leaves)
    images = torch.randn(3, 3, SIZE, SIZE)
    for mode in INFERENCE_MODES:
        with torch.no_grad():
            ours, theirs = big(images, mode), small(images, mode)
        assert torch.allclose(ours.logits, theirs.logits, atol=1e-6)
        assert torch.allclose(ours.leaf_probs[:, 2:], theirs.leaf_probs, atol=1e-6)
        assert not ours.leaf_probs[:, :2].any()
    assert big.tree_statistics() == small.tree_statistics()


@pytest.mark.parametrize("log_space", SPACES)
def test_a_pruned_tree_has_finite_gradients(log_space: bool) -> None:
    model, _, _ = pruned_tree(log_space)
    out = model(torch.randn(3, 3, SIZE, SIZE), "distributed")
    out.logits.sum().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
    assert model.prototypes.grad is not None and model.prototypes.grad.abs().sum(dim=1).all()


def test_the_reference_spares_the_root_children_on_request() -> None:
    model = make_tree(depth=2, num_classes=4)
    set_leaves(model, peaked([None, None, 1, 3], 4))
    assert model.prune(0.3, spare_root_children=True) == 0
    assert model.prune(0.3) == 2
    assert model.prototype_ids.tolist() == [2]


def test_pruning_a_tree_of_weak_leaves_only_is_refused() -> None:
    model = make_tree(depth=2, num_classes=4)  # uniform leaves: max 0.25
    with pytest.raises(ValueError, match="pruning_threshold"):
        model.prune(0.3)
    assert model.num_prototypes == 3


# --- class constraints and projection ---------------------------------------------------------


def test_node_classes_are_the_top_classes_of_the_leaves_below() -> None:
    model = make_tree(depth=2, num_classes=3)
    set_leaves(model, peaked([0, 2, 2, 1], 3))
    expected = torch.tensor([[True, True, False], [True, False, True], [True, True, True]])
    assert torch.equal(model.node_classes(), expected)  # (C, P): rows are classes
    assert torch.equal(model.prototype_classes(), expected)


def test_node_classes_ignore_pruned_leaves() -> None:
    model, _, _ = pruned_tree()  # pruned leaves are uniform, argmax class 0
    # Kept nodes 0, 2, 4, 6 over leaves {2,3,4,6,7}, {4,6,7}, {2,3}, {6,7}.
    expected = torch.tensor(
        [
            [False] * 4,
            [True, True, True, True],
            [True, True, True, True],
            [True, True, False, False],
        ]
    )
    assert torch.equal(model.node_classes(), expected)


def test_projection_code_moves_pruned_tree_prototypes_onto_allowed_patches() -> None:
    model, _, _ = pruned_tree()
    model.eval()
    images, labels = torch.randn(6, 3, SIZE, SIZE), torch.tensor([1, 2, 3, 1, 2, 3])
    samples = [Sample(f"img{i}", Path(f"/data/img{i}.png"), int(y)) for i, y in enumerate(labels)]
    allowed = model.node_classes()
    before = model.prototypes.detach().clone()
    result = project_prototypes(
        model,
        [(images, labels)],
        samples,
        ["a", "b", "c", "d"],
        StepSettings(torch.device("cpu")),
    )
    assert result.pruned == [] and model.prototype_ids.tolist() == [0, 2, 4, 6]
    with torch.no_grad():
        latent = model.latent(images)
    for record in result.prototypes:
        assert allowed[labels[int(record.image_id[3:])], record.prototype]
        h, w = record.patch
        patch = latent[int(record.image_id[3:]), :, h, w]
        assert torch.allclose(model.prototypes[record.prototype], patch)
        # The nearest allowed patch, by exhaustive search with the prototype as it was.
        hosts = allowed[labels, record.prototype]
        diff = latent[hosts] - before[record.prototype][None, :, None, None]
        nearest = diff.pow(2).sum(dim=1).min()
        assert record.distance == pytest.approx(float(nearest), rel=1e-4, abs=1e-5)


def test_keep_prototypes_only_reorders() -> None:
    model = make_tree(depth=2)
    before = model.prototypes.detach().clone()
    model.keep_prototypes(torch.tensor([2, 0, 1]))
    assert model.prototype_ids.tolist() == [2, 0, 1]
    assert torch.equal(model.prototypes.detach(), before[[2, 0, 1]])
    with pytest.raises(ValueError, match="prune"):
        model.keep_prototypes(torch.tensor([0, 1]))


# --- state ------------------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["resize_for_state", "resize_pool"])
def test_a_pruned_state_dict_loads_into_a_freshly_built_tree(via: str) -> None:
    model, _, _ = pruned_tree()
    model.eval()
    state = model.state_dict()
    fresh = make_tree(depth=3, num_classes=4).eval()
    if via == "resize_for_state":
        fresh.resize_for_state(state)
    else:  # what the checkpoint code does for ProtoPool
        fresh.resize_pool(state["prototypes"].shape[0])
    fresh.load_state_dict(state)
    images = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        for mode in INFERENCE_MODES:
            assert torch.equal(fresh(images, mode).logits, model(images, mode).logits)
    assert fresh.tree_statistics() == model.tree_statistics()
    assert fresh.prototype_ids.tolist() == [0, 2, 4, 6]


def test_a_state_dict_of_another_depth_is_refused() -> None:
    state = make_tree(depth=2).state_dict()
    with pytest.raises(ValueError, match="tree.depth"):
        make_tree(depth=3).resize_for_state(state)


def test_route_codes_of_a_fresh_tree_are_all_routed() -> None:
    model = make_tree(depth=3)
    assert model.node_route.tolist() == [tree_ops.ROUTED] * 7
    assert model.tree_statistics() == {
        "num_leaves": 8,
        "num_internal": 7,
        "depth": 3,
        "mean_path_length": 3.0,
    }
    assert math.isclose(float(model.leaf_distributions().sum()), 8.0, rel_tol=1e-6)
