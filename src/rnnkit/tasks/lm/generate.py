"""Text generation: the prompt primes the state, then tokens are sampled one at a time.

Sampling uses temperature, top-k and top-p (nucleus) filtering from a seeded generator;
temperature 0 is greedy decoding. One step of one sequence runs through rnnkit's cells on CPU
(the layer's own rule; torch's fused kernel pays a fixed cost per call that dominates a step).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from rnnkit.data.text import Tokenizer, Vocabulary

from .model import LanguageModel


def sample_next(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One token id per row of ``logits`` (N, V): greedy when ``temperature`` is 0, else a
    sample from softmax(logits / temperature) restricted to the ``top_k`` most likely tokens
    and to the smallest set whose probability reaches ``top_p``. Returns (N,) int64."""
    if temperature == 0:
        return logits.argmax(-1)
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, -math.inf)
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        # Drop a token when the tokens before it already reach top_p (the first always stays).
        drop = (cumulative - sorted_logits.softmax(-1)) >= top_p
        logits = logits.scatter(-1, order, sorted_logits.masked_fill(drop, -math.inf))
    probs = logits.softmax(-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    """ValueError naming the sampling argument that is out of range."""
    if not temperature >= 0 or math.isinf(temperature):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 (or unset), got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1] (or unset), got {top_p}")


@torch.no_grad()
def generate_ids(
    model: LanguageModel,
    prompt: Sequence[int],
    length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    banned: Sequence[int] = (),
) -> list[int]:
    """``length`` new token ids following ``prompt`` (which primes the state; not returned).

    ``banned`` ids (e.g. ``<unk>``) are never produced. The same seed gives the same ids.
    """
    check_sampling(temperature, top_k, top_p)
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    if len(prompt) == 0:
        raise ValueError("the prompt must hold at least one token")
    generator = torch.Generator()
    if seed is None:
        generator.seed()  # a fresh non-deterministic seed, leaving the global RNG alone
    else:
        generator.manual_seed(seed)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    x = torch.tensor(list(prompt), dtype=torch.long, device=device).unsqueeze(0)  # (1, P)
    logits, state = model(x)
    last = logits[:, -1]  # (1, V)
    out: list[int] = []
    ban = torch.tensor(list(banned), dtype=torch.long)
    for _ in range(length):
        last = last.cpu().float()
        if len(ban):
            last = last.index_fill(-1, ban, -math.inf)
        token = sample_next(last, temperature, top_k, top_p, generator)  # (1,)
        out.append(int(token))
        logits, state = model(token.view(1, 1).to(device), state)
        last = logits[:, -1]
    model.train(was_training)
    return out


def encode_prompt(prompt: str, tokenizer: Tokenizer, vocab: Vocabulary) -> list[int]:
    """Token ids of ``prompt``. Characters the model never saw are an error that lists them;
    unknown words map to ``<unk>``. An empty prompt starts after a newline when possible."""
    tokens = tokenizer.tokenize(prompt)
    if not tokens:
        if "\n" not in vocab:
            raise ValueError("the prompt is empty and the vocabulary has no newline to start from")
        tokens = ["\n"]
    missing = vocab.unknown(tokens)
    if missing and (tokenizer.level == "char" or vocab.unk is None):
        shown = ", ".join(f"{t!r} (U+{ord(t):04X})" if len(t) == 1 else repr(t) for t in missing)
        known = "".join(t for t in vocab.tokens if len(t) == 1 and t.isprintable())
        raise ValueError(
            f"the prompt has {len(missing)} character(s) the model never saw in training: "
            f"{shown}. Known characters: {known!r}"
        )
    return vocab.encode(tokens)


def generate_text(
    model: LanguageModel,
    tokenizer: Tokenizer,
    vocab: Vocabulary,
    prompt: str,
    length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
) -> str:
    """The prompt followed by ``length`` generated tokens, as text."""
    ids = encode_prompt(prompt, tokenizer, vocab)
    banned = [vocab.tokens.index(s) for s in vocab.specials]
    new = generate_ids(model, ids, length, temperature, top_k, top_p, seed, banned)
    if tokenizer.level == "char":
        return prompt + tokenizer.detokenize(vocab.decode(new))
    return tokenizer.detokenize(vocab.decode(ids) + vocab.decode(new))
