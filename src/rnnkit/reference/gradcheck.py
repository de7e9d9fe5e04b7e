"""Finite-difference checks of the hand-written backward passes.

``check_gradients`` forms the scalar loss ``sum(output * R) + sum(state_i * S_i)`` with fixed
random R and S (so every output and final state gets a gradient), runs the module's own
``backward`` with ``d_output = R`` and ``d_state = S``, and compares the result with central
differences for the input, every parameter and (when given) the initial state.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from rnnkit.reference.cells import Cell
from rnnkit.reference.layers import Recurrent
from rnnkit.reference.params import to_array


def numerical_gradient(f: Callable[[], float], array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences ``(f(a + eps) - f(a - eps)) / 2 eps`` for every entry of ``array``.

    ``array`` is modified in place, one entry at a time, and restored; ``f`` takes no arguments
    and must read ``array`` (e.g. a model parameter or an input that ``f`` closes over).
    """
    grad = np.zeros_like(array, dtype=np.float64)
    for index in np.ndindex(array.shape):
        old = array[index]
        array[index] = old + eps
        f_plus = f()
        array[index] = old - eps
        f_minus = f()
        array[index] = old
        grad[index] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray, floor: float = 1e-8) -> float:
    """max |a - n| / max(max |a|, max |n|, floor): one number per array, robust to tiny entries."""
    scale = max(
        float(np.max(np.abs(analytic), initial=0.0)),
        float(np.max(np.abs(numeric), initial=0.0)),
        floor,
    )
    return float(np.max(np.abs(analytic - numeric), initial=0.0)) / scale


def _as_tuple(state) -> tuple:
    return tuple(state) if isinstance(state, tuple) else (state,)


def gradient_errors(
    model: Recurrent | Cell,
    x: ArrayLike,
    h0: ArrayLike | tuple | None = None,
    lengths: ArrayLike | None = None,
    seed: int = 0,
    eps: float = 1e-6,
) -> dict[str, float]:
    """Relative error of ``model.backward`` against finite differences, per array.

    ``model`` is a reference layer (``forward(x, h0, lengths) -> (output, state)``) or a cell
    (``forward(x, state) -> new_state``; ``lengths`` must then be None). Keys: ``"x"``, every
    parameter name, and ``"h0"`` / ``"c0"`` when an initial state is given.
    """
    is_cell = isinstance(model, Cell)
    if is_cell and lengths is not None:
        raise ValueError("lengths must be None when model is a cell")
    x = to_array(x)
    initial = None if h0 is None else tuple(to_array(s) for s in _as_tuple(h0))

    def run():
        state = None if initial is None else (initial if len(initial) > 1 else initial[0])
        if is_cell:
            return None, _as_tuple(model.forward(x, state))
        output, final = model.forward(x, state, lengths)
        return output, _as_tuple(final)

    output, final = run()  # also leaves the caches that backward reads below
    rng = np.random.default_rng(seed)
    R = None if output is None else rng.standard_normal(output.shape)
    S = tuple(rng.standard_normal(s.shape) for s in final)

    def loss() -> float:
        out, fin = run()
        total = sum(float(np.sum(s * w)) for s, w in zip(fin, S, strict=True))
        return total + (0.0 if out is None else float(np.sum(out * R)))

    d_state = S if len(S) > 1 else S[0]
    if is_cell:
        dx, d_initial, grads = model.backward(d_state)
        d_initial = _as_tuple(d_initial)
    else:
        dx, grads = model.backward(R, d_state)
        d_initial = (model.d_h0, getattr(model, "d_c0", None))

    errors = {"x": relative_error(dx, numerical_gradient(loss, x, eps))}
    for name, value in model.params.items():
        errors[name] = relative_error(grads[name], numerical_gradient(loss, value, eps))
    for name, s, d in zip(("h0", "c0"), initial or (), d_initial, strict=False):
        errors[name] = relative_error(d, numerical_gradient(loss, s, eps))
    return errors


def check_gradients(
    model: Recurrent | Cell,
    x: ArrayLike,
    h0: ArrayLike | tuple | None = None,
    lengths: ArrayLike | None = None,
    seed: int = 0,
    eps: float = 1e-6,
) -> float:
    """The largest relative error over :func:`gradient_errors` (float64: expect below ~1e-6)."""
    return max(gradient_errors(model, x, h0, lengths, seed, eps).values())
