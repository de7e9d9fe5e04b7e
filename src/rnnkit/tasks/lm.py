r"""Language modelling: predict the next character or word, then generate text.

    tokens (N, L) -> Embedding (L, N, E) -> stacked rnnkit.nn LSTM/GRU/RNN (L, N, H)
    -> dropout -> Linear -> logits (N, L, V) over the vocabulary -> softmax

N streams (batch), L tokens per chunk, E embedding size, H hidden size, V vocabulary size.

Data: one long token stream (a text file or several, read as UTF-8, tokenized into characters or
words with :class:`~rnnkit.data.text.Tokenizer`), split by position into train / validation /
test (default 90/5/5), the vocabulary built on train only. Training is stateful truncated BPTT:
each split is cut into N parallel streams (contiguous pieces), batch k holds the k-th chunk of
``seq_len`` tokens of every stream, and the state at the end of batch k is the initial state of
batch k+1, detached so that gradients stop at the boundary.

Metrics: cross-entropy in nats per token; bits per character (nats / ln 2) for character models,
perplexity (e ** nats) for word models.

Generation primes the state with the prompt, then samples one token at a time with temperature,
top-k and top-p (nucleus) filtering from a seeded generator; temperature 0 is greedy decoding.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
import torch.nn.functional as F
import typer
from torch import Tensor, nn

from rnnkit.config import Section, option
from rnnkit.data.fetch import RemoteFile, data_dir, ensure_file
from rnnkit.data.text import Tokenizer, Vocabulary, read_text
from rnnkit.nn import GRU, LSTM, RNN
from rnnkit.train.inference import load_run
from rnnkit.train.settings import OptimConfig, TrainConfig
from rnnkit.train.task import Step, Task, TaskData
from rnnkit.train.tbptt import StreamBatches

CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
State = Tensor | tuple[Tensor, ...]


# ------------------------------------------------------------------------------------- model
class LanguageModel(nn.Module):
    """Embedding -> stacked recurrent layers -> linear over the vocabulary.

    Args:
        vocab_size: V, the number of token ids.
        cell: ``"lstm"``, ``"gru"`` or ``"rnn"`` (tanh).
        embedding_size: E.
        hidden_size: H.
        num_layers: stacked recurrent layers.
        dropout: dropout between recurrent layers and before the output layer.
        layer_norm: layer-normalised cells (rnnkit's cells instead of the fused kernels).
        tie_weights: share the embedding matrix with the output layer (needs E == H).
        fused: ``"auto"`` | True | False, passed to the recurrent layer.

    ``forward(tokens, state=None) -> (logits, state)``: tokens (N, L) int64, batch first (as
    the engine's batches are); logits (N, L, V); state as the recurrent layer's
    ((num_layers, N, H), a pair (h, c) for LSTM).
    """

    def __init__(
        self,
        vocab_size: int,
        cell: str = "lstm",
        embedding_size: int = 64,
        hidden_size: int = 512,
        num_layers: int = 2,
        dropout: float = 0.0,
        layer_norm: bool = False,
        tie_weights: bool = False,
        fused: bool | str = "auto",
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2, got {vocab_size}")
        if tie_weights and embedding_size != hidden_size:
            raise ValueError(
                f"tie_weights needs embedding_size == hidden_size (the output layer reuses the "
                f"embedding matrix), got embedding_size={embedding_size}, "
                f"hidden_size={hidden_size}"
            )
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.rnn = CELLS[cell](
            embedding_size,
            hidden_size,
            num_layers,
            dropout=dropout if num_layers > 1 else 0.0,
            layer_norm=layer_norm,
            fused=fused,
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)
        if tie_weights:
            self.head.weight = self.embedding.weight
        self.vocab_size = vocab_size

    def forward(self, tokens: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        x = self.embedding(tokens.t())  # (L, N, E): time-major suits the recurrent kernels
        out, state = self.rnn(x, state)  # (L, N, H)
        return self.head(self.drop(out)).transpose(0, 1), state  # (N, L, V)


def count_parameters(model: nn.Module) -> int:
    """Distinct trainable parameters (tied weights counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


# -------------------------------------------------------------------------------------- data
def split_stream(
    ids: Tensor, fractions: Sequence[float] = (0.9, 0.05, 0.05)
) -> tuple[Tensor, Tensor, Tensor]:
    """Cut a 1-D token stream by position into train, validation and test (contiguous pieces)."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or fractions[0] <= 0:
        raise ValueError(f"split must be 3 fractions >= 0 (train > 0), got {tuple(fractions)}")
    total = float(sum(fractions))
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"split fractions must sum to 1, got {tuple(fractions)} (sum {total})")
    n = len(ids)
    a = int(round(n * fractions[0]))
    b = int(round(n * (fractions[0] + fractions[1])))
    return ids[:a], ids[a:b], ids[b:]


def token_stream(
    ids: Tensor, batch_size: int, seq_len: int, what: str = "text", training: bool = True
) -> StreamBatches:
    """``ids`` (L,) as ``batch_size`` parallel streams read in chunks of ``seq_len`` tokens.

    Item j of the result is ``{"x": (N, T), "y": (N, T)}``: inputs and the next tokens, where
    row n of item j+1 continues row n of item j (the engine carries the state between them).
    For training, every stream must fill at least one chunk, else ValueError naming ``what``
    (e.g. "the training split of input.txt"). For evaluation (``training=False``) a short text
    gets fewer streams instead, down to one; it needs 2 tokens.
    """
    if batch_size < 1 or seq_len < 1:
        raise ValueError(f"batch_size and seq_len must be >= 1, got {batch_size}, {seq_len}")
    ids = ids.long()
    targets = len(ids) - 1
    if training and targets < batch_size * seq_len:
        raise ValueError(
            f"{what} has {len(ids)} tokens, fewer than one batch needs (batch_size "
            f"{batch_size} streams x seq_len {seq_len} + 1 = {batch_size * seq_len + 1}); "
            f"use a longer text or a smaller --train.batch_size / --data.seq_len"
        )
    if targets < 1:
        raise ValueError(f"{what} has {len(ids)} tokens; evaluating needs at least 2")
    rows = min(batch_size, max(1, targets // seq_len))
    return StreamBatches({"x": ids[:-1], "y": ids[1:]}, rows, seq_len)


def stream_targets(stream: StreamBatches) -> int:
    """Target tokens over every item of ``stream`` (what the loss averages over)."""
    return stream.batch_size * stream.steps


# ----------------------------------------------------------------------------------- metrics
def lm_metrics(nats: float, level: str) -> dict[str, float]:
    """Loss in nats per token plus bits per character (char level) or perplexity (word level)."""
    metrics = {"loss": nats}
    if level == "char":
        metrics["bits_per_char"] = nats / math.log(2)
    else:
        metrics["perplexity"] = math.exp(min(nats, 700.0))
    return metrics


@torch.no_grad()
def evaluate_stream(model: LanguageModel, stream: StreamBatches) -> float:
    """Mean cross-entropy (nats per token) over every target of ``stream``, state carried.

    The engine's evaluation computes the same through :class:`LMTask`; this standalone loop
    serves tests and benchmarks."""
    was_training = model.training
    model.eval()
    state, total = None, 0.0
    for j in range(len(stream)):
        batch = stream[j]
        logits, state = model(batch["x"], state)
        total += F.cross_entropy(logits.flatten(0, 1), batch["y"].flatten(), reduction="sum")
    model.train(was_training)
    return float(total) / stream_targets(stream)


def unigram_entropy(ids: Tensor) -> float:
    """Entropy (nats) of the token frequencies of ``ids``: the loss of a model that knows
    nothing but how often each token occurs."""
    counts = torch.bincount(ids.long()).double()
    p = counts[counts > 0] / counts.sum()
    return float(-(p * p.log()).sum())


# -------------------------------------------------------------------------------- generation
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
    with _one_step_path(model):
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


@contextmanager
def _one_step_path(model: LanguageModel) -> Iterator[None]:
    """Run single steps through rnnkit's cells rather than the fused kernel on CPU.

    The fused CPU kernel (oneDNN) pays a fixed cost per call that dominates one-token steps
    (about 3x slower than the cells at N=1, H=512); the weights are the same either way.
    """
    rnn = model.rnn
    fused = getattr(rnn, "uses_fused", False)
    on_cpu = next(rnn.parameters()).device.type == "cpu"
    if fused and on_cpu:
        rnn.uses_fused = False
    try:
        yield
    finally:
        if fused and on_cpu:
            rnn.uses_fused = True


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


# -------------------------------------------------------------------------------------- task
TINYSHAKESPEARE = RemoteFile(
    "input.txt",
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
    "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
)
DATASETS = {"tinyshakespeare": TINYSHAKESPEARE}


@dataclass(frozen=True)
class LMData(Section):
    """The text, its tokens and vocabulary, the split and the truncated-BPTT length."""

    files: tuple[str, ...] = option((), "UTF-8 text files, read in order (empty: data.dataset)")
    dataset: Literal["tinyshakespeare"] = option(
        "tinyshakespeare", "built-in corpus used when no files are given (downloaded once)"
    )
    data_dir: str | None = option(
        None, "folder of built-in corpora ($RNNKIT_DATA, ~/.cache/rnnkit)"
    )
    level: Literal["char", "word"] = option("char", "tokens: characters or words (+ newlines)")
    lower: bool = option(False, "lower-case the text first")
    min_freq: int = option(
        1, "keep tokens seen at least this often in train; others -> <unk>", low=1
    )
    max_vocab: int = option(0, "keep at most this many tokens besides <unk> (0: all)", low=0)
    val_fraction: float = option(0.05, "validation share, taken after train by position", low=0)
    test_fraction: float = option(0.05, "test share, the end of the text", low=0)
    seq_len: int = option(128, "truncated BPTT: tokens per chunk of each stream", low=1)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(
                f"val_fraction + test_fraction must be < 1 (train needs a share), got "
                f"{self.val_fraction} + {self.test_fraction}"
            )


@dataclass(frozen=True)
class LMModel(Section):
    """Embedding -> stacked recurrent layers -> linear over the vocabulary."""

    cell: Literal["lstm", "gru", "rnn"] = option("lstm", "recurrent cell")
    embedding_size: int = option(64, "embedding size E", low=1)
    hidden_size: int = option(384, "hidden size H", low=1)
    num_layers: int = option(2, "stacked recurrent layers", low=1)
    dropout: float = option(
        0.2, "dropout between layers and before the output layer", low=0, high=0.95
    )
    layer_norm: bool = option(False, "layer-normalised cells (slower: no fused kernel)")
    tie_weights: bool = option(False, "share the embedding with the output layer (needs E == H)")
    fused: Literal["auto", "true", "false"] = option("auto", "torch's fused kernels when possible")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.tie_weights and self.embedding_size != self.hidden_size:
            raise ValueError(
                f"tie_weights needs embedding_size == hidden_size, got {self.embedding_size} "
                f"and {self.hidden_size}"
            )


@dataclass(frozen=True)
class LMConfig:
    """Language model: next-token prediction over a text, trained with stateful truncated BPTT."""

    data: LMData = LMData()
    model: LMModel = LMModel()
    # The measured tinyshakespeare recipe (docs/lm.md): validation 1.45 nats/char in 5 epochs.
    optim: OptimConfig = OptimConfig(lr=2e-3, clip_norm=5.0, schedule="cosine", min_lr=1e-4)
    train: TrainConfig = TrainConfig(epochs=5, batch_size=32, early_stopping=3, eval_train=False)


def corpus_files(data: LMData) -> list[Path]:
    """The text files of ``data``: its ``files``, else the built-in dataset (fetched once)."""
    if data.files:
        return [Path(f) for f in data.files]
    remote = DATASETS[data.dataset]
    return [ensure_file(data_dir(data.data_dir) / data.dataset, remote)]


def tokenizer_of(data: LMData) -> Tokenizer:
    return Tokenizer(data.level, lower=data.lower, newlines=True)


def generate_from_run(
    run: str | os.PathLike,
    prompt: str = "",
    length: int = 500,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    checkpoint: str = "best",
) -> str:
    """Text from a trained run: ``prompt`` primes the state, then ``length`` tokens follow."""
    loaded = load_run(LMTask(), run, prefer=checkpoint)
    tokenizer = Tokenizer.from_dict(loaded.state["tokenizer"])
    vocab = Vocabulary.from_dict(loaded.state["vocabulary"])
    return generate_text(
        loaded.model, tokenizer, vocab, prompt, length, temperature, top_k, top_p, seed
    )


def generate_command(
    run: Annotated[Path, typer.Option("--run", help="run directory (or checkpoint directory)")],
    prompt: Annotated[str, typer.Option(help="text that primes the state")] = "",
    length: Annotated[int, typer.Option(min=0, help="tokens to generate")] = 500,
    temperature: Annotated[
        float, typer.Option(min=0.0, help="softmax temperature; 0 is greedy decoding")
    ] = 1.0,
    top_k: Annotated[int | None, typer.Option(min=1, help="sample among the k likeliest")] = None,
    top_p: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="sample within probability mass p")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="seed: the same seed, the same text")] = None,
    checkpoint: Annotated[str, typer.Option(help="which checkpoint of the run: best or last")] = (
        "best"
    ),
) -> None:
    """Generate text from a trained language model; the prompt primes the state."""
    text = generate_from_run(run, prompt, length, temperature, top_k, top_p, seed, checkpoint)
    print(text)


class LMTask(Task[LMConfig]):
    """``rnnkit lm``: character or word language models; ``generate`` samples text."""

    name = "lm"
    config_class = LMConfig
    aliases = {"files": "data.files", "level": "data.level", "dataset": "data.dataset"}
    actions = {"generate": generate_command}  # extra CLI actions: ``rnnkit lm generate``

    def load_data(self, config: LMConfig) -> TaskData:
        d, rows = config.data, config.train.batch_size
        files = corpus_files(d)
        source = ", ".join(f.name for f in files)
        tokenizer = tokenizer_of(d)
        tokens = tokenizer.tokenize(read_text(files))
        fractions = (1 - d.val_fraction - d.test_fraction, d.val_fraction, d.test_fraction)
        n_train = int(round(len(tokens) * fractions[0]))
        vocab = Vocabulary.build(tokens[:n_train], d.min_freq, d.max_vocab or None)
        ids = torch.tensor(vocab.encode(tokens), dtype=torch.long)
        train, val, test = split_stream(ids, fractions)
        streams = [
            token_stream(part, rows, d.seq_len, f"the {name} split of {source}", name == "train")
            if len(part) or name == "train"
            else None
            for name, part in (("train", train), ("validation", val), ("test", test))
        ]
        state = {
            "tokenizer": tokenizer.to_dict(),
            "vocabulary": vocab.to_dict(),
            "source": source,
            "tokens": {"train": len(train), "validation": len(val), "test": len(test)},
            "unigram_entropy": unigram_entropy(train),
        }
        return TaskData(*streams, state=state)

    def build_model(self, config: LMConfig, state: dict[str, Any]) -> LanguageModel:
        m = config.model
        self.level = state["tokenizer"]["level"]
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

    def read_inputs(self, path: Path, config: LMConfig, state: dict[str, Any]) -> StreamBatches:
        """A text file to evaluate (``rnnkit lm evaluate --data FILE``), in the run's tokens."""
        tokenizer = Tokenizer.from_dict(state["tokenizer"])
        vocab = Vocabulary.from_dict(state["vocabulary"])
        ids = torch.tensor(vocab.encode(tokenizer.tokenize(read_text(path))), dtype=torch.long)
        rows, seq_len = config.train.batch_size, config.data.seq_len
        return token_stream(ids, rows, seq_len, str(path), training=False)

    def predict(self, model: nn.Module, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        raise ValueError("lm predicts by generating text: use `rnnkit lm generate --run DIR`")

    def metrics(self, outputs: dict[str, Tensor]) -> dict[str, float]:
        nats = float(outputs["nll"].sum() / outputs["tokens"].sum())
        extra = lm_metrics(nats, getattr(self, "level", "char"))
        extra.pop("loss")
        return extra


TASK = LMTask()
