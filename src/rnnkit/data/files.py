"""Labelled sequence files: ``.npz`` archives and long-format CSV, read without running code.

**npz**: ``x_<split>`` and ``y_<split>`` for split in ``train``, ``val``, ``test`` (or a bare
``x``/``y`` for inputs to predict). ``x`` is (N, T, F) (or (N, T): one feature), with an optional
``lengths_<split>`` (N,) for right-padded variable lengths, or an object array of N (T_i, F)
arrays. Object arrays are unpickled by a restricted unpickler that admits NumPy arrays only.

**CSV**: one row per time step, with a header. Columns ``sequence`` (an id; a sequence's rows are
consecutive), ``label`` (optional for inputs to predict), ``split`` (optional: train/val/test)
and ``step`` (optional: order within a sequence); every other column is a numeric feature.
"""

from __future__ import annotations

import csv
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .errors import DataError
from .sequences import Sequences, pad_sequences

SPLITS = ("train", "val", "test")


def load_sequences(path: str | Path) -> dict[str, Sequences]:
    """Read an ``.npz`` or ``.csv`` sequence file into ``{split: Sequences}``.

    Splits are ``train``, ``val``, ``test``, and ``""`` for unsplit data (a bare ``x`` in an npz,
    or a CSV without a ``split`` column).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return load_npz(path)
    if suffix == ".csv":
        return load_csv(path)
    raise DataError(f"{path}: unsupported data file type {suffix!r} (expected .npz or .csv)")


# ------------------------------------------------------------------------------------------ npz
def load_npz(path: str | Path) -> dict[str, Sequences]:
    """Read ``x_<split>``/``y_<split>``/``lengths_<split>`` arrays (or bare ``x``/``y``)."""
    path = Path(path)
    arrays = read_npz(path)
    out: dict[str, Sequences] = {}
    for split_name in ("", *SPLITS):
        suffix = f"_{split_name}" if split_name else ""
        if f"x{suffix}" not in arrays:
            continue
        x = arrays[f"x{suffix}"]
        y = arrays.get(f"y{suffix}")
        lengths = arrays.get(f"lengths{suffix}")
        out[split_name] = _to_sequences(path, suffix, x, y, lengths)
    if not out:
        raise DataError(f"{path}: no 'x_train' (or 'x') array; it holds {sorted(arrays)}")
    return out


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` archive; object arrays go through a NumPy-only unpickler."""
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable .npz archive ({e})") from None
    arrays: dict[str, np.ndarray] = {}
    with archive:
        for member in archive.namelist():
            if not member.endswith(".npy"):
                continue
            try:
                with archive.open(member) as f:
                    arrays[member[:-4]] = _read_npy(io.BytesIO(f.read()))
            except Exception as e:  # a damaged member fails in many ways; none runs code
                raise DataError(f"{path}: array {member[:-4]!r} cannot be read: {e}") from None
    return arrays


def _read_npy(f: io.BytesIO) -> np.ndarray:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    if dtype.hasobject:
        array = _NumpyOnlyUnpickler(f).load()
        if not isinstance(array, np.ndarray):
            raise DataError("object array did not unpickle to an array")
        return array
    f.seek(0)
    return np.lib.format.read_array(f, allow_pickle=False)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Rebuilds NumPy arrays and nothing else: any other global is refused, so no code runs."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name} (only NumPy arrays allowed)"
        )


def _to_sequences(
    path: Path, suffix: str, x: np.ndarray, y: np.ndarray | None, lengths: np.ndarray | None
) -> Sequences:
    name = f"x{suffix}"
    if x.dtype == object:
        padded, real = pad_sequences(list(x), name=f"{path}: {name}")
    else:
        if x.ndim == 2:
            x = x[:, :, None]  # (N, T) -> (N, T, 1)
        if x.ndim != 3:
            raise DataError(f"{path}: {name} must be (N, T, F), got shape {x.shape}")
        if not np.issubdtype(x.dtype, np.number):
            raise DataError(f"{path}: {name} must be numeric, got dtype {x.dtype}")
        padded = np.ascontiguousarray(x, dtype=np.float32)
        real = np.full(len(x), x.shape[1], dtype=np.int64)
        if lengths is not None:
            lengths = np.asarray(lengths)
            if lengths.shape != (len(x),) or not np.issubdtype(lengths.dtype, np.integer):
                raise DataError(
                    f"{path}: lengths{suffix} must be ({len(x)},) integers, got "
                    f"shape {lengths.shape} dtype {lengths.dtype}"
                )
            if len(x) and (lengths.min() < 1 or lengths.max() > x.shape[1]):
                raise DataError(f"{path}: lengths{suffix} must lie in [1, {x.shape[1]}]")
            real = lengths.astype(np.int64)
            padded = padded * (np.arange(x.shape[1])[None, :, None] < real[:, None, None])
    if not np.isfinite(padded).all():
        raise DataError(f"{path}: {name} holds NaN or infinite values")
    if y is not None:
        y = _checked_labels(np.asarray(y), f"{path}: y{suffix}", len(padded))
    return Sequences(padded, real, y)


