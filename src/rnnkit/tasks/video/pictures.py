"""Pictures of predicted frames: a strip (PNG), an animation (GIF), the error per future frame.

Frames are (T, C, H, W) arrays in [0, 1]; one channel is drawn in grey, three as RGB.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def _image(frame: np.ndarray) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (H, W) or (H, W, 3) uint8."""
    frame = np.clip(frame, 0.0, 1.0)
    img = frame[0] if frame.shape[0] == 1 else np.moveaxis(frame[:3], 0, -1)
    return (img * 255 + 0.5).astype(np.uint8)


def save_strip(
    clips: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], path: Path, title: str = ""
) -> None:
    """Rows of input / truth / prediction frames for each (inputs, truth, prediction) clip."""
    from matplotlib.figure import Figure

    cols = max(max(len(a), len(b), len(c)) for a, b, c in clips)
    rows = 3 * len(clips)
    fig = Figure(figsize=(0.62 * cols + 0.9, 0.62 * rows + (0.35 if title else 0.1)))
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, triple in enumerate(clips):
        for r, (name, frames) in enumerate(zip(("input", "truth", "predicted"), triple)):
            for c in range(cols):
                ax = axes[3 * k + r, c]
                ax.set_xticks([]), ax.set_yticks([])
                for side in ax.spines.values():
                    side.set_visible(False)
                if c < len(frames):
                    ax.imshow(_image(frames[c]), cmap="gray", vmin=0, vmax=255)
                if c == 0:
                    ax.set_ylabel(name, fontsize=7, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title, fontsize=8)
    fig.subplots_adjust(left=0.1, right=0.995, bottom=0.005, top=0.93 if title else 0.995,
                        wspace=0.04, hspace=0.04)  # fmt: skip
    fig.savefig(path, dpi=80)


def save_gif(
    inputs: np.ndarray, truth: np.ndarray, prediction: np.ndarray, path: Path, ms: int = 200
) -> None:
    """An animation: the input frames, then truth (left) beside prediction (right), looped.

    During the input frames both halves show the input; a white bar under the right half marks
    the predicted frames.
    """
    from PIL import Image

    frames = []
    H, W = inputs.shape[-2:]
    for t in range(len(inputs) + len(truth)):
        left = inputs[t] if t < len(inputs) else truth[t - len(inputs)]
        right = inputs[t] if t < len(inputs) else prediction[t - len(inputs)]
        canvas = np.zeros((H + 3, 2 * W + 2), dtype=np.uint8)
        canvas[:H, :W] = _grey(left)
        canvas[:H, W + 2 :] = _grey(right)
        if t >= len(inputs):
            canvas[H + 1 :, W + 2 :] = 255
        frames.append(Image.fromarray(canvas).resize((2 * (2 * W + 2), 2 * (H + 3)), 0))
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=ms, loop=0)


def _grey(frame: np.ndarray) -> np.ndarray:
    img = _image(frame)
    return img if img.ndim == 2 else img.mean(-1).astype(np.uint8)


def plot_per_frame(curves: Mapping[str, Sequence[float]], path: Path, title: str = "") -> None:
    """MSE per future frame, one line per method (model and baselines)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 3.5))
    ax = fig.subplots()
    for name, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=name)
    ax.set_xlabel("future frame")
    ax.set_ylabel("MSE per frame (sum over pixels)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
