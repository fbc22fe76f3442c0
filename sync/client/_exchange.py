"""The HTTP exchange with one server: the requests the client sends (headers, token, gzip),
the transports under them (retries over byte counting over whatever moves the bytes), the
server's clock read from its answers, and what an answer means: the model it was asked for,
or ServerRefused or ServerUnreachable saying why not."""

from __future__ import annotations

import email.utils
import gzip
import random
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from sync.client._backoff import RetryPolicy, jitter_source, server_delay
from sync.client._errors import ServerRefused, ServerUnreachable
from sync.client._transports import (
    ONE_ATTEMPT,
    CountingTransport,
    RetryingTransport,
    Traffic,
    describe_transport_error,
    storage_unavailable,
)
from sync.protocol import ErrorBody, Health, check_server_url

__all__ = ["FAST_LINK", "GZIP_LEVEL", "Exchange", "ExchangeOwner", "answer", "refusal"]

GZIP_LEVEL = 6
# At or above this rate (128 Mbit/s: loopback, a LAN, a relay in the same building) gzip
# (~30 MB/s of JSON in on one core) costs more time than the bytes it saves: push batches go
# uncompressed, and answers that grow with the records are asked for uncompressed.
FAST_LINK = 16 * 2**20

_Answer = TypeVar("_Answer", bound=BaseModel)


class Exchange:
    """Requests to the server at `base_url` (InsecureServerURL unless https or loopback).

    `transport` moves the bytes (by default an httpx.HTTPTransport through the proxy the
    environment names for this server, if any); retries and byte counting are stacked on it.
    A transport passed in stays its owner's: `close()` leaves it open.
    """

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None,
        retry: RetryPolicy,
        sleep: Callable[[float], None],
        rng: random.Random,
        timeout: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.base_url = check_server_url(base_url)
        self.retry = retry
        self.traffic = Traffic()
        self._owned = transport is None
        inner = _environment_transport(self.base_url) if transport is None else transport
        stack = RetryingTransport(
            CountingTransport(inner, self.traffic), retry, sleep=sleep, rng=rng
        )
        self._client = httpx.Client(transport=stack, timeout=timeout)
        self._clock = clock
        # The server's clock minus this device's, from the last answer's Date header.
        self.clock_offset: timedelta | None = None

    def close(self) -> None:
        if self._owned:
            self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        content: bytes | None = None,
        gzipped: bool = False,
        params: dict[str, Any] | None = None,
        extra_headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        once: bool = False,
    ) -> httpx.Response:
        """The server's answer, unless it could not be had: ServerUnreachable once the
        transports gave up retrying (a 429 or 5xx, or no connection), saying why; at the
        first failure with `once` (the caller knows better what to send again)."""
        headers = {"Accept": "application/json", **(extra_headers or {})}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if content is not None:
            headers["Content-Type"] = content_type
            if gzipped:
                headers["Content-Encoding"] = "gzip"
        try:
            response = self._client.request(
                method,
                self.base_url + path,
                content=content,
                headers=headers,
                params=params,
                extensions=ONE_ATTEMPT if once else None,
            )
        except httpx.TransportError as exc:
            raise self._unreachable(describe_transport_error(exc)) from None
        self._note_server_clock(response)
        if response.status_code == 429 or response.status_code >= 500:
            raise self._given_up(response)
        return response

    def link_is_fast(self) -> bool:
        """Whether the link was last measured (either way: `Traffic.link_rate`) at FAST_LINK
        or faster."""
        rate = self.traffic.link_rate
        return rate is not None and rate >= FAST_LINK

    def answer_encoding(self) -> dict[str, str]:
        """The header that asks for an answer that grows with the records uncompressed, on a
        fast link (`link_is_fast`); none otherwise (httpx asks for gzip, and the server
        compresses such answers for a client that does)."""
        return {"Accept-Encoding": "identity"} if self.link_is_fast() else {}

    def send_json(self, method: str, path: str, body: BaseModel, *, token: str) -> httpx.Response:
        """`request` with the model's JSON as the body, gzipped."""
        content = gzip.compress(body.model_dump_json().encode("utf-8"), GZIP_LEVEL)
        return self.request(method, path, token=token, content=content, gzipped=True)

    def health(self, timeout: float) -> Health | None:
        """A cheap health check, sent once with a short timeout: the server's health, or None
        if it is not reachable right now. A 200 whose body is not a Health (a server older
        than the model, a proxy) counts as ok, as it always did."""
        try:
            response = self._client.get(
                self.base_url + "/v1/health", timeout=timeout, extensions=ONE_ATTEMPT
            )
        except httpx.TransportError:
            return None
        if response.status_code != 200:
            return None
        try:
            return Health.model_validate_json(response.content)
        except ValidationError:
            return Health()

    def _given_up(self, response: httpx.Response) -> ServerUnreachable:
        """Why the answer the transports stopped retrying on ends this exchange."""
        if storage_unavailable(response):
            return ServerUnreachable(
                "the server cannot store records right now: they stay on this device"
                " and go at a later sync"
            )
        asked = server_delay(response.headers.get("Retry-After")) or 0.0
        if asked > self.retry.max_wait:
            return ServerUnreachable(
                f"the server is busy and asked to wait {asked:.0f} s: syncing will try again later"
            )
        return self._unreachable(f"the server answered {response.status_code}")

    def _unreachable(self, problem: str) -> ServerUnreachable:
        return ServerUnreachable(
            f"the server at {self.base_url} could not be reached ({problem}): "
            "records stay on this device and go at the next sync"
        )

    def _note_server_clock(self, response: httpx.Response) -> None:
        """The offset between the server's clock and this device's, from the answer's `Date`
        header (whole seconds, stamped before the answer travelled: right to a second or so,
        plenty to tell a clock set wrong by minutes or years)."""
        dates = response.headers.get_list("date")
        try:
            server_time = email.utils.parsedate_to_datetime(dates[-1]) if dates else None
        except (TypeError, ValueError):
            server_time = None
        if server_time is not None and server_time.tzinfo is not None:
            self.clock_offset = server_time - self._clock()


