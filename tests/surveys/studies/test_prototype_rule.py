"""``prototype_rule``: which prototype each stimulus shows, checked on the real tiny runs.

A ProtoTree's stimulus must show a node on the image's own decision path: never a node the
image is routed away from, never the root. The path is recomputed here from the model's leaf
probabilities (the leaf of highest path probability, the run's inference being
``distributed``), independently of :func:`protopool.inference.tree_paths`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from protopool.data import open_dataset
from protopool.execution import StepSettings
from protopool.inference import class_slots, latent_maps, load_run, prepare_image
from surveys.common.checks import SpecError
from surveys.models import QuestionKind, Run, Stimulus, Study
from surveys.studies.inputs import image_id
from surveys.studies.lifecycle import do_save_study
from surveys.studies.spec import check_study_spec
from tests.surveys.studies.fixtures import LABELS, spec_data

pytestmark = pytest.mark.django_db


def _save(conditions: list[dict[str, str]], **overrides: object) -> Study:
    data = spec_data(conditions=conditions, gold_share=0, **overrides)
    return do_save_study(check_study_spec(data)).study


def _shown(study: Study) -> list[Stimulus]:
    regular = Stimulus.objects.filter(study=study, questions__kind=QuestionKind.REGULAR)
    return list(regular.select_related("prototype", "condition__run").distinct())


def _crop(run: Run, stimulus: Stimulus) -> list[float] | None:
    return stimulus.crop_box if run.config["data"].get("crop_to_bbox") else None


def _ancestors(leaf: int, num_nodes: int) -> list[int]:
    """Heap positions above a leaf, the root first."""
    position, above = num_nodes + leaf, []
    while position > 0:
        position = (position - 1) // 2
        above.append(position)
    return above[::-1]


@pytest.mark.parametrize("rule", ["random", "on_decision_path", "top_activated"])
def test_a_prototree_shows_a_node_on_the_images_path_never_the_root(
    catalogue: dict[str, Run], rule: str
) -> None:
    # given a study of the tree alone (depth 2: the root and its two children)
    study = _save([{"run": LABELS["tree"], "label": "ProtoTree"}], prototype_rule=rule)
    run = catalogue["tree"]
    loaded = load_run(run.run_dir)
    tree = loaded.model
    num_nodes = int(tree.node_route.numel())
    assert loaded.config.tree.inference == "distributed"
    folder = Path(run.dataset_dir)
    for stimulus in _shown(study):
        prepared = prepare_image(
            folder / stimulus.image_id, loaded.config.data, _crop(run, stimulus)
        )
        with torch.no_grad():
            leaf = int(tree(prepared.tensor[None]).leaf_probs.argmax(dim=1))
        path = _ancestors(leaf, num_nodes)
        node = stimulus.prototype.original_index  # a tree prototype's heap position
        # then the node is on the image's path, below the root
        assert node in path[1:], (stimulus.image_id, node, path)
        assert node != path[0] == 0
        # and with depth 2 that is exactly the child the image is routed to
        assert node == path[1]


def test_top_activated_is_the_class_prototype_most_activated_on_the_image(
    catalogue: dict[str, Run],
) -> None:
    study = _save([{"run": LABELS["pool"], "label": "ProtoPool"}], prototype_rule="top_activated")
    run = catalogue["pool"]
    loaded = load_run(run.run_dir)
    settings = StepSettings(torch.device("cpu"), "none")
    folder = Path(run.dataset_dir)
    index = open_dataset(folder)
    labels = {image_id(s, folder): s.label for s in [*index.train, *index.test]}
    for stimulus in _shown(study):
        linked = run.prototypes.filter(classes__index=labels[stimulus.image_id])
        prepared = prepare_image(
            folder / stimulus.image_id, loaded.config.data, _crop(run, stimulus)
        )
        # the activation at the best latent location, where the model compares
        maps = latent_maps(loaded.model, prepared.tensor[None], settings)[0]
        peak = {p: float(maps[p].max()) for p in linked.values_list("index", flat=True)}
        assert stimulus.prototype.index == max(peak, key=peak.__getitem__)


def test_on_decision_path_shows_a_slot_of_the_class_protopool_predicts(
    catalogue: dict[str, Run],
) -> None:
    study = _save(
        [{"run": LABELS["pool"], "label": "ProtoPool"}], prototype_rule="on_decision_path"
    )
    run = catalogue["pool"]
    loaded = load_run(run.run_dir)
    slots = class_slots(loaded)
    folder = Path(run.dataset_dir)
    for stimulus in _shown(study):
        prepared = prepare_image(
            folder / stimulus.image_id, loaded.config.data, _crop(run, stimulus)
        )
        with torch.no_grad():
            predicted = int(loaded.model(prepared.tensor[None]).logits.argmax(dim=1))
        assert stimulus.prototype.index in slots[loaded.class_names[predicted]]


def test_projection_source_shows_each_prototype_on_the_image_it_was_projected_onto(
    catalogue: dict[str, Run],
) -> None:
    conditions = [
        {"run": LABELS["pool"], "label": "ProtoPool"},
        {"run": LABELS["pnet"], "label": "ProtoPNet-sim"},
    ]
    study = _save(
        conditions, prototype_rule="projection_source", question_sets="fixed",
        questions_per_dataset=2,
    )  # fmt: skip
    folder = Path(catalogue["pool"].dataset_dir)
    index = open_dataset(folder)
    path_of = {s.image_id: image_id(s, folder) for s in [*index.train, *index.test]}
    shown = _shown(study)
    assert sorted(s.condition.label for s in shown) == ["ProtoPNet-sim", "ProtoPool"]
    for stimulus in shown:
        assert stimulus.image_id == path_of[stimulus.prototype.provenance["image_id"]]
    # no picture is shown twice, so no one sees one image under two conditions
    assert len({s.image_id for s in shown}) == 2


def test_projection_source_keeps_only_tree_nodes_on_their_source_images_path(
    catalogue: dict[str, Run],
) -> None:
    study = _save(
        [{"run": LABELS["tree"], "label": "ProtoTree"}], prototype_rule="projection_source",
        questions_per_dataset=1,
    )  # fmt: skip
    [stimulus] = _shown(study)
    assert stimulus.prototype.original_index != 0


def test_an_unknown_rule_is_a_clear_error(catalogue: dict[str, Run]) -> None:
    with pytest.raises(SpecError, match="prototype_rule: must be one of random, top_activated"):
        check_study_spec(spec_data(prototype_rule="best"))
