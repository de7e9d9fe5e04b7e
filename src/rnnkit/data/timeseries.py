"""Time series from CSV files: one reader, one validation policy, for every task that reads them.

:func:`read_series` reads a CSV (``.csv`` or ``.csv.gz``) with a timestamp column and numeric
value columns into a :class:`TimeSeries` and checks it, in this order:

1. the bytes: an empty file, binary data or text that is not UTF-8 is refused;
2. the table: a row with the wrong number of fields, a missing column, a blank line inside it;
3. every value: a timestamp that does not parse, a value that is not a number;
4. the order of the timestamps (``order``): ``"error"`` refuses one that steps back, ``"keep"``
   keeps the file's order, ``"sort"`` sorts stably;
5. repeated timestamps (``duplicates``): ``"error"`` refuses them, ``"keep"`` keeps every record;
6. with ``regular=True`` (forecasting): the spacing (``freq``, inferred when not given) and gaps;
7. missing values and gaps (``fill``): ``"error"`` refuses them, ``"ffill"`` carries the last
   value forward, ``"interpolate"`` interpolates linearly (in time for a regular series).

Every refusal is a :class:`~rnnkit.data.errors.DataError` whose message starts with the file,
the 1-based line (the header is line 1) and the column: ``x.csv: line 7, column 'b': ...``.
What a fill policy changed is listed in :attr:`TimeSeries.repairs`.

:func:`read_panel` reads several series from one long-format file. Frequencies, gaps and
calendar features are in :mod:`rnnkit.data.frequency`. Shape symbols: T rows, C value columns.
"""

from __future__ import annotations

import gzip
import io
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError
from .frequency import find_gaps, infer_freq

FILL_POLICIES = ("error", "ffill", "interpolate")
ORDER_POLICIES = ("error", "keep", "sort")
DUPLICATE_POLICIES = ("error", "keep")
_MAX_LISTED = 5  # lines listed in one message


@dataclass
class TimeSeries:
    """A multichannel series: T records of C float64 values on timestamps.

    Attributes:
        frame: float64 columns on a ``DatetimeIndex``, no NaN.
        freq: pandas offset alias of a regular series (``"h"``, ``"15min"``, ``"MS"``...), or
            None for records that need not be evenly spaced.
        source: where the data came from (the file name), for messages.
        repairs: one line per change a fill policy made (empty when the file was clean).
    """

    frame: pd.DataFrame
    freq: str | None = None
    source: str = "<frame>"
    repairs: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def index(self) -> pd.DatetimeIndex:
        return self.frame.index  # type: ignore[return-value]

    @property
    def timestamps(self) -> np.ndarray:
        """(T,) ``datetime64[ns]``."""
        return self.index.to_numpy(dtype="datetime64[ns]")

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]

    @property
    def column_text(self) -> str:
        """The value columns for messages: ``'a', 'b'``."""
        return ", ".join(repr(c) for c in self.columns)

    def values(self, columns: Sequence[str] | None = None) -> np.ndarray:
        """(T, C) float64 array of ``columns`` (all columns when None)."""
        frame = self.frame if columns is None else self.frame[list(columns)]
        return frame.to_numpy(dtype=np.float64)

    def head(self, rows: int) -> TimeSeries:
        """The first ``rows`` records."""
        return TimeSeries(self.frame.iloc[:rows], self.freq, self.source, list(self.repairs))


# ----------------------------------------------------------------------------- reading
def read_series(
    path: str | Path,
    time_column: str | None = None,
    columns: Sequence[str] | None = None,
    *,
    order: str = "error",
    duplicates: str = "error",
    fill: str = "error",
    regular: bool = False,
    freq: str | None = None,
) -> TimeSeries:
    """Read and validate a time-series CSV (see the module docstring for the checks).

    Args:
        path: the file.
        time_column: the timestamp column; None: ``timestamp`` if present, else the first.
        columns: value columns to keep (default: every other column); each must exist.
        order, duplicates, fill: the policies of the module docstring.
        regular: require evenly spaced timestamps (``freq``, inferred when None); gaps are then
            missing values that ``fill`` may fill.
    """
    _check_policy("order", order, ORDER_POLICIES)
    _check_policy("duplicates", duplicates, DUPLICATE_POLICIES)
    _check_policy("fill", fill, FILL_POLICIES)
    if regular and duplicates != "error":
        raise ValueError("a regular series cannot keep duplicated timestamps")
    frame, lines = read_frame(path, time_column, columns, order=order, duplicates=duplicates)
    if regular:
        return from_frame(frame, freq=freq, fill=fill, source=str(path), lines=lines)
    frame, repairs = fill_missing(frame, fill, str(path), lines)
    return TimeSeries(frame, None, str(path), repairs)


