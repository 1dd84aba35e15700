"""Explanations: local sums, shared prototypes, sharing statistics, the class graph and the
gallery, on tiny SynthBirds runs and hand-assigned models."""

from __future__ import annotations

import json
import math
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch

from protopool.cli import main
from protopool.execution import StepSettings
from protopool.explanations import (
    ExplanationError,
    compare_classes,
    edges_csv,
    explain_image,
    graphml,
    histogram_csv,
    load_names,
    prototype_use,
    sharing_statistics,
    similarity_graph,
    step_settings,
    summary_csv,
)
from protopool.explanations.tree_render import greedy_path
from protopool.inference.maps import prepare_image
from protopool.inference.runs import Run, class_slots, load_run
from protopool.models import ProtoPool, build_model
from tests.protopool.fixtures import assign, first_source, tiny_config

CPU = StepSettings(torch.device("cpu"))


GRAPHML = "{http://graphml.graphdrawing.org/xmlns}"


def hand_run(assignment: list[list[int]]) -> Run:
    """A ProtoPool whose class c holds exactly the prototypes ``assignment[c]``."""
    config = tiny_config()
    model = build_model(config, num_classes=len(assignment)).eval()
    assign(model, assignment)
    return Run(model, config, [f"class {c}" for c in range(len(assignment))])


# --- local explanations -----------------------------------------------------------------------


def _model_logits(run: Run, image: str, box: list[float] | None) -> torch.Tensor:
    batch = prepare_image(image, run.config.data, box).tensor[None]
    with torch.no_grad():
        return run.model(batch).logits[0]


def test_the_weighted_sum_of_each_top_class_is_the_models_logit(pool_run: Path) -> None:
    run = load_run(pool_run)
    image, box = first_source(pool_run)
    explanation = explain_image(run, image, step_settings(run), top=3, crop_box=box)
    logits = _model_logits(run, image, box)
    assert [c.label for c in explanation.classes] == logits.topk(3).indices.tolist()
    slots = class_slots(run)
    for terms in explanation.classes:
        total = sum(term.contribution for term in terms.terms) + terms.other_slots
        assert total == pytest.approx(float(logits[terms.label]), abs=1e-4)
        assert terms.weighted_sum == pytest.approx(terms.logit, abs=1e-4)
        assert [t.prototype for t in terms.terms if t.prototype is not None] == slots[terms.name]
        for term in terms.terms:
            assert term.contribution == pytest.approx(term.similarity * term.weight)
    assert explanation.predicted == run.class_names[int(logits.argmax())]
    json.dumps(explanation.to_dict())


def test_a_dense_last_layer_is_accounted_for_by_the_other_slots_term(pool_run: Path) -> None:
    run = load_run(pool_run)
    with torch.no_grad():
        run.model.last_layer.weight.normal_()
    image, box = first_source(pool_run)
    explanation = explain_image(run, image, CPU, top=3, crop_box=box)
    logits = _model_logits(run, image, box)
    for terms in explanation.classes:
        own = sum(term.contribution for term in terms.terms)
        assert abs(terms.other_slots) > 1e-3
        assert own + terms.other_slots == pytest.approx(float(logits[terms.label]), abs=1e-4)


def test_a_tree_is_explained_by_its_greedy_path_and_leaf(tree_run: Path) -> None:
    run = load_run(tree_run)
    image, _ = first_source(tree_run)
    explanation = explain_image(run, image, CPU, top=2)
    decision = explanation.tree
    assert decision is not None and explanation.classes == []
    path, similarity = greedy_path(run, Path(image))
    assert [step.node for step in decision.steps] + [decision.leaf_node] == path
    for step in decision.steps:
        if step.prototype is not None:
            assert step.similarity == pytest.approx(similarity[step.node], abs=1e-5)
            assert step.branch == ("present" if step.similarity > 0.5 else "absent")
    leaves = run.model.leaf_distributions()[decision.leaf]
    assert decision.greedy_class == run.class_names[int(leaves.argmax())]
    batch = prepare_image(image, run.config.data).tensor[None]
    with torch.no_grad():
        distributed = run.model(batch, mode="distributed").logits[0].exp()
    assert [c.label for c in decision.distributed] == distributed.topk(2).indices.tolist()
    for entry in decision.distributed:
        assert entry.probability == pytest.approx(float(distributed[entry.label]), abs=1e-5)


