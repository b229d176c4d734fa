"""Progress reporting and cancellation for long work, shared by the window and the command line."""

from __future__ import annotations

import threading
from collections.abc import Callable

# done, total, message; total 0 means "unknown".
ProgressCallback = Callable[[int, int, str], None]


class Cancelled(Exception):
    """Raised inside long work when the user pressed Cancel; the work rolls back what it did."""


class CancelToken:
    """Set from one thread (the Cancel button), checked from the worker between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def no_progress(done: int, total: int, message: str) -> None:
    """A progress callback that reports nowhere."""
