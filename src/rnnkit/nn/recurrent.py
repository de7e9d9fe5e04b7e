"""``Recurrent``: the one layer that owns time — stacking, direction, lengths, packing, state.

Any :class:`~rnnkit.nn.cells.RecurrentCell` gets every layer feature from it. The built-in
``RNN``/``LSTM``/``GRU`` are ``Recurrent`` plus a dispatch to torch's fused kernels.

:meth:`Recurrent.recording` (and :func:`record_steps` for every layer of a model) keeps each
step's state h_t with its gradient, for looking at gradients through time.

Shape symbols (torch's): N batch, L sequence length, D = 2 if bidirectional else 1,
H_in input size, H_out output size of a cell (hidden size, or proj_size for a projected LSTM).

State-dict names follow ``torch.nn.RNN/LSTM/GRU``: the parameter ``weight_ih`` of the cell for
layer k in the reverse direction is saved as ``weight_ih_l{k}_reverse``, so torch's state dicts
load into these layers and theirs into torch's, with no conversion.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from .cells import RecurrentCell, State, _check_probability, _check_size
from .scan import fast_scan

_FLAT_NAME = re.compile(r"(?P<name>.+)_l(?P<layer>\d+)(?P<reverse>_reverse)?")


def _as_lengths(lengths, seq_len: int, batch_size: int) -> Tensor | None:
    """Validate ``lengths`` and return a CPU int64 tensor, or None when every sequence is full."""
    if lengths is None:
        return None
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.numel() != batch_size:
        raise ValueError(
            f"lengths must be 1-D with one entry per sequence (batch size {batch_size}), "
            f"got shape {tuple(lengths.shape)}"
        )
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise ValueError(f"lengths must hold integers, got dtype {lengths.dtype}")
    lengths = lengths.to("cpu", torch.int64)
    if batch_size and int(lengths.min()) < 1:
        raise ValueError(
            f"lengths must be >= 1 (empty sequences cannot be run), got {lengths.tolist()}"
        )
    if batch_size and int(lengths.max()) > seq_len:
        raise ValueError(
            f"lengths must not exceed the sequence length {seq_len}, got max {int(lengths.max())}"
        )
    return None if bool((lengths == seq_len).all()) else lengths


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of time-major ``x`` (L, N, *) within its own length.

    Positions past a sequence's end stay where they are, so the reverse direction starts at the
    last real step of every sequence, not at the padding.
    """
    if lengths is None:
        return x.flip(0)
    L = x.shape[0]
    t = torch.arange(L, device=x.device).unsqueeze(1)  # (L, 1)
    n = lengths.to(x.device).unsqueeze(0)  # (1, N)
    index = torch.where(t < n, n - 1 - t, t)  # (L, N)
    return x.gather(0, index.view(L, -1, *([1] * (x.dim() - 2))).expand_as(x))