# --- shared prototypes ------------------------------------------------------------------------


def test_two_classes_share_and_differ_as_their_slots_say() -> None:
    run = hand_run([[0, 2], [1, 2], [3, 4]])
    first = compare_classes(run, "class 0", "class 1")
    assert (first.shared, first.only_first, first.only_second) == ([2], [0], [1])
    apart = compare_classes(run, "class 0", "class 2")
    assert (apart.shared, apart.only_first, apart.only_second) == ([], [0, 2], [3, 4])


def test_a_prototype_lists_every_class_and_slot_using_it() -> None:
    run = hand_run([[0, 2], [1, 2], [2, 4]])
    use = prototype_use(run, 2, {}, CPU)
    assert [(c.name, c.slots) for c in use.classes] == [
        ("class 0", [1]),
        ("class 1", [1]),
        ("class 2", [0]),
    ]
    assert use.source_image is None and use.examples == []
    assert [c.name for c in prototype_use(run, 5, {}, CPU).classes] == []


def test_unknown_classes_and_prototypes_are_refused_with_a_hint() -> None:
    run = hand_run([[0, 2], [1, 2], [3, 4]])
    with pytest.raises(ExplanationError, match="did you mean 'class 1'"):
        compare_classes(run, "class 0", "clas 1")
    with pytest.raises(ExplanationError, match="0 to 5"):
        prototype_use(run, 6, {}, CPU)


# --- sharing statistics and the class graph ---------------------------------------------------


def test_sharing_statistics_across_runs_match_a_hand_count() -> None:
    # Run a: prototypes 0, 1, 3, 4 in one class each, 2 in two, 5 unused -> {1: 4, 2: 1}.
    # Run b: prototypes 0 and 1 in all three classes -> {3: 2}.
    a = hand_run([[0, 2], [1, 2], [3, 4]]).model
    b = hand_run([[0, 1], [0, 1], [0, 1]]).model
    assert isinstance(a, ProtoPool) and isinstance(b, ProtoPool)
    statistics = sharing_statistics({"a": a, "b": b})
    first, second = statistics.runs
    assert first.histogram == {1: 4, 2: 1} and second.histogram == {3: 2}
    assert first.mean == pytest.approx(1.2) and first.sd == pytest.approx(math.sqrt(0.2))
    assert second.mean == pytest.approx(3.0) and second.sd == pytest.approx(0.0)
    assert statistics.classes == [1, 2, 3]
    assert statistics.histogram_mean == pytest.approx([2.0, 0.5, 1.0])
    # Sample sd of two values x, y is |x - y| / sqrt(2).
    sds = [abs(4 - 0), abs(1 - 0), abs(0 - 2)]
    assert statistics.histogram_sd == pytest.approx([d / math.sqrt(2) for d in sds])
    assert statistics.mean_of_means == pytest.approx(2.1)
    assert statistics.sd_of_means == pytest.approx(1.8 / math.sqrt(2))
    assert "a,1,4\na,2,1\na,3,0\nb,1,0\nb,2,0\nb,3,2\n" in histogram_csv(statistics)
    assert summary_csv(statistics).splitlines()[1].startswith("1,2,2.82843,2")


def test_a_single_run_has_no_spread_across_runs() -> None:
    model = hand_run([[0, 2], [1, 2], [3, 4]]).model
    assert isinstance(model, ProtoPool)
    statistics = sharing_statistics({"only": model})
    assert statistics.sd_of_means is None and statistics.histogram_sd == [None, None]


