"""``rnnkit tag``: sequence labelling; see :mod:`.task`."""

from .config import PRESETS, TagConfig, TagData, TagModel
from .model import CharCNN, CharLSTM, Tagger
from .task import TASK, TagTask

__all__ = [
    "PRESETS",
    "TASK",
    "CharCNN",
    "CharLSTM",
    "TagConfig",
    "TagData",
    "TagModel",
    "TagTask",
    "Tagger",
]
