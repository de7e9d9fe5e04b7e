"""One model, one batch: gradients through time, Jacobian norms and W_hh spectra together.

:func:`analyse` runs the model's loss once with every recurrent layer recording
(:func:`~.through_time.gradients_through_time`), then measures ``||dh_T/dh_t||_2`` at a spread
of lags for a few sequences of each recorded layer and direction
(:func:`~.jacobian.jacobian_norms`), and takes the singular values of every cell's W_hh
(:func:`~.jacobian.recurrent_spectrum`). The result is plain numbers, ready for tables, plots
and JSON.

Two kinds of forward call are folded: a layer run one step per call (a decoder that feeds each
output back) gives one series over its calls, ``dL/dh_t`` at each call t (the state passed from
call to call carries the gradient back, so each is still the total derivative; no Jacobian
norms, which would need the calls' other inputs); and calls that the loss does not depend on
at all (a greedy decode run beside the loss) are named in ``unreached`` instead of drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from torch import Tensor, nn

from rnnkit.nn import Recurrent

from .jacobian import jacobian_norms, lags_to_measure, recurrent_spectrum
from .through_time import Steps, cell_label, gradients_through_time


@dataclass
class SeriesResult:
    """One layer and direction in one forward call (see :class:`~.through_time.Steps`).

    Attributes:
        label: e.g. ``"rnn l0 fwd"``.
        grad_norms: ``||dL/dh_t||`` at each input position t (norm over the batch).
        lags: T - t for the Jacobian norms; ``sigma_mean``/``sigma_min``/``sigma_max``: the
            mean, least and largest ``||dh_T/dh_t||_2`` over the measured sequences.
        iterations, converged: of the power iteration.
        calls: how many one-step forward calls the series joins (1: one call over the sequence).
    """

    label: str
    grad_norms: list[float]
    calls: int = 1
    lags: list[int] = field(default_factory=list)
    sigma_mean: list[float] = field(default_factory=list)
    sigma_min: list[float] = field(default_factory=list)
    sigma_max: list[float] = field(default_factory=list)
    iterations: int = 0
    converged: bool = True


@dataclass
class Analysis:
    """Everything measured on one model (``state``: ``"initial"`` or ``"trained"``).

    ``spectra`` maps each cell with a W_hh matrix (``"rnn l0 fwd"``) to its gate blocks'
    singular values; ``unreached`` labels the recorded calls no gradient reached.
    """

    run: str
    state: str
    loss: float
    series: list[SeriesResult]
    spectra: dict[str, dict[str, list[float]]]
    unreached: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def analyse(
    model: nn.Module,
    loss_of: Callable[[nn.Module], Tensor],
    *,
    run: str = "",
    state: str = "trained",
    samples: int = 4,
    points: int = 16,
    iterations: int = 20,
    tol: float = 1e-3,
    seed: int = 0,
) -> Analysis:
    """Measure ``model`` on the loss ``loss_of(model)`` (see the module docstring).

    Args:
        samples: sequences (the first ones of the batch) whose Jacobian norms are measured.
        points: lags per layer and direction (spread evenly over 0 .. L-1).
        iterations, tol: of the power iteration; seed: of its start vectors.
        run, state: names carried into the result.
    """
    loss, steps = gradients_through_time(model, loss_of)
    series: list[SeriesResult] = []
    stepwise: dict[tuple[str, int, int], SeriesResult] = {}
    unreached = []
    for s in steps:
        norms = s.grad_norms()
        if not bool((norms > 0).any()):
            unreached.append(s.label)
        elif s.length == 1:  # one step per call: joined over the calls
            key = (s.module, s.layer, s.direction)
            if key not in stepwise:
                label = f"{cell_label(s.module, s.record.cell)} l{s.layer} "
                stepwise[key] = SeriesResult(label + ("bwd" if s.direction else "fwd"), [], 0)
                series.append(stepwise[key])
            stepwise[key].grad_norms += norms.tolist()
            stepwise[key].calls += 1
        else:
            series.append(_with_jacobian(s, norms, samples, points, iterations, tol, seed))
    for result in stepwise.values():
        result.label += f", {result.calls} one-step call" + ("s" if result.calls > 1 else "")
    spectra = {}
    for name, module in model.named_modules():
        if isinstance(module, Recurrent):
            for i, cell in enumerate(module.cells):
                k, d = divmod(i, module.num_directions)
                found = recurrent_spectrum(cell)
                if found:
                    spectra[f"{cell_label(name, cell)} l{k} {'bwd' if d else 'fwd'}"] = found
    return Analysis(run, state, loss, series, spectra, unreached)


def _with_jacobian(
    s: Steps, norms: Tensor, samples: int, points: int, iterations: int, tol: float, seed: int
) -> SeriesResult:
    """One call's series: its gradient norms, and Jacobian norms at ``points`` lags."""
    rows = list(range(min(samples, s.record.x_proj.shape[1])))
    found = jacobian_norms(s.record, lags_to_measure(s.length, points), rows, iterations, tol, seed)
    return SeriesResult(
        s.label,
        norms.tolist(),
        lags=found.lags,
        sigma_mean=found.sigma.mean(1).tolist(),
        sigma_min=found.sigma.min(1).values.tolist(),
        sigma_max=found.sigma.max(1).values.tolist(),
        iterations=found.iterations,
        converged=found.converged,
    )
