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
    raise ValueError(f"{path}: unsupported data file type {suffix!r} (expected .npz or .csv)")


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
        raise ValueError(f"{path}: no 'x_train' (or 'x') array; it holds {sorted(arrays)}")
    return out


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` archive; object arrays go through a NumPy-only unpickler."""
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"{path}: not a readable .npz archive ({e})") from None
    arrays: dict[str, np.ndarray] = {}
    with archive:
        for member in archive.namelist():
            if not member.endswith(".npy"):
                continue
            try:
                with archive.open(member) as f:
                    arrays[member[:-4]] = _read_npy(io.BytesIO(f.read()))
            except (ValueError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile) as e:
                raise ValueError(f"{path}: array {member[:-4]!r} cannot be read: {e}") from None
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
            raise ValueError("object array did not unpickle to an array")
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
            raise ValueError(f"{path}: {name} must be (N, T, F), got shape {x.shape}")
        if not np.issubdtype(x.dtype, np.number):
            raise ValueError(f"{path}: {name} must be numeric, got dtype {x.dtype}")
        padded = np.ascontiguousarray(x, dtype=np.float32)
        real = np.full(len(x), x.shape[1], dtype=np.int64)
        if lengths is not None:
            lengths = np.asarray(lengths)
            if lengths.shape != (len(x),) or not np.issubdtype(lengths.dtype, np.integer):
                raise ValueError(
                    f"{path}: lengths{suffix} must be ({len(x)},) integers, got "
                    f"shape {lengths.shape} dtype {lengths.dtype}"
                )
            if len(x) and (lengths.min() < 1 or lengths.max() > x.shape[1]):
                raise ValueError(f"{path}: lengths{suffix} must lie in [1, {x.shape[1]}]")
            real = lengths.astype(np.int64)
            padded = padded * (np.arange(x.shape[1])[None, :, None] < real[:, None, None])
    if not np.isfinite(padded).all():
        raise ValueError(f"{path}: {name} holds NaN or infinite values")
    if y is not None:
        y = np.asarray(y)
        if y.shape != (len(padded),):
            raise ValueError(f"{path}: y{suffix} must be ({len(padded)},), got shape {y.shape}")
    return Sequences(padded, real, y)


# ------------------------------------------------------------------------------------------ CSV
def load_csv(path: str | Path) -> dict[str, Sequences]:
    """Read a long-format CSV (one row per step, see the module docstring)."""
    path = Path(path)
    with path.open(newline="") as f:
        reader = csv.reader(f)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ValueError(f"{path}: empty file") from None
        if "sequence" not in header:
            raise ValueError(f"{path}:1: needs a 'sequence' column; the header is {header}")
        special = {"sequence", "label", "split", "step"}
        feature_cols = [i for i, h in enumerate(header) if h not in special]
        if not feature_cols:
            raise ValueError(f"{path}:1: no feature columns besides {sorted(special)}")
        col = {h: i for i, h in enumerate(header)}
        rows: dict[str, list] = {}  # sequence id -> [(step, features, label, split, line)]
        order: list[str] = []
        rows_read = tqdm(
            reader,
            desc=f"reading {path.name}",
            unit=" rows",
            leave=False,
            disable=None,
            mininterval=1,
        )
        for line, row in enumerate(rows_read, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise ValueError(f"{path}:{line}: expected {len(header)} columns, got {len(row)}")
            try:
                features = [float(row[i]) for i in feature_cols]
                step = (
                    float(row[col["step"]])
                    if "step" in col
                    else len(rows.get(row[col["sequence"]], []))
                )
            except ValueError as e:
                raise ValueError(f"{path}:{line}: {e}") from None
            sid = row[col["sequence"]].strip()
            label = row[col["label"]].strip() if "label" in col else None
            split_name = row[col["split"]].strip() if "split" in col else ""
            if split_name not in ("", *SPLITS):
                raise ValueError(
                    f"{path}:{line}: split must be one of {SPLITS}, got {split_name!r}"
                )
            if sid not in rows:
                rows[sid] = []
                order.append(sid)
            elif (label, split_name) != rows[sid][0][2:4]:
                raise ValueError(f"{path}:{line}: sequence {sid!r} changes its label or split")
            rows[sid].append((step, features, label, split_name, line))
    if not rows:
        raise ValueError(f"{path}: no data rows")
    grouped: dict[str, tuple[list, list]] = {}
    for sid in order:
        steps = sorted(rows[sid], key=lambda r: r[0])
        xs, ys = grouped.setdefault(steps[0][3], ([], []))
        xs.append(np.array([s[1] for s in steps], dtype=np.float32))
        ys.append(steps[0][2])
    out = {}
    for split_name, (xs, ys) in grouped.items():
        x, lengths = pad_sequences(xs, name=f"{path}: x")
        y = None if ys[0] is None else _labels(ys)
        out[split_name] = Sequences(x, lengths, y)
    return out


def _labels(values: list[str]) -> np.ndarray:
    """Integer labels when every value is an integer, else the strings."""
    try:
        return np.array([int(v) for v in values], dtype=np.int64)
    except ValueError:
        return np.array(values, dtype=str)