def test_graphml_has_one_edge_per_pair_of_classes_sharing_prototypes() -> None:
    run = hand_run([[0, 2], [1, 2], [2, 1]])
    assert isinstance(run.model, ProtoPool)
    graph = similarity_graph(run.model, run.class_names)
    root = ET.fromstring(graphml(graph))
    keys = {key.get("id"): key.get("attr.name") for key in root.iter(f"{GRAPHML}key")}
    assert keys == {
        "name": "name",
        "prototypes": "prototypes",
        "weight": "weight",
        "shared": "shared",
    }
    nodes = {
        node.get("id"): {data.get("key"): data.text for data in node}
        for node in root.iter(f"{GRAPHML}node")
    }
    assert nodes["c2"] == {"name": "class 2", "prototypes": "2"}
    edges = {
        (edge.get("source"), edge.get("target")): {d.get("key"): d.text for d in edge}
        for edge in root.iter(f"{GRAPHML}edge")
    }
    assert edges == {
        ("c0", "c1"): {"weight": "1", "shared": "2"},
        ("c0", "c2"): {"weight": "1", "shared": "2"},
        ("c1", "c2"): {"weight": "2", "shared": "1 2"},
    }
    assert edges_csv(graph).splitlines()[-1] == "class 1,class 2,2,1 2"


# --- names.json -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        {"schema": 1, "prototypes": [{"prototype": 1, "name": "red wing", "confidence": 0.8}]},
        {"prototypes": {"1": {"name": "red wing", "confidence": "0.8"}}},
        [{"index": 1, "proposed_name": "red wing", "score": 0.8}, {"name": "no index"}],
        {"1": {"name": "red wing", "confidence": 0.8}, "2": None, "x": "bad index"},
    ],
    ids=["records", "mapping", "list-other-keys", "plain-mapping"],
)
def test_names_are_read_from_any_reasonable_layout(tmp_path: Path, content: object) -> None:
    (tmp_path / "names.json").write_text(json.dumps(content))
    names = load_names(tmp_path)
    assert names.describe(1) == "red wing (confidence 0.80)"
    assert names.describe(2) == "no name proposed" and names.label(2) == ""


def test_a_placeholder_name_is_kept_but_marked(tmp_path: Path) -> None:
    record = {"prototype": 0, "name": "background / unnamed", "kind": "unnamed", "confidence": 0}
    (tmp_path / "names.json").write_text(json.dumps({"prototypes": [record]}))
    proposed = load_names(tmp_path).by_prototype[0]
    assert proposed.placeholder and proposed.name == "background / unnamed"


def test_missing_or_broken_names_say_what_to_run(tmp_path: Path) -> None:
    assert load_names(tmp_path).describe(0) == "not named yet, run protopool name"
    (tmp_path / "names.json").write_text("{not json")
    assert "unreadable" in load_names(tmp_path).describe(0)


# --- the gallery ------------------------------------------------------------------------------


class PageLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.cards = 0
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        found = dict(attrs)
        self.links += [v for k, v in attrs if k in ("src", "href") and v]
        if tag == "article" and "card" in (found.get("class") or ""):
            self.cards += 1


def _read_page(page: Path) -> PageLinks:
    parser = PageLinks()
    parser.feed(page.read_text())
    return parser


@pytest.mark.parametrize("kind", ["pool", "tree"])
def test_the_gallery_has_a_card_per_prototype_and_only_local_files(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    run_dir: Path = request.getfixturevalue(f"{kind}_run")
    out = tmp_path / "gallery"
    assert main(["gallery", str(run_dir), "--out", str(out), "--top-k", "3"]) == 0
    page = _read_page(out / "index.html")
    assert page.cards == load_run(run_dir).model.num_prototypes
    assert "script" not in page.tags and "link" not in page.tags
    files = [link for link in page.links if not link.startswith("#")]
    assert files, "the page shows no image"
    for link in files:
        assert "://" not in link and not link.startswith("/"), link
        assert (out / link).is_file(), link
    assert "not named yet, run protopool name" in (out / "index.html").read_text()


def test_the_gallery_shows_proposed_names(pool_run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(pool_run, run_dir)
    names = {"prototypes": [{"prototype": 0, "name": "orange <crown>", "confidence": 0.91}]}
    (run_dir / "names.json").write_text(json.dumps(names))
    assert main(["gallery", str(run_dir), "--out", str(tmp_path / "g"), "--top-k", "1"]) == 0
    html = (tmp_path / "g" / "index.html").read_text()
    assert 'orange &lt;crown&gt; <span class="confidence">confidence 0.91</span>' in html
    assert "no name proposed" in html
