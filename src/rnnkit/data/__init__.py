"""Data: sequences, time series, text, splits, scaling, windows and one loader per data set.

* :class:`Sequences` — N right-padded (T, F) sequences, their lengths and labels (NumPy);
  :func:`pad_sequences`, :func:`length_mask`.
* :mod:`.splits` — :func:`chronological_split` and :func:`random_split`, the only splitters.
* :mod:`.scaling` — scalers fitted on training rows, saved as JSON.
* :mod:`.windows` — (past, future) windows over a series.
* :mod:`.timeseries` — the one time-series CSV reader and its validation policy.
* :mod:`.text` — reading text, tokenizing, vocabularies.
* :class:`TensorBatches` — in-memory tensors read a batch at a time (what the engine iterates).
* :func:`load_sequences` (``.npz``/``.csv`` sequence files), :func:`read_npz` (no code runs).
* :mod:`.datasets` — one module per public data set.

Every reader raises :class:`DataError` (a ``ValueError``) naming the file, line and column.
"""

from .batches import TensorBatches
from .errors import DataError
from .files import load_csv, load_npz, load_sequences, read_npz
from .sequences import Sequences, length_mask, pad_sequences
from .splits import Split, chronological_split, random_split

__all__ = [
    "DataError",
    "Sequences",
    "Split",
    "TensorBatches",
    "chronological_split",
    "length_mask",
    "load_csv",
    "load_npz",
    "load_sequences",
    "pad_sequences",
    "random_split",
    "read_npz",
]
