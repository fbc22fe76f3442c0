"""Property-based fuzzing of push and pull on a real server (uvicorn on 127.0.0.1): malformed,
oversized and deeply nested JSON, gzip garbage, wrong content types, huge numbers, unicode,
duplicate keys. Every answer is a clear 4xx ErrorBody or a protocol answer, never a 5xx and
never a hang (every request has a timeout), and nothing is written partially: the server's
record rows are counted before and after each request.

What the protocol says about a batch (docs/sync-protocol.md, Push): a body that does not fit
the model is refused whole (400/422, nothing stored); a batch that fits is stored in one
transaction with one outcome per record, so a record-level refusal (`rejected`) costs only
that record and its good neighbours are stored.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldapp import crypto
from sync.protocol import MAX_BATCH_RECORDS, ChangesPage, ErrorBody, PushResponse
from sync.server.app import create_app
from sync.server.settings import ServerSettings
from tests.server._harness import STATS, Phone, World, push_body, running

pytestmark = pytest.mark.slow  # fuzzing the live server: the full run only

MAX_BODY_BYTES = 256 * 1024  # small, so that oversized bodies are cheap to make
TIMEOUT = httpx.Timeout(20.0)
STORED_STATUSES = ("accepted", "conflict")  # outcomes that add a revision row


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )


@dataclass
class Target:
    """One server for every example (a fresh one per example would be far too slow)."""

    client: httpx.Client
    world: World
    phone: Phone
    database: Path

    def rows(self) -> tuple[int, int, int]:
        """Revisions, record heads and record changes the server holds."""
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as conn:
            return (
                conn.execute("SELECT COUNT(*) FROM records").fetchone()[0],
                conn.execute("SELECT COUNT(*) FROM record_heads").fetchone()[0],
                conn.execute("SELECT COUNT(*) FROM changes WHERE kind = 'record'").fetchone()[0],
            )

    def push(self, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        sent = {**self.phone.auth, "Content-Type": "application/json", **(headers or {})}
        return self.client.post("/v1/records:push", content=body, headers=sent)


@pytest.fixture(scope="module")
def target(
    tmp_path_factory: pytest.TempPathFactory, org_key: crypto.OrgKeyPair
) -> Iterator[Target]:
    data_dir = tmp_path_factory.mktemp("fuzz-sync") / "server"
    server_settings = ServerSettings(
        data_dir=data_dir,
        max_body_bytes=MAX_BODY_BYTES,
        rate_limit_per_minute=1_000_000,
        rate_limit_burst=100_000,
    )
    app = create_app(server_settings)
    with running(app) as url, httpx.Client(base_url=url, timeout=TIMEOUT) as client:
        world = World(app, client, org_key)
        phone = world.enrol(world.org("Fuzz Org"))
        yield Target(client, world, phone, data_dir / "server.db")


def assert_refused(response: httpx.Response) -> ErrorBody:
    """A clear 4xx: an ErrorBody with a stable code and a message."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    body = ErrorBody.model_validate_json(response.content)
    assert body.error and body.message
    return body


def assert_consistent(
    target: Target, before: tuple[int, int, int], response: httpx.Response
) -> None:
    """Refused: nothing written. Answered: exactly the stored outcomes were written."""
    after = target.rows()
    if response.status_code != 200:
        assert_refused(response)
        assert after == before
        return
    outcomes = PushResponse.model_validate_json(response.content).outcomes
    for outcome in outcomes:
        assert (outcome.status == "rejected") == bool(outcome.errors)
        assert (outcome.receipt is None) == (outcome.status == "rejected")
    stored = sum(outcome.status in STORED_STATUSES for outcome in outcomes)
    assert after[0] - before[0] == stored


# --- structured mutations of a valid, signed batch --------------------------------------------

