"""Explanations of trained runs, as files a researcher can open: the paper's Figures 1 and 6-9.

* :func:`explain_image` and :func:`local_figure`: why one image got its class (Figure 6),
  for ProtoPool and ProtoTree.
* :func:`class_view`: a class's prototypes and their sources (Figure 7).
* :func:`compare_classes` and :func:`prototype_use`: shared prototypes (Figures 1 and 8).
* :func:`sharing_statistics`: how many classes share each prototype, over runs (Figure 9).
* :func:`similarity_graph`: classes joined by shared prototypes (GraphML, CSV, picture).
* :func:`build_gallery`: an HTML page of every prototype.
* :func:`render_tree`: a picture of a ProtoTree run, with one image's decision path.

Example:
    >>> run = load_run("runs/synthbirds-cpu")
    >>> explanation = explain_image(run, "bird.png", step_settings(run))
    >>> save_with_json(local_figure(explanation, provenance_by_prototype("runs/synthbirds-cpu")),
    ...                "bird-explained.png", explanation.to_dict())
"""

from protopool.explanations.activations import TopActivations, top_activations, training_split
from protopool.explanations.classes import (
    ClassComparison,
    ClassView,
    class_view,
    compare_classes,
)
from protopool.explanations.common import (
    ExplanationError,
    provenance_by_prototype,
    step_settings,
)
from protopool.explanations.figures import save_figure, save_with_json
from protopool.explanations.gallery import GalleryResult, build_gallery
from protopool.explanations.global_figures import (
    class_view_figure,
    comparison_figure,
    prototype_figure,
    sharing_figure,
)
from protopool.explanations.graph import (
    SimilarityGraph,
    edges_csv,
    graph_figure,
    graphml,
    similarity_graph,
)
from protopool.explanations.local import LocalExplanation, explain_image
from protopool.explanations.local_figure import local_figure
from protopool.explanations.names import Names, load_names
from protopool.explanations.sharing import (
    PrototypeUse,
    SharingStatistics,
    histogram_csv,
    prototype_use,
    sharing_statistics,
    summary_csv,
)
from protopool.explanations.tree_render import render_tree

__all__ = [
    "ClassComparison",
    "ClassView",
    "ExplanationError",
    "GalleryResult",
    "LocalExplanation",
    "Names",
    "PrototypeUse",
    "SharingStatistics",
    "SimilarityGraph",
    "TopActivations",
    "build_gallery",
    "class_view",
    "class_view_figure",
    "compare_classes",
    "comparison_figure",
    "edges_csv",
    "explain_image",
    "graph_figure",
    "graphml",
    "histogram_csv",
    "load_names",
    "local_figure",
    "prototype_figure",
    "prototype_use",
    "provenance_by_prototype",
    "render_tree",
    "save_figure",
    "save_with_json",
    "sharing_figure",
    "sharing_statistics",
    "similarity_graph",
    "step_settings",
    "summary_csv",
    "top_activations",
    "training_split",
]
