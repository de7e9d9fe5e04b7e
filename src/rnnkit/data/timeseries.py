"""Time series from CSV files: validation, frequency, gaps, chronological splits, scalers, windows.

Shared by the forecasting and anomaly-detection tasks. The public API is small:

* :func:`read_csv` → :class:`TimeSeries` — a validated, regularly spaced frame (:func:`read_frame`
  and :func:`from_frame` are its two halves). Missing columns,
  unparsable or duplicated timestamps, gaps and NaNs raise ``ValueError`` naming the file, the
  column and the CSV line, unless a fill policy (``fill="ffill" | "interpolate"``) is declared;
  what a policy changed is listed in :attr:`TimeSeries.repairs`.
* :func:`infer_freq`, :func:`find_gaps`, :func:`season_length`, :func:`calendar_features`.
* :class:`Split` and :func:`chronological_split` — train/validation/test row ranges, in time order.
* :class:`StandardScaler`, :class:`MinMaxScaler`, :class:`IdentityScaler` (via
  :func:`make_scaler`) — fitted on training rows only; ``state_dict()``/:func:`scaler_from_state`
  make them saveable beside a model.
* :func:`window_starts`, :func:`sliding_windows` and :class:`WindowDataset` — windows of
  ``lookback`` past steps and ``horizon`` future steps (``horizon=0`` gives plain windows, as
  reconstruction models want).

Shape symbols: T rows (time steps), C channels (columns), L lookback, H horizon, N windows.
CSV line numbers count the header as line 1, so the first data row is line 2.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

FILL_POLICIES = ("error", "ffill", "interpolate")
_MAX_LISTED = 5  # locations listed in one error message


# ----------------------------------------------------------------------------- reading


@dataclass
class TimeSeries:
    """A regularly spaced multichannel series read from a CSV file.

    Attributes:
        frame: float64 columns on a ``DatetimeIndex`` with no gaps, duplicates or NaNs.
        freq: pandas offset alias of the spacing (``"h"``, ``"15min"``, ``"MS"``, ...).
        source: where the data came from (the file name), for messages.
        repairs: one line per change a fill policy made (empty when the file was clean).
    """

    frame: pd.DataFrame
    freq: str
    source: str = "<frame>"
    repairs: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def index(self) -> pd.DatetimeIndex:
        return self.frame.index  # type: ignore[return-value]

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]

    def values(self, columns: Sequence[str] | None = None) -> np.ndarray:
        """(T, C) float64 array of ``columns`` (all columns when None)."""
        frame = self.frame if columns is None else self.frame[list(columns)]
        return frame.to_numpy(dtype=np.float64)


def read_csv(
    path: str | Path,
    time_column: str,
    columns: Sequence[str] | None = None,
    *,
    freq: str | None = None,
    fill: str = "error",
) -> TimeSeries:
    """Read and validate a time-series CSV (``.csv`` or ``.csv.gz``).

    Args:
        path: the file.
        time_column: name of the timestamp column.
        columns: value columns to keep (all other columns when None); each must exist.
        freq: pandas offset alias (``"h"``, ``"D"``, ``"MS"``...); inferred when None.
        fill: what to do with NaNs and missing timestamps (gaps): ``"error"`` refuses them,
            ``"ffill"`` carries the last value forward, ``"interpolate"`` interpolates linearly
            in time. A NaN in the first row cannot be filled forward and is always refused.

    Raises:
        ValueError: naming the file, the column and the CSV line of the first offending rows.
    """
    if fill not in FILL_POLICIES:
        raise ValueError(f"fill must be one of {FILL_POLICIES}, got {fill!r}")
    frame = read_frame(path, time_column, columns)
    return from_frame(frame, freq=freq, fill=fill, source=str(path))


def read_frame(
    path: str | Path, time_column: str, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """The first half of :func:`read_csv`: columns, numbers and timestamps checked, sorted and
    unique; NaNs and gaps left as they are. Returns float64 columns on a ``DatetimeIndex``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    raw = pd.read_csv(path)
    header = [str(c) for c in raw.columns]
    wanted = [c for c in header if c != time_column] if columns is None else list(columns)
    for name in [time_column, *wanted]:
        if name not in header:
            raise ValueError(f"{path}: no column {name!r}; the header has {header}")
    if not wanted:
        raise ValueError(f"{path}: no value column besides the time column {time_column!r}")
    frame = raw[wanted].apply(pd.to_numeric, errors="coerce")
    for name in wanted:
        bad = frame[name].isna() & raw[name].notna()
        if bad.any():
            rows = np.flatnonzero(bad.to_numpy())
            raise ValueError(
                f"{path}: column {name!r} is not numeric at {_lines(rows)} "
                f"(value {raw[name].iloc[rows[0]]!r})"
            )
    frame.index = pd.DatetimeIndex(_parse_times(raw[time_column], path, time_column))
    frame.index.name = time_column
    _check_order(frame.index, path, time_column)
    return frame.astype(np.float64)


