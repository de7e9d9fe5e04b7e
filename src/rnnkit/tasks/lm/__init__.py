"""``rnnkit lm``: character and word language models and text generation.

Modules: :mod:`.config` (settings), :mod:`.model` (:class:`LanguageModel`), :mod:`.data` (token
streams for stateful truncated BPTT), :mod:`.generate` (sampling), :mod:`.task` (the hooks and
the ``generate`` command).
"""

from .config import LMConfig, LMData, LMModel
from .data import token_stream, unigram_entropy
from .generate import encode_prompt, generate_ids, generate_text, sample_next
from .model import LanguageModel, count_parameters
from .task import TASK, LMTask, generate_from_run

__all__ = [
    "TASK",
    "LMConfig",
    "LMData",
    "LMModel",
    "LMTask",
    "LanguageModel",
    "count_parameters",
    "encode_prompt",
    "generate_from_run",
    "generate_ids",
    "generate_text",
    "sample_next",
    "token_stream",
    "unigram_entropy",
]
