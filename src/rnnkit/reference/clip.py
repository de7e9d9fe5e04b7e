"""Gradient clipping, as ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_`` compute it.

Both take the gradients as a dict of arrays (as ``backward`` returns them) or a list of arrays,
and return new arrays in the same container; nothing is modified in place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

Grads = Mapping[str, np.ndarray] | Sequence[np.ndarray]


def _check_positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float, np.floating)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def _map(grads: Grads, fn):
    if isinstance(grads, Mapping):
        return {name: fn(np.asarray(g, dtype=np.float64)) for name, g in grads.items()}
    return [fn(np.asarray(g, dtype=np.float64)) for g in grads]


def clip_grad_norm(grads: Grads, max_norm: float, norm_type: float = 2.0):
    r"""Rescale all gradients together so that their global norm is at most ``max_norm``.

    .. math::
        \|g\| = \Big(\sum_{\text{arrays } a}\ \sum_j |a_j|^p\Big)^{1/p} \qquad
        g \leftarrow g \cdot \min\!\Big(1, \frac{\text{max\_norm}}{\|g\| + 10^{-6}}\Big)

    (p = ``norm_type``, ``inf`` for the largest absolute entry; the 1e-6 is torch's.)

    Returns:
        ``(clipped_grads, total_norm)``: the norm is the one before clipping.
    """
    _check_positive("max_norm", max_norm)
    if not (norm_type == math.inf or (isinstance(norm_type, (int, float)) and norm_type > 0)):
        raise ValueError(f"norm_type must be a positive number or inf, got {norm_type!r}")
    arrays = [
        np.asarray(g, dtype=np.float64)
        for g in (grads.values() if isinstance(grads, Mapping) else grads)
    ]
    if not arrays:
        return _map(grads, lambda g: g), 0.0
    if norm_type == math.inf:
        total_norm = max(float(np.max(np.abs(a), initial=0.0)) for a in arrays)
    else:
        total_norm = sum(float(np.sum(np.abs(a) ** norm_type)) for a in arrays) ** (1 / norm_type)
    scale = min(1.0, max_norm / (total_norm + 1e-6))
    return _map(grads, lambda g: g * scale), total_norm


def clip_grad_value(grads: Grads, clip_value: float):
    """Clamp every gradient entry to ``[-clip_value, clip_value]``; returns the clipped copy."""
    _check_positive("clip_value", clip_value)
    return _map(grads, lambda g: np.clip(g, -clip_value, clip_value))
