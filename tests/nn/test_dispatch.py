"""The rules of fused="auto" (rnnkit.nn.dispatch): which path each layer takes, and that the
path taken is the one the rules name."""

from __future__ import annotations

import pytest
import torch

import rnnkit.nn as rnn
from rnnkit.nn import dispatch, kernels

built = kernels.compiled() is not None


def torch_kernel_calls(monkeypatch, layer, x) -> int:
    """How many times the layer calls torch's fused kernel for one forward pass."""
    calls = []
    name = layer._kernel
    original = getattr(torch._VF, name)

    def counted(*args):
        calls.append(name)
        return original(*args)

    monkeypatch.setattr(torch._VF, name, counted)
    layer(x)
    return len(calls)


@pytest.mark.skipif(not built, reason="the compiled loops did not build here")
@pytest.mark.parametrize("grad", [True, False])
@pytest.mark.parametrize("make", [rnn.GRU, rnn.RNN], ids=["gru", "rnn"])
def test_gru_and_rnn_take_the_compiled_loop_on_cpu(monkeypatch, make, grad):
    layer = make(4, 8)
    with torch.set_grad_enabled(grad):
        assert torch_kernel_calls(monkeypatch, layer, torch.randn(5, 3, 4)) == 0
    assert "rnnkit compiled loop on CPU" in repr(layer)


@pytest.mark.parametrize("grad", [True, False])
def test_lstm_takes_torchs_kernel_on_cpu(monkeypatch, grad):
    layer = rnn.LSTM(4, 8)
    with torch.set_grad_enabled(grad):
        assert torch_kernel_calls(monkeypatch, layer, torch.randn(5, 3, 4)) == 1


@pytest.mark.parametrize("grad", [True, False])
def test_lstm_under_bfloat16_autocast_runs_and_agrees_with_float32(monkeypatch, grad):
    # torch's LSTM kernel fails under bfloat16 on CPUs whose oneDNN lacks it (AVX2 only):
    # there the rules send the call to rnnkit's loops, elsewhere to the kernel
    torch.manual_seed(0)
    layer, x = rnn.LSTM(16, 32, num_layers=2), torch.randn(7, 3, 16)
    expected, _ = layer(x)
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    with torch.set_grad_enabled(grad), torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch_kernel_calls(monkeypatch, layer, x) == int(native)
        y, _ = layer(x)
    torch.testing.assert_close(y.float(), expected, atol=3e-2, rtol=0)  # bfloat16's 8 bits


def test_one_step_of_one_sequence_runs_the_cells(monkeypatch):
    layer = rnn.LSTM(4, 8)
    with torch.no_grad():
        assert torch_kernel_calls(monkeypatch, layer, torch.randn(1, 1, 4)) == 0


@pytest.mark.parametrize("make", [rnn.GRU, rnn.RNN, rnn.LSTM], ids=["gru", "rnn", "lstm"])
def test_fused_true_forces_torchs_kernel(monkeypatch, make):
    layer = make(4, 8, fused=True)
    assert torch_kernel_calls(monkeypatch, layer, torch.randn(5, 3, 4)) == 1
    assert "torch fused kernel" in repr(layer)


def test_without_the_compiled_loops_gru_inference_takes_torchs_kernel(monkeypatch):
    kernels.compiled.cache_clear()
    monkeypatch.setenv("RNNKIT_KERNELS", "0")
    try:
        x = torch.randn(5, 3, 4)
        assert dispatch.prefers_torch_kernel("gru", x.requires_grad_(False)) is False
        with torch.no_grad():
            assert dispatch.prefers_torch_kernel("gru", x) is True
    finally:
        kernels.compiled.cache_clear()


def test_exports_keep_torchs_kernel(monkeypatch):
    """A traced graph holds torch's recurrent operator, whatever the CPU rule says."""
    layer = rnn.GRU(4, 8).eval()
    calls = []
    original = torch._VF.gru

    def counted(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(torch._VF, "gru", counted)
    torch.jit.trace(layer, torch.randn(5, 3, 4), check_trace=False)
    assert calls
