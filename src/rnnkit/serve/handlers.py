"""What each task's server takes and returns: request checks, batch runs, responses.

A handler turns one request into one *item* (refusing what does not fit with
:class:`RequestError`, which names the field: a 422 answer), runs a batch of items through the
model in one call, and turns each result into its response. The model's preprocessing is the
exported graphs' (:mod:`rnnkit.export.graphs`), so a server, an ONNX file and the run compute
the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, Field

from rnnkit.export.graphs import ClassifyGraph, ForecastGraph


class RequestError(Exception):
    """A request that does not fit the model; ``field`` is its path, e.g. ``sequences[2][5]``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _finite(values: np.ndarray, field: str) -> None:
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        where = "".join(f"[{i}]" for i in bad[0])
        raise RequestError(f"{field}{where}", "not a finite number (NaN or infinity)")


def _matrix(rows: list, field: str, width: int, min_rows: int, max_rows: int) -> np.ndarray:
    """A (rows, width) float array from nested lists, every fault named with its index."""
    if not min_rows <= len(rows) <= max_rows:
        raise RequestError(field, f"needs {min_rows} to {max_rows} rows, got {len(rows)}")
    out = np.empty((len(rows), width))
    for t, row in enumerate(rows):
        row = [row] if isinstance(row, (int, float)) else row
        if len(row) != width:
            raise RequestError(f"{field}[{t}]", f"needs {width} values, got {len(row)}")
        out[t] = row
    _finite(out, field)
    return out


class ClassifyRequest(BaseModel):
    sequences: list[list[list[float] | float]] = Field(
        min_length=1, description="sequences of steps; each step holds the model's features"
    )


class ClassifyHandler:
    request = ClassifyRequest

    def __init__(self, run: Any, max_length: int) -> None:
        self.state, self.max_length = run.state, max_length
        self.graph = ClassifyGraph(run.model, run.state).eval()
        self.image = run.state.get("kind") == "image"
        self.width = run.state["image_shape"][1] if self.image else run.state["num_features"]

    def item(self, request: ClassifyRequest) -> list[np.ndarray]:
        low = self.state["image_shape"][0] if self.image else 1
        high = low if self.image else self.max_length
        return [
            _matrix(seq, f"sequences[{i}]", self.width, low, high)
            for i, seq in enumerate(request.sequences)
        ]

    def run(self, items: Sequence[list[np.ndarray]]) -> list[Any]:
        seqs = [s for item in items for s in item]
        lengths = torch.tensor([len(s) for s in seqs])
        x = torch.zeros(len(seqs), int(lengths.max()), self.width)
        for i, s in enumerate(seqs):
            x[i, : len(s)] = torch.from_numpy(s)
        if self.image:
            lengths = torch.full_like(lengths, self._steps())
        with torch.no_grad():
            probs = self.graph(x, lengths).numpy()
        out, start = [], 0
        for item in items:
            out.append(probs[start : start + len(item)])
            start += len(item)
        return out

    def _steps(self) -> int:
        h, w = self.state["image_shape"]
        return h if self.state["mode"] == "rows" else h * w

    def response(self, probs: np.ndarray) -> dict[str, Any]:
        classes = self.state["classes"]
        return {
            "predictions": [
                {
                    "label": classes[int(p.argmax())],
                    "confidence": float(p.max()),
                    "probabilities": {str(c): float(v) for c, v in zip(classes, p)},
                }
                for p in probs
            ]
        }

    def metadata(self) -> dict[str, Any]:
        return {
            "inputs": {"sequences": f"list of sequences of steps of {self.width} numbers"},
            "outputs": {"predictions": "label, confidence and probabilities per sequence"},
            "classes": self.state["classes"],
        }


class ForecastRequest(BaseModel):
    past: list[list[float] | float] = Field(description="the last `lookback` rows")
    series: str | None = Field(None, description="the series' id (a model of several series)")
    known: list[list[float] | float] | None = Field(None, description="known-future rows")


