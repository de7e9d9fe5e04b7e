"""Truncated BPTT: chunking, carried and detached state, and its gradients through the engine."""

from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import rnnkit.nn as rnn
from rnnkit.config import resolve
from rnnkit.data import TensorBatches
from rnnkit.train import (
    OptimConfig,
    RunDir,
    Step,
    StreamBatches,
    Task,
    TaskData,
    TrainConfig,
    detach_state,
    fit,
    load_checkpoint,
    split_time,
)

N, T, F_IN = 8, 12, 3


class Tracker(nn.Module):
    """Per-step regression: an LSTM and a linear read-out; returns (N, T, 1) and the state."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = rnn.LSTM(F_IN, 8, batch_first=True)
        self.out = nn.Linear(8, 1)

    def forward(self, x, state=None):
        h, state = self.rnn(x, state)
        return self.out(h), state


@dataclass(frozen=True)
class TrackConfig:
    """A running sum to track."""

    optim: OptimConfig = OptimConfig(name="sgd", lr=0.05, momentum=0.0)
    train: TrainConfig = TrainConfig(epochs=2, batch_size=N, progress=False, eval_train=False)


class TrackTask(Task[TrackConfig]):
    name = "track"
    config_class = TrackConfig

    def load_data(self, config):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(N, T, F_IN, generator=g)
        y = 0.3 * x[..., :1].cumsum(1)  # depends on the whole past: needs the carried state
        return TaskData(TensorBatches({"x": x, "y": y}, time_keys=("x", "y")), None, None)

    def build_model(self, config, state):
        torch.manual_seed(0)
        return Tracker()

    def step(self, model, batch, state=None):
        pred, state = model(batch["x"], state)
        return Step(F.mse_loss(pred, batch["y"]), {}, state)


def _train(tmp_path, name, tbptt):
    task = TrackTask()
    config = resolve(TrackConfig, flags={"train.tbptt": str(tbptt)})
    fit(task, config, tmp_path / name)
    steps = RunDir(tmp_path / name).read_steps()
    return steps, load_checkpoint(tmp_path / name, prefer="last").weights


def test_chunk_length_equal_to_sequence_length_is_full_bptt(tmp_path):
    full_steps, full_weights = _train(tmp_path, "full", 0)
    chunked_steps, chunked_weights = _train(tmp_path, "chunked", T)
    assert [r["grad_norm"] for r in chunked_steps] == [r["grad_norm"] for r in full_steps]
    assert all(torch.equal(full_weights[k], chunked_weights[k]) for k in full_weights)


def test_truncated_bptt_matches_a_hand_written_truncated_loop(tmp_path):
    k = 5  # chunks of 5, 5, 2 steps
    steps, weights = _train(tmp_path, "tbptt", k)
    assert len(steps) == 2 * 3  # one optimiser step per chunk

    task = TrackTask()  # the oracle: plain torch, state detached at each chunk boundary
    model = task.build_model(None, {})
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    data = task.load_data(None).train.tensors
    norms = []
    for _ in range(2):
        state = None
        for start in range(0, T, k):
            pred, state = model(data["x"][:, start : start + k], state)
            loss = F.mse_loss(pred, data["y"][:, start : start + k])
            opt.zero_grad()
            loss.backward()
            norms.append(
                torch.linalg.vector_norm(
                    torch.stack([p.grad.norm() for p in model.parameters()])
                ).item()
            )
            opt.step()
            state = tuple(s.detach() for s in state)
    # the engine shuffles the rows of each batch: same gradient up to summation order
    assert [r["grad_norm"] for r in steps] == pytest.approx(norms, rel=1e-5)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(weights[name], value, rtol=1e-5, atol=1e-6)


def test_carried_state_continues_the_sequence():
    torch.manual_seed(0)
    model = Tracker().eval()
    x = torch.randn(N, T, F_IN)
    with torch.no_grad():
        full, _ = model(x)
        pieces, state = [], None
        for chunk in split_time({"x": x}, 5, ("x",)):
            out, state = model(chunk["x"], state)
            state = detach_state(state)
            pieces.append(out)
    torch.testing.assert_close(torch.cat(pieces, 1), full)


def test_split_time_refuses_variable_lengths():
    with pytest.raises(ValueError, match="equal-length"):
        split_time({"x": torch.zeros(2, 4, 1), "lengths": torch.tensor([4, 2])}, 2, ("x",))


def test_stream_batches_fold_a_stream_into_rows():
    stream = torch.arange(103)
    pieces = StreamBatches({"x": stream[:-1], "y": stream[1:]}, batch_size=4, chunk=10)
    assert len(pieces) == 3  # 102 // 4 = 25 steps per row: pieces of 10, 10, 5
    rows = torch.cat([pieces[j]["x"] for j in range(len(pieces))], dim=1)  # (4, 25)
    assert torch.equal(rows.reshape(-1), stream[:100])
    assert torch.equal(pieces[0]["y"], pieces[0]["x"] + 1)
    half = pieces.shard(1, 2)
    assert torch.equal(half[0]["x"], pieces[0]["x"][2:])
