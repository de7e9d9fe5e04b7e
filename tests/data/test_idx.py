"""IDX/MNIST loading: real files read right, malformed files refused naming the file,
nothing half-written in the cache."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from rnnkit.data.datasets.mnist import load_idx_dir, load_mnist
from rnnkit.data.fetch import RemoteFile, ensure_file
from rnnkit.data.idx import load_idx_pair, read_idx


def write_idx(path, array: np.ndarray, magic_type: int = 0x08, compress: bool = True) -> None:
    header = bytes([0, 0, magic_type, array.ndim]) + b"".join(
        struct.pack(">i", d) for d in array.shape
    )
    payload = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)


def test_round_trip_plain_and_gzip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a-images.gz", images)
    write_idx(tmp_path / "a-images", images, compress=False)
    write_idx(tmp_path / "a-labels.gz", np.array([7, 1]))
    assert np.array_equal(read_idx(tmp_path / "a-images.gz"), images)
    assert np.array_equal(read_idx(tmp_path / "a-images"), images)
    x, y = load_idx_pair(tmp_path / "a-images.gz", tmp_path / "a-labels.gz")
    assert x.shape == (2, 3, 4) and y.tolist() == [7, 1] and y.dtype == np.int64


def test_truncated_gzip_is_refused_naming_the_file(tmp_path):
    write_idx(tmp_path / "x.gz", np.zeros((10, 28, 28)))
    data = (tmp_path / "x.gz").read_bytes()
    (tmp_path / "x.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"x\.gz: corrupt or truncated gzip"):
        read_idx(tmp_path / "x.gz")


def test_truncated_payload_is_refused(tmp_path):
    write_idx(tmp_path / "x", np.zeros((10, 28, 28)), compress=False)
    data = (tmp_path / "x").read_bytes()
    (tmp_path / "x").write_bytes(data[:-100])
    with pytest.raises(ValueError, match=r"x: header declares shape \(10, 28, 28\)"):
        read_idx(tmp_path / "x")


def test_wrong_magic_number_is_refused(tmp_path):
    (tmp_path / "png.gz").write_bytes(gzip.compress(b"\x89PNG\r\n\x1a\n" + bytes(100)))
    with pytest.raises(ValueError, match=r"png\.gz: not an IDX file \(magic number 0x89504e47"):
        read_idx(tmp_path / "png.gz")


def test_image_label_count_mismatch(tmp_path):
    write_idx(tmp_path / "i.gz", np.zeros((3, 2, 2)))
    write_idx(tmp_path / "l.gz", np.zeros(4))
    with pytest.raises(ValueError, match=r"i\.gz holds 3 images but .*l\.gz holds 4 labels"):
        load_idx_pair(tmp_path / "i.gz", tmp_path / "l.gz")


def test_missing_files_offline_say_where_to_put_them(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\.gz is missing\. Put"):
        load_mnist("train", root=tmp_path, download=False)


def test_failed_download_leaves_nothing_in_the_cache(tmp_path):
    remote = RemoteFile("x.gz", "http://127.0.0.1:9/nothing-listens-here", "0" * 64)
    with pytest.raises(FileNotFoundError, match="download failed"):
        ensure_file(tmp_path / "cache", remote)
    assert list((tmp_path / "cache").iterdir()) == []


def test_checksum_mismatch_leaves_nothing_in_the_cache(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"not the published bytes")
    remote = RemoteFile("x.bin", source.as_uri(), "0" * 64)
    with pytest.raises(ValueError, match=r"has sha256 [0-9a-f]{64}, expected 0{64}"):
        ensure_file(tmp_path / "cache", remote)
    assert list((tmp_path / "cache").iterdir()) == []


def test_real_mnist(shared_datasets):
    x, y = load_mnist("test", root=shared_datasets, download=False)
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y).tolist()[:3] == [980, 1135, 1032]  # published class counts


def test_idx_folder_takes_plain_or_gzipped_files_and_names_a_missing_one(tmp_path):
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images, compress=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([2, 0, 1]))
    x, y = load_idx_dir(tmp_path, "test")
    assert np.array_equal(x, images) and y.tolist() == [2, 0, 1]
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\.gz is missing"):
        load_idx_dir(tmp_path, "train")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte.gz",
    ]  # nothing was written
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        load_idx_dir(tmp_path, "val")
