"""Protocol presets of the study spec: ``protocol: paper`` fills in the ProtoPool paper's study.

Rymarczyk et al. (ECCV 2022), section 5: 40 workers answered the same 60 questions (30 per
dataset, CUB-200-2011 and Stanford Cars) in a random order; "each question contained an
original training image and the same image with overlayed activation map, as presented in
Figure 2" (no box); the question was "How salient is the feature pointed out by the AI
system?" on a scale from 1 "Least salient" to 5 "Most salient".

A preset only fills in fields the spec leaves out. A field the spec sets to something else is
kept, and is recorded as a departure from the protocol: in the build log, and in the frozen plan
the report opens with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PAPER = "paper"
PROTOCOLS = ("", PAPER)
PAPER_QUESTION = "How salient is the feature pointed out by the AI system?"
PAPER_SCALE = ("Least salient", "Most salient")
PAPER_DATASETS = 2
# (path of the field, the paper's value); a path is its keys from the top of the spec.
PAPER_FIELDS: tuple[tuple[tuple[str, ...], object], ...] = (
    (("questions_per_dataset",), 30),
    (("question_sets",), "fixed"),
    (("sampling", "split"), "train"),
    (("style", "box"), False),
    (("texts", "question"), PAPER_QUESTION),
    (("texts", "scale_low"), PAPER_SCALE[0]),
    (("texts", "scale_high"), PAPER_SCALE[1]),
)


def _get(data: Mapping[str, Any], path: tuple[str, ...]) -> tuple[bool, object]:
    node: object = data
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return False, None
        node = node[key]
    return True, node


def _set(data: dict[str, Any], path: tuple[str, ...], value: object) -> None:
    node = data
    for key in path[:-1]:
        child = node.get(key)
        if child is None:
            child = {}
        if not isinstance(child, Mapping):
            # A bad field (a style file path, a non-mapping) is the field checks' to report.
            return
        node[key] = child = dict(child)
        node = child
    node[path[-1]] = value


def apply_protocol(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The spec with its protocol's values filled in, and its departures from the protocol.

    Returns the mapping unchanged (and no departures) when the spec names no protocol or an
    unknown one (the spec's own check reports an unknown protocol).
    """
    out = dict(data)
    if out.get("protocol") != PAPER:
        return out, []
    departures: list[str] = []
    for path, value in PAPER_FIELDS:
        given, current = _get(out, path)
        if path == ("style", "box"):
            # A style file is a complete choice, and the box of the resolved style is what
            # counts: the spec's style check records a box as the departure.
            if not given and not isinstance(out.get("style"), str):
                _set(out, path, value)
            continue
        if not given:
            _set(out, path, value)
        elif current != value:
            departures.append(
                f"{'.'.join(path)} is {current!r}; the paper's protocol has {value!r}"
            )
    conditions = out.get("conditions")
    if isinstance(conditions, list):
        datasets = {c.get("dataset") for c in conditions if isinstance(c, Mapping)}
        if len(datasets) != PAPER_DATASETS:
            departures.append(
                f"the conditions cover {len(datasets)} dataset label(s); the paper's study has "
                "two (CUB-200-2011 and Stanford Cars)"
            )
    return out, departures


__all__ = ["PAPER", "PAPER_QUESTION", "PAPER_SCALE", "PROTOCOLS", "apply_protocol"]
