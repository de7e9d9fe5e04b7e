"""Parameter dictionaries: torch's names and shapes, float64 arrays, state-dict round trips.

Every reference module keeps its weights in ``self.params``, a plain ``dict`` from torch's
parameter name to a float64 NumPy array, so that ``torch.nn`` state dicts load without any
renaming and gradients come back keyed by the same names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

Params = dict[str, np.ndarray]


def to_array(value: Any, dtype: type = np.float64) -> np.ndarray:
    """A NumPy copy of ``value`` (array-like or torch tensor, detached and moved to the CPU)."""
    if hasattr(value, "detach"):  # a torch.Tensor, recognised without importing torch
        value = value.detach().cpu().numpy()
    return np.array(value, dtype=dtype)


def check_size(name: str, value: Any, minimum: int = 1) -> None:
    """Raise ``ValueError`` unless ``value`` is an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def init_uniform(shapes: Mapping[str, tuple[int, ...]], hidden_size: int, rng) -> Params:
    """torch's RNN initialiser: every entry ~ U(-1/sqrt(H), 1/sqrt(H)), in ``shapes`` order."""
    k = 1.0 / math.sqrt(hidden_size)
    return {name: rng.uniform(-k, k, size=shape) for name, shape in shapes.items()}


class ParamStore:
    """Base class: ``self.params`` (torch names -> float64 arrays) and the state-dict methods."""

    params: Params

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter, keyed by torch's names (loads into the torch module)."""
        return {name: value.copy() for name, value in self.params.items()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Copy weights in, e.g. from ``torch.nn.LSTM(...).state_dict()`` (tensors or arrays).

        Keys must match ``self.params`` exactly and every shape must agree; otherwise a
        ``ValueError`` names the offending key. Values are copied into the existing float64
        arrays (so references to ``self.params[name]`` stay valid).
        """
        missing = [name for name in self.params if name not in state_dict]
        if missing:
            raise ValueError(
                f"state_dict is missing key(s) {missing}; expected {list(self.params)}"
            )
        unexpected = [name for name in state_dict if name not in self.params]
        if unexpected:
            raise ValueError(
                f"state_dict has unexpected key(s) {unexpected}; expected {list(self.params)}"
            )
        arrays = {name: to_array(state_dict[name]) for name in self.params}
        for name, value in arrays.items():  # check all shapes before changing anything
            if value.shape != self.params[name].shape:
                raise ValueError(
                    f"state_dict[{name!r}] must have shape {self.params[name].shape}, "
                    f"got {value.shape}"
                )
        for name, value in arrays.items():
            self.params[name][...] = value

    def num_parameters(self) -> int:
        """Total number of scalar parameters (equals torch's ``sum(p.numel())``)."""
        return sum(value.size for value in self.params.values())
