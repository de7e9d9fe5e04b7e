r"""Recurrent layers in NumPy float64 with hand-written backpropagation through time.

:class:`Recurrent` owns time: it runs a cell's step function (from :mod:`.cells`) over the
sequence, in one or both directions, layer after layer, with per-sequence lengths, and keeps the
per-step caches that :meth:`Recurrent.backward` walks back through. :class:`RNN`, :class:`LSTM`
and :class:`GRU` only choose the step. The semantics are those of ``torch.nn.RNN/LSTM/GRU``
(names, shapes, gate order, ``h0`` layout, ``batch_first``, unbatched input), so a torch state
dict loads as it is and the tests compare against torch to 1e-10.

Shapes: T sequence length, N batch, H_in input size, H hidden size, P projection size (LSTM),
H_out = P if P > 0 else H, D = 2 if bidirectional else 1, L = num_layers.

* x: (T, N, H_in); (N, T, H_in) with ``batch_first``; unbatched (T, H_in).
* output: (T, N, D * H_out) (batch-first / unbatched like x): the last layer's h at every step,
  the two directions concatenated (forward first).
* state: h_n (L * D, N, H_out) for RNN and GRU; ``(h_n, c_n)`` for LSTM with c_n (L * D, N, H).
  Row ``k * D + d`` is layer k, direction d (d = 1 runs from the end to the start).
* lengths: N ints in 1..T for a right-padded batch. Outputs past a sequence's end are zero,
  final states are taken at its last real step, and the reverse direction starts at that step.

Parameters, per layer k and direction (suffix ``""`` or ``"_reverse"``): ``weight_ih_l{k}``
(G*H, H_in for k = 0, else D*H_out), ``weight_hh_l{k}`` (G*H, H_out), ``bias_ih_l{k}`` (G*H,),
``bias_hh_l{k}`` (G*H,), and ``weight_hr_l{k}`` (P, H) for a projected LSTM; G gates per cell
(RNN 1, LSTM 4 in order i,f,g,o, GRU 3 in order r,z,n). All are initialised
U(-1/sqrt(H), 1/sqrt(H)) with ``np.random.default_rng(seed)``, in torch's parameter order.

Dropout between layers is left out on purpose: the reference is deterministic (compare it with
torch modules built with ``dropout=0``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from rnnkit.reference.cells import (
    State,
    cell_param_shapes,
    check_proj_size,
    gru_step,
    gru_step_backward,
    lstm_step,
    lstm_step_backward,
    rnn_step,
    rnn_step_backward,
)
from rnnkit.reference.params import Params, ParamStore, check_size, init_uniform, to_array

CELL_PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")


class Recurrent(ParamStore):
    """A stack of recurrent layers run over time, optionally in both directions.

    Subclasses set ``num_gates`` and define ``step`` / ``step_backward`` (one cell step and its
    backward, as in :mod:`rnnkit.reference.cells`); everything else lives here.

    ``forward(x, h0=None, lengths=None) -> (output, state)`` and
    ``backward(d_output, d_state=None) -> (d_x, grads)``; see the module docstring for shapes.
    After ``backward``, ``self.d_h0`` (and ``self.d_c0`` for LSTM) hold the gradient with
    respect to the initial state, in h0's layout.
    """

    num_gates: int

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        bidirectional: bool = False,
        proj_size: int = 0,
        seed: int | None = None,
    ) -> None:
        check_size("input_size", input_size)
        check_size("hidden_size", hidden_size)
        check_size("num_layers", num_layers)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        self.proj_size = proj_size
        self.num_directions = 2 if bidirectional else 1
        self.output_size = proj_size or hidden_size  # H_out

        shapes: dict[str, tuple[int, ...]] = {}
        for k in range(num_layers):
            layer_input = input_size if k == 0 else self.num_directions * self.output_size
            cell = self.cell_shapes(layer_input)
            for suffix in self._suffixes():
                shapes.update({f"{name}_l{k}{suffix}": s for name, s in cell.items()})
        self.params = self.init_params(shapes, np.random.default_rng(seed))
        self._cache: dict[str, Any] | None = None
        self.d_h0: np.ndarray | None = None

    # ------------------------------------------------------------------------- to be overridden
    def cell_shapes(self, layer_input: int) -> dict[str, tuple[int, ...]]:
        """One cell's parameter shapes for ``layer_input`` input features, in torch's order."""
        return cell_param_shapes(
            self.num_gates, layer_input, self.hidden_size, self.bias, self.proj_size
        )

    def init_params(self, shapes: dict[str, tuple[int, ...]], rng) -> Params:
        """torch's RNN initialiser: every entry ~ U(-1/sqrt(H), 1/sqrt(H))."""
        return init_uniform(shapes, self.hidden_size, rng)

    def step(self, p: Params, x: np.ndarray, state: State) -> tuple[State, Any]:
        raise NotImplementedError

    def step_backward(self, p: Params, d_state: State, cache) -> tuple[np.ndarray, State, Params]:
        raise NotImplementedError

    @property
    def state_sizes(self) -> tuple[int, ...]:
        """Widths of the state arrays: (H_out,) for RNN/GRU, (H_out, H) for LSTM."""
        return (self.output_size,)

    # ------------------------------------------------------------------------------ bookkeeping
    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse")[: self.num_directions]

    def cell_params(self, layer: int, direction: int) -> Params:
        """The parameters of one (layer, direction) under the cell's names (views, not copies)."""
        suffix = self._suffixes()[direction]
        return {
            name: self.params[f"{name}_l{layer}{suffix}"]
            for name in CELL_PARAM_NAMES
            if f"{name}_l{layer}{suffix}" in self.params
        }

    # ---------------------------------------------------------------------------------- forward
    def forward(
        self, x: ArrayLike, h0: ArrayLike | tuple | None = None, lengths: ArrayLike | None = None
    ) -> tuple[np.ndarray, np.ndarray | tuple[np.ndarray, np.ndarray]]:
        """Run the stack over the sequence; returns ``(output, state)`` like torch.nn."""
        x = to_array(x)
        if x.ndim not in (2, 3):
            raise ValueError(
                "x must be 3-D (T, N, H_in) ((N, T, H_in) with batch_first) or 2-D unbatched "
                f"(T, H_in), got shape {x.shape}"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"x must have input_size={self.input_size} features in its last dimension, "
                f"got shape {x.shape}"
            )
        unbatched = x.ndim == 2
        if unbatched:
            x = x[:, None, :]
        elif self.batch_first:
            x = x.transpose(1, 0, 2)
        T, N, _ = x.shape
        if T == 0:
            raise ValueError(f"x must have at least one time step, got shape {x.shape}")
        masks = self._masks(lengths, T, N, unbatched)  # (T, N, 1) bool, or None
        states = self._unpack_state(h0, "h0", N, unbatched)  # one state tuple per layer*dir

        inputs, caches, finals = x, [], []
        for k in range(self.num_layers):
            outputs = []
            for d in range(self.num_directions):
                p = self.cell_params(k, d)
                y, final, step_caches = self._run(
                    p, inputs, states[k * self.num_directions + d], masks, reverse=d == 1
                )
                outputs.append(y)
                finals.append(final)
                caches.append(step_caches)
            inputs = np.concatenate(outputs, axis=2)  # (T, N, D * H_out)
        output = inputs

        self._cache = {"caches": caches, "masks": masks, "shape": (T, N), "unbatched": unbatched}
        state = tuple(np.stack(parts) for parts in zip(*finals, strict=True))  # (L*D, N, size)
        return self._to_user_layout(output, unbatched), self._pack_state(state, unbatched)

    __call__ = forward

    def _run(self, p: Params, x: np.ndarray, state: State, masks, reverse: bool):
        """One layer, one direction: x (T, N, H_in) -> y (T, N, H_out), final state, caches.

        With masks, a padded step (mask 0) keeps the state unchanged and outputs zero, so the
        final state is the one at the last real step and the reverse pass starts there.
        """
        T, N = x.shape[:2]
        y = np.zeros((T, N, self.output_size))
        caches: list[Any] = [None] * T
        for t in reversed(range(T)) if reverse else range(T):
            new_state, caches[t] = self.step(p, x[t], state)
            if masks is None:
                state = new_state
                y[t] = state[0]
            else:
                m = masks[t]  # (N, 1)
                state = tuple(np.where(m, new, old) for new, old in zip(new_state, state))
                y[t] = np.where(m, state[0], 0.0)
        return y, state, caches

    # --------------------------------------------------------------------------------- backward
    def backward(
        self, d_output: ArrayLike, d_state: ArrayLike | tuple | None = None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Backpropagation through time for the last forward.

        Args:
            d_output: dLoss/d output, shaped like the output.
            d_state: dLoss/d state, shaped like the state (LSTM: a tuple, parts may be None),
                or None.

        Returns:
            ``(d_x, grads)``: d_x shaped like x; grads keyed like ``params`` (every parameter).
            Also sets ``self.d_h0`` (and ``self.d_c0`` for LSTM) in h0's layout.
        """
        if self._cache is None:
            raise RuntimeError("backward() needs a forward() first")
        cache = self._cache
        (T, N), unbatched, masks = cache["shape"], cache["unbatched"], cache["masks"]
        D, H_out = self.num_directions, self.output_size

        d_output = to_array(d_output)
        batch_dims = (N, T) if self.batch_first else (T, N)
        expected = (T, D * H_out) if unbatched else (*batch_dims, D * H_out)
        if d_output.shape != expected:
            raise ValueError(
                f"d_output must have the output's shape {expected}, got {d_output.shape}"
            )
        if unbatched:
            d_output = d_output[:, None, :]
        elif self.batch_first:
            d_output = d_output.transpose(1, 0, 2)
        d_finals = self._unpack_state(d_state, "d_state", N, unbatched)

        grads = {name: np.zeros_like(value) for name, value in self.params.items()}
        d_initial: list[State] = [()] * (self.num_layers * D)
        d_out = d_output  # dLoss/d (output of layer k), (T, N, D * H_out)
        for k in reversed(range(self.num_layers)):
            d_in = None  # dLoss/d (input of layer k): the sum over both directions
            for d in range(D):
                j = k * D + d
                dy = d_out[:, :, d * H_out : (d + 1) * H_out]
                p = self.cell_params(k, d)
                dx, d_initial[j], g = self._run_backward(
                    p, dy, d_finals[j], masks, cache["caches"][j], reverse=d == 1
                )
                d_in = dx if d_in is None else d_in + dx
                for name, value in g.items():
                    grads[f"{name}_l{k}{self._suffixes()[d]}"] += value
            d_out = d_in

        d_h0 = tuple(np.stack(parts) for parts in zip(*d_initial, strict=True))
        d_h0 = tuple(s[:, 0] for s in d_h0) if unbatched else d_h0
        self.d_h0 = d_h0[0]
        if len(d_h0) > 1:
            self.d_c0 = d_h0[1]
        return self._to_user_layout(d_out, unbatched), grads

    def _run_backward(self, p: Params, dy: np.ndarray, d_state: State, masks, caches, reverse):
        """Backward of :meth:`_run`: walks time in the opposite order, accumulating grads.

        Forward was ``new = m ? step(state) : state`` and ``y_t = m ? new_h : 0``, so the
        gradient reaching the step is ``m * (d_new + d_y)`` and ``(1 - m) * d_new`` passes the
        padded step unchanged.
        """
        T, N = dy.shape[:2]
        dx = np.zeros((T, N, p["weight_ih"].shape[1]))
        grads = {name: np.zeros_like(value) for name, value in p.items()}
        for t in range(T) if reverse else reversed(range(T)):
            d_new = (d_state[0] + dy[t], *d_state[1:])
            if masks is None:
                d_keep = None
            else:
                m = masks[t]
                d_keep = tuple(np.where(m, 0.0, d) for d in d_state)
                d_new = tuple(np.where(m, d, 0.0) for d in d_new)
            dx[t], d_state, g = self.step_backward(p, d_new, caches[t])
            if d_keep is not None:
                d_state = tuple(a + b for a, b in zip(d_state, d_keep, strict=True))
            for name, value in g.items():
                grads[name] += value
        return dx, d_state, grads

    # ------------------------------------------------------------------------- input checking
    def _to_user_layout(self, y: np.ndarray, unbatched: bool) -> np.ndarray:
        """(T, N, F) -> (T, F) unbatched, (N, T, F) batch_first, else unchanged."""
        if unbatched:
            return y[:, 0]
        return y.transpose(1, 0, 2) if self.batch_first else y

    def _masks(self, lengths, T: int, N: int, unbatched: bool) -> np.ndarray | None:
        """lengths (N,) -> step masks (T, N, 1): True where t < lengths[n]."""
        if lengths is None:
            return None
        if unbatched:
            raise ValueError("lengths must be None for unbatched (2-D) x")
        raw = to_array(lengths, dtype=np.float64)
        if raw.ndim != 1 or raw.shape[0] != N:
            raise ValueError(
                f"lengths must have one entry per sequence, shape ({N},), got shape {raw.shape}"
            )
        if not np.all(raw == np.round(raw)):
            raise ValueError(f"lengths must be integers, got {raw.tolist()}")
        lengths = raw.astype(np.int64)
        if lengths.min() < 1 or lengths.max() > T:
            raise ValueError(f"lengths must lie in 1..T = 1..{T}, got {lengths.tolist()}")
        if lengths.min() == T:
            return None  # no padding: the plain loop is the same and faster
        return (np.arange(T)[:, None] < lengths[None, :])[:, :, None]

    def _unpack_state(self, state, name: str, N: int, unbatched: bool) -> list[State]:
        """torch's layout (h, or (h, c)) -> one (N, size) tuple per layer*direction; None -> 0."""
        rows, sizes = self.num_layers * self.num_directions, self.state_sizes
        if len(sizes) > 1:
            if state is not None and (not isinstance(state, (tuple, list)) or len(state) != 2):
                raise ValueError(
                    f"{name} must be a tuple (h, c) or None for LSTM, got {type(state).__name__}"
                )
            parts = [None, None] if state is None else list(state)
            part_names = (name, f"{name} (c)") if name != "h0" else ("h0", "c0")
        else:
            parts, part_names = [state], (name,)
        arrays = []
        for part, size, part_name in zip(parts, sizes, part_names, strict=True):
            if part is None:
                arrays.append(np.zeros((rows, N, size)))
                continue
            part = to_array(part)
            expected = (rows, size) if unbatched else (rows, N, size)
            if part.shape != expected:
                raise ValueError(
                    f"{part_name} must have shape {expected} (num_layers * num_directions"
                    f"{'' if unbatched else ', N'}, {size}), got {part.shape}"
                )
            arrays.append(part[:, None] if unbatched else part)
        return [tuple(a[j] for a in arrays) for j in range(rows)]

    def _pack_state(self, state: State, unbatched: bool):
        state = tuple(s[:, 0] for s in state) if unbatched else state
        return state if len(state) > 1 else state[0]


class RNN(Recurrent):
    r"""``torch.nn.RNN``: :math:`h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`.

    Args:
        input_size: H_in.  hidden_size: H.  num_layers: L.  nonlinearity: φ, "tanh" or "relu".
        bias: use b_ih, b_hh.  batch_first: (N, T, ·) input and output.
        bidirectional: also run from the end to the start.  seed: initialiser seed.

    No dropout between layers (the reference is deterministic). Shapes: see the module docstring.
    """

    num_gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        bidirectional: bool = False,
        seed: int | None = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, bidirectional, seed=seed
        )

    def step(self, p, x, state):
        return rnn_step(p, x, state, self.nonlinearity)

    def step_backward(self, p, d_state, cache):
        return rnn_step_backward(p, d_state, cache)


