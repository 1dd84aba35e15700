"""CLI verbs: ``protopool train``, ``protopool project`` and ``protopool evaluate``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NamedTuple

from protopool.checkpoint import (
    Checkpoint,
    check_compatible,
    model_from_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from protopool.config import Config, load_config
from protopool.execution import StepSettings
from protopool.models import PrototypeModel
from protopool.rundir import RunPaths, read_json, write_json
from protopool.seed import resolve_device, seed_everything
from protopool.training.data import RunData, build_run_data
from protopool.training.distributed import launch
from protopool.training.report import evaluation_report
from protopool.training.runs import load_config_for_run, open_index, train_run


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    train = subparsers.add_parser(
        "train",
        help="train a ProtoPool or ProtoTree model (model.kind) through its phases",
        description=(
            "Train ProtoPool (warm-up, joint, projection, last-layer fine-tuning) or ProtoTree "
            "(model.kind=prototree: warm-up, joint, pruning and projection). Overrides look "
            "like train.lr=0.0005 or model.similarity=protopnet. On several GPUs, start it "
            "with torchrun --nproc-per-node N -m protopool train ...: data.batch_size stays "
            "the global batch, split over the N processes."
        ),
    )
    train.add_argument("--config", type=Path, help="YAML config (default: the paper's CUB values)")
    train.add_argument("--data", help="dataset directory (overrides data.root)")
    train.add_argument("--out", type=Path, help="run directory (default: runs/<config name>)")
    train.add_argument("--weights", help="backbone weights: imagenet, none or a file path")
    train.add_argument(
        "--device",
        help="cpu, cuda, cuda:N or auto (overrides train.device); under torchrun, cuda or auto "
        "gives each process its local rank's GPU",
    )
    train.add_argument(
        "--resume", action="store_true", help="continue from RUN/checkpoints/last.pt"
    )
    train.add_argument(
        "--reuse",
        action="store_true",
        help="return at once if RUN finished with the same config and dataset; retrain otherwise",
    )
    train.add_argument("--overwrite", action="store_true", help="replace an existing run")
    train.add_argument("overrides", nargs="*", metavar="section.field=value")
    train.set_defaults(run=run_train)

    project = subparsers.add_parser("project", help="re-run prototype projection on a trained run")
    project.add_argument("run_dir", type=Path, metavar="RUN")
    project.add_argument("--data", help="dataset directory (default: the run's data.root)")
    project.add_argument("--device", help="cpu, cuda or auto")
    project.set_defaults(run=run_project)

    evaluate = subparsers.add_parser(
        "evaluate", help="test accuracy and slot or tree statistics of a run"
    )
    evaluate.add_argument("run_dir", type=Path, metavar="RUN")
    evaluate.add_argument("--data", help="dataset directory (default: the run's data.root)")
    evaluate.add_argument("--device", help="cpu, cuda or auto")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.set_defaults(run=run_evaluate)

    tree = subparsers.add_parser(
        "tree", help="draw a ProtoTree run: node patches, leaf classes, one image's path"
    )
    tree.add_argument("run_dir", type=Path, metavar="RUN")
    tree.add_argument("--out", type=Path, help="PNG, SVG or PDF (default: RUN/tree.png)")
    tree.add_argument("--image", type=Path, help="draw this image's greedy decision path")
    tree.set_defaults(run=run_tree)


def _cli_overrides(args: argparse.Namespace) -> list[str]:
    overrides = list(getattr(args, "overrides", None) or [])
    if args.data:
        # Absolute, so that `project` and `evaluate` work from any directory later.
        overrides.append(f"data.root={json.dumps(str(Path(args.data).resolve()))}")
    if getattr(args, "weights", None):
        overrides.append(f"model.weights={json.dumps(args.weights)}")
    if args.device:
        overrides.append(f"train.device={args.device}")
    return overrides


def _report_errors(report: dict[str, Any]) -> int:
    """Print the report's error conditions to stderr; the exit status they call for."""
    for error in report.get("errors", []):
        print(f"error: {error}", file=sys.stderr)
    return 1 if report.get("errors") else 0


