"""Recurrent cells: each computes one time step and owns its weights.

Parameter names, shapes and gate order are those of ``torch.nn.RNNCell``, ``LSTMCell`` and
``GRUCell`` (LSTM gates i, f, g, o; GRU gates r, z, n), so their state dicts load both ways.
Two options torch lacks:

* ``layer_norm`` (Ba et al., 2016): the input and recurrent pre-activations are each normalised
  over their whole gate vector (LayerNorm with a gain, no bias: the cell's biases play that role),
  and for LSTM the cell state is normalised before the output ``tanh``.
* ``recurrent_dropout`` (variational dropout, Gal & Ghahramani, 2016): the previous hidden state
  entering ``W_hh`` is multiplied by one dropout mask per sequence, drawn once and reused at
  every step.

A cell splits its step in two so that a layer can run fast:
``project_input(x)`` is the part that depends on the input alone (the layer applies it to all
time steps at once, one big matmul), and ``step(x_proj_t, state, h_mask)`` is the recurrence.
A user's own cell subclasses :class:`RecurrentCell`, defines ``state_sizes`` and ``step`` (and
``project_input`` if it has input-only work), and gets every layer feature of
:class:`rnnkit.nn.Recurrent`: stacking, direction, lengths, packing, dropout between layers.

Shapes: N batch, H_in input size, H hidden size, P projection size (LSTM only; 0 means none).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

State = tuple[Tensor, ...]


def _check_size(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1), got {value!r}")


class RecurrentCell(nn.Module):
    """Base class of every cell: one time step, its weights, its state layout.

    Subclasses set ``input_size``, ``hidden_size`` and ``state_sizes`` (a tuple of the widths of
    the state tensors; the first one is the output ``h``) and implement :meth:`step`.
    """

    input_size: int
    hidden_size: int
    state_sizes: tuple[int, ...]
    recurrent_dropout: float = 0.0
    #: spatial axes after the feature axis of inputs and states (0; 1-3 for convolutional cells)
    spatial_dims: int = 0

    @property
    def output_size(self) -> int:
        """Width of the output ``h`` (the projection size for a projected LSTM)."""
        return self.state_sizes[0]

    def initial_state(self, batch_size: int, *, device=None, dtype=None) -> State:
        """Zero state: one (N, size) tensor per entry of ``state_sizes``."""
        return tuple(
            torch.zeros(batch_size, s, device=device, dtype=dtype) for s in self.state_sizes
        )

    def project_input(self, x: Tensor) -> Tensor:
        """The input-only part of a step, applied to any leading shape (..., H_in) -> (..., G)."""
        return x

    def step(self, x_proj: Tensor, state: State, h_mask: Tensor | None = None) -> State:
        """One step: ``x_proj`` (N, G) from :meth:`project_input`, ``state`` -> new state."""
        raise NotImplementedError

    def recurrent_dropout_mask(self, batch_size: int, *, device=None, dtype=None) -> Tensor | None:
        """One variational dropout mask (N, output_size) per sequence, or None when inactive."""
        p = self.recurrent_dropout
        if not (self.training and p > 0):
            return None
        keep = torch.full((batch_size, self.output_size), 1.0 - p, device=device, dtype=dtype)
        return torch.bernoulli(keep) / (1.0 - p)

    def forward(self, input: Tensor, hx: Tensor | State | None = None) -> Tensor | State:
        """One step on (N, H_in) or unbatched (H_in,) input, returning torch's cell outputs.

        ``hx`` and the result are a tensor ``h`` for single-state cells (RNN, GRU) and a tuple
        ``(h, c)`` for LSTM, exactly as with ``torch.nn.*Cell``.
        """
        if input.dim() not in (1, 2):
            raise ValueError(
                f"input must be 2-D (N, H_in) or 1-D (H_in,), got shape {tuple(input.shape)}"
            )
        if input.shape[-1] != self.input_size:
            raise ValueError(
                f"input has {input.shape[-1]} features, expected input_size={self.input_size}"
            )
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        if hx is None:
            state = self.initial_state(x.shape[0], device=x.device, dtype=x.dtype)
        else:
            state = (hx,) if isinstance(hx, Tensor) else tuple(hx)
            if len(state) != len(self.state_sizes):
                raise ValueError(f"hx must hold {len(self.state_sizes)} tensors, got {len(state)}")
            if not batched:
                state = tuple(s.unsqueeze(0) for s in state)
        mask = self.recurrent_dropout_mask(x.shape[0], device=x.device, dtype=x.dtype)
        new = self.step(self.project_input(x), state, mask)
        if not batched:
            new = tuple(s.squeeze(0) for s in new)
        return new if len(new) > 1 else new[0]


class _GatedCell(RecurrentCell):
    """Weights shared by the built-in cells: ``num_gates`` blocks of H rows each.

    weight_ih: (G*H, H_in)   weight_hh: (G*H, R)   bias_ih, bias_hh: (G*H,)
    where R is the width of the recurrent input (H, or P for a projected LSTM).
    """

    num_gates: int

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        layer_norm: bool = False,
        recurrent_dropout: float = 0.0,
        recurrent_size: int | None = None,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        _check_size("input_size", input_size)
        _check_size("hidden_size", hidden_size)
        _check_probability("recurrent_dropout", recurrent_dropout)
        factory = {"device": device, "dtype": dtype}
        gates = self.num_gates * hidden_size
        recurrent_size = recurrent_size or hidden_size
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.layer_norm, self.recurrent_dropout = layer_norm, float(recurrent_dropout)
        self.weight_ih = nn.Parameter(torch.empty(gates, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(gates, recurrent_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gates, **factory))
            self.bias_hh = nn.Parameter(torch.empty(gates, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        if layer_norm:
            self.ln_ih = nn.LayerNorm(gates, bias=False, **factory)
            self.ln_hh = nn.LayerNorm(gates, bias=False, **factory)

    def reset_parameters(self) -> None:
        """torch's initialisation: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)); LN gain 1."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters(recurse=False):
            nn.init.uniform_(p, -bound, bound)
        for module in self.children():
            module.reset_parameters()

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.layer_norm:
            s += ", layer_norm=True"
        if self.recurrent_dropout:
            s += f", recurrent_dropout={self.recurrent_dropout}"
        return s

    def _input_term(self, x: Tensor, fold_hidden_bias: bool) -> Tensor:
        """W_ih x + b_ih (+ b_hh when the cell adds it unconditionally), LN applied to W_ih x.

        The biases are summed before they meet the (L, N, G) term, and with layer norm they are
        its bias: one pass over the term, not two.
        """
        bias = None
        if self.bias:
            bias = self.bias_ih + self.bias_hh if fold_hidden_bias else self.bias_ih
        if self.layer_norm:
            ln, term = self.ln_ih, F.linear(x, self.weight_ih)
            if type(ln) is nn.LayerNorm and ln.weight is not None:  # the biases ride along in LN
                if ln.bias is not None:
                    bias = ln.bias if bias is None else ln.bias + bias
                return F.layer_norm(term, ln.normalized_shape, ln.weight, bias, ln.eps)
            out = ln(term)
            return out if bias is None else out + bias
        return F.linear(x, self.weight_ih, bias)

    def _hidden_term(self, h: Tensor, include_bias: bool) -> Tensor:
        """W_hh h (+ b_hh), LN applied to W_hh h."""
        bias = self.bias_hh if include_bias else None
        if self.layer_norm:
            out = self.ln_hh(F.linear(h, self.weight_hh))
            return out + bias if bias is not None else out
        return F.linear(h, self.weight_hh, bias)