def _checked_labels(y: np.ndarray, where: str, n: int) -> np.ndarray:
    """Class labels: integers or strings, one per sequence; integral floats become integers."""
    if y.shape != (n,):
        raise DataError(f"{where} must be ({n},) labels, got shape {y.shape}")
    if np.issubdtype(y.dtype, np.floating):
        if not (np.isfinite(y).all() and np.equal(np.mod(y, 1), 0).all()):
            bad = y[~(np.isfinite(y) & np.equal(np.mod(y, 1), 0))][0]
            raise DataError(
                f"{where} must hold integer class labels (or names), got the value {bad!r}; "
                f"for numeric targets use a regression task"
            )
        return y.astype(np.int64)
    if not (np.issubdtype(y.dtype, np.integer) or y.dtype.kind in "USO"):
        raise DataError(f"{where} must hold integer class labels (or names), got dtype {y.dtype}")
    return y


# ------------------------------------------------------------------------------------------ CSV
def load_csv(path: str | Path) -> dict[str, Sequences]:
    """Read a long-format CSV (one row per step, see the module docstring).

    Every refusal is a :class:`DataError` naming the file, the line and the column.
    """
    path = Path(path)
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{path}: line 1: the file is empty")
    try:
        text = raw.decode("utf-8-sig")
        if "\x00" in text:
            raise UnicodeDecodeError("utf-8", raw, raw.find(b"\x00"), raw.find(b"\x00") + 1, "NUL")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise DataError(f"{path}: line {line}: not UTF-8 text (a binary file?)") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader)]
    if "sequence" not in header:
        raise DataError(f"{path}: line 1: needs a 'sequence' column; the header is {header}")
    special = {"sequence", "label", "split", "step"}
    feature_cols = [i for i, h in enumerate(header) if h not in special]
    if not feature_cols:
        raise DataError(f"{path}: line 1: no feature columns besides {sorted(special)}")
    col = {h: i for i, h in enumerate(header)}
    rows: dict[str, list] = {}  # sequence id -> [(step, features, label, split, line)]
    order: list[str] = []
    rows_read = tqdm(
        reader, desc=f"reading {path.name}", unit=" rows", leave=False, disable=None, mininterval=1
    )
    for line, row in enumerate(rows_read, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise DataError(f"{path}: line {line}: {len(row)} fields, the header has {len(header)}")
        features = [_number(row[i], path, line, header[i]) for i in feature_cols]
        sid = row[col["sequence"]].strip()
        step = (
            _number(row[col["step"]], path, line, "step")
            if "step" in col
            else len(rows.get(sid, []))
        )
        label = row[col["label"]].strip() if "label" in col else None
        if label == "":
            raise DataError(f"{path}: line {line}, column 'label': empty label")
        split_name = row[col["split"]].strip() if "split" in col else ""
        if split_name not in ("", *SPLITS):
            raise DataError(
                f"{path}: line {line}, column 'split': must be one of {SPLITS}, got {split_name!r}"
            )
        if sid not in rows:
            rows[sid] = []
            order.append(sid)
        elif (label, split_name) != rows[sid][0][2:4]:
            raise DataError(f"{path}: line {line}: sequence {sid!r} changes its label or split")
        rows[sid].append((step, features, label, split_name, line))
    if not rows:
        raise DataError(f"{path}: line 2: no data rows")
    grouped: dict[str, tuple[list, list, list]] = {}
    for sid in order:
        steps = sorted(rows[sid], key=lambda r: r[0])
        xs, ys, names = grouped.setdefault(steps[0][3], ([], [], []))
        xs.append(np.array([s[1] for s in steps], dtype=np.float32))
        ys.append(steps[0][2])
        names.append(sid)
    out = {}
    for split_name, (xs, ys, names) in grouped.items():
        x, lengths = pad_sequences(xs, name=f"{path}: x")
        y = None if ys[0] is None else _labels(ys)
        out[split_name] = Sequences(x, lengths, y, np.array(names, dtype=str))
    return out


def _number(text: str, path: Path, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        what = "empty" if not text.strip() else f"not a number: {text.strip()!r}"
        raise DataError(f"{path}: line {line}, column {column!r}: {what}") from None
    if not np.isfinite(value):
        raise DataError(f"{path}: line {line}, column {column!r}: {text.strip()!r} is not finite")
    return value


def _labels(values: list[str]) -> np.ndarray:
    """Integer labels when every value is an integer, else the strings."""
    try:
        return np.array([int(v) for v in values], dtype=np.int64)
    except ValueError:
        return np.array(values, dtype=str)
