"""ConvLSTM and ConvGRU: three implementations agree, and the layer features work over frames.

The oracles: the NumPy reference (im2col, hand-written backward) for the 2-D ConvLSTM cell, and
an unrolled loop of plain ``torch.nn.functional.conv{1,2,3}d`` calls, one per gate and term
(no hoisting, no stacked kernels), for every cell, dimension and option. Float64, 1e-10.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rnnkit.nn as rnn
from rnnkit.reference.conv_cells import ConvLSTM2d, ConvLSTM2dCell

# the oracle uses torch's padding="same", which warns about its copy for even kernels
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
TOL = 1e-10
CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _randomise(module: torch.nn.Module, seed: int = 0) -> None:
    """Every parameter ~ U(-0.5, 0.5), so zero-initialised biases and peepholes count too."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.rand(p.shape, generator=g, dtype=p.dtype) - 0.5)


def _gate(x, w, k, C, dims, dilation):
    """Gate k's term of one convolution, with its own slice of the stacked kernel."""
    return CONV[dims](x, w[k * C : (k + 1) * C], padding="same", dilation=dilation)


def unrolled_lstm(cell: rnn.ConvLSTMCell, x: torch.Tensor, h, c):
    """The paper's equations over (L, N, C_in, *S), four gates as separate convolutions."""
    C, d, dil = cell.hidden_size, cell.spatial_dims, cell.dilation
    p = dict(cell.named_parameters())
    view = (-1,) + (1,) * d
    outputs = []
    for x_t in x:
        a = []
        for k in range(4):
            term = _gate(x_t, p["weight_ih"], k, C, d, dil) + _gate(h, p["weight_hh"], k, C, d, dil)
            if cell.bias:
                term = term + (p["bias_ih"] + p["bias_hh"])[k * C : (k + 1) * C].view(view)
            a.append(term)
        if cell.peephole:
            a[0], a[1] = a[0] + p["weight_ci"] * c, a[1] + p["weight_cf"] * c
        i, f, g = torch.sigmoid(a[0]), torch.sigmoid(a[1]), torch.tanh(a[2])
        c = f * c + i * g
        o = torch.sigmoid(a[3] + p["weight_co"] * c if cell.peephole else a[3])
        h = o * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs), (h, c)


def unrolled_gru(cell: rnn.ConvGRUCell, x: torch.Tensor, h):
    C, d, dil = cell.hidden_size, cell.spatial_dims, cell.dilation
    p = dict(cell.named_parameters())
    outputs = []
    for x_t in x:
        b_i, b_h = (p[name].view(3, C, *([1] * d)) for name in ("bias_ih", "bias_hh"))
        gi = [_gate(x_t, p["weight_ih"], k, C, d, dil) + b_i[k] for k in range(3)]
        gh = [_gate(h, p["weight_hh"], k, C, d, dil) + b_h[k] for k in range(3)]
        r, z = torch.sigmoid(gi[0] + gh[0]), torch.sigmoid(gi[1] + gh[1])
        n = torch.tanh(gi[2] + r * gh[2])
        h = (1 - z) * n + z * h
        outputs.append(h)
    return torch.stack(outputs), h


def _grads(outputs, inputs, seed=1):
    """d(sum_j <out_j, R_j>) / d inputs for fixed random R_j."""
    g = torch.Generator().manual_seed(seed)
    loss = sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in outputs)
    return torch.autograd.grad(loss, inputs)


LSTM_CASES = [
    # dims, kernel, dilation, bias, peephole, frame_size
    (2, 3, 1, True, False, None),
    (2, (2, 3), (2, 1), True, True, None),  # even kernel: "same" pads unevenly
    (2, 3, 1, False, True, (5, 6)),  # Shi et al.'s per-position peepholes
    (1, 4, 1, True, True, None),
    (3, (3, 1, 2), 1, True, False, None),
]


