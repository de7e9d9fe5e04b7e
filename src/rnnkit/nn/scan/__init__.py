"""Fast scans: the whole sequence of a built-in cell in one autograd node, with hand-written BPTT.

:func:`fast_scan` gives :class:`~rnnkit.nn.recurrent.Recurrent` a replacement for its generic
``step_loop`` when a cell is exactly a built-in ``LSTMCell``, ``GRUCell`` or ``RNNCell``. The
generic loop records about ten small autograd nodes per step; here the forward loop runs without
autograd, writing what backward needs (activated gates, cell states, the states entering each
step) into preallocated (L, N, .) buffers, and the backward loop computes each step's gate
gradients and ``d h_{t-1}``. Whatever does not depend on the previous step is done once for all
steps: the derivative factors of the activations before the backward loop, and the gradients of
the recurrent weight, gains and biases after it, as single matmuls / reductions over the buffers
(``d W_hh = d a(L*N, G)^T @ h_in(L*N, R)``). The minimal cells (no ``W_hh``) need none of
this: their scan is a linear recurrence (:mod:`~rnnkit.nn.scan.minimal`).

On CPU in float32/float64 the LSTM scan runs both time loops in C++ (the compiled kernels of
:mod:`rnnkit.nn.kernels`, when they build): the step's matrix products through ATen and its
element-wise work (gates, cell, layer norms, their backward, the layer-norm gain and bias
gradients) in one pass per batch row. The same loops written in torch ops
(:func:`~rnnkit.nn.scan.lstm._lstm_forward_ops`, :func:`~rnnkit.nn.scan.lstm._lstm_backward_ops`)
serve everywhere else.

Modules: :mod:`~rnnkit.nn.scan.lstm`, :mod:`~rnnkit.nn.scan.gru` and :mod:`~rnnkit.nn.scan.rnn`
hold one scan each (its autograd Function, its time loops, its entry point);
:mod:`~rnnkit.nn.scan.common` holds what they share (per-step views, alive-masking, weight
gradients, activations, layer norm). This module picks the scan for a cell.

Each Function takes ``x_proj`` (the cell's ``project_input`` of all steps) and returns its
gradient, so autograd handles the input projection (the input matmul, LN on the input term, the
biases folded into ``x_proj``).

Conventions of every scan, as in ``step_loop``:

* shapes: L steps, N batch, H hidden size, G = gates * H, R width of the recurrent input ``h``
  (H, or the projection size P of a projected LSTM);
* ``mask`` (N, R) or None: the recurrent-dropout mask; ``h_in = h * mask`` enters ``W_hh``
  (a constant: it gets no gradient);
* ``alive`` (L, N, 1) bool or None: where a step is not alive the state is carried unchanged
  and the output is zero;
* layer norm ``LN_{g,b}(a) = g * a_hat + b``, ``a_hat = (a - mean(a)) * rstd``,
  ``rstd = 1 / sqrt(var(a) + eps)``, over the last dim.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..cells import GRUCell, LSTMCell, RNNCell
from ..minimal import MinGRUCell, MinLSTMCell
from .gru import _gru_scan, _GRUScan
from .lstm import _lstm_scan, _LSTMScan
from .minimal import _minimal_scan
from .rnn import _rnn_scan, _RNNScan

__all__ = ["_GRUScan", "_LSTMScan", "_RNNScan", "fast_scan"]

_SCANS = {
    LSTMCell: _lstm_scan,
    GRUCell: _gru_scan,
    RNNCell: _rnn_scan,
    MinGRUCell: _minimal_scan,
    MinLSTMCell: _minimal_scan,
}


def fast_scan(cell) -> Callable | None:
    """The fast scan for ``cell``'s exact type, or None to use the generic step loop.

    Subclasses get None (they may override ``step``), and so does a cell whose layer-norm
    modules are not the standard ones it was built with, and any cell under autocast (which
    casts op by op; a scan keeps one dtype).
    """
    kind = type(cell)
    if kind not in _SCANS or torch.is_autocast_enabled(cell.weight_ih.device.type):
        return None
    if kind in (MinGRUCell, MinLSTMCell):
        return _minimal_scan if cell.parallel else None
    if cell.layer_norm:
        norms = [(cell.ln_hh, False)] + ([(cell.ln_c, True)] if kind is LSTMCell else [])
        for module, bias in norms:
            if (
                type(module) is not nn.LayerNorm
                or len(module.normalized_shape) != 1
                or module.weight is None
                or (module.bias is not None) != bias
            ):
                return None
    return _SCANS[kind]
