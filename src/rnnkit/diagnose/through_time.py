"""dL/dh_t for every step t of every recurrent layer of a model, from one forward and backward.

Torch's fused kernels (and rnnkit's fast scans) run a whole sequence as one autograd node, so
``output.retain_grad()`` on their output sees only the direct path from ``output[t]`` to the
loss — for a loss at the last step that is one non-zero step out of L. The total derivative

    dL/dh_t = ∂L/∂output_t + (dL/ds_{t+1}) (∂s_{t+1}/∂h_t)

also flows through every later step. :func:`gradients_through_time` records the layers with
:func:`rnnkit.nn.record_steps`, which steps the cells and keeps each h_t with ``retain_grad``,
so after one ``backward`` each ``h_t.grad`` holds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnkit.nn import DirectionRecord, record_steps


@dataclass
class Steps:
    """One layer and direction of one recurrent module in one forward call.

    Attributes:
        module: the module's name in the model (``""`` for the model itself).
        call: which forward call of the module (a decoder run step by step makes many).
        layer, direction: the cell (direction 1 reads the sequence from its end).
        record: what was recorded: the cell, its inputs, each h_t and its gradient.
    """

    module: str
    call: int
    layer: int
    direction: int
    record: DirectionRecord

    @property
    def label(self) -> str:
        """``module:cell[ call c] l<layer> fwd|bwd``, e.g. ``encoder.rnn:lstm l0 bwd``."""
        call = f" call {self.call}" if self.call else ""
        return f"{cell_label(self.module, self.record.cell)}{call} l{self.layer} " + (
            "bwd" if self.direction else "fwd"
        )

    @property
    def length(self) -> int:
        return self.record.x_proj.shape[0]

    def grad_norms(self) -> Tensor:
        """(L,) ``||dL/dh_t||`` over the whole batch (Frobenius norm of the (N, H) block) at
        each input position t; 0 where no gradient reached h_t."""
        return self.record.grads().flatten(1).norm(dim=1)


def cell_label(module: str, cell: nn.Module) -> str:
    """``module:cell``, the cell named by its class without ``Cell`` (``rnn:lstm``)."""
    kind = type(cell).__name__.removesuffix("Cell").lower()
    return f"{module or 'layer'}:{kind}"


def gradients_through_time(
    model: nn.Module, loss_of: Callable[[nn.Module], Tensor]
) -> tuple[float, list[Steps]]:
    """Run ``loss_of(model)`` with every recurrent layer recording, then ``backward``.

    Args:
        model: any module holding :class:`rnnkit.nn.Recurrent` layers.
        loss_of: computes a scalar loss from the model (one forward pass).

    Returns:
        The loss, and one :class:`Steps` per module, call, layer and direction, in the order
        they ran. The parameters' ``.grad`` are accumulated as by any ``backward``.
    """
    with torch.enable_grad(), record_steps(model) as records:
        loss = loss_of(model)
        if not isinstance(loss, Tensor) or loss.dim() != 0:
            raise ValueError("the loss must be a scalar tensor")
        if not loss.requires_grad:
            raise ValueError("the loss does not depend on anything that has a gradient")
        loss.backward()
    found = [
        Steps(name, c, d.layer, d.direction, d)
        for name, record in records.items()
        for c, call in enumerate(record.calls)
        for d in call
    ]
    return float(loss.detach()), found
