"""Batch receipts (`POST /v1/records:push?receipts=batch`): one server signature per batch over
a Merkle tree of the receipt entries, and each receipt still verifiable on its own."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldapp import crypto
from sync.protocol import (
    PushResponse,
    Receipt,
    ReceiptProof,
    batch_receipt_signing_bytes,
    receipt_tree,
)
from tests.server._harness import World, push_body, revision

SERVER_KEY = crypto.SigningKey.generate()


def push(world: World, phone, *envelopes, mode: str | None = "batch") -> PushResponse:
    response = world.client.post(
        "/v1/records:push",
        params={} if mode is None else {"receipts": mode},
        content=push_body(*envelopes),
        headers={**phone.auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    return PushResponse.model_validate_json(response.content)


def entries(count: int, first: int = 0) -> list[Receipt]:
    return [
        Receipt(
            record_id=uuid.uuid4(),
            revision=revision(),
            content_digest=hashlib.sha256(str(index).encode()).hexdigest(),
            seq=index + 1,
            received_at=datetime.now(UTC),
            server_key_id="key-1",
            signature=b"",
        )
        for index in range(first, first + count)
    ]


def signed_batch(receipts: list[Receipt]) -> list[Receipt]:
    """What the server does: one signature over the tree root, a proof per receipt."""
    root, paths = receipt_tree([receipt.entry_bytes() for receipt in receipts])
    size = len(receipts)
    signature = SERVER_KEY.sign(batch_receipt_signing_bytes(root, size, "key-1"))
    return [
        receipt.model_copy(
            update={
                "signature": signature,
                "proof": ReceiptProof(index=index, size=size, path=path),
            }
        )
        for index, (receipt, path) in enumerate(zip(receipts, paths, strict=True))
    ]


def verifies(receipt: Receipt) -> bool:
    try:
        crypto.verify(SERVER_KEY.public_key, receipt.signature, receipt.signing_bytes())
    except crypto.SignatureError:
        return False
    return True


# --- the proofs themselves ----------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 95, 128, 129, 500])
def test_every_receipt_of_a_batch_verifies_alone_after_a_round_trip(size: int) -> None:
    for receipt in signed_batch(entries(size)):
        stored = Receipt.model_validate_json(receipt.model_dump_json())  # as a device keeps it
        assert stored == receipt
        assert verifies(stored)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 40), data=st.data())
def test_changing_anything_a_receipt_vouches_for_breaks_it(size: int, data: st.DataObject) -> None:
    batch = signed_batch(entries(size))
    receipt = batch[data.draw(st.integers(0, size - 1))]
    other = entries(1, first=1000)[0]
    field = data.draw(st.sampled_from(["record_id", "revision", "content_digest", "seq"]))
    assert not verifies(receipt.model_copy(update={field: getattr(other, field)}))
    assert receipt.proof is not None
    if size > 1:
        moved = (receipt.proof.index + 1) % size
        swapped = batch[moved].proof
        assert swapped is not None
        if len(swapped.path) == len(receipt.proof.path):  # else the model refuses it at once
            assert not verifies(receipt.model_copy(update={"proof": swapped}))
        node = data.draw(st.integers(0, len(receipt.proof.path) - 1))
        path = list(receipt.proof.path)
        path[node] = hashlib.sha256(path[node]).digest()
        bent = receipt.proof.model_copy(update={"path": path})
        assert not verifies(receipt.model_copy(update={"proof": bent}))


def test_a_proof_that_cannot_fit_its_tree_is_refused_when_parsed() -> None:
    receipt = signed_batch(entries(5))[4]
    assert receipt.proof is not None
    body = receipt.model_dump(mode="json")
    for bad in (
        {**body["proof"], "index": 5},  # past the end
        {**body["proof"], "size": 8},  # another tree shape: the path is too short
        {**body["proof"], "path": body["proof"]["path"][:-1]},
        {**body["proof"], "path": ["AAAA", *body["proof"]["path"][1:]]},  # not a sha256
    ):
        with pytest.raises(ValueError):
            Receipt.model_validate({**body, "proof": bad})


def test_a_per_record_receipt_is_what_version_1_signed() -> None:
    receipt = entries(1)[0]
    assert "proof" not in receipt.model_dump_json()
    assert receipt.signing_bytes() == receipt.entry_bytes()
    assert receipt.entry_bytes().startswith(b"fieldapp-receipt-v1\n")
    # A batch root signature is never a valid per-record signature, nor the other way round.
    [batched] = signed_batch([receipt])
    alone = receipt.model_copy(update={"signature": batched.signature})
    assert verifies(batched) and not verifies(alone)


# --- the server ---------------------------------------------------------------------------------


def test_a_batch_gets_one_signature_and_every_receipt_verifies_alone(world: World) -> None:
    org = world.org("Batch Receipts Org")
    phone = world.enrol(org)
    envelopes = [phone.envelope() for _ in range(6)]
    bad = phone.envelope(stats={"no_such_field": 1})
    answer = push(world, phone, envelopes[0], bad, *envelopes[1:])
    assert [o.status for o in answer.outcomes] == ["accepted", "rejected"] + ["accepted"] * 5
    receipts = [o.receipt for o in answer.outcomes if o.receipt is not None]
    assert len(receipts) == 6 and answer.outcomes[1].receipt is None
    assert len({r.signature for r in receipts}) == 1
    for envelope, receipt in zip(envelopes, receipts, strict=True):
        assert (receipt.record_id, receipt.revision) == (envelope.id, envelope.revision)
        assert receipt.content_digest == envelope.content_digest
        assert receipt.proof is not None and receipt.proof.size == 6
        crypto.verify(phone.server_public_key, receipt.signature, receipt.signing_bytes())


def test_a_duplicate_in_another_batch_vouches_for_the_same_entry(world: World) -> None:
    org = world.org("Batch Duplicate Org")
    phone = world.enrol(org)
    envelope = phone.envelope()
    first = push(world, phone, envelope).outcomes[0].receipt
    again = push(world, phone, phone.envelope(), envelope).outcomes[1]
    assert again.status == "duplicate" and again.receipt is not None and first is not None
    assert again.receipt.entry_bytes() == first.entry_bytes()
    assert again.receipt.signature != first.signature  # another batch, another root
    crypto.verify(phone.server_public_key, again.receipt.signature, again.receipt.signing_bytes())


def test_without_the_parameter_each_receipt_is_signed_alone(world: World) -> None:
    org = world.org("Record Receipts Org")
    phone = world.enrol(org)
    answer = push(world, phone, phone.envelope(), phone.envelope(), mode=None)
    receipts = [o.receipt for o in answer.outcomes if o.receipt is not None]
    assert len(receipts) == 2 and receipts[0].signature != receipts[1].signature
    for receipt in receipts:
        assert receipt.proof is None
        crypto.verify(phone.server_public_key, receipt.signature, receipt.entry_bytes())


def test_an_unknown_receipt_mode_is_a_clear_422(world: World) -> None:
    org = world.org("Bad Mode Org")
    phone = world.enrol(org)
    response = world.client.post(
        "/v1/records:push",
        params={"receipts": "none"},
        content=push_body(phone.envelope()),
        headers={**phone.auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["fields"][0]["path"] == "query.receipts"


def test_openapi_documents_the_push_body_and_the_receipt_mode(world: World) -> None:
    spec = world.client.get("/openapi.json").json()
    push_operation = spec["paths"]["/v1/records:push"]["post"]
    body = push_operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PushRequest"}
    [mode] = [p for p in push_operation["parameters"] if p["name"] == "receipts"]
    assert mode["in"] == "query" and set(mode["schema"]["enum"]) == {"record", "batch"}
    answer = push_operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/PushResponse"}
    assert "ReceiptProof" in spec["components"]["schemas"]
