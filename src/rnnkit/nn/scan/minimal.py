"""The minimal cells' scan: the whole sequence of a :class:`~rnnkit.nn.minimal.MinGRUCell` or
:class:`~rnnkit.nn.minimal.MinLSTMCell` as one linear recurrence over time.

The coefficients a_t, b_t of every step come from the projected input at once; a step that is
not alive gets a = 1, b = 0 (log a = 0, log b = NO_INPUT), which carries the state unchanged,
and a zero output. The recurrence itself runs in the compiled loop on a CPU (float32/float64,
when the kernels build) and as the chunked log-space scan elsewhere (CUDA, other dtypes, no
compiler); see :mod:`rnnkit.nn.linear_scan` for both and docs/speed.md for the measurements
behind the choice.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..cells import State
from ..kernels import usable
from ..linear_scan import NO_INPUT, compiled_scan, log_scan
from ..minimal import _MinimalCell


def _minimal_scan(cell: _MinimalCell, x_proj: Tensor, state: State, mask, alive):
    (h0,) = state
    if usable(x_proj):
        a, b = cell.coefficients(x_proj)
        if alive is not None:
            a = torch.where(alive, a, 1.0)
            b = torch.where(alive, b, 0.0)
        h = compiled_scan(a, b, h0)
    else:
        log_a, log_b = cell.log_coefficients(x_proj)
        if alive is not None:
            log_a = torch.where(alive, log_a, 0.0)
            log_b = torch.where(alive, log_b, NO_INPUT)
        h = log_scan(log_a, log_b, h0)
    out = h if alive is None else h * alive
    return out, (h[-1],)
