"""Classifier models: a recurrent encoder with a linear head, optionally behind a conv front end.

Shapes: N sequences, T steps, F features, D directions, H hidden size, C classes; for images
H_img x W_img pixels, K channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from rnnkit.config import Section, option
from rnnkit.data import length_mask
from rnnkit.nn import CellName, make_encoder


@dataclass(frozen=True)
class EncoderConfig(Section):
    """The recurrent encoder, an optional convolutional front end, and the classification head."""

    cell: CellName = option("gru", "recurrent layer type (rnnkit.nn)")
    hidden_size: int = option(64, "hidden units per direction", low=1)
    num_layers: int = option(1, "stacked recurrent layers", low=1)
    bidirectional: bool = option(True, "also read each sequence backwards")
    dropout: float = option(0.0, "dropout between recurrent layers", low=0, high=0.99)
    recurrent_dropout: float = option(
        0.0, "variational dropout on the recurrent state", low=0, high=0.99
    )
    layer_norm: bool = option(False, "layer-normalised cells")
    pooling: Literal["last", "mean", "attention"] = option(
        "last", "how the outputs become one vector"
    )
    head_dropout: float = option(0.3, "dropout before the linear head", low=0, high=0.99)
    frontend: Literal["none", "cnn"] = option(
        "none",
        "cnn: conv blocks over each image (data.mode rows); its feature columns, left to right, "
        "are the recurrent layer's steps",
    )
    conv_channels: int = option(
        32, "cnn: channels of the first block (each next one doubles)", low=1
    )
    conv_blocks: int = option(2, "cnn: blocks of conv 3x3, batch norm, ReLU, 2x2 max-pool", low=1)


class SequenceEncoder(nn.Module):
    """Encode (N, T, F) sequences with their lengths into (N, D*H) vectors.

    Args:
        input_size: F.
        config: the layer type, sizes, direction, dropouts and pooling.

    Pooling: ``last`` concatenates the last layer's final states of both directions (taken at
    each sequence's last real step); ``mean`` averages the outputs over real steps;
    ``attention`` weights them by a learned score, softmax over real steps.
    """

    def __init__(self, input_size: int, config: EncoderConfig) -> None:
        super().__init__()
        self.rnn = make_encoder(
            config.cell,
            input_size,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout,
            bidirectional=config.bidirectional,
            layer_norm=config.layer_norm,
            recurrent_dropout=config.recurrent_dropout,
        )
        self.directions = 2 if config.bidirectional else 1
        self.output_size = self.directions * config.hidden_size
        self.pooling = config.pooling
        self.score = nn.Linear(self.output_size, 1) if config.pooling == "attention" else None

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        out, state = self.rnn(x, lengths=lengths)  # out (N, T, D*H)
        if self.pooling == "last":
            h_n = state[0] if isinstance(state, tuple) else state  # (layers*D, N, H)
            return torch.cat(list(h_n[-self.directions :]), dim=-1)  # (N, D*H)
        mask = (
            length_mask(lengths.to(x.device), x.shape[1])
            if lengths is not None
            else torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        ).unsqueeze(-1)  # (N, T, 1)
        if self.pooling == "mean":
            return (out * mask).sum(1) / mask.sum(1)
        scores = self.score(out).masked_fill(~mask, float("-inf"))  # (N, T, 1)
        return (torch.softmax(scores, dim=1) * out).sum(1)


class ConvColumns(nn.Module):
    """Conv blocks over an image, read back as a sequence of its feature columns.

    (N, H_img, W_img) -> ``conv_blocks`` x [Conv2d 3x3 (same padding), BatchNorm2d, ReLU,
    MaxPool2d 2] -> (N, K, H', W') -> (N, W', K*H'): one step per column, left to right, so the
    recurrent layer reads the image the way it reads rows, but over learned local features.
    """

    def __init__(self, height: int, width: int, channels: int, blocks: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        k_in, k = 1, channels
        for _ in range(blocks):
            layers += [
                nn.Conv2d(k_in, k, 3, padding=1, bias=False),
                nn.BatchNorm2d(k),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            k_in, k = k, 2 * k
            height, width = height // 2, width // 2
        if height < 1 or width < 1:
            raise ValueError(f"model.conv_blocks={blocks} pools the image down to nothing")
        self.conv = nn.Sequential(*layers)
        self.output_size = k_in * height  # K * H'
        self.steps = width  # W'

    def forward(self, images: Tensor) -> Tensor:
        maps = self.conv(images.unsqueeze(1))  # (N, K, H', W')
        return maps.permute(0, 3, 1, 2).flatten(2)  # (N, W', K*H')


class SequenceClassifier(nn.Module):
    """[:class:`ConvColumns`] -> :class:`SequenceEncoder` -> dropout -> ``Linear(D*H, C)``.

    Input: (N, T, F) sequences with (N,) lengths, or (N, H_img, W_img) images when ``image``
    (height, width) is given and ``config.frontend == "cnn"``. Output: (N, C) logits.
    """

    def __init__(
        self,
        input_size: int,
        num_classes: int,
        config: EncoderConfig,
        image: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.frontend = None
        if config.frontend == "cnn":
            if image is None:
                raise ValueError(
                    "model.frontend=cnn needs images read as rows (data.dataset mnist with "
                    "data.mode rows)"
                )
            self.frontend = ConvColumns(*image, config.conv_channels, config.conv_blocks)
            input_size = self.frontend.output_size
        self.encoder = SequenceEncoder(input_size, config)
        self.dropout = nn.Dropout(config.head_dropout)
        self.head = nn.Linear(self.encoder.output_size, num_classes)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        if self.frontend is not None:
            x, lengths = self.frontend(x), None  # every image gives the same number of columns
        return self.head(self.dropout(self.encoder(x, lengths)))
