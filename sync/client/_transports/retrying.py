"""Retries as an httpx transport: network errors, 429 and 5xx go again after a full-jitter
backoff, never sooner than the server asked (Retry-After), and no request leaves while a
Backoff hint from an earlier answer holds."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Final

import httpx
from pydantic import ValidationError

from sync.client._backoff import RetryPolicy, jitter_source, server_delay
from sync.client._errors import ServerUnreachable
from sync.protocol import ErrorBody

__all__ = ["ONE_ATTEMPT", "RetryingTransport", "describe_transport_error", "storage_unavailable"]

log = logging.getLogger(__name__)

# Request extensions for a request sent once, never held back by a Backoff hint: a health
# probe, which must answer within its own short timeout.
ONE_ATTEMPT: Final = {"retry": False}

# The longest Backoff hint heeded: a server asking for more is taken to mean ten minutes.
_MAX_BACKOFF_HINT = 600.0


class RetryingTransport(httpx.BaseTransport):
    """Sends each request through `inner` up to `policy.attempts` times, sleeping between
    attempts (full jitter, and at least the answer's Retry-After).

    Every method is retried: every request of the sync protocol is idempotent (a push sent
    again is answered `duplicate`), so the same bytes simply go again. Returns the first
    answer that is neither 429 nor 5xx, else the last answer once retrying cannot help (the
    attempts are used up, the answer is 503 `storage_unavailable`, or its Retry-After is
    beyond `policy.max_wait`); raises the last httpx.TransportError if the last attempt failed
    on the network, and ServerUnreachable, sending nothing, while a Backoff hint asks to wait
    beyond `policy.max_wait`. Answers are read whole inside the loop, so a connection cut
    halfway through an answer is retried like any other failure. A request whose extensions
    hold ONE_ATTEMPT's goes once and is never held back.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or jitter_source()
        self._clock = clock
        self._not_before = 0.0  # the clock's time before which the server asked not to call

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.extensions.get("retry") is False:
            return self._send(request)
        failure: httpx.Response | httpx.TransportError | None = None
        for attempt in range(self.policy.attempts):
            self._heed_backoff_hint()
            try:
                response = self._send(request)
            except httpx.TransportError as exc:
                failure, problem = exc, describe_transport_error(exc)
                wait = self.policy.delay(attempt, self._rng)
            else:
                if response.status_code != 429 and response.status_code < 500:
                    return response
                asked = server_delay(response.headers.get("Retry-After")) or 0.0
                if storage_unavailable(response) or asked > self.policy.max_wait:
                    return response  # retrying now will not help
                failure, problem = response, f"the server answered {response.status_code}"
                wait = max(asked, self.policy.delay(attempt, self._rng))
            log.info(
                "sync request %s %s failed (%s); retry %d",
                request.method, request.url.path, problem, attempt,
            )  # fmt: skip
            if attempt + 1 < self.policy.attempts:
                self._sleep(wait)
        if isinstance(failure, httpx.Response):
            return failure
        assert failure is not None  # the policy makes at least one attempt
        raise failure

    def close(self) -> None:
        self._inner.close()

    def _send(self, request: httpx.Request) -> httpx.Response:
        """One attempt, its answer read whole; the answer's Backoff hint noted."""
        response = self._inner.handle_request(request)
        try:
            response.read()
        finally:
            response.close()
        asked = server_delay(response.headers.get("Backoff"))
        if asked:
            hint = self._clock() + min(asked, _MAX_BACKOFF_HINT)
            self._not_before = max(self._not_before, hint)
        return response

    def _heed_backoff_hint(self) -> None:
        wait = self._not_before - self._clock()
        if wait > self.policy.max_wait:
            raise ServerUnreachable(f"the server asked to pause {wait:.0f} s: try later")
        if wait > 0:
            self._sleep(wait)


def describe_transport_error(exc: httpx.TransportError) -> str:
    """What went wrong on the network, in words for people."""
    if isinstance(exc, httpx.TimeoutException):
        return "it did not answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "no connection"
    return "the connection broke"


def storage_unavailable(response: httpx.Response) -> bool:
    """Whether a 503 says the server's storage cannot write (see `GET /v1/health`)."""
    try:
        return ErrorBody.model_validate_json(response.content).error == "storage_unavailable"
    except ValidationError:
        return False
