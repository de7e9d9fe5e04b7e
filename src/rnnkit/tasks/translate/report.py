"""What an evaluation of translations holds and writes: texts, scores, tables, heat maps.

:func:`translations` turns the concatenated step outputs of an evaluation back into text: the
source, reference, beam and greedy translation of every pair. :func:`scores` computes the
metrics from them (:mod:`.scoring`); :func:`write_report` writes, into the run directory, the
split (``split/valid.tsv``, ``split/test.tsv``: the pairs as scored, so anyone can rescore),
``translations_SPLIT.tsv``, a table of samples (``samples_SPLIT.md``) and attention heat maps
(``attention_SPLIT_K.png``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from rnnkit.data.parallel import ParallelText, write_tsv

from .data import SPLIT_FILES, texts_of, tokenizers_of
from .scoring import corpus_scores, detokenize, length_buckets, multi_reference_bleu


@dataclass
class Translations:
    """Every pair of an evaluation as text, in the order it was evaluated.

    Attributes:
        sources, references: per pair.
        beam, greedy: the translation of each pair's source sentence, by beam search (None when
            only greedy decoding ran) and greedy decoding.
        decoded: for each translated sentence (the first pair of each source), its pair's row.
    """

    sources: list[str]
    references: list[str]
    beam: list[str] | None
    greedy: list[str]
    decoded: list[int]

    @property
    def best(self) -> list[str]:
        """The beam search's translations, else greedy's."""
        return self.greedy if self.beam is None else self.beam


def _cut(flat: Tensor, lengths: Tensor) -> list[list[int]]:
    values, out, start = flat.tolist(), [], 0
    for n in lengths.tolist():
        out.append(values[start : start + n])
        start += n
    return out


def translations(outputs: Mapping[str, Tensor], state: Mapping[str, Any], replace: bool):
    """:class:`Translations` from the concatenated step outputs of an evaluation."""
    src_tok, tgt_tok = tokenizers_of(state)
    first = outputs["first"].bool()
    decoded = first.nonzero().squeeze(1).tolist()
    group = outputs["group"].tolist()
    sources_decoded = texts_of(outputs["src_text"], outputs["src_chars"])
    references = texts_of(outputs["ref_text"], outputs["ref_chars"])
    row_of_group = {group[row]: k for k, row in enumerate(decoded)}
    texts = {}
    for kind in [k for k in ("beam", "greedy") if k in outputs]:
        ids = _cut(outputs[kind], outputs[f"{kind}_len"])
        align = _cut(outputs[f"{kind}_align"], outputs[f"{kind}_len"])
        texts[kind] = [
            detokenize(i, a, s, src_tok, tgt_tok, replace)
            for i, a, s in zip(ids, align, sources_decoded)
        ]
    per_pair = {k: [v[row_of_group[g]] for g in group] for k, v in texts.items()}
    sources = [sources_decoded[row_of_group[g]] for g in group]
    return Translations(sources, references, per_pair.get("beam"), per_pair["greedy"], decoded)


def scores(t: Translations) -> dict[str, Any]:
    """BLEU and chrF (one row per pair) of beam search (``bleu``, ``chrf``, when it ran) and
    greedy decoding (``bleu_greedy``, ``chrf_greedy``); of the better search (beam when it ran:
    ``decoding`` says which), BLEU against all references of each source sentence and BLEU by
    source length."""
    greedy = corpus_scores(t.greedy, t.references)
    out: dict[str, Any] = {}
    if t.beam is not None:
        out.update(corpus_scores(t.beam, t.references))
    refs: dict[str, list[str]] = {}
    for s, r in zip(t.sources, t.references):
        refs.setdefault(s, []).append(r)
    hyps = {s: h for s, h in zip(t.sources, t.best)}
    multi, multi_signature = multi_reference_bleu([hyps[s] for s in refs], list(refs.values()))
    out.update(
        {
            "bleu_greedy": greedy["bleu"],
            "chrf_greedy": greedy["chrf"],
            "length_ratio_greedy": greedy["length_ratio"],
            "bleu_signature": greedy["bleu_signature"],
            "chrf_signature": greedy["chrf_signature"],
            "decoding": "greedy" if t.beam is None else "beam",
            "bleu_multi": multi,
            "bleu_multi_signature": multi_signature,
            "bleu_by_length": length_buckets(t.best, t.references, t.sources),
            "pairs": len(t.references),
            "sentences": len(refs),
        }
    )
    return out


def write_report(
    run_dir: Path,
    split: str,
    t: Translations,
    metrics: Mapping[str, Any],
    pairs: ParallelText | None,
    samples: int,
) -> None:
    """The split file, all translations, and a markdown table of samples (see the module)."""
    if pairs is not None and split in SPLIT_FILES:
        (run_dir / "split").mkdir(exist_ok=True)
        write_tsv(run_dir / "split" / SPLIT_FILES[split], pairs)
    with (run_dir / f"translations_{split}.tsv").open("w", encoding="utf-8") as f:
        f.write("source\treference\tbeam\tgreedy\n")
        beam = t.beam if t.beam is not None else ["-"] * len(t.greedy)
        for row in zip(t.sources, t.references, beam, t.greedy):
            f.write("\t".join(row) + "\n")
    (run_dir / f"samples_{split}.md").write_text(
        samples_table(t, metrics, samples), encoding="utf-8"
    )


def spread(n: int, k: int) -> list[int]:
    """k indices spread evenly over range(n) (the rows are ordered by length)."""
    return sorted({int(i) for i in np.linspace(0, n - 1, num=min(k, n))}) if n and k else []


def samples_table(t: Translations, metrics: Mapping[str, Any], k: int) -> str:
    """A markdown table: scores (beam and greedy), then k sentences with their references."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    refs: dict[str, list[str]] = {}
    for s, r in zip(t.sources, t.references):
        refs.setdefault(s, []).append(r)
    lines = ["| decoding | BLEU | chrF |", "| --- | --- | --- |"]
    if t.beam is not None:
        lines.append(f"| beam | {metrics['bleu']:.2f} | {metrics['chrf']:.2f} |")
    lines += [
        f"| greedy | {metrics['bleu_greedy']:.2f} | {metrics['chrf_greedy']:.2f} |",
        "",
        f"BLEU: `{metrics['bleu_signature']}`; chrF: `{metrics['chrf_signature']}`",
        "",
        "| source | reference(s) | greedy | beam |",
        "| --- | --- | --- | --- |",
    ]
    for row in (t.decoded[i] for i in spread(len(t.decoded), k)):
        s = t.sources[row]
        beam = "-" if t.beam is None else t.beam[row]
        lines.append(
            f"| {cell(s)} | {cell(' / '.join(refs[s]))} | {cell(t.greedy[row])} | {cell(beam)} |"
        )
    return "\n".join(lines) + "\n"


