"""Retry timing: full jitter stays within its exponential ceiling; server hints are read in
both Retry-After forms (seconds and HTTP date) and nonsense is ignored."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from sync.client._backoff import RetryPolicy, server_delay


@given(attempt=st.integers(0, 200), seed=st.integers(0, 2**32))
def test_full_jitter_stays_between_zero_and_the_capped_exponential_ceiling(
    attempt: int, seed: int
) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)
    delay = policy.delay(attempt, random.Random(seed))
    assert 0 <= delay <= min(30.0, 0.5 * 2**attempt)


def test_jitter_spreads_retries() -> None:
    rng = random.Random(1)
    delays = {round(RetryPolicy().delay(5, rng), 3) for _ in range(50)}
    assert len(delays) > 40


def test_server_hints_in_seconds_or_as_an_http_date() -> None:
    now = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
    assert server_delay("7") == 7.0
    assert server_delay(" 2.5 ") == 2.5
    assert server_delay("Sat, 28 Nov 2026 12:00:30 GMT", now) == 30.0
    assert server_delay("Sat, 28 Nov 2026 11:00:00 GMT", now) == 0.0  # already past
    assert server_delay("-4") == 0.0
    for nonsense in (None, "", "soon", "nan"):
        assert server_delay(nonsense) is None
