"""Checkpoints: exact round trip, refusal of damaged/foreign/unsafe files, crash-safe saving."""

import json
import os
import pickle
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import save_file

from rnnkit.config import resolve, to_dict
from rnnkit.tasks import get_task
from rnnkit.train import (
    CheckpointError,
    load_checkpoint,
    load_run,
    predict,
    predict_run,
    save_checkpoint,
)
from rnnkit.train.checkpoint import _read_tensors, decode_tree, encode_tree


@pytest.fixture(scope="module")
def classify():
    task = get_task("classify")
    config = resolve(
        task.config_class, flags={"model.hidden_size": "8", "model.pooling": "attention"}
    )
    data = task.load_data(config)
    return task, config, data


def _save(tmp_path, classify, name="ckpt"):
    task, config, data = classify
    torch.manual_seed(1)
    model = task.build_model(config, data.state)
    path = save_checkpoint(
        tmp_path / name, model.state_dict(), to_dict(config), data.state, info={"task": task.name}
    )
    return model, path


def test_round_trip_restores_predictions_exactly(tmp_path, classify):
    task, config, data = classify
    model, path = _save(tmp_path, classify)
    loaded = load_run(task, path)
    before = predict(task, model, data.test, config.train.eval_batch_size)["probs"]
    after = predict_run(loaded, data.test, progress=False)["probs"]
    assert torch.equal(before, after)
    assert loaded.config == config and loaded.state == data.state


def test_trainer_state_round_trips_types():
    state = {
        "optimizer": {
            "state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.ones(2)}},
            "param_groups": [{"betas": (0.9, 0.99), "params": [0]}],
        },
        "best": float("inf"),
        "name": "x",
        "flag": None,
    }
    tensors = {}
    restored = decode_tree(json.loads(json.dumps(encode_tree(state, tensors))), tensors)
    assert restored["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.99)
    assert 0 in restored["optimizer"]["state"] and restored["best"] == float("inf")
    assert torch.equal(restored["optimizer"]["state"][0]["exp_avg"], torch.ones(2))
    with pytest.raises(CheckpointError, match="cannot store object at state.bad"):
        encode_tree({"bad": object()}, {})


def test_a_safetensors_header_that_starts_like_a_pickle_opcode_is_read(tmp_path):
    path = tmp_path / "w.safetensors"
    for pad in range(300):  # header lengths ending in byte 0x80 (pickle's PROTO opcode)
        save_file({"w": torch.ones(2)}, str(path), metadata={"pad": "x" * pad})
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    assert torch.equal(_read_tensors(path)["w"], torch.ones(2))


def test_truncated_file_is_refused_naming_it(tmp_path, classify):
    _, path = _save(tmp_path, classify)
    weights = path / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors: .*truncated"):
        load_checkpoint(path)


def test_random_bytes_are_refused(tmp_path, classify):
    _, path = _save(tmp_path, classify)
    weights = path / "model.safetensors"
    weights.write_bytes(os.urandom(weights.stat().st_size))
    with pytest.raises(CheckpointError, match=r"model\.safetensors: checksum mismatch"):
        load_checkpoint(path)
    noise = tmp_path / "noise.bin"
    noise.write_bytes(os.urandom(1000))
    with pytest.raises(CheckpointError, match=r"noise\.bin: not an rnnkit checkpoint"):
        load_checkpoint(noise)


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _set_recorded_hash(path, name):
    """What an attacker who rewrites checkpoint.json too would do."""
    import hashlib

    info = json.loads((path / "checkpoint.json").read_text())
    blob = (path / name).read_bytes()
    info["files"][name] = {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    (path / "checkpoint.json").write_text(json.dumps(info))


def test_pickle_that_would_run_code_is_refused(tmp_path, classify):
    marker = tmp_path / "pwned"
    evil = tmp_path / "model.ckpt"
    torch.save({"state_dict": _RunsCode(str(marker))}, evil)
    with pytest.raises(CheckpointError, match="refuses to unpickle"):
        load_checkpoint(evil)
    _, path = _save(tmp_path, classify)
    (path / "model.safetensors").write_bytes(pickle.dumps(_RunsCode(str(marker))))
    _set_recorded_hash(path, "model.safetensors")
    with pytest.raises(CheckpointError, match=r"model\.safetensors: is a pickle"):
        load_checkpoint(path)
    assert not marker.exists()


def test_foreign_files_are_refused(tmp_path, classify):
    task = classify[0]
    _, path = _save(tmp_path, classify)
    save_file({"other.weight": torch.zeros(3)}, str(path / "model.safetensors"))
    _set_recorded_hash(path, "model.safetensors")
    with pytest.raises(
        CheckpointError, match=r"model\.safetensors: the weights do not fit the model"
    ):
        load_run(task, path)
    _, other = _save(tmp_path, classify, "other")
    (other / "checkpoint.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(CheckpointError, match=r"checkpoint\.json: not an rnnkit checkpoint"):
        load_checkpoint(other)


CRASH = textwrap.dedent(
    """
    import os, sys, torch
    import rnnkit.train.checkpoint as ckpt
    path, point = sys.argv[1], sys.argv[2]
    if point == "write":  # die half-way through writing the new weights
        real = ckpt.save_file
        def dying(tensors, filename, metadata=None):
            real(tensors, filename, metadata=metadata)
            with open(filename, "r+b") as f:
                f.truncate(os.path.getsize(filename) // 2)
            os._exit(3)
        ckpt.save_file = dying
    else:  # die at the first or second rename of the swap
        calls, real_rename = [], os.rename
        def dying_rename(a, b):
            calls.append(a)
            if len(calls) == int(point[-1]):
                os._exit(3)
            real_rename(a, b)
        os.rename = dying_rename
    ckpt.save_checkpoint(path, {"w": torch.full((1000,), 2.0)}, {"n": 2}, {})
    """
)


@pytest.mark.parametrize("point", ["write", "rename1", "rename2"])
def test_crash_while_saving_keeps_the_previous_checkpoint(tmp_path, point):
    path = tmp_path / "checkpoints" / "last"
    save_checkpoint(path, {"w": torch.full((1000,), 1.0)}, {"n": 1}, {})
    done = subprocess.run(
        [sys.executable, "-c", CRASH, str(path), point], capture_output=True, text=True
    )
    assert done.returncode == 3, done.stderr
    survivor = load_checkpoint(path)
    assert survivor.config == {"n": 1} and torch.equal(
        survivor.weights["w"], torch.full((1000,), 1.0)
    )
    save_checkpoint(path, {"w": torch.full((1000,), 3.0)}, {"n": 3}, {})  # the next save recovers
    assert load_checkpoint(path).config == {"n": 3}
    assert sorted(p.name for p in path.parent.iterdir()) == ["last"]
