"""Sequence data: padding, lengths and masks, splits, batch access, files and built-in data sets.

* :class:`Sequences` — N right-padded (T, F) sequences, their lengths and labels (NumPy).
* :func:`pad_sequences`, :func:`length_mask`, :func:`split` — the basic operations.
* :class:`TensorBatches` — in-memory tensors read a batch at a time (what the engine iterates).
* :func:`load_sequences` (``.npz``/``.csv``), :func:`read_npz` (no code execution),
  :func:`load_digits` (built in, no download).
"""

from .batches import TensorBatches
from .digits import load_digits
from .files import load_csv, load_npz, load_sequences, read_npz
from .sequences import Sequences, length_mask, pad_sequences, split

__all__ = [
    "Sequences",
    "TensorBatches",
    "length_mask",
    "load_csv",
    "load_digits",
    "load_npz",
    "load_sequences",
    "pad_sequences",
    "read_npz",
    "split",
]
