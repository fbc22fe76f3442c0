"""Retries and byte counting as httpx transports, each over an httpx.MockTransport (the
server's answers are what is under test here): what is retried and how long it waits, what
is not, and what is counted."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator

import httpx
import pytest

from fieldapp.store import Store
from sync.client import (
    CountingTransport,
    RetryingTransport,
    RetryPolicy,
    ServerUnreachable,
    SyncClient,
)
from sync.client._transports import ONE_ATTEMPT

POLICY = RetryPolicy(base_delay=0.01, max_delay=0.02, attempts=4, max_wait=60.0)
URL = "https://sync.example.org/v1/records:push"
Handler = Callable[[httpx.Request], httpx.Response]


class Server:
    """Answers in turn from a script (the last answer repeats), noting each request."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


class Sleeps(list[float]):
    """The injected sleep: notes every wait, waits for none."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Clock:
    """A monotonic clock moved only by the sleeps it is given."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps = Sleeps()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def retrying(server: Handler, clock: Clock, policy: RetryPolicy = POLICY) -> httpx.Client:
    transport = RetryingTransport(
        httpx.MockTransport(server), policy, sleep=clock.sleep, clock=clock
    )
    return httpx.Client(transport=transport)


def test_a_503_is_retried_and_the_next_answer_returned(clock: Clock) -> None:
    server = Server(httpx.Response(503), httpx.Response(200, json={"ok": True}))
    with retrying(server, clock) as client:
        response = client.post(URL, content=b"same bytes")
    assert (response.status_code, response.json()) == (200, {"ok": True})
    assert len(server.requests) == 2 and len(clock.sleeps) == 1
    # Every request of the protocol is idempotent: a POST goes again, with the same bytes.
    assert [r.content for r in server.requests] == [b"same bytes", b"same bytes"]


def test_retry_after_is_honoured_over_the_jitter(clock: Clock) -> None:
    server = Server(
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(503, headers={"Retry-After": "Thu, 01 Jan 1970 00:00:00 GMT"}),  # past
        httpx.Response(200),
    )
    with retrying(server, clock) as client:
        assert client.get(URL).status_code == 200
    assert clock.sleeps[0] == 7.0
    assert 0 <= clock.sleeps[1] <= POLICY.base_delay * 2  # a date gone by: jitter only


def test_a_backoff_hint_holds_the_next_request_back(clock: Clock) -> None:
    server = Server(httpx.Response(200, headers={"Backoff": "30"}), httpx.Response(200))
    with retrying(server, clock) as client:
        client.get(URL)
        clock.now += 10  # ten seconds later, the next request
        client.get(URL)
    assert clock.sleeps == [20.0]
    assert len(server.requests) == 2


def test_a_backoff_hint_beyond_max_wait_ends_the_exchange_before_anything_is_sent(
    clock: Clock,
) -> None:
    server = Server(httpx.Response(200, headers={"Backoff": "120"}))
    with retrying(server, clock) as client:
        client.get(URL)
        with pytest.raises(ServerUnreachable, match="asked to pause 120 s"):
            client.get(URL)
    assert len(server.requests) == 1 and clock.sleeps == []


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(400, json={"error": "bad_request"}),
        httpx.Response(401),
        httpx.Response(409),
        httpx.Response(413),
        httpx.Response(429, headers={"Retry-After": "3600"}),  # beyond max_wait
        httpx.Response(503, json={"error": "storage_unavailable", "message": "full"}),
    ],
    ids=["400", "401", "409", "413", "429-for-an-hour", "503-storage-unavailable"],
)
def test_answers_retrying_cannot_help_are_returned_at_once(
    answer: httpx.Response, clock: Clock
) -> None:
    server = Server(answer)
    with retrying(server, clock) as client:
        response = client.post(URL, content=b"{}")
    assert response.status_code == answer.status_code
    assert len(server.requests) == 1 and clock.sleeps == []


def test_when_the_attempts_are_used_up_the_last_answer_is_returned(clock: Clock) -> None:
    server = Server(httpx.Response(502), httpx.Response(504))
    with retrying(server, clock) as client:
        assert client.get(URL).status_code == 504
    assert len(server.requests) == POLICY.attempts
    assert len(clock.sleeps) == POLICY.attempts - 1  # none after the last attempt


