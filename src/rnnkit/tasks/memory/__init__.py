"""``rnnkit memory``: the adding and copying-memory problems (:mod:`.task`, :mod:`.model`)."""

from .config import MemoryConfig, MemoryData, MemoryModel
from .model import MemoryNetwork
from .task import TASK, MemoryTask, steps_to_solve

__all__ = [
    "TASK",
    "MemoryConfig",
    "MemoryData",
    "MemoryModel",
    "MemoryNetwork",
    "MemoryTask",
    "steps_to_solve",
]