NASTY_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63, -(2**63) - 1, 10**300, 0, -1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e-308, 5e-324, -0.0]),
    st.text(max_size=40),  # any code point, lone surrogates included (sent escaped)
    st.sampled_from(["", "\x00", "\u202e", "𝔘𝔫𝔦", "A" * 5000, "1-" + "f" * 32, "2026-13-45"]),
)
NASTY_VALUES = st.recursive(
    NASTY_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def json_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location in a JSON tree (the root excluded)."""
    paths = []
    if isinstance(value, dict):
        items: list[tuple[Any, Any]] = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return []
    for key, child in items:
        paths.append((*prefix, key))
        paths.extend(json_paths(child, (*prefix, key)))
    return paths


def mutate(body: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "replace":
        parent[last] = value
    elif action == "delete":
        del parent[last]
    elif action == "nest":  # wrap the value 10 to 40 levels deep
        wrapped = parent[last]
        for _ in range(10 + len(str(value)) % 31):
            wrapped = [wrapped]
        parent[last] = wrapped
    elif action == "add_key" and isinstance(parent[last], dict):
        parent[last][str(value)[:20] or "x"] = value
    return body


@fuzz(300)
@given(
    size=st.integers(1, 3),
    choice=st.integers(0, 10_000),
    action=st.sampled_from(["replace", "replace", "delete", "nest", "add_key"]),
    value=NASTY_VALUES,
)
def test_a_mutated_batch_is_refused_whole_or_answered_per_record(
    target: Target, size: int, choice: int, action: str, value: Any
) -> None:
    body = json.loads(push_body(*(target.phone.envelope() for _ in range(size))))
    paths = json_paths(body)
    body = mutate(body, paths[choice % len(paths)], action, value)
    before = target.rows()
    response = target.push(json.dumps(body).encode())
    assert_consistent(target, before, response)


# --- one bad envelope among good ones ---------------------------------------------------------


def _bad_form(phone: Phone) -> dict[str, Any]:
    return json.loads(phone.envelope(form=("no-such-form", "9")).model_dump_json())


def _bad_signature(phone: Phone) -> dict[str, Any]:
    envelope = json.loads(phone.envelope().model_dump_json())
    envelope["stats"]["age"] = 20  # signed as 19
    return envelope


def _sensitive_stat(phone: Phone) -> dict[str, Any]:
    return json.loads(phone.envelope(stats={**STATS, "given_name": "Somebody"}).model_dump_json())


def _other_device(phone: Phone) -> dict[str, Any]:
    return json.loads(phone.envelope(device_id="dev-someone-else").model_dump_json())


def _malformed_revision(phone: Phone) -> dict[str, Any]:
    envelope = json.loads(phone.envelope().model_dump_json())
    envelope["revision"] = "not-a-revision"
    return envelope


def _missing_signature(phone: Phone) -> dict[str, Any]:
    envelope = json.loads(phone.envelope().model_dump_json())
    del envelope["signature"]
    return envelope


def _number_as_timestamp(phone: Phone) -> dict[str, Any]:
    envelope = json.loads(phone.envelope().model_dump_json())
    envelope["created_at"] = 1_700_000_000
    return envelope


def _deep_stats(phone: Phone) -> dict[str, Any]:
    envelope = json.loads(phone.envelope().model_dump_json())
    nested: list[Any] = []
    for _ in range(500):
        nested = [nested]
    envelope["stats"]["age"] = nested
    return envelope


def _lone_surrogate(phone: Phone) -> dict[str, Any]:
    envelope = json.loads(phone.envelope().model_dump_json())
    envelope["stats"]["sex"] = {"\udfff": "\ud800"}
    return envelope


# Fits the model, so only this record is refused (`rejected`, with its error code).
RECORD_LEVEL: dict[str, tuple[Callable[[Phone], dict[str, Any]], str]] = {
    "unknown form": (_bad_form, "unknown_form_version"),
    "bad signature": (_bad_signature, "bad_signature"),
    "sensitive field in stats": (_sensitive_stat, "not_statistical"),
    "another device's record": (_other_device, "device_mismatch"),
}
# Does not fit the model: the whole body is refused, nothing is stored.
BODY_LEVEL: dict[str, Callable[[Phone], dict[str, Any]]] = {
    "malformed revision": _malformed_revision,
    "missing signature": _missing_signature,
    "number as timestamp": _number_as_timestamp,
    "stats 500 levels deep": _deep_stats,
    "lone surrogates in stats": _lone_surrogate,
}


@fuzz(150)
@given(
    good=st.integers(0, 4),
    position=st.integers(0, 4),
    bad=st.sampled_from(sorted(RECORD_LEVEL) + sorted(BODY_LEVEL)),
)
def test_one_bad_envelope_costs_only_itself_or_refuses_the_batch_whole(
    target: Target, good: int, position: int, bad: str
) -> None:
    goods = [json.loads(target.phone.envelope().model_dump_json()) for _ in range(good)]
    maker = RECORD_LEVEL[bad][0] if bad in RECORD_LEVEL else BODY_LEVEL[bad]
    index = position % (good + 1)
    batch = [*goods[:index], maker(target.phone), *goods[index:]]
    before = target.rows()
    response = target.push(json.dumps({"protocol": 1, "records": batch}).encode())
    assert_consistent(target, before, response)
    if bad in BODY_LEVEL:
        assert response.status_code == 422
        assert assert_refused(response).error == "invalid_request"
        # Nothing of the batch was kept: the good records are new to the server afterwards.
        again = target.push(json.dumps({"protocol": 1, "records": goods}).encode())
        statuses = [o.status for o in PushResponse.model_validate_json(again.content).outcomes]
        assert statuses == ["accepted"] * good
    else:
        outcomes = PushResponse.model_validate_json(response.content).outcomes
        assert [o.status for o in outcomes] == [
            "rejected" if i == index else "accepted" for i in range(good + 1)
        ]
        assert outcomes[index].errors[0].code == RECORD_LEVEL[bad][1]
        assert target.rows()[0] - before[0] == good


# --- raw bodies: what a JSON encoder would never write ----------------------------------------


def _raw_stats(token: str) -> Callable[[Target], bytes]:
    def build(target: Target) -> bytes:
        body = json.loads(push_body(target.phone.envelope()))
        body["records"][0]["stats"] = {"age": "__RAW__"}
        return json.dumps(body).replace('"__RAW__"', token).encode()

    return build


def _duplicate_keys(target: Target) -> bytes:
    records = json.dumps(json.loads(push_body(target.phone.envelope()))["records"])
    return ('{"protocol": 1, "records": [], "records": ' + records + "}").encode()


RAW_BODIES: dict[str, Callable[[Target], bytes]] = {
    "NaN": _raw_stats("NaN"),
    "Infinity": _raw_stats("Infinity"),
    "-Infinity": _raw_stats("-Infinity"),
    "1e400": _raw_stats("1e400"),
    "a 400-digit integer": _raw_stats("9" * 400),
    "a 5000-digit integer (over Python's limit)": _raw_stats("9" * 5000),
    "stats nested 10,000 deep": _raw_stats("[" * 10_000 + "]" * 10_000),
    "body nested 10,000 deep": lambda _: b"[" * 10_000 + b"]" * 10_000,
    "objects nested 10,000 deep": lambda _: b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "unterminated nesting": lambda _: b"[" * 100_000,
    "duplicate keys": _duplicate_keys,
    "invalid UTF-8": lambda _: b'{"protocol": 1, "records": [], "x": "\xff\xfe"}',
    "UTF-8 BOM": lambda t: b"\xef\xbb\xbf" + push_body(t.phone.envelope()),
    "UTF-16": lambda t: push_body(t.phone.envelope()).decode().encode("utf-16"),
    "truncated JSON": lambda t: push_body(t.phone.envelope())[:-7],
    "empty": lambda _: b"",
    "null": lambda _: b"null",
    "a bare string": lambda _: b'"records"',
    "NUL bytes": lambda _: b"\x00" * 1000,
    f"{MAX_BATCH_RECORDS + 1} records": lambda t: json.dumps(
        {"protocol": 1, "records": [json.loads(t.phone.envelope().model_dump_json())] * 501}
    ).encode(),
    "protocol 2": lambda t: push_body(t.phone.envelope()).replace(b'"protocol":1', b'"protocol":2'),
    "protocol true": lambda t: push_body(t.phone.envelope()).replace(
        b'"protocol":1', b'"protocol":true'
    ),
}


# JSON after all: Python's reader takes the last of duplicate keys and reads UTF-16 and a BOM
# (RFC 8259 allows both); a long integer is a number (the record is refused: it was signed
# with another value). Each is then an ordinary push, answered per record.
VALID_JSON = ("duplicate keys", "UTF-16", "UTF-8 BOM", "a 400-digit integer")


@pytest.mark.parametrize("name", sorted(RAW_BODIES))
def test_raw_bodies_get_a_clear_answer(target: Target, name: str) -> None:
    before = target.rows()
    response = target.push(RAW_BODIES[name](target))
    if name in VALID_JSON:
        assert response.status_code == 200, response.text[:300]
    else:
        assert_refused(response)
    assert_consistent(target, before, response)


@fuzz(200)
@given(body=st.binary(max_size=2048))
def test_random_bytes_are_refused(target: Target, body: bytes) -> None:
    before = target.rows()
    response = target.push(body)
    assert_refused(response)
    assert target.rows() == before


# --- encodings and content types --------------------------------------------------------------


@fuzz(200)
@given(
    body=st.one_of(
        st.binary(max_size=512),
        st.binary(max_size=512).map(gzip.compress),
        st.binary(min_size=1, max_size=512).map(lambda b: gzip.compress(b) + b),
        st.integers(1, 60).map(lambda cut: gzip.compress(b'{"protocol": 1, "records": []}')[:-cut]),
    )
)
def test_gzip_garbage_is_refused(target: Target, body: bytes) -> None:
    before = target.rows()
    response = target.push(body, {"Content-Encoding": "gzip"})
    assert_refused(response)
    assert target.rows() == before


def test_a_gzip_bomb_is_refused_with_413(target: Target) -> None:
    bomb = gzip.compress(b"[" + b" " * (64 * MAX_BODY_BYTES) + b"]", compresslevel=9)
    assert len(bomb) < MAX_BODY_BYTES
    before = target.rows()
    response = target.push(bomb, {"Content-Encoding": "gzip"})
    assert (response.status_code, assert_refused(response).error) == (413, "payload_too_large")
    assert target.rows() == before


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-Encoding": "br"}, 415),
        ({"Content-Encoding": "gzip, deflate"}, 415),
        ({"Content-Encoding": "compress"}, 415),
        ({"Content-Type": "text/plain"}, 422),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 422),
        ({"Content-Type": "multipart/form-data; boundary=x"}, 422),
        ({"Content-Type": "application/xml"}, 422),
        ({"Content-Type": ""}, 422),
    ],
)
def test_wrong_encodings_and_content_types_are_refused(
    target: Target, headers: dict[str, str], status: int
) -> None:
    before = target.rows()
    response = target.push(push_body(target.phone.envelope()), headers)
    assert response.status_code == status
    assert_refused(response)
    assert target.rows() == before


def test_an_oversized_body_is_refused_with_413_declared_or_streamed(target: Target) -> None:
    big = json.dumps({"protocol": 1, "records": [], "pad": "x" * MAX_BODY_BYTES}).encode()
    before = target.rows()
    declared = target.push(big)
    assert (declared.status_code, assert_refused(declared).error) == (413, "payload_too_large")

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 16 * 1024):
            yield big[start : start + 16 * 1024]

    streamed = target.client.post(
        "/v1/records:push",
        content=chunks(),
        headers={**target.phone.auth, "Content-Type": "application/json"},
    )
    assert (streamed.status_code, assert_refused(streamed).error) == (413, "payload_too_large")
    assert target.rows() == before


# --- pull -------------------------------------------------------------------------------------

QUERY_TEXT = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.text(max_size=30),
    st.sampled_from(["", "1e3", "0x10", "1.0", " 1", "١", "NaN", "9" * 5000, "-0", "+5"]),
)


@fuzz(200)
@given(
    params=st.lists(
        st.tuples(st.sampled_from(["cursor", "limit", "after", "x"]), QUERY_TEXT), max_size=4
    )
)
def test_pull_with_any_query_is_a_page_or_a_clear_422(
    target: Target, params: list[tuple[str, str]]
) -> None:
    response = target.client.get("/v1/changes", params=params, headers=target.phone.auth)
    if response.status_code == 200:
        page = ChangesPage.model_validate_json(response.content)
        assert all(
            change.kind != "record" or "sealed" not in change.data for change in page.changes
        )
    else:
        assert response.status_code == 422, response.text[:300]
        assert_refused(response)


@fuzz(100)
@given(
    # Visible ASCII (what an HTTP client lets through), with and without the scheme.
    authorization=st.one_of(
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=80),
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=80).map(
            "Bearer ".__add__
        ),
    ),
    path=st.sampled_from(["/v1/changes", "/v1/records:push", f"/v1/records/{uuid.uuid4()}"]),
)
def test_any_garbage_token_is_a_clear_401(target: Target, authorization: str, path: str) -> None:
    headers = {"Authorization": authorization, "Content-Type": "application/json"}
    if path.endswith(":push"):
        response = target.client.post(path, content=push_body(), headers=headers)
    else:
        response = target.client.get(path, headers=headers)
    assert response.status_code == 401, response.text[:300]
    assert assert_refused(response).error == "unauthenticated"
