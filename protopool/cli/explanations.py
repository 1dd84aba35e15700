"""CLI verbs for explanations: ``explain``, ``class``, ``compare``, ``prototype``, ``sharing``
and ``gallery``.

Every verb works on ProtoPool runs; ``explain``, ``class`` and ``gallery`` on ProtoTree runs
too. The others read class slots and say so when given a tree.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from protopool.cli.args import crop_box
from protopool.data.base import DatasetError
from protopool.explanations.activations import top_activations, training_split
from protopool.explanations.classes import class_view, compare_classes
from protopool.explanations.common import (
    ExplanationError,
    check_prototype,
    device_for,
    provenance_by_prototype,
    require_pool,
    step_settings,
)
from protopool.explanations.figures import FORMATS, figure_format, save_figure, save_with_json
from protopool.explanations.gallery import DEFAULT_TOP_K, build_gallery
from protopool.explanations.global_figures import (
    class_view_figure,
    comparison_figure,
    prototype_figure,
    sharing_figure,
)
from protopool.explanations.graph import edges_csv, graph_figure, graphml, similarity_graph
from protopool.explanations.local import DEFAULT_TOP, explain_image
from protopool.explanations.local_figure import local_figure
from protopool.explanations.names import load_names
from protopool.explanations.sharing import (
    histogram_csv,
    prototype_use,
    sharing_statistics,
    summary_csv,
)
from protopool.inference.runs import Run, load_run
from protopool.models import ProtoPool
from protopool.rundir import write_json, write_text


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    explain = _add_explain(subparsers)
    view, prototype = _add_class_verbs(subparsers)
    _add_sharing(subparsers)
    gallery = _add_gallery(subparsers)
    for parser in (explain, view, prototype, gallery):
        parser.add_argument("--device", help="cpu, cuda, cuda:N or auto (default)")


def _add_explain(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    explain = subparsers.add_parser(
        "explain",
        help="why the model classified an image: prototypes, maps, weights, sums (Figure 6)",
    )
    explain.add_argument("run_dir", type=Path, metavar="RUN")
    explain.add_argument("--image", type=Path, required=True, help="the image to explain")
    explain.add_argument(
        "--out",
        type=Path,
        required=True,
        help="figure (.png, .svg or .pdf); the numbers go beside it as .json",
    )
    explain.add_argument("--top", type=int, default=DEFAULT_TOP, help="classes to explain")
    explain.add_argument(
        "--crop-box",
        type=crop_box,
        metavar="X,Y,W,H",
        help="crop to this box first, as runs trained on boxes do",
    )
    explain.set_defaults(run=run_explain)
    return explain


def _add_class_verbs(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """``class``, ``compare`` and ``prototype``; the parsers of the first and the last."""
    view = subparsers.add_parser("class", help="a class's prototypes and their sources (Figure 7)")
    view.add_argument("run_dir", type=Path, metavar="RUN")
    view.add_argument("class_name", metavar="CLASS", help="class name (or index)")
    view.add_argument("--out", type=Path, required=True, help="figure (.png, .svg or .pdf)")
    view.set_defaults(run=run_class)

    compare = subparsers.add_parser(
        "compare", help="prototypes two classes share and those that set them apart (Figure 1)"
    )
    compare.add_argument("run_dir", type=Path, metavar="RUN")
    compare.add_argument("first", metavar="CLASS_A")
    compare.add_argument("second", metavar="CLASS_B")
    compare.add_argument("--out", type=Path, required=True, help="figure (.png, .svg or .pdf)")
    compare.set_defaults(run=run_compare)

    prototype = subparsers.add_parser(
        "prototype", help="every class that uses a prototype, with its best image (Figure 8)"
    )
    prototype.add_argument("run_dir", type=Path, metavar="RUN")
    prototype.add_argument("index", type=int, metavar="INDEX", help="pool index")
    prototype.add_argument("--out", type=Path, required=True, help="figure (.png, .svg or .pdf)")
    prototype.add_argument("--data", help="dataset directory (default: the run's data.root)")
    prototype.add_argument(
        "--no-examples",
        action="store_true",
        help="skip the search for each class's best training image",
    )
    prototype.set_defaults(run=run_prototype)
    return view, prototype


def _add_sharing(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sharing = subparsers.add_parser(
        "sharing",
        help="how many classes share each prototype, over runs (Figure 9), and class graphs",
    )
    sharing.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN")
    sharing.add_argument("--out", type=Path, required=True, help="output directory")
    sharing.add_argument(
        "--format",
        choices=sorted(f.lstrip(".") for f in FORMATS),
        default="png",
        help="figure format",
    )
    sharing.set_defaults(run=run_sharing)


def _add_gallery(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    gallery = subparsers.add_parser(
        "gallery", help="an HTML page of every prototype, its source and top training images"
    )
    gallery.add_argument("run_dir", type=Path, metavar="RUN")
    gallery.add_argument("--out", type=Path, required=True, help="output directory")
    gallery.add_argument("--data", help="dataset directory (default: the run's data.root)")
    gallery.add_argument(
        "--top-k", type=int, default=DEFAULT_TOP_K, help="training images per prototype"
    )
    gallery.set_defaults(run=run_gallery)
    return gallery


def _load(args: argparse.Namespace) -> Run:
    return load_run(args.run_dir, device_for(getattr(args, "device", None)))


def run_explain(args: argparse.Namespace) -> int:
    figure_format(args.out)
    run = _load(args)
    explanation = explain_image(run, args.image, step_settings(run), args.top, args.crop_box)
    figure = local_figure(explanation, provenance_by_prototype(args.run_dir))
    paths = save_with_json(figure, args.out, explanation.to_dict())
    print(f"predicted {explanation.predicted}; wrote {paths[0]} and {paths[1]}")
    return 0


def run_class(args: argparse.Namespace) -> int:
    figure_format(args.out)
    run = _load(args)
    records = provenance_by_prototype(args.run_dir)
    view = class_view(run, args.class_name, records, step_settings(run))
    figure = class_view_figure(view, records, load_names(args.run_dir))
    paths = save_with_json(figure, args.out, view.to_dict())
    print(f"{view.name}: {len(view.prototypes)} prototypes; wrote {paths[0]} and {paths[1]}")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    figure_format(args.out)
    run = load_run(args.run_dir)
    comparison = compare_classes(run, args.first, args.second)
    records = provenance_by_prototype(args.run_dir)
    figure = comparison_figure(comparison, records, load_names(args.run_dir))
    paths = save_with_json(figure, args.out, comparison.to_dict())
    print(
        f"{len(comparison.shared)} shared, {len(comparison.only_first)} only in "
        f"{comparison.first}, {len(comparison.only_second)} only in {comparison.second}; "
        f"wrote {paths[0]} and {paths[1]}"
    )
    return 0


def run_prototype(args: argparse.Namespace) -> int:
    figure_format(args.out)
    run = _load(args)
    require_pool(run, "listing the classes of a prototype")
    check_prototype(run, args.index)
    settings = step_settings(run)
    examples = None
    if not args.no_examples:
        try:
            samples = training_split(run, args.data)
        except (DatasetError, ExplanationError) as exc:
            print(f"no example images ({exc})", file=sys.stderr)
        else:
            best = top_activations(run, samples, settings, k=1).per_class[args.index]
            examples = {label: samples[hit.sample] for label, hit in best.items()}
    records = provenance_by_prototype(args.run_dir)
    use = prototype_use(run, args.index, records, settings, examples)
    figure = prototype_figure(use, records, load_names(args.run_dir))
    paths = save_with_json(figure, args.out, use.to_dict())
    print(f"prototype {args.index}: {len(use.classes)} classes; wrote {paths[0]} and {paths[1]}")
    return 0


def _labels(run_dirs: list[Path]) -> list[str]:
    """Each run's directory name, numbered where two are alike."""
    names = [path.resolve().name or "run" for path in run_dirs]
    return [
        name if names.count(name) == 1 else f"{name}-{names[:i].count(name) + 1}"
        for i, name in enumerate(names)
    ]


