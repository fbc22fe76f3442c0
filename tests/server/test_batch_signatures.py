"""Batch-signed pushes: one device signature over the Merkle root of a batch's content
digests, each envelope carrying its inclusion proof (sync.protocol.batch_signing). The server
checks one signature per batch; a tampered batch is refused whole, by name."""

from __future__ import annotations

import json

import pytest

from fieldapp import crypto
from sync.client._outcomes import Outgoing
from sync.client._push import _batch_signed
from sync.protocol import (
    BATCH_SIGNATURES_HEADER,
    PushResponse,
    RecordEnvelope,
    RecordView,
    sign_record_batch,
)
from sync.server import admin
from tests.server._harness import Phone, World, chunk_manifest


def batch_signed(envelopes: list[RecordEnvelope], sign: crypto.SigningKey) -> list[RecordEnvelope]:
    """The envelopes as a device sends a batch it signs once."""
    signature, proofs = sign_record_batch([env.content_digest for env in envelopes], sign.sign)
    return [
        env.model_copy(update={"signature": signature, "proof": proof})
        for env, proof in zip(envelopes, proofs, strict=True)
    ]


def pushed(world: World, phone: Phone, envelopes: list[RecordEnvelope]) -> PushResponse:
    response = world.push(phone, *envelopes)
    assert response.status_code == 200, response.text
    return PushResponse.model_validate_json(response.content)


def test_a_batch_signed_push_is_stored_and_each_record_verifies_alone(world: World) -> None:
    org = world.org("Batch Signed Org")
    phone = world.enrol(org)
    envelopes = batch_signed([phone.envelope() for _ in range(5)], phone.key)
    assert len({bytes(env.signature) for env in envelopes}) == 1  # one signature for all
    response = world.push(phone, *envelopes)
    assert response.headers[BATCH_SIGNATURES_HEADER] == "batch"
    outcomes = PushResponse.model_validate_json(response.content).outcomes
    assert [o.status for o in outcomes] == ["accepted"] * 5
    assert [o.receipt.content_digest for o in outcomes if o.receipt] == [
        env.content_digest for env in envelopes
    ]
    served = world.client.get(f"/v1/records/{envelopes[3].id}", headers=phone.auth)
    (stored,) = RecordView.model_validate_json(served.content).revisions
    assert stored.proof == envelopes[3].proof
    crypto.verify(phone.key.public_key, stored.signature, stored.signed_message())
    again = pushed(world, phone, envelopes)  # and as a duplicate, as any envelope
    assert [o.status for o in again.outcomes] == ["duplicate"] * 5


def _wrong_proof(envelopes: list[RecordEnvelope], phone: Phone) -> list[RecordEnvelope]:
    proof = envelopes[2].proof
    assert proof is not None
    path = [bytes([proof.path[0][0] ^ 1]) + proof.path[0][1:], *proof.path[1:]]
    bent = proof.model_copy(update={"path": path})
    return [*envelopes[:2], envelopes[2].model_copy(update={"proof": bent}), *envelopes[3:]]


def _reordered(envelopes: list[RecordEnvelope], phone: Phone) -> list[RecordEnvelope]:
    """The records in another order, each given the proof of its new place."""
    proofs = [env.proof for env in envelopes]
    order = [1, 0, 2, 3, 4]
    return [
        envelopes[i].model_copy(update={"proof": proofs[place]}) for place, i in enumerate(order)
    ]


def _swapped(envelopes: list[RecordEnvelope], phone: Phone) -> list[RecordEnvelope]:
    """Another record, signed alone by the same device, in the place of the batch's third."""
    stranger = phone.envelope()
    swapped = stranger.model_copy(
        update={"signature": envelopes[2].signature, "proof": envelopes[2].proof}
    )
    return [*envelopes[:2], swapped, *envelopes[3:]]


def _forged_root(envelopes: list[RecordEnvelope], phone: Phone) -> list[RecordEnvelope]:
    """The batch signed again by a key that is not the device's enrolled one."""
    return batch_signed(envelopes, crypto.SigningKey.generate())


