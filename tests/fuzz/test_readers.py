"""Every reader the project ships, fed arbitrary bytes and mutated valid files.

Each input either loads (and then its result is sane) or is refused with the project's own error
type — :class:`rnnkit.data.DataError` for data, :class:`rnnkit.train.CheckpointError` for
checkpoints, :class:`rnnkit.config.ConfigError` for settings — never another exception, never a
hang, and never a file left behind. Bounded by the hypothesis profile in ``tests/conftest.py``;
``RNNKIT_FUZZ_REPORT=FILE`` writes how many inputs loaded and how many were refused.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
import scipy.io.wavfile
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.config import ConfigError, resolve
from rnnkit.data import DataError, load_sequences
from rnnkit.data.audio import read_wav
from rnnkit.data.idx import read_idx
from rnnkit.data.images import read_image
from rnnkit.data.labels import read_windows
from rnnkit.data.text import read_text
from rnnkit.data.timeseries import read_series
from rnnkit.tasks.classify import ClassifyConfig
from rnnkit.train import CheckpointError, load_checkpoint, save_checkpoint

OUTCOMES: dict[str, Counter] = defaultdict(Counter)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    path = os.environ.get("RNNKIT_FUZZ_REPORT")
    if path:
        old = json.loads(Path(path).read_text()) if Path(path).is_file() else {}
        old.update({k: dict(v) for k, v in OUTCOMES.items()})
        Path(path).write_text(json.dumps(old, indent=1, sort_keys=True) + "\n")


def _apply(valid: bytes, ops: list[tuple[str, int, bytes]]) -> bytes:
    data = bytearray(valid)
    for op, at, extra in ops:
        at = at % (len(data) + 1)
        if op == "flip" and data:
            data[at % len(data)] ^= extra[0] if extra else 0xFF
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = extra
        elif op == "delete":
            del data[at : at + 1 + len(extra)]
        elif op == "repeat":
            data[at:at] = data[max(0, at - 16) : at]
    return bytes(data)


def inputs(valid: bytes) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, or ``valid`` with a few flips, cuts, insertions, deletions, repeats."""
    op = st.tuples(
        st.sampled_from(["flip", "cut", "insert", "delete", "repeat"]),
        st.integers(0, max(1, len(valid))),
        st.binary(min_size=1, max_size=8),
    )
    mutated = st.lists(op, min_size=1, max_size=4).map(lambda ops: _apply(valid, ops))
    return st.one_of(st.binary(max_size=512), mutated, st.just(valid))


