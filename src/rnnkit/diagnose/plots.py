"""The diagnostic figures, drawn with matplotlib's object API (no pyplot, no backend switch).

Line styles are the same in every figure: one colour per run and layer, dashed at
initialisation, solid once trained. Values of 0 (a step no gradient reached) are left out of
the log-scale axes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .analysis import Analysis
from .dynamics import Dynamics

STYLE = {"initial": "--", "trained": "-"}
MAX_SERIES = 6  # per model: a decoder run step by step records one series per step


def _positive(values: Sequence[float]) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    return np.where(a > 0, a, np.nan)


def _colours(analyses: Sequence[Analysis]) -> dict[tuple[str, str], str]:
    from matplotlib import colormaps

    palette = colormaps["tab10"].colors
    keys: list[tuple[str, str]] = []
    for a in analyses:
        for s in _shown(a):
            if (a.run, s.label) not in keys:
                keys.append((a.run, s.label))
    return {k: palette[i % len(palette)] for i, k in enumerate(keys)}


def _shown(a: Analysis):
    return [s for s in a.series if len(s.grad_norms) > 1][:MAX_SERIES]


def _log_scale(ax) -> None:
    """A log y axis when anything positive and finite is drawn (a diverged run draws NaN)."""
    drawn = [line.get_ydata() for line in ax.get_lines()]
    if any(np.isfinite(y).any() for y in drawn if len(y)):
        ax.set_yscale("log")


def _finish(fig, ax, path: Path, title: str) -> None:
    _log_scale(ax)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def plot_through_time(analyses: Sequence[Analysis], path: Path, title: str = "") -> None:
    """``||dL/dh_t||`` against the input position t, one line per layer and model state."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    colours = _colours(analyses)
    for a in analyses:
        for s in _shown(a):
            colour = colours[(a.run, s.label)]
            ax.plot(_positive(s.grad_norms), STYLE.get(a.state, "-"), lw=1.2, color=colour,
                    label=f"{a.run} {s.label}, {a.state}")  # fmt: skip
    ax.set_xlabel("input position t")
    ax.set_ylabel("||dL/dh_t|| (over the batch)")
    _finish(fig, ax, path, title or "Gradient of the loss through time")


def plot_jacobian(analyses: Sequence[Analysis], path: Path, title: str = "") -> None:
    """``||dh_T/dh_t||_2`` against the lag T - t: the mean over sequences, and their range."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    colours = _colours(analyses)
    for a in analyses:
        for s in _shown(a):
            if not s.lags:
                continue
            colour = colours[(a.run, s.label)]
            ax.plot(s.lags, _positive(s.sigma_mean), STYLE.get(a.state, "-"), lw=1.2,
                    color=colour, label=f"{a.run} {s.label}, {a.state}")  # fmt: skip
            ax.fill_between(s.lags, _positive(s.sigma_min), _positive(s.sigma_max),
                            color=colour, alpha=0.12, lw=0)  # fmt: skip
    ax.set_xlabel("lag T - t (steps)")
    ax.set_ylabel("||dh_T/dh_t||_2 (power iteration)")
    _finish(fig, ax, path, title or "How far a change of h_t reaches h_T")


def plot_spectrum(analyses: Sequence[Analysis], path: Path, title: str = "") -> None:
    """Singular values of each W_hh gate block, largest first; a line at 1."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    runs = list(dict.fromkeys(a.run for a in analyses))
    fig = Figure(figsize=(4.2 * len(runs) + 1.0, 4.0))
    axes = np.atleast_1d(fig.subplots(1, len(runs), sharey=True, squeeze=False)[0])
    palette = colormaps["tab10"].colors
    for ax, run in zip(axes, runs):
        keys: list[str] = []
        for a in (a for a in analyses if a.run == run):
            for cell, gates in list(a.spectra.items())[:MAX_SERIES]:
                for gate, values in gates.items():
                    key = f"{cell} {gate}" if len(gates) > 1 else cell
                    if key not in keys:
                        keys.append(key)
                    colour = palette[keys.index(key) % 10]
                    ax.plot(range(1, len(values) + 1), values, STYLE.get(a.state, "-"), lw=1.1,
                            color=colour, label=f"{key}, {a.state}")  # fmt: skip
        _log_scale(ax)
        ax.axhline(1.0, color="0.4", lw=0.8)
        ax.set_xlabel("index (largest first)")
        ax.set_title(run, fontsize=9)
        ax.grid(alpha=0.3, which="both", lw=0.5)
        ax.legend(fontsize=6, ncol=2)
    axes[0].set_ylabel("singular value of W_hh")
    fig.suptitle(title or "Spectrum of the recurrent weights", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def plot_dynamics(runs: Mapping[str, Dynamics], path: Path) -> None:
    """Per run (a column): the gradient norm of every step before and after clipping, with
    the threshold; below, the training loss of every step."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.6 * len(runs) + 0.6, 5.4))
    axes = fig.subplots(2, len(runs), sharex="col", sharey="row", squeeze=False)
    for column, (name, d) in enumerate(runs.items()):
        top, bottom = axes[0][column], axes[1][column]
        if d.norm is not None:
            top.plot(d.step, _positive(d.norm), lw=0.6, color="tab:red", label="before clipping")
            if d.clipped_norm is not None and d.clip_norm:
                top.plot(d.step, _positive(d.clipped_norm), lw=0.6, color="tab:blue",
                         label="after clipping")  # fmt: skip
                top.axhline(
                    d.clip_norm, color="0.3", ls=":", lw=1, label=f"clip_norm {d.clip_norm:g}"
                )
            _log_scale(top)
            top.legend(fontsize=7)
        fraction = d.fraction_clipped()
        clipped = (
            "clipped: unknown (clip_value)"
            if fraction is None and d.clip_value
            else f"clipped: {100 * (fraction or 0):.1f}% of steps"
        )
        top.set_title(f"{name}\n{clipped}", fontsize=9)
        bottom.plot(d.step, _positive(d.loss), lw=0.6, color="tab:green")
        broken = np.flatnonzero(~np.isfinite(d.loss))
        if len(broken):
            bottom.axvline(d.step[broken[0]], color="black", ls=":", lw=1,
                           label=f"not finite from step {d.step[broken[0]]}")  # fmt: skip
            bottom.legend(fontsize=7)
        _log_scale(bottom)
        bottom.set_xlabel("optimiser step")
        for ax in (top, bottom):
            ax.grid(alpha=0.3, which="both", lw=0.5)
    axes[0][0].set_ylabel("gradient norm")
    axes[1][0].set_ylabel("training loss")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
