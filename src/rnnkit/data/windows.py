"""Windows over a series: ``lookback`` past rows and ``horizon`` future rows, read without copies.

* :func:`window_starts` — where the windows of a series start (the last one always ends at the
  last row, whatever the stride).
* :func:`sliding_windows` — a read-only (N, size, C) view of every window of a (T, C) array.
* :func:`centered_windows` — windows with each one's level removed (its mean, or one row's value).
* :class:`WindowDataset` — batches of (past, future) windows gathered from aligned arrays, what
  the training engine reads (T rows are stored once, not N windows).

Shape symbols: T rows (time steps), C channels, L lookback, H horizon, N windows.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

CENTERS = ("none", "mean", "last")


def window_starts(
    n_rows: int, lookback: int, horizon: int, stride: int = 1, *, source: str = "series"
) -> np.ndarray:
    """Start rows of the windows of ``lookback + horizon`` rows in ``n_rows``, every ``stride``.

    The last window always ends at the last row, so strides > 1 never drop the most recent data.
    Raises ``ValueError`` stating the lengths when the series is shorter than one window.
    """
    if lookback < 1 or horizon < 0 or stride < 1:
        raise ValueError(
            f"need lookback >= 1, horizon >= 0, stride >= 1; "
            f"got lookback={lookback}, horizon={horizon}, stride={stride}"
        )
    size = lookback + horizon
    if n_rows < size:
        raise ValueError(
            f"{source} has {n_rows} rows, shorter than lookback + horizon = "
            f"{lookback} + {horizon} = {size}"
        )
    starts = np.arange(0, n_rows - size + 1, stride)
    if starts[-1] != n_rows - size:
        starts = np.append(starts, n_rows - size)
    return starts


def sliding_windows(x: np.ndarray, size: int, stride: int = 1) -> np.ndarray:
    """(N, size, C) read-only view of the windows of a (T, C) array (see :func:`window_starts`)."""
    starts = window_starts(len(x), size, 0, stride)
    view = np.lib.stride_tricks.sliding_window_view(x, size, axis=0)  # (T-size+1, C, size)
    return view[starts].swapaxes(1, 2)


def centered_windows(
    x: np.ndarray, size: int, *, center: str = "none", lookback: int | None = None
) -> np.ndarray:
    """Every window of ``size`` rows of (T, C) ``x`` as a float32 copy (T - size + 1, size, C).

    ``center="mean"`` subtracts each window's mean; ``"last"`` subtracts the row at
    ``lookback - 1`` (a forecaster's last input) from the whole window; ``"none"`` leaves it.
    """
    if center not in CENTERS:
        raise ValueError(f"center must be one of {CENTERS}, got {center!r}")
    w = np.array(sliding_windows(np.asarray(x, np.float32), size), dtype=np.float32)
    if center == "mean":
        w -= w.mean(axis=1, keepdims=True)
    elif center == "last":
        w -= w[:, lookback - 1 : lookback]
    return w


class WindowDataset(Dataset):
    """Windows over aligned arrays: ``lookback`` rows of inputs, the next ``horizon`` of targets.

    Args:
        inputs: (T, C_in) values seen in the past window (targets, covariates, calendar).
        targets: (T, C_out) values to forecast; may be the same array as ``inputs``.
        lookback, horizon, stride: window geometry (see :func:`window_starts`).
        known: optional (T, C_k) known-future covariates, returned for the future steps.
        offset: added to ``start`` so that it counts rows of a longer series the arrays are
            cut from (e.g. the test part's first row).
        source: name used in error messages.

    ``ds[i]`` (an int) is one window: a dict of float32 tensors ``past`` (L, C_in), ``future``
    (H, C_out), optionally ``known`` (H, C_k), and ``start`` (the window's first row, int64).
    ``ds[index]`` (a 1-D int tensor, array or list) is a batch of them in one gather, with a
    leading batch axis — what :class:`rnnkit.data.TensorBatches` returns.
    """

    def __init__(
        self,
        inputs: np.ndarray,
        targets: np.ndarray,
        lookback: int,
        horizon: int,
        stride: int = 1,
        known: np.ndarray | None = None,
        *,
        offset: int = 0,
        source: str = "series",
    ) -> None:
        if len(inputs) != len(targets) or (known is not None and len(known) != len(inputs)):
            raise ValueError("inputs, targets and known must have the same number of rows")
        self.inputs = torch.as_tensor(np.asarray(inputs, dtype=np.float32))
        self.targets = torch.as_tensor(np.asarray(targets, dtype=np.float32))
        self.known = None if known is None else torch.as_tensor(np.asarray(known, np.float32))
        self.lookback, self.horizon, self.offset = lookback, horizon, offset
        self.starts = torch.as_tensor(
            window_starts(len(inputs), lookback, horizon, stride, source=source)
        )

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index) -> dict[str, torch.Tensor]:
        if isinstance(index, (int, np.integer)):
            return {k: v[0] for k, v in self[[int(index)]].items()}
        starts = self.starts[torch.as_tensor(index, dtype=torch.long)]  # (B,)
        past_rows = starts[:, None] + torch.arange(self.lookback)  # (B, L)
        future_rows = starts[:, None] + self.lookback + torch.arange(self.horizon)  # (B, H)
        batch = {
            "past": self.inputs[past_rows],  # (B, L, C_in)
            "future": self.targets[future_rows],  # (B, H, C_out)
            "start": starts + self.offset,
        }
        if self.known is not None:
            batch["known"] = self.known[future_rows]  # (B, H, C_k)
        return batch
