"""The compiled LSTM loops (rnnkit.nn.kernels) against the same loops in torch ops.

Every option of the scan is crossed: layer norm, projection, both directions, lengths and
recurrent dropout. float64 checks the equations (tolerance 1e-10, relative to each tensor's
largest entry). float32 checks rounding only (1e-3): the kernels sum in another order (e.g. the
gain gradients row by row where torch's layer norm sums in blocks), and this loss, with squared
outputs, recurrent dropout's 1/(1-p) and two layer norms, amplifies that to ~5e-4 of the largest
gradient in the worst case here. Parity with torch.nn itself (1e-5 in float32) is tested in
test_parity.py, which runs through the kernels wherever they build; they must build wherever a
C++ compiler is present.
"""

from __future__ import annotations

import itertools
import shutil

import pytest
import torch

import rnnkit.nn as rnn
from rnnkit.nn import kernels

pytestmark = pytest.mark.skipif(
    shutil.which("c++") is None and shutil.which("g++") is None, reason="no C++ compiler"
)


def use_kernels(monkeypatch, on: bool) -> None:
    kernels.compiled.cache_clear()
    monkeypatch.setenv("RNNKIT_KERNELS", "1" if on else "0")


def outputs_and_grads(module, x, lengths) -> list[torch.Tensor]:
    module.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    torch.manual_seed(1)  # the same recurrent-dropout masks in both runs
    out, (h, c) = module(x, lengths=lengths)
    (out.pow(2).sum() + 0.3 * h.sum() + 0.7 * c.pow(2).sum()).backward()
    return [out, h, c, x.grad, *(p.grad for p in module.parameters())]


CASES = list(itertools.product([False, True], [0, 6], [False, True], [False, True], [0.0, 0.3]))


def case(dtype, layer_norm, proj, bidirectional, with_lengths, dropout):
    """A 2-layer unfused LSTM with these options, a batch (4, 7, 5) and its lengths or None."""
    torch.manual_seed(0)
    module = rnn.LSTM(
        5,
        12,
        num_layers=2,
        batch_first=True,
        fused=False,
        layer_norm=layer_norm,
        proj_size=proj,
        bidirectional=bidirectional,
        recurrent_dropout=dropout,
    ).to(dtype)
    x = torch.randn(4, 7, 5, dtype=dtype)
    return module, x, torch.tensor([7, 3, 5, 1]) if with_lengths else None


def without_and_with_kernels(monkeypatch, run) -> tuple:
    """``run()`` with the torch-op loops, then with the compiled ones."""
    use_kernels(monkeypatch, False)
    assert kernels.compiled() is None
    expected = run()
    use_kernels(monkeypatch, True)
    assert kernels.compiled() is not None, "the kernels did not build"
    got = run()
    kernels.compiled.cache_clear()
    return expected, got


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-3)])
@pytest.mark.parametrize("options", CASES)
def test_kernels_match_torch_ops(monkeypatch, dtype, tol, options):
    module, x, lengths = case(dtype, *options)
    expected, got = without_and_with_kernels(
        monkeypatch, lambda: outputs_and_grads(module, x, lengths)
    )
    for g, e in zip(got, expected, strict=True):
        err = ((g - e).abs().max() / (1 + e.abs().max())).item()
        assert err < tol, err


@pytest.mark.parametrize("options", CASES)
def test_inference_kernels_match_torch_ops(monkeypatch, options):
    """The inference loops (no per-step buffers kept) agree too, float64 within 1e-10."""
    module, x, lengths = case(torch.float64, *options)

    @torch.no_grad()
    def run():
        torch.manual_seed(1)  # the same recurrent-dropout masks in both runs
        out, (h, c) = module(x, lengths=lengths)
        return out, h, c

    expected, got = without_and_with_kernels(monkeypatch, run)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-10)


