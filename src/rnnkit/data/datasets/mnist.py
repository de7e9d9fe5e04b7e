"""MNIST, and any set with MNIST's four IDX file names (Fashion-MNIST, KMNIST…).

``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``, each plain or gzipped, in one folder. Missing MNIST files are
downloaded from torchvision's mirror and checked against their published sha256.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..fetch import RemoteFile, data_dir, ensure_file
from ..idx import load_idx_pair

# Torchvision's mirror of the LeCun files; sha256 from ../shared/datasets/MANIFEST.md.
_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
MNIST_FILES = {
    "train": (
        RemoteFile(
            "train-images-idx3-ubyte.gz",
            _MIRROR + "train-images-idx3-ubyte.gz",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        ),
        RemoteFile(
            "train-labels-idx1-ubyte.gz",
            _MIRROR + "train-labels-idx1-ubyte.gz",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        ),
    ),
    "test": (
        RemoteFile(
            "t10k-images-idx3-ubyte.gz",
            _MIRROR + "t10k-images-idx3-ubyte.gz",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        ),
        RemoteFile(
            "t10k-labels-idx1-ubyte.gz",
            _MIRROR + "t10k-labels-idx1-ubyte.gz",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ),
    ),
}


def load_mnist(
    split: str = "train",
    root: str | os.PathLike | None = None,
    folder: str = "mnist",
    download: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST, or any set with MNIST's file names in ``root/folder``: uint8 (N, 28, 28), labels.

    ``root`` defaults to :func:`~rnnkit.data.fetch.data_dir`. Missing MNIST files are downloaded
    with checksums (other folders must already hold their files).
    """
    if split not in MNIST_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    directory = data_dir(root) / folder
    images, labels = (
        ensure_file(directory, remote, download=download and folder == "mnist")
        for remote in MNIST_FILES[split]
    )
    return load_idx_pair(images, labels)


def load_idx_dir(
    directory: str | os.PathLike, split: str = "train", download: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, H, W) and labels (N,) of ``split`` from a folder with MNIST's file names.

    Fits any MNIST-format set (MNIST, Fashion-MNIST, KMNIST…): ``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each
    plain or gzipped. With ``download``, missing files are fetched as MNIST's (checksummed);
    without it a missing file raises FileNotFoundError naming it and where it comes from.
    """
    if split not in MNIST_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    directory = Path(directory).expanduser()
    paths = []
    for remote in MNIST_FILES[split]:
        plain = directory / remote.name.removesuffix(".gz")
        paths.append(plain if plain.is_file() else ensure_file(directory, remote, download))
    return load_idx_pair(*paths)
