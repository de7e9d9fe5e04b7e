"""Python data as the tasks read it: arrays, lists of arrays and DataFrames to sequences and files.

Sequences (the classifier) come as

* a NumPy array (N, T, F), or (N, T) for one feature per step: equal lengths;
* a list of N arrays (T_i, F) or (T_i,): variable lengths;
* a pandas DataFrame in long format: one row per step, an id column (``sequence``) naming each
  row's sequence, an optional ``step`` column ordering the rows, every other column a feature.

Labels are an array-like of N values (numbers or names); with a DataFrame, in the order its
sequences first appear, or a pandas Series indexed by sequence id.
"""

from __future__ import annotations

from collections.abc import Sequence as Seq
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnkit.data import DataError, Sequences, pad_sequences


def sequences_from(X: Any, y: Any = None, id_column: str = "sequence") -> Sequences:
    """``X`` (and labels ``y``) as :class:`rnnkit.data.Sequences`; DataError naming the argument."""
    names = None
    if isinstance(X, pd.DataFrame):
        arrays, names = _from_frame(X, id_column)
    elif isinstance(X, np.ndarray) and X.dtype != object:
        if X.ndim == 2:
            X = X[:, :, None]
        if X.ndim != 3:
            raise DataError(f"X: expected (N, T, F) or (N, T), got an array of shape {X.shape}")
        arrays = list(X)
    elif isinstance(X, (Seq, np.ndarray)) and not isinstance(X, (str, bytes)):
        arrays = list(X)
    else:
        raise DataError(
            f"X: expected an array (N, T, F), a list of (T, F) arrays or a DataFrame, got "
            f"{type(X).__name__}"
        )
    for i, a in enumerate(arrays):
        values = np.asarray(a)
        if not np.issubdtype(values.dtype, np.number):
            raise DataError(f"X[{i}]: expected numbers, got {values.dtype}")
        if not np.isfinite(values).all():
            raise DataError(f"X[{i}]: holds NaN or infinite values")
    x, lengths = pad_sequences(arrays, "X")
    labels = None if y is None else _labels(y, names, len(x))
    return Sequences(x, lengths, labels, None if names is None else np.array(names, dtype=str))


def _from_frame(frame: pd.DataFrame, id_column: str) -> tuple[list[np.ndarray], list[str]]:
    if id_column not in frame.columns:
        raise DataError(f"X: no column {id_column!r} naming each row's sequence")
    features = [c for c in frame.columns if c not in (id_column, "step")]
    if not features:
        raise DataError(f"X: no feature columns besides {id_column!r}")
    arrays, names = [], []
    for name, rows in frame.groupby(id_column, sort=False):
        rows = rows.sort_values("step", kind="stable") if "step" in rows else rows
        arrays.append(rows[features].to_numpy(dtype=np.float64))
        names.append(str(name))
    return arrays, names


def _labels(y: Any, names: list[str] | None, n: int) -> np.ndarray:
    if isinstance(y, pd.Series) and names is not None and not isinstance(y.index, pd.RangeIndex):
        missing = [name for name in names if name not in y.index.astype(str)]
        if missing:
            raise DataError(f"y: no label for sequence(s) {missing[:5]}")
        y = y.set_axis(y.index.astype(str))[names]
    labels = np.asarray(y)
    if labels.shape != (n,):
        raise DataError(f"y: expected {n} labels (one per sequence), got shape {labels.shape}")
    if np.issubdtype(labels.dtype, np.floating):
        if not np.equal(np.mod(labels, 1), 0).all():
            raise DataError("y: expected class labels (integers or names), got fractional numbers")
        labels = labels.astype(np.int64)
    return labels if labels.dtype.kind in "iu" else labels.astype(str)


def write_sequences(path: Path, seqs: Sequences) -> Path:
    """Save sequences as the ``.npz`` the classify task reads (``x_train``/``y_train``)."""
    x = np.empty(len(seqs), dtype=object)
    for i, length in enumerate(seqs.lengths):
        x[i] = seqs.x[i, :length]
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x_train=x, y_train=seqs.y)
    return path


def frame_from(data: Any, what: str = "data") -> pd.DataFrame:
    """A DataFrame from a DataFrame or a CSV path."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, (str, Path)):
        return pd.read_csv(data)
    raise DataError(f"{what}: expected a pandas DataFrame or a CSV path, got {type(data).__name__}")
