"""``rnnkit lm``: the task's hooks, and the ``generate`` command.

Data: one long token stream (text files read as UTF-8, tokenized into characters or words),
split by position into train / validation / test (``--data.split``, :func:`.data.text_split`:
90/5/5 with the vocabulary built on train only by default; ``nanogpt`` is nanoGPT's 90/10 split
with the vocabulary of the whole text). Training is stateful truncated BPTT (:mod:`.data`).

Metrics: cross-entropy in nats per token; bits per character (nats / ln 2) for character models,
perplexity (e ** nats) for word models.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data.text import Tokenizer, Vocabulary, read_text
from rnnkit.train.inference import load_run
from rnnkit.train.task import Context, Inputs, Step, Task, TaskData

from .config import PRESETS, LMConfig
from .data import encode_text, token_stream, unigram_entropy
from .generate import generate_text
from .model import LanguageModel


class LMTask(Task[LMConfig]):
    """Character or word language models; ``generate`` samples text from a trained run."""

    name = "lm"
    config_class = LMConfig
    actions = ("train", "evaluate", "tune", "config")
    headline = ("loss", "bits_per_char", "perplexity")
    aliases = {"files": "data.files", "level": "data.level", "dataset": "data.dataset"}
    presets = PRESETS

    def load_data(self, config: LMConfig) -> TaskData:
        d, rows = config.data, config.train.batch_size
        text = encode_text(d)
        parts, source = text.parts, text.source
        streams = [
            token_stream(part, rows, d.seq_len, f"the {name} split of {source}", name == "train")
            if len(part) or name == "train"
            else None
            for name, part in parts.items()
        ]
        state = {
            "tokenizer": text.tokenizer.to_dict(),
            "vocabulary": text.vocab.to_dict(),
            "source": source,
            "tokens": {name: len(part) for name, part in parts.items()},
            "unigram_entropy": unigram_entropy(parts["train"]),
        }
        return TaskData(*streams, state=state)

    def build_model(self, config: LMConfig, state: Mapping[str, Any]) -> LanguageModel:
        m = config.model
        fused = {"auto": "auto", "true": True, "false": False}[m.fused]
        vocab_size = len(state["vocabulary"]["tokens"])
        return LanguageModel(
            vocab_size,
            m.cell,
            m.embedding_size,
            m.hidden_size,
            m.num_layers,
            m.dropout,
            m.layer_norm,
            m.tie_weights,
            fused,
        )

    def step(self, model: nn.Module, batch: dict[str, Tensor], state: Any = None) -> Step:
        logits, state = model(batch["x"], state)  # (N, T, V)
        y = batch["y"]
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        n = y.numel()
        outputs = {"nll": (loss.detach() * n).view(1).double(), "tokens": y.new_tensor([n])}
        return Step(loss, outputs, state, weight=n)

    def metrics(self, outputs: dict[str, Tensor], ctx: Context) -> dict[str, float]:
        nats = float(outputs["nll"].sum() / outputs["tokens"].sum())
        if ctx.state["tokenizer"]["level"] == "char":
            return {"bits_per_char": nats / math.log(2)}
        return {"perplexity": math.exp(min(nats, 700.0))}

    def read_inputs(self, path: Path, config: LMConfig, state: Mapping[str, Any]) -> Inputs:
        """A text file to evaluate (``rnnkit lm evaluate --data FILE``), in the run's tokens."""
        tokenizer = Tokenizer.from_dict(state["tokenizer"])
        vocab = Vocabulary.from_dict(state["vocabulary"])
        ids = torch.tensor(vocab.encode(tokenizer.tokenize(read_text(path))), dtype=torch.long)
        rows, seq_len = config.train.batch_size, config.data.seq_len
        return Inputs(token_stream(ids, rows, seq_len, str(path), training=False))


TASK = LMTask()


def generate_from_run(
    run: Path,
    prompt: str = "",
    length: int = 500,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    checkpoint: str = "best",
) -> str:
    """Generate text from a trained language model; the prompt primes the state.

    Args:
        run: run directory (or checkpoint directory).
        prompt: text that primes the state.
        length: tokens to generate.
        temperature: softmax temperature; 0 is greedy decoding.
        top_k: sample among the k likeliest tokens.
        top_p: sample within probability mass p (nucleus sampling).
        seed: the same seed gives the same text.
        checkpoint: which checkpoint of the run: best or last.
    """
    loaded = load_run(TASK, run, prefer=checkpoint)
    tokenizer = Tokenizer.from_dict(loaded.state["tokenizer"])
    vocab = Vocabulary.from_dict(loaded.state["vocabulary"])
    return generate_text(
        loaded.model, tokenizer, vocab, prompt, length, temperature, top_k, top_p, seed
    )


LMTask.commands = {"generate": generate_from_run}
