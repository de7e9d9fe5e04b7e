"""``rnnkit text``: document classification (:mod:`.task`, :mod:`.preprocess`, :mod:`.model`,
:mod:`.embeddings`, :mod:`.baselines`, :mod:`.report`)."""

from .config import PRESETS, TextConfig, TextData, TextReport
from .model import DocumentEncoder, TextClassifier, TextModel
from .preprocess import TextPrep
from .task import TASK, TextTask

__all__ = [
    "PRESETS",
    "TASK",
    "DocumentEncoder",
    "TextClassifier",
    "TextConfig",
    "TextData",
    "TextModel",
    "TextPrep",
    "TextReport",
    "TextTask",
]