class Recurrent(nn.Module):
    """A stack of recurrent cells run over time, optionally in both directions.

    Args:
        make_cell: builds one cell given its input size, e.g.
            ``functools.partial(LSTMCell, hidden_size=128)``. It is called once per layer and
            direction (layer k > 0 gets D * H_out inputs).
        input_size: H_in, the feature size of the input.
        num_layers: number of stacked layers.
        batch_first: input and output are (N, L, *) instead of (L, N, *).
        dropout: dropout on the outputs of every layer except the last.
        bidirectional: also run each layer from the end to the start and concatenate.

    ``forward(input, hx=None, lengths=None) -> (output, h_n)``, or ``(output, (h_n, c_n))`` for
    two-state cells such as LSTM:

    * input: (L, N, H_in), (N, L, H_in) when ``batch_first``, unbatched (L, H_in), or a
      ``PackedSequence`` (then the output is packed too).
    * hx: the initial state, (num_layers * D, N, size) per state tensor; zeros if None.
    * cells with ``spatial_dims`` > 0 (the convolutional cells of :mod:`.conv_cells`): every
      tensor above has the frame size S (``spatial_dims`` axes) after its feature axis, e.g.
      input (L, N, C_in, *S), h_n (num_layers * D, N, C_h, *S).
    * lengths: N ints in [1, L] for a right-padded batch. Outputs past each sequence's end are
      zero and the final states are taken at each sequence's last real step, in both directions.
    * output: (L, N, D * H_out); h_n (num_layers * D, N, H_out) (and c_n (…, N, H)).
    """

    def __init__(
        self,
        make_cell: Callable[[int], RecurrentCell],
        input_size: int,
        num_layers: int = 1,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        _check_size("input_size", input_size)
        _check_size("num_layers", num_layers)
        _check_probability("dropout", dropout)
        self.input_size, self.num_layers = input_size, num_layers
        self.batch_first, self.dropout, self.bidirectional = (
            batch_first,
            float(dropout),
            bidirectional,
        )
        self.num_directions = 2 if bidirectional else 1
        cells: list[RecurrentCell] = []
        layer_input = input_size
        for _ in range(num_layers):
            layer_cells = [make_cell(layer_input) for _ in range(self.num_directions)]
            cells += layer_cells
            layer_input = self.num_directions * layer_cells[0].output_size
        self.cells = nn.ModuleList(cells)
        first = cells[0]
        self.hidden_size = first.hidden_size
        self.state_sizes = first.state_sizes
        self.spatial_dims = first.spatial_dims
        self.register_state_dict_post_hook(_to_flat_names)
        self.register_load_state_dict_pre_hook(_from_flat_names)
        self._record: StepRecord | None = None

    @property
    def output_size(self) -> int:
        return self.cells[0].output_size

    def extra_repr(self) -> str:
        parts = [f"{self.input_size}, {self.hidden_size}"]
        if self.num_layers != 1:
            parts.append(f"num_layers={self.num_layers}")
        if self.batch_first:
            parts.append("batch_first=True")
        if self.dropout:
            parts.append(f"dropout={self.dropout}")
        if self.bidirectional:
            parts.append("bidirectional=True")
        return ", ".join(parts)

    def __getattr__(self, name: str):
        """Torch's flat parameter names (``weight_hh_l1_reverse``) reach the cells' parameters."""
        try:
            return super().__getattr__(name)
        except AttributeError:
            match = _FLAT_NAME.fullmatch(name)
            cells = self.__dict__["_modules"].get("cells")
            if match and cells is not None:
                index = int(match["layer"]) * self.num_directions + bool(match["reverse"])
                if index < len(cells) and (match["reverse"] is None or self.bidirectional):
                    return getattr(cells[index], match["name"])
            raise

    @contextmanager
    def recording(self) -> Iterator[StepRecord]:
        """Keep every step's state, with its gradient, for the forward calls inside the block.

        ::

            with layer.recording() as record:
                output, h_n = layer(x)
                loss_of(output).backward()
            record.calls[0][0].grads()  # (L, N, H_out): dL/dh_t of layer 0, forward direction

        Inside the block the layer steps its cells one at a time (torch's fused kernels and the
        fast scans run a whole sequence as one autograd node, so the states between its ends
        never exist as tensors there): the outputs are the same, it runs slower. Each state is
        kept with ``retain_grad``, so after ``backward`` its gradient is the total dL/dh_t,
        through the outputs of step t and through every later step.
        """
        if self._record is not None:
            raise RuntimeError("this layer is already recording (recordings do not nest)")
        self._record = StepRecord()
        try:
            yield self._record
        finally:
            self._record = None

    # ----------------------------------------------------------------------------------- forward
    def forward(self, input: Tensor | PackedSequence, hx=None, lengths=None):
        packed = isinstance(input, PackedSequence)
        if packed:
            if lengths is not None:
                raise ValueError("lengths must be None when input is a PackedSequence")
            x, lengths = pad_packed_sequence(input)  # (L, N, H_in), lengths in batch order
            batched = True
        else:
            if not isinstance(input, Tensor):
                raise TypeError(
                    f"input must be a Tensor or PackedSequence, got {type(input).__name__}"
                )
            s = self.spatial_dims
            if input.dim() not in (2 + s, 3 + s):
                frame = ", *S" if s else ""
                raise ValueError(
                    f"input must be {3 + s}-D (L, N, H_in{frame}) / (N, L, H_in{frame}) with "
                    f"batch_first, or {2 + s}-D unbatched (L, H_in{frame}), got shape "
                    f"{tuple(input.shape)}" + (f" (cells with {s} spatial dimensions)" if s else "")
                )
            batched = input.dim() == 3 + s
            x = input if batched else input.unsqueeze(1)
            if batched and self.batch_first:
                x = x.transpose(0, 1)
        L, N, features = x.shape[:3]
        if features != self.input_size:
            raise ValueError(
                f"input has {features} features, expected input_size={self.input_size}"
            )
        if L == 0:
            raise ValueError("input has sequence length 0: empty sequences cannot be run")
        lengths = _as_lengths(lengths, L, N)
        state = self._initial_state(hx, N, batched, x)

        output, state = self._scan(x, state, lengths)

        if packed:
            order = input.sorted_indices
            output = output if order is None else output.index_select(1, order)
            data = pack_padded_sequence(output, _sorted_lengths(input), enforce_sorted=True).data
            output = PackedSequence(data, input.batch_sizes, order, input.unsorted_indices)
        else:
            if self.batch_first and batched:
                output = output.transpose(0, 1)
            if not batched:
                output = output.squeeze(1)
                state = tuple(s.squeeze(1) for s in state)
        return output, (state if len(state) > 1 else state[0])

    def _initial_state(self, hx, batch_size: int, batched: bool, x: Tensor) -> State:
        """Check ``hx`` against (num_layers * D, N, size) per state tensor, or make zeros."""
        rows = self.num_layers * self.num_directions
        if hx is None:
            return tuple(x.new_zeros(rows, batch_size, s, *x.shape[3:]) for s in self.state_sizes)
        hx = (hx,) if isinstance(hx, Tensor) else tuple(hx)
        if len(hx) != len(self.state_sizes):
            raise ValueError(f"hx must hold {len(self.state_sizes)} tensor(s), got {len(hx)}")
        names = ("h_0", "c_0")
        checked = []
        for i, (h, size) in enumerate(zip(hx, self.state_sizes)):
            h = h if batched else h.unsqueeze(1)
            expected = (rows, batch_size, size, *x.shape[3:])
            if tuple(h.shape) != expected:
                raise ValueError(
                    f"hx {names[i]} must have shape {expected} (num_layers * num_directions, "
                    f"batch, {size}), got {tuple(h.shape)}"
                )
            checked.append(h)
        return tuple(checked)

    def _scan(self, x: Tensor, hx: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        """Run every layer and direction over time-major ``x``; the cells' step loop."""
        finals: list[State] = []
        call: list[DirectionRecord] | None = None
        if self._record is not None:
            call = []
            self._record.calls.append(call)
        layer_input = x
        for k in range(self.num_layers):
            outputs = []
            for d in range(self.num_directions):
                i = k * self.num_directions + d
                state = tuple(h[i] for h in hx)
                out, state = self._run_direction(
                    self.cells[i], layer_input, state, lengths, d == 1, call, k
                )
                outputs.append(out)
                finals.append(state)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=2)
            if self.dropout and self.training and k < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        state = tuple(torch.stack(parts) for parts in zip(*finals))
        return layer_input, state

    @staticmethod
    def _run_direction(
        cell: RecurrentCell,
        x: Tensor,
        state: State,
        lengths: Tensor | None,
        reverse: bool,
        call: list[DirectionRecord] | None = None,
        layer: int = 0,
    ) -> tuple[Tensor, State]:
        if reverse:
            x = reverse_padded(x, lengths)
        x_proj = cell.project_input(x)  # (L, N, G): the input matmul for all steps at once
        mask = cell.recurrent_dropout_mask(x.shape[1], device=x.device, dtype=x.dtype)
        alive = None
        if lengths is not None:  # (L, N, 1): step t is real for sequence n
            steps = torch.arange(x.shape[0]).unsqueeze(1)
            alive = (steps < lengths.unsqueeze(0)).to(x.device)
            alive = alive.view(*alive.shape, *([1] * (x.dim() - 2)))  # (L, N, 1[, *1s])
        if call is None:
            scan = fast_scan(cell) or step_loop
            output, state = scan(cell, x_proj, state, mask, alive)
        else:
            initial = tuple(s.detach() for s in state)
            entry = DirectionRecord(layer, int(reverse), cell, x_proj.detach(), initial, mask,
                                    alive, lengths)  # fmt: skip
            call.append(entry)
            output, state = step_loop(cell, x_proj, state, mask, alive, on_step=entry.keep)
        if reverse:
            output = reverse_padded(output, lengths)
        return output, state


def step_loop(
    cell: RecurrentCell,
    x_proj: Tensor,
    state: State,
    mask: Tensor | None,
    alive: Tensor | None,
    on_step: Callable[[State], None] | None = None,
) -> tuple[Tensor, State]:
    """Run ``cell.step`` over time: the reference semantics every fast scan must reproduce.

    x_proj (L, N, G); state: tuple of (N, size); mask: recurrent dropout (N, H_out) or None;
    alive: (L, N, 1) booleans or None. Where a step is not alive the state is carried unchanged
    and the output is zero. Returns the outputs (L, N, H_out) and the final state.
    ``on_step(new_state)`` is called with what ``cell.step`` returned at every step.
    """
    outputs = []
    if alive is None:
        # unbind, not x_proj[t]: indexing inside the loop makes backward quadratic in L.
        for x_t in x_proj.unbind(0):
            state = cell.step(x_t, state, mask)
            if on_step is not None:
                on_step(state)
            outputs.append(state[0])
    else:
        for x_t, alive_t in zip(x_proj.unbind(0), alive.unbind(0)):
            new = cell.step(x_t, state, mask)
            if on_step is not None:
                on_step(new)
            state = tuple(torch.where(alive_t, a, b) for a, b in zip(new, state))
            outputs.append(new[0] * alive_t)
    return torch.stack(outputs), state


@dataclass
class DirectionRecord:
    """One layer and direction's steps in one forward call (:meth:`Recurrent.recording`).

    Attributes:
        layer, direction: which cell (direction 1 reads each sequence from its end).
        cell: the cell that ran.
        x_proj: (L, N, G) its input projection at every step, in the direction's step order
            (detached: what the recurrence was fed).
        initial: the state entering the first step (detached).
        mask: the recurrent-dropout mask (N, H_out), or None.
        alive: (L, N, 1) booleans (step s is real for sequence n), or None when all are.
        lengths: (N,) sequence lengths, or None when all are L.
        states: per step, the state ``cell.step`` returned (h first), in the direction's step
            order; tensors that need gradients keep them (``retain_grad``).
    """

    layer: int
    direction: int
    cell: RecurrentCell
    x_proj: Tensor
    initial: State
    mask: Tensor | None
    alive: Tensor | None
    lengths: Tensor | None
    states: list[State] = field(default_factory=list)

    def keep(self, state: State) -> None:
        for s in state:
            if s.requires_grad:
                s.retain_grad()
        self.states.append(state)

    def _in_input_order(self, steps: Tensor) -> Tensor:
        """(L, N, *) in step order -> position order: step s of the reverse direction is
        position length - 1 - s of its sequence."""
        return reverse_padded(steps, self.lengths) if self.direction else steps

    def hidden(self) -> Tensor:
        """(L, N, H_out): h_t at each input position t (detached)."""
        return self._in_input_order(torch.stack([s[0].detach() for s in self.states]))

    def grads(self) -> Tensor:
        """(L, N, H_out): dL/dh_t at each input position t after ``backward`` (0 where no
        gradient reached h_t)."""
        rows = [s[0].grad if s[0].grad is not None else torch.zeros_like(s[0]) for s in self.states]
        return self._in_input_order(torch.stack(rows))


@dataclass
class StepRecord:
    """What :meth:`Recurrent.recording` kept: ``calls[c][k * D + d]`` is the
    :class:`DirectionRecord` of layer k, direction d, in the c-th forward call."""

    calls: list[list[DirectionRecord]] = field(default_factory=list)


@contextmanager
def record_steps(module: nn.Module) -> Iterator[dict[str, StepRecord]]:
    """:meth:`Recurrent.recording` for every :class:`Recurrent` inside ``module``.

    Yields ``{name: StepRecord}`` keyed by the layers' names in ``module.named_modules()``
    (``""`` when ``module`` is itself the layer).
    """
    layers = [(name, m) for name, m in module.named_modules() if isinstance(m, Recurrent)]
    with ExitStack() as stack:
        yield {name: stack.enter_context(m.recording()) for name, m in layers}


def _sorted_lengths(packed: PackedSequence) -> Tensor:
    """Lengths of a PackedSequence's sequences in its sorted (descending) order."""
    batch_sizes = packed.batch_sizes
    n = int(batch_sizes[0])
    return (batch_sizes.unsqueeze(0) > torch.arange(n).unsqueeze(1)).sum(1)


def _to_flat_names(module: Recurrent, state_dict: dict, prefix: str, local_metadata) -> None:
    """state_dict hook: ``cells.{i}.weight_ih`` -> torch's ``weight_ih_l{k}[_reverse]``."""
    head = prefix + "cells."
    for key in [k for k in state_dict if k.startswith(head)]:
        index, _, name = key[len(head) :].partition(".")
        layer, direction = divmod(int(index), module.num_directions)
        suffix = "_reverse" if direction else ""
        state_dict[f"{prefix}{name}_l{layer}{suffix}"] = state_dict.pop(key)


def _from_flat_names(module: Recurrent, state_dict: dict, prefix: str, *args) -> None:
    """load_state_dict pre-hook: torch's flat names -> ``cells.{i}.<name>``."""
    for key in [k for k in state_dict if k.startswith(prefix)]:
        match = _FLAT_NAME.fullmatch(key[len(prefix) :])
        if match is None or "." in match["layer"]:
            continue
        index = int(match["layer"]) * module.num_directions + bool(match["reverse"])
        state_dict[f"{prefix}cells.{index}.{match['name']}"] = state_dict.pop(key)


def cell_parameters(module: Recurrent) -> Sequence[Tensor]:
    """Parameters in torch's flat order: per layer and direction w_ih, w_hh, b_ih, b_hh, w_hr."""
    weights: list[Tensor] = []
    for cell in module.cells:
        weights += [cell.weight_ih, cell.weight_hh]
        if cell.bias_ih is not None:
            weights += [cell.bias_ih, cell.bias_hh]
        if getattr(cell, "proj_size", 0):
            weights.append(cell.weight_hr)
    return weights
