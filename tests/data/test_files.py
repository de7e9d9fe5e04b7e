"""Sequence files: npz (fixed, padded with lengths, object arrays) and long-format CSV."""

import pickle
import zipfile

import numpy as np
import pytest

from rnnkit.data import DataError, load_sequences, read_npz


def test_npz_fixed_length_with_splits(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez(
        path,
        x_train=rng.normal(size=(5, 4, 3)),
        y_train=np.arange(5),
        x_test=rng.normal(size=(2, 4, 3)),
        y_test=[0, 1],
    )
    splits = load_sequences(path)
    assert set(splits) == {"train", "test"}
    assert splits["train"].x.shape == (5, 4, 3) and splits["train"].x.dtype == np.float32
    assert splits["train"].lengths.tolist() == [4] * 5
    assert splits["test"].y.tolist() == [0, 1]


def test_npz_lengths_zero_the_padding(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x_train=np.ones((2, 5, 1)), y_train=[0, 1], lengths_train=[2, 5])
    train = load_sequences(path)["train"]
    assert train.lengths.tolist() == [2, 5]
    assert train.x[0, 2:].sum() == 0 and train.x[1].sum() == 5


def test_npz_object_array_of_sequences(tmp_path):
    seqs = np.empty(3, dtype=object)
    for i, n in enumerate((2, 4, 3)):
        seqs[i] = np.full((n, 2), i + 1.0)
    path = tmp_path / "d.npz"
    np.savez(path, x_train=seqs, y_train=[0, 1, 0])
    train = load_sequences(path)["train"]
    assert train.x.shape == (3, 4, 2)
    assert train.lengths.tolist() == [2, 4, 3]
    np.testing.assert_array_equal(train.x[2, :3], 3.0)
    assert train.x[2, 3].sum() == 0


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_npz_object_array_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    arr = np.empty(1, dtype=object)
    arr[0] = _RunsCode(str(marker))
    path = tmp_path / "evil.npz"
    np.savez(path, x_train=arr, y_train=[0])
    with pytest.raises(ValueError, match="refusing to load io.open"):
        read_npz(path)
    assert not marker.exists()


def test_not_an_npz(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="bad.npz: not a readable .npz"):
        load_sequences(path)
    with zipfile.ZipFile(tmp_path / "empty.npz", "w") as z:
        z.writestr("other.npy", pickle.dumps(1))
    with pytest.raises(ValueError, match="cannot be read|no 'x_train'"):
        load_sequences(tmp_path / "empty.npz")


def test_csv_long_format(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(
        "sequence,split,label,a,b\n"
        "s1,train,cat,1,2\ns1,train,cat,3,4\n"
        "s2,train,dog,5,6\n"
        "s3,test,cat,7,8\ns3,test,cat,9,10\n"
    )
    splits = load_sequences(path)
    train, test = splits["train"], splits["test"]
    assert train.lengths.tolist() == [2, 1] and train.y.tolist() == ["cat", "dog"]
    np.testing.assert_array_equal(train.x[0], [[1, 2], [3, 4]])
    assert test.x.shape == (1, 2, 2)


def test_csv_errors_name_file_and_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("sequence,label,a\ns1,0,1\ns1,0,oops\n")
    with pytest.raises(DataError, match=r"d\.csv: line 3, column 'a': not a number: 'oops'"):
        load_sequences(path)
    path.write_text("sequence,label,a\ns1,0,1\ns1,0,\n")
    with pytest.raises(DataError, match=r"d\.csv: line 3, column 'a': empty"):
        load_sequences(path)
    path.write_text("sequence,label,a\ns1,0,1\ns1,1,2\n")
    with pytest.raises(DataError, match=r"d\.csv: line 3: sequence 's1' changes its label"):
        load_sequences(path)
    path.write_text("id,label,a\n")
    with pytest.raises(DataError, match="line 1: needs a 'sequence' column"):
        load_sequences(path)
    path.write_text("")
    with pytest.raises(DataError, match=r"d\.csv: line 1: the file is empty"):
        load_sequences(path)
    path.write_bytes(b"sequence,label,a\ns1,0,1\n\x89PNG\x00\x00\n")
    with pytest.raises(DataError, match=r"d\.csv: line 3: not UTF-8 text"):
        load_sequences(path)


def test_csv_keeps_sequence_names(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("sequence,a\nfirst,1\nfirst,2\nsecond,3\n")
    assert load_sequences(path)[""].names.tolist() == ["first", "second"]


def test_float_labels_must_be_class_labels(tmp_path):
    x = np.zeros((4, 3, 1))
    np.savez(tmp_path / "whole.npz", x_train=x, y_train=np.array([0.0, 1.0, 1.0, 0.0]))
    assert load_sequences(tmp_path / "whole.npz")["train"].y.dtype == np.int64
    np.savez(tmp_path / "real.npz", x_train=x, y_train=np.array([0.5, 1.0, 1.0, 0.0]))
    with pytest.raises(DataError, match=r"y_train must hold integer class labels .*0\.5"):
        load_sequences(tmp_path / "real.npz")


def test_unknown_file_type(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("x")
    with pytest.raises(ValueError, match="unsupported data file type"):
        load_sequences(path)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_sequences(tmp_path / "missing.npz")
