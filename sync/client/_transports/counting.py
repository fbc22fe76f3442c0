"""Byte counting as an httpx transport: every request passed on, the body bytes it carries and
the body bytes of its answer, as they cross the wire (compressed bodies count compressed;
headers are not counted); and the one estimate of the link's speed, from the last large body
to cross it either way."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx

__all__ = ["MEASURED_ANSWER_BYTES", "CountingTransport", "Traffic"]

# An answer body this large (on the wire) says how fast the link is: a smaller one may come
# whole in the first read, however slow the link.
MEASURED_ANSWER_BYTES = 16 * 1024


@dataclass
class Traffic:
    """Running totals: `requests` sent (every attempt), `bytes_sent`, `bytes_received`."""

    requests: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    # Bytes per second the link last carried a large body at: an answer of at least
    # MEASURED_ANSWER_BYTES, from its headers to its last byte (the server's thinking is
    # over by then), or a push's batch, the server's own time left out; None before any.
    link_rate: float | None = None
    # Requests may go from several threads at once (attachment chunks, two in flight).
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, *, requests: int = 0, sent: int = 0, received: int = 0) -> None:
        with self._lock:
            self.requests += requests
            self.bytes_sent += sent
            self.bytes_received += received

    def measured(self, size: int, seconds: float) -> None:
        """An answer body of `size` bytes came in `seconds` after its headers."""
        if size >= MEASURED_ANSWER_BYTES:
            self.note_rate(size / seconds if seconds > 0 else float("inf"))

    def note_rate(self, bytes_per_second: float) -> None:
        """The link was just measured carrying this many bytes per second."""
        with self._lock:
            self.link_rate = bytes_per_second


class CountingTransport(httpx.BaseTransport):
    """Passes each request to `inner`, adding it to `traffic`; its answer's body is counted
    as it is read (an answer in memory, or read already by the inner transport, at once).

    A request's body counts by its Content-Length, whether or not the inner transport got it
    out: the bytes were meant for the wire (the sync client only sends bodies of known size).
    """

    def __init__(self, inner: httpx.BaseTransport, traffic: Traffic | None = None) -> None:
        self._inner = inner
        self.traffic = traffic if traffic is not None else Traffic()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.traffic.add(requests=1, sent=int(request.headers.get("Content-Length", 0)))
        response = self._inner.handle_request(request)
        if isinstance(response.stream, httpx.ByteStream):  # in memory, as MockTransport's are
            self.traffic.add(received=sum(len(chunk) for chunk in response.stream))
        elif response.is_stream_consumed:  # read already by an inner transport
            self.traffic.add(received=response.num_bytes_downloaded)
        elif isinstance(response.stream, httpx.SyncByteStream):
            response.stream = _CountedStream(response.stream, self.traffic)
        return response

    def close(self) -> None:
        self._inner.close()


class _CountedStream(httpx.SyncByteStream):
    """An answer's body stream that adds each chunk read to the traffic, and the body's pace
    once it is all read."""

    def __init__(self, stream: httpx.SyncByteStream, traffic: Traffic) -> None:
        self._stream = stream
        self._traffic = traffic
        self._since = time.monotonic()  # the headers are in

    def __iter__(self) -> Iterator[bytes]:
        size = 0
        for chunk in self._stream:
            self._traffic.add(received=len(chunk))
            size += len(chunk)
            yield chunk
        self._traffic.measured(size, time.monotonic() - self._since)

    def close(self) -> None:
        self._stream.close()
