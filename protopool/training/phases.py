"""Training phases as data: which parameters train, at which rates, with which assignment.

The loop in :mod:`protopool.training.engine` runs these records in order; nothing about a
phase is hard-coded there.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from protopool.config import Config, DataConfig, LossConfig
from protopool.models import ProtoPool, ProtoTree, PrototypeModel

GROUPS = ("backbone", "add_on", "prototypes", "slot_logits", "last_layer", "leaves")


@dataclass(frozen=True)
class ParamGroup:
    """One optimizer group: a named part of the model, its LR multiplier and weight decay."""

    name: str
    lr_factor: float
    weight_decay: float = 0.0


@dataclass(frozen=True)
class Phase:
    """One stage of training.

    Attributes:
        name: ``warmup``, ``joint``, ``projection`` or ``finetune``.
        epochs: Epochs to run (projection runs once and ignores it).
        groups: Parameter groups to optimise; every other parameter is frozen.
        learnable_assignment: Slots follow the Gumbel schedule (True) or the hard test-time
            assignment (False).
        loss: Loss weights for this phase.
        step_size: StepLR period in epochs (0: constant LR).
        gamma: StepLR factor (MultiStepLR's with ``milestones``).
        milestones: Epochs of MultiStepLR; when set they replace ``step_size``.
        plateau_decay: Decay every LR while validation accuracy stalls.
        early_stopping: Stop after this many epochs without improvement (0: never).
        selects_best: Save ``best.pt`` when validation accuracy improves.
        restore_best: Continue from ``best.pt`` when the phase ends, so that projection
            starts from the model selected on validation rather than the last epoch.
        frozen_norms_eval: Keep batch norms whose parameters are frozen in eval mode, so their
            running statistics stay put (see :func:`protopool.training.engine.set_train_mode`).
    """

    name: str
    epochs: int
    groups: tuple[ParamGroup, ...] = ()
    learnable_assignment: bool = True
    loss: LossConfig = LossConfig()
    step_size: int = 0
    gamma: float = 1.0
    milestones: tuple[int, ...] = ()
    plateau_decay: bool = False
    early_stopping: int = 0
    selects_best: bool = True
    restore_best: bool = False
    frozen_norms_eval: bool = False

    @property
    def is_projection(self) -> bool:
        return self.name == "projection"


def build_phases(config: Config) -> list[Phase]:
    """The phases of the run's model, ProtoPool's or ProtoTree's; empty phases are left out."""
    tree = config.model.kind == "prototree"
    phases = tree_phases(config) if tree else protopool_phases(config)
    return [phase for phase in phases if phase.epochs > 0]


def tree_phases(config: Config) -> list[Phase]:
    """ProtoTree's reference schedule: frozen backbone, joint training, pruning and projection.

    No fine-tuning follows: the leaves are the tree's last layer and have been fitted all along.
    The slot schedule does not apply (``learnable_assignment`` is off, so no Gumbel scale).
    """
    train = config.train
    decay = train.weight_decay
    head = [
        ParamGroup("add_on", train.head_lr_factor, decay),
        ParamGroup("prototypes", train.head_lr_factor),
    ]
    if config.tree.leaf_update == "gradient":
        head.append(ParamGroup("leaves", train.head_lr_factor))
    phases = [
        Phase("warmup", train.warmup_epochs, tuple(head), False, config.loss),
        Phase(
            "joint",
            train.joint_epochs,
            (ParamGroup("backbone", train.backbone_lr_factor, decay), *head),
            False,
            config.loss,
            step_size=train.step_size,
            gamma=train.gamma,
            milestones=train.milestones,
            early_stopping=train.early_stopping,
            restore_best=train.project,
        ),
    ]
    if train.project:
        # Pruning, then class-constrained projection (the loop's projection step does both).
        phases.append(Phase("projection", 1, learnable_assignment=False))
    return phases


def protopool_phases(config: Config) -> list[Phase]:
    """The official schedule: warm-up, joint, projection, last-layer fine-tuning.

    The last layer stays at its 1/0 initialisation until fine-tuning, as in the official code.
    """
    train = config.train
    decay = train.weight_decay
    head = (
        ParamGroup("add_on", train.head_lr_factor, decay),
        ParamGroup("prototypes", train.head_lr_factor),
        ParamGroup("slot_logits", train.head_lr_factor),
    )
    phases = [
        Phase("warmup", train.warmup_epochs, head, loss=config.loss),
        Phase(
            "joint",
            train.joint_epochs,
            (ParamGroup("backbone", train.backbone_lr_factor, decay), *head),
            loss=config.loss,
            step_size=train.step_size,
            gamma=train.gamma,
            milestones=train.milestones,
            plateau_decay=True,
            early_stopping=train.early_stopping,
            restore_best=train.project,
        ),
    ]
    if train.project:
        # Only the last layer moves now, so cluster, separation and orthogonality have no
        # gradient left; the official fine-tuning keeps cross-entropy and L1.
        finetune_loss = dataclasses.replace(
            config.loss, cluster=0.0, separation=0.0, orthogonality=0.0
        )
        phases += [
            Phase("projection", 1, learnable_assignment=False),
            Phase(
                "finetune",
                train.finetune_epochs,
                (ParamGroup("last_layer", train.last_layer_lr_factor, decay),),
                learnable_assignment=False,
                loss=finetune_loss,
                step_size=train.finetune_step_size,
                gamma=train.finetune_gamma,
                # The official code leaves the backbone's batch norms updating here, which
                # moves every latent patch away from the prototype projected onto it.
                frozen_norms_eval=True,
            ),
        ]
    return phases


def steps_per_epoch(train_images: int, data: DataConfig) -> int:
    """Optimisation steps in one training epoch (the last incomplete batch is dropped)."""
    draws = train_images * data.epoch_repeats
    return draws // min(data.batch_size, draws) if draws else 0


def phase_steps(config: Config, train_images: int) -> dict[str, int]:
    """Optimisation steps of every training phase, for a training split of that size.

    Args:
        config: The run's configuration.
        train_images: Images in the training split (validation held out).

    Returns:
        ``{phase name: steps}`` in phase order; projection takes none.
    """
    per_epoch = steps_per_epoch(train_images, config.data)
    return {
        phase.name: 0 if phase.is_projection else phase.epochs * per_epoch
        for phase in build_phases(config)
    }


def group_parameters(model: PrototypeModel, name: str) -> list[torch.nn.Parameter]:
    """The parameters of a named part of either model.

    Raises:
        ValueError: The model has no such part (slots and last layer are ProtoPool's, leaves
            a gradient-trained tree's).
    """
    shared = {"backbone": model.features, "add_on": model.add_on}
    if name in shared:
        return list(shared[name].parameters())
    if name == "prototypes":
        return [model.prototypes]
    if isinstance(model, ProtoPool) and name == "slot_logits":
        return [model.slot_logits]
    if isinstance(model, ProtoPool) and name == "last_layer":
        return list(model.last_layer.parameters())
    if isinstance(model, ProtoTree) and name == "leaves":
        if not isinstance(model.leaf_logits, torch.nn.Parameter):
            raise ValueError("the tree's leaves are not trained by gradient (tree.leaf_update)")
        return [model.leaf_logits]
    raise ValueError(f"{type(model).__name__} has no parameter group {name!r}")


def make_optimizer(model: PrototypeModel, phase: Phase, base_lr: float) -> torch.optim.Adam:
    """Freeze everything outside the phase's groups and build Adam over the rest."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    groups = []
    for group in phase.groups:
        params = group_parameters(model, group.name)
        for parameter in params:
            parameter.requires_grad_(True)
        groups.append(
            {
                "params": params,
                "lr": base_lr * group.lr_factor,
                "weight_decay": group.weight_decay,
                "name": group.name,
            }
        )
    return torch.optim.Adam(groups)


def make_scheduler(
    optimizer: torch.optim.Optimizer, phase: Phase
) -> torch.optim.lr_scheduler.LRScheduler:
    if phase.milestones:
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, list(phase.milestones), phase.gamma)
    if phase.step_size <= 0:
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    return torch.optim.lr_scheduler.StepLR(optimizer, phase.step_size, phase.gamma)