def from_frame(
    frame: pd.DataFrame, *, freq: str | None = None, fill: str = "error", source: str = "<frame>"
) -> TimeSeries:
    """Validate a frame on a sorted, duplicate-free ``DatetimeIndex`` (see :func:`read_csv`)."""
    if fill not in FILL_POLICIES:
        raise ValueError(f"fill must be one of {FILL_POLICIES}, got {fill!r}")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise TypeError(f"{source}: the frame needs a DatetimeIndex, got {type(frame.index)}")
    frame = frame.astype(np.float64)
    freq = freq or infer_freq(frame.index, source)
    repairs: list[str] = []
    gaps = find_gaps(frame.index, freq)
    if gaps:
        where = "; ".join(
            f"{n} step(s) missing after line {frame.index.get_loc(t) + 2} ({t})"
            for t, n in gaps[:_MAX_LISTED]
        )
        more = f" (and {len(gaps) - _MAX_LISTED} more)" if len(gaps) > _MAX_LISTED else ""
        if fill == "error":
            raise ValueError(
                f"{source}: {len(gaps)} gap(s) in the {freq!r} timestamps: {where}{more}; "
                f"declare a fill policy: fill='ffill' or 'interpolate' (--data.fill)"
            )
        repairs.append(f"filled {sum(n for _, n in gaps)} missing timestamp(s) ({fill}): {where}")
    # Line numbers refer to the file as read, before gaps are re-indexed.
    nan_lines = {c: np.flatnonzero(frame[c].isna().to_numpy()) for c in frame.columns}
    full = pd.date_range(frame.index[0], frame.index[-1], freq=freq, name=frame.index.name)
    if len(full) != len(frame) or not full.equals(frame.index):
        frame = frame.reindex(full)
    for column, rows in nan_lines.items():
        if len(rows) == 0:
            continue
        if fill == "error" or (fill == "ffill" and rows[0] == 0):
            hint = "" if fill == "error" else " (a first-row NaN cannot be filled forward)"
            raise ValueError(
                f"{source}: column {column!r} has {len(rows)} NaN(s) at {_lines(rows)}{hint}; "
                f"declare a fill policy: fill='ffill' or 'interpolate' (--data.fill)"
            )
        repairs.append(f"filled {len(rows)} NaN(s) in {column!r} ({fill}) at {_lines(rows)}")
    if fill == "ffill":
        frame = frame.ffill()
    elif fill == "interpolate":
        frame = frame.interpolate(method="time", limit_direction="both")
    frame.index.freq = pd.tseries.frequencies.to_offset(freq)
    return TimeSeries(frame=frame, freq=freq, source=source, repairs=repairs)


def _lines(rows: np.ndarray) -> str:
    listed = ", ".join(str(r + 2) for r in rows[:_MAX_LISTED])
    more = f" and {len(rows) - _MAX_LISTED} more" if len(rows) > _MAX_LISTED else ""
    return f"line{'s' if len(rows) > 1 else ''} {listed}{more}"


def _parse_times(values: pd.Series, path: Path, column: str) -> pd.Series:
    strings = values.astype("string")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format" chatter
        try:
            return pd.to_datetime(strings, errors="raise")
        except (ValueError, TypeError, OverflowError):
            parsed = pd.to_datetime(strings, errors="coerce", format="mixed")
    rows = np.flatnonzero(parsed.isna().to_numpy())
    if len(rows) == 0:  # every value parses alone but not with one format
        raise ValueError(f"{path}: column {column!r} mixes timestamp formats")
    raise ValueError(
        f"{path}: column {column!r} has unparsable timestamp(s) at {_lines(rows)} "
        f"(value {values.iloc[rows[0]]!r})"
    )


def _check_order(index: pd.DatetimeIndex, path: Path, column: str) -> None:
    dup = np.flatnonzero(index.duplicated(keep="first"))
    if len(dup):
        raise ValueError(
            f"{path}: column {column!r} has duplicated timestamp(s) at {_lines(dup)} "
            f"({index[dup[0]]} already appears earlier)"
        )
    back = np.flatnonzero(np.diff(index.asi8) < 0) + 1
    if len(back):
        raise ValueError(
            f"{path}: column {column!r} goes back in time at {_lines(back)} "
            f"({index[back[0]]} after {index[back[0] - 1]}); sort the file first"
        )


# ----------------------------------------------------------------------------- frequency


