"""Dynamic micro-batching: concurrent requests share one model call.

Requests wait in a bounded queue; a single worker takes up to ``max_batch`` of them at a time,
waiting at most ``max_wait`` seconds for the batch to fill once the first has arrived, runs the
batch handler on them in a thread (the model runs one batch at a time; the event loop stays free
to accept requests) and hands each request its own result. A full queue is refused at once
(:class:`BusyError`), so a burst cannot grow memory without bound. ``stop()`` answers what is
queued, then ends the worker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any


class BusyError(Exception):
    """The queue is full: the server answers 503 and the client tries again later."""


class MicroBatcher:
    """Collect items into batches for ``handler(items) -> results`` (one result per item).

    Args:
        handler: runs one batch (in a worker thread); an exception fails every item of it.
        max_batch: the most items in one call.
        max_wait: seconds a batch may wait to fill after its first item arrives.
        max_queue: the most items waiting; one more raises :class:`BusyError`.
    """

    def __init__(
        self,
        handler: Callable[[Sequence[Any]], Sequence[Any]],
        max_batch: int = 32,
        max_wait: float = 0.005,
        max_queue: int = 256,
    ) -> None:
        if max_batch < 1 or max_queue < 1 or max_wait < 0:
            raise ValueError("need max_batch >= 1, max_queue >= 1 and max_wait >= 0")
        self.handler, self.max_batch, self.max_wait = handler, max_batch, max_wait
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=max_queue)
        self.batches = 0  # calls made, for /metadata and the load test
        self.items = 0
        self._worker: asyncio.Task | None = None

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Answer every queued item, then stop the worker."""
        await self.queue.join()
        if self._worker is not None:
            self._worker.cancel()

    async def submit(self, item: Any) -> Any:
        """The handler's result for ``item`` once its batch has run (raises what it raised)."""
        future = asyncio.get_running_loop().create_future()
        try:
            self.queue.put_nowait((item, future))
        except asyncio.QueueFull:
            waiting = self.queue.maxsize
            raise BusyError(f"the server is busy ({waiting} requests waiting)") from None
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            deadline = time.monotonic() + self.max_wait
            while len(batch) < self.max_batch:
                left = deadline - time.monotonic()
                try:
                    batch.append(self.queue.get_nowait() if left <= 0 else
                                 await asyncio.wait_for(self.queue.get(), left))  # fmt: skip
                except (asyncio.QueueEmpty, TimeoutError):
                    break
            items = [item for item, _ in batch]
            try:
                results = await asyncio.to_thread(self.handler, items)
                outcome = [(r, None) for r in results]
            except Exception as error:  # every item of a failed batch gets the error
                outcome = [(None, error)] * len(batch)
            self.batches += 1
            self.items += len(batch)
            for (_, future), (result, error) in zip(batch, outcome):
                if not future.done():
                    future.set_exception(error) if error else future.set_result(result)
                self.queue.task_done()
