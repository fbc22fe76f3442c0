"""Regression tests for what the security suites found in the wire protocol and the server's
published OpenAPI schema (each was a 500, a schema-violating request accepted, or a
schema-valid request refused)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from sync.protocol import MAX_STATS_DEPTH, EnrolRequest, PushRequest, RecordEnvelope
from sync.server.admin import EnrolCodeRequest
from sync.server.app import create_app
from sync.server.settings import ServerSettings
from sync.server.storage import open_storage


def envelope(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "form_id": "screening",
        "form_version": "1",
        "revision": "1-" + "0" * 32,
        "created_at": "2026-11-02T09:30:00Z",
        "updated_at": "2026-11-02T09:30:00+07:00",
        "device_id": "dev-1",
        "stats": {"age": 19},
        "signature": "AAAA",
    }
    return {**body, **changes}


def deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels - 1):
        value = [value]
    return value


def test_a_valid_envelope_still_validates() -> None:
    parsed = RecordEnvelope.model_validate(envelope(stats={"kids": [{"_id": "a", "age": 3}]}))
    assert parsed.created_at == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    assert parsed.stats == {"kids": [{"_id": "a", "age": 3}]}


@pytest.mark.parametrize(
    "stats",
    [
        {"age": "\ud800"},  # a lone surrogate: signing it raised UnicodeEncodeError (500)
        {"sex": {"\udfff": 1}},
        {"age": deep(MAX_STATS_DEPTH + 1)},  # 500 levels: pydantic's serialiser gave up (500)
        {"age": float("nan")},  # dumped as null: the signature check said bad_signature
        {"age": float("inf")},
        {"age": [1.0, float("-inf")]},
    ],
)
def test_stats_that_cannot_be_canonical_json_are_invalid(stats: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="stats"):
        RecordEnvelope.model_validate(envelope(stats=stats))


def test_stats_as_deep_as_allowed_are_valid() -> None:
    stats = {"age": deep(MAX_STATS_DEPTH - 1)}
    assert RecordEnvelope.model_validate(envelope(stats=stats)).signing_bytes()


@pytest.mark.parametrize(
    "changes",
    [
        {"revision": "1-" + "0" * 32 + "\n"},  # `$` matched before a final newline
        {"base_revision": "1-" + "0" * 32 + "\n"},
        {"created_at": 1_700_000_000},  # taken as a Unix time
        {"updated_at": "1700000000"},
        {"created_at": 1.5},
        {"deleted": 0},  # taken as False
        {"deleted": "true"},
        {"deleted": 1.0},
    ],
)
def test_values_the_schema_does_not_allow_are_invalid(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RecordEnvelope.model_validate(envelope(**changes))


@pytest.mark.parametrize("protocol", [True, 1.0, "1", 2])
def test_the_protocol_version_is_the_integer_one(protocol: Any) -> None:
    with pytest.raises(ValidationError):
        PushRequest.model_validate({"protocol": protocol, "records": []})
    assert PushRequest.model_validate({"protocol": 1, "records": []}).protocol == 1


@pytest.mark.parametrize("ttl", [True, "1", "24.0"])
def test_an_enrol_code_ttl_is_a_number(ttl: Any) -> None:
    with pytest.raises(ValidationError):
        EnrolCodeRequest.model_validate({"role": "collector", "ttl_hours": ttl})
    assert EnrolCodeRequest.model_validate({"role": "collector", "ttl_hours": 2}).ttl_hours == 2


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = ServerSettings(data_dir=tmp_path_factory.mktemp("openapi") / Path("server"))
    storage = open_storage(settings.database_url)
    try:
        document: dict[str, Any] = create_app(settings, storage=storage).openapi()
        return document
    finally:
        storage.close()


def test_openapi_describes_base64_revisions_and_keys_as_the_server_checks_them(
    openapi: dict[str, Any],
) -> None:
    """Clients generated from /openapi.json sent raw bytes, free-form revisions and keys of
    any length, which the server then refused (schemathesis: schema-valid request rejected)."""
    schemas = openapi["components"]["schemas"]
    envelope_fields = schemas["RecordEnvelope"]["properties"]
    assert (envelope_fields["signature"]["type"], envelope_fields["signature"]["format"]) == (
        "string",
        "byte",
    )
    assert envelope_fields["revision"]["pattern"] == "^[1-9][0-9]{0,8}-[0-9a-f]{32}$"
    key = schemas["EnrolRequest"]["properties"]["device_public_key"]
    assert key["pattern"] == "^[A-Za-z0-9+/]{43}=$"
    EnrolRequest.model_validate(
        {"code": "ABCD-EFGH", "device_id": "d", "device_public_key": "A" * 43 + "="}
    )
    with pytest.raises(ValidationError):
        EnrolRequest.model_validate(
            {"code": "ABCD-EFGH", "device_id": "d", "device_public_key": "A" * 42 + "=="}
        )


def test_openapi_links_chain_the_calls(openapi: dict[str, Any]) -> None:
    enrol_codes = openapi["paths"]["/v1/admin/enrol-codes"]["post"]["responses"]["200"]
    link = enrol_codes["links"]["EnrolWithCode"]
    assert link["operationRef"] == "#/paths/~1v1~1enrol/post"
    assert link["requestBody"] == {"code": "$response.body#/code"}
    assert "content" in enrol_codes  # the answer's own schema is still there
