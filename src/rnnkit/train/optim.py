"""Optimisers, L1/L2 penalties and gradient clipping, built from :class:`OptimConfig`."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from .settings import OptimConfig


def build_optimizer(params: Iterable[nn.Parameter], config: OptimConfig) -> torch.optim.Optimizer:
    """SGD (with momentum), Adam, AdamW, RMSprop or Adagrad with the configured settings."""
    params = list(params)
    c = config
    if c.name == "sgd":
        return torch.optim.SGD(
            params, lr=c.lr, momentum=c.momentum, nesterov=c.nesterov, weight_decay=c.weight_decay
        )
    if c.name == "adam":
        return torch.optim.Adam(
            params, lr=c.lr, betas=(c.beta1, c.beta2), eps=c.eps, weight_decay=c.weight_decay
        )
    if c.name == "adamw":
        return torch.optim.AdamW(
            params, lr=c.lr, betas=(c.beta1, c.beta2), eps=c.eps, weight_decay=c.weight_decay
        )
    if c.name == "rmsprop":
        return torch.optim.RMSprop(
            params, lr=c.lr, momentum=c.momentum, eps=c.eps, weight_decay=c.weight_decay
        )
    if c.name == "adagrad":
        return torch.optim.Adagrad(params, lr=c.lr, eps=c.eps, weight_decay=c.weight_decay)
    raise ValueError(f"optim.name must be sgd, adam, adamw, rmsprop or adagrad, got {c.name!r}")


def penalized_weights(model: nn.Module) -> list[Tensor]:
    """The parameters L1/L2 penalties apply to: weight matrices, not biases or norm gains."""
    return [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]


def penalty(weights: list[Tensor], l1: float, l2: float) -> Tensor | None:
    """``l1 * sum|w| + l2 * sum w^2`` over ``weights``, or None when both are zero."""
    if not weights or (l1 == 0 and l2 == 0):
        return None
    total = weights[0].new_zeros(())
    if l1:
        total = total + l1 * torch.stack([w.abs().sum() for w in weights]).sum()
    if l2:
        total = total + l2 * torch.stack([w.pow(2).sum() for w in weights]).sum()
    return total


def clip_gradients(params: list[Tensor], clip_norm: float, clip_value: float) -> Tensor:
    """Clip each element to [-clip_value, clip_value], then the global L2 norm to ``clip_norm``.

    Returns the global gradient norm before any clipping: what ``steps.csv`` records (a 0-d
    tensor, left on the device so that no step waits for it). Zero settings switch a clip off.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros((), device=params[0].device if params else None)
    if clip_value:
        norm = torch.nn.utils.get_total_norm(grads)
        torch.nn.utils.clip_grad_value_(params, clip_value)
        if clip_norm:
            torch.nn.utils.clip_grad_norm_(params, clip_norm)
        return norm
    if clip_norm:
        return torch.nn.utils.clip_grad_norm_(params, clip_norm)
    return torch.nn.utils.get_total_norm(grads)
