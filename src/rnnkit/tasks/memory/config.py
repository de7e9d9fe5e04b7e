"""The memory task's settings: which problem and how long, the network, the training protocol.

The defaults are the protocol of Arjovsky, Shah & Bengio (2016) as their code runs it: RMSprop
with learning rate 1e-3 and no momentum, batch 20, every gradient element clipped to [-1, 1],
100,000 training and 10,000 test sequences, Glorot-uniform weights (forget-gate bias 1 for
the LSTM). Differences: torch's RMSprop averages squared gradients with decay 0.99 (theirs 0.9,
which the engine does not expose), and the 100,000 sequences make 4 epochs of 5,000 steps
(their 20,000 iterations).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rnnkit.config import Section, option
from rnnkit.nn import CellName
from rnnkit.nn.dispatch import FUSED_HELP
from rnnkit.train import OptimConfig, TrainConfig


@dataclass(frozen=True)
class MemoryData(Section):
    """Which long-memory problem, how long its sequences are, and how many are generated."""

    problem: Literal["adding", "copying"] = option(
        "adding",
        "adding: the sum of two marked numbers (MSE); copying: repeat 10 symbols after T "
        "blanks (cross-entropy over all T + 20 steps)",
    )
    length: int = option(
        100,
        "T: the adding problem's sequence length; the copying problem's blanks between the "
        "symbols and the delimiter (its sequences are T + 20 long)",
        low=2,
    )
    train_size: int = option(100_000, "training sequences", low=1)
    val_size: int = option(1_000, "validation sequences (evaluated after every epoch)", low=1)
    test_size: int = option(10_000, "test sequences", low=1)
    seed: int = option(
        0, "seed of the sequences (train, validation and test use seed, seed+1, seed+2)", low=0
    )


@dataclass(frozen=True)
class MemoryModel(Section):
    """A recurrent layer and a linear head (at the last step, or at every step for copying)."""

    cell: CellName = option("lstm", "recurrent layer type (rnnkit.nn; rnn is tanh)")
    hidden_size: int = option(128, "hidden units", low=1)
    num_layers: int = option(1, "stacked recurrent layers", low=1)
    init: Literal["glorot", "torch"] = option(
        "glorot",
        "glorot: Glorot-uniform weights per gate block, zero biases, forget-gate bias 1 "
        "(LSTM, minLSTM); torch: each layer's own initialisation (torch's U(-1/sqrt(H), "
        "1/sqrt(H)) for LSTM, GRU, RNN)",
    )
    fused: Literal["auto", "true", "false"] = option("auto", FUSED_HELP)
    recurrent_gain: float = option(
        1.0,
        "multiply every W_hh by this after initialisation (a tanh RNN's gradients explode "
        "for large values; cells without W_hh, minGRU and minLSTM, need 1)",
        low=0,
        low_open=True,
    )


@dataclass(frozen=True)
class MemoryConfig:
    """The adding and copying-memory problems."""

    data: MemoryData = MemoryData()
    model: MemoryModel = MemoryModel()
    optim: OptimConfig = OptimConfig(name="rmsprop", lr=1e-3, momentum=0.0, clip_value=1.0)
    # one thread: for models this small, a second one costs more in synchronisation than it
    # gains; flushed subnormals: vanishing gradients would otherwise slow steps 10x or more
    train: TrainConfig = TrainConfig(
        epochs=4, batch_size=20, eval_batch_size=500, threads=1, flush_denormal=True
    )