@pytest.mark.parametrize("input_conv", ["per-step", "hoisted"])
@pytest.mark.parametrize(("dims", "kernel", "dilation", "bias", "peephole", "frame"), LSTM_CASES)
def test_convlstm_layer_matches_unrolled_convolutions(
    dims, kernel, dilation, bias, peephole, frame, input_conv
):
    """Both places of the input convolution (one [x_t, h] convolution per step, or W_ih * x
    hoisted out of the loop) against the per-gate loop: outputs, states, every gradient."""
    S = frame or (5, 6, 4)[:dims]
    layer = rnn.ConvLSTM(2, 3, kernel, dims, bias=bias, dilation=dilation, peephole=peephole,
                         frame_size=frame, input_conv=input_conv, dtype=torch.float64)  # fmt: skip
    assert layer.cells[0].per_step(torch.device("cpu")) == (input_conv == "per-step")
    _randomise(layer)
    x = torch.randn(4, 3, 2, *S, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 3, 3, *S, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn_like(h0, requires_grad=True)
    out, (h_n, c_n) = layer(x, (h0, c0))
    ref_out, (ref_h, ref_c) = unrolled_lstm(layer.cells[0], x, h0[0], c0[0])
    for a, b in ((out, ref_out), (h_n[0], ref_h), (c_n[0], ref_c)):
        torch.testing.assert_close(a, b, rtol=TOL, atol=TOL)
    params = list(layer.parameters())
    ours = _grads([out, h_n[0], c_n[0]], [x, h0, c0, *params])
    theirs = _grads([ref_out, ref_h, ref_c], [x, h0, c0, *params])
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=TOL, atol=TOL)


@pytest.mark.parametrize(("dims", "kernel", "dilation"), [(1, 3, 2), (2, (3, 2), 1), (3, 3, 1)])
def test_convgru_layer_matches_unrolled_convolutions(dims, kernel, dilation):
    S = (5, 6, 4)[:dims]
    layer = rnn.ConvGRU(2, 3, kernel, dims, dilation=dilation, dtype=torch.float64)
    _randomise(layer)
    x = torch.randn(4, 2, 2, *S, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 2, 3, *S, dtype=torch.float64, requires_grad=True)
    out, h_n = layer(x, h0)
    ref_out, ref_h = unrolled_gru(layer.cells[0], x, h0[0])
    torch.testing.assert_close(out, ref_out, rtol=TOL, atol=TOL)
    torch.testing.assert_close(h_n[0], ref_h, rtol=TOL, atol=TOL)
    params = list(layer.parameters())
    for a, b in zip(_grads([out, h_n[0]], [x, h0, *params]),
                    _grads([ref_out, ref_h], [x, h0, *params]), strict=True):  # fmt: skip
        torch.testing.assert_close(a, b, rtol=TOL, atol=TOL)


@pytest.mark.parametrize(("kernel", "dilation", "peephole", "frame", "input_conv"), [
    (3, 1, False, None, "auto"), ((2, 3), (1, 2), True, None, "hoisted"),
    (3, 2, True, (5, 6), "per-step"),
])  # fmt: skip
def test_convlstm_matches_the_numpy_reference(kernel, dilation, peephole, frame, input_conv):
    """Outputs, final states and every gradient over 4 steps: torch layer vs NumPy BPTT."""
    layer = rnn.ConvLSTM(2, 3, kernel, 2, dilation=dilation, peephole=peephole,
                         frame_size=frame, input_conv=input_conv, dtype=torch.float64)  # fmt: skip
    _randomise(layer)
    ref = ConvLSTM2d(2, 3, kernel, dilation=dilation, peephole=peephole, frame_size=frame)
    ref.load_state_dict(layer.cells[0].state_dict())
    x = torch.randn(4, 2, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 2, 3, 5, 6, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn_like(h0, requires_grad=True)
    out, (h_n, c_n) = layer(x, (h0, c0))
    ref_out, (ref_h, ref_c) = ref.forward(
        x.detach().numpy(), (h0[0].detach().numpy(), c0[0].detach().numpy())
    )
    for a, b in ((out, ref_out), (h_n[0], ref_h), (c_n[0], ref_c)):
        np.testing.assert_allclose(a.detach().numpy(), b, rtol=TOL, atol=TOL)
    g = torch.Generator().manual_seed(3)
    R, S_h, S_c = (torch.randn(t.shape, generator=g, dtype=t.dtype) for t in (out, h_n, c_n))
    ((out * R).sum() + (h_n * S_h).sum() + (c_n * S_c).sum()).backward()
    dx, grads = ref.backward(R.numpy(), (S_h[0].numpy(), S_c[0].numpy()))
    np.testing.assert_allclose(dx, x.grad.numpy(), rtol=TOL, atol=TOL)
    np.testing.assert_allclose(ref.d_h0, h0.grad[0].numpy(), rtol=TOL, atol=TOL)
    np.testing.assert_allclose(ref.d_c0, c0.grad[0].numpy(), rtol=TOL, atol=TOL)
    for name, p in layer.cells[0].named_parameters():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=TOL, atol=TOL, err_msg=name)


