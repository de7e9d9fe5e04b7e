"""Video models: a ConvLSTM encoder-forecaster, and three clip classifiers.

Shapes: N clips, L frames, C channels, H x W pixels; p the patch side, s = (H/p, W/p) the
frame size the recurrent layers see, C_h their channels, K classes.

* :class:`EncoderForecaster` (Shi et al., 2015, fig. 3): frames -> space-to-depth patches ->
  encoder (stacked ConvLSTMs) whose final states start the forecaster (stacked ConvLSTMs with
  no input); a 1x1 convolution of every forecaster layer's output gives each future frame.
* :class:`ConvClipClassifier`: ConvLSTM over the clip, its final h pooled, a linear head.
* :class:`CnnRnnClassifier`: a CNN per frame, an LSTM over the frame features, a linear head.
* :class:`FrameCnnClassifier`: the same CNN per frame, a head per frame; a clip's class
  probabilities are the mean of its frames'. It never sees two frames together.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.config import ConfigError
from rnnkit.nn import make_conv_encoder, make_encoder

from .config import VideoModel


def _patches(x: Tensor, p: int) -> Tensor:
    """Space-to-depth: (N, L, C, H, W) -> (N, L, C p^2, H/p, W/p)."""
    N, L = x.shape[:2]
    y = F.pixel_unshuffle(x.flatten(0, 1), p)
    return y.view(N, L, *y.shape[1:])


def _check_patch(frame: tuple[int, int, int], p: int) -> None:
    if frame[1] % p or frame[2] % p:
        raise ConfigError(f"model.patch={p} must divide the frame size {frame[1]} x {frame[2]}")


def _conv_stack(config: VideoModel, channels: int) -> nn.ModuleList:
    """``num_layers`` single-layer conv encoders (each layer's outputs stay reachable)."""
    layers = []
    for k in range(config.num_layers):
        layers.append(
            make_conv_encoder(
                config.cell,
                channels if k == 0 else config.hidden_channels,
                config.hidden_channels,
                config.kernel_size,
                dims=2,
                batch_first=True,
                norm=config.norm,
                **({"peephole": True} if config.peephole else {}),
            )
        )
    return nn.ModuleList(layers)


class EncoderForecaster(nn.Module):
    """Frames in, frames out: ``forward(x (N, L_in, C, H, W)) -> logits (N, L_out, C, H, W)``.

    Encoder layer k reads layer k-1's outputs (layer 0 the patches); forecaster layer k starts
    from encoder layer k's final state, layer 0 reads zeros (the forecaster has no input, as in
    Shi et al.), layer k > 0 reads layer k-1's outputs. The prediction of step t is a 1x1
    convolution of the forecaster layers' h_t, concatenated, back to pixels (depth-to-space).
    Apply a sigmoid to the logits for pixel values in [0, 1].
    """

    def __init__(
        self, frame: tuple[int, int, int], in_frames: int, out_frames: int, config: VideoModel
    ) -> None:
        super().__init__()
        _check_patch(frame, config.patch)
        self.patch, self.in_frames, self.out_frames = config.patch, in_frames, out_frames
        self.loss = config.loss  # the task's step reads it
        channels = frame[0] * config.patch**2
        self.encoder = _conv_stack(config, channels)
        self.forecaster = _conv_stack(config, 1)
        self.head = nn.Conv2d(config.num_layers * config.hidden_channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        z = _patches(x, self.patch)  # (N, L_in, C p^2, *s)
        states = []
        for layer in self.encoder:
            z, state = layer(z)
            states.append(state)
        N, s = z.shape[0], z.shape[-2:]
        z = z.new_zeros(N, self.out_frames, 1, *s)
        outputs = []
        for layer, state in zip(self.forecaster, states):
            z, _ = layer(z, state)  # (N, L_out, C_h, *s)
            outputs.append(z)
        y = self.head(torch.cat(outputs, dim=2).flatten(0, 1))  # (N L_out, C p^2, *s)
        y = F.pixel_shuffle(y, self.patch)
        return y.view(N, self.out_frames, *y.shape[1:])


class ConvClipClassifier(nn.Module):
    """Clip -> class logits: ConvLSTM layers over patches, the last layer's final h pooled
    (mean and max over positions), dropout, ``Linear(2 C_h, K)``."""

    def __init__(self, frame: tuple[int, int, int], classes: int, config: VideoModel) -> None:
        super().__init__()
        _check_patch(frame, config.patch)
        self.patch = config.patch
        self.encoder = make_conv_encoder(
            config.cell,
            frame[0] * config.patch**2,
            config.hidden_channels,
            config.kernel_size,
            dims=2,
            num_layers=config.num_layers,
            batch_first=True,
            norm=config.norm,
            **({"peephole": True} if config.peephole else {}),
        )
        self.dropout = nn.Dropout(config.head_dropout)
        self.head = nn.Linear(2 * config.hidden_channels, classes)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        _, state = self.encoder(_patches(x, self.patch), lengths=lengths)
        h = (state[0] if isinstance(state, tuple) else state)[-1]  # (N, C_h, *s)
        pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return self.head(self.dropout(pooled))


class FrameCNN(nn.Module):
    """One frame's patches -> a feature vector: blocks of [conv 3x3, batch norm, ReLU, max-pool
    2], then adaptive average pooling to 4 x 4 (so positions stay visible), flattened.

    (B, C p^2, H/p, W/p) -> (B, 16 K_last) with K_last = channels * 2^(blocks - 1).
    """

    def __init__(self, in_channels: int, channels: int, blocks: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        k_in, k = in_channels, channels
        for _ in range(blocks):
            layers += [
                nn.Conv2d(k_in, k, 3, padding=1, bias=False),
                nn.BatchNorm2d(k),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            k_in, k = k, 2 * k
        layers.append(nn.AdaptiveAvgPool2d(4))
        self.net = nn.Sequential(*layers)
        self.output_size = 16 * k_in

    def forward(self, frames: Tensor) -> Tensor:
        return self.net(frames).flatten(1)


class CnnRnnClassifier(nn.Module):
    """Clip -> logits: :class:`FrameCNN` on every frame's patches, an LSTM (``rnn_cell``) over
    the L feature vectors, its final h, dropout, ``Linear(hidden_size, K)``."""

    def __init__(self, frame: tuple[int, int, int], classes: int, config: VideoModel) -> None:
        super().__init__()
        _check_patch(frame, config.patch)
        self.patch = config.patch
        self.cnn = FrameCNN(frame[0] * config.patch**2, config.cnn_channels)
        self.rnn = make_encoder(config.rnn_cell, self.cnn.output_size, config.hidden_size)
        self.dropout = nn.Dropout(config.head_dropout)
        self.head = nn.Linear(config.hidden_size, classes)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        N, L = x.shape[:2]
        features = self.cnn(_patches(x, self.patch).flatten(0, 1)).view(N, L, -1)  # (N, L, F)
        _, state = self.rnn(features, lengths=lengths)
        h = (state[0] if isinstance(state, tuple) else state)[-1]  # (N, H)
        return self.head(self.dropout(h))


class FrameCnnClassifier(nn.Module):
    """Clip -> per-frame logits (N, L, K): :class:`FrameCNN` and a linear head on each frame.

    Trained with every frame labelled by its clip's class; a clip's class probabilities are
    the mean of its real frames' (:func:`clip_probabilities`).
    """

    per_frame = True

    def __init__(self, frame: tuple[int, int, int], classes: int, config: VideoModel) -> None:
        super().__init__()
        _check_patch(frame, config.patch)
        self.patch = config.patch
        self.cnn = FrameCNN(frame[0] * config.patch**2, config.cnn_channels)
        self.dropout = nn.Dropout(config.head_dropout)
        self.head = nn.Linear(self.cnn.output_size, classes)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        N, L = x.shape[:2]
        features = self.cnn(_patches(x, self.patch).flatten(0, 1))
        return self.head(self.dropout(features)).view(N, L, -1)


def clip_probabilities(logits: Tensor, lengths: Tensor | None) -> Tensor:
    """Class probabilities (N, K) of clip logits (N, K), or the mean over real frames of
    per-frame logits (N, L, K)."""
    if logits.dim() == 2:
        return torch.softmax(logits, dim=1)
    probs = torch.softmax(logits, dim=2)
    if lengths is None:
        return probs.mean(1)
    alive = torch.arange(logits.shape[1], device=logits.device)[None, :] < lengths[:, None]
    return (probs * alive[..., None]).sum(1) / lengths[:, None].to(probs.dtype)


def build(
    config: VideoModel, mode: str, frame: tuple[int, int, int], sizes: tuple[int, ...]
) -> nn.Module:
    """The model of ``config.kind`` for ``mode``; ``sizes`` is (L_in, L_out) (frames) or (K,)."""
    if mode == "frames":
        if config.kind != "conv":
            raise ConfigError(
                f"model.kind={config.kind} classifies clips (data.mode clips); frame prediction "
                "needs model.kind conv"
            )
        return EncoderForecaster(frame, *sizes, config)
    return {"conv": ConvClipClassifier, "cnn-rnn": CnnRnnClassifier,
            "frame-cnn": FrameCnnClassifier}[config.kind](frame, *sizes, config)  # fmt: skip
