"""The shortcuts the push ingest takes for speed give exactly what the long way gives: the
signing bytes with the stats text spliced in, the remembered statistics verdicts (never
shared between values that differ in type or in what the rules read), the Merkle climb, and
a batch with a refused record in the middle (each record its own outcome, audit and
receipt)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldapp import crypto
from fieldapp.forms.spec import FormSpec
from sync.protocol import (
    MatchKey,
    PushResponse,
    RecordEnvelope,
    canonical_json,
    sign_record_batch,
)
from sync.protocol.attachments import AttachmentRef
from sync.protocol.receipts import ReceiptProof, merkle_tree
from sync.server import admin
from sync.server.checks import FormRules, stats_errors
from tests.server._harness import World, push_body, revision

_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)  # no lone surrogates
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
)
_STATS = st.dictionaries(
    _TEXT,
    st.recursive(
        _SCALARS,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
        max_leaves=12,
    ),
    max_size=8,
)


@st.composite
def envelopes(draw: st.DrawFn) -> RecordEnvelope:
    """Envelopes with every optional field present or not, any stats that can be signed."""
    zone = timezone(timedelta(minutes=draw(st.integers(-720, 840))))
    created = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(
        microseconds=draw(st.integers(0, 10**13))
    )
    withdrawn = draw(st.booleans())
    proof = None
    if draw(st.booleans()):
        size = draw(st.integers(1, 9))
        _, proofs = sign_record_batch(["ab" * 32] * size, lambda _: b"\1" * 64)
        proof = proofs[draw(st.integers(0, size - 1))]
    return RecordEnvelope(
        id=uuid.UUID(int=draw(st.integers(0, 2**128 - 1))),
        form_id=draw(st.text("abcé_ü", min_size=1, max_size=8)),
        form_version=draw(st.sampled_from(["1", "2.0", "v€"])),
        revision=revision(),
        base_revision=draw(st.none() | st.just(revision())),
        created_at=created.astimezone(zone),
        updated_at=created + timedelta(seconds=draw(st.integers(0, 10**6))),
        device_id=draw(st.text("device-ñ", min_size=1, max_size=12)),
        stats=draw(_STATS),
        sealed=None if withdrawn else draw(st.binary(min_size=1, max_size=40)),
        deleted=draw(st.booleans()),
        consent_withdrawn=withdrawn,
        match=[MatchKey(kind="name", digest="0" * 32)] if draw(st.booleans()) else [],
        attachments=[
            AttachmentRef(
                id=uuid.uuid4().hex, field="photo", media_type="image/jpeg", size=1,
                chunks=["cd" * 32],
            )
        ]
        if draw(st.booleans())
        else [],
        signature=draw(st.binary(min_size=64, max_size=64)),
        proof=proof,
    )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(envelopes())
def test_signing_bytes_with_the_stats_text_given_are_the_same_bytes(
    envelope: RecordEnvelope,
) -> None:
    """The server encodes stats once and splices the text into the signing bytes: byte for
    byte what a device signs (unicode, nesting, numbers, every optional field)."""
    assert envelope.signing_bytes(canonical_json(envelope.stats)) == envelope.signing_bytes()


def test_signing_bytes_from_a_wire_round_trip_are_the_same_bytes() -> None:
    """As the server gets an envelope: parsed from JSON, then its stats encoded once."""
    stats = {
        "zähler": [1, 2.5, -0.0, 10**20, True, None],
        "名前": {"b": "\u2028\x7f\U0001f600", "a": [{"_id": "x", "n": 1e-7}]},
        "esc": '"\\/\n\t',
    }
    envelope = RecordEnvelope(
        id=uuid.uuid4(),
        form_id="f",
        form_version="1",
        revision=revision(),
        created_at=datetime.now(UTC),
        updated_at=datetime.now(UTC),
        device_id="d",
        stats=stats,
        signature=b"\0" * 64,
    )
    parsed = RecordEnvelope.model_validate_json(envelope.model_dump_json())
    assert parsed.signing_bytes(canonical_json(parsed.stats)) == envelope.signing_bytes()


REMEMBERED = FormSpec.model_validate(
    {
        "id": "remembered",
        "version": "1",
        "title": {"en": "Remembered"},
        "children": [
            {"name": "consent", "type": "boolean", "sensitivity": "statistical"},
            {"name": "days", "type": "integer", "sensitivity": "statistical"},
            {
                "name": "weeks",
                "type": "calculate",
                "calculation": "int(${days} div 7)",
                "sensitivity": "statistical",
            },
            {
                "kind": "repeat",
                "name": "people",
                "children": [
                    {
                        "name": "score",
                        "type": "integer",
                        "constraint": ". <= ${days}",
                        "sensitivity": "statistical",
                    }
                ],
            },
        ],
    }
)
_PERSON = "0b6f9e1e-8a52-4c55-9a3e-6f7d1c2b3a4d"


def codes(rules: FormRules, stats: dict[str, Any]) -> list[tuple[str, str]]:
    return [(error.code, error.path) for error in stats_errors(rules, stats)]


def test_a_remembered_verdict_is_never_given_to_a_value_of_another_type() -> None:
    """True and 1, 1 and 1.0, "1" and 1 are equal or alike to Python's dict: each is still
    judged as itself after the other was accepted."""
    rules = FormRules(REMEMBERED)
    assert codes(rules, {"consent": True, "days": 14}) == []
    assert codes(rules, {"consent": 1}) == [("type", "consent")]
    assert codes(rules, {"days": 14.0}) == [("type", "days")]
    assert codes(rules, {"days": "14"}) == [("type", "days")]
    assert codes(rules, {"consent": False, "days": 0}) == []
    assert codes(rules, {"consent": 0, "days": False}) == [("type", "consent"), ("type", "days")]


def test_a_remembered_verdict_follows_the_statistics_its_rules_read() -> None:
    """A calculation or a constraint accepted for some inputs is judged again for others."""
    rules = FormRules(REMEMBERED)
    assert codes(rules, {"days": 14, "weeks": 2}) == []
    assert codes(rules, {"days": 21, "weeks": 2}) == [("calculation_mismatch", "weeks")]
    person = {"_id": _PERSON, "score": 10}
    assert codes(rules, {"days": 14, "people": [person]}) == []
    assert codes(rules, {"days": 7, "people": [person]}) == [("constraint", "people[0].score")]


@pytest.mark.parametrize(
    "instance_id",
    [
        _PERSON.upper(),
        "{" + _PERSON + "}",
        _PERSON.replace("-", ""),
        "urn:uuid:" + _PERSON,
        _PERSON + "\n",
        _PERSON[:-1] + "g",
        7,
        None,
    ],
)
def test_a_repeat_instance_id_must_be_a_canonical_uuid(instance_id: object) -> None:
    rules = FormRules(REMEMBERED)
    stats = {"days": 14, "people": [{"_id": instance_id, "score": 1}]}
    assert codes(rules, stats) == [("type", "people[0]")]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 100])
def test_every_leaf_climbs_to_the_root_and_a_path_of_another_length_does_not(size: int) -> None:
    leaves = [bytes([index % 256]) * 32 for index in range(size)]
    root, paths = merkle_tree(leaves)
    for index, (leaf, path) in enumerate(zip(leaves, paths, strict=True)):
        assert ReceiptProof(index=index, size=size, path=path).root(leaf) == root
        for wrong in [[*path, leaf], *([path[:-1]] if path else [])]:
            with pytest.raises(ValueError, match="does not fit"):
                ReceiptProof.model_construct(index=index, size=size, path=wrong).root(leaf)


def test_a_batch_signed_push_with_a_refused_record_in_the_middle(world: World) -> None:
    """Each record gets its own outcome and audit entry; the stored ones get receipts of one
    server signature that verify alone, and keep the device's batch proof."""
    org = world.org("Refused In The Middle")
    phone = world.enrol(org)
    records = [phone.envelope() for _ in range(5)]
    records[2] = phone.envelope(stats={"favourite_colour": "red"})  # not a field of the form
    signature, proofs = sign_record_batch([env.content_digest for env in records], phone.key.sign)
    signed = [
        env.model_copy(update={"signature": signature, "proof": proof})
        for env, proof in zip(records, proofs, strict=True)
    ]
    response = world.client.post(
        "/v1/records:push",
        params={"receipts": "batch"},
        content=push_body(*signed),
        headers={**phone.auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    outcomes = PushResponse.model_validate_json(response.content).outcomes
    assert [o.status for o in outcomes] == ["accepted"] * 2 + ["rejected"] + ["accepted"] * 2
    assert [(e.code, e.path) for e in outcomes[2].errors] == [("unknown_field", "favourite_colour")]
    assert outcomes[2].receipt is None
    receipts = [o.receipt for o in outcomes if o.receipt is not None]
    assert len({bytes(receipt.signature) for receipt in receipts}) == 1
    for receipt, env in zip(receipts, signed[:2] + signed[3:], strict=True):
        assert receipt.content_digest == env.content_digest
        assert receipt.proof is not None and receipt.proof.size == 4
        crypto.verify(phone.server_public_key, receipt.signature, receipt.signing_bytes())
    audit = [e for e in world.storage.list_audit(org_id=org.id) if e.action == "push"]
    assert sorted((e.record_id, e.outcome) for e in audit) == sorted(
        [(str(env.id), "accepted") for env in signed[:2] + signed[3:]]
        + [(str(signed[2].id), "rejected:unknown_field")]
    )
    assert admin.stats(world.storage, org.id)["records"] == 4
    for env in signed[:2] + signed[3:]:
        (stored,) = world.storage.list_revisions(org.id, env.id)
        assert stored.signature_proof is not None
        assert ReceiptProof.model_validate_json(stored.signature_proof) == env.proof
        assert stored.stats == env.stats
