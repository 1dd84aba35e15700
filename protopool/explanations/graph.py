"""The inter-class similarity graph read from ProtoPool's slots: classes are nodes, and two
classes are joined by an edge weighted by the number of prototypes they share.

Written as GraphML (for Gephi, Cytoscape or networkx), as a CSV edge list and as a picture. The
picture places the classes on a circle in the order of the graph Laplacian's Fiedler vector, so
classes that share prototypes tend to sit next to each other, without a layout library.
"""

from __future__ import annotations

import csv
import io
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure

from protopool.models import ProtoPool

GRAPHML_NS = "http://graphml.graphdrawing.org/xmlns"
# Edges carry their weight as text only while the picture stays readable.
EDGE_LABELS = 30
MIN_FONT = 4.0
MAX_FONT = 9.0
LABEL_START = 1.07
LABEL_GAP = 1.12
# Where along an edge its weight is written: off the middle, where a circle's chords cross.
EDGE_LABEL_AT = 0.4


@dataclass(frozen=True)
class Edge:
    """Two classes and the prototypes they share (pool indices)."""

    first: int
    second: int
    prototypes: list[int]

    @property
    def weight(self) -> int:
        return len(self.prototypes)


@dataclass(frozen=True)
class SimilarityGraph:
    """Classes and their shared prototypes.

    Attributes:
        class_names: Node names by class index.
        prototypes_per_class: Distinct prototypes in each class's slots.
        edges: Every pair of classes sharing at least one prototype, ``first < second``.
    """

    class_names: list[str]
    prototypes_per_class: list[int]
    edges: list[Edge]

    def weights(self) -> np.ndarray:
        """The symmetric ``(C, C)`` matrix of shared-prototype counts (0 on the diagonal)."""
        size = len(self.class_names)
        matrix = np.zeros((size, size))
        for edge in self.edges:
            matrix[edge.first, edge.second] = matrix[edge.second, edge.first] = edge.weight
        return matrix


@torch.no_grad()
def similarity_graph(model: ProtoPool, class_names: list[str]) -> SimilarityGraph:
    """The graph of a ProtoPool's hard slot assignment."""
    uses = model.prototype_classes().cpu()
    edges = []
    for a in range(model.num_classes):
        for b in range(a + 1, model.num_classes):
            shared = torch.nonzero(uses[a] & uses[b]).flatten().tolist()
            if shared:
                edges.append(Edge(a, b, [int(p) for p in shared]))
    return SimilarityGraph(list(class_names), [int(n) for n in uses.sum(dim=1).tolist()], edges)


def graphml(graph: SimilarityGraph) -> str:
    """The graph as GraphML: nodes ``c<index>`` with ``name`` and ``prototypes``, undirected
    edges with ``weight`` (shared prototypes) and ``shared`` (their pool indices)."""
    ET.register_namespace("", GRAPHML_NS)
    root = ET.Element(f"{{{GRAPHML_NS}}}graphml")
    for key, target, name, kind in (
        ("name", "node", "name", "string"),
        ("prototypes", "node", "prototypes", "int"),
        ("weight", "edge", "weight", "double"),
        ("shared", "edge", "shared", "string"),
    ):
        ET.SubElement(
            root,
            f"{{{GRAPHML_NS}}}key",
            {"id": key, "for": target, "attr.name": name, "attr.type": kind},
        )
    body = ET.SubElement(
        root, f"{{{GRAPHML_NS}}}graph", {"id": "classes", "edgedefault": "undirected"}
    )
    for index, (name, count) in enumerate(
        zip(graph.class_names, graph.prototypes_per_class, strict=True)
    ):
        node = ET.SubElement(body, f"{{{GRAPHML_NS}}}node", {"id": f"c{index}"})
        _data(node, "name", name)
        _data(node, "prototypes", str(count))
    for number, edge in enumerate(graph.edges):
        element = ET.SubElement(
            body,
            f"{{{GRAPHML_NS}}}edge",
            {"id": f"e{number}", "source": f"c{edge.first}", "target": f"c{edge.second}"},
        )
        _data(element, "weight", str(edge.weight))
        _data(element, "shared", " ".join(str(p) for p in edge.prototypes))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _data(parent: ET.Element, key: str, value: str) -> None:
    ET.SubElement(parent, f"{{{GRAPHML_NS}}}data", {"key": key}).text = value


