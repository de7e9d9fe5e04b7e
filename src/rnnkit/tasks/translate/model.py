r"""The attentional encoder-decoder: embeddings -> bidirectional encoder -> bridge -> decoder.

Shapes: N sentences, S source subwords (the last is ``<eos>``), T target steps, E embedding
size, H_e encoder units per direction, D directions, M = D*H_e memory size, H decoder units,
O the attentional vector's size (E when the output layer is tied to the target embedding, else
H), V_s and V_t vocabulary sizes.

Encoder: :math:`m_{1..S} = \mathrm{BiRNN}(\mathrm{Emb}_s(x_{1..S}))`, run with the source lengths
(padding is never computed), memory (N, S, M). Bridge: the decoder's initial state
:math:`s_0 = \tanh(W_b [\overrightarrow{h}_S; \overleftarrow{h}_1] + b_b)` (every layer, and the
LSTM cell state too), or zeros.

Decoder step t, input :math:`y_{t-1}` (``<bos>`` first), attention over the memory with the
source padding masked (:mod:`rnnkit.nn.attention`):

* ``luong`` (Luong et al. 2015): :math:`s_t = \mathrm{RNN}([\mathrm{Emb}_t(y_{t-1});
  \tilde h_{t-1}], s_{t-1})`, :math:`c_t = \mathrm{attn}(s_t, m)`;
* ``bahdanau`` (Bahdanau et al. 2015): :math:`c_t = \mathrm{attn}(s_{t-1}, m)`,
  :math:`s_t = \mathrm{RNN}([\mathrm{Emb}_t(y_{t-1}); c_t; \tilde h_{t-1}], s_{t-1})`;

then :math:`\tilde h_t = \tanh(W_c [c_t; s_t])` (O) and :math:`p(y_t) =
\mathrm{softmax}(W_o\,\mathrm{dropout}(\tilde h_t) + b_o)`. :math:`\tilde h_{t-1}` (input
feeding) is fed only with ``input_feeding``. Without input feeding and scheduled sampling, a
``luong`` decoder runs the whole target in one call of the recurrent layer (teacher forcing);
otherwise step by step, feeding the model's own previous prediction with probability
``scheduled_sampling`` (Bengio et al. 2015).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.data import length_mask
from rnnkit.data.subwords import PAD
from rnnkit.nn import make_encoder
from rnnkit.nn.attention import make_attention

from .config import TranslateModel

State = tuple[tuple[Tensor, ...], Tensor | None]  # (recurrent state (L, B, H) each, feed (B, O))


@dataclass
class Memory:
    """The encoded source: ``states`` (N, S, M), the attention ``keys`` computed from them,
    ``mask`` (N, S) True at real subwords, and the decoder's initial ``start`` state."""

    states: Tensor
    keys: Tensor
    mask: Tensor
    start: State

    def repeat(self, k: int) -> Memory:
        """Each sentence k times in a row (N*k rows), for a beam of k hypotheses."""
        (rnn, feed) = self.start
        return Memory(
            self.states.repeat_interleave(k, 0),
            self.keys.repeat_interleave(k, 0),
            self.mask.repeat_interleave(k, 0),
            (
                tuple(s.repeat_interleave(k, 1) for s in rnn),
                None if feed is None else feed.repeat_interleave(k, 0),
            ),
        )


