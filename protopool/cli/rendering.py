"""CLI verb: ``protopool render``, one prototype's stimulus on one image.

The output file's suffix and the style's ``format`` must agree: a style that names a format
fixes it for the study, so a mismatching suffix is an error; a style that names none (or no
style) takes the format from the suffix (``.png``, ``.jpg``/``.jpeg``, ``.webp``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from protopool.cli.args import crop_box
from protopool.execution import StepSettings
from protopool.inference.runs import load_run
from protopool.rendering import style as styles
from protopool.rendering.batch import RenderedPair, render_pairs
from protopool.rendering.overlay import StimulusFiles
from protopool.rendering.style import RenderStyle, StyleError
from protopool.seed import resolve_device


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    render = subparsers.add_parser(
        "render",
        help="draw one prototype's activation on one image as a study stimulus",
        description=(
            "Blend a prototype's activation map over an image and write the stimulus: one "
            "side-by-side file, or with pair: separate the overlay as FILE and the original as "
            "FILE's -original sibling. FILE's suffix gives the format unless the style names "
            "one, in which case they must agree."
        ),
    )
    render.add_argument("run_dir", type=Path, metavar="RUN")
    render.add_argument("--prototype", type=int, required=True, metavar="J", help="pool index")
    render.add_argument("--image", type=Path, required=True, metavar="IMG")
    render.add_argument("--out", type=Path, required=True, metavar="FILE")
    render.add_argument(
        "--style", type=Path, metavar="STYLE.yaml", help="rendering style (default: built in)"
    )
    render.add_argument(
        "--crop-box",
        type=crop_box,
        metavar="x,y,w,h",
        help="the object box the run crops to (crop_box in RUN/projection.json)",
    )
    render.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    render.set_defaults(run=run_render)


def style_for_output(style_path: Path | None, out: Path) -> RenderStyle:
    """The style to render ``out`` with, its format settled with the file's suffix.

    Raises:
        StyleError: An unknown suffix, a suffix the style's format contradicts, or a bad style.
    """
    wanted = styles.format_for_suffix(out)
    data = styles.read_style_file(style_path) if style_path is not None else {}
    try:
        style = styles.style_from_dict({"format": wanted, **data})
    except StyleError as exc:
        raise StyleError(f"{style_path}: {exc}") from None
    if style.format != wanted:
        raise StyleError(
            f"{style_path} sets format {style.format} but {out.name} asks for {wanted}; "
            f"name the output *{style.suffix} or use a style without a format"
        )
    return style


def run_render(args: argparse.Namespace) -> int:
    style = style_for_output(args.style, args.out)
    device = resolve_device(args.device)
    run = load_run(args.run_dir, device)
    written: list[Path] = []

    def write(record: RenderedPair, files: StimulusFiles) -> None:
        written.extend(files.write(args.out))
        print(f"prototype {record.prototype}: score {record.score:.4f}, box {record.box}")

    pair = (args.prototype, args.image, args.crop_box)
    render_pairs(run.model, [pair], run.config.data, StepSettings(device), style, write)
    for path in written:
        print(f"wrote {path}")
    return 0
