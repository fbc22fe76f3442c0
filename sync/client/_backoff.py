"""Retry timing for the retrying transport: exponential backoff with full jitter, and the
server's hints (Retry-After, Backoff).

Full jitter (a uniform delay between zero and the exponential ceiling) spreads a fleet of
phones that lost the same cell tower, so they do not all come back in the same second.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["RetryPolicy", "jitter_source", "server_delay"]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one request is retried before a sync gives up.

    `max_wait` bounds what a server may ask for (Retry-After, Backoff): a longer wait ends the
    sync instead, and the connectivity monitor tries again later.
    """

    base_delay: float = 0.5
    max_delay: float = 30.0
    attempts: int = 6
    max_wait: float = 300.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {self.attempts}")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(max_delay, base_delay * 2**attempt)]."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** min(attempt, 32))
        return rng.uniform(0, ceiling)


def jitter_source() -> random.Random:
    """Randomness for spreading retries: timing, not secrets, so no CSPRNG is needed."""
    return random.Random()  # noqa: S311


def server_delay(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds asked for by a Retry-After or Backoff header (seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)
