"""``RNN``, ``LSTM``, ``GRU``, ``MinGRU``, ``MinLSTM``: :class:`Recurrent` over the built-in cells.

``fused="auto"`` (the default) takes the faster of torch's fused kernels — the ones
``torch.nn.LSTM/GRU/RNN`` call (oneDNN on CPU for the LSTM, cuDNN on CUDA) — and rnnkit's scans
(compiled C++ time loops on CPU), by the measured rules of :mod:`rnnkit.nn.dispatch`: on CPU the
GRU and RNN run rnnkit's loops, the LSTM torch's kernel. Options torch's kernels lack
(``layer_norm``, ``recurrent_dropout``) always run rnnkit's. ``fused=True`` insists on torch's
kernel and raises naming the option that prevents it; ``fused=False`` always runs rnnkit's path
(useful to check one against the other). ``repr`` says which path a layer takes. While
:meth:`~rnnkit.nn.Recurrent.recording`, every layer steps its cells.

Constructor arguments, ``forward`` and state-dict names are torch's; ``forward`` also takes
``lengths`` (see :class:`Recurrent`).
"""

from __future__ import annotations

from functools import partial

from torch import _VF, Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from . import dispatch
from .cells import GRUCell, LSTMCell, RNNCell, State
from .minimal import MinGRUCell, MinLSTMCell
from .recurrent import Recurrent, cell_parameters


class _FusableRecurrent(Recurrent):
    """Recurrent over one built-in cell type, dispatching to ``torch._VF`` when allowed."""

    _kernel: str  # name of the _VF function: lstm, gru, rnn_tanh, rnn_relu

    def __init__(
        self,
        make_cell,
        input_size,
        num_layers,
        batch_first,
        dropout,
        bidirectional,
        *,
        fused,
        blockers: dict[str, bool],
    ) -> None:
        if fused not in ("auto", True, False):
            raise ValueError(f"fused must be 'auto', True or False, got {fused!r}")
        if fused is True:
            for option, blocks in blockers.items():
                if blocks:
                    raise ValueError(
                        f"fused=True cannot be used with {option}: torch's fused kernels do not "
                        f"implement it (use fused='auto' to fall back to rnnkit's cells)"
                    )
        super().__init__(make_cell, input_size, num_layers, batch_first, dropout, bidirectional)
        self.fused = fused
        self.uses_fused = fused is not False and not any(blockers.values())

    def extra_repr(self) -> str:
        if not self.uses_fused:
            path = "rnnkit cells"
        elif self.fused is True:
            path = "torch fused kernel"
        else:
            path = dispatch.describe(self._kernel)
        return f"{super().extra_repr()}, fused={self.fused!r} -> {path}"

    def _scan(self, x: Tensor, hx: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        torch_kernel = self.uses_fused and (
            self.fused is True or dispatch.prefers_torch_kernel(self._kernel, x)
        )
        if not torch_kernel or self._record is not None:
            return super()._scan(x, hx, lengths)  # rnnkit's scan (while recording: the cells)
        kernel = getattr(_VF, self._kernel)
        weights = cell_parameters(self)
        has_bias = self.cells[0].bias_ih is not None
        h = list(hx) if len(hx) > 1 else hx[0]
        args = (weights, has_bias, self.num_layers, self.dropout, self.training, self.bidirectional)
        if lengths is None:
            output, *state = kernel(x, h, *args, False)
            return output, tuple(state)
        # Variable lengths: torch's kernels take a packed batch sorted by length.
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        order, unorder = packed.sorted_indices, packed.unsorted_indices
        h = (
            [s.index_select(1, order) for s in h]
            if isinstance(h, list)
            else h.index_select(1, order)
        )
        data, *state = kernel(packed.data, packed.batch_sizes, h, *args)
        output, _ = pad_packed_sequence(
            PackedSequence(data, packed.batch_sizes, order, unorder), total_length=x.shape[0]
        )
        return output, tuple(s.index_select(1, unorder) for s in state)


class RNN(_FusableRecurrent):
    r"""Multi-layer Elman RNN: :math:`h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`.

    Args: ``input_size, hidden_size, num_layers=1, nonlinearity="tanh"|"relu", bias=True,
    batch_first=False, dropout=0.0, bidirectional=False`` as ``torch.nn.RNN``, plus
    ``layer_norm=False``, ``recurrent_dropout=0.0`` (see :class:`~rnnkit.nn.RNNCell`) and
    ``fused="auto"|True|False``.

    Weights: ``weight_ih_l{k}`` (H, H_in or D*H), ``weight_hh_l{k}`` (H, H), ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` (H,), with ``_reverse`` for the backward direction.
    Returns ``(output, h_n)``: (L, N, D*H) and (num_layers*D, N, H); see :class:`Recurrent`.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        layer_norm: bool = False,
        recurrent_dropout: float = 0.0,
        fused: bool | str = "auto",
        device=None,
        dtype=None,
    ) -> None:
        make_cell = partial(
            RNNCell,
            hidden_size=hidden_size,
            bias=bias,
            nonlinearity=nonlinearity,
            layer_norm=layer_norm,
            recurrent_dropout=recurrent_dropout,
            device=device,
            dtype=dtype,
        )
        super().__init__(
            make_cell,
            input_size,
            num_layers,
            batch_first,
            dropout,
            bidirectional,
            fused=fused,
            blockers={"layer_norm": layer_norm, "recurrent_dropout": recurrent_dropout > 0},
        )
        self.nonlinearity = nonlinearity
        self._kernel = f"rnn_{nonlinearity}"


class LSTM(_FusableRecurrent):
    r"""Multi-layer LSTM; each layer computes :class:`~rnnkit.nn.LSTMCell` at every step.

    Args: ``input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, proj_size=0`` as ``torch.nn.LSTM``, plus ``layer_norm=False``,
    ``recurrent_dropout=0.0`` and ``fused="auto"|True|False``.

    Weights (gate order i, f, g, o): ``weight_ih_l{k}`` (4H, H_in or D*H_out),
    ``weight_hh_l{k}`` (4H, H_out), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (4H,),
    ``weight_hr_l{k}`` (P, H) when ``proj_size`` P > 0; H_out = P or H.
    Returns ``(output, (h_n, c_n))``: (L, N, D*H_out), (num_layers*D, N, H_out),
    (num_layers*D, N, H); see :class:`Recurrent`.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        layer_norm: bool = False,
        recurrent_dropout: float = 0.0,
        fused: bool | str = "auto",
        device=None,
        dtype=None,
    ) -> None:
        make_cell = partial(
            LSTMCell,
            hidden_size=hidden_size,
            bias=bias,
            proj_size=proj_size,
            layer_norm=layer_norm,
            recurrent_dropout=recurrent_dropout,
            device=device,
            dtype=dtype,
        )
        super().__init__(
            make_cell,
            input_size,
            num_layers,
            batch_first,
            dropout,
            bidirectional,
            fused=fused,
            blockers={"layer_norm": layer_norm, "recurrent_dropout": recurrent_dropout > 0},
        )
        self.proj_size = proj_size
        self._kernel = "lstm"