class RNNCell(_GatedCell):
    r"""Elman cell: :math:`h' = \phi(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})`, φ = tanh or relu.

    Args:
        input_size: H_in.  hidden_size: H.  bias: use b_ih and b_hh.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        layer_norm: normalise ``W_ih x`` and ``W_hh h`` (each with its own gain).
        recurrent_dropout: variational dropout probability on ``h`` entering ``W_hh``.

    Weights: weight_ih (H, H_in), weight_hh (H, H), bias_ih (H,), bias_hh (H,).
    Shapes: input (N, H_in) or (H_in,); hx and output (N, H) or (H,).
    """

    num_gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        layer_norm: bool = False,
        recurrent_dropout: float = 0.0,
        device=None,
        dtype=None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(
            input_size, hidden_size, bias, layer_norm, recurrent_dropout, device=device, dtype=dtype
        )
        self.nonlinearity = nonlinearity
        self.state_sizes = (hidden_size,)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")

    def project_input(self, x: Tensor) -> Tensor:
        return self._input_term(x, fold_hidden_bias=True)

    def step(self, x_proj: Tensor, state: State, h_mask: Tensor | None = None) -> State:
        (h,) = state
        if h_mask is not None:
            h = h * h_mask
        pre = x_proj + self._hidden_term(h, include_bias=False)
        return (torch.tanh(pre) if self.nonlinearity == "tanh" else torch.relu(pre),)


