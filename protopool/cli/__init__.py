"""The ``protopool`` command: one sub-command per verb, each group registered by its own module.

The library packages hold no argparse; each module here parses one group of verbs and calls
the package it fronts.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module exposes ``register(subparsers)`` adding its verbs with ``set_defaults(run=...)``;
# beside it, the library package whose verbs it adds.
COMMAND_MODULES = (
    ("protopool.cli.data", "protopool.data"),
    ("protopool.cli.training", "protopool.training"),
    ("protopool.cli.rendering", "protopool.rendering"),
    ("protopool.cli.explanations", "protopool.explanations"),
    ("protopool.cli.interpretability", "protopool.interpretability"),
)


def _is_absent(missing: str | None, name: str) -> bool:
    """Whether the module ``missing`` that failed to import is ``name`` or a package above it."""
    return missing is not None and (name == missing or name.startswith(missing + "."))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="protopool",
        description=(
            "Prototype-part classifiers: data, training, evaluation, pictures, names and "
            "interpretability."
        ),
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, package in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # A verb module, or the package it fronts, that is not installed is skipped; a
            # module that exists but fails to import one of its own dependencies is a real error.
            if not (_is_absent(exc.name, name) or _is_absent(exc.name, package)):
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


__all__ = ["build_parser", "main"]
