"""CUB attribute labels as naming reads them: per-image labels, base rates, groups per part.

A group belongs to a part when every part it is annotated on (``cub_vocab.GROUP_PARTS``) is
that part once left and right are merged: ``wing_color``, ``wing_pattern`` and ``wing_shape``
belong to the wing. Regional groups (``upperparts_color``, ``underparts_color``,
``head_pattern``) belong to no single part and are not used for part names; ``size``, ``shape``
and ``primary_color`` are the part-free groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from protopool.data.cub_attributes import CubAnnotations
from protopool.data.cub_vocab import GROUP_PARTS
from protopool.interpretability.parts import merged_name

CERTAINTY_NOT_VISIBLE = 1
# Word order of a name: "black striped wing", "yellow forked tail".
KIND_ORDER = ("color", "pattern", "shape")


def group_kind(group: str) -> str:
    """``wing_color`` -> ``color``; ``bill_length`` -> ``length``."""
    return group.rpartition("_")[2]


def value_words(group: str, value: str) -> str:
    """The value as it reads in a name: ``forked_tail`` -> ``forked``, ``rounded-wings`` ->
    ``rounded``, ``curved_(up_or_down)`` -> ``curved (up or down)``."""
    noun = group.partition("_")[0]
    for suffix in (f"_{noun}", f"-{noun}s", f"_{noun}s", f"-{noun}"):
        value = value.removesuffix(suffix)
    return value.replace("_", " ").replace("-", " ")


@dataclass(frozen=True, eq=False)
class AttributeTable:
    """Per-image attribute labels of one dataset, ready for frequency counts.

    Attributes:
        rows: Image id to row of :attr:`labels`.
        names: ``has_<group>::<value>`` per column.
        groups: ``(group, value)`` per column.
        labels: ``(N, A)`` in [0, 1]: ``is_present``, or CUB's certainty-weighted soft label.
        base_rate: ``(A,)`` share of the training images showing the group that carry the
            value (the rate any prototype would see by chance).
    """

    rows: dict[str, int]
    names: list[str]
    groups: list[tuple[str, str]]
    labels: np.ndarray
    base_rate: np.ndarray

    @classmethod
    def build(
        cls,
        annotations: CubAnnotations,
        training_ids: Sequence[str],
        certainty_weighted: bool = False,
    ) -> AttributeTable:
        labels = (
            annotations.soft_labels()
            if certainty_weighted
            else annotations.is_present.astype(np.float64)
        )
        rows = {image_id: row for row, image_id in enumerate(annotations.image_ids)}
        train = [rows[i] for i in training_ids if i in rows]
        shown = annotations.certainty[train] > CERTAINTY_NOT_VISIBLE
        carried = (annotations.is_present[train] > 0) & shown
        base = carried.sum(axis=0) / np.maximum(shown.sum(axis=0), 1)
        return cls(rows, annotations.attribute_names, annotations.attribute_groups, labels, base)

    def columns(self, group: str) -> list[int]:
        return [column for column, (name, _) in enumerate(self.groups) if name == group]

    def frequencies(self, group: str, image_ids: Sequence[str]) -> dict[int, float]:
        """Mean label of each of ``group``'s columns over ``image_ids`` (unknown ids skipped)."""
        rows = [self.rows[i] for i in image_ids if i in self.rows]
        columns = self.columns(group)
        if not rows:
            return {column: 0.0 for column in columns}
        means = self.labels[np.ix_(rows, columns)].mean(axis=0)
        return {column: float(mean) for column, mean in zip(columns, means, strict=True)}

    def part_groups(self, part: str) -> list[str]:
        """The groups annotated on ``part`` alone (left and right merged), in CUB order."""
        wanted = merged_name(part)
        present = dict.fromkeys(group for group, _ in self.groups)
        return [
            group
            for group in present
            if (parts := GROUP_PARTS.get(group)) and {merged_name(p) for p in parts} == {wanted}
        ]

    def part_free_groups(self) -> list[str]:
        present = dict.fromkeys(group for group, _ in self.groups)
        return [group for group in present if group in GROUP_PARTS and GROUP_PARTS[group] is None]
