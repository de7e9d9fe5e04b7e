"""Per-channel scalers fitted on training rows only, saved beside a model as plain JSON.

``z = (x - shift) / scale``, with the last axis of ``x`` the C channels:

* :class:`StandardScaler` — the training mean and standard deviation (ddof 0) per channel;
* :class:`GlobalStandardScaler` — one mean and standard deviation over every channel;
* :class:`MinMaxScaler` — each channel's training range onto [0, 1];
* :class:`IdentityScaler` — no scaling.

A channel that is constant in training (scale below 1e-8) keeps scale 1. Statistics are computed
in the dtype of the data they are fitted on, and ``transform`` computes in the dtype of its input
(NumPy arrays or torch tensors), so float32 features stay float32 end to end.
``state_dict()`` and :func:`scaler_from_state` round-trip a fitted scaler through JSON.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

MIN_SCALE = 1e-8  # a channel whose training spread is below this is treated as constant


class Scaler:
    """Per-channel affine scaling ``z = (x - shift) / scale``, fitted on training rows only.

    ``transform``/``inverse_transform`` take arrays or tensors whose last dimension is C, or a
    subset of the channels given by ``channels`` (indices into the fitted columns).
    """

    kind = "none"

    def __init__(self) -> None:
        self.shift: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> Scaler:
        """Fit on (T, C) training rows (float arrays keep their dtype); returns self."""
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float64)
        if x.ndim != 2 or len(x) == 0:
            raise ValueError(f"fit needs a non-empty (T, C) array, got shape {x.shape}")
        shift, scale = self._stats(x)
        self.shift, self.scale = shift, np.where(scale > MIN_SCALE, scale, 1.0).astype(x.dtype)
        return self

    def _stats(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(x.shape[1], x.dtype), np.ones(x.shape[1], x.dtype)

    def _params(self, channels: Sequence[int] | None, like):
        if self.shift is None or self.scale is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit first")
        shift, scale = self.shift, self.scale
        if channels is not None:
            shift, scale = shift[list(channels)], scale[list(channels)]
        if isinstance(like, torch.Tensor):
            return (
                torch.as_tensor(shift, dtype=like.dtype, device=like.device),
                torch.as_tensor(scale, dtype=like.dtype, device=like.device),
            )
        dtype = like.dtype if np.issubdtype(like.dtype, np.floating) else np.float64
        return shift.astype(dtype, copy=False), scale.astype(dtype, copy=False)

    def transform(self, x, channels: Sequence[int] | None = None):
        """``(x - shift) / scale`` over the last axis."""
        x = x if isinstance(x, torch.Tensor) else np.asarray(x)
        shift, scale = self._params(channels, x)
        return (x - shift) / scale

    def inverse_transform(self, z, channels: Sequence[int] | None = None):
        """``z * scale + shift`` over the last axis."""
        z = z if isinstance(z, torch.Tensor) else np.asarray(z)
        shift, scale = self._params(channels, z)
        return z * scale + shift

    def state_dict(self) -> dict:
        """JSON-ready ``{"kind", "dtype", "shift", "scale"}``."""
        return {
            "kind": self.kind,
            "dtype": None if self.shift is None else str(self.shift.dtype),
            "shift": None if self.shift is None else self.shift.tolist(),
            "scale": None if self.scale is None else self.scale.tolist(),
        }


class IdentityScaler(Scaler):
    """No scaling (shift 0, scale 1)."""


class StandardScaler(Scaler):
    """Subtract the training mean, divide by the training standard deviation (ddof=0)."""

    kind = "standard"

    def _stats(self, x):
        return x.mean(axis=0), x.std(axis=0)


class GlobalStandardScaler(Scaler):
    """One mean and standard deviation over all channels (for features on one scale)."""

    kind = "global"

    def _stats(self, x):
        return np.full(x.shape[1], x.mean(), x.dtype), np.full(x.shape[1], x.std(), x.dtype)


class MinMaxScaler(Scaler):
    """Map the training range of each channel onto [0, 1]."""

    kind = "minmax"

    def _stats(self, x):
        lo, hi = x.min(axis=0), x.max(axis=0)
        return lo, hi - lo


SCALERS: dict[str, type[Scaler]] = {
    "standard": StandardScaler,
    "global": GlobalStandardScaler,
    "minmax": MinMaxScaler,
    "none": IdentityScaler,
}


def make_scaler(kind: str) -> Scaler:
    """A new, unfitted scaler: ``"standard"``, ``"global"``, ``"minmax"`` or ``"none"``."""
    if kind not in SCALERS:
        raise ValueError(f"scaler must be one of {sorted(SCALERS)}, got {kind!r}")
    return SCALERS[kind]()


def scaler_from_state(state: dict) -> Scaler:
    """Rebuild a fitted scaler from :meth:`Scaler.state_dict`."""
    scaler = make_scaler(state["kind"])
    if state.get("shift") is not None:
        dtype = np.dtype(state.get("dtype") or np.float64)
        scaler.shift = np.asarray(state["shift"], dtype=dtype)
        scaler.scale = np.asarray(state["scale"], dtype=dtype)
    return scaler