def read_frame(
    path: str | Path,
    time_column: str | None = None,
    columns: Sequence[str] | None = None,
    *,
    order: str = "error",
    duplicates: str = "error",
) -> tuple[pd.DataFrame, np.ndarray]:
    """Steps 1-5 of :func:`read_series`: float64 columns on a ``DatetimeIndex``, NaNs left.

    Returns the frame and the 1-based file line of each of its rows.
    """
    path = Path(path)
    table = _read_table(path)
    time_column, wanted = _columns_of(table, path, time_column, columns)
    lines = np.arange(len(table)) + 2
    return _checked(table, lines, path, time_column, wanted, order, duplicates)


def read_panel(
    path: str | Path,
    id_column: str,
    time_column: str | None = None,
    columns: Sequence[str] | None = None,
    *,
    fill: str = "error",
    freq: str | None = None,
) -> dict[str, TimeSeries]:
    """Several regular series in one long-format CSV (an ``id_column`` names each row's series):
    each series validated as :func:`read_series` with ``regular=True`` validates one file, and
    its refusals name the file's lines. Returns ``{id: TimeSeries}`` in order of appearance.
    """
    _check_policy("fill", fill, FILL_POLICIES)
    path = Path(path)
    table = _read_table(path)
    if id_column not in table.columns:
        raise DataError(
            f"{path}: line 1: no id column {id_column!r}; the header has {list(table.columns)}"
        )
    rest = table.drop(columns=[id_column])
    time_column, wanted = _columns_of(rest, path, time_column, columns)
    ids = table[id_column]
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise DataError(f"{path}: line {row + 2}, column {id_column!r}: no series id")
    panel = {}
    for name in dict.fromkeys(ids):
        rows = np.flatnonzero((ids == name).to_numpy())
        frame, lines = _checked(rest.iloc[rows], rows + 2, path, time_column, wanted, "error",
                                "error")  # fmt: skip
        source = f"{path} [{id_column}={name}]"
        panel[str(name)] = from_frame(frame, freq=freq, fill=fill, source=source, lines=lines)
    return panel


def _columns_of(
    table: pd.DataFrame, path: Path, time_column: str | None, columns: Sequence[str] | None
) -> tuple[str, list[str]]:
    header = [str(c) for c in table.columns]
    if time_column is None:
        time_column = "timestamp" if "timestamp" in header else header[0]
    wanted = [c for c in header if c != time_column] if columns is None else list(columns)
    for name in [time_column, *wanted]:
        if name not in header:
            raise DataError(f"{path}: line 1: no column {name!r}; the header has {header}")
    if not wanted:
        raise DataError(f"{path}: line 1: no value column besides the time column {time_column!r}")
    return time_column, wanted