class GRU(_FusableRecurrent):
    r"""Multi-layer GRU; each layer computes :class:`~rnnkit.nn.GRUCell` at every step.

    Args: ``input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False`` as ``torch.nn.GRU``, plus ``layer_norm=False``,
    ``recurrent_dropout=0.0`` and ``fused="auto"|True|False``.

    Weights (gate order r, z, n): ``weight_ih_l{k}`` (3H, H_in or D*H), ``weight_hh_l{k}``
    (3H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (3H,).
    Returns ``(output, h_n)``: (L, N, D*H) and (num_layers*D, N, H); see :class:`Recurrent`.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        layer_norm: bool = False,
        recurrent_dropout: float = 0.0,
        fused: bool | str = "auto",
        device=None,
        dtype=None,
    ) -> None:
        make_cell = partial(
            GRUCell,
            hidden_size=hidden_size,
            bias=bias,
            layer_norm=layer_norm,
            recurrent_dropout=recurrent_dropout,
            device=device,
            dtype=dtype,
        )
        super().__init__(
            make_cell,
            input_size,
            num_layers,
            batch_first,
            dropout,
            bidirectional,
            fused=fused,
            blockers={"layer_norm": layer_norm, "recurrent_dropout": recurrent_dropout > 0},
        )
        self._kernel = "gru"


class _MinimalRecurrent(Recurrent):
    """Recurrent over a minimal cell (``_cell``); ``fused`` chooses a scan over time or the
    cells' steps. Arguments as :class:`MinGRU`."""

    _cell: type[MinGRUCell] | type[MinLSTMCell]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        fused: bool | str = "auto",
        device=None,
        dtype=None,
    ) -> None:
        if fused not in ("auto", True, False):
            raise ValueError(f"fused must be 'auto', True or False, got {fused!r}")
        make_cell = partial(
            self._cell,
            hidden_size=hidden_size,
            bias=bias,
            parallel=fused is not False,
            device=device,
            dtype=dtype,
        )
        super().__init__(make_cell, input_size, num_layers, batch_first, dropout, bidirectional)
        self.fused = fused

    def extra_repr(self) -> str:
        path = "scan over time" if self.fused is not False else "rnnkit cells, step by step"
        return f"{super().extra_repr()}, fused={self.fused!r} -> {path}"


class MinGRU(_MinimalRecurrent):
    r"""Multi-layer minGRU: :class:`~rnnkit.nn.MinGRUCell` (gates from the input alone) per layer.

    Args: ``input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False`` as ``torch.nn.GRU``; ``fused="auto"`` or True runs each layer and
    direction as one scan over time (:mod:`rnnkit.nn.linear_scan`: compiled on a CPU, log-space
    elsewhere), False steps the cells (the reference the scan is tested against). Lengths,
    initial states and both directions work in every mode.

    Weights: ``weight_ih_l{k}`` (2H, H_in or D*H), ``bias_ih_l{k}`` (2H,), with ``_reverse``
    for the backward direction; no recurrent weights. Returns ``(output, h_n)``: (L, N, D*H)
    and (num_layers*D, N, H); see :class:`Recurrent`.
    """

    _cell = MinGRUCell


class MinLSTM(_MinimalRecurrent):
    r"""Multi-layer minLSTM: :class:`~rnnkit.nn.MinLSTMCell` per layer; arguments as
    :class:`MinGRU`.

    Weights: ``weight_ih_l{k}`` (3H, H_in or D*H), ``bias_ih_l{k}`` (3H,) (gate order f, i,
    h̃). Returns ``(output, h_n)``: (L, N, D*H) and (num_layers*D, N, H).
    """

    _cell = MinLSTMCell
