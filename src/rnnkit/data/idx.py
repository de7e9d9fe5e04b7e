"""The IDX format of MNIST and its relatives (Fashion-MNIST, KMNIST, EMNIST…).

An IDX file is: two zero bytes, a type code (0x08 unsigned byte … 0x0E float64), the number of
dimensions, each dimension as a big-endian int32, then the data, big-endian. Files may be gzipped.
Every malformed file is refused with a ValueError that names it.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from .errors import DataError

_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (plain or ``.gz``) into an array of its declared type and shape."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such IDX file")
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (EOFError, OSError, zlib.error) as error:
        raise DataError(f"{path}: corrupt or truncated gzip data ({error})") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        magic = int.from_bytes(raw[:4].ljust(4, b"\0"), "big")
        raise DataError(
            f"{path}: not an IDX file (magic number {magic:#010x}; expected 0x000008NN for "
            "unsigned bytes, e.g. 2051 for images and 2049 for labels)"
        )
    dtype, ndim = _TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated header ({len(raw)} bytes, needs {header})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise DataError(
            f"{path}: header declares shape {shape} ({expected} bytes) but the file holds "
            f"{len(raw)} bytes — truncated or corrupt"
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def load_idx_pair(
    images: str | os.PathLike, labels: str | os.PathLike
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, H, W) and labels (N,) int64 from two IDX files, checked against each other."""
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3:
        raise DataError(f"{images}: expected images of shape (N, H, W), got {x.shape}")
    if y.ndim != 1:
        raise DataError(f"{labels}: expected labels of shape (N,), got {y.shape}")
    if len(x) != len(y):
        raise DataError(f"{images} holds {len(x)} images but {labels} holds {len(y)} labels")
    return x, y.astype(np.int64)