def edges_csv(graph: SimilarityGraph) -> str:
    """One row per edge: ``class_a, class_b, shared_prototypes, prototypes``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["class_a", "class_b", "shared_prototypes", "prototypes"])
    for edge in graph.edges:
        writer.writerow(
            [
                graph.class_names[edge.first],
                graph.class_names[edge.second],
                edge.weight,
                " ".join(str(p) for p in edge.prototypes),
            ]
        )
    return out.getvalue()


def circle_order(weights: np.ndarray) -> list[int]:
    """Classes ordered by the Fiedler vector of the weighted Laplacian (index order when the
    graph has no edges)."""
    if not weights.any():
        return list(range(weights.shape[0]))
    laplacian = np.diag(weights.sum(axis=1)) - weights
    _, vectors = np.linalg.eigh(laplacian)
    fiedler = vectors[:, 1] if weights.shape[0] > 1 else vectors[:, 0]
    return [int(i) for i in np.argsort(fiedler, kind="stable")]


def graph_figure(graph: SimilarityGraph, title: str = "") -> Figure:
    """Classes on a circle, edges as wide and dark as the number of prototypes shared; a
    node's size grows with its prototypes, grey when it shares none.

    Args:
        graph: From :func:`similarity_graph`.
        title: Prefix of the title (e.g. the run's name and a colon).
    """
    weights = graph.weights()
    size = len(graph.class_names)
    order = circle_order(weights)
    angle = {c: 2 * math.pi * rank / max(size, 1) for rank, c in enumerate(order)}
    xy = {c: (math.cos(a), math.sin(a)) for c, a in angle.items()}
    side = min(16.0, max(6.0, 0.09 * size + 5))
    fontsize, limit = _label_room(graph.class_names, side)
    figure = Figure(figsize=(side, side * 1.04))
    axes = figure.add_axes((0.0, 0.0, 1.0, 1 / 1.04))
    heaviest = max((edge.weight for edge in graph.edges), default=1)
    for edge in sorted(graph.edges, key=lambda e: e.weight):
        share = edge.weight / heaviest
        (x0, y0), (x1, y1) = xy[edge.first], xy[edge.second]
        axes.plot(
            [x0, x1],
            [y0, y1],
            color=(0.15, 0.3, 0.6, 0.25 + 0.65 * share),
            linewidth=0.6 + 3.4 * share,
            zorder=1,
        )
    degree = (weights > 0).sum(axis=1)
    axes.scatter(
        [xy[c][0] for c in range(size)],
        [xy[c][1] for c in range(size)],
        s=[18 + 10 * graph.prototypes_per_class[c] for c in range(size)],
        c=["#d62728" if degree[c] else "#999999" for c in range(size)],
        zorder=2,
    )
    # Radial labels, flipped on the left half so that none reads upside down.
    for c in range(size):
        rotation = math.degrees(angle[c])
        flip = 90 < rotation < 270
        axes.text(
            LABEL_START * xy[c][0],
            LABEL_START * xy[c][1],
            graph.class_names[c],
            rotation=rotation - 180 if flip else rotation,
            ha="right" if flip else "left",
            va="center",
            rotation_mode="anchor",
            fontsize=fontsize,
        )
    if size <= EDGE_LABELS:
        for edge in graph.edges:
            (x0, y0), (x1, y1) = xy[edge.first], xy[edge.second]
            axes.text(
                x0 + EDGE_LABEL_AT * (x1 - x0),
                y0 + EDGE_LABEL_AT * (y1 - y0),
                str(edge.weight),
                fontsize=8,
                ha="center",
                va="center",
                zorder=3,
                bbox={"boxstyle": "round", "fc": "white", "lw": 0},
            )
    axes.set_xlim(-limit, limit)
    axes.set_ylim(-limit, limit)
    axes.set_aspect("equal")
    axes.axis("off")
    if not graph.edges:
        detail = "no two classes share a prototype"
    else:
        detail = f"{len(graph.edges)} edges; the heaviest joins classes sharing {heaviest}"
    figure.suptitle(
        f"{title}classes joined by shared prototypes ({detail})", fontsize=11, y=0.995, va="top"
    )
    return figure


def _label_room(names: list[str], side: float) -> tuple[float, float]:
    """A font size for the class labels and the axis limit that leaves room for them outside
    the unit circle, on a square figure ``side`` inches wide."""
    longest = max((len(name) for name in names), default=1)
    fontsize = max(MIN_FONT, min(MAX_FONT, 400 / max(len(names), 1)))
    # A character is about 0.6 em wide; the label runs outwards from LABEL_START.
    while True:
        label = 0.6 * fontsize * longest / 72 * 2 / side
        if label < 0.65 or fontsize <= MIN_FONT:
            return fontsize, LABEL_GAP / max(1 - label, 0.35)
        fontsize -= 0.5


__all__ = [
    "Edge",
    "SimilarityGraph",
    "circle_order",
    "edges_csv",
    "graph_figure",
    "graphml",
    "similarity_graph",
]