def run_train(args: argparse.Namespace) -> int:
    config = load_config(args.config, _cli_overrides(args))
    name = args.config.stem if args.config else "default"
    out = args.out or Path("runs") / name
    # One process, or one of the processes torchrun started (it sets WORLD_SIZE and RANK).
    with launch(config.train.device) as shard:
        report = train_run(
            config,
            out,
            resume=args.resume,
            reuse=args.reuse,
            overwrite=args.overwrite,
            shard=shard,
        )
    if not shard.is_main:
        return 1 if report.get("errors") else 0
    print(f"run directory: {out}")
    print(f"test accuracy: {report['test']['accuracy']:.4f}")
    return _report_errors(report)


class RunContext(NamedTuple):
    """A trained run reopened for projection or evaluation."""

    config: Config
    paths: RunPaths
    checkpoint: Checkpoint
    data: RunData
    model: PrototypeModel
    settings: StepSettings


def _run_context(args: argparse.Namespace) -> RunContext:
    config = load_config_for_run(args.run_dir, _cli_overrides(args))
    paths = RunPaths(args.run_dir)
    checkpoint = read_checkpoint(paths.best)
    device = resolve_device(config.train.device)
    index = open_index(config.data.root)
    check_compatible(checkpoint, config, index.class_names)
    data = build_run_data(index, config.data, config.train.seed)
    model = model_from_checkpoint(checkpoint, device)
    settings = StepSettings(device, config.train.amp, config.train.channels_last)
    return RunContext(config, paths, checkpoint, data, model, settings)


def run_project(args: argparse.Namespace) -> int:
    from protopool.projection import project_prototypes, prune_tree_before_projection

    run = _run_context(args)
    config, paths, checkpoint = run.config, run.paths, run.checkpoint
    seed_everything(config.train.seed)
    if not paths.before_projection.is_file():
        # A run trained without projection: its model is the one before projection.
        save_checkpoint(
            paths.before_projection, run.model, config, checkpoint.class_names, checkpoint.progress
        )
    removed = prune_tree_before_projection(run.model)
    result = project_prototypes(
        run.model,
        run.data.projection_loader,
        run.data.train,
        checkpoint.class_names,
        run.settings,
        cropped=config.data.crop_to_bbox,
    )
    write_json(paths.projection, result.to_dict())
    for path in (paths.best, paths.projected):
        save_checkpoint(path, run.model, config, checkpoint.class_names, checkpoint.progress)
    # The projected model is a different model: its stored evaluation (and the one a later
    # `train --reuse` hands back) must describe it, not the model before projection.
    report = evaluation_report(run.model, run.data, run.settings, paths)
    write_json(paths.evaluation, report)
    if paths.done.is_file():
        write_json(paths.done, {**read_json(paths.done), "evaluation": report})
    print(
        f"projected {len(result.prototypes)} prototypes, pruned {len(result.pruned) + removed}; "
        f"test accuracy now {report['test']['accuracy']:.4f}"
    )
    return _report_errors(report)


def run_evaluate(args: argparse.Namespace) -> int:
    run = _run_context(args)
    report = evaluation_report(run.model, run.data, run.settings, run.paths)
    write_json(run.paths.evaluation, report)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(summary_line(report))
    return _report_errors(report)


def summary_line(report: dict[str, Any]) -> str:
    """One line of an evaluation report for the terminal."""
    stages = report.get("test_by_stage", {})
    before = stages.get("before_projection")
    shown = f" ({before['accuracy']:.4f} before projection)" if before else ""
    line = f"test accuracy {report['test']['accuracy']:.4f}{shown}; "
    if "test_by_mode" in report:
        modes = ", ".join(f"{mode} {value:.4f}" for mode, value in report["test_by_mode"].items())
        return (
            line + f"by mode: {modes}; {report['prototypes_after_pruning']} of "
            f"{report['prototypes_before_pruning']} prototypes after pruning"
        )
    return (
        line + f"{report['prototypes_used']} prototypes used; "
        f"mean max slot probability {report['mean_max_slot_probability']:.4f}"
    )


def run_tree(args: argparse.Namespace) -> int:
    from protopool.explanations.tree_render import render_tree

    out = render_tree(args.run_dir, args.out or args.run_dir / "tree.png", args.image)
    print(f"tree drawn to {out}")
    return 0
