"""The HTTP application of ``rnnkit serve``: FastAPI over one trained run.

Endpoints: ``GET /health`` (``{"status": "ok"}`` once the model is loaded), ``GET /metadata``
(task, version, run, inputs and outputs, limits, batching counters) and ``POST /predict`` (the
task's request, see :mod:`.handlers`). A malformed request is answered 4xx with a message that
names the field (422), a body over the size limit 413, a body without a length 411, a full
queue 503 with ``Retry-After``; concurrent requests are batched (:mod:`.batching`).

FastAPI (with uvicorn) rather than LitServe: request validation and error bodies come from its
pydantic models, it adds no process model of its own, and the micro-batching it lacks is the
forty lines of :mod:`.batching`.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoint's request type at runtime.

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from rnnkit import __version__

from .batching import BusyError, MicroBatcher
from .handlers import HANDLERS, RequestError


@dataclass(frozen=True)
class Limits:
    """What the server accepts.

    Attributes:
        max_batch: requests run in one model call.
        max_wait_ms: how long a batch waits to fill after its first request.
        max_queue: requests waiting at most; more are answered 503.
        max_request_bytes: the largest request body (413 above it).
        max_length: the longest sequence, window or generated text (in steps or tokens).
    """

    max_batch: int = 32
    max_wait_ms: float = 5.0
    max_queue: int = 256
    max_request_bytes: int = 1 << 20
    max_length: int = 2000


def create_app(run_dir: str | Path, limits: Limits = Limits()) -> FastAPI:
    """The application serving the run in ``run_dir`` (its best checkpoint)."""
    from rnnkit.tasks import open_run

    run = open_run(run_dir)
    if run.task.name not in HANDLERS:
        raise ValueError(f"{run_dir}: task {run.task.name!r} has no server")
    handler = HANDLERS[run.task.name](run, limits.max_length)
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batch = min(limits.max_batch, getattr(handler, "max_batch", limits.max_batch))
        batcher = MicroBatcher(handler.run, batch, limits.max_wait_ms / 1000, limits.max_queue)
        batcher.start()
        state["batcher"] = batcher
        yield
        await batcher.stop()  # graceful: what is queued is answered first

    app = FastAPI(title=f"rnnkit {run.task.name}", version=__version__, lifespan=lifespan)

    @app.middleware("http")
    async def bounded_body(request: Request, call_next):
        if request.method == "POST":
            length = request.headers.get("content-length")
            if length is None:
                return _error(411, "body", "the request needs a Content-Length header")
            if not length.isdigit() or int(length) > limits.max_request_bytes:
                return _error(413, "body", f"the body is {length} bytes; the limit is "
                              f"{limits.max_request_bytes}")  # fmt: skip
        return await call_next(request)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metadata")
    async def metadata() -> dict[str, Any]:
        batcher = state["batcher"]
        return {
            "task": run.task.name,
            "version": __version__,
            "run": str(run_dir),
            **handler.metadata(),
            "limits": limits.__dict__,
            "batching": {"batches": batcher.batches, "requests": batcher.items},
        }

    async def predict(body: handler.request):  # type: ignore[name-defined]
        try:
            item = handler.item(body)
        except RequestError as error:
            return _error(422, error.field, error.message)
        try:
            result = await state["batcher"].submit(item)
        except BusyError as error:
            return JSONResponse({"detail": str(error)}, status_code=503,
                                headers={"Retry-After": "1"})  # fmt: skip
        return handler.response(result)

    predict.__annotations__["body"] = handler.request
    app.post("/predict")(predict)
    return app


def _error(status: int, field: str, message: str) -> JSONResponse:
    """A 4xx answer in FastAPI's own shape: ``{"detail": [{"loc", "msg"}]}``."""
    loc = ["body", *field.replace("]", "").replace("[", ".").split(".")]
    return JSONResponse({"detail": [{"loc": loc, "msg": message}]}, status_code=status)
