"""Jacobian norms by power iteration against torch.linalg.matrix_norm(J, 2) of the product
formed explicitly (autograd.functional.jacobian of the steps t+1..T, one sequence at a time)."""

from __future__ import annotations

import pytest
import torch

import rnnkit.nn as rnn
from rnnkit.diagnose import jacobian_norms, power_iteration, recurrent_spectrum
from rnnkit.diagnose.jacobian import lags_to_measure

F64 = torch.float64
L, N, I, H = 9, 3, 2, 4


def test_power_iteration_finds_the_spectral_norm():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(6, 5, 7, generator=g, dtype=F64)  # 6 maps from R^7 to R^5
    A[0] = 0.0  # and the zero map
    A[1] *= 1e-200  # tiny values keep their scale in float64
    v0 = torch.randn(6, 7, generator=g, dtype=F64)
    sigma, used = power_iteration(
        lambda v: torch.einsum("bmn,bn->bm", A, v),
        lambda u: torch.einsum("bmn,bm->bn", A, u),
        v0,
        iterations=2000,
        tol=1e-14,
    )
    expected = torch.linalg.matrix_norm(A, 2)
    torch.testing.assert_close(sigma, expected, rtol=1e-10, atol=0)
    assert used < 2000


def _explicit(record, lag, n):
    """||dh_T/dh_t||_2 of sequence n from the Jacobian formed by autograd (c_t held fixed)."""
    cell, x = record.cell, record.x_proj[:, n : n + 1]
    alive = None if record.alive is None else record.alive[:, n : n + 1]
    state = tuple(s[n : n + 1] for s in record.initial)

    def step(s, state):
        new = cell.step(x[s], state, None)
        return (
            new if alive is None else tuple(torch.where(alive[s], a, b) for a, b in zip(new, state))
        )

    t = L - 1 - lag
    with torch.no_grad():
        for s in range(t + 1):
            state = step(s, state)

    def final_h(h_t):
        s_ = (h_t, *state[1:])
        for s in range(t + 1, L):
            s_ = step(s, s_)
        return s_[0]

    J = torch.autograd.functional.jacobian(final_h, state[0])[0, :, 0, :]
    return torch.linalg.matrix_norm(J, 2)


# The minimal cells' step Jacobians are diagonal, so their top two singular values can lie close
# together and power iteration needs hundreds of iterations to reach 1e-8: every cell runs on
# padded sequences (the masked path) by default, full ones for the cheap cells only.
CASES = [(kind, "padded") for kind in sorted(rnn.ENCODERS)] + [
    pytest.param(kind, "full", marks=[pytest.mark.slow] if kind not in ("lstm", "rnn") else [])
    for kind in sorted(rnn.ENCODERS)
]


@pytest.mark.parametrize(("kind", "batch"), CASES)
def test_jacobian_norms_match_the_formed_product(kind, batch):
    lengths = [9, 5, 7] if batch == "padded" else None
    torch.manual_seed(3)
    layer = rnn.make_encoder(kind, I, H, batch_first=False, bidirectional=True).to(F64)
    with torch.no_grad():  # weights large enough that the norms neither vanish nor stay at 1
        for p in layer.parameters():
            p.mul_(2.5)
    x = torch.randn(L, N, I, dtype=F64)
    with layer.recording() as record:
        layer(x, lengths=None if lengths is None else torch.tensor(lengths))
    lags = [0, 1, 4, 8]
    for entry in record.calls[0]:  # forward and reverse direction
        found = jacobian_norms(entry, lags, iterations=500, tol=1e-13, seed=1)
        assert found.converged and found.sigma.shape == (len(lags), N)
        expected = torch.tensor([[_explicit(entry, k, n) for n in range(N)] for k in lags])
        torch.testing.assert_close(found.sigma, expected.to(F64), rtol=1e-8, atol=1e-12)
        assert (found.sigma[0] == 1.0).all()  # lag 0: dh_T/dh_T is the identity


def test_jacobian_norms_of_chosen_rows_and_bad_lags():
    layer = rnn.make_encoder("rnn", I, H, batch_first=False).to(F64)
    with layer.recording() as record:
        layer(torch.randn(L, N, I, dtype=F64))
    entry = record.calls[0][0]
    every = jacobian_norms(entry, [2, 5], iterations=300, tol=1e-13)
    some = jacobian_norms(entry, [2, 5], rows=[2, 0], iterations=300, tol=1e-13)
    torch.testing.assert_close(some.sigma, every.sigma[:, [2, 0]], rtol=1e-8, atol=0)
    with pytest.raises(ValueError, match=r"lags must lie in \[0, 8\]"):
        jacobian_norms(entry, [9])


def test_lags_spread_over_the_sequence():
    assert lags_to_measure(5, 16) == [0, 1, 2, 3, 4]
    lags = lags_to_measure(200, 16)
    assert lags[0] == 0 and lags[-1] == 199 and len(lags) == 16 and lags == sorted(set(lags))


def test_recurrent_spectrum_names_each_gate_block():
    cell = rnn.LSTMCell(3, 4)
    spectrum = recurrent_spectrum(cell)
    assert list(spectrum) == list("ifgo")
    for gate, block in zip("ifgo", cell.weight_hh.detach().double().split(4)):
        assert spectrum[gate][0] == pytest.approx(float(torch.linalg.matrix_norm(block, 2)))
        assert spectrum[gate] == sorted(spectrum[gate], reverse=True)
    assert list(recurrent_spectrum(rnn.GRUCell(3, 4))) == list("rzn")
    assert list(recurrent_spectrum(rnn.RNNCell(3, 4))) == ["h"]