@pytest.mark.parametrize(
    "tamper",
    [_wrong_proof, _reordered, _swapped, _forged_root],
    ids=["wrong-proof", "reordered", "swapped-record", "forged-root"],
)
def test_a_tampered_batch_is_refused_whole_by_name(world: World, tamper) -> None:
    org = world.org("Tampered Batch Org")
    phone = world.enrol(org)
    envelopes = tamper(batch_signed([phone.envelope() for _ in range(5)], phone.key), phone)
    outcomes = pushed(world, phone, envelopes).outcomes
    assert [o.status for o in outcomes] == ["rejected"] * 5
    codes = [o.errors[0].code for o in outcomes]
    assert set(codes) <= {"bad_batch_proof", "batch_refused"} and "bad_batch_proof" in codes
    assert all(o.errors[0].field == "proof" for o in outcomes)
    assert admin.stats(world.storage, org.id)["records"] == 0  # nothing partial stored


def test_a_tampered_batch_does_not_block_another_batch_in_the_same_push(world: World) -> None:
    """A relay forwards batches of many devices in one push: only the tampered one falls."""
    org = world.org("Two Batches Org")
    phone = world.enrol(org)
    good = batch_signed([phone.envelope() for _ in range(3)], phone.key)
    bad = _forged_root(batch_signed([phone.envelope() for _ in range(3)], phone.key), phone)
    outcomes = pushed(world, phone, [*good, *bad]).outcomes
    assert [o.status for o in outcomes] == ["accepted"] * 3 + ["rejected"] * 3


def test_a_record_signed_alone_still_goes_beside_batch_signed_ones(world: World) -> None:
    """Version rule: a device not upgraded yet (or a locked one) signs each record alone."""
    org = world.org("Mixed Signatures Org")
    phone = world.enrol(org)
    alone = phone.envelope()
    batch = batch_signed([phone.envelope() for _ in range(2)], phone.key)
    assert "proof" not in alone.model_dump_json()
    outcomes = pushed(world, phone, [alone, *batch]).outcomes
    assert [o.status for o in outcomes] == ["accepted"] * 3


def test_the_client_batch_signs_envelopes_as_stored_or_written_otherwise(world: World) -> None:
    """The device splices the batch signature and proof into each stored envelope's JSON (its
    own signature last, as the store writes it), and re-encodes one written otherwise."""
    phone = world.enrol(world.org("Client Batch Org"))
    stored = [phone.envelope() for _ in range(3)]
    bodies = [env.model_dump_json().encode() for env in stored]
    signature_first = json.loads(bodies[2])
    bodies[2] = json.dumps({"signature": signature_first.pop("signature"), **signature_first})
    items = [
        Outgoing(str(env.id), env.revision, env.content_digest, body if isinstance(body, bytes)
                 else body.encode())
        for env, body in zip(stored, bodies, strict=True)
    ]  # fmt: skip
    sent = [
        RecordEnvelope.model_validate_json(body) for body in _batch_signed(items, phone.key.sign)
    ]
    for envelope, original in zip(sent, stored, strict=True):
        assert envelope.signing_bytes() == original.signing_bytes()
        assert envelope.proof is not None
        crypto.verify(phone.key.public_key, envelope.signature, envelope.signed_message())
    outcomes = pushed(world, phone, sent).outcomes
    assert [o.status for o in outcomes] == ["accepted"] * 3


def test_a_batch_signed_record_with_attachments_keeps_its_manifest_under_the_signature(
    world: World,
) -> None:
    """The leaf is the content digest, which covers the attachments manifest: stored and
    served, the envelope verifies; a manifest changed under the same proof does not."""
    org = world.org("Batch Attachments Org")
    phone = world.enrol(org)
    photo = chunk_manifest(b"chunk one", b"chunk two")
    envelopes = batch_signed(
        [phone.envelope(attachments=[photo]), phone.envelope(), phone.envelope()], phone.key
    )
    assert [o.status for o in pushed(world, phone, envelopes).outcomes] == ["accepted"] * 3
    served = world.client.get(f"/v1/records/{envelopes[0].id}", headers=phone.auth)
    (stored,) = RecordView.model_validate_json(served.content).revisions
    assert stored.attachments == [photo]
    crypto.verify(phone.key.public_key, stored.signature, stored.signed_message())

    other = chunk_manifest(b"another chunk")
    again = batch_signed([phone.envelope(attachments=[photo]), phone.envelope()], phone.key)
    forged = [again[0].model_copy(update={"attachments": [other]}), again[1]]
    outcomes = pushed(world, phone, forged).outcomes
    assert [(o.status, o.errors[0].code) for o in outcomes] == [
        ("rejected", "bad_batch_proof"),
        ("rejected", "batch_refused"),
    ]