class Translator(nn.Module):
    """Attentional recurrent encoder-decoder (see the module docstring for the equations).

    Args:
        source_vocab: V_s.
        target_vocab: V_t.
        config: the model section (cell, sizes, attention, bridge, tying, dropout ...).

    ``forward(src, lengths, tgt_in)`` -> (logits (N, T, O -> V_t) ... see :meth:`forward`);
    decoding goes through :meth:`encode`, :meth:`step` and :meth:`reorder`
    (:mod:`.decode`).
    """

    def __init__(self, source_vocab: int, target_vocab: int, config: TranslateModel) -> None:
        super().__init__()
        c = config
        E, H = c.embedding_size, c.decoder_size
        D = 2 if c.bidirectional else 1
        M = D * c.hidden_size
        O = E if c.tie_output else H
        if c.share_embeddings and source_vocab != target_vocab:
            raise ValueError(
                "model.share_embeddings needs one vocabulary for both languages "
                "(data.shared_vocab true)"
            )
        self.config, self.directions = c, D
        self.cell_states = 2 if c.cell == "lstm" else 1
        self.source_embedding = nn.Embedding(source_vocab, E, padding_idx=PAD)
        self.target_embedding = (
            self.source_embedding
            if c.share_embeddings
            else nn.Embedding(target_vocab, E, padding_idx=PAD)
        )
        self.encoder = make_encoder(
            c.cell, E, c.hidden_size, c.encoder_layers, bidirectional=c.bidirectional,
            dropout=c.dropout if c.encoder_layers > 1 else 0.0,
        )  # fmt: skip
        self.bridge = (
            nn.Linear(M, c.decoder_layers * H * self.cell_states) if c.bridge == "linear" else None
        )
        inputs = E + (M if c.attention == "bahdanau" else 0) + (O if c.input_feeding else 0)
        self.decoder = make_encoder(
            c.cell, inputs, H, c.decoder_layers,
            dropout=c.dropout if c.decoder_layers > 1 else 0.0,
        )  # fmt: skip
        self.attention = make_attention(c.score, H, M, c.attention_size)
        self.combine = nn.Linear(M + H, O)  # W_c
        self.drop = nn.Dropout(c.dropout)
        self.output = nn.Linear(O, target_vocab)  # W_o
        if c.tie_output:
            self.output.weight = self.target_embedding.weight
        self.feed_size = O
        self.decoding: Any = None  # decoding settings for evaluation (set by the task)

    # ---------------------------------------------------------------------------- encoder
    def encode(self, src: Tensor, lengths: Tensor) -> Memory:
        """``src`` (N, S) ids right-padded, ``lengths`` (N,) -> the :class:`Memory`."""
        emb = self.drop(self.source_embedding(src))  # (N, S, E)
        states, final = self.encoder(emb, lengths=lengths.cpu())  # (N, S, M)
        h_n = final[0] if isinstance(final, tuple) else final  # (layers*D, N, H_e)
        N = src.shape[0]
        c = self.config
        if self.bridge is None:
            shape = (c.decoder_layers, N, c.decoder_size)
            rnn = tuple(states.new_zeros(shape) for _ in range(self.cell_states))
        else:
            last = torch.cat(list(h_n[-self.directions :]), dim=-1)  # (N, M)
            init = torch.tanh(self.bridge(last)).view(
                N, self.cell_states, c.decoder_layers, c.decoder_size
            )
            rnn = tuple(init[:, k].transpose(0, 1).contiguous() for k in range(self.cell_states))
        feed = states.new_zeros(N, self.feed_size) if c.input_feeding else None
        mask = length_mask(lengths.to(src.device), src.shape[1])
        return Memory(states, self.attention.keys(states), mask, (rnn, feed))

    # ---------------------------------------------------------------------------- decoder
    def _rnn_state(self, rnn: tuple[Tensor, ...]) -> Tensor | tuple[Tensor, ...]:
        return rnn if self.cell_states == 2 else rnn[0]

    def _attend(self, query: Tensor, memory: Memory) -> tuple[Tensor, Tensor]:
        return self.attention(query, memory.states, memory.mask, memory.keys)

    def _step(self, emb: Tensor, state: State, memory: Memory) -> tuple[Tensor, State, Tensor]:
        """One decoder step from the target embedding ``emb`` (B, E): (h~ (B, O), state,
        attention weights (B, S))."""
        rnn, feed = state
        parts = [emb]
        if self.config.attention == "bahdanau":
            context, weights = self._attend(rnn[0][-1], memory)  # query: s_{t-1}, top layer
            parts.append(context)
        if feed is not None:
            parts.append(feed)
        out, new = self.decoder(torch.cat(parts, -1).unsqueeze(1), self._rnn_state(rnn))
        new = new if isinstance(new, tuple) else (new,)
        h = out.squeeze(1)  # (B, H)
        if self.config.attention == "luong":
            context, weights = self._attend(h, memory)
        attentional = torch.tanh(self.combine(torch.cat([context, h], -1)))  # (B, O)
        return attentional, (new, attentional if feed is not None else None), weights

    def step(self, tokens: Tensor, state: State, memory: Memory) -> tuple[Tensor, State, Tensor]:
        """Decode one step: previous tokens (B,) -> (log-probabilities (B, V_t), state,
        attention (B, S))."""
        attentional, state, weights = self._step(self.target_embedding(tokens), state, memory)
        return torch.log_softmax(self.output(attentional), -1), state, weights

    @staticmethod
    def reorder(state: State, index: Tensor) -> State:
        """The state of rows ``index`` (B',) (beam search keeps some hypotheses, drops others)."""
        rnn, feed = state
        rnn = tuple(s.index_select(1, index) for s in rnn)
        return rnn, None if feed is None else feed.index_select(0, index)

    # ---------------------------------------------------------------------- teacher forcing
    def forward(
        self, src: Tensor, lengths: Tensor, tgt_in: Tensor, sampling: float = 0.0
    ) -> tuple[Tensor, Tensor]:
        """Attentional vectors (N, T, O) and attention weights (N, T, S) for target inputs
        ``tgt_in`` (N, T) (``<bos> y_1 ... y_{T-1}``). :meth:`logits` maps the vectors to the
        vocabulary. With ``sampling`` > 0 (training), each step's input is the model's own
        previous prediction with that probability."""
        memory = self.encode(src, lengths)
        c = self.config
        emb = self.drop(self.target_embedding(tgt_in))  # (N, T, E)
        if c.attention == "luong" and not c.input_feeding and not sampling:
            h, _ = self.decoder(emb, self._rnn_state(memory.start[0]))  # (N, T, H)
            context, weights = self._attend(h, memory)  # (N, T, M), (N, T, S)
            return torch.tanh(self.combine(torch.cat([context, h], -1))), weights
        state, outs, maps = memory.start, [], []
        for t in range(tgt_in.shape[1]):
            e = emb[:, t]
            if sampling and t > 0:
                with torch.no_grad():
                    guess = self.output(outs[-1]).argmax(-1)  # (N,)
                own = torch.rand(guess.shape, device=guess.device) < sampling
                e = torch.where(own.unsqueeze(-1), self.drop(self.target_embedding(guess)), e)
            attentional, state, weights = self._step(e, state, memory)
            outs.append(attentional)
            maps.append(weights)
        return torch.stack(outs, 1), torch.stack(maps, 1)

    def logits(self, attentional: Tensor) -> Tensor:
        """Scores over the target vocabulary (..., V_t) of attentional vectors (..., O)."""
        return self.output(self.drop(attentional))


def count_parameters(model: nn.Module) -> int:
    """Distinct trainable parameters (tied weights counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