def test_network_errors_are_retried_and_the_last_one_raised(clock: Clock) -> None:
    server = Server(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"))
    with retrying(server, clock) as client, pytest.raises(httpx.ReadTimeout):
        client.get(URL)
    assert len(server.requests) == POLICY.attempts
    recovering = Server(httpx.ConnectError("refused"), httpx.Response(200))
    with retrying(recovering, clock) as client:
        assert client.get(URL).status_code == 200


class _CutStream(httpx.SyncByteStream):
    """An answer whose connection breaks after its first bytes."""

    def __iter__(self) -> Iterator[bytes]:
        yield b'{"outcomes": ['
        raise httpx.ReadError("connection reset")


def test_an_answer_cut_halfway_is_retried(clock: Clock) -> None:
    server = Server(httpx.Response(200, stream=_CutStream()), httpx.Response(200, json=[]))
    with retrying(server, clock) as client:
        assert client.get(URL).json() == []
    assert len(server.requests) == 2


def test_a_request_for_one_attempt_goes_once_and_is_never_held_back(clock: Clock) -> None:
    server = Server(httpx.Response(200, headers={"Backoff": "3600"}), httpx.Response(503))
    with retrying(server, clock) as client:
        client.get(URL)  # asks for an hour's pause
        probe = client.get(URL, extensions=ONE_ATTEMPT)
    assert probe.status_code == 503
    assert len(server.requests) == 2 and clock.sleeps == []


def test_a_policy_of_no_attempts_is_refused() -> None:
    with pytest.raises(ValueError, match="attempts must be at least 1, not 0"):
        RetryPolicy(attempts=0)


# -- byte counting ----------------------------------------------------------------------------


def test_counting_adds_each_request_and_the_body_bytes_as_on_the_wire() -> None:
    body = b'{"changes": []}' * 50
    squeezed = gzip.compress(body)

    class Arriving(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield squeezed[:10]
            yield squeezed[10:]

    def server(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/read":  # read as it arrives, gzipped on the wire
            return httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=Arriving())
        return httpx.Response(200, content=b"in memory")

    class Looking(httpx.MockTransport):
        """Reads a streamed answer before handing it on (as a transport that times or
        rewrites answers does)."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            if request.url.path == "/looked":
                response.read()
            return response

    counting = CountingTransport(Looking(server))
    with httpx.Client(transport=counting, base_url="https://sync.example.org") as client:
        assert client.post("/streamed", content=b"x" * 300).content == body
        assert client.get("/read").content == b"in memory"
        assert client.get("/looked").content == body
    traffic = counting.traffic
    assert (traffic.requests, traffic.bytes_sent) == (3, 300)
    assert traffic.bytes_received == 2 * len(squeezed) + len(b"in memory")


def test_under_the_retries_every_attempt_is_counted(clock: Clock) -> None:
    server = Server(httpx.Response(503, content=b"busy"), httpx.Response(200, content=b"done"))
    counting = CountingTransport(httpx.MockTransport(server))
    stack = RetryingTransport(counting, POLICY, sleep=clock.sleep, clock=clock)
    with httpx.Client(transport=stack) as client:
        client.post(URL, content=b"12345")
    traffic = counting.traffic
    assert (traffic.requests, traffic.bytes_sent, traffic.bytes_received) == (2, 10, 8)


def test_the_sync_client_stacks_retries_over_counting_over_the_transport_it_is_given(
    device: Store, clock: Clock
) -> None:
    page = {"protocol": 1, "changes": [], "next_cursor": 0, "has_more": False}
    server = Server(httpx.Response(503, content=b"busy"), httpx.Response(200, json=page))
    with SyncClient(
        device, transport=httpx.MockTransport(server), retry=POLICY, sleep=clock.sleep
    ) as client:
        report = client.sync()
    assert report.ok, report.errors
    assert [r.url.path for r in server.requests] == ["/v1/changes", "/v1/changes"]
    assert report.requests == 2 and len(clock.sleeps) == 1  # every attempt counted
    assert report.bytes_received == len(b"busy") + len(httpx.Response(200, json=page).content)