def test_reference_cell_step_matches_the_torch_cell():
    cell = rnn.ConvLSTMCell(2, 3, 3, peephole=True, dtype=torch.float64)
    _randomise(cell)
    ref = ConvLSTM2dCell(2, 3, 3, peephole=True)
    ref.load_state_dict(cell.state_dict())
    x, h, c = (torch.randn(2, k, 4, 4, dtype=torch.float64) for k in (2, 3, 3))
    for a, b in zip(cell(x, (h, c)), ref.forward(x.numpy(), (h.numpy(), c.numpy()))):
        np.testing.assert_allclose(a.detach().numpy(), b, rtol=TOL, atol=TOL)


def _layers(make, **kwargs):
    a = make(**kwargs)
    b = make(**kwargs)
    b.load_state_dict(a.state_dict())
    return a, b


def test_lengths_match_running_each_clip_alone():
    """A padded batch with lengths: each clip's outputs and final states equal its own run;
    outputs past its end are zero. Both directions, two layers."""
    make = lambda: rnn.ConvLSTM(2, 3, 3, 2, num_layers=2, bidirectional=True,  # noqa: E731
                                batch_first=True, dtype=torch.float64)  # fmt: skip
    layer = make()
    x = torch.randn(3, 5, 2, 4, 4, dtype=torch.float64)
    lengths = torch.tensor([5, 2, 3])
    out, (h_n, c_n) = layer(x, lengths=lengths)
    for n, T in enumerate(lengths.tolist()):
        alone, (h1, c1) = layer(x[n : n + 1, :T])
        torch.testing.assert_close(out[n, :T], alone[0], rtol=TOL, atol=TOL)
        assert torch.count_nonzero(out[n, T:]) == 0
        torch.testing.assert_close(h_n[:, n], h1[:, 0], rtol=TOL, atol=TOL)
        torch.testing.assert_close(c_n[:, n], c1[:, 0], rtol=TOL, atol=TOL)


def test_reverse_direction_reads_the_flipped_clip():
    bi = rnn.ConvGRU(2, 3, 3, 2, bidirectional=True, dtype=torch.float64)
    fwd = rnn.ConvGRU(2, 3, 3, 2, dtype=torch.float64)
    fwd.cells[0].load_state_dict(bi.cells[1].state_dict())
    x = torch.randn(4, 2, 2, 5, 5, dtype=torch.float64)
    out, h_n = bi(x)
    rev, h_rev = fwd(x.flip(0))
    torch.testing.assert_close(out[:, :, 3:], rev.flip(0), rtol=TOL, atol=TOL)  # channels 3..5
    torch.testing.assert_close(h_n[1], h_rev[0], rtol=TOL, atol=TOL)


def test_chunks_with_carried_state_equal_the_whole_clip():
    """Truncated BPTT's forward: 6 steps in chunks of 2, state carried, equal one 6-step run."""
    layer = rnn.ConvLSTM(1, 2, 3, 1, num_layers=2, dtype=torch.float64)
    x = torch.randn(6, 2, 1, 7, dtype=torch.float64)
    whole, final = layer(x)
    state, pieces = None, []
    for chunk in x.split(2):
        out, state = layer(chunk, state)
        pieces.append(out)
    torch.testing.assert_close(torch.cat(pieces), whole, rtol=TOL, atol=TOL)
    for a, b in zip(state, final):
        torch.testing.assert_close(a, b, rtol=TOL, atol=TOL)


def test_step_mode_equals_the_layer():
    layer = rnn.ConvLSTM(2, 3, 3, 2, dtype=torch.float64)
    cell = layer.cells[0]
    x = torch.randn(3, 2, 2, 4, 4, dtype=torch.float64)
    out, _ = layer(x)
    state = None
    for t in range(3):
        state = cell(x[t], state)
        torch.testing.assert_close(state[0], out[t], rtol=TOL, atol=TOL)


