"""``video``: next-frame prediction and clip classification with convolutional recurrent cells.

``data.mode frames``: read ``data.input_frames`` frames, predict the next
``data.output_frames`` (Moving MNIST by default; :class:`~.model.EncoderForecaster`). Loss:
binary cross-entropy or mean squared error per pixel. Metrics (:mod:`.frame_metrics`): MSE and
MAE per frame (summed over pixels) and SSIM, for the model and for two baselines, copying the
last input frame and predicting empty frames; per future frame too. The report writes, per
evaluated split, ``frames_{split}.png`` (input / truth / prediction), ``frames_{split}.gif``
and ``per_frame_{split}.png``.

``data.mode clips``: one class per clip (the motion set by default): ConvLSTM, CNN + LSTM, or a
CNN per frame (``model.kind``); metrics as ``classify`` (accuracy, F1, confusion matrix).

Shapes: N clips, T (L) frames, C channels, H x W pixels, K classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data import DataError
from rnnkit.data.clips import read_clips
from rnnkit.train import Context, Inputs, Step, Task, TaskData, classification_metrics
from rnnkit.train.plots import plot_confusion

from .config import PRESETS, VideoConfig
from .data import (
    check_frame_shape,
    frame_batches,
    from_file,
    generated,
    labelled_batches,
)
from .frame_metrics import frame_scores, summarise
from .model import build, clip_probabilities
from .pictures import plot_per_frame, save_gif, save_strip

PREVIEWS = 3  # clips drawn in the report's strip


def _float(x: Tensor, model: nn.Module) -> Tensor:
    """Frames in [0, 1] in the model's dtype (uint8 frames are divided by 255)."""
    dtype = next(model.parameters()).dtype
    return x.to(dtype).div_(255.0) if x.dtype == torch.uint8 else x.to(dtype)


