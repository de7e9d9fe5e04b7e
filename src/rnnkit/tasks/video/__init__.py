"""``rnnkit video``: frame prediction and clip classification (:mod:`.task`, :mod:`.model`,
:mod:`.data`, :mod:`.frame_metrics`, :mod:`.pictures`)."""

from .config import PRESETS, VideoConfig, VideoData, VideoModel
from .model import (
    CnnRnnClassifier,
    ConvClipClassifier,
    EncoderForecaster,
    FrameCNN,
    FrameCnnClassifier,
)
from .task import TASK, VideoTask

__all__ = [
    "PRESETS",
    "TASK",
    "CnnRnnClassifier",
    "ConvClipClassifier",
    "EncoderForecaster",
    "FrameCNN",
    "FrameCnnClassifier",
    "VideoConfig",
    "VideoData",
    "VideoModel",
    "VideoTask",
]