def plot_attention(
    weights: np.ndarray, source: Sequence[str], target: Sequence[str], path: Path, title: str
) -> None:
    """A heat map of attention weights (len(target), len(source)): rows are output subwords,
    columns the source subwords they attended to."""
    from matplotlib.figure import Figure

    rows, cols = weights.shape
    fig = Figure(figsize=(1.2 + 0.45 * cols, 1.2 + 0.4 * rows))
    ax = fig.subplots()
    ax.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(cols), list(source), rotation=60, ha="right")
    ax.set_yticks(range(rows), list(target))
    ax.set_xlabel("source subwords")
    ax.set_ylabel("translation subwords")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def attention_maps(
    outputs: Mapping[str, Tensor], state: Mapping[str, Any], count: int
) -> list[tuple[np.ndarray, list[str], list[str], str]]:
    """(weights, source pieces, output pieces, source text) of ``count`` translated sentences
    spread over the lengths, from the beam search's attention (greedy's when no beam ran)."""
    src_tok, tgt_tok = tokenizers_of(state)
    sources = texts_of(outputs["src_text"], outputs["src_chars"])
    kind = "beam" if "beam" in outputs else "greedy"
    hyps = _cut(outputs[kind], outputs[f"{kind}_len"])
    sizes = [h * s for h, s in zip(outputs[f"{kind}_len"].tolist(), outputs["src_len"].tolist())]
    flat = outputs["attention"].float().numpy()
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    out = []
    for k in spread(len(hyps), count):
        if not hyps[k]:
            continue
        S = int(outputs["src_len"][k])
        weights = flat[starts[k] : starts[k + 1]].reshape(len(hyps[k]), S)
        pieces = [*src_tok.pieces(sources[k])[0], "</s>"]
        out.append((weights, pieces, [tgt_tok.tokenizer.id_to_token(i) for i in hyps[k]],
                    sources[k]))  # fmt: skip
    return out


def perplexity(outputs: Mapping[str, Tensor]) -> float:
    """e ** (mean negative log-likelihood per target subword, without label smoothing)."""
    nats = float(outputs["nll"].sum() / outputs["tokens"].sum().clamp(min=1))
    return math.exp(min(nats, 700.0))