class LSTM(Recurrent):
    r"""LSTM, like ``torch.nn.LSTM`` (gates i, f, g, o; ``proj_size`` as torch; see lstm_step).

    Args:
        input_size: H_in.  hidden_size: H.  num_layers: L.  bias: use b_ih, b_hh.
        batch_first: (N, T, ·) input and output.  bidirectional: also run backwards in time.
        proj_size: P > 0 projects every h_t to P features with weight_hr_l{k}.  seed: initialiser.

    State ``(h_n, c_n)``: h_n (L*D, N, H_out), c_n (L*D, N, H); ``h0`` is the tuple ``(h0, c0)``.
    No dropout between layers (the reference is deterministic).
    """

    num_gates = 4

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        bidirectional: bool = False,
        proj_size: int = 0,
        seed: int | None = None,
    ) -> None:
        check_proj_size(proj_size, hidden_size)
        self.d_c0: np.ndarray | None = None
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, bidirectional, proj_size, seed
        )

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.output_size, self.hidden_size)

    def step(self, p, x, state):
        return lstm_step(p, x, state)

    def step_backward(self, p, d_state, cache):
        return lstm_step_backward(p, d_state, cache)


class GRU(Recurrent):
    r"""GRU, like ``torch.nn.GRU`` (gates r, z, n; reset applied after the matmul; see gru_step).

    Args:
        input_size: H_in.  hidden_size: H.  num_layers: L.  bias: use b_ih, b_hh.
        batch_first: (N, T, ·) input and output.  bidirectional: also run backwards in time.
        seed: initialiser seed.

    No dropout between layers (the reference is deterministic). Shapes: see the module docstring.
    """

    num_gates = 3

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        bidirectional: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, bidirectional, seed=seed
        )

    def step(self, p, x, state):
        return gru_step(p, x, state)

    def step_backward(self, p, d_state, cache):
        return gru_step_backward(p, d_state, cache)
