"""Training sections of a run's configuration: the ``data`` pipeline, the ``loss`` and the
``train`` phases, with the official code's loss weights and schedules as defaults.

Where the paper and the official code differ, the default follows the paper and the official
behaviour is an option named for what it does (``loss.orthogonality_on: raw_logits``).
"""

from __future__ import annotations

from dataclasses import dataclass

from protopool.config_checks import ConfigError, check_choice, check_positive


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
            check_positive("data", name, getattr(self, name))
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
        check_choice(
            "loss",
            "orthogonality_on",
            self.orthogonality_on,
            ("slot_logits", "raw_logits", "slot_distributions", "gumbel_samples"),
        )
        if self.mixup:
            check_positive("loss", "mixup_alpha", self.mixup_alpha)


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
        check_positive("train", "lr", self.lr)
        check_choice("train", "amp", self.amp, ("none", "bf16"))
        for name in ("warmup_epochs", "joint_epochs", "finetune_epochs", "early_stopping"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name} cannot be negative")
        check_positive("train", "step_size", self.step_size)
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
        check_positive("train", "checkpoint_every", self.checkpoint_every)


__all__ = ["DataConfig", "LossConfig", "TrainConfig"]
