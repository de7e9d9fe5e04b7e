"""Scoring translations: detokenised text against the reference text, with sacreBLEU.

* BLEU: corpus BLEU of the detokenised, cased output, sacreBLEU's ``13a`` tokenisation and
  exponential smoothing (its defaults), one row per sentence pair: a source sentence with
  several translations is scored once against each (as the Tatoeba test sets are). Beside it,
  ``bleu_multi``: one row per source sentence scored against all of its references at once.
* chrF (character 6-grams, beta 2, sacreBLEU's defaults), same rows as BLEU.
* BLEU per source length bucket (words).

Each score comes with sacreBLEU's signature string, which pins down how it was computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sacrebleu.metrics import BLEU, CHRF

from rnnkit.data.subwords import UNK, SubwordTokenizer

BUCKETS = ((1, 5), (6, 10), (11, 15), (16, 10**9))


def bucket_name(low: int, high: int) -> str:
    return f"{low}-{high}" if high < 10**9 else f"{low}+"


def detokenize(
    ids: Sequence[int],
    align: Sequence[int],
    source: str,
    source_tokenizer: SubwordTokenizer,
    target_tokenizer: SubwordTokenizer,
    replace_unknown: bool = True,
) -> str:
    """The text of target ids. With ``replace_unknown``, an output ``<unk>`` at position k
    becomes the source text of the source subword ``align[k]`` it attended to most (nothing
    when that is the source's ``<eos>``)."""
    unknown = None
    if replace_unknown and UNK in ids:
        pieces, offsets = source_tokenizer.pieces(source)

        def unknown(k: int) -> str:
            j = align[k]
            if j >= len(pieces):
                return ""
            a, b = offsets[j]
            text = source[a:b]
            return ("▁" if a == 0 or text.startswith(" ") else "") + text.strip()

    return " ".join(target_tokenizer.decode(ids, unknown).split())


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """BLEU and chrF of ``hypotheses`` against one reference each, with their signatures."""
    bleu, chrf = BLEU(), CHRF()
    b = bleu.corpus_score(list(hypotheses), [list(references)])
    c = chrf.corpus_score(list(hypotheses), [list(references)])
    return {
        "bleu": b.score,
        "chrf": c.score,
        "length_ratio": b.sys_len / max(b.ref_len, 1),
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
    }


def multi_reference_bleu(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]]
) -> tuple[float, str]:
    """BLEU of one hypothesis per source sentence against all of its references."""
    width = max(len(r) for r in references)
    streams = [[r[k] if k < len(r) else None for r in references] for k in range(width)]
    bleu = BLEU()
    return bleu.corpus_score(list(hypotheses), streams).score, str(bleu.get_signature())


def length_buckets(
    hypotheses: Sequence[str], references: Sequence[str], sources: Sequence[str]
) -> dict[str, dict[str, float]]:
    """BLEU of the pairs whose source has 1-5, 6-10, 11-15 and 16+ words."""
    out = {}
    words = [len(s.split()) for s in sources]
    for low, high in BUCKETS:
        rows = [i for i, w in enumerate(words) if low <= w <= high]
        if rows:
            score = BLEU().corpus_score(
                [hypotheses[i] for i in rows], [[references[i] for i in rows]]
            )
            out[bucket_name(low, high)] = {"bleu": score.score, "pairs": len(rows)}
    return out