def check(reader: str, load, data: bytes, suffix: str, refused=(DataError,)) -> None:
    """Write ``data`` to a fresh folder, load it, and tally the outcome; nothing may be left."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(data)
        try:
            result = load(path)
        except refused as error:
            assert str(error).strip(), "an error needs a message"
            OUTCOMES[reader]["refused"] += 1
        else:
            assert result is not None
            OUTCOMES[reader]["loaded"] += 1
        assert sorted(p.name for p in Path(folder).iterdir()) == [path.name]


# ----------------------------------------------------------------------------- valid samples
def _idx() -> bytes:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    return (
        bytes([0, 0, 8, 3]) + b"".join(struct.pack(">i", d) for d in array.shape) + array.tobytes()
    )


def _wav() -> bytes:
    out = io.BytesIO()
    scipy.io.wavfile.write(out, 8000, (np.sin(np.arange(400) / 5) * 3000).astype(np.int16))
    return out.getvalue()


def _npz() -> bytes:
    out = io.BytesIO()
    seqs = np.empty(3, dtype=object)
    for i in range(3):
        seqs[i] = np.ones((i + 2, 2))
    np.savez(out, x_train=seqs, y_train=np.array([0, 1, 0]), x_test=np.zeros((2, 4, 2)),
             y_test=np.array([1, 0]))  # fmt: skip
    return out.getvalue()


SERIES = "timestamp,value,other\n" + "".join(
    f"2020-01-01 {h:02d}:00,{h * 1.5},{h % 3}\n" for h in range(12)
)
SEQUENCES = "sequence,label,split,a,b\n" + "".join(
    f"s{i // 3},{i // 6},{'train' if i < 12 else 'test'},{i},{i * 0.5}\n" for i in range(18)
)
YAML = "optim:\n  lr: 0.01\ntrain:\n  epochs: 3\nmodel:\n  cell: lstm\n  hidden_size: 8\n"


# ----------------------------------------------------------------------------- readers
@given(inputs(_idx()))
def test_idx(data):
    check("idx", read_idx, data, "")


@given(inputs(gzip.compress(_idx(), mtime=0)))
def test_idx_gzip(data):
    check("idx.gz", read_idx, data, ".gz")


@given(inputs(_wav()))
def test_wav(data):
    check("wav", read_wav, data, ".wav")


@given(inputs(SERIES.encode()))
def test_time_series_csv(data):
    check("timeseries", lambda p: read_series(p, "timestamp"), data, ".csv")
    check("timeseries-regular", lambda p: read_series(p, "timestamp", regular=True), data, ".csv")


@given(inputs(_npz()))
def test_sequences_npz(data):
    check("sequences.npz", load_sequences, data, ".npz")


@given(inputs(SEQUENCES.encode()))
def test_sequences_csv(data):
    check("sequences.csv", load_sequences, data, ".csv")


@given(inputs(b"To be, or not to be: that is the question.\nWhether 'tis nobler\n"))
def test_text(data):
    check("text", read_text, data, ".txt")


@given(inputs(b'{"x.csv": [["2020-01-01 02:00", "2020-01-01 04:00"]]}'))
def test_labels_json(data):
    series = read_series(io_path(SERIES), "timestamp")
    check("labels.json", lambda p: read_windows(p, series, "x.csv"), data, ".json")


@given(inputs(b"start,end\n2020-01-01 02:00,2020-01-01 04:00\n"))
def test_labels_csv(data):
    series = read_series(io_path(SERIES), "timestamp")
    check("labels.csv", lambda p: read_windows(p, series), data, ".csv")


@given(inputs(YAML.encode()))
def test_yaml_config(data):
    check(
        "config.yaml",
        lambda p: resolve(ClassifyConfig, yaml_file=p),
        data,
        ".yaml",
        refused=(ConfigError,),
    )


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(out, format="PNG")
    return out.getvalue()


@given(inputs(_png()))
def test_png_image(data):
    check("png", lambda p: read_image(p, (8, 8)), data, ".png")


_SERIES_FILE: dict[str, Path] = {}


def io_path(text: str) -> Path:
    """A file holding ``text`` that lives as long as the test session."""
    if text not in _SERIES_FILE:
        folder = Path(tempfile.mkdtemp())
        (folder / "series.csv").write_text(text)
        _SERIES_FILE[text] = folder / "series.csv"
    return _SERIES_FILE[text]


# ----------------------------------------------------------------------------- checkpoints
def _checkpoint(folder: Path) -> Path:
    weights = {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}
    import torch

    return save_checkpoint(
        folder / "ckpt",
        {k: torch.from_numpy(v) for k, v in weights.items()},
        {"train": {"epochs": 1}},
        {"classes": [0, 1]},
        {"lightning": {"epoch": 0, "optimizer": [torch.ones(3)]}, "engine": {}},
        {"task": "classify", "epoch": 0},
    )


FILES = ["model.safetensors", "config.json", "task.json", "trainer.json", "trainer.safetensors",
         "checkpoint.json"]  # fmt: skip


@given(st.sampled_from(FILES), st.data())
def test_checkpoint_with_one_file_damaged(name, draw):
    with tempfile.TemporaryDirectory() as folder:
        ckpt = _checkpoint(Path(folder))
        valid = (ckpt / name).read_bytes()
        data = draw.draw(inputs(valid))
        (ckpt / name).write_bytes(data)
        try:
            loaded = load_checkpoint(ckpt)
        except CheckpointError as error:
            assert str(ckpt) in str(error)  # names a file of the checkpoint
            OUTCOMES["checkpoint"]["refused"] += 1
        else:
            # only what no checksum covers can change unnoticed (checkpoint.json's own fields),
            # and then the weights are still the saved ones
            assert data == valid or name == "checkpoint.json"
            assert loaded.weights["w"].tolist() == [[0, 1, 2], [3, 4, 5]]
            OUTCOMES["checkpoint"]["loaded"] += 1


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
))  # fmt: skip
def test_checkpoint_json_of_any_shape(value):
    with tempfile.TemporaryDirectory() as folder:
        ckpt = _checkpoint(Path(folder))
        info = json.loads((ckpt / "checkpoint.json").read_text())
        forged = value if not isinstance(value, dict) else {**info, **value}
        (ckpt / "checkpoint.json").write_text(json.dumps(forged))
        try:
            load_checkpoint(ckpt)
            OUTCOMES["checkpoint.json"]["loaded"] += 1
        except CheckpointError:
            OUTCOMES["checkpoint.json"]["refused"] += 1
