"""The heavy half of an import: pictures, names and metrics of a run, computed into a folder.

Everything here goes through ``protopool``'s public functions and writes only under ``out`` (a
temporary folder of the caller); nothing touches the database or Django storage, so a failure
here leaves nothing behind. The model runs on ``device`` (the CPU unless told otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protopool.data import detect_format
from protopool.explanations import (
    build_gallery,
    graph_figure,
    graphml,
    save_figure,
    sharing_figure,
    sharing_statistics,
    similarity_graph,
    step_settings,
    top_activations,
    training_split,
)
from protopool.inference import Run, load_run
from protopool.interpretability import (
    NamingConfig,
    PartsRequiredError,
    interpretability_report,
    name_run,
    open_run,
)
from protopool.models import ProtoPool
from surveys.catalogue.names import NameRecord, name_records
from surveys.catalogue.run_files import ImportRunError, RunFiles

Progress = Callable[[str], None]
DEFAULT_TOP_K = 5
# build_gallery's file names inside its output folder (one card's pictures per prototype).
GALLERY_IMAGES = "gallery/images"
SYNTH_MARKER = "synthbirds.json"
DATASET_NAMES = {"cub": "CUB", "stanford_cars": "Stanford Cars"}


@dataclass(frozen=True)
class TopImage:
    """One of a prototype's top activating training images, drawn by the gallery."""

    rank: int
    image_id: str
    score: float
    picture: Path


@dataclass
class PrototypeBundle:
    """What the catalogue stores about one prototype."""

    index: int
    original_index: int
    classes: list[int]
    provenance: dict[str, Any]
    patch: Path | None = None
    top: list[TopImage] = field(default_factory=list)
    name: NameRecord | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunBundle:
    """Everything computed for one run; every picture is a file under the caller's folder."""

    kind: str
    similarity: str
    dataset_dir: Path
    dataset_name: str
    prototypes: list[PrototypeBundle]
    interpretability: dict[str, Any]
    figures: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RenderOptions:
    dataset_dir: Path | None = None
    dataset_name: str | None = None
    name: bool = True
    metrics: bool = False
    top_k: int = DEFAULT_TOP_K
    device: str = "cpu"
    label: str = ""


def render_run(files: RunFiles, out: Path, options: RenderOptions, say: Progress) -> RunBundle:
    """Compute a run's gallery, names, metrics and figures into ``out``.

    Raises:
        ImportRunError: The dataset is missing or not the run's, or protopool refused the run;
            the message says what to pass instead.
    """
    dataset = resolve_dataset(files, options.dataset_dir)
    try:
        say(f"Loading the model ({files.kind}) on {options.device}")
        run = load_run(files.root, options.device)
        bundle = RunBundle(
            kind="prototree" if files.kind == "prototree" else "protopool",
            similarity="prototree"
            if files.kind == "prototree"
            else str(run.config.model.similarity),
            dataset_dir=dataset,
            dataset_name=options.dataset_name or default_dataset_name(dataset),
            prototypes=_prototypes(files, run),
            interpretability={},
        )
        _gallery(run, files, dataset, out, options.top_k, bundle, say)
        _names_and_metrics(files, dataset, options, bundle, say)
        if isinstance(run.model, ProtoPool):
            _figures(run.model, run.class_names, options.label, out, bundle, say)
        else:
            bundle.notes.append("a ProtoTree has no class slots: no sharing histogram or graph")
    except ValueError as exc:
        # protopool's errors (dataset, checkpoint, explanation) are ValueErrors whose messages
        # already say how to fix the call.
        raise ImportRunError(str(exc)) from exc
    return bundle


def resolve_dataset(files: RunFiles, given: Path | None) -> Path:
    """The dataset folder: ``given``, else the one the run's config records.

    Raises:
        ImportRunError: The folder does not exist.
    """
    if given is not None:
        path = Path(given).expanduser().resolve()
        if not path.is_dir():
            raise ImportRunError(f"--data {given}: no such directory; give the dataset folder")
        return path
    recorded = files.recorded_dataset
    if not recorded or not Path(recorded).is_dir():
        where = f"at {recorded}" if recorded else "in its config.yaml"
        raise ImportRunError(
            f"the run's dataset is not found {where}: pass --data DIR, the dataset the run was "
            "trained on (its pictures are drawn from the training images)"
        )
    return Path(recorded).resolve()


def default_dataset_name(dataset: Path) -> str:
    """SynthBirds, CUB, Stanford Cars, or the folder's name for anything else."""
    if (dataset / SYNTH_MARKER).is_file():
        return "SynthBirds"
    return DATASET_NAMES.get(detect_format(dataset) or "", dataset.name)


