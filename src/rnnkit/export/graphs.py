"""The graphs that leave the project: each task's model with its fixed preprocessing inside.

Each wrapper takes raw inputs where the preprocessing is fixed and numeric (feature scaling,
image pixels to sequences, a forecast's scaling and unscaling) and returns what a user wants
(probabilities, forecasts in the data's units, scores, logits). What cannot live in a graph
(a vocabulary, class names, column names, an audio front end) is written beside it, in
``metadata.json`` (see :mod:`.exporter`). Shapes: N batch, T steps, F features, L lookback,
H horizon, C columns, V vocabulary.

Variable lengths enter as a ``lengths`` input: the recurrent layers pack and unpack the batch,
which the exporter turns into the ONNX recurrent ops' ``sequence_lens`` (nothing is computed on
padding), so batch and sequence length stay dynamic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.data.images import permutation
from rnnkit.data.scaling import scaler_from_state


def _affine(state: Mapping[str, Any]) -> tuple[Tensor, Tensor]:
    """(shift, scale) float32 tensors of a saved scaler."""
    scaler = scaler_from_state(state)
    return (
        torch.as_tensor(np.asarray(scaler.shift, np.float32)),
        torch.as_tensor(np.asarray(scaler.scale, np.float32)),
    )


class ClassifyGraph(nn.Module):
    """Raw sequences (N, T, F) and lengths (N,) -> class probabilities (N, C).

    For images read as sequences (``kind image``) the input is the raw images (N, H, W) with
    pixel values 0-255, turned into rows or (permuted) pixels inside the graph.
    """

    def __init__(self, model: nn.Module, state: Mapping[str, Any]) -> None:
        super().__init__()
        self.model = model
        shift, scale = _affine(state["scaler"])
        self.register_buffer("shift", shift)
        self.register_buffer("scale", scale)
        self.image = state.get("kind") == "image"
        self.mode = state.get("mode", "rows")
        order = None
        if self.image and self.mode == "permuted":
            h, w = state["image_shape"]
            order = torch.as_tensor(permutation(h * w, state["permutation_seed"]), dtype=torch.long)
        self.register_buffer("order", order)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        if self.image:
            x = x / 255.0
            if self.mode != "rows":
                x = x.reshape(x.shape[0], -1, 1)
                if self.order is not None:
                    x = x.index_select(1, self.order)
        steps = torch.arange(x.shape[1], device=x.device)
        real = (steps.unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(-1)  # (N, T, 1)
        x = torch.where(real, (x - self.shift) / self.scale, torch.zeros_like(x))
        return torch.softmax(self.model(x, lengths), dim=1)


class ForecastGraph(nn.Module):
    """The past in the data's units -> the forecast in the data's units.

    Inputs: ``past`` (N, L, C_obs + C_k): the observed columns in the order of
    ``state["observed"]``, then the known-future covariates (``state["known"]`` and the calendar
    features) of the past steps; ``series`` (N,) int64, each window's series (panels: the
    position in ``state["series"]``; one series: zeros); ``known`` (N, H, C_k), the covariates of
    the forecast steps, when the model has them. Output: (N, H, C_out), or (N, H, C_out, Q) with
    quantiles, in the targets' units.
    """

    def __init__(self, model: nn.Module, state: Mapping[str, Any]) -> None:
        super().__init__()
        self.model = model
        per_series = (
            [state["series"][name] for name in state["series"]] if "series" in state else [state]
        )
        obs = [_affine(s["scaler"]) for s in per_series]
        self.register_buffer("shift", torch.stack([o[0] for o in obs]))  # (S, C_obs)
        self.register_buffer("scale", torch.stack([o[1] for o in obs]))
        self.n_known = int(state["n_known"])
        if self.n_known:
            known = [_affine(s["known_scaler"]) for s in per_series]
            self.register_buffer("known_shift", torch.stack([k[0] for k in known]))  # (S, C_k)
            self.register_buffer("known_scale", torch.stack([k[1] for k in known]))
        self.n_obs, self.n_targets = len(state["observed"]), len(state["targets"])
        self.quantiles = bool(getattr(model, "quantiles", ()))

    def forward(self, past: Tensor, series: Tensor, known: Tensor | None = None) -> Tensor:
        shift, scale = self.shift[series].unsqueeze(1), self.scale[series].unsqueeze(1)  # (N,1,C)
        inputs = (past[..., : self.n_obs] - shift) / scale
        if self.n_known:
            k_shift = self.known_shift[series].unsqueeze(1)
            k_scale = self.known_scale[series].unsqueeze(1)
            inputs = torch.cat([inputs, (past[..., self.n_obs :] - k_shift) / k_scale], dim=-1)
            known = (known - k_shift) / k_scale
        y = self.model(inputs, known)
        t_shift, t_scale = shift[..., : self.n_targets], scale[..., : self.n_targets]
        if self.quantiles:
            return y * t_scale.unsqueeze(-1) + t_shift.unsqueeze(-1)
        return y * t_scale + t_shift


class WindowScoreGraph(nn.Module):
    """Raw windows (N, L, C) -> each window's anomaly score (N,) (the autoencoder's squared
    reconstruction error, before smoothing), as :class:`rnnkit.tasks.anomaly.Detector` scores."""

    def __init__(self, model: nn.Module, state: Mapping[str, Any], center: str) -> None:
        super().__init__()
        self.model = model
        shift, scale = _affine(state["scaler"])
        self.register_buffer("shift", shift)
        self.register_buffer("scale", scale)
        self.center = center

    def forward(self, window: Tensor) -> Tensor:
        x = (window - self.shift) / self.scale
        if self.center == "mean":
            x = x - x.mean(dim=1, keepdim=True)
        return (self.model(x) - x).pow(2).mean(dim=(1, 2))


class NextRecordsGraph(nn.Module):
    """Raw windows (N, L, C) -> the next P records (N, P, C) in the data's units (the
    forecasting detector's network; a record's score is its forecast's mean absolute error)."""

    def __init__(self, model: nn.Module, state: Mapping[str, Any]) -> None:
        super().__init__()
        self.model = model
        shift, scale = _affine(state["scaler"])
        self.register_buffer("shift", shift)
        self.register_buffer("scale", scale)

    def forward(self, window: Tensor) -> Tensor:
        return self.model((window - self.shift) / self.scale) * self.scale + self.shift


class LanguageModelGraph(nn.Module):
    """Token ids (N, T) and the recurrent state -> logits (N, T, V) and the next state.

    The state is ``h`` (layers, N, H), and ``c`` for an LSTM; zeros start a text. The vocabulary
    (ids to tokens) is in ``metadata.json``.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.lstm = isinstance(getattr(model.rnn, "proj_size", None), int)

    def forward(self, tokens: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        logits, new = self.model(tokens, tuple(state) if self.lstm else state[0])
        return (logits, *new) if isinstance(new, tuple) else (logits, new)
