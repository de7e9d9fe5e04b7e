"""Stopping a run from outside: Ctrl-C and SIGTERM end training the same way, with one message.

The engine (:mod:`.engine`) lets SIGTERM stop training where Ctrl-C would (a cluster scheduler's
way of ending a job), and turns either into :class:`TrainingInterruptedError`, whose message says
after which epoch it stopped, what is saved, and the command that continues the run. The
command line prints it and exits with code 130. The last complete checkpoint is never touched:
checkpoints are written beside the old one and swapped in by renames.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class TrainingInterruptedError(Exception):
    """Training stopped by Ctrl-C or SIGTERM; the message says what is saved and how to resume."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be."""


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (main thread only; else nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def signal_name(stop: BaseException) -> str:
    """``SIGTERM`` when ``stop`` (or what it was raised while handling) is :class:`Terminated`."""
    seen: BaseException | None = stop
    while seen is not None:
        if isinstance(seen, Terminated):
            return "SIGTERM"
        seen = seen.__context__
    return "Ctrl-C"
