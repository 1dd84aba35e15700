"""One place that seeds every random number generator a run touches."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int, deterministic: bool = True) -> np.random.Generator:
    """Seed Python, NumPy and torch (all devices) and make cuDNN deterministic.

    Args:
        seed: The run's seed.
        deterministic: Ask cuDNN for deterministic kernels (slower autotuning is given up).

    Returns:
        A NumPy generator for the run's own draws (mixup coefficients).
    """
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    return np.random.default_rng(seed)


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; anything else is passed to :class:`torch.device`."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"train.device={name} but no CUDA device is available; use cpu")
    return device
