"""``rnnkit serve``: a trained run behind an HTTP JSON API (FastAPI + uvicorn), batched.

:func:`create_app` builds the application (:mod:`.app`); :func:`serve` is the command.
"""

from pathlib import Path

from .app import Limits, create_app


def serve(
    run: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_batch: int = 32,
    max_wait_ms: float = 5.0,
    max_queue: int = 256,
    max_request_bytes: int = 1 << 20,
    max_length: int = 2000,
) -> None:
    """Serve a trained run over HTTP: GET /health, GET /metadata, POST /predict.

    Args:
        run: run directory (its best checkpoint is served).
        host: address to listen on (127.0.0.1: this machine only).
        port: port to listen on.
        max_batch: concurrent requests run in one model call.
        max_wait_ms: how long a batch waits to fill after its first request.
        max_queue: requests waiting at most; more are answered 503.
        max_request_bytes: the largest request body; larger ones are answered 413.
        max_length: the longest sequence, window or generated text, in steps or tokens.
    """
    import uvicorn

    limits = Limits(max_batch, max_wait_ms, max_queue, max_request_bytes, max_length)
    app = create_app(run, limits)
    # SIGINT/SIGTERM: uvicorn stops accepting, finishes the requests in flight, then the app's
    # shutdown answers what is still queued
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=10)


__all__ = ["Limits", "create_app", "serve"]