class ExchangeOwner:
    """What a client of one server (the sync client, the office's) shares: the exchange it
    made, with retries and jitter by default, closed with it, in a `with` block or not."""

    _exchange: Exchange

    def _open_exchange(
        self,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None,
        retry: RetryPolicy | None,
        sleep: Callable[[float], None],
        rng: random.Random | None,
        timeout: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._exchange = Exchange(
            base_url,
            transport=transport,
            retry=retry or RetryPolicy(),
            sleep=sleep,
            rng=rng or jitter_source(),
            timeout=timeout,
            clock=clock,
        )

    @property
    def base_url(self) -> str:
        return self._exchange.base_url

    def close(self) -> None:
        self._exchange.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _environment_transport(base_url: str) -> httpx.HTTPTransport:
    """A transport through the proxy the environment names for this server (`https_proxy`,
    `all_proxy`, minus `no_proxy`), as an httpx.Client of its own would send."""
    parts = urlsplit(base_url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if proxy and urllib.request.proxy_bypass(parts.hostname or ""):
        proxy = None
    return httpx.HTTPTransport(proxy=proxy or None)


def refusal(response: httpx.Response) -> str:
    """The server's own explanation of a 4xx, or a plain description."""
    try:
        body = ErrorBody.model_validate_json(response.content)
    except ValidationError:
        return f"the server refused the request ({response.status_code})"
    return body.message


def answer(response: httpx.Response, model: type[_Answer], what: str) -> _Answer:
    """The server's 200 answer read as `model`; otherwise ServerRefused says why (`what`
    names the answer in that sentence)."""
    if response.status_code != 200:
        raise ServerRefused(refusal(response))
    try:
        return model.model_validate_json(response.content)
    except ValidationError:
        raise ServerRefused(f"the server's {what} was not understood") from None
