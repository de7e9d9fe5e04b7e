"""Minimal RNNs (minGRU, minLSTM): every path against every other, and the NumPy reference.

Paths: the layer's scan (compiled on a CPU when the kernels build; the log-space scan
otherwise, forced here with RNNKIT_KERNELS=0), the cells stepped one at a time
(``fused=False``), and :mod:`rnnkit.reference.minimal` with hand-written BPTT. float64 checks
the equations (1e-10, relative to each tensor's largest entry); float32 checks rounding.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnkit.nn as rnn
import rnnkit.reference as ref
from rnnkit.nn import kernels
from rnnkit.nn.linear_scan import NO_INPUT, compiled_scan, log_scan, step_scan
from rnnkit.reference import check_gradients

LAYERS = {"mingru": (rnn.MinGRU, ref.MinGRU), "minlstm": (rnn.MinLSTM, ref.MinLSTM)}


def close(got: torch.Tensor, expected: torch.Tensor) -> float:
    return ((got - expected).abs().max() / (1 + expected.abs().max())).item()


def run(module, x, h0, lengths) -> list[torch.Tensor]:
    """Outputs, final state and every gradient of a loss that reaches all of them."""
    module.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    h0 = h0.clone().requires_grad_(True)
    out, h_n = module(x, h0, lengths=lengths)
    (out.pow(2).sum() + 0.5 * h_n.sum()).backward()
    return [out, h_n, x.grad, h0.grad, *(p.grad for p in module.parameters())]


def pair(name, bidirectional, dtype=torch.float64):
    """The same 2-layer layer as a scan and as stepped cells."""
    torch.manual_seed(0)
    layer = LAYERS[name][0]
    scan = layer(5, 6, num_layers=2, bidirectional=bidirectional).to(dtype)
    steps = layer(5, 6, num_layers=2, bidirectional=bidirectional, fused=False).to(dtype)
    steps.load_state_dict(scan.state_dict())
    return scan, steps


def batch(bidirectional, dtype=torch.float64, L=9):
    D = 2 if bidirectional else 1
    x = torch.randn(L, 4, 5, dtype=dtype)
    h0 = torch.randn(2 * D, 4, 6, dtype=dtype)  # any sign: the scans carry h0 apart
    return x, h0


@pytest.fixture(params=["compiled", "log-space"])
def scan_path(request, monkeypatch):
    """Run the test with the compiled scan, then with the log-space scan."""
    kernels.compiled.cache_clear()
    monkeypatch.setenv("RNNKIT_KERNELS", "1" if request.param == "compiled" else "0")
    if request.param == "compiled" and kernels.compiled() is None:
        pytest.skip("no C++ compiler: the compiled scan is not built")
    yield request.param
    kernels.compiled.cache_clear()


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_scan_equals_stepped_cells(scan_path, name, bidirectional, with_lengths):
    scan, steps = pair(name, bidirectional)
    x, h0 = batch(bidirectional)
    lengths = torch.tensor([9, 3, 5, 1]) if with_lengths else None
    for got, expected in zip(run(scan, x, h0, lengths), run(steps, x, h0, lengths), strict=True):
        assert close(got, expected) < 1e-10


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_layer_equals_numpy_reference(name, bidirectional):
    """Outputs, h_n and every gradient against the reference's forward and BPTT."""
    scan, _ = pair(name, bidirectional)
    x, h0 = batch(bidirectional)
    lengths = torch.tensor([9, 3, 5, 1])
    got = run(scan, x, h0, lengths)
    numpy_layer = LAYERS[name][1](5, 6, num_layers=2, bidirectional=bidirectional)
    numpy_layer.load_state_dict(scan.state_dict())
    out, h_n = numpy_layer.forward(x.numpy(), h0.numpy(), lengths.numpy())
    d_x, grads = numpy_layer.backward(2 * out, 0.5 * np.ones_like(h_n))
    expected = [out, h_n, d_x, numpy_layer.d_h0] + [grads[k] for k in scan.state_dict()]
    for g, e in zip(got, expected, strict=True):
        assert close(g.detach(), torch.from_numpy(e)) < 1e-10


@pytest.mark.parametrize("name", LAYERS)
def test_reference_gradients_match_finite_differences(name):
    numpy_layer = LAYERS[name][1](3, 4, num_layers=2, bidirectional=True, seed=1)
    rng = np.random.default_rng(0)
    x, h0 = rng.normal(size=(5, 2, 3)), rng.normal(size=(4, 2, 4))
    assert check_gradients(numpy_layer, x, h0, lengths=[5, 2]) < 1e-6


