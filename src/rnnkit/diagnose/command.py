"""``rnnkit diagnose``: gradients through time and training dynamics of any task's run.

For a run it rebuilds the model twice — with the weights the run started from (the run's
seed, as ``rnnkit.train.fit`` draws them) and with its trained checkpoint — takes one batch of
the run's own data, and for each recurrent layer and direction measures ``||dL/dh_t||`` at every
step, ``||dh_T/dh_t||_2`` at a spread of lags, and the singular values of W_hh; from
``steps.csv`` it draws the gradient norm of every training step before and after clipping.
Everything goes into the run directory (or ``--out``): four PNG figures, ``diagnose.json`` and
``gradients_through_time.csv``. It runs one forward and backward per model, not a training loop.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from rnnkit.config import ConfigError, resolve
from rnnkit.nn import Recurrent
from rnnkit.tasks import get_task, open_run
from rnnkit.train import RunDir, Task
from rnnkit.train.loading import eval_batches
from rnnkit.train.rundir import write_json

from .analysis import Analysis, analyse
from .dynamics import Dynamics, read_dynamics
from .plots import plot_dynamics, plot_jacobian, plot_spectrum, plot_through_time

FILES = {
    "through_time": "gradients_through_time.png",
    "jacobian": "jacobian_norms.png",
    "spectrum": "recurrent_spectrum.png",
    "dynamics": "training_dynamics.png",
}


def diagnose(
    run: Path | None = None,
    compare: Path | None = None,
    task: str | None = None,
    config: Path | None = None,
    out: Path | None = None,
    checkpoint: Literal["best", "last"] = "best",
    split: Literal["validation", "test", "train"] = "validation",
    batch: int = 32,
    samples: int = 4,
    points: int = 16,
    iterations: int = 20,
    seed: int = 0,
    precision: Literal["float64", "float32"] = "float64",
) -> str:
    """Gradients through time, Jacobian norms, W_hh spectra and training dynamics of a run.

    Args:
        run: a run directory of any task: its model at initialisation and trained.
        compare: a second run drawn in the same figures (e.g. another cell, or no clipping).
        task: without --run: a task whose freshly initialised model is measured.
        config: with --task: a YAML file of settings (e.g. model.cell: rnn).
        out: where the figures and tables go [default: the run directory].
        checkpoint: the trained weights to load.
        split: the data split the batch is taken from (the first sequences).
        batch: sequences in the batch.
        samples: sequences whose Jacobian norms are measured.
        points: lags at which Jacobian norms are measured.
        iterations: power iterations at most per Jacobian norm.
        seed: seed of the power iteration's start vectors.
        precision: float64 keeps vanishing gradients visible down to 1e-308 (float32 stops
            at 1e-38).
    """
    started = time.perf_counter()
    if (run is None) == (task is None):
        raise ConfigError("give either --run DIR or --task NAME")
    if config is not None and task is None:
        raise ConfigError("--config goes with --task (a run brings its own settings)")
    for name, value in (("batch", batch), ("samples", samples), ("points", points),
                        ("iterations", iterations)):  # fmt: skip
        if value < 1:
            raise ConfigError(f"--{name} must be >= 1, got {value}")
    dtype = torch.float64 if precision == "float64" else torch.float32
    options = dict(samples=samples, points=points, iterations=iterations, seed=seed)
    threads = torch.get_num_threads()
    # one thread: these are many small steps, and on a busy machine a second thread mostly waits
    torch.set_num_threads(1)
    try:
        analyses, dynamics, target = _measure(run, compare, task, config, out, checkpoint,
                                              split, batch, dtype, options)  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    target.mkdir(parents=True, exist_ok=True)
    written = _write(target, analyses, dynamics)
    took = time.perf_counter() - started
    return _table(analyses, dynamics) + f"\nwrote {', '.join(written)} to {target} ({took:.1f} s)"


def _measure(
    run: Path | None,
    compare: Path | None,
    task: str | None,
    config: Path | None,
    out: Path | None,
    checkpoint: str,
    split: str,
    batch: int,
    dtype: torch.dtype,
    options: dict,
) -> tuple[list[Analysis], dict[str, Dynamics], Path]:
    analyses: list[Analysis] = []
    dynamics: dict[str, Dynamics] = {}
    if run is not None:
        target = Path(out) if out is not None else Path(run)
        for path in [Path(run)] + ([Path(compare)] if compare is not None else []):
            found, moves = _measure_run(path, checkpoint, split, batch, dtype, options)
            analyses += found
            if moves is not None:
                dynamics[path.name] = moves
    else:
        if out is None:
            raise ConfigError("--task needs --out DIR for the figures")
        target = Path(out)
        the_task = get_task(task)
        settings = resolve(the_task.config_class, config)
        model, source = _initial(the_task, settings, split)
        b = _first_rows(source, batch, dtype)
        analyses.append(_analyse(the_task, model, b, dtype, task, "initial", options))
    return analyses, dynamics, target


def _measure_run(
    path: Path, checkpoint: str, split: str, rows: int, dtype: torch.dtype, options: dict
) -> tuple[list[Analysis], Dynamics | None]:
    loaded = open_run(path, prefer=checkpoint)
    initial, source = _initial(loaded.task, loaded.config, split)
    b = _first_rows(source, rows, dtype)
    found = [
        _analyse(loaded.task, initial, b, dtype, path.name, "initial", options),
        _analyse(loaded.task, loaded.model, b, dtype, path.name, "trained", options),
    ]
    steps = RunDir(path).read_steps()
    moves = read_dynamics(steps, loaded.config.optim) if steps else None
    return found, moves


def _initial(task: Task, config: Any, split: str) -> tuple[nn.Module, Any]:
    """The model as training started (``fit`` seeds, loads the data, builds the model) and
    the batches of ``split`` (the next split that exists when it does not)."""
    torch.manual_seed(config.train.seed)
    data = task.load_data(config)
    model = task.build_model(config, data.state)
    order = {"validation": ("validation", "test", "train"), "test": ("test", "validation", "train")}
    for name in order.get(split, (split,)):
        if data.split(name) is not None:
            return model, data.split(name)
    raise ConfigError(f"--split {split}: the data has no such split")


def _first_rows(source: Any, rows: int, dtype: torch.dtype) -> dict[str, Tensor]:
    """The first ``rows`` sequences of the first batch the engine would evaluate."""
    batch, _ = next(eval_batches(source, rows))
    return {
        k: (v[:rows].to(dtype) if v.is_floating_point() else v[:rows])
        if isinstance(v, Tensor)
        else v
        for k, v in batch.items()
    }


def _analyse(
    task: Task,
    model: nn.Module,
    batch: dict[str, Tensor],
    dtype: torch.dtype,
    run: str,
    state: str,
    options: dict,
) -> Analysis:
    if not any(isinstance(m, Recurrent) for m in model.modules()):
        raise ValueError(f"{run}: the model holds no rnnkit.nn recurrent layer to diagnose")
    model = model.to(dtype).eval()
    return analyse(model, lambda m: task.step(m, batch).loss, run=run, state=state, **options)


def _write(target: Path, analyses: list[Analysis], dynamics: dict[str, Dynamics]) -> list[str]:
    plot_through_time(analyses, target / FILES["through_time"])
    plot_jacobian(analyses, target / FILES["jacobian"])
    written = [FILES["through_time"], FILES["jacobian"]]
    if any(a.spectra for a in analyses):  # minimal and convolutional cells have no W_hh matrix
        plot_spectrum(analyses, target / FILES["spectrum"])
        written.append(FILES["spectrum"])
    if dynamics:
        plot_dynamics(dynamics, target / FILES["dynamics"])
        written.append(FILES["dynamics"])
    report = {
        "analyses": [a.to_dict() for a in analyses],
        "dynamics": {name: d.summary() for name, d in dynamics.items()},
    }
    write_json(target / "diagnose.json", report)
    with (target / "gradients_through_time.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["run", "state", "series", "position", "grad_norm"])
        for a in analyses:
            for s in a.series:
                for t, g in enumerate(s.grad_norms):
                    out.writerow([a.run, a.state, s.label, t, repr(g)])
    return [*written, "diagnose.json", "gradients_through_time.csv"]


def _table(analyses: list[Analysis], dynamics: dict[str, Dynamics]) -> str:
    """The headline numbers: dL/dh_t at five positions, ||dh_T/dh_t||_2 at four lags,
    the largest singular value of each W_hh gate block, and the training dynamics."""
    lines = []
    for a in analyses:
        lines.append(f"{a.run} ({a.state}): loss {a.loss:.4g}")
        for s in a.series:
            L = len(s.grad_norms)
            marks = sorted({0, L // 4, L // 2, (3 * L) // 4, L - 1})
            grads = "  ".join(f"t={t}: {s.grad_norms[t]:.2e}" for t in marks)
            lines.append(f"  {s.label}  ||dL/dh_t||  {grads}")
            if s.lags:
                picks = sorted({min(s.lags, key=lambda k: abs(k - want)) for want in
                                (1, L // 4, L // 2, L - 1)})  # fmt: skip
                jac = "  ".join(f"T-t={k}: {s.sigma_mean[s.lags.index(k)]:.2e}" for k in picks)
                lines.append(f"  {s.label}  ||dh_T/dh_t||_2  {jac}")
        for cell, gates in a.spectra.items():
            tops = "  ".join(f"{g}: {v[0]:.3f}" for g, v in gates.items() if v)
            lines.append(f"  {cell}  largest singular value of W_hh  {tops}")
        if a.unreached:
            shown = ", ".join(a.unreached[:3]) + (", ..." if len(a.unreached) > 3 else "")
            lines.append(f"  no gradient reached {len(a.unreached)} recorded call(s): {shown}")
    for name, d in dynamics.items():
        s = d.summary()
        fraction = s.get("fraction_clipped")
        clipped = "unknown (clip_value)" if fraction is None else f"{100 * fraction:.1f}%"
        if "norm_median" in s:
            bad = f" ({s['nonfinite_steps']} not finite)" if s["nonfinite_steps"] else ""
            lines.append(
                f"{name}: {s['steps']} steps, gradient norm median {s['norm_median']:.3g}, "
                f"max {s['norm_max']:.3g}{bad}, steps clipped {clipped}, loss "
                f"{s.get('first_loss', float('nan')):.4g} -> {s.get('last_loss', float('nan')):.4g}"
            )
    return "\n".join(lines)
