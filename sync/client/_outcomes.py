"""What the server's answer to a push means for each record: the outcome to write back, and
the receipt that must prove it (a batch's receipts share one signature, verified once); and
the sealing epoch an outgoing envelope names, whose header goes with it (push and bundle)."""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fieldapp import crypto
from fieldapp.store import Outcome
from sync.client._report import SyncReport
from sync.protocol import Receipt, RecordOutcome, batch_receipt_signing_bytes, receipt_tree

__all__ = [
    "Outgoing",
    "ReceiptVerifier",
    "conflict_problem",
    "epochs_tail",
    "outcome_of",
    "sealed_epoch_id",
]

_SEALED_FIELD = b'"sealed":"'
_EPOCH_HEAD_BASE64 = 44  # version byte and 32-byte epoch id: 33 bytes, 44 base64 characters


def sealed_epoch_id(envelope: bytes) -> str | None:
    """The sealing epoch a signed envelope's JSON names (crypto.epochs), read from the first
    bytes of its `sealed` field without parsing the rest; None for any other envelope."""
    start = envelope.find(_SEALED_FIELD)
    if start < 0:
        return None
    start += len(_SEALED_FIELD)
    try:
        head = base64.b64decode(envelope[start : start + _EPOCH_HEAD_BASE64], validate=True)
    except (binascii.Error, ValueError):
        return None
    return head[1:].hex() if len(head) == 33 and head[:1] == b"\x02" else None


def epochs_tail(epochs: Mapping[str, bytes]) -> bytes:
    """What closes a JSON list of envelopes and its object: `],"epochs":[headers]}` with the
    epoch headers in base64 (by id), or `]}` when there are none (as before epochs)."""
    if not epochs:
        return b"]}"
    headers = b",".join(b'"' + base64.b64encode(epochs[key]) + b'"' for key in sorted(epochs))
    return b'],"epochs":[' + headers + b"]}"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One envelope on its way, with what its receipt must name and the sealing epoch it
    names, if any (each read once, when the envelope is)."""

    record_id: str
    revision: str
    content_digest: str
    body: bytes
    epoch: str | None = None


@dataclass
class ReceiptVerifier:
    """Checks receipts against the server key the device enrolled with (`server_key`, its
    `server_key_id`), remembering the signatures it verified."""

    server_key: bytes
    server_key_id: str
    _verified: set[tuple[bytes, bytes]] = field(default_factory=set)
    # What the receipts of the last answer sign (by id(receipt)), found by `read_answer`.
    _tree_signed: dict[int, tuple[Receipt, bytes]] = field(default_factory=dict)

    def read_answer(self, receipts: Iterable[Receipt]) -> None:
        """Take in the receipts of one answer before each is checked (`problem`): each
        batch tree whose every leaf the answer holds is rebuilt once from their entries,
        hashes only, and a receipt whose proof is its path in that tree signs the tree's root
        with no climb of its own (the same bytes `Receipt.signing_bytes()` would give)."""
        self._tree_signed = {}
        trees: dict[tuple[bytes, int], dict[int, Receipt]] = defaultdict(dict)
        for receipt in receipts:
            if receipt.proof is not None:
                leaves = trees[(receipt.signature, receipt.proof.size)]
                leaves.setdefault(receipt.proof.index, receipt)
        for (_, size), leaves in trees.items():
            if len(leaves) != size:
                continue  # a tree with leaves elsewhere: each of its receipts climbs alone
            ordered = [leaves[index] for index in range(size)]
            root, paths = receipt_tree([receipt.entry_bytes() for receipt in ordered])
            signed_by_key: dict[str, bytes] = {}
            for receipt, path in zip(ordered, paths, strict=True):
                assert receipt.proof is not None
                if receipt.proof.path == path:
                    key_id = receipt.server_key_id
                    if key_id not in signed_by_key:
                        signed_by_key[key_id] = batch_receipt_signing_bytes(root, size, key_id)
                    self._tree_signed[id(receipt)] = (receipt, signed_by_key[key_id])

    def problem(self, item: Outgoing, receipt: Receipt | None) -> str | None:
        """Why this receipt does not prove the server holds exactly this envelope, or None.

        A batch's receipts share one signature (over the root of their Merkle tree): it is
        verified once; each receipt's own entry and proof are checked every time (by the tree
        `read_answer` rebuilt, or climbing its own proof).
        """
        if receipt is None:
            return "the server sent no receipt"
        if (str(receipt.record_id), receipt.revision) != (item.record_id, item.revision):
            return "the receipt names another record"
        if receipt.content_digest != item.content_digest:
            return "the receipt is for other content"
        if receipt.server_key_id != self.server_key_id:
            return "the receipt is signed by an unknown server key"
        known = self._tree_signed.get(id(receipt))
        signing_bytes = known[1] if known and known[0] is receipt else receipt.signing_bytes()
        signed = (signing_bytes, receipt.signature)
        if signed not in self._verified:
            try:
                crypto.verify(self.server_key, receipt.signature, signed[0])
            except crypto.SignatureError:
                return "the receipt's signature is not the server's"
            self._verified.add(signed)
        return None


def outcome_of(
    item: Outgoing, outcome: RecordOutcome, report: SyncReport, receipts: ReceiptVerifier
) -> Outcome | None:
    """What to write back for one record (counted in `report`); None (it stays queued, the
    reason in `report.errors`) without a valid receipt."""
    if outcome.status == "rejected":
        problems = [error.model_dump() for error in outcome.errors]
        report.rejected += 1
        return Outcome(item.record_id, item.revision, "rejected", problems=problems)
    problem = receipts.problem(item, outcome.receipt)
    if problem is not None:
        report.unconfirmed += 1
        report.errors.append(f"record {item.record_id} stays queued: {problem}")
        return None
    assert outcome.receipt is not None
    receipt = outcome.receipt.model_dump_json()
    taken = outcome.receipt.received_at  # the server's clock: purging goes by it
    if outcome.status == "conflict":
        report.conflict += 1
        return Outcome(
            item.record_id,
            item.revision,
            "conflict",
            problems=[conflict_problem(outcome.current_revision)],
            receipt=receipt,
            server_revision=outcome.current_revision,
            received_at=taken,
        )
    if outcome.status == "accepted":
        report.accepted += 1
    else:
        report.duplicate += 1
    return Outcome(item.record_id, item.revision, "sent", receipt=receipt, received_at=taken)


def conflict_problem(server_revision: str | None) -> dict[str, Any]:
    """The problem a record in conflict carries, naming the server's version."""
    return {
        "field": "",
        "path": "",
        "code": "conflict",
        "message": "this record was also edited elsewhere: the server keeps both versions "
        f"for review (server version {server_revision or 'unknown'})",
    }
