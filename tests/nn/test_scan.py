"""Fast scans (hand-written BPTT) against the generic step loop (autograd) and torch.nn.

Every built-in cell family and option (projection, layer norm, bias, recurrent-dropout mask,
variable lengths) must give the step loop's outputs, final states and gradients w.r.t. x_proj,
the initial state and every parameter within 1e-10 in float64; the Functions pass gradcheck;
and the public layers on the cell path match torch.nn in float32 (1e-5).
"""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit.nn as rnn
from rnnkit.nn import GRUCell, LSTMCell, RecurrentCell, RNNCell
from rnnkit.nn.recurrent import step_loop
from rnnkit.nn.scan import _GRUScan, _LSTMScan, _RNNScan, fast_scan

F64 = torch.float64
L, N, I, H = 6, 4, 3, 5
LENGTHS = [6, 2, 1, 4]  # one full, one of length 1

# name -> (cell class, extra kwargs)
CELLS = {
    "lstm": (LSTMCell, {}),
    "lstm_proj": (LSTMCell, {"proj_size": 2}),
    "gru": (GRUCell, {}),
    "rnn_tanh": (RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNNCell, {"nonlinearity": "relu"}),
}


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: OpenMP parallel regions (torch's layer norm opens one per call) only cost
    time, and a lot of it when other processes hold the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _cell(name, layer_norm, bias=True):
    cls, extra = CELLS[name]
    cell = cls(I, H, bias=bias, layer_norm=layer_norm, **extra).to(F64)
    with torch.no_grad():  # LN gains and biases away from their defaults of 1 and 0
        for p in cell.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return cell


def _mask(cell):
    keep = torch.rand(N, cell.output_size, dtype=F64) > 0.3
    return keep.to(F64) / 0.7


def _alive(lengths=LENGTHS):
    return (torch.arange(L).unsqueeze(1) < torch.tensor(lengths)).unsqueeze(-1)


def _run(scan, cell, x, state, mask, alive):
    """Outputs, final state and the gradients of a fixed projection loss."""
    x_proj = cell.project_input(x)
    out, final = scan(cell, x_proj, state, mask, alive)
    g = torch.Generator().manual_seed(1)
    loss = (out * torch.randn(out.shape, generator=g, dtype=F64)).sum()
    for s in final:
        loss = loss + (s * torch.randn(s.shape, generator=g, dtype=F64)).sum()
    wrt = [x_proj, *state, *(p for p in cell.parameters() if p.requires_grad)]
    grads = torch.autograd.grad(loss, wrt)
    return [out, *final, *grads]


def _close(a, b, tol, what):
    torch.testing.assert_close(a, b, rtol=tol, atol=tol, msg=lambda m: f"{what}: {m}")


# ------------------------------------------------------------------------------------ dispatch
def test_fast_scan_only_for_exact_built_in_types():
    for name in CELLS:
        for ln in (False, True):
            assert fast_scan(_cell(name, ln)) is not None

    class MyLSTM(LSTMCell):
        def step(self, x_proj, state, h_mask=None):
            return super().step(x_proj, state, h_mask)

    class Identity(RecurrentCell):
        input_size, hidden_size, state_sizes = 2, 2, (2,)

        def step(self, x_proj, state, h_mask=None):
            return (x_proj,)

    assert fast_scan(MyLSTM(2, 3)) is None
    assert fast_scan(Identity()) is None
    nonstandard = LSTMCell(2, 3, layer_norm=True)
    nonstandard.ln_c = torch.nn.LayerNorm(3, bias=False)  # not the cell's own LN layout
    assert fast_scan(nonstandard) is None
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast casts op by op
        assert fast_scan(LSTMCell(2, 3)) is None


def test_layers_on_the_cell_path_use_the_fast_scan():
    for layer in (rnn.LSTM(3, 4, fused=False), rnn.GRU(3, 4, layer_norm=True)):
        assert all(fast_scan(cell) is not None for cell in layer.cells)


# --------------------------------------------------------------------- against the step loop
@pytest.mark.parametrize("alive", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("mask", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("layer_norm", [False, True], ids=["plain", "ln"])
@pytest.mark.parametrize("name", list(CELLS))
def test_fast_scan_matches_step_loop(name, layer_norm, mask, alive):
    cell = _cell(name, layer_norm)
    x = torch.randn(L, N, I, dtype=F64)
    state = tuple(torch.randn(N, s, dtype=F64, requires_grad=True) for s in cell.state_sizes)
    m = _mask(cell) if mask else None
    a = _alive() if alive else None
    expected = _run(step_loop, cell, x, state, m, a)
    got = _run(fast_scan(cell), cell, x, state, m, a)
    names = ["output", *(f"final state {i}" for i in range(len(state)))]
    names += ["d x_proj", *(f"d state {i}" for i in range(len(state)))]
    names += [f"d {n}" for n, _ in cell.named_parameters()]
    for e, g, what in zip(expected, got, names, strict=True):
        _close(g, e, 1e-10, what)
    if alive:
        assert torch.all(got[0][~a.expand_as(got[0])] == 0), "outputs past the end are zero"


@pytest.mark.parametrize("layer_norm", [False, True], ids=["plain", "ln"])
@pytest.mark.parametrize("name", ["lstm", "lstm_proj", "gru", "rnn_tanh"])
def test_fast_scan_matches_step_loop_without_bias(name, layer_norm):
    cell = _cell(name, layer_norm, bias=False)
    x = torch.randn(L, N, I, dtype=F64)
    state = tuple(torch.randn(N, s, dtype=F64, requires_grad=True) for s in cell.state_sizes)
    args = (cell, x, state, _mask(cell), _alive())
    for e, g in zip(_run(step_loop, *args), _run(fast_scan(cell), *args), strict=True):
        _close(g, e, 1e-10, name)


@pytest.mark.parametrize("name", ["lstm_proj", "gru", "rnn_tanh"])
def test_frozen_recurrent_weights(name):
    cell = _cell(name, False)
    for p in (cell.weight_hh, getattr(cell, "weight_hr", None)):
        if p is not None:
            p.requires_grad_(False)
    x = torch.randn(L, N, I, dtype=F64)
    state = tuple(torch.randn(N, s, dtype=F64, requires_grad=True) for s in cell.state_sizes)
    args = (cell, x, state, None, _alive())
    for e, g in zip(_run(step_loop, *args), _run(fast_scan(cell), *args), strict=True):
        _close(g, e, 1e-10, name)


def test_backward_twice_with_retain_graph_and_no_double_backward():
    cell = _cell("lstm", True)
    x_proj = cell.project_input(torch.randn(L, N, I, dtype=F64))
    state = cell.initial_state(N, dtype=F64)
    out, _ = fast_scan(cell)(cell, x_proj, state, None, _alive())
    first = torch.autograd.grad(out.sum(), cell.weight_hh, retain_graph=True)[0]
    second = torch.autograd.grad(out.sum(), cell.weight_hh, create_graph=False)[0]
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    out, _ = fast_scan(cell)(cell, x_proj, state, None, None)
    (g,) = torch.autograd.grad(out.sum(), cell.weight_hh, create_graph=True)
    with pytest.raises(RuntimeError):
        g.sum().backward()


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("layer_norm", [False, True], ids=["plain", "ln"])
@pytest.mark.parametrize("options", ["plain", "mask+alive"])
def test_runs_without_grad(name, layer_norm, options):
    """Without autograd (the LSTM then keeps no per-step buffers) outputs and final states are
    those of the step loop, in every option."""
    cell = _cell(name, layer_norm)
    x_proj = cell.project_input(torch.randn(L, N, I, dtype=F64)).detach()
    state = cell.initial_state(N, dtype=F64)
    mask, alive = (_mask(cell), _alive()) if options == "mask+alive" else (None, None)
    with torch.no_grad():
        expected = step_loop(cell, x_proj, state, mask, alive)
    for context in (torch.no_grad, torch.inference_mode):
        with context():
            out, final = fast_scan(cell)(cell, x_proj, state, mask, alive)
        for got, want in zip((out, *final), (expected[0], *expected[1]), strict=True):
            _close(got, want, 1e-10, context.__name__)


# ------------------------------------------------------------------------------------ gradcheck
def _leaf(*shape):
    return torch.randn(*shape, dtype=F64).requires_grad_(True)


def _gain(size):
    return (1 + 0.3 * torch.randn(size, dtype=F64)).requires_grad_(True)


@pytest.mark.parametrize("layer_norm", [False, True], ids=["plain", "ln"])
@pytest.mark.parametrize("proj", [0, 2], ids=["h", "proj"])
def test_gradcheck_lstm(proj, layer_norm):
    n, h = 3, 4
    r = proj or h
    g = (lambda size: _gain(size)) if layer_norm else (lambda size: None)
    inputs = (
        _leaf(4, n, 4 * h),
        _leaf(n, r),
        _leaf(n, h),
        _mask_of(n, r),
        _alive_of([4, 2, 1]),
        _leaf(4 * h, r),
        g(4 * h),
        g(h),
        _leaf(h) if layer_norm else None,
        _leaf(proj, h) if proj else None,
        1e-5,
        1e-5,
    )
    assert torch.autograd.gradcheck(_LSTMScan.apply, inputs)


@pytest.mark.parametrize("layer_norm", [False, True], ids=["plain", "ln"])
def test_gradcheck_gru(layer_norm):
    n, h = 3, 4
    inputs = (
        _leaf(4, n, 3 * h),
        _leaf(n, h),
        _mask_of(n, h),
        _alive_of([4, 2, 1]),
        _leaf(3 * h, h),
        _leaf(3 * h),
        _gain(3 * h) if layer_norm else None,
        1e-5,
    )
    assert torch.autograd.gradcheck(_GRUScan.apply, inputs)


@pytest.mark.parametrize("relu", [False, True], ids=["tanh", "relu"])
@pytest.mark.parametrize("layer_norm", [False, True], ids=["plain", "ln"])
def test_gradcheck_rnn(layer_norm, relu):
    n, h = 3, 4
    inputs = (
        _leaf(4, n, h),
        _leaf(n, h),
        _mask_of(n, h),
        _alive_of([4, 2, 1]),
        _leaf(h, h),
        _gain(h) if layer_norm else None,
        1e-5,
        relu,
    )
    assert torch.autograd.gradcheck(_RNNScan.apply, inputs)


def _mask_of(n, size):
    return (torch.rand(n, size, dtype=F64) > 0.3).to(F64) * 2.0


def _alive_of(lengths):
    return (torch.arange(max(lengths)).unsqueeze(1) < torch.tensor(lengths)).unsqueeze(-1)


# --------------------------------------------------------------- public layers vs torch.nn
LAYERS = {
    "lstm": (rnn.LSTM, torch.nn.LSTM, {}),
    "lstm_proj": (rnn.LSTM, torch.nn.LSTM, {"proj_size": 3}),
    "gru": (rnn.GRU, torch.nn.GRU, {}),
    "rnn_tanh": (rnn.RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (rnn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
}


def _grads(module, x, lengths=None, packed=False):
    """Output (padded), final state, d x and parameter grads under a fixed projection loss."""
    x = x.detach().clone().requires_grad_(True)
    module.zero_grad(set_to_none=True)
    if packed:
        out, state = module(pack_padded_sequence(x, lengths, enforce_sorted=False))
        out, _ = pad_packed_sequence(out, total_length=x.shape[0])
    else:
        out, state = module(x, lengths=lengths) if lengths is not None else module(x)
    state = state if isinstance(state, tuple) else (state,)
    g = torch.Generator().manual_seed(2)
    loss = (out * torch.randn(out.shape, generator=g)).sum()
    for s in state:
        loss = loss + (s * torch.randn(s.shape, generator=g)).sum()
    loss.backward()
    params = {k: p.grad for k, p in module.named_parameters()}
    return out.detach(), [s.detach() for s in state], x.grad, params


@pytest.mark.parametrize("lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("layers,bi", [(1, False), (2, True)], ids=["1x", "2x-bi"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_cell_path_matches_torch_float32(name, layers, bi, lengths):
    ours_cls, torch_cls, extra = LAYERS[name]
    base = torch_cls(I, 8, num_layers=layers, bidirectional=bi, **extra)
    ours = ours_cls(I, 8, num_layers=layers, bidirectional=bi, fused=False, **extra)
    ours.load_state_dict(base.state_dict())
    x = torch.randn(7, 5, I)
    lens = torch.tensor([7, 3, 1, 7, 5]) if lengths else None
    out_t, state_t, dx_t, g_t = _grads(base, x, lens, packed=lengths)
    out_o, state_o, dx_o, _ = _grads(ours, x, lens)
    tol = 1e-5
    _close(out_o, out_t, tol, "output")
    for a, b in zip(state_o, state_t, strict=True):
        _close(a, b, tol, "final state")
    _close(dx_o, dx_t, tol, "d input")
    for key, grad in g_t.items():
        _close(getattr(ours, key).grad, grad, tol, key)
