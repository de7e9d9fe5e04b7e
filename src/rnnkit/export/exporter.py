"""Export a trained run: ONNX (for ONNX Runtime and others) or TorchScript, plus its metadata.

::

    rnnkit export --run runs/digits --format onnx --out digits.onnx
    clf.export("digits.onnx")                        # the same from an estimator

Writes the graph (:mod:`.graphs`: the model with its scaling inside) and, beside it,
``<name>.json``: the task, the inputs and outputs with their shapes, and what a caller needs
around the graph (class names, columns, the vocabulary). ONNX uses the TorchScript-based
exporter at opset 17 with dynamic batch and time axes: the newer exporter (``dynamo=True``)
fixes a bidirectional layer's time axis to the example's length, and does not export packed
sequences. Layers with ``layer_norm`` or ``recurrent_dropout`` run rnnkit's own scans, which do
not export; the exporter says so.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnkit import __version__
from rnnkit.config import ConfigError
from rnnkit.nn import Recurrent

from .graphs import (
    ClassifyGraph,
    ForecastGraph,
    LanguageModelGraph,
    NextRecordsGraph,
    WindowScoreGraph,
)

FORMATS = ("onnx", "torchscript")
OPSET = 17


def export_run(
    run: str | Path, out: str | Path | None = None, format: str = "onnx", checkpoint: str = "best"
) -> Path:
    """Export the model of run directory ``run`` to ``out`` (default ``RUN/model.onnx`` or
    ``RUN/model.pt``); the metadata goes to ``out`` with the suffix ``.json``.

    Args:
        run: the run directory (any task with an export graph: classify, forecast, anomaly, lm).
        out: the file to write.
        format: ``onnx`` or ``torchscript``.
        checkpoint: ``best`` or ``last``.
    """
    from rnnkit.tasks import open_run

    if format not in FORMATS:
        raise ConfigError(f"--format: expected one of {FORMATS}, got {format!r}")
    loaded = open_run(run, checkpoint)
    _check_exportable(loaded.model)
    graph, example, names, axes, meta = _graph_of(loaded)
    graph.eval()
    suffix = ".onnx" if format == "onnx" else ".pt"
    out = Path(out) if out is not None else Path(run) / f"model{suffix}"
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.tmp")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on RNNs with variable lengths
        if format == "onnx":
            torch.onnx.export(
                graph, example, str(partial), dynamo=False, opset_version=OPSET,
                input_names=names["inputs"], output_names=names["outputs"], dynamic_axes=axes,
            )  # fmt: skip
        else:
            torch.jit.trace(graph, example, check_trace=False).save(str(partial))
    partial.replace(out)
    meta.update(
        {
            "format": format,
            "rnnkit_version": __version__,
            "task": loaded.task.name,
            "run": str(Path(run)),
            "inputs": {n: axes_of(n, axes, example, names) for n in names["inputs"]},
            "outputs": names["outputs"],
        }
    )
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    return out


def axes_of(name: str, axes: dict, example: tuple, names: dict) -> dict[str, Any]:
    """An input's shape with its dynamic axes named, and its dtype."""
    tensor = example[names["inputs"].index(name)]
    dims = [axes.get(name, {}).get(i, int(d)) for i, d in enumerate(tensor.shape)]
    return {"shape": dims, "dtype": str(tensor.dtype).removeprefix("torch.")}


def _check_exportable(model: nn.Module) -> None:
    for name, module in model.named_modules():
        if isinstance(module, Recurrent) and not getattr(module, "uses_fused", False):
            raise ConfigError(
                f"{name or 'the model'}: {type(module).__name__} with these options runs only "
                f"rnnkit's own scan (layer_norm, recurrent_dropout, minGRU/minLSTM), which ONNX "
                f"and TorchScript cannot export; train an RNN, LSTM or GRU without layer_norm "
                f"and recurrent_dropout to export"
            )


def _graph_of(run: Any) -> tuple[nn.Module, tuple, dict, dict, dict]:
    """The export graph of a loaded run, an example input, names, dynamic axes, metadata."""
    task, state, config, model = run.task.name, run.state, run.config, run.model
    if task == "classify":
        graph = ClassifyGraph(model, state)
        if state.get("kind") == "image":
            h, w = state["image_shape"]
            x = torch.zeros(2, h, w)
            lengths = torch.full((2,), h if state["mode"] == "rows" else h * w)
        else:
            x = torch.zeros(2, 5, state["num_features"])
            lengths = torch.tensor([5, 3])
        names = {"inputs": ["x", "lengths"], "outputs": ["probabilities"]}
        axes = {
            "x": {0: "batch", 1: "time"},
            "lengths": {0: "batch"},
            "probabilities": {0: "batch"},
        }
        if state.get("kind") == "image":
            axes["x"] = {0: "batch"}
        meta = {"classes": state["classes"], "input_kind": state.get("kind", "sequences")}
        return graph, (x, lengths), names, axes, meta
    if task == "forecast":
        graph = ForecastGraph(model, state)
        L, H = state["lookback"], state["horizon"]
        width = len(state["observed"]) + state["n_known"]
        example = [torch.zeros(2, L, width), torch.zeros(2, dtype=torch.long)]
        names = {"inputs": ["past", "series"], "outputs": ["forecast"]}
        if state["n_known"]:
            example.append(torch.zeros(2, H, state["n_known"]))
            names["inputs"].append("known")
        axes = {n: {0: "batch"} for n in [*names["inputs"], "forecast"]}
        meta = {
            "observed": state["observed"],
            "targets": state["targets"],
            "known_future_columns": state["n_known"],
            "lookback": L,
            "horizon": H,
            "freq": state["freq"],
            "series": list(state["series"]) if "series" in state else None,
            "quantiles": list(config.model.quantiles),
        }
        return graph, tuple(example), names, axes, meta
    if task == "anomaly":
        m = config.model
        C = len(state["columns"])
        if m.method == "forecast":
            graph = NextRecordsGraph(model, state)
            names = {"inputs": ["window"], "outputs": ["next_records"]}
        elif m.method == "autoencoder":
            graph = WindowScoreGraph(model, state, m.center_mode)
            names = {"inputs": ["window"], "outputs": ["score"]}
        else:
            raise ConfigError(
                f"model.method={m.method}: the One-Class SVM / Isolation Forest is a "
                f"scikit-learn model and is not exported; export an autoencoder or forecast run"
            )
        axes = {n: {0: "batch"} for n in [*names["inputs"], *names["outputs"]]}
        meta = {"columns": state["columns"], "window": m.window, "method": m.method,
                "threshold": state.get("threshold")}  # fmt: skip
        return graph, (torch.zeros(2, m.window, C),), names, axes, meta
    if task == "lm":
        graph = LanguageModelGraph(model)
        layers, hidden = config.model.num_layers, config.model.hidden_size
        tokens = torch.zeros(2, 4, dtype=torch.long)
        states = [torch.zeros(layers, 2, hidden)] * (2 if graph.lstm else 1)
        state_names = ["h", "c"][: len(states)]
        names = {"inputs": ["tokens", *state_names],
                 "outputs": ["logits", *(f"next_{n}" for n in state_names)]}  # fmt: skip
        axes = {"tokens": {0: "batch", 1: "time"}, "logits": {0: "batch", 1: "time"}}
        axes |= {n: {1: "batch"} for n in [*state_names, *(f"next_{n}" for n in state_names)]}
        meta = {"vocabulary": state["vocabulary"], "tokenizer": state["tokenizer"]}
        return graph, (tokens, *states), names, axes, meta
    raise ConfigError(f"task {task!r} has no export graph")