def test_state_gradients_through_expanded_grads(monkeypatch):
    """h_n.sum() and c_n.sum() hand the scan expanded (stride-0) gradients."""
    torch.manual_seed(0)
    module = rnn.LSTM(3, 8, fused=False, layer_norm=True).double()
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    grads = []
    for on in (False, True):
        use_kernels(monkeypatch, on)
        module.zero_grad(set_to_none=True)
        _, (h, c) = module(x)
        (h.sum() + c.sum()).backward()
        grads.append([p.grad.clone() for p in module.parameters()])
    kernels.compiled.cache_clear()
    for a, b in zip(*grads):
        assert torch.allclose(a, b, rtol=0, atol=1e-12)


def test_build_name_follows_the_processor_and_the_source():
    """A cached -march=native build is only loaded on a processor with the same features, and
    only while its source is the current one."""
    avx2 = kernels.build_name("avx avx2 fma sse4_2", "source")
    assert avx2 == kernels.build_name("avx avx2 fma sse4_2", "source")
    assert avx2 != kernels.build_name("avx avx2 avx512f fma sse4_2", "source")
    assert avx2 != kernels.build_name("avx avx2 fma sse4_2", "edited source")
    other_venv = kernels.build_name("avx avx2 fma sse4_2", "source", "/elsewhere/torch")
    assert avx2 != other_venv  # torch rebuilds for another installation's include paths
    assert avx2.isidentifier()  # torch uses the name as the Python module's name


def test_is_built_finds_the_cached_build(monkeypatch, tmp_path):
    """What decides the "compiling ... once" notice: a build under this name in torch's
    extensions folder."""
    use_kernels(monkeypatch, True)
    assert kernels.compiled() is not None, "the kernels did not build"
    name = kernels.build_name(kernels._cpu_flags(), kernels.source_text())
    assert kernels._is_built(name)
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    assert not kernels._is_built(name)


# GRU and vanilla RNN (tanh and relu): the same crossing, without the projection.
H_CASES = list(itertools.product([False, True], [False, True], [False, True], [0.0, 0.3]))
H_KINDS = ["gru", "rnn_tanh", "rnn_relu"]


def h_case(kind, dtype, layer_norm, bidirectional, with_lengths, dropout):
    """A 2-layer unfused GRU or RNN with these options, a batch (4, 7, 5) and its lengths."""
    torch.manual_seed(0)
    options = dict(
        num_layers=2,
        batch_first=True,
        fused=False,
        layer_norm=layer_norm,
        bidirectional=bidirectional,
        recurrent_dropout=dropout,
    )
    if kind == "gru":
        module = rnn.GRU(5, 12, **options)
    else:
        module = rnn.RNN(5, 12, nonlinearity=kind.removeprefix("rnn_"), **options)
    x = torch.randn(4, 7, 5, dtype=dtype)
    return module.to(dtype), x, torch.tensor([7, 3, 5, 1]) if with_lengths else None


def h_outputs_and_grads(module, x, lengths) -> list[torch.Tensor]:
    module.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    torch.manual_seed(1)
    out, h = module(x, lengths=lengths)
    (out.pow(2).sum() + 0.3 * h.sum() + 0.7 * h.pow(2).sum()).backward()
    return [out, h, x.grad, *(p.grad for p in module.parameters())]


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-3)])
@pytest.mark.parametrize("options", H_CASES)
@pytest.mark.parametrize("kind", H_KINDS)
def test_gru_rnn_kernels_match_torch_ops(monkeypatch, kind, dtype, tol, options):
    module, x, lengths = h_case(kind, dtype, *options)
    expected, got = without_and_with_kernels(
        monkeypatch, lambda: h_outputs_and_grads(module, x, lengths)
    )
    for g, e in zip(got, expected, strict=True):
        err = ((g - e).abs().max() / (1 + e.abs().max())).item()
        assert err < tol, err


@pytest.mark.parametrize("options", H_CASES)
@pytest.mark.parametrize("kind", H_KINDS)
def test_gru_rnn_inference_kernels_match_torch_ops(monkeypatch, kind, options):
    module, x, lengths = h_case(kind, torch.float64, *options)

    @torch.no_grad()
    def run():
        torch.manual_seed(1)
        return module(x, lengths=lengths)

    expected, got = without_and_with_kernels(monkeypatch, run)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-10)
