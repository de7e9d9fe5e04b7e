"""The NumPy 2-D ConvLSTM: its hand-written backward against finite differences, and its
im2col convolution against a direct sum over the kernel."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.reference import gradient_errors
from rnnkit.reference.conv_cells import ConvLSTM2d, ConvLSTM2dCell, col2im, conv2d, im2col


def direct_conv(x: np.ndarray, w: np.ndarray, dilation: tuple[int, int]) -> np.ndarray:
    """y[n, g, i, j] = sum_{c, a, b} w[g, c, a, b] x[n, c, i + a d_h - top, j + b d_w - left]."""
    N, C, H, W = x.shape
    G, _, kh, kw = w.shape
    top = dilation[0] * (kh - 1) // 2
    left = dilation[1] * (kw - 1) // 2
    y = np.zeros((N, G, H, W))
    for i in range(H):
        for j in range(W):
            for a in range(kh):
                for b in range(kw):
                    r, s = i + a * dilation[0] - top, j + b * dilation[1] - left
                    if 0 <= r < H and 0 <= s < W:
                        y[:, :, i, j] += x[:, :, r, s] @ w[:, :, a, b].T
    return y


@pytest.mark.parametrize(
    ("kernel", "dilation"), [((3, 3), (1, 1)), ((2, 3), (2, 1)), ((4, 1), (1, 3))]
)
def test_im2col_convolution_is_the_direct_sum(kernel, dilation):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 5, 6))
    w = rng.normal(size=(4, 3, *kernel))
    y, _ = conv2d(x, w, dilation)
    np.testing.assert_allclose(y, direct_conv(x, w, dilation), rtol=1e-12, atol=1e-12)


def test_col2im_is_the_adjoint_of_im2col():
    """<im2col(x), D> = <x, col2im(D)> for random x and D."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 5, 4))
    d = rng.normal(size=(2, 3 * 2 * 3, 5 * 4))
    lhs = np.sum(im2col(x, (2, 3), (1, 2)) * d)
    rhs = np.sum(x * col2im(d, x.shape, (2, 3), (1, 2)))
    assert abs(lhs - rhs) < 1e-10 * abs(lhs)


@pytest.mark.parametrize(
    "options",
    [{}, {"peephole": True}, {"peephole": True, "frame_size": (4, 5), "kernel_size": (2, 3)},
     {"bias": False, "dilation": 2}],
)  # fmt: skip
def test_cell_backward_matches_finite_differences(options):
    cell = ConvLSTM2dCell(2, 3, seed=0, **options)
    rng = np.random.default_rng(2)
    for p in cell.params.values():  # peepholes too (they start at any value here)
        p[...] = rng.uniform(-0.5, 0.5, size=p.shape)
    x = rng.normal(size=(2, 2, 4, 5))
    h0 = (rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(2, 3, 4, 5)))
    errors = gradient_errors(cell, x, h0)
    assert set(errors) == {"x", "h0", "c0", *cell.params}
    assert max(errors.values()) < 1e-6, errors


def test_layer_bptt_matches_finite_differences():
    layer = ConvLSTM2d(2, 2, 3, peephole=True, seed=3)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 2, 2, 4, 4))  # (L, N, C_in, H, W)
    h0 = (rng.normal(size=(2, 2, 4, 4)), rng.normal(size=(2, 2, 4, 4)))
    errors = gradient_errors(layer, x, h0)
    assert max(errors.values()) < 1e-6, errors


def test_bad_shapes_name_the_argument():
    cell = ConvLSTM2dCell(2, 3)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 2, H, W\)"):
        cell.forward(np.zeros((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"state \(c\) must have shape"):
        cell.forward(np.zeros((2, 2, 4, 4)), (np.zeros((2, 3, 4, 4)), np.zeros((2, 3, 4, 5))))
    with pytest.raises(ValueError, match="lengths must be None"):
        ConvLSTM2d(2, 3).forward(np.zeros((2, 1, 2, 4, 4)), lengths=[1])
