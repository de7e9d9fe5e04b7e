"""Many series, one global model: each series split and scaled on its own, windows pooled.

A long-format file names each row's series in an id column (``--data.id_column``; NeuralForecast
and Darts call the result a panel). Every series is prepared exactly as a single series is
(:func:`.data.prepare`: its own chronological split and its own scalers fitted on its training
rows), and the windows of all series are read as one data set whose batches also carry
``series``, the index of the series each window comes from. The model is shared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .data import Prepared


class ConcatWindows:
    """Several window sources read as one: ``batch = windows[index]`` gathers across them.

    Args:
        sources: objects with ``len()`` and batch indexing (``WindowDataset``...), one per series.

    Batches hold the sources' tensors plus ``series`` (N,), the source each row comes from.
    """

    def __init__(self, sources: Sequence[Any]) -> None:
        if not sources:
            raise ValueError("ConcatWindows needs at least one source")
        self.sources = list(sources)
        self.offsets = np.cumsum([0, *(len(s) for s in self.sources)])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index) -> dict[str, Tensor]:
        index = torch.as_tensor(index, dtype=torch.long).reshape(-1)
        which = np.searchsorted(self.offsets, index.numpy(), side="right") - 1
        parts, order = [], []
        for s in np.unique(which):
            rows = np.flatnonzero(which == s)
            batch = self.sources[s][index[rows] - int(self.offsets[s])]
            batch["series"] = torch.full((len(rows),), int(s), dtype=torch.long)
            parts.append(batch)
            order.append(torch.as_tensor(rows))
        back = torch.argsort(torch.cat(order))  # rows back in the order they were asked for
        return {k: torch.cat([p[k] for p in parts])[back] for k in parts[0]}


@dataclass
class Panel:
    """Prepared series sharing their column roles, by series id (in the file's order)."""

    series: dict[str, Prepared]

    @property
    def ids(self) -> list[str]:
        return list(self.series)

    @property
    def first(self) -> Prepared:
        return next(iter(self.series.values()))

    def dataset(self, part: str, stride: int = 1) -> ConcatWindows:
        return ConcatWindows([p.dataset(part, stride) for p in self.series.values()])


def panel_state(panel: Panel, one_state: Any) -> dict[str, Any]:
    """The state of a panel: what its series share, and each one's scalers, split and source."""
    shared = one_state(panel.first)
    per_series = {}
    for name, prep in panel.series.items():
        own = one_state(prep)
        per_series[name] = {k: own[k] for k in ("source", "repairs", "scaler", "known_scaler",
                                                  "split")}  # fmt: skip
    for key in ("source", "repairs", "scaler", "known_scaler", "split"):
        shared.pop(key)
    return {**shared, "series": per_series}


def series_state(state: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The state of one series of a panel, as a single series' state looks."""
    return {k: v for k, v in state.items() if k != "series"} | dict(state["series"][name])
