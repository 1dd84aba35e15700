"""CLI verbs: ``protopool train``, ``protopool project`` and ``protopool evaluate``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from protopool.checkpoint import read_checkpoint, save_checkpoint
from protopool.config import load_config
from protopool.rundir import RunPaths, read_json, write_json
from protopool.seed import resolve_device, seed_everything
from protopool.training.data import build_run_data
from protopool.training.engine import StepSettings
from protopool.training.loop import evaluate_model
from protopool.training.runs import load_config_for_run, open_index, train_run


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train",
        help="train a ProtoPool model (warm-up, joint, projection, last-layer fine-tuning)",
        description=(
            "Train ProtoPool. Overrides look like train.lr=0.0005 or model.similarity=protopnet."
        ),
    )
    train.add_argument("--config", type=Path, help="YAML config (default: the paper's CUB values)")
    train.add_argument("--data", help="dataset directory (overrides data.root)")
    train.add_argument("--out", type=Path, help="run directory (default: runs/<config name>)")
    train.add_argument("--weights", help="backbone weights: imagenet, none or a file path")
    train.add_argument("--device", help="cpu, cuda, cuda:N or auto (overrides train.device)")
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

    evaluate = subparsers.add_parser("evaluate", help="test accuracy and slot statistics of a run")
    evaluate.add_argument("run_dir", type=Path, metavar="RUN")
    evaluate.add_argument("--data", help="dataset directory (default: the run's data.root)")
    evaluate.add_argument("--device", help="cpu, cuda or auto")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.set_defaults(run=run_evaluate)


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


def run_train(args: argparse.Namespace) -> int:
    config = load_config(args.config, _cli_overrides(args))
    name = args.config.stem if args.config else "default"
    out = args.out or Path("runs") / name
    report = train_run(config, out, resume=args.resume, reuse=args.reuse, overwrite=args.overwrite)
    print(f"run directory: {out}")
    print(f"test accuracy: {report['test']['accuracy']:.4f}")
    return 0


def _run_context(args: argparse.Namespace):
    config = load_config_for_run(args.run_dir, _cli_overrides(args))
    paths = RunPaths(args.run_dir)
    checkpoint = read_checkpoint(paths.best)
    device = resolve_device(config.train.device)
    from protopool.checkpoint import check_compatible, model_from_checkpoint

    index = open_index(config.data.root)
    check_compatible(checkpoint, config, index.class_names)
    data = build_run_data(index, config.data, config.train.seed)
    model = model_from_checkpoint(checkpoint, device)
    settings = StepSettings(device, config.train.amp, config.train.channels_last)
    return config, paths, checkpoint, data, model, settings


def run_project(args: argparse.Namespace) -> int:
    from protopool.projection import project_prototypes

    config, paths, checkpoint, data, model, settings = _run_context(args)
    seed_everything(config.train.seed)
    result = project_prototypes(
        model,
        data.projection_loader,
        data.train,
        checkpoint.class_names,
        settings.device,
        cropped=config.data.crop_to_bbox,
    )
    write_json(paths.projection, result.to_dict())
    save_checkpoint(paths.best, model, config, checkpoint.class_names, checkpoint.progress)
    # The projected model is a different model: its stored evaluation (and the one a later
    # `train --reuse` hands back) must describe it, not the model before projection.
    report = evaluate_model(model, data, settings)
    write_json(paths.evaluation, report)
    if paths.done.is_file():
        write_json(paths.done, {**read_json(paths.done), "evaluation": report})
    print(
        f"projected {len(result.prototypes)} prototypes, pruned {len(result.pruned)} unused; "
        f"test accuracy now {report['test']['accuracy']:.4f}"
    )
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    _, paths, _, data, model, settings = _run_context(args)
    report = evaluate_model(model, data, settings)
    write_json(paths.evaluation, report)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"test accuracy {report['test']['accuracy']:.4f}; "
            f"{report['prototypes_used']} prototypes used; "
            f"mean max slot probability {report['mean_max_slot_probability']:.4f}"
        )
    return 0