def infer_freq(index: pd.DatetimeIndex, source: str = "<index>") -> str:
    """The spacing of ``index`` as a pandas offset alias; tolerates a few gaps.

    Uses ``pd.infer_freq`` on the whole index, else on its longest gap-free stretch of the most
    common step. Raises ``ValueError`` when there are fewer than 3 timestamps or no regular step.
    """
    if len(index) < 3:
        raise ValueError(f"{source}: need at least 3 timestamps to infer the frequency")
    guess = _infer(index)
    if guess is None:
        steps = np.diff(index.asi8)
        values, counts = np.unique(steps, return_counts=True)
        common = values[np.argmax(counts)]
        runs = np.flatnonzero(steps != common)
        bounds = np.concatenate([[-1], runs, [len(steps)]])
        longest = int(np.argmax(np.diff(bounds)))
        lo, hi = bounds[longest] + 1, bounds[longest + 1] + 1
        if hi - lo >= 3:
            guess = _infer(index[lo:hi])
        if guess is None and counts.max() > len(steps) // 2:
            guess = pd.tseries.frequencies.to_offset(pd.Timedelta(int(common), "ns")).freqstr
    if guess is None:
        raise ValueError(f"{source}: cannot infer the frequency of the timestamps; pass freq")
    return guess


def _infer(index: pd.DatetimeIndex) -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 FutureWarning about the return type
        try:
            guess = pd.infer_freq(index)
        except (ValueError, TypeError):
            return None
    if guess is None:
        return None
    return pd.tseries.frequencies.to_offset(guess).freqstr


def find_gaps(index: pd.DatetimeIndex, freq: str) -> list[tuple[pd.Timestamp, int]]:
    """Missing timestamps in ``index``: ``[(timestamp before the gap, steps missing), ...]``."""
    full = pd.date_range(index[0], index[-1], freq=freq)
    if len(full) == len(index) and full.equals(index):
        return []
    unexpected = index.difference(full)
    if len(unexpected):
        raise ValueError(
            f"timestamp {unexpected[0]} is off the {freq!r} grid that starts at {index[0]}"
        )
    present = full.isin(index)
    gaps = []
    i = 0
    while i < len(full):
        if present[i]:
            i += 1
            continue
        j = i
        while not present[j]:
            j += 1
        gaps.append((full[i - 1], j - i))
        i = j
    return gaps


_SEASONS = {"min": 60 * 24, "h": 24, "D": 7, "B": 5, "W": 52, "M": 12, "Q": 4}


def season_length(freq: str) -> int:
    """The customary seasonal period for ``freq``: 24 for hourly, 96 for 15-minute, 12 monthly.

    Daily → 7, business-daily → 5, weekly → 52, quarterly → 4, yearly and others → 1.
    """
    offset = pd.tseries.frequencies.to_offset(freq)
    name = offset.rule_code.split("-")[0].rstrip("SE") or "S"  # MS/ME -> M, QS-JAN -> Q
    if name in ("min", "h"):
        return max(1, _SEASONS[name] // offset.n)
    if name == "s":
        return max(1, 86400 // offset.n)
    return _SEASONS.get(name, 1)


def calendar_features(index: pd.DatetimeIndex, freq: str) -> pd.DataFrame:
    """Known-future calendar covariates in [-0.5, 0.5], chosen by the frequency (as Informer).

    Sub-daily: minute (when finer than hourly), hour, weekday, day of month, day of year.
    Daily/weekly: weekday, day of month, day of year. Monthly and coarser: month.
    Returns a (T, F) frame on ``index``.
    """
    offset = pd.tseries.frequencies.to_offset(freq)
    step = pd.Timedelta(offset) if offset.rule_code in ("min", "h", "s", "D") else None
    cols: dict[str, np.ndarray] = {}
    if step is not None and step < pd.Timedelta("1h"):
        cols["minute"] = index.minute / 59.0 - 0.5
    if step is not None and step < pd.Timedelta("1D"):
        cols["hour"] = index.hour / 23.0 - 0.5
    if step is not None or offset.rule_code in ("B", "W"):
        cols["weekday"] = index.day_of_week / 6.0 - 0.5
        cols["day_of_month"] = (index.day - 1) / 30.0 - 0.5
        cols["day_of_year"] = (index.day_of_year - 1) / 365.0 - 0.5
    else:
        cols["month"] = (index.month - 1) / 11.0 - 0.5
    return pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}, index=index)


# ----------------------------------------------------------------------------- splits