def _checked(
    table: pd.DataFrame,
    lines: np.ndarray,
    path: Path,
    time_column: str,
    wanted: list[str],
    order: str,
    duplicates: str,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Steps 2-5 on the rows of ``table`` (file lines ``lines``)."""
    empty = table.isna().all(axis=1).to_numpy()
    if empty.any():
        raise DataError(f"{path}: line {lines[np.flatnonzero(empty)[0]]}: the line holds no value")
    frame = table[wanted].apply(pd.to_numeric, errors="coerce")
    for name in wanted:
        bad = np.flatnonzero((frame[name].isna() & table[name].notna()).to_numpy())
        if len(bad):
            raise DataError(
                f"{path}: {_at(lines[bad])}, column {name!r}: not a number: "
                f"{table[name].iloc[bad[0]]!r}"
            )
    frame.index = pd.DatetimeIndex(_parse_times(table[time_column], path, time_column, lines))
    frame.index.name = time_column
    frame, lines = _ordered(frame, lines, path, time_column, order)
    if duplicates == "error":
        dup = np.flatnonzero(frame.index.duplicated(keep="first"))
        if len(dup):
            first = lines[np.flatnonzero(frame.index == frame.index[dup[0]])[0]]
            raise DataError(
                f"{path}: {_at(lines[dup])}, column {time_column!r}: duplicated timestamp "
                f"{frame.index[dup[0]]} (first at line {first})"
            )
    return frame.astype(np.float64), lines


def _read_table(path: Path) -> pd.DataFrame:
    """The CSV's text checked for emptiness and binary data, then parsed as strings."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: line 1: cannot be read ({e})") from None
    if not raw.strip():
        raise DataError(f"{path}: line 1: the file is empty")
    nul = raw.find(b"\x00")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        nul = e.start if nul < 0 else min(nul, e.start)
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise DataError(f"{path}: line {line}: not UTF-8 text (a binary file?)")
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, skip_blank_lines=False)
    except pd.errors.ParserError as e:  # e.g. "Expected 2 fields in line 5, saw 3"
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(e))
        if found:
            expected, line, saw = found.groups()
            raise DataError(
                f"{path}: line {line}: {saw} fields, the header has {expected}"
            ) from None
        raise DataError(f"{path}: not a readable CSV ({str(e).strip()})") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: line 1: the file is empty") from None
    # a file may end with blank lines; blank lines inside it are refused later
    real = np.flatnonzero(~table.isna().all(axis=1).to_numpy())
    return table.iloc[: real[-1] + 1] if len(real) else table.iloc[:0]


def _parse_times(values: pd.Series, path: Path, column: str, lines: np.ndarray) -> pd.Series:
    """Timestamps of a column; time-zone-aware ones are converted to UTC (and the zone dropped)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format" chatter
        try:
            parsed = pd.to_datetime(values, errors="raise")
        except (ValueError, TypeError, OverflowError):
            parsed = None
    if parsed is None or not isinstance(parsed.dtype, (np.dtype, pd.DatetimeTZDtype)):
        row = _first_unparsable(values)
        if row is None:  # every value parses alone but not together
            raise DataError(
                f"{path}: column {column!r}: mixes timestamp formats or time zones (e.g. "
                f"line {lines[0]}: {values.iloc[0]!r})"
            )
        raise DataError(
            f"{path}: {_at(lines[row : row + 1])}, column {column!r}: not a timestamp: "
            f"{values.iloc[row]!r}"
        )
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed


def _first_unparsable(values: pd.Series) -> int | None:
    """The row of the first value that is not a timestamp on its own (None when all are)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, value in enumerate(values):
            try:
                if pd.isna(pd.to_datetime(value, errors="raise")):
                    return i
            except (ValueError, TypeError, OverflowError):
                return i
    return None


def _ordered(
    frame: pd.DataFrame, lines: np.ndarray, path: Path, column: str, order: str
) -> tuple[pd.DataFrame, np.ndarray]:
    back = np.flatnonzero(np.diff(frame.index.asi8) < 0) + 1
    if not len(back) or order == "keep":
        return frame, lines
    if order == "sort":
        ranks = np.argsort(frame.index.asi8, kind="stable")
        return frame.iloc[ranks], lines[ranks]
    i = back[0]
    raise DataError(
        f"{path}: {_at(lines[back])}, column {column!r}: goes back in time "
        f"({frame.index[i]} after {frame.index[i - 1]}); sort the file first"
    )