@pytest.mark.parametrize("norm", ["layer", "group"])
def test_norm_standardises_each_group_per_clip(norm):
    """With gains 1, the normalised input term of each gate group has mean 0 and variance 1
    over its channels and positions (a check of F.group_norm's grouping: no group spans two
    gates)."""
    cell = rnn.ConvLSTMCell(2, 4, 3, norm=norm, norm_groups=2, bias=False, dtype=torch.float64)
    x = torch.randn(3, 2, 6, 6, dtype=torch.float64)
    term = cell.project_input(x)  # (3, 16, 6, 6)
    groups = 1 if norm == "layer" else 4 * 2
    blocks = term.reshape(3, groups, -1)
    torch.testing.assert_close(blocks.mean(-1), torch.zeros(3, groups, dtype=torch.float64),
                               atol=1e-12, rtol=0)  # fmt: skip
    torch.testing.assert_close(
        blocks.var(-1, unbiased=False),
        torch.ones(3, groups, dtype=torch.float64),
        atol=1e-4,
        rtol=0,
    )


def test_recurrent_dropout_drops_whole_channels_once_per_clip():
    cell = rnn.ConvLSTMCell(2, 8, 3, recurrent_dropout=0.5)
    mask = cell.recurrent_dropout_mask(4)
    assert mask.shape == (4, 8, 1, 1)
    assert set(mask.unique().tolist()) <= {0.0, 2.0}
    cell.eval()
    assert cell.recurrent_dropout_mask(4) is None


def test_forget_gate_bias_starts_at_one():
    cell = rnn.ConvLSTMCell(2, 3, 3)
    assert cell.bias_ih[3:6].tolist() == [1.0, 1.0, 1.0]
    assert cell.bias_ih[:3].abs().sum() == 0 and cell.bias_hh.abs().sum() == 0


@pytest.mark.parametrize(
    ("make", "call", "message"),
    [
        (lambda: rnn.ConvLSTM(2, 3), lambda m: m(torch.randn(4, 3, 2)), "input must be 5-D"),
        (lambda: rnn.ConvLSTM(2, 3), lambda m: m(torch.randn(4, 3, 1, 5, 5)), "1 features"),
        (lambda: rnn.ConvLSTM(2, 3, dims=1), lambda m: m(torch.randn(3, 2, 2, 5, 5)),
         "cells with 1 spatial"),
        (lambda: rnn.ConvLSTM(2, 3), lambda m: m(torch.randn(0, 3, 2, 5, 5)), "sequence length 0"),
        (lambda: rnn.ConvLSTM(2, 3),
         lambda m: m(torch.randn(4, 3, 2, 5, 5), (torch.zeros(1, 3, 3, 4, 4),) * 2), "h_0"),
        (lambda: rnn.ConvLSTMCell(2, 3, peephole=True, frame_size=(5, 5)),
         lambda m: m(torch.randn(2, 2, 6, 6)), r"frame_size=\(5, 5\)"),
        (lambda: rnn.ConvLSTMCell(2, 3), lambda m: m(torch.randn(2, 6)), "input must be 4-D"),
        (lambda: rnn.ConvGRUCell(2, 3),
         lambda m: m(torch.randn(2, 2, 6, 6), torch.zeros(2, 3, 5, 6)), r"hx \(h\) must have"),
    ],
)  # fmt: skip
def test_bad_inputs_name_the_argument(make, call, message):
    with pytest.raises(ValueError, match=message):
        call(make())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dims": 4}, "dims must be 1, 2 or 3"),
        ({"kernel_size": (3, 3, 3)}, "kernel_size must be"),
        ({"kernel_size": 0}, "kernel_size must be"),
        ({"dilation": (1,)}, "dilation must be"),
        ({"norm": "batch"}, "norm must be"),
        ({"norm": "group", "norm_groups": 2}, "norm_groups=2 must divide hidden_channels=3"),
        ({"frame_size": (4, 4)}, "frame_size sizes the peephole"),
        ({"recurrent_dropout": 1.0}, "recurrent_dropout"),
        ({"input_conv": "fused"}, "input_conv must be 'auto', 'hoisted' or 'per-step'"),
        ({"input_conv": "per-step", "norm": "layer"}, "norm='layer' normalises the two terms"),
    ],
)
def test_bad_options_name_the_option(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rnn.ConvLSTMCell(2, 3, **kwargs)


def test_make_conv_encoder_builds_by_name():
    layer = rnn.make_conv_encoder("convgru", 1, 4, 3, dims=2, num_layers=2)
    out, h = layer(torch.randn(2, 3, 1, 6, 6))  # batch first by default
    assert out.shape == (2, 3, 4, 6, 6) and h.shape == (2, 2, 4, 6, 6)
    with pytest.raises(ValueError, match="cell must be one of"):
        rnn.make_conv_encoder("lstm", 1, 4)
