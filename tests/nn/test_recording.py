"""Recording a layer's steps: same outputs, and each h_t's gradient is the total dL/dh_t.

The oracle is independent of rnnkit: torch.nn cells with the same weights, stepped by hand with
a zero tensor e_t added to each h_t, and dL/dh_t = dL/de_t taken by a separate backward for
every t. Fused layers run torch's kernels outside a recording (their one autograd node hides
the states between the ends: ``output.retain_grad()`` shows only the direct path).
"""

from __future__ import annotations

import pytest
import torch

import rnnkit.nn as rnn
from support.layers import KINDS, as_tuple

F64 = torch.float64
L, N, I, H = 7, 3, 4, 5
TORCH_CELLS = {"rnn_tanh": torch.nn.RNNCell, "rnn_relu": torch.nn.RNNCell,
               "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}  # fmt: skip


def _layer(kind, **kwargs):
    ours, _, extra = KINDS[kind]
    return ours(I, H, **extra, **kwargs).to(F64)


def _oracle_grads(layer, kind, x, loss_of):
    """dL/dh_t of a one-layer, one-direction layer: a torch.nn cell stepped by hand, one
    backward per step through a zero nudge e_t added to h_t."""
    extra = KINDS[kind][2]
    cell = TORCH_CELLS[kind](I, H, **extra).to(F64)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.state_dict().items()})
    nudges = [torch.zeros(N, H, dtype=F64, requires_grad=True) for _ in range(L)]
    state, outputs = None, []
    for t in range(L):
        state = cell(x[t], state)
        nudged = as_tuple(state)[0] + nudges[t]
        state = (nudged, state[1]) if isinstance(state, tuple) else nudged
        outputs.append(as_tuple(state)[0])
    loss = loss_of(torch.stack(outputs))
    return torch.stack([torch.autograd.grad(loss, e, retain_graph=True)[0] for e in nudges])


def _last_step_loss(output):
    w = torch.linspace(-1, 1, output.shape[-1], dtype=output.dtype)
    return (torch.tanh(output[-1]) @ w).pow(2).sum()


def _every_step_loss(output):
    return output.sin().sum()


@pytest.mark.parametrize("kind", sorted(TORCH_CELLS))
@pytest.mark.parametrize("loss_of", [_last_step_loss, _every_step_loss], ids=["last", "sum"])
def test_recorded_gradients_equal_one_backward_per_step(kind, loss_of):
    layer = _layer(kind)  # fused="auto": torch's kernel outside the recording
    x = torch.randn(L, N, I, dtype=F64)
    expected = _oracle_grads(layer, kind, x, loss_of)
    with layer.recording() as record:
        output, _ = layer(x)
        loss_of(output).backward()
    (entry,) = record.calls[0]
    torch.testing.assert_close(entry.grads(), expected, rtol=1e-10, atol=1e-12)
    if loss_of is _last_step_loss:  # the recurrent path reaches the first step, not only the last
        assert entry.grads()[0].abs().max() > 1e-6


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh", "lstm_proj"])
def test_recording_gives_the_same_outputs_and_parameter_gradients(kind):
    layer = _layer(kind, num_layers=2, bidirectional=True)
    x = torch.randn(L, N, I, dtype=F64)
    lengths = torch.tensor([7, 3, 5])
    plain_out, plain_state = layer(x, lengths=lengths)
    _every_step_loss(plain_out).backward()
    plain = {k: p.grad.clone() for k, p in layer.named_parameters()}
    layer.zero_grad()
    with layer.recording() as record:
        out, state = layer(x, lengths=lengths)
        _every_step_loss(out).backward()
    torch.testing.assert_close(out, plain_out, rtol=1e-12, atol=1e-12)
    for a, b in zip(as_tuple(state), as_tuple(plain_state)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    for k, p in layer.named_parameters():
        torch.testing.assert_close(p.grad, plain[k], rtol=1e-10, atol=1e-12)
    entries = record.calls[0]
    assert [(e.layer, e.direction) for e in entries] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    # the top layer's hidden states, by input position, are the layer's outputs
    top = torch.cat([entries[2].hidden(), entries[3].hidden()], dim=-1)
    alive = (torch.arange(L)[:, None] < lengths[None, :]).unsqueeze(-1)
    torch.testing.assert_close(top * alive, out, rtol=1e-12, atol=1e-12)


def test_a_fused_output_shows_only_the_direct_path():
    layer = _layer("lstm")
    assert layer.uses_fused
    x = torch.randn(L, N, I, dtype=F64)
    output, _ = layer(x)
    output.retain_grad()
    _last_step_loss(output).backward()
    direct = output.grad.flatten(1).norm(dim=1)
    assert (direct[:-1] == 0).all() and direct[-1] > 0  # one non-zero step of L
    with layer.recording() as record:
        output, _ = layer(x)
        _last_step_loss(output).backward()
    total = record.calls[0][0].grads().flatten(1).norm(dim=1)
    assert (total > 0).all()


def test_record_steps_covers_every_layer_and_call_and_stops_afterwards():
    model = torch.nn.ModuleDict({"a": rnn.GRU(I, H), "b": rnn.LSTM(H, H)})
    x = torch.randn(L, N, I)
    with rnn.record_steps(model) as records:
        out, _ = model["a"](x)
        model["b"](out[:3])
        model["b"](out[3:])
    assert sorted(records) == ["a", "b"]
    assert len(records["a"].calls) == 1 and len(records["b"].calls) == 2
    assert [len(c[0].states) for c in records["b"].calls] == [3, 4]
    model["a"](x)  # after the block: nothing more is kept
    assert len(records["a"].calls) == 1
    nested = pytest.raises(RuntimeError, match="already recording")
    with model["a"].recording(), nested, model["a"].recording():
        pass