# ----------------------------------------------------------------------------- missing values
def fill_missing(
    frame: pd.DataFrame, fill: str, source: str, lines: np.ndarray | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Apply the ``fill`` policy to the NaNs of ``frame`` record by record (no re-indexing).

    Returns the filled frame and one line per column filled. ``lines`` (the file line of each
    row) name where the NaNs were; ``"error"`` refuses any NaN.
    """
    repairs = _fill_report(frame, fill, source, lines)
    if fill == "ffill":
        frame = frame.ffill()
    elif fill == "interpolate":
        frame = frame.interpolate(limit_direction="both")
    return frame, repairs


FILL_HINT = "declare a fill policy: --data.fill ffill or interpolate"


def _fill_report(
    frame: pd.DataFrame, fill: str, source: str, lines: np.ndarray | None, hint: str = FILL_HINT
) -> list[str]:
    """Refuse NaNs the policy cannot fill (naming line and column); list those it fills."""
    lines = np.arange(len(frame)) + 2 if lines is None else lines
    repairs = []
    for column in frame.columns:
        rows = np.flatnonzero(frame[column].isna().to_numpy())
        if len(rows) == 0:
            continue
        if len(rows) == len(frame):
            raise DataError(f"{source}: {_at(lines[rows])}, column {column!r}: no value at all")
        if fill == "ffill" and rows[0] == 0:
            raise DataError(
                f"{source}: {_at(lines[:1])}, column {column!r}: missing value in the first row, "
                f"which cannot be filled forward (--data.fill interpolate can)"
            )
        if fill == "error":
            raise DataError(
                f"{source}: {_at(lines[rows])}, column {column!r}: missing value "
                f"({len(rows)} in the column); {hint}"
            )
        repairs.append(f"filled {len(rows)} NaN(s) in {column!r} ({fill}) at {_at(lines[rows])}")
    return repairs


# ----------------------------------------------------------------------------- regular series
def from_frame(
    frame: pd.DataFrame,
    *,
    freq: str | None = None,
    fill: str = "error",
    source: str = "<frame>",
    lines: np.ndarray | None = None,
    hint: str = FILL_HINT,
) -> TimeSeries:
    """A regular :class:`TimeSeries` from a frame on a sorted, duplicate-free ``DatetimeIndex``.

    Gaps in the ``freq`` grid (inferred when None) are refused, or filled by the ``fill`` policy
    like NaNs; ``lines`` are the file lines of the rows, and ``hint`` what a refusal suggests.
    """
    _check_policy("fill", fill, FILL_POLICIES)
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise TypeError(f"{source}: the frame needs a DatetimeIndex, got {type(frame.index)}")
    lines = np.arange(len(frame)) + 2 if lines is None else lines
    frame = frame.astype(np.float64)
    freq = freq or infer_freq(frame.index, source)
    repairs: list[str] = []
    gaps = find_gaps(frame.index, freq, source)
    if gaps:
        where = "; ".join(
            f"{n} step(s) missing after line {lines[frame.index.get_loc(t)]} ({t})"
            for t, n in gaps[:_MAX_LISTED]
        )
        more = f" (and {len(gaps) - _MAX_LISTED} more)" if len(gaps) > _MAX_LISTED else ""
        if fill == "error":
            raise DataError(
                f"{source}: {len(gaps)} gap(s) in the {freq!r} timestamps: {where}{more}; {hint}"
            )
        repairs.append(f"filled {sum(n for _, n in gaps)} missing timestamp(s) ({fill}): {where}")
    repairs += _fill_report(frame, fill, source, lines, hint)
    full = pd.date_range(frame.index[0], frame.index[-1], freq=freq, name=frame.index.name)
    if len(full) != len(frame) or not full.equals(frame.index):
        frame = frame.reindex(full)
    if fill == "ffill":
        frame = frame.ffill()
    elif fill == "interpolate":
        frame = frame.interpolate(method="time", limit_direction="both")
    frame.index.freq = pd.tseries.frequencies.to_offset(freq)
    return TimeSeries(frame=frame, freq=freq, source=source, repairs=repairs)


def _at(lines: np.ndarray) -> str:
    """``line 7`` or ``lines 7, 9 (and 3 more)``."""
    listed = ", ".join(str(int(n)) for n in lines[:_MAX_LISTED])
    more = f" (and {len(lines) - _MAX_LISTED} more)" if len(lines) > _MAX_LISTED else ""
    return f"line{'s' if len(lines) > 1 else ''} {listed}{more}"


def _check_policy(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
