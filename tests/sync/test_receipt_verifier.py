"""The device's check of a push answer's receipts: a batch's tree is rebuilt once from the
answer (`ReceiptVerifier.read_answer`), and every receipt is judged exactly as it would be
alone, climbing its own proof: a receipt bent in any way is refused, the others pass."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.client import Outgoing, ReceiptVerifier
from sync.protocol import Receipt
from tests.server.test_batch_receipts import SERVER_KEY, entries, signed_batch


def _judged(receipts: list[Receipt], expected: list[Receipt], *, read: bool) -> list[str | None]:
    verifier = ReceiptVerifier(SERVER_KEY.public_key, "key-1")
    if read:
        verifier.read_answer(receipts)
    return [
        verifier.problem(
            Outgoing(str(want.record_id), want.revision, want.content_digest, b""), receipt
        )
        for receipt, want in zip(receipts, expected, strict=True)
    ]


def _bent(receipt: Receipt, how: str, batch: list[Receipt]) -> Receipt:
    assert receipt.proof is not None
    if how == "seq":
        return receipt.model_copy(update={"seq": receipt.seq + 1})
    if how == "received_at":
        return receipt.model_copy(update={"received_at": batch[-1].received_at.replace(year=2001)})
    if how == "signature":
        return receipt.model_copy(update={"signature": bytes(64)})
    if how == "path" and receipt.proof.path:
        path = list(receipt.proof.path)
        path[0] = hashlib.sha256(path[0]).digest()
        return receipt.model_copy(update={"proof": receipt.proof.model_copy(update={"path": path})})
    return receipt


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1, 40),
    data=st.data(),
    how=st.sampled_from(["none", "seq", "received_at", "signature", "path", "missing"]),
)
def test_a_whole_answer_read_at_once_is_judged_as_each_receipt_alone(
    size: int, data: st.DataObject, how: str
) -> None:
    batch = signed_batch(entries(size))
    answered = list(batch)
    bent_at = data.draw(st.integers(0, size - 1))
    answered[bent_at] = _bent(batch[bent_at], how, batch)
    if how == "missing":  # a leaf left out: the tree cannot be rebuilt, each climbs alone
        del answered[bent_at]
    expected = [receipt for receipt in batch if how != "missing" or receipt is not batch[bent_at]]

    read = _judged(answered, expected, read=True)

    assert read == _judged(answered, expected, read=False)
    bent = how not in {"none", "missing"} and answered[bent_at] is not batch[bent_at]
    assert [problem is not None for problem in read] == [
        bent and index == bent_at for index in range(len(answered))
    ]


def test_a_whole_batch_in_one_answer_is_proven_with_one_tree_and_no_climb(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batch = signed_batch(entries(37))

    def climb(receipt: Receipt) -> bytes:
        raise AssertionError("a receipt climbed its own proof")

    monkeypatch.setattr(Receipt, "signing_bytes", climb)
    assert _judged(batch, batch, read=True) == [None] * 37