def run_sharing(args: argparse.Namespace) -> int:
    models: dict[str, ProtoPool] = {}
    class_names: dict[str, list[str]] = {}
    for label, run_dir in zip(_labels(args.run_dirs), args.run_dirs, strict=True):
        run = load_run(run_dir)
        models[label] = require_pool(run, f"sharing statistics (of {run_dir})")
        class_names[label] = run.class_names
    statistics = sharing_statistics(models)
    out: Path = args.out
    suffix = f".{args.format}"
    save_figure(sharing_figure(statistics), out / f"sharing{suffix}")
    write_json(out / "sharing.json", statistics.to_dict())
    write_text(out / "sharing-histogram.csv", histogram_csv(statistics))
    write_text(out / "sharing-summary.csv", summary_csv(statistics))
    for label, model in models.items():
        graph = similarity_graph(model, class_names[label])
        save_figure(graph_figure(graph, f"{label}: "), out / f"graph-{label}{suffix}")
        write_text(out / f"graph-{label}.graphml", graphml(graph))
        write_text(out / f"graph-{label}.csv", edges_csv(graph))
    spread = f" ± {statistics.sd_of_means:.2f}" if statistics.sd_of_means is not None else ""
    print(
        f"{len(models)} runs: a prototype is shared by {statistics.mean_of_means:.2f}{spread} "
        f"classes; wrote {out}"
    )
    return 0


def run_gallery(args: argparse.Namespace) -> int:
    run = _load(args)
    result = build_gallery(run, args.run_dir, args.out, step_settings(run), args.data, args.top_k)
    print(f"{result.cards} prototypes, {result.images} images; open {result.page}")
    return 0
