"""Run configuration: frozen dataclasses whose defaults are the ProtoPool paper's CUB settings.

A YAML file names the sections it changes (``model``, ``data``, ``loss``, ``train``); the CLI
overrides single fields with ``section.field=value``. The resolved configuration is written
beside every checkpoint so that a run can always be rebuilt.

Where the paper and the official code differ, the default follows the paper and the official
behaviour is an option named for what it does (``model.slot_mixing: distances``,
``loss.orthogonality_on: raw_logits``, ``model.test_assignment: argmax``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message says which field and why."""


def _choice(section: str, name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{section}.{name} must be one of {', '.join(allowed)}; got {value!r}")


def _positive(section: str, name: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{section}.{name} must be positive; got {value!r}")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture.

    Attributes:
        kind: ``protopool`` or ``prototree`` (whose own settings are the ``tree`` section;
            the slot and Gumbel fields below are ProtoPool's).
        backbone: ``resnet18|34|50|101|152``, ``densenet121|161``, ``vgg19`` or ``tiny``.
        weights: ``imagenet`` (torchvision's cache only, never downloaded), ``none`` (train from
            scratch) or a path to a state dict (an iNaturalist ResNet-50 in the BBN layout is
            recognised and remapped).
        num_prototypes: Pool size M (202 for CUB, 195 for Cars).
        prototype_depth: Channels D of the add-on output and of each prototype.
        slots_per_class: Slots K per class.
        similarity: A name from :mod:`protopool.similarity`.
        slot_mixing: ``similarities`` mixes per-prototype similarities with the slot
            distributions (paper, ``g_k = sum_i q_k^i g_{p_i}``); ``distances`` mixes pooled
            distances before the activation (official code).
        assignment: ``gumbel`` (paper) or ``softmax`` (Table 4 ablation).
        gumbel_tau: Gumbel-softmax temperature.
        gumbel_scale_max: Logit scale reached at the end of the schedule.
        gumbel_scale_epochs: Epochs over which the scale grows as ``max * sqrt(e / epochs)``.
        test_assignment: ``threshold`` sets slot probabilities above 0.5 to 1 and the rest to 0
            (paper); ``argmax`` takes the most likely prototype of every slot (official code,
            whose Gumbel scale of 1e4 amounts to an argmax); ``auto`` is ``threshold`` for the
            paper's model and ``argmax`` wherever a threshold would empty slots (see
            :attr:`test_time_assignment`).
    """

    kind: str = "protopool"
    backbone: str = "resnet50"
    weights: str = "imagenet"
    num_prototypes: int = 202
    prototype_depth: int = 256
    slots_per_class: int = 10
    similarity: str = "focal"
    slot_mixing: str = "similarities"
    assignment: str = "gumbel"
    gumbel_tau: float = 0.5
    gumbel_scale_max: float = 1000.0
    gumbel_scale_epochs: int = 30
    test_assignment: str = "auto"

    def __post_init__(self) -> None:
        from protopool import similarity

        similarity.get(self.similarity)
        _choice("model", "kind", self.kind, ("protopool", "prototree"))
        _choice("model", "slot_mixing", self.slot_mixing, ("similarities", "distances"))
        _choice("model", "assignment", self.assignment, ("gumbel", "softmax"))
        _choice("model", "test_assignment", self.test_assignment, ("auto", "threshold", "argmax"))
        if self.slot_mixing == "distances" and self.test_assignment == "threshold":
            # An empty slot mixes the distances with all-zero weights: distance 0, the maximal
            # similarity, for every image, so every class would score that slot alike.
            raise ConfigError(
                "model.slot_mixing=distances cannot be combined with "
                "model.test_assignment=threshold (an empty slot would get distance 0, the "
                "highest similarity, for every image); use model.test_assignment=argmax or auto"
            )
        for name in ("num_prototypes", "prototype_depth", "slots_per_class", "gumbel_tau"):
            _positive("model", name, getattr(self, name))
        if self.slots_per_class > self.num_prototypes:
            raise ConfigError(
                "model.slots_per_class cannot exceed model.num_prototypes: a class could not "
                "fill its slots with distinct prototypes"
            )

    @property
    def test_time_assignment(self) -> str:
        """The test-time rule ``auto`` stands for: ``threshold`` or ``argmax``.

        The threshold is the paper's rule for Gumbel slots, which end training almost one-hot.
        The softmax ablation (Table 4) ends with flat distributions that a 0.5 threshold would
        leave mostly empty, and the official code evaluates every variant with a near-argmax
        (a Gumbel scale of 1e4), so it gets the argmax; so does distance mixing (see above).
        """
        if self.test_assignment != "auto":
            return self.test_assignment
        if self.assignment == "softmax" or self.slot_mixing == "distances":
            return "argmax"
        return "threshold"


@dataclass(frozen=True)
class TreeConfig:
    """ProtoTree (Nauta et al., 2021), used when ``model.kind`` is ``prototree``.

    The tree shares ``model.backbone``, ``model.weights`` and ``model.prototype_depth`` with
    ProtoPool; it has one prototype per internal node, so ``2**depth - 1`` prototypes.

    Attributes:
        depth: Levels of internal nodes (9 in the reference: 511 prototypes, 512 leaves).
        log_probabilities: Route in log space (the reference's ``--log_probabilities``):
            similarity ``-min distance`` and log1mexp for the absent branch.
        leaf_update: ``derivative_free`` (the reference's rule, once per batch) or ``gradient``.
        inference: The run's default inference mode: ``distributed`` (every leaf weighted by
            its path probability), ``sample_max`` (the most probable leaf) or ``greedy``
            (follow each node's more probable branch).
        pruning_threshold: Subtrees whose leaves all have a top class probability at most
            this are pruned after training; the sibling replaces the parent.
    """

    depth: int = 9
    log_probabilities: bool = False
    leaf_update: str = "derivative_free"
    inference: str = "distributed"
    pruning_threshold: float = 0.01

    def __post_init__(self) -> None:
        if self.depth < 1:
            raise ConfigError(f"tree.depth must be at least 1; got {self.depth}")
        _choice("tree", "leaf_update", self.leaf_update, ("derivative_free", "gradient"))
        _choice("tree", "inference", self.inference, ("distributed", "sample_max", "greedy"))
        if not 0 <= self.pruning_threshold < 1:
            raise ConfigError("tree.pruning_threshold must be in [0, 1)")

    @property
    def num_prototypes(self) -> int:
        return int(2**self.depth) - 1

    @property
    def num_leaves(self) -> int:
        return int(2**self.depth)


@dataclass(frozen=True)
class DataConfig:
    """Data pipeline.

    Attributes:
        root: Dataset directory (CUB-200-2011, Stanford Cars, an image folder or SynthBirds);
            ``--data`` overrides it.
        image_size: Square input size in pixels.
        crop_to_bbox: Crop to the object box where the dataset has one (as the paper does).
        augment: ProtoPNet's three augmentation pipelines (rotation, perspective skew, shear,
            each with a flip), drawn online per image on the compute device
            (:mod:`protopool.training.augment`).
        epoch_repeats: Times each training image is drawn per epoch, each time with a fresh
            augmentation. The official code trains on ProtoPNet's offline set of 30 augmented
            copies per image, so its epochs are ~30 of ours: every schedule counted in epochs
            (warm-up, the Gumbel ramp, StepLR, fine-tuning) is that many steps long only with
            the same factor.
        cache_images: Keep decoded, cropped and resized images in memory after the first
            epoch (for small datasets; the cache lives in each loader worker).
        validation_fraction: Share of each training class held out for model selection.
        batch_size: Training batch size (dropping the last incomplete batch).
        eval_batch_size: Batch size for validation, test and projection.
        num_workers: Data-loading worker processes.
        mean: Normalisation mean (ImageNet).
        std: Normalisation standard deviation (ImageNet).
    """

    root: str = ""
    image_size: int = 224
    crop_to_bbox: bool = True
    augment: bool = True
    epoch_repeats: int = 1
    cache_images: bool = False
    validation_fraction: float = 0.1
    batch_size: int = 80
    eval_batch_size: int = 100
    num_workers: int = 4
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    def __post_init__(self) -> None:
        for name in ("image_size", "batch_size", "eval_batch_size", "epoch_repeats"):
            _positive("data", name, getattr(self, name))
        if not 0 <= self.validation_fraction < 1:
            raise ConfigError("data.validation_fraction must be in [0, 1)")
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))


@dataclass(frozen=True)
class LossConfig:
    """Loss weights (official values) and variants.

    Attributes:
        cross_entropy: Weight of the (mixup) cross-entropy.
        cluster: Weight of the cluster cost.
        separation: Weight of the separation cost, which is *subtracted*.
        l1: Weight of the L1 penalty on the last layer's off-class weights.
        orthogonality: Weight of the slot orthogonality loss (0 is the Table 4 ablation).
        orthogonality_on: What Eq. (2), the sum over a class's slot pairs of their cosine
            (averaged over classes), is applied to. ``slot_logits``: the vectors the paper's
            Gumbel-softmax takes, ``s * theta`` (the scale cancels in a cosine);
            ``raw_logits``: the official code's form, the same cosines as a mean over all
            slot pairs with the diagonal subtracted, i.e. ``2 / K`` times ``slot_logits``;
            ``slot_distributions``: ``softmax(theta)``, near uniform while the logits are
            small, so its cosines stay near 1 and its gradient is ~1/P of classification's;
            ``gumbel_samples``: the sampled slots of each batch, one-hot once the scale is
            large, so two slots that share a prototype get no gradient.
        mixup: Train on mixup pairs (official code).
        mixup_alpha: Beta(alpha, alpha) mixing coefficient.
    """

    cross_entropy: float = 1.0
    cluster: float = 0.8
    separation: float = 0.08
    l1: float = 1e-4
    orthogonality: float = 1.0
    orthogonality_on: str = "slot_logits"
    mixup: bool = True
    mixup_alpha: float = 0.5

    def __post_init__(self) -> None:
        _choice(
            "loss",
            "orthogonality_on",
            self.orthogonality_on,
            ("slot_logits", "raw_logits", "slot_distributions", "gumbel_samples"),
        )
        if self.mixup:
            _positive("loss", "mixup_alpha", self.mixup_alpha)


@dataclass(frozen=True)
class TrainConfig:
    """Phases, optimisation and execution.

    Learning rates follow the official code: add-on, prototypes and slot logits at
    ``head_lr_factor * lr``, backbone at ``backbone_lr_factor * lr`` and the last layer at
    ``last_layer_lr_factor * lr``, all Adam.

    Attributes:
        lr: Base learning rate.
        head_lr_factor: Multiplier for add-on, prototypes and slot logits.
        backbone_lr_factor: Multiplier for the backbone in the joint phase.
        last_layer_lr_factor: Multiplier for the last layer in fine-tuning.
        weight_decay: On backbone, add-on and last layer.
        warmup_epochs: Epochs with the backbone frozen (the official `--warmup_time 10` trains
            epochs 1-9; its epoch 0 only validates).
        joint_epochs: Epochs training everything but the last layer.
        step_size: Joint-phase StepLR period in epochs.
        gamma: Joint-phase StepLR factor (and MultiStepLR's, with ``milestones``).
        milestones: Joint-phase epochs at which every LR is multiplied by ``gamma``
            (MultiStepLR, as ProtoTree's reference uses); empty: StepLR every ``step_size``.
        plateau_patience: Epochs without validation improvement before decaying every LR.
        plateau_factor: Per-epoch LR factor once on a plateau.
        early_stopping: Stop the joint phase after this many epochs without improvement
            (0 never stops early).
        finetune_epochs: Last-layer fine-tuning epochs after projection.
        finetune_step_size: Fine-tuning LR decay period.
        finetune_gamma: Fine-tuning LR decay factor.
        project: Run projection and fine-tuning after the joint phase.
        seed: Seed for every random number generator.
        device: ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``.
        amp: ``none`` or ``bf16`` autocast.
        channels_last: Use the channels-last memory format.
        num_threads: CPU threads for torch (0 leaves torch's default).
        checkpoint_every: Epochs between ``last.pt`` saves (the best is saved when it improves).
    """

    lr: float = 1e-3
    head_lr_factor: float = 3.0
    backbone_lr_factor: float = 0.1
    last_layer_lr_factor: float = 0.1
    weight_decay: float = 1e-3
    warmup_epochs: int = 9
    joint_epochs: int = 90
    step_size: int = 5
    gamma: float = 0.1
    milestones: tuple[int, ...] = ()
    plateau_patience: int = 5
    plateau_factor: float = 0.95
    early_stopping: int = 0
    finetune_epochs: int = 25
    finetune_step_size: int = 5
    finetune_gamma: float = 0.95
    project: bool = True
    seed: int = 0
    device: str = "auto"
    amp: str = "none"
    channels_last: bool = False
    num_threads: int = 0
    checkpoint_every: int = 1

    def __post_init__(self) -> None:
        _positive("train", "lr", self.lr)
        _choice("train", "amp", self.amp, ("none", "bf16"))
        for name in ("warmup_epochs", "joint_epochs", "finetune_epochs", "early_stopping"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name} cannot be negative")
        _positive("train", "step_size", self.step_size)
        try:
            object.__setattr__(self, "milestones", tuple(int(m) for m in self.milestones))
        except (TypeError, ValueError):
            raise ConfigError(
                f"train.milestones must be a list of epochs; got {self.milestones!r}"
            ) from None
        if list(self.milestones) != sorted(set(self.milestones)) or any(
            m <= 0 for m in self.milestones
        ):
            raise ConfigError("train.milestones must be increasing positive epochs")
        _positive("train", "checkpoint_every", self.checkpoint_every)


@dataclass(frozen=True)
class Config:
    """A whole run."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tree: TreeConfig = field(default_factory=TreeConfig)

    def to_dict(self) -> dict[str, Any]:
        plain: dict[str, Any] = _plain(dataclasses.asdict(self))
        return plain

    def fingerprint(self) -> str:
        """Stable hash of every resolved field."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


_SECTION_TYPES = {
    "model": ModelConfig,
    "data": DataConfig,
    "loss": LossConfig,
    "train": TrainConfig,
    "tree": TreeConfig,
}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _coerce(cls: type, section: str, key: str, value: Any) -> Any:
    """Convert a YAML value to the type of the field's default (YAML reads 5e-4 as a string)."""
    default = next(f for f in fields(cls) if f.name == key).default
    if isinstance(default, bool) or value is None:
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"{section}.{key} must be true or false; got {value!r}")
        return value
    try:
        if isinstance(default, float):
            return float(value)
        if isinstance(default, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if isinstance(default, str):
            return str(value)
    except (TypeError, ValueError):
        kind = type(default).__name__
        raise ConfigError(f"{section}.{key} must be a {kind}; got {value!r}") from None
    return value


def config_from_dict(data: dict[str, Any] | None) -> Config:
    """Build a :class:`Config` from nested mappings, rejecting unknown keys."""
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError("a configuration must be a mapping of sections")
    unknown = set(data) - set(_SECTION_TYPES)
    if unknown:
        raise ConfigError(
            f"unknown config section(s) {sorted(unknown)}; use {sorted(_SECTION_TYPES)}"
        )
    sections = {}
    for name, cls in _SECTION_TYPES.items():
        values = data.get(name) or {}
        known = {f.name for f in fields(cls)}
        bad = set(values) - known
        if bad:
            raise ConfigError(
                f"unknown field(s) {sorted(bad)} in section {name!r}; known: {sorted(known)}"
            )
        values = {key: _coerce(cls, name, key, value) for key, value in values.items()}
        try:
            sections[name] = cls(**values)
        except TypeError as exc:
            raise ConfigError(f"section {name!r}: {exc}") from exc
    return Config(**sections)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.field=value`` overrides (values parsed as YAML) to nested mappings."""
    data = {k: dict(v or {}) for k, v in data.items()}
    for item in overrides:
        key, sep, raw = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise ConfigError(f"override {item!r} must look like section.field=value")
        data.setdefault(section, {})[name] = yaml.safe_load(raw)
    return data


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config (or the defaults when ``path`` is None) and apply overrides.

    Raises:
        ConfigError: Missing file, bad YAML, unknown field or invalid value.
    """
    data = (
        {}
        if path is None
        else read_yaml_mapping(path, ConfigError, "config file", "configs/*.yaml")
    )
    return config_from_dict(apply_overrides(data, overrides or []))


def read_yaml_mapping(
    path: str | Path, error: type[ValueError], what: str, examples: str
) -> dict[str, Any]:
    """The mapping a YAML file holds (empty for an empty file).

    Args:
        path: The file.
        error: The exception to raise, with a message naming the file.
        what: What the file is, for the "not found" message ("config file").
        examples: Where to find valid files, for the same message.

    Raises:
        error: A missing file, bad YAML or a document that is not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{what} not found: {path} (see {examples})")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise error(f"cannot parse {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise error(f"{path} must hold a mapping of field: value")
    return data


def config_to_yaml(config: Config) -> str:
    return str(yaml.safe_dump(config.to_dict(), sort_keys=False))
