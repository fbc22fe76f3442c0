"""One way for a test to wait for something to happen (a server to answer, a file to hold a
value): poll a predicate until it gives a true value, or fail naming what never happened."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

_T = TypeVar("_T")


def wait_until(predicate: Callable[[], _T], timeout: float, what: str, step: float = 0.02) -> _T:
    """The first true value `predicate` returns, polled every `step` seconds; AssertionError
    naming `what` after `timeout` seconds. An exception from `predicate` (say, the process
    being waited for died) ends the wait at once."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)
    return result
