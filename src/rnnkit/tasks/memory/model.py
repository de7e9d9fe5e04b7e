"""The memory task's network: one recurrent encoder from :func:`rnnkit.nn.make_encoder` and a
linear head.

Shapes: N sequences, T steps, H hidden size. Adding: (N, T, 2) numbers and markers -> the
head reads h_T -> (N,) sums. Copying: (N, T + 20) symbols, one-hot (10) -> the head reads every
h_t -> (N, T + 20, 9) logits.

Initialisation ``glorot`` (the long-memory papers' code, e.g. Arjovsky et al. 2016): every
gate block W (H rows) of ``weight_ih``/``weight_hh`` and the head ~ U(-a, a) with
a = sqrt(6 / (fan_in + fan_out)), biases 0, and the forget-gate bias 1 of an LSTM (b_ih's f
block: the cell adds b_ih and b_hh) and of a minLSTM (its f block, the first). For a tanh RNN
this puts W_hh's spectral radius near 1, where torch's U(-1/sqrt(H), 1/sqrt(H)) puts it near
1/sqrt(3) ≈ 0.58. The minimal cells (minGRU, minLSTM) have no W_hh: only their input blocks are
drawn. ``recurrent_gain`` g then scales every W_hh by g (refused for cells without one).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data.datasets.memory import COPY_INPUTS, COPY_OUTPUTS
from rnnkit.nn import make_encoder

from .config import MemoryModel


class MemoryNetwork(nn.Module):
    """``forward(x) -> (N,)`` sums (adding) or ``(N, T + 20, 9)`` logits (copying).

    Args:
        problem: ``"adding"`` or ``"copying"``.
        config: the cell, sizes and initialisation.
    """

    def __init__(self, problem: str, config: MemoryModel) -> None:
        super().__init__()
        if problem not in ("adding", "copying"):
            raise ValueError(f"problem must be 'adding' or 'copying', got {problem!r}")
        self.problem = problem
        inputs, outputs = (2, 1) if problem == "adding" else (COPY_INPUTS, COPY_OUTPUTS)
        fused = {"auto": "auto", "true": True, "false": False}[config.fused]
        self.rnn = make_encoder(
            config.cell, inputs, config.hidden_size, config.num_layers, fused=fused
        )
        self.head = nn.Linear(config.hidden_size, outputs)
        if config.init == "glorot":
            glorot_init(self.rnn, self.head, FORGET_GATE.get(config.cell))
        if config.recurrent_gain != 1.0:
            if not all(hasattr(cell, "weight_hh") for cell in self.rnn.cells):
                raise ValueError(
                    f"model.recurrent_gain: cell {config.cell!r} has no recurrent weights "
                    f"(W_hh) to scale; leave it at 1"
                )
            with torch.no_grad():
                for cell in self.rnn.cells:
                    cell.weight_hh.mul_(config.recurrent_gain)

    def forward(self, x: Tensor) -> Tensor:
        if self.problem == "copying":
            out, _ = self.rnn(F.one_hot(x.long(), COPY_INPUTS).to(self.head.weight.dtype))
            return self.head(out)  # (N, T + 20, 9)
        out, _ = self.rnn(x)  # (N, T, H)
        return self.head(out[:, -1]).squeeze(-1)  # (N,)


#: the index of the forget-gate block in ``bias_ih`` (gate order LSTM i, f, g, o; minLSTM f, i, h)
FORGET_GATE = {"lstm": 1, "minlstm": 0}


@torch.no_grad()
def glorot_init(rnn: nn.Module, head: nn.Linear, forget_gate: int | None = None) -> None:
    """Glorot-uniform gate blocks, zero biases, bias 1 on gate block ``forget_gate`` of each
    ``bias_ih`` (None: none); a Glorot head."""
    for cell in rnn.cells:
        H = cell.hidden_size
        for p in cell.parameters(recurse=False):
            if p.dim() == 2:
                for block in p.split(H, dim=0):
                    _glorot_(block)
            else:
                p.zero_()
        if forget_gate is not None and cell.bias_ih is not None:
            cell.bias_ih[forget_gate * H : (forget_gate + 1) * H] = 1.0
    _glorot_(head.weight)
    head.bias.zero_()


def _glorot_(w: Tensor) -> None:
    fan_out, fan_in = w.shape
    a = math.sqrt(6.0 / (fan_in + fan_out))
    w.uniform_(-a, a)
