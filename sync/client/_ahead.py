"""A pipeline stage: an iterator run in a worker thread, one item ahead of its consumer."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

__all__ = ["Ahead"]

_T = TypeVar("_T")
_DONE = object()


class Ahead(Generic[_T]):
    """Runs an iterator in a worker thread, at most one item ahead of its consumer (the next
    item is produced while the consumer works on the current one, never more).

    Exceptions in the worker reach the consumer; closing stops the worker and waits for it.
    """

    def __init__(self, source: Iterator[_T]) -> None:
        self._source = source
        self._items: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._slot = threading.Semaphore(1)  # taken while an item is prepared or waiting
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="sync-prepare", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                self._slot.acquire()
                if self._stopping:
                    return
                item = next(self._source, _DONE)
                self._items.put(item)
                if item is _DONE:
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            self._items.put(exc)
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[_T]:
        while True:
            item = self._items.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            self._slot.release()
            yield item

    def close(self) -> None:
        self._stopping = True
        self._slot.release()
        self._thread.join()

    def __enter__(self) -> Ahead[_T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