class LSTMCell(_GatedCell):
    r"""Long short-term memory cell (Hochreiter & Schmidhuber, 1997), torch's formulation.

    .. math::
        i = \sigma(W_{ii} x + b_{ii} + W_{hi} h + b_{hi}) \quad
        f = \sigma(W_{if} x + b_{if} + W_{hf} h + b_{hf})

        g = \tanh(W_{ig} x + b_{ig} + W_{hg} h + b_{hg}) \quad
        o = \sigma(W_{io} x + b_{io} + W_{ho} h + b_{ho})

        c' = f \odot c + i \odot g \qquad h' = o \odot \tanh(c') \qquad
        (\text{projected: } h' = W_{hr}(o \odot \tanh(c')))

    With ``layer_norm`` the two pre-activation terms are normalised and ``tanh(LN(c'))`` is used.

    Args:
        input_size: H_in.  hidden_size: H.  bias: use b_ih and b_hh.
        proj_size: P > 0 projects h' to P features (weight_hr); 0 disables.
        layer_norm, recurrent_dropout: see the module docstring.

    Weights (gate order i, f, g, o): weight_ih (4H, H_in), weight_hh (4H, R), bias_ih (4H,),
    bias_hh (4H,), weight_hr (P, H) when projected; R = P if projected else H.
    Shapes: input (N, H_in); hx and output a tuple (h (N, R), c (N, H)); unbatched drops N.
    """

    num_gates = 4

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        proj_size: int = 0,
        layer_norm: bool = False,
        recurrent_dropout: float = 0.0,
        device=None,
        dtype=None,
    ) -> None:
        if not isinstance(proj_size, int) or proj_size < 0:
            raise ValueError(f"proj_size must be a non-negative integer, got {proj_size!r}")
        if proj_size >= hidden_size > 0:
            raise ValueError(
                f"proj_size must be smaller than hidden_size, got proj_size={proj_size} "
                f"and hidden_size={hidden_size}"
            )
        super().__init__(
            input_size,
            hidden_size,
            bias,
            layer_norm,
            recurrent_dropout,
            recurrent_size=proj_size or hidden_size,
            device=device,
            dtype=dtype,
        )
        self.proj_size = proj_size
        if proj_size:
            self.weight_hr = nn.Parameter(
                torch.empty(proj_size, hidden_size, device=device, dtype=dtype)
            )
        if layer_norm:
            self.ln_c = nn.LayerNorm(hidden_size, device=device, dtype=dtype)
        self.state_sizes = (proj_size or hidden_size, hidden_size)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (f", proj_size={self.proj_size}" if self.proj_size else "")

    def project_input(self, x: Tensor) -> Tensor:
        return self._input_term(x, fold_hidden_bias=True)

    def step(self, x_proj: Tensor, state: State, h_mask: Tensor | None = None) -> State:
        h, c = state
        if h_mask is not None:
            h = h * h_mask
        H = self.hidden_size
        if self.layer_norm:
            gates = x_proj + self._hidden_term(h, include_bias=False)
        else:
            gates = torch.addmm(x_proj, h, self.weight_hh.t())  # (N, 4H)
        sig = torch.sigmoid(gates)  # i, f, o read from here; the g block is unused
        i, f, o = sig[:, :H], sig[:, H : 2 * H], sig[:, 3 * H :]
        g = torch.tanh(gates[:, 2 * H : 3 * H])
        c = f * c + i * g
        h = o * torch.tanh(self.ln_c(c) if self.layer_norm else c)
        if self.proj_size:
            h = F.linear(h, self.weight_hr)
        return h, c


class GRUCell(_GatedCell):
    r"""Gated recurrent unit (Cho et al., 2014), torch's formulation (reset after the matmul).

    .. math::
        r = \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}) \quad
        z = \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz})

        n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})) \qquad
        h' = (1 - z) \odot n + z \odot h

    Args:
        input_size: H_in.  hidden_size: H.  bias: use b_ih and b_hh.
        layer_norm, recurrent_dropout: see the module docstring.

    Weights (gate order r, z, n): weight_ih (3H, H_in), weight_hh (3H, H), bias_ih (3H,),
    bias_hh (3H,).  Shapes: input (N, H_in); hx and output (N, H); unbatched drops N.
    """

    num_gates = 3

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        layer_norm: bool = False,
        recurrent_dropout: float = 0.0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            input_size, hidden_size, bias, layer_norm, recurrent_dropout, device=device, dtype=dtype
        )
        self.state_sizes = (hidden_size,)
        self.reset_parameters()

    def project_input(self, x: Tensor) -> Tensor:
        return self._input_term(x, fold_hidden_bias=False)

    def step(self, x_proj: Tensor, state: State, h_mask: Tensor | None = None) -> State:
        (h,) = state
        h_in = h * h_mask if h_mask is not None else h
        H = self.hidden_size
        hp = self._hidden_term(h_in, include_bias=True)  # (N, 3H): W_hh h + b_hh
        rz = torch.sigmoid(x_proj[:, : 2 * H] + hp[:, : 2 * H])
        r, z = rz[:, :H], rz[:, H:]
        n = torch.tanh(x_proj[:, 2 * H :] + r * hp[:, 2 * H :])
        return (n + z * (h - n),)
