"""``rnnkit classify``: sequence classification (:mod:`.task`, :mod:`.model`, :mod:`.inputs`)."""

from .config import PRESETS, ClassifyConfig, ClassifyData
from .model import ConvColumns, EncoderConfig, SequenceClassifier, SequenceEncoder
from .task import TASK, ClassifyTask

__all__ = [
    "PRESETS",
    "TASK",
    "ClassifyConfig",
    "ClassifyData",
    "ClassifyTask",
    "ConvColumns",
    "EncoderConfig",
    "SequenceClassifier",
    "SequenceEncoder",
]
