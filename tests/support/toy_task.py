"""A toy task written against the task protocol alone: is a sequence's mean positive?

Registered by tests (``tests/cli/test_protocol.py``) to show that a task gets ``train``,
``evaluate``, ``predict`` and ``config`` from the command line with no code of its own there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.config import Section, option
from rnnkit.data import TensorBatches
from rnnkit.train import Context, Inputs, OptimConfig, Step, Task, TaskData, TrainConfig


@dataclass(frozen=True)
class ToyData(Section):
    """How many random sequences to make."""

    n: int = option(300, "sequences per split", low=10)
    steps: int = option(6, "steps per sequence", low=1)


@dataclass(frozen=True)
class ToyConfig:
    """A toy task: is a sequence's mean positive?"""

    data: ToyData = ToyData()
    optim: OptimConfig = OptimConfig(lr=3e-2)
    train: TrainConfig = TrainConfig(epochs=3, batch_size=32, progress=False)


def _batches(x: np.ndarray) -> TensorBatches:
    x = torch.as_tensor(x, dtype=torch.float32)
    return TensorBatches({"x": x, "y": (x.mean(dim=(1, 2)) > 0).long()}, time_keys=())


class ToyTask(Task[ToyConfig]):
    name = "toy"
    config_class = ToyConfig
    maximize = frozenset({"accuracy"})
    headline = ("loss", "accuracy")

    def load_data(self, config: ToyConfig) -> TaskData:
        rng = np.random.default_rng(0)
        d = config.data
        x = [rng.normal(size=(d.n, d.steps, 1)) for _ in range(3)]
        return TaskData(*map(_batches, x), state={"steps": d.steps})

    def build_model(self, config: ToyConfig, state: Mapping[str, Any]) -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(state["steps"], 2))

    def step(self, model: nn.Module, batch: dict[str, Tensor], state: Any = None) -> Step:
        logits = model(batch["x"])
        return Step(F.cross_entropy(logits, batch["y"]), {"right": logits.argmax(1) == batch["y"]})

    def metrics(self, outputs: dict[str, Tensor], ctx: Context) -> dict[str, Any]:
        return {"accuracy": float(outputs["right"].float().mean())}

    def predict(self, model: nn.Module, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return {"positive": model(batch["x"]).argmax(1)}

    def read_inputs(self, path: Path, config: ToyConfig, state: Mapping[str, Any]) -> Inputs:
        x = np.loadtxt(path, delimiter=",", ndmin=2)[:, :, None]
        return Inputs(_batches(x), names=[f"row{i}" for i in range(len(x))])

    def write_predictions(
        self, path: Path, predictions: dict[str, Tensor], inputs: Inputs, ctx: Context
    ) -> int:
        lines = [f"{n},{int(p)}" for n, p in zip(inputs.names, predictions["positive"])]
        Path(path).write_text("name,positive\n" + "\n".join(lines) + "\n")
        return len(lines)


TASK = ToyTask()