def test_scans_agree_with_the_loop_on_long_float32_sequences():
    """Over 4096 steps in float32: the compiled loop rounds like the plain loop; the log-space
    scan, chunked, stays within 1e-5 of the largest state (unchunked it drifts ~1e-4)."""
    torch.manual_seed(0)
    L, N, H = 4096, 3, 8
    a = torch.rand(L, N, H) * 0.5 + 0.5
    b = torch.rand(L, N, H) * 0.5
    h0 = torch.randn(N, H)
    expected = step_scan(a.double(), b.double(), h0.double())
    assert close(log_scan(a.log(), b.log(), h0).double(), expected) < 1e-5
    if kernels.compiled() is not None:
        assert close(compiled_scan(a, b, h0).double(), expected) < 1e-5


def test_log_scan_gradients_with_carried_steps():
    """Steps that carry the state (log a = 0, log b = NO_INPUT), as past a sequence's end,
    leave every gradient finite and equal to the loop's."""
    torch.manual_seed(0)
    L, N, H = 70, 2, 3  # two chunks of 64, the second one padded
    a = (torch.rand(L, N, H, dtype=torch.float64) * 0.9 + 0.05).requires_grad_(True)
    b = (torch.rand(L, N, H, dtype=torch.float64) + 0.1).requires_grad_(True)
    h0 = torch.randn(N, H, dtype=torch.float64, requires_grad=True)
    alive = torch.arange(L).view(L, 1, 1) < torch.tensor([70, 40]).view(1, N, 1)

    def by_log():
        log_a = torch.where(alive, a.log(), 0.0)
        return log_scan(log_a, torch.where(alive, b.log(), NO_INPUT), h0)

    def by_loop():
        return step_scan(torch.where(alive, a, 1.0), torch.where(alive, b, 0.0), h0)

    results = []
    for f in (by_log, by_loop):
        h = f()
        grads = torch.autograd.grad(h.pow(2).sum(), (a, b, h0))
        results.append([h, *grads])
    for got, expected in zip(*results, strict=True):
        assert torch.isfinite(got).all()
        assert close(got, expected) < 1e-10


@pytest.mark.parametrize("name", LAYERS)
def test_generation_step_by_step_equals_the_scan(name):
    """Feeding one step at a time with the carried state gives the scan's outputs."""
    scan, _ = pair(name, False, torch.float32)
    x, h0 = batch(False, torch.float32)
    with torch.no_grad():
        whole, h_whole = scan(x, h0)
        outs, h = [], h0
        for x_t in x:
            out, h = scan(x_t.unsqueeze(0), h)
            outs.append(out[0])
    torch.testing.assert_close(torch.stack(outs), whole, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h, h_whole, rtol=1e-5, atol=1e-6)


def test_minlstm_gates_are_normalised():
    """f' = sigma(k_f) / (sigma(k_f) + sigma(k_i)), computed without forming the ratio."""
    cell = rnn.MinLSTMCell(2, 4).double()
    k = torch.randn(7, 12, dtype=torch.float64) * 20  # saturating gates too
    a, b = cell.coefficients(k)
    s_f, s_i = torch.sigmoid(k[:, :4]), torch.sigmoid(k[:, 4:8])
    assert close(a, s_f / (s_f + s_i)) < 1e-12
    log_a, log_b = cell.log_coefficients(k)
    assert close(log_a.exp(), a) < 1e-12
    assert close(log_b.exp(), b) < 1e-12


def test_factory_builds_and_refuses():
    layer = rnn.make_encoder("mingru", 3, 5, num_layers=2, bidirectional=True)
    out, h_n = layer(torch.randn(2, 7, 3))
    assert out.shape == (2, 7, 10) and h_n.shape == (4, 2, 5)
    assert "scan over time" in repr(layer)
    assert "step by step" in repr(rnn.MinLSTM(3, 5, fused=False))
    with pytest.raises(ValueError, match="layer_norm does not apply to cell 'minlstm'"):
        rnn.make_encoder("minlstm", 3, 5, layer_norm=True)
    with pytest.raises(ValueError, match="recurrent_dropout does not apply"):
        rnn.make_encoder("mingru", 3, 5, recurrent_dropout=0.2)
