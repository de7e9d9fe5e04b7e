"""``rnnkit translate``: an attentional recurrent encoder-decoder, beam search, sacreBLEU.

Modules: :mod:`.config` (settings), :mod:`.data` (pairs, split by source sentence, subword
ids), :mod:`.model` (:class:`Translator`), :mod:`.decode` (greedy and beam search),
:mod:`.scoring` (sacreBLEU, chrF), :mod:`.report` (translations, samples, heat maps),
:mod:`.task` (the hooks and the ``translate`` command).
"""

from .config import PRESETS, TranslateConfig, TranslateData, TranslateDecode, TranslateModel
from .decode import Hypotheses, beam_search, greedy, length_penalty, max_lengths
from .model import Memory, Translator, count_parameters
from .task import TASK, TranslateTask, translate_sentences, translate_texts

__all__ = [
    "PRESETS",
    "TASK",
    "Hypotheses",
    "Memory",
    "TranslateConfig",
    "TranslateData",
    "TranslateDecode",
    "TranslateModel",
    "TranslateTask",
    "Translator",
    "beam_search",
    "count_parameters",
    "greedy",
    "length_penalty",
    "max_lengths",
    "translate_sentences",
    "translate_texts",
]
