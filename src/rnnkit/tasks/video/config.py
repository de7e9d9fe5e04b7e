"""The video task's settings: which clips, which model, the presets.

Presets (``--preset NAME``, flags still override): ``moving-mnist`` (next-frame prediction, 10
frames in and 10 out), ``motion-convlstm``, ``motion-cnn-lstm`` and ``motion-frame-cnn`` (clip
classification on the motion set). They are starting points sized for 2 CPU cores;
docs/video.md says which results this release includes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rnnkit.config import Section, option
from rnnkit.nn import CellName, ConvCellName
from rnnkit.train import OptimConfig, TrainConfig


@dataclass(frozen=True)
class VideoData(Section):
    """Which clips: generated from MNIST digits, or read from a file."""

    mode: Literal["frames", "clips"] = option(
        "frames",
        "frames: predict the next frames of each clip; clips: name each clip's class",
    )
    path: str = option(
        "",
        "an .npz of clips (x_train, optional x_val/x_test; clips mode also y_*) [empty: "
        "Moving MNIST (frames) or the motion set (clips), generated from MNIST]",
    )
    data_dir: str = option(
        "",
        "folder of the MNIST IDX files [default: $RNNKIT_DATA/mnist, else "
        "~/.cache/rnnkit/mnist; downloaded there with checksums when missing]",
    )
    cache_dir: str = option(
        "", "where the seeded Moving MNIST test set is written once [default: data dir]"
    )
    input_frames: int = option(10, "frames mode: frames the model reads", low=1)
    output_frames: int = option(10, "frames mode: frames it predicts after them", low=1)
    clip_frames: int = option(10, "generated motion set: frames per clip", low=2)
    train_size: int = option(
        2000, "generated sets: training clips per epoch (new ones every epoch)", low=1
    )
    val_size: int = option(300, "generated sets: validation clips (MNIST training digits)", low=1)
    test_size: int = option(
        10000, "generated sets: test clips (MNIST test digits, drawn once from data.seed)", low=1
    )
    val_fraction: float = option(
        0.1, "files without x_val: share of x_train held out", low=0, low_open=True, high=0.9
    )
    seed: int = option(2015, "seed of the generated validation and test sets", low=0)


@dataclass(frozen=True)
class VideoModel(Section):
    """The model: a convolutional recurrent network, a CNN per frame + LSTM, or a CNN per frame."""

    kind: Literal["conv", "cnn-rnn", "frame-cnn"] = option(
        "conv",
        "conv: ConvLSTM/ConvGRU (frames: encoder-forecaster; clips: encoder + head); "
        "cnn-rnn: a CNN per frame, then an LSTM (clips); frame-cnn: a CNN per frame, its "
        "class probabilities averaged over frames (clips; sees no motion)",
    )
    cell: ConvCellName = option("convlstm", "conv: the convolutional recurrent cell")
    patch: int = option(
        4, "space-to-depth patch side: frames of H x W become (H/p) x (W/p) (every model)", low=1
    )
    hidden_channels: int = option(64, "conv: channels of each recurrent layer's state", low=1)
    num_layers: int = option(2, "conv: stacked recurrent layers (encoder and forecaster)", low=1)
    kernel_size: int = option(3, "conv: kernel side of the recurrent convolutions", low=1)
    peephole: bool = option(False, "conv: peephole connections (ConvLSTM)")
    norm: Literal["none", "layer", "group"] = option("none", "conv: normalise the pre-activations")
    loss: Literal["bce", "mse"] = option(
        "bce", "frames: binary cross-entropy on pixels (Shi et al.) or mean squared error"
    )
    cnn_channels: int = option(
        16, "cnn-rnn, frame-cnn: channels of the first conv block (doubling)", low=1
    )
    rnn_cell: CellName = option("lstm", "cnn-rnn: the recurrent layer over frame features")
    hidden_size: int = option(128, "cnn-rnn: hidden units of the recurrent layer", low=1)
    head_dropout: float = option(0.2, "clips: dropout before the classification head", low=0)


@dataclass(frozen=True)
class VideoConfig:
    """Video: next-frame prediction and clip classification with convolutional recurrent cells."""

    data: VideoData = VideoData()
    model: VideoModel = VideoModel()
    optim: OptimConfig = OptimConfig(name="adam", lr=1e-3, clip_norm=1.0, schedule="cosine")
    # one thread: on a busy 2-core machine, two threads per run contend for the cores
    train: TrainConfig = TrainConfig(
        epochs=20, batch_size=16, eval_batch_size=64, threads=1, eval_train=False
    )


_MOTION = {
    "data.mode": "clips",
    "data.train_size": 3000,
    "data.val_size": 500,
    "data.test_size": 2000,
    "train.batch_size": 32,
    "train.epochs": 8,
    "train.monitor": "accuracy",
    "optim.lr": 2e-3,
}
PRESETS: dict[str, dict[str, Any]] = {
    # Shi et al.'s encoder-forecaster on 16x16x16 patches of the 64x64 frames, sized for 2 CPU
    # cores; its target is the PredRNN table's ConvLSTM MSE (103.3; docs/video.md)
    "moving-mnist": {
        "data.mode": "frames",
        "model.kind": "conv",
        "model.patch": 4,
        "model.hidden_channels": 32,
        "model.num_layers": 2,
        "model.loss": "bce",
        "optim.lr": 2e-3,
        "optim.warmup_epochs": 0.5,
        "train.monitor": "mse",
        "train.epochs": 20,
    },
    "motion-convlstm": {**_MOTION, "model.kind": "conv", "model.hidden_channels": 32,
                        "model.num_layers": 1},
    "motion-cnn-lstm": {**_MOTION, "model.kind": "cnn-rnn"},
    "motion-frame-cnn": {**_MOTION, "model.kind": "frame-cnn"},
}  # fmt: skip
