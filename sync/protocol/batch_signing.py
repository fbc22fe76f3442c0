"""One device signature per pushed batch: the device signs the Merkle root (RFC 9162,
SHA-256) over the content digests of the batch's envelopes, and each envelope carries its
inclusion proof (`RecordEnvelope.proof`) with that one signature. An envelope still verifies
on its own (at a relay, in a bundle, at the office): its proof climbs from its own content to
the root the signature covers. The server verifies one signature per batch and hashes.

The leaf of an envelope is `sha256(0x00 + sha256(signing_bytes()))`: the content digest a
device already keeps beside each outbox entry, so a batch is signed without re-encoding it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable, Sequence

from sync.protocol.canonical import canonical_json
from sync.protocol.receipts import ReceiptProof, merkle_tree

__all__ = [
    "BATCH_SIGNATURES_HEADER",
    "record_batch_signing_bytes",
    "record_leaf",
    "sign_record_batch",
]

# The push answer's header by which a server says it verifies batch-signed envelopes: a
# device signs its batches once each only after a server said so (older servers refuse the
# unknown `proof` field), and signs each record alone otherwise.
BATCH_SIGNATURES_HEADER = "Fieldapp-Signatures"

_RECORD_BATCH_PREFIX = b"fieldapp-record-batch-v1\n"


def record_leaf(content_digest: str) -> bytes:
    """The Merkle leaf hash of an envelope, from its content digest (hex sha256 of its
    signing bytes)."""
    return hashlib.sha256(b"\x00" + bytes.fromhex(content_digest)).digest()


@functools.lru_cache(maxsize=64)  # a batch's envelopes all lead to its one root
def record_batch_signing_bytes(root: bytes, size: int) -> bytes:
    """What a device signs once per batch: the root over the batch's envelopes and their
    number (domain-separated from a single record's signing bytes and from receipts)."""
    body = {"root": base64.b64encode(root).decode("ascii"), "size": size}
    return _RECORD_BATCH_PREFIX + canonical_json(body)


def sign_record_batch(
    content_digests: Sequence[str], sign: Callable[[bytes], bytes]
) -> tuple[bytes, list[ReceiptProof]]:
    """The one signature over a batch of envelopes (by their content digests, in order) and
    each envelope's proof, in the same order."""
    root, paths = merkle_tree([record_leaf(digest) for digest in content_digests])
    size = len(content_digests)
    signature = sign(record_batch_signing_bytes(root, size))
    proofs = [
        ReceiptProof.model_construct(index=index, size=size, path=path)
        for index, path in enumerate(paths)
    ]
    return signature, proofs
