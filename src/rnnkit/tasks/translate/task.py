"""``translate``: an attentional recurrent encoder-decoder from one language into another.

Data (:mod:`.data`): ``--dataset fra-eng`` (Tatoeba English-French; ``--data.reverse`` for
French-English), ``--data FILE`` (``SOURCE<TAB>TARGET`` lines) or ``--data.source_file`` +
``--data.target_file`` (aligned lines); normalised, deduplicated, pairs of at most
``data.max_words`` words; split by source sentence; subwords learned on the training side.

Model (:mod:`.model`): bidirectional encoder, bridge, decoder with Luong or Bahdanau attention
(:mod:`rnnkit.nn.attention`), trained with teacher forcing (optionally scheduled sampling) on a
label-smoothed cross-entropy per target subword (``Step.weight`` is the number of target
subwords, so the loss is per subword).

Evaluation: each source sentence is translated by greedy decoding and (on the test split, a
scored file, or with ``decode.validation beam``) by beam search (:mod:`.decode`), detokenised,
and scored with sacreBLEU and chrF against the reference text (:mod:`.scoring`,
:mod:`.report`); greedy validation BLEU (``bleu_greedy``, ``train.monitor``) picks the best
checkpoint. ``rnnkit translate translate --run DIR --text "..."`` translates new text.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data.parallel import normalize_text, read_sentences
from rnnkit.data.subwords import EOS, PAD
from rnnkit.train import Context, Inputs, Step, Task, TaskData

from .config import PRESETS, TranslateConfig, TranslateDecode
from .data import (
    encode_pairs,
    load_splits,
    pad_ids,
    read_input_pairs,
    tokenizers_of,
    train_tokenizers,
)
from .decode import Hypotheses, beam_search, greedy, max_lengths
from .model import Translator
from .report import (
    attention_maps,
    perplexity,
    plot_attention,
    scores,
    translations,
    write_report,
)
from .scoring import detokenize


class TranslateTask(Task[TranslateConfig]):
    """Sentence translation with an attentional encoder-decoder; BLEU and chrF by sacreBLEU."""

    name = "translate"
    config_class = TranslateConfig
    actions = ("train", "evaluate", "tune", "config")
    maximize = frozenset({"bleu", "chrf", "bleu_greedy", "chrf_greedy", "bleu_multi"})
    headline = ("loss", "bleu", "chrf", "bleu_greedy", "chrf_greedy")
    aliases = {"dataset": "data.dataset", "data": "data.path", "data-dir": "data.data_dir"}
    presets = PRESETS
    search_space = {
        "optim.lr": {"low": 5e-4, "high": 5e-3, "log": True},
        "model.dropout": {"low": 0.1, "high": 0.4},
        "model.decoder_size": [256, 512],
    }

    def load_data(self, config: TranslateConfig) -> TaskData:
        d = config.data
        splits, state = load_splits(d)
        state.update(train_tokenizers(splits["train"], d))
        beam = {"train": False, "validation": config.decode.validation == "beam", "test": True}
        batches = {
            name: encode_pairs(pairs, state, name != "train", f"the {name} split", beam[name])
            for name, pairs in splits.items()
        }
        return TaskData(
            batches["train"],
            batches["validation"],
            batches["test"],
            state=state,
            extra={"splits": splits},
        )

    def build_model(self, config: TranslateConfig, state: Mapping[str, Any]) -> nn.Module:
        src_tok, tgt_tok = tokenizers_of(state)
        model = Translator(src_tok.vocab_size, tgt_tok.vocab_size, config.model)
        model.decoding = config.decode
        return model

    def step(self, model: Translator, batch: dict[str, Tensor], state: Any = None) -> Step:
        src, lengths = batch["src"], batch["lengths"]
        T = int(batch["tgt_lengths"].max())
        tgt = batch["tgt"][:, : T + 1]
        tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]
        sampling = model.config.scheduled_sampling if model.training else 0.0
        attentional, _ = model(src, lengths, tgt_in, sampling)  # (N, T, O)
        real = tgt_out != PAD
        logits = model.logits(attentional[real])  # (M, V): real target subwords only
        target = tgt_out[real]
        loss = F.cross_entropy(logits, target, label_smoothing=model.config.label_smoothing)
        tokens = real.sum()
        outputs: dict[str, Tensor] = {}
        if not model.training:
            nll = F.cross_entropy(logits, target, reduction="sum").detach()
            outputs = {"nll": nll.double().view(1), "tokens": tokens.view(1)}
            if "first" in batch:
                outputs.update(decode_outputs(model, batch))
        return Step(loss, outputs, weight=float(tokens))

    def metrics(self, outputs: dict[str, Tensor], ctx: Context) -> dict[str, Any]:
        out: dict[str, Any] = {"perplexity": perplexity(outputs)}
        if "first" in outputs:
            t = translations(outputs, ctx.state, ctx.config.decode.unknown == "replace")
            out.update(scores(t))
        return out

    def report(self, outputs: dict[str, Tensor], metrics: dict[str, Any], ctx: Context) -> None:
        if ctx.run_dir is None or "first" not in outputs:
            return
        dec = ctx.config.decode
        t = translations(outputs, ctx.state, dec.unknown == "replace")
        pairs = ctx.data.extra["splits"][ctx.split] if ctx.data is not None else None
        write_report(ctx.run_dir, ctx.split, t, metrics, pairs, dec.samples)
        if ctx.split == "test":
            maps = attention_maps(outputs, ctx.state, dec.heatmaps)
            for k, (weights, source, target, text) in enumerate(maps):
                path = ctx.run_dir / f"attention_test_{k}.png"
                plot_attention(weights, source, target, path, text)

    def read_inputs(self, path: Path, config: TranslateConfig, state: Mapping[str, Any]) -> Inputs:
        """A ``SOURCE<TAB>TARGET`` file to score (``evaluate --data FILE``)."""
        pairs = read_input_pairs(Path(path), config.data)
        return Inputs(encode_pairs(pairs, state, scoring=True, where=str(path)))


def _flat(rows: list[list[int]]) -> Tensor:
    return torch.tensor([v for r in rows for v in r], dtype=torch.long)


def search(model: Translator, src: Tensor, lengths: Tensor, d: TranslateDecode, beam: bool):
    """Greedy or beam-search translations of a batch of source ids (no gradients)."""
    memory = model.encode(src, lengths)
    limits = max_lengths(lengths, d.max_length_ratio).to(src.device)
    if beam and d.beam_size > 1:
        return beam_search(model, memory, limits, d.beam_size, d.length_penalty, d.early_stop)
    return greedy(model, memory, limits)


def _aligned(h: Hypotheses) -> list[list[int]]:
    """For each output subword, the source position it attended to most."""
    return [a.argmax(-1).tolist() if len(a) else [] for a in h.attention]


def decode_outputs(model: Translator, batch: dict[str, Tensor]) -> dict[str, Tensor]:
    """Greedy (and, where the batch asks, beam) translations of the first pair of each source
    sentence in ``batch``, flattened (ids, lengths, alignments, and the attention of the last
    decoding), with the texts scoring needs."""
    rows = batch["first"].nonzero().squeeze(1)
    src, lengths = batch["src"][rows], batch["lengths"][rows]
    S = int(lengths.max()) if len(rows) else 1
    src = src[:, :S]
    out: dict[str, Tensor] = {}
    attention: list[Tensor] = []
    kinds = ("greedy", "beam") if bool(batch["beam"].any()) else ("greedy",)
    for kind in kinds:
        if len(rows):
            h = search(model, src, lengths, model.decoding, beam=kind == "beam")
        else:
            h = Hypotheses([], [], [])
        out[kind] = _flat(h.tokens)
        out[f"{kind}_len"] = torch.tensor([len(t) for t in h.tokens], dtype=torch.long)
        out[f"{kind}_align"] = _flat(_aligned(h))
        attention = [a[:, :n].reshape(-1) for a, n in zip(h.attention, lengths.tolist())]
    out["attention"] = torch.cat(attention) if attention else torch.zeros(0)
    out["src_len"] = lengths
    chars = batch["src_chars"][rows]
    real = torch.arange(batch["src_text"].shape[1], device=chars.device) < chars[:, None]
    out["src_text"] = batch["src_text"][rows][real]
    out["src_chars"] = chars
    ref_chars = batch["ref_chars"]
    ref_real = (
        torch.arange(batch["ref_text"].shape[1], device=ref_chars.device) < ref_chars[:, None]
    )
    out["ref_text"] = batch["ref_text"][ref_real]
    out["ref_chars"] = batch["ref_chars"]
    out["group"] = batch["group"]
    out["first"] = batch["first"]
    return {k: v.cpu() for k, v in out.items()}


TASK = TranslateTask()


def translate_sentences(
    run: Path,
    text: str = "",
    input: Path | None = None,
    output: Path | None = None,
    beam_size: int | None = None,
    length_penalty: float | None = None,
    checkpoint: str = "best",
) -> str | None:
    """Translate sentences with a trained run: beam search, detokenised text.

    Args:
        run: run directory (or checkpoint directory).
        text: a sentence to translate.
        input: a UTF-8 file of sentences, one a line (instead of --text).
        output: write the translations there, one a line (default: print them).
        beam_size: hypotheses kept per sentence [default: the run's decode.beam_size; 1 is
            greedy].
        length_penalty: alpha of the length normalisation [default: the run's].
        checkpoint: which checkpoint of the run: best or last.
    """
    from dataclasses import replace

    from rnnkit.config import ConfigError
    from rnnkit.train import load_run

    if bool(text) == (input is not None):
        raise ConfigError("give a sentence with --text or a file with --input (one of them)")
    loaded = load_run(TASK, run, prefer=checkpoint)
    config: TranslateConfig = loaded.config
    d = config.decode
    if beam_size is not None:
        d = replace(d, beam_size=beam_size)
    if length_penalty is not None:
        d = replace(d, length_penalty=length_penalty)
    sentences = read_sentences(input) if input is not None else [text]
    sentences = [normalize_text(s, config.data.normalization) for s in sentences]
    result = translate_texts(loaded.model, loaded.state, sentences, d)
    if output is None:
        return "\n".join(result)
    Path(output).write_text("".join(f"{r}\n" for r in result), encoding="utf-8")
    return f"wrote {len(result)} translation{'s' if len(result) != 1 else ''} to {output}"


@torch.no_grad()
def translate_texts(
    model: Translator,
    state: Mapping[str, Any],
    sentences: list[str],
    decode: TranslateDecode,
    batch_size: int = 200,
) -> list[str]:
    """Detokenised translations of ``sentences`` (already normalised), in order."""
    src_tok, tgt_tok = tokenizers_of(state)
    model.eval()
    ids = [i + [EOS] for i in src_tok.encode(sentences)]
    out: list[str] = []
    for start in range(0, len(ids), batch_size):
        src, lengths = pad_ids(ids[start : start + batch_size])
        h = search(model, src, lengths, decode, beam=True)
        for tokens, align, source in zip(h.tokens, _aligned(h), sentences[start:]):
            out.append(
                detokenize(tokens, align, source, src_tok, tgt_tok, decode.unknown == "replace")
            )
    return out


def score_file(
    run: Path,
    data: Path,
    beam_size: int | None = None,
    length_penalty: float | None = None,
    max_length_ratio: float | None = None,
    checkpoint: str = "best",
) -> str:
    """Score a run's translations of a SOURCE<TAB>TARGET file with other decoding settings
    (e.g. to choose them on the run's split/valid.tsv); print the scores as JSON.

    Args:
        run: run directory (or checkpoint directory).
        data: a UTF-8 file of SOURCE<TAB>TARGET lines, in the columns of the training data.
        beam_size: hypotheses kept per sentence [default: the run's decode.beam_size].
        length_penalty: alpha of the length normalisation [default: the run's].
        max_length_ratio: longest translation, times the source subwords, + 5 [default: the
            run's].
        checkpoint: which checkpoint of the run: best or last.
    """
    from dataclasses import replace

    from rnnkit import console
    from rnnkit.train import evaluate_run, load_run

    loaded = load_run(TASK, run, prefer=checkpoint)
    changes = {"beam_size": beam_size, "length_penalty": length_penalty,
               "max_length_ratio": max_length_ratio}  # fmt: skip
    decode = replace(loaded.config.decode, **{k: v for k, v in changes.items() if v is not None})
    loaded.model.decoding = decode
    loaded.config = replace(loaded.config, decode=decode)
    inputs = TASK.read_inputs(data, loaded.config, loaded.state)
    metrics, _ = evaluate_run(loaded, inputs.source, split="input")
    return console.to_json({"decode": decode.__dict__, **metrics})


TranslateTask.commands = {"translate": translate_sentences, "score": score_file}
