"""``rnnkit lm``: character and word language models and text generation.

Modules: :mod:`.config` (settings), :mod:`.model` (:class:`LanguageModel`), :mod:`.data` (splits
and token streams for stateful truncated BPTT), :mod:`.evaluation` (scoring a text as one stream
or in blocks), :mod:`.generate` (sampling), :mod:`.task` (the hooks and the ``generate``
command).
"""

from .config import PRESETS, LMConfig, LMData, LMModel
from .data import text_split, token_stream, unigram_entropy
from .evaluation import block_loss, stream_loss
from .generate import encode_prompt, generate_ids, generate_text, sample_next
from .model import LanguageModel, count_parameters
from .task import TASK, LMTask, generate_from_run

__all__ = [
    "PRESETS",
    "TASK",
    "LMConfig",
    "LMData",
    "LMModel",
    "LMTask",
    "LanguageModel",
    "block_loss",
    "count_parameters",
    "encode_prompt",
    "generate_from_run",
    "generate_ids",
    "generate_text",
    "sample_next",
    "stream_loss",
    "text_split",
    "token_stream",
    "unigram_entropy",
]
