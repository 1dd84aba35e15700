"""The ``protopool`` command: one sub-command per verb, each registered by its own module."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module exposes ``register(subparsers)`` adding its verbs with ``set_defaults(run=...)``.
COMMAND_MODULES = (
    "protopool.data.commands",
    "protopool.training.commands",
    "protopool.rendering.commands",
    "protopool.explanations.commands",
    "protopool.interpretability.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="protopool",
        description=(
            "Prototype-part classifiers: data, training, evaluation, pictures, names and "
            "interpretability."
        ),
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # A verb module (or its package) that is not installed is skipped; a module that
            # exists but fails to import one of its own dependencies is a real error.
            if exc.name is None or not (name == exc.name or name.startswith(exc.name + ".")):
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except ValueError as exc:
        # Every user-facing error in the library is a ValueError subclass with a fix-it message.
        print(f"protopool {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