@dataclass(frozen=True)
class Split:
    """Chronological row ranges ``[start, end)`` of train, validation and test.

    ``with_context(part, lookback)`` is the range a window loader reads for a part: validation and
    test windows start ``lookback`` rows before their border so that their first forecast starts
    exactly at the border (the Informer protocol).
    """

    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]

    def with_context(self, part: str, lookback: int) -> tuple[int, int]:
        start, end = getattr(self, part)
        return (start if part == "train" else max(0, start - lookback), end)


def chronological_split(
    n_rows: int, val: float | int = 0.1, test: float | int = 0.2, *, source: str = "series"
) -> Split:
    """Split ``n_rows`` into train/val/test in time order; ``val``, ``test``: fractions or rows."""
    sizes = []
    for name, part in (("val", val), ("test", test)):
        if isinstance(part, float) and not 0.0 <= part < 1.0:
            raise ValueError(f"{name} fraction must be in [0, 1), got {part}")
        sizes.append(int(round(part * n_rows)) if isinstance(part, float) else int(part))
    n_val, n_test = sizes
    n_train = n_rows - n_val - n_test
    if n_train <= 0 or n_val < 0 or n_test < 0:
        raise ValueError(
            f"{source}: {n_rows} rows cannot hold {n_val} validation and {n_test} test rows"
        )
    return Split((0, n_train), (n_train, n_train + n_val), (n_train + n_val, n_rows))


# ----------------------------------------------------------------------------- scalers


class Scaler:
    """Per-channel affine scaling ``z = (x - shift) / scale``, fitted on training rows only.

    ``transform``/``inverse_transform`` take arrays or tensors whose last dimension is C, or a
    subset of the channels given by ``channels`` (indices into the fitted columns).
    """

    kind = "identity"

    def __init__(self) -> None:
        self.shift: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> Scaler:
        """Fit on (T, C) training rows; returns self."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or len(x) == 0:
            raise ValueError(f"fit needs a non-empty (T, C) array, got shape {x.shape}")
        self.shift, self.scale = self._stats(x)
        self.scale = np.where(self.scale > 1e-12, self.scale, 1.0)  # constant channel: leave it
        return self

    def _stats(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(x.shape[1]), np.ones(x.shape[1])

    def _params(self, channels, like):
        if self.shift is None or self.scale is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit first")
        shift, scale = self.shift, self.scale
        if channels is not None:
            shift, scale = shift[list(channels)], scale[list(channels)]
        if isinstance(like, torch.Tensor):
            return (torch.as_tensor(shift, dtype=like.dtype, device=like.device),
                    torch.as_tensor(scale, dtype=like.dtype, device=like.device))  # fmt: skip
        return shift, scale

    def transform(self, x, channels: Sequence[int] | None = None):
        shift, scale = self._params(channels, x)
        return (x - shift) / scale

    def inverse_transform(self, z, channels: Sequence[int] | None = None):
        shift, scale = self._params(channels, z)
        return z * scale + shift

    def state_dict(self) -> dict:
        """JSON-ready ``{"kind", "shift", "scale"}``."""
        return {
            "kind": self.kind,
            "shift": None if self.shift is None else self.shift.tolist(),
            "scale": None if self.scale is None else self.scale.tolist(),
        }


class IdentityScaler(Scaler):
    """No scaling (shift 0, scale 1)."""


class StandardScaler(Scaler):
    """Subtract the training mean, divide by the training standard deviation (ddof=0)."""

    kind = "standard"

    def _stats(self, x):
        return x.mean(axis=0), x.std(axis=0)


class MinMaxScaler(Scaler):
    """Map the training range of each channel onto [0, 1]."""

    kind = "minmax"

    def _stats(self, x):
        lo, hi = x.min(axis=0), x.max(axis=0)
        return lo, hi - lo


SCALERS: dict[str, type[Scaler]] = {
    "standard": StandardScaler,
    "minmax": MinMaxScaler,
    "none": IdentityScaler,
}


def make_scaler(kind: str) -> Scaler:
    """A new, unfitted scaler: ``"standard"``, ``"minmax"`` or ``"none"``."""
    if kind not in SCALERS:
        raise ValueError(f"scaler must be one of {sorted(SCALERS)}, got {kind!r}")
    return SCALERS[kind]()


def scaler_from_state(state: dict) -> Scaler:
    """Rebuild a fitted scaler from :meth:`Scaler.state_dict`."""
    kind = "none" if state["kind"] == "identity" else state["kind"]
    scaler = make_scaler(kind)
    if state.get("shift") is not None:
        scaler.shift = np.asarray(state["shift"], dtype=np.float64)
        scaler.scale = np.asarray(state["scale"], dtype=np.float64)
    return scaler


# ----------------------------------------------------------------------------- windows


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
    leading batch axis — what :class:`rnnkit.data.TensorBatches` returns, so the training engine
    reads windows without materialising them (T rows are stored once, not N windows).
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