def _prototypes(files: RunFiles, run: Run) -> list[PrototypeBundle]:
    """One bundle per prototype of the pool, with projection's provenance and classes."""
    original = [int(i) for i in run.model.prototype_ids.tolist()]
    bundles = []
    for index in range(run.model.num_prototypes):
        record = files.provenance.get(index, {})
        bundles.append(
            PrototypeBundle(
                index=index,
                original_index=int(record.get("original_index", original[index])),
                classes=[int(c) for c in record.get("classes", [])],
                provenance=record,
            )
        )
    return bundles


def _gallery(
    run: Run, files: RunFiles, dataset: Path, out: Path, k: int, bundle: RunBundle, say: Progress
) -> None:
    """Source patches and top-k pictures from build_gallery, with each picture's image and
    score from top_activations (the same deterministic pass the gallery makes)."""
    settings = step_settings(run)
    say(f"Drawing the gallery: source patches and the top {k} training images per prototype")
    build_gallery(run, files.root, out / "gallery", settings, data_root=str(dataset), top_k=k)
    samples = training_split(run, str(dataset))
    top = top_activations(run, samples, settings, k)
    images = out / GALLERY_IMAGES
    for prototype in bundle.prototypes:
        patch = images / f"p{prototype.index}-patch.png"
        prototype.patch = patch if patch.is_file() else None
        for rank, hit in enumerate(top.top[prototype.index], 1):
            picture = images / f"p{prototype.index}-top{rank}.jpg"
            if picture.is_file():
                sample = samples[hit.sample]
                prototype.top.append(
                    TopImage(rank, _image_path(sample.path, dataset), hit.score, picture)
                )


def _image_path(path: Path, dataset: Path) -> str:
    """An image's path inside the dataset folder (absolute when it lies elsewhere)."""
    try:
        return Path(path).resolve().relative_to(dataset).as_posix()
    except ValueError:
        return str(path)


def _names_and_metrics(
    files: RunFiles, dataset: Path, options: RenderOptions, bundle: RunBundle, say: Progress
) -> None:
    """Proposed names (names.json, else protopool's naming) and the interpretability metrics
    (interpretability.json, else computed when asked); both need a dataset with parts."""
    names: dict[int, NameRecord] = {}
    if files.names is not None:
        names = name_records(files.names.get("prototypes", []), files.root)
        say(f"Proposed names: {len(names)} read from names.json")
    metrics = files.interpretability
    wants_names = options.name and files.names is None
    why_not = "naming was switched off (--no-names)" if files.names is None else ""
    if wants_names or (options.metrics and metrics is None):
        try:
            inputs = open_run(files.root, str(dataset), options.device)
        except PartsRequiredError as exc:
            why_not = str(exc)
        else:
            if wants_names:
                say("Naming the prototypes from part annotations (protopool name)")
                found, _ = name_run(inputs, NamingConfig())
                names = name_records([n.to_dict() for n in found], files.root)
            if options.metrics and metrics is None:
                say("Computing the interpretability metrics (protopool interpretability)")
                metrics = interpretability_report(inputs)
    if not names:
        bundle.notes.append(f"imported without proposed names: {why_not or 'none found'}")
    for prototype in bundle.prototypes:
        prototype.name = names.get(prototype.index)
    if metrics:
        by_index = {int(e["prototype"]): e for e in metrics.get("prototypes", [])}
        for prototype in bundle.prototypes:
            prototype.metrics = by_index.get(prototype.index, {})
        bundle.interpretability = {k: v for k, v in metrics.items() if k != "prototypes"}


def _figures(
    model: ProtoPool,
    class_names: list[str],
    label: str,
    out: Path,
    bundle: RunBundle,
    say: Progress,
) -> None:
    """Figure 9's sharing histogram and the class graph (PNG and GraphML)."""
    say("Drawing the sharing histogram and the class graph")
    statistics = sharing_statistics({label or "run": model})
    bundle.figures["sharing_histogram"] = save_figure(
        sharing_figure(statistics), out / "sharing.png"
    )
    graph = similarity_graph(model, class_names)
    title = f"{label}: " if label else ""
    bundle.figures["class_graph"] = save_figure(graph_figure(graph, title), out / "graph.png")
    graphml_path = out / "graph.graphml"
    graphml_path.write_text(graphml(graph), encoding="utf-8")
    bundle.figures["class_graph_graphml"] = graphml_path


__all__ = [
    "DEFAULT_TOP_K",
    "PrototypeBundle",
    "RenderOptions",
    "RunBundle",
    "TopImage",
    "default_dataset_name",
    "render_run",
    "resolve_dataset",
]
