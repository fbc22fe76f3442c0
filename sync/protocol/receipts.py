"""Receipts: the server's signed word that it holds a revision, one signature per record or
one per batch (a Merkle tree, RFC 9162), and the check a device makes later that the server
still holds what it receipted (`POST /v1/receipts:check`)."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field, model_validator

from sync.protocol.canonical import canonical_json
from sync.protocol.wire import (
    MAX_BATCH_RECORDS,
    PROTOCOL_VERSION,
    B64Bytes,
    ProtocolVersion,
    Revision,
    WireModel,
)

__all__ = [
    "MAX_RECEIPT_CHECK",
    "Receipt",
    "ReceiptCheck",
    "ReceiptCheckResponse",
    "ReceiptMode",
    "ReceiptProof",
    "RevisionRef",
    "batch_receipt_signing_bytes",
    "merkle_tree",
    "receipt_tree",
]

MAX_RECEIPT_CHECK = 500  # revisions one `POST /v1/receipts:check` asks about

ReceiptMode = Literal["record", "batch"]
"""`POST /v1/records:push?receipts=...`: one signature per record (the default) or per batch."""

_LEAF, _NODE = b"\x00", b"\x01"  # RFC 9162 domain separation of leaves and inner nodes


class ReceiptProof(WireModel):
    """Where a receipt's entry sits in a batch the server signed once: the Merkle audit path
    (RFC 9162 tree shape, SHA-256) from leaf `index` of a tree of `size` leaves to its root,
    sibling hashes from the leaf upwards."""

    index: int = Field(ge=0, lt=MAX_BATCH_RECORDS)
    size: int = Field(ge=1, le=MAX_BATCH_RECORDS)
    path: list[B64Bytes] = Field(max_length=16)

    @model_validator(mode="after")
    def _fits_the_tree(self) -> ReceiptProof:
        if self.index >= self.size:
            raise ValueError("index must be below size")
        if any(len(node) != 32 for node in self.path):
            raise ValueError("each path node must be a 32-byte SHA-256 hash")
        if len(self.path) != _path_length(self.index, self.size):
            raise ValueError("the path does not fit a tree of this size")
        return self

    def root(self, leaf: bytes) -> bytes:
        """The root this path leads to from `leaf`, the entry's leaf hash."""
        return _climb(leaf, self.index, self.size, self.path)


def _split(size: int) -> int:
    """Where RFC 9162 splits a tree of `size` > 1 leaves: the largest power of two below."""
    return 1 << ((size - 1).bit_length() - 1)


def _path_length(index: int, size: int) -> int:
    return len(_sides(index, size))


def _sides(index: int, size: int) -> list[bool]:
    """Whether leaf `index` lies in the left subtree at each split, from the root down."""
    sides = []
    while size > 1:
        split = _split(size)
        sides.append(index < split)
        if index >= split:
            index, size = index - split, size - split
        else:
            size = split
    return sides


def _climb(node: bytes, index: int, size: int, path: list[bytes]) -> bytes:
    """The root above `node`, leaf `index` of `size`, with its audit path (leaf upwards)."""
    sides = _sides(index, size)
    if len(path) != len(sides):
        raise ValueError("the path does not fit a tree of this size")
    for sibling, left in zip(path, reversed(sides), strict=True):
        pair = node + sibling if left else sibling + node
        node = hashlib.sha256(_NODE + pair).digest()
    return node


class Receipt(WireModel):
    """The server's signed acknowledgement that it holds `(record_id, revision)` durably.

    Only with a receipt may a device purge its local copy of a sent record (by policy).
    Without `proof`, `signature` signs this receipt alone. With `proof` (batch receipts),
    `signature` signs the root of the batch's Merkle tree, and this receipt's entry is a leaf
    of it: `signing_bytes()` recomputes that root, so the receipt verifies on its own either
    way, with `verify(server key, signature, signing_bytes())`.
    """

    record_id: UUID
    revision: str
    content_digest: str
    seq: int
    received_at: datetime
    server_key_id: str
    signature: B64Bytes
    # Left out of the JSON when absent, so per-record receipts stay as version 1 had them.
    proof: ReceiptProof | None = Field(default=None, exclude_if=lambda proof: proof is None)

    def entry_bytes(self) -> bytes:
        """What the server vouches for: every field but the signature and the proof."""
        body = self.model_dump(mode="json", exclude={"signature", "proof"})
        return b"fieldapp-receipt-v1\n" + canonical_json(body)

    def signing_bytes(self) -> bytes:
        """What `signature` signs: the entry itself, or the root of the batch its proof
        places the entry in."""
        entry = self.entry_bytes()
        if self.proof is None:
            return entry
        root = self.proof.root(hashlib.sha256(_LEAF + entry).digest())
        return batch_receipt_signing_bytes(root, self.proof.size, self.server_key_id)


def batch_receipt_signing_bytes(root: bytes, size: int, server_key_id: str) -> bytes:
    """What the server signs once per batch: the Merkle root over the batch's receipt entries."""
    root_text = base64.b64encode(root).decode("ascii")
    body = {"root": root_text, "size": size, "server_key_id": server_key_id}
    return b"fieldapp-receipt-batch-v1\n" + canonical_json(body)


def receipt_tree(entries: list[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """The Merkle root (RFC 9162) over receipt entries (`Receipt.entry_bytes()`, in batch
    order) and each entry's audit path, leaf to root."""
    if not entries:
        raise ValueError("a receipt tree needs at least one entry")
    return merkle_tree([hashlib.sha256(_LEAF + entry).digest() for entry in entries])


def merkle_tree(leaves: list[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """The RFC 9162 root over leaf hashes (each already `sha256(0x00 + leaf data)`), in
    order, and each leaf's audit path, leaf to root (what `ReceiptProof.path` holds)."""
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
    return _subtree(leaves)


def _subtree(leaves: list[bytes]) -> tuple[bytes, list[list[bytes]]]:
    if len(leaves) == 1:
        return leaves[0], [[]]
    split = _split(len(leaves))
    left, left_paths = _subtree(leaves[:split])
    right, right_paths = _subtree(leaves[split:])
    for path in left_paths:
        path.append(right)
    for path in right_paths:
        path.append(left)
    return hashlib.sha256(_NODE + left + right).digest(), left_paths + right_paths


class RevisionRef(WireModel):
    """One revision of one record, by its identity."""

    id: UUID
    revision: Revision


class ReceiptCheck(WireModel):
    """`POST /v1/receipts:check`: does the server still hold these revisions it receipted?
    A device asks now and then, and sends again any revision the answer leaves out."""

    protocol: ProtocolVersion = PROTOCOL_VERSION
    revisions: list[RevisionRef] = Field(min_length=1, max_length=MAX_RECEIPT_CHECK)


class ReceiptCheckResponse(WireModel):
    """The asked revisions the server holds, in the order asked. One left out is not held, or
    not one the device may read (the answer does not tell which)."""

    protocol: ProtocolVersion = PROTOCOL_VERSION
    held: list[RevisionRef]