class ForecastHandler:
    request = ForecastRequest

    def __init__(self, run: Any, max_length: int) -> None:
        self.state, self.quantiles = run.state, tuple(run.config.model.quantiles)
        self.graph = ForecastGraph(run.model, run.state).eval()
        self.ids = list(run.state["series"]) if "series" in run.state else None
        self.width = len(run.state["observed"]) + run.state["n_known"]

    def item(self, request: ForecastRequest) -> dict[str, Any]:
        L, H, k = self.state["lookback"], self.state["horizon"], self.state["n_known"]
        past = _matrix(request.past, "past", self.width, L, L)
        series = 0
        if self.ids is not None:
            if request.series not in self.ids:
                raise RequestError("series", f"one of the model's series {self.ids[:10]} is needed")
            series = self.ids.index(request.series)
        known = None
        if k:
            if request.known is None:
                raise RequestError("known", f"the model needs {H} rows of {k} known values")
            known = _matrix(request.known, "known", k, H, H)
        return {"past": past, "series": series, "known": known}

    def run(self, items: Sequence[dict[str, Any]]) -> list[np.ndarray]:
        past = torch.as_tensor(np.stack([i["past"] for i in items]), dtype=torch.float32)
        series = torch.tensor([i["series"] for i in items])
        known = None
        if self.state["n_known"]:
            known = torch.as_tensor(np.stack([i["known"] for i in items]), dtype=torch.float32)
        with torch.no_grad():
            return list(self.graph(past, series, known).double().numpy())

    def response(self, y: np.ndarray) -> dict[str, Any]:
        out: dict[str, Any] = {}
        point = y[..., self.quantiles.index(0.5)] if self.quantiles else y
        for c, name in enumerate(self.state["targets"]):
            out[name] = point[:, c].tolist()
            for j, q in enumerate(self.quantiles):
                out[f"{name}_q{q:g}"] = y[:, c, j].tolist()
        return {"forecast": out}

    def metadata(self) -> dict[str, Any]:
        return {
            "inputs": {
                "past": f"{self.state['lookback']} rows of {self.width} numbers: "
                f"{self.state['observed']} (then the known-future covariates)",
                "series": self.ids,
                "known": f"{self.state['horizon']} rows" if self.state["n_known"] else None,
            },
            "outputs": {"forecast": f"{self.state['horizon']} steps of {self.state['targets']}"},
        }


class WindowRequest(BaseModel):
    window: list[list[float] | float] = Field(description="the records up to the one scored")


class AnomalyHandler:
    request = WindowRequest

    def __init__(self, run: Any, max_length: int) -> None:
        from rnnkit.tasks.anomaly import Detector

        self.detector = Detector.from_state(run.model, run.config, run.state)
        self.max_length = max_length
        threshold = self.detector.threshold
        self.level = getattr(threshold, "value", None)  # static thresholds only

    def item(self, request: WindowRequest) -> np.ndarray:
        context, width = self.detector.context, len(self.detector.columns)
        window = _matrix(request.window, "window", width, context, max(context, self.max_length))
        return window[-context:]

    def run(self, items: Sequence[np.ndarray]) -> list[float]:
        return self.detector.window_scores(np.stack(items)).tolist()

    def response(self, score: float) -> dict[str, Any]:
        flag = None if self.level is None else bool(score > self.level)
        return {"score": score, "threshold": self.level, "flag": flag}

    def metadata(self) -> dict[str, Any]:
        return {
            "inputs": {
                "window": f"at least {self.detector.context} rows of {list(self.detector.columns)}"
            },  # fmt: skip
            "outputs": {"score": "the last record's score (unsmoothed)", "threshold": self.level},
        }


class GenerateRequest(BaseModel):
    prompt: str = Field("", max_length=10_000)
    length: int = Field(100, ge=0)
    temperature: float = Field(1.0, ge=0.0, allow_inf_nan=False)
    top_k: int | None = Field(None, ge=1)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    seed: int | None = None


class GenerateHandler:
    request = GenerateRequest
    max_batch = 1  # each request samples on its own

    def __init__(self, run: Any, max_length: int) -> None:
        from rnnkit.data.text import Tokenizer, Vocabulary

        self.run_, self.max_length = run, max_length
        self.tokenizer = Tokenizer.from_dict(run.state["tokenizer"])
        self.vocab = Vocabulary.from_dict(run.state["vocabulary"])

    def item(self, request: GenerateRequest) -> GenerateRequest:
        from rnnkit.tasks.lm import encode_prompt

        if request.length > self.max_length:
            raise RequestError("length", f"at most {self.max_length} tokens, got {request.length}")
        try:
            encode_prompt(request.prompt, self.tokenizer, self.vocab)
        except ValueError as error:
            raise RequestError("prompt", str(error)) from None
        return request

    def run(self, items: Sequence[GenerateRequest]) -> list[str]:
        from rnnkit.tasks.lm import generate_text

        return [
            generate_text(
                self.run_.model,
                self.tokenizer,
                self.vocab,
                r.prompt,
                r.length,
                r.temperature,
                r.top_k,
                r.top_p,
                r.seed,
            )  # fmt: skip
            for r in items
        ]

    def response(self, text: str) -> dict[str, Any]:
        return {"text": text}

    def metadata(self) -> dict[str, Any]:
        return {
            "inputs": {"prompt": "text", "length": f"at most {self.max_length} tokens"},
            "outputs": {"text": "the prompt and what follows"},
            "level": self.tokenizer.level,
        }


HANDLERS = {
    "classify": ClassifyHandler,
    "forecast": ForecastHandler,
    "anomaly": AnomalyHandler,
    "lm": GenerateHandler,
}
