"""Optimiser and learning-rate schedule of the paper's recipe: SGD or AdamW, warm-up + cosine."""

from __future__ import annotations

import math

import torch
from torch import nn

OPTIMIZERS = ("sgd", "adamw")


def parameter_groups(model: nn.Module, *, weight_decay: float) -> list[dict]:
    """Weight decay on weights only: none on batch-norm parameters and biases (the recipe)."""
    decay, no_decay = [], []
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            is_norm = isinstance(module, nn.modules.batchnorm._NormBase | nn.GroupNorm | nn.LayerNorm)
            (no_decay if is_norm or name == "bias" else decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(
    model: nn.Module, *, name: str, lr: float, weight_decay: float, momentum: float
) -> torch.optim.Optimizer:
    groups = parameter_groups(model, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=momentum > 0)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")


def warmup_cosine(*, total_steps: int, warmup_steps: int, warmup_start_factor: float) -> callable:
    """LR factor per step: linear from ``warmup_start_factor`` to 1, then cosine to 0."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return warmup_start_factor + (1 - warmup_start_factor) * step / max(warmup_steps, 1)
        progress = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return factor