class VideoTask(Task[VideoConfig]):
    """Frame prediction and clip classification over clips of frames."""

    name = "video"
    config_class = VideoConfig
    maximize = frozenset({"accuracy", "f1", "ssim"})
    headline = ("loss", "mse", "mae", "ssim", "copy_last_mse", "accuracy")
    aliases = {"data": "data.path", "data-dir": "data.data_dir", "mode": "data.mode"}
    presets = PRESETS
    search_space = {"optim.lr": {"low": 3e-4, "high": 3e-3, "log": True}}

    def load_data(self, config: VideoConfig) -> TaskData:
        d = config.data
        train, val, test, state = from_file(config) if d.path else generated(config)
        state.update(mode=d.mode, input_frames=d.input_frames, output_frames=d.output_frames)
        return TaskData(train, val, test, state)

    def build_model(self, config: VideoConfig, state: Mapping[str, Any]) -> nn.Module:
        frame = tuple(state["frame_shape"])
        if state["mode"] == "frames":
            sizes = (state["input_frames"], state["output_frames"])
            return build(config.model, "frames", frame, sizes)
        return build(config.model, "clips", frame, (len(state["classes"]),))

    # ------------------------------------------------------------------------------- one batch
    def step(self, model: nn.Module, batch: dict[str, Tensor], state: Any = None) -> Step:
        if "frames" in batch:
            return self._frames_step(model, batch)
        return self._clips_step(model, batch)

    def _frames_step(self, model: nn.Module, batch: dict[str, Tensor]) -> Step:
        """Loss of the predicted frames; in evaluation also every per-frame score, and one
        clip per batch (input, truth, prediction as uint8) for the report's pictures."""
        x = _float(batch["frames"], model)
        T_in, T_out = model.in_frames, model.out_frames
        if x.shape[1] < T_in + T_out:
            raise DataError(
                f"clips have {x.shape[1]} frames: scoring a prediction needs {T_in} to read and "
                f"the {T_out} after them"
            )
        inputs, target = x[:, :T_in], x[:, T_in : T_in + T_out]
        logits = model(inputs)
        if model.loss == "mse":
            loss = F.mse_loss(torch.sigmoid(logits), target)
        else:
            loss = F.binary_cross_entropy_with_logits(logits, target)
        if model.training:
            return Step(loss)
        pred = torch.sigmoid(logits)
        outputs = frame_scores(inputs, pred, target)
        preview = torch.cat([inputs[:1], target[:1], pred[:1]], dim=1)  # (1, T_in + 2 T_out, ...)
        outputs["preview"] = (preview * 255 + 0.5).clamp(0, 255).to(torch.uint8)
        return Step(loss, outputs)

    def _clips_step(self, model: nn.Module, batch: dict[str, Tensor]) -> Step:
        if "y" not in batch:
            raise DataError("video: these clips have no labels to compute a loss with")
        x, lengths, y = _float(batch["clips"], model), batch["lengths"], batch["y"]
        logits = model(x, lengths)
        if logits.dim() == 3:  # a CNN per frame: every real frame carries its clip's label
            alive = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]
            per = F.cross_entropy(logits.transpose(1, 2), y[:, None].expand(-1, x.shape[1]),
                                  reduction="none")  # fmt: skip
            loss = (per * alive).sum() / alive.sum()
        else:
            loss = F.cross_entropy(logits, y)
        probs = clip_probabilities(logits.detach(), lengths)
        return Step(loss, {"probs": probs, "target": y})

    # ------------------------------------------------------------------------------ evaluation
    def metrics(self, outputs: dict[str, Tensor], ctx: Context) -> dict[str, Any]:
        if "probs" in outputs:
            probs = outputs["probs"]
            return classification_metrics(probs.argmax(1), outputs["target"], probs.shape[1])
        return summarise(outputs)

    def report(self, outputs: dict[str, Tensor], metrics: dict[str, Any], ctx: Context) -> None:
        if ctx.run_dir is None or ctx.split == "train":
            return
        if "probs" in outputs:
            labels = [str(c) for c in ctx.state["classes"]]
            title = f"{ctx.split}: accuracy {metrics['accuracy']:.4f}"
            plot_confusion(metrics["confusion"], labels, ctx.run_dir / f"confusion_{ctx.split}.png",
                           title)  # fmt: skip
            return
        write_frame_pictures(outputs["preview"], ctx.state, metrics, ctx.run_dir, ctx.split)

    # ------------------------------------------------------------------------------ prediction
    def predict(self, model: nn.Module, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        if "frames" in batch:
            x = _float(batch["frames"], model)
            return {"frames": torch.sigmoid(model(x[:, : model.in_frames]))}
        logits = model(_float(batch["clips"], model), batch["lengths"])
        return {"probs": clip_probabilities(logits, batch["lengths"])}

    def read_inputs(self, path: Path, config: VideoConfig, state: Mapping[str, Any]) -> Inputs:
        """Clips of a user's file (the ``x``, else ``x_test``, ``x_val``, ``x_train`` array).

        frames mode: ``predict`` reads each clip's first ``input_frames`` frames; ``evaluate``
        also compares the next ``output_frames`` with the prediction (so needs them). clips
        mode: whole clips (with ``y`` for ``evaluate``).
        """
        splits = read_clips(path)
        name = next(s for s in ("", "test", "val", "train") if s in splits)
        clips = splits[name]
        where = f"{path}: x{'_' + name if name else ''}"
        check_frame_shape(clips, state, where)
        if state["mode"] == "clips":
            return Inputs(labelled_batches(clips, state["classes"], where))
        T_in, T_out = state["input_frames"], state["output_frames"]
        if int(clips.lengths.min()) < T_in:
            i = int(np.argmin(clips.lengths))
            raise DataError(
                f"{where}: clip {i} has {int(clips.lengths[i])} frames; the model reads {T_in}"
            )
        keep = T_in + T_out if int(clips.lengths.min()) >= T_in + T_out else T_in
        return Inputs(frame_batches(clips.x[:, :keep]))

    def write_predictions(
        self, path: Path, predictions: dict[str, Tensor], inputs: Inputs, ctx: Context
    ) -> int:
        if "frames" in predictions:
            frames = (predictions["frames"].numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
            with Path(path).open("wb") as f:  # a handle: savez would append .npz to the name
                np.savez_compressed(f, frames=frames)
            return len(frames)
        classes = ctx.state["classes"]
        probs = predictions["probs"].numpy()
        with Path(path).open("w") as f:
            f.write(",".join(["index", "prediction", "confidence", *(f"p_{c}" for c in classes)]))
            f.write("\n")
            for i, p in enumerate(probs):
                k = int(p.argmax())
                row = [str(i), str(classes[k]), f"{p[k]:.6f}", *(f"{v:.6f}" for v in p)]
                f.write(",".join(row) + "\n")
        return len(probs)


def write_frame_pictures(
    previews: Tensor, state: Mapping[str, Any], metrics: dict[str, Any], out: Path, split: str
) -> None:
    """The strip, the GIF and the per-frame MSE plot of one evaluated split."""
    T_in, T_out = state["input_frames"], state["output_frames"]
    clips = []
    for p in previews[:PREVIEWS].float().div(255.0).numpy():
        clips.append((p[:T_in], p[T_in : T_in + T_out], p[T_in + T_out :]))
    title = (
        f"{split}: MSE {metrics['mse']:.1f}, SSIM {metrics['ssim']:.3f} "
        f"(copy last frame: MSE {metrics['copy_last_mse']:.1f})"
    )
    save_strip(clips, out / f"frames_{split}.png", title)
    save_gif(*clips[0], out / f"frames_{split}.gif")
    curves = {
        "model": metrics["mse_per_frame"],
        "copy last frame": metrics["copy_last_mse_per_frame"],
        "zeros": metrics["zeros_mse_per_frame"],
    }
    plot_per_frame(curves, out / f"per_frame_{split}.png", title)


TASK = VideoTask()
